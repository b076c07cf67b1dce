"""include/net/sock.h (v3.18): struct sock, struct proto and the inline timeout/error helpers, with
the TCP states of include/net/tcp_states.h, which sock.h includes.

Only the fields the data path reads. Every modelled socket is connected: ``sk_state`` starts at
TCP_ESTABLISHED (1, also what connected UDP and unix sockets hold, and BT_CONNECTED). ``peer``,
``window`` and ``room`` are not kernel fields: ``peer`` is the world at the other end (see
model/world.py), ``window`` its script for the current call and ``room`` the send-buffer space
left in that call, which stands for ``sk_stream_memory_free()``.
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

# include/net/tcp_states.h: the states tcp_reset() and tcp_fin() tell apart
TCP_ESTABLISHED = 1
TCP_SYN_SENT = 2
TCP_CLOSE = 7
TCP_CLOSE_WAIT = 8

# enum sock_flags: bit numbers in sk_flags
SOCK_DEAD = 0
SOCK_DONE = 1


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
    sk_state: int = TCP_ESTABLISHED  # __sk_common.skc_state
    sk_flags: int = 0  # enum sock_flags bits
    sk_sndtimeo: int = MAX_SCHEDULE_TIMEOUT
    sk_rcvtimeo: int = MAX_SCHEDULE_TIMEOUT
    sk_rcvlowat: int = 1
    peer: Peer = field(default_factory=Peer)  # model: the world at the other end
    window: Window = OPEN  # model: the world's script for the current call
    room: int = 0  # model: send-buffer space left in the current call


def sk_begin_call(k, sk: sock) -> None:
    """Model only: a ->sendmsg/->recvmsg call starts; take its window from the world's script."""
    timeouts = sk.sk_sndtimeo != MAX_SCHEDULE_TIMEOUT or sk.sk_rcvtimeo != MAX_SCHEDULE_TIMEOUT
    sk.window = sk.peer.next_window(can_time_out=timeouts)
    sk.room = sk.window.room


def sock_flag(k, sk: sock, flag: int) -> bool:
    return bool(sk.sk_flags & (1 << flag))


def sock_set_flag(k, sk: sock, flag: int) -> None:
    sk.sk_flags |= 1 << flag


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
