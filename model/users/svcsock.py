"""net/sunrpc/svcsock.c + include/linux/sunrpc/svcsock.h (v3.18): the RPC server's socket I/O.

Send (svc_sendto() and svc_send_common(), net/sunrpc/svcsock.c:234 and :175@3.18.9): the reply
is an xdr_buf (head kvec, page data, tail kvec) and goes out with one kernel_sendpage() call for
the head, one per page and one for the tail, with MSG_MORE while more follows; each call's count
is checked against what it asked for and a short count ends the send. Over UDP svc_sendto()
first corks the socket with sock_sendmsg(sock, &msg, 0) carrying MSG_MORE and an IP_PKTINFO
control message (:249-262), so the pages join that one datagram. svc_tcp_sendto() (:1184) takes a
count short of ``xdr->len`` as a failure: it marks the transport XPT_CLOSE and returns -EAGAIN;
svc_udp_sendto() (:650) sends once more after -ECONNREFUSED (an ICMP error of an earlier
request). Nothing is retried from where it stopped, and no kvec the caller owns is passed down.

Which ->sendpage runs: tcp_sendpage() calls sock_no_sendpage() on a route without NETIF_F_SG or
checksum offload (net/ipv4/tcp.c:1016-1019@3.18.9), udp_sendpage() when ip_append_page() says
-EOPNOTSUPP, i.e. a device without NETIF_F_SG (net/ipv4/udp.c:1142-1145, ip_output.c:1188@3.18.9).
sock_no_sendpage() is kmap + a one-element kvec kernel_sendmsg() (model/users/core_sock.py): that
is the path modelled, over both protocols. The model's kernel_sendpage() dispatches to
``->sendpage`` only and inet's ops have none here, so svc_send_common() calls sock_no_sendpage()
itself, as dlm's and the sendfile user's models do. The model's UDP has no cork
(model/proto/udp.py): the 0-byte corking send goes out as an empty datagram and each piece as a
datagram of its own, which moves datagram boundaries only, never the bytes or the counts.

Receive (svc_recvfrom() and svc_partial_recvfrom(), :317 and :343, as svc_tcp_recvfrom() :1082
reads the body of a record): every call rebuilds ``rqstp->rq_vec`` from the request's pages with
copy_pages_to_kvecs() (:1055), then svc_partial_recvfrom() skips the ``base`` bytes already read
(``svsk->sk_datalen``, kept with the pages across calls by svc_tcp_save_pages() and
svc_tcp_restore_pages()), shifting the first unfilled kvec by what is left of ``base`` and
restoring it after the call; svc_recvfrom() is one kernel_recvmsg() with MSG_DONTWAIT. The
progress is ``sk_tcplen``/``sk_datalen``, advanced by the count. -EAGAIN (or a short count)
leaves the record incomplete until the socket's data_ready callback queues the transport again;
another error closes it (XPT_CLOSE). Indifferent to what the protocol does to the kvecs: they
are rebuilt on every call. svc_udp_recvfrom() (:537) does not use svc_recvfrom(): it peeks with
kernel_recvmsg(sock, &msg, NULL, 0, 0, MSG_PEEK | MSG_DONTWAIT) and takes the skb itself
(skb_recv_datagram(), csum_partial_copy_to_xdr()), so only TCP is a receive cell here.

Simplified, and why no caller can tell:

* The reply's and the request's bytes are the caller's kvecs. Send: the first is ``head[0]``,
  the last ``tail[0]`` (with two or more), those between are page data; a page holds one of them
  (the first at the end of its page, ``page_base = PAGE_SIZE - length``, the next at the start of
  the following one), so at most two pages (max_segs 4). The head and the tail are separate
  allocations, and svc_sendto() passes each one's own page where the kernel passes
  ``rq_respages[0]`` for both. Receive: each kvec is one page of ``rq_pages``, as long as the
  kvec (copy_pages_to_kvecs() gives every page PAGE_SIZE bytes).
* The record marker: svc_tcp_sendto() writes it into the first 4 bytes of ``head[0]``, and
  svc_tcp_recv_record() reads it off the stream before the body. Neither is in the checker's
  message: the reply stands for the marked record, and the receive starts with the marker read
  (``sk_tcplen == 4``, ``sk_reclen`` a last fragment of the message's length).
* svc_tcp_recvfrom()'s checks of the record's content are left out: ``sk_datalen < 8`` ("client
  is nuts") and the call direction word (a reply goes to receive_cb_reply()); the checker's bytes
  are shorter than any RPC header, and the record stands for a call.
* svc_tcp_state_change(), the socket callback that sets XPT_CLOSE when the peer shuts the
  connection down, is the model's ``_svc_tcp_state_change``; svc_recv()/svc_xprt_enqueue() and
  the server threads are the users' entries; locks, stats and dprintk are comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EAGAIN, ECONNREFUSED, EIO, ENOTCONN
from model.in_h import IPPROTO_TCP, IPPROTO_UDP
from model.kernel import NULL, Ptr
from model.net_h import SOCK_DGRAM
from model.sock import RCV_SHUTDOWN
from model.socket_h import MSG_DONTWAIT, MSG_MORE
from model.users import RECV, SEND, User
from model.users.sunrpc_xprtsock import xdr_buf

_PAGE_SIZE = 4096  # PAGE_SIZE (asm/page.h; not linked from here)

# include/linux/sunrpc/svc_xprt.h: bits of xpt_flags
XPT_DATA = 1 << 1  # data pending
XPT_CLOSE = 1 << 2  # dead or dying

# include/linux/sunrpc/msg_prot.h
RPC_LAST_STREAM_FRAGMENT = 1 << 31
RPC_FRAGMENT_SIZE_MASK = ~RPC_LAST_STREAM_FRAGMENT & 0xFFFFFFFF
_RPC_FRAGHDR_SIZE = 4  # sizeof(rpc_fraghdr)

_SV_MAX_MESG = 1 << 20  # serv->sv_max_mesg: far above any record here


@dataclass(slots=True)
class svc_xprt:
    xpt_flags: int = 0


@dataclass(slots=True)
class svc_sock:
    sk_sock: object  # struct socket *
    sk_xprt: svc_xprt = field(default_factory=svc_xprt)
    sk_reclen: int = 0  # __be32 record marker, host order here
    sk_tcplen: int = 0  # current read length (marker included)
    sk_datalen: int = 0  # received data of the record so far


@dataclass(slots=True)
class svc_rqst:
    rq_xprt: svc_sock  # container_of(rqstp->rq_xprt, struct svc_sock, sk_xprt): the same here
    rq_res: xdr_buf | None = None  # the reply
    rq_respages: tuple = ()  # struct page **rq_respages
    rq_pages: Ptr = NULL  # struct page *rq_pages[]: here the kvec array standing for them
    rq_vec: Ptr = NULL  # struct kvec rq_vec[]
    rq_prot: int = IPPROTO_TCP
    rq_xprt_hlen: int = 0
    rq_arg_len: int = 0  # rqstp->rq_arg.len


# --- include/linux/sunrpc/svcsock.h -----------------------------------------------------------


def svc_sock_reclen(k, svsk: svc_sock) -> int:
    return svsk.sk_reclen & RPC_FRAGMENT_SIZE_MASK


def svc_sock_final_rec(k, svsk: svc_sock) -> int:
    return 1 if svsk.sk_reclen & RPC_LAST_STREAM_FRAGMENT else 0


# --- send -------------------------------------------------------------------------------------


def _kernel_sendpage(k, sock, page: Ptr, offset: int, size: int, flags: int) -> int:
    """kernel_sendpage() as it ends for these sockets: ->sendpage, else sock_no_sendpage()."""
    if sock.ops.sendpage:
        return k.kernel_sendpage(sock, page, offset, size, flags)
    return k.sock_no_sendpage(sock, page, offset, size, flags)


def svc_send_common(k, sock, xdr: xdr_buf, headpage: Ptr, headoffset: int, tailpage: Ptr,
                    tailoffset: int) -> int:
    """Send routine intended to be shared by the fore- and back-channel."""
    ppage = xdr.pages
    base = xdr.page_base
    pglen = xdr.page_len
    flags = MSG_MORE
    len = 0

    slen = xdr.len

    # send head
    head = k.mem.elem(xdr.head)
    if slen == head.iov_len:
        flags = 0
    len = _kernel_sendpage(k, sock, headpage, headoffset, head.iov_len, flags)
    if len != head.iov_len:
        return len  # goto out
    slen -= head.iov_len
    if slen == 0:
        return len

    # send page data
    size = _PAGE_SIZE - base if _PAGE_SIZE - base < pglen else pglen
    while pglen > 0:
        if slen == size:
            flags = 0
        result = _kernel_sendpage(k, sock, k.mem.elem(ppage), base, size, flags)
        if result > 0:
            len += result
        if result != size:
            return len
        slen -= size
        pglen -= size
        size = min(_PAGE_SIZE, pglen)
        base = 0
        ppage = ppage + 1

    # send tail
    tail = k.mem.elem(xdr.tail)
    if tail.iov_len:
        result = _kernel_sendpage(k, sock, tailpage, tailoffset, tail.iov_len, 0)
        if result > 0:
            len += result

    return len


def svc_sendto(k, rqstp: svc_rqst, xdr: xdr_buf) -> int:
    """Generic sendto routine."""
    svsk = rqstp.rq_xprt
    sock = svsk.sk_sock
    len = 0

    if rqstp.rq_prot == IPPROTO_UDP:
        msg = k.msghdr()
        # .msg_name = &rqstp->rq_addr, .msg_control = cmh: the connected peer, IP_PKTINFO
        msg.msg_flags = MSG_MORE
        # svc_set_cmsg_data(rqstp, cmh);
        if k.sock_sendmsg(sock, msg, 0) < 0:
            return len  # goto out

    tail = k.mem.elem(xdr.tail)
    tailoff = tail.iov_base.off & (_PAGE_SIZE - 1)
    headoff = 0
    len = k.svc_send_common(sock, xdr, rqstp.rq_respages[0], headoff,
                            Ptr(tail.iov_base.region, tail.iov_base.off - tailoff), tailoff)
    # out: dprintk(...)
    return len


def svc_udp_sendto(k, rqstp: svc_rqst) -> int:
    error = k.svc_sendto(rqstp, rqstp.rq_res)
    if error == -ECONNREFUSED:
        # ICMP error on earlier request.
        error = k.svc_sendto(rqstp, rqstp.rq_res)
    return error


def svc_tcp_sendto(k, rqstp: svc_rqst) -> int:
    """Send out data on TCP socket."""
    xbufp = rqstp.rq_res

    # reclen = htonl(0x80000000|((xbufp->len ) - 4)); memcpy(xbufp->head[0].iov_base, &reclen, 4);
    # not written: the checker's message stands for the marked record (module docstring)

    sent = k.svc_sendto(rqstp, rqstp.rq_res)
    if sent != xbufp.len:
        # printk(KERN_NOTICE "rpc-srv/tcp: %s: %s %d when sending %d bytes - shutting down socket\n")
        rqstp.rq_xprt.sk_xprt.xpt_flags |= XPT_CLOSE
        # svc_xprt_enqueue(rqstp->rq_xprt);
        sent = -EAGAIN
    return sent


# --- receive ----------------------------------------------------------------------------------


def svc_recvfrom(k, rqstp: svc_rqst, iov: Ptr, nr: int, buflen: int) -> int:
    """Generic recvfrom routine."""
    svsk = rqstp.rq_xprt
    msg = k.msghdr()
    msg.msg_flags = MSG_DONTWAIT

    rqstp.rq_xprt_hlen = 0

    svsk.sk_xprt.xpt_flags &= ~XPT_DATA  # clear_bit(XPT_DATA, &svsk->sk_xprt.xpt_flags);
    len = k.kernel_recvmsg(svsk.sk_sock, msg, iov, nr, buflen, msg.msg_flags)
    # If we read a full record, then assume there may be more data to read (stream based
    # sockets only!)
    if len == buflen:
        svsk.sk_xprt.xpt_flags |= XPT_DATA

    return len


def svc_partial_recvfrom(k, rqstp: svc_rqst, iov: Ptr, nr: int, buflen: int, base: int) -> int:
    if base == 0:
        return k.svc_recvfrom(rqstp, iov, nr, buflen)

    i = 0
    while i < nr:
        if k.mem.elem(iov + i).iov_len > base:
            break
        base -= k.mem.elem(iov + i).iov_len
        i += 1
    seg = k.mem.elem(iov + i)
    save_iovlen = seg.iov_len
    save_iovbase = seg.iov_base
    seg.iov_len -= base
    seg.iov_base = seg.iov_base + base
    ret = k.svc_recvfrom(rqstp, iov + i, nr - i, buflen)
    seg = k.mem.elem(iov + i)
    seg.iov_len = save_iovlen
    seg.iov_base = save_iovbase
    return ret


def svc_tcp_restore_pages(k, svsk: svc_sock, rqstp: svc_rqst) -> int:
    """The pages of a partial record come back to the request: here they never left it (the
    request's pages are the caller's kvecs), so only the length read so far is returned."""
    if svsk.sk_datalen == 0:
        return 0
    # for (i = 0; i < npages; i++) { ... rqstp->rq_pages[i] = svsk->sk_pages[i]; ... }
    return svsk.sk_datalen


def svc_tcp_save_pages(k, svsk: svc_sock, rqstp: svc_rqst) -> None:
    pass  # svsk->sk_pages[i] = rqstp->rq_pages[i]: the same pages, see svc_tcp_restore_pages


def svc_tcp_recv_record(k, svsk: svc_sock, rqstp: svc_rqst) -> int:
    """Receive fragment record header: here it has always been read (module docstring)."""
    if svsk.sk_tcplen < _RPC_FRAGHDR_SIZE:
        # want = sizeof(rpc_fraghdr) - svsk->sk_tcplen; svc_recvfrom(rqstp, &iov, 1, want) ...
        return -EAGAIN
    if k.svc_sock_reclen(svsk) + svsk.sk_datalen > _SV_MAX_MESG:
        # net_notice_ratelimited("RPC: fragment too large: %d\n", ...); goto err_delete;
        svsk.sk_xprt.xpt_flags |= XPT_CLOSE
        return -EAGAIN
    return k.svc_sock_reclen(svsk)


def copy_pages_to_kvecs(k, vec: Ptr, pages: Ptr, len: int) -> int:
    """One kvec per page: the page's address and its size (PAGE_SIZE; here the kvec's length)."""
    i = 0
    t = 0
    while t < len:
        page = k.mem.elem(pages + i)
        v = k.mem.elem(vec + i)
        v.iov_base = page.iov_base  # page_address(pages[i])
        v.iov_len = page.iov_len  # PAGE_SIZE
        i += 1
        t += page.iov_len
    return i


def svc_tcp_fragment_received(k, svsk: svc_sock) -> None:
    # If we have more data, signal svc_xprt_enqueue() to try again
    svsk.sk_tcplen = 0
    svsk.sk_reclen = 0


def svc_tcp_recvfrom(k, rqstp: svc_rqst) -> int:
    """Receive data from a TCP socket: the record's length once it is complete, else 0."""
    svsk = rqstp.rq_xprt

    len = k.svc_tcp_recv_record(svsk, rqstp)
    if len < 0:
        return _svc_tcp_recvfrom_error(svsk, len)

    base = k.svc_tcp_restore_pages(svsk, rqstp)
    want = k.svc_sock_reclen(svsk) - (svsk.sk_tcplen - _RPC_FRAGHDR_SIZE)

    vec = rqstp.rq_vec

    pnum = k.copy_pages_to_kvecs(vec, rqstp.rq_pages, svsk.sk_datalen + want)

    # rqstp->rq_respages = &rqstp->rq_pages[pnum]; rqstp->rq_next_page = rqstp->rq_respages + 1;

    # Now receive data
    len = k.svc_partial_recvfrom(rqstp, vec, pnum, want, base)
    if len >= 0:
        svsk.sk_tcplen += len
        svsk.sk_datalen += len
    if len != want or not k.svc_sock_final_rec(svsk):
        k.svc_tcp_save_pages(svsk, rqstp)
        if len < 0 and len != -EAGAIN:
            svsk.sk_xprt.xpt_flags |= XPT_CLOSE  # goto err_delete
            return 0
        if len == want:
            k.svc_tcp_fragment_received(svsk)
        # else dprintk("svc: incomplete TCP record (%d of %d)\n", ...)
        return 0  # goto err_noclose

    # if (svsk->sk_datalen < 8) { svsk->sk_datalen = 0; goto err_delete; /* client is nuts. */ }
    # left out, with the call direction check (module docstring)

    rqstp.rq_arg_len = svsk.sk_datalen
    rqstp.rq_prot = IPPROTO_TCP

    # Reset TCP read info
    svsk.sk_datalen = 0
    k.svc_tcp_fragment_received(svsk)

    return rqstp.rq_arg_len


