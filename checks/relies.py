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

from checks import exhaustive
from checks.behaviours import BEHAVIOURS, Behaviour, behaviour_image
from checks.cell import all_users
from checks.harness import CellInput, run_cell
from checks.profiles import Profile
from checks.verdicts import Status
from model.vmlinux import base_image


@dataclass(frozen=True)
class Reliance:
    user: str
    behaviour: str
    direction: str
    status: Status
    detail: str
    counterexample: dict | None


def _check(args: tuple[str, Behaviour, Profile]) -> Reliance:
    user_name, b, profile = args
    user = all_users()[user_name]
    image = behaviour_image(base_image(), b)
    run = exhaustive.search(image, user, "tcp", profile.exhaustive)
    detail = run.detail
    if run.status == Status.BROKEN:
        obs = run_cell(image, user, "tcp", CellInput.from_json(run.counterexample))
        detail = f"{obs.failure} [{CellInput.from_json(run.counterexample).describe()}]"
    return Reliance(user_name, b.name, b.direction, run.status, detail, run.counterexample)


def relies_table(profile: Profile, users: list[str] | None = None, jobs: int | None = None) -> list[Reliance]:
    registry = all_users()
    chosen = [registry[u] for u in (users or sorted(registry)) if "tcp" in registry[u].protocols]
    work = [(u.name, b, profile) for u in chosen for b in BEHAVIOURS if b.direction == u.direction]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1, mp_context=ctx) as pool:
        return list(pool.map(_check, work))


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
