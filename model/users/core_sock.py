"""net/core/sock.c (v3.18): sock_no_sendpage(), the ->sendpage of protocols that have none.

It kmaps the page and sends ``size`` bytes from ``offset`` with kernel_sendmsg() through a
one-element kvec of its own, and returns what kernel_sendmsg() returned: the caller of
->sendpage sees a short count and advances its own (page, offset, size). In 3.18 it is the
->sendpage of AF_UNIX (stream, dgram and seqpacket), netlink, AF_PACKET and L2CAP sockets, what
inet_sendpage() falls back to for ping (no ->sendpage in ping_prot), and what tcp_sendpage()
calls when the route lacks NETIF_F_SG or checksum offload; kernel_sendpage() also calls it for a
socket whose ->sendpage is NULL.

The user played here is a sendpage caller: sendfile()/splice() to a socket
(splice_from_pipe_feed() -> pipe_to_sendpage() -> sock_sendpage() -> kernel_sendpage()), which
advances ``buf->offset``/``buf->len`` by each count and stops at the first count <= 0.

Simplified: a page is a kernel buffer (kmap() is the identity, no highmem); the sendfile caller
treats each kvec as one pipe buffer, and a short total (splice returns what it moved) is reported
as an error, since the message did not go out whole. The model's kernel_sendpage() dispatches to
``sock->ops->sendpage`` only, so the caller calls sock_no_sendpage() itself where the model's
ops table has no ->sendpage (as v3.18 kernel_sendpage() and tcp_sendpage() without NETIF_F_SG
would). AF_PACKET's SOCK_PACKET flavour is left out: with no msg_name its sendmsg fails
(-ENOTCONN), so sendfile to it never works.
"""

from __future__ import annotations

from model.errno import EAGAIN, EIO
from model.kernel import Ptr
from model.socket_h import MSG_DONTWAIT, MSG_MORE
from model.users import SEND, User


def sock_no_sendpage(k, sock, page: Ptr, offset: int, size: int, flags: int) -> int:
    msg = k.msghdr()
    msg.msg_flags = flags
    kaddr = page  # kmap(page): no highmem in the model
    iov = k.mem.alloc_array([k.kvec(iov_base=kaddr + offset, iov_len=size)], name="sock_no_sendpage iov")
    res = k.kernel_sendmsg(sock, msg, iov, 1, size)
    # kunmap(page);
    return res


def _sendfile(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """splice_from_pipe_feed()/pipe_to_sendpage()'s use, each kvec one pipe buffer: a count
    advances buf->offset and buf->len; a count <= 0 ends the splice. With O_NONBLOCK (MSG_DONTWAIT
    from sock_sendpage()) -EAGAIN sends userspace to poll() and sendfile() again from where it
    stopped."""
    flags = MSG_DONTWAIT if mode == "nonblock" else 0
    spliced = 0
    for i in range(nr_segs):
        buf = k.mem.elem(vec + i)
        page, offset, length = buf.iov_base, 0, buf.iov_len
        while length:
            more = MSG_MORE if spliced + length < total else 0
            if sock.ops.sendpage:  # kernel_sendpage(): sock->ops->sendpage(...)
                ret = k.kernel_sendpage(sock, page, offset, length, flags | more)
            else:  # kernel_sendpage(): return sock_no_sendpage(...) when ->sendpage is NULL
                ret = k.sock_no_sendpage(sock, page, offset, length, flags | more)
            if ret == -EAGAIN and mode == "nonblock":
                continue  # poll(POLLOUT), then sendfile() again
            if ret <= 0:
                return ret if ret < 0 else -EIO  # the file was not sent whole
            offset += ret
            length -= ret
            spliced += ret
    return spliced


USERS = (
    User("sock_no_sendpage", "net/core/sock.c", SEND, ("unix", "netlink", "l2cap", "tcp"), _sendfile,
         modes=("blocking", "nonblock"),
         note="kmap + one-element kvec; the sendpage caller advances (tcp: routes without NETIF_F_SG)"),
)
