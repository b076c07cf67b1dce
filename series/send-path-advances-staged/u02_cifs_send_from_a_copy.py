"""cifs: hand kernel_sendmsg() a copy of the kvec array

smb_send_kvec() advances its own kvec array after a short send: it
zeroes the entries sent and trims the partial one, then passes the array
from first_vec again.  That is right only while the send path leaves the
array alone; a send path that consumes it (the last step of this series)
would make cifs skip what the socket already took.  Pass the send path a
scratch copy of the entries left, so cifs' own accounting stays the only
advance whatever the send path does to the copy.

Not an upstream patch: part of this series' staging of the alternative
rejected on 2014-11-20 ("you'll break smb_send_kvec()").  One copy of at
most n_vec kvecs per call, from kernel memory (kmalloc in C).
"""

from __future__ import annotations

from checks.series import Step
from model.errno import EAGAIN
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL

STEP = Step(
    subject="cifs: hand kernel_sendmsg() a copy of the kvec array",
    upstream=None,
    intends=("smb_send_kvec no longer relies on the send path leaving its kvec array alone",),
)


def _scratch_kvecs(k, iov, n):
    """A copy of ``n`` kvecs from ``iov`` in a new kernel array (private to this step)."""
    return k.mem.alloc_array([k.kvec(iov_base=s.iov_base, iov_len=s.iov_len)
                              for s in (k.mem.elem(iov + i) for i in range(n))], name="cifs scratch kvec")


def smb_send_kvec(k, server, iov, n_vec: int, sent: list) -> int:
    """Send ``n_vec`` kvecs; ``sent[0]`` is ``*sent``, the bytes the socket took."""
    rc = 0
    ssocket = server.ssocket
    sent[0] = 0
    smb_msg = k.msghdr()
    if server.noblocksnd:
        smb_msg.msg_flags = MSG_DONTWAIT + MSG_NOSIGNAL
    else:
        smb_msg.msg_flags = MSG_NOSIGNAL

    remaining = 0
    for i in range(n_vec):
        remaining += k.mem.elem(iov + i).iov_len

    first_vec = 0
    i = 0
    while remaining:
        # the send path may consume what it is given: give it a copy of the array from first_vec
        rc = k.kernel_sendmsg(ssocket, smb_msg, _scratch_kvecs(k, iov + first_vec, n_vec - first_vec),
                              n_vec - first_vec, remaining)
        if rc == -EAGAIN:
            i += 1
            if i >= 14 or (not server.noblocksnd and i > 2):
                # "sends on sock %p stuck for 15 seconds"
                rc = -EAGAIN
                break
            continue  # msleep(1 << i)
        if rc < 0:
            break
        # send was at least partially successful
        sent[0] += rc
        if rc == remaining:
            remaining = 0
            break
        if rc > remaining:
            # "sent %d requested %d"
            break
        if rc == 0:
            # should never happen, letting socket clear before retrying is our only obvious
            # option here (msleep(500))
            continue
        remaining -= rc
        # the line below resets i
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
        i = 0  # in case we get ENOSPC on the next send
        rc = 0
    return rc
