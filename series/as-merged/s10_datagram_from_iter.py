"""af_unix, af_packet: send with skb_copy_datagram_from_iter()

unix_stream_sendmsg() fills each skb with skb_copy_datagram_from_iter(skb,
0, &msg->msg_iter, size) instead of skb_copy_datagram_from_iovec(skb, 0,
msg->msg_iter.iov, sent, size): the iterator carries what has been sent,
so the offset argument goes.  (unix_dgram_sendmsg() and
unix_seqpacket_sendmsg() change the same way upstream; they are not
modelled.)

packet_snd() reads the virtio-net header with copy_from_iter() and the
frame with skb_copy_datagram_from_iter(skb, offset, &msg->msg_iter, len).
In 3.18 the frame was read at offset 0 of msg_iov, right only because
memcpy_fromiovec() had consumed the header from the array; now the
header read advances msg_iter and the frame follows it there.

Neither path ever modified the caller's kvec; they now advance msg_iter,
which kernel_sendmsg() sets up afresh on each call.  A caller sees no
difference.

Upstream: net/unix/af_unix.c:1519, 1697 and net/packet/af_packet.c:2528
@3.19.8 have this form (3.18.9 has skb_copy_datagram_from_iovec() at
af_unix.c:1519, 1697).  For the AF_UNIX stream send the commit is
c0371da6047a ("put iov_iter into msghdr", s06; a blame of af_unix.c
attributes the line to it), so upstream that part came with s06: callers
see no difference.  The other commits were not found.  Herbert Xu added
skb_copy_datagram_from_iter() (s03); who converted these callers, and in
how many commits, is not known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.series import Step
from model.errno import EFAULT, EINVAL, EMSGSIZE, ENETDOWN, EOPNOTSUPP, EPIPE
from model.net_h import SOCK_RAW, socket
from model.proto._net_core import _sock_alloc_send_skb
from model.proto.af_packet import (
    _DEV_HARD_HEADER_LEN,
    _DEV_MTU,
    _VIRTIO_NET_HDR_F_NEEDS_CSUM,
    _VIRTIO_NET_HDR_GSO_ECN,
    _VIRTIO_NET_HDR_GSO_NONE,
    _VIRTIO_NET_HDR_GSO_TCPV4,
    _VIRTIO_NET_HDR_GSO_TCPV6,
    _VIRTIO_NET_HDR_GSO_UDP,
    _VLAN_HLEN,
    _VNET_HDR_LEN,
    _dev_up,
    _frame_is_8021q,
    _packet_dev_down,
)
from model.proto.af_unix import _SKB_MAX_ALLOC, _UNIX_SK_SNDBUF, _unix_peer_dead, _unix_peer_dies
from model.sock import SEND_SHUTDOWN
from model.socket_h import MSG_DONTWAIT, MSG_OOB

if TYPE_CHECKING:  # the 3.19 struct msghdr of s06; only annotations name it
    from model.socket_h import msghdr

STEP = Step(
    subject="af_unix, af_packet: send with skb_copy_datagram_from_iter()",
    upstream=None,
    kernel="v3.19",
    depends=("s03", "s04", "s06"),
    intends=("AF_UNIX and packet_snd advance msg_iter; the caller's kvec was and stays untouched",),
)


def unix_stream_sendmsg(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    sent = 0

    err = -EOPNOTSUPP
    if msg.msg_flags & MSG_OOB:
        return sent or err  # out_err

    # msg_namelen: the socket is connected (see above); other = unix_peer(sk)

    if sk.sk_shutdown & SEND_SHUTDOWN:
        return sent or -EPIPE  # pipe_err

    while sent < len:
        size = len - sent

        # Keep two messages in the pipe so it schedules better
        size = min(size, (_UNIX_SK_SNDBUF >> 1) - 64)
        size = min(size, _SKB_MAX_ALLOC)

        skb = _sock_alloc_send_skb(k, sk, size, msg.msg_flags & MSG_DONTWAIT, _unix_peer_dies)
        if isinstance(skb, int):
            return sent or skb  # out_err

        # Only send the fds in the first buffer: no SCM rights here

        k.skb_put(skb, size)
        err = k.skb_copy_datagram_from_iter(skb, 0, msg.msg_iter, size)
        if err:
            return sent or err  # kfree_skb(skb); goto out_err

        # unix_state_lock(other)
        if _unix_peer_dead(sk):
            return sent or -EPIPE  # pipe_err_free

        # skb_queue_tail(&other->sk_receive_queue, skb); other->sk_data_ready(other)
        sk.peer.deliver(k.mem.read(skb.data, size))
        sent += size

    return sent


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
    err = -EFAULT
    n = k.copy_from_iter(vnet_hdr, vnet_hdr_len, msg.msg_iter)
    if n != vnet_hdr_len:
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
    err = k.skb_copy_datagram_from_iter(skb, offset, msg.msg_iter, len)
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

