"""net/sunrpc/xprtsock.c (v3.18): the RPC client's socket transmit, xs_sendpages() over
xs_send_kvec(), as xs_tcp_send_request(), xs_udp_send_request() and xs_local_send_request()
use it.

xs_send_kvec() builds a fresh one-element kvec ``{vec->iov_base + base, vec->iov_len - base}``
for every call and sends it with MSG_DONTWAIT | MSG_NOSIGNAL (plus MSG_MORE while more of the
record follows). xs_sendpages() walks the xdr_buf (head kvec, pages, tail kvec) from ``base``
and adds what went out to ``*sent_p``, returning 0 or the error that stopped it. The callers
keep the progress in ``req->rq_bytes_sent``: the stream transports (TCP, AF_LOCAL) add the count
and call again from there; a short count, -EAGAIN or -ENOBUFS ends in xs_nospace(), the task
sleeps until the socket has room and call_transmit() sends again from ``rq_bytes_sent``. UDP
never advances ``rq_bytes_sent``: a datagram is resent whole. Indifferent to what the protocol
does to the kvec.

Simplified: an xdr_buf of a head kvec and a tail kvec, no page data (xs_send_pagedata() goes
through ->sendpage, not kernel_sendmsg(); ``page_len`` is 0); the stream record marker that
xs_encode_stream_record_marker() writes into the first four bytes of head[0] is not written (the
message stands for the marked record); xs_nospace() is reduced to -EAGAIN on a connected
transport, xs_close()/xs_tcp_shutdown() and the SOCK_ASYNC_NOSPACE bits to comments. UDP is sent
to the connected peer (msg_name NULL where the kernel passes xs_addr(xprt)). ``int *sent_p``
is a one-element list. The 3.18 form of xs_sendpages(), with ``zerocopy`` and ``sent_p``, and the
callers' -ENOBUFS to xs_nospace() are read in net/sunrpc/xprtsock.c:449,716-781@3.18.9.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN, ENOBUFS, ENOTCONN, ENOTSOCK
from model.kernel import NULL, Ptr
from model.socket_h import MSG_DONTWAIT, MSG_MORE, MSG_NOSIGNAL
from model.users import SEND, User

XS_SENDMSG_FLAGS = MSG_DONTWAIT | MSG_NOSIGNAL

# EPERM (include/uapi/asm-generic/errno-base.h). Kept out of model.errno, which names the values
# reports print: there -1 is the bare "return -1" of users such as iscsit_do_tx_data().
_EPERM = 1


@dataclass(slots=True)
class xdr_buf:
    head: Ptr  # struct kvec head[1]: here a pointer to the one kvec
    tail: Ptr  # struct kvec tail[1]
    page_len: int = 0  # length of page data (none in the model)
    len: int = 0  # length of XDR encoded message


@dataclass(slots=True)
class rpc_rqst:
    rq_snd_buf: xdr_buf
    rq_slen: int = 0  # length of the request
    rq_bytes_sent: int = 0  # bytes we have sent
    rq_xmit_bytes_sent: int = 0  # total bytes sent


@dataclass(slots=True)
class sock_xprt:
    sock: object  # struct socket *
    connected: bool = True  # xprt_connected(xprt), xprt_bound(xprt)


@dataclass(slots=True)
class rpc_task:
    tk_rqstp: rpc_rqst
    tk_xprt: sock_xprt  # container_of(task->tk_rqstp->rq_xprt, struct sock_xprt, xprt)
    tk_flags: int = 0


def xs_send_kvec(k, sock, addr: Ptr, addrlen: int, vec: Ptr, base: int, more: int) -> int:
    msg = k.msghdr()
    msg.msg_name = addr
    msg.msg_namelen = addrlen
    msg.msg_flags = XS_SENDMSG_FLAGS | (MSG_MORE if more else 0)
    v = k.mem.elem(vec)
    iov_base = v.iov_base + base
    iov_len = v.iov_len - base

    if iov_len != 0:
        iov = k.mem.alloc_array([k.kvec(iov_base=iov_base, iov_len=iov_len)], name="xs_send_kvec iov")
        return k.kernel_sendmsg(sock, msg, iov, 1, iov_len)
    return k.kernel_sendmsg(sock, msg, NULL, 0, 0)


def xs_sendpages(k, sock, addr: Ptr, addrlen: int, xdr: xdr_buf, base: int, zerocopy: bool, sent_p: list[int]) -> int:
    """Write pages directly to a socket: 0 or the error that stopped it; the bytes queued are
    added to ``*sent_p`` (``sent_p[0]`` here) (net/sunrpc/xprtsock.c:449-494@3.18.9)."""
    remainder = xdr.len - base
    err = 0

    if sock is None:
        return -ENOTSOCK

    # clear_bit(SOCK_ASYNC_NOSPACE, &sock->flags);
    if base != 0:
        addr = NULL
        addrlen = 0

    head = k.mem.elem(xdr.head)
    if base < head.iov_len or addr != NULL:
        len = head.iov_len - base
        remainder -= len
        err = k.xs_send_kvec(sock, addr, addrlen, xdr.head, base, remainder != 0)
        if remainder == 0 or err != len:
            return _xs_sendpages_out(err, sent_p)
        sent_p[0] += err
        base = 0
    else:
        base -= head.iov_len

    # if (base < xdr->page_len) { ... err = xs_send_pagedata(sock, xdr, base, remainder != 0,
    # zerocopy, &sent); *sent_p += sent; ... }: no page data in the model (xdr->page_len == 0)
    base -= xdr.page_len

    if base >= k.mem.elem(xdr.tail).iov_len:
        return 0
    err = k.xs_send_kvec(sock, NULL, 0, xdr.tail, base, 0)
    return _xs_sendpages_out(err, sent_p)


def _xs_sendpages_out(err: int, sent_p: list[int]) -> int:
    """xs_sendpages()'s ``out:`` label: a count is added to ``*sent_p`` and becomes 0."""
    if err > 0:
        sent_p[0] += err
        err = 0
    return err


