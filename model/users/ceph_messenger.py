"""net/ceph/messenger.c (v3.18): write_partial_kvec() over ceph_tcp_sendmsg(), and read_partial()
over ceph_tcp_recvmsg(), libceph's non-blocking socket loops.

Send: the connection queues kvecs in its own ``out_kvec[]`` (con_out_kvec_add) and
write_partial_kvec() hands ``out_kvec_cur``/``out_kvec_left``/``out_kvec_bytes`` to
kernel_sendmsg() with MSG_DONTWAIT | MSG_NOSIGNAL (and MSG_MORE or MSG_EOR). ceph_tcp_sendmsg()
maps -EAGAIN to 0, "socket full, retry later". After a short send write_partial_kvec() itself
steps ``out_kvec_cur`` over the fully sent entries and trims the partial one: correct while the
protocol leaves the array alone (TCP in 3.18), a double advance if it consumed it (the mail).
con_work()/try_write() call it again when ceph_sock_write_space() queues the work.

Receive: read_partial() reads one object through ceph_tcp_recvmsg(), a fresh one-element kvec per
call, MSG_DONTWAIT | MSG_NOSIGNAL, -EAGAIN mapped to 0, and advances ``con->in_base_pos`` itself.

Simplified: one message's kvecs only (no ack/keepalive tags, no data pages through
ceph_tcp_sendpage(), no CRCs); con_work()'s fault handling (socket close, reconnect with
backoff, message requeue) is reduced to "the caller reports the error". ceph_tcp_recvmsg()
returning 0 at EOF looks like "no data yet": the messenger learns of the close from
ceph_sock_state_change() (CON_FLAG_SOCK_CLOSED), which the read caller checks as the socket's
shutdown state. Sources: write_partial_kvec() ("account for full iov entries consumed",
out_kvec_is_msg) and ceph_tcp_sendmsg() as in 3.1x messenger.c; ceph_tcp_recvmsg() of 3.18 is
taken to be the kernel_recvmsg() form that 3.19 turned into iov_iter_kvec() [INF].
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN
from model.kernel import NULL, Oops, Ptr
from model.sock import RCV_SHUTDOWN
from model.socket_h import MSG_DONTWAIT, MSG_EOR, MSG_MORE, MSG_NOSIGNAL
from model.users import RECV, SEND, User

_OUT_KVEC_SIZE = 8  # ARRAY_SIZE(con->out_kvec): struct kvec out_kvec[8] (include/linux/ceph/messenger.h)


@dataclass(slots=True)
class ceph_connection:
    sock: object  # struct socket *
    out_kvec: Ptr = NULL  # struct kvec out_kvec[8]
    out_kvec_cur: Ptr = NULL
    out_kvec_left: int = 0  # kvec's left in out_kvec
    out_skip: int = 0
    out_kvec_bytes: int = 0  # total bytes left
    out_kvec_is_msg: bool = False  # kvec refers to out_msg
    out_more: int = 0  # there is more data after the kvecs
    in_base_pos: int = 0  # bytes read


def ceph_tcp_recvmsg(k, sock, buf: Ptr, len: int) -> int:
    iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=len)], name="ceph_tcp_recvmsg iov")
    msg = k.msghdr()
    msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL
    r = k.kernel_recvmsg(sock, msg, iov, 1, len, msg.msg_flags)
    if r == -EAGAIN:
        r = 0
    return r


def ceph_tcp_sendmsg(k, sock, iov: Ptr, kvlen: int, len: int, more: int) -> int:
    """Write something. @more is true if caller will be sending more data shortly."""
    msg = k.msghdr()
    msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL
    if more:
        msg.msg_flags |= MSG_MORE
    else:
        msg.msg_flags |= MSG_EOR  # superfluous, but what the hell

    r = k.kernel_sendmsg(sock, msg, iov, kvlen, len)
    if r == -EAGAIN:
        r = 0
    return r


def con_out_kvec_reset(k, con: ceph_connection) -> None:
    if con.out_skip:
        raise Oops("BUG_ON(con->out_skip)")
    con.out_kvec_left = 0
    con.out_kvec_bytes = 0
    con.out_kvec_cur = con.out_kvec


def con_out_kvec_add(k, con: ceph_connection, size: int, data: Ptr) -> None:
    index = con.out_kvec_left
    if con.out_skip:
        raise Oops("BUG_ON(con->out_skip)")
    if index >= _OUT_KVEC_SIZE:
        raise Oops("BUG_ON(index >= ARRAY_SIZE(con->out_kvec))")
    entry = k.mem.elem(con.out_kvec + index)
    entry.iov_len = size
    entry.iov_base = data
    con.out_kvec_left += 1
    con.out_kvec_bytes += size


def write_partial_kvec(k, con: ceph_connection) -> int:
    """Write as much of pending kvecs to the socket as we can.
    1 -> done, 0 -> socket full, but more to do, <0 -> error."""
    # dout("write_partial_kvec %p %d left\n", con, con->out_kvec_bytes);
    ret = 0
    while con.out_kvec_bytes > 0:
        ret = k.ceph_tcp_sendmsg(con.sock, con.out_kvec_cur, con.out_kvec_left, con.out_kvec_bytes,
                                 con.out_more)
        if ret <= 0:
            return ret  # goto out
        con.out_kvec_bytes -= ret
        if con.out_kvec_bytes == 0:
            break  # done

        # account for full iov entries consumed
        while ret >= k.mem.elem(con.out_kvec_cur).iov_len:
            if not con.out_kvec_left:
                raise Oops("BUG_ON(!con->out_kvec_left)")
            ret -= k.mem.elem(con.out_kvec_cur).iov_len
            con.out_kvec_cur = con.out_kvec_cur + 1
            con.out_kvec_left -= 1
        # and for a partially-consumed entry
        if ret:
            cur = k.mem.elem(con.out_kvec_cur)
            cur.iov_len -= ret
            cur.iov_base = cur.iov_base + ret
    con.out_kvec_left = 0
    con.out_kvec_is_msg = False
    ret = 1
    # out: dout("write_partial_kvec %p %d left in %d kvecs ret = %d\n", ...);
    return ret  # done!


def read_partial(k, con: ceph_connection, end: int, size: int, object: Ptr) -> int:
    """Read up to ``end`` of the incoming stage into ``object`` of ``size`` bytes:
    1 -> done, 0 -> no more data for now, <0 -> error."""
    while con.in_base_pos < end:
        left = end - con.in_base_pos
        have = size - left
        ret = k.ceph_tcp_recvmsg(con.sock, object + have, left)
        if ret <= 0:
            return ret
        con.in_base_pos += ret
    return 1


def _try_write(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """con_work()/try_write()'s use: queue the caller's kvecs with con_out_kvec_add(), then call
    write_partial_kvec() until it is done (1) or fails (<0); 0 means "socket full": the work is
    queued again by ceph_sock_write_space() and calls it again. An error faults the connection."""
    con = k.ceph_connection(sock=sock)
    con.out_kvec = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(_OUT_KVEC_SIZE)],
                                     name="con->out_kvec[]")
    k.con_out_kvec_reset(con)
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        k.con_out_kvec_add(con, seg.iov_len, seg.iov_base)
    con.out_more = 1 if mode == "more" else 0
    while True:
        # try_write(): /* kvec data queued? */ if (con->out_kvec_left) { ret = write_partial_kvec(con); ... }
        ret = k.write_partial_kvec(con) if con.out_kvec_left else 1
        if ret < 0:
            return ret  # con->error_msg = "socket error on write"; goto fault;
        if ret == 1:
            return total
        # ret == 0: socket full; wait for ceph_sock_write_space() to queue con_work() again


def _try_read(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """con_work()/try_read()'s use for one fixed-size object (the message header, say): 0 means
    no data yet, the work runs again on ceph_sock_data_ready(); a socket closed by the peer is
    seen through ceph_sock_state_change() (CON_FLAG_SOCK_CLOSED) and faults the connection."""
    con = k.ceph_connection(sock=sock)
    seg = k.mem.elem(vec)
    while True:
        if sock.sk.sk_err or sock.sk.sk_shutdown & RCV_SHUTDOWN:
            return -EAGAIN  # con_work(): "socket closed"; goto fault (con_fault -> reconnect)
        ret = k.read_partial(con, seg.iov_len, seg.iov_len, seg.iov_base)
        if ret < 0:
            return ret  # con->error_msg = "socket error on read"; goto fault;
        if ret == 1:
            return total


USERS = (
    User("write_partial_kvec", "net/ceph/messenger.c", SEND, ("tcp",), _try_write, modes=("more", "last"),
         note="advances out_kvec_cur/out_kvec_left itself after a short send; -EAGAIN is 0"),
    User("read_partial", "net/ceph/messenger.c", RECV, ("tcp",), _try_read, max_segs=1,
         note="a fresh one-element kvec per ceph_tcp_recvmsg(); advances in_base_pos itself"),
)
