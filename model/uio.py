"""include/linux/uio.h + mm/iov_iter.c (v3.18): iovec, kvec, iov_iter and its copy primitives.

``struct iov_iter`` is a record with the kernel's fields, never a Python iterator. In 3.18 the
union holds ``iov`` and ``bvec`` only: an iterator set up under ``KERNEL_DS`` is flagged
``ITER_KVEC`` but keeps its pointer in ``iov`` and is copied by the iovec path with
``__copy_{from,to}_user``, which works on kernel addresses ("It will get better. Eventually...").

Simplified: no bvec iterators (no modelled user sends pages through an iov_iter), so the
``ITER_BVEC`` branches of the primitives are absent; ``iov_iter_advance`` keeps the 3.18
``advance_iovec`` BUG_ON as an Oops.

The ``*_contract`` functions at the end are not kernel code: they state the primitives'
contracts in PEP316 form, over inputs built inside the function, so that
``crosshair check model/uio.py`` checks them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.kernel import NULL, Oops, Ptr

READ = 0
WRITE = 1

ITER_IOVEC = 0
ITER_KVEC = 2
ITER_BVEC = 4

UIO_FASTIOV = 8
UIO_MAXIOV = 1024


@dataclass(slots=True)
class iovec:
    """struct iovec: ``void __user *iov_base; __kernel_size_t iov_len;``"""

    iov_base: Ptr
    iov_len: int


@dataclass(slots=True)
class kvec:
    """struct kvec: ``void *iov_base; size_t iov_len;`` -- same layout as iovec."""

    iov_base: Ptr
    iov_len: int


@dataclass(slots=True)
class iov_iter:
    """struct iov_iter (3.18): type, iov_offset, count, union { iov; bvec; }, nr_segs."""

    type: int = 0
    iov_offset: int = 0
    count: int = 0
    iov: Ptr = NULL  # const struct iovec *
    bvec: Ptr = NULL  # const struct bio_vec *
    nr_segs: int = 0


def iov_iter_count(k, i: iov_iter) -> int:
    return i.count


def iov_iter_init(k, i: iov_iter, direction: int, iov: Ptr, nr_segs: int, count: int) -> None:
    """mm/iov_iter.c: note the KERNEL_DS flagging, with the pointer still in ``iov``."""
    # It will get better.  Eventually...
    if k.get_fs() == "KERNEL_DS":
        direction |= ITER_KVEC
    i.type = direction
    i.iov = iov
    i.nr_segs = nr_segs
    i.iov_offset = 0
    i.count = count


def iov_iter_advance(k, i: iov_iter, size: int) -> None:
    """advance_iovec(): walk ``size`` bytes; step over segments consumed to their end and over
    zero-length segments while data remains. Writes only the iterator, never the array."""
    if i.count < size:
        raise Oops(f"BUG_ON(i->count < bytes): advance by {size} with count {i.count}")
    if i.nr_segs == 1:
        i.iov_offset += size
        i.count -= size
        return
    iov = i.iov
    base = i.iov_offset
    nr_segs = i.nr_segs
    # The !iov->iov_len check ensures we skip over unlikely zero-length segments
    # (without overruning the iovec).
    while size or (i.count and not k.mem.elem(iov).iov_len):
        seg = k.mem.elem(iov)
        copy = min(size, seg.iov_len - base)
        if not i.count or i.count < copy:
            raise Oops("BUG_ON(!i->count || i->count < copy) in advance_iovec")
        i.count -= copy
        size -= copy
        base += copy
        if seg.iov_len == base:
            iov = iov + 1
            nr_segs -= 1
            base = 0
    i.iov = iov
    i.iov_offset = base
    i.nr_segs = nr_segs


def _copy_iovec(k, i: iov_iter, nbytes: int, copy_seg) -> int:
    """The shared walk of copy_{from,to}_iter_iovec(): ``copy_seg(buf, done, n)`` copies ``n``
    bytes between segment address ``buf`` and offset ``done`` of the kernel buffer and returns
    the bytes left uncopied; the walk stops at the first short copy."""
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0
    wanted = nbytes
    iov = i.iov
    skip = i.iov_offset
    seg = k.mem.elem(iov)
    copy = min(nbytes, seg.iov_len - skip)
    left = copy_seg(seg.iov_base + skip, 0, copy)
    copy -= left
    skip += copy
    nbytes -= copy
    while not left and nbytes:
        iov = iov + 1
        seg = k.mem.elem(iov)
        copy = min(nbytes, seg.iov_len)
        left = copy_seg(seg.iov_base, wanted - nbytes, copy)
        copy -= left
        skip = copy
        nbytes -= copy
    if skip == seg.iov_len:
        iov = iov + 1
        skip = 0
    i.count -= wanted - nbytes
    i.nr_segs -= iov.off - i.iov.off
    i.iov = iov
    i.iov_offset = skip
    return wanted - nbytes


def copy_from_iter(k, addr: Ptr, nbytes: int, i: iov_iter) -> int:
    """Copy up to ``nbytes`` (clamped to ``count``) from the iterator into kernel ``addr``;
    returns the bytes copied and advances the iterator by exactly that."""

    def from_seg(buf: Ptr, done: int, n: int) -> int:
        return k.__copy_from_user(addr + done, buf, n)

    return _copy_iovec(k, i, nbytes, from_seg)


def copy_to_iter(k, addr: Ptr, nbytes: int, i: iov_iter) -> int:
    """Copy up to ``nbytes`` from kernel ``addr`` into the iterator's segments; advances."""

    def to_seg(buf: Ptr, done: int, n: int) -> int:
        return k.__copy_to_user(buf, addr + done, n)

    return _copy_iovec(k, i, nbytes, to_seg)
