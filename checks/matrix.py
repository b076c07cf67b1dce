"""The check matrix of a series: every (step, user, protocol) cell, run in parallel, then judged
against the series' manifest. A matrix with no steps, no users or no cells is an error."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace

from checks.cache import VerdictCache, cell_key
from checks.cell import CellTask, all_users, cell_reach, check_cell, replay_command, retarget
from checks.harness import PROTOCOLS, CellInput, ModelError, run_cell
from checks.profiles import Profile
from checks.series import SERIES_ROOT, Composed, Series, SeriesError, compose, load_series
from checks.verdicts import CellVerdict, Counterexample, Status
from model.kernel import DoesNotBuild

HOLDS = (Status.CONFIRMED, Status.NOT_REFUTED)
FAILS = (Status.BROKEN, Status.DOES_NOT_BUILD)


@dataclass(frozen=True)
class Regression:
    user: str
    protocol: str
    before: str  # step id where it held
    after: str  # step id where it broke
    status: Status
    expected: bool  # listed in the manifest


@dataclass(frozen=True)
class Window:
    """A user's breakage window: the step that breaks a cell and the step that repairs it."""

    user: str
    protocol: str
    broken_at: str  # the first step where it fails (the base, if it fails from the start)
    repaired_at: str | None  # the first step after that where it holds again; None: still broken at the end


@dataclass(frozen=True)
class Mismatch:
    step: str
    user: str
    protocol: str
    expected: str
    got: str
    claim: str = ""


@dataclass
class SeriesResult:
    series: Series
    cells: list[CellVerdict] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def expected_met(self) -> bool:
        return not self.mismatches

    @property
    def unknown(self) -> list[CellVerdict]:
        return [c for c in self.cells if c.status == Status.UNKNOWN]


def cell_tasks(series: Series, users: list[str] | None = None, protocols: list[str] | None = None,
               steps: list[str] | None = None) -> list[CellTask]:
    registry = all_users()
    chosen = users or list(series.users or registry)
    for u in chosen:
        if u not in registry:
            raise SeriesError(f"unknown user {u!r}; known users: {', '.join(sorted(registry))}")
    for p in protocols or ():
        if p not in PROTOCOLS:
            raise SeriesError(f"unknown protocol {p!r}; known protocols: {', '.join(PROTOCOLS)}")
    step_ids = [series.step(s).id for s in steps] if steps else [s.id for s in series.steps]
    ref = series.name if series.path.resolve() == (SERIES_ROOT / series.name).resolve() else str(series.path)
    tasks = [
        CellTask(ref, str(series.path), sid, u, p)
        for sid in step_ids
        for u in chosen
        for p in registry[u].protocols
        if not protocols or p in protocols
    ]
    if not users and not protocols:
        tasks += _primitive_tasks(series, ref, step_ids)
    if not tasks:
        raise SeriesError(f"{series.path}: the check matrix is empty (no step, user or protocol selected)")
    return tasks


def _primitive_tasks(series: Series, ref: str, step_ids: list[str]) -> list[CellTask]:
    """A cell per primitive contract at every step whose kernel has that primitive."""
    from checks.cell import PRIMITIVE
    from checks.primitives import applicable

    images = compose(series).images
    return [CellTask(ref, str(series.path), sid, f"{PRIMITIVE}{name}", "-")
            for sid in step_ids for name in applicable(images[sid])]


# Worker side: each process composes a series once and keeps it.
_COMPOSED: dict[tuple[str, tuple[str, ...] | None], Composed] = {}
_SERIES: dict[str, Series] = {}


def _composed(path: str, order: tuple[str, ...] | None = None) -> Composed:
    if (path, order) not in _COMPOSED:
        if path not in _SERIES:
            _SERIES[path] = load_series(path)
        _COMPOSED[(path, order)] = compose(_SERIES[path], order)
    return _COMPOSED[(path, order)]


def task_image(task: CellTask):
    """The kernel and the removed struct members of the task's step, in the task's order."""
    c = _composed(task.series_path, task.order)
    return c.images[task.step], c.removed_fields[task.step]


def _run_task(args: tuple[CellTask, Profile]) -> CellVerdict:
    task, profile = args
    image, removed = task_image(task)
    return check_cell(task, image, removed, profile)


