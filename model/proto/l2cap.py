"""net/bluetooth/l2cap_sock.c + net/bluetooth/l2cap_core.c + net/bluetooth/af_bluetooth.c +
include/net/bluetooth/bluetooth.h + include/net/bluetooth/l2cap.h (v3.18): an L2CAP
SOCK_SEQPACKET socket in basic mode; ``l2cap_sock_ops``, ``l2cap_proto``.

One module for the send and receive path through these files (split across them only by the
socket/channel layering; no other model module needs the channel).

Send: l2cap_sock_sendmsg -> l2cap_chan_send -> l2cap_create_basic_pdu -> l2cap_skbuff_fromiovec,
which copies the first fragment and then each continuation fragment (at most the HCI MTU) with
``chan->ops->memcpy_fromiovec`` = l2cap_sock_memcpy_fromiovec_cb = memcpy_fromiovec, always on
``msg->msg_iov``: it relies on memcpy_fromiovec consuming the iovec to move on, and so consumes
the caller's kvec. Every fragment is allocated with ``chan->ops->alloc_skb`` =
l2cap_sock_alloc_skb_cb -> bt_skb_send_alloc -> sock_alloc_send_skb, which may wait; a wait
that fails on a later fragment returns the error with the earlier fragments' bytes consumed
from the kvec and nothing sent. An SDU is all or nothing: the return is ``len`` or an error.
(3.19 "kill l2cap ->memcpy_fromiovec()" replaces the callback with copy_from_iter.)

Receive: l2cap_sock_recvmsg -> bt_sock_recvmsg takes one SDU and copies it with
skb_copy_datagram_iovec (consumes the iovec); a longer SDU is truncated (MSG_TRUNC); on a shut
down socket it returns 0.

Simplified, and why no caller can tell:

* The channel is connected in basic mode over an ACL link whose HCI MTU is scaled down to 6
  bytes (``conn->mtu``), so the checker's few-byte messages span a first fragment of 2 bytes
  (6 minus the 4-byte L2CAP header) and continuation fragments of up to 6, as kernel-sized SDUs
  span several 1021-byte ACL fragments; the outgoing MTU (``chan->omtu``) is the default 672.
* struct sock here has no room for ``l2cap_pi(sk)->chan``: the channel is rebuilt from the
  socket on each call (basic mode keeps no per-call state), and the socket and channel states
  move together: BT_CONNECTED until the link is torn down, which the model marks as
  ``sk_shutdown == SHUTDOWN_MASK``. The world's "error" is that teardown
  (l2cap_sock_teardown_cb: ``sk_err = ECONNRESET``, socket closed).
* A PDU's frag_list is flattened into the head skb (sk_buff here is linear): each continuation
  fragment is still allocated and filled by its own ->memcpy_fromiovec call, then appended.
  The peer receives the SDU (the PDU less its L2CAP header). No ERTM/streaming/LE modes, no
  connectionless channels, no deferred setup, no suspend (bt_sock_wait_ready returns at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import ECONNRESET, EFAULT, EMSGSIZE, ENOTCONN, EOPNOTSUPP
from model.kernel import Ptr
from model.net_h import proto_ops, socket
from model.proto._net_core import _datagram_skb, _skb_recv_datagram, _sock_alloc_send_skb
from model.skbuff import sk_buff
from model.sock import RCV_SHUTDOWN, SHUTDOWN_MASK, proto, sock
from model.socket_h import AF_BLUETOOTH, MSG_DONTWAIT, MSG_OOB, MSG_TRUNC, msghdr

L2CAP_HDR_SIZE = 4
L2CAP_DEFAULT_MTU = 672
L2CAP_MODE_BASIC = 0x00
L2CAP_CHAN_CONN_ORIENTED = 0x03
BT_CONNECTED = 1
BT_CLOSED = 9
BT_SKB_RESERVE = 8

_HCI_ACL_MTU = 6  # conn->mtu = hdev->acl_mtu, scaled down (see above)
_L2CAP_DCID = 0x0040  # chan->dcid: the first dynamically allocated channel id


@dataclass(frozen=True, slots=True)
class l2cap_ops:
    """struct l2cap_ops: the channel's callbacks into its owner, by name (only those used here)."""

    name: str
    alloc_skb: str
    memcpy_fromiovec: str


