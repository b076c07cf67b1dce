"""include/net/sock.h (v3.18): struct sock, struct proto and the inline timeout/error helpers.

Only the fields the data path reads. ``peer``, ``window`` and ``room`` are not kernel fields: ``peer``
is the world at the other end (see model/world.py), ``window`` its script for the current call and
``room`` the send-buffer space left in that call, which stands for ``sk_stream_memory_free()``.
``sk_begin_call`` (model only) starts a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EINTR, ERESTARTSYS
from model.world import OPEN, Peer, Window

MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1

RCV_SHUTDOWN = 1
SEND_SHUTDOWN = 2
SHUTDOWN_MASK = 3


@dataclass(frozen=True, slots=True)
class proto:
    """struct proto: the transport's methods, by name."""

    name: str
    sendmsg: str
    recvmsg: str


@dataclass(slots=True)
class sock:
    sk_prot: proto
    sk_type: int
    sk_err: int = 0
    sk_shutdown: int = 0
    sk_sndtimeo: int = MAX_SCHEDULE_TIMEOUT
    sk_rcvtimeo: int = MAX_SCHEDULE_TIMEOUT
    sk_rcvlowat: int = 1
    peer: Peer = field(default_factory=Peer)  # model: the world at the other end
    window: Window = OPEN  # model: the world's script for the current call
    room: int = 0  # model: send-buffer space left in the current call


def sk_begin_call(k, sk: sock) -> None:
    """Model only: a ->sendmsg/->recvmsg call starts; take its window from the world's script."""
    sk.window = sk.peer.next_window()
    sk.room = sk.window.room


def sock_sndtimeo(k, sk: sock, noblock: int) -> int:
    return 0 if noblock else sk.sk_sndtimeo


def sock_rcvtimeo(k, sk: sock, noblock: int) -> int:
    return 0 if noblock else sk.sk_rcvtimeo


def sock_rcvlowat(k, sk: sock, waitall: int, len: int) -> int:
    return (len if waitall else min(sk.sk_rcvlowat, len)) or 1


def sock_intr_errno(k, timeo: int) -> int:
    return -ERESTARTSYS if timeo == MAX_SCHEDULE_TIMEOUT else -EINTR


def sock_error(k, sk: sock) -> int:
    """Report and clear ``sk_err`` (``xchg(&sk->sk_err, 0)``)."""
    err = sk.sk_err
    sk.sk_err = 0
    return -err