def run_tasks(tasks: list[CellTask], profile: Profile, jobs: int | None = None,
              progress: Callable[[CellVerdict], None] | None = None,
              cache: VerdictCache | None = None) -> list[CellVerdict]:
    """The verdict of every task, in task order, each distinct cell computed once.

    Tasks whose keys are equal (the same reachable definitions, user, protocol, profile and tools:
    the same cell at two steps or in two series) share one computation; a key in ``cache`` is not
    computed at all. The rest run on ``jobs`` worker processes (default: one per core)."""
    cache = cache if cache is not None else VerdictCache(enabled=False)
    keys = [task_key(t, profile) for t in tasks]
    known: dict[str, CellVerdict] = {}
    todo: dict[str, CellTask] = {}
    for key, t in zip(keys, tasks, strict=True):
        if key in known or key in todo:
            cache.shared += 1
            continue
        hit = cache.get(key, (t.user, t.protocol))
        if hit is not None:
            known[key] = hit
        else:
            todo[key] = t
    if progress is not None and hasattr(progress, "plan"):
        progress.plan(len(tasks), len(todo), len(known) + len(todo))
    for key, v in _compute(todo, profile, jobs or os.cpu_count() or 1, progress):
        cache.put(key, v)
        known[key] = v
    return [retarget(known[key], t) for key, t in zip(keys, tasks, strict=True)]


def task_key(t: CellTask, profile: Profile) -> str:
    from checks.render import tool_versions

    image, removed = task_image(t)
    return cell_key(image, cell_reach(image, t), t.user, t.protocol, removed, profile.to_json(), tool_versions())


# How often a run with cells still computing says so, when nothing else was printed (seconds).
PROGRESS_TICK = 5.0


def _compute(todo: dict[str, CellTask], profile: Profile, jobs: int, progress):
    """Yield (key, verdict) for each task as it completes, on ``jobs`` worker processes."""
    if not todo:
        return
    # --- cluster hook (issue 13): with --cluster / $SERIESCHECK_CLUSTER the cache misses run on Dask workers
    from checks import cluster

    if cluster.active() is not None:
        for key, v in cluster.active().each(todo, profile, idle=getattr(progress, "tick", None)):
            _report(progress, v, todo[key])
            yield key, v
        return
    # --- end of cluster hook
    if jobs == 1 or len(todo) == 1:
        for key, t in todo.items():
            v = _run_task((t, profile))
            _report(progress, v, t)
            yield key, v
        return
    remaining = dict(todo)
    for _ in range(POOL_ATTEMPTS):
        try:
            for key, v in _in_pool(remaining, profile, jobs, progress):
                del remaining[key]
                yield key, v
            return
        except BrokenProcessPool:  # a worker was killed (by hand, or out of memory): start a new pool
            continue
    for key, t in remaining.items():  # the pool broke every time: each cell alone, so one cell's death is its own
        try:
            yield from _in_pool({key: t}, profile, 1, progress)
        except BrokenProcessPool:
            v = CellVerdict(t.step, t.user, t.protocol, Status.UNKNOWN,
                            "the worker process died computing this cell (killed, or out of memory), in a pool "
                            f"of {jobs} and alone: no verdict; run again", 0.0)
            _report(progress, v, t)
            yield key, v


# A pool whose worker dies is started again this many times; then each cell left runs alone.
POOL_ATTEMPTS = 2


def _in_pool(todo: dict[str, CellTask], profile: Profile, jobs: int, progress):
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(_run_task, (t, profile)): (key, t) for key, t in todo.items()}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=PROGRESS_TICK, return_when=FIRST_COMPLETED)
                if not done and progress is not None and hasattr(progress, "tick"):
                    progress.tick()
                for f in done:
                    v = f.result()
                    key, t = futures[f]
                    _report(progress, v, t)
                    yield key, v
        except BaseException:
            for f in pending:
                f.cancel()
            raise


def _report(progress, v: CellVerdict, task: CellTask) -> None:
    if progress is None:
        return
    if hasattr(progress, "plan"):
        progress(v, series=task.series)
    else:
        progress(v)


def share_counterexamples(tasks: list[CellTask], cells: list[CellVerdict]) -> list[CellVerdict]:
    """Try every counterexample of a row (a user over a protocol) at each step of that row where
    the cell holds: where it replays, the cell is BROKEN there too.

    CrossHair searches beyond the exhaustive bounds and may find a failure at one step and not at
    the next (its budget is time); a failure that is in every step's kernel must not read as a
    regression at the one step where it happened to be found."""
    rows: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cells):
        if c.user in all_users():
            rows.setdefault((c.user, c.protocol), []).append(i)
    out = list(cells)
    for indices in rows.values():
        found = {}
        for i in indices:
            cex = cells[i].counterexample
            if cells[i].status == Status.BROKEN and cex is not None:
                found.setdefault(json.dumps(cex.input, sort_keys=True), (cells[i].step, cex.input))
        for i in indices:
            if cells[i].status in HOLDS:
                out[i] = _replayed_here(tasks[i], cells[i], found.values())
    return out


def _replayed_here(task: CellTask, cell: CellVerdict, found) -> CellVerdict:
    image, _ = task_image(task)
    user = all_users()[task.user]
    for origin, raw in found:
        inp = CellInput.from_json(raw)
        try:
            obs = run_cell(image, user, task.protocol, inp)
        except (DoesNotBuild, ModelError):
            continue
        if not obs.holds:
            cex = Counterexample(inp.to_json(), inp.describe(), obs.failure, obs.rc, repr(obs.got),
                                 repr(obs.expected), f"replay of the counterexample found at {origin}")
            evidence = f"{obs.failure} (counterexample found at {origin.split('_', 1)[0]}, replayed here)"
            return replace(cell, status=Status.BROKEN, evidence=evidence, counterexample=cex,
                           replay=replay_command(task, inp))
    return cell


