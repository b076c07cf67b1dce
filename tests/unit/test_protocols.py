"""Unit tests of the datagram and non-TCP stream protocols of the v3.18 model against kernel facts
(kernel-facts §2.1 and §3): what each ->sendmsg/->recvmsg does to the caller's kvec, what reaches
the peer, and how waits end."""

from __future__ import annotations

import pytest

from checks.harness import PROTOCOLS
from model.errno import (
    EAGAIN,
    ECONNRESET,
    EINVAL,
    EMSGSIZE,
    ENOBUFS,
    ENOTCONN,
    EPIPE,
    ERESTARTSYS,
)
from model.kernel import Kernel, Oops
from model.net_h import SOCK_RAW
from model.socket_h import AF_PACKET, MSG_DONTWAIT, MSG_TRUNC, MSG_WAITALL
from model.uaccess import KERNEL_DS, VERIFY_READ
from model.uio import UIO_FASTIOV
from model.world import Peer, Window
from tests.conftest import plant

ECONNREFUSED = 111
ENETDOWN = 100
MSG = b"abcdefghijklmnopqrstuvwxyz"


def rfc1071(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Rig:
    """One kernel, one socket with a scripted peer, one kvec array in kernel memory."""

    def __init__(self, image, proto, segs, script=(), incoming=b"", data=None, family_type=None):
        self.k = Kernel(image)
        self.peer = Peer(script=tuple(Window(r, t) for r, t in script), incoming=incoming)
        args = family_type if family_type else PROTOCOLS[proto]
        self.sock = self.k.sock_create_kern(*args, self.peer)
        assert not isinstance(self.sock, int), self.sock
        self.data = MSG[: sum(segs)] if data is None else data
        kv, off = [], 0
        for n in segs:
            fill = self.data[off : off + n] if incoming == b"" else b"." * n
            kv.append(self.k.kvec(iov_base=self.k.mem.alloc_bytes(fill), iov_len=n))
            off += n
        self.kv = kv
        self.lens = list(segs)
        self.bases = [e.iov_base for e in kv]
        self.vec = self.k.mem.alloc_array(kv)

    def send(self, flags=0):
        msg = self.k.msghdr(msg_flags=flags)
        return self.k.kernel_sendmsg(self.sock, msg, self.vec, len(self.kv), sum(self.lens))

    def recv(self, size, flags=0):
        self.msg = self.k.msghdr()
        return self.k.kernel_recvmsg(self.sock, self.msg, self.vec, len(self.kv), size, flags)

    def consumed(self) -> list[int]:
        """How far each kvec entry was advanced (iov_base moved by as much as iov_len shrank)."""
        out = []
        for e, b, n in zip(self.kv, self.bases, self.lens, strict=True):
            assert e.iov_base.region == b.region and e.iov_base.off - b.off == n - e.iov_len
            out.append(e.iov_base.off - b.off)
        return out

    def buffers(self) -> bytes:
        return b"".join(self.k.mem.read(b, n) for b, n in zip(self.bases, self.lens, strict=True))


# --- the socket table ------------------------------------------------------------------------


SEND_ONLY: set[str] = set()  # every protocol of the harness has its ->recvmsg (tun: tun_recvmsg, vhost-net's rx)


@pytest.mark.parametrize("proto", sorted(PROTOCOLS))
def test_every_protocol_of_the_harness_gets_a_socket(v318, proto):
    k = Kernel(v318)
    sock = k.sock_create_kern(*PROTOCOLS[proto], Peer())
    assert not isinstance(sock, int)
    assert sock.ops.sendmsg in v318
    assert sock.ops.recvmsg in v318 if proto not in SEND_ONLY else sock.ops.recvmsg == ""


# --- UDP: offset-based, all or nothing --------------------------------------------------------


def test_udp_send_leaves_the_kvec_alone(v318):
    r = Rig(v318, "udp", (3, 2, 4))
    assert r.send() == 9
    assert r.consumed() == [0, 0, 0]
    assert r.peer.datagrams == [b"abcdefghi"]


def test_udp_fragmented_datagram_carries_a_correct_checksum(v318):
    """More than 40 payload bytes over the 68-byte MTU: several getfrag calls at offsets 0, 40, 88;
    the UDP checksum in the header is right by an independent RFC 1071 computation."""
    seen = []

    def ip_send_skb(k, sk, skb):
        seen.append(b"".join(k.mem.read(s.data + 20, s.len - 20) for s in skb))
        return v318.lookup("ip_send_skb").obj(k, sk, skb)

    data = bytes(range(1, 100))
    r = Rig(plant(v318, "ip_send_skb", ip_send_skb), "udp", (33, 1, 65), data=data)
    assert r.send() == 99
    (udp,) = seen
    assert udp[8:] == data and int.from_bytes(udp[4:6], "big") == 107
    pseudo = bytes([127, 0, 0, 1, 127, 0, 0, 2, 0, 17]) + (107).to_bytes(2, "big")
    assert rfc1071(pseudo + udp) == 0
    assert r.peer.datagrams == [data]


def test_udp_peer_drops_a_datagram_with_a_wrong_checksum(v318):
    """A getfrag that copies right but sums odd-length segments without the lane swap: the send
    still returns len, and the datagram never arrives (the checker sees it missing)."""

    def csum_partial_copy_fromiovecend(k, kdata, iov, offset, len, csump):
        err = v318.lookup("memcpy_fromiovecend").obj(k, kdata, iov, offset, len)
        csump[0] = k.csum_partial(kdata, len, csump[0])  # right
        seg0 = k.mem.elem(iov).iov_len
        if 0 < seg0 < len:
            csump[0] = k.csum_add(k.csum_partial(kdata, seg0, 0), k.csum_partial(kdata + seg0, len - seg0, 0))
        return err

    r = Rig(plant(v318, "csum_partial_copy_fromiovecend", csum_partial_copy_fromiovecend), "udp", (3, 4))
    assert r.send() == 7
    assert r.peer.datagrams == []


@pytest.mark.parametrize(
    ("script", "flags", "rc"),
    [
        (((0, "ok"),), MSG_DONTWAIT, -EAGAIN),
        (((0, "signal"),), 0, -ERESTARTSYS),
        (((0, "error"),), 0, -ECONNREFUSED),
    ],
)
def test_udp_full_send_buffer_sends_nothing(v318, script, flags, rc):
    r = Rig(v318, "udp", (3, 2), script=script)
    assert r.send(flags) == rc
    assert r.peer.wire == b"" and r.consumed() == [0, 0]


def test_udp_send_waits_only_while_the_buffer_is_full(v318):
    """sock_alloc_send_pskb checks sk_wmem_alloc < sk_sndbuf: any room lets a whole datagram in."""
    r = Rig(v318, "udp", (3, 2), script=((1, "signal"),))
    assert r.send() == 5
    assert r.peer.datagrams == [b"abcde"]


def test_udp_recv_fast_path_advances_only_the_segment_it_fills(v318):
    """skb_copy_and_csum_datagram_iovec: skips the empty first entry, copies and sums straight into
    the first non-empty one, and advances it by the datagram's length."""
    r = Rig(v318, "udp", (0, 8, 3), script=((5, "ok"),), incoming=b"hello, world")
    assert r.recv(11) == 5
    assert r.consumed() == [0, 5, 0]
    assert r.buffers()[:5] == b"hello"


def test_udp_recv_slow_path_consumes_through_skb_copy_datagram_iovec(v318):
    r = Rig(v318, "udp", (2, 4), script=((5, "ok"),), incoming=b"hello, world")
    assert r.recv(6) == 5
    assert r.consumed() == [2, 3]
    assert r.buffers()[:5] == b"hello"


def test_udp_recv_truncates_and_drops_the_rest_of_the_datagram(v318):
    r = Rig(v318, "udp", (3,), script=((5, "ok"), (7, "ok")), incoming=b"hello, world")
    assert r.recv(3) == 3
    assert r.msg.msg_flags & MSG_TRUNC
    assert r.buffers() == b"hel"
    r2 = r.k.msghdr()
    r.kv[0].iov_base, r.kv[0].iov_len = r.bases[0], 3
    assert r.k.kernel_recvmsg(r.sock, r2, r.vec, 1, 3, 0) == 3
    assert r.buffers() == b", w"  # the next datagram, not "lo"


def test_udp_recv_bad_checksum_in_the_fast_path_leaves_the_iovec(v318):
    """kernel-facts §2.1: on a checksum failure in the fast path the iovec is not advanced."""
    from model.proto._net_core import _skb_copy_and_csum_datagram_iovec
    from model.proto.udp import _udp_peer_skb

    k = Kernel(v318)
    k.set_fs(KERNEL_DS)
    skb = _udp_peer_skb(k, b"hello")
    k.mem.write(skb.data + 8, b"j")  # corrupted in flight
    seg = k.kvec(iov_base=k.mem.alloc_bytes(bytes(8)), iov_len=8)
    assert _skb_copy_and_csum_datagram_iovec(k, skb, 8, k.mem.alloc_array([seg])) == -EINVAL
    assert seg.iov_len == 8 and seg.iov_base.off == 0


# --- netlink: memcpy_fromiovec consumes, even when nothing is sent ----------------------------


def test_netlink_send_consumes_the_callers_kvec(v318):
    r = Rig(v318, "netlink", (3, 2, 4))
    assert r.send() == 9
    assert r.consumed() == [3, 2, 4]
    assert all(e.iov_len == 0 for e in r.kv)
    assert r.peer.datagrams == [b"abcdefghi"]


@pytest.mark.parametrize(
    ("script", "flags", "rc"),
    [
        (((0, "ok"),), MSG_DONTWAIT, -EAGAIN),
        (((0, "signal"),), 0, -ERESTARTSYS),
        (((0, "error"),), 0, -ECONNREFUSED),
    ],
)
def test_netlink_failed_send_has_already_consumed_the_kvec(v318, script, flags, rc):
    """The wait is in netlink_unicast, after memcpy_fromiovec: the caller's kvec is spent."""
    r = Rig(v318, "netlink", (3, 2), script=script)
    assert r.send(flags) == rc
    assert r.peer.wire == b""
    assert r.consumed() == [3, 2]


def test_netlink_recv_consumes_and_truncates(v318):
    r = Rig(v318, "netlink", (2, 2), script=((6, "ok"),), incoming=b"abcdefgh")
    assert r.recv(4) == 4
    assert r.msg.msg_flags & MSG_TRUNC
    assert r.consumed() == [2, 2] and r.buffers() == b"abcd"
    assert r.peer.consumed == 6


# --- AF_UNIX stream: offset-based, short counts ----------------------------------------------


def test_unix_send_leaves_the_kvec_alone(v318):
    r = Rig(v318, "unix", (3, 2, 4))
    assert r.send() == 9
    assert r.consumed() == [0, 0, 0]
    assert r.peer.wire == b"abcdefghi"


def test_unix_short_send_returns_sent(v318):
    """An error after some skbs went out returns ``sent``: here one 2-byte skb, then a signal."""
    r = Rig(v318, "unix", (3, 2, 4), script=((1, "signal"),))
    assert r.send() == 2
    assert r.peer.wire == b"ab"
    assert r.consumed() == [0, 0, 0]


def test_unix_dontwait_sends_until_the_buffer_is_full(v318):
    r = Rig(v318, "unix", (3, 2, 4), script=((3, "ok"),))
    assert r.send(MSG_DONTWAIT) == 4
    assert r.peer.wire == b"abcd"


def test_unix_dead_peer(v318):
    """The peer dies while we wait: what went out is reported; then -EPIPE."""
    r = Rig(v318, "unix", (5,), script=((1, "error"),))
    assert r.send() == 2
    assert r.send() == -EPIPE
    r = Rig(v318, "unix", (5,), script=((0, "error"),))
    assert r.send() == -ECONNRESET


def test_unix_retry_from_the_same_kvec_resends(v318):
    """Why a caller that re-sends the same kvec after a short count is broken over AF_UNIX too."""
    r = Rig(v318, "unix", (4,), script=((1, "signal"),))
    assert r.send() == 2
    assert r.send() == 4
    assert r.peer.wire == b"ababcd"


def test_unix_recv_consumes_the_kvec(v318):
    r = Rig(v318, "unix", (3, 3), script=((2, "ok"),), incoming=b"abcdef!")
    assert r.recv(6, MSG_WAITALL) == 6
    assert r.consumed() == [3, 3] and r.buffers() == b"abcdef"
    assert r.peer.consumed == 6


def test_unix_recv_signal_after_some_data(v318):
    r = Rig(v318, "unix", (3, 3), script=((2, "signal"),), incoming=b"abcdef")
    assert r.recv(6, MSG_WAITALL) == 2
    assert r.consumed() == [2, 0]


def test_unix_recv_eof(v318):
    r = Rig(v318, "unix", (3,), script=((0, "eof"),), incoming=b"abc")
    assert r.recv(3) == 0


# --- ping: the ICMP header is consumed, the body is offset-based ------------------------------

ECHO = b"\x08\x00\x00\x00\x00\x00\x12\x34"


def test_ping_consumes_the_icmp_header_only(v318):
    data = ECHO + b"hello!"
    r = Rig(v318, "ping", (5, 5, 4), data=data)
    assert r.send() == 14
    assert r.consumed() == [5, 3, 0]
    (icmp,) = r.peer.datagrams
    assert icmp[:2] == b"\x08\x00" and icmp[6:] == b"\x12\x34hello!"
    assert icmp[4:6] == b"\x00\x01"  # the kernel's ident, not the caller's
    assert rfc1071(icmp) == 0


def test_ping_body_offsets_rely_on_the_consumed_header(v318):
    """A 60-byte echo over the 68-byte MTU: the second fragment's body is read at
    ``offset - sizeof(struct icmphdr)`` of the already-advanced iovec."""
    data = ECHO + bytes(range(100, 152))
    r = Rig(v318, "ping", (9, 51), data=data)
    assert r.send() == 60
    (icmp,) = r.peer.datagrams
    assert icmp[8:] == data[8:] and rfc1071(icmp) == 0


def test_ping_rejects_a_non_echo_after_consuming_it(v318):
    r = Rig(v318, "ping", (3, 2, 4))
    assert r.send() == -EINVAL
    assert r.consumed() == [3, 2, 3]
    assert r.peer.wire == b""


def test_ping_header_only_walks_off_the_kvec(v318):
    """3.18 has no zero-length guard in csum_partial_copy_fromiovecend (see net_iovec.py)."""
    r = Rig(v318, "ping", (8,), data=ECHO)
    with pytest.raises(Oops):
        r.send()


def test_ping_never_waits(v318):
    r = Rig(v318, "ping", (8, 2), script=((0, "ok"),), data=ECHO + b"hi")
    assert r.send() == -ENOBUFS
    assert r.consumed() == [8, 0]  # the header went, the datagram did not


# --- AF_PACKET --------------------------------------------------------------------------------


def test_packet_spkt_send_consumes_the_kvec(v318):
    r = Rig(v318, "packet", (3, 2, 4))
    assert r.send() == 9
    assert r.consumed() == [3, 2, 4]
    assert r.peer.datagrams == [b"abcdefghi"]


def test_packet_spkt_never_waits(v318):
    r = Rig(v318, "packet", (3, 2), script=((0, "signal"),))
    assert r.send() == -ENOBUFS
    assert r.consumed() == [0, 0]


VNET = bytes(10)  # no checksum offload, no GSO


def test_packet_snd_consumes_the_vnet_header_then_copies_at_offset_zero(v318):
    data = VNET + b"frame!"
    r = Rig(v318, None, (4, 8, 4), data=data, family_type=(AF_PACKET, SOCK_RAW, 0))
    assert r.send() == 16
    assert r.consumed() == [4, 6, 0]
    assert r.peer.datagrams == [b"frame!"]


def test_packet_snd_failed_wait_leaves_the_header_consumed(v318):
    r = Rig(v318, None, (10, 3), script=((0, "error"),), data=VNET + b"abc", family_type=(AF_PACKET, SOCK_RAW, 0))
    assert r.send() == -ENETDOWN
    assert r.consumed() == [10, 0] and r.peer.wire == b""
    assert r.send() == -ENETDOWN


def test_packet_snd_rejects_a_bad_vnet_header(v318):
    r = Rig(v318, None, (12,), data=b"\x01\x09" + bytes(10), family_type=(AF_PACKET, SOCK_RAW, 0))
    assert r.send() == -EINVAL  # unknown gso_type


def test_packet_recv_rejects_msg_waitall(v318):
    r = Rig(v318, "packet", (4,), incoming=b"abcd")
    assert r.recv(4, MSG_WAITALL) == -EINVAL


def test_packet_raw_recv_writes_a_vnet_header_first(v318):
    r = Rig(v318, None, (10, 4), incoming=b"abcd", family_type=(AF_PACKET, SOCK_RAW, 0))
    assert r.recv(14) == 14
    assert r.consumed() == [10, 4] and r.buffers() == bytes(10) + b"abcd"


# --- L2CAP: ->memcpy_fromiovec per fragment, relying on the consumption -----------------------


def test_l2cap_send_consumes_fragment_by_fragment(v318):
    calls = []

    def l2cap_sock_memcpy_fromiovec_cb(k, chan, kdata, iov, len):
        calls.append(len)
        return k.memcpy_fromiovec(kdata, iov, len)

    r = Rig(plant(v318, "l2cap_sock_memcpy_fromiovec_cb", l2cap_sock_memcpy_fromiovec_cb), "l2cap", (3, 2, 4))
    assert r.send() == 9
    assert calls == [2, 6, 1]  # conn->mtu 6 less the 4-byte header, then up to 6 per fragment
    assert r.consumed() == [3, 2, 4]
    assert r.peer.datagrams == [b"abcdefghi"]


def test_l2cap_with_an_offset_based_copy_would_resend_the_first_fragment(v318):
    """The mutation is what moves l2cap on: a non-consuming copy repeats the start of the kvec."""

    def l2cap_sock_memcpy_fromiovec_cb(k, chan, kdata, iov, len):
        return k.memcpy_fromiovecend(kdata, iov, 0, len)

    r = Rig(plant(v318, "l2cap_sock_memcpy_fromiovec_cb", l2cap_sock_memcpy_fromiovec_cb), "l2cap", (3, 2, 4))
    assert r.send() == 9
    assert r.peer.datagrams == [b"ababcdefa"]


def test_l2cap_failed_later_fragment_leaves_earlier_bytes_consumed(v318):
    r = Rig(v318, "l2cap", (3, 2, 4), script=((1, "error"),))
    assert r.send() == -ECONNRESET
    assert r.consumed() == [2, 0, 0] and r.peer.wire == b""
    assert r.send() == -ENOTCONN


def test_l2cap_outgoing_mtu(v318):
    r = Rig(v318, "l2cap", (673,), data=bytes(673))
    assert r.send() == -EMSGSIZE
    assert r.consumed() == [0]


def test_l2cap_recv_consumes(v318):
    r = Rig(v318, "l2cap", (2, 3), script=((5, "ok"),), incoming=b"hello!")
    assert r.recv(5) == 5
    assert r.consumed() == [2, 3] and r.buffers() == b"hello"


# --- verify_iovec: the syscall path's kernel copy ---------------------------------------------


def test_verify_iovec_points_msg_iov_at_a_kernel_copy(v318):
    r = Rig(v318, "netlink", (3, 2))
    user_array = r.vec
    m = r.k.msghdr(msg_iov=user_array, msg_iovlen=2)
    kernel_array = r.k.mem.alloc_array([r.k.iovec(iov_base=r.bases[0], iov_len=0) for _ in range(UIO_FASTIOV)])
    r.k.set_fs(KERNEL_DS)
    assert r.k.verify_iovec(m, kernel_array, r.k.mem.alloc_bytes(bytes(128)), VERIFY_READ) == 5
    assert m.msg_iov == kernel_array
    assert r.k.sock_sendmsg(r.sock, m, 5) == 5
    assert r.consumed() == [0, 0]  # netlink consumed the copy, not the caller's array
    assert r.k.mem.elem(kernel_array).iov_len == 0


def test_verify_iovec_needs_a_big_enough_kernel_array(v318):
    """"The caller must ensure that the iovec is big enough": a short array is overrun."""
    k = Kernel(v318)
    user = k.mem.alloc_array([k.iovec(iov_base=k.mem.alloc_bytes(b"ab"), iov_len=2) for _ in range(3)])
    m = k.msghdr(msg_iov=user, msg_iovlen=3)
    short = k.mem.alloc_array([k.iovec(iov_base=user, iov_len=0) for _ in range(2)])
    with pytest.raises(Oops):
        k.verify_iovec(m, short, k.mem.alloc_bytes(bytes(128)), VERIFY_READ)


def test_verify_iovec_clamps_the_total_below_int_max(v318):
    k = Kernel(v318)
    user = k.mem.alloc_array([k.iovec(iov_base=k.mem.alloc_bytes(b"ab"), iov_len=0x7FFFFFF0) for _ in range(2)])
    m = k.msghdr(msg_iov=user, msg_iovlen=2)
    copy = k.mem.alloc_array([k.iovec(iov_base=user, iov_len=0) for _ in range(2)])
    assert k.verify_iovec(m, copy, k.mem.alloc_bytes(bytes(128)), VERIFY_READ) == 0x7FFFFFFF
    assert k.mem.elem(copy + 1).iov_len == 0xF
    assert k.mem.elem(user + 1).iov_len == 0x7FFFFFF0
