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
regression).

The search is a depth-first walk over prefixes, the series' own order tried first. Its state is
exact: what the kernel is after the prefix (each symbol's definition and the struct fields taken
away so far) and which steps remain. Two prefixes with the same state have the same futures, so
a state with no safe completion is explored once; two prefixes that reach the same kernel with
different steps left are different states (two steps replacing one function can reach one
kernel both ways). Cell verdicts come from the verdict cache, so a cell whose reachable
definitions did not change is never run twice.

The review (``explore`` then ``review``) walks every state reachable by safe steps, within a
budget of states, and reads off the precedence constraints that hold in every safe order: "a
must come after b" when no safe order puts a first, with the break that shows it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from checks.cache import VerdictCache
from checks.cell import PRIMITIVE, CellTask, all_users
from checks.matrix import FAILS, HOLDS, SERIES_ROOT, run_tasks
from checks.primitives import applicable
from checks.profiles import Profile
from checks.series import Series, SeriesError, StepInfo, compose
from checks.verdicts import CellVerdict

DEFAULT_MAX_STATES = 64  # kernel states the review evaluates before it falls back to one-place moves


class OrderError(SeriesError):
    """The proposed order cannot be checked as written (unknown step, violated dependency)."""


@dataclass(frozen=True)
class Break:
    """A regression: ``step``, applied after ``prefix``, breaks a cell that held before it."""

    prefix: tuple[str, ...]
    step: str
    before: CellVerdict
    after: CellVerdict

    @property
    def cell(self) -> str:
        return f"{self.after.user}/{self.after.protocol}"

    def describe(self) -> str:
        where = ",".join(short(s) for s in self.prefix) or "v3.18"
        text = (f"{short(self.step)} after [{where}] breaks {self.cell}: "
                f"{self.after.status.name} {self.after.evidence}")
        if self.after.counterexample is not None:
            text += f"\n    input: {self.after.counterexample.description}"
        if self.after.replay:
            text += f"\n    replay: {self.after.replay}"
        return text

    def to_json(self) -> dict:
        cex = self.after.counterexample
        return {"prefix": [short(s) for s in self.prefix], "step": short(self.step),
                "user": self.after.user, "protocol": self.after.protocol, "before": self.before.status.name,
                "after": self.after.status.name, "evidence": self.after.evidence,
                "input": cex.input if cex is not None else None, "replay": self.after.replay}


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


StateKey = tuple[frozenset, frozenset, frozenset]  # (definitions, struct fields removed, steps left)


class Evaluator:
    """Cell verdicts for any prefix of any order, through the verdict cache."""

    def __init__(self, series: Series, profile: Profile, cache: VerdictCache, jobs: int | None = None):
        self.series, self.profile, self.cache, self.jobs = series, profile, cache, jobs
        self.stats = Stats()
        self._cells: dict[tuple[str, ...], dict] = {}  # a prefix evaluated once, for the search and the review
        users = all_users()
        self.pairs = [(u, p) for u in (series.users or sorted(users)) for p in users[u].protocols]
        # regressions the manifest accepts (accept = true) for a step, wherever that step lands
        self.accepted = {(series.step(e.step).id, e.user, e.protocol, e.status) for e in series.expected if e.accept}

    def cells(self, prefix: tuple[str, ...]) -> dict[tuple[str, str], CellVerdict]:
        if prefix not in self._cells:
            self._cells[prefix] = self._evaluate(prefix)
        return self._cells[prefix]

    def _evaluate(self, prefix: tuple[str, ...]) -> dict[tuple[str, str], CellVerdict]:
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

    def state(self, prefix: tuple[str, ...], steps: frozenset[str]) -> StateKey:
        """What decides every future of ``prefix`` among ``steps``: each symbol's definition, the
        struct fields removed so far (a later use of one does not build) and the steps left.
        Raises SeriesError when the prefix does not compose."""
        composed = compose(self.series, prefix)
        sid = self.step_id(prefix)
        image = composed.images[sid]
        definitions = frozenset((n, d.origin) for n, d in image.definitions.items())
        return definitions, composed.removed_fields[sid], steps - set(prefix)

    def step_id(self, prefix: tuple[str, ...]) -> str:
        return prefix[-1] if prefix else self.series.steps[0].id


