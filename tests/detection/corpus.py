"""A corpus of planted defects: the mistakes real patches to this code make, each planted into a
kernel image and paired with the cells that must catch it.

Each defect is a model (or series step) function copied and changed in one place, marked
``# the defect``; it takes ``k`` first like the model's. The planted defects of
tests/detection/test_user_defects.py and test_primitive_defects.py are imported, not rewritten.
A defect names the image it applies to: v3.18 (series ``v3.18``) or a step of a series, composed
with ``checks.series.compose``, so a mistake in a step is planted where that step's code runs.

``CORPUS`` must be caught by the combined checker in the quick profile without CrossHair (every
listed cell BROKEN or DOES_NOT_BUILD): tests/detection/test_corpus.py. ``LIMITS`` are defects the
quick exhaustive bounds cannot reach, each with the reason; the bench (bench/detection.py) shows
which engine, if any, finds them, and the test asserts the exhaustive search does not, so that a
change of bounds that brings one into scope moves it to ``CORPUS``. ``UNCAUGHT`` are mutations
nothing catches at any bound: equivalent under the contract, or a gap of the model (each says which).
A copy past the end of a kernel buffer under KERNEL_DS was such a gap until the model made it an
out-of-bounds finding (issue 10): those defects are in ``CORPUS`` now.

Kinds (``KINDS``) are the mistakes named in issue 6; a defect carries exactly one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from checks.series import compose, load_series
from model.errno import EAGAIN, EFAULT, EINTR, EMSGSIZE, EOPNOTSUPP, EPIPE, EWOULDBLOCK
from model.in_h import IPPROTO_UDP
from model.kernel import NULL, KernelImage, Oops
from model.proto._net_core import _sock_alloc_send_skb
from model.proto.af_netlink import _PEER_PORTID, _SK_SNDBUF
from model.proto.af_unix import _SKB_MAX_ALLOC, _UNIX_SK_SNDBUF, _unix_peer_dead, _unix_peer_dies
from model.proto.ip_output import _DADDR, _IPHDR_LEN, _SADDR
from model.proto.udp import _DPORT, _SPORT, _UDPHDR_LEN
from model.sock import SEND_SHUTDOWN
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL, MSG_OOB, MSG_WAITALL
from model.uio import ITER_BVEC, ITER_KVEC, READ, WRITE
from tests.conftest import plant
from tests.detection import test_primitive_defects as _prim
from tests.detection import test_user_defects as _user

KINDS = (
    "off-by-one",
    "forgotten advance",
    "advance too many",
    "missed zero-length segment",
    "odd-offset checksum",
    "size for remaining",
    "removed field still read",
    "removed symbol still called",
    "forgotten set_fs",
    "error reported as success",
    "retry re-sends",
    "forgotten decrement",
    "lost bookkeeping",
    "missing clamp",
    "forgotten flag",
)


@dataclass(frozen=True)
class Defect:
    id: str
    description: str
    kind: str
    symbol: str  # the definition replaced
    fn: Callable  # the defective definition
    cells: tuple[str, ...]  # "user/proto" or "primitive:NAME": each must catch it
    series: str = "v3.18"  # the series whose step the image is
    step: str = "v3.18"  # the step (id or short id)
    origin: str = "tests/detection/corpus.py"
    limit: str = ""  # LIMITS: why the quick exhaustive bounds miss it; UNCAUGHT: why nothing catches it

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"defect {self.id}: kind {self.kind!r} is not one of KINDS")
        if not self.cells:
            raise ValueError(f"defect {self.id}: names no cell that must catch it")

    @property
    def where(self) -> str:
        return self.step if self.series == "v3.18" else f"{self.series} {self.step}"

    def clean(self) -> KernelImage:
        """The image without the defect."""
        return step_image(self.series, self.step)[0]

    def image(self) -> KernelImage:
        return plant(self.clean(), self.symbol, self.fn)

    def removed_fields(self) -> frozenset[tuple[str, str]]:
        return step_image(self.series, self.step)[1]


@cache
def step_image(series: str, step: str) -> tuple[KernelImage, frozenset[tuple[str, str]]]:
    """The composed image at ``step`` of ``series`` and the struct fields gone by then."""
    s = load_series(series)
    sid = s.step(step).id
    composed = compose(s)
    return composed.images[sid], composed.removed_fields[sid]


def split_cell(cell: str) -> tuple[str, str]:
    """("user", "proto") or ("primitive:NAME", "-")."""
    if cell.startswith("primitive:"):
        return cell, "-"
    user, proto = cell.rsplit("/", 1)
    return user, proto


# =================================================================================================
# Primitives (v3.18): lib/iovec.c, mm/iov_iter.c, net/core/iovec.c, lib/checksum.c
# =================================================================================================


def copy_from_iter_without_clamp(k, addr, nbytes, i):
    """copy_from_iter (copy_from_iter_iovec) that never clamps ``bytes`` to ``i->count``: a caller
    asking for more than the iterator holds gets more than its count, and count goes negative."""
    # the defect: no "if (bytes > i->count) bytes = i->count;"
    if not nbytes:
        return 0
    wanted = nbytes
    iov = i.iov
    skip = i.iov_offset
    seg = k.mem.elem(iov)
    copy = min(nbytes, seg.iov_len - skip)
    left = k.__copy_from_user(addr, seg.iov_base + skip, copy)
    copy -= left
    skip += copy
    nbytes -= copy
    while not left and nbytes:
        iov = iov + 1
        seg = k.mem.elem(iov)
        copy = min(nbytes, seg.iov_len)
        left = k.__copy_from_user(addr + (wanted - nbytes), seg.iov_base, copy)
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


def copy_to_iter_forgets_nr_segs(k, addr, nbytes, i):
    """copy_to_iter (copy_to_iter_iovec) that moves ``iov`` but leaves ``nr_segs`` as it was: the
    iterator claims segments past the end of the array."""
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0
    wanted = nbytes
    iov = i.iov
    skip = i.iov_offset
    seg = k.mem.elem(iov)
    copy = min(nbytes, seg.iov_len - skip)
    left = k.__copy_to_user(seg.iov_base + skip, addr, copy)
    copy -= left
    skip += copy
    nbytes -= copy
    while not left and nbytes:
        iov = iov + 1
        seg = k.mem.elem(iov)
        copy = min(nbytes, seg.iov_len)
        left = k.__copy_to_user(seg.iov_base, addr + (wanted - nbytes), copy)
        copy -= left
        skip = copy
        nbytes -= copy
    if skip == seg.iov_len:
        iov = iov + 1
        skip = 0
    i.count -= wanted - nbytes
    # the defect: no "i->nr_segs -= iov - i->iov;"
    i.iov = iov
    i.iov_offset = skip
    return wanted - nbytes


def memcpy_toiovecend_ignores_offset_in_length(k, iov, kdata, offset, len):
    """memcpy_toiovecend sizing the first piece by the whole segment, not by what is left of it
    after ``offset``: ``iov_len`` where ``iov_len - offset`` was meant."""
    while len > 0:
        seg = k.mem.elem(iov)
        if offset >= seg.iov_len:
            offset -= seg.iov_len
            iov = iov + 1
            continue
        base = seg.iov_base + offset
        copy = min(seg.iov_len, len)  # the defect: min(iov_len - offset, len)
        offset = 0
        if k.copy_to_user(base, kdata, copy):
            return -EFAULT
        kdata = kdata + copy
        len -= copy
        iov = iov + 1
    return 0


def memcpy_toiovec_spins_on_empty_segment(k, iov, kdata, len):
    """memcpy_toiovec with the step to the next segment inside ``if (iov->iov_len)``: a
    zero-length segment is never left."""
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
            iov = iov + 1  # the defect: indented into the if
    return 0


def memcpy_fromiovecend_keeps_offset(k, kdata, iov, offset, len):
    """memcpy_fromiovecend that does not reset ``offset`` after the first segment: every later
    segment is read from ``offset`` bytes in as well."""
    if len == 0:
        return 0
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1
    while len > 0:
        seg = k.mem.elem(iov)
        base = seg.iov_base + offset
        copy = min(len, seg.iov_len - offset)
        # the defect: no "offset = 0;"
        if k.copy_from_user(kdata, base, copy):
            return -EFAULT
        len -= copy
        kdata = kdata + copy
        iov = iov + 1
    return 0


def csum_partial_drops_end_around_carry(k, buff, len, wsum):
    """csum_partial adding the old sum without the end-around carry ("add in old sum, and
    carry.."): a sum that wraps loses one."""
    from model.checksum import _U32, _do_csum

    if len <= 0:
        return wsum & _U32
    sum_ = wsum & _U32
    result = _do_csum(k.mem.read(buff, len), buff.off)
    result = (result + sum_) & _U32
    # the defect: no "if (sum > result) result += 1;"
    return result


def csum_block_add_swaps_even_offsets(k, csum, csum2, offset):
    """csum_block_add with the parity test inverted: the lanes are swapped at even offsets."""
    sum_ = csum2 & 0xFFFFFFFF
    if not offset & 1:  # the defect: offset & 1
        sum_ = ((sum_ & 0x00FF00FF) << 8) + ((sum_ >> 8) & 0x00FF00FF)
    return k.csum_add(csum, sum_)


def csum_partial_copy_fromiovecend_loses_remnant_sum(k, kdata, iov, offset, len, csump):
    """csum_partial_copy_fromiovecend whose early exit (the last bytes completing a remnant from
    earlier segments) returns without storing the sum: ``*csump`` keeps the old value."""
    csum = csump[0]
    partial_cnt = 0
    err = [0]
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1
    while len > 0:
        seg = k.mem.elem(iov)
        base = seg.iov_base + offset
        copy = min(len, seg.iov_len - offset)
        offset = 0
        if partial_cnt:
            par_len = 4 - partial_cnt
            if par_len > copy:
                if k.copy_from_user(kdata, base, copy):
                    return -EFAULT
                kdata = kdata + copy
                base = base + copy
                partial_cnt += copy
                len -= copy
                iov = iov + 1
                if len:
                    continue
                # the defect: no "*csump = csum_partial(kdata - partial_cnt, partial_cnt, csum);"
                return err[0]
            if k.copy_from_user(kdata, base, par_len):
                return -EFAULT
            csum = k.csum_partial(kdata + -partial_cnt, 4, csum)
            kdata = kdata + par_len
            base = base + par_len
            copy -= par_len
            len -= par_len
            partial_cnt = 0
        if len > copy:
            partial_cnt = copy % 4
            if partial_cnt:
                copy -= partial_cnt
                if k.copy_from_user(kdata + copy, base + copy, partial_cnt):
                    return -EFAULT
        if copy:
            csum = k.csum_and_copy_from_user(base, kdata, copy, csum, err)
            if err[0]:
                return err[0]
        len -= copy + partial_cnt
        kdata = kdata + (copy + partial_cnt)
        iov = iov + 1
    csump[0] = csum
    return err[0]


def csum_partial_copy_fromiovecend_remnant_from_segment_start(k, kdata, iov, offset, len, csump):
    """csum_partial_copy_fromiovecend copying a segment's trailing 1-3 bytes (the remnant) from
    the start of the piece, not from after its 4-byte multiple: ``base`` for ``base + copy``.
    Only a non-final piece of at least 5 bytes has both a multiple and a remnant."""
    csum = csump[0]
    partial_cnt = 0
    err = [0]
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1
    while len > 0:
        seg = k.mem.elem(iov)
        base = seg.iov_base + offset
        copy = min(len, seg.iov_len - offset)
        offset = 0
        if partial_cnt:
            par_len = 4 - partial_cnt
            if par_len > copy:
                if k.copy_from_user(kdata, base, copy):
                    return -EFAULT
                kdata = kdata + copy
                base = base + copy
                partial_cnt += copy
                len -= copy
                iov = iov + 1
                if len:
                    continue
                csump[0] = k.csum_partial(kdata + -partial_cnt, partial_cnt, csum)
                return err[0]
            if k.copy_from_user(kdata, base, par_len):
                return -EFAULT
            csum = k.csum_partial(kdata + -partial_cnt, 4, csum)
            kdata = kdata + par_len
            base = base + par_len
            copy -= par_len
            len -= par_len
            partial_cnt = 0
        if len > copy:
            partial_cnt = copy % 4
            if partial_cnt:
                copy -= partial_cnt
                if k.copy_from_user(kdata + copy, base, partial_cnt):  # the defect: base, not base + copy
                    return -EFAULT
        if copy:
            csum = k.csum_and_copy_from_user(base, kdata, copy, csum, err)
            if err[0]:
                return err[0]
        len -= copy + partial_cnt
        kdata = kdata + (copy + partial_cnt)
        iov = iov + 1
    csump[0] = csum
    return err[0]


# =================================================================================================
# Primitives at series steps (as-merged s04, s05: the 3.19 iov_iter)
# =================================================================================================


def iterate_and_advance_accumulates_skip(k, i, n, step):
    """iterate_and_advance adding each later segment's length to ``skip`` instead of restarting
    it: the offset left in the last segment counts the earlier ones too."""
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
        skip += length - left  # the defect: skip = length - left
        n -= length - left
    n = wanted - n
    if skip == seg.iov_len:
        p = p + 1
        skip = 0
    i.nr_segs -= p.off - i.iov.off
    i.iov = p
    i.count -= n
    i.iov_offset = skip
    return n


def csum_and_copy_from_iter_combines_at_zero(k, addr, nbytes, csum, i):
    """csum_and_copy_from_iter that never moves the offset it combines at: every piece is added
    with csum_block_add(..., 0), so a piece that starts at an odd byte lands in the wrong lanes."""
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0
    state = {"sum": csum[0], "off": 0}

    def piece(base, done, n):
        if i.type & ITER_KVEC:
            nxt = k.csum_partial_copy_nocheck(base, addr + done, n, 0)
        else:
            err = [0]
            nxt = k.csum_and_copy_from_user(base, addr + done, n, 0, err)
            if err[0]:
                return n
        state["sum"] = k.csum_block_add(state["sum"], nxt, state["off"])
        # the defect: no "off += n"
        return 0

    copied = k.iterate_and_advance(i, nbytes, piece)
    csum[0] = state["sum"]
    return copied


def csum_and_copy_to_iter_drops_running_sum(k, addr, nbytes, csum, i):
    """csum_and_copy_to_iter starting from 0 instead of the caller's ``*csum``: the pseudo-header
    sum a receive path passes in is lost."""
    if nbytes > i.count:
        nbytes = i.count
    if not nbytes:
        return 0
    state = {"sum": 0, "off": 0}  # the defect: "sum": csum[0]

    def piece(base, done, n):
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


# =================================================================================================
# Protocols (v3.18)
# =================================================================================================


def tcp_sendmsg_copies_size_from_segment(k, iocb, sk, msg, size):
    """tcp_sendmsg sizing each copy by ``size`` (the whole message) where the segment's remaining
    ``seglen`` was meant: it reads past a segment shorter than the message."""
    from model.errno import EPIPE as _EPIPE

    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -_EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)
    iovlen = msg.msg_iovlen
    iov = msg.msg_iov
    while iovlen > 0:
        iovlen -= 1
        seg = k.mem.elem(iov)
        seglen = seg.iov_len
        from_ = seg.iov_base
        iov = iov + 1
        while seglen > 0:
            if sk.room == 0:
                err = k.sk_stream_wait_memory(sk, timeo)
                if err:
                    return copied if copied else k.sk_stream_error(sk, flags, err)
                continue
            copy = min(size, sk.room)  # the defect: min(seglen, room)
            skb = k.alloc_skb(copy)
            if k.copy_from_user(skb.data, from_, copy):
                err = -EFAULT
                return copied if copied else k.sk_stream_error(sk, flags, err)
            sk.peer.deliver(k.mem.read(skb.data, copy))
            sk.room -= copy
            copied += copy
            from_ = from_ + copy
            seglen -= copy
    return copied


