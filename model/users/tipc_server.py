"""net/tipc/server.c (v3.18): tipc_send_to_sock(), the TIPC topology/config server's send of its
queued events.

Each queued outqueue_entry holds one kvec over a kmalloc'd copy of the message. The work item
sends the head entry with MSG_DONTWAIT through kernel_sendmsg(sock, &msg, &e->iov, 1,
e->iov.iov_len); -EWOULDBLOCK or 0 leaves the entry queued ("retry later": sock_write_space()
queues the work again), another error closes the connection, and any positive count frees the
entry: a short count is treated as complete. On the TIPC SOCK_SEQPACKET (topology server) and
SOCK_RDM (config server) sockets it runs over, a send is all or nothing, so that is sound there;
over a byte stream that can return a short count it would lose the rest of the entry.

TIPC itself is not modelled. The user is declared over UDP, the modelled protocol with the semantics
this loop depends on: a message goes out whole or not at all, and a send that fails leaves the kvec
alone (TIPC builds its messages with memcpy_fromiovecend(), by offset), so a retried entry is sent
again from its start. TCP and AF_UNIX stream return short counts, which this loop would take for
complete (BROKEN: the rest of the entry is lost). L2CAP, although a SOCK_SEQPACKET like TIPC's
topology server, is no stand-in: in 3.18 it consumes the kvec with memcpy_fromiovec() fragment by
fragment and can then fail with -EAGAIN (the next fragment's bt_skb_send_alloc() under
MSG_DONTWAIT), so the retried entry would start past its head; netlink likewise consumes the kvec
before netlink_unicast() can fail with -EAGAIN. Simplified: tipc_conn_sendmsg() takes the connection
rather than a conid looked up in the server's idr; references (conn_get/conn_put), locks and
cond_resched() are comments; tipc_close_conn() is reduced to clearing CF_CONNECTED and shutting the
socket down. Source: net/tipc/server.c as in 3.16-4.x (outqueue entries with an embedded kvec).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EPIPE, EWOULDBLOCK
from model.kernel import NULL, Ptr
from model.net_h import SOCK_DGRAM, SOCK_SEQPACKET
from model.socket_h import MSG_DONTWAIT
from model.users import SEND, User

_MAX_SEND_MSG_COUNT = 25  # #define MAX_SEND_MSG_COUNT 25 (file-local; dlm's lowcomms.c has its own)
_CF_CONNECTED = 1  # #define CF_CONNECTED 1 (file-local)
_SOCK_RDM = 4  # include/linux/net.h; not in model/net_h.py


@dataclass(slots=True)
class tipc_server:
    type: int = SOCK_SEQPACKET  # the topology server's socket type


@dataclass(slots=True, eq=False)  # list_del() unlinks this entry, not an equal one
class outqueue_entry:
    iov: Ptr  # struct kvec iov: here a pointer to the one kvec
    dest: Ptr = NULL  # struct sockaddr_tipc dest


@dataclass(slots=True)
class tipc_conn:
    sock: object  # struct socket *
    server: tipc_server = field(default_factory=tipc_server)
    flags: int = _CF_CONNECTED
    outqueue: list = field(default_factory=list)  # struct list_head outqueue


def tipc_alloc_entry(k, data: Ptr, len: int) -> outqueue_entry:
    buf = k.mem.alloc_bytes(k.mem.read(data, len), name="outqueue entry buf")  # kmalloc + memcpy
    iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=len)], name="outqueue entry iov")
    return k.outqueue_entry(iov=iov)


def tipc_free_entry(k, e: outqueue_entry) -> None:
    pass  # kfree(e->iov.iov_base); kfree(e);


def tipc_close_conn(k, con: tipc_conn) -> None:
    if con.flags & _CF_CONNECTED:  # test_and_clear_bit(CF_CONNECTED, &con->flags)
        con.flags &= ~_CF_CONNECTED
        # s->tipc_conn_shutdown(con->conid, con->usr_data); idr_remove(...);
        # tipc_unregister_callbacks(con);
        # kernel_sock_shutdown(con->sock, SHUT_RDWR);
        # conn_put(con);


def tipc_conn_sendmsg(k, s: tipc_server, con: tipc_conn, addr: Ptr, data: Ptr, len: int) -> int:
    """Queue a copy of the message and the send work (the con is passed, not looked up)."""
    e = k.tipc_alloc_entry(data, len)
    if addr != NULL:
        e.dest = addr  # memcpy(&e->dest, addr, sizeof(struct sockaddr_tipc));
    con.outqueue.append(e)  # list_add_tail(&e->list, &con->outqueue);
    # if (test_bit(CF_CONNECTED, &con->flags)) queue_work(s->send_wq, &con->swork)
    return 0


def tipc_send_to_sock(k, con: tipc_conn) -> None:
    count = 0
    s = con.server

    # spin_lock_bh(&con->outqueue_lock);
    while True:
        if not con.outqueue:  # (struct list_head *) e == &con->outqueue
            break
        e = con.outqueue[0]
        # spin_unlock_bh(&con->outqueue_lock);

        msg = k.msghdr()  # memset(&msg, 0, sizeof(msg));
        msg.msg_flags = MSG_DONTWAIT

        if s.type == SOCK_DGRAM or s.type == _SOCK_RDM:
            msg.msg_name = e.dest
            # msg.msg_namelen = sizeof(struct sockaddr_tipc);
        ret = k.kernel_sendmsg(con.sock, msg, e.iov, 1, k.mem.elem(e.iov).iov_len)
        if ret == -EWOULDBLOCK or ret == 0:
            # cond_resched();
            return  # goto out
        elif ret < 0:
            k.tipc_close_conn(con)  # goto send_err
            return

        # Don't starve users filling buffers
        count += 1
        if count >= _MAX_SEND_MSG_COUNT:
            # cond_resched();
            count = 0

        # spin_lock_bh(&con->outqueue_lock);
        con.outqueue.remove(e)  # list_del(&e->list);
        k.tipc_free_entry(e)
    # spin_unlock_bh(&con->outqueue_lock);


def _send_work(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """The subscription code queues each event with tipc_conn_sendmsg() (an event is never
    empty); tipc_send_work() runs tipc_send_to_sock() whenever sock_write_space() queues it,
    while the connection is up. The events are all sent once the outqueue is empty."""
    con = k.tipc_conn(sock=sock)
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        if seg.iov_len:
            k.tipc_conn_sendmsg(con.server, con, NULL, seg.iov_base, seg.iov_len)
    while con.outqueue:
        if not con.flags & _CF_CONNECTED:
            return -EPIPE  # tipc_close_conn(): the subscriber's connection is gone
        k.tipc_send_to_sock(con)  # tipc_send_work()
    return total


USERS = (
    User("tipc_send_to_sock", "net/tipc/server.c", SEND, ("udp",), _send_work,
         note="TIPC not modelled, UDP stands in (all or nothing, kvec untouched); a short count frees the entry"),
)
