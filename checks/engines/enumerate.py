"""The previous exhaustive engine: every whole input within the bounds, smallest first.

Kept runnable beside ``exhaustive.py`` (which runs each distinct execution once) so the two can be
compared on the same model: tests/detection/test_engines_agree.py and ``make bench``. An input is
the caller's kvec lengths, a whole script (one window per scripted call) and a mode; every one is
run, whether or not the run reads all of its script.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict

from checks.engines.ceiling import SearchTimeout, ceiling
from checks.engines.exhaustive import segment_shapes, wait_endings
from checks.harness import CellInput, run_cell
from checks.profiles import Bounds
from checks.verdicts import EngineRun, Status
from model.kernel import KernelImage
from model.users import User

ENGINE = "enumerate"


def scripts(bounds: Bounds, user: User) -> Iterator[tuple[tuple[int, str], ...]]:
    windows = [(r, t) for r in range(bounds.max_room + 1) for t in wait_endings(user)]
    for n in range(bounds.max_windows + 1):
        yield from itertools.product(windows, repeat=n)


def all_inputs(bounds: Bounds, user: User) -> Iterator[CellInput]:
    all_scripts = list(scripts(bounds, user))
    for segs in segment_shapes(bounds, user):
        for script in all_scripts:
            for mode in user.modes:
                yield CellInput(segs, script, mode)


def count_inputs(bounds: Bounds, user: User) -> int:
    return sum(1 for _ in all_inputs(bounds, user))


def search(image: KernelImage, user: User, proto: str, bounds: Bounds, sabotage: str | None = None,
           timeout: float | None = None) -> EngineRun:
    """Run every input; stop at the first that breaks the contract. Past ``timeout`` seconds the
    result is UNKNOWN, never a pass."""
    t0 = time.perf_counter()
    explored = 0
    budget = {"bounds": asdict(bounds), "timeout": timeout}
    try:
        with ceiling(timeout):
            for inp in all_inputs(bounds, user):
                explored += 1
                obs = run_cell(image, user, proto, inp, sabotage)
                if not obs.holds:
                    dt = time.perf_counter() - t0
                    return EngineRun(ENGINE, Status.BROKEN, explored, dt, obs.failure, inp.to_json(), dt,
                                     budget=budget)
    except SearchTimeout as e:
        return EngineRun(ENGINE, Status.UNKNOWN, explored, time.perf_counter() - t0,
                         f"timeout: {e} ({explored} inputs run)", budget=budget)
    dt = time.perf_counter() - t0
    if explored == 0:
        return EngineRun(ENGINE, Status.UNKNOWN, 0, dt, "no input within the bounds", budget=budget)
    return EngineRun(ENGINE, Status.CONFIRMED, explored, dt, f"all {explored} inputs within bounds hold",
                     budget=budget)
