"""ocfs2, lustre: send through kernel_sendmsg()

o2net_send_tcp_msg() and ksocknal_lib_send_iov() open-code
kernel_sendmsg(): they point msg_iov at their kvec array themselves,
switch to KERNEL_DS and call sock_sendmsg().  Use kernel_sendmsg(), so
that they stop depending on how msghdr describes the data and on who sets
its iterator up.

Found by the checks: with the next step (msg_iter set up by the callers of
sock_sendmsg() instead of by sock_sendmsg() itself) ahead of this one,
both users send nothing (o2net_send_tcp_msg/tcp and
ksocknal_lib_send_iov/tcp regress).  The 3.19 tree has both in this form.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EINVAL, EPIPE
from model.kernel import Ptr
from model.socket_h import MSG_DONTWAIT, MSG_MORE

STEP = Step(
    subject="ocfs2, lustre: send through kernel_sendmsg()",
    upstream=None,
    kernel="v3.19",
    intends=("no user sets msg_iov itself",),
)


def o2net_send_tcp_msg(k, sock, vec: Ptr, veclen: int, total: int) -> int:
    msg = k.msghdr()
    if sock is None:
        ret = -EINVAL
    else:
        ret = k.kernel_sendmsg(sock, msg, vec, veclen, total)
        if ret == total:
            return 0
        # mlog(ML_ERROR, "sendmsg returned %d instead of %zu\n", ret, total);
        if ret >= 0:
            ret = -EPIPE  # should be smarter, I bet
    # out: mlog(0, "returning error: %d\n", ret);
    return ret


def ksocknal_lib_send_iov(k, conn, tx) -> int:
    sock = conn.ksnc_sock
    # NB we can't trust socket ops to either consume our iovs or leave them alone.
    scratchiov = conn.ksnc_scheduler.kss_scratch_iov
    niov = tx.tx_niov
    msg = k.msghdr()
    msg.msg_flags = MSG_DONTWAIT
    nob = 0
    for i in range(niov):
        src = k.mem.elem(tx.tx_iov + i)
        dst = k.mem.elem(scratchiov + i)  # scratchiov[i] = tx->tx_iov[i];
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
        nob += dst.iov_len
    if conn.ksnc_tx_queue or nob < tx.tx_resid:
        msg.msg_flags |= MSG_MORE
    return k.kernel_sendmsg(sock, msg, scratchiov, niov, nob)
