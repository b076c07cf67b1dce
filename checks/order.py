"""Migration order review: is this order of the steps safe, and if not, which order is?

An order is safe when no prefix regresses a cell: a (user, protocol) pair, or a primitive's
contract, that holds after the steps before must still hold after the next one. A cell that was
already broken (the iSCSI target's send loop at v3.18) is not a regression, and neither is a
regression the series' manifest marks ``accept = true`` for that step: the maintainer has
accepted it, wherever the step lands. Every other expected regression is still unsafe: a
manifest that records a break does not excuse it.

An order must respect each step's declared ``depends`` and its build dependencies: a step that
replaces a symbol another step adds comes after it (composition refuses otherwise), and a step
whose cells do not build before another step is tried after it (``DOES_NOT_BUILD`` counts as a
regression). The search is a depth-first walk over prefixes, the series' own order tried first,
with kernels reached by two orders explored once; cell verdicts come from the verdict cache, so a
cell whose reachable definitions did not change is never run twice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from checks.cache import VerdictCache
from checks.cell import PRIMITIVE, CellTask, all_users
from checks.matrix import FAILS, HOLDS, SERIES_ROOT, run_tasks
from checks.primitives import applicable
from checks.profiles import Profile
from checks.series import Series, SeriesError, StepInfo, compose
from checks.verdicts import CellVerdict


class OrderError(SeriesError):
    """The proposed order cannot be checked as written (unknown step, violated dependency)."""


@dataclass(frozen=True)
class Break:
    """A regression: ``step``, applied after ``prefix``, breaks a cell that held before it."""

    prefix: tuple[str, ...]
    step: str
    before: CellVerdict
    after: CellVerdict

    def describe(self) -> str:
        where = ",".join(short(s) for s in self.prefix) or "v3.18"
        text = (f"{short(self.step)} after [{where}] breaks {self.after.user}/{self.after.protocol}: "
                f"{self.after.status.name} {self.after.evidence}")
        if self.after.counterexample is not None:
            text += f"\n    input: {self.after.counterexample.description}"
        if self.after.replay:
            text += f"\n    replay: {self.after.replay}"
        return text


@dataclass
class Stats:
    states: int = 0  # prefixes whose cells were evaluated
    cells_naive: int = 0  # cells of every prefix of every order tried
    cells_computed: int = 0
    cells_reused: int = 0


@dataclass
class OrderResult:
    order: tuple[str, ...]
    safe: bool
    first_break: Break | None = None
    stats: Stats = field(default_factory=Stats)


def short(step_id: str) -> str:
    return step_id.split("_", 1)[0]


def series_ref(series: Series) -> str:
    return series.name if series.path.resolve() == (SERIES_ROOT / series.name).resolve() else str(series.path)


class Evaluator:
    """Cell verdicts for any prefix of any order, through the verdict cache."""

    def __init__(self, series: Series, profile: Profile, cache: VerdictCache, jobs: int | None = None):
        self.series, self.profile, self.cache, self.jobs = series, profile, cache, jobs
        self.stats = Stats()
        users = all_users()
        self.pairs = [(u, p) for u in (series.users or sorted(users)) for p in users[u].protocols]
        # regressions the manifest accepts (accept = true) for a step, wherever that step lands
        self.accepted = {(series.step(e.step).id, e.user, e.protocol, e.status) for e in series.expected if e.accept}

    def cells(self, prefix: tuple[str, ...]) -> dict[tuple[str, str], CellVerdict]:
        image = compose(self.series, prefix).images[self.step_id(prefix)]
        pairs = self.pairs + [(f"{PRIMITIVE}{name}", "-") for name in applicable(image)]
        step = self.step_id(prefix)
        tasks = [CellTask(series_ref(self.series), str(self.series.path), step, u, p, prefix or None)
                 for u, p in pairs]
        hits, misses = self.cache.hits, self.cache.misses
        verdicts = run_tasks(tasks, self.profile, self.jobs, cache=self.cache)
        self.stats.states += 1
        self.stats.cells_naive += len(tasks)
        self.stats.cells_reused += self.cache.hits - hits
        self.stats.cells_computed += self.cache.misses - misses
        return {(v.user, v.protocol): v for v in verdicts}

    def step_id(self, prefix: tuple[str, ...]) -> str:
        return prefix[-1] if prefix else self.series.steps[0].id


def regressions(before: dict, after: dict, accepted: set = frozenset()) -> list[tuple[CellVerdict, CellVerdict]]:
    """Cells that held before and fail after, less those the manifest accepts for that step."""
    return [(before[k], v) for k, v in after.items()
            if k in before and before[k].status in HOLDS and v.status in FAILS
            and (v.step, v.user, v.protocol, v.status) not in accepted]


def parse_order(series: Series, text: str) -> tuple[str, ...]:
    """``s01,s04,s02`` -> step ids; a permutation or a subset that respects declared dependencies."""
    refs = [r.strip() for r in text.split(",") if r.strip()]
    if not refs:
        raise OrderError("--order is empty: give step ids like s01,s02")
    try:
        steps = [series.step(r) for r in refs]
    except SeriesError as e:
        raise OrderError(str(e)) from None
    ids = [s.id for s in steps]
    if len(set(ids)) != len(ids):
        dup = next(short(i) for i in ids if ids.count(i) > 1)
        raise OrderError(f"--order names {dup} twice")
    for i, s in enumerate(steps):
        for dep in s.depends:
            d = series.step(dep).id
            if d not in ids:
                raise OrderError(f"{short(s.id)} depends on {short(d)}, which the order leaves out")
            if ids.index(d) > i:
                raise OrderError(f"{short(s.id)} depends on {short(d)}, which the order puts after it")
    return tuple(ids)


def check_order(ev: Evaluator, order: tuple[str, ...]) -> OrderResult:
    """Walk the prefixes of ``order``; stop at the first that regresses a cell."""
    before = ev.cells(())
    for i in range(1, len(order) + 1):
        prefix = order[:i]
        try:
            after = ev.cells(prefix)
        except SeriesError as e:
            raise OrderError(f"{short(order[i - 1])} cannot be applied after "
                             f"[{','.join(short(s) for s in order[:i - 1])}]: {e}") from None
        broken = regressions(before, after, ev.accepted)
        if broken:
            b, a = broken[0]
            return OrderResult(order, False, Break(order[: i - 1], order[i - 1], b, a), ev.stats)
        before = after
    return OrderResult(order, True, None, ev.stats)


@dataclass
class Search:
    found: tuple[str, ...] | None
    conflicts: list[Break]
    certificate: tuple[str, ...] | None = None  # the smallest set of steps no order makes safe
    certificate_breaks: list[Break] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def _deps(series: Series, step: StepInfo) -> set[str]:
    return {series.step(d).id for d in step.depends}


def search_order(ev: Evaluator, steps: list[StepInfo] | None = None) -> Search:
    """Depth-first over prefixes: extend a regression-free prefix by each step whose dependencies
    are in it; the series' own order first. Returns the first complete safe order found."""
    series = ev.series
    steps = steps if steps is not None else list(series.steps[1:])
    conflicts: list[Break] = []
    dead: set[frozenset] = set()

    def fingerprint(prefix: tuple[str, ...]) -> frozenset:
        image = compose(series, prefix).images[ev.step_id(prefix)]
        return frozenset((n, d.origin) for n, d in image.definitions.items())

    def walk(prefix: tuple[str, ...], cells: dict) -> tuple[str, ...] | None:
        if len(prefix) == len(steps):
            return prefix
        for s in steps:
            if s.id in prefix or not _deps(series, s) <= set(prefix):
                continue
            nxt = prefix + (s.id,)
            try:
                fp = fingerprint(nxt)
            except SeriesError:
                continue  # a build dependency: s needs a step not yet applied
            if fp in dead:
                continue
            after = ev.cells(nxt)
            broken = regressions(cells, after, ev.accepted)
            if broken:
                conflicts.append(Break(prefix, s.id, *broken[0]))
                continue
            found = walk(nxt, after)
            if found:
                return found
            dead.add(fp)
        return None

    found = walk((), ev.cells(()))
    return Search(found, conflicts, stats=ev.stats)


def certificate(ev: Evaluator, max_size: int = 3) -> tuple[tuple[str, ...] | None, list[Break]]:
    """The smallest dependency-closed set of steps that no order makes safe, and why."""
    series = ev.series
    steps = list(series.steps[1:])
    for size in range(1, min(max_size, len(steps)) + 1):
        for combo in itertools.combinations(steps, size):
            ids = {s.id for s in combo}
            if any(not _deps(series, s) <= ids for s in combo):
                continue
            result = search_order(ev, list(combo))
            if result.found is None:
                return tuple(s.id for s in combo), result.conflicts
    return None, []


def split_advice(step: StepInfo) -> str:
    """What to do with a step that breaks a user in every order."""
    return (f"{short(step.id)} changes an interface and its users at once: split it into (1) add the new "
            f"interface beside the old, (2) move each user over, (3) remove the old")
