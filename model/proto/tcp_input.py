"""net/ipv4/tcp_input.c (v3.18): what a reset and a FIN leave on the sock: tcp_reset() and tcp_fin()."""

from __future__ import annotations

from model.errno import ECONNREFUSED, ECONNRESET, EPIPE
from model.sock import (
    RCV_SHUTDOWN,
    SOCK_DONE,
    TCP_CLOSE,
    TCP_CLOSE_WAIT,
    TCP_ESTABLISHED,
    TCP_SYN_SENT,
    sock,
)


def tcp_reset(k, sk: sock) -> None:
    """An RST or a retransmit timeout: ``sk_err`` as BSD sees it, then tcp_done() shuts both
    directions (net/ipv4/tcp_input.c:3830-3852@3.18.9). sk_error_report() is the wake-up."""
    # We want the right error as BSD sees it (and indeed as we do).
    if sk.sk_state == TCP_SYN_SENT:
        sk.sk_err = ECONNREFUSED
    elif sk.sk_state == TCP_CLOSE_WAIT:
        sk.sk_err = EPIPE
    elif sk.sk_state == TCP_CLOSE:
        return
    else:
        sk.sk_err = ECONNRESET
    k.tcp_done(sk)


def tcp_fin(k, sk: sock) -> None:
    """The peer's FIN (net/ipv4/tcp_input.c:3868-3885@3.18.9): no more data will arrive. Only
    the states a connected socket can be in here are modelled (ESTABLISHED -> CLOSE_WAIT)."""
    sk.sk_shutdown |= RCV_SHUTDOWN
    k.sock_set_flag(sk, SOCK_DONE)
    if sk.sk_state == TCP_ESTABLISHED:
        sk.sk_state = TCP_CLOSE_WAIT  # Move to CLOSE_WAIT
