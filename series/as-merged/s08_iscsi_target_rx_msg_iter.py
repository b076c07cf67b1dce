"""iscsi-target: receive through a msg_iter that carries progress

iscsit_do_rx_data() passed the same kvec array to kernel_recvmsg() on
every pass of its loop and relied on the receive path consuming it.  It
no longer does: set msg_iter up once with iov_iter_kvec() and call
sock_recvmsg() in the loop, so the iterator carries what has been read.

Upstream: the 3.19 form of iscsit_do_rx_data(), iov_iter_kvec() once and
sock_recvmsg() in the loop (drivers/target/iscsi/iscsi_target_util.c:
1336-1340@3.19.8); the commit was not found (no mainline history was
readable).
"""

from __future__ import annotations

from checks.series import Step
from model.socket_h import MSG_WAITALL
from model.uio import ITER_KVEC, READ

STEP = Step(
    subject="iscsi-target: use a persistent msg_iter in iscsit_do_rx_data()",
    upstream=None,
    kernel="v3.19",
    depends=("s04", "s06"),
    intends=("iscsit_do_rx_data no longer relies on the receive path consuming its kvec",),
)


def iscsit_do_rx_data(k, conn, count) -> int:
    data = count.data_length
    total_rx = 0
    msg = k.msghdr()
    k.iov_iter_kvec(msg.msg_iter, READ | ITER_KVEC, count.iov, count.iov_count, data)
    while total_rx < data:
        rx_loop = k.sock_recvmsg(conn.sock, msg, data - total_rx, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx
