"""new helpers: csum_and_copy_{from,to}_iter()

The checksumming copies that the send and receive paths open-code as
loops over ->msg_iov (csum_partial_copy_fromiovecend() and friends),
as iov_iter primitives: each contiguous piece is copied and summed on
its own, starting from 0, and folded into the running sum with
csum_block_add() at the piece's offset in the stream, so a piece that
starts at an odd byte lands in the right lanes.  An iovec piece that
faults adds nothing and ends the walk; callers treat a short return as
-EFAULT.

Nothing uses them yet.

Upstream: "csum_and_copy_..._iter()" by Al Viro, recalled as
a604ec7e9c6a [UNVERIFIED: searched in the stored public material and not
found; no mainline history was readable].  The result is
mm/iov_iter.c:624 (csum_and_copy_from_iter) and 668
(csum_and_copy_to_iter)@3.19.8.
"""

from __future__ import annotations

from checks.series import Step
from model.kernel import Ptr
from model.uio import ITER_KVEC

STEP = Step(
    subject="csum_and_copy_..._iter()",
    upstream="a604ec7e9c6a",
    upstream_verified=False,
    kernel="v3.19",
    depends=("s04",),
    adds=("csum_and_copy_from_iter", "csum_and_copy_to_iter"),
    files={n: "mm/iov_iter.c" for n in ("csum_and_copy_from_iter", "csum_and_copy_to_iter")},
    intends=("checksumming copies as iov_iter primitives (no user yet)",),
)


def csum_and_copy_from_iter(k, addr: Ptr, nbytes: int, csum: list, i) -> int:
    """``csum`` is ``__wsum *``: a one-element list."""
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0
    state = {"sum": csum[0], "off": 0}

    def piece(base: Ptr, done: int, n: int) -> int:
        if i.type & ITER_KVEC:
            nxt = k.csum_partial_copy_nocheck(base, addr + done, n, 0)
        else:
            err = [0]
            nxt = k.csum_and_copy_from_user(base, addr + done, n, 0, err)
            if err[0]:
                return n
        state["sum"] = k.csum_block_add(state["sum"], nxt, state["off"])
        state["off"] += n
        return 0

    copied = k.iterate_and_advance(i, nbytes, piece)
    csum[0] = state["sum"]
    return copied


def csum_and_copy_to_iter(k, addr: Ptr, nbytes: int, csum: list, i) -> int:
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0
    state = {"sum": csum[0], "off": 0}

    def piece(base: Ptr, done: int, n: int) -> int:
        if i.type & ITER_KVEC:
            nxt = k.csum_partial_copy_nocheck(addr + done, base, n, 0)
        else:
            err = [0]
            nxt = k.csum_and_copy_to_user(addr + done, base, n, 0, err)
            if err[0]:
                return n
        state["sum"] = k.csum_block_add(state["sum"], nxt, state["off"])
        state["off"] += n
        return 0

    copied = k.iterate_and_advance(i, nbytes, piece)
    csum[0] = state["sum"]
    return copied
