"""net/ipv4/tcp_input.c (v3.18): only tcp_reset(), what a failed connection leaves on the sock."""

from __future__ import annotations

from model.errno import ECONNRESET
from model.sock import SHUTDOWN_MASK, sock


def tcp_reset(k, sk: sock) -> None:
    """An RST or a retransmit timeout: ``sk_err`` set, then tcp_done() shuts both directions."""
    sk.sk_err = ECONNRESET
    sk.sk_shutdown = SHUTDOWN_MASK
