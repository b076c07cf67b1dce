"""net/ipv4/ip_output.c (v3.18): ip_generic_getfrag() and the ip_append_data()/ip_make_skb() path
that builds an IP datagram by calling the protocol's ``getfrag`` once per fragment.

``getfrag`` is offset-based: each call is told where in the message its fragment starts, and
ip_generic_getfrag reads the iovec with csum_partial_copy_fromiovecend at that offset, so the
caller's iovec is never modified (4.0 replaces it with sequential copy_from_iter calls). A
fragment's checksum is folded into ``skb->csum`` with csum_block_add at the parity ``odd``.

Simplified, and why no caller can tell:

* One route to the peer over one device, so the flowi4/ipcm_cookie/rtable arguments carry
  nothing and are left out. The device has an MTU of 68 (the IPv4 minimum), neither
  scatter-gather nor checksum offload nor UFO: every datagram is checksummed in software by
  ``getfrag`` (the path the series converts), and a datagram of more than 40 payload bytes is
  fragmented. With (68 - 20) a multiple of 8, ``maxfraglen == mtu``, so ``fraggap`` is always 0
  and the branch that moves a previous fragment's tail (skb_copy_and_csum_bits) is left out.
* ``sk->sk_write_queue`` and ip_make_skb's private queue are an explicit list argument
  (``queue``): struct sock here has no queues. Nothing corks across calls (MSG_MORE is not
  modelled), so a queue starts empty and each fragment is filled when it is allocated; the
  append-to-the-tail branch of __ip_append_data is never reached and is left out.
* An skb with its frag_list is a list of sk_buffs, head first. IP header bytes are reserved but
  left zero; ip_send_skb hands the transport payload to the peer, whose stack verifies the
  transport checksum with the model's own arithmetic and drops the datagram if it is wrong (so a
  broken checksum shows as a missing datagram, as it would).
* The first fragment waits for send-buffer space as sock_alloc_send_skb() does; later fragments
  (and ping, whose ``transhdrlen`` is 0) use sock_wmalloc(), which never waits: -ENOBUFS when the
  send buffer is full. While a UDP socket waits, the world's "error" is an ICMP port unreachable
  on the connected socket (``sk_err = ECONNREFUSED``); for ping it is an administratively
  prohibited host unreachable (EHOSTUNREACH), the fatal ICMP error an echo can get.
"""

from __future__ import annotations

from model.checksum import _csum_partial_bytes, csum_add, csum_fold, csum_tcpudp_nofold
from model.errno import ECONNREFUSED, EFAULT, EHOSTUNREACH, EMSGSIZE, ENOBUFS
from model.in_h import IPPROTO_ICMP, IPPROTO_UDP
from model.kernel import Ptr
from model.proto._net_core import _sock_alloc_send_skb, _sock_wmalloc
from model.skbuff import sk_buff
from model.sock import sock
from model.socket_h import MSG_DONTWAIT

_IP_DEV_MTU = 68  # the route's device: the IPv4 minimum MTU
_IPHDR_LEN = 20  # sizeof(struct iphdr), no options
_MSG_PROBE = 0x10  # include/linux/socket.h: "Do not send. Only probe path f.e. for MTU"

# The model's one flow, as __be32 values loaded by a little-endian host (127.0.0.1 -> 127.0.0.2).
_SADDR = 0x0100007F
_DADDR = 0x0200007F

# iph->protocol = sk->sk_protocol, by the transport's struct proto
_SK_PROTOCOL = {"UDP": IPPROTO_UDP, "PING": IPPROTO_ICMP}


def _ip_icmp_error(k, sk: sock) -> None:
    """The world's "error" for an IPv4 datagram socket: a fatal ICMP error for the flow arrives
    and sets ``sk_err`` (__udp4_lib_err / ping_err on a connected socket)."""
    sk.sk_err = ECONNREFUSED if _SK_PROTOCOL.get(sk.sk_prot.name) == IPPROTO_UDP else EHOSTUNREACH


def ip_generic_getfrag(k, from_: Ptr, to: Ptr, offset: int, len: int, odd: int, skb: sk_buff) -> int:
    """Copy ``len`` bytes from ``offset`` bytes into the iovec ``from_`` to ``to``, and add their
    checksum to ``skb->csum`` at the parity ``odd``. The iovec is not modified."""
    iov = from_
    # skb->ip_summed is CHECKSUM_NONE: the route's device has no checksum offload (see above),
    # so the CHECKSUM_PARTIAL branch (memcpy_fromiovecend) is never taken.
    csum = [0]
    if k.csum_partial_copy_fromiovecend(to, iov, offset, len, csum) < 0:
        return -EFAULT
    skb.csum = k.csum_block_add(skb.csum, csum[0], odd)
    return 0


