"""Bounded exhaustive search of a cell: every distinct execution within the bounds, smallest first.

A stateless model checker over the world's choices. The caller's kvec lengths and the mode are
fixed per run; the script is not: the world asks a ``Trail`` (a ``Chooser``, model/world.py) for
the room of a call when the call starts, and for how its wait ends only when it waits. Each run
follows a prefix of choices and takes the first alternative past it, recording every choice point
it met and how many answers it had; each untaken answer past the prefix is a new prefix to run.
So every execution the bounds allow is run exactly once, and inputs that differ only in choices
no run asks for are not run again: a user that finishes in one call never reads a second window,
a call with room for everything never asks how its wait would end.

What is covered is the same as running every whole input of the bounds (``enumerate.py``, the
previous engine): each whole input's run is one of these executions, and each execution's choices
are a script that replays it (``CellInput``). Prefixes are run in order of their number of scripted
windows, then mode, so the first counterexample is one of the smallest, as before.

This engine is the only source of CONFIRMED: with no counterexample, every input of the stated
bounds was run. Its count of executions is reported with the verdict.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from checks.engines.ceiling import SearchTimeout, ceiling
from checks.harness import CellInput, run_cell
from checks.profiles import Bounds
from checks.verdicts import EngineRun, Status
from model.kernel import KernelImage
from model.users import User
from model.world import WAIT_OK, WAIT_TIMEOUT

ENGINE = "exhaustive"
ROOM, ENDING = "room", "ending"  # the two kinds of choice point


def wait_endings(user: User) -> tuple[str, ...]:
    """How a wait can end for this user (``User.wait_endings``); ``ok`` first."""
    return user.wait_endings()


def segment_shapes(bounds: Bounds, user: User) -> Iterator[tuple[int, ...]]:
    """The caller's kvec lengths: fewer segments first."""
    max_segs = min(bounds.max_segs, user.max_segs or bounds.max_segs)
    for n in range(1, max_segs + 1):
        yield from itertools.product(range(bounds.max_seg_len + 1), repeat=n)


class Trail:
    """The world's answers for one run: ``prefix`` first, then the first answer at each point.

    Records each choice point met (its kind and how many answers it had) and the script the
    answers make, so the run can be replayed as a plain ``CellInput``."""

    __slots__ = ("prefix", "bounds", "endings", "taken", "arity", "kinds", "script")

    def __init__(self, prefix: tuple[int, ...], bounds: Bounds, endings: tuple[str, ...]):
        self.prefix, self.bounds, self.endings = prefix, bounds, endings
        self.taken: list[int] = []
        self.arity: list[int] = []
        self.kinds: list[str] = []
        self.script: list[list] = []  # [room, then] per scripted call

    @property
    def untimed(self) -> tuple[str, ...]:
        """The endings of a wait on a socket without a timeout to expire."""
        return tuple(t for t in self.endings if t != WAIT_TIMEOUT)

    def _choose(self, kind: str, n: int) -> int:
        at = len(self.taken)
        answer = self.prefix[at] if at < len(self.prefix) else 0
        self.taken.append(answer)
        self.arity.append(n)
        self.kinds.append(kind)
        return answer

    def room(self, call: int) -> int | None:
        """Answer 0 ends the script (every later call is open); answer r + 1 is room r."""
        if call >= self.bounds.max_windows:
            return None
        answer = self._choose(ROOM, self.bounds.max_room + 2)
        if answer == 0:
            return None
        self.script.append([answer - 1, WAIT_OK])
        return answer - 1

    def ending(self, call: int, can_time_out: bool = True) -> str:
        endings = self.endings if can_time_out else self.untimed
        then = endings[self._choose(ENDING, len(endings))]
        self.script[call][1] = then
        return then

    def forced(self, call: int, then: str) -> None:
        self.script[call][1] = then

    def branches(self) -> Iterator[tuple[int, tuple[int, ...]]]:
        """Every prefix that differs from this run first at a point past its own prefix: (windows, prefix)."""
        windows = 0  # scripted windows among the answers before ``at``
        for at, (kind, answer) in enumerate(zip(self.kinds, self.taken, strict=True)):
            if at >= len(self.prefix):
                grows = kind == ROOM
                for other in range(1, self.arity[at]):
                    yield windows + grows, (*self.taken[:at], other)
            windows += kind == ROOM and answer != 0


@dataclass
class _Frontier:
    """Prefixes still to run for one kvec shape: fewest windows first, then in the order of their
    answers (room before ending, smaller first), then mode: the order the previous engine ran whole
    inputs in. A prefix's own run takes the first answer past it, so it comes before its branches."""

    heap: list = field(default_factory=list)

    def push(self, windows: int, mode: int, prefix: tuple[int, ...]) -> None:
        heapq.heappush(self.heap, (windows, prefix, mode))

    def pop(self) -> tuple[int, tuple[int, ...]]:
        _, prefix, mode = heapq.heappop(self.heap)
        return mode, prefix

    def __bool__(self) -> bool:
        return bool(self.heap)


def executions(image: KernelImage, user: User, proto: str, bounds: Bounds, sabotage: str | None = None):
    """Run every distinct execution within ``bounds``; yield (input, observation) for each."""
    endings = wait_endings(user)
    for segs in segment_shapes(bounds, user):
        frontier = _Frontier()
        for mode in range(len(user.modes)):
            frontier.push(0, mode, ())
        while frontier:
            mode, prefix = frontier.pop()
            trail = Trail(prefix, bounds, endings)
            obs = run_cell(image, user, proto, CellInput(segs, (), user.modes[mode]), sabotage, chooser=trail)
            yield CellInput(segs, tuple(map(tuple, trail.script)), user.modes[mode]), obs
            for windows, branch in trail.branches():
                frontier.push(windows, mode, branch)


def search(image: KernelImage, user: User, proto: str, bounds: Bounds, sabotage: str | None = None,
           timeout: float | None = None) -> EngineRun:
    """Run every execution; stop at the first that breaks the contract. Past ``timeout`` seconds of
    wall time the result is UNKNOWN, never a pass. The run records its bounds and timeout."""
    t0 = time.perf_counter()
    explored = 0
    budget = {"bounds": asdict(bounds), "timeout": timeout}

    def run(status: Status, detail: str, cex: dict | None = None) -> EngineRun:
        dt = time.perf_counter() - t0
        return EngineRun(ENGINE, status, explored, dt, detail, cex, dt if cex else None, budget=budget)

    try:
        with ceiling(timeout):
            for inp, obs in executions(image, user, proto, bounds, sabotage):
                explored += 1
                if not obs.holds:
                    return run(Status.BROKEN, obs.failure or "", inp.to_json())
    except SearchTimeout as e:
        return run(Status.UNKNOWN, f"timeout: {e} ({explored} executions run)")
    if explored == 0:
        return run(Status.UNKNOWN, "no input within the bounds")
    return run(Status.CONFIRMED, f"all {explored} executions within bounds hold")
