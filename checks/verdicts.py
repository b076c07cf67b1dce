"""Verdicts are data: frozen records, a status ordered by severity. Rendering is elsewhere."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Status(enum.IntEnum):
    """Ordered by severity: the worst status of a set of results is its max()."""

    CONFIRMED = 0  # every input within the stated bounds was run and the contract held
    NOT_REFUTED = 1  # an engine's budget ran out without a counterexample: not a proof
    UNKNOWN = 2  # nothing can be concluded: timeout, solver error, vacuous harness (reason given)
    BROKEN = 3  # a concrete counterexample, replayed outside the engine that found it
    DOES_NOT_BUILD = 4  # the user reaches a symbol or field this kernel no longer has


@dataclass(frozen=True)
class EngineRun:
    """What one engine did for one cell."""

    engine: str  # "exhaustive", "crosshair"
    status: Status
    explored: int  # inputs run (exhaustive) or paths/iterations seen (crosshair)
    seconds: float
    detail: str = ""
    counterexample: dict | None = None  # CellInput.to_json()
    seconds_to_counterexample: float | None = None
    budget: dict = field(default_factory=dict)  # what bounded this run: bounds, timeouts, iterations, examples
    seed: int | None = None  # the search's seed; None for an enumeration (exhaustive)


@dataclass(frozen=True)
class Counterexample:
    input: dict  # CellInput.to_json()
    description: str  # the input in words
    failure: str  # what the contract saw
    rc: int | None
    got: str  # wire or buffer, as repr
    expected: str
    found_by: str
    previous: str | None = None  # what the user observed at the step before, when known


@dataclass(frozen=True)
class CellVerdict:
    step: str
    user: str
    protocol: str
    status: Status
    evidence: str
    seconds: float
    counterexample: Counterexample | None = None
    replay: str | None = None
    engines: tuple[EngineRun, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.step, self.user, self.protocol)
