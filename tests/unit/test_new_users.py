"""The users added for issue 11 ("the users still missing"): each does what its kernel source does
on a short or failed send or receive (the facts, with file:line@3.18.9, are in each test's
docstring), and the checker catches a planted defect in each (smoke bounds, exhaustive engine)."""

from __future__ import annotations

import pytest

from checks.cell import CellTask, all_users, check_cell
from checks.harness import PROTOCOLS, CellInput, message_bytes, run_cell
from checks.profiles import get_profile
from checks.verdicts import Status
from model.errno import EAGAIN, EINVAL, ERESTARTSYS
from model.kernel import NULL, Kernel
from model.socket_h import MSG_EOR
from model.world import Peer, Window
from tests.conftest import plant

SMOKE = get_profile("smoke", crosshair=False)

NEW_USERS = {
    "svc_sendto": ("tcp", "udp"),
    "svc_recvfrom": ("tcp",),
    "ncpdgram_send": ("udp",),
    "bnep_tx_frame": ("l2cap",),
    "hidp_send_frame": ("l2cap",),
    "cmtp_send_frame": ("l2cap",),
    "rxrpc_send_packet": ("udp",),
    "send_to_sock": ("tcp", "sctp"),
    "handle_tx": ("tun",),
    "handle_rx": ("tun",),
}


def _boot(image, proto: str, script=(), incoming=b""):
    k = Kernel(image)
    peer = Peer(script=tuple(Window(r, t) for r, t in script), incoming=incoming)
    return k, k.sock_create_kern(*PROTOCOLS[proto], peer), peer


def _kvecs(k, data: list[bytes]):
    bufs = [k.mem.alloc_bytes(d, name=f"seg {i}") for i, d in enumerate(data)]
    vec = k.mem.alloc_array([k.kvec(iov_base=b, iov_len=len(d)) for b, d in zip(bufs, data, strict=True)],
                            name="kvec[]")
    return vec, bufs


def test_new_users_are_registered_with_their_protocols():
    users = all_users()
    for name, protos in NEW_USERS.items():
        assert users[name].protocols == protos, name


# --- the model does what the kernel does -------------------------------------------------------


def test_svc_tcp_sendto_short_send_closes_the_transport(v318):
    """svc_send_common() stops at a short head (svcsock.c:195-196@3.18.9); svc_tcp_sendto() then
    sets XPT_CLOSE and returns -EAGAIN (:1200-1210); nothing is resent."""
    from model.users.svcsock import XPT_CLOSE, _reply

    k, sock, peer = _boot(v318, "tcp", script=[(1, "signal")])
    vec, _ = _kvecs(k, [b"ab", b"cd"])
    xdr, headpage = _reply(k, vec, 2)
    rqstp = k.svc_rqst(rq_xprt=k.svc_sock(sk_sock=sock), rq_res=xdr, rq_respages=(headpage,))
    assert k.svc_tcp_sendto(rqstp) == -EAGAIN
    assert rqstp.rq_xprt.sk_xprt.xpt_flags & XPT_CLOSE
    assert bytes(peer.wire) == b"a"


def test_svc_send_common_sends_head_pages_tail_in_order(v318):
    """Head, each page from page_base, then the tail (svcsock.c:191-226@3.18.9)."""
    from model.users.svcsock import _reply

    k, sock, peer = _boot(v318, "tcp")
    vec, _ = _kvecs(k, [b"ab", b"c", b"de", b"f"])
    xdr, headpage = _reply(k, vec, 4)
    assert (xdr.page_len, xdr.len) == (3, 6)
    rqstp = k.svc_rqst(rq_xprt=k.svc_sock(sk_sock=sock), rq_res=xdr, rq_respages=(headpage,))
    assert k.svc_tcp_sendto(rqstp) == 6
    assert bytes(peer.wire) == b"abcdef"