def __ip_append_data(
    k, sk: sock, queue: list, getfrag: str, from_: object, length: int, transhdrlen: int, flags: int
) -> int:
    """Append ``length`` bytes (``transhdrlen`` of them the transport header, on the first
    fragment) to ``queue`` as IP fragments, calling ``getfrag`` for each fragment's data."""
    offset = 0
    mtu = _IP_DEV_MTU
    fragheaderlen = _IPHDR_LEN
    maxfraglen = ((mtu - fragheaderlen) & ~7) + fragheaderlen
    maxnonfragsize = 0xFFFF  # ip_sk_ignore_df(): the default IP_PMTUDISC_WANT allows fragments

    # cork->length starts at 0: nothing corks across calls
    if length > maxnonfragsize - fragheaderlen:
        return -EMSGSIZE

    while length > 0:
        # alloc_new_skb: (fraggap is 0, see the module docstring)
        datalen = length
        if datalen > mtu - fragheaderlen:
            datalen = maxfraglen - fragheaderlen
        fraglen = datalen + fragheaderlen

        if transhdrlen:
            skb = _sock_alloc_send_skb(k, sk, fraglen, flags & MSG_DONTWAIT, _ip_icmp_error)
            if isinstance(skb, int):
                return skb  # error: cork->length -= length
        else:
            skb = _sock_wmalloc(k, sk, fraglen)
            if skb is None:
                return -ENOBUFS

        # Fill in the control structures
        skb.csum = 0
        # Find where to start putting bytes.
        data = k.skb_put(skb, fraglen) + fragheaderlen

        copy = datalen - transhdrlen
        if copy > 0 and getattr(k, getfrag)(from_, data + transhdrlen, offset, copy, 0, skb) < 0:
            return -EFAULT  # kfree_skb(skb); goto error

        offset += copy
        length -= datalen
        transhdrlen = 0

        # Put the packet on the pending queue.
        queue.append(skb)
    return 0


def ip_append_data(
    k, sk: sock, getfrag: str, from_: object, length: int, transhdrlen: int, flags: int, queue: list
) -> int:
    """Make one large IP datagram from pieces held on ``queue`` (sk->sk_write_queue) until
    ip_push_pending_frames() sends it."""
    if flags & _MSG_PROBE:
        return 0
    if queue:
        transhdrlen = 0
    # else ip_setup_cork(): the model's one route
    return k.__ip_append_data(sk, queue, getfrag, from_, length, transhdrlen, flags)


def __ip_make_skb(k, sk: sock, queue: list) -> list[sk_buff] | None:
    """Combine all pending fragments into one datagram: the head skb and its frag_list."""
    if not queue:
        return None
    skb = list(queue)
    queue.clear()
    return skb


def ip_flush_pending_frames(k, sk: sock, queue: list) -> None:
    queue.clear()


def ip_send_skb(k, sk: sock, skb: list[sk_buff]) -> int:
    """ip_send_skb(net, skb) -> ip_local_out(): the datagram leaves for the socket's peer."""
    _ip_peer_rcv(k, sk, skb)
    return 0


def ip_push_pending_frames(k, sk: sock, queue: list) -> int:
    skb = k.__ip_make_skb(sk, queue)  # ip_finish_skb()
    if not skb:
        return 0
    return k.ip_send_skb(sk, skb)


def ip_make_skb(
    k, sk: sock, getfrag: str, from_: object, length: int, transhdrlen: int, flags: int
) -> list[sk_buff] | int | None:
    """The lockless path: build the datagram on a private queue; a negative errno on failure."""
    if flags & _MSG_PROBE:
        return None
    queue: list = []
    err = k.__ip_append_data(sk, queue, getfrag, from_, length, transhdrlen, flags)
    if err:
        queue.clear()  # __ip_flush_pending_frames()
        return err
    return k.__ip_make_skb(sk, queue)


# --- the world: the peer's IP stack -----------------------------------------------------------


def _ip_peer_rcv(k, sk: sock, skb: list[sk_buff]) -> None:
    """The peer reassembles the fragments, checks the transport checksum with the model's own
    (unreplaceable) arithmetic, and passes a good datagram up; a bad one is dropped."""
    payload = b"".join(k.mem.read(s.data + _IPHDR_LEN, s.len - _IPHDR_LEN) for s in skb)
    protocol = _SK_PROTOCOL.get(sk.sk_prot.name)
    if protocol == IPPROTO_UDP:
        check = int.from_bytes(payload[6:8], "little")
        if check:  # 0: the sender did not checksum
            pseudo = csum_tcpudp_nofold(None, _SADDR, _DADDR, len(payload), IPPROTO_UDP, 0)
            if csum_fold(None, csum_add(None, pseudo, _csum_partial_bytes(payload, 0))):
                return  # UDP_MIB_CSUMERRORS
        sk.peer.deliver_datagram(payload[8:])
    elif protocol == IPPROTO_ICMP:
        if csum_fold(None, _csum_partial_bytes(payload, 0)):
            return  # icmp_rcv: csum_error
        sk.peer.deliver_datagram(payload)
