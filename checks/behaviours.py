"""What a user relies on: run it over abstract send and receive paths that differ in one thing.

Each behaviour is a transport laid over the v3.18 image in place of TCP's ``struct proto``, so the
user runs through its real kernel_sendmsg/kernel_recvmsg path. Waits, signals and errors are
TCP's (sk_stream_wait_memory, the world's script); only the two questions of the mail vary:

* does the send (receive) path consume the caller's kvec as it copies, or leave it alone?
* does the send path stop at ``size`` bytes, or send every segment (3.18 tcp_sendmsg)?

These functions are checker code, not kernel code: no kernel had all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN, EFAULT, EPIPE
from model.kernel import KernelImage
from model.sock import MAX_SCHEDULE_TIMEOUT, RCV_SHUTDOWN, SEND_SHUTDOWN, proto
from model.socket_h import MSG_DONTWAIT, MSG_WAITALL
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT


@dataclass(frozen=True)
class Behaviour:
    name: str
    direction: str  # "send" | "recv"
    consumes: bool
    bounded: bool
    meaning: str


BEHAVIOURS = (
    Behaviour("leaves", "send", False, False, "send path leaves the kvec alone, sends every segment (3.18 TCP)"),
    Behaviour("consumes", "send", True, False, "send path consumes the kvec as it sends (the rejected alternative)"),
    Behaviour("bounded", "send", False, True, "send path leaves the kvec alone, sends at most size bytes"),
    Behaviour("consumes+bounded", "send", True, True, "send path consumes the kvec, sends at most size bytes"),
    Behaviour("consumes", "recv", True, False, "receive path consumes the kvec as it fills it (3.18 TCP)"),
    Behaviour("leaves", "recv", False, False,
              "receive path fills from the kvec's start each call (3.19 kernel_recvmsg)"),
)


def _sendmsg(k, sk, msg, size: int, consumes: bool, bounded: bool) -> int:
    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, -EPIPE)
    budget = size if bounded else UNLIMITED
    iov, iovlen = msg.msg_iov, msg.msg_iovlen
    while iovlen > 0 and budget > 0:
        iovlen -= 1
        seg = k.mem.elem(iov)
        iov = iov + 1
        sent = 0  # of this segment, when the kvec is left alone
        while sent < seg.iov_len and budget > 0:
            if sk.room == 0:
                err = k.sk_stream_wait_memory(sk, timeo)
                if err:
                    return copied if copied else k.sk_stream_error(sk, flags, err)
                continue
            copy = min(seg.iov_len - sent, sk.room, budget)
            skb = k.alloc_skb(copy)
            if k.copy_from_user(skb.data, seg.iov_base + sent, copy):
                return copied if copied else -EFAULT
            sk.peer.deliver(k.mem.read(skb.data, copy))
            sk.room -= copy
            copied += copy
            budget -= copy
            if consumes:  # as memcpy_fromiovec() does
                seg.iov_base = seg.iov_base + copy
                seg.iov_len -= copy
            else:
                sent += copy
    return copied


def _recvmsg(k, sk, msg, len: int, nonblock: int, flags: int, consumes: bool) -> int:
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
            k.mem.write(skb.data, sk.peer.take(used))
            rc = (k.memcpy_toiovec(msg.msg_iov, skb.data, used) if consumes
                  else k.memcpy_toiovecend(msg.msg_iov, skb.data, copied, used))
            if rc:
                return copied if copied else -EFAULT
            copied += used
            len -= used
            continue
        if copied >= target or (copied and (sk.sk_err or sk.sk_shutdown & RCV_SHUTDOWN or not timeo)):
            break
        if not copied:
            if sk.sk_err:
                return k.sock_error(sk)
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if not timeo:
                return -EAGAIN
        then = sk.window.then
        if then == WAIT_TIMEOUT and timeo != MAX_SCHEDULE_TIMEOUT:
            return copied if copied else -EAGAIN
        if then == WAIT_SIGNAL:
            return copied if copied else k.sock_intr_errno(timeo)
        if then == WAIT_ERROR:
            k.tcp_reset(sk)
        elif then == WAIT_EOF or sk.peer.all_arrived():
            sk.sk_shutdown |= RCV_SHUTDOWN
        else:
            sk.peer.arrive(UNLIMITED)
    return copied


def behaviour_send_leaves(k, iocb, sk, msg, size):
    return _sendmsg(k, sk, msg, size, consumes=False, bounded=False)


def behaviour_send_consumes(k, iocb, sk, msg, size):
    return _sendmsg(k, sk, msg, size, consumes=True, bounded=False)


def behaviour_send_bounded(k, iocb, sk, msg, size):
    return _sendmsg(k, sk, msg, size, consumes=False, bounded=True)


def behaviour_send_consumes_bounded(k, iocb, sk, msg, size):
    return _sendmsg(k, sk, msg, size, consumes=True, bounded=True)


def behaviour_recv_consumes(k, iocb, sk, msg, len, nonblock, flags):
    return _recvmsg(k, sk, msg, len, nonblock, flags, consumes=True)


def behaviour_recv_leaves(k, iocb, sk, msg, len, nonblock, flags):
    return _recvmsg(k, sk, msg, len, nonblock, flags, consumes=False)


_SEND = {("send", b.name): f"behaviour_send_{b.name.replace('+', '_')}" for b in BEHAVIOURS if b.direction == "send"}
_RECV = {("recv", b.name): f"behaviour_recv_{b.name}" for b in BEHAVIOURS if b.direction == "recv"}


def behaviour_image(base: KernelImage, b: Behaviour) -> KernelImage:
    """``base`` with TCP's transport replaced by the behaviour (its other direction stays TCP's)."""
    from model.kernel import Definition

    fn_name = (_SEND if b.direction == "send" else _RECV)[(b.direction, b.name)]
    tcp = base.definitions["tcp_prot"]
    prot = proto(name=f"behaviour:{b.name}",
                 sendmsg=fn_name if b.direction == "send" else tcp.obj.sendmsg,
                 recvmsg=fn_name if b.direction == "recv" else tcp.obj.recvmsg)
    defs = dict(base.definitions)
    fn = globals()[fn_name]
    defs[fn_name] = Definition(fn_name, fn, f"behaviour:{b.name}", "checks/behaviours.py", __file__,
                               fn.__code__.co_firstlineno)
    defs["tcp_prot"] = Definition("tcp_prot", prot, f"behaviour:{b.name}", tcp.kfile, __file__, 0)
    return KernelImage(f"{base.name}+{b.name}", defs)
