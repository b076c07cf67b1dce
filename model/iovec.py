"""lib/iovec.c (v3.18): the memcpy_{from,to}iovec{,end} helpers.

The two non-``end`` helpers consume the array they are given: "Note: this modifies the original
iovec." Each segment touched has ``iov_base`` moved forward and ``iov_len`` reduced by what was
copied; the array pointer itself is a by-value parameter, so the caller's ``msg_iov`` still points
at element 0 and a later call walks over the emptied segments again. The ``end`` variants take an
offset and leave the array alone. None of them knows ``nr_segs``: asking for more than the array
holds walks off its end (an Oops here).

The copies use ``copy_{from,to}_user``, so they fail with -EFAULT on a kernel address unless the
caller is under ``set_fs(KERNEL_DS)``.
"""

from __future__ import annotations

from model.errno import EFAULT
from model.kernel import Ptr


def memcpy_fromiovec(k, kdata: Ptr, iov: Ptr, len: int) -> int:
    """Copy ``len`` bytes from the iovec array at ``iov`` into ``kdata``.

    Note: this modifies the original iovec.
    """
    while len > 0:
        seg = k.mem.elem(iov)
        if seg.iov_len:
            copy = min(len, seg.iov_len)
            if k.copy_from_user(kdata, seg.iov_base, copy):
                return -EFAULT
            len -= copy
            kdata = kdata + copy
            seg.iov_base = seg.iov_base + copy
            seg.iov_len -= copy
        iov = iov + 1
    return 0


def memcpy_toiovec(k, iov: Ptr, kdata: Ptr, len: int) -> int:
    """Copy ``len`` bytes from ``kdata`` into the iovec array at ``iov``.

    Note: this modifies the original iovec.
    """
    while len > 0:
        seg = k.mem.elem(iov)
        if seg.iov_len:
            copy = min(seg.iov_len, len)
            if k.copy_to_user(seg.iov_base, kdata, copy):
                return -EFAULT
            kdata = kdata + copy
            len -= copy
            seg.iov_len -= copy
            seg.iov_base = seg.iov_base + copy
        iov = iov + 1
    return 0


def memcpy_fromiovecend(k, kdata: Ptr, iov: Ptr, offset: int, len: int) -> int:
    """Copy ``len`` bytes starting ``offset`` bytes into the iovec; the iovec is not modified."""
    # No data? Done!
    if len == 0:
        return 0
    # Skip over the finished iovecs
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1
    while len > 0:
        seg = k.mem.elem(iov)
        base = seg.iov_base + offset
        copy = min(len, seg.iov_len - offset)
        offset = 0
        if k.copy_from_user(kdata, base, copy):
            return -EFAULT
        len -= copy
        kdata = kdata + copy
        iov = iov + 1
    return 0


def memcpy_toiovecend(k, iov: Ptr, kdata: Ptr, offset: int, len: int) -> int:
    """Copy ``len`` bytes into the iovec starting ``offset`` bytes in; the iovec is not modified."""
    while len > 0:
        seg = k.mem.elem(iov)
        if offset >= seg.iov_len:
            offset -= seg.iov_len
            iov = iov + 1
            continue
        base = seg.iov_base + offset
        copy = min(seg.iov_len - offset, len)
        offset = 0
        if k.copy_to_user(base, kdata, copy):
            return -EFAULT
        kdata = kdata + copy
        len -= copy
        iov = iov + 1
    return 0
