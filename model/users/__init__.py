"""The in-kernel callers of kernel_sendmsg()/kernel_recvmsg() (v3.18), one module per kernel file.

Each user module defines the kernel functions that own the send or receive loop, under their C
names, and a ``USERS`` tuple of ``User`` records that tell the checker how its caller drives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from model.world import WAIT_ENDINGS, WAIT_EOF, WAIT_SIGNAL

SEND = "send"
RECV = "recv"


@dataclass(frozen=True)
class User:
    """One call site: the C function that owns the loop, and how the checker reaches it.

    ``entry(k, sock, vec, nr_segs, total, mode)`` plays the user's caller: ``vec`` is a kvec
    array of ``nr_segs`` entries in kernel memory holding ``total`` bytes (to send, or room to
    receive into); it returns what the caller concludes, negative for an error it reports.
    ``modes`` are the configurations the caller can run it in (a mount option, say).
    """

    name: str
    kfile: str
    direction: str
    protocols: tuple[str, ...]
    entry: Callable
    modes: tuple[str, ...] = ("default",)
    max_segs: int | None = None  # a single-buffer caller passes one segment
    note: str = ""
    signals: bool = True  # can a signal be pending in the task that runs it? (a kthread that never
    #                       calls allow_signal() has none: no wait of its ends in ``signal``)

    def wait_endings(self) -> tuple[str, ...]:
        """How a wait of this user's can end (model/world.py), ``ok`` first: a send never sees EOF,
        a task that takes no signal never sees one."""
        return tuple(t for t in WAIT_ENDINGS if not (self.direction == SEND and t == WAIT_EOF)
                     and not (not self.signals and t == WAIT_SIGNAL))

    def __post_init__(self) -> None:
        if self.direction not in (SEND, RECV):
            raise ValueError(f"User {self.name}: direction must be {SEND!r} or {RECV!r}, got {self.direction!r}")
        if not self.protocols:
            raise ValueError(f"User {self.name}: declares no protocol it runs over")
