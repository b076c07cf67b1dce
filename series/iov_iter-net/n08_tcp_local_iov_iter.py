"""tcp: copy through a local iov_iter in tcp_sendmsg() and tcp_recvmsg()

Declare a struct iov_iter in tcp_sendmsg() and tcp_recvmsg(), set it up
on msg->msg_iov, and feed it to the primitives: copy_from_iter() on the
send side, skb_copy_datagram_iter() on the receive side.  The loops over
the segments go away, the send side is bounded by the iterator's count
(the size argument), and neither side writes the caller's array any more:
the iterator is local, so what it consumed is forgotten when the call
returns.

That last part changes what kernel_recvmsg() callers see (the array is no
longer consumed), and bounding the send by size changes what callers that
pass more than their kvec holds see: the two steps before this one make
iscsit_do_rx_data and drbd_send independent of both.

This is the "local iov_iter declared and initialized in several
->sendmsg() and ->recvmsg() instances" stage of vfs.git#iov_iter-net
(the mail of 2014-11-20); that branch itself was not found.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EAGAIN, EFAULT, ENOTCONN, EPIPE
from model.sock import MAX_SCHEDULE_TIMEOUT, RCV_SHUTDOWN, SEND_SHUTDOWN, SOCK_DONE, TCP_CLOSE
from model.socket_h import MSG_DONTWAIT, MSG_WAITALL
from model.uio import READ, WRITE
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT

STEP = Step(
    subject="tcp: copy through a local iov_iter in tcp_sendmsg() and tcp_recvmsg()",
    upstream=None,
    depends=("s03", "s04"),
    intends=("tcp no longer walks msg_iov by hand; the caller's kvec is not consumed on receive",
             "the send side copies at most size bytes"),
)


def tcp_sendmsg(k, iocb, sk, msg, size: int) -> int:
    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)

    from_ = k.iov_iter()
    k.iov_iter_init(from_, WRITE, msg.msg_iov, msg.msg_iovlen, size)
    while k.iov_iter_count(from_):
        if sk.room == 0:
            # wait_for_sndbuf: push what we have, then sk_stream_wait_memory()
            err = k.sk_stream_wait_memory(sk, timeo)
            if err:
                return copied if copied else k.sk_stream_error(sk, flags, err)
            continue
        copy = min(k.iov_iter_count(from_), sk.room)
        skb = k.alloc_skb(copy)
        if k.copy_from_iter(skb.data, copy, from_) != copy:
            # do_fault: the partly filled skb is trimmed away
            err = -EFAULT
            return copied if copied else k.sk_stream_error(sk, flags, err)
        sk.peer.deliver(k.mem.read(skb.data, copy))
        sk.room -= copy
        copied += copy
    return copied



def tcp_recvmsg(k, iocb, sk, msg, len: int, nonblock: int, flags: int) -> int:
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    timeo = k.sock_rcvtimeo(sk, nonblock)
    target = k.sock_rcvlowat(sk, flags & MSG_WAITALL, len)
    copied = 0
    to = k.iov_iter()
    k.iov_iter_init(to, READ, msg.msg_iov, msg.msg_iovlen, len)
    while len > 0:
        avail = sk.peer.queued()
        if avail:
            used = min(avail, len)
            skb = k.alloc_skb(used)
            k.mem.write(skb.data, sk.peer.peek(used))
            if k.skb_copy_datagram_iter(skb, 0, to, used):
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