def test_svc_tcp_recvfrom_keeps_a_partial_record_and_the_pages(v318):
    """A short MSG_DONTWAIT read leaves the record incomplete (return 0, sk_datalen advanced,
    svcsock.c:1112-1126@3.18.9); svc_partial_recvfrom() restores the kvec it shifted (:364-366),
    and the next call continues at ``base`` in the right place."""
    from model.users.svcsock import RPC_LAST_STREAM_FRAGMENT, XPT_CLOSE

    k, sock, peer = _boot(v318, "tcp", script=[(1, "ok")], incoming=b"abc!")
    pages, bufs = _kvecs(k, [b"..", b"."])
    svsk = k.svc_sock(sk_sock=sock, sk_reclen=RPC_LAST_STREAM_FRAGMENT | 3, sk_tcplen=4)
    rq_vec = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(2)])
    rqstp = k.svc_rqst(rq_xprt=svsk, rq_pages=pages, rq_vec=rq_vec)
    assert k.svc_tcp_recvfrom(rqstp) == 0
    assert (svsk.sk_datalen, svsk.sk_tcplen) == (1, 5)
    assert [(k.mem.elem(pages + i).iov_base, k.mem.elem(pages + i).iov_len) for i in range(2)] == \
        [(bufs[0], 2), (bufs[1], 1)]
    assert k.svc_tcp_recvfrom(rqstp) == 3
    assert not svsk.sk_xprt.xpt_flags & XPT_CLOSE and svsk.sk_tcplen == 0
    assert k.mem.read(bufs[0], 2) + k.mem.read(bufs[1], 1) == b"abc"
    assert peer.consumed == 3


def test_ncpdgram_send_resends_the_whole_datagram_and_keeps_tx_iov(v318):
    """ncpdgram_send() sends a copy of tx_ciov with MSG_DONTWAIT and ignores the result
    (fs/ncpfs/sock.c:206-213@3.18.9); the reply timer resends the whole request (:490)."""
    k, sock, peer = _boot(v318, "udp", script=[(0, "ok")])
    vec, bufs = _kvecs(k, [b"abc", b"de"])
    u = all_users()["ncpdgram_send"]
    assert u.entry(k, sock, vec, 2, 5, "default") == 5
    assert peer.datagrams == [b"abcde"]
    assert peer.calls == 2  # -EAGAIN, then the resend
    assert [(k.mem.elem(vec + i).iov_base, k.mem.elem(vec + i).iov_len) for i in range(2)] == \
        [(bufs[0], 3), (bufs[1], 2)]


def test_bnep_tx_frame_uses_the_session_msghdr_and_reports_a_failure(v318):
    """bnep_tx_frame() returns 0 for a sent frame and kernel_sendmsg()'s error otherwise
    (bnep/core.c:435-445@3.18.9); L2CAP consumes only the kvec on the stack."""
    from model.socket_h import MSG_NOSIGNAL
    from model.users.bnep_core import _bnep_skb

    k, sock, peer = _boot(v318, "l2cap", script=[(0, "error")])
    data = k.mem.alloc_bytes(b"ab")
    s = k.bnep_session(sock=sock, msg=k.msghdr())
    s.msg.msg_flags = MSG_NOSIGNAL
    skb = _bnep_skb(data=data, len=2)
    assert k.bnep_tx_frame(s, skb) < 0
    assert peer.datagrams == []
    k2, sock2, peer2 = _boot(v318, "l2cap")
    s2 = k2.bnep_session(sock=sock2, msg=k2.msghdr())
    assert k2.bnep_tx_frame(s2, _bnep_skb(data=k2.mem.alloc_bytes(b"ab"), len=2)) == 0
    assert peer2.datagrams == [b"ab"]


def test_hidp_process_transmit_requeues_on_eagain_and_terminates_on_error(v318):
    """-EAGAIN puts the report back at the head of the queue; another error terminates the
    session and drops the report (hidp/core.c:618-627@3.18.9)."""
    from model.users.hidp_core import _hidp_skb

    k, sock, peer = _boot(v318, "l2cap", script=[(0, "ok")])
    sock.sk.sk_sndtimeo = 0  # a socket whose SO_SNDTIMEO is 0: the full send buffer is -EAGAIN
    session = k.hidp_session(intr_sock=sock)
    report = _hidp_skb(data=k.mem.alloc_bytes(b"ab"), len=2)
    session.intr_transmit.append(report)
    k.hidp_process_transmit(session, session.intr_transmit, sock)
    assert list(session.intr_transmit) == [report] and not session.terminate and peer.wire == b""
    k.hidp_process_transmit(session, session.intr_transmit, sock)
    assert not session.intr_transmit and peer.datagrams == [b"ab"]

    k, sock, peer = _boot(v318, "l2cap", script=[(0, "error")])
    session = k.hidp_session(intr_sock=sock)
    session.intr_transmit.extend([_hidp_skb(data=k.mem.alloc_bytes(b"ab"), len=2)] * 2)
    k.hidp_process_transmit(session, session.intr_transmit, sock)
    assert session.terminate and len(session.intr_transmit) == 1 and peer.wire == b""


