"""net/rds/tcp_send.c (v3.18): rds_tcp_xmit() and rds_tcp_sendmsg(), RDS over TCP's header send.

rds_tcp_xmit() sends what is left of the message header, ``sizeof(struct rds_header) - hdr_off``
bytes from ``&rm->m_inc.i_hdr + hdr_off``, through rds_tcp_sendmsg(): a fresh one-element kvec,
MSG_DONTWAIT | MSG_NOSIGNAL. It returns the bytes it sent; the caller, rds_send_xmit(),
advances ``conn->c_xmit_hdr_off`` (then ``c_xmit_sg``/``c_xmit_data_off`` for the data) by that
count and calls again from there. -EAGAIN is turned into 0 ("write_space will hit after
EAGAIN"): the send work is requeued by rds_tcp_write_space(). Any other error drops the
connection (rds_conn_drop()), which reconnects and retransmits the message on a new socket.
Indifferent to what the protocol does to the kvec.

Simplified: the message is its header only (``rm->data.op_nents == 0``; the data pages go
through ->sendpage, not kernel_sendmsg()); the header's length is the caller's kvec length
instead of sizeof(struct rds_header) (48); the ack-sequence bookkeeping of ``hdr_off == 0``
(rds_tcp_snd_nxt(), m_ack_seq, RDS_MSG_HAS_ACK_SEQ) and the statistics are comments.
Source: rds_tcp_xmit() as in 3.1x tcp_send.c.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EAGAIN, EPIPE
from model.kernel import NULL, Ptr
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL
from model.users import SEND, User


@dataclass(slots=True)
class rds_incoming:
    i_hdr: Ptr = NULL  # struct rds_header i_hdr: here its address
    i_hdr_len: int = 0  # model: sizeof(struct rds_header), the caller's kvec length


@dataclass(slots=True)
class rds_message:
    m_inc: rds_incoming = field(default_factory=rds_incoming)
    op_nents: int = 0  # rm->data.op_nents: no data pages in the model


@dataclass(slots=True)
class rds_tcp_connection:
    t_sock: object  # struct socket *


@dataclass(slots=True)
class rds_connection:
    c_transport_data: rds_tcp_connection
    c_xmit_hdr_off: int = 0
    c_xmit_sg: int = 0
    c_xmit_data_off: int = 0
    dropped: bool = False  # model: rds_conn_drop() was called


def rds_tcp_sendmsg(k, sock, data: Ptr, len: int) -> int:
    """The core send_sem serializes this with other xmit and shutdown."""
    vec = k.mem.alloc_array([k.kvec(iov_base=data, iov_len=len)], name="rds_tcp_sendmsg vec")
    msg = k.msghdr()
    msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL
    return k.kernel_sendmsg(sock, msg, vec, 1, len)


def rds_tcp_xmit(k, conn: rds_connection, rm: rds_message, hdr_off: int, sg: int, off: int) -> int:
    """The core send_sem serializes this with other xmit and shutdown."""
    tc = conn.c_transport_data
    done = 0
    ret = 0

    if hdr_off == 0:
        # m_ack_seq is set to the sequence number of the last byte of header and data.
        # see rds_tcp_is_acked(). tc->t_last_sent_nxt = rds_tcp_snd_nxt(tc); ...
        pass

    if hdr_off < rm.m_inc.i_hdr_len:
        # see rds_tcp_write_space(): set_bit(SOCK_NOSPACE, &tc->t_sock->sk->sk_socket->flags);
        ret = k.rds_tcp_sendmsg(tc.t_sock, rm.m_inc.i_hdr + hdr_off, rm.m_inc.i_hdr_len - hdr_off)
        if ret >= 0:  # if (ret < 0) goto out;
            done += ret
            # if (hdr_off + done != sizeof(struct rds_header)) goto out;

    # more = rm->data.op_nents > 1 ? (MSG_MORE | MSG_SENDPAGE_NOTLAST) : 0;
    # while (sg < rm->data.op_nents) { ... tc->t_sock->ops->sendpage(...) ... }: no data pages

    # out:
    if ret <= 0:
        # write_space will hit after EAGAIN, all else fatal
        if ret == -EAGAIN:
            # rds_tcp_stats_inc(s_tcp_sndbuf_full);
            ret = 0
        else:
            # "RDS/tcp: send to %pI4 returned %d, disconnecting and reconnecting"
            conn.dropped = True  # rds_conn_drop(conn);
    if done == 0:
        done = ret
    return done


def _send_xmit(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """rds_send_xmit()'s use: ``ret <= 0`` ends this pass (the work runs again on write space);
    a positive count advances c_xmit_hdr_off by at most what is left of the header; a dropped
    connection fails the message on this socket."""
    conn = k.rds_connection(c_transport_data=k.rds_tcp_connection(t_sock=sock))
    seg = k.mem.elem(vec)
    rm = k.rds_message(m_inc=k.rds_incoming(i_hdr=seg.iov_base, i_hdr_len=seg.iov_len))
    while conn.c_xmit_hdr_off < rm.m_inc.i_hdr_len or conn.c_xmit_sg < rm.op_nents:
        ret = k.rds_tcp_xmit(conn, rm, conn.c_xmit_hdr_off, conn.c_xmit_sg, conn.c_xmit_data_off)
        if conn.dropped:
            return ret if ret < 0 else -EPIPE  # rds_conn_drop(): reconnect, resend on a new socket
        if ret <= 0:
            continue  # break out of rds_send_xmit(); rds_tcp_write_space() queues c_send_w
        if conn.c_xmit_hdr_off < rm.m_inc.i_hdr_len:
            tmp = min(ret, rm.m_inc.i_hdr_len - conn.c_xmit_hdr_off)
            conn.c_xmit_hdr_off += tmp
            ret -= tmp
    return total


USERS = (
    User("rds_tcp_xmit", "net/rds/tcp_send.c", SEND, ("tcp",), _send_xmit, max_segs=1,
         note="header send from hdr_off, a fresh kvec per call, MSG_DONTWAIT; -EAGAIN is 0"),
)
