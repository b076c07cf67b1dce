"""net/ipv4/ping.c + include/net/ping.h (v3.18): ICMP echo ("ping") sockets; ``ping_prot``.

Send: ping_common_sendmsg fetches the 8-byte ICMP header with memcpy_fromiovec: "iovec is
modified! The ICMP header is consumed." The body then goes through ip_append_data with
ping_getfrag, which reads it with csum_partial_copy_fromiovecend at an offset counted from the end
of the *consumed* header (``offset - sizeof(struct icmphdr)``, 0 for the first fragment), so it
relies on that consumption; the body itself is not consumed. The header must be an echo request
(type 8, code 0) or the call fails with -EINVAL after consuming it. The kernel fills in the
identifier (the socket's ident) and the checksum, which ping_v4_push_pending_frames computes
over header and body; the peer gets the whole ICMP message and drops it if the checksum is
wrong. ping's ip_append_data has no transport header length, so it allocates with sock_wmalloc
and never waits: a full send buffer is -ENOBUFS whatever the window says.

Like the C, nothing guards an empty body: an 8-byte send asks csum_partial_copy_fromiovecend
for 0 bytes at offset 0 of the consumed iovec, whose skip loop then walks past the last
(emptied) segment (an Oops here).

Receive: ping_recvmsg copies the datagram with skb_copy_datagram_iovec (consumes the iovec).

Simplified, and why no caller can tell: the socket is connected and bound (no msg_name, no
route lookup, no IP options or control messages; its ident is 1, as the first autobound ping
socket's is); MSG_CONFIRM/MSG_PROBE are not modelled; ``addr_len`` is left out of ping_recvmsg
as inet_recvmsg here does.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EFAULT, EINVAL, EMSGSIZE, EOPNOTSUPP
from model.kernel import Oops, Ptr
from model.proto._net_core import _datagram_skb, _skb_recv_datagram
from model.proto.ip_output import _IPHDR_LEN, _ip_icmp_error
from model.skbuff import sk_buff
from model.sock import proto, sock
from model.socket_h import AF_INET, MSG_DONTWAIT, MSG_OOB, MSG_TRUNC, msghdr

_ICMP_ECHO = 8  # include/uapi/linux/icmp.h
_ICMPHDR_LEN = 8  # sizeof(struct icmphdr): type, code, checksum, un.echo.id, un.echo.sequence
_PING_IDENT = 1  # inet->inet_num of the first autobound ping socket (ping_get_port: rover + 1)


@dataclass(slots=True)
class pingfakehdr:
    """struct pingfakehdr (include/net/ping.h): the ICMP header being built and the message."""

    icmph: Ptr  # struct icmphdr, in kernel memory
    iov: Ptr  # struct iovec *
    wcheck: int = 0  # __wsum
    family: int = AF_INET


def _ping_supported(family: int, type: int, code: int) -> bool:
    """static inline ping_supported(): is this a supported type of ICMP message?"""
    return family == AF_INET and type == _ICMP_ECHO and code == 0


def ping_getfrag(k, from_: pingfakehdr, to: Ptr, offset: int, fraglen: int, odd: int, skb: sk_buff) -> int:
    """Copy and checksum an ICMP Echo packet from user space into a buffer starting from the
    payload: the body's offsets count from the end of the (consumed) header."""
    pfh = from_
    wcheck = [pfh.wcheck]
    if offset == 0:
        if fraglen < _ICMPHDR_LEN:
            raise Oops("BUG() in ping_getfrag: first fragment shorter than the ICMP header")
        if k.csum_partial_copy_fromiovecend(to + _ICMPHDR_LEN, pfh.iov, 0, fraglen - _ICMPHDR_LEN, wcheck):
            return -EFAULT
    elif offset < _ICMPHDR_LEN:
        raise Oops("BUG() in ping_getfrag: fragment inside the ICMP header")
    else:
        if k.csum_partial_copy_fromiovecend(to, pfh.iov, offset - _ICMPHDR_LEN, fraglen, wcheck):
            return -EFAULT
    pfh.wcheck = wcheck[0]
    # For IPv4, accumulate the checksum in wcheck, it will be finalized in
    # ping_v4_push_pending_frames.
    return 0