@dataclass(slots=True)
class l2cap_conn:
    mtu: int


@dataclass(slots=True)
class l2cap_chan:
    conn: l2cap_conn | None
    ops: l2cap_ops
    data: sock  # the owning socket
    state: int = BT_CONNECTED
    mode: int = L2CAP_MODE_BASIC
    chan_type: int = L2CAP_CHAN_CONN_ORIENTED
    omtu: int = L2CAP_DEFAULT_MTU
    imtu: int = L2CAP_DEFAULT_MTU
    dcid: int = _L2CAP_DCID


def _l2cap_teardown(k, sk: sock) -> None:
    """The world's "error": the link is lost and l2cap_sock_teardown_cb closes the socket."""
    sk.sk_shutdown = SHUTDOWN_MASK
    sk.sk_err = ECONNRESET


def _l2cap_state(sk: sock) -> int:
    """sk->sk_state (and chan->state, which moves with it here)."""
    return BT_CLOSED if sk.sk_shutdown == SHUTDOWN_MASK else BT_CONNECTED


def _l2cap_pi_chan(k, sk: sock) -> l2cap_chan:
    """l2cap_pi(sk)->chan, rebuilt from the socket (see above)."""
    return l2cap_chan(conn=l2cap_conn(mtu=_HCI_ACL_MTU), ops=k.l2cap_chan_ops, data=sk, state=_l2cap_state(sk))


# --- include/net/bluetooth/bluetooth.h --------------------------------------------------------


def bt_skb_send_alloc(k, sk: sock, len: int, nb: int) -> sk_buff | int:
    """An skb for ``len`` bytes, or a negative errno (``int *err`` is the return here)."""
    skb = _sock_alloc_send_skb(k, sk, len + BT_SKB_RESERVE, nb, _l2cap_teardown)
    if isinstance(skb, int):
        return skb  # !skb && *err

    err = k.sock_error(sk)
    if err:
        return err  # kfree_skb(skb)

    if sk.sk_shutdown:
        return -ECONNRESET

    return skb


# --- net/bluetooth/l2cap_sock.c ---------------------------------------------------------------


def l2cap_sock_alloc_skb_cb(k, chan: l2cap_chan, hdr_len: int, len: int, nb: int) -> sk_buff | int:
    sk = chan.data
    return k.bt_skb_send_alloc(sk, hdr_len + len, nb)  # an skb, or ERR_PTR(err)


def l2cap_sock_memcpy_fromiovec_cb(k, chan: l2cap_chan, kdata: Ptr, iov: Ptr, len: int) -> int:
    return k.memcpy_fromiovec(kdata, iov, len)


l2cap_chan_ops = l2cap_ops(
    name="L2CAP Socket Interface",
    alloc_skb="l2cap_sock_alloc_skb_cb",
    memcpy_fromiovec="l2cap_sock_memcpy_fromiovec_cb",
)


def l2cap_sock_sendmsg(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)

    err = k.sock_error(sk)
    if err:
        return err

    if msg.msg_flags & MSG_OOB:
        return -EOPNOTSUPP

    if _l2cap_state(sk) != BT_CONNECTED:
        return -ENOTCONN

    # bt_sock_wait_ready(sk, msg->msg_flags): never suspended here
    chan = _l2cap_pi_chan(k, sk)
    return k.l2cap_chan_send(chan, msg, len)


def l2cap_sock_recvmsg(k, iocb, sock: socket, msg: msghdr, len: int, flags: int) -> int:
    k.sk_begin_call(sock.sk)
    sock.sk.peer.arrive(sock.sk.window.room)
    # no deferred setup; SOCK_SEQPACKET: bt_sock_recvmsg; basic mode: nothing more to do
    return k.bt_sock_recvmsg(iocb, sock, msg, len, flags)


# --- net/bluetooth/af_bluetooth.c -------------------------------------------------------------