def tcp_recvmsg_takes_everything_queued(k, iocb, sk, msg, len, nonblock, flags):
    """tcp_recvmsg copying everything queued, not ``min(avail, len)``: a reader asking for the
    rest of one message also takes the start of the next."""
    from model.errno import ENOTCONN
    from model.proto.tcp import MAX_SCHEDULE_TIMEOUT, RCV_SHUTDOWN, SOCK_DONE, TCP_CLOSE
    from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL, WAIT_TIMEOUT

    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    timeo = k.sock_rcvtimeo(sk, nonblock)
    target = k.sock_rcvlowat(sk, flags & MSG_WAITALL, len)
    copied = 0
    while len > 0:
        avail = sk.peer.queued()
        if avail:
            used = avail  # the defect: min(avail, len)
            skb = k.alloc_skb(used)
            k.mem.write(skb.data, sk.peer.peek(used))
            if k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, used):
                return copied if copied else -EFAULT
            sk.peer.take(used)
            copied += used
            len -= used
            continue
        if copied >= target:
            break
        if copied:
            if sk.sk_err or sk.sk_state == TCP_CLOSE or (sk.sk_shutdown & RCV_SHUTDOWN) or not timeo:
                break
        else:
            if k.sock_flag(sk, SOCK_DONE):
                break
            if sk.sk_err:
                return k.sock_error(sk)
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            if sk.sk_state == TCP_CLOSE:
                if not k.sock_flag(sk, SOCK_DONE):
                    return -ENOTCONN
                break
            if not timeo:
                return -EAGAIN
        then = sk.window.then
        if then == WAIT_TIMEOUT and timeo != MAX_SCHEDULE_TIMEOUT:
            return copied if copied else -EAGAIN
        if then == WAIT_SIGNAL:
            return copied if copied else k.sock_intr_errno(timeo)
        if then == WAIT_ERROR:
            k.tcp_reset(sk)
        elif then == WAIT_EOF or sk.peer.all_arrived():
            k.tcp_fin(sk)
        else:
            sk.peer.arrive(UNLIMITED)
    return copied


