"""Unit tests of model/checksum.py and csum_partial_copy_fromiovecend (model/net_iovec.py) against
kernel facts (kernel-facts §2.1, §2.3) and an independent RFC 1071 reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model import checksum
from model.errno import EFAULT
from model.kernel import USER_SPACE, Kernel, Oops
from model.uaccess import KERNEL_DS


def rfc1071(data: bytes) -> int:
    """RFC 1071 §4.1, written from the RFC: big-endian 16-bit words, end-around carry, complement."""
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def as_wire(sum16: int) -> bytes:
    """A __sum16 as the little-endian host stores it: the bytes that go on the wire."""
    return sum16.to_bytes(2, "little")


@pytest.fixture
def k(v318):
    k = Kernel(v318)
    k.set_fs(KERNEL_DS)
    return k


def folded(k, data: bytes, off: int = 0) -> int:
    p = k.mem.alloc_bytes(bytes(off) + data)
    return k.csum_fold(k.csum_partial(p + off, len(data), 0))


# --- RFC 1071 and the arithmetic -------------------------------------------------------------


def test_rfc1071_example_sum(k):
    """RFC 1071 §3 example: the words 0001 f203 f4f5 f6f7 sum to ddf2 (big-endian); on a
    little-endian host csum_partial gives the byte-swapped f2dd, and the stored checksum is 220d."""
    data = bytes.fromhex("0001f203f4f5f6f7")
    p = k.mem.alloc_bytes(data)
    assert k.csum_partial(p, len(data), 0) == 0xF2DD
    assert as_wire(k.csum_fold(k.csum_partial(p, len(data), 0))) == bytes.fromhex("220d")
    assert rfc1071(data) == 0x220D


def test_checksum_of_data_with_its_checksum_folds_to_zero(k):
    """What a receiver checks: the data plus its checksum field sums to all ones."""
    data = bytes.fromhex("4500003c1c4640004006") + bytes(2) + bytes.fromhex("ac100a63ac100a0c")
    check = folded(k, data)
    with_check = data[:10] + as_wire(check) + data[12:]
    assert folded(k, with_check) == 0
    assert rfc1071(with_check) == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=23), st.integers(0, 3))
def test_csum_partial_matches_rfc1071_at_any_alignment(v318, data, off):
    k = Kernel(v318)
    assert as_wire(folded(k, data, off)) == rfc1071(data).to_bytes(2, "big")


def test_csum_add_end_around_carry():
    assert checksum.csum_add(None, 0xFFFFFFFF, 1) == 1
    assert checksum.csum_add(None, 0x80000000, 0x80000000) == 1
    assert checksum.csum_add(None, 0x1234, 0x1) == 0x1235
    assert checksum.csum_sub(None, 0x1235, 0x1) == 0x1234


def test_csum_block_add_swaps_lanes_at_odd_offsets():
    """``((x & 0x00FF00FF) << 8) + ((x >> 8) & 0x00FF00FF)`` at an odd offset, as-is at even."""
    assert checksum.csum_block_add(None, 0, 0x11223344, 1) == 0x22114433
    assert checksum.csum_block_add(None, 0, 0x11223344, 3) == 0x22114433
    assert checksum.csum_block_add(None, 0, 0x11223344, 2) == 0x11223344
    assert checksum.csum_block_add(None, 5, 0x000000FF, 1) == 0x0000FF05
    assert checksum.csum_block_sub(None, 0x0000FF05, 0x000000FF, 1) == 5


def test_csum_fold():
    assert checksum.csum_fold(None, 0) == 0xFFFF
    assert checksum.csum_fold(None, 0x1234) == 0xEDCB
    assert checksum.csum_fold(None, 0x0001FFFF) == 0xFFFE  # 0xFFFF + 1 -> 0x10000 -> 1
    assert checksum.csum_fold(None, 0xFFFFFFFF) == 0


def test_csum_tcpudp_magic_pseudo_header(k):
    """The pseudo-header adds saddr, daddr and (proto + len) << 8 on a little-endian host."""
    s = k.csum_tcpudp_nofold(0x0100007F, 0x0200007F, 8, 17, 0)
    assert s == 0x0100007F + 0x0200007F + ((17 + 8) << 8)
    pseudo = bytes([127, 0, 0, 1, 127, 0, 0, 2, 0, 17, 0, 8])
    assert as_wire(k.csum_tcpudp_magic(0x0100007F, 0x0200007F, 8, 17, 0)) == rfc1071(pseudo).to_bytes(2, "big")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=17), st.lists(st.integers(0, 17), max_size=4))
def test_pieces_combined_with_csum_block_add_fold_to_the_whole(data, cuts):
    """kernel-facts §2.3: per-piece sums from 0, combined with csum_block_add at each piece's
    offset, fold to the same checksum as the whole (the 3.19 csum_and_copy_from_iter scheme)."""
    whole = checksum.csum_fold(None, checksum._csum_partial_bytes(data, 0))
    assert checksum._csum_block_add_contract(data, tuple(cuts)) == whole


def test_odd_piece_without_the_lane_swap_gets_the_wrong_sum():
    """The swap is needed: adding an odd-offset piece's sum with plain csum_add is wrong."""
    data = b"abcde"
    a, b = data[:1], data[1:]
    wrong = checksum.csum_add(None, checksum._csum_partial_bytes(a, 0), checksum._csum_partial_bytes(b, 0))
    right = checksum.csum_block_add(None, checksum._csum_partial_bytes(a, 0), checksum._csum_partial_bytes(b, 0), 1)
    whole = checksum._csum_partial_bytes(data, 0)
    assert checksum.csum_fold(None, right) == checksum.csum_fold(None, whole)
    assert checksum.csum_fold(None, wrong) != checksum.csum_fold(None, whole)


def test_csum_and_copy_to_user_fault_returns_invalid_checksum(k):
    src = k.mem.alloc_bytes(b"abcd")
    k.set_fs("USER_DS")  # a kernel destination is a bad address under USER_DS
    err = [0]
    assert k.csum_and_copy_to_user(src, k.mem.alloc_bytes(bytes(4)), 4, 0, err) == 0xFFFFFFFF
    assert err == [-EFAULT]


def test_csum_partial_copy_from_user_fault_zeroes_the_tail(k):
    src = k.mem.alloc_bytes(b"ab", space=USER_SPACE)  # user memory: only 2 of the 4 bytes are mapped
    dst = k.mem.alloc_bytes(b"XXXX")
    err = [0]
    k.csum_partial_copy_from_user(src, dst, 4, 0, err)
    assert err == [-EFAULT]
    assert k.mem.read(dst, 4) == b"ab\0\0"


# --- csum_partial_copy_fromiovecend (net/core/iovec.c) --------------------------------------


def kvec_array(k, data: bytes, segs: tuple[int, ...]):
    kv, off = [], 0
    for n in segs:
        kv.append(k.kvec(iov_base=k.mem.alloc_bytes(data[off : off + n]), iov_len=n))
        off += n
    return k.mem.alloc_array(kv), kv


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=1, max_size=5), st.data())
def test_fromiovecend_copies_and_sums_any_segmentation(v318, segs, draw):
    """For any segments, offset and length: the bytes copied are the stream's, the folded sum is
    RFC 1071's, and the iovec is left as it was (the 4-byte partial_cnt carry included)."""
    total = sum(segs)
    offset = draw.draw(st.integers(0, total))
    length = draw.draw(st.integers(0, total - offset))
    if length == 0 and offset >= total:
        return  # the C walks off the array: see test_fromiovecend_zero_length_at_the_end_oopses
    k = Kernel(v318)
    k.set_fs(KERNEL_DS)
    data = bytes(range(1, total + 1))
    vec, kv = kvec_array(k, data, tuple(segs))
    before = [(e.iov_base, e.iov_len) for e in kv]
    kdata = k.mem.alloc_bytes(bytes(length))
    csum = [0]
    assert k.csum_partial_copy_fromiovecend(kdata, vec, offset, length, csum) == 0
    assert k.mem.read(kdata, length) == data[offset : offset + length]
    assert as_wire(k.csum_fold(csum[0])) == rfc1071(data[offset : offset + length]).to_bytes(2, "big")
    assert [(e.iov_base, e.iov_len) for e in kv] == before


