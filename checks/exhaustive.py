"""Bounded exhaustive search: every input within the bounds, smallest first.

This engine is the only source of CONFIRMED: when it returns with no counterexample, every input
of the stated bounds was run. Its count of inputs is reported with the verdict.
"""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace

from checks.harness import CellInput, run_cell
from checks.profiles import Bounds
from checks.verdicts import EngineRun, Status
from model.kernel import KernelImage
from model.users import SEND, User
from model.world import WAIT_ENDINGS, WAIT_EOF


def wait_endings(user: User) -> tuple[str, ...]:
    """How a wait can end for this user's direction (a send never sees EOF)."""
    return tuple(t for t in WAIT_ENDINGS if not (user.direction == SEND and t == WAIT_EOF))


def segment_shapes(bounds: Bounds, user: User) -> Iterator[tuple[int, ...]]:
    max_segs = min(bounds.max_segs, user.max_segs or bounds.max_segs)
    for n in range(1, max_segs + 1):
        yield from itertools.product(range(bounds.max_seg_len + 1), repeat=n)


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


class SearchTimeout(BaseException):
    """The search ran past its wall-time budget (a model stuck in a loop that calls nothing).
    A BaseException, like KeyboardInterrupt: no handler around model code may swallow it."""


@contextmanager
def _deadline(seconds: float | None):
    """Interrupt the search after ``seconds`` of wall time (main thread only; elsewhere, no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise SearchTimeout(f"no verdict within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def search(image: KernelImage, user: User, proto: str, bounds: Bounds, sabotage: str | None = None,
           timeout: float | None = None) -> EngineRun:
    """Run every input; stop at the first that breaks the contract. Past ``timeout`` seconds the
    result is UNKNOWN, never a pass. The run records its bounds and timeout."""
    run = _search(image, user, proto, bounds, sabotage, timeout)
    return replace(run, budget={"bounds": asdict(bounds), "timeout": timeout})


def _search(image: KernelImage, user: User, proto: str, bounds: Bounds, sabotage: str | None,
            timeout: float | None) -> EngineRun:
    t0 = time.perf_counter()
    explored = 0
    try:
        with _deadline(timeout):
            for inp in all_inputs(bounds, user):
                explored += 1
                obs = run_cell(image, user, proto, inp, sabotage)
                if not obs.holds:
                    dt = time.perf_counter() - t0
                    return EngineRun("exhaustive", Status.BROKEN, explored, dt, obs.failure, inp.to_json(), dt)
    except SearchTimeout as e:
        return EngineRun("exhaustive", Status.UNKNOWN, explored, time.perf_counter() - t0,
                         f"timeout: {e} ({explored} inputs run)")
    dt = time.perf_counter() - t0
    if explored == 0:
        return EngineRun("exhaustive", Status.UNKNOWN, 0, dt, "no input within the bounds")
    return EngineRun("exhaustive", Status.CONFIRMED, explored, dt, f"all {explored} inputs within bounds hold")