def udp_send_skb_header_sum_only(k, skb, sk):
    """udp_send_skb summing the UDP header from 0 instead of from the data's sum (``skb->csum``):
    every datagram leaves with a wrong checksum and the peer drops it."""
    head = skb[0]
    uh = head.data + _IPHDR_LEN
    length = head.len - _IPHDR_LEN + sum(frag.len - _IPHDR_LEN for frag in skb[1:])
    k.mem.write(uh, _SPORT.to_bytes(2, "big") + _DPORT.to_bytes(2, "big"))
    k.mem.write(uh + 4, length.to_bytes(2, "big") + bytes(2))
    csum = k.csum_partial(uh, _UDPHDR_LEN, 0)  # the defect: head.csum
    for frag in skb[1:]:
        csum = k.csum_add(csum, frag.csum)
    check = k.csum_tcpudp_magic(_SADDR, _DADDR, length, IPPROTO_UDP, csum)
    if check == 0:
        check = 0xFFFF
    k.mem.write(uh + 6, check.to_bytes(2, "little"))
    return k.ip_send_skb(sk, skb)


def udp_send_skb_ignores_fragments(k, skb, sk):
    """udp_send_skb summing the head's data only: the fragments' sums (frag_list) are not added,
    so a datagram of more than one IP fragment leaves with a wrong checksum."""
    head = skb[0]
    uh = head.data + _IPHDR_LEN
    length = head.len - _IPHDR_LEN + sum(frag.len - _IPHDR_LEN for frag in skb[1:])
    k.mem.write(uh, _SPORT.to_bytes(2, "big") + _DPORT.to_bytes(2, "big"))
    k.mem.write(uh + 4, length.to_bytes(2, "big") + bytes(2))
    csum = k.csum_partial(uh, _UDPHDR_LEN, head.csum)
    # the defect: no "skb_walk_frags(skb, frag) csum = csum_add(csum, frag->csum);"
    check = k.csum_tcpudp_magic(_SADDR, _DADDR, length, IPPROTO_UDP, csum)
    if check == 0:
        check = 0xFFFF
    k.mem.write(uh + 6, check.to_bytes(2, "little"))
    return k.ip_send_skb(sk, skb)


def unix_stream_sendmsg_copies_from_start(k, iocb, sock, msg, len):
    """unix_stream_sendmsg filling every skb from offset 0 of the iovec instead of ``sent``."""
    sk = sock.sk
    k.sk_begin_call(sk)
    sent = 0
    err = -EOPNOTSUPP
    if msg.msg_flags & MSG_OOB:
        return sent or err
    if sk.sk_shutdown & SEND_SHUTDOWN:
        return sent or -EPIPE
    while sent < len:
        size = len - sent
        size = min(size, (_UNIX_SK_SNDBUF >> 1) - 64)
        size = min(size, _SKB_MAX_ALLOC)
        skb = _sock_alloc_send_skb(k, sk, size, msg.msg_flags & MSG_DONTWAIT, _unix_peer_dies)
        if isinstance(skb, int):
            return sent or skb
        k.skb_put(skb, size)
        err = k.skb_copy_datagram_from_iovec(skb, 0, msg.msg_iov, 0, size)  # the defect: 0 for sent
        if err:
            return sent or err
        if _unix_peer_dead(sk):
            return sent or -EPIPE
        sk.peer.deliver(k.mem.read(skb.data, size))
        sent += size
    return sent


def unix_stream_recvmsg_keeps_size(k, iocb, sock, msg, size, flags):
    """unix_stream_recvmsg that does not take a chunk off ``size``: it keeps reading past what
    the caller asked for, into the next message."""
    from model.proto._net_core import _datagram_skb
    from model.sock import RCV_SHUTDOWN
    from model.world import UNLIMITED, WAIT_EOF, WAIT_ERROR, WAIT_SIGNAL

    sk = sock.sk
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)
    copied = 0
    noblock = flags & MSG_DONTWAIT
    err = -EOPNOTSUPP
    if flags & MSG_OOB:
        return err
    target = k.sock_rcvlowat(sk, flags & MSG_WAITALL, size)
    timeo = k.sock_rcvtimeo(sk, noblock)
    err = 0
    while True:
        avail = sk.peer.queued()
        if not avail:
            if copied >= target:
                break
            err = k.sock_error(sk)
            if err:
                break
            if sk.sk_shutdown & RCV_SHUTDOWN:
                break
            err = -EAGAIN
            if not timeo:
                break
            then = sk.window.then
            if then == WAIT_SIGNAL:
                err = k.sock_intr_errno(timeo)
                return copied or err
            if then == WAIT_ERROR:
                _unix_peer_dies(k, sk)
            elif then == WAIT_EOF or sk.peer.all_arrived():
                sk.sk_shutdown |= RCV_SHUTDOWN
            else:
                sk.peer.arrive(UNLIMITED)
            continue
        chunk = min(avail, size)
        skb = _datagram_skb(k, sk.peer.take(chunk))
        if k.skb_copy_datagram_iovec(skb, 0, msg.msg_iov, chunk):
            if copied == 0:
                copied = -EFAULT
            break
        copied += chunk
        # the defect: no "size -= chunk;"
        if not size:
            break
    return copied or err


def netlink_sendmsg_reports_len(k, iocb, sock, msg, len):
    """netlink_sendmsg returning ``len`` whatever netlink_unicast said: a message that was never
    queued (-EAGAIN, a signal, the receiver gone) is reported as sent."""
    sk = sock.sk
    k.sk_begin_call(sk)
    if msg.msg_flags & MSG_OOB:
        return -EOPNOTSUPP
    dst_portid = _PEER_PORTID
    err = -EMSGSIZE
    if len > _SK_SNDBUF - 32:
        return err
    skb = k.alloc_skb(0)
    err = -EFAULT
    if k.memcpy_fromiovec(k.skb_put(skb, len), msg.msg_iov, len):
        return err
    k.netlink_unicast(sk, skb, dst_portid, msg.msg_flags & MSG_DONTWAIT)
    return len  # the defect: err = netlink_unicast(...); return err


def l2cap_sock_memcpy_fromiovec_cb_by_offset(k, chan, kdata, iov, len):
    """L2CAP's ->memcpy_fromiovec callback built on memcpy_fromiovecend(kdata, iov, 0, len): it
    leaves the iovec alone, so every fragment is read from the start of the message."""
    return k.memcpy_fromiovecend(kdata, iov, 0, len)  # the defect: memcpy_fromiovec(kdata, iov, len)


