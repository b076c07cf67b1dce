"""fs/dlm/lowcomms.c (v3.18): send_to_sock() and sctp_init_assoc(), the DLM's writequeue send over
TCP and SCTP.

Outgoing DLM messages sit in writequeue entries (a page, ``offset``, ``len``). send_to_sock()
sends the head entry's ``len`` bytes from ``offset`` with MSG_DONTWAIT | MSG_NOSIGNAL through
kernel_sendpage(); on TCP that is tcp_sendpage(), which on a route without NETIF_F_SG or
checksum offload falls back to sock_no_sendpage(): kmap plus a one-element kvec
kernel_sendmsg(). After a send writequeue_entry_complete() advances ``e->offset`` and ``e->len``
by what went out and frees the entry when it is empty. -EAGAIN or 0 ends the pass (the socket's
write_space callback queues it again); any other error closes the connection, which
lowcomms_connect_sock() reopens. A fresh kvec per call: indifferent to the protocol.

SCTP (fs/dlm/lowcomms.c:1065-1151@3.18.9): lowcomms_connect_sock() on a connection without an
association runs sctp_init_assoc(), which sends the first writequeue block on the one-to-many
base socket (nodeid 0) with a one-element kvec kernel_sendmsg(), MSG_EOR, the peer's address and
an SCTP_SNDRCV cmsg (which creates the association), then advances the entry with
writequeue_entry_complete(e, ret); a failure clears CF_INIT_PENDING to "try again later". When
the association comes up, process_sctp_notification() peels it off into the connection's own
socket (:723-752) and queues send_to_sock(), which sends the rest as over TCP: SCTP has no
->sendpage, so inet_sendpage() falls back to sock_no_sendpage(). SCTP delivers a message whole or
not at all. The same in the 3.19.8, 4.0.5 and 4.1.6 trees (lowcomms.c is unchanged).
Simplified (SCTP): the base socket and the peeled-off one are the checker's one socket (its
association is the one to the world's peer); the address and the cmsg are comments (the model's
SCTP socket has one association); a lost association ends the run (-EPIPE), where dlm would
start a new one that this socket does not see. sctp_send_shutdown()'s EOF message
(kernel_sendmsg(..., NULL, 0, 0)) carries no data and is not modelled. The TCP path with
NETIF_F_SG (do_tcp_sendpages) never reaches kernel_sendmsg() and is not modelled either.

Simplified: each kvec of the caller is one writequeue entry with ``users == 0`` (committed);
close_connection() is reduced to dropping ``con->sock``; locks, cond_resched() and the
SOCK_ASYNC_NOSPACE/CF_APP_LIMITED dance are comments. The model's kernel_sendpage() dispatches
to ``->sendpage`` only, so send_to_sock() calls sock_no_sendpage() itself where the model's
proto_ops has no ->sendpage (as v3.18 kernel_sendpage() and tcp_sendpage() without NETIF_F_SG
would). Source: send_to_sock()/writequeue_entry_complete() as in 3.1x lowcomms.c.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EAGAIN, EPIPE
from model.kernel import Oops, Ptr
from model.socket_h import MSG_DONTWAIT, MSG_EOR, MSG_NOSIGNAL
from model.users import SEND, User

_MAX_SEND_MSG_COUNT = 25  # #define MAX_SEND_MSG_COUNT 25 (file-local; tipc's server.c has its own)


@dataclass(slots=True, eq=False)  # list_del() unlinks this entry, not an equal one
class writequeue_entry:
    page: Ptr  # struct page *
    offset: int
    len: int
    end: int
    users: int
    con: object = None  # struct connection *


@dataclass(slots=True)
class connection:
    sock: object  # struct socket *
    nodeid: int = 0
    writequeue: list = field(default_factory=list)  # struct list_head writequeue
    sctp_assoc: int = 0
    init_pending: bool = False  # test_bit(CF_INIT_PENDING, &con->flags)


def free_entry(k, e: writequeue_entry) -> None:
    pass  # __free_page(e->page); kfree(e);


def writequeue_entry_complete(k, e: writequeue_entry, completed: int) -> None:
    e.offset += completed
    e.len -= completed

    if e.len == 0 and e.users == 0:
        e.con.writequeue.remove(e)  # list_del(&e->list);
        k.free_entry(e)


def close_connection(k, con: connection, and_other: bool) -> None:
    """Close a remote connection and tidy up: here, release the socket."""
    # mutex_lock(&con->sock_mutex);
    if con.sock is not None:
        con.sock = None  # sock_release(con->sock); con->sock = NULL;
    # if (con->othercon && and_other) close_connection(con->othercon, false); ...
    # mutex_unlock(&con->sock_mutex);


def send_to_sock(k, con: connection) -> None:
    """Send a message."""
    ret = 0
    msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL
    count = 0

    # mutex_lock(&con->sock_mutex);
    if con.sock is None:
        # goto out_connect: mutex_unlock(&con->sock_mutex); lowcomms_connect_sock(con);
        return

    # spin_lock(&con->writequeue_lock);
    while True:
        if not con.writequeue:  # (struct list_head *) e == &con->writequeue
            break
        e = con.writequeue[0]

        len = e.len
        offset = e.offset
        if len == 0 and e.users == 0:
            raise Oops("BUG_ON(len == 0 && e->users == 0)")
        # spin_unlock(&con->writequeue_lock);

        ret = 0
        if len:
            if con.sock.ops.sendpage:  # kernel_sendpage(): sock->ops->sendpage(...)
                ret = k.kernel_sendpage(con.sock, e.page, offset, len, msg_flags)
            else:  # tcp_sendpage() without NETIF_F_SG, or no ->sendpage: sock_no_sendpage()
                ret = k.sock_no_sendpage(con.sock, e.page, offset, len, msg_flags)
            if ret == -EAGAIN or ret == 0:
                # if (ret == -EAGAIN && test_bit(SOCK_ASYNC_NOSPACE, &con->sock->flags) &&
                #     !test_and_set_bit(CF_APP_LIMITED, &con->flags)) {
                #         /* Notify TCP that we're limited by the application window size. */
                #         set_bit(SOCK_NOSPACE, ...); con->sock->sk->sk_write_pending++; }
                # cond_resched();
                return  # goto out: mutex_unlock(&con->sock_mutex);
            elif ret < 0:
                # goto send_error:
                # mutex_unlock(&con->sock_mutex);
                k.close_connection(con, False)
                # lowcomms_connect_sock(con);
                return

        # Don't starve people filling buffers
        count += 1
        if count >= _MAX_SEND_MSG_COUNT:
            # cond_resched();
            count = 0

        # spin_lock(&con->writequeue_lock);
        k.writequeue_entry_complete(e, ret)
    # spin_unlock(&con->writequeue_lock);
    # out: mutex_unlock(&con->sock_mutex);


def sctp_init_assoc(k, con: connection) -> None:
    """Send the first block off the write queue on the base socket: SCTP has no connecting
    without sending."""
    # mutex_lock(&con->sock_mutex);
    if con.init_pending:  # test_and_set_bit(CF_INIT_PENDING, &con->flags)
        return
    con.init_pending = True

    # nodeid_to_addr(con->nodeid, NULL, (struct sockaddr *)&rem_addr, con->try_new_addr): found
    base_con = con  # nodeid2con(0, 0): the base socket is the checker's socket (docstring)

    outmessage = k.msghdr()
    # outmessage.msg_name = &rem_addr; .msg_namelen = addrlen; .msg_control = outcmsg;
    outmessage.msg_flags = MSG_EOR

    # spin_lock(&con->writequeue_lock);
    if not con.writequeue:
        # log_print("writequeue empty for nodeid %d", con->nodeid);
        return

    e = con.writequeue[0]
    len = e.len
    offset = e.offset

    # Send the first block off the write queue
    iov = k.mem.alloc_array([k.kvec(iov_base=e.page + offset, iov_len=len)], name="sctp_init_assoc iov")
    # spin_unlock(&con->writequeue_lock);

    # cmsg: IPPROTO_SCTP/SCTP_SNDRCV, sinfo_ppid = cpu_to_le32(con->nodeid), SCTP_ADDR_OVER
    ret = k.kernel_sendmsg(base_con.sock, outmessage, iov, 1, len)
    if ret < 0:
        # log_print("Send first packet to node %d failed: %d", con->nodeid, ret);
        # Try again later
        # clear_bit(CF_CONNECT_PENDING, &con->flags);
        con.init_pending = False
    else:
        # spin_lock(&con->writequeue_lock);
        k.writequeue_entry_complete(e, ret)
        # spin_unlock(&con->writequeue_lock);
    # unlock: mutex_unlock(&con->sock_mutex);


def _sctp_assoc_up(con: connection) -> None:
    """process_sctp_notification(), SCTP_COMM_UP: the association is peeled off into the
    connection's socket (the same socket here) and send_to_sock() is queued."""
    con.sctp_assoc = 1  # new_con->sctp_assoc = sn->sn_assoc_change.sac_assoc_id;
    con.init_pending = False  # clear_bit(CF_INIT_PENDING, &new_con->flags);


