"""drivers/vhost/net.c (v3.18): handle_tx(), vhost-net's transmit: the guest's packets go to a
tun socket through ``sock->ops->sendmsg`` with an iovec of user memory.

handle_tx() (drivers/vhost/net.c:334@3.18.9) takes the next descriptor chain with
vhost_get_vq_desc(), which translates it into ``vq->iov``: an iovec of addresses in the guest's
memory, mapped into the owner's user address space (the vhost worker runs with use_mm() and
USER_DS [INF: drivers/vhost/vhost.c vhost_worker(), not in the reference set]). It strips the
guest's virtio-net header with move_iovec_hdr() (:238), which advances ``vq->iov`` itself
("Pop first len bytes from iovec") and copies the header's pieces into ``nvq->hdr``, then
calls ``sock->ops->sendmsg(NULL, sock, &msg, len)`` directly (:434) with ``msg.msg_iov =
vq->iov``, ``msg_iovlen = out`` and MSG_DONTWAIT: not kernel_sendmsg(), no set_fs(), no kvec.
An error puts the descriptor back (vhost_discard_vq_desc()) and stops until the next kick or
until the socket has room (the tx poll); the next pass translates the chain afresh into
``vq->iov``, so what move_iovec_hdr() or the protocol did to it is forgotten. A packet sent is
used (vhost_add_used_and_signal()); a short count only logs "Truncated TX packet".

3.19 (drivers/vhost/net.c:397-400@3.19.8) keeps move_iovec_hdr() and sets the iterator with
iov_iter_init(&msg.msg_iter, WRITE, vq->iov, out, len); 4.1 (:357-358@4.1.6) skips the header
with iov_iter_advance() instead (not modelled: 4.0's vhost/net.c is not in the reference set).

Simplified, and why no caller can tell: the descriptor chain is the checker's kvecs, copied into
user memory as the guest's buffers, the first one behind the guest's 10-byte virtio-net header in
the same buffer (VIRTIO_F_ANY_LAYOUT; VHOST_NET_F_VIRTIO_NET_HDR negotiated: ``vhost_hlen`` =
sizeof(struct virtio_net_hdr), ``sock_hlen`` = 0), so move_iovec_hdr() splits that buffer; the
guest, the ring, the used index, notification, zerocopy (``msg_control`` NULL) and
VHOST_NET_WEIGHT are comments or the entry. The backend is a tun socket (model/proto/tun.py);
macvtap and the receive path (handle_rx(), ``->recvmsg``) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.kernel import NULL, USER_SPACE, Ptr
from model.socket_h import MSG_DONTWAIT
from model.users import SEND, User

_VIRTIO_NET_HDR_LEN = 10  # sizeof(struct virtio_net_hdr)


@dataclass(slots=True)
class vhost_virtqueue:
    iov: Ptr  # struct iovec iov[UIO_MAXIOV]
    private_data: object = None  # the backend's struct socket *
    num: int = 1


@dataclass(slots=True)
class vhost_net_virtqueue:
    vq: vhost_virtqueue
    hdr: Ptr  # struct iovec hdr[sizeof(struct virtio_net_hdr_mrg_rxbuf)]
    vhost_hlen: int = _VIRTIO_NET_HDR_LEN
    sock_hlen: int = 0


@dataclass(slots=True)
class _guest_tx:
    """The guest's side, model only: its TX descriptor chain (user addresses and lengths), and
    whether the device has used it."""

    chain: tuple[tuple[Ptr, int], ...]
    used: bool = False


def move_iovec_hdr(k, from_: Ptr, to: Ptr, len: int, iov_count: int) -> int:
    """Pop first len bytes from iovec. Return number of segments used."""
    seg = 0
    while len and seg < iov_count:
        f = k.mem.elem(from_)
        t = k.mem.elem(to)
        size = min(f.iov_len, len)
        t.iov_base = f.iov_base
        t.iov_len = size
        f.iov_len -= size
        f.iov_base = f.iov_base + size
        len -= size
        from_ = from_ + 1
        to = to + 1
        seg += 1
    return seg


def _vhost_get_vq_desc(k, vq: vhost_virtqueue, guest: _guest_tx) -> tuple[int, int, int]:
    """vhost_get_vq_desc(): the head and the chain translated afresh into ``vq->iov``
    (``out`` readable segments, ``in`` 0); ``vq->num`` when the guest has nothing new."""
    if guest.used:
        return vq.num, 0, 0
    for i, (base, n) in enumerate(guest.chain):
        v = k.mem.elem(vq.iov + i)
        v.iov_base, v.iov_len = base, n
    return 0, len(guest.chain), 0


def handle_tx(k, nvq: vhost_net_virtqueue, guest: _guest_tx) -> None:
    """Expects to be always run from workqueue - which acts as read-size critical section for
    our kind of RCU. ``guest`` is the model's stand-in for the ring (see _vhost_get_vq_desc)."""
    vq = nvq.vq
    msg = k.msghdr()
    msg.msg_iov = vq.iov
    msg.msg_flags = MSG_DONTWAIT

    # mutex_lock(&vq->mutex);
    sock = vq.private_data
    if sock is None:
        return

    hdr_size = nvq.vhost_hlen

    while True:
        head, out, in_ = _vhost_get_vq_desc(k, vq, guest)
        # Nothing new?  Wait for eventfd to tell us they refilled.
        if head == vq.num:
            break
        # Skip header. TODO: support TSO.
        k.move_iovec_hdr(vq.iov, nvq.hdr, hdr_size, out)
        msg.msg_iovlen = out
        len = sum(k.mem.elem(vq.iov + i).iov_len for i in range(out))  # iov_length(vq->iov, out)
        # Sanity check
        if not len:
            # vq_err(vq, "Unexpected header len for TX: ...");
            break

        msg.msg_control = NULL  # zerocopy off
        # TODO: Check specific error and bomb out unless ENOBUFS?
        err = getattr(k, sock.ops.sendmsg)(None, sock, msg, len)
        if err < 0:
            # vhost_discard_vq_desc(vq, 1);
            break
        # if (err != len) pr_debug("Truncated TX packet: len %d != %zd\n", err, len);
        guest.used = True  # vhost_add_used_and_signal(&net->dev, vq, head, 0);
    # mutex_unlock(&vq->mutex);


def _vhost_net_tx(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """The guest queues one packet (its header, then the checker's kvecs as its buffers, in
    user memory) and kicks; handle_tx() runs on every kick and every tx poll wake-up until the
    descriptor is used."""
    chain = []
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        data = k.mem.read(seg.iov_base, seg.iov_len)
        if i == 0:  # VIRTIO_F_ANY_LAYOUT: the header shares the first buffer
            data = bytes(_VIRTIO_NET_HDR_LEN) + data
        buf = k.mem.alloc_bytes(data, space=USER_SPACE, name=f"guest buffer {i}")
        chain.append((buf, len(data)))
    guest = _guest_tx(chain=tuple(chain))
    iov = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in range(len(chain))], name="vq->iov")
    hdr = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in range(len(chain))], name="nvq->hdr")
    nvq = k.vhost_net_virtqueue(vq=k.vhost_virtqueue(iov=iov, private_data=sock), hdr=hdr)
    while not guest.used:
        k.handle_tx(nvq, guest)
        if total == 0:
            return 0  # "Unexpected header len for TX": a packet with no data is never sent
    return total


USERS = (
    User("handle_tx", "drivers/vhost/net.c", SEND, ("tun",), _vhost_net_tx,
         note="sock->ops->sendmsg on vq->iov (user memory), MSG_DONTWAIT; move_iovec_hdr() advances vq->iov"),
)
