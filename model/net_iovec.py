"""net/core/iovec.c (v3.18): verify_iovec() and csum_partial_copy_fromiovecend().

``verify_iovec`` is the syscall path's copy of the user's iovec array into a kernel array: after
it, ``msg_iov`` points at the kernel copy and nothing a protocol does to that copy reaches the
user's array. The body is the 3.18 one: copy_from_user of the whole array, then the lengths
summed with each clamped so the total stays below INT_MAX; no access_ok ("copy_*_user will make
this work in any case"); ``mode`` is VERIFY_READ for a send. The UIO_MAXIOV check (-EMSGSIZE)
and the kmalloc of a larger array are the caller's (___sys_sendmsg/___sys_recvmsg): "The caller
must ensure that the iovec is big enough". Source: two independent 3.18 vendor trees (Samsung
universal7870 and universal7880, the lines outside their merge conflicts). The
rw_copy_check_uvector() form quoted in kernel-facts §2.1 (upstream blob 08449320) is a later
state of the file, on the way to 3.19's copy_msghdr_from_user(). Simplified: the user's array
is a struct array in the model's memory (the model has no user-space struct memory), copied
element by element, and move_addr_to_kernel() is a byte copy of ``msg_namelen`` (<= 128)
bytes. No in-kernel user goes through it.

``csum_partial_copy_fromiovecend`` is offset-based and leaves the iovec alone (it advances a
local pointer only). It keeps its ``csum_and_copy_from_user`` calls on 4-byte multiples: the 1-3
bytes left at the end of a segment ("partial_cnt") are copied raw, completed from the next
segment and summed as one 4-byte unit with ``csum_partial``. ``__wsum *csump`` is a one-element
list, written only on success (and on the one early ``goto out`` that stores the final remnant).
Like the upstream C it has no ``len == 0`` guard (one of the vendor trees adds "No data? Done!"):
a zero-length call whose ``offset`` is at or past the data walks the skip loop off the end of the
array (an Oops here; a stray read in the kernel). ``iov_pages`` is not modelled: no modelled
path sizes pages.
"""

from __future__ import annotations

from model.errno import EFAULT, EINVAL
from model.kernel import NULL, Ptr
from model.socket_h import msghdr
from model.uaccess import VERIFY_READ

_SOCKADDR_STORAGE_SIZE = 128  # sizeof(struct sockaddr_storage)
_INT_MAX = 0x7FFFFFFF


def verify_iovec(k, m: msghdr, iov: Ptr, address: Ptr, mode: int) -> int:
    """Copy ``m``'s iovec array into the kernel array ``iov`` and point ``m.msg_iov`` at the copy.

    "Verify iovec. The caller must ensure that the iovec is big enough to hold the message
    iovec." ``mode`` is VERIFY_READ for a send (the name is moved in), VERIFY_WRITE for a
    receive. Returns the total length or a negative errno.
    """
    if m.msg_name != NULL and m.msg_namelen:
        if mode == VERIFY_READ:
            # move_addr_to_kernel()
            if m.msg_namelen < 0 or m.msg_namelen > _SOCKADDR_STORAGE_SIZE:
                return -EINVAL
            if k.copy_from_user(address, m.msg_name, m.msg_namelen):
                return -EFAULT
        m.msg_name = address
    else:
        m.msg_name = NULL
        m.msg_namelen = 0

    # size = m->msg_iovlen * sizeof(struct iovec); copy_from_user(iov, m->msg_iov, size)
    for ct in range(m.msg_iovlen):
        user = k.mem.elem(m.msg_iov + ct)
        copy = k.mem.elem(iov + ct)
        copy.iov_base = user.iov_base
        copy.iov_len = user.iov_len

    m.msg_iov = iov
    err = 0

    for ct in range(m.msg_iovlen):
        seg = k.mem.elem(iov + ct)
        length = seg.iov_len
        if length > _INT_MAX - err:
            length = _INT_MAX - err
            seg.iov_len = length
        err += length

    return err


def csum_partial_copy_fromiovecend(k, kdata: Ptr, iov: Ptr, offset: int, len: int, csump: list[int]) -> int:
    """Copy ``len`` bytes from ``offset`` bytes into the iovec to ``kdata`` and add their checksum
    to ``csump[0]``. "Calls to csum_partial but the last must be in 32 bit chunks". Returns 0 or
    -EFAULT; the iovec is not modified."""
    csum = csump[0]
    partial_cnt = 0
    err = [0]

    # Skip over the finished iovecs
    while offset >= k.mem.elem(iov).iov_len:
        offset -= k.mem.elem(iov).iov_len
        iov = iov + 1

    while len > 0:
        seg = k.mem.elem(iov)
        base = seg.iov_base + offset
        copy = min(len, seg.iov_len - offset)

        offset = 0

        # There is a remnant from previous iov.
        if partial_cnt:
            par_len = 4 - partial_cnt

            # iov component is too short ...
            if par_len > copy:
                if k.copy_from_user(kdata, base, copy):
                    return -EFAULT  # out_fault
                kdata = kdata + copy
                base = base + copy
                partial_cnt += copy
                len -= copy
                iov = iov + 1
                if len:
                    continue
                csump[0] = k.csum_partial(kdata + -partial_cnt, partial_cnt, csum)
                return err[0]  # goto out
            if k.copy_from_user(kdata, base, par_len):
                return -EFAULT  # out_fault
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
                    return -EFAULT  # out_fault

        if copy:
            csum = k.csum_and_copy_from_user(base, kdata, copy, csum, err)
            if err[0]:
                return err[0]  # goto out
        len -= copy + partial_cnt
        kdata = kdata + (copy + partial_cnt)
        iov = iov + 1
    csump[0] = csum
    return err[0]
