"""include/linux/skbuff.h + net/core/skbuff.c (v3.18): a linear sk_buff and its allocation.

Simplified: every skb is linear (no page frags, no frag_list); the copy helpers walk ``data``.
Which skb layout carried the bytes cannot be seen by a caller of sendmsg/recvmsg.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.kernel import NULL, Ptr


@dataclass(slots=True)
class sk_buff:
    data: Ptr = NULL
    len: int = 0
    csum: int = 0


def alloc_skb(k, size: int) -> sk_buff:
    return sk_buff(data=k.mem.alloc_bytes(bytes(size), name="skb"), len=size)


def skb_put(k, skb: sk_buff, len: int) -> Ptr:
    """Extend the data area by ``len``; returns a pointer to the new bytes."""
    tail = skb.data + skb.len
    region = k.mem.region(skb.data)
    region.data += bytes(len)
    skb.len += len
    return tail
