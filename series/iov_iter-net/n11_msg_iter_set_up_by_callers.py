"""net: set msg_iter up in the callers of sock_sendmsg()/sock_recvmsg()

sock_sendmsg() and sock_recvmsg() stop initialising msg->msg_iter: the
callers do it, kernel_sendmsg()/kernel_recvmsg() from their kvec array
(and the syscall paths, not modelled, from the copied iovec).  That lets a
caller set msg_iter up once and call sock_sendmsg() in a loop, the
iterator carrying what was sent: the way out for the iSCSI target's loops.
msg_iov is still set for the instances that read it.

Departs from the mail ("it will be initialized by sock_sendmsg()/
sock_recvmsg()"), as the merged code does (kernel-facts §8, claim 8): an
iterator set up inside sock_sendmsg() cannot carry progress across calls.
"""

from __future__ import annotations

from checks.series import Step
from model.kernel import Ptr
from model.uaccess import KERNEL_DS
from model.uio import READ, WRITE

STEP = Step(
    subject="net: set msg_iter up in the callers of sock_sendmsg()/sock_recvmsg()",
    upstream=None,
    depends=("n09",),
    intends=("sock_sendmsg/sock_recvmsg take msg_iter as the caller set it up",),
)


def sock_sendmsg(k, sock, msg, size: int) -> int:
    return getattr(k, sock.ops.sendmsg)(None, sock, msg, size)


def sock_recvmsg(k, sock, msg, size: int, flags: int) -> int:
    return getattr(k, sock.ops.recvmsg)(None, sock, msg, size, flags)


def kernel_sendmsg(k, sock, msg, vec: Ptr, num: int, size: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    msg.msg_iov = vec
    msg.msg_iovlen = num
    k.iov_iter_init(msg.msg_iter, WRITE, vec, num, size)
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result


def kernel_recvmsg(k, sock, msg, vec: Ptr, num: int, size: int, flags: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    msg.msg_iov = vec
    msg.msg_iovlen = num
    k.iov_iter_init(msg.msg_iter, READ, vec, num, size)
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result
