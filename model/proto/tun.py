"""drivers/net/tun.c (v3.18): a tun device's socket as vhost-net uses it: tun_sendmsg() and
tun_get_user(); ``tun_socket_ops``, ``tun_proto``.

tun_sendmsg() (drivers/net/tun.c:1456@3.18.9) hands ``m->msg_iov`` and the length to
tun_get_user() (:1013), which reads the packet from the iovec by offset
(skb_copy_datagram_from_iovec(skb, 0, iv, offset, len), :1100; memcpy_fromiovecend() for the
tun_pi and vnet headers), so the iovec is never modified. The skb comes from tun_alloc_skb()
(:987) = sock_alloc_send_pskb(), which waits for send-buffer space unless MSG_DONTWAIT (vhost-net
always sets it: -EAGAIN). A TUN device without packet information takes the protocol from the
IP version nibble of the first byte and drops anything but 4 or 6 (-EINVAL, :1117-1137); the
packet then goes up the host's stack (netif_rx_ni()), and the return is ``total_len``: a packet
goes whole or not at all.

Simplified, and why no caller can tell: the device is IFF_TUN | IFF_NO_PI without IFF_VNET_HDR
(vhost-net then strips the guest's virtio-net header itself, VHOST_NET_F_VIRTIO_NET_HDR); the
checker's first byte, 'a' (0x61), reads as IP version 6. No zerocopy (``msg_control`` is NULL:
vhost-net's experimental_zcopytx off), no checksum or GSO fields, no flow steering; the host
stack is the world's peer, which receives the packet as a datagram. The socket is the tun_file's
(sk_alloc(net, AF_UNSPEC, ..., &tun_proto), ``tun_socket_ops``); the model creates it with
sock_create_kern(AF_UNSPEC, SOCK_RAW, 0), which stands for opening /dev/net/tun and TUNSETIFF
(the kernel's socket has no type; no caller reads it). tun_get_user() takes the socket's sk
where the kernel passes ``tun, tfile`` (tfile->socket.sk). Only the send path: vhost-net's receive
(tun_recvmsg()) is not modelled.
"""

from __future__ import annotations

from model.errno import EFAULT, EINVAL
from model.kernel import Ptr
from model.net_h import proto_ops, socket
from model.proto._net_core import _sock_alloc_send_skb
from model.sock import SHUTDOWN_MASK, proto, sock
from model.socket_h import AF_UNSPEC, MSG_DONTWAIT, msghdr

TUN_TUN_DEV = 0x0001
TUN_TAP_DEV = 0x0002
TUN_TYPE_MASK = 0x000F
TUN_NO_PI = 0x0040
TUN_VNET_HDR = 0x0200

_TUN_FLAGS = TUN_TUN_DEV | TUN_NO_PI  # tun->flags: see above


def _tun_gone(k, sk: sock) -> None:
    """The world's "error": the device goes away (tun_detach: the socket is shut down)."""
    sk.sk_shutdown = SHUTDOWN_MASK


def tun_alloc_skb(k, sk: sock, prepad: int, len: int, linear: int, noblock: int):
    """An skb with ``len`` bytes of room, or a negative errno (``ERR_PTR``)."""
    skb = _sock_alloc_send_skb(k, sk, prepad + len, noblock, _tun_gone)
    if isinstance(skb, int):
        return skb
    k.skb_put(skb, len)  # skb_reserve(skb, prepad); skb_put(skb, linear); skb->len += len - linear;
    return skb


def tun_get_user(k, sk: sock, msg_control: Ptr, iv: Ptr, total_len: int, count: int, noblock: int) -> int:
    """Get packet from user space buffer."""
    len = total_len
    offset = 0
    # tun->flags has TUN_NO_PI and no TUN_VNET_HDR: no tun_pi, no virtio_net_hdr to read
    # TUN_TUN_DEV: no ETH_HLEN check; msg_control is NULL: no zerocopy, copylen = len
    skb = k.tun_alloc_skb(sk, 0, len, 0, noblock)
    if isinstance(skb, int):
        # if (PTR_ERR(skb) != -EAGAIN) tun->dev->stats.rx_dropped++;
        return skb

    err = k.skb_copy_datagram_from_iovec(skb, 0, iv, offset, len)
    if err:
        # tun->dev->stats.rx_dropped++; kfree_skb(skb);
        return -EFAULT

    return _tun_rx(k, sk, skb, total_len)


def _tun_rx(k, sk: sock, skb, total_len: int) -> int:
    """The tail of tun_get_user(): the protocol from the first byte, then netif_rx_ni()."""
    if skb.len == 0 or k.mem.read(skb.data, 1)[0] & 0xF0 not in (0x40, 0x60):
        # tun->dev->stats.rx_dropped++; kfree_skb(skb);
        return -EINVAL
    sk.peer.deliver_datagram(k.mem.read(skb.data, skb.len))  # netif_rx_ni(skb);
    return total_len


def tun_sendmsg(k, iocb, sock: socket, m: msghdr, total_len: int) -> int:
    k.sk_begin_call(sock.sk)
    # tun = __tun_get(tfile): attached
    return k.tun_get_user(sock.sk, m.msg_control, m.msg_iov, total_len, m.msg_iovlen, m.msg_flags & MSG_DONTWAIT)


tun_socket_ops = proto_ops(family=AF_UNSPEC, sendmsg="tun_sendmsg", recvmsg="")
tun_proto = proto(name="tun", sendmsg="", recvmsg="")