def _svc_tcp_recvfrom_error(svsk: svc_sock, len: int) -> int:
    """svc_tcp_recvfrom()'s ``error:`` label: -EAGAIN waits for more, anything else closes."""
    if len != -EAGAIN:
        svsk.sk_xprt.xpt_flags |= XPT_CLOSE  # goto err_delete
    return 0


def _svc_tcp_state_change(svsk: svc_sock) -> None:
    """svc_tcp_state_change(): the peer has shut the connection down: close the transport."""
    if svsk.sk_sock.sk.sk_shutdown & RCV_SHUTDOWN:
        svsk.sk_xprt.xpt_flags |= XPT_CLOSE


# --- the callers ------------------------------------------------------------------------------


def _reply(k, vec: Ptr, nr_segs: int) -> tuple[xdr_buf, Ptr]:
    """The reply as svc_process() leaves it in ``rqstp->rq_res``: the first kvec is the head,
    the last the tail, the ones between page data (module docstring); also the head's page."""
    head = vec
    if nr_segs > 1:
        tail = vec + (nr_segs - 1)
    else:
        tail = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0)], name="rq_res.tail")
    middle = [k.mem.elem(vec + i) for i in range(1, nr_segs - 1)]
    middle = [m for m in middle if m.iov_len]  # no page holds nothing
    pages, page_base = [], 0
    if middle:
        page_base = _PAGE_SIZE - middle[0].iov_len
        pages.append(Ptr(middle[0].iov_base.region, middle[0].iov_base.off - page_base))
        pages.extend(m.iov_base for m in middle[1:])
    page_len = sum(m.iov_len for m in middle)
    xdr = k.xdr_buf(head=head, tail=tail, page_len=page_len)
    xdr.pages = k.mem.alloc_array(pages, name="rq_res.pages")
    xdr.page_base = page_base
    xdr.len = k.mem.elem(head).iov_len + page_len + k.mem.elem(tail).iov_len
    return xdr, k.mem.elem(head).iov_base