def breakage_windows(order: list[str], by_key: dict) -> list[Window]:
    """For each row, every run of consecutive steps where the cell fails, and what ends it."""
    rows = sorted({(u, p) for _, u, p in by_key})
    windows = []
    for u, p in rows:
        start = None
        for sid in order:
            c = by_key.get((sid, u, p))
            if c is None:
                continue
            if c.status in FAILS and start is None:
                start = sid
            elif c.status in HOLDS and start is not None:
                windows.append(Window(u, p, start, sid))
                start = None
        if start is not None:
            windows.append(Window(u, p, start, None))
    return windows


def judge(series: Series, cells: list[CellVerdict], steps: set[str] | None = None) -> SeriesResult:
    """Regressions between consecutive steps, and every disagreement with the manifest. With ``steps``
    (``check``: one step and the step before it) only the cells of those steps are judged and kept;
    the others serve as the "before" of a regression, and no breakage window is drawn from a part."""
    if steps is not None:
        result = judge(series, cells)
        result.cells = [c for c in cells if c.step in steps]
        result.regressions = [g for g in result.regressions if g.after in steps]
        result.mismatches = [m for m in result.mismatches if m.step in steps]
        result.windows = []
        return result
    result = SeriesResult(series, cells)
    by_key = {c.key: c for c in cells}
    order = [s.id for s in series.steps]
    expected = {(series.step(e.step).id, e.user, e.protocol): e for e in series.expected}
    for c in cells:
        i = order.index(c.step)
        prev = by_key.get((order[i - 1], c.user, c.protocol)) if i else None
        if prev and prev.status in HOLDS and c.status in FAILS:
            result.regressions.append(Regression(c.user, c.protocol, prev.step, c.step, c.status, c.key in expected))
        e = expected.get(c.key)
        if e is not None and c.status != e.status:
            result.mismatches.append(Mismatch(c.step, c.user, c.protocol, e.status.name, c.status.name, e.claim))
        elif e is None and c.status in FAILS:
            result.mismatches.append(Mismatch(c.step, c.user, c.protocol, "holds", c.status.name))
    result.windows = breakage_windows(order, by_key)
    checked = {c.key for c in cells}
    pairs = {(c.user, c.protocol) for c in cells}
    for key, e in expected.items():
        if key not in checked and (key[1], key[2]) in pairs:
            result.mismatches.append(Mismatch(*key, e.status.name, "not checked (no such cell)", e.claim))
    return result


def verify_series(series: Series, profile: Profile, jobs: int | None = None, progress=None,
                  users: list[str] | None = None, protocols: list[str] | None = None,
                  cache: VerdictCache | None = None) -> SeriesResult:
    return verify_all([series], profile, jobs, progress, users, protocols, cache)[0]


def verify_all(series: list[Series], profile: Profile, jobs: int | None = None, progress=None,
               users: list[str] | None = None, protocols: list[str] | None = None,
               cache: VerdictCache | None = None) -> list[SeriesResult]:
    """Every cell of every series, as one run: a cell shared by two series (or two steps) is
    computed once, and the workers are kept busy across series."""
    plans = []
    for s in series:
        composed = compose(s)  # composition errors surface here, before any worker starts
        _COMPOSED[(str(s.path), None)] = composed
        _SERIES[str(s.path)] = s
        plans.append((s, composed, cell_tasks(s, users, protocols)))
    everything = [t for _, _, tasks in plans for t in tasks]
    verdicts = iter(run_tasks(everything, profile, jobs, progress, cache))
    results = []
    for s, composed, tasks in plans:
        cells = share_counterexamples(tasks, [next(verdicts) for _ in tasks])
        result = judge(s, cells)
        _show_previous(result, composed)
        results.append(result)
    return results


def _show_previous(result: SeriesResult, composed: Composed) -> None:
    """For each regression, replay its counterexample at the step before: what the user saw there."""
    index = {c.key: i for i, c in enumerate(result.cells)}
    users = all_users()
    for g in result.regressions:
        if g.user not in users:  # a primitive's contract: its counterexample is not a user input
            continue
        i = index[(g.after, g.user, g.protocol)]
        cell = result.cells[i]
        if cell.counterexample is None:
            continue
        obs = run_cell(composed.images[g.before], users[g.user], g.protocol,
                       CellInput.from_json(cell.counterexample.input))
        seen = "holds" if obs.holds else obs.failure
        previous = f"at {g.before}: returned {obs.rc}, got {obs.got!r} ({seen})"
        result.cells[i] = replace(cell, counterexample=replace(cell.counterexample, previous=previous))
