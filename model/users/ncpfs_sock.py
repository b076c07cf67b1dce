"""fs/ncpfs/sock.c (v3.18): __ncptcp_try_send() and ncpdgram_send(), the NCP request send over
TCP and over UDP.

The request keeps its kvecs in ``rq->tx_iov[3]`` with ``tx_ciov`` pointing at the first one not
yet sent. Every attempt memcpy()s ``tx_iovlen`` kvecs from ``tx_ciov`` into a local ``iovc[3]``
("sock_sendmsg updates iov pointers for us :-(") and sends that copy with MSG_NOSIGNAL |
MSG_DONTWAIT; after a short send it advances its master copy itself (``tx_totallen``,
``tx_ciov``, ``tx_iovlen`` and the partial kvec). -EAGAIN returns to wait for
ncp_tcp_write_space(), which schedules the tx work (ncp_tcp_tx_proc) to try again; another error
aborts the request. Robust whatever the protocol does to the kvec it is handed.

Simplified: the request is the caller's kvecs (ncptcp_start_request() puts its signature/TCP
header in tx_iov[0]; here the first kvec stands for it); mutexes and the request queue are
comments. Source: fs/ncpfs/sock.c as in 3.1x.

UDP (fs/ncpfs/sock.c:206-213, :264-291, :473-499@3.18.9): ncpdgram_start_request() points
``tx_ciov`` at ``tx_iov[1]`` (``tx_iov[0]`` is the TCP header slot), puts the request in
``server->rcv.creq`` to await its reply and sends it with ncpdgram_send(), which memcpy()s the
kvecs into a local ``vec[3]`` (the same comment) and sends the copy once with MSG_DONTWAIT; the
result is ignored. The reply timer (__ncpdgram_timeout_proc()) sends the whole datagram again,
as often as ``m.retry_count`` allows on a soft mount and for ever on a hard one; the request is
done when ncpdgram_rcv_proc() takes its reply. The kvecs are never advanced: a datagram goes
whole or not at all.

Simplified (UDP): the packet is the caller's first kvec (``tx_iov[1]``, ``server->packet``), and
a second one is the signature sign_packet() would append in ``tx_iov[2]`` (packet signing on);
ncp_init_header() writes the connection and sequence numbers into the packet, which here are the
checker's bytes. The world's server answers a request when it arrives, before the reply timer
fires (a slower server would see the datagram twice; NCP's sequence number makes that harmless):
ncpdgram_rcv_proc()'s NCP_REPLY branch is the model's ``_ncpdgram_reply``. The mount is hard
(the default: NCP_MOUNT_SOFT not set).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EAGAIN, EIO, ETIMEDOUT
from model.kernel import NULL, Ptr
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL
from model.users import SEND, User

# enum { RQ_DONE, RQ_INPROGRESS, RQ_QUEUED, RQ_IDLE } status (inside struct ncp_request_reply)
_RQ_DONE = 0
_RQ_INPROGRESS = 1
_RQ_QUEUED = 2
_RQ_IDLE = 3


@dataclass(slots=True)
class ncp_request_reply:
    tx_iov: Ptr  # struct kvec tx_iov[3]
    tx_ciov: Ptr = NULL  # struct kvec *
    tx_totallen: int = 0
    tx_iovlen: int = 0
    result: int = 0
    status: int = _RQ_IDLE


@dataclass(slots=True)
class _ncp_creq:
    """The anonymous ``struct { ... struct ncp_request_reply *creq; ... }`` of server->tx/rcv."""

    creq: ncp_request_reply | None = None


NCP_MOUNT_SOFT = 0x0001  # include/uapi/linux/ncp_mount.h
_NCP_RETRY_COUNT = 20  # m.retry_count as ncp_fill_super() defaults it [INF: fs/ncpfs/inode.c not read]


@dataclass(slots=True)
class ncp_mount_data_kernel:
    flags: int = 0
    retry_count: int = _NCP_RETRY_COUNT


@dataclass(slots=True)
class ncp_server:
    ncp_sock: object  # struct socket *
    tx: _ncp_creq = field(default_factory=_ncp_creq)
    rcv: _ncp_creq = field(default_factory=_ncp_creq)
    conn_valid: int = 1  # ncp_conn_valid(server)
    m: ncp_mount_data_kernel = field(default_factory=ncp_mount_data_kernel)
    timeout_retries: int = 0


def do_send(k, sock, vec: Ptr, count: int, len: int, flags: int) -> int:
    msg = k.msghdr()
    msg.msg_flags = flags
    return k.kernel_sendmsg(sock, msg, vec, count, len)


def ncp_finish_request(k, req: ncp_request_reply, result: int) -> None:
    req.result = result
    req.status = _RQ_DONE
    # wake_up_all(&req->wq);


def __abort_ncp_connection(k, server: ncp_server, aborted: ncp_request_reply, err: int) -> None:
    server.conn_valid = 0  # ncp_invalidate_conn(server); del_timer(&server->timeout_tm);
    # the queued requests (server->tx.requests) fail with -EIO; none in the model
    req = server.rcv.creq
    if req is not None:
        server.rcv.creq = None
        k.ncp_finish_request(req, err if req is aborted else -EIO)
    req = server.tx.creq
    if req is not None:
        server.tx.creq = None
        k.ncp_finish_request(req, err if req is aborted else -EIO)


def __ncp_abort_request(k, server: ncp_server, req: ncp_request_reply, err: int) -> None:
    # If req is done, we got signal, but we also received answer...
    if req.status in (_RQ_IDLE, _RQ_DONE):
        pass
    elif req.status == _RQ_QUEUED:
        # list_del_init(&req->req);
        k.ncp_finish_request(req, err)
    elif req.status == _RQ_INPROGRESS:
        k.__abort_ncp_connection(server, req, err)


def __ncptcp_try_send(k, server: ncp_server) -> None:
    rq = server.tx.creq
    if rq is None:
        return

    # sock_sendmsg updates iov pointers for us :-(
    iovc = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(3)], name="iovc[3]")
    for i in range(rq.tx_iovlen):  # memcpy(iovc, rq->tx_ciov, rq->tx_iovlen * sizeof(iov[0]));
        src = k.mem.elem(rq.tx_ciov + i)
        dst = k.mem.elem(iovc + i)
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
    result = k.do_send(server.ncp_sock, iovc, rq.tx_iovlen, rq.tx_totallen, MSG_NOSIGNAL | MSG_DONTWAIT)

    if result == -EAGAIN:
        return

    if result < 0:
        # printk(KERN_ERR "ncpfs: tcp: Send failed: %d\n", result);
        k.__ncp_abort_request(server, rq, result)
        return
    if result >= rq.tx_totallen:
        server.rcv.creq = rq
        server.tx.creq = None
        return
    rq.tx_totallen -= result
    iov = rq.tx_ciov
    while k.mem.elem(iov).iov_len <= result:
        result -= k.mem.elem(iov).iov_len
        iov = iov + 1
        rq.tx_iovlen -= 1
    seg = k.mem.elem(iov)
    seg.iov_base = seg.iov_base + result
    seg.iov_len -= result
    rq.tx_ciov = iov


def ncpdgram_send(k, sock, req: ncp_request_reply) -> int:
    # sock_sendmsg updates iov pointers for us :-(
    vec = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(3)], name="vec[3]")
    for i in range(req.tx_iovlen):  # memcpy(vec, req->tx_ciov, req->tx_iovlen * sizeof(vec[0]));
        src = k.mem.elem(req.tx_ciov + i)
        dst = k.mem.elem(vec + i)
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
    return k.do_send(sock, vec, req.tx_iovlen, req.tx_totallen, MSG_DONTWAIT)


def ncpdgram_start_request(k, server: ncp_server, req: ncp_request_reply) -> None:
    req.tx_ciov = req.tx_iov + 1

    # h = req->tx_iov[1].iov_base; ncp_init_header(server, req, h);
    req.status = _RQ_INPROGRESS
    # signlen = sign_packet(...): the signature kvec, if any, is already tx_iov[2] (docstring)
    server.rcv.creq = req
    # server->timeout_last = server->m.time_out;
    server.timeout_retries = server.m.retry_count
    k.ncpdgram_send(server.ncp_sock, req)
    # mod_timer(&server->timeout_tm, jiffies + server->m.time_out);


def __ncpdgram_timeout_proc(k, server: ncp_server) -> None:
    # If timer is pending, we are processing another request...: it has just fired here
    req = server.rcv.creq
    if req is not None:
        if server.m.flags & NCP_MOUNT_SOFT:
            if server.timeout_retries == 0:
                server.timeout_retries -= 1
                k.__ncp_abort_request(server, req, -ETIMEDOUT)
                return
            server.timeout_retries -= 1
        # Ignore errors
        k.ncpdgram_send(server.ncp_sock, req)
        # timeout = server->timeout_last << 1; ... mod_timer(&server->timeout_tm, jiffies + timeout);


def _ncpdgram_reply(k, server: ncp_server) -> None:
    """ncpdgram_rcv_proc() when the server's reply to ``rcv.creq`` arrives (NCP_REPLY): the
    server answers a request that has reached it whole (module docstring)."""
    req = server.rcv.creq
    sent = server.ncp_sock.sk.peer.datagrams
    if req is None or not sent:
        return
    # result = _recv(sock, server->rxbuf, req->datalen, MSG_DONTWAIT); del_timer(...);
    server.rcv.creq = None
    k.ncp_finish_request(req, len(sent[0]))
    # __ncp_next_request(server);


def _ncp_dgram_rpc_call(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """do_ncp_rpc_call() over UDP: the request is sent, then the reply timer resends it until
    ncpdgram_rcv_proc() finishes it with the reply (success) or a soft mount gives up."""
    server = k.ncp_server(ncp_sock=sock)
    tx_iov = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(3)], name="tx_iov[3]")
    for i in range(nr_segs):  # tx_iov[1] = the packet, tx_iov[2] = its signature
        src = k.mem.elem(vec + i)
        dst = k.mem.elem(tx_iov + 1 + i)
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
    rq = k.ncp_request_reply(tx_iov=tx_iov, tx_totallen=total, tx_iovlen=nr_segs)
    k.ncpdgram_start_request(server, rq)
    while rq.status != _RQ_DONE:
        _ncpdgram_reply(k, server)
        if rq.status != _RQ_DONE:
            k.__ncpdgram_timeout_proc(server)  # the reply timer fires
    return total if rq.result >= 0 else rq.result


def _do_ncp_rpc_call(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """ncptcp_start_request() tries once; ncp_tcp_write_space() schedules ncp_tcp_tx_proc(),
    which tries again while ``server->tx.creq`` is set. The request is sent once it moves to
    ``server->rcv.creq`` (awaiting the reply); an aborted request carries its error."""
    server = k.ncp_server(ncp_sock=sock)
    rq = k.ncp_request_reply(tx_iov=vec, tx_ciov=vec, tx_totallen=total, tx_iovlen=nr_segs,
                             status=_RQ_INPROGRESS)
    server.tx.creq = rq
    k.__ncptcp_try_send(server)
    while server.tx.creq is rq:
        k.__ncptcp_try_send(server)  # ncp_tcp_tx_proc(), on write space
    if rq.status == _RQ_DONE:
        return rq.result
    return total


USERS = (
    User("__ncptcp_try_send", "fs/ncpfs/sock.c", SEND, ("tcp",), _do_ncp_rpc_call,
         max_segs=3,  # ncp_do_request() builds at most 3 kvecs, the size of iovc[3]
         note="sends a copy of tx_ciov (iovc[3]); advances its master copy itself"),
    User("ncpdgram_send", "fs/ncpfs/sock.c", SEND, ("udp",), _ncp_dgram_rpc_call,
         max_segs=2,  # the packet, and its signature when signing is on
         note="sends a copy of tx_ciov (vec[3]) once; the reply timer resends the whole datagram"),
)
