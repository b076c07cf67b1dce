"""net/core/datagram.c (v3.18): the skb <-> iovec copy helpers.

``skb_copy_datagram_iovec`` consumes the iovec ("the iovec is modified during the copy"), being
built on memcpy_toiovec; the ``const``/``from`` variants are offset-based and leave it alone.
"""

from __future__ import annotations

from model.kernel import Ptr
from model.skbuff import sk_buff


def skb_copy_datagram_iovec(k, skb: sk_buff, offset: int, to: Ptr, len: int) -> int:
    """Copy ``len`` bytes of the skb from ``offset`` to the iovec; the iovec is modified."""
    return k.memcpy_toiovec(to, skb.data + offset, len)


def skb_copy_datagram_const_iovec(k, skb: sk_buff, offset: int, to: Ptr, to_offset: int, len: int) -> int:
    """The same, starting ``to_offset`` bytes into the iovec; the iovec is not modified."""
    return k.memcpy_toiovecend(to, skb.data + offset, to_offset, len)


def skb_copy_datagram_from_iovec(k, skb: sk_buff, offset: int, from_: Ptr, from_offset: int, len: int) -> int:
    """Copy ``len`` bytes from the iovec, ``from_offset`` bytes in, into the skb; not modified."""
    return k.memcpy_fromiovecend(skb.data + offset, from_, from_offset, len)
