"""drbd: hand kernel_sendmsg() a fresh kvec for what is left

drbd_send() advances its one kvec by hand after a short send (iov_base +=
rv, iov_len -= rv) and passes it again.  A send path that consumes the
kvec (the last step of this series) would advance it a second time, and
drbd would skip data or spin.  Build the kvec for what is left afresh on
every pass, so drbd's own advance is the only one that counts whatever
the send path does to it.  The size passed stays as it was (v3.18's
tcp_sendmsg does not use it).

Not an upstream patch: part of this series' staging of the alternative
rejected on 2014-11-20.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EAGAIN, EBADR, EINTR
from model.socket_h import MSG_NOSIGNAL

STEP = Step(
    subject="drbd: hand kernel_sendmsg() a fresh kvec for what is left",
    upstream=None,
    intends=("drbd_send no longer relies on the send path leaving its kvec alone",),
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
        # STRANGE
        # tcp_sendmsg does _not_ use its size parameter at all ?
        #
        # -EAGAIN on timeout, -EINTR on signal.
        # the send path may consume what it is given: a fresh kvec for what is left, every pass
        seg = k.mem.elem(iov)
        left = k.mem.alloc_array([k.kvec(iov_base=seg.iov_base, iov_len=seg.iov_len)], name="drbd_send left")
        rv = k.kernel_sendmsg(sock, msg, left, 1, size)
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
