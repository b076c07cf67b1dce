"""drivers/staging/lustre/lustre/libcfs/linux/linux-tcpip.c (v3.18): libcfs_sock_write(), the
blocking write of a whole buffer used by the LNet acceptor and the socket LND's hello.

Each iteration builds a fresh one-element kvec ``{buffer, nob}`` and calls kernel_sendmsg(); the
caller advances ``buffer += rc; nob -= rc`` itself. With a non-zero ``timeout`` (seconds) it sets
SO_SNDTIMEO to the time left before every call and gives up with -EAGAIN once that is spent; a
zero timeout means MSG_DONTWAIT ("the socket buffer is empty enough"). 0 from the socket is
-ECONNABORTED. Indifferent to what the protocol does to the kvec.

Simplified: time is not an input, so jiffies does not advance and ``ticks`` stays whole: a send
whose wait timed out shows as its -EAGAIN (returned) or as its short count, after which the
model goes on where the kernel, having spent its ticks, would return -EAGAIN; either way the
peer holds a prefix. kernel_setsockopt(SO_SNDTIMEO) is written as the field it sets.
Source: drivers/staging/lustre/lustre/libcfs/linux/linux-tcpip.c:253-313@3.18.9.
"""

from __future__ import annotations

from model.errno import EAGAIN, ECONNABORTED
from model.kernel import Oops, Ptr
from model.param import HZ
from model.socket_h import MSG_DONTWAIT
from model.users import SEND, User


def libcfs_sock_write(k, sock, buffer: Ptr, nob: int, timeout: int) -> int:
    ticks = timeout * HZ

    if not nob > 0:
        raise Oops("LASSERT(nob > 0)")
    # Caller may pass a zero timeout if she thinks the socket buffer is empty enough to take the
    # whole message immediately

    while True:
        iov = k.mem.alloc_array([k.kvec(iov_base=buffer, iov_len=nob)], name="libcfs_sock_write iov")
        msg = k.msghdr()
        msg.msg_flags = MSG_DONTWAIT if timeout == 0 else 0

        if timeout != 0:
            # Set send timeout to remaining time: tv = { ticks / HZ, ... };
            # rc = kernel_setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, (char *)&tv, sizeof(tv));
            sock.sk.sk_sndtimeo = ticks

        # then = jiffies;
        rc = k.kernel_sendmsg(sock, msg, iov, 1, nob)
        # ticks -= jiffies - then;: time does not pass in the model

        if rc == nob:
            return 0

        if rc < 0:
            return rc

        if rc == 0:
            # CERROR("Unexpected zero rc\n");
            return -ECONNABORTED

        if ticks <= 0:
            return -EAGAIN

        buffer = buffer + rc
        nob -= rc


def _sock_write(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """lnet_accept()/ksocknal_send_hello()'s use: any non-zero rc fails the handshake and the
    socket is released. ``mode`` is the caller's timeout: lnet_acceptor_timeout() (5 s by
    default) or 0."""
    seg = k.mem.elem(vec)
    if seg.iov_len == 0:
        return 0  # the callers' messages are never empty
    rc = k.libcfs_sock_write(sock, seg.iov_base, seg.iov_len, 5 if mode == "timeout" else 0)
    return rc if rc < 0 else total


USERS = (
    User("libcfs_sock_write", "drivers/staging/lustre/lustre/libcfs/linux/linux-tcpip.c", SEND, ("tcp",),
         _sock_write, modes=("timeout", "zero"), max_segs=1,
         note="a fresh one-element kvec per call; advances buffer/nob itself"),
)
