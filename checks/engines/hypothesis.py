"""Hypothesis over one cell: random (or, with its CrossHair backend, solver-steered) search of the
CrossHair engine's input scope, with a count budget and a fixed seed.

Same scope and window codes as checks/crosshair_harness.py: ``segs`` (the caller's kvec lengths),
``windows`` (one int per scripted call: ``room * len(endings) + ending``) and ``mode`` (an index
into the user's modes), bounded by ``profile.crosshair``, decoded by ``Cell.window``. The oracle
is ``run_cell``'s. What it says is evidence, as for the other engines:

* a failing example is replayed with ``run_cell`` in a fresh kernel, outside Hypothesis, before
  the run is BROKEN; one that holds on replay is UNKNOWN ("replay did not reproduce"): a tool
  error, not a finding;
* a budget spent without a failure is NOT_REFUTED, never CONFIRMED: Hypothesis samples, and even
  its CrossHair backend's "verified" is a claim about the paths it saw in its budget;
* ``DoesNotBuild`` and ``ModelError`` from a run propagate, as from the other engines.

**Budgets count, they do not time.** ``max_examples`` is the budget, and the per-example
``deadline`` is off: a wall-clock deadline turns a slow example into a failure (or, in the
CrossHair backend, sizes its per-path timeout), so the verdict would depend on how busy the
machine is. Hypothesis' own example database is off too (no I/O, no memory across runs), and the
seed is fixed with ``@seed``: the same call gives the same examples in the same order. The
CrossHair backend is deterministic in its path choices (CrossHair's fixed RNG, z3's fixed seed)
but keeps CPU-time per-path timeouts (2.5 s when ``deadline`` is None,
hypothesis_crosshair_provider); a run of the model takes milliseconds, so they are not reached.

**Values are pinned before the model runs.** Under the CrossHair backend the drawn values are
symbolic; each is pinned with the harness's ``_decide`` (a quarter-split search CrossHair
steers, the identity on a plain int) and the model then runs untraced, for the reasons in
checks/crosshair_harness.py (traced, the model is ~1000x slower and CrossHair drops the failing
paths as proxy intolerance).

``search_primitive`` does the same for a primitive's contract (checks/primitives.py): each input
family's dependent fields (a position inside the array, a count up to what is left) are drawn as
free integers in fixed ranges and mapped onto the valid values concretely, so every draw is a
valid input of the contract, within ``bounds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import HypothesisException, Unsatisfiable

from checks.cache import cache_dir
from checks.engines.crosshair_harness import Cell, _decide
from checks.harness import CellInput, ModelError, run_cell
from checks.profiles import Bounds, Profile
from checks.verdicts import EngineRun, Status
from model.kernel import DoesNotBuild, KernelImage
from model.users import User

# Hypothesis keeps files of its own (a cache of the constants it reads in source files) under a home
# directory, ``.hypothesis/`` in the working directory unless told: put it with the verdict cache,
# never in the directory the tool happens to run from.
set_hypothesis_home_dir(cache_dir() / "hypothesis")

BACKENDS = {"hypothesis": "hypothesis", "crosshair": "hypothesis-crosshair"}  # backend -> engine name

SEED = 20141120  # the date of the mail; any fixed value does


class UnknownBackend(ValueError):
    """``backend`` is neither "hypothesis" nor "crosshair" (Hypothesis' CrossHair backend, from the
    hypothesis-crosshair package). Use one of ``BACKENDS``."""


class _Broken(Exception):
    """Raised inside the Hypothesis test: this input breaks the contract (carried for the replay)."""

    def __init__(self, inp: object, failure: str):
        super().__init__(failure)
        self.inp = inp
        self.failure = failure


def budget(profile: Profile, backend: str) -> int:
    """The example budget for ``backend`` under ``profile`` (checks/profiles.py sets both)."""
    return profile.hypothesis_crosshair_max_examples if backend == "crosshair" else profile.hypothesis_max_examples


def profile_seed(profile: Profile) -> int:
    return profile.hypothesis_seed


def _settings(backend: str, max_examples: int) -> settings:
    if backend not in BACKENDS:
        raise UnknownBackend(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return settings(
        backend=backend,
        max_examples=max_examples,
        deadline=None,  # count budgets only: see the module docstring
        database=None,
        derandomize=False,  # @seed below fixes the generator; derandomize would hash the test's code
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )


def _untraced(fn: Callable[[], object]) -> object:
    """Run ``fn`` with CrossHair's tracing off when it is on (the CrossHair backend), else as is."""
    from crosshair.tracers import NoTracing, is_tracing

    if is_tracing():
        with NoTracing():
            return fn()
    return fn()


@dataclass
class _Seen:
    """What the Hypothesis test saw, across every example it ran."""

    runs: int = 0
    first_failure_at: float | None = None  # seconds from the start to the first failing example
    first: object = None  # the first failing input
    last: object = None  # the last failing input (the shrunk one, once shrinking is done)
    error: BaseException | None = None  # DoesNotBuild or ModelError from a run: re-raised after


