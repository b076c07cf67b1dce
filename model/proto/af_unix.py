"""net/unix/af_unix.c (v3.18): unix_stream_sendmsg and unix_stream_recvmsg; ``unix_stream_ops``,
``unix_proto``.

Send: unix_stream_sendmsg cuts the message into skbs of at most ``(sk_sndbuf >> 1) - 64`` bytes,
waits for send-buffer space before each (sock_alloc_send_skb), and fills each with
skb_copy_datagram_from_iovec(skb, 0, msg->msg_iov, sent, size): offset-based, so the caller's
iovec is never modified. An error after some skbs went out returns ``sent`` (a short count);
with nothing sent, the error (-EPIPE for a dead peer, -EAGAIN, a signal's errno, ...).

Receive: unix_stream_recvmsg copies with skb_copy_datagram_iovec and so consumes the caller's
iovec as it fills it; it waits (unix_stream_data_wait) until ``target`` bytes
(``sock_rcvlowat``: all of them under MSG_WAITALL) are in, and returns what it has on a signal,
an error, EOF or MSG_DONTWAIT.

Simplified, and why no caller can tell:

* ``sk_sndbuf`` is scaled down to 132 bytes, so the skbs carry 2 bytes each and the checker's
  few-byte messages span several of them, as a kernel-sized message spans several
  ~100 KiB skbs. The kernel charges the sender's buffer until the receiver reads an skb: the
  world's window (``room``) stands for that, and the wait is the world's (model/world.py).
* The peer's death (the world's "error") is unix_release_sock() on the other end: our socket
  gets SHUTDOWN_MASK and ``sk_err = ECONNRESET`` (the peer had unread data, as it must have for
  us to be waiting). A dead peer is ``sk_shutdown == SHUTDOWN_MASK`` here, as the model keeps
  no struct sock for the other end.
* No SCM rights or credentials, no msg_name (the socket is connected), no MSG_PEEK or peek
  offset, no SIGPIPE (MSG_NOSIGNAL or not, the return value is the same). The receive queue is
  the peer's arrived bytes; skb boundaries there change nothing a stream reader sees.
"""

from __future__ import annotations

from model.errno import EAGAIN, ECONNRESET, EFAULT, EOPNOTSUPP, EPIPE
from model.net_h import proto_ops, socket
from model.proto._net_core import _datagram_skb, _sock_alloc_send_skb
from model.sock import RCV_SHUTDOWN, SEND_SHUTDOWN, SHUTDOWN_MASK, proto, sock
from model.socket_h import AF_UNIX, MSG_DONTWAIT, MSG_OOB, MSG_WAITALL, msghdr
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL

_UNIX_SK_SNDBUF = 132  # scaled down: (132 >> 1) - 64 = 2-byte skbs (see above)
_SKB_MAX_ALLOC = 16384 - 320  # SKB_MAX_ORDER(0, 2) on 4 KiB pages, roughly: never reached here


def _unix_peer_dies(k, sk: sock) -> None:
    """The world's "error": the other end is released with data unread (unix_release_sock)."""
    sk.sk_shutdown = SHUTDOWN_MASK
    sk.sk_err = ECONNRESET


def _unix_peer_dead(sk: sock) -> bool:
    """sock_flag(other, SOCK_DEAD) || (other->sk_shutdown & RCV_SHUTDOWN), seen from our side."""
    return sk.sk_shutdown == SHUTDOWN_MASK


def unix_stream_sendmsg(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    sent = 0

    err = -EOPNOTSUPP
    if msg.msg_flags & MSG_OOB:
        return sent or err  # out_err

    # msg_namelen: the socket is connected (see above); other = unix_peer(sk)

    if sk.sk_shutdown & SEND_SHUTDOWN:
        return sent or -EPIPE  # pipe_err

    while sent < len:
        size = len - sent

        # Keep two messages in the pipe so it schedules better
        size = min(size, (_UNIX_SK_SNDBUF >> 1) - 64)
        size = min(size, _SKB_MAX_ALLOC)

        skb = _sock_alloc_send_skb(k, sk, size, msg.msg_flags & MSG_DONTWAIT, _unix_peer_dies)
        if isinstance(skb, int):
            return sent or skb  # out_err

        # Only send the fds in the first buffer: no SCM rights here

        k.skb_put(skb, size)
        err = k.skb_copy_datagram_from_iovec(skb, 0, msg.msg_iov, sent, size)
        if err:
            return sent or err  # kfree_skb(skb); goto out_err

        # unix_state_lock(other)
        if _unix_peer_dead(sk):
            return sent or -EPIPE  # pipe_err_free

        # skb_queue_tail(&other->sk_receive_queue, skb); other->sk_data_ready(other)
        sk.peer.deliver(k.mem.read(skb.data, size))
        sent += size

    return sent


def unix_stream_recvmsg(k, iocb, sock: socket, msg: msghdr, size: int, flags: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    copied = 0
    noblock = flags & MSG_DONTWAIT

    err = -EOPNOTSUPP
    if flags & MSG_OOB:
        return err

    target = k.sock_rcvlowat(sk, flags & MSG_WAITALL, size)
    timeo = k.sock_rcvtimeo(sk, noblock)
    err = 0

    while True:
        avail = sk.peer.queued()  # skb = skb_peek(&sk->sk_receive_queue)
        if not avail:
            if copied >= target:
                break
            # POSIX 1003.1g mandates this order.
            err = k.sock_error(sk)
            if err:
                break
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            err = -EAGAIN
            if not timeo:
                break
            # unix_stream_data_wait(): the world's script says how the wait ends
            then = sk.window.then
            if then == WAIT_SIGNAL:
                err = k.sock_intr_errno(timeo)
                return copied or err  # goto out
            if then == WAIT_ERROR:
                _unix_peer_dies(k, sk)
            elif then == WAIT_EOF or sk.peer.all_arrived():
                # the peer shut down writing, or has sent all it will and closes
                sk.sk_shutdown |= RCV_SHUTDOWN
            else:
                sk.peer.arrive(UNLIMITED)
            continue

        chunk = min(avail, size)
        skb = _datagram_skb(k, sk.peer.take(chunk))
        if k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, chunk):
            if copied == 0:
                copied = -EFAULT
            break
        copied += chunk
        size -= chunk
        if not size:
            break

    return copied or err


unix_stream_ops = proto_ops(
    family=AF_UNIX, sendmsg="unix_stream_sendmsg", recvmsg="unix_stream_recvmsg", sendpage="sock_no_sendpage"
)
unix_proto = proto(name="UNIX", sendmsg="", recvmsg="")  # struct proto unix_proto has no methods
