"""include/uapi/asm-generic/errno-base.h, errno.h and include/linux/errno.h (v3.18): the values used here.

Only the numbers the modelled paths return. Kernel functions return them negated.
"""

EINTR = 4
EIO = 5
EAGAIN = 11
EWOULDBLOCK = EAGAIN
ENOMEM = 12
EFAULT = 14
EINVAL = 22
EPIPE = 32
EBADR = 53
ENOTSOCK = 88
EMSGSIZE = 90
EOPNOTSUPP = 95
ENETDOWN = 100
ENETUNREACH = 101
ECONNABORTED = 103
ECONNRESET = 104
ENOBUFS = 105
ENOTCONN = 107
ESHUTDOWN = 108
ETIMEDOUT = 110
ECONNREFUSED = 111
EHOSTUNREACH = 113
ERESTARTSYS = 512  # include/linux/errno.h: never seen by userspace

_NAMES = {v: k for k, v in sorted(globals().items(), reverse=True) if k.isupper() and isinstance(v, int)}


def errname(rc: int) -> str:
    """``-32`` -> ``-EPIPE``; a non-negative value is printed as it is."""
    if rc >= 0:
        return str(rc)
    return f"-{_NAMES.get(-rc, str(-rc))}"