def _drive(test, seen: _Seen, t0: float) -> str | None:
    """Run the Hypothesis test; None if it passed, else "failed" (inputs are in ``seen``).

    Raises the first DoesNotBuild/ModelError a run raised."""
    try:
        test()
    except _Broken as e:
        seen.last = e.inp
        return "failed"
    except (DoesNotBuild, ModelError):
        raise seen.error from None
    except Unsatisfiable:  # no input of the scope lies beyond ``beyond``: nothing ran (the caller says so)
        return None
    except (HypothesisException, BaseExceptionGroup):  # Flaky and friends: a failure we saw is still one
        if seen.error is not None:
            raise seen.error from None
        if seen.first is None:
            raise
        return "failed"
    return None


def search(image: KernelImage, user: User, proto: str, bounds: Bounds, profile: Profile,
           backend: str = "hypothesis", seed: int | None = None, max_examples: int | None = None,
           sabotage: str | None = None, beyond: Bounds | None = None) -> EngineRun:
    """Search one cell within ``bounds`` (the CrossHair scope: pass ``profile.crosshair``). With
    ``beyond`` (the exhaustive bounds, already covered) inputs within it are rejected, so the
    budget is spent on inputs no other engine runs."""
    engine = BACKENDS.get(backend, backend)
    n = max_examples if max_examples is not None else budget(profile, backend)
    fixed = profile_seed(profile) if seed is None else seed
    cell = Cell.of(image, user, proto, bounds, sabotage)
    seen = _Seen()
    t0 = time.perf_counter()

    @hypothesis_seed(fixed)
    @_settings(backend, n)
    @given(segs=st.lists(st.integers(0, cell.max_seg_len), min_size=1, max_size=cell.max_segs),
           windows=st.lists(st.integers(0, cell.window_codes - 1), max_size=cell.max_windows),
           mode=st.integers(0, len(cell.modes) - 1))
    def cell_contract(segs: list[int], windows: list[int], mode: int) -> None:
        nsegs = _decide(len(segs), 1, cell.max_segs)
        nwin = _decide(len(windows), 0, cell.max_windows)
        inp = CellInput(tuple(_decide(segs[i], 0, cell.max_seg_len) for i in range(nsegs)),
                        tuple(cell.window(_decide(windows[i], 0, cell.window_codes - 1)) for i in range(nwin)),
                        cell.modes[_decide(mode, 0, len(cell.modes) - 1)])
        if beyond is not None:
            assume(not beyond.holds(inp))
        seen.runs += 1

        def run():
            try:
                return run_cell(cell.image, cell.user, cell.proto, inp, cell.sabotage)
            except (DoesNotBuild, ModelError) as e:
                seen.error = seen.error or e
                raise

        obs = _untraced(run)
        if not obs.holds:
            if seen.first is None:
                seen.first, seen.first_failure_at = inp, time.perf_counter() - t0
            seen.last = inp
            raise _Broken(inp, obs.failure or "")

    def result(status: Status, detail: str, cex: dict | None = None, to_cex: float | None = None) -> EngineRun:
        return EngineRun(engine, status, seen.runs, round(time.perf_counter() - t0, 3), detail, cex, to_cex,
                         budget={"max_examples": n, "bounds": asdict(bounds)}, seed=fixed)

    where = f"{n} examples, seed {fixed}, {bounds.describe()}"
    if _drive(cell_contract, seen, t0) is None:
        if seen.runs == 0:
            return result(Status.UNKNOWN, f"ran no example ({where})")
        return result(Status.NOT_REFUTED, f"no counterexample in {seen.runs} examples ({where})")
    # Believe it only once it fails again in a fresh kernel: the shrunk input, else the first seen.
    for inp in (seen.last, seen.first):
        if inp is None:
            continue
        obs = run_cell(image, user, proto, inp, sabotage)
        if not obs.holds:
            return result(Status.BROKEN, obs.failure or "", inp.to_json(), seen.first_failure_at)
    shown = seen.first.describe() if isinstance(seen.first, CellInput) else repr(seen.first)
    return result(Status.UNKNOWN, f"replay did not reproduce the failure {engine} saw on {shown}")


# --- primitives -------------------------------------------------------------------------------

# Free integers are drawn in 0..RAW and mapped onto the valid range of a dependent field with %:
# every draw is valid, and no value is favoured by more than one part in RAW / range.
RAW = 63


def _families(name: str, bounds: Bounds) -> tuple[str, ...]:
    """The keys of the contract's inputs (checks/primitives.py), read off its first input."""
    from checks.primitives import PRIMITIVES

    first = next(iter(PRIMITIVES[name].inputs(bounds)), None)
    return tuple(first) if first is not None else ()


