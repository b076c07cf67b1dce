"""net: memcpy_from_msg() and the getfrag callbacks copy with copy_from_iter()

memcpy_from_msg() becomes copy_from_iter(data, len, &msg->msg_iter) ==
len ? 0 : -EFAULT: it advances msg_iter and no longer writes the array
behind it.  ip_generic_getfrag() and ping_getfrag() read the message with
csum_and_copy_from_iter() on msg_iter instead of
csum_partial_copy_fromiovecend() on msg_iter.iov at ``offset``: the
offset argument is no longer used, and each call continues where the
previous one stopped, which is right as long as ip_append_data() asks
for the fragments in order, as it does.  pingfakehdr carries the msghdr
instead of its iovec.

For ping this keeps header and body consistent: the ICMP header read by
memcpy_from_msg() advances msg_iter, and ping_getfrag() reads the body
from there, where in 3.18 and 3.19 the header was consumed from the array
and the body read by an offset counted from the consumed header.

The commit message: "That takes care of the majority of ->sendmsg()
instances - most of them via memcpy_to_msg() or assorted getfrag()
callbacks.  One place where we still keep memcpy_fromiovecend() is tipc -
there we potentially read the same data over and over; separate patch,
that..."  (tipc's own send path is not modelled; its topology server is a
kernel_sendmsg() user over UDP here.)

What a caller sees: netlink, SOCK_PACKET and ping sends no longer consume
the caller's kvec (a send that fails after the copy, e.g. netlink's
-EAGAIN, leaves the kvec as it was).

Upstream: Al Viro, 21226abb4e9f14d88238964d89b279e461ddc30c (4.0; the id
and the message excerpt from the pandora-kernel gitweb, kernel-facts §5
#14; the subject line was not visible, the one here describes the
change).  The result is memcpy_from_msg() on copy_from_iter()
(include/linux/skbuff.h:2853-2855@4.0.5) and ip_generic_getfrag() on
copy_from_iter()/csum_and_copy_from_iter() (net/ipv4/ip_output.c:805-819
@4.0.5), and ping_getfrag() on csum_and_copy_from_iter()
(net/ipv4/ping.c:605-621@4.0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from checks.series import Step
from model.errno import EFAULT
from model.kernel import NULL, Oops, Ptr
from model.proto.ping import _ICMPHDR_LEN, _PING_IDENT
from model.skbuff import sk_buff
from model.sock import sock
from model.socket_h import AF_INET

if TYPE_CHECKING:  # the 3.19 struct msghdr of s06; only annotations name it
    from model.socket_h import msghdr

STEP = Step(
    subject="net: memcpy_from_msg() and the getfrag callbacks copy with copy_from_iter()",
    upstream="21226abb4e9f14d88238964d89b279e461ddc30c",
    upstream_verified=True,
    kernel="v4.0",
    depends=("s04", "s05", "s06"),
    intends=("memcpy_from_msg() advances msg_iter and no longer consumes the caller's kvec",
             "udp/ping getfrag read msg_iter sequentially; their offset argument is unused"),
)


def memcpy_from_msg(k, data: Ptr, msg: msghdr, len: int) -> int:
    return 0 if k.copy_from_iter(data, len, msg.msg_iter) == len else -EFAULT


def ip_generic_getfrag(k, from_: msghdr, to: Ptr, offset: int, len: int, odd: int, skb: sk_buff) -> int:
    """Copy the next ``len`` bytes of the message ``from_`` (a ``struct msghdr *``) to ``to``,
    and add their checksum to ``skb->csum`` at the parity ``odd``; msg_iter advances.
    ``offset`` is unused: the fragments are asked for in order."""
    msg = from_
    # skb->ip_summed is CHECKSUM_NONE: the route's device has no checksum offload, so the
    # CHECKSUM_PARTIAL branch (copy_from_iter) is never taken (model/proto/ip_output.py).
    csum = [0]
    if k.csum_and_copy_from_iter(to, len, csum, msg.msg_iter) != len:
        return -EFAULT
    skb.csum = k.csum_block_add(skb.csum, csum[0], odd)
    return 0


@dataclass(slots=True)
class pingfakehdr:
    """struct pingfakehdr (include/net/ping.h): the ICMP header being built and the message.

    4.0 replaces ``struct iovec *iov`` with ``struct msghdr *msg``. ``iov`` stays here, unused
    and NULL, only because checks/callgraph.py reads a member removed from one struct as removed
    from every struct: dropping pingfakehdr.iov would make every use of iov_iter.iov "has no
    member named 'iov'". Nothing reads or writes it from this step on.
    """

    icmph: Ptr  # struct icmphdr, in kernel memory
    msg: msghdr  # struct msghdr *
    wcheck: int = 0  # __wsum
    family: int = AF_INET
    iov: Ptr = NULL  # gone in 4.0: see above


def ping_getfrag(k, from_: pingfakehdr, to: Ptr, offset: int, fraglen: int, odd: int, skb: sk_buff) -> int:
    """Copy and checksum an ICMP Echo packet from user space into a buffer starting from the
    payload: the body is the rest of msg_iter, past the header memcpy_from_msg() took."""
    pfh = from_
    wcheck = [pfh.wcheck]  # &pfh->wcheck
    if offset == 0:
        fraglen -= _ICMPHDR_LEN
        if fraglen < 0:
            raise Oops("BUG() in ping_getfrag: first fragment shorter than the ICMP header")
        n = k.csum_and_copy_from_iter(to + _ICMPHDR_LEN, fraglen, wcheck, pfh.msg.msg_iter)
        pfh.wcheck = wcheck[0]
        if n != fraglen:
            return -EFAULT
    elif offset < _ICMPHDR_LEN:
        raise Oops("BUG() in ping_getfrag: fragment inside the ICMP header")
    else:
        n = k.csum_and_copy_from_iter(to, fraglen, wcheck, pfh.msg.msg_iter)
        pfh.wcheck = wcheck[0]
        if n != fraglen:
            return -EFAULT
    # For IPv4, accumulate the checksum in wcheck, it will be finalized in
    # ping_v4_push_pending_frames.
    return 0


def ping_v4_sendmsg(k, iocb, sk: sock, msg: msghdr, len: int) -> int:
    k.sk_begin_call(sk)
    user_icmph = k.mem.alloc_bytes(bytes(_ICMPHDR_LEN), name="user_icmph")

    err = k.ping_common_sendmsg(AF_INET, msg, len, user_icmph, _ICMPHDR_LEN)
    if err:
        return err

    # Get and verify the address: connected, daddr is the peer's (see above).

    user = k.mem.read(user_icmph, _ICMPHDR_LEN)
    pfh = k.pingfakehdr(icmph=k.mem.alloc_bytes(bytes(_ICMPHDR_LEN), name="pfh.icmph"), msg=msg)
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

