"""drivers/net/tun.c (v3.18): a tun device's socket as vhost-net uses it: tun_sendmsg() and
tun_get_user(), tun_recvmsg(), tun_do_read() and tun_put_user(); ``tun_socket_ops``, ``tun_proto``.

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
where the kernel passes ``tun, tfile`` (tfile->socket.sk).

Receive (vhost-net's handle_rx()): tun_recvmsg() (drivers/net/tun.c:1471@3.18.9) accepts only
MSG_DONTWAIT|MSG_TRUNC|MSG_ERRQUEUE (else -EINVAL) and hands ``m->msg_iov`` and ``total_len`` to
tun_do_read() (:1347), which takes one skb off the socket's receive queue with
__skb_recv_datagram() (-EAGAIN on an empty queue under MSG_DONTWAIT) and gives it to
tun_put_user() (:1230). Without tun_pi or vnet header that copies min(skb->len, len) bytes with
skb_copy_datagram_const_iovec(skb, 0, iv, 0, len), by offset (the iovec is not modified), ignores
the copy's result, and returns skb->len; tun_recvmsg() then sets MSG_TRUNC in ``m->msg_flags`` when
that exceeds ``total_len`` and returns the packet's length under MSG_TRUNC, else ``total_len``.

The world for the receive side: the host stack's packets reach the queue whole (tun_net_xmit():
skb_queue_tail() of the skb, :806@3.18.9; not modelled) and wake vhost-net's rx poll;
the caller (model/users/vhost_net.py) lets the peer's message arrive as one packet before it runs
handle_rx(), and the next one only after the first has been taken, so the queue holds at most one
packet and "the datagram" _skb_recv_datagram() takes is exactly it. The call's window is taken
(sk_begin_call: calls are counted) but its room is not read: the packet is already queued when
vhost-net, which peeked it first, reads it with MSG_DONTWAIT, so nothing can arrive during the call
and no wait happens. No MSG_ERRQUEUE (vhost-net never sets it), no vlan tag (vlan_hlen 0), the
device stays attached (no -EBADFD) and registered (no -EIO).
"""

from __future__ import annotations

from model.errno import EFAULT, EINVAL
from model.kernel import Ptr
from model.net_h import proto_ops, socket
from model.proto._net_core import _datagram_skb, _skb_recv_datagram, _sock_alloc_send_skb
from model.sock import SHUTDOWN_MASK, proto, sock
from model.socket_h import AF_UNSPEC, MSG_DONTWAIT, MSG_TRUNC, msghdr

TUN_TUN_DEV = 0x0001
TUN_TAP_DEV = 0x0002
TUN_TYPE_MASK = 0x000F
TUN_NO_PI = 0x0040
TUN_VNET_HDR = 0x0200

_TUN_FLAGS = TUN_TUN_DEV | TUN_NO_PI  # tun->flags: see above
_MSG_ERRQUEUE = 0x2000  # include/linux/socket.h (model/socket_h.py does not define it)


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


def tun_put_user(k, sk: sock, skb, iv: Ptr, len: int) -> int:
    """Put packet to the user space buffer."""
    total = 0
    # no vlan tag: vlan_hlen = 0; no TUN_VNET_HDR: vnet_hdr_sz = 0; TUN_NO_PI: no struct tun_pi
    copied = total
    len = min(skb.len, len)  # min_t(int, skb->len + vlan_hlen, len)
    total += skb.len
    k.skb_copy_datagram_const_iovec(skb, 0, iv, copied, len)  # result not checked (:1338@3.18.9)
    # done: tun->dev->stats.tx_packets++; tun->dev->stats.tx_bytes += len;
    return total


def tun_do_read(k, sk: sock, iv: Ptr, len: int, noblock: int) -> int:
    if not len:
        return 0
    # tun->dev->reg_state == NETREG_REGISTERED
    # Read frames from queue
    data = _skb_recv_datagram(k, sk, MSG_DONTWAIT if noblock else 0, _tun_gone)
    if isinstance(data, int):
        return data  # ret = err (0: NULL skb after a shutdown)
    skb = _datagram_skb(k, data)
    ret = k.tun_put_user(sk, skb, iv, len)
    # kfree_skb(skb);
    return ret


def tun_recvmsg(k, iocb, sock: socket, m: msghdr, total_len: int, flags: int) -> int:
    k.sk_begin_call(sock.sk)  # the window's room is not read: see the module's docstring
    # tun = __tun_get(tfile): attached
    if flags & ~(MSG_DONTWAIT | MSG_TRUNC | _MSG_ERRQUEUE):
        return -EINVAL  # goto out
    # MSG_ERRQUEUE: sock_recv_errqueue(); vhost-net never sets it
    ret = k.tun_do_read(sock.sk, m.msg_iov, total_len, flags & MSG_DONTWAIT)
    if ret > total_len:
        m.msg_flags |= MSG_TRUNC
        ret = ret if flags & MSG_TRUNC else total_len
    # out: tun_put(tun);
    return ret


tun_socket_ops = proto_ops(family=AF_UNSPEC, sendmsg="tun_sendmsg", recvmsg="tun_recvmsg")
tun_proto = proto(name="tun", sendmsg="", recvmsg="")
