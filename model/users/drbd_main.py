"""drivers/block/drbd/drbd_main.c (v3.18): drbd_send(), DRBD's send loop on one local kvec.

drbd_send() keeps a single local kvec ``{buf, size}`` and, after a short send, advances it itself
(``iov.iov_base += rv; iov.iov_len -= rv``), calling kernel_sendmsg(sock, &msg, &iov, 1, size)
again with ``size`` still the ORIGINAL total: in 3.18 tcp_sendmsg does not bound the copy by
``size`` ("tcp_sendmsg does _not_ use its size parameter at all ?"), so only the kvec says what
is left. -EAGAIN (the socket's send timeout) is retried unless we_should_drop_the_connection();
-EINTR (a signal) flushes the signals and counts as 0 bytes. A send path that also consumed the
kvec would make drbd skip data or spin on an empty kvec (reference §6).

drbd_send() returns the bytes sent; drbd_send_all(), the caller played here, turns anything
short of ``size`` into -EIO.

Simplified: the connection state changes (C_BROKEN_PIPE/C_TIMEOUT), drbd_update_congested()
and request_ping() are comments; flush_signals() discards the pending signal (model/signal.py),
as drbd_main.c:1813@3.18.9 does, so the next wait ends as the world's script says. The sockets
carry conn_connect()'s send timeout (net_conf->timeout, 6 s by default). Source: drbd_send() of the
drbd 8.4 in-tree driver (struct drbd_connection, 3.13 and later), read in a 3.1x/4.x tree, not a pristine v3.18.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN, EBADR, EINTR, EIO
from model.kernel import Ptr
from model.param import HZ
from model.socket_h import MSG_MORE, MSG_NOSIGNAL
from model.users import SEND, User

_DRBD_KO_COUNT_DEF = 7  # include/linux/drbd_limits.h


@dataclass(slots=True)
class drbd_connection:
    data_socket: object  # connection->data.socket
    meta_socket: object  # connection->meta.socket
    ko_count: int = 0
    net_conf_ko_count: int = _DRBD_KO_COUNT_DEF  # rcu_dereference(connection->net_conf)->ko_count
    asender_running: bool = True  # connection->asender.task, get_t_state(&asender) == RUNNING
    cstate_wf_report_params: bool = True  # connection->cstate >= C_WF_REPORT_PARAMS


def we_should_drop_the_connection(k, connection: drbd_connection, sock) -> bool:
    drop_it = (connection.meta_socket is sock or not connection.asender_running
               or not connection.cstate_wf_report_params)
    if drop_it:
        return True
    connection.ko_count -= 1
    drop_it = not connection.ko_count
    if not drop_it:
        # "[%s/%d] sock_sendmsg time expired, ko = %u"
        pass  # request_ping(connection);
    return drop_it


def drbd_send(k, connection: drbd_connection, sock, buf: Ptr, size: int, msg_flags: int) -> int:
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
        rv = k.kernel_sendmsg(sock, msg, iov, 1, size)
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


def drbd_send_all(k, connection: drbd_connection, sock, buffer: Ptr, size: int, msg_flags: int) -> int:
    """Send an entire buffer. Returns 0 upon success and a negative error value otherwise."""
    err = k.drbd_send(connection, sock, buffer, size, msg_flags)
    if err < 0:
        return err
    if err != size:
        return -EIO
    return 0


def _send_all(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """drbd_send_all() on the data socket (ko_count countdown on a timeout) or on the meta socket
    (a timeout drops the connection at once). conn_connect() set the send timeout."""
    sock.sk.sk_sndtimeo = 60 * HZ // 10  # nc->timeout * HZ / 10, DRBD_TIMEOUT_DEF 60
    other = object()
    if mode == "meta":
        connection = k.drbd_connection(data_socket=other, meta_socket=sock)
    else:
        connection = k.drbd_connection(data_socket=sock, meta_socket=other)
    seg = k.mem.elem(vec)
    err = k.drbd_send_all(connection, sock, seg.iov_base, seg.iov_len, MSG_MORE if mode == "data" else 0)
    return err if err < 0 else total


USERS = (
    User("drbd_send", "drivers/block/drbd/drbd_main.c", SEND, ("tcp",), _send_all, modes=("data", "meta"),
         max_segs=1, note="advances its one local kvec itself; size stays the original total"),
)