def regressions(before: dict, after: dict, accepted: set = frozenset(),
                step: str | None = None) -> list[tuple[CellVerdict, CellVerdict]]:
    """Cells that held before and fail after, less those the manifest accepts for ``step`` (by
    default the step the verdicts after name)."""
    return [(before[k], v) for k, v in after.items()
            if k in before and before[k].status in HOLDS and v.status in FAILS
            and (step or v.step, v.user, v.protocol, v.status) not in accepted]


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
        broken = regressions(before, after, ev.accepted, order[i - 1])
        if broken:
            b, a = broken[0]
            return OrderResult(order, False, Break(order[: i - 1], order[i - 1], b, a), ev.stats)
        before = after
    return OrderResult(order, True, None, ev.stats)


@dataclass
class Search:
    found: tuple[str, ...] | None  # () is a safe order of a series with no steps
    conflicts: list[Break]
    certificate: tuple[str, ...] | None = None  # the smallest set of steps no order makes safe
    certificate_breaks: list[Break] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def _deps(series: Series, step: StepInfo) -> set[str]:
    return {series.step(d).id for d in step.depends}


def _next_steps(series: Series, steps: list[StepInfo], prefix: tuple[str, ...]) -> list[str]:
    """The steps that may extend ``prefix``: not yet applied, their declared dependencies applied."""
    done = set(prefix)
    return [s.id for s in steps if s.id not in done and _deps(series, s) <= done]


def search_order(ev: Evaluator, steps: list[StepInfo] | None = None) -> Search:
    """Depth-first over prefixes: extend a regression-free prefix by each step whose dependencies
    are in it; the series' own order first. Returns the first complete safe order found, or None
    only when no order of ``steps`` is safe (every state with no safe completion is remembered by
    its exact state, so nothing is skipped that could still complete)."""
    series = ev.series
    steps = steps if steps is not None else list(series.steps[1:])
    universe = frozenset(s.id for s in steps)
    conflicts: list[Break] = []
    dead: set[StateKey] = set()

    def walk(prefix: tuple[str, ...], cells: dict) -> tuple[str, ...] | None:
        if len(prefix) == len(steps):
            return prefix
        for sid in _next_steps(series, steps, prefix):
            nxt = prefix + (sid,)
            try:
                key = ev.state(nxt, universe)
            except SeriesError:
                continue  # a build dependency: the step needs one not yet applied
            if key in dead:
                continue
            after = ev.cells(nxt)
            broken = regressions(cells, after, ev.accepted, sid)
            if broken:
                conflicts.append(Break(prefix, sid, *broken[0]))
                continue
            found = walk(nxt, after)
            if found is not None:
                return found
            dead.add(key)
        return None

    found = walk((), ev.cells(()))
    return Search(found, conflicts, stats=ev.stats)


def certificate(ev: Evaluator, max_size: int = 3) -> tuple[tuple[str, ...] | None, list[Break]]:
    """The smallest dependency-closed set of steps that no order makes safe on its own, and why.
    Meaningful only once ``search_order`` found no order of the whole series."""
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


# --- the review: every safe order's shape ------------------------------------------------------

@dataclass(frozen=True)
class Edge:
    """One step tried from a state: safe (``child``), a regression (``broke``) or not composable."""

    step: str
    child: StateKey | None = None
    broke: Break | None = None
    error: str | None = None