def l2cap_skbuff_fromiovec_frag_pointer_not_advanced(k, chan, msg, len, count, skb):
    """l2cap_skbuff_fromiovec without ``frag = &(*frag)->next``: every continuation fragment is
    linked where the first one went, so from the second continuation on each replaces the one
    before (the model flattens the frag_list: the later fragment is written over the earlier)."""
    conn = chan.conn
    sent = 0
    if getattr(k, chan.ops.memcpy_fromiovec)(chan, k.skb_put(skb, count), msg.msg_iov, count):
        return -EFAULT
    sent += count
    len -= count
    frag = skb.data + skb.len  # &skb_shinfo(skb)->frag_list
    while len:
        count = min(conn.mtu, len)
        tmp = getattr(k, chan.ops.alloc_skb)(chan, 0, count, msg.msg_flags & MSG_DONTWAIT)
        if isinstance(tmp, int):
            return tmp
        if getattr(k, chan.ops.memcpy_fromiovec)(chan, k.skb_put(tmp, count), msg.msg_iov, count):
            return -EFAULT
        sent += count
        len -= count
        k.skb_put(skb, tmp.len)  # skb->len += (*frag)->len
        k.mem.write(frag, k.mem.read(tmp.data, tmp.len))  # *frag = tmp
        # the defect: no "frag = &(*frag)->next;"
    return sent


# =================================================================================================
# Users (v3.18)
# =================================================================================================


def smb_send_kvec_never_decrements_remaining(k, server, iov, n_vec, sent):
    """smb_send_kvec that advances its kvec after a short send but never takes ``rc`` off
    ``remaining``: it asks for the original count again and again."""
    rc = 0
    ssocket = server.ssocket
    sent[0] = 0
    smb_msg = k.msghdr()
    smb_msg.msg_flags = MSG_DONTWAIT + MSG_NOSIGNAL if server.noblocksnd else MSG_NOSIGNAL
    remaining = 0
    for i in range(n_vec):
        remaining += k.mem.elem(iov + i).iov_len
    first_vec = 0
    i = 0
    while remaining:
        rc = k.kernel_sendmsg(ssocket, smb_msg, iov + first_vec, n_vec - first_vec, remaining)
        if rc == -EAGAIN:
            i += 1
            if i >= 14 or (not server.noblocksnd and i > 2):
                rc = -EAGAIN
                break
            continue
        if rc < 0:
            break
        sent[0] += rc
        if rc == remaining:
            remaining = 0
            break
        if rc > remaining:
            break
        if rc == 0:
            continue
        # the defect: no "remaining -= rc;"
        for i in range(first_vec, n_vec):
            seg = k.mem.elem(iov + i)
            if seg.iov_len:
                if rc > seg.iov_len:
                    rc -= seg.iov_len
                    seg.iov_len = 0
                else:
                    seg.iov_base = seg.iov_base + rc
                    seg.iov_len -= rc
                    first_vec = i
                    break
        i = 0
        rc = 0
    return rc


def smb_send_kvec_gives_up_quietly(k, server, iov, n_vec, sent):
    """smb_send_kvec whose "stuck for 15 seconds" exit clears ``rc`` ("report what was sent"):
    three -EAGAINs in a row in blocking mode end the send as a success."""
    rc = 0
    ssocket = server.ssocket
    sent[0] = 0
    smb_msg = k.msghdr()
    smb_msg.msg_flags = MSG_DONTWAIT + MSG_NOSIGNAL if server.noblocksnd else MSG_NOSIGNAL
    remaining = 0
    for i in range(n_vec):
        remaining += k.mem.elem(iov + i).iov_len
    first_vec = 0
    i = 0
    while remaining:
        rc = k.kernel_sendmsg(ssocket, smb_msg, iov + first_vec, n_vec - first_vec, remaining)
        if rc == -EAGAIN:
            i += 1
            if i >= 14 or (not server.noblocksnd and i > 2):
                rc = 0  # the defect: rc = -EAGAIN
                break
            continue
        if rc < 0:
            break
        sent[0] += rc
        if rc == remaining:
            remaining = 0
            break
        if rc > remaining:
            break
        if rc == 0:
            continue
        remaining -= rc
        for i in range(first_vec, n_vec):
            seg = k.mem.elem(iov + i)
            if seg.iov_len:
                if rc > seg.iov_len:
                    rc -= seg.iov_len
                    seg.iov_len = 0
                else:
                    seg.iov_base = seg.iov_base + rc
                    seg.iov_len -= rc
                    first_vec = i
                    break
        i = 0
        rc = 0
    return rc


def iscsit_do_rx_data_counts_zero_as_progress(k, conn, count):
    """iscsit_do_rx_data testing ``rx_loop < 0`` for ``<= 0``: a closed connection returns 0 for
    ever and the loop keeps calling."""
    data = count.data_length
    total_rx = 0
    msg = k.msghdr()
    iov_p = count.iov
    iov_len = count.iov_count
    while total_rx < data:
        rx_loop = k.kernel_recvmsg(conn.sock, msg, iov_p, iov_len, data - total_rx, MSG_WAITALL)
        if rx_loop < 0:  # the defect: <= 0
            return rx_loop
        total_rx += rx_loop
    return total_rx


def write_partial_kvec_trims_base_only(k, con):
    """write_partial_kvec moving the partly sent entry's base but not shortening it: the next
    send reads past the entry's end."""
    ret = 0
    while con.out_kvec_bytes > 0:
        ret = k.ceph_tcp_sendmsg(con.sock, con.out_kvec_cur, con.out_kvec_left, con.out_kvec_bytes, con.out_more)
        if ret <= 0:
            return ret
        con.out_kvec_bytes -= ret
        if con.out_kvec_bytes == 0:
            break
        while ret >= k.mem.elem(con.out_kvec_cur).iov_len:
            if not con.out_kvec_left:
                raise Oops("BUG_ON(!con->out_kvec_left)")
            ret -= k.mem.elem(con.out_kvec_cur).iov_len
            con.out_kvec_cur = con.out_kvec_cur + 1
            con.out_kvec_left -= 1
        if ret:
            cur = k.mem.elem(con.out_kvec_cur)
            # the defect: no "con->out_kvec_cur->iov_len -= ret;"
            cur.iov_base = cur.iov_base + ret
    con.out_kvec_left = 0
    con.out_kvec_is_msg = False
    return 1


def write_partial_kvec_subtracts_next_entry(k, con):
    """write_partial_kvec stepping ``out_kvec_cur`` before subtracting the entry's length: each
    fully sent entry is accounted with the length of the one after it."""
    ret = 0
    while con.out_kvec_bytes > 0:
        ret = k.ceph_tcp_sendmsg(con.sock, con.out_kvec_cur, con.out_kvec_left, con.out_kvec_bytes, con.out_more)
        if ret <= 0:
            return ret
        con.out_kvec_bytes -= ret
        if con.out_kvec_bytes == 0:
            break
        while ret >= k.mem.elem(con.out_kvec_cur).iov_len:
            if not con.out_kvec_left:
                raise Oops("BUG_ON(!con->out_kvec_left)")
            con.out_kvec_cur = con.out_kvec_cur + 1  # the defect: stepped before the subtraction
            ret -= k.mem.elem(con.out_kvec_cur).iov_len
            con.out_kvec_left -= 1
        if ret:
            cur = k.mem.elem(con.out_kvec_cur)
            cur.iov_len -= ret
            cur.iov_base = cur.iov_base + ret
    con.out_kvec_left = 0
    con.out_kvec_is_msg = False
    return 1


def read_partial_reads_to_object_start(k, con, end, size, object):
    """read_partial passing ``object`` instead of ``object + have``: each read lands at the start
    of the object again."""
    while con.in_base_pos < end:
        left = end - con.in_base_pos
        ret = k.ceph_tcp_recvmsg(con.sock, object, left)  # the defect: object + have
        if ret <= 0:
            return ret
        con.in_base_pos += ret
    return 1


def drbd_send_shortens_but_does_not_advance(k, connection, sock, buf, size, msg_flags):
    """drbd_send taking ``rv`` off its kvec's length but not moving its base: after a short send
    the retry sends the start of the buffer again."""
    from model.errno import EBADR

    sent = 0
    if sock is None:
        return -EBADR
    iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="drbd_send iov")
    msg = k.msghdr()
    msg.msg_flags = msg_flags | MSG_NOSIGNAL
    if sock is connection.data_socket:
        connection.ko_count = connection.net_conf_ko_count
    while True:
        rv = k.kernel_sendmsg(sock, msg, iov, 1, size)
        if rv == -EAGAIN:
            if k.we_should_drop_the_connection(connection, sock):
                break
            if sent < size:
                continue
            break
        if rv == -EINTR:
            rv = 0
        if rv < 0:
            break
        sent += rv
        seg = k.mem.elem(iov)
        # the defect: no "iov.iov_base += rv;"
        seg.iov_len -= rv
        if not sent < size:
            break
    return sent


