"""Progress of a run: how many distinct cells are done of how many, how many came from the cache, and
an estimate of the time left.

On a terminal it is one live line (rich), gone when the run ends. Anywhere else (a CI log, a pipe)
it is a plain line every ``LOG_EVERY`` seconds of work, and one when the work ends if any was
written, so a log is never silent for minutes (and a run of a few seconds writes none). Lines go to the
given file (stderr by default), never to stdout, where the report and ``--json -`` go.

The matrix calls ``plan(cells, to_compute)`` once it knows what the cache holds, ``done(...)``
for each computed cell, and ``tick()`` when nothing finished for a while.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from checks.verdicts import CellVerdict

LOG_EVERY = float(os.environ.get("SERIESCHECK_PROGRESS_EVERY", 10.0))  # seconds between two log lines


def _short(step: str) -> str:
    return step.split("_", 1)[0]


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class Progress:
    """Cells done of total for one run, shown live on a terminal or logged elsewhere."""

    def __init__(self, label: str = "cells", jobs: int | None = None, file: TextIO | None = None,
                 clock=time.monotonic):
        self.label = label
        self.jobs = jobs
        self.file = file if file is not None else sys.stderr
        isatty = getattr(self.file, "isatty", None)
        self.live = bool(isatty and isatty())
        self.clock = clock
        self.cells = 0  # every cell of the run
        self.reused = 0  # distinct cells read from the cache
        self.total = 0  # distinct cells to compute
        self.done = 0
        self.last = ""
        self.lines = 0  # log lines written
        self._start = self._logged = clock()
        self._bar = None

    # --- what the matrix tells ---------------------------------------------------------------------

    def plan(self, cells: int, to_compute: int, distinct: int | None = None) -> None:
        distinct = to_compute if distinct is None else distinct
        self.cells += cells
        self.total += to_compute
        self.reused += max(0, distinct - to_compute)
        self._start = self._logged = self.clock()
        if self.live:
            self._start_bar()

    def __call__(self, verdict: CellVerdict, series: str = "") -> None:
        self.done += 1
        where = f"{series} " if series else ""
        self.last = f"{where}{_short(verdict.step)} {verdict.user}/{verdict.protocol} {verdict.status.name}"
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, total=self.total, last=self.last)
        elif not self.live and (self.clock() - self._logged >= LOG_EVERY or (self.done == self.total and self.lines)):
            self._log()

    def tick(self) -> None:
        if not self.live and self.clock() - self._logged >= LOG_EVERY:
            self._log()

    # --- what is shown -----------------------------------------------------------------------------

    def left(self) -> float | None:
        """Seconds left at the rate so far, None before the first computed cell."""
        if not self.done:
            return None
        rate = self.done / max(self.clock() - self._start, 1e-6)
        return (self.total - self.done) / rate

    def line(self) -> str:
        left = self.left()
        eta = "estimating the time left" if left is None else f"about {_clock(left)} left"
        if self.done >= self.total:
            eta = "done"
        last = f"; last: {self.last}" if self.last else ""
        return (f"[{self.label}] {self.done}/{self.total} cells computed ({self.reused} reused from the cache, "
                f"{self.cells} cells in all), {eta}{last}")

    def _log(self) -> None:
        self.lines += 1
        self._logged = self.clock()
        print(self.line(), file=self.file, flush=True)

    def _start_bar(self) -> None:
        if self._bar is not None or not self.total:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(file=self.file, force_terminal=True)
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn(f"computed, {self.reused} reused,"), TimeRemainingColumn(),
                             TextColumn("left"), TextColumn("[dim]{task.fields[last]}"), console=console,
                             transient=True)
        self._task = self._bar.add_task(self.label, total=self.total, last="")
        self._bar.start()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