def xs_nospace(k, task: rpc_task) -> int:
    """Place task on wait queue if transmit was incomplete: -EAGAIN (it sleeps until the socket
    has room), or -ENOTCONN when the transport was disconnected."""
    ret = -EAGAIN
    if task.tk_xprt.connected:
        # if (test_bit(SOCK_ASYNC_NOSPACE, ...)) { set_bit(SOCK_NOSPACE, ...);
        #     xprt_wait_for_buffer_space(task, xs_nospace_callback); }
        pass
    else:
        ret = -ENOTCONN
    return ret


def xs_tcp_send_request(k, task: rpc_task) -> int:
    """Write an RPC request to a TCP socket: 0 when sent, -EAGAIN to be called again later
    (net/sunrpc/xprtsock.c:716-781@3.18.9)."""
    req = task.tk_rqstp
    transport = task.tk_xprt
    xdr = req.rq_snd_buf
    zerocopy = True

    # xs_encode_stream_record_marker(&req->rq_snd_buf): not written, see the module docstring

    # Don't use zero copy if this is a resend. If the RPC call completes while the socket holds
    # a reference to the pages, then we may end up resending corrupted data.
    # if (task->tk_flags & RPC_TASK_SENT) zerocopy = false;

    # Continue transmitting the packet/record. We must be careful to cope with writespace
    # callbacks arriving _after_ we have called sendmsg().
    while True:
        sent = [0]
        status = k.xs_sendpages(transport.sock, NULL, 0, xdr, req.rq_bytes_sent, zerocopy, sent)

        # dprintk("RPC:       xs_tcp_send_request(%u) = %d\n", ...);

        if sent[0] == 0 and status < 0:
            break

        # If we've sent the entire packet, immediately reset the count of bytes sent.
        req.rq_bytes_sent += sent[0]
        req.rq_xmit_bytes_sent += sent[0]
        if req.rq_bytes_sent >= req.rq_slen:
            req.rq_bytes_sent = 0
            return 0

        if sent[0] != 0:
            continue
        status = -EAGAIN
        break

    if status == -ENOTSOCK:
        status = -ENOTCONN
        # Should we call xs_close() here?
    elif status in (-ENOBUFS, -EAGAIN):
        status = k.xs_nospace(task)
    else:
        # default: "sendmsg returned unrecognized error"; case -ECONNRESET: xs_tcp_shutdown(xprt);
        # case -ECONNREFUSED: case -ENOTCONN: case -EPIPE: clear_bit(SOCK_ASYNC_NOSPACE, ...);
        pass
    return status


