"""One cell: does it build, then does the user still get what it relies on.

The engines run in order of cost: the bounded exhaustive search (the only source of CONFIRMED),
a sabotaged run that must fail (else the harness could not have failed: UNKNOWN), then Hypothesis
and CrossHair over a larger scope, each with a count budget and a fixed seed, so that a loaded
machine gets the same verdicts. Every counterexample is replayed concretely before it is BROKEN.
"""

from __future__ import annotations

import importlib
import json
import shlex
import time
from dataclasses import dataclass, replace
from functools import cache

from checks.callgraph import build_errors, reachable
from checks.engines import enumerate as enumeration
from checks.engines import exhaustive
from checks.engines.ceiling import SearchTimeout, ceiling
from checks.harness import PROTOCOLS, CellInput, run_cell
from checks.profiles import Profile
from checks.verdicts import CellVerdict, Counterexample, EngineRun, Status
from model.kernel import DoesNotBuild, KernelImage
from model.socket import _PROTOSW
from model.users import User
from model.vmlinux import USER_MODULES, linked_modules

SABOTAGE = "repeat"


@cache
def all_users() -> dict[str, User]:
    users: dict[str, User] = {}
    for name in linked_modules():
        if name in USER_MODULES:
            for u in importlib.import_module(name).USERS:
                users[u.name] = u
    return users


def protocol_roots(proto: str) -> set[str]:
    return {"sock_create_kern", "kvec", *_PROTOSW[PROTOCOLS[proto]]}


@dataclass(frozen=True)
class CellTask:
    series: str  # how the replay command names the series: its name under series/, else its path
    series_path: str
    step: str
    user: str
    protocol: str
    order: tuple[str, ...] | None = None  # the steps applied, when not the series' own order


def reach(image: KernelImage, user: User, proto: str) -> set[str]:
    return reachable(image, protocol_roots(proto), (user.entry,))


def replay_command(task: CellTask, inp: CellInput) -> str:
    order = f" --order {','.join(s.split('_', 1)[0] for s in task.order)}" if task.order else ""
    return (f"seriescheck replay {shlex.quote(task.series)} {task.step} {task.user} {task.protocol}{order} "
            f"--input {shlex.quote(json.dumps(inp.to_json(), separators=(',', ':')))}")


PRIMITIVE = "primitive:"


def check_cell(task: CellTask, image: KernelImage, removed_fields: frozenset[tuple[str, str]],
               profile: Profile) -> CellVerdict:
    if task.user.startswith(PRIMITIVE):
        return check_primitive_cell(task, image, profile)
    t0 = time.perf_counter()
    user = all_users()[task.user]

    def verdict(status: Status, evidence: str, engines=(), cex=None, replay=None) -> CellVerdict:
        return CellVerdict(task.step, task.user, task.protocol, status, evidence,
                           round(time.perf_counter() - t0, 3), cex, replay, tuple(engines))

    errors = build_errors(image, reach(image, user, task.protocol), removed_fields, (user.entry,))
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return verdict(Status.DOES_NOT_BUILD, f"{errors[0]}{more}")
    try:
        return _run_engines(task, image, user, profile, verdict)
    except DoesNotBuild as e:
        return verdict(Status.DOES_NOT_BUILD, f"at run time: {e}")


def _run_engines(task, image, user, profile, verdict) -> CellVerdict:
    engines: list[EngineRun] = []
    try:
        with ceiling(profile.cell_timeout):
            return _sequence(task, image, user, profile, verdict, engines)
    except SearchTimeout as e:
        return verdict(Status.UNKNOWN, f"timeout: {e} (cell ceiling; engines done: "
                       f"{', '.join(r.engine for r in engines) or 'none'})", engines)


