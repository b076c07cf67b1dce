"""switch memcpy_to_msg() and skb_copy{,_and_csum}_datagram_msg() to primitives

The receive-side msg helpers stop running memcpy_toiovec() on the array
behind msg_iter and use copy_to_iter()/skb_copy_datagram_iter() on
msg_iter itself: the caller's kvec array is no longer consumed, and
msg_iter advances instead.

skb_copy_and_csum_datagram_msg() is the msghdr flavour of
skb_copy_and_csum_datagram_iovec(): when the iterator holds the whole
payload it copies and sums it with csum_and_copy_to_iter() straight into
msg_iter and folds; a bad checksum returns -EINVAL with msg_iter already
advanced past the payload (nothing rewinds it).  Otherwise it verifies the
checksum first and copies with skb_copy_datagram_msg().  udp_recvmsg()
uses it in place of the iovec one; its csum_copy_err path still goes back
for the next datagram.

This changes what kernel_recvmsg() callers see: a caller that passes the
same kvec array again after a short read now gets its buffer filled from
the start again, since kernel_recvmsg() sets msg_iter up afresh from the
untouched array.

Upstream: Al Viro, recalled as e5a4b0bb803b [UNVERIFIED: searched in the
stored public material and not found; no mainline history was readable].
The result is memcpy_to_msg() on copy_to_iter()
(include/linux/skbuff.h:2701-2703@3.19.8) and
skb_copy_and_csum_datagram_msg() (net/core/datagram.c:667@3.19.8).  The
wrapper was added earlier on msg->msg_iov (recalled as 227158db1604
[UNVERIFIED], not found either) and converted here; this step adds it at
once in its converted form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.series import Step
from model.errno import EFAULT, EINVAL
from model.kernel import Ptr
from model.proto._net_core import _skb_checksum_complete, _skb_recv_datagram
from model.proto.ip_output import _ip_icmp_error
from model.proto.udp import _UDPHDR_LEN, _udp_peer_skb
from model.skbuff import sk_buff
from model.sock import sock
from model.socket_h import MSG_DONTWAIT, MSG_TRUNC

if TYPE_CHECKING:  # the 3.19 struct msghdr of s06; only annotations name it
    from model.socket_h import msghdr

STEP = Step(
    subject="switch memcpy_to_msg() and skb_copy{,_and_csum}_datagram_msg() to primitives",
    upstream="e5a4b0bb803b",
    upstream_verified=False,
    kernel="v3.19",
    depends=("s03", "s05", "s06"),
    adds=("skb_copy_and_csum_datagram", "skb_copy_and_csum_datagram_msg"),
    files={n: "net/core/datagram.c" for n in ("skb_copy_and_csum_datagram", "skb_copy_and_csum_datagram_msg")},
    intends=("the receive path advances msg_iter and no longer consumes the caller's kvec",
             "a UDP checksum failure leaves msg_iter advanced past the dropped datagram's payload"),
)


def memcpy_to_msg(k, msg, data: Ptr, len: int) -> int:
    return 0 if k.copy_to_iter(data, len, msg.msg_iter) == len else -EFAULT


def skb_copy_datagram_msg(k, from_, offset: int, msg, size: int) -> int:
    return k.skb_copy_datagram_iter(from_, offset, msg.msg_iter, size)


def skb_copy_and_csum_datagram(k, skb: sk_buff, offset: int, to, len: int, csump: list[int]) -> int:
    """static skb_copy_and_csum_datagram() (3.19): copy ``len`` bytes of the skb from ``offset``
    into the iterator ``to`` while adding their checksum to ``*csump``; the iterator advances.
    The skb is linear here (model/skbuff.py), so only the header part exists."""
    start = skb.len  # skb_headlen(skb)
    copy = start - offset

    # Copy header.
    if copy > 0:
        if copy > len:
            copy = len
        n = k.csum_and_copy_to_iter(skb.data + offset, copy, csump, to)
        if n != copy:
            return -EFAULT  # fault
        len -= copy
        if len == 0:
            return 0
    # no page frags, no frag_list
    if not len:
        return 0
    return -EFAULT  # fault


def skb_copy_and_csum_datagram_msg(k, skb: sk_buff, hlen: int, msg: msghdr) -> int:
    """Copy and checksum skb to user iovec.

    Caller _must_ check that skb will fit to this iovec.  Returns 0, -EINVAL on a checksum
    failure (msg_iter is then already advanced by the payload), or -EFAULT.
    """
    chunk = skb.len - hlen
    if not chunk:
        return 0

    if k.iov_iter_count(msg.msg_iter) < chunk:
        if _skb_checksum_complete(k, skb):  # __skb_checksum_complete(skb)
            return -EINVAL  # csum_error
        if k.skb_copy_datagram_msg(skb, hlen, msg, chunk):
            return -EFAULT  # fault
    else:
        csum = [k.csum_partial(skb.data, hlen, skb.csum)]
        if k.skb_copy_and_csum_datagram(skb, hlen, msg.msg_iter, chunk, csum):
            return -EFAULT  # fault
        if k.csum_fold(csum[0]):
            return -EINVAL  # csum_error
        # if (unlikely(skb->ip_summed == CHECKSUM_COMPLETE)) netdev_rx_csum_fault(skb->dev);: CHECKSUM_NONE
    return 0


def udp_recvmsg(k, iocb, sk: sock, msg: msghdr, len: int, noblock: int, flags: int) -> int:
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)

    while True:  # try_again:
        data = _skb_recv_datagram(k, sk, flags | (MSG_DONTWAIT if noblock else 0), _ip_icmp_error)
        if isinstance(data, int):
            return data  # out: err (0 after a shutdown)
        skb = _udp_peer_skb(k, data)

        ulen = skb.len - _UDPHDR_LEN
        copied = len
        if copied > ulen:
            copied = ulen
        elif copied < ulen:
            msg.msg_flags |= MSG_TRUNC

        # If checksum is needed at all, try to do it while copying the data. If the data is
        # truncated, or if we only want a partial coverage checksum (UDP-Lite), do it before
        # the copy.
        checksum_valid = False
        if copied < ulen:
            checksum_valid = not _skb_checksum_complete(k, skb)  # udp_lib_checksum_complete()
            if not checksum_valid:
                msg.msg_flags &= ~MSG_TRUNC  # csum_copy_err: starting over for a new packet
                continue

        if checksum_valid:  # || skb_csum_unnecessary(skb): never, see above
            err = k.skb_copy_datagram_msg(skb, _UDPHDR_LEN, msg, copied)
        else:
            err = k.skb_copy_and_csum_datagram_msg(skb, _UDPHDR_LEN, msg)
            if err == -EINVAL:
                msg.msg_flags &= ~MSG_TRUNC  # csum_copy_err
                continue

        if err:
            return err  # out_free

        err = copied
        if flags & MSG_TRUNC:
            err = ulen
        return err
