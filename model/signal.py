"""kernel/signal.c (v3.18): the pending signals of the running task, as far as a caller can see them.

The world decides when a signal arrives (a wait that ends in ``signal``, model/world.py); from then
on it stays pending for the rest of the run, and every later wait ends at once. ``flush_signals()``
is how a kernel thread discards it (drbd_send() does, drivers/block/drbd/drbd_main.c:1813@3.18.9).

Simplified: one task, one pending bit (no signal numbers, masks or handlers); the bit is kept by the
world (``k.world``, the peer of the run's socket) because the world is what sets it.
"""

from __future__ import annotations


def flush_signals(k) -> None:
    """flush_signals(current): discard the task's pending signals."""
    if k.world is not None:
        k.world.flush_signals()
