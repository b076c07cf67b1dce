"""net/packet/af_packet.c (v3.18): packet_sendmsg_spkt (SOCK_PACKET), packet_sendmsg/packet_snd
(SOCK_RAW), packet_recvmsg; ``packet_ops_spkt``, ``packet_ops``, ``packet_proto``.

SOCK_PACKET send: packet_sendmsg_spkt allocates with sock_wmalloc (it never waits: -ENOBUFS when
the send buffer is full) and copies the frame with memcpy_fromiovec, which consumes the caller's
iovec; it returns ``len`` or an error.

SOCK_RAW send: packet_snd first takes the virtio-net header with memcpy_fromiovec (consumed),
checks it, waits for send-buffer space (packet_alloc_skb -> sock_alloc_send_pskb), then copies
the frame with skb_copy_datagram_from_iovec(skb, offset, msg->msg_iov, 0, len): offset 0, which
is right only because the header was consumed. The return counts the header. A wait that ends
in an error, -EAGAIN or a signal leaves the header consumed and nothing sent.

Receive: packet_recvmsg takes one frame; on a SOCK_RAW socket it first writes a virtio-net
header with memcpy_toiovec, then the frame with skb_copy_datagram_iovec: both consume the iovec.
It rejects flags other than MSG_PEEK|MSG_DONTWAIT|MSG_TRUNC|MSG_CMSG_COMPAT|MSG_ERRQUEUE
(MSG_WAITALL included) with -EINVAL.

Simplified, and why no caller can tell:

* The socket is bound to one Ethernet device (mtu 1500, 14-byte header) that reaches the peer,
  and every SOCK_RAW socket has PACKET_VNET_HDR set (``po->has_vnet_hdr``; SOCK_PACKET cannot
  have it). A SOCK_PACKET send needs a destination in ``msg_name`` in the kernel (-ENOTCONN
  without one); here the bound device stands for it: no modelled in-kernel user passes a name,
  and what this model is for is what the protocol does to the caller's kvec. No tx ring, no
  SOCK_DGRAM link-layer header building, no timestamps, no SOCK_NOFCS.
* GSO frames are delivered whole (segmentation happens below the socket); received frames have
  ``ip_summed == CHECKSUM_NONE`` (an all-zero virtio-net header).
* The world's "error" is the device going down: ``sk_err = ENETDOWN`` (packet_notifier); a
  device that is down is marked by SEND_SHUTDOWN on the socket, which nothing else reads here.
"""

from __future__ import annotations

from model.errno import EINVAL, EMSGSIZE, ENETDOWN, ENOBUFS
from model.kernel import Ptr
from model.net_h import SOCK_RAW, proto_ops, socket
from model.proto._net_core import _datagram_skb, _skb_recv_datagram, _sock_alloc_send_skb, _sock_wmalloc
from model.sock import SEND_SHUTDOWN, proto, sock
from model.socket_h import AF_PACKET, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, msghdr

_MSG_ERRQUEUE = 0x2000
_MSG_CMSG_COMPAT = 0x80000000

_DEV_MTU = 1500  # the bound device: Ethernet
_DEV_HARD_HEADER_LEN = 14  # ETH_HLEN
_VLAN_HLEN = 4  # include/linux/if_vlan.h
_ETH_P_8021Q = 0x8100

# struct virtio_net_hdr (include/uapi/linux/virtio_net.h): flags, gso_type, hdr_len, gso_size,
# csum_start, csum_offset (little-endian u16s on this host)
_VNET_HDR_LEN = 10
_VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
_VIRTIO_NET_HDR_GSO_NONE = 0
_VIRTIO_NET_HDR_GSO_TCPV4 = 1
_VIRTIO_NET_HDR_GSO_UDP = 3
_VIRTIO_NET_HDR_GSO_TCPV6 = 4
_VIRTIO_NET_HDR_GSO_ECN = 0x80


def _packet_dev_down(k, sk: sock) -> None:
    """The world's "error": the bound device goes down (packet_notifier, NETDEV_DOWN)."""
    sk.sk_shutdown |= SEND_SHUTDOWN
    sk.sk_err = ENETDOWN


def _dev_up(sk: sock) -> bool:
    return not sk.sk_shutdown & SEND_SHUTDOWN


def _frame_is_8021q(k, data: Ptr, len: int) -> bool:
    """eth_hdr(skb)->h_proto == htons(ETH_P_8021Q)"""
    return len >= _DEV_HARD_HEADER_LEN and int.from_bytes(k.mem.read(data + 12, 2), "big") == _ETH_P_8021Q