def _process_send_sockets(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """process_send_sockets() (the dlm_send workqueue) runs send_to_sock() whenever the socket's
    write_space callback or a new commit queues the work, until the writequeue is empty. Each
    non-empty kvec is one committed writequeue entry (an empty one would have been freed at
    commit). A closed connection is reopened and the rest resent on a new socket: this one has
    failed."""
    con = k.connection(sock=sock)
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        if seg.iov_len:
            con.writequeue.append(k.writequeue_entry(page=seg.iov_base, offset=0, len=seg.iov_len,
                                                     end=seg.iov_len, users=0, con=con))
    if sock.sk.sk_prot.name == "SCTP":
        # lowcomms_connect_sock(con) -> con->connect_action = sctp_init_assoc, until it went
        while con.writequeue and not con.sctp_assoc:
            first = con.writequeue[0]
            sent_before = first.offset
            k.sctp_init_assoc(con)
            if first.offset != sent_before:  # the first block went: the association comes up
                _sctp_assoc_up(con)
            elif sock.sk.sk_shutdown:
                return -EPIPE  # the association is lost: dlm starts another (docstring)
    while con.writequeue:
        if con.sock is None:
            return -EPIPE  # close_connection(): the rest goes out on another connection
        k.send_to_sock(con)
    return total


USERS = (
    User("send_to_sock", "fs/dlm/lowcomms.c", SEND, ("tcp", "sctp"), _process_send_sockets,
         note="writequeue_entry_complete() advances e->offset; kvec via sock_no_sendpage; SCTP: sctp_init_assoc first"),
)
