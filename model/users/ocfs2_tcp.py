"""fs/ocfs2/cluster/tcp.c (v3.18): o2net_send_tcp_msg(), the o2net message send.

One blocking kernel_sendmsg() of the whole kvec array (fs/ocfs2/cluster/tcp.c:924-944@3.18.9).
Anything but the full ``total`` is an error: a short count becomes -EPIPE ("should be smarter, I
bet") and the caller, o2net_send_message_vec(), fails the message. There is no retry, so what the
protocol does to the kvec array cannot matter.

Simplified: the caller's vec is sent as it is (o2net_send_message_vec() prepends its own
o2net_msg header in a copied array; here the first kvec stands for it); mlog() is a comment.
"""

from __future__ import annotations

from model.errno import EINVAL, EPIPE
from model.kernel import Ptr
from model.users import SEND, User


def o2net_send_tcp_msg(k, sock, vec: Ptr, veclen: int, total: int) -> int:
    msg = k.msghdr()  # {.msg_flags = 0,}

    if sock is None:
        ret = -EINVAL
    else:
        ret = k.kernel_sendmsg(sock, msg, vec, veclen, total)
        if ret == total:  # likely
            return 0
        # mlog(ML_ERROR, "sendmsg returned %d instead of %zu\n", ret, total);
        if ret >= 0:
            ret = -EPIPE  # should be smarter, I bet
    # out:
    # mlog(0, "returning error: %d\n", ret);
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
