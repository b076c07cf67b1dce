"""fs/cifs/transport.c (v3.18): smb_send_kvec(), the SMB request send loop.

The caller advances its own kvec array after a short send: it subtracts ``rc`` segment by
segment, zeroing fully sent entries and trimming the partial one, and restarts from
``first_vec``. That is only right while the protocol leaves the array alone (TCP in 3.18): a
send path that also consumed the array would make cifs skip data.

Two cells: ``smb_send_kvec`` judges the loop's own report (``rc`` and ``*sent``);
``smb_send_rqst`` judges what its caller concludes. smb_send_rqst() marks the session for
reconnect after a partial send, but an error skips the ``total_len += sent`` accounting and
-EINTR is then turned into success (``rc = 0``): a partial send cut by a signal is reported as
sent. [INF: read in a 3.1x fs/cifs/transport.c by the fidelity review, not in a pristine v3.18.]

Simplified: ``msleep`` backoffs are not modelled (time is not an input); the ``noblocksnd`` mount
option is the user's mode; the sockets carry generic_ip_connect()'s timeouts (5 s send, 7 s
receive), so a wait can time out and a signal gives -EINTR. TCP_CORK and the page array of the
request are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN, EINTR
from model.kernel import Ptr
from model.param import HZ
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL
from model.users import SEND, User

CifsNeedReconnect = 3  # enum statusEnum { CifsNew = 0, CifsGood, CifsExiting, CifsNeedReconnect }


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


def smb_send_rqst(k, server: TCP_Server_Info, iov: Ptr, n_vec: int, smb_buf_length: int) -> int:
    """The request send, for a request of kvecs only (no page array)."""
    total_len = 0
    sent = [0]
    rc = k.smb_send_kvec(server, iov, n_vec, sent)
    if rc >= 0:  # rc < 0: goto uncork
        total_len += sent[0]
    # uncork:
    if total_len > 0 and total_len != smb_buf_length:
        # "partial send (wanted=%u sent=%zu): terminating session"
        server.tcpStatus = CifsNeedReconnect
    if rc < 0 and rc != -EINTR:
        pass  # "Error %d sending data on socket to server"
    else:
        rc = 0
    return rc


def _server(sock, mode: str) -> TCP_Server_Info:
    # generic_ip_connect(): socket->sk->sk_rcvtimeo = 7 * HZ; socket->sk->sk_sndtimeo = 5 * HZ;
    sock.sk.sk_rcvtimeo = 7 * HZ
    sock.sk.sk_sndtimeo = 5 * HZ
    return TCP_Server_Info(ssocket=sock, noblocksnd=(mode == "noblocksnd"))


def _send_kvec(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """smb_send_kvec()'s own report: an error, or 0 with ``*sent`` bytes sent."""
    sent = [0]
    rc = k.smb_send_kvec(_server(sock, mode), vec, nr_segs, sent)
    return rc if rc < 0 else sent[0]


def _send_request(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """What the request path concludes: smb_send_rqst()'s rc, or a session marked for reconnect."""
    server = _server(sock, mode)
    rc = k.smb_send_rqst(server, vec, nr_segs, total)
    if rc == 0 and server.tcpStatus == CifsNeedReconnect:
        return -EAGAIN  # the session is torn down: the request fails
    return rc


USERS = (
    User("smb_send_kvec", "fs/cifs/transport.c", SEND, ("tcp",), _send_kvec, modes=("blocking", "noblocksnd"),
         note="advances its own kvec after a short send"),
    User("smb_send_rqst", "fs/cifs/transport.c", SEND, ("tcp",), _send_request, modes=("blocking", "noblocksnd"),
         note="its caller: -EINTR after a partial send becomes success"),
)
