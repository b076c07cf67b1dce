"""drivers/block/nbd.c (v3.18): sock_xmit(), nbd's one send and receive loop.

Each iteration rebuilds a one-element kvec ``{buf, size}`` and calls kernel_sendmsg() or
kernel_recvmsg() (MSG_WAITALL from the receive callers); after a short count the caller itself
advances (``size -= result; buf += result``), so whatever the protocol does to the kvec is
thrown away. A result of 0 is a short read (-EPIPE). Only SIGKILL is left unblocked, and nbd's
xmit timer sends SIGKILL to the sender when a send takes too long.

Simplified: the signal_pending(current) check after each call (printk, -EINTR,
sock_shutdown(nbd, !send)) is kept as a comment: the model has no per-task signal state (a signal
is pending for the one wait it interrupts, model/world.py), so a signal shows only as the
-ERESTARTSYS or the short count the protocol returns, and the loop then stops or goes on; either
way the peer holds a prefix. The xmit timer, PF_MEMALLOC and sk_allocation are left out.
Source: sock_xmit() as in the 3.1x nbd.c (signal mask, xmit timer, signal_pending check).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EINVAL, EPIPE
from model.kernel import Ptr
from model.socket_h import MSG_MORE, MSG_NOSIGNAL, MSG_WAITALL
from model.users import RECV, SEND, User


@dataclass(slots=True)
class nbd_device:
    sock: object  # struct socket *
    xmit_timeout: int = 0


def sock_xmit(k, nbd: nbd_device, send: int, buf: Ptr, size: int, msg_flags: int) -> int:
    """Send or receive packet."""
    sock = nbd.sock
    if sock is None:
        # "Attempted %s on closed socket in sock_xmit"
        return -EINVAL

    # Allow interception of SIGKILL only
    # Don't allow other signals to interrupt the transmission
    # siginitsetinv(&blocked, sigmask(SIGKILL)); sigprocmask(SIG_SETMASK, &blocked, &oldset);
    while True:
        # sock->sk->sk_allocation = GFP_NOIO | __GFP_MEMALLOC;
        iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="sock_xmit iov")
        msg = k.msghdr()
        msg.msg_flags = msg_flags | MSG_NOSIGNAL

        if send:
            # the xmit timer (nbd->xmit_timeout) is not modelled
            result = k.kernel_sendmsg(sock, msg, iov, 1, size)
        else:
            result = k.kernel_recvmsg(sock, msg, iov, 1, size, msg.msg_flags)

        # if (signal_pending(current)) { ... result = -EINTR; sock_shutdown(nbd, !send); break; }
        # not modelled: see the module docstring

        if result <= 0:
            if result == 0:
                result = -EPIPE  # short read
            break
        size -= result
        buf = buf + result
        if not size > 0:
            break

    # sigprocmask(SIG_SETMASK, &oldset, NULL);
    return result


def _send_req(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """nbd_send_req()'s use for the request header (MSG_MORE for a write): ``result <= 0``
    fails the request ("Send control failed") and the socket is shut down."""
    nbd = k.nbd_device(sock=sock)
    seg = k.mem.elem(vec)
    result = k.sock_xmit(nbd, 1, seg.iov_base, seg.iov_len, MSG_MORE if mode == "write" else 0)
    if result <= 0:  # sock_xmit() never returns 0: a short read is -EPIPE
        return result
    return total


def _read_stat(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """nbd_read_stat()'s use for the reply header: ``result <= 0`` is "Receive control failed"
    and the request fails."""
    nbd = k.nbd_device(sock=sock)
    seg = k.mem.elem(vec)
    result = k.sock_xmit(nbd, 0, seg.iov_base, seg.iov_len, MSG_WAITALL)
    if result <= 0:
        return result
    return total


USERS = (
    User("sock_xmit:send", "drivers/block/nbd.c", SEND, ("tcp", "unix"), _send_req, modes=("write", "read"),
         max_segs=1, note="a fresh one-element kvec per call; nbd advances buf/size itself"),
    User("sock_xmit:recv", "drivers/block/nbd.c", RECV, ("tcp", "unix"), _read_stat, max_segs=1,
         note="receive side of sock_xmit(): a fresh kvec per call, MSG_WAITALL"),
)
