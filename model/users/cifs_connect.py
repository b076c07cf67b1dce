"""fs/cifs/connect.c (v3.18): cifs_readv_from_socket(), the SMB response receive loop.

On every iteration kvec_array_init() copies the caller's kvec array into a scratch array
(server->iov, from get_server_iovec()) and advances the copy by ``total_read``, so the
kernel_recvmsg() of that iteration starts right after what has arrived, whatever the previous
call did to the scratch array. The caller's array is never handed to the protocol, and cifs
itself counts progress in ``total_read``/``to_read``: robust under any receive behaviour.
-ERESTARTSYS, -EAGAIN and -EINTR are retried (after usleep_range(1000, 2000)); 0 or another error
makes cifs reconnect and fail the read with -ECONNABORTED.

Simplified: server_unresponsive() (jiffies against the echo interval) is never true, since time
is not an input; cifs_reconnect() and another thread setting tcpStatus are not modelled, so the
CifsExiting/CifsNeedReconnect checks after each call see CifsGood. The scratch array is
allocated per call instead of being cached in server->iov (get_server_iovec()): no caller can
tell. The socket carries generic_ip_connect()'s 7 s receive timeout. The struct is the one
model/users/cifs_transport.py defines (cifsglob.h's TCP_Server_Info). Source: 3.1x connect.c;
whether v3.18 already returned -ECONNABORTED (rather than the older -EAGAIN) is not confirmed.
"""

from __future__ import annotations

from model.errno import EAGAIN, ECONNABORTED, EINTR, ENOMEM, ERESTARTSYS, ESHUTDOWN
from model.kernel import NULL, Ptr
from model.param import HZ
from model.users import RECV, User

_CifsGood = 1  # enum statusEnum { CifsNew = 0, CifsGood, CifsExiting, CifsNeedReconnect, ... }
_CifsExiting = 2
_CifsNeedReconnect = 3


def kvec_array_init(k, new: Ptr, iov: Ptr, nr_segs: int, bytes: int) -> int:
    """Clone a kvec array, and advance into it.

    This function will copy the array provided in iov to a section of memory and advance the
    specified number of bytes into the new array. It returns the number of segments in the new
    array. "new" must be at least as big as the original iov array.
    """
    base = 0
    while bytes or not k.mem.elem(iov).iov_len:
        copy = min(bytes, k.mem.elem(iov).iov_len)
        bytes -= copy
        base += copy
        if k.mem.elem(iov).iov_len == base:
            iov = iov + 1
            nr_segs -= 1
            base = 0
    # memcpy(new, iov, sizeof(*iov) * nr_segs);
    for i in range(nr_segs):
        src = k.mem.elem(iov + i)
        dst = k.mem.elem(new + i)
        dst.iov_base = src.iov_base
        dst.iov_len = src.iov_len
    first = k.mem.elem(new)
    first.iov_base = first.iov_base + base
    first.iov_len -= base
    return nr_segs


def get_server_iovec(k, server, nr_segs: int) -> Ptr:
    """Not big enough -- allocate a new one (the model does not cache it in server->iov)."""
    return k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(nr_segs)], name="server->iov")


def cifs_readv_from_socket(k, server, iov_orig: Ptr, nr_segs: int, to_read: int) -> int:
    length = 0
    iov = k.get_server_iovec(server, nr_segs)
    if iov == NULL:
        return -ENOMEM

    smb_msg = k.msghdr()
    smb_msg.msg_control = NULL
    smb_msg.msg_controllen = 0

    total_read = 0
    while to_read:
        # try_to_freeze();
        # if (server_unresponsive(server)) { total_read = -ECONNABORTED; break; }: never, see above

        segs = k.kvec_array_init(iov, iov_orig, nr_segs, total_read)

        length = k.kernel_recvmsg(server.ssocket, smb_msg, iov, segs, to_read, 0)

        if server.tcpStatus == _CifsExiting:
            total_read = -ESHUTDOWN
            break
        elif server.tcpStatus == _CifsNeedReconnect:
            # cifs_reconnect(server);
            total_read = -ECONNABORTED
            break
        elif length == -ERESTARTSYS or length == -EAGAIN or length == -EINTR:
            # Minimum sleep to prevent looping, allowing socket to clear and app threads to set
            # tcpStatus CifsNeedReconnect if server hung.
            # usleep_range(1000, 2000);
            length = 0
            total_read += length
            to_read -= length
            continue
        elif length <= 0:
            # "Received no data or error: expecting %d\ngot %d"
            # cifs_reconnect(server);
            total_read = -ECONNABORTED
            break
        total_read += length
        to_read -= length
    return total_read


def _read_response(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """cifs_read_from_socket()/cifs_readv_receive()'s use: a negative result makes the demultiplex
    thread drop the response (``if (length < 0) continue;``)."""
    # generic_ip_connect(): socket->sk->sk_rcvtimeo = 7 * HZ; socket->sk->sk_sndtimeo = 5 * HZ;
    sock.sk.sk_rcvtimeo = 7 * HZ
    sock.sk.sk_sndtimeo = 5 * HZ
    server = k.TCP_Server_Info(ssocket=sock, tcpStatus=_CifsGood)
    length = k.cifs_readv_from_socket(server, vec, nr_segs, total)
    return length


USERS = (
    User("cifs_readv_from_socket", "fs/cifs/connect.c", RECV, ("tcp",), _read_response,
         note="rebuilds a scratch kvec from the original with kvec_array_init() on every call"),
)