def test_fromiovecend_carries_remnants_across_short_segments(k):
    """1-byte segments exercise the 'iov component is too short' branch; the sum still holds."""
    data = b"\x12\x34\x56\x78\x9a\xbc\xde"
    vec, _ = kvec_array(k, data, (3, 1, 1, 2))
    kdata = k.mem.alloc_bytes(bytes(7))
    csum = [0]
    assert k.csum_partial_copy_fromiovecend(kdata, vec, 0, 7, csum) == 0
    assert as_wire(k.csum_fold(csum[0])) == rfc1071(data).to_bytes(2, "big")


def test_fromiovecend_adds_to_the_running_sum(k):
    data = b"abcdef"
    vec, _ = kvec_array(k, data, (3, 3))
    first = [0]
    k.csum_partial_copy_fromiovecend(k.mem.alloc_bytes(bytes(4)), vec, 0, 4, first)
    both = [first[0]]
    k.csum_partial_copy_fromiovecend(k.mem.alloc_bytes(bytes(2)), vec, 4, 2, both)
    assert k.csum_fold(both[0]) == k.csum_fold(checksum._csum_partial_bytes(data, 0))


def test_fromiovecend_faults_without_kernel_ds_and_leaves_csump(k):
    """Under USER_DS a kernel address fails access_ok: -EFAULT, and *csump is not written."""
    vec, _ = kvec_array(k, b"abcdefgh", (8,))
    k.set_fs("USER_DS")
    csum = [1234]
    assert k.csum_partial_copy_fromiovecend(k.mem.alloc_bytes(bytes(8)), vec, 0, 8, csum) == -EFAULT
    assert csum == [1234]


def test_fromiovecend_zero_length_at_the_end_oopses(k):
    """No 'No data? Done!' guard in 3.18: a 0-byte call at the end walks past the last segment."""
    vec, _ = kvec_array(k, b"abcd", (4,))
    with pytest.raises(Oops):
        k.csum_partial_copy_fromiovecend(k.mem.alloc_bytes(b""), vec, 4, 0, [0])


def test_318_and_319_schemes_agree_when_folded(k):
    """kernel-facts §2.3 [INF]: 3.18's 4-byte carry and 3.19's per-segment csum_block_add give the
    same folded checksum for the same bytes (the unfolded sums may differ)."""
    data = b"The quick brown fox!"
    for segs in ((1, 19), (3, 3, 3, 11), (5, 7, 8), (2, 1, 1, 16), (20,)):
        vec, _ = kvec_array(k, data, segs)
        c318 = [0]
        k.csum_partial_copy_fromiovecend(k.mem.alloc_bytes(bytes(20)), vec, 0, 20, c318)
        c319, off = 0, 0
        for n in segs:
            c319 = k.csum_block_add(c319, checksum._csum_partial_bytes(data[off : off + n], 0), off)
            off += n
        assert k.csum_fold(c318[0]) == k.csum_fold(c319), segs


@pytest.mark.slow
def test_crosshair_finds_and_keeps_every_contract():
    """Every ``_..._contract`` is seen by CrossHair and none is refuted within a small budget."""
    from crosshair.core_and_libs import MessageType, analyze_function, run_checkables
    from crosshair.options import AnalysisOptionSet

    opts = AnalysisOptionSet(per_condition_timeout=2.0, per_path_timeout=0.5)
    names = [n for n in vars(checksum) if n.startswith("_") and n.endswith("_contract")]
    assert len(names) >= 5
    for name in names:
        checkables = list(analyze_function(getattr(checksum, name), opts))
        assert checkables, f"{name}: CrossHair found no contract"
        ok = (MessageType.CONFIRMED, MessageType.CANNOT_CONFIRM)
        worst = [m for m in run_checkables(checkables) if m.state not in ok]
        assert not worst, f"{name}: {worst}"
