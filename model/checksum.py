"""lib/checksum.c + include/net/checksum.h + include/asm-generic/checksum.h (v3.18, the generic C
versions): the Internet checksum on a little-endian host.

``__wsum`` (32-bit partial sum) and ``__sum16`` (folded, complemented) are plain Python ints kept in
range with masks. ``do_csum`` adds 16-bit words as the host loads them (little-endian), so the
16-bit result is the checksum as it lies in memory; it is what the kernel stores in a header.

``do_csum`` looks at the buffer's address only for its alignment: a leading byte at an odd
address is added as the high byte and the result byte-swapped at the end; a 2-aligned but not
4-aligned start takes one 16-bit word first. The model has no absolute addresses: a region starts
aligned (as kmalloc'd memory does) and the alignment of ``Ptr(region, off)`` is that of ``off``.
Alignment never changes the result (checked by ``_do_csum_address_contract`` below), so no caller
can tell.

``csum_partial_copy_from_user``/``csum_and_copy_{from,to}_user`` return their error through an
``int *`` out-parameter in C; here that is a one-element list ``err_ptr`` written as
``err_ptr[0] = -EFAULT``, as ``csum_partial_copy_fromiovecend`` takes ``csump``.

``_csum_partial_bytes`` is the model's own, pure ``csum_partial`` over a ``bytes`` value: the
world (a receiving peer verifying what arrived) and the contracts use it, so a series step that
replaces ``csum_partial`` cannot also change how the peer checks its work.

The ``_..._contract`` functions at the end are not kernel code: they state the arithmetic's
contracts in PEP316 form, over plain ``int``/``bytes``/``tuple`` inputs, so that
``crosshair check model/checksum.py`` checks them directly.
"""

from __future__ import annotations

from model.errno import EFAULT
from model.kernel import Ptr

_U32 = 0xFFFFFFFF

CSUM_MANGLED_0 = 0xFFFF  # ((__force __sum16)0xffff): a computed 0 is sent as this


# --- lib/checksum.c ---------------------------------------------------------------------------


def _from32to16(x: int) -> int:
    """lib/checksum.c: static from32to16()."""
    # add up 16-bit and 16-bit for 16+c bit
    x = (x & 0xFFFF) + (x >> 16)
    # add up carry..
    x = (x & 0xFFFF) + (x >> 16)
    return x


def _do_csum(buff: bytes, addr: int) -> int:
    """lib/checksum.c: static do_csum() over ``buff`` lying at an address with ``addr``'s alignment.

    Pure: a C ``unsigned int`` is kept with ``& 0xFFFFFFFF``; words are loaded little-endian.
    """
    length = len(buff)
    result = 0
    if length <= 0:
        return result
    i = 0
    odd = 1 & addr
    if odd:
        result += buff[0] << 8  # __LITTLE_ENDIAN
        length -= 1
        i += 1
        addr += 1
    if length >= 2:
        if 2 & addr:
            result += buff[i] | (buff[i + 1] << 8)
            length -= 2
            i += 2
        if length >= 4:
            end = i + (length & ~3)
            carry = 0
            while i < end:
                w = int.from_bytes(buff[i : i + 4], "little")
                i += 4
                result = (result + carry) & _U32
                result = (result + w) & _U32
                carry = 1 if w > result else 0
            result = (result + carry) & _U32
            result = (result & 0xFFFF) + (result >> 16)
        if length & 2:
            result += buff[i] | (buff[i + 1] << 8)
            i += 2
    if length & 1:
        result += buff[i]  # __LITTLE_ENDIAN
    result = _from32to16(result)
    if odd:
        result = ((result >> 8) & 0xFF) | ((result & 0xFF) << 8)
    return result


def _csum_partial_bytes(buff: bytes, wsum: int, addr: int = 0) -> int:
    """The body of csum_partial() on a ``bytes`` value (pure; see the module docstring)."""
    sum_ = wsum & _U32
    result = _do_csum(buff, addr)
    # add in old sum, and carry..
    result = (result + sum_) & _U32
    if sum_ > result:
        result += 1
    return result


