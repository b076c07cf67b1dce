"""CrossHair over one cell: a larger input scope than the exhaustive search, within a CPU budget.

CrossHair analyses ``cell_contract`` (checks/crosshair_harness.py) with the profile's
``per_condition_timeout`` and ``per_path_timeout``. What it says is evidence to check, not a
verdict:

* a counterexample (POST_FAIL, EXEC_ERR) exists only as the text "... when calling
  cell_contract(args) ..."; the call is parsed with ``ast``, turned into a ``CellInput`` and
  replayed concretely with ``run_cell``, outside the solver. Only a replay that fails makes the
  cell BROKEN; one that holds is UNKNOWN ("replay did not reproduce"): a tool error, not a finding;
* CANNOT_CONFIRM (the budget ran out) is NOT_REFUTED, never "proved";
* CONFIRMED (CrossHair says it exhausted the paths) is not trusted either: the budgets are CPU
  seconds checked between paths, and under CPU load an exhaustion claim has been wrong before
  (CrossHair issue #422). It is NOT_REFUTED; the exhaustive engine is the only source of
  CONFIRMED;
* no contract found, PRE_UNSAT (no input passes the ``pre:`` lines), a body that never ran, or
  CrossHair raising: UNKNOWN, with the reason.

The analysis runs inside ``crosshair.auditwall.enabled_auditwall()``: the model is pure, and a
model that writes a file or spawns a process is then stopped instead of doing it (the write shows
up as an unreproducible counterexample, UNKNOWN). The wall is scoped (dormant after the block) but
its audit hook stays installed in the process and it sets ``sys.dont_write_bytecode``; no other
thread of the process may do I/O while a cell is analysed (the matrix workers have none).

Measured 2026-12-03 (2 cores, Python 3.11.7, crosshair-tool 0.0.113, the quick scope <= 4 segments
of <= 6 bytes, <= 4 windows of room <= 8; every iteration runs one input, about 35 ms of CrossHair
each, nearly all of it solver checks):

* iscsit_do_tx_data/tcp: BROKEN at the 24th input, 0.86 s; smb_send_rqst/tcp at the 4th, 0.18 s.
  Both counterexamples replay.
* smb_send_kvec/tcp, iscsit_do_rx_data/tcp and the other holding cells: NOT_REFUTED; no false alarm.
* the detection corpus (bench/detection.py): 29/46 at 3 iterations (the quick budget), 32/46 at 4,
  38/46 at 5, 40/46 at 8 and at 20. The harness before (lists with ``pre:`` lines) found 13/46 at 20.
* with the model traced, iscsit_do_tx_data is not found at all (see the harness).
"""

from __future__ import annotations

import ast
import inspect
import time
from dataclasses import asdict

from crosshair.auditwall import enabled_auditwall
from crosshair.core_and_libs import MessageType, analyze_function, run_checkables
from crosshair.options import AnalysisOptionSet
from crosshair.statespace import AnalysisMessage

from checks.engines.crosshair_harness import MAX_SEGS, MAX_WINDOWS, Cell, Probe, contract_for
from checks.harness import run_cell
from checks.profiles import Bounds, Profile
from checks.verdicts import EngineRun, Status
from model.kernel import KernelImage
from model.users import User

ENGINE = "crosshair"

# Most severe first: the message a run is judged by.
SEVERITY = (
    MessageType.POST_FAIL,
    MessageType.EXEC_ERR,
    MessageType.POST_ERR,
    MessageType.SYNTAX_ERR,
    MessageType.IMPORT_ERR,
    MessageType.PRE_UNSAT,
    MessageType.CANNOT_CONFIRM,
    MessageType.CONFIRMED,
)


class UnreadableCounterexample(ValueError):
    """CrossHair's message has no parsable "when calling f(...)": its format changed, or the
    message is not a counterexample. Read the message; the engine reports the cell UNKNOWN."""


# CrossHair 0.0.113 searches with a fixed random seed (and z3 with seed 42): recorded with each run.
CROSSHAIR_SEED = 1801243388510242075


def options_for(profile: Profile) -> AnalysisOptionSet:
    """The profile's budgets, laid over CrossHair's defaults. With ``crosshair_max_iterations`` the
    budget is a count, the same on a loaded machine as on an idle one, and the timeout a ceiling."""
    return AnalysisOptionSet(per_condition_timeout=profile.crosshair_per_condition_timeout,
                             per_path_timeout=profile.crosshair_per_path_timeout,
                             max_iterations=profile.crosshair_max_iterations)


