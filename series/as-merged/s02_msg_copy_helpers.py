"""net: introduce helpers for copying between a msghdr and kernel memory

Add memcpy_from_msg(), memcpy_to_msg() and skb_copy_datagram_msg(), and
convert the callers that pass msg->msg_iov to the iovec helpers to pass
the msghdr instead.  No change in behaviour: the helpers are the old
calls (memcpy_fromiovec(), memcpy_toiovec(), skb_copy_datagram_iovec()
on msg->msg_iov), so they still consume the array.  What they buy is
that the next patches can change the representation under msg_iter
without touching every caller again.

Upstream: recalled as 6ce8e9ce5989 (memcpy_from_msg), 7eab8d9e8a72
(memcpy_to_msg), 51f3d02b980a (skb_copy_datagram_msg, David S. Miller)
[UNVERIFIED]; the helpers are in T319 include/linux/skbuff.h.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EAGAIN, EFAULT
from model.kernel import Ptr
from model.sock import MAX_SCHEDULE_TIMEOUT, RCV_SHUTDOWN
from model.socket_h import MSG_WAITALL
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT

STEP = Step(
    subject="net: memcpy_from_msg(), memcpy_to_msg(), skb_copy_datagram_msg()",
    upstream="6ce8e9ce5989",
    upstream_verified=False,
    kernel="v3.19",
    adds=("memcpy_from_msg", "memcpy_to_msg", "skb_copy_datagram_msg"),
    intends=("pure refactor: callers pass the msghdr, the helpers still consume msg_iov",),
)


def memcpy_from_msg(k, data: Ptr, msg, len: int) -> int:
    return k.memcpy_fromiovec(data, msg.msg_iov, len)


def memcpy_to_msg(k, msg, data: Ptr, len: int) -> int:
    return k.memcpy_toiovec(msg.msg_iov, data, len)


def skb_copy_datagram_msg(k, from_, offset: int, msg, size: int) -> int:
    return k.skb_copy_datagram_iovec(from_, offset, msg.msg_iov, size)


def tcp_recvmsg(k, iocb, sk, msg, len: int, nonblock: int, flags: int) -> int:
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    timeo = k.sock_rcvtimeo(sk, nonblock)
    target = k.sock_rcvlowat(sk, flags & MSG_WAITALL, len)
    copied = 0
    while len > 0:
        avail = sk.peer.queued()
        if avail:
            used = min(avail, len)
            skb = k.alloc_skb(used)
            k.mem.write(skb.data, sk.peer.peek(used))
            if k.skb_copy_datagram_msg(skb, 0, msg, used):
                # Exception. Bailout!
                return copied if copied else -EFAULT
            sk.peer.take(used)  # *seq += used: only what was copied leaves the queue
            copied += used
            len -= used
            continue
        if copied >= target:
            break
        if copied:
            if sk.sk_err or (sk.sk_shutdown & RCV_SHUTDOWN) or not timeo:
                break
        else:
            if sk.sk_err:
                return k.sock_error(sk)
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if not timeo:
                return -EAGAIN
        # sk_wait_data(): the world's script says how the wait ends
        then = sk.window.then
        if then == WAIT_TIMEOUT and timeo != MAX_SCHEDULE_TIMEOUT:
            return copied if copied else -EAGAIN  # SO_RCVTIMEO expired
        if then == WAIT_SIGNAL:
            return copied if copied else k.sock_intr_errno(timeo)
        if then == WAIT_ERROR:
            k.tcp_reset(sk)
        elif then == WAIT_EOF:
            sk.sk_shutdown |= RCV_SHUTDOWN
        elif sk.peer.all_arrived():
            # the peer has sent all it will: a wait for more ends when it closes
            sk.sk_shutdown |= RCV_SHUTDOWN
        else:
            sk.peer.arrive(UNLIMITED)
    return copied