def test_cmtp_send_frame_returns_the_error_its_caller_ignores(v318):
    """cmtp_send_frame() returns kernel_sendmsg()'s result and sends nothing for len 0
    (cmtp/core.c:193-207@3.18.9); cmtp_process_transmit() ignores it (:228, :266, :273)."""
    k, sock, peer = _boot(v318, "l2cap", script=[(0, "signal")])
    session = k.cmtp_session(sock=sock)
    assert k.cmtp_send_frame(session, k.mem.alloc_bytes(b""), 0) == 0 and peer.calls == 0
    assert k.cmtp_send_frame(session, k.mem.alloc_bytes(b"ab"), 2) == -ERESTARTSYS
    assert peer.wire == b""


def test_rxrpc_send_packet_is_one_blocking_datagram(v318):
    """One kvec of skb->len, msg_flags 0: it waits for send-buffer space (ar-output.c:345-366
    @3.18.9) and the datagram goes whole; a failed packet is sent again whole."""
    from model.users.rxrpc_ar_output import _rxrpc_skb

    k, sock, peer = _boot(v318, "udp", script=[(0, "ok")])
    trans = k.rxrpc_transport(socket=sock, peer=k.rxrpc_peer())
    assert k.rxrpc_send_packet(trans, _rxrpc_skb(head=k.mem.alloc_bytes(b"abc"), len=3)) == 3
    assert peer.datagrams == [b"abc"]
    k, sock, peer = _boot(v318, "udp", script=[(0, "signal")])
    u = all_users()["rxrpc_send_packet"]
    vec, _ = _kvecs(k, [b"abc"])
    assert u.entry(k, sock, vec, 1, 3, "default") == 3
    assert peer.datagrams == [b"abc"] and peer.calls == 2


def test_sctp_sendmsg_is_all_or_nothing_and_leaves_the_kvec(v318):
    """sctp_sendmsg() refuses an empty message (socket.c:1686-1690@3.18.9), waits for space only
    when there is none (:1920) and sends the message whole in DATA chunks read by offset
    (kernel-facts §3): the caller's kvec is not touched."""
    k, sock, peer = _boot(v318, "sctp", script=[(0, "ok")])
    vec, bufs = _kvecs(k, [b"abc", b"d"])
    assert k.kernel_sendmsg(sock, k.msghdr(), vec, 2, 4) == 4
    assert peer.datagrams == [b"abcd"]
    assert [(k.mem.elem(vec + i).iov_base, k.mem.elem(vec + i).iov_len) for i in range(2)] == \
        [(bufs[0], 3), (bufs[1], 1)]
    assert k.kernel_sendmsg(sock, k.msghdr(), NULL, 0, 0) == -EINVAL


def test_dlm_sctp_init_assoc_tries_again_later_and_advances_the_entry(v318):
    """sctp_init_assoc() sends the first block with MSG_EOR; a failure clears CF_INIT_PENDING
    ("Try again later"), a success advances the entry by the count (lowcomms.c:1134-1148
    @3.18.9)."""
    k, sock, peer = _boot(v318, "sctp", script=[(0, "signal")])
    con = k.connection(sock=sock, nodeid=1)
    page = k.mem.alloc_bytes(b"abc")
    e = k.writequeue_entry(page=page, offset=0, len=3, end=3, users=0, con=con)
    con.writequeue.append(e)
    k.sctp_init_assoc(con)
    assert (e.offset, e.len, con.init_pending, peer.wire) == (0, 3, False, b"")
    k.sctp_init_assoc(con)
    assert con.writequeue == [] and peer.datagrams == [b"abc"]


