"""Not a kernel file: model-private stand-ins for the net/core/sock.c and net/core/datagram.c code
the datagram protocols share, until those files have model modules of their own.

* ``_sock_alloc_send_skb`` is sock_alloc_send_pskb()'s wait loop (net/core/sock.c);
* ``_sock_wmalloc`` is sock_wmalloc() without ``force`` (it never waits);
* ``_skb_recv_datagram`` is __skb_recv_datagram() with wait_for_more_packets() (datagram.c);
* ``_skb_copy_and_csum_datagram_iovec`` and its helpers are skb_copy_and_csum_datagram_iovec(),
  the static skb_copy_and_csum_datagram() and __skb_checksum_complete() (datagram.c), for a
  linear skb.

They are private (not linked as kernel symbols) because each kernel symbol lives in the module of
its own kernel file and these files are not modelled here. Moving one into such a module under
its kernel name changes no caller's behaviour: the bodies already call other kernel functions
through ``k``.

How the world decides (model/world.py): ``sk.room`` is the send-buffer space left in this call
(``sk_wmem_alloc < sk_sndbuf`` is ``room > 0``); an allocation charges its size to it. A wait
ends as the call's window says: ``signal`` is a pending signal, ``error`` calls the protocol's
``fail(k, sk)`` (which sets what the failure leaves: ``sk_err``, shutdown bits) and the loop then
finds it as the kernel would, ``ok`` (or ``eof`` on a send) means space or data came and the rest
of the call is unconstrained; ``timeout`` ends a wait with a finite SO_SNDTIMEO/SO_RCVTIMEO in
-EAGAIN (a socket without one waits on, as for ``ok``).

A datagram receive takes one datagram: the bytes of the peer's stream that have arrived and not
yet been taken (``peer.queued()``), i.e. what one window let arrive. When the peer has nothing
more to send, a wait ends as a shutdown (the call returns no datagram and no error) instead of
blocking for ever, as tcp_recvmsg's model does.
"""

from __future__ import annotations

from collections.abc import Callable

from model.errno import EAGAIN, EFAULT, EINVAL, EPIPE
from model.kernel import Ptr
from model.sock import MAX_SCHEDULE_TIMEOUT, RCV_SHUTDOWN, SEND_SHUTDOWN, sock
from model.socket_h import MSG_DONTWAIT
from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT

Fail = Callable[[object, sock], None]


def _sock_alloc_send_skb(k, sk: sock, size: int, noblock: int, fail: Fail):
    """sock_alloc_send_skb(sk, size, noblock, &err): an empty skb for ``size`` bytes, or a
    negative errno. Waits while the send buffer is full (``room == 0``); the allocation may then
    overshoot it, as sk_wmem_alloc < sk_sndbuf is all the kernel checks."""
    timeo = k.sock_sndtimeo(sk, noblock)
    while True:
        err = k.sock_error(sk)
        if err:
            return err
        if sk.sk_shutdown & SEND_SHUTDOWN:
            return -EPIPE
        if sk.room > 0:
            break
        if not timeo:
            return -EAGAIN
        then = sk.window.then
        if then == WAIT_SIGNAL:
            return k.sock_intr_errno(timeo)
        if then == WAIT_ERROR:
            fail(k, sk)
            continue
        if then == WAIT_TIMEOUT and timeo != MAX_SCHEDULE_TIMEOUT:
            # SO_SNDTIMEO expired: sock_wait_for_wmem() returns 0 and the next pass finds the
            # buffer still full with !timeo: -EAGAIN (net/core/sock.c:1783-1788@3.18.9)
            return -EAGAIN
        sk.room = UNLIMITED  # sock_wait_for_wmem() returned with space
    skb = k.alloc_skb(0)
    sk.room = max(0, sk.room - size)
    return skb


def _sock_wmalloc(k, sk: sock, size: int):
    """sock_wmalloc(sk, size, 0, ...): an empty skb, or None when the send buffer is full."""
    if sk.room <= 0:
        return None
    sk.room = max(0, sk.room - size)
    return k.alloc_skb(0)


def _skb_recv_datagram(k, sk: sock, flags: int, fail: Fail) -> bytes | int:
    """__skb_recv_datagram(sk, flags, &peeked, &off, &err): the next datagram's bytes, or an int:
    a negative errno, or 0 when the socket was shut down (NULL with ``*err == 0``).

    MSG_PEEK is not modelled (no modelled caller peeks)."""
    # Caller is allowed not to check sk->sk_err before skb_recv_datagram()
    error = k.sock_error(sk)
    if error:
        return error
    timeo = k.sock_rcvtimeo(sk, flags & MSG_DONTWAIT)
    while True:
        if sk.peer.queued():
            return sk.peer.take(sk.peer.queued())
        # User doesn't want to wait
        if not timeo:
            return -EAGAIN
        # wait_for_more_packets()
        error = k.sock_error(sk)
        if error:
            return error
        if sk.sk_shutdown & RCV_SHUTDOWN:
            return 0
        then = sk.window.then
        if then == WAIT_SIGNAL:
            return k.sock_intr_errno(timeo)
        if then == WAIT_TIMEOUT and timeo != MAX_SCHEDULE_TIMEOUT:
            # SO_RCVTIMEO expired: the next pass finds the queue empty with !timeo: -EAGAIN
            # (net/core/datagram.c:216-219@3.18.9)
            return -EAGAIN
        if then == WAIT_ERROR:
            fail(k, sk)
        elif then == WAIT_EOF or sk.peer.all_arrived():
            # the peer shut down, or has sent all it will: the wait ends as a shutdown
            sk.sk_shutdown |= RCV_SHUTDOWN
        else:
            sk.peer.arrive(UNLIMITED)


def _datagram_skb(k, data: bytes):
    """The linear skb a received datagram's bytes lie in."""
    skb = k.alloc_skb(len(data))
    k.mem.write(skb.data, data)
    return skb


def _skb_checksum_complete(k, skb) -> int:
    """__skb_checksum_complete(skb): 0 when the skb's data plus its pseudo-header sum
    (``skb->csum``) checks out. The kernel also caches the sum in the skb; nothing here reads it."""
    csum = k.csum_partial(skb.data, skb.len, 0)  # skb_checksum(skb, 0, skb->len, 0)
    # skb->csum holds pseudo checksum
    return k.csum_fold(k.csum_add(skb.csum, csum))


def _skb_copy_and_csum_datagram(k, skb, offset: int, to: Ptr, len: int, csump: list[int]) -> int:
    """static skb_copy_and_csum_datagram() for a linear skb: copy to user ``to`` while summing."""
    copy = skb.len - offset
    if copy > 0:
        err = [0]
        if copy > len:
            copy = len
        csump[0] = k.csum_and_copy_to_user(skb.data + offset, to, copy, csump[0], err)
        if err[0]:
            return -EFAULT
        len -= copy
        if len == 0:
            return 0
    if not len:
        return 0
    return -EFAULT


def _skb_copy_and_csum_datagram_iovec(k, skb, hlen: int, iov: Ptr) -> int:
    """skb_copy_and_csum_datagram_iovec(skb, hlen, iov) (3.18: three arguments).

    "Caller _must_ check that skb will fit to this iovec." Returns 0, -EINVAL on a checksum
    failure, or -EFAULT ("Beware, in this case iovec can be modified!"). When the first
    non-empty segment holds the whole payload it is copied and summed in one go and that segment
    is advanced only on success; otherwise the checksum is verified first and the copy is
    skb_copy_datagram_iovec, which consumes the iovec.
    """
    chunk = skb.len - hlen
    if not chunk:
        return 0

    # Skip filled elements.
    # Pretty silly, look at memcpy_toiovec, though 8)
    while not k.mem.elem(iov).iov_len:
        iov = iov + 1

    seg = k.mem.elem(iov)
    if seg.iov_len < chunk:
        if _skb_checksum_complete(k, skb):
            return -EINVAL  # csum_error
        if k.skb_copy_datagram_iovec(skb, hlen, iov, chunk):
            return -EFAULT
    else:
        csum = [k.csum_partial(skb.data, hlen, skb.csum)]
        if _skb_copy_and_csum_datagram(k, skb, hlen, seg.iov_base, chunk, csum):
            return -EFAULT
        if k.csum_fold(csum[0]):
            return -EINVAL  # csum_error
        seg.iov_len -= chunk
        seg.iov_base = seg.iov_base + chunk
    return 0
