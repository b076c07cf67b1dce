"""net: Add skb_copy_datagram_iter and skb_copy_datagram_from_iter

The datagram copy helpers, on an iov_iter instead of an iovec: they copy
with copy_to_iter()/copy_from_iter() and so advance the iterator and
leave the array alone.  For now only tun/macvtap use them; of tun, the
receive side is converted here: tun_recvmsg() sets up a local iov_iter
over m->msg_iov, and tun_do_read()/tun_put_user() copy into it with
skb_copy_datagram_iter() (macvtap is not modelled; tun's send side keeps
skb_copy_datagram_from_iovec() until msg_iter exists, s06).

Upstream: Herbert Xu's iov_iter datagram helpers, ids not found (no
mainline history was readable); the result is net/core/datagram.c:319
(skb_copy_datagram_iter) and 407 (skb_copy_datagram_from_iter)@3.19.8.
tun's receive in 3.19: tun_put_user() takes a struct iov_iter, returns
skb->len and copies with skb_copy_datagram_iter(skb, 0, iter, skb->len)
(drivers/net/tun.c:1239-1349, :1342@3.19.8); tun_do_read() returns 0 when
iov_iter_count() is 0 (:1351-1380); tun_recvmsg() :1471. The form of tun_recvmsg() between
this conversion and msg_iter, iov_iter_init(&to, READ, m->msg_iov,
m->msg_iovlen, total_len), is [INF: recalled from Herbert Xu's "tun: Use
iovec iterators", not in the reference set; kernel-facts §5 #4 puts the
tun/macvtap conversion with these helpers]. It must come no later than
the removal of skb_copy_datagram_const_iovec() (s11), which tun_put_user()
used in 3.18.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EFAULT, EINVAL
from model.proto._net_core import _datagram_skb, _skb_recv_datagram
from model.proto.tun import _MSG_ERRQUEUE, _tun_gone
from model.socket_h import MSG_DONTWAIT, MSG_TRUNC
from model.uio import READ

STEP = Step(
    subject="net: Add skb_copy_datagram_iter and skb_copy_datagram_from_iter",
    upstream=None,
    kernel="v3.19",
    adds=("skb_copy_datagram_iter", "skb_copy_datagram_from_iter"),
    files={n: "net/core/datagram.c" for n in ("skb_copy_datagram_iter", "skb_copy_datagram_from_iter")},
    intends=("iov_iter flavours of the datagram copies (tun's receive uses them)",
             "tun_put_user()/tun_do_read() take an iov_iter; tun_recvmsg() sets one up over msg_iov"),
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


# --- tun's receive on an iov_iter ------------------------------------------


def tun_put_user(k, sk, skb, iter) -> int:
    """Put packet to the user space buffer."""
    # no vlan tag: vlan_hlen = 0; no TUN_VNET_HDR: vnet_hdr_sz = 0; TUN_NO_PI: no struct tun_pi
    total = skb.len
    k.skb_copy_datagram_iter(skb, 0, iter, skb.len)  # vlan_offset 0; result not checked
    # done: tun->dev->stats.tx_packets++; tun->dev->stats.tx_bytes += skb->len + vlan_hlen;
    return total


def tun_do_read(k, sk, to, noblock: int) -> int:
    if not k.iov_iter_count(to):
        return 0
    # tun->dev->reg_state == NETREG_REGISTERED
    # Read frames from queue
    data = _skb_recv_datagram(k, sk, MSG_DONTWAIT if noblock else 0, _tun_gone)
    if isinstance(data, int):
        return data
    skb = _datagram_skb(k, data)
    ret = k.tun_put_user(sk, skb, to)
    # if (unlikely(ret < 0)) kfree_skb(skb); else consume_skb(skb);
    return ret


def tun_recvmsg(k, iocb, sock, m, total_len: int, flags: int) -> int:
    k.sk_begin_call(sock.sk)  # the window's room is not read: see model/proto/tun.py
    if flags & ~(MSG_DONTWAIT | MSG_TRUNC | _MSG_ERRQUEUE):
        return -EINVAL
    to = k.iov_iter()
    k.iov_iter_init(to, READ, m.msg_iov, m.msg_iovlen, total_len)
    ret = k.tun_do_read(sock.sk, to, flags & MSG_DONTWAIT)
    if ret > total_len:
        m.msg_flags |= MSG_TRUNC
        ret = ret if flags & MSG_TRUNC else total_len
    return ret