def test_vhost_handle_tx_strips_the_header_from_vq_iov_and_retries_from_the_ring(v318):
    """move_iovec_hdr() advances vq->iov past the guest's header (vhost/net.c:238-255@3.18.9);
    sendmsg goes straight to the tun socket with MSG_DONTWAIT (:434); -EAGAIN puts the descriptor
    back and the next pass translates it afresh (:435-442); tun reads the user iovec by offset."""
    from model.kernel import USER_SPACE
    from model.users.vhost_net import _guest_tx

    k, sock, peer = _boot(v318, "tun", script=[(0, "ok")])
    header = k.mem.alloc_bytes(bytes(10), space=USER_SPACE)
    data = k.mem.alloc_bytes(b"abc", space=USER_SPACE)
    guest = _guest_tx(chain=((header, 10), (data, 3)))
    iov = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in range(2)])
    hdr = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in range(2)])
    nvq = k.vhost_net_virtqueue(vq=k.vhost_virtqueue(iov=iov, private_data=sock), hdr=hdr)
    k.handle_tx(nvq, guest)
    assert not guest.used and peer.wire == b""  # -EAGAIN: discarded
    assert (k.mem.elem(iov).iov_base, k.mem.elem(iov).iov_len) == (header + 10, 0)
    assert (k.mem.elem(hdr).iov_base, k.mem.elem(hdr).iov_len) == (header, 10)
    assert (k.mem.elem(iov + 1).iov_base, k.mem.elem(iov + 1).iov_len) == (data, 3)
    k.handle_tx(nvq, guest)
    assert guest.used and peer.datagrams == [b"abc"]


def _vhost_rx_setup(k, sock, sizes: list[int]):
    """A guest RX chain of buffers of ``sizes`` in user memory (the first holds the 10-byte header)."""
    from model.kernel import USER_SPACE
    from model.users.vhost_net import _guest_rx

    bufs = [k.mem.alloc_bytes(b"." * n, space=USER_SPACE) for n in sizes]
    guest = _guest_rx(chain=tuple(zip(bufs, sizes, strict=True)))
    iov = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in sizes])
    hdr = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in sizes])
    nvq = k.vhost_net_virtqueue(vq=k.vhost_virtqueue(iov=iov, private_data=sock), hdr=hdr)
    return guest, nvq, iov, bufs


def test_vhost_handle_rx_skips_the_header_and_writes_it_after_the_packet(v318):
    """handle_rx() peeks the packet's length (vhost/net.c:462-477@3.18.9), takes one chain for
    packet + header (get_rx_bufs(), quota 1 without MRG_RXBUF: :490-546), pops the header off
    vq->iov with move_iovec_hdr() (:622-624), reads with MSG_DONTWAIT|MSG_TRUNC (:630), writes the
    zeroed virtio-net header through nvq->hdr (:641-646) and uses the chain with vhost_len; tun
    copies by offset (tun_put_user(), tun.c:1338@3.18.9). The next packet has no buffer: it stays."""
    k, sock, peer = _boot(v318, "tun", incoming=b"abc!#")
    guest, nvq, iov, bufs = _vhost_rx_setup(k, sock, [12, 1])
    peer.arrive(3)
    k.handle_rx(nvq, guest)
    assert guest.used_len == 13 and peer.consumed == 3
    assert k.mem.read(bufs[0], 12) + k.mem.read(bufs[1], 1) == bytes(10) + b"abc"
    assert (k.mem.elem(iov).iov_base, k.mem.elem(iov).iov_len) == (bufs[0] + 10, 2)  # popped, not consumed
    peer.arrive(2)
    k.handle_rx(nvq, guest)
    assert peer.consumed == 3 and peer.queued() == 2  # no buffer left: the next packet stays queued


