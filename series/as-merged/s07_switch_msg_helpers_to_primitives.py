"""switch memcpy_to_msg() and skb_copy{,_and_csum}_datagram_msg() to primitives

The receive-side msg helpers stop running memcpy_toiovec() on the array
behind msg_iter and use copy_to_iter()/skb_copy_datagram_iter() on
msg_iter itself: the caller's kvec array is no longer consumed, and
msg_iter advances instead.

This changes what kernel_recvmsg() callers see: a caller that passes the
same kvec array again after a short read now gets its buffer filled from
the start again, since kernel_recvmsg() sets msg_iter up afresh from the
untouched array.

Upstream: Al Viro, recalled as e5a4b0bb803b [UNVERIFIED]; the result is
T319 include/linux/skbuff.h.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EFAULT
from model.kernel import Ptr

STEP = Step(
    subject="switch memcpy_to_msg() and skb_copy{,_and_csum}_datagram_msg() to primitives",
    upstream="e5a4b0bb803b",
    upstream_verified=False,
    kernel="v3.19",
    depends=("s03", "s06"),
    intends=("the receive path advances msg_iter and no longer consumes the caller's kvec",),
)


def memcpy_to_msg(k, msg, data: Ptr, len: int) -> int:
    return 0 if k.copy_to_iter(data, len, msg.msg_iter) == len else -EFAULT


def skb_copy_datagram_msg(k, from_, offset: int, msg, size: int) -> int:
    return k.skb_copy_datagram_iter(from_, offset, msg.msg_iter, size)
