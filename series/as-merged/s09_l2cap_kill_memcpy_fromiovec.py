"""first fruits - kill l2cap ->memcpy_fromiovec()

l2cap_skbuff_fromiovec() fills the first fragment and every continuation
fragment with copy_from_iter() on msg->msg_iter instead of calling
chan->ops->memcpy_fromiovec on msg_iter.iov for each: the iterator carries
the position from one fragment to the next, where memcpy_fromiovec() had
to consume the caller's array to make progress.  The socket's callback,
l2cap_sock_memcpy_fromiovec_cb(), and the ->memcpy_fromiovec member of
struct l2cap_ops go away (upstream also the no-op instances of the
in-kernel channel users, a2mp/6lowpan/smp, which are not modelled).

What a caller sees: an L2CAP send no longer consumes the caller's kvec;
it advances msg_iter, which kernel_sendmsg() sets up afresh on each call.

Upstream: Al Viro, recalled as 17836394e578 [UNVERIFIED: searched in the
stored public material and not found; no mainline history was readable].
The result is net/bluetooth/l2cap_core.c, which is not among the reference
trees: kernel-facts §3 describes it [INF]; net/bluetooth/l2cap_sock.c@3.19.8
has no memcpy_fromiovec callback left.  The message above describes the
change; the upstream text was not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from checks.series import Step
from model.errno import EFAULT
from model.proto.l2cap import l2cap_chan
from model.skbuff import sk_buff
from model.socket_h import MSG_DONTWAIT

if TYPE_CHECKING:  # the 3.19 struct msghdr of s06; only annotations name it
    from model.socket_h import msghdr

STEP = Step(
    subject="first fruits - kill l2cap ->memcpy_fromiovec()",
    upstream="17836394e578",
    upstream_verified=False,
    kernel="v3.19",
    depends=("s04", "s06"),
    removes=("l2cap_sock_memcpy_fromiovec_cb",),
    intends=("L2CAP sends advance msg_iter and no longer consume the caller's kvec",),
)


@dataclass(frozen=True, slots=True)
class l2cap_ops:
    """struct l2cap_ops: the channel's callbacks into its owner, by name (only those used here).
    No ->memcpy_fromiovec any more."""

    name: str
    alloc_skb: str


l2cap_chan_ops = l2cap_ops(
    name="L2CAP Socket Interface",
    alloc_skb="l2cap_sock_alloc_skb_cb",
)


def l2cap_skbuff_fromiovec(k, chan: l2cap_chan, msg: msghdr, len: int, count: int, skb: sk_buff) -> int:
    """Fill ``skb`` (``count`` bytes) and continuation fragments with ``len`` bytes from
    ``msg->msg_iter``, one copy_from_iter() per fragment; the iterator carries the position."""
    conn = chan.conn
    sent = 0

    if k.copy_from_iter(k.skb_put(skb, count), count, msg.msg_iter) != count:
        return -EFAULT

    sent += count
    len -= count

    # Continuation fragments (no L2CAP header)
    while len:
        count = min(conn.mtu, len)

        tmp = getattr(k, chan.ops.alloc_skb)(chan, 0, count, msg.msg_flags & MSG_DONTWAIT)
        if isinstance(tmp, int):
            return tmp

        if k.copy_from_iter(k.skb_put(tmp, count), count, msg.msg_iter) != count:
            return -EFAULT

        sent += count
        len -= count

        # *frag = tmp; skb->len += (*frag)->len: the frag_list is flattened into the head
        k.mem.write(k.skb_put(skb, tmp.len), k.mem.read(tmp.data, tmp.len))

    return sent

