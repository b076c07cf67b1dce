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


# --- Contracts: not kernel code -------------------------------------------------------------------
# PEP316 contracts of the primitives above, checked with
#     crosshair check model/uio.py --per_condition_timeout 5 --per_path_timeout 1
# Each builds its own kernel, memory and kvec array from immutable inputs (segment lengths and a
# position), so CrossHair never mutates an argument and no ``__old__`` is needed. Segments hold
# distinct bytes ("abc...") and are separate allocations, and what is copied in is "ABC...": a
# repeated, skipped or stray byte shows, and a walk past a segment is an Oops, reported with the
# call. Inputs stay small (at most 3 segments of at most 3 bytes). One ``post:`` line each:
# CrossHair checks every post line as a condition of its own, with its own time budget.

_CONTRACT_SEGS = 3  # at most this many segments ...
_CONTRACT_SEG_LEN = 3  # ... of at most this many bytes


def _decide(x: int, lo: int, hi: int) -> int:
    """``x``, which the preconditions keep within ``lo..hi``, as a plain int, by a search.

    Contracts only. Under CrossHair each comparison is a branch of its path tree, and the
    primitive then runs on plain ints: no solver call per line of the model (a path costs about
    30 ms instead of 150, and planted bugs that symbolic values missed in 5 s are found in 1-4 s).
    A quarter of the range goes on the true side, which CrossHair takes a quarter of the time,
    so no value is favoured. On a plain int it is the identity: a contract called as an ordinary
    function replays a counterexample."""
    while lo < hi:
        cut = lo + max(1, round((hi - lo + 1) / 4))
        if x < cut:
            hi = cut - 1
        else:
            lo = cut
    return lo


def _decide_segs(segs: tuple[int, ...]) -> tuple[int, ...]:
    n = _decide(len(segs), 1, _CONTRACT_SEGS)
    return tuple(_decide(segs[j], 0, _CONTRACT_SEG_LEN) for j in range(n))


@dataclass(frozen=True)
class _Seen:
    """What a contract saw of one call of a primitive on a kvec array (model-private)."""

    segs: tuple[int, ...]  # the array's segment lengths
    ret: int  # the primitive's return value
    got: bytes  # the destination after the call: the kernel buffer, or the segments' bytes joined
    want: bytes  # the destination as the contract says it must be, given ``ret``
    array: tuple[tuple[int, int], ...]  # the kvec array after: (iov_base offset, iov_len) of each
    start: int = 0  # the iterator's position before, in bytes from the start of the array
    count0: int = 0  # its count before
    position: int = 0  # its position after
    count: int = 0  # its count after
    nr_segs: int = 0  # its nr_segs after
    segs_left: int = 0  # array entries from where its iov points to the end of the array
    parked: bool = False  # its iov rests at the end of a segment, or on an empty one

    def untouched(self) -> bool:
        """The kvec array is as it was built."""
        return self.array == tuple((0, n) for n in self.segs)

    def consumed(self, n: int) -> bool:
        """The first ``n`` bytes were consumed from the array: every segment touched has its
        base moved forward and its length reduced by what was taken from it, in order."""
        taken = [min(s, max(0, n - sum(self.segs[:j]))) for j, s in enumerate(self.segs)]
        return self.array == tuple((t, s - t) for t, s in zip(taken, self.segs, strict=True))

    def moved_exactly(self, n: int) -> bool:
        """The destination holds what the contract says; the iterator is exactly ``n`` bytes
        further on with ``count`` ``n`` smaller and ``nr_segs`` matching its pointer; the kvec
        array is untouched."""
        return (self.got == self.want and self.position == self.start + n and self.count == self.count0 - n
                and self.nr_segs == self.segs_left and self.untouched())


_CONTRACT_IMAGE = None


def _contract_kernel():
    """A kernel of just the user-copy routines the primitives call, under KERNEL_DS as
    kernel_sendmsg runs them. Not ``base_image()``: CrossHair bypasses ``functools.cache``, so
    the whole kernel would be linked again on every path; this image is linked once, on first use
    (a module global, which CrossHair leaves alone). Imported here: no import cycle."""
    from model import uaccess
    from model.kernel import Definition, Kernel, KernelImage

    global _CONTRACT_IMAGE
    if _CONTRACT_IMAGE is None:
        fns = (uaccess.get_fs, uaccess.access_ok, uaccess.__copy_from_user, uaccess.__copy_to_user,
               uaccess.copy_from_user, uaccess.copy_to_user)
        _CONTRACT_IMAGE = KernelImage("v3.18 (contract)", {f.__name__: Definition(f.__name__, f, "v3.18", "", "", 0)
                                                           for f in fns})
    k = Kernel(_CONTRACT_IMAGE)
    k.addr_limit = uaccess.KERNEL_DS
    return k


def _contract_array(k, segs: tuple[int, ...]) -> tuple[Ptr, list[Ptr]]:
    """A kvec array over one allocation per segment, holding "abc..." in order."""
    bufs = [k.mem.alloc_bytes(bytes(range(97 + sum(segs[:j]), 97 + sum(segs[: j + 1])))) for j in range(len(segs))]
    return k.mem.alloc_array([kvec(iov_base=p, iov_len=n) for p, n in zip(bufs, segs, strict=True)]), bufs