def search(image: KernelImage, user: User, proto: str, bounds: Bounds, profile: Profile,
           sabotage: str | None = None) -> EngineRun:
    """Analyse one cell's contract within ``bounds`` and the profile's CrossHair budget.

    Raises what a concrete replay raises (``DoesNotBuild``, ``ModelError``), as the exhaustive
    engine does; every failure of CrossHair itself is an UNKNOWN run."""
    t0 = time.perf_counter()
    budget = {"per_condition_timeout": profile.crosshair_per_condition_timeout,
              "per_path_timeout": profile.crosshair_per_path_timeout,
              "max_iterations": profile.crosshair_max_iterations, "bounds": asdict(bounds)}
    cell = Cell.of(image, user, proto, bounds, sabotage)
    probe = Probe()
    fn = contract_for(cell, probe)

    def run(status: Status, detail: str, counterexample: dict | None = None,
            to_counterexample: float | None = None) -> EngineRun:
        return EngineRun(ENGINE, status, probe.runs, round(time.perf_counter() - t0, 3), detail, counterexample,
                         to_counterexample, budget=budget, seed=CROSSHAIR_SEED)

    if not cell.fits():
        return run(Status.UNKNOWN, f"the CrossHair harness chooses at most {MAX_SEGS} segments and {MAX_WINDOWS} "
                   f"windows; {bounds.describe()} is wider (lower the profile's crosshair bounds)")
    try:
        with enabled_auditwall():
            checkables = analyze_function(fn, options_for(profile))
            messages = run_checkables(checkables) if checkables else []
    except Exception as e:  # CrossHair failed; the model's own exceptions never get here
        return run(Status.UNKNOWN, f"crosshair raised {type(e).__name__}: {e}")
    solver_seconds = round(time.perf_counter() - t0, 3)
    hung = probe.unfinished or probe.running
    if hung is not None:
        return run(Status.UNKNOWN, f"timeout: the run on {hung.describe()} did not return within the "
                   f"{profile.crosshair_per_path_timeout:g} s per-path timeout (a loop that never ends?)")
    if not checkables:
        return run(Status.UNKNOWN, "no contract found: CrossHair read no conditions from cell_contract's docstring")
    worst = worst_message(messages)
    if worst is None:
        return run(Status.UNKNOWN, "crosshair reported nothing")
    state = worst.state
    if state in (MessageType.POST_FAIL, MessageType.EXEC_ERR):
        return _replay(cell, fn, worst, run, solver_seconds)
    if state == MessageType.PRE_UNSAT:
        return run(Status.UNKNOWN, f"vacuous: no input within {bounds.describe()} passes the preconditions")
    if state in (MessageType.POST_ERR, MessageType.SYNTAX_ERR, MessageType.IMPORT_ERR):
        return run(Status.UNKNOWN, f"crosshair {state.name}: {worst.message}")
    if probe.runs == 0:
        return run(Status.UNKNOWN, f"explored no input in {profile.crosshair_per_condition_timeout:g} s")
    if state == MessageType.CONFIRMED:
        return run(Status.NOT_REFUTED, f"solver claimed exhaustion after {probe.runs} inputs; not trusted")
    if profile.crosshair_max_iterations and solver_seconds >= profile.crosshair_per_condition_timeout:
        return run(Status.UNKNOWN, f"timeout: the {profile.crosshair_per_condition_timeout:g} s ceiling came before "
                   f"{profile.crosshair_max_iterations} iterations ({probe.runs} inputs)")
    limit = (f"{profile.crosshair_max_iterations} iterations" if profile.crosshair_max_iterations
             else f"{profile.crosshair_per_condition_timeout:g} s budget")
    return run(Status.NOT_REFUTED, f"no counterexample in {probe.runs} inputs ({limit})")


def worst_message(messages: list[AnalysisMessage]) -> AnalysisMessage | None:
    ranked = [m for m in messages if m.state in SEVERITY]
    return min(ranked, key=lambda m: SEVERITY.index(m.state), default=None)


def _replay(cell: Cell, fn, message: AnalysisMessage, run, solver_seconds: float) -> EngineRun:
    """Believe a counterexample only once it fails again, concretely, in a fresh kernel."""
    try:
        args = parse_call(message.message, fn)
        if not all(isinstance(v, int) for v in args.values()):
            raise UnreadableCounterexample(f"arguments that are not all ints: {args!r}")
        inp = cell.input_of(**args)
    except UnreadableCounterexample as e:
        return run(Status.UNKNOWN, f"could not read the counterexample ({e}): {message.message}")
    obs = run_cell(cell.image, cell.user, cell.proto, inp, cell.sabotage)
    if obs.holds:
        return run(Status.UNKNOWN, f"replay did not reproduce crosshair's {message.state.name} on "
                   f"{inp.describe()}: {message.message}")
    return run(Status.BROKEN, obs.failure or "", inp.to_json(), solver_seconds)


def parse_call(text: str, fn) -> dict[str, object]:
    """The arguments of the call in "... when calling fn(args) (which returns ...)", by name.

    The arguments are literals; CrossHair writes an object passed twice as ``v1:=[...]`` then
    ``v1``, which is evaluated as such. Nothing in the text is executed."""
    marker = f"when calling {fn.__name__}("
    start = text.find(marker)
    if start < 0:
        raise UnreadableCounterexample(f"no {marker!r} in the message")
    start += len("when calling ")
    call = None
    end = text.find(")", start)
    while end >= 0:  # the shortest prefix ending in ")" that parses is the whole call
        try:
            call = ast.parse(text[start : end + 1], mode="eval").body
            break
        except SyntaxError:
            end = text.find(")", end + 1)
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id != fn.__name__:
        raise UnreadableCounterexample(f"no complete call of {fn.__name__} in the message")
    names: dict[str, object] = {}
    try:
        args = [_literal(a, names) for a in call.args]
        kwargs = {k.arg: _literal(k.value, names) for k in call.keywords if k.arg}
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise UnreadableCounterexample(str(e)) from e
    return dict(bound.arguments)


def _literal(node: ast.expr, names: dict[str, object]) -> object:
    if isinstance(node, ast.NamedExpr):
        value = names[node.target.id] = _literal(node.value, names)
        return value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ValueError(f"name {node.id!r} used before CrossHair defined it")
        return names[node.id]
    if isinstance(node, ast.List):
        return [_literal(e, names) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e, names) for e in node.elts)
    return ast.literal_eval(node)
