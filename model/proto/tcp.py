"""net/ipv4/tcp.c (v3.18): tcp_sendmsg and tcp_recvmsg.

tcp_sendmsg walks ``msg_iov`` with a local pointer and local ``seglen``/``from``: it never
writes the caller's array, and ``size`` does not bound the copy (every segment is sent; drbd's
"tcp_sendmsg does _not_ use its size parameter at all ?"). It returns a short count exactly when
a wait for send-buffer space fails after some bytes were queued: -EAGAIN under MSG_DONTWAIT, a
pending signal, or a socket error (reference §3.1).

tcp_recvmsg copies with skb_copy_datagram_iovec and so consumes the caller's iovec as it fills
it; under MSG_WAITALL it returns early only on a signal, an error, EOF or MSG_DONTWAIT.

Simplified: bytes queued by tcp_sendmsg are on the wire at once (a reliable stream delivers
them in order; a later reset can only cut the stream, and the contract accepts a prefix after
an error). No Fast Open, no repair mode, no urgent data, no prequeue.
"""

from __future__ import annotations

from model.errno import EAGAIN, EFAULT, ENOTCONN, EPIPE
from model.sock import (
    MAX_SCHEDULE_TIMEOUT,
    RCV_SHUTDOWN,
    SEND_SHUTDOWN,
    SHUTDOWN_MASK,
    SOCK_DONE,
    TCP_CLOSE,
    proto,
    sock,
)
from model.socket_h import MSG_DONTWAIT, MSG_WAITALL, msghdr
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT


def tcp_sendmsg(k, iocb, sk: sock, msg: msghdr, size: int) -> int:
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


def tcp_recvmsg(k, iocb, sk: sock, msg: msghdr, len: int, nonblock: int, flags: int) -> int:
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
            if k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, used):
                # Exception. Bailout!
                return copied if copied else -EFAULT
            sk.peer.take(used)  # *seq += used: only what was copied leaves the queue
            copied += used
            len -= used
            continue
        if copied >= target:
            break
        if copied:
            if sk.sk_err or sk.sk_state == TCP_CLOSE or (sk.sk_shutdown & RCV_SHUTDOWN) or not timeo:
                break
        else:
            # net/ipv4/tcp.c:1691-1717@3.18.9: a FIN already taken ends the read before sk_err
            if k.sock_flag(sk, SOCK_DONE):
                break
            if sk.sk_err:
                return k.sock_error(sk)
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if sk.sk_state == TCP_CLOSE:
                if not k.sock_flag(sk, SOCK_DONE):
                    return -ENOTCONN  # This occurs when user tries to read from never connected socket.
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
        elif then == WAIT_EOF or sk.peer.all_arrived():
            # the peer closes (or has sent all it will: a wait for more ends when it closes)
            k.tcp_fin(sk)
        else:
            sk.peer.arrive(UNLIMITED)
    return copied


def tcp_done(k, sk: sock) -> None:
    """The connection is gone (net/ipv4/tcp.c:2998-3016@3.18.9): CLOSE, both directions shut.
    sk_state_change() is the wake-up; the timers and the Fast Open request are not modelled."""
    sk.sk_state = TCP_CLOSE
    sk.sk_shutdown = SHUTDOWN_MASK


tcp_prot = proto(name="TCP", sendmsg="tcp_sendmsg", recvmsg="tcp_recvmsg")
