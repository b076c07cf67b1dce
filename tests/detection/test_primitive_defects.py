"""The primitive checker finds planted defects in the copy primitives: each must come out BROKEN
with a counterexample that replays to the same failure. A defect that slips through fails its
test. Every primitive of the unmodified v3.18 image must come out CONFIRMED."""

from __future__ import annotations

import json

import pytest

from checks.primitives import PRIMITIVES, applicable, check_primitive, replay_primitive
from checks.profiles import Bounds
from checks.verdicts import Status
from model.kernel import KernelImage, Oops
from model.vmlinux import base_image
from tests.conftest import plant

BOUNDS = Bounds(max_segs=3, max_seg_len=2, max_windows=0, max_room=0)


# --- planted defects: each is the model's function with one realistic mistake ----------------


def iov_iter_advance_fast_path_off_by_one(k, i, size):
    """advance_iovec whose single-segment fast path is taken for nr_segs < 3: a two-segment
    iterator runs off the end of its first segment."""
    if i.count < size:
        raise Oops("BUG_ON(i->count < bytes)")
    if i.nr_segs <= 2:  # the defect: == 1
        i.iov_offset += size
        i.count -= size
        return
    _advance_walk(k, i, size)


def _advance_walk(k, i, size):
    iov, base, nr_segs = i.iov, i.iov_offset, i.nr_segs
    while size or (i.count and not k.mem.elem(iov).iov_len):
        seg = k.mem.elem(iov)
        copy = min(size, seg.iov_len - base)
        i.count -= copy
        size -= copy
        base += copy
        if seg.iov_len == base:
            iov, nr_segs, base = iov + 1, nr_segs - 1, 0
    i.iov, i.iov_offset, i.nr_segs = iov, base, nr_segs


def iov_iter_advance_stays_on_finished_segment(k, i, size):
    """advance_iovec that steps to the next segment only while bytes remain: a segment consumed
    exactly to its end is left as the current one."""
    if i.nr_segs == 1:
        i.iov_offset += size
        i.count -= size
        return
    iov, base, nr_segs = i.iov, i.iov_offset, i.nr_segs
    while size:
        seg = k.mem.elem(iov)
        copy = min(size, seg.iov_len - base)
        i.count -= copy
        size -= copy
        base += copy
        if seg.iov_len == base and size:  # the defect: "and size"
            iov, nr_segs, base = iov + 1, nr_segs - 1, 0
    i.iov, i.iov_offset, i.nr_segs = iov, base, nr_segs


def iov_iter_advance_stops_at_empty_segment(k, i, size):
    """advance_iovec that takes a segment with nothing in it for the end of the data."""
    if i.nr_segs == 1:
        i.iov_offset += size
        i.count -= size
        return
    iov, base, nr_segs = i.iov, i.iov_offset, i.nr_segs
    while size:
        seg = k.mem.elem(iov)
        copy = min(size, seg.iov_len - base)
        if not seg.iov_len:  # the defect: a zero-length segment ends the walk
            break
        i.count -= copy
        size -= copy
        base += copy
        if seg.iov_len == base:
            iov, nr_segs, base = iov + 1, nr_segs - 1, 0
    i.iov, i.iov_offset, i.nr_segs = iov, base, nr_segs


def iov_iter_advance_never_steps(k, i, size):
    """advance_iovec comparing ``base > iov_len`` to step: it spins at the end of a segment."""
    iov, base, nr_segs = i.iov, i.iov_offset, i.nr_segs
    while size:
        seg = k.mem.elem(iov)
        copy = min(size, seg.iov_len - base)
        i.count -= copy
        size -= copy
        base += copy
        if base > seg.iov_len:  # the defect: == never becomes >
            iov, nr_segs, base = iov + 1, nr_segs - 1, 0
    i.iov, i.iov_offset, i.nr_segs = iov, base, nr_segs