@dataclass
class Exploration:
    """Every state reachable from the base by safe steps (within the budget), and each step tried."""

    steps: tuple[str, ...]  # the series' steps, in its own order
    root: StateKey
    prefix: dict[StateKey, tuple[str, ...]]  # the first prefix that reached each state
    edges: dict[StateKey, list[Edge]]  # the expanded states
    complete: bool  # every reachable state was expanded
    max_states: int
    live: set[StateKey] = field(default_factory=set)  # states from which a safe order completes

    def applied(self, key: StateKey) -> frozenset[str]:
        return frozenset(self.steps) - key[2]


def explore(ev: Evaluator, max_states: int = DEFAULT_MAX_STATES) -> Exploration:
    """Expand every state reachable by safe steps, until ``max_states`` states have been evaluated."""
    series = ev.series
    steps = list(series.steps[1:])
    universe = frozenset(s.id for s in steps)
    root = ev.state((), universe)
    cells = {root: ev.cells(())}
    prefix = {root: ()}
    safely = {root}
    edges: dict[StateKey, list[Edge]] = {}
    stack, complete = [root], True
    while stack:
        key = stack.pop()
        if key in edges:
            continue
        if len(cells) >= max_states:
            complete = False
            break
        out = []
        for sid in _next_steps(series, steps, prefix[key]):
            nxt = prefix[key] + (sid,)
            try:
                child = ev.state(nxt, universe)
            except SeriesError as e:
                out.append(Edge(sid, error=str(e)))
                continue
            if child not in cells:
                cells[child], prefix[child] = ev.cells(nxt), nxt
            broken = regressions(cells[key], cells[child], ev.accepted, sid)
            if broken:
                out.append(Edge(sid, broke=Break(prefix[key], sid, *broken[0])))
                continue
            out.append(Edge(sid, child))
            if child not in safely:  # name a state by a prefix that reaches it by safe steps only
                prefix[child] = nxt
                safely.add(child)
            if child not in edges:
                stack.append(child)
        edges[key] = out
    ex = Exploration(tuple(s.id for s in steps), root, prefix, edges, complete, max_states)
    ex.live = _live(ex)
    return ex


def _live(ex: Exploration) -> set[StateKey]:
    """States from which a safe order completes (fewest steps left first: the graph is a DAG)."""
    live: set[StateKey] = set()
    for key in sorted(ex.edges, key=lambda k: len(k[2])):
        if not key[2] or any(e.child in live for e in ex.edges[key]):
            live.add(key)
    return live


@dataclass(frozen=True)
class Constraint:
    """Every safe order puts ``before`` ahead of ``after``; ``witness`` breaks when it does not."""

    after: str
    before: str
    witness: Break | None
    dead_end: bool  # the witness comes later: putting ``after`` first leaves no safe completion
    declared: bool  # implied by the steps' own ``depends``
    note: str = ""  # when there is no Break to show (a step that does not compose first)

    def describe(self) -> str:
        head = f"{short(self.after)} must come after {short(self.before)}"
        if self.declared:
            head += " (declared in depends)"
        if self.witness is None:
            return f"{head}: otherwise {self.note}" if self.note else head
        w = self.witness
        how = "otherwise every order dead-ends, e.g." if self.dead_end else "otherwise"
        text = f"{head}: {how} {w.cell} breaks ({short(w.step)} after [{','.join(map(short, w.prefix))}])"
        if w.after.replay:
            text += f"\n    replay: {w.after.replay}"
        else:
            text += f"\n    {w.after.status.name}: {w.after.evidence}"
        return text

    def to_json(self) -> dict:
        return {"after": short(self.after), "before": short(self.before), "declared": self.declared,
                "dead_end": self.dead_end, "note": self.note,
                "witness": self.witness.to_json() if self.witness else None}


