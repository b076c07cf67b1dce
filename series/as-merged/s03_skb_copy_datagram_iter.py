"""net: Add skb_copy_datagram_iter and skb_copy_datagram_from_iter

The datagram copy helpers, on an iov_iter instead of an iovec: they copy
with copy_to_iter()/copy_from_iter() and so advance the iterator and
leave the array alone.  For now only tun/macvtap (not modelled) use them.

Upstream: Herbert Xu's iov_iter datagram helpers, ids not found (no
mainline history was readable); the result is net/core/datagram.c:319
(skb_copy_datagram_iter) and 407 (skb_copy_datagram_from_iter)@3.19.8.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EFAULT

STEP = Step(
    subject="net: Add skb_copy_datagram_iter and skb_copy_datagram_from_iter",
    upstream=None,
    kernel="v3.19",
    adds=("skb_copy_datagram_iter", "skb_copy_datagram_from_iter"),
    files={n: "net/core/datagram.c" for n in ("skb_copy_datagram_iter", "skb_copy_datagram_from_iter")},
    intends=("iov_iter flavours of the datagram copies (no user yet)",),
)


def skb_copy_datagram_iter(k, skb, offset: int, to, len: int) -> int:
    """Copy ``len`` bytes of the skb from ``offset`` into the iterator; it advances. A short copy
    is a fault only if the iterator still had room ("short_copy: if (iov_iter_count(to)) goto
    fault; return 0")."""
    if k.copy_to_iter(skb.data + offset, len, to) != len and k.iov_iter_count(to):
        return -EFAULT
    return 0


def skb_copy_datagram_from_iter(k, skb, offset: int, from_, len: int) -> int:
    """Copy ``len`` bytes from the iterator into the skb at ``offset``; it advances."""
    if k.copy_from_iter(skb.data + offset, len, from_) != len:
        return -EFAULT
    return 0
