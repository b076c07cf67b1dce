"""fs/cifs/transport.c (v3.18): smb_send_kvec(), the SMB request send loop.

The caller advances its own kvec array after a short send: it subtracts ``rc`` segment by
segment, zeroing fully sent entries and trimming the partial one, and restarts from
``first_vec``. That is only right while the protocol leaves the array alone (TCP in 3.18): a
send path that also consumed the array would make cifs skip data.

Simplified: ``msleep`` backoffs are not modelled (time is not an input); the ``noblocksnd`` mount
option is the user's mode. The caller's check is smb_send_rqst()'s: a partial send marks the
session for reconnect, which is how it reports the failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN
from model.kernel import Ptr
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL
from model.users import SEND, User

CifsNeedReconnect = 2


@dataclass(slots=True)
class TCP_Server_Info:
    ssocket: object
    noblocksnd: bool = False
    tcpStatus: int = 0


def smb_send_kvec(k, server: TCP_Server_Info, iov: Ptr, n_vec: int, sent: list) -> int:
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
        rc = k.kernel_sendmsg(ssocket, smb_msg, iov + first_vec, n_vec - first_vec, remaining)
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


def _smb_send_rqst(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """smb_send_rqst()'s use of it: an error, or a partial send, fails the request."""
    server = TCP_Server_Info(ssocket=sock, noblocksnd=(mode == "noblocksnd"))
    sent = [0]
    rc = k.smb_send_kvec(server, vec, nr_segs, sent)
    if rc < 0:
        return rc
    if sent[0] > 0 and sent[0] != total:
        # "partial send (wanted=%u sent=%zu): terminating session"
        server.tcpStatus = CifsNeedReconnect
        return -EAGAIN
    return sent[0]


USERS = (
    User(
        name="smb_send_kvec",
        kfile="fs/cifs/transport.c",
        direction=SEND,
        protocols=("tcp",),
        entry=_smb_send_rqst,
        modes=("blocking", "noblocksnd"),
        note="advances its own kvec after a short send",
    ),
)
