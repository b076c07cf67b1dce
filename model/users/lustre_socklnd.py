"""drivers/staging/lustre/lnet/klnds/socklnd/socklnd_lib-linux.c + socklnd_cb.c (v3.18): the
socket LND's transmit, ksocknal_lib_send_iov() under ksocknal_send_iov()/ksocknal_transmit().

ksocknal_lib_send_iov() copies the tx's iovec array into the scheduler's scratch array before
every send ("NB we can't trust socket ops to either consume our iovs or leave them alone") and
sends the copy with MSG_DONTWAIT (plus MSG_MORE while more is queued). The master copy in the
tx is advanced by its caller: ksocknal_send_iov() subtracts the count from ``tx_resid`` and
"consumes" ``tx_iov``/``tx_niov`` itself; ksocknal_transmit() loops while ``tx_resid`` is left
and returns -EAGAIN when nothing went out, which makes the scheduler requeue the tx until the
socket's write_space callback wakes it. Robust by design.

Simplified: no checksums (ksnd_enable_csum off), no kiov (page) fragments, no zero-copy; the
testing hooks (ksnd_stall_tx, ksnd_enomem_tx), the ksnc_tx_bufnob/deadline accounting and
ksocknal_lib_memory_pressure() (which would turn -EAGAIN into -ENOMEM, also a requeue) are
comments; the connection refcount (ksocknal_connsock_addref) always succeeds. The send is
kernel_sendmsg() on the scratch array cast to ``struct kvec *``
(drivers/staging/lustre/lnet/klnds/socklnd/socklnd_lib-linux.c:78-117@3.18.9, the call at :114).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EAGAIN
from model.kernel import NULL, Oops, Ptr
from model.socket_h import MSG_DONTWAIT, MSG_MORE
from model.users import SEND, User


@dataclass(slots=True)
class ksock_sched:
    kss_scratch_iov: Ptr = NULL  # struct iovec kss_scratch_iov[LNET_MAX_IOV]


@dataclass(slots=True)
class ksock_conn:
    ksnc_sock: object  # struct socket *
    ksnc_scheduler: ksock_sched = field(default_factory=ksock_sched)
    ksnc_tx_queue: list = field(default_factory=list)  # struct list_head ksnc_tx_queue
    ksnc_closing: int = 0


@dataclass(slots=True)
class ksock_tx:
    tx_iov: Ptr  # struct iovec *: the master copy, advanced by ksocknal_send_iov()
    tx_niov: int
    tx_nob: int  # # packet bytes
    tx_resid: int  # residual bytes


def ksocknal_lib_send_iov(k, conn: ksock_conn, tx: ksock_tx) -> int:
    sock = conn.ksnc_sock

    # if (*ksocknal_tunables.ksnd_enable_csum && ...) ksocknal_lib_csum_tx(tx);: checksums off

    # NB we can't trust socket ops to either consume our iovs or leave them alone.
    scratchiov = conn.ksnc_scheduler.kss_scratch_iov
    niov = tx.tx_niov
    msg = k.msghdr(msg_flags=MSG_DONTWAIT)

    nob = 0
    for i in range(niov):
        src = k.mem.elem(tx.tx_iov + i)
        dst = k.mem.elem(scratchiov + i)  # scratchiov[i] = tx->tx_iov[i];
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
        nob += dst.iov_len

    if conn.ksnc_tx_queue or nob < tx.tx_resid:
        msg.msg_flags |= MSG_MORE

    rc = k.kernel_sendmsg(sock, msg, scratchiov, niov, nob)  # (struct kvec *)scratchiov
    return rc


def ksocknal_send_iov(k, conn: ksock_conn, tx: ksock_tx) -> int:
    """socklnd_cb.c: send from tx_iov, then "consume" the master iov by what went out."""
    iov = tx.tx_iov

    if not tx.tx_niov > 0:
        raise Oops("LASSERT(tx->tx_niov > 0)")

    # Never touch tx->tx_iov inside ksocknal_lib_send_iov()
    rc = k.ksocknal_lib_send_iov(conn, tx)

    if rc <= 0:  # sent nothing?
        return rc

    nob = rc
    if not nob <= tx.tx_resid:
        raise Oops("LASSERT(nob <= tx->tx_resid)")
    tx.tx_resid -= nob

    # "consume" iov
    while True:
        if not tx.tx_niov > 0:
            raise Oops("LASSERT(tx->tx_niov > 0)")

        seg = k.mem.elem(iov)
        if nob < seg.iov_len:
            seg.iov_base = seg.iov_base + nob
            seg.iov_len -= nob
            return rc

        nob -= seg.iov_len
        iov = iov + 1
        tx.tx_iov = iov
        tx.tx_niov -= 1
        if nob == 0:
            break

    return rc


def ksocknal_transmit(k, conn: ksock_conn, tx: ksock_tx) -> int:
    """socklnd_cb.c: 0 when the tx is all sent, -EAGAIN when the socket took nothing."""
    # if (ksocknal_data.ksnd_stall_tx != 0) { ... }: testing hook
    if tx.tx_resid == 0:
        raise Oops("LASSERT(tx->tx_resid != 0)")

    # rc = ksocknal_connsock_addref(conn); if (rc != 0) return -ESHUTDOWN;: the socket is held

    while True:
        # if (ksocknal_data.ksnd_enomem_tx > 0) { ... rc = -EAGAIN; }: testing hook
        if tx.tx_niov != 0:
            rc = k.ksocknal_send_iov(conn, tx)
        else:
            raise Oops("ksocknal_send_kiov(): no kiov fragments in the model")

        # bufnob = conn->ksnc_sock->sk->sk_wmem_queued; ... ksnc_tx_bufnob/deadline accounting

        if rc <= 0:  # Didn't write anything?
            if rc == 0:  # some stacks return 0 instead of -EAGAIN
                rc = -EAGAIN
            # Check if EAGAIN is due to memory pressure:
            # if (rc == -EAGAIN && ksocknal_lib_memory_pressure(conn)) rc = -ENOMEM;
            break

        # socket's wmem_queued now includes 'rc' bytes: atomic_sub(rc, &conn->ksnc_tx_nob);
        rc = 0
        if tx.tx_resid == 0:
            break

    # ksocknal_connsock_decref(conn);
    return rc


def _process_transmit(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """ksocknal_process_transmit()'s use: 0 completes the tx, -EAGAIN (or -ENOMEM) requeues it
    until ksocknal_write_space() reschedules the connection, any other error closes the
    connection (ksocknal_close_conn_and_siblings) and fails the tx."""
    conn = k.ksock_conn(ksnc_sock=sock)
    conn.ksnc_scheduler.kss_scratch_iov = k.mem.alloc_array(
        [k.iovec(iov_base=NULL, iov_len=0) for _ in range(nr_segs)], name="kss_scratch_iov")
    tx = k.ksock_tx(tx_iov=vec, tx_niov=nr_segs, tx_nob=total, tx_resid=total)
    if tx.tx_resid == 0:
        return 0  # an empty tx is never queued
    while True:
        rc = k.ksocknal_transmit(conn, tx)
        if rc != -EAGAIN:
            return rc if rc < 0 else total


USERS = (
    User("ksocknal_lib_send_iov", "drivers/staging/lustre/lnet/klnds/socklnd/socklnd_lib-linux.c", SEND, ("tcp",),
         _process_transmit, note="sends a scratch copy of tx_iov; ksocknal_send_iov() advances the master copy"),
)