def sock_xmit_forgets_buf_advance(k, nbd, send, buf, size, msg_flags):
    """nbd's sock_xmit taking ``result`` off ``size`` but not moving ``buf``: after a short
    transfer the next call starts at the beginning of the buffer again."""
    from model.errno import EINVAL

    sock = nbd.sock
    if sock is None:
        return -EINVAL
    while True:
        iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="sock_xmit iov")
        msg = k.msghdr()
        msg.msg_flags = msg_flags | MSG_NOSIGNAL
        if send:
            result = k.kernel_sendmsg(sock, msg, iov, 1, size)
        else:
            result = k.kernel_recvmsg(sock, msg, iov, 1, size, msg.msg_flags)
        if result <= 0:
            if result == 0:
                result = -EPIPE
            break
        size -= result
        # the defect: no "buf += result;"
        if not size > 0:
            break
    return result


def sock_xmit_eof_is_success(k, nbd, send, buf, size, msg_flags):
    """nbd's sock_xmit without ``if (result == 0) result = -EPIPE; /* short read */``: a peer that
    closes mid-reply leaves a count the caller reads as success."""
    from model.errno import EINVAL

    sock = nbd.sock
    if sock is None:
        return -EINVAL
    total = 0
    while True:
        iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="sock_xmit iov")
        msg = k.msghdr()
        msg.msg_flags = msg_flags | MSG_NOSIGNAL
        if send:
            result = k.kernel_sendmsg(sock, msg, iov, 1, size)
        else:
            result = k.kernel_recvmsg(sock, msg, iov, 1, size, msg.msg_flags)
        if result <= 0:
            # the defect: no "if (result == 0) result = -EPIPE;"
            if result == 0:
                result = total
            break
        total += result
        size -= result
        buf = buf + result
        if not size > 0:
            break
    return result


def xs_tcp_send_request_forgets_bytes_sent(k, task):
    """xs_tcp_send_request that does not add the count to ``rq_bytes_sent``: after a short send
    the next transmit starts the record over."""
    from model.errno import ENOBUFS, ENOTCONN, ENOTSOCK

    req = task.tk_rqstp
    transport = task.tk_xprt
    xdr = req.rq_snd_buf
    zerocopy = True
    while True:
        sent = [0]
        status = k.xs_sendpages(transport.sock, NULL, 0, xdr, req.rq_bytes_sent, zerocopy, sent)
        if sent[0] == 0 and status < 0:
            break
        # the defect: no "req->rq_bytes_sent += sent;"
        req.rq_xmit_bytes_sent += sent[0]
        if sent[0] >= req.rq_slen:
            req.rq_bytes_sent = 0
            return 0
        if sent[0] != 0:
            continue
        status = -EAGAIN
        break
    if status == -ENOTSOCK:
        status = -ENOTCONN
    elif status in (-ENOBUFS, -EAGAIN):
        status = k.xs_nospace(task)
    return status


def xs_send_kvec_ignores_base(k, sock, addr, addrlen, vec, base, more):
    """xs_send_kvec sending ``iov_len - base`` bytes from the start of the kvec, not from
    ``iov_base + base``: a retransmission after a short send repeats the record's start."""
    from model.socket_h import MSG_MORE
    from model.users.sunrpc_xprtsock import XS_SENDMSG_FLAGS

    msg = k.msghdr()
    msg.msg_name = addr
    msg.msg_namelen = addrlen
    msg.msg_flags = XS_SENDMSG_FLAGS | (MSG_MORE if more else 0)
    v = k.mem.elem(vec)
    iov_base = v.iov_base  # the defect: v.iov_base + base
    iov_len = v.iov_len - base
    if iov_len != 0:
        iov = k.mem.alloc_array([k.kvec(iov_base=iov_base, iov_len=iov_len)], name="xs_send_kvec iov")
        return k.kernel_sendmsg(sock, msg, iov, 1, iov_len)
    return k.kernel_sendmsg(sock, msg, NULL, 0, 0)


def tipc_send_to_sock_dequeues_first(k, con):
    """tipc_send_to_sock taking the entry off the outqueue before it is sent: an -EWOULDBLOCK
    loses the event (the queue looks empty and the work is done)."""
    from model.net_h import SOCK_DGRAM
    from model.users.tipc_server import _MAX_SEND_MSG_COUNT, _SOCK_RDM

    count = 0
    s = con.server
    while True:
        if not con.outqueue:
            break
        e = con.outqueue[0]
        con.outqueue.remove(e)  # the defect: list_del() before the send
        msg = k.msghdr()
        msg.msg_flags = MSG_DONTWAIT
        if s.type == SOCK_DGRAM or s.type == _SOCK_RDM:
            msg.msg_name = e.dest
        ret = k.kernel_sendmsg(con.sock, msg, e.iov, 1, k.mem.elem(e.iov).iov_len)
        if ret == -EWOULDBLOCK or ret == 0:
            return
        elif ret < 0:
            k.tipc_close_conn(con)
            return
        count += 1
        if count >= _MAX_SEND_MSG_COUNT:
            count = 0
        k.tipc_free_entry(e)


def sock_no_sendpage_ignores_offset(k, sock, page, offset, size, flags):
    """sock_no_sendpage sending ``size`` bytes from the start of the page, not from ``offset``:
    the sendpage caller's retry after a short count repeats the page's start."""
    msg = k.msghdr()
    msg.msg_flags = flags
    kaddr = page
    iov = k.mem.alloc_array([k.kvec(iov_base=kaddr, iov_len=size)], name="sock_no_sendpage iov")  # the defect
    return k.kernel_sendmsg(sock, msg, iov, 1, size)


def usbip_recv_forgets_buf_advance(k, sock, buf, size):
    """usbip_recv taking ``result`` off ``size`` but receiving into ``buf`` again."""
    from model.errno import EINVAL

    total = 0
    if sock is None or buf == NULL or not size:
        return -EINVAL
    while True:
        iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="usbip_recv iov")
        msg = k.msghdr()
        msg.msg_flags = MSG_NOSIGNAL
        result = k.kernel_recvmsg(sock, msg, iov, 1, size, MSG_WAITALL)
        if result <= 0:
            return result
        size -= result
        # the defect: no "buf += result;"
        total += result
        if not size > 0:
            break
    return total


def kvec_array_init_keeps_first_length(k, new, iov, nr_segs, bytes):
    """cifs' kvec_array_init moving the first entry's base by what was already read but not
    shortening it: the next receive writes past the end of that buffer."""
    base = 0
    while bytes or not k.mem.elem(iov).iov_len:
        copy = min(bytes, k.mem.elem(iov).iov_len)
        bytes -= copy
        base += copy
        if k.mem.elem(iov).iov_len == base:
            iov = iov + 1
            nr_segs -= 1
            base = 0
    for i in range(nr_segs):
        src = k.mem.elem(iov + i)
        dst = k.mem.elem(new + i)
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
    first = k.mem.elem(new)
    first.iov_base = first.iov_base + base
    # the defect: no "new->iov_len -= base;"
    return nr_segs


def ncptcp_try_send_keeps_iovlen(k, server):
    """__ncptcp_try_send stepping ``tx_ciov`` over fully sent entries without counting them off
    ``tx_iovlen``: the next send hands kernel_sendmsg entries past the end of the request."""
    from model.users.ncpfs_sock import _RQ_DONE  # noqa: F401  (the module's own names)

    rq = server.tx.creq
    if rq is None:
        return
    iovc = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(3)], name="iovc[3]")
    for i in range(rq.tx_iovlen):
        src = k.mem.elem(rq.tx_ciov + i)
        dst = k.mem.elem(iovc + i)
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
    result = k.do_send(server.ncp_sock, iovc, rq.tx_iovlen, rq.tx_totallen, MSG_NOSIGNAL | MSG_DONTWAIT)
    if result == -EAGAIN:
        return
    if result < 0:
        k.__ncp_abort_request(server, rq, result)
        return
    if result >= rq.tx_totallen:
        server.rcv.creq = rq
        server.tx.creq = None
        return
    rq.tx_totallen -= result
    iov = rq.tx_ciov
    while k.mem.elem(iov).iov_len <= result:
        result -= k.mem.elem(iov).iov_len
        iov = iov + 1
        # the defect: no "rq->tx_iovlen--;"
    seg = k.mem.elem(iov)
    seg.iov_base = seg.iov_base + result
    seg.iov_len -= result
    rq.tx_ciov = iov


