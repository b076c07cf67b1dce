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

Measured (2 cores shared with other jobs, so CPU seconds; Python 3.11.7, crosshair-tool 0.0.113,
quick profile: crosshair bounds <= 4 segments of <= 6 bytes, <= 3 windows of room <= 8, 4 s):

* iscsit_do_tx_data/tcp: BROKEN after 74 inputs, 1.7-2.1 s (3 runs; 12-31 inputs, 0.4-0.8 s
  at four other search seeds); the counterexample (6 bytes, one window of room 1 ending in a
  signal) replays.
* sabotage "repeat" on smb_send_kvec and iscsit_do_rx_data: BROKEN on the first input, 0.08 s.
* smb_send_kvec/tcp and iscsit_do_rx_data/tcp: NOT_REFUTED after the whole budget, 120-170
  inputs (about 25 ms of CrossHair per input; run_cell alone takes 0.1 ms); no false alarm.
* the nine planted defects of tests/detection, five seeds each: 45 of 45 BROKEN, median 11
  inputs and 0.34 s, worst 100 inputs and 2.3 s. smb_send_rqst's own failure (1.6% of the
  inputs): 4 of 5. Two defects outside the exhaustive bounds: 10 of 10, worst 1.8 s. One that
  fails on 0.5% of the inputs: 0 of 5, and not in 30 s either.
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
