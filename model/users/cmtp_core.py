"""net/bluetooth/cmtp/core.c (v3.18): cmtp_send_frame() and cmtp_process_transmit(), CAPI
messages over L2CAP.

cmtp_process_transmit() (:209@3.18.9) packs the queued CAPI messages into frames of at most
``session->mtu`` bytes, each block behind a 2- or 3-byte header, and sends each frame with
cmtp_send_frame() (:193): one kernel_sendmsg() of a one-element kvec on the stack with a zeroed
msghdr (blocking); a zero length sends nothing. Its result is not looked at (:228, :266, :273):
a frame the socket refuses is freed with the rest of the transmit pass, and nothing tells the
CAPI application. The session thread (cmtp_session(), :278) ends once the socket is no longer
BT_CONNECTED (:296), and the controller goes down with it (cmtp_detach_device()). It is a kthread
(kthread_run(), :377) that never calls allow_signal(): no signal is ever pending in it, so no wait of
its ends in one (``signals=False``). A frame is lost silently only when a wait fails otherwise: an
SO_SNDTIMEO that userspace set on the socket before handing it over [INF; not modelled: the model's
L2CAP socket has no send timeout].

Simplified, and why no caller can tell: the checker's kvecs are the frames as
cmtp_process_transmit() has built them in ``nskb`` (block headers included), sent one after the
other; the block ids and the packing are not modelled, since they decide only what each frame
holds. Unchanged in 3.19, 4.0 and 4.1 (the same lines in the 3.19.8, 4.0.5 and 4.1.6 trees).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import ENOTCONN
from model.kernel import Ptr
from model.proto.l2cap import BT_CONNECTED, _l2cap_state
from model.users import SEND, User


@dataclass(slots=True)
class cmtp_session:
    sock: object  # struct socket *


def cmtp_send_frame(k, session: cmtp_session, data: Ptr, len: int) -> int:
    sock = session.sock

    if not len:
        return 0

    msg = k.msghdr()  # memset(&msg, 0, sizeof(msg));
    iv = k.mem.alloc_array([k.kvec(iov_base=data, iov_len=len)], name="cmtp_send_frame iv")
    return k.kernel_sendmsg(sock, msg, iv, 1, len)


def _cmtp_process_transmit(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """cmtp_process_transmit() sending the frames it built, ignoring each result as the kernel
    does; the CAPI side learns of a failure only when the session ends with its socket (the
    controller goes down)."""
    session = k.cmtp_session(sock=sock)
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        k.cmtp_send_frame(session, seg.iov_base, seg.iov_len)
    if _l2cap_state(sock.sk) != BT_CONNECTED:
        return -ENOTCONN  # cmtp_session() breaks out: capi_ctr_down()
    return total


USERS = (
    User("cmtp_send_frame", "net/bluetooth/cmtp/core.c", SEND, ("l2cap",), _cmtp_process_transmit,
         note="one kernel_sendmsg per frame, fresh kvec; the result is ignored", signals=False),
)
