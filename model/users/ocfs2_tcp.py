"""fs/ocfs2/cluster/tcp.c (v3.18): o2net_send_tcp_msg(), the o2net message send.

One blocking send of the whole kvec array: ``msg_iov`` is the caller's kvec array cast to
``struct iovec *`` and sock_sendmsg() runs under set_fs(get_ds()), which is what
kernel_sendmsg() does. Anything but the full ``total`` is an error: a short count becomes
-EPIPE ("should be smarter, I bet") and the caller, o2net_send_message_vec(), fails the message.
There is no retry, so what the protocol does to the kvec array cannot matter.

Simplified: the caller's vec is sent as it is (o2net_send_message_vec() prepends its own
o2net_msg header in a copied array; here the first kvec stands for it); mlog() is a comment.
[INF] v3.18 is taken to open-code kernel_sendmsg() as ocfs2 had since 2.6.16 (read in that form
in a 2.6 tree and in staging/ramster's 3.x copy of this file); the kernel_sendmsg() form that
reference §4.1 describes is believed to be Al Viro's "don't open-code kernel_sendmsg()" of the
3.19 cycle. Both make the same calls under the hood.
"""

from __future__ import annotations

from model.errno import EINVAL, EPIPE
from model.kernel import Ptr
from model.users import SEND, User


def o2net_send_tcp_msg(k, sock, vec: Ptr, veclen: int, total: int) -> int:
    msg = k.msghdr()
    msg.msg_iov = vec  # (struct iovec *)vec
    msg.msg_iovlen = veclen

    if sock is None:
        ret = -EINVAL
    else:
        oldfs = k.get_fs()
        k.set_fs(k.get_ds())
        ret = k.sock_sendmsg(sock, msg, total)
        k.set_fs(oldfs)
        if ret != total:
            # mlog(ML_ERROR, "sendmsg returned %d instead of %zu\n", ret, total);
            if ret >= 0:
                ret = -EPIPE  # should be smarter, I bet
        else:
            ret = 0
    # out:
    # if (ret < 0) mlog(0, "returning error: %d\n", ret);
    return ret


def _send_message_vec(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """o2net_send_message_vec()'s use: ``if (ret < 0) goto out`` fails the message."""
    # mutex_lock(&sc->sc_send_lock);
    ret = k.o2net_send_tcp_msg(sock, vec, nr_segs, total)
    # mutex_unlock(&sc->sc_send_lock);
    return ret if ret < 0 else total


USERS = (
    User("o2net_send_tcp_msg", "fs/ocfs2/cluster/tcp.c", SEND, ("tcp",), _send_message_vec,
         note="one blocking send; a short count is -EPIPE, no retry"),
)
