"""net/core/stream.c (v3.18): sk_stream_wait_memory() and sk_stream_error().

The wait is where the world's script decides: the current window's ``then`` ends it. A signal is
taken to be pending for this wait only (kernel-thread users flush or die on it); an error resets
the connection, which stays failed for every later call.
"""

from __future__ import annotations

from model.errno import EAGAIN, EPIPE
from model.sock import MAX_SCHEDULE_TIMEOUT, SEND_SHUTDOWN, sock
from model.world import UNLIMITED, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT


def sk_stream_wait_memory(k, sk: sock, timeo: int) -> int:
    """Wait for send-buffer space: 0 when it came, else -EPIPE, -EAGAIN or a signal's errno."""
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return -EPIPE
    if not timeo:
        return -EAGAIN
    then = sk.window.then
    if then == WAIT_TIMEOUT and timeo != MAX_SCHEDULE_TIMEOUT:
        return -EAGAIN  # SO_SNDTIMEO expired: *timeo_p is 0 on the next pass
    if then == WAIT_SIGNAL:
        return k.sock_intr_errno(timeo)
    if then == WAIT_ERROR:
        k.tcp_reset(sk)
        return -EPIPE
    sk.room = UNLIMITED
    return 0


def sk_stream_error(k, sk: sock, flags: int, err: int) -> int:
    """-EPIPE becomes the pending socket error if there is one (SIGPIPE is not modelled)."""
    if err == -EPIPE:
        err = k.sock_error(sk) or -EPIPE
    return err

