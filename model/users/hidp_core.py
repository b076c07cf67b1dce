"""net/bluetooth/hidp/core.c (v3.18): hidp_send_frame() and hidp_process_transmit(), HIDP's sends
over its two L2CAP channels.

hidp_send_frame() (:594@3.18.9) sends one report with a one-element kvec on the stack and a
zeroed msghdr (blocking); a zero length sends nothing. hidp_process_transmit() (:610) sends the
queued reports of one channel in order: -EAGAIN puts the report back at the head of the queue and
stops until the session thread is woken again; any other error terminates the session
(hidp_session_terminate(), :1061) and drops the report; after a sent report it re-arms the idle
timer. The session thread (hidp_session_thread(), :1232) runs it for the interrupt channel and
then the control channel (:1202, :1215) and stops once either socket is no longer BT_CONNECTED
(:1188). L2CAP sends a whole SDU or fails: the kvec it consumes is the one on the stack.

Simplified, and why no caller can tell: the checker's kvecs are the reports queued on one
channel (``intr_transmit``), each an sk_buff reduced to ``data``/``len``; the timer, the
wait queues and the other channel are comments. Unchanged in 3.19, 4.0 and 4.1 (the 3.19.8,
4.0.5 and 4.1.6 trees have the same two functions).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from model.errno import EAGAIN, ENOTCONN
from model.kernel import Ptr
from model.users import SEND, User


@dataclass(slots=True)
class hidp_session:
    intr_sock: object  # struct socket *
    intr_transmit: deque = field(default_factory=deque)  # struct sk_buff_head
    terminate: int = 0  # atomic_t terminate


@dataclass(slots=True)
class _hidp_skb:
    data: Ptr
    len: int


def hidp_send_frame(k, sock, data: Ptr, len: int) -> int:
    if not len:
        return 0

    msg = k.msghdr()  # memset(&msg, 0, sizeof(msg));
    iv = k.mem.alloc_array([k.kvec(iov_base=data, iov_len=len)], name="hidp_send_frame iv")
    return k.kernel_sendmsg(sock, msg, iv, 1, len)


def hidp_session_terminate(k, session: hidp_session) -> None:
    session.terminate += 1  # atomic_inc(&session->terminate); wake_up_process(session->task);


def hidp_process_transmit(k, session: hidp_session, transmit: deque, sock) -> None:
    """dequeue message from @transmit and send via @sock"""
    while transmit:
        skb = transmit.popleft()
        ret = k.hidp_send_frame(sock, skb.data, skb.len)
        if ret == -EAGAIN:
            transmit.appendleft(skb)  # skb_queue_head(transmit, skb);
            break
        elif ret < 0:
            k.hidp_session_terminate(session)
            # kfree_skb(skb);
            break

        # hidp_set_timer(session); kfree_skb(skb);


def _hidp_session_run(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """hidp_session_run(): the thread sends the interrupt channel's queue each time it is woken,
    until the queue is empty or the session is terminated (its reports are then lost, and the
    HID device goes away with the session)."""
    session = k.hidp_session(intr_sock=sock)
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        session.intr_transmit.append(_hidp_skb(data=seg.iov_base, len=seg.iov_len))
    while session.intr_transmit and not session.terminate:
        k.hidp_process_transmit(session, session.intr_transmit, session.intr_sock)
    return -ENOTCONN if session.terminate else total


USERS = (
    User("hidp_send_frame", "net/bluetooth/hidp/core.c", SEND, ("l2cap",), _hidp_session_run,
         note="one report per kernel_sendmsg, fresh kvec; -EAGAIN requeues, other errors end the session"),
)
