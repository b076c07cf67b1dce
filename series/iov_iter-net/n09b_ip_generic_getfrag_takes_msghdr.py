"""ip: hand ip_generic_getfrag() the msghdr, not its iovec

udp_sendmsg() passes msg->msg_iov to ip_make_skb() as the getfrag cookie,
and ip_generic_getfrag() copies from it by offset.  Pass the msghdr
instead, so that the next step can switch the copy to msg_iter without
touching the callers again; for now getfrag still reads msg->msg_iov by
offset, so nothing changes for anyone.

Found by the checks: with the getfrag switch to msg_iter ahead of this
step, xs_udp_send_request/udp and tipc_send_to_sock/udp do not build
(ip_generic_getfrag() is handed an iovec where it reads a msghdr).  In the
merged series this change is part of "put iov_iter into msghdr".
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EFAULT, EMSGSIZE, EOPNOTSUPP
from model.kernel import Ptr
from model.socket_h import MSG_OOB

_UDPHDR_LEN = 8  # sizeof(struct udphdr)

STEP = Step(
    subject="ip: hand ip_generic_getfrag() the msghdr, not its iovec",
    upstream=None,
    intends=("pure refactor: getfrag's cookie is the msghdr; it still reads msg_iov by offset",),
)


def udp_sendmsg(k, iocb, sk, msg, len: int) -> int:
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
    skb = k.ip_make_skb(sk, getfrag, msg, ulen, _UDPHDR_LEN, msg.msg_flags)
    err = skb if isinstance(skb, int) else 0
    if skb and not err:
        err = k.udp_send_skb(skb, sk)

    if not err:
        return len
    return err



def ip_generic_getfrag(k, from_, to: Ptr, offset: int, len: int, odd: int, skb) -> int:
    """Copy ``len`` bytes from ``offset`` bytes into the message ``from_`` (a ``struct msghdr *``
    now) to ``to``, and add their checksum to ``skb->csum`` at the parity ``odd``."""
    msg = from_
    csum = [0]
    if k.csum_partial_copy_fromiovecend(to, msg.msg_iov, offset, len, csum) < 0:
        return -EFAULT
    skb.csum = k.csum_block_add(skb.csum, csum[0], odd)
    return 0