def test_vhost_handle_rx_discards_a_packet_its_buffers_cannot_hold(v318):
    """A chain shorter than packet + header is an overrun (get_rx_bufs(): UIO_MAXIOV + 1,
    vhost/net.c:541-545@3.18.9): the packet is read with len 1 and MSG_TRUNC and dropped
    (:601-607), the chain is not used; tun_recvmsg() returns the packet's length under MSG_TRUNC
    and sets MSG_TRUNC in msg_flags (tun.c:1493-1496@3.18.9)."""
    k, sock, peer = _boot(v318, "tun", incoming=b"abcd")
    guest, nvq, _, _ = _vhost_rx_setup(k, sock, [12])
    peer.arrive(4)
    k.handle_rx(nvq, guest)
    assert guest.used_len is None and peer.consumed == 4 and peer.queued() == 0
    from model.kernel import USER_SPACE
    from model.socket_h import MSG_DONTWAIT, MSG_TRUNC

    k2, sock2, peer2 = _boot(v318, "tun", incoming=b"abcd")
    buf = k2.mem.alloc_bytes(b"..", space=USER_SPACE)
    vec = k2.mem.alloc_array([k2.iovec(iov_base=buf, iov_len=2)])
    msg = k2.msghdr(msg_iov=vec, msg_iovlen=1)
    peer2.arrive(4)
    assert k2.tun_recvmsg(None, sock2, msg, 2, MSG_DONTWAIT | MSG_TRUNC) == 4
    assert msg.msg_flags & MSG_TRUNC and k2.mem.read(buf, 2) == b"ab"
    assert (k2.mem.elem(vec).iov_base, k2.mem.elem(vec).iov_len) == (buf, 2)  # by offset: not consumed
    assert k2.tun_recvmsg(None, sock2, k2.msghdr(msg_iov=vec, msg_iovlen=1), 2, MSG_DONTWAIT) == -EAGAIN


def test_every_new_user_holds_on_a_plain_send_or_receive(v318):
    users = all_users()
    for name, protos in NEW_USERS.items():
        for proto in protos:
            obs = run_cell(v318, users[name], proto, CellInput((2, 1)[: users[name].max_segs or 2]))
            assert obs.holds, (name, proto, obs.failure)
            assert obs.got == message_bytes(len(obs.expected))


# --- planted defects the checker must catch ---------------------------------------------------


def svc_send_common_goes_on_after_a_short_head(k, sock, xdr, headpage, headoffset, tailpage, tailoffset):
    """svc_send_common() that adds up what went out but never stops at a short count."""
    from model.users.svcsock import _kernel_sendpage

    len = 0
    head = k.mem.elem(xdr.head)
    len += max(0, _kernel_sendpage(k, sock, headpage, headoffset, head.iov_len, 0))  # the defect: no check
    tail = k.mem.elem(xdr.tail)
    if tail.iov_len:
        len += max(0, _kernel_sendpage(k, sock, tailpage, tailoffset, tail.iov_len, 0))
    return len


def svc_partial_recvfrom_forgets_base(k, rqstp, iov, nr, buflen, base):
    """svc_partial_recvfrom() that reads into the start of the pages again."""
    return k.svc_recvfrom(rqstp, iov, nr, buflen)


def ncpdgram_start_request_tcp_ciov(k, server, req):
    """ncpdgram_start_request() with ncptcp_start_request()'s ``tx_ciov = tx_iov`` (copy-paste)."""
    req.tx_ciov = req.tx_iov
    req.status = 1
    server.rcv.creq = req
    server.timeout_retries = server.m.retry_count
    k.ncpdgram_send(server.ncp_sock, req)


def bnep_tx_frame_reports_every_frame_sent(k, s, skb):
    """bnep_tx_frame() that returns 0 whatever kernel_sendmsg() said."""
    iv = k.mem.alloc_array([k.kvec(iov_base=skb.data, iov_len=skb.len)])
    k.kernel_sendmsg(s.sock, s.msg, iv, 1, skb.len)
    return 0


def hidp_send_frame_drops_one_byte_reports(k, sock, data, len):
    """hidp_send_frame() whose empty check is off by one."""
    if len <= 1:  # the defect: "if (!len)"
        return 0
    iv = k.mem.alloc_array([k.kvec(iov_base=data, iov_len=len)])
    return k.kernel_sendmsg(sock, k.msghdr(), iv, 1, len)


def cmtp_send_frame_short_by_one(k, session, data, len):
    """cmtp_send_frame() that passes the frame length less its last byte."""
    if not len:
        return 0
    iv = k.mem.alloc_array([k.kvec(iov_base=data, iov_len=len - 1)])
    return k.kernel_sendmsg(session.sock, k.msghdr(), iv, 1, len - 1)


