"""iscsi-target: Fail connection on short sendmsg writes

This patch changes iscsit_do_tx_data() to fail on short writes when
kernel_sendmsg() returns a value different than requested transfer
length, returning -EPIPE and thus causing a connection reset to occur.

This avoids a potential bug in the original code where a short write
would result in kernel_sendmsg() being called again with the original
iovec base + length.

In practice this has not been an issue because iscsit_do_tx_data() is
only used for transferring 48 byte headers + 4 byte digests, along
with seldom used control payloads from NOPIN + TEXT_RSP + REJECT with
less than 32k of data.  So following Al's audit of iovec consumers,
go ahead and fail the connection on short writes for now, and remove
the bogus logic ahead of his proper upstream fix.

Reported-by: Al Viro
Cc: stable@vger.kernel.org # v3.1+
Signed-off-by: Nicholas Bellinger

(The id and message are from the 3.18.4 stable patch, kernel-facts §5 #1.
The fixed form is drivers/target/iscsi/iscsi_target_util.c:1357-1388@3.18.9
and :1355-1386@3.19.8: one kernel_sendmsg(), -EPIPE on a short count.
as-merged takes this step after its 3.19 net steps: mainline had it
before v3.19.)
"""

from checks.series import Step
from model.errno import EPIPE

STEP = Step(
    subject="iscsi-target: Fail connection on short sendmsg writes",
    upstream="6bf6ca7515c1df06f5c03737537f5e0eb191e29e",
    upstream_verified=True,
    kernel="v3.18.4",
    intends=("a short send fails the connection (-EPIPE) instead of re-sending from the kvec's start",),
)


def iscsit_do_tx_data(k, conn, count) -> int:
    data = count.data_length
    if data <= 0:
        return -1  # "Data length is: %d"
    msg = k.msghdr()
    iov_p = count.iov
    iov_len = count.iov_count
    ret = k.kernel_sendmsg(conn.sock, msg, iov_p, iov_len, data)
    if ret != data:
        # "Unexpected ret: %d send data %d"
        return -EPIPE
    return ret