def _primitive_input(keys: tuple[str, ...], bounds: Bounds, segs: list[int], raw: list[int]) -> dict | None:
    """The contract input the draws stand for (same rules as checks/primitives.py's generators),
    or None if the family is not one this mapping knows."""
    from checks.primitives import CSUM_SEEDS, positions

    a, b, c, d = raw
    ks = set(keys)
    total = sum(segs)
    if ks >= {"segs", "seg", "offset", "count"}:
        op = "bytes" if "bytes" in ks else "n"
        beyond = 1 if op == "bytes" else 0
        pos = list(positions(tuple(segs)))
        j, o = pos[a % len(pos)]
        left = total - sum(segs[:j]) - o
        count = b % (left + 1)
        inp = {"segs": segs, "seg": j, "offset": o, "count": count, op: c % (count + beyond + 1)}
    elif ks == {"segs", "len"}:
        inp = {"segs": segs, "len": a % (total + 1)}
    elif ks >= {"segs", "offset", "len"}:
        if "csum" in ks:  # the offset lies inside the data (checks/primitives.py says why)
            if not total:
                return None
            offset = a % total
        else:
            offset = a % (total + 1)
        inp = {"segs": segs, "offset": offset, "len": b % (total - offset + 1)}
    elif ks == {"len", "align", "csum"}:
        inp = {"len": a % (bounds.max_segs * bounds.max_seg_len + 1), "align": b % 4}
    elif ks == {"len", "at"}:
        n = a % (bounds.max_segs * bounds.max_seg_len + 1)
        inp = {"len": n, "at": b % (n + 1)}
    else:
        return None
    if "csum" in ks:
        inp["csum"] = CSUM_SEEDS[d % len(CSUM_SEEDS)]
    return inp


def search_primitive(image: KernelImage, name: str, bounds: Bounds, profile: Profile, backend: str = "hypothesis",
                     seed: int | None = None, max_examples: int | None = None) -> EngineRun:
    """Search one primitive's contract within ``bounds``; a failure is replayed with
    ``replay_primitive`` before the run is BROKEN."""
    from checks.primitives import applicable, replay_primitive

    engine = BACKENDS.get(backend, backend)
    n = max_examples if max_examples is not None else budget(profile, backend)
    fixed = profile_seed(profile) if seed is None else seed
    seen = _Seen()
    t0 = time.perf_counter()

    def result(status: Status, detail: str, cex: dict | None = None, to_cex: float | None = None) -> EngineRun:
        return EngineRun(engine, status, seen.runs, round(time.perf_counter() - t0, 3), detail, cex, to_cex,
                         budget={"max_examples": n, "bounds": asdict(bounds)}, seed=fixed)

    if name not in applicable(image):
        return result(Status.UNKNOWN, f"kernel {image.name} does not define {name} (or a symbol its check calls)")
    keys = _families(name, bounds)
    if _primitive_input(keys, bounds, [1], [0, 0, 0, 0]) is None:
        return result(Status.UNKNOWN, f"no Hypothesis mapping for the inputs of {name} ({', '.join(keys)})")

    @hypothesis_seed(fixed)
    @_settings(backend, n)
    @given(segs=st.lists(st.integers(0, bounds.max_seg_len), max_size=bounds.max_segs),
           raw=st.lists(st.integers(0, RAW), min_size=4, max_size=4))
    def primitive_contract(segs: list[int], raw: list[int]) -> None:
        seen.runs += 1
        nsegs = _decide(len(segs), 0, bounds.max_segs)
        concrete = [_decide(segs[i], 0, bounds.max_seg_len) for i in range(nsegs)]
        inp = _primitive_input(keys, bounds, concrete, [_decide(raw[i], 0, RAW) for i in range(4)])
        if inp is None:  # an empty array for a family that needs data: nothing to check
            return

        def run():
            try:
                return replay_primitive(image, name, inp)
            except (DoesNotBuild, ModelError) as e:
                seen.error = seen.error or e
                raise

        failure = _untraced(run)
        if failure is not None:
            if seen.first is None:
                seen.first, seen.first_failure_at = inp, time.perf_counter() - t0
            seen.last = inp
            raise _Broken(inp, failure)

    where = f"{n} examples, seed {fixed}, {bounds.describe()}"
    if _drive(primitive_contract, seen, t0) is None:
        if seen.runs == 0:
            return result(Status.UNKNOWN, f"ran no example ({where})")
        return result(Status.NOT_REFUTED, f"no counterexample in {seen.runs} examples ({where})")
    for inp in (seen.last, seen.first):
        if inp is None:
            continue
        failure = replay_primitive(image, name, inp)
        if failure is not None:
            return result(Status.BROKEN, failure, inp, seen.first_failure_at)
    return result(Status.UNKNOWN, f"replay did not reproduce the failure {engine} saw on {seen.first!r}")