def ping_v4_push_pending_frames(k, sk: sock, pfh: pingfakehdr, queue: list) -> int:
    """Finish the checksum over the header, put the header in front of the body and send."""
    skb = queue[0]  # skb_peek(&sk->sk_write_queue)
    pfh.wcheck = k.csum_partial(pfh.icmph, _ICMPHDR_LEN, pfh.wcheck)
    k.mem.write(pfh.icmph + 2, k.csum_fold(pfh.wcheck).to_bytes(2, "little"))
    k.mem.write(skb.data + _IPHDR_LEN, k.mem.read(pfh.icmph, _ICMPHDR_LEN))  # icmp_hdr(skb)
    return k.ip_push_pending_frames(sk, queue)


def ping_common_sendmsg(k, family: int, msg: msghdr, len: int, user_icmph: Ptr, icmph_len: int) -> int:
    if len > 0xFFFF or len < icmph_len:
        return -EMSGSIZE

    # Check the flags.
    # Mirror BSD error message compatibility
    if msg.msg_flags & MSG_OOB:
        return -EOPNOTSUPP

    # Fetch the ICMP header provided by the userland.
    # iovec is modified! The ICMP header is consumed.
    if k.memcpy_fromiovec(user_icmph, msg.msg_iov, icmph_len):
        return -EFAULT

    type_, code = k.mem.read(user_icmph, 2)
    if not _ping_supported(family, type_, code):
        return -EINVAL
    return 0


def ping_v4_sendmsg(k, iocb, sk: sock, msg: msghdr, len: int) -> int:
    k.sk_begin_call(sk)
    user_icmph = k.mem.alloc_bytes(bytes(_ICMPHDR_LEN), name="user_icmph")

    err = k.ping_common_sendmsg(AF_INET, msg, len, user_icmph, _ICMPHDR_LEN)
    if err:
        return err

    # Get and verify the address: connected, daddr is the peer's (see above).

    user = k.mem.read(user_icmph, _ICMPHDR_LEN)
    pfh = k.pingfakehdr(icmph=k.mem.alloc_bytes(bytes(_ICMPHDR_LEN), name="pfh.icmph"), iov=msg.msg_iov)
    k.mem.write(
        pfh.icmph,
        user[0:2]  # type, code: already checked
        + bytes(2)  # checksum = 0
        + _PING_IDENT.to_bytes(2, "big")  # un.echo.id = inet->inet_sport
        + user[6:8],  # un.echo.sequence
    )
    pfh.wcheck = 0
    pfh.family = AF_INET

    queue: list = []  # sk->sk_write_queue
    err = k.ip_append_data(sk, "ping_getfrag", pfh, len, 0, msg.msg_flags, queue)
    if err:
        k.ip_flush_pending_frames(sk, queue)
    else:
        err = k.ping_v4_push_pending_frames(sk, pfh, queue)

    if not err:
        return len
    return err


def ping_recvmsg(k, iocb, sk: sock, msg: msghdr, len: int, noblock: int, flags: int) -> int:
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)

    if flags & MSG_OOB:
        return -EOPNOTSUPP

    data = _skb_recv_datagram(k, sk, flags | (MSG_DONTWAIT if noblock else 0), _ip_icmp_error)
    if isinstance(data, int):
        return data
    skb = _datagram_skb(k, data)

    copied = skb.len
    if copied > len:
        msg.msg_flags |= MSG_TRUNC
        copied = len

    # Don't bother checking the checksum
    err = k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, copied)
    if err:
        return err
    return copied


ping_prot = proto(name="PING", sendmsg="ping_v4_sendmsg", recvmsg="ping_recvmsg")
