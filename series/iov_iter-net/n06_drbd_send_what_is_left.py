"""drbd: pass kernel_sendmsg() the bytes that are left, not the whole buffer

drbd_send() advances its one kvec by hand after a short send but keeps
passing the original size, relying on tcp_sendmsg() not to use it ("tcp_
sendmsg does _not_ use its size parameter at all ?").  Once the send path
copies through an iov_iter whose count is that size (the next steps), a
retry would ask for more bytes than the kvec holds, and the iterator would
walk off the one-element array.  Pass what is left.

Found by the checks: with this step after the tcp_sendmsg conversion,
drbd_send/tcp regresses (an Oops reading past its kvec).  Not part of the
mail's plan; needed by it.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EAGAIN, EBADR, EINTR
from model.socket_h import MSG_NOSIGNAL

STEP = Step(
    subject="drbd: pass kernel_sendmsg() the bytes that are left",
    upstream=None,
    intends=("drbd_send no longer relies on the send path ignoring size",),
)


def drbd_send(k, connection, sock, buf, size: int, msg_flags: int) -> int:
    """You must have down()ed the appropriate [m]sock_mutex elsewhere!"""
    sent = 0
    if sock is None:
        return -EBADR

    # THINK  if (signal_pending) return ... ?

    iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="drbd_send iov")
    msg = k.msghdr()
    msg.msg_flags = msg_flags | MSG_NOSIGNAL

    # struct socket pointers: sockets are objects, not Memory regions, so identity is the pointer
    if sock is connection.data_socket:
        connection.ko_count = connection.net_conf_ko_count
        # drbd_update_congested(connection);
    while True:
        # -EAGAIN on timeout, -EINTR on signal.
        rv = k.kernel_sendmsg(sock, msg, iov, 1, size - sent)
        if rv == -EAGAIN:
            if k.we_should_drop_the_connection(connection, sock):
                break
            if sent < size:
                continue
            break
        if rv == -EINTR:
            k.flush_signals()
            rv = 0
        if rv < 0:
            break
        sent += rv
        seg = k.mem.elem(iov)
        seg.iov_base = seg.iov_base + rv
        seg.iov_len -= rv
        if not sent < size:
            break

    # if (sock == connection->data.socket) clear_bit(NET_CONGESTED, &connection->flags);

    if rv <= 0:
        if rv != -EAGAIN:
            # "%s_sendmsg returned %d"; conn_request_state(connection, NS(conn, C_BROKEN_PIPE), CS_HARD);
            pass
        else:
            pass  # conn_request_state(connection, NS(conn, C_TIMEOUT), CS_HARD);

    return sent