def writequeue_entry_complete_keeps_offset(k, e, completed):
    """dlm's writequeue_entry_complete shortening the entry but not moving its offset: the rest
    of a partly sent entry is sent from its start."""
    # the defect: no "e->offset += completed;"
    e.len -= completed
    if e.len == 0 and e.users == 0:
        e.con.writequeue.remove(e)
        k.free_entry(e)


def rds_tcp_xmit_resends_header_start(k, conn, rm, hdr_off, sg, off):
    """rds_tcp_xmit sending ``i_hdr_len - hdr_off`` bytes from the header's start instead of
    from ``hdr_off``: a header cut by a full socket is resumed with its first bytes."""
    tc = conn.c_transport_data
    done = 0
    ret = 0
    if hdr_off < rm.m_inc.i_hdr_len:
        ret = k.rds_tcp_sendmsg(tc.t_sock, rm.m_inc.i_hdr, rm.m_inc.i_hdr_len - hdr_off)  # the defect
        if ret >= 0:
            done += ret
    if ret <= 0:
        if ret == -EAGAIN:
            ret = 0
        else:
            conn.dropped = True
    if done == 0:
        done = ret
    return done


def o2net_send_tcp_msg_short_send_is_success(k, sock, vec, veclen, total):
    """o2net_send_tcp_msg reporting any non-negative count as success: a short send (a signal
    or a timeout mid-message) is taken for the whole message."""
    from model.errno import EINVAL

    msg = k.msghdr()
    if sock is None:
        ret = -EINVAL
    else:
        ret = k.kernel_sendmsg(sock, msg, vec, veclen, total)
        if ret >= 0:  # the defect: ret == total; a short count was -EPIPE
            ret = 0
    return ret


# =================================================================================================
# Series steps: one realistic mistake in a step's own code
# =================================================================================================


def skb_copy_datagram_msg_still_msg_iov(k, from_, offset, msg, size):
    """"put iov_iter into msghdr" (as-merged s06) leaving skb_copy_datagram_msg() as s02 wrote
    it: it still reads ``msg->msg_iov``, which struct msghdr no longer has."""
    return k.skb_copy_datagram_iovec(from_, offset, msg.msg_iov, size)  # the defect: msg_iter.iov


def memcpy_from_msg_still_memcpy_fromiovec(k, data, msg, len):
    """"kill iovec.c" (as-merged s14) with memcpy_from_msg() still on memcpy_fromiovec(), which the
    step deletes (the s06 form)."""
    return k.memcpy_fromiovec(data, msg.msg_iter.iov, len)  # the defect: copy_from_iter


def o2net_send_tcp_msg_unconverted(k, sock, vec, veclen, total):
    """as-merged s06 with o2net_send_tcp_msg() open-coding kernel_sendmsg(): it fills
    ``msg.msg_iov`` by hand around sock_sendmsg() under set_fs(KERNEL_DS)."""
    from model.errno import EINVAL

    msg = k.msghdr()
    msg.msg_iov = vec  # the defect: the removed member, written
    msg.msg_iovlen = veclen
    if sock is None:
        ret = -EINVAL
    else:
        oldfs = k.get_fs()
        k.set_fs(k.get_ds())
        ret = k.sock_sendmsg(sock, msg, total)
        k.set_fs(oldfs)
        if ret != total:
            if ret >= 0:
                ret = -EPIPE
        else:
            ret = 0
    return ret


def kernel_recvmsg_s06_without_set_fs(k, sock, msg, vec, num, size, flags):
    """as-merged s06's kernel_recvmsg() setting msg_iter up without set_fs(KERNEL_DS): the
    receive path's copy_to_user() refuses the kernel buffer."""
    k.iov_iter_init(msg.msg_iter, READ, vec, num, size)  # the defect: no set_fs(KERNEL_DS) around it
    return k.sock_recvmsg(sock, msg, size, flags)


def tcp_sendmsg_s13_advances_twice(k, iocb, sk, msg, size):
    """as-merged s13's tcp_sendmsg() keeping the hand advance of the old walk after
    copy_from_iter(), which advances msg_iter itself."""
    from model.errno import EPIPE as _EPIPE

    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -_EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)
    while k.iov_iter_count(msg.msg_iter):
        if sk.room == 0:
            err = k.sk_stream_wait_memory(sk, timeo)
            if err:
                return copied if copied else k.sk_stream_error(sk, flags, err)
            continue
        copy = sk.room
        if copy > k.iov_iter_count(msg.msg_iter):
            copy = k.iov_iter_count(msg.msg_iter)
        skb = k.alloc_skb(copy)
        if k.copy_from_iter(skb.data, copy, msg.msg_iter) != copy:
            err = -EFAULT
            return copied if copied else k.sk_stream_error(sk, flags, err)
        k.iov_iter_advance(msg.msg_iter, copy)  # the defect: the old walk's "from += copy", kept
        sk.peer.deliver(k.mem.read(skb.data, copy))
        sk.room -= copy
        copied += copy
    return copied


def kernel_sendmsg_s15_without_iter_kvec(k, sock, msg, vec, num, size):
    """as-merged s15's kernel_sendmsg() calling iov_iter_kvec() with WRITE alone: the iterator is
    not flagged ITER_KVEC, and iov_iter_kvec() BUG()s on that."""
    k.iov_iter_kvec(msg.msg_iter, WRITE, vec, num, size)  # the defect: WRITE | ITER_KVEC
    return k.sock_sendmsg(sock, msg)


def iscsit_do_rx_data_s08_asks_for_everything(k, conn, count):
    """as-merged s08's iscsit_do_rx_data() on a persistent msg_iter, asking sock_recvmsg() for the
    full length on every call instead of what is left."""
    data = count.data_length
    total_rx = 0
    msg = k.msghdr()
    k.iov_iter_kvec(msg.msg_iter, READ | ITER_KVEC, count.iov, count.iov_count, data)
    while total_rx < data:
        rx_loop = k.sock_recvmsg(conn.sock, msg, data, MSG_WAITALL)  # the defect: data - total_rx
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx


def l2cap_skbuff_fromiovec_s09_advances_twice(k, chan, msg, len, count, skb):
    """as-merged s09's l2cap_skbuff_fromiovec() advancing msg_iter by hand after each
    copy_from_iter(), as the old ->memcpy_fromiovec walk needed and the iterator does not."""
    conn = chan.conn
    sent = 0
    if k.copy_from_iter(k.skb_put(skb, count), count, msg.msg_iter) != count:
        return -EFAULT
    k.iov_iter_advance(msg.msg_iter, count)  # the defect: the old callback's consumption, kept
    sent += count
    len -= count
    while len:
        count = min(conn.mtu, len)
        tmp = getattr(k, chan.ops.alloc_skb)(chan, 0, count, msg.msg_flags & MSG_DONTWAIT)
        if isinstance(tmp, int):
            return tmp
        if k.copy_from_iter(k.skb_put(tmp, count), count, msg.msg_iter) != count:
            return -EFAULT
        sent += count
        len -= count
        k.mem.write(k.skb_put(skb, tmp.len), k.mem.read(tmp.data, tmp.len))
    return sent


def iscsit_kvec_array_init_n07_forgets_base(k, new, iov, nr_segs, nbytes):
    """iov_iter-net n07's iscsit_kvec_array_init() describing the first entry left from its
    start: ``iov_base`` where ``iov_base + base`` was meant."""
    base = 0
    while nbytes or not k.mem.elem(iov).iov_len:
        copy = min(nbytes, k.mem.elem(iov).iov_len)
        nbytes -= copy
        base += copy
        if k.mem.elem(iov).iov_len == base:
            iov = iov + 1
            nr_segs -= 1
            base = 0
        if not nr_segs:
            return 0
    for i in range(nr_segs):
        seg = k.mem.elem(iov + i)
        out = k.mem.elem(new + i)
        out.iov_base = seg.iov_base  # the defect: seg.iov_base + base
        out.iov_len = seg.iov_len - base
        base = 0
    return nr_segs


