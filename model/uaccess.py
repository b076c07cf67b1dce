"""arch/x86/include/asm/uaccess.h (v3.18): the address limit and the user-copy primitives.

``get_fs``/``set_fs`` read and write ``current_thread_info()->addr_limit``, kept on the running
``Kernel`` (``k.addr_limit``), not in a module global. ``access_ok`` passes any address under
``KERNEL_DS`` and only user addresses under ``USER_DS``. The copy routines return the number of
bytes *not* copied, as the kernel's do; a fault (an unmapped byte) stops the copy there.
Only user memory faults: under ``KERNEL_DS`` a copy that runs past a kernel allocation reads or
overwrites the memory after it in the real kernel (no fault, no -EFAULT), so the model stops the
run there with ``OutOfBounds``, a finding, never an error code a caller could report.

Simplified: no page granularity (a fault can fall on any byte); ``__copy_*`` skip ``access_ok`` as
in the kernel, which is what lets a KERNEL_DS-flagged iovec be copied with them.
"""

from __future__ import annotations

from model.kernel import Ptr

KERNEL_DS = "KERNEL_DS"
USER_DS = "USER_DS"
VERIFY_READ = 0
VERIFY_WRITE = 1


def get_fs(k) -> str:
    return k.addr_limit


def set_fs(k, seg: str) -> None:
    k.addr_limit = seg


def get_ds(k) -> str:
    return KERNEL_DS


def access_ok(k, type: int, addr: Ptr, size: int) -> bool:
    """True when [addr, addr+size) is below the current address limit."""
    if k.addr_limit == KERNEL_DS:
        return True
    return size == 0 or k.mem.is_user(addr)


def __copy_from_user(k, to: Ptr, from_: Ptr, n: int) -> int:
    """Copy ``n`` bytes from ``from_`` to kernel ``to`` without access_ok; returns bytes not copied."""
    done = k.mem.user_copyable(from_, n, "read")
    k.mem.write(to, k.mem.read(from_, done))
    return n - done


def __copy_to_user(k, to: Ptr, from_: Ptr, n: int) -> int:
    """Copy ``n`` kernel bytes to ``to`` without access_ok; returns bytes not copied."""
    done = k.mem.user_copyable(to, n, "write")
    k.mem.write(to, k.mem.read(from_, done))
    return n - done


def copy_from_user(k, to: Ptr, from_: Ptr, n: int) -> int:
    """access_ok, then copy; on a bad address nothing is copied (the kernel zeroes ``to``)."""
    if not k.access_ok(VERIFY_READ, from_, n):
        k.mem.write(to, bytes(n))
        return n
    return k.__copy_from_user(to, from_, n)


def copy_to_user(k, to: Ptr, from_: Ptr, n: int) -> int:
    if not k.access_ok(VERIFY_WRITE, to, n):
        return n
    return k.__copy_to_user(to, from_, n)
