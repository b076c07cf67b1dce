"""separate kernel- and userland-side msghdr

Kernel-side struct msghdr is a different beast; it's not the same as
userland one.  Separate them (userland one: struct user_msghdr).  This
will allow to change the layout of kernel-side msghdr - e.g. replace
msg_iov/msg_iovlen there with struct iov_iter, getting rid of the need to
modify the iovec as we copy data to/from it.

Signed-off-by: Al Viro
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.series import Step
from model.kernel import NULL, Ptr

STEP = Step(
    subject="separate kernel- and userland-side msghdr",
    upstream="666547ff591cebdedc4679bf6b1b3f3383a8dea3",
    upstream_verified=True,
    kernel="v3.19",
    adds=("user_msghdr",),
    files={"user_msghdr": "include/linux/socket.h"},
    intends=("userland keeps its layout; kernel msghdr may change",),
)


@dataclass(slots=True)
class user_msghdr:
    """struct user_msghdr: the userland layout (``struct iovec __user *msg_iov``)."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iov: Ptr = NULL
    msg_iovlen: int = 0
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0
