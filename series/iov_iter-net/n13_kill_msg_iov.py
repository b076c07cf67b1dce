"""net: kill msg_iov/msg_iovlen

Every ->sendmsg()/->recvmsg() instance and every in-kernel user now goes
through msg->msg_iter, and the iovec behind it is never written: drop
msg_iov and msg_iovlen from struct msghdr, and stop kernel_sendmsg()/
kernel_recvmsg() setting them.  Anything still reading them no longer
builds, which is the point: the checks show nothing does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.series import Step, earlier
from model.kernel import NULL, Ptr
from model.uaccess import KERNEL_DS
from model.uio import READ, WRITE

iov_iter = earlier("as-merged/s04_iov_iter_kvec").iov_iter

STEP = Step(
    subject="net: kill msg_iov/msg_iovlen",
    upstream=None,
    depends=("n11",),
    intends=("struct msghdr describes the data by msg_iter only",),
)


@dataclass(slots=True)
class msghdr:
    """struct msghdr: the data is msg_iter."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iter: iov_iter = field(default_factory=iov_iter)
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0


def kernel_sendmsg(k, sock, msg, vec: Ptr, num: int, size: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    k.iov_iter_init(msg.msg_iter, WRITE, vec, num, size)
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result


def kernel_recvmsg(k, sock, msg, vec: Ptr, num: int, size: int, flags: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    k.iov_iter_init(msg.msg_iter, READ, vec, num, size)
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result