def _contract_array_after(k, arr: Ptr) -> tuple[tuple[int, int], ...]:
    return tuple((e.iov_base.off, e.iov_len) for e in k.mem.region(arr).elems)


def _contract_iter_walk(segs, first, offset, count, call) -> _Seen:
    """Set an iterator ``count`` bytes long at byte ``offset`` of segment ``first``, run
    ``call(k, i, start, bufs) -> (ret, got, want)`` and record where the iterator went."""
    k = _contract_kernel()
    arr, bufs = _contract_array(k, segs)
    i = iov_iter(type=WRITE | ITER_KVEC, iov_offset=offset, count=count, iov=arr + first, nr_segs=len(segs) - first)
    start = sum(segs[:first]) + offset
    ret, got, want = call(k, i, start, bufs)
    at = i.iov.off - arr.off
    return _Seen(segs, ret, got, want, _contract_array_after(k, arr), start, count,
                 sum(segs[:at]) + i.iov_offset, i.count, i.nr_segs, len(segs) - at,
                 at < len(segs) and i.iov_offset == segs[at])


def _decide_position(segs: tuple[int, ...], first: int, offset: int, count: int) -> tuple[int, int, int]:
    first = _decide(first, 0, len(segs) - 1)
    offset = _decide(offset, 0, max(segs[first], 1) - 1)
    return first, offset, _decide(count, 0, sum(segs[first:]) - offset)


def _copy_from_iter_contract(segs: tuple[int, ...], first: int, offset: int, count: int, nbytes: int) -> _Seen:
    """copy_from_iter() copies min(bytes, count) bytes, in order, from the iterator's position
    into the buffer and writes nothing else; returns that; advances the iterator by exactly
    that; never writes the kvec array.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= first < len(segs) and 0 <= offset < max(segs[first], 1)
    pre: 0 <= count <= sum(segs[first:]) - offset
    pre: 0 <= nbytes <= count + 1
    post: __return__.ret == min(nbytes, count) and __return__.moved_exactly(__return__.ret)
    """
    segs = _decide_segs(segs)
    first, offset, count = _decide_position(segs, first, offset, count)
    nbytes = _decide(nbytes, 0, count + 1)

    def call(k, i, start, bufs):
        kbuf = k.mem.alloc_bytes(b"." * nbytes)
        ret = copy_from_iter(k, kbuf, nbytes, i)
        return ret, k.mem.read(kbuf, nbytes), bytes(range(97 + start, 97 + start + ret)) + b"." * (nbytes - ret)

    return _contract_iter_walk(segs, first, offset, count, call)


def _copy_to_iter_contract(segs: tuple[int, ...], first: int, offset: int, count: int, nbytes: int) -> _Seen:
    """copy_to_iter() copies min(bytes, count) bytes of the buffer, in order, into the segments
    from the iterator's position and writes nothing else; returns that; advances the iterator
    by exactly that; never writes the kvec array.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= first < len(segs) and 0 <= offset < max(segs[first], 1)
    pre: 0 <= count <= sum(segs[first:]) - offset
    pre: 0 <= nbytes <= count + 1
    post: __return__.ret == min(nbytes, count) and __return__.moved_exactly(__return__.ret)
    """
    segs = _decide_segs(segs)
    first, offset, count = _decide_position(segs, first, offset, count)
    nbytes = _decide(nbytes, 0, count + 1)

    def call(k, i, start, bufs):
        kbuf = k.mem.alloc_bytes(bytes(range(65, 65 + nbytes)))
        ret = copy_to_iter(k, kbuf, nbytes, i)
        data = bytes(range(97, 97 + sum(segs)))
        want = data[:start] + bytes(range(65, 65 + ret)) + data[start + ret :]
        return ret, b"".join(k.mem.read(p, n) for p, n in zip(bufs, segs, strict=True)), want

    return _contract_iter_walk(segs, first, offset, count, call)


def _iov_iter_advance_contract(segs: tuple[int, ...], first: int, offset: int, count: int, size: int) -> _Seen:
    """iov_iter_advance() moves the iterator exactly ``size`` bytes on; while data is left it
    steps over a segment consumed exactly to its end and over zero-length segments, so it never
    rests on either; it writes only the iterator, never the kvec array.

    pre: 1 <= len(segs) <= _CONTRACT_SEGS and all(0 <= n <= _CONTRACT_SEG_LEN for n in segs)
    pre: 0 <= first < len(segs) and 0 <= offset < max(segs[first], 1)
    pre: 0 <= count <= sum(segs[first:]) - offset
    pre: 0 <= size <= count
    post: __return__.moved_exactly(size) and not (__return__.count and __return__.parked)
    """
    segs = _decide_segs(segs)
    first, offset, count = _decide_position(segs, first, offset, count)
    size = _decide(size, 0, count)

    def call(k, i, start, bufs):
        iov_iter_advance(k, i, size)
        return 0, b"", b""

    return _contract_iter_walk(segs, first, offset, count, call)
