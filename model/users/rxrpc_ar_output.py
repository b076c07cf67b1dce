"""net/rxrpc/ar-output.c (v3.18): rxrpc_send_packet(), how RxRPC puts its packets on its UDP
transport socket, as rxrpc_queue_packet() and the resend path use it.

rxrpc_send_packet() (:338@3.18.9) sends one packet (``skb->head``, ``skb->len``: the wire
header and the data) with a one-element kvec on the stack and ``msg_flags = 0`` (blocking) by
kernel_sendmsg() on the transport's UDP socket; -EMSGSIZE (the packet would have to be
fragmented with DF set) sends it again with IP_MTU_DISCOVER turned off (``send_fragmentable``,
:376-391). rxrpc_queue_packet() (:456) keeps the packet in the call's ACK window until the peer
acknowledges it; if the send fails it marks the packet ``need_resend`` and schedules an instant
resend (:511-515), and the call processor sends it again whole. A datagram goes whole or not at
all, and the kvec is never reused.

Simplified, and why no caller can tell: the packet is the checker's one kvec (the header that
rxrpc_send_data() writes into ``skb->head`` is part of the checker's bytes); the peer's maxdata
is above any packet here, so the DF path is taken and -EMSGSIZE does not happen (the model's UDP
returns it only above 64 KiB); kernel_setsockopt() and the defrag semaphore are comments. The
world's peer acknowledges a packet once it has arrived: the resend path (rxrpc_resend() in
ar-ack.c, not in the reference set) then has nothing to resend. rxrpc_send_data(), which copies
the caller's data from ``msg_iov`` (AF_RXRPC sendmsg and AFS's rxrpc_kernel_send_data()), is not
modelled: AFS, its kernel user, builds that msghdr in fs/afs/rxrpc.c, which is not in the
reference set. rxrpc_send_packet() is the same in the 3.19.8, 4.0.5 and 4.1.6 trees.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EMSGSIZE
from model.kernel import NULL, Ptr
from model.users import SEND, User

_RXRPC_HEADER_SIZE = 28  # sizeof(struct rxrpc_header)
_RXRPC_MAXDATA = 1 << 16  # trans->peer->maxdata: above any packet here (docstring)


@dataclass(slots=True)
class rxrpc_peer:
    maxdata: int = _RXRPC_MAXDATA


@dataclass(slots=True)
class rxrpc_transport:
    socket: object  # trans->local->socket: struct socket *
    peer: rxrpc_peer


@dataclass(slots=True)
class _rxrpc_skb:
    """The sk_buff fields rxrpc_send_packet() reads, and rxrpc_skb(skb)->need_resend."""

    head: Ptr
    len: int
    need_resend: bool = False


def rxrpc_send_packet(k, trans: rxrpc_transport, skb: _rxrpc_skb) -> int:
    """send a packet through the transport endpoint"""
    iov = k.mem.alloc_array([k.kvec(iov_base=skb.head, iov_len=skb.len)], name="rxrpc_send_packet iov")

    msg = k.msghdr()
    msg.msg_name = NULL  # &trans->peer->srx.transport.sin: the connected peer here
    msg.msg_namelen = 0
    msg.msg_control = NULL
    msg.msg_controllen = 0
    msg.msg_flags = 0

    # send the packet with the don't fragment bit set if we currently think it's small enough
    if skb.len - _RXRPC_HEADER_SIZE < trans.peer.maxdata:
        # down_read(&trans->local->defrag_sem);
        # send the packet by UDP - returns -EMSGSIZE if UDP would have to fragment the packet
        # to go out of the interface - in which case, we'll have processed the ICMP error
        # message and update the peer record
        ret = k.kernel_sendmsg(trans.socket, msg, iov, 1, k.mem.elem(iov).iov_len)

        # up_read(&trans->local->defrag_sem);
        if ret != -EMSGSIZE:
            return ret

    # send_fragmentable: attempt to send this message with fragmentation enabled
    # down_write(&trans->local->defrag_sem); opt = IP_PMTUDISC_DONT;
    # ret = kernel_setsockopt(trans->local->socket, SOL_IP, IP_MTU_DISCOVER, ...): 0
    ret = k.kernel_sendmsg(trans.socket, msg, iov, 1, k.mem.elem(iov).iov_len)
    # opt = IP_PMTUDISC_DO; kernel_setsockopt(...); up_write(&trans->local->defrag_sem);
    return ret


def _rxrpc_queue_packet(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """rxrpc_queue_packet() sends the packet; a failed send marks it need_resend and the call
    processor sends it again whole, until it has gone (and the peer acknowledges it)."""
    trans = k.rxrpc_transport(socket=sock, peer=k.rxrpc_peer())
    seg = k.mem.elem(vec)
    skb = _rxrpc_skb(head=seg.iov_base, len=seg.iov_len)
    ret = k.rxrpc_send_packet(trans, skb)
    while ret < 0:
        skb.need_resend = True  # rxrpc_instant_resend(call): rxrpc_process_call() resends
        ret = k.rxrpc_send_packet(trans, skb)
    skb.need_resend = False
    return total


USERS = (
    User("rxrpc_send_packet", "net/rxrpc/ar-output.c", SEND, ("udp",), _rxrpc_queue_packet, max_segs=1,
         note="one packet per kernel_sendmsg, kvec on the stack; a failed packet is resent whole"),
)