def iscsit_do_tx_data_n12_reinits_iter(k, conn, count):
    """iov_iter-net n12's iscsit_do_tx_data() setting msg_iter up inside the loop: every retry
    after a short send starts from the first byte again (the 3.18 bug, reintroduced)."""
    data = count.data_length
    total_tx = 0
    if data <= 0:
        return -1
    msg = k.msghdr()
    while total_tx < data:
        k.iov_iter_kvec(msg.msg_iter, WRITE | ITER_KVEC, count.iov, count.iov_count, data)  # the defect
        tx_loop = k.sock_sendmsg(conn.sock, msg, data - total_tx)
        if tx_loop <= 0:
            return tx_loop
        total_tx += tx_loop
    return total_tx


# =================================================================================================
# The corpus
# =================================================================================================

_USER_KIND = {  # the kind of each planted defect of test_user_defects.py
    "cifs advances by requested count": "size for remaining",
    "cifs treats -EAGAIN as done": "error reported as success",
    "tcp_sendmsg forgets segment offset": "forgotten advance",
    "memcpy_toiovec forgets iov_base": "forgotten advance",
    "memcpy_toiovec iov_len off by one": "off-by-one",
    "tcp receive stops consuming": "forgotten advance",
    "kernel_sendmsg without set_fs": "forgotten set_fs",
    "kernel_sendmsg drops a segment": "off-by-one",
    "iscsi rx asks for the full length": "size for remaining",
}

_PRIMITIVE_KIND = {  # the kind of each planted defect of test_primitive_defects.py
    "iov_iter_advance_fast_path_off_by_one": "off-by-one",
    "iov_iter_advance_stays_on_finished_segment": "forgotten advance",
    "iov_iter_advance_stops_at_empty_segment": "missed zero-length segment",
    "iov_iter_advance_never_steps": "off-by-one",
    "copy_from_iter_forgets_advance": "forgotten advance",
    "copy_to_iter_keeps_finished_segment": "forgotten advance",
    "memcpy_fromiovec_const": "forgotten advance",
    "memcpy_fromiovecend_ignores_offset": "forgotten advance",
    "memcpy_toiovec_overruns_segment": "missing clamp",
    "csum_partial_drops_odd_tail": "off-by-one",
    "csum_block_add_no_swap": "odd-offset checksum",
    "csum_partial_copy_fromiovecend_adds_pieces": "odd-offset checksum",
}

# user cells that also catch a primitive defect of test_primitive_defects.py (measured)
_PRIMITIVE_USER_CELLS = {
    "memcpy_toiovec_overruns_segment": ("iscsit_do_rx_data/tcp",),
}


def _slug(text: str) -> str:
    return "-".join(text.lower().replace("-", " ").replace("_", " ").split())


def _imported() -> list[Defect]:
    out = []
    for name, symbol, fn, user, proto in _user.DEFECTS:
        out.append(Defect(f"user-{_slug(name)}", (fn.__doc__ or name).strip().splitlines()[0], _USER_KIND[name],
                          symbol, fn, (f"{user}/{proto}",), origin="tests/detection/test_user_defects.py"))
    for symbol, fn, _symptom in _prim.DEFECTS:
        first = " ".join((fn.__doc__ or fn.__name__).split())
        out.append(Defect(f"prim-{_slug(fn.__name__)}", first, _PRIMITIVE_KIND[fn.__name__], symbol, fn,
                          (f"primitive:{symbol}", *_PRIMITIVE_USER_CELLS.get(fn.__name__, ())),
                          origin="tests/detection/test_primitive_defects.py"))
    return out


def _d(id: str, kind: str, symbol: str, fn: Callable, *cells: str, series: str = "v3.18", step: str = "v3.18",
       limit: str = "") -> Defect:
    doc = " ".join((fn.__doc__ or id).split())
    return Defect(id, doc, kind, symbol, fn, cells, series, step, limit=limit)


