"""A wall-time ceiling around an engine's run: a model stuck in a loop that calls nothing (so no
fuel runs out) must end in UNKNOWN (timeout), never hang the run.

The ceiling is not a budget: every budget is a count (inputs, examples, iterations), so a loaded
machine gets the same verdicts; the ceiling only turns a hang into UNKNOWN. SIGALRM, so it works in
the main thread of a process (the matrix workers, the CLI); elsewhere there is no ceiling.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class SearchTimeout(BaseException):
    """The search ran past its wall-time ceiling. A BaseException, like KeyboardInterrupt: no handler
    around model code (``except Exception``) may swallow it."""


@contextmanager
def ceiling(seconds: float | None):
    """Raise ``SearchTimeout`` in this block after ``seconds`` of wall time (main thread only).
    Nested ceilings: the inner one is set only if it comes first, and the outer is restored."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield  # the enclosing ceiling comes first: let it fire
        return

    def expire(signum, frame):
        raise SearchTimeout(f"no verdict within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # give the enclosing ceiling back what it had left
            signal.setitimer(signal.ITIMER_REAL, max(0.001, outer_left - (seconds - left)))