def copy_from_iter_forgets_advance(k, addr, bytes, i):
    """copy_from_iter built on memcpy_fromiovecend that never calls iov_iter_advance."""
    bytes = min(bytes, i.count)
    if k.memcpy_fromiovecend(addr, i.iov, i.iov_offset, bytes):
        return 0
    return bytes  # the defect: no iov_iter_advance(i, bytes)


def copy_to_iter_keeps_finished_segment(k, addr, bytes, i):
    """copy_to_iter_iovec without the final step over a segment filled exactly to its end."""
    bytes = min(bytes, i.count)
    if not bytes:
        return 0
    wanted, iov, skip = bytes, i.iov, i.iov_offset
    seg = k.mem.elem(iov)
    copy = min(bytes, seg.iov_len - skip)
    left = k.__copy_to_user(seg.iov_base + skip, addr, copy)
    copy -= left
    skip += copy
    bytes -= copy
    while not left and bytes:
        iov = iov + 1
        seg = k.mem.elem(iov)
        copy = min(bytes, seg.iov_len)
        left = k.__copy_to_user(seg.iov_base, addr + (wanted - bytes), copy)
        copy -= left
        skip = copy
        bytes -= copy
    # the defect: no "if (skip == iov->iov_len) { iov++; skip = 0; }"
    i.count -= wanted - bytes
    i.nr_segs -= iov.off - i.iov.off
    i.iov = iov
    i.iov_offset = skip
    return wanted - bytes


def memcpy_fromiovec_const(k, kdata, iov, len):
    """memcpy_fromiovec that copies but leaves the iovec as it was (memcpy_fromiovecend's habit)."""
    while len > 0:
        seg = k.mem.elem(iov)
        copy = min(len, seg.iov_len)
        if k.copy_from_user(kdata, seg.iov_base, copy):
            return -14
        len -= copy
        kdata = kdata + copy
        iov = iov + 1  # the defect: no iov_base += copy, iov_len -= copy
    return 0


def memcpy_fromiovecend_ignores_offset(k, kdata, iov, offset, len):
    """memcpy_fromiovecend that skips the finished segments but then copies from their start."""
    if len == 0:
        return 0
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1
    while len > 0:
        seg = k.mem.elem(iov)
        copy = min(len, seg.iov_len - offset)
        offset = 0
        if k.copy_from_user(kdata, seg.iov_base, copy):  # the defect: iov_base, not iov_base + offset
            return -14
        len -= copy
        kdata = kdata + copy
        iov = iov + 1
    return 0


def memcpy_toiovec_overruns_segment(k, iov, kdata, len):
    """memcpy_toiovec that fills each segment with the whole remaining length."""
    while len > 0:
        seg = k.mem.elem(iov)
        if seg.iov_len:
            copy = len  # the defect: min(iov_len, len)
            if k.copy_to_user(seg.iov_base, kdata, copy):
                return -14
            kdata = kdata + copy
            len -= copy
            seg.iov_len -= min(copy, seg.iov_len)
            seg.iov_base = seg.iov_base + copy
        iov = iov + 1
    return 0


def csum_partial_drops_odd_tail(k, buff, len, wsum):
    """csum_partial that sums whole 16-bit words only: the last byte of an odd length is lost."""
    from model.checksum import _csum_partial_bytes

    return _csum_partial_bytes(k.mem.read(buff, len & ~1), wsum, buff.off)  # the defect: len & ~1


def csum_block_add_no_swap(k, csum, csum2, offset):
    """csum_block_add without the odd-offset byte swap of csum2."""
    return k.csum_add(csum, csum2)  # the defect: ignores offset & 1


def csum_partial_copy_fromiovecend_adds_pieces(k, kdata, iov, offset, len, csump):
    """csum_partial_copy_fromiovecend that sums each segment's piece on its own and adds the sums,
    forgetting that a piece starting at an odd position lands in the other byte lanes."""
    csum = csump[0]
    if len == 0:
        return 0
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1
    while len > 0:
        seg = k.mem.elem(iov)
        copy = min(len, seg.iov_len - offset)
        if k.copy_from_user(kdata, seg.iov_base + offset, copy):
            return -14
        csum = k.csum_add(csum, k.csum_partial(kdata, copy, 0))  # the defect: no csum_block_add
        offset = 0
        kdata = kdata + copy
        len -= copy
        iov = iov + 1
    csump[0] = csum
    return 0