_NEW = [
    # primitives, v3.18
    _d("copy-from-iter-no-clamp", "missing clamp", "copy_from_iter", copy_from_iter_without_clamp,
       "primitive:copy_from_iter"),
    _d("copy-to-iter-nr-segs", "lost bookkeeping", "copy_to_iter", copy_to_iter_forgets_nr_segs,
       "primitive:copy_to_iter"),
    _d("memcpy-toiovecend-length", "size for remaining", "memcpy_toiovecend",
       memcpy_toiovecend_ignores_offset_in_length, "primitive:memcpy_toiovecend"),
    _d("memcpy-toiovec-empty-segment", "missed zero-length segment", "memcpy_toiovec",
       memcpy_toiovec_spins_on_empty_segment, "primitive:memcpy_toiovec"),
    _d("memcpy-fromiovecend-stale-offset", "forgotten advance", "memcpy_fromiovecend",
       memcpy_fromiovecend_keeps_offset, "primitive:memcpy_fromiovecend"),
    _d("csum-partial-carry", "off-by-one", "csum_partial", csum_partial_drops_end_around_carry,
       "primitive:csum_partial"),
    _d("csum-block-add-even-swap", "odd-offset checksum", "csum_block_add", csum_block_add_swaps_even_offsets,
       "primitive:csum_block_add", "xs_udp_send_request/udp"),
    _d("csum-copy-remnant-sum-lost", "error reported as success", "csum_partial_copy_fromiovecend",
       csum_partial_copy_fromiovecend_loses_remnant_sum, "primitive:csum_partial_copy_fromiovecend"),
    # primitives, as-merged s04/s05
    _d("s04-iterate-skip-accumulates", "advance too many", "iterate_and_advance",
       iterate_and_advance_accumulates_skip, "primitive:copy_from_iter", "primitive:copy_to_iter",
       series="as-merged", step="s04"),
    _d("s05-csum-from-iter-offset-zero", "odd-offset checksum", "csum_and_copy_from_iter",
       csum_and_copy_from_iter_combines_at_zero, "primitive:csum_and_copy_from_iter",
       series="as-merged", step="s05"),
    _d("s05-csum-to-iter-seed-lost", "lost bookkeeping", "csum_and_copy_to_iter",
       csum_and_copy_to_iter_drops_running_sum, "primitive:csum_and_copy_to_iter", series="as-merged", step="s05"),
    # protocols, v3.18
    _d("tcp-sendmsg-size-for-seglen", "size for remaining", "tcp_sendmsg", tcp_sendmsg_copies_size_from_segment,
       "smb_send_kvec/tcp", "write_partial_kvec/tcp"),
    _d("tcp-recvmsg-no-clamp", "missing clamp", "tcp_recvmsg", tcp_recvmsg_takes_everything_queued,
       "iscsit_do_rx_data/tcp", "sock_xmit:recv/tcp"),
    _d("udp-send-skb-data-sum-lost", "lost bookkeeping", "udp_send_skb", udp_send_skb_header_sum_only,
       "xs_udp_send_request/udp", "tipc_send_to_sock/udp"),
    _d("unix-recvmsg-size-kept", "forgotten decrement", "unix_stream_recvmsg", unix_stream_recvmsg_keeps_size,
       "sock_xmit:recv/unix"),
    _d("netlink-sendmsg-reports-len", "error reported as success", "netlink_sendmsg", netlink_sendmsg_reports_len,
       "sock_no_sendpage/netlink"),
    # users, v3.18
    _d("cifs-remaining-kept", "forgotten decrement", "smb_send_kvec", smb_send_kvec_never_decrements_remaining,
       "smb_send_kvec/tcp"),
    _d("ceph-subtracts-next-entry", "off-by-one", "write_partial_kvec", write_partial_kvec_subtracts_next_entry,
       "write_partial_kvec/tcp"),
    _d("ceph-read-to-object-start", "forgotten advance", "read_partial", read_partial_reads_to_object_start,
       "read_partial/tcp"),
    _d("drbd-no-base-advance", "retry re-sends", "drbd_send", drbd_send_shortens_but_does_not_advance,
       "drbd_send/tcp"),
    _d("nbd-no-buf-advance", "retry re-sends", "sock_xmit", sock_xmit_forgets_buf_advance,
       "sock_xmit:send/tcp", "sock_xmit:recv/tcp"),
    _d("nbd-eof-is-success", "error reported as success", "sock_xmit", sock_xmit_eof_is_success,
       "sock_xmit:recv/tcp", "sock_xmit:recv/unix"),
    _d("sunrpc-bytes-sent-kept", "retry re-sends", "xs_tcp_send_request", xs_tcp_send_request_forgets_bytes_sent,
       "xs_tcp_send_request/tcp"),
    _d("sunrpc-send-kvec-base", "retry re-sends", "xs_send_kvec", xs_send_kvec_ignores_base,
       "xs_tcp_send_request/tcp"),
    _d("tipc-dequeue-before-send", "error reported as success", "tipc_send_to_sock", tipc_send_to_sock_dequeues_first,
       "tipc_send_to_sock/udp"),
    _d("sendpage-offset-ignored", "retry re-sends", "sock_no_sendpage", sock_no_sendpage_ignores_offset,
       "sock_no_sendpage/tcp"),
    _d("usbip-no-buf-advance", "forgotten advance", "usbip_recv", usbip_recv_forgets_buf_advance,
       "usbip_recv/tcp"),
    _d("ncpfs-iovlen-kept", "lost bookkeeping", "__ncptcp_try_send", ncptcp_try_send_keeps_iovlen,
       "__ncptcp_try_send/tcp"),
    _d("dlm-offset-kept", "retry re-sends", "writequeue_entry_complete", writequeue_entry_complete_keeps_offset,
       "send_to_sock/tcp"),
    _d("rds-header-start", "retry re-sends", "rds_tcp_xmit", rds_tcp_xmit_resends_header_start,
       "rds_tcp_xmit/tcp"),
    _d("ocfs2-short-send-success", "error reported as success", "o2net_send_tcp_msg",
       o2net_send_tcp_msg_short_send_is_success, "o2net_send_tcp_msg/tcp"),
    # out of bounds under KERNEL_DS: the kernel reads or overwrites the memory after the buffer (issue 10)
    _d("ceph-trims-base-only", "forgotten decrement", "write_partial_kvec", write_partial_kvec_trims_base_only,
       "write_partial_kvec/tcp"),
    _d("cifs-kvec-array-init-length", "forgotten decrement", "kvec_array_init", kvec_array_init_keeps_first_length,
       "cifs_readv_from_socket/tcp"),
    # series steps
    _d("s06-skb-copy-msg-iov", "removed field still read", "skb_copy_datagram_msg",
       skb_copy_datagram_msg_still_msg_iov, "iscsit_do_rx_data/tcp", series="as-merged", step="s06"),
    _d("s06-ocfs2-unconverted", "removed field still read", "o2net_send_tcp_msg", o2net_send_tcp_msg_unconverted,
       "o2net_send_tcp_msg/tcp", series="as-merged", step="s06"),
    _d("s14-memcpy-from-msg-fromiovec", "removed symbol still called", "memcpy_from_msg",
       memcpy_from_msg_still_memcpy_fromiovec, "sock_no_sendpage/netlink", series="as-merged", step="s14"),
    _d("s06-kernel-recvmsg-no-set-fs", "forgotten set_fs", "kernel_recvmsg", kernel_recvmsg_s06_without_set_fs,
       "iscsit_do_rx_data/tcp", "sock_xmit:recv/tcp", series="as-merged", step="s06"),
    _d("s13-tcp-sendmsg-double-advance", "advance too many", "tcp_sendmsg", tcp_sendmsg_s13_advances_twice,
       "smb_send_kvec/tcp", series="as-merged", step="s13"),
    _d("s15-kernel-sendmsg-no-iter-kvec", "forgotten flag", "kernel_sendmsg", kernel_sendmsg_s15_without_iter_kvec,
       "smb_send_kvec/tcp", series="as-merged", step="s15"),
    _d("s08-iscsi-rx-full-length", "size for remaining", "iscsit_do_rx_data", iscsit_do_rx_data_s08_asks_for_everything,
       "iscsit_do_rx_data/tcp", series="as-merged", step="s08"),
    _d("s09-l2cap-double-advance", "advance too many", "l2cap_skbuff_fromiovec",
       l2cap_skbuff_fromiovec_s09_advances_twice, "sock_no_sendpage/l2cap", series="as-merged", step="s09"),
    _d("n07-iscsi-kvec-array-base", "forgotten advance", "iscsit_kvec_array_init",
       iscsit_kvec_array_init_n07_forgets_base, "iscsit_do_rx_data/tcp", series="iov_iter-net", step="n07"),
    _d("n12-iscsi-tx-reinit-iter", "retry re-sends", "iscsit_do_tx_data", iscsit_do_tx_data_n12_reinits_iter,
       "iscsit_do_tx_data/tcp", series="iov_iter-net", step="n12"),
]

CORPUS: tuple[Defect, ...] = tuple(_imported() + _NEW)

# Limits of the previous quick bounds (3 x 2 x 2 x 2) that the present ones (3 x 3 x 3 x 3) reach.
_REACHED = [
    _d("unix-sendmsg-offset-zero", "forgotten advance", "unix_stream_sendmsg", unix_stream_sendmsg_copies_from_start,
       "sock_xmit:send/unix", "xs_local_send_request/unix", "sock_no_sendpage/unix"),
    _d("l2cap-cb-by-offset", "forgotten advance", "l2cap_sock_memcpy_fromiovec_cb",
       l2cap_sock_memcpy_fromiovec_cb_by_offset, "sock_no_sendpage/l2cap"),
    _d("cifs-gives-up-quietly", "error reported as success", "smb_send_kvec", smb_send_kvec_gives_up_quietly,
       "smb_send_kvec/tcp"),
]

CORPUS = CORPUS + tuple(_REACHED)

LIMITS: tuple[Defect, ...] = (
    _d("csum-copy-remnant-source", "forgotten advance", "csum_partial_copy_fromiovecend",
       csum_partial_copy_fromiovecend_remnant_from_segment_start, "primitive:csum_partial_copy_fromiovecend",
       limit="needs a non-final piece of >= 5 bytes (a 4-byte multiple and a remnant): quick exhaustive segments "
             "hold <= 3; no UDP user passes more than one segment per datagram, so only the primitive's own "
             "contract at a larger scope can see it (thorough exhaustive, <= 3 bytes, does not)"),
    _d("l2cap-frag-pointer", "forgotten advance", "l2cap_skbuff_fromiovec",
       l2cap_skbuff_fromiovec_frag_pointer_not_advanced, "sock_no_sendpage/l2cap",
       limit="needs two continuation fragments, an SDU of >= 9 bytes in one send: sock_no_sendpage sends one "
             "pipe buffer (one segment, <= 6 bytes in the CrossHair scope) per call; thorough (<= 16-byte "
             "segments) gives the CrossHair engine the scope, not the exhaustive search (<= 3)"),
    _d("udp-fragment-sums-dropped", "lost bookkeeping", "udp_send_skb", udp_send_skb_ignores_fragments,
       "xs_udp_send_request/udp", "tipc_send_to_sock/udp",
       limit="needs a datagram of more than 40 payload bytes (two IP fragments at the model's MTU of 68): "
             "beyond every profile's scope"),
)

ALL: tuple[Defect, ...] = CORPUS + LIMITS

# Mutations the combined checker does not catch at any bound, with the reason: "equivalent" (no
# defect under the contract: it fails safely, or the model's world makes it harmless) or "gap" (a
# defect the model cannot show). The test checks they still come out CONFIRMED, so closing a gap
# shows up here and the defect moves to CORPUS.
UNCAUGHT: tuple[Defect, ...] = (
    _d("iscsi-rx-zero-is-progress", "off-by-one", "iscsit_do_rx_data", iscsit_do_rx_data_counts_zero_as_progress,
       "iscsit_do_rx_data/tcp",
       limit="equivalent: in the model an EOF window ends one wait only; the next call's window lets the rest "
             "of the peer's data arrive, so counting the 0 as progress and calling again completes the read"),
)


def by_id(defect_id: str) -> Defect:
    for d in ALL:
        if d.id == defect_id:
            return d
    raise KeyError(defect_id)


def _check_unique() -> None:
    ids = [d.id for d in ALL]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate defect ids: {sorted(dup)}")


_check_unique()

__all__ = ["ALL", "CORPUS", "KINDS", "LIMITS", "UNCAUGHT", "Defect", "by_id", "split_cell", "step_image"]
