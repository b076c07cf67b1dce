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


# --- Contracts: not kernel code -------------------------------------------------------------------
# PEP316 contracts of the helpers above, checked with
#     crosshair check model/iovec.py --per_condition_timeout 5 --per_path_timeout 1
# built as model/uio.py's are (its contract section says how); one ``post:`` line each. Lengths
# stay within the data: beyond it 3.18 walks off the array by design (it has no nr_segs).

from model.uio import (  # noqa: E402  (contracts only)
    _CONTRACT_SEG_LEN,  # noqa: F401  (read by the pre: lines)
    _CONTRACT_SEGS,  # noqa: F401  (read by the pre: lines)
    _contract_array,
    _contract_array_after,
    _contract_kernel,
    _decide,
    _decide_segs,
    _Seen,
)


def _contract_copy(segs: tuple[int, ...], size: int, call, want: bytes, into_array: bool) -> _Seen:
    """Run ``call(k, arr, kbuf)`` on a kvec array over "abc..." segments and a ``size``-byte
    kernel buffer holding "ABC..."; ``want`` is what the destination (the segments' bytes
    joined if ``into_array``, else the buffer) must hold after."""
    k = _contract_kernel()
    arr, bufs = _contract_array(k, segs)
    kbuf = k.mem.alloc_bytes(bytes(range(65, 65 + size)))
    ret = call(k, arr, kbuf)
    got = b"".join(k.mem.read(p, n) for p, n in zip(bufs, segs, strict=True)) if into_array else k.mem.read(kbuf, size)
    return _Seen(segs, ret, got, want, _contract_array_after(k, arr))


def _memcpy_fromiovec_contract(segs: tuple[int, ...], size: int) -> _Seen:
    """memcpy_fromiovec() copies ``len`` bytes from the segments, in order, into the buffer,
    returns 0, and consumes exactly ``len`` bytes of the array ("Note: this modifies the
    original iovec"): each segment touched has iov_base moved on and iov_len reduced by what was
    copied from it; the segments after are left alone.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= size <= sum(segs)
    post: __return__.ret == 0 and __return__.got == __return__.want and __return__.consumed(size)
    """
    segs = _decide_segs(segs)
    size = _decide(size, 0, sum(segs))
    want = bytes(range(97, 97 + size))
    return _contract_copy(segs, size, lambda k, arr, kbuf: memcpy_fromiovec(k, kbuf, arr, size), want, False)


def _memcpy_toiovec_contract(segs: tuple[int, ...], size: int) -> _Seen:
    """memcpy_toiovec() copies ``len`` bytes of the buffer, in order, over the first ``len``
    bytes of the segments and nowhere else, returns 0, and consumes exactly ``len`` bytes of
    the array, as memcpy_fromiovec() does.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= size <= sum(segs)
    post: __return__.ret == 0 and __return__.got == __return__.want and __return__.consumed(size)
    """
    segs = _decide_segs(segs)
    size = _decide(size, 0, sum(segs))
    want = bytes(range(65, 65 + size)) + bytes(range(97 + size, 97 + sum(segs)))
    return _contract_copy(segs, size, lambda k, arr, kbuf: memcpy_toiovec(k, arr, kbuf, size), want, True)


def _memcpy_fromiovecend_contract(segs: tuple[int, ...], offset: int, size: int) -> _Seen:
    """memcpy_fromiovecend() copies the ``len`` bytes found ``offset`` bytes into the segments,
    in order, into the buffer, returns 0, and leaves the kvec array untouched.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= offset <= sum(segs) and 0 <= size <= sum(segs) - offset
    post: __return__.ret == 0 and __return__.got == __return__.want and __return__.untouched()
    """
    segs = _decide_segs(segs)
    offset = _decide(offset, 0, sum(segs))
    size = _decide(size, 0, sum(segs) - offset)
    want = bytes(range(97 + offset, 97 + offset + size))
    return _contract_copy(segs, size, lambda k, arr, kbuf: memcpy_fromiovecend(k, kbuf, arr, offset, size), want,
                          False)


def _memcpy_toiovecend_contract(segs: tuple[int, ...], offset: int, size: int) -> _Seen:
    """memcpy_toiovecend() copies ``len`` bytes of the buffer, in order, into the segments from
    ``offset`` bytes in and nowhere else, returns 0, and leaves the kvec array untouched.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= offset <= sum(segs) and 0 <= size <= sum(segs) - offset
    post: __return__.ret == 0 and __return__.got == __return__.want and __return__.untouched()
    """
    segs = _decide_segs(segs)
    offset = _decide(offset, 0, sum(segs))
    size = _decide(size, 0, sum(segs) - offset)
    data = bytes(range(97, 97 + sum(segs)))
    want = data[:offset] + bytes(range(65, 65 + size)) + data[offset + size :]
    return _contract_copy(segs, size, lambda k, arr, kbuf: memcpy_toiovecend(k, arr, kbuf, offset, size), want,
                          True)