@dataclass
class Review:
    """The shape of every safe order: the precedence DAG, the free steps, the depends it lacks."""

    series: str
    complete: bool  # False: the budget ran out, nothing below is established
    states: int
    max_states: int
    safe_exists: bool | None  # None when incomplete
    constraints: list[Constraint] = field(default_factory=list)  # transitively reduced
    free: list[str] = field(default_factory=list)  # steps no constraint ties to another
    missing_depends: list[tuple[str, str]] = field(default_factory=list)  # (step, step it should depend on)
    conflicts: list[Break] = field(default_factory=list)  # every break seen, for an incomplete review
    along: tuple[str, ...] | None = None  # incomplete: constraints are of one-place moves along this safe order
    origins: dict[str, str] = field(default_factory=dict)  # steps taken from a sibling series: their depends are its

    def missing_text(self, a: str, b: str) -> str:
        text = f"{short(a)} does not declare depends on {short(b)}, which the checks require"
        if a in self.origins:
            text += (f" (it is {self.origins[a]}'s step, whose depends speak of that series: "
                     f"keep it after {short(b)} in this order)")
        return text

    def to_json(self) -> dict:
        return {"series": self.series, "complete": self.complete, "states": self.states,
                "max_states": self.max_states, "safe_order_exists": self.safe_exists,
                "constraints": [c.to_json() for c in self.constraints],
                "free": [short(s) for s in self.free],
                "missing_depends": [{"step": short(a), "needs": short(b), "from_series": self.origins.get(a)}
                                    for a, b in self.missing_depends],
                "conflicts": [b.to_json() for b in self.conflicts],
                "scope": ("every safe order" if self.along is None
                          else {"one_place_moves_along": [short(s) for s in self.along]})}


def review(ev: Evaluator, max_states: int = DEFAULT_MAX_STATES, safe_order: tuple[str, ...] | None = None) -> Review:
    """Every safe order's constraints; when the budget runs out first, the constraints of moving
    each step one place earlier along one safe order (``safe_order``, else the first found)."""
    ex = explore(ev, max_states)
    out = Review(ev.series.name, ex.complete, len(ex.prefix), max_states, None,
                 conflicts=[e.broke for es in ex.edges.values() for e in es if e.broke],
                 origins={s.id: s.origin for s in ev.series.steps[1:] if s.origin})
    if not ex.complete:
        safe_order = safe_order if safe_order is not None else search_order(ev).found
        if safe_order is not None:
            _along(ev, safe_order, out)
        return out
    out.safe_exists = ex.root in ex.live
    if not out.safe_exists:
        return out
    must = precedence(ex)
    declared = _declared_closure(ev.series, ex.steps)
    for a, b in sorted(_reduce(must), key=lambda ab: (ex.steps.index(ab[0]), ex.steps.index(ab[1]))):
        witness, dead_end, note = _witness(ex, a, b)
        if witness is not None:
            witness = _as_applied(ev, witness)
        out.constraints.append(Constraint(a, b, witness, dead_end, (a, b) in declared, note))
        if (a, b) not in declared:
            out.missing_depends.append((a, b))
    tied = {s for pair in must for s in pair} | {s for pair in declared for s in pair}
    out.free = [s for s in ex.steps if s not in tied]
    return out


def _along(ev: Evaluator, order: tuple[str, ...], out: Review) -> None:
    """For each neighbour pair (b, a) of a safe order: may a move one place earlier, before b?"""
    out.along = order
    declared = _declared_closure(ev.series, order)
    tied = set()
    for j in range(1, len(order)):
        b, a = order[j - 1], order[j]
        if (a, b) in declared:
            out.constraints.append(Constraint(a, b, None, False, True))
            tied |= {a, b}
            continue
        witness, note = swap_break(ev, order, j)
        if witness is None and not note:
            continue
        out.constraints.append(Constraint(a, b, witness, witness is not None and witness.step != a, False, note))
        out.missing_depends.append((a, b))
        tied |= {a, b}
    out.free = [s for s in order if s not in tied]


