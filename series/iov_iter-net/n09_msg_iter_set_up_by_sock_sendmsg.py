"""net: put an iov_iter into msghdr, set up by sock_sendmsg()/sock_recvmsg()

struct msghdr gains msg_iter.  sock_sendmsg() and sock_recvmsg() set it up
on msg_iov/msg_iovlen for the size they are given, and the instances that
had a local iov_iter (tcp) use msg->msg_iter instead.  msg_iov stays for
the instances not converted yet; nothing a caller sees changes.

As the mail has it: "after the conversion it'll be in msg->msg_iter and
it will be initialized by sock_sendmsg()/sock_recvmsg()".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.series import Step, earlier
from model.errno import EAGAIN, EFAULT, ENOTCONN, EPIPE
from model.kernel import NULL, Ptr
from model.sock import MAX_SCHEDULE_TIMEOUT, RCV_SHUTDOWN, SEND_SHUTDOWN, SOCK_DONE, TCP_CLOSE
from model.socket_h import MSG_DONTWAIT, MSG_WAITALL
from model.uio import READ, WRITE
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT

iov_iter = earlier("as-merged/s04_iov_iter_kvec").iov_iter

STEP = Step(
    subject="net: put an iov_iter into msghdr, set up by sock_sendmsg()/sock_recvmsg()",
    upstream=None,
    depends=("n08",),
    intends=("msghdr carries msg_iter; sock_sendmsg/sock_recvmsg initialise it from msg_iov",),
)


@dataclass(slots=True)
class msghdr:
    """struct msghdr: the 3.18 fields, plus the iterator the protocols now use."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iov: Ptr = NULL  # struct iovec *: until every instance uses msg_iter
    msg_iovlen: int = 0
    msg_iter: iov_iter = field(default_factory=iov_iter)
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0


def sock_sendmsg(k, sock, msg, size: int) -> int:
    k.iov_iter_init(msg.msg_iter, WRITE, msg.msg_iov, msg.msg_iovlen, size)
    return getattr(k, sock.ops.sendmsg)(None, sock, msg, size)


def sock_recvmsg(k, sock, msg, size: int, flags: int) -> int:
    k.iov_iter_init(msg.msg_iter, READ, msg.msg_iov, msg.msg_iovlen, size)
    return getattr(k, sock.ops.recvmsg)(None, sock, msg, size, flags)


def tcp_sendmsg(k, iocb, sk, msg, size: int) -> int:
    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)

    while k.iov_iter_count(msg.msg_iter):
        if sk.room == 0:
            # wait_for_sndbuf: push what we have, then sk_stream_wait_memory()
            err = k.sk_stream_wait_memory(sk, timeo)
            if err:
                return copied if copied else k.sk_stream_error(sk, flags, err)
            continue
        copy = min(k.iov_iter_count(msg.msg_iter), sk.room)
        skb = k.alloc_skb(copy)
        if k.copy_from_iter(skb.data, copy, msg.msg_iter) != copy:
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
    while len > 0:
        avail = sk.peer.queued()
        if avail:
            used = min(avail, len)
            skb = k.alloc_skb(used)
            k.mem.write(skb.data, sk.peer.peek(used))
            if k.skb_copy_datagram_iter(skb, 0, msg.msg_iter, used):
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

