"""include/linux/socket.h (v3.18): the kernel-side struct msghdr and the MSG_* flags.

3.18 layout: the data is described by ``msg_iov``/``msg_iovlen`` (one array type for user and
kernel callers; ``kernel_sendmsg`` casts its ``struct kvec *`` to ``struct iovec *``).
``msg_control`` is kept as a pointer; no modelled user sends ancillary data.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.kernel import NULL, Ptr

MSG_OOB = 1
MSG_PEEK = 2
MSG_DONTROUTE = 4
MSG_CTRUNC = 8
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000


@dataclass(slots=True)
class msghdr:
    """struct msghdr (3.18)."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iov: Ptr = NULL  # struct iovec *
    msg_iovlen: int = 0
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0

AF_UNSPEC = 0
AF_UNIX = 1
AF_INET = 2
AF_NETLINK = 16
AF_PACKET = 17
AF_BLUETOOTH = 31
