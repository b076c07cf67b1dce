"""Contracts of the copy primitives (lib/iovec.c, net/core/iovec.c, mm/iov_iter.c, checksum),
checked by bounded exhaustive search against whatever definitions a kernel image holds.

A series step may replace a primitive (a 3.19 kvec-aware ``copy_from_iter``) or add one
(``csum_and_copy_from_iter``), so every run boots a fresh ``Kernel(image)`` and calls through it,
and only the primitives whose symbols the image has are checked (``applicable``). kernel-facts
§2 is the specification; each contract is one line of its ``Primitive``:

* ``copy_from_iter`` / ``copy_to_iter``: copy min(bytes, count) bytes in order from/to the
  iterator's position, return that, advance ``count`` by exactly that, leave
  ``iov``/``nr_segs``/``iov_offset`` at the byte reached, never write the kvec array.
* ``iov_iter_advance``: the same bookkeeping for n <= count.
* ``memcpy_fromiovec`` / ``memcpy_toiovec``: copy len bytes in order, consume exactly len from
  the array (each segment's base/len moved by what was copied from it), return 0.
* ``memcpy_fromiovecend`` / ``memcpy_toiovecend``: copy len bytes at offset, array untouched.
* ``csum_partial_copy_fromiovecend`` (offset inside the data: 3.18 has no len == 0 guard) and
  ``csum_and_copy_{from,to}_iter``: copy as above, and the checksum folds to the fold of
  ``csum_partial`` over the same bytes (folded values only: the unfolded 32-bit sums of the 3.18
  and 3.19 methods may differ, kernel-facts §2.3).
* ``csum_partial``: folds to the Internet checksum of the bytes plus the seed, at any alignment.
* ``csum_block_add``: combining the sums of two pieces split at any offset, odd or even, folds
  to the sum of the whole.

Expected checksums come from the model's pure v3.18 ``_csum_partial_bytes``, which no step can
replace, so each checksum contract blames only the symbol it names.

Inputs: every kvec array of at most ``Bounds.max_segs`` segments (zero-length ones included) of
at most ``Bounds.max_seg_len`` bytes, every iterator position and count in it, every byte count
up to the data (one beyond, where the primitive clamps). Segment bytes are distinct (``abc...``)
so a repeated or skipped byte cannot hide behind an equal one, and each segment is its own
allocation, so reading or writing past one is an Oops. Everything runs under
``set_fs(KERNEL_DS)``: the arrays are kvecs, as ``kernel_sendmsg`` hands them down.

What is left out: faults (every segment is mapped kernel memory, so no copy may come up short),
and lengths beyond the data for the helpers that do not clamp (3.18 walks off the array there,
by design: kernel-facts §2.1).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

from checks.harness import UNFILLED, ModelError, interrupted_by_user, message_bytes
from checks.profiles import Bounds
from checks.verdicts import EngineRun, Status
from model.checksum import _csum_partial_bytes
from model.kernel import DoesNotBuild, Kernel, KernelImage, Memory, Oops, Ptr
from model.uaccess import KERNEL_DS
from model.world import Stalled

# A walk that touches memory more often than this on inputs of a few bytes is not going to end.
MEMORY_ACCESS_BUDGET = 20_000

# Initial running sums handed to the checksum helpers: zero, an ordinary one, and one that wraps
# on any add (and is one's-complement -0).
CSUM_SEEDS = (0, 0x1234_5678, 0xFFFF_FFFF)


class Livelock(Exception):
    """A primitive kept walking memory without finishing (a loop that never advances)."""


class ReplayDisagrees(Exception):
    """An input failed in the search but not when replayed in a fresh kernel: a tool error, not a
    finding. The model is supposed to be deterministic; look for state shared between boots."""


class UnknownPrimitive(KeyError):
    """No contract is stated for this name; use one of ``PRIMITIVES``."""


class _BudgetMemory(Memory):
    """The machine's memory, counting accesses so a runaway walk ends as ``Livelock``."""

    __slots__ = ("left",)

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.left = budget

    def _tick(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise Livelock(f"more than {MEMORY_ACCESS_BUDGET} memory accesses")

    def mapped(self, p: Ptr, n: int) -> int:
        self._tick()
        return super().mapped(p, n)

    def read(self, p: Ptr, n: int) -> bytes:
        self._tick()
        return super().read(p, n)

    def write(self, p: Ptr, data: bytes) -> None:
        self._tick()
        super().write(p, data)

    def elem(self, p: Ptr):
        self._tick()
        return super().elem(p)


def boot(image: KernelImage) -> Kernel:
    """A fresh kernel under KERNEL_DS whose memory counts accesses."""
    k = Kernel(image)
    k.mem = _BudgetMemory(MEMORY_ACCESS_BUDGET)
    k.set_fs(KERNEL_DS)
    return k


# --- the contracts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Primitive:
    """One primitive's contract: the rule, the inputs within bounds, and one concrete run."""

    name: str
    contract: str  # the rule, in one line
    inputs: Callable[[Bounds], Iterator[dict]]  # every input within the bounds, smallest first
    run: Callable[[Kernel, dict], list[str]]  # one input on a fresh kernel: what broke, if anything
    describe: Callable[[dict], str]  # the input as a call
    requires: tuple[str, ...] = ()  # further symbols the check calls through the image


# --- building inputs -----------------------------------------------------------------------------


def shapes(bounds: Bounds) -> Iterator[tuple[int, ...]]:
    """Every kvec length vector within the bounds, zero-length segments included; the empty array
    too (``kernel_sendmsg(sock, msg, NULL, 0, 0)`` exists: dlm)."""
    for n in range(bounds.max_segs + 1):
        yield from itertools.product(range(bounds.max_seg_len + 1), repeat=n)


def positions(segs: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    """Where an iterator can stand: inside a segment (a zero-length one at offset 0), or past the
    last segment once everything is consumed. A segment consumed to its end has been stepped over."""
    for j, n in enumerate(segs):
        for o in range(max(n, 1)):
            yield j, o
    yield len(segs), 0


def _iter_inputs(bounds: Bounds, op: str, beyond: int) -> Iterator[dict]:
    """Every iterator state (position, count up to the data left) and every ``op`` count from 0
    to count + ``beyond``."""
    for segs in shapes(bounds):
        for j, o in positions(segs):
            left = sum(segs) - sum(segs[:j]) - o
            for count in range(left + 1):
                for n in range(count + beyond + 1):
                    yield {"segs": list(segs), "seg": j, "offset": o, "count": count, op: n}


def _len_inputs(bounds: Bounds) -> Iterator[dict]:
    for segs in shapes(bounds):
        for n in range(sum(segs) + 1):
            yield {"segs": list(segs), "len": n}


def _offset_len_inputs(bounds: Bounds) -> Iterator[dict]:
    for segs in shapes(bounds):
        total = sum(segs)
        for offset in range(total + 1):
            for n in range(total - offset + 1):
                yield {"segs": list(segs), "offset": offset, "len": n}


def _csum_offset_len_inputs(bounds: Bounds) -> Iterator[dict]:
    """As for memcpy_fromiovecend, but with ``offset`` inside the data: 3.18's
    csum_partial_copy_fromiovecend has no ``len == 0`` guard, so a zero-length call at the end of
    the data walks its skip loop past the array (a stray read; kernel-facts §2.1). Its callers,
    the getfrag callbacks, are never called with len 0."""
    for inp in _offset_len_inputs(bounds):
        if inp["offset"] < sum(inp["segs"]):
            for seed in CSUM_SEEDS:
                yield {**inp, "csum": seed}


def _csum_iter_inputs(bounds: Bounds) -> Iterator[dict]:
    for inp in _iter_inputs(bounds, "bytes", 1):
        for seed in CSUM_SEEDS:
            yield {**inp, "csum": seed}


def _csum_inputs(bounds: Bounds) -> Iterator[dict]:
    """Every length up to the largest array's, at every alignment modulo 4, from every seed."""
    for n in range(bounds.max_segs * bounds.max_seg_len + 1):
        for align in range(4):
            for seed in CSUM_SEEDS:
                yield {"len": n, "align": align, "csum": seed}


def _split_inputs(bounds: Bounds) -> Iterator[dict]:
    """Every string as long as the largest array, split at every offset."""
    for n in range(bounds.max_segs * bounds.max_seg_len + 1):
        for at in range(n + 1):
            yield {"len": n, "at": at}


class _Vec:
    """A kvec array over separately allocated segments, filled with ``data`` in order."""

    def __init__(self, k: Kernel, segs: list[int], data: bytes):
        self.k, self.segs, self.bufs = k, tuple(segs), []
        entries, off = [], 0
        for j, n in enumerate(self.segs):
            p = k.mem.alloc_bytes(data[off : off + n], name=f"segment {j}")
            self.bufs.append(p)
            entries.append(k.kvec(iov_base=p, iov_len=n))
            off += n
        self.ptr = k.mem.alloc_array(entries, name="kvec[]")
        self.before = self.entries()

    def entries(self) -> list[tuple[Ptr, int]]:
        return [(e.iov_base, e.iov_len) for e in self.k.mem.region(self.ptr).elems]

    def contents(self) -> bytes:
        return b"".join(bytes(self.k.mem.region(p).data) for p in self.bufs)

    def show(self, entries: list[tuple[Ptr, int]]) -> str:
        """Entries as {base relative to its own segment, len}."""
        shown = []
        for j, (base, n) in enumerate(entries):
            own = self.bufs[j] if j < len(self.bufs) else None
            at = f"+{base.off}" if own is not None and base.region == own.region else repr(base)
            shown.append(f"{{{at}, {n}}}")
        return "[" + ", ".join(shown) + "]"

    def expect_entries(self, want: list[tuple[Ptr, int]], what: str) -> list[str]:
        now = self.entries()
        if now == want:
            return []
        return [f"kvec array {self.show(now)}, expected {self.show(want)} ({what})"]

    def untouched(self) -> list[str]:
        return self.expect_entries(self.before, "untouched")

    def consumed(self, n: int) -> list[tuple[Ptr, int]]:
        """The entries after consuming ``n`` bytes from the start, as memcpy_fromiovec does."""
        want, before = [], 0
        for (base, length) in self.before:
            c = max(0, min(length, n - before))
            want.append((base + c, length - c))
            before += length
        return want


def _buffer(k: Kernel, p: Ptr) -> bytes:
    return bytes(k.mem.region(p).data)


def _check_bytes(what: str, got: bytes, want: bytes) -> list[str]:
    return [] if got == want else [f"{what} {got!r}, expected {want!r}"]


def _placed(n: int, at: int, src: bytes) -> bytes:
    """``n`` unfilled bytes with ``src`` written at ``at``."""
    return bytes([UNFILLED]) * at + src + bytes([UNFILLED]) * (n - at - len(src))


def _rc(rc, want: int) -> list[str]:
    if not isinstance(rc, int) or isinstance(rc, bool):
        return [f"returned {rc!r}, not an int"]
    return [] if rc == want else [f"returned {rc}, expected {want}"]


# --- iterators ------------------------------------------------------------------------------------

_ITER_POINTERS = ("kvec", "iov")  # where iov_iter_init may keep the array: 3.19 kvec, else iov


def _iterator(k: Kernel, vec: _Vec, direction: int, inp: dict):
    """``iov_iter_init`` over the array from ``seg``, then the offset inside that segment set as an
    earlier copy would have left it (``iov_offset`` and ``count`` are the same in every version)."""
    i = k.iov_iter()
    k.iov_iter_init(i, direction, vec.ptr + inp["seg"], len(vec.segs) - inp["seg"], inp["count"])
    field = next((f for f in _ITER_POINTERS if getattr(i, f, None) == vec.ptr + inp["seg"]), None)
    if field is None:
        raise ModelError(f"iov_iter_init kept the array in none of {_ITER_POINTERS}: {i!r}")
    i.iov_offset = inp["offset"]
    return i, field


def _check_iter(vec: _Vec, i, field: str, inp: dict, n: int) -> list[str]:
    """The iterator after consuming ``n`` bytes from where ``inp`` put it.

    inv: count dropped by n; iov + nr_segs is still the array's end; iov_offset is inside the
    segment iov points at and together they name the byte n further on; iov never moves back;
    a segment consumed exactly to its end is stepped over, except that 3.18's single-segment
    fast path (``advance_iovec`` with nr_segs == 1) leaves an iterator that began on the last
    segment at that segment's end, where nothing follows it.
    """
    segs, last = vec.segs, len(vec.segs)
    problems = []
    if i.count != inp["count"] - n:
        problems.append(f"count {i.count}, expected {inp['count'] - n}")
    p = getattr(i, field)
    if p.region != vec.ptr.region or not inp["seg"] <= p.off <= last:
        return problems + [f"i->{field} is {p!r}, outside kvec[{inp['seg']}..{last}]"]
    j, off = p.off, i.iov_offset
    if j + i.nr_segs != last:
        problems.append(f"nr_segs {i.nr_segs} at kvec[{j}], expected {last - j}")
    room = segs[j] if j < last else 0
    if not 0 <= off <= room:
        return problems + [f"iov_offset {off} outside kvec[{j}] of {room} bytes"]
    at, want = sum(segs[:j]) + off, sum(segs[: inp["seg"]]) + inp["offset"] + n
    if at != want:
        problems.append(f"iterator at byte {at} (kvec[{j}] offset {off}), expected byte {want}")
    elif room and off == room and not (i.nr_segs == 1 and j == inp["seg"] == last - 1):
        problems.append(f"kvec[{j}] consumed to its end but not stepped over (nr_segs {i.nr_segs})")
    return problems


def _iter_call(name: str, arg: str) -> Callable[[dict], str]:
    def describe(inp: dict) -> str:
        return (f"{name}({arg.format(**inp)}) with i at kvec[{inp['seg']}] offset {inp['offset']}, "
                f"count {inp['count']}, kvec lengths {inp['segs']}")

    return describe


def run_copy_from_iter(k: Kernel, inp: dict) -> list[str]:
    """copy_from_iter(addr, bytes, i): copies min(bytes, count) bytes from the iterator's position,
    in order, into addr; returns that; advances the iterator by exactly that; no other byte of
    addr or of the segments changes; the kvec array is not written."""
    data = message_bytes(sum(inp["segs"]))
    vec = _Vec(k, inp["segs"], data)
    i, field = _iterator(k, vec, k.WRITE, inp)
    nbytes = inp["bytes"]
    addr = k.mem.alloc_bytes(bytes([UNFILLED]) * nbytes, name="kernel buffer")
    rc = k.copy_from_iter(addr, nbytes, i)
    n, pos = min(nbytes, inp["count"]), sum(inp["segs"][: inp["seg"]]) + inp["offset"]
    return (_rc(rc, n) + _check_bytes("addr", _buffer(k, addr), _placed(nbytes, 0, data[pos : pos + n]))
            + _check_bytes("the segments", vec.contents(), data) + vec.untouched()
            + _check_iter(vec, i, field, inp, n))


def run_copy_to_iter(k: Kernel, inp: dict) -> list[str]:
    """copy_to_iter(addr, bytes, i): copies min(bytes, count) bytes of addr, in order, to the
    iterator's position; returns that; advances by exactly that; no other segment byte changes;
    the kvec array is not written."""
    total = sum(inp["segs"])
    vec = _Vec(k, inp["segs"], bytes([UNFILLED]) * total)
    i, field = _iterator(k, vec, k.READ, inp)
    nbytes = inp["bytes"]
    src = message_bytes(nbytes)
    addr = k.mem.alloc_bytes(src, name="kernel buffer")
    rc = k.copy_to_iter(addr, nbytes, i)
    n, pos = min(nbytes, inp["count"]), sum(inp["segs"][: inp["seg"]]) + inp["offset"]
    return (_rc(rc, n) + _check_bytes("the segments", vec.contents(), _placed(total, pos, src[:n]))
            + _check_bytes("addr", _buffer(k, addr), src) + vec.untouched()
            + _check_iter(vec, i, field, inp, n))


def run_iov_iter_advance(k: Kernel, inp: dict) -> list[str]:
    """iov_iter_advance(i, n), n <= count: the iterator names the byte n further on (segments
    consumed to their end and zero-length ones met on the way stepped over), count drops by n;
    neither the kvec array nor the data is written."""
    data = message_bytes(sum(inp["segs"]))
    vec = _Vec(k, inp["segs"], data)
    i, field = _iterator(k, vec, k.WRITE, inp)
    k.iov_iter_advance(i, inp["n"])
    return (_check_bytes("the segments", vec.contents(), data) + vec.untouched()
            + _check_iter(vec, i, field, inp, inp["n"]))


# --- lib/iovec.c ----------------------------------------------------------------------------------


def run_memcpy_fromiovec(k: Kernel, inp: dict) -> list[str]:
    """memcpy_fromiovec(kdata, iov, len), len <= total: kdata gets the first len bytes in order;
    each segment's iov_base/iov_len moved by what was copied from it ("this modifies the original
    iovec"); returns 0."""
    data = message_bytes(sum(inp["segs"]))
    vec = _Vec(k, inp["segs"], data)
    kdata = k.mem.alloc_bytes(bytes([UNFILLED]) * inp["len"], name="kdata")
    rc = k.memcpy_fromiovec(kdata, vec.ptr, inp["len"])
    return (_rc(rc, 0) + _check_bytes("kdata", _buffer(k, kdata), data[: inp["len"]])
            + _check_bytes("the segments", vec.contents(), data)
            + vec.expect_entries(vec.consumed(inp["len"]), f"consumed by len {inp['len']}"))


def run_memcpy_toiovec(k: Kernel, inp: dict) -> list[str]:
    """memcpy_toiovec(iov, kdata, len), len <= total: the first len bytes of the segments get
    kdata in order, no other byte changes; each segment consumed by what was copied to it;
    returns 0."""
    total = sum(inp["segs"])
    vec = _Vec(k, inp["segs"], bytes([UNFILLED]) * total)
    src = message_bytes(inp["len"])
    kdata = k.mem.alloc_bytes(src, name="kdata")
    rc = k.memcpy_toiovec(vec.ptr, kdata, inp["len"])
    return (_rc(rc, 0) + _check_bytes("the segments", vec.contents(), _placed(total, 0, src))
            + _check_bytes("kdata", _buffer(k, kdata), src)
            + vec.expect_entries(vec.consumed(inp["len"]), f"consumed by len {inp['len']}"))


def run_memcpy_fromiovecend(k: Kernel, inp: dict) -> list[str]:
    """memcpy_fromiovecend(kdata, iov, offset, len), offset + len <= total: kdata gets the len
    bytes from offset, in order; returns 0; the kvec array is not written."""
    data = message_bytes(sum(inp["segs"]))
    vec = _Vec(k, inp["segs"], data)
    kdata = k.mem.alloc_bytes(bytes([UNFILLED]) * inp["len"], name="kdata")
    rc = k.memcpy_fromiovecend(kdata, vec.ptr, inp["offset"], inp["len"])
    want = data[inp["offset"] : inp["offset"] + inp["len"]]
    return (_rc(rc, 0) + _check_bytes("kdata", _buffer(k, kdata), want)
            + _check_bytes("the segments", vec.contents(), data) + vec.untouched())


def run_memcpy_toiovecend(k: Kernel, inp: dict) -> list[str]:
    """memcpy_toiovecend(iov, kdata, offset, len), offset + len <= total: the len bytes from
    offset get kdata in order, no other byte changes; returns 0; the kvec array is not written."""
    total = sum(inp["segs"])
    vec = _Vec(k, inp["segs"], bytes([UNFILLED]) * total)
    src = message_bytes(inp["len"])
    kdata = k.mem.alloc_bytes(src, name="kdata")
    rc = k.memcpy_toiovecend(vec.ptr, kdata, inp["offset"], inp["len"])
    return (_rc(rc, 0) + _check_bytes("the segments", vec.contents(), _placed(total, inp["offset"], src))
            + _check_bytes("kdata", _buffer(k, kdata), src) + vec.untouched())


def _end_call(name: str, first: str) -> Callable[[dict], str]:
    def describe(inp: dict) -> str:
        args = f"{first}, {inp['offset']}, {inp['len']}" if "offset" in inp else f"{first}, {inp['len']}"
        return f"{name}({args}) with kvec lengths {inp['segs']}"

    return describe


# --- checksums ------------------------------------------------------------------------------------


# The expected sums come from the model's pure v3.18 csum_partial (``_csum_partial_bytes``, which no
# step can replace) and a fold written here, not from the image: a step that replaced csum_partial
# or csum_fold could otherwise move the expectation along with the result. csum_partial has its
# own contract below.


def _fold(csum: int) -> int:
    """csum_fold: add the 16-bit halves twice, complement."""
    csum &= 0xFFFF_FFFF
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = (csum & 0xFFFF) + (csum >> 16)
    return ~csum & 0xFFFF


def _check_csum(got, data: bytes, seed: int) -> list[str]:
    if not isinstance(got, int) or isinstance(got, bool):
        return [f"checksum is {got!r}, not an int"]
    want, have = _fold(_csum_partial_bytes(data, seed)), _fold(got)
    if have == want:
        return []
    return [f"checksum folds to {have:#06x}, expected {want:#06x} (csum_fold(csum_partial({data!r}, "
            f"{len(data)}, {seed:#x})))"]


def run_csum_partial(k: Kernel, inp: dict) -> list[str]:
    """csum_partial(buff, len, sum) folds to the Internet checksum of the len bytes plus sum,
    wherever the buffer lies (an odd or 2-aligned start changes only how it is computed); the
    buffer is not written."""
    data = message_bytes(inp["len"])
    pad = bytes([UNFILLED]) * inp["align"]
    p = k.mem.alloc_bytes(pad + data, name="buff")
    got = k.csum_partial(p + inp["align"], inp["len"], inp["csum"])
    return _check_csum(got, data, inp["csum"]) + _check_bytes("buff", _buffer(k, p), pad + data)


def run_csum_partial_copy_fromiovecend(k: Kernel, inp: dict) -> list[str]:
    """csum_partial_copy_fromiovecend(kdata, iov, offset, len, csump), offset + len <= total:
    kdata gets the len bytes from offset in order; *csump folds to the fold of csum_partial over
    those bytes started from the old *csump; returns 0; the kvec array is not written."""
    data = message_bytes(sum(inp["segs"]))
    vec = _Vec(k, inp["segs"], data)
    kdata = k.mem.alloc_bytes(bytes([UNFILLED]) * inp["len"], name="kdata")
    csump = [inp["csum"]]
    rc = k.csum_partial_copy_fromiovecend(kdata, vec.ptr, inp["offset"], inp["len"], csump)
    want = data[inp["offset"] : inp["offset"] + inp["len"]]
    return (_rc(rc, 0) + _check_bytes("kdata", _buffer(k, kdata), want)
            + _check_csum(csump[0], want, inp["csum"])
            + _check_bytes("the segments", vec.contents(), data) + vec.untouched())


def run_csum_and_copy_from_iter(k: Kernel, inp: dict) -> list[str]:
    """csum_and_copy_from_iter(addr, bytes, csum, i): copy_from_iter's contract, and *csum folds to
    the fold of csum_partial over the bytes copied, started from the old *csum."""
    data = message_bytes(sum(inp["segs"]))
    vec = _Vec(k, inp["segs"], data)
    i, field = _iterator(k, vec, k.WRITE, inp)
    nbytes = inp["bytes"]
    addr = k.mem.alloc_bytes(bytes([UNFILLED]) * nbytes, name="kernel buffer")
    csum = [inp["csum"]]
    rc = k.csum_and_copy_from_iter(addr, nbytes, csum, i)
    n, pos = min(nbytes, inp["count"]), sum(inp["segs"][: inp["seg"]]) + inp["offset"]
    return (_rc(rc, n) + _check_bytes("addr", _buffer(k, addr), _placed(nbytes, 0, data[pos : pos + n]))
            + _check_csum(csum[0], data[pos : pos + n], inp["csum"])
            + _check_bytes("the segments", vec.contents(), data) + vec.untouched()
            + _check_iter(vec, i, field, inp, n))


def run_csum_and_copy_to_iter(k: Kernel, inp: dict) -> list[str]:
    """csum_and_copy_to_iter(addr, bytes, csum, i): copy_to_iter's contract, and *csum folds to
    the fold of csum_partial over the bytes copied, started from the old *csum."""
    total = sum(inp["segs"])
    vec = _Vec(k, inp["segs"], bytes([UNFILLED]) * total)
    i, field = _iterator(k, vec, k.READ, inp)
    nbytes = inp["bytes"]
    src = message_bytes(nbytes)
    addr = k.mem.alloc_bytes(src, name="kernel buffer")
    csum = [inp["csum"]]
    rc = k.csum_and_copy_to_iter(addr, nbytes, csum, i)
    n, pos = min(nbytes, inp["count"]), sum(inp["segs"][: inp["seg"]]) + inp["offset"]
    return (_rc(rc, n) + _check_bytes("the segments", vec.contents(), _placed(total, pos, src[:n]))
            + _check_csum(csum[0], src[:n], inp["csum"])
            + _check_bytes("addr", _buffer(k, addr), src) + vec.untouched()
            + _check_iter(vec, i, field, inp, n))


def run_csum_block_add(k: Kernel, inp: dict) -> list[str]:
    """csum_block_add(csum_partial(a), csum_partial(b), len(a)) folds to csum_fold(csum_partial(a+b))
    for every split, odd or even (the sums of a and b from the reference csum_partial, b's at
    the address it has inside a+b)."""
    whole = message_bytes(inp["len"])
    at = inp["at"]
    a, b = _csum_partial_bytes(whole[:at], 0), _csum_partial_bytes(whole[at:], 0, at)
    return _check_csum(k.csum_block_add(a, b, at), whole, 0)


def _csum_call(name: str) -> Callable[[dict], str]:
    def describe(inp: dict) -> str:
        return f"{_iter_call(name, 'addr, {bytes}, csum, i')(inp)}, *csum {inp['csum']:#x}"

    return describe


def _describe_block_add(inp: dict) -> str:
    whole = message_bytes(inp["len"])
    return (f"csum_block_add(csum_partial(a), csum_partial(b), {inp['at']}) with a = "
            f"{whole[: inp['at']]!r}, b = {whole[inp['at']:]!r}")


def _describe_csum_copy(inp: dict) -> str:
    return (f"csum_partial_copy_fromiovecend(kdata, iov, {inp['offset']}, {inp['len']}, csump) with "
            f"*csump {inp['csum']:#x}, kvec lengths {inp['segs']}")


_ITER = ("iov_iter", "iov_iter_init", "kvec")

PRIMITIVES: dict[str, Primitive] = {
    p.name: p
    for p in (
        Primitive("copy_from_iter", "copies min(bytes, count) in order from the position, returns and "
                  "advances by that, array untouched", lambda b: _iter_inputs(b, "bytes", 1),
                  run_copy_from_iter, _iter_call("copy_from_iter", "addr, {bytes}, i"), _ITER),
        Primitive("copy_to_iter", "copies min(bytes, count) in order to the position, returns and "
                  "advances by that, array untouched", lambda b: _iter_inputs(b, "bytes", 1),
                  run_copy_to_iter, _iter_call("copy_to_iter", "addr, {bytes}, i"), _ITER),
        Primitive("iov_iter_advance", "moves the position n <= count bytes on, steps over finished "
                  "segments, count drops by n, array untouched", lambda b: _iter_inputs(b, "n", 0),
                  run_iov_iter_advance, _iter_call("iov_iter_advance", "i, {n}"), _ITER),
        Primitive("memcpy_fromiovec", "copies len <= total in order, consumes exactly len from the "
                  "array, returns 0", _len_inputs, run_memcpy_fromiovec,
                  _end_call("memcpy_fromiovec", "kdata, iov"), ("kvec",)),
        Primitive("memcpy_toiovec", "copies len <= total in order, consumes exactly len from the "
                  "array, returns 0", _len_inputs, run_memcpy_toiovec,
                  _end_call("memcpy_toiovec", "iov, kdata"), ("kvec",)),
        Primitive("memcpy_fromiovecend", "copies len bytes at offset, returns 0, array untouched",
                  _offset_len_inputs, run_memcpy_fromiovecend,
                  _end_call("memcpy_fromiovecend", "kdata, iov"), ("kvec",)),
        Primitive("memcpy_toiovecend", "copies len bytes at offset, returns 0, array untouched",
                  _offset_len_inputs, run_memcpy_toiovecend,
                  _end_call("memcpy_toiovecend", "iov, kdata"), ("kvec",)),
        Primitive("csum_partial_copy_fromiovecend", "copies len bytes at offset; the sum folds as "
                  "csum_partial's over them; returns 0, array untouched", _csum_offset_len_inputs,
                  run_csum_partial_copy_fromiovecend, _describe_csum_copy, ("kvec",)),
        Primitive("csum_and_copy_from_iter", "copy_from_iter's contract; the sum folds as "
                  "csum_partial's over the bytes copied", _csum_iter_inputs,
                  run_csum_and_copy_from_iter, _csum_call("csum_and_copy_from_iter"), _ITER),
        Primitive("csum_and_copy_to_iter", "copy_to_iter's contract; the sum folds as "
                  "csum_partial's over the bytes copied", _csum_iter_inputs,
                  run_csum_and_copy_to_iter, _csum_call("csum_and_copy_to_iter"), _ITER),
        Primitive("csum_partial", "folds to the Internet checksum of the bytes plus the seed, at any "
                  "alignment", _csum_inputs, run_csum_partial,
                  lambda inp: f"csum_partial(buff, {inp['len']}, {inp['csum']:#x}) with buff "
                  f"{message_bytes(inp['len'])!r} at an address = {inp['align']} mod 4"),
        Primitive("csum_block_add", "the sums of a and b combined at offset len(a) fold as the sum of "
                  "a+b, odd offsets included", _split_inputs, run_csum_block_add,
                  _describe_block_add),
    )
}


# --- the engine -----------------------------------------------------------------------------------


def applicable(image: KernelImage) -> list[str]:
    """The primitives this image defines (with the symbols their checks call), in table order."""
    return [name for name, p in PRIMITIVES.items() if name in image and all(r in image for r in p.requires)]


def _primitive(name: str) -> Primitive:
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise UnknownPrimitive(f"no contract for {name!r}: choose one of {', '.join(PRIMITIVES)}") from None


def _model_frame(e: BaseException) -> str:
    """``file:line`` of the innermost model, series or test-planted frame."""
    tb, where = e.__traceback__, ""
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if "/checks/" not in f:
            where = f"{f}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _run(image: KernelImage, p: Primitive, inp: dict) -> str | None:
    """One input in a fresh kernel: None if the contract held, else the call and what broke."""
    k = boot(image)
    try:
        problems = p.run(k, inp)
    except Oops as e:
        problems = [f"oops: {e}"]
    except (Livelock, Stalled) as e:  # Stalled: the kernel's fuel ran out (model/kernel.py OutOfFuel)
        problems = [f"livelock: {e}"]
    except DoesNotBuild:
        raise
    except AttributeError as e:
        # a struct without the field, or a kernel without the symbol: "does not build"
        raise DoesNotBuild(str(e), _model_frame(e)) from e
    except ModelError:
        raise
    except Exception as e:
        raise ModelError(f"{_model_frame(e)}: {type(e).__name__}: {e} in {p.describe(inp)}") from e
    except (SystemExit, KeyboardInterrupt) as e:  # model code's own, never a pass (issue 10); a real Ctrl-C stops
        if isinstance(e, KeyboardInterrupt) and interrupted_by_user():
            raise
        raise ModelError(f"{_model_frame(e)}: model code raised {type(e).__name__} in {p.describe(inp)}") from e
    return f"{p.describe(inp)}: {'; '.join(problems)}" if problems else None


def replay_primitive(image: KernelImage, name: str, inputs: dict) -> str | None:
    """Re-run one input concretely in a fresh kernel; the failure text, or None if it holds."""
    return _run(image, _primitive(name), inputs)


def count_inputs(name: str, bounds: Bounds) -> int:
    return sum(1 for _ in _primitive(name).inputs(bounds))


def check_primitive(image: KernelImage, name: str, bounds: Bounds) -> EngineRun:
    """The primitive's contract over every input within ``bounds``; the run records them."""
    return replace(_check_primitive(image, name, bounds), budget={"bounds": asdict(bounds)})


def _check_primitive(image: KernelImage, name: str, bounds: Bounds) -> EngineRun:
    """Every input within ``bounds``, smallest first; stop at the first that breaks the contract
    and replay it in a fresh kernel before calling it BROKEN."""
    p = _primitive(name)
    t0 = time.perf_counter()
    if name not in applicable(image):
        missing = [s for s in (name, *p.requires) if s not in image]
        return EngineRun("exhaustive", Status.UNKNOWN, 0, 0.0,
                         f"kernel {image.name} does not define {', '.join(missing)}")
    explored = 0
    for inp in p.inputs(bounds):
        explored += 1
        failure = _run(image, p, inp)
        if failure is None:
            continue
        dt = time.perf_counter() - t0
        replayed = replay_primitive(image, name, inp)
        if replayed != failure:
            raise ReplayDisagrees(f"{name} {inp}: search saw {failure!r}, replay saw {replayed!r}")
        return EngineRun("exhaustive", Status.BROKEN, explored, dt, failure, inp, dt)
    dt = time.perf_counter() - t0
    if explored == 0:
        return EngineRun("exhaustive", Status.UNKNOWN, 0, dt, "no input within the bounds")
    return EngineRun("exhaustive", Status.CONFIRMED, explored, dt,
                     f"all {explored} inputs within bounds hold: {p.contract}")
