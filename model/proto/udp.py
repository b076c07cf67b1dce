"""net/ipv4/udp.c (v3.18): udp_sendmsg, udp_send_skb and udp_recvmsg; ``udp_prot``.

Send: a datagram is all or nothing. udp_sendmsg builds it with ip_make_skb() and
ip_generic_getfrag, which reads the iovec by offset (csum_partial_copy_fromiovecend): the caller's
iovec is never modified. It returns ``len`` or a negative errno; it may wait for send-buffer
space before it reads anything (see model/proto/ip_output.py).

Receive: udp_recvmsg takes one datagram and copies it with skb_copy_datagram_iovec (consumes the
iovec) when it has verified the checksum first (a truncated read), otherwise with
skb_copy_and_csum_datagram_iovec, which copies and sums in one pass into the first non-empty
segment and advances that segment only if the checksum is good (a bad one drops the datagram and
tries the next, "csum_copy_err"). Datagrams arrive with ``ip_summed == CHECKSUM_NONE`` (no
receive offload) and a correct checksum computed by the peer; ``skb->csum`` holds the
pseudo-header sum, as udp4_csum_init leaves it. A datagram is what one window let arrive (see
model/proto/_net_core.py).

Simplified, and why no caller can tell: the socket is connected (no msg_name, no route lookup,
no IP options or control messages: no modelled user sends them); corking (MSG_MORE, UDP_CORK)
is not modelled: a corked send would join the next datagram on the peer's side, which changes
datagram boundaries only, never the bytes that arrive or the return value; no UDP-Lite, no
MSG_PEEK, no MSG_ERRQUEUE; ``addr_len`` is left out of udp_recvmsg as inet_recvmsg here does.
"""

from __future__ import annotations

from model.checksum import _csum_partial_bytes, csum_add, csum_fold, csum_tcpudp_nofold
from model.errno import EINVAL, EMSGSIZE, EOPNOTSUPP
from model.in_h import IPPROTO_UDP
from model.proto._net_core import _skb_checksum_complete, _skb_copy_and_csum_datagram_iovec, _skb_recv_datagram
from model.proto.ip_output import _DADDR, _IPHDR_LEN, _SADDR, _ip_icmp_error
from model.skbuff import sk_buff
from model.sock import proto, sock
from model.socket_h import MSG_DONTWAIT, MSG_OOB, MSG_TRUNC, msghdr

_UDPHDR_LEN = 8  # sizeof(struct udphdr)
_SPORT = 32768  # the model's flow: our port ...
_DPORT = 9  # ... and the peer's


def udp_send_skb(k, skb: list[sk_buff], sk: sock) -> int:
    """Fill in the UDP header of a datagram built by ip_make_skb and send it. ``skb->sk`` is
    passed explicitly; the flow (fl4) is the model's one route."""
    head = skb[0]
    uh = head.data + _IPHDR_LEN  # udp_hdr(skb)
    length = head.len - _IPHDR_LEN + sum(frag.len - _IPHDR_LEN for frag in skb[1:])

    # Create a UDP header
    k.mem.write(uh, _SPORT.to_bytes(2, "big") + _DPORT.to_bytes(2, "big"))
    k.mem.write(uh + 4, length.to_bytes(2, "big") + bytes(2))

    # udp_csum(skb): the fragments' sums start at even offsets, so csum_add does
    csum = k.csum_partial(uh, _UDPHDR_LEN, head.csum)
    for frag in skb[1:]:
        csum = k.csum_add(csum, frag.csum)

    # add protocol-dependent pseudo-header
    check = k.csum_tcpudp_magic(_SADDR, _DADDR, length, IPPROTO_UDP, csum)
    if check == 0:
        check = 0xFFFF  # CSUM_MANGLED_0
    k.mem.write(uh + 6, check.to_bytes(2, "little"))

    return k.ip_send_skb(sk, skb)


def udp_sendmsg(k, iocb, sk: sock, msg: msghdr, len: int) -> int:
    k.sk_begin_call(sk)
    ulen = len

    if len > 0xFFFF:
        return -EMSGSIZE

    # Check the flags.
    if msg.msg_flags & MSG_OOB:  # Mirror BSD error message compatibility
        return -EOPNOTSUPP

    getfrag = "ip_generic_getfrag"
    ulen += _UDPHDR_LEN

    # Get and verify the address: connected, so daddr/dport are the peer's (see above).

    # Lockless fast path for the non-corking case.
    skb = k.ip_make_skb(sk, getfrag, msg.msg_iov, ulen, _UDPHDR_LEN, msg.msg_flags)
    err = skb if isinstance(skb, int) else 0
    if skb and not err:
        err = k.udp_send_skb(skb, sk)

    if not err:
        return len
    return err


def udp_recvmsg(k, iocb, sk: sock, msg: msghdr, len: int, noblock: int, flags: int) -> int:
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)

    while True:  # try_again:
        data = _skb_recv_datagram(k, sk, flags | (MSG_DONTWAIT if noblock else 0), _ip_icmp_error)
        if isinstance(data, int):
            return data  # out: err (0 after a shutdown)
        skb = _udp_peer_skb(k, data)

        ulen = skb.len - _UDPHDR_LEN
        copied = len
        if copied > ulen:
            copied = ulen
        elif copied < ulen:
            msg.msg_flags |= MSG_TRUNC

        # If checksum is needed at all, try to do it while copying the data. If the data is
        # truncated, or if we only want a partial coverage checksum (UDP-Lite), do it before
        # the copy.
        checksum_valid = False
        if copied < ulen:
            checksum_valid = not _skb_checksum_complete(k, skb)  # udp_lib_checksum_complete()
            if not checksum_valid:
                msg.msg_flags &= ~MSG_TRUNC  # csum_copy_err: starting over for a new packet
                continue

        if checksum_valid:  # || skb_csum_unnecessary(skb): never, see above
            err = k.skb_copy_datagram_iovec(skb, _UDPHDR_LEN, msg.msg_iov, copied)
        else:
            err = _skb_copy_and_csum_datagram_iovec(k, skb, _UDPHDR_LEN, msg.msg_iov)
            if err == -EINVAL:
                msg.msg_flags &= ~MSG_TRUNC  # csum_copy_err
                continue

        if err:
            return err  # out_free

        err = copied
        if flags & MSG_TRUNC:
            err = ulen
        return err


udp_prot = proto(name="UDP", sendmsg="udp_sendmsg", recvmsg="udp_recvmsg")


# --- the world: a datagram from the peer ------------------------------------------------------


def _udp_peer_skb(k, data: bytes) -> sk_buff:
    """The skb a datagram carrying ``data`` arrives in: UDP header (with the peer's correct
    checksum) and payload; ``skb->csum`` is the pseudo-header sum (udp4_csum_init)."""
    ulen = _UDPHDR_LEN + len(data)
    hdr = _DPORT.to_bytes(2, "big") + _SPORT.to_bytes(2, "big") + ulen.to_bytes(2, "big")
    pseudo = csum_tcpudp_nofold(None, _DADDR, _SADDR, ulen, IPPROTO_UDP, 0)
    check = csum_fold(None, csum_add(None, pseudo, _csum_partial_bytes(hdr + bytes(2) + data, 0))) or 0xFFFF
    skb = k.alloc_skb(ulen)
    k.mem.write(skb.data, hdr + check.to_bytes(2, "little") + data)
    skb.csum = pseudo
    return skb
