"""iscsi-target: advance the receive kvec by hand

iscsit_do_rx_data() passes the same kvec array to kernel_recvmsg() on
every pass of its loop and is correct only because the receive path
consumes the array as it fills it.  The next steps stop that: a receive
path that copies through an iov_iter leaves the array alone.  Before they
can go in, the loop must carry its own progress: hand kernel_recvmsg() a
scratch array describing what is left, as cifs_readv_from_socket() does
with kvec_array_init().  This is correct whether or not the receive path
consumes the array, so it can go to -stable on its own.

Found by the checks: `seriescheck order iov_iter-net --order ...` with
the receive conversion first reports iscsit_do_rx_data/tcp.
"""

from __future__ import annotations

from checks.series import Step
from model.kernel import Ptr
from model.socket_h import MSG_WAITALL

STEP = Step(
    subject="iscsi-target: advance the receive kvec by hand",
    upstream=None,
    adds=("iscsit_kvec_array_init",),
    files={"iscsit_kvec_array_init": "drivers/target/iscsi/iscsi_target_util.c"},
    intends=("iscsit_do_rx_data works whether or not the receive path consumes its kvec",),
)


def iscsit_kvec_array_init(k, new: Ptr, iov: Ptr, nr_segs: int, nbytes: int) -> int:
    """Describe in ``new`` what of ``iov`` is left after ``nbytes`` (cifs' kvec_array_init)."""
    base = 0
    while nbytes or not k.mem.elem(iov).iov_len:
        copy = min(nbytes, k.mem.elem(iov).iov_len)
        nbytes -= copy
        base += copy
        if k.mem.elem(iov).iov_len == base:
            iov = iov + 1
            nr_segs -= 1
            base = 0
        if not nr_segs:
            return 0
    for i in range(nr_segs):
        seg = k.mem.elem(iov + i)
        out = k.mem.elem(new + i)
        out.iov_base = seg.iov_base + base
        out.iov_len = seg.iov_len - base
        base = 0
    return nr_segs


def iscsit_do_rx_data(k, conn, count) -> int:
    data = count.data_length
    total_rx = 0
    msg = k.msghdr()
    scratch = k.mem.alloc_array([k.kvec(iov_base=Ptr(0), iov_len=0) for _ in range(count.iov_count)],
                                name="iscsit rx scratch kvec[]")
    while total_rx < data:
        nr = k.iscsit_kvec_array_init(scratch, count.iov, count.iov_count, total_rx)
        rx_loop = k.kernel_recvmsg(conn.sock, msg, scratch, nr, data - total_rx, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx
