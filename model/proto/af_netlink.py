"""net/netlink/af_netlink.c (v3.18): netlink_sendmsg, netlink_unicast, netlink_recvmsg;
``netlink_ops``, ``netlink_proto``.

Send: netlink_sendmsg copies the whole message into one skb with
``memcpy_fromiovec(skb_put(skb, len), msg->msg_iov, len)``, which consumes the caller's iovec,
and only then hands it to netlink_unicast. That is where it may wait: netlink_attachskb waits
while the receiving socket's buffer is full. So a send that ends in -EAGAIN, a signal's errno or
-ECONNREFUSED (the receiver went away) has already consumed the caller's kvec, though nothing
was sent. A message is all or nothing: the return is ``len`` or an error.

Receive: netlink_recvmsg takes one message (a datagram) and copies it with
skb_copy_datagram_iovec (consumes the iovec); a longer message is truncated (MSG_TRUNC).

Simplified, and why no caller can tell: the socket is bound and connected to one user-space
peer (``dst_portid``), so there is no autobind, no msg_name, no broadcast group, no mmap'ed ring,
no SCM credentials, no dump continuation; the receiving socket is the world's, and its buffer
space is the window's ``room`` (model/world.py). A destination that went away is marked by
SEND_SHUTDOWN on our socket, which nothing else reads on a netlink socket (the model keeps no
struct sock for the peer). The world's "error" on a receive is an overrun: messages were
dropped and ``sk_err = ENOBUFS`` (netlink_overrun). ``len > sk_sndbuf - 32`` uses the default
``sk_sndbuf`` (212992).
"""

from __future__ import annotations

from model.errno import EAGAIN, ECONNREFUSED, EFAULT, EMSGSIZE, ENOBUFS, EOPNOTSUPP
from model.net_h import proto_ops, socket
from model.proto._net_core import _datagram_skb, _skb_recv_datagram
from model.skbuff import sk_buff
from model.sock import SEND_SHUTDOWN, proto, sock
from model.socket_h import AF_NETLINK, MSG_DONTWAIT, MSG_OOB, MSG_TRUNC, msghdr
from model.world import UNLIMITED, WAIT_ERROR, WAIT_SIGNAL

_SK_SNDBUF = 212992  # sysctl_wmem_default
_PEER_PORTID = 4242  # nlk->dst_portid: the connected user-space peer


def _netlink_overrun(k, sk: sock) -> None:
    """The world's "error" on a receive: our receive queue overflowed, messages were dropped."""
    sk.sk_err = ENOBUFS


def netlink_attachskb(k, sk: sock, skb: sk_buff, timeo: list[int], ssk: sock) -> int:
    """Attach ``skb`` to the receiver ``sk``: 0, 1 to look the receiver up again after a wait, or
    a negative errno (the skb is then freed). ``long *timeo`` is a one-element list.

    The receiver is the world's: its buffer space is ``ssk.room`` and its waits ``ssk.window``,
    so the model passes the sending socket as ``sk`` too."""
    if sk.room <= 0:  # sk_rmem_alloc > sk_rcvbuf || NETLINK_CONGESTED
        if not timeo[0]:
            # (netlink_overrun() of the receiver only for a kernel sender)
            return -EAGAIN
        then = ssk.window.then
        if then == WAIT_SIGNAL:
            return k.sock_intr_errno(timeo[0])
        if then == WAIT_ERROR:
            ssk.sk_shutdown |= SEND_SHUTDOWN  # the receiver is released while we sleep
        else:
            sk.room = UNLIMITED
        return 1
    # skb_set_owner_r(skb, sk)
    return 0


def netlink_sendskb(k, sk: sock, skb: sk_buff) -> int:
    """Queue ``skb`` on the receiver and wake it; returns the length."""
    length = skb.len
    sk.room = max(0, sk.room - length)
    sk.peer.deliver_datagram(k.mem.read(skb.data, length))
    return length


def netlink_unicast(k, ssk: sock, skb: sk_buff, portid: int, nonblock: int) -> int:
    timeo = [k.sock_sndtimeo(ssk, nonblock)]
    while True:  # retry:
        # netlink_getsockbyportid(ssk, portid)
        if ssk.sk_shutdown & SEND_SHUTDOWN:
            return -ECONNREFUSED  # kfree_skb(skb)
        # the receiver is a user socket: no netlink_unicast_kernel, no filter
        err = k.netlink_attachskb(ssk, skb, timeo, ssk)
        if err == 1:
            continue
        if err:
            return err
        return k.netlink_sendskb(ssk, skb)


def netlink_sendmsg(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)

    if msg.msg_flags & MSG_OOB:
        return -EOPNOTSUPP

    # scm_send(): no control data. msg_namelen == 0: dst_portid = nlk->dst_portid.
    dst_portid = _PEER_PORTID

    err = -EMSGSIZE
    if len > _SK_SNDBUF - 32:
        return err
    skb = k.alloc_skb(0)  # netlink_alloc_large_skb(len, dst_group)

    err = -EFAULT
    if k.memcpy_fromiovec(k.skb_put(skb, len), msg.msg_iov, len):
        return err  # kfree_skb(skb)

    # security_netlink_send(): allowed; dst_group == 0: no broadcast
    err = k.netlink_unicast(sk, skb, dst_portid, msg.msg_flags & MSG_DONTWAIT)
    return err


def netlink_recvmsg(k, iocb, sock: socket, msg: msghdr, len: int, flags: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    noblock = flags & MSG_DONTWAIT

    if flags & MSG_OOB:
        return -EOPNOTSUPP

    copied = 0
    data = _skb_recv_datagram(k, sk, flags | (MSG_DONTWAIT if noblock else 0), _netlink_overrun)
    if isinstance(data, int):
        return data or copied  # out: err ? : copied
    data_skb = _datagram_skb(k, data)

    copied = data_skb.len
    if len < copied:
        msg.msg_flags |= MSG_TRUNC
        copied = len

    err = k.skb_copy_datagram_iovec(data_skb, 0, msg.msg_iov, copied)

    if flags & MSG_TRUNC:
        copied = data_skb.len
    return err or copied


netlink_ops = proto_ops(
    family=AF_NETLINK, sendmsg="netlink_sendmsg", recvmsg="netlink_recvmsg", sendpage="sock_no_sendpage"
)
netlink_proto = proto(name="NETLINK", sendmsg="", recvmsg="")  # struct proto netlink_proto has no methods