def csum_partial(k, buff: Ptr, len: int, wsum: int) -> int:
    """Checksum ``len`` bytes at ``buff`` and add in ``wsum`` (32-bit); "must be called with even
    lengths, except for the last fragment, which may be odd"."""
    if len <= 0:
        return _csum_partial_bytes(b"", wsum)
    return _csum_partial_bytes(k.mem.read(buff, len), wsum, buff.off)


def csum_partial_copy(k, src: Ptr, dst: Ptr, len: int, sum: int) -> int:
    """Copy from kernel ``src`` while checksumming, otherwise like csum_partial."""
    if len > 0:
        k.mem.write(dst, k.mem.read(src, len))
    return k.csum_partial(dst, len, sum)


def csum_partial_copy_from_user(k, src: Ptr, dst: Ptr, len: int, sum: int, csum_err: list[int]) -> int:
    """Copy from user space while checksumming; a fault zeroes the missing tail and sets
    ``csum_err[0] = -EFAULT``, but the (meaningless) checksum is still returned."""
    missing = k.__copy_from_user(dst, src, len)
    if missing:
        k.mem.write(dst + (len - missing), bytes(missing))
        csum_err[0] = -EFAULT
    else:
        csum_err[0] = 0
    return k.csum_partial(dst, len, sum)


def csum_tcpudp_nofold(k, saddr: int, daddr: int, len: int, proto: int, sum: int) -> int:
    """The TCP/UDP pseudo-header sum; ``saddr``/``daddr`` are __be32 as the host loads them."""
    s = sum & _U32
    s += saddr & _U32
    s += daddr & _U32
    s += (proto + len) << 8  # little-endian host
    # from64to32
    s = (s & _U32) + (s >> 32)
    s = (s & _U32) + (s >> 32)
    return s & _U32


# --- include/asm-generic/checksum.h -----------------------------------------------------------


def csum_partial_copy_nocheck(k, src: Ptr, dst: Ptr, len: int, sum: int) -> int:
    """#define csum_partial_copy_nocheck(src, dst, len, sum) csum_partial_copy(...)"""
    return k.csum_partial_copy(src, dst, len, sum)


def csum_fold(k, csum: int) -> int:
    """Fold a partial checksum to 16 bits and complement it (``__sum16``)."""
    sum_ = csum & _U32
    sum_ = (sum_ & 0xFFFF) + (sum_ >> 16)
    sum_ = (sum_ & 0xFFFF) + (sum_ >> 16)
    return ~sum_ & 0xFFFF


def csum_tcpudp_magic(k, saddr: int, daddr: int, len: int, proto: int, sum: int) -> int:
    return k.csum_fold(k.csum_tcpudp_nofold(saddr, daddr, len, proto, sum))


# --- include/net/checksum.h -------------------------------------------------------------------


def csum_and_copy_from_user(k, src: Ptr, dst: Ptr, len: int, sum: int, err_ptr: list[int]) -> int:
    if k.access_ok(0, src, len):  # VERIFY_READ
        return k.csum_partial_copy_from_user(src, dst, len, sum, err_ptr)
    if len:
        err_ptr[0] = -EFAULT
    return sum


def csum_and_copy_to_user(k, src: Ptr, dst: Ptr, len: int, sum: int, err_ptr: list[int]) -> int:
    sum = k.csum_partial(src, len, sum)
    if k.access_ok(1, dst, len) and k.copy_to_user(dst, src, len) == 0:  # VERIFY_WRITE
        return sum
    if len:
        err_ptr[0] = -EFAULT
    return _U32  # (__force __wsum)-1: invalid checksum


def csum_add(k, csum: int, addend: int) -> int:
    """32-bit add with end-around carry."""
    res = ((csum & _U32) + (addend & _U32)) & _U32
    return (res + (1 if res < (addend & _U32) else 0)) & _U32


def csum_sub(k, csum: int, addend: int) -> int:
    return csum_add(k, csum, ~addend & _U32)


