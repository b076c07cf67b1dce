"""Check profiles: the bounds of the input space and the budgets of each engine.

Bounds live here, never in model/. A profile is a complete set of settings; a partial override
(``--set``) is laid over it, as CrossHair lays option sets over its defaults.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Bounds:
    max_segs: int  # kvec entries
    max_seg_len: int  # bytes per entry
    max_windows: int  # scripted ->sendmsg/->recvmsg calls before the network is unconstrained
    max_room: int  # bytes of room per scripted call

    def holds(self, inp) -> bool:
        """Is the cell input ``inp`` (kvec lengths, scripted windows) one of these bounds' inputs?"""
        return (len(inp.segs) <= self.max_segs and all(n <= self.max_seg_len for n in inp.segs)
                and len(inp.script) <= self.max_windows and all(r <= self.max_room for r, _ in inp.script))

    def exceeds(self, other: Bounds) -> bool:
        """Do these bounds hold inputs beyond ``other``'s?"""
        return any(getattr(self, f) > getattr(other, f) for f in ("max_segs", "max_seg_len", "max_windows", "max_room"))

    def describe(self) -> str:
        return (
            f"<= {self.max_segs} segments of <= {self.max_seg_len} bytes, "
            f"<= {self.max_windows} scripted calls of room <= {self.max_room}"
        )


@dataclass(frozen=True)
class Profile:
    name: str
    exhaustive: Bounds  # every input within these is run: the scope of CONFIRMED
    crosshair: Bounds  # the larger scope CrossHair searches within its budget
    crosshair_per_condition_timeout: float
    crosshair_per_path_timeout: float
    crosshair_enabled: bool = True
    exhaustive_timeout: float = 300.0  # seconds of wall time for one cell's exhaustive search: then UNKNOWN
    cell_timeout: float = 600.0  # wall-time ceiling for all of one cell's engines: then UNKNOWN (not a budget)
    crosshair_max_iterations: int | None = None  # a count budget; per_condition_timeout is then a ceiling
    hypothesis_enabled: bool = True
    hypothesis_max_examples: int = 1000
    hypothesis_crosshair_max_examples: int = 100
    hypothesis_seed: int = 20141120
    exhaustive_engine: str = "exhaustive"  # "enumerate": the previous engine, every whole input (bench only)
    larger_scope_only: bool = True  # Hypothesis skips inputs the exhaustive search has already run

    def to_json(self) -> dict:
        return asdict(self)


# The CrossHair engine is optional until checks/crosshair_engine.py lands; the header says which ran.
_CROSSHAIR_ENGINE = importlib.util.find_spec("checks.engines.crosshair") is not None

PROFILES = {
    # Budgets set from `make bench` (README, "What the checks can find"): the exhaustive search
    # covers every execution of its bounds; Hypothesis and CrossHair spend their counts beyond them.
    "quick": Profile(
        name="quick",
        exhaustive=Bounds(max_segs=3, max_seg_len=3, max_windows=3, max_room=3),
        crosshair=Bounds(max_segs=4, max_seg_len=6, max_windows=4, max_room=8),
        # a count budget, so a loaded machine gets the same verdicts as an idle one (an input per
        # iteration, about 35 ms each); the time is only a ceiling, past which the cell is UNKNOWN
        crosshair_per_condition_timeout=20.0,
        crosshair_per_path_timeout=1.0,
        crosshair_max_iterations=3,
        crosshair_enabled=_CROSSHAIR_ENGINE,
        hypothesis_max_examples=80,
        exhaustive_timeout=120.0,
        cell_timeout=300.0,
    ),
    "thorough": Profile(
        name="thorough",
        exhaustive=Bounds(max_segs=4, max_seg_len=3, max_windows=4, max_room=3),
        crosshair=Bounds(max_segs=6, max_seg_len=16, max_windows=5, max_room=24),
        crosshair_per_condition_timeout=300.0,
        crosshair_per_path_timeout=2.0,
        # 300 inputs, about 19 s a cell: the CPU the harness before 2026-12-03 spent on 1,300
        # iterations (most of them rejected by its preconditions)
        crosshair_max_iterations=300,
        hypothesis_max_examples=10000,
        exhaustive_timeout=3600.0,
        cell_timeout=7200.0,
        crosshair_enabled=_CROSSHAIR_ENGINE,
    ),
    # The quick profile as it was before the exhaustive engine ran executions (2026-11-25): the
    # previous engine, its bounds and budgets. For `make bench`'s side-by-side figures.
    "previous": Profile(
        name="previous",
        exhaustive=Bounds(max_segs=3, max_seg_len=2, max_windows=2, max_room=2),
        crosshair=Bounds(max_segs=4, max_seg_len=6, max_windows=3, max_room=8),
        crosshair_per_condition_timeout=20.0,
        crosshair_per_path_timeout=1.0,
        # the CPU the previous quick profile spent in CrossHair (100 iterations of the harness
        # before 2026-12-03: about 58 inputs, 1.2 s a cell); this harness runs 40 inputs in it
        crosshair_max_iterations=40,
        crosshair_enabled=_CROSSHAIR_ENGINE,
        exhaustive_engine="enumerate",
        larger_scope_only=False,
    ),
    # for tests: tiny bounds, no solver
    "smoke": Profile(
        name="smoke",
        exhaustive=Bounds(max_segs=2, max_seg_len=2, max_windows=1, max_room=2),
        crosshair=Bounds(max_segs=2, max_seg_len=2, max_windows=1, max_room=2),
        crosshair_per_condition_timeout=1.0,
        crosshair_per_path_timeout=0.5,
        crosshair_enabled=False,
        hypothesis_max_examples=50,
        hypothesis_crosshair_max_examples=10,
    ),
}


class UnknownProfile(ValueError):
    """The profile named on the command line does not exist; use one of PROFILES."""


def get_profile(name: str, crosshair: bool | None = None) -> Profile:
    try:
        p = PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None
    return p if crosshair is None else replace(p, crosshair_enabled=crosshair)
