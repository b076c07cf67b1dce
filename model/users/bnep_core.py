"""net/bluetooth/bnep/core.c (v3.18): bnep_send() and bnep_tx_frame(), BNEP's sends over L2CAP.

The session keeps one ``struct msghdr msg`` for all its sends, with ``msg_flags = MSG_NOSIGNAL``
(bnep_add_connection(), :568@3.18.9), and every send is one kernel_sendmsg() on the session's
L2CAP socket with kvecs on the stack: bnep_send() (:71) one kvec for a control response,
bnep_tx_frame() (:389) up to three for a frame from the network device (the BNEP type byte, an
address the compression keeps, the payload), or one for a control frame the driver queued
itself (``skb->dev == NULL``: "Control frame sent by us"). Blocking (no MSG_DONTWAIT); L2CAP
sends a whole SDU or fails, and consumes the local kvecs, which nobody reads again. On success
bnep_tx_frame() counts the frame and returns 0; on failure it returns the error, the frame is
freed (Ethernet may lose frames) and bnep_session() (:448) stops the TX loop until it is woken
again; it ends the session once the socket is no longer BT_CONNECTED (:476).

Simplified, and why no caller can tell: the frame sent is a control frame, one kvec holding the
checker's bytes (a device frame's type byte and addresses are the kernel's, not bytes the checker
could name); the sk_buff is reduced to ``data``/``len`` and ``dev``; device statistics are
comments. Unchanged in 3.19, 4.0 and 4.1 (the send lines are the same in the 3.19.8, 4.0.5 and
4.1.6 trees).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.kernel import NULL, Ptr
from model.socket_h import MSG_NOSIGNAL, msghdr
from model.users import SEND, User


@dataclass(slots=True)
class bnep_session:
    sock: object  # struct socket *
    msg: msghdr | None = None  # struct msghdr msg: the session's, reused for every send


@dataclass(slots=True)
class _bnep_skb:
    """The sk_buff fields bnep_tx_frame() reads: ``data``, ``len`` and ``dev`` (NULL: a control
    frame sent by us)."""

    data: Ptr
    len: int
    dev: object = None


def bnep_send(k, s: bnep_session, data: Ptr, len: int) -> int:
    sock = s.sock
    iv = k.mem.alloc_array([k.kvec(iov_base=data, iov_len=len)], name="bnep_send iv")
    return k.kernel_sendmsg(sock, s.msg, iv, 1, len)


def bnep_tx_frame(k, s: bnep_session, skb: _bnep_skb) -> int:
    sock = s.sock
    iv = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(3)], name="iv[3]")
    len, il = 0, 0

    # if (!skb->dev) { /* Control frame sent by us */ goto send; }: every frame here (docstring);
    # a device frame's iv[] gets the type byte and a kept address first

    # send:
    v = k.mem.elem(iv + il)
    v.iov_base, v.iov_len = skb.data, skb.len
    il += 1
    len += skb.len

    # FIXME: linearize skb
    len = k.kernel_sendmsg(sock, s.msg, iv, il, len)
    # kfree_skb(skb);

    if len > 0:
        # s->dev->stats.tx_bytes += len; s->dev->stats.tx_packets++;
        return 0

    return len


def _bnep_session_tx(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """bnep_session()'s TX: the frame queued on ``sk_write_queue`` goes out by bnep_tx_frame();
    a non-zero return drops it (the network device's caller sees a lost frame)."""
    s = k.bnep_session(sock=sock, msg=k.msghdr())
    s.msg.msg_flags = MSG_NOSIGNAL
    seg = k.mem.elem(vec)
    err = k.bnep_tx_frame(s, _bnep_skb(data=seg.iov_base, len=seg.iov_len))
    return err if err else total


USERS = (
    User("bnep_tx_frame", "net/bluetooth/bnep/core.c", SEND, ("l2cap",), _bnep_session_tx, max_segs=1,
         note="one kernel_sendmsg per frame, local kvecs, session msghdr; a failed frame is dropped"),
)
