"""The "what it relies on" table: each user run over each abstract send or receive behaviour.

A user that holds under one behaviour and breaks under another relies on the first: cifs and
ceph hold while the send path leaves their kvec alone and break when it consumes it; the iSCSI
target's receive loop holds only while the receive path consumes.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from checks.behaviours import BEHAVIOURS, Behaviour, behaviour_image
from checks.cache import VerdictCache, cell_key
from checks.cell import all_users, reach
from checks.engines import exhaustive
from checks.harness import CellInput, run_cell
from checks.profiles import Profile
from checks.verdicts import CellVerdict, Counterexample, EngineRun, Status
from model.vmlinux import base_image


@dataclass(frozen=True)
class Reliance:
    user: str
    behaviour: str
    direction: str
    status: Status
    detail: str
    counterexample: dict | None
    explored: int = 0  # inputs the exhaustive search ran: a cached CONFIRMED must show them (checks/cache.py)


def _check(args: tuple[str, Behaviour, Profile]) -> Reliance:
    user_name, b, profile = args
    user = all_users()[user_name]
    image = behaviour_image(base_image(), b)
    run = exhaustive.search(image, user, "tcp", profile.exhaustive)
    detail = run.detail
    if run.status == Status.BROKEN:
        obs = run_cell(image, user, "tcp", CellInput.from_json(run.counterexample))
        detail = f"{obs.failure} [{CellInput.from_json(run.counterexample).describe()}]"
    return Reliance(user_name, b.name, b.direction, run.status, detail, run.counterexample, run.explored)


def relies_table(profile: Profile, users: list[str] | None = None, jobs: int | None = None,
                 cache: VerdictCache | None = None) -> list[Reliance]:
    """Every (user, behaviour) pair; verdicts come from ``cache`` when their key is there."""
    registry = all_users()
    chosen = [registry[u] for u in (users or sorted(registry)) if "tcp" in registry[u].protocols]
    work = [(u.name, b, profile) for u in chosen for b in BEHAVIOURS if b.direction == u.direction]
    keys = [_key(u, b, profile) for u, b, _ in work] if cache is not None else [None] * len(work)
    rows: dict[int, Reliance] = {}
    for i, key in enumerate(keys):
        hit = cache.get(key, (work[i][0], "tcp")) if key else None
        if hit is not None:
            rows[i] = _from_verdict(hit, work[i][1])
    pending = [i for i in range(len(work)) if i not in rows]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1, mp_context=ctx) as pool:
        for i, r in zip(pending, pool.map(_check, [work[i] for i in pending]), strict=True):
            rows[i] = r
            if keys[i]:
                cache.put(keys[i], _to_verdict(r))
    return [rows[i] for i in range(len(work))]


def _key(user: str, b: Behaviour, profile: Profile) -> str:
    from checks.render import tool_versions

    image = behaviour_image(base_image(), b)
    names = reach(image, all_users()[user], "tcp")
    return cell_key(image, names, user, f"relies:{b.direction}:{b.name}", frozenset(), profile.to_json(),
                    tool_versions())


def _to_verdict(r: Reliance) -> CellVerdict:
    cex = Counterexample(r.counterexample, "", r.detail, None, "", "", "exhaustive") if r.counterexample else None
    run = EngineRun("exhaustive", r.status, r.explored, 0.0)
    return CellVerdict(f"behaviour:{r.behaviour}", r.user, "tcp", r.status, r.detail, 0.0, cex, engines=(run,))


def _from_verdict(v: CellVerdict, b: Behaviour) -> Reliance:
    return Reliance(v.user, b.name, b.direction, v.status, v.evidence,
                    v.counterexample.input if v.counterexample else None, v.engines[0].explored if v.engines else 0)


def needs(rows: list[Reliance], user: str) -> str:
    """In words: which behaviours the user holds under."""
    ok = [r.behaviour for r in rows if r.user == user and r.status == Status.CONFIRMED]
    bad = [r.behaviour for r in rows if r.user == user and r.status != Status.CONFIRMED]
    if not bad:
        return "indifferent: holds under every behaviour"
    if not ok:
        return "breaks under every behaviour"
    return f"needs {' or '.join(ok)}; breaks under {', '.join(bad)}"


def render(rows: list[Reliance]) -> str:
    out = []
    for direction in ("send", "recv"):
        names = [b.name for b in BEHAVIOURS if b.direction == direction]
        users = sorted({r.user for r in rows if r.direction == direction})
        if not users:
            continue
        width = max(len(u) for u in users) + 2
        out.append(f"{direction} behaviours: " + "; ".join(f"{b.name} = {b.meaning}" for b in BEHAVIOURS
                                                          if b.direction == direction))
        out.append(f"{'user':<{width}}" + "".join(f"{n:>18}" for n in names) + "   what it relies on")
        cell = {(r.user, r.behaviour): r for r in rows if r.direction == direction}
        for u in users:
            marks = "".join(f"{'holds' if cell[(u, n)].status == Status.CONFIRMED else cell[(u, n)].status.name:>18}"
                            for n in names)
            out.append(f"{u:<{width}}{marks}   {needs([r for r in rows if r.direction == direction], u)}")
        out.append("")
    return "\n".join(out)
