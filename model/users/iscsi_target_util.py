"""drivers/target/iscsi/iscsi_target_util.c (v3.18, before the 3.18.4 -stable fix): LIO's
iscsit_do_tx_data() and iscsit_do_rx_data(), reached through tx_data() and rx_data().

Both loop on the same ``iov_p`` every time. On receive that is right in 3.18 only because TCP
receive consumes the kvec as it fills it. On send it is broken: tcp_sendmsg leaves the kvec
alone, so after a short send the loop sends again from the start of the array, duplicating data
on the wire (Al Viro, 2014-11-20: "iscsi ... is genuinely broken in mainline"). The code is the
pre-fix form, from the removed lines of 6bf6ca7515c1 (kernel-facts §5 #1; 3.18.9 carries the fix:
drivers/target/iscsi/iscsi_target_util.c:1357-1388@3.18.9, modelled as iscsi-stable t01).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN
from model.kernel import Ptr
from model.socket_h import MSG_WAITALL
from model.users import RECV, SEND, User

ISCSI_RX_DATA = 1
ISCSI_TX_DATA = 2


@dataclass(slots=True)
class iscsi_conn:
    sock: object


@dataclass(slots=True)
class iscsi_data_count:
    iov: Ptr
    iov_count: int
    data_length: int
    type: int = 0


def iscsit_do_rx_data(k, conn: iscsi_conn, count: iscsi_data_count) -> int:
    data = count.data_length
    total_rx = 0
    msg = k.msghdr()
    iov_p = count.iov
    iov_len = count.iov_count
    while total_rx < data:
        rx_loop = k.kernel_recvmsg(conn.sock, msg, iov_p, iov_len, data - total_rx, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx


def iscsit_do_tx_data(k, conn: iscsi_conn, count: iscsi_data_count) -> int:
    data = count.data_length
    total_tx = 0
    if data <= 0:
        return -1  # "Data length is: %d"
    msg = k.msghdr()
    iov_p = count.iov
    iov_len = count.iov_count
    while total_tx < data:
        tx_loop = k.kernel_sendmsg(conn.sock, msg, iov_p, iov_len, data - total_tx)
        if tx_loop <= 0:
            return tx_loop
        total_tx += tx_loop
    return total_tx


def rx_data(k, conn: iscsi_conn, iov: Ptr, iov_count: int, data: int) -> int:
    c = k.iscsi_data_count(iov=iov, iov_count=iov_count, data_length=data, type=ISCSI_RX_DATA)
    return k.iscsit_do_rx_data(conn, c)


def tx_data(k, conn: iscsi_conn, iov: Ptr, iov_count: int, data: int) -> int:
    c = k.iscsi_data_count(iov=iov, iov_count=iov_count, data_length=data, type=ISCSI_TX_DATA)
    return k.iscsit_do_tx_data(conn, c)


def _send_pdu(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """iscsit_send_tx_data()'s use: -EAGAIN resends the whole PDU (``goto send_data``); any
    other count but the full length fails the connection."""
    conn = k.iscsi_conn(sock=sock)
    rc = k.tx_data(conn, vec, nr_segs, total)
    while rc == -EAGAIN:
        rc = k.tx_data(conn, vec, nr_segs, total)
    return rc if rc == total else min(rc, -1)


def _recv_pdu(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """iscsi_target_rx_thread()'s use: ``rx_data(...) != length`` drops the connection."""
    rc = k.rx_data(k.iscsi_conn(sock=sock), vec, nr_segs, total)
    return rc if rc == total else min(rc, -1)


USERS = (
    User("iscsit_do_tx_data", "drivers/target/iscsi/iscsi_target_util.c", SEND, ("tcp",), _send_pdu,
         note="re-sends from the unadvanced kvec after a short send"),
    User("iscsit_do_rx_data", "drivers/target/iscsi/iscsi_target_util.c", RECV, ("tcp",), _recv_pdu,
         note="relies on the receive path consuming the kvec"),
)