def swap_break(ev: Evaluator, order: tuple[str, ...], j: int) -> tuple[Break | None, str]:
    """Swap order[j-1] and order[j] in a safe order: the first break, or why it does not compose, or
    (None, "") when the swapped order is safe too. Once a prefix of the swapped order reaches the
    state the safe order reaches there (same kernel, same steps left), the rest is safe."""
    universe = frozenset(order)
    swapped = order[: j - 1] + (order[j], order[j - 1]) + order[j + 1:]
    before = ev.cells(order[: j - 1])
    for i in range(j - 1, len(order)):
        prefix = swapped[: i + 1]
        try:
            key = ev.state(prefix, universe)
        except SeriesError as e:
            return None, f"{short(swapped[i])} does not compose after [{','.join(map(short, prefix[:-1]))}]: {e}"
        after = ev.cells(prefix)
        broken = regressions(before, after, ev.accepted, swapped[i])
        if broken:
            return Break(prefix[:-1], swapped[i], *broken[0]), ""
        if i >= j and key == ev.state(order[: i + 1], universe):
            return None, ""
        before = after
    return None, ""


def precedence(ex: Exploration) -> set[tuple[str, str]]:
    """(a, b) when every safe order applies b before a: no live state has a applied without b."""
    possible = set()
    for key in ex.live:
        done = ex.applied(key)
        possible |= {(a, b) for a in done for b in key[2]}
    return {(a, b) for a in ex.steps for b in ex.steps if a != b and (a, b) not in possible}