def xs_udp_send_request(k, task: rpc_task) -> int:
    """Write an RPC request to a UDP socket: 0 when sent, -EAGAIN to be called again later
    (net/sunrpc/xprtsock.c:626-680@3.18.9)."""
    req = task.tk_rqstp
    transport = task.tk_xprt
    xdr = req.rq_snd_buf
    sent = [0]

    if not transport.connected:  # !xprt_bound(xprt)
        return -ENOTCONN
    status = k.xs_sendpages(transport.sock, NULL, 0, xdr, req.rq_bytes_sent, True, sent)

    # firewall is blocking us, don't return -EAGAIN or we end up looping
    if status != -_EPERM and (sent[0] > 0 or status == 0):
        req.rq_xmit_bytes_sent += sent[0]
        if sent[0] >= req.rq_slen:
            return 0
        # Still some bytes left; set up for a retry later.
        status = -EAGAIN

    # process_status:
    if status == -ENOTSOCK:
        status = -ENOTCONN
        # Should we call xs_close() here?
    elif status == -EAGAIN:
        status = k.xs_nospace(task)
    else:
        # default: "sendmsg returned unrecognized error", then as for -ENETUNREACH, -ENOBUFS,
        # -EPIPE, -ECONNREFUSED, -EPERM: clear_bit(SOCK_ASYNC_NOSPACE, &transport->sock->flags);
        pass
    return status


def xs_local_send_request(k, task: rpc_task) -> int:
    """Write an RPC request to an AF_LOCAL socket: 0 when sent, -EAGAIN to be called again,
    -ENOTCONN when the caller must reconnect (net/sunrpc/xprtsock.c:570-614@3.18.9)."""
    req = task.tk_rqstp
    transport = task.tk_xprt
    xdr = req.rq_snd_buf
    sent = [0]

    # xs_encode_stream_record_marker(&req->rq_snd_buf): not written, see the module docstring

    status = k.xs_sendpages(transport.sock, NULL, 0, xdr, req.rq_bytes_sent, True, sent)
    if sent[0] > 0 or status == 0:
        req.rq_bytes_sent += sent[0]
        req.rq_xmit_bytes_sent += sent[0]
        if req.rq_bytes_sent >= req.rq_slen:
            req.rq_bytes_sent = 0
            return 0
        status = -EAGAIN

    if status in (-ENOBUFS, -EAGAIN):
        return k.xs_nospace(task)
    # default: "sendmsg returned unrecognized error"; case -EPIPE:
    # xs_close(xprt);
    status = -ENOTCONN
    return status


def _task(k, sock, vec: Ptr, nr_segs: int) -> rpc_task:
    head = vec
    tail = vec + 1 if nr_segs > 1 else k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0)], name="xdr tail")
    xdr = k.xdr_buf(head=head, tail=tail)
    xdr.len = k.mem.elem(head).iov_len + xdr.page_len + k.mem.elem(tail).iov_len
    req = k.rpc_rqst(rq_snd_buf=xdr, rq_slen=xdr.len)
    return k.rpc_task(tk_rqstp=req, tk_xprt=k.sock_xprt(sock=sock))


def _transmit_tcp(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """call_transmit()/xprt_transmit()'s use: -EAGAIN puts the task to sleep until the socket has
    room, then it transmits again from rq_bytes_sent; another error fails (or reconnects and
    resends on a new connection, which this socket does not see)."""
    task = _task(k, sock, vec, nr_segs)
    while True:
        status = k.xs_tcp_send_request(task)
        if status != -EAGAIN:
            return status if status < 0 else total


def _transmit_udp(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """As for TCP; a datagram that did not go out whole is sent again whole."""
    task = _task(k, sock, vec, nr_segs)
    while True:
        status = k.xs_udp_send_request(task)
        if status != -EAGAIN:
            return status if status < 0 else total


def _transmit_local(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    task = _task(k, sock, vec, nr_segs)
    while True:
        status = k.xs_local_send_request(task)
        if status != -EAGAIN:
            return status if status < 0 else total


USERS = (
    User("xs_tcp_send_request", "net/sunrpc/xprtsock.c", SEND, ("tcp",), _transmit_tcp, max_segs=2,
         note="xs_send_kvec: a fresh kvec from base each call; rq_bytes_sent carries progress"),
    User("xs_udp_send_request", "net/sunrpc/xprtsock.c", SEND, ("udp",), _transmit_udp, max_segs=1,
         note="one datagram per request, resent whole after -EAGAIN (head only: no MSG_MORE corking)"),
    User("xs_local_send_request", "net/sunrpc/xprtsock.c", SEND, ("unix",), _transmit_local, max_segs=2,
         note="AF_LOCAL (rpcbind): as TCP, rq_bytes_sent carries progress"),
)