# name planted over, the defect, what the failure must mention
DEFECTS = [
    ("iov_iter_advance", iov_iter_advance_fast_path_off_by_one, "iov_offset"),
    ("iov_iter_advance", iov_iter_advance_stays_on_finished_segment, "not stepped over"),
    ("iov_iter_advance", iov_iter_advance_stops_at_empty_segment, "count"),
    ("iov_iter_advance", iov_iter_advance_never_steps, "livelock"),
    ("copy_from_iter", copy_from_iter_forgets_advance, "count"),
    ("copy_to_iter", copy_to_iter_keeps_finished_segment, "not stepped over"),
    ("memcpy_fromiovec", memcpy_fromiovec_const, "consumed by len"),
    ("memcpy_fromiovecend", memcpy_fromiovecend_ignores_offset, "kdata b"),
    ("memcpy_toiovec", memcpy_toiovec_overruns_segment, "past the end of its 1-byte kernel allocation"),
    ("csum_partial", csum_partial_drops_odd_tail, "checksum folds"),
    ("csum_block_add", csum_block_add_no_swap, "checksum folds"),
    ("csum_partial_copy_fromiovecend", csum_partial_copy_fromiovecend_adds_pieces, "checksum folds"),
]


@pytest.mark.parametrize(("name", "defect", "symptom"), DEFECTS, ids=[d[1].__name__ for d in DEFECTS])
def test_planted_primitive_defect_is_broken(name, defect, symptom):
    base = base_image()
    assert name in applicable(base), f"{name} (or a symbol its check calls) is not in {base.name}"
    image = plant(base, name, defect)
    run = check_primitive(image, name, BOUNDS)
    assert run.status is Status.BROKEN, f"{defect.__name__} slipped through: {run.detail}"
    assert symptom in run.detail, run.detail
    assert json.loads(json.dumps(run.counterexample)) == run.counterexample
    assert replay_primitive(image, name, run.counterexample) == run.detail
    # the same input holds on the unmodified kernel: the defect, not the input, is at fault
    assert replay_primitive(base, name, run.counterexample) is None


@pytest.mark.parametrize("name", applicable(base_image()))
def test_base_image_primitive_confirmed(name):
    run = check_primitive(base_image(), name, BOUNDS)
    assert run.status is Status.CONFIRMED, run.detail
    assert run.explored > 0


def test_base_image_has_the_3_18_primitives():
    names = set(applicable(base_image()))
    assert {"copy_from_iter", "copy_to_iter", "iov_iter_advance", "memcpy_fromiovec", "memcpy_toiovec",
            "memcpy_fromiovecend", "memcpy_toiovecend"} <= names
    assert "csum_and_copy_from_iter" not in names  # added in 3.19


def test_missing_primitive_is_unknown_not_confirmed():
    base = base_image()
    defs = {n: d for n, d in base.definitions.items() if n != "copy_from_iter"}
    image = KernelImage("v3.18-without-copy_from_iter", defs)
    assert "copy_from_iter" not in applicable(image)
    run = check_primitive(image, "copy_from_iter", BOUNDS)
    assert run.status is Status.UNKNOWN and "copy_from_iter" in run.detail


def test_every_contract_has_inputs_within_bounds():
    for name, p in PRIMITIVES.items():
        assert next(iter(p.inputs(BOUNDS)), None) is not None, name


def test_no_input_is_unknown_not_confirmed():
    nothing = Bounds(max_segs=-1, max_seg_len=0, max_windows=0, max_room=0)  # admits no array at all
    run = check_primitive(base_image(), "copy_from_iter", nothing)
    assert run.status is Status.UNKNOWN and run.explored == 0