def _reduce(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The transitive reduction of a precedence relation that is already transitively closed."""
    after = {}
    for a, b in pairs:
        after.setdefault(a, set()).add(b)
    return {(a, b) for a, b in pairs if not any(c in after.get(a, ()) and b in after.get(c, ()) for c in after)}


def _declared_closure(series: Series, steps: tuple[str, ...]) -> set[tuple[str, str]]:
    """(a, b) when a's declared ``depends`` reach b, directly or through other steps."""
    direct = {s: _deps(series, series.step(s)) for s in steps}
    closure = set()
    for a in steps:
        seen, todo = set(), list(direct[a])
        while todo:
            b = todo.pop()
            if b not in seen:
                seen.add(b)
                todo.extend(direct.get(b, ()))
        closure |= {(a, b) for b in seen}
    return closure


def _witness(ex: Exploration, a: str, b: str) -> tuple[Break | None, bool, str]:
    """A break that shows why ``a`` cannot come before ``b``: ``a`` applied where ``b`` is not yet,
    from a state that could still complete if possible; else a dead end's first break."""
    candidates = sorted((k for k in ex.edges if a in k[2] and b in k[2]),
                        key=lambda k: (k not in ex.live, -len(ex.prefix[k])))
    note = ""
    for key in candidates:
        for e in ex.edges[key]:
            if e.step == a and e.broke is not None:
                return e.broke, False, ""
            if e.step == a and e.error and not note:
                note = f"{short(a)} does not compose before {short(b)}: {e.error}"
    for key in candidates:
        for e in ex.edges[key]:
            if e.step == a and e.child is not None:
                found = _first_break_below(ex, e.child)
                if found is not None:
                    return found, True, ""
    return None, False, note


def _as_applied(ev: Evaluator, b: Break) -> Break:
    """The break's verdict as evaluated for its own prefix, so its replay names that order (a state
    reached by two prefixes was evaluated for the first)."""
    after = ev.cells(b.prefix + (b.step,))[(b.after.user, b.after.protocol)]
    return dataclasses.replace(b, after=after) if after.status == b.after.status else b


def _first_break_below(ex: Exploration, start: StateKey) -> Break | None:
    todo, seen = [start], set()
    while todo:
        key = todo.pop(0)
        if key in seen or key not in ex.edges:
            continue
        seen.add(key)
        for e in ex.edges[key]:
            if e.broke is not None:
                return e.broke
        todo.extend(e.child for e in ex.edges[key] if e.child is not None)
    return None


# --- rendering the review ----------------------------------------------------------------------

def review_text(r: Review) -> str:
    if not r.complete and r.along is None:
        return (f"constraints not established: the review stopped after {r.states} kernel states "
                f"(--max-states {r.max_states}) and found no safe order to read them along")
    if r.complete and not r.safe_exists:
        return f"no safe order exists ({r.states} kernel states explored)"
    if r.along is not None:
        lines = [f"every safe order: not established (the review stopped after {r.states} kernel states, "
                 f"--max-states {r.max_states}); constraints of moving a step one place earlier along the "
                 f"safe order {','.join(map(short, r.along))}:"]
    else:
        lines = [f"precedence constraints in every safe order ({r.states} kernel states explored):"]
    lines += ["  " + c.describe().replace("\n", "\n  ") for c in r.constraints] or ["  none"]
    lines.append("order DAG: " + (dag_line(r.constraints) or "no edges"))
    free_words = ("may swap with both neighbours" if r.along is not None
                  else "may move freely (no constraint ties them to another step)")
    lines.append(f"{free_words}: " + (", ".join(short(s) for s in r.free) or "none"))
    lines += [r.missing_text(a, b) for a, b in r.missing_depends]
    return "\n".join(lines)


def dag_line(constraints: list[Constraint]) -> str:
    """``s01 -> s03; s02 -> s03``: each edge from the step that must come first."""
    return "; ".join(f"{short(c.before)} -> {short(c.after)}" for c in constraints)


def review_markdown(r: Review) -> str:
    lines = [f"## Migration order review: {r.series}", ""]
    if not r.complete and r.along is None:
        return "\n".join(lines + [f"Not established: the review stopped after {r.states} kernel states "
                                  f"(`--max-states {r.max_states}`) and found no safe order."]) + "\n"
    if r.complete and not r.safe_exists:
        return "\n".join(lines + [f"No safe order exists ({r.states} kernel states explored)."]) + "\n"
    if r.along is not None:
        head = (f"Every safe order: not established (the review stopped after {r.states} kernel states, "
                f"`--max-states {r.max_states}`). Constraints of moving a step one place earlier along the safe "
                f"order `{','.join(map(short, r.along))}`:")
    else:
        head = f"Every safe order keeps these constraints ({r.states} kernel states explored):"
    lines += [head, "",
              "| step | must come after | otherwise | replay |", "|---|---|---|---|"]
    for c in r.constraints:
        w = c.witness
        why = (f"{w.cell} breaks ({short(w.step)} after [{', '.join(map(short, w.prefix))}])"
               + (", a dead end" if c.dead_end else "")) if w else c.note or "declared depends"
        replay = f"`{w.after.replay}`" if w is not None and w.after.replay else ""
        lines.append(f"| {short(c.after)} | {short(c.before)}{' (declared)' if c.declared else ''} "
                     f"| {why.replace('|', '/')} | {replay.replace('|', '/')} |")
    if not r.constraints:
        lines.append("| (none) | | | |")
    lines += ["", "```", dag_line(r.constraints) or "(no edges)", "```", "",
              f"{'May swap with both neighbours' if r.along is not None else 'May move freely'}: "
              f"{', '.join(f'`{short(s)}`' for s in r.free) or 'none'}."]
    lines += [f"- {r.missing_text(a, b)}." for a, b in r.missing_depends]
    return "\n".join(lines) + "\n"


def _distinct(breaks: list[Break]) -> list[Break]:
    """One break per (step, cell), first seen first."""
    seen, out = set(), []
    for b in breaks:
        if (b.step, b.cell) not in seen:
            seen.add((b.step, b.cell))
            out.append(b)
    return out


# --- the command -------------------------------------------------------------------------------

def run_command(args, profile: Profile, cache: VerdictCache) -> int:
    """``seriescheck order``: check an order (or search one), then review the constraints when the
    order is unsafe or a search was asked for. Text on stdout; ``--json``/``--markdown`` to files."""
    from checks.series import load_series

    series = load_series(args.series)
    compose(series)
    ev = Evaluator(series, profile, cache, args.jobs)
    doc: dict = {"series": series.name, "profile": profile.name}
    text_out = sys.stderr if "-" in (args.json, args.markdown) else sys.stdout
    found = _search_command(ev, doc, text_out) if args.search else None
    safe = found is not None if args.search else _check_command(ev, args.order, doc, text_out)
    rev = None
    found_by_search, unsafe_order = args.search and safe, not args.search and not safe
    if found_by_search or unsafe_order:  # what every safe order must keep (none: the certificate says why)
        rev = review(ev, args.max_states, found if args.search else None)
        print(review_text(rev), file=text_out)
        doc["review"] = rev.to_json()
    s = ev.stats
    doc["stats"] = {"states": s.states, "cells_naive": s.cells_naive, "cells_computed": s.cells_computed,
                    "cells_reused": s.cells_reused}
    print(f"[{s.states} prefixes evaluated; cells: {s.cells_naive} naive, {s.cells_computed} computed, "
          f"{s.cells_reused} reused]", file=text_out)
    _write(args.json, json.dumps(doc, indent=2) + "\n")
    _write(args.markdown, _markdown(doc, rev))
    return 0 if safe else 1


def _search_command(ev: Evaluator, doc: dict, out) -> tuple[str, ...] | None:
    result = search_order(ev)
    doc["search"] = {"found": None if result.found is None else [short(s) for s in result.found]}
    if result.found is not None:
        print(f"safe order: {','.join(short(s) for s in result.found) or '(no steps)'}", file=out)
        return result.found
    print(f"no order of series {ev.series.name} keeps every prefix regression-free "
          f"(every state searched)", file=out)
    cert, breaks = certificate(ev)
    doc["search"]["certificate"] = None if cert is None else {
        "steps": [short(s) for s in cert], "breaks": [b.to_json() for b in breaks]}
    if cert:
        print(f"certificate: {{{', '.join(short(s) for s in cert)}}} alone has no safe order either:", file=out)
        for b in breaks:
            print("  " + b.describe().replace("\n", "\n  "), file=out)
        for sid in cert:
            print(f"  advice: {split_advice(ev.series.step(sid))}", file=out)
    return None


def _check_command(ev: Evaluator, proposed: str | None, doc: dict, out) -> bool:
    series = ev.series
    order = parse_order(series, proposed) if proposed else tuple(s.id for s in series.steps[1:])
    result = check_order(ev, order)
    doc["order"] = [short(s) for s in order]
    doc["safe"] = result.safe
    doc["first_break"] = result.first_break.to_json() if result.first_break else None
    if result.safe:
        print(f"order {','.join(short(s) for s in order) or '(no steps)'} is safe: no prefix regresses a cell",
              file=out)
        return True
    print(f"order {','.join(short(s) for s in order)} is UNSAFE; first unsafe prefix:", file=out)
    print("  " + result.first_break.describe().replace("\n", "\n  "), file=out)
    return False


def _markdown(doc: dict, rev: Review | None) -> str:
    lines = [f"# Migration order: {doc['series']}", ""]
    if "search" in doc:
        found = doc["search"]["found"]
        lines.append(f"Safe order found: `{','.join(found)}`." if found is not None else "No safe order exists.")
    else:
        verdict = "safe" if doc["safe"] else "UNSAFE"
        lines.append(f"Order `{','.join(doc['order'])}` is {verdict}.")
        fb = doc.get("first_break")
        if fb:
            lines.append(f"First unsafe prefix: `{fb['step']}` after [{', '.join(fb['prefix'])}] breaks "
                         f"{fb['user']}/{fb['protocol']}: {fb['evidence']}; replay: `{fb['replay']}`")
    lines.append("")
    return "\n".join(lines) + ("\n" + review_markdown(rev) if rev is not None else "")


def _write(target: str | None, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
    elif target:
        Path(target).write_text(text, encoding="utf-8")
