"""libceph: hand kernel_sendmsg() a copy of out_kvec

write_partial_kvec() accounts for what ceph_tcp_sendmsg() sent by moving
out_kvec_cur past the entries sent and trimming the partial one.  A send
path that consumes the kvec array (the last step of this series) would
trim it a second time: "ceph_tcp_sendmsg() as well" in the mail.  Let
ceph_tcp_sendmsg() pass the send path a copy of the entries, so the
messenger's own accounting is the only advance.

Not an upstream patch: part of this series' staging of the alternative
rejected on 2014-11-20.
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EAGAIN
from model.socket_h import MSG_DONTWAIT, MSG_EOR, MSG_MORE, MSG_NOSIGNAL

STEP = Step(
    subject="libceph: hand kernel_sendmsg() a copy of out_kvec",
    upstream=None,
    intends=("write_partial_kvec no longer relies on the send path leaving out_kvec alone",),
)


def ceph_tcp_sendmsg(k, sock, iov, kvlen: int, len: int, more: int) -> int:
    """Write something. @more is true if caller will be sending more data shortly."""
    msg = k.msghdr()
    msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL
    if more:
        msg.msg_flags |= MSG_MORE
    else:
        msg.msg_flags |= MSG_EOR  # superfluous, but what the hell

    # the send path may consume what it is given: the caller's out_kvec stays its own
    copy = k.mem.alloc_array([k.kvec(iov_base=s.iov_base, iov_len=s.iov_len)
                              for s in (k.mem.elem(iov + i) for i in range(kvlen))], name="ceph scratch kvec")
    r = k.kernel_sendmsg(sock, msg, copy, kvlen, len)
    if r == -EAGAIN:
        r = 0
    return r
