"""iov_iter: teach it about kvec

Give struct iov_iter a kvec member (in the union with iov and bvec) and
a kvec flavour of every primitive: iterate_kvec walks the segments with
plain memcpy, which cannot fault.  iov_iter_init() under KERNEL_DS now
stores the array in ->kvec, so the ITER_KVEC tag finally means what it
says, and iov_iter_kvec() sets up a kvec-backed iterator explicitly.

No caller changes: kernel_sendmsg() and kernel_recvmsg() do not build an
iov_iter yet.  The primitives still never write to the array; they move
only the iterator.

Upstream: part of Al Viro's iov_iter work for 3.19; the commit id was not
found (no mainline history was readable).  The result is
mm/iov_iter.c:36 (iterate_kvec), 320 (iov_iter_init), 503
(iov_iter_kvec)@3.19.8.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.series import Step
from model.kernel import NULL, Oops, Ptr
from model.uio import ITER_BVEC, ITER_KVEC

STEP = Step(
    subject="iov_iter: kvec-backed iterators (iterate_kvec, iov_iter_kvec)",
    upstream=None,
    kernel="v3.19",
    adds=("iov_iter_kvec", "iterate_and_advance"),
    files={"iov_iter_kvec": "mm/iov_iter.c", "iterate_and_advance": "mm/iov_iter.c"},
    intends=("KERNEL_DS iterators carry ->kvec and are copied with memcpy",),
)


@dataclass(slots=True)
class iov_iter:
    """struct iov_iter (3.19): the union gains ``const struct kvec *kvec``.

    ``iov`` and ``kvec`` are one pointer, as in the C union.
    """

    type: int = 0
    iov_offset: int = 0
    count: int = 0
    iov: Ptr = NULL  # union { iov; kvec; bvec; }
    bvec: Ptr = NULL
    nr_segs: int = 0

    @property
    def kvec(self) -> Ptr:
        return self.iov

    @kvec.setter
    def kvec(self, p: Ptr) -> None:
        self.iov = p


def iov_iter_init(k, i, direction: int, iov: Ptr, nr_segs: int, count: int) -> None:
    # It will get better.  Eventually...
    if k.get_fs() == "KERNEL_DS":
        i.type = direction | ITER_KVEC
        i.kvec = iov
    else:
        i.type = direction
        i.iov = iov
    i.nr_segs = nr_segs
    i.iov_offset = 0
    i.count = count


def iov_iter_kvec(k, i, direction: int, kvec: Ptr, nr_segs: int, count: int) -> None:
    if not direction & ITER_KVEC:
        raise Oops("BUG_ON(!(direction & ITER_KVEC)) in iov_iter_kvec")
    i.type = direction
    i.kvec = kvec
    i.nr_segs = nr_segs
    i.iov_offset = 0
    i.count = count


def iterate_and_advance(k, i, n: int, step) -> int:
    """The iterate_and_advance() macro: ``step(base, done, len)`` handles one piece and returns the bytes it
    could not copy (always 0 for kvec); the iovec walk stops at the first short piece."""
    if i.type & ITER_BVEC:
        raise Oops("bvec iterators are not modelled")
    wanted = n
    p = i.iov
    skip = i.iov_offset
    seg = k.mem.elem(p)
    length = min(n, seg.iov_len - skip)
    left = 0
    if length:
        left = step(seg.iov_base + skip, 0, length)
        skip += length - left
        n -= length - left
    while n and not left:
        p = p + 1
        seg = k.mem.elem(p)
        length = min(n, seg.iov_len)
        if not length:
            continue
        left = step(seg.iov_base, wanted - n, length)
        skip = length - left
        n -= length - left
    n = wanted - n  # iterate_kvec: n = wanted, as memcpy never leaves anything
    if skip == seg.iov_len:
        p = p + 1
        skip = 0
    i.nr_segs -= p.off - i.iov.off
    i.iov = p
    i.count -= n
    i.iov_offset = skip
    return n


def iov_iter_advance(k, i, size: int) -> None:
    k.iterate_and_advance(i, size, lambda base, done, n: 0)


def copy_from_iter(k, addr: Ptr, nbytes: int, i) -> int:
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0

    def piece(base: Ptr, done: int, n: int) -> int:
        if i.type & ITER_KVEC:
            k.mem.write(addr + done, k.mem.read(base, n))  # memcpy
            return 0
        return k.__copy_from_user(addr + done, base, n)

    return k.iterate_and_advance(i, nbytes, piece)


def copy_to_iter(k, addr: Ptr, nbytes: int, i) -> int:
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0

    def piece(base: Ptr, done: int, n: int) -> int:
        if i.type & ITER_KVEC:
            k.mem.write(base, k.mem.read(addr + done, n))  # memcpy
            return 0
        return k.__copy_to_user(base, addr + done, n)

    return k.iterate_and_advance(i, nbytes, piece)
