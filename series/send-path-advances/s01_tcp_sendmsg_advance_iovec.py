"""tcp: advance the iovec in tcp_sendmsg() after copying from it

In-kernel users of kernel_sendmsg() that retry after a short send (the
iSCSI target's iscsit_do_tx_data()) pass the same kvec again and expect
the send path to have moved past what it sent, as the receive path does.
tcp_sendmsg() walks msg_iov with local variables and leaves it alone, so
they re-send data.  Make tcp_sendmsg() consume the iovec as it copies,
the way memcpy_fromiovec() does.

This is the alternative rejected on 2014-11-20 ("You are breaking several
_other_ kernel_sendmsg() users"): the patch itself was not found in any
archive, so this step models the idea, not a known diff.  Only
tcp_sendmsg() changes.
"""

from checks.series import Step
from model.errno import EFAULT, EPIPE
from model.sock import SEND_SHUTDOWN
from model.socket_h import MSG_DONTWAIT

STEP = Step(
    subject="tcp: advance the iovec in tcp_sendmsg() after copying from it",
    upstream=None,
    intends=("the caller's kvec is consumed by what tcp_sendmsg sends",),
)


def tcp_sendmsg(k, iocb, sk, msg, size) -> int:
    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)

    iovlen = msg.msg_iovlen
    iov = msg.msg_iov
    while iovlen > 0:
        iovlen -= 1
        seg = k.mem.elem(iov)
        iov = iov + 1
        while seg.iov_len > 0:
            if sk.room == 0:
                err = k.sk_stream_wait_memory(sk, timeo)
                if err:
                    return copied if copied else k.sk_stream_error(sk, flags, err)
                continue
            copy = min(seg.iov_len, sk.room)
            skb = k.alloc_skb(copy)
            if k.copy_from_user(skb.data, seg.iov_base, copy):
                err = -EFAULT
                return copied if copied else k.sk_stream_error(sk, flags, err)
            sk.peer.deliver(k.mem.read(skb.data, copy))
            sk.room -= copy
            copied += copy
            # the change: the iovec itself is advanced, as memcpy_fromiovec() does
            seg.iov_base = seg.iov_base + copy
            seg.iov_len -= copy
    return copied