def rxrpc_send_packet_ignores_errors(k, trans, skb):
    """rxrpc_send_packet() that tells its caller every packet went ("the resend timer copes")."""
    iov = k.mem.alloc_array([k.kvec(iov_base=skb.head, iov_len=skb.len)])
    ret = k.kernel_sendmsg(trans.socket, k.msghdr(), iov, 1, skb.len)
    return max(ret, 0)


def sctp_init_assoc_completes_the_entry_anyway(k, con):
    """sctp_init_assoc() that advances the writequeue entry even when the send failed."""
    if con.init_pending or not con.writequeue:
        return
    con.init_pending = True
    e = con.writequeue[0]
    iov = k.mem.alloc_array([k.kvec(iov_base=e.page + e.offset, iov_len=e.len)])
    ret = k.kernel_sendmsg(con.sock, k.msghdr(msg_flags=MSG_EOR), iov, 1, e.len)
    if ret < 0:
        con.init_pending = False
    k.writequeue_entry_complete(e, e.len)  # the defect: e->len, not ret


def sctp_user_addto_chunk_forgets_offset(k, chunk, off, len, data):
    """sctp_user_addto_chunk() that copies every chunk from the start of the message."""
    target = k.skb_put(chunk.skb, len)
    return k.memcpy_fromiovecend(target, data, 0, len)


def move_iovec_hdr_forgets_base(k, from_, to, len, iov_count):
    """move_iovec_hdr() that shortens the segment but leaves iov_base at the header."""
    seg = 0
    while len and seg < iov_count:
        f, t = k.mem.elem(from_), k.mem.elem(to)
        size = min(f.iov_len, len)
        t.iov_base, t.iov_len = f.iov_base, size
        f.iov_len -= size  # the defect: no "from->iov_base += size"
        len -= size
        from_, to, seg = from_ + 1, to + 1, seg + 1
    return seg


def move_iovec_hdr_pops_twice(k, from_, to, len, iov_count):
    """vhost advancing twice: the header is popped off vq->iov two times (20 bytes, not 10)."""
    from model.users.vhost_net import move_iovec_hdr

    move_iovec_hdr(k, from_, to, len, iov_count)
    return move_iovec_hdr(k, from_, to, len, iov_count)


def get_rx_bufs_offers_a_used_chain(k, vq, guest, datalen, iovcount, quota):
    """get_rx_bufs() that hands out the guest's chain again after it was used (a stale ring)."""
    from model.users.vhost_net import get_rx_bufs

    guest.used_len = None
    return get_rx_bufs(k, vq, guest, datalen, iovcount, quota)


def tun_put_user_ignores_its_offset(k, sk, skb, iv, len):
    """tun_put_user() that copies past the first byte of the iovec (an offset of 1 instead of
    ``copied``) and still reports the packet's length."""
    k.skb_copy_datagram_const_iovec(skb, 0, iv, 1, min(skb.len, len))
    return skb.len


DEFECTS = [
    # (id, symbol, defect, user, protocol)
    ("svc send goes on after a short head", "svc_send_common", svc_send_common_goes_on_after_a_short_head,
     "svc_sendto", "tcp"),
    ("svc recv forgets base", "svc_partial_recvfrom", svc_partial_recvfrom_forgets_base, "svc_recvfrom", "tcp"),
    ("ncp dgram uses the tcp tx_ciov", "ncpdgram_start_request", ncpdgram_start_request_tcp_ciov,
     "ncpdgram_send", "udp"),
    ("bnep reports every frame sent", "bnep_tx_frame", bnep_tx_frame_reports_every_frame_sent, "bnep_tx_frame",
     "l2cap"),
    ("hidp drops one-byte reports", "hidp_send_frame", hidp_send_frame_drops_one_byte_reports, "hidp_send_frame",
     "l2cap"),
    ("cmtp sends a byte short", "cmtp_send_frame", cmtp_send_frame_short_by_one, "cmtp_send_frame", "l2cap"),
    ("rxrpc ignores send errors", "rxrpc_send_packet", rxrpc_send_packet_ignores_errors, "rxrpc_send_packet",
     "udp"),
    ("dlm sctp completes a failed first block", "sctp_init_assoc", sctp_init_assoc_completes_the_entry_anyway,
     "send_to_sock", "sctp"),
    ("sctp chunks forget their offset", "sctp_user_addto_chunk", sctp_user_addto_chunk_forgets_offset,
     "send_to_sock", "sctp"),
    ("vhost header pop forgets iov_base", "move_iovec_hdr", move_iovec_hdr_forgets_base, "handle_tx", "tun"),
    ("vhost rx pops the header twice", "move_iovec_hdr", move_iovec_hdr_pops_twice, "handle_rx", "tun"),
    ("vhost rx reuses a used chain", "get_rx_bufs", get_rx_bufs_offers_a_used_chain, "handle_rx", "tun"),
    ("tun rx ignores its offset", "tun_put_user", tun_put_user_ignores_its_offset, "handle_rx", "tun"),
]