def bt_sock_recvmsg(k, iocb, sock: socket, msg: msghdr, len: int, flags: int) -> int:
    sk = sock.sk

    if flags & MSG_OOB:
        return -EOPNOTSUPP

    data = _skb_recv_datagram(k, sk, flags, _l2cap_teardown)
    if isinstance(data, int):
        if sk.sk_shutdown & RCV_SHUTDOWN:
            msg.msg_namelen = 0
            return 0
        return data
    skb = _datagram_skb(k, data)

    copied = skb.len
    if len < copied:
        msg.msg_flags |= MSG_TRUNC
        copied = len

    err = k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, copied)
    if err == 0:
        msg.msg_namelen = 0
    return err or copied


# --- net/bluetooth/l2cap_core.c ---------------------------------------------------------------


def l2cap_skbuff_fromiovec(k, chan: l2cap_chan, msg: msghdr, len: int, count: int, skb: sk_buff) -> int:
    """Fill ``skb`` (``count`` bytes) and continuation fragments with ``len`` bytes from
    ``msg->msg_iov``, one ->memcpy_fromiovec call per fragment on the same iovec."""
    conn = chan.conn
    sent = 0

    if getattr(k, chan.ops.memcpy_fromiovec)(chan, k.skb_put(skb, count), msg.msg_iov, count):
        return -EFAULT

    sent += count
    len -= count

    # Continuation fragments (no L2CAP header)
    while len:
        count = min(conn.mtu, len)

        tmp = getattr(k, chan.ops.alloc_skb)(chan, 0, count, msg.msg_flags & MSG_DONTWAIT)
        if isinstance(tmp, int):
            return tmp

        if getattr(k, chan.ops.memcpy_fromiovec)(chan, k.skb_put(tmp, count), msg.msg_iov, count):
            return -EFAULT

        sent += count
        len -= count

        # *frag = tmp; skb->len += (*frag)->len: the frag_list is flattened into the head
        k.mem.write(k.skb_put(skb, tmp.len), k.mem.read(tmp.data, tmp.len))

    return sent


def l2cap_create_basic_pdu(k, chan: l2cap_chan, msg: msghdr, len: int) -> sk_buff | int:
    conn = chan.conn

    count = min(conn.mtu - L2CAP_HDR_SIZE, len)

    skb = getattr(k, chan.ops.alloc_skb)(chan, L2CAP_HDR_SIZE, count, msg.msg_flags & MSG_DONTWAIT)
    if isinstance(skb, int):
        return skb

    # Create L2CAP header
    lh = k.skb_put(skb, L2CAP_HDR_SIZE)
    k.mem.write(lh, len.to_bytes(2, "little") + chan.dcid.to_bytes(2, "little"))

    err = k.l2cap_skbuff_fromiovec(chan, msg, len, count, skb)
    if err < 0:
        return err  # kfree_skb(skb); ERR_PTR(err)
    return skb


def l2cap_do_send(k, chan: l2cap_chan, skb: sk_buff) -> None:
    """hci_send_acl(): the PDU leaves; the peer's L2CAP hands the SDU to its socket."""
    sk = chan.data
    sk.peer.deliver_datagram(k.mem.read(skb.data + L2CAP_HDR_SIZE, skb.len - L2CAP_HDR_SIZE))


def l2cap_chan_send(k, chan: l2cap_chan, msg: msghdr, len: int) -> int:
    if chan.conn is None:
        return -ENOTCONN

    # L2CAP_MODE_BASIC: Check outgoing MTU
    if len > chan.omtu:
        return -EMSGSIZE

    # Create a basic PDU
    skb = k.l2cap_create_basic_pdu(chan, msg, len)
    if isinstance(skb, int):
        return skb

    # Channel lock is released before requesting new skb and then reacquired thus we need
    # to recheck channel state.
    if _l2cap_state(chan.data) != BT_CONNECTED:
        return -ENOTCONN  # kfree_skb(skb)

    k.l2cap_do_send(chan, skb)
    return len


l2cap_sock_ops = proto_ops(
    family=AF_BLUETOOTH,
    sendmsg="l2cap_sock_sendmsg",
    recvmsg="l2cap_sock_recvmsg",
    sendpage="sock_no_sendpage",  # NULL in the C: kernel_sendpage() falls back to sock_no_sendpage
)
l2cap_proto = proto(name="L2CAP", sendmsg="", recvmsg="")  # struct proto l2cap_proto has no methods