def csum_block_add(k, csum: int, csum2: int, offset: int) -> int:
    """Add the sum of a block that starts ``offset`` bytes into the stream: at an odd offset its
    bytes sit in the other lane of each 16-bit word, so both halves are byte-swapped first."""
    sum_ = csum2 & _U32
    if offset & 1:
        sum_ = ((sum_ & 0x00FF00FF) << 8) + ((sum_ >> 8) & 0x00FF00FF)
    return csum_add(k, csum, sum_)


def csum_block_sub(k, csum: int, csum2: int, offset: int) -> int:
    sum_ = csum2 & _U32
    if offset & 1:
        sum_ = ((sum_ & 0x00FF00FF) << 8) + ((sum_ >> 8) & 0x00FF00FF)
    return csum_sub(k, csum, sum_)


def csum_unfold(k, n: int) -> int:
    return n & 0xFFFF


# --- contracts (not kernel code) --------------------------------------------------------------


def _csum_pieces(data: bytes, cuts: tuple[int, ...]) -> list[bytes]:
    """``data`` cut at the (sorted, clamped) positions in ``cuts``."""
    bounds = [0] + sorted(min(max(c, 0), len(data)) for c in cuts) + [len(data)]
    return [data[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]


def _csum_block_add_contract(data: bytes, cuts: tuple[int, ...]) -> int:
    """Summing the pieces separately, each from 0 at a fresh (aligned) buffer, and combining them
    with csum_block_add at each piece's offset in the stream folds to the checksum of the whole:
    the 3.19 csum_and_copy_from_iter() scheme. Odd-length pieces and odd offsets included.

    pre: len(data) <= 9
    pre: len(cuts) <= 3
    post: __return__ == csum_fold(None, _csum_partial_bytes(data, 0))
    """
    total = 0
    off = 0
    for piece in _csum_pieces(data, cuts):
        total = csum_block_add(None, total, _csum_partial_bytes(piece, 0), off)
        off += len(piece)
    return csum_fold(None, total)


def _do_csum_address_contract(data: bytes, addr: int) -> int:
    """do_csum() gives the same 16-bit sum wherever the buffer lies: the leading odd byte and the
    2-byte alignment step only change how it is computed.

    pre: len(data) <= 11
    pre: 0 <= addr < 4
    post: __return__ == _do_csum(data, 0)
    """
    return _do_csum(data, addr)


def _csum_add_contract(a: int, b: int) -> int:
    """csum_add is commutative, stays 32-bit and is ``a + b`` in one's-complement arithmetic
    (modulo 0xFFFF, the folded value); it is never 0 unless both addends are.

    pre: 0 <= a <= 0xFFFFFFFF
    pre: 0 <= b <= 0xFFFFFFFF
    post: __return__ == csum_add(None, b, a)
    post: 0 <= __return__ <= 0xFFFFFFFF
    post: (__return__ - a - b) % 0xFFFF == 0
    post: (__return__ == 0) == (a == 0 and b == 0)
    """
    return csum_add(None, a, b)


def _csum_block_add_swap_contract(csum2: int, offset: int) -> int:
    """The odd-offset lane swap is its own inverse, and an even offset adds ``csum2`` unchanged.

    pre: 0 <= csum2 <= 0xFFFFFFFF
    pre: 0 <= offset < 0x10000
    post: csum_block_add(None, 0, __return__, offset) == csum_add(None, 0, csum2)
    """
    swapped = csum_block_add(None, 0, csum2, 1)
    return swapped if offset & 1 else csum2


def _csum_fold_contract(csum: int) -> int:
    """csum_fold gives 16 bits, 0xFFFF exactly for a zero sum, and ~x for any x < 0x10000.

    pre: 0 <= csum <= 0xFFFFFFFF
    post: 0 <= __return__ <= 0xFFFF
    post: (__return__ == 0xFFFF) == (csum == 0)
    post: csum >= 0x10000 or __return__ == (~csum & 0xFFFF)
    """
    return csum_fold(None, csum)