@pytest.mark.parametrize("name,symbol,defect,user,proto", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_planted_defect_in_a_new_user_is_broken(v318, name, symbol, defect, user, proto):
    task = CellTask("v3.18", "series/v3.18", "v3.18", user, proto)
    clean = check_cell(task, v318, frozenset(), SMOKE)  # the cell without the defect
    image = plant(v318, symbol, defect)
    v = check_cell(task, image, frozenset(), SMOKE)
    assert v.status == Status.BROKEN, f"{name}: {v.status.name} {v.evidence}"
    inp = CellInput.from_json(v.counterexample.input)
    assert not run_cell(image, all_users()[user], proto, inp).holds
    if user == "cmtp_send_frame":  # BROKEN already (manifest): the defect shows where the clean cell holds
        plain = CellInput((2,))
        assert run_cell(v318, all_users()[user], proto, plain).holds
        assert not run_cell(image, all_users()[user], proto, plain).holds
    else:
        assert clean.status == Status.CONFIRMED, f"{user}/{proto}: {clean.evidence}"


def test_eagain_is_what_a_nonblocking_new_user_sees_on_a_full_buffer(v318):
    """The UDP users send with MSG_DONTWAIT (ncpfs) or block (rxrpc): ncpfs sees -EAGAIN."""
    k, sock, _ = _boot(v318, "udp", script=[(0, "ok")])
    vec, _ = _kvecs(k, [b"ab"])
    assert k.do_send(sock, vec, 1, 2, 0x40) == -EAGAIN


# --- vhost-net rx on msg_iter (as-merged): the 3.19 and 4.1 forms --------------------------------


def tun_put_user_ignores_the_iterator_offset(k, sk, skb, iter):
    """3.19 tun_put_user() that copies into a fresh iterator over the same iovec: it ignores how far
    msg_iter was advanced (iov_offset), as a copy that reads ``iter->iov`` directly would."""
    to = k.iov_iter()
    k.iov_iter_init(to, 0, iter.iov, iter.nr_segs, iter.count + iter.iov_offset)
    k.skb_copy_datagram_iter(skb, 0, to, skb.len)
    return skb.len


@pytest.mark.parametrize("step,planted", [
    ("s06_put_iov_iter_into_msghdr", False),  # msg_iter over vq->iov after move_iovec_hdr()
    ("s14_kill_iovec_c", False),  # 4.1: msg_iter advanced past the header, header through ``fixup``
    ("s14_kill_iovec_c", True),  # ... and a tun_put_user() that ignores the advance is caught
])
def test_vhost_handle_rx_on_msg_iter(step, planted):
    """handle_rx() sets msg_iter with iov_iter_init(&msg.msg_iter, READ, vq->iov, in, sock_len) after
    move_iovec_hdr() in 3.19 (vhost/net.c:628-633@3.19.8); 4.1 inits it over the whole chain and
    advances it past the header, then writes the header into a copy (:587-611@4.1.6). Only 4.1 leaves
    an offset inside a segment for tun_put_user() to honour (s06 pops the header off the iovec)."""
    from checks.series import compose, load_series

    image = compose(load_series("as-merged")).images[step]
    if planted:
        image = plant(image, "tun_put_user", tun_put_user_ignores_the_iterator_offset)
    task = CellTask("as-merged", "series/as-merged", step, "handle_rx", "tun")
    v = check_cell(task, image, frozenset(), SMOKE)
    assert v.status == (Status.BROKEN if planted else Status.CONFIRMED), v.evidence
    plain = run_cell(image, all_users()["handle_rx"], "tun", CellInput((2, 1)))
    assert plain.holds != planted, plain.failure