def _sequence(task, image, user, profile, verdict, engines: list[EngineRun]) -> CellVerdict:
    """Exhaustive, then the sabotaged harness, then the larger-scope engines; the first BROKEN wins."""
    engine = enumeration if profile.exhaustive_engine == "enumerate" else exhaustive
    ex = engine.search(image, user, task.protocol, profile.exhaustive, timeout=profile.exhaustive_timeout)
    engines.append(ex)
    if ex.status == Status.BROKEN:
        return _broken(task, image, user, ex, verdict, engines)
    if ex.status != Status.CONFIRMED:
        return verdict(Status.UNKNOWN, f"exhaustive search: {ex.detail}", engines)
    sab = engine.search(image, user, task.protocol, profile.exhaustive, sabotage=SABOTAGE,
                        timeout=profile.exhaustive_timeout)
    engines.append(replace(sab, engine=f"{sab.engine}-sabotaged"))
    if sab.status != Status.BROKEN:
        return verdict(Status.UNKNOWN, "vacuous: a wire that repeats a byte was not caught within the bounds", engines)
    runs = "inputs" if engine is enumeration else "executions"
    evidence = f"all {ex.explored} {runs} with {profile.exhaustive.describe()} hold"
    if profile.hypothesis_enabled:
        from checks.engines import hypothesis

        beyond = None  # spend the examples beyond what the exhaustive search has run, if there is a beyond
        if profile.larger_scope_only and profile.crosshair.exceeds(profile.exhaustive):
            beyond = profile.exhaustive
        hy = hypothesis.search(image, user, task.protocol, profile.crosshair, profile, beyond=beyond)
        engines.append(hy)
        if hy.status == Status.BROKEN:
            return _broken(task, image, user, hy, verdict, engines)
        evidence += f"; hypothesis ({profile.crosshair.describe()}): {hy.status.name} {hy.detail}"
    if profile.crosshair_enabled:
        from checks.engines import crosshair

        ch = crosshair.search(image, user, task.protocol, profile.crosshair, profile)
        engines.append(ch)
        if ch.status == Status.BROKEN:
            return _broken(task, image, user, ch, verdict, engines)
        if ch.status == Status.UNKNOWN and ch.detail.startswith("timeout"):  # a run beyond the bounds hangs
            return verdict(Status.UNKNOWN, f"crosshair: {ch.detail}", engines)
        evidence += f"; crosshair ({profile.crosshair.describe()}): {ch.status.name} {ch.detail}"
    return verdict(Status.CONFIRMED, evidence, engines)


def _broken(task, image, user, run: EngineRun, verdict, engines) -> CellVerdict:
    """Replay the engine's counterexample concretely, in a fresh kernel, before believing it."""
    inp = CellInput.from_json(run.counterexample)
    obs = run_cell(image, user, task.protocol, inp)
    if obs.holds:
        return verdict(Status.UNKNOWN, f"{run.engine} counterexample did not reproduce on replay: {inp.describe()}",
                       engines)
    cex = Counterexample(inp.to_json(), inp.describe(), obs.failure, obs.rc, repr(obs.got), repr(obs.expected),
                         run.engine)
    return verdict(Status.BROKEN, obs.failure, engines, cex, replay_command(task, inp))


def check_primitive_cell(task: CellTask, image: KernelImage, profile: Profile) -> CellVerdict:
    """A primitive's own contract at this step (checks/primitives.py), exhaustively."""
    from checks.primitives import check_primitive, replay_primitive

    t0 = time.perf_counter()
    name = task.user[len(PRIMITIVE):]
    try:
        run = check_primitive(image, name, profile.exhaustive)
    except DoesNotBuild as e:
        return CellVerdict(task.step, task.user, task.protocol, Status.DOES_NOT_BUILD, f"at run time: {e}",
                           round(time.perf_counter() - t0, 3))
    cex = replay = None
    status, evidence = run.status, run.detail
    if run.status == Status.BROKEN:
        failure = replay_primitive(image, name, run.counterexample)
        if failure is None:
            status, evidence = Status.UNKNOWN, f"counterexample did not reproduce on replay: {run.counterexample}"
        else:
            cex = Counterexample(run.counterexample, json.dumps(run.counterexample), failure, None, "", "",
                                 run.engine)
            replay = (f"seriescheck replay {shlex.quote(task.series)} {task.step} {task.user} - "
                      f"--input {shlex.quote(json.dumps(run.counterexample, separators=(',', ':')))}")
    return CellVerdict(task.step, task.user, task.protocol, status, evidence, round(time.perf_counter() - t0, 3),
                       cex, replay, (run,))


def cell_reach(image: KernelImage, task: CellTask) -> set[str]:
    """The definitions a cell's verdict depends on."""
    if task.user.startswith(PRIMITIVE):
        return reachable(image, {task.user[len(PRIMITIVE):]})
    return reach(image, all_users()[task.user], task.protocol)


def retarget(v: CellVerdict, task: CellTask) -> CellVerdict:
    """A verdict computed for another step or series, as this task's: same finding, its own replay."""
    replay = v.replay
    if v.counterexample is not None:
        if task.user.startswith(PRIMITIVE):
            replay = (f"seriescheck replay {shlex.quote(task.series)} {task.step} {task.user} - "
                      f"--input {shlex.quote(json.dumps(v.counterexample.input, separators=(',', ':')))}")
        else:
            replay = replay_command(task, CellInput.from_json(v.counterexample.input))
    return replace(v, step=task.step, replay=replay)