def _svc_send(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """svc_send()'s use, through the transport's ->xpo_sendto: a reply sent short is not sent
    (TCP closes the connection, the UDP client retransmits its call); nothing is resent."""
    xdr, headpage = _reply(k, vec, nr_segs)
    svsk = k.svc_sock(sk_sock=sock)
    if sock.type == SOCK_DGRAM:
        rqstp = k.svc_rqst(rq_xprt=svsk, rq_res=xdr, rq_respages=(headpage,), rq_prot=IPPROTO_UDP)
        len = k.svc_udp_sendto(rqstp)
    else:
        rqstp = k.svc_rqst(rq_xprt=svsk, rq_res=xdr, rq_respages=(headpage,), rq_prot=IPPROTO_TCP)
        len = k.svc_tcp_sendto(rqstp)
    if len < 0:
        return len
    return len if len == xdr.len else -EIO


def _svc_recv(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """svc_recv()'s use of a TCP transport: svc_tcp_recvfrom() runs each time the socket's
    data_ready callback queues the transport, until the record is complete (``sk_tcplen`` back
    to 0) or the transport is closed (the partial record dies with it)."""
    svsk = k.svc_sock(sk_sock=sock, sk_reclen=RPC_LAST_STREAM_FRAGMENT | total, sk_tcplen=_RPC_FRAGHDR_SIZE)
    rq_vec = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(nr_segs)], name="rq_vec")
    rqstp = k.svc_rqst(rq_xprt=svsk, rq_pages=vec, rq_vec=rq_vec)
    while True:
        k.svc_tcp_recvfrom(rqstp)
        _svc_tcp_state_change(svsk)
        if svsk.sk_xprt.xpt_flags & XPT_CLOSE:
            return -ENOTCONN  # svc_delete_xprt(): the partial record is dropped
        if svsk.sk_tcplen == 0:
            return rqstp.rq_arg_len


USERS = (
    User("svc_sendto", "net/sunrpc/svcsock.c", SEND, ("tcp", "udp"), _svc_send, max_segs=4,
         note="head, pages, tail by kernel_sendpage (sock_no_sendpage without NETIF_F_SG); short = not sent"),
    User("svc_recvfrom", "net/sunrpc/svcsock.c", RECV, ("tcp",), _svc_recv,
         note="rq_vec rebuilt from the pages each call; sk_datalen carries progress (UDP takes the skb itself)"),
)
