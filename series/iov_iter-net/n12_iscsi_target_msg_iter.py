"""iscsi-target: send and receive through a msg_iter that carries progress

iscsit_do_tx_data() re-sends from the start of its kvec after a short
send (the bug the 3.18.4 -stable fix papered over by failing the
connection), and iscsit_do_rx_data() rebuilds a scratch array on every
pass.  Set msg_iter up once with iov_iter_kvec() and call sock_sendmsg()/
sock_recvmsg() in the loop: the iterator carries what went through.

This is the "proper upstream fix" the -stable patch was ahead of.
"""

from __future__ import annotations

from checks.series import Step
from model.socket_h import MSG_WAITALL
from model.uio import ITER_KVEC, READ, WRITE

STEP = Step(
    subject="iscsi-target: send and receive through a msg_iter that carries progress",
    upstream=None,
    depends=("n11",),
    removes=("iscsit_kvec_array_init",),
    intends=("iscsit_do_tx_data no longer re-sends data after a short send",),
)


def iscsit_do_tx_data(k, conn, count) -> int:
    data = count.data_length
    total_tx = 0
    if data <= 0:
        return -1  # "Data length is: %d"
    msg = k.msghdr()
    k.iov_iter_kvec(msg.msg_iter, WRITE | ITER_KVEC, count.iov, count.iov_count, data)
    while total_tx < data:
        tx_loop = k.sock_sendmsg(conn.sock, msg, data - total_tx)
        if tx_loop <= 0:
            return tx_loop
        total_tx += tx_loop
    return total_tx


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
