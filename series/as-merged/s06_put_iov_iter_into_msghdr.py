"""put iov_iter into msghdr

Note that the code _using_ ->msg_iter at that point will be very
unhappy with anything other than unshifted iovec-backed iov_iter.
We still need to convert users to proper primitives.

struct msghdr loses msg_iov/msg_iovlen and embeds struct iov_iter
msg_iter.  kernel_sendmsg() and kernel_recvmsg() set it up with
iov_iter_init() on the caller's kvec array (under KERNEL_DS, so it is
flagged ITER_KVEC); sock_sendmsg()/sock_recvmsg() do not touch it.  The
users of msg_iov switch to msg_iter.iov and msg_iter.nr_segs as they are:
tcp_sendmsg() walks the array as before, ignoring iov_offset and count,
and the msg copy helpers still run memcpy_{from,to}iovec() on the array
behind the iterator ("XXX: stripping const"), so they still consume it
and do not advance msg_iter.  Nothing a caller sees changes yet.

Upstream: Al Viro, recalled as c0371da6047a [UNVERIFIED]; the result is
T319 include/linux/socket.h and net/socket.c.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.series import Step, earlier
from model.errno import EFAULT, EPIPE
from model.kernel import NULL, Ptr
from model.sock import SEND_SHUTDOWN
from model.socket_h import MSG_DONTWAIT
from model.uaccess import KERNEL_DS
from model.uio import READ, WRITE

iov_iter = earlier("s04_iov_iter_kvec").iov_iter

STEP = Step(
    subject="put iov_iter into msghdr",
    upstream="c0371da6047a",
    upstream_verified=False,
    kernel="v3.19",
    depends=("s01", "s02", "s04"),
    intends=("msg_iov/msg_iovlen replaced by msg_iter; kernel_{send,recv}msg initialise it",
             "callers see no change: the array behind msg_iter is still walked and consumed as before"),
)


@dataclass(slots=True)
class msghdr:
    """struct msghdr (3.19)."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iter: iov_iter = field(default_factory=iov_iter)  # data
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0


def kernel_sendmsg(k, sock, msg, vec: Ptr, num: int, size: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    # the following is safe, since for compiler definitions of kvec and iovec are
    # identical, yielding the same in-core layout and alignment
    k.iov_iter_init(msg.msg_iter, WRITE, vec, num, size)
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result


def kernel_recvmsg(k, sock, msg, vec: Ptr, num: int, size: int, flags: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    k.iov_iter_init(msg.msg_iter, READ, vec, num, size)
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result


def memcpy_from_msg(k, data: Ptr, msg, len: int) -> int:
    # XXX: stripping const
    return k.memcpy_fromiovec(data, msg.msg_iter.iov, len)


def memcpy_to_msg(k, msg, data: Ptr, len: int) -> int:
    return k.memcpy_toiovec(msg.msg_iter.iov, data, len)


def skb_copy_datagram_msg(k, from_, offset: int, msg, size: int) -> int:
    return k.skb_copy_datagram_iovec(from_, offset, msg.msg_iter.iov, size)


def tcp_sendmsg(k, iocb, sk, msg, size: int) -> int:
    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)

    iovlen = msg.msg_iter.nr_segs
    iov = msg.msg_iter.iov
    while iovlen > 0:
        iovlen -= 1
        seg = k.mem.elem(iov)
        seglen = seg.iov_len
        from_ = seg.iov_base
        iov = iov + 1
        while seglen > 0:
            if sk.room == 0:
                # wait_for_sndbuf: push what we have, then sk_stream_wait_memory()
                err = k.sk_stream_wait_memory(sk, timeo)
                if err:
                    return copied if copied else k.sk_stream_error(sk, flags, err)
                continue
            copy = min(seglen, sk.room)
            skb = k.alloc_skb(copy)
            if k.copy_from_user(skb.data, from_, copy):
                # do_fault: the partly filled skb is trimmed away
                err = -EFAULT
                return copied if copied else k.sk_stream_error(sk, flags, err)
            sk.peer.deliver(k.mem.read(skb.data, copy))
            sk.room -= copy
            copied += copy
            from_ = from_ + copy
            seglen -= copy
    return copied