def packet_sendmsg_spkt(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    skb = None

    # Get and verify the address: the bound device (see above).
    while True:  # retry:
        # dev = dev_get_by_name_rcu(sock_net(sk), saddr->spkt_device)
        if not _dev_up(sk):
            return -ENETDOWN

        # You may not queue a frame bigger than the mtu. This is the lowest level
        # raw protocol and you must do your own fragmentation at this level.
        if len > _DEV_MTU + _DEV_HARD_HEADER_LEN + _VLAN_HLEN:
            return -EMSGSIZE

        if skb is None:
            skb = _sock_wmalloc(k, sk, len)
            if skb is None:
                return -ENOBUFS
            err = k.memcpy_fromiovec(k.skb_put(skb, len), msg.msg_iov, len)
            if err:
                return err  # out_free
            continue  # goto retry

        if len > _DEV_MTU + _DEV_HARD_HEADER_LEN and not _frame_is_8021q(k, skb.data, len):
            # Earlier code assumed this would be a VLAN pkt, double-check this now that we
            # have the actual packet in hand.
            return -EMSGSIZE

        # dev_queue_xmit(skb)
        sk.peer.deliver_datagram(k.mem.read(skb.data, skb.len))
        return len


def packet_snd(k, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    reserve = 0
    gso_type = 0
    extra_len = 0

    # Get and verify the address: the bound device (packet_cached_dev_get).
    if not _dev_up(sk):
        return -ENETDOWN

    if sock.type == SOCK_RAW:
        reserve = _DEV_HARD_HEADER_LEN
    # po->has_vnet_hdr: set on every SOCK_RAW socket here (see above)
    vnet_hdr_len = _VNET_HDR_LEN

    err = -EINVAL
    if len < vnet_hdr_len:
        return err

    len -= vnet_hdr_len

    vnet_hdr = k.mem.alloc_bytes(bytes(_VNET_HDR_LEN), name="vnet_hdr")
    err = k.memcpy_fromiovec(vnet_hdr, msg.msg_iov, vnet_hdr_len)
    if err < 0:
        return err
    raw = k.mem.read(vnet_hdr, _VNET_HDR_LEN)
    flags, hdr_gso_type = raw[0], raw[1]
    hdr_len, gso_size, csum_start, csum_offset = (
        int.from_bytes(raw[i : i + 2], "little") for i in range(2, 10, 2)
    )

    if (flags & _VIRTIO_NET_HDR_F_NEEDS_CSUM) and csum_start + csum_offset + 2 > hdr_len:
        hdr_len = csum_start + csum_offset + 2

    err = -EINVAL
    if hdr_len > len:
        return err

    if hdr_gso_type != _VIRTIO_NET_HDR_GSO_NONE:
        kind = hdr_gso_type & ~_VIRTIO_NET_HDR_GSO_ECN
        if kind not in (_VIRTIO_NET_HDR_GSO_TCPV4, _VIRTIO_NET_HDR_GSO_TCPV6, _VIRTIO_NET_HDR_GSO_UDP):
            return err
        gso_type = kind
        if gso_size == 0:
            return err

    err = -EMSGSIZE
    if not gso_type and len > _DEV_MTU + reserve + _VLAN_HLEN + extra_len:
        return err

    # packet_alloc_skb() -> sock_alloc_send_pskb()
    skb = _sock_alloc_send_skb(k, sk, len, msg.msg_flags & MSG_DONTWAIT, _packet_dev_down)
    if isinstance(skb, int):
        return skb
    k.skb_put(skb, len)

    # Returns -EFAULT on error
    offset = 0
    err = k.skb_copy_datagram_from_iovec(skb, offset, msg.msg_iov, 0, len)
    if err:
        return err  # out_free

    if not gso_type and len > _DEV_MTU + reserve + extra_len and not _frame_is_8021q(k, skb.data, len):
        # Earlier code assumed this would be a VLAN pkt, double-check this now that we have
        # the actual packet in hand.
        return -EMSGSIZE

    # po->has_vnet_hdr: VIRTIO_NET_HDR_F_NEEDS_CSUM && !skb_partial_csum_set(skb, start, off)
    if (flags & _VIRTIO_NET_HDR_F_NEEDS_CSUM) and (csum_start > len or csum_start + csum_offset > len - 2):
        return -EINVAL
    len += vnet_hdr_len

    # po->xmit(skb): dev_queue_xmit
    sk.peer.deliver_datagram(k.mem.read(skb.data, skb.len))
    return len


def packet_sendmsg(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    k.sk_begin_call(sock.sk)
    # po->tx_ring.pg_vec: no tx ring here (tpacket_snd is not modelled)
    return k.packet_snd(sock, msg, len)


def packet_recvmsg(k, iocb, sock: socket, msg: msghdr, len: int, flags: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    vnet_hdr_len = 0

    err = -EINVAL
    if flags & ~(MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | _MSG_CMSG_COMPAT | _MSG_ERRQUEUE):
        return err

    # Call the generic datagram receiver. This handles all sorts of horrible races and
    # re-entrancy so we can forget about it in the protocol layers.
    data = _skb_recv_datagram(k, sk, flags, _packet_dev_down)
    if isinstance(data, int):
        return data
    skb = _datagram_skb(k, data)

    if sock.type == SOCK_RAW:  # pkt_sk(sk)->has_vnet_hdr
        err = -EINVAL
        vnet_hdr_len = _VNET_HDR_LEN
        if len < vnet_hdr_len:
            return err  # out_free

        len -= vnet_hdr_len

        # not GSO, ip_summed CHECKSUM_NONE: everything is zero
        vnet_hdr = k.mem.alloc_bytes(bytes(_VNET_HDR_LEN), name="vnet_hdr")
        err = k.memcpy_toiovec(msg.msg_iov, vnet_hdr, vnet_hdr_len)
        if err < 0:
            return err  # out_free

    # If the address length field is there to be filled in, we fill it in now: no msg_name.

    copied = skb.len
    if copied > len:
        copied = len
        msg.msg_flags |= MSG_TRUNC

    err = k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, copied)
    if err:
        return err  # out_free

    # Free or return the buffer as appropriate. Again this hides all the races and
    # re-entrancy issues from us.
    return vnet_hdr_len + (skb.len if flags & MSG_TRUNC else copied)


packet_ops_spkt = proto_ops(
    family=AF_PACKET, sendmsg="packet_sendmsg_spkt", recvmsg="packet_recvmsg", sendpage="sock_no_sendpage"
)
packet_ops = proto_ops(
    family=AF_PACKET, sendmsg="packet_sendmsg", recvmsg="packet_recvmsg", sendpage="sock_no_sendpage"
)
packet_proto = proto(name="PACKET", sendmsg="", recvmsg="")  # struct proto packet_proto has no methods
