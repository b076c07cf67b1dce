"""net/socket.c (v3.18): sock_sendmsg, sock_recvmsg, kernel_sendmsg, kernel_recvmsg, kernel_sendpage.

``kernel_sendmsg`` hands the caller's kvec array to the protocol as it is ("for compiler
definitions of kvec and iovec are identical"), under ``set_fs(KERNEL_DS)``: whatever the protocol
does to ``msg_iov`` it does to the caller's array. The kiocb/sock_iocb bookkeeping of the sync
path and the LSM hook (which allows everything here) are left out: no caller can see them.
"""

from __future__ import annotations

from model.errno import EINVAL
from model.in_h import IPPROTO_ICMP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP
from model.kernel import Ptr
from model.net_h import SOCK_DGRAM, SOCK_PACKET, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM, socket
from model.socket_h import AF_BLUETOOTH, AF_INET, AF_NETLINK, AF_PACKET, AF_UNIX, AF_UNSPEC, msghdr
from model.uaccess import KERNEL_DS
from model.world import Peer

# What net_families[]/inetsw[] would find: (family, type, protocol) -> (proto_ops, struct proto).
# Names of kernel symbols, so a step that replaces an ops table is seen by new sockets.
_PROTOSW = {
    (AF_INET, SOCK_STREAM, IPPROTO_TCP): ("inet_stream_ops", "tcp_prot"),
    (AF_INET, SOCK_DGRAM, IPPROTO_UDP): ("inet_dgram_ops", "udp_prot"),
    (AF_INET, SOCK_DGRAM, IPPROTO_ICMP): ("inet_dgram_ops", "ping_prot"),
    (AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP): ("inet_seqpacket_ops", "sctp_prot"),
    (AF_UNIX, SOCK_STREAM, 0): ("unix_stream_ops", "unix_proto"),
    (AF_NETLINK, SOCK_RAW, 0): ("netlink_ops", "netlink_proto"),
    (AF_PACKET, SOCK_PACKET, 0): ("packet_ops_spkt", "packet_proto"),
    (AF_PACKET, SOCK_RAW, 0): ("packet_ops", "packet_proto"),
    (AF_BLUETOOTH, SOCK_SEQPACKET, 0): ("l2cap_sock_ops", "l2cap_proto"),
    (AF_UNSPEC, SOCK_RAW, 0): ("tun_socket_ops", "tun_proto"),  # /dev/net/tun (model/proto/tun.py)
}


def sock_sendmsg(k, sock: socket, msg: msghdr, size: int) -> int:
    """Hand ``msg`` to the protocol. Does not touch ``msg_iov``."""
    return getattr(k, sock.ops.sendmsg)(None, sock, msg, size)


def sock_recvmsg(k, sock: socket, msg: msghdr, size: int, flags: int) -> int:
    return getattr(k, sock.ops.recvmsg)(None, sock, msg, size, flags)


def kernel_sendmsg(k, sock: socket, msg: msghdr, vec: Ptr, num: int, size: int) -> int:
    """Send from kernel memory: ``vec`` is a ``struct kvec *`` array of ``num`` entries."""
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    # the following is safe, since for compiler definitions of kvec and iovec are
    # identical, yielding the same in-core layout and alignment
    msg.msg_iov = vec
    msg.msg_iovlen = num
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result


def kernel_recvmsg(k, sock: socket, msg: msghdr, vec: Ptr, num: int, size: int, flags: int) -> int:
    """Receive into kernel memory.

    On return the msg structure contains the scatter/gather array passed in the vec argument.
    The array is modified so that it consists of the unfilled portion of the original array.
    """
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    msg.msg_iov = vec
    msg.msg_iovlen = num
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result


def kernel_sendpage(k, sock: socket, page: Ptr, offset: int, size: int, flags: int) -> int:
    return getattr(k, sock.ops.sendpage)(sock, page, offset, size, flags)


def sock_create_kern(k, family: int, type: int, protocol: int, peer: Peer) -> socket | int:
    """Create a connected kernel socket whose other end is ``peer`` (model: the world)."""
    names = _PROTOSW.get((family, type, protocol))
    if names is None:
        return -EINVAL
    ops, prot = (getattr(k, n) for n in names)
    sk = k.sock(sk_prot=prot, sk_type=type, peer=peer)
    return socket(type=type, ops=ops, sk=sk)
