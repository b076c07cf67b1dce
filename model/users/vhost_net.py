"""drivers/vhost/net.c (v3.18): handle_tx() and handle_rx(), vhost-net's transmit and receive: the
guest's packets go to a tun socket through ``sock->ops->sendmsg``, and the host's come from it
through ``sock->ops->recvmsg``, each with an iovec of user memory.

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
macvtap is not modelled.

Receive: handle_rx() (drivers/vhost/net.c:554@3.18.9) loops while peek_head_len() (:462) finds a
packet on the socket's receive queue: get_rx_bufs() (:490) takes descriptor chains into ``vq->iov``
until they hold ``vhost_len`` = packet + ``vhost_hlen`` bytes (quota 1 chain without
VIRTIO_NET_F_MRG_RXBUF; too small is an "overrun": the packet is read with len 1 and MSG_TRUNC into
``vq->iov[0]`` and discarded, :601-607); move_iovec_hdr() skips the guest's header in ``vq->iov``
(:622-624); ``sock->ops->recvmsg(NULL, sock, &msg, sock_len, MSG_DONTWAIT | MSG_TRUNC)`` (:630)
with ``msg.msg_iov = vq->iov``, ``msg_iovlen = in``. A result other than ``sock_len`` discards the
descriptors (vhost_discard_vq_desc(): the guest's buffers are offered again) and goes on with the
next packet (:632-640: "Userspace might have consumed the packet meanwhile"); otherwise the
virtio-net header (flags 0, GSO_NONE) is written through ``nvq->hdr`` with memcpy_toiovecend()
(:641-646) and the chain is used with length ``vhost_len`` (vhost_add_used_and_signal_n()).
3.19 (:628-633, 645-646@3.19.8) sets ``iov_iter_init(&msg.msg_iter, READ, vq->iov, in,
sock_len)`` after move_iovec_hdr() and keeps memcpy_toiovecend(); 4.1 (:587-611@4.1.6) inits the
iterator over the whole chain, keeps a copy (``fixup``), advances msg_iter past the header and
writes the header with copy_to_iter() into the copy.

Simplified for the receive, and why no caller can tell: the guest posts one chain, the checker's
kvecs as its buffers in user memory, the first behind room for the 10-byte header (VIRTIO_F_ANY_LAYOUT,
VHOST_NET_F_VIRTIO_NET_HDR: ``vhost_hlen`` 10, ``sock_hlen`` 0, so copy_iovec_hdr() is never
reached and not modelled); no VIRTIO_NET_F_MRG_RXBUF (quota 1, no num_buffers write), no dirty
log (VHOST_F_LOG_ALL), no notification games (vhost_enable_notify() finding a late buffer is the
guest kicking, i.e. the next wake-up). The guest driver reads the used length back (minus the
header) into the kvecs; a chain not used is a packet the guest never got. ``heads``' ids and the
used ring are the ``_guest_rx`` record; peek_head_len() reads the queued packet's length as the
socket's model holds it (model/proto/tun.py: at most one packet queued, so that is the head).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errno import EAGAIN, EINVAL, ENOBUFS
from model.kernel import NULL, USER_SPACE, Ptr
from model.socket_h import MSG_DONTWAIT, MSG_TRUNC
from model.uio import UIO_MAXIOV
from model.users import RECV, SEND, User
from model.world import UNLIMITED

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


@dataclass(slots=True)
class _guest_rx:
    """The guest's side, model only: its RX descriptor chain (user addresses and lengths), and the
    length the device used it with (None: not used)."""

    chain: tuple[tuple[Ptr, int], ...]
    used_len: int | None = None


def _vhost_get_rx_desc(k, vq: vhost_virtqueue, iov: Ptr, guest: _guest_rx) -> tuple[int, int, int]:
    """vhost_get_vq_desc() for an RX chain: the head and the chain translated afresh into ``iov``
    (``in`` writable segments, ``out`` 0); ``vq->num`` when the guest has no buffer left."""
    if guest.used_len is not None:
        return vq.num, 0, 0
    for i, (base, n) in enumerate(guest.chain):
        v = k.mem.elem(iov + i)
        v.iov_base, v.iov_len = base, n
    return 0, 0, len(guest.chain)


def peek_head_len(k, sk) -> int:
    """The length of the packet at the head of the receive queue, 0 if it is empty (no vlan tag:
    no VLAN_HLEN)."""
    # spin_lock_irqsave(&sk->sk_receive_queue.lock, flags); head = skb_peek(&sk->sk_receive_queue);
    return sk.peer.queued()


def get_rx_bufs(k, vq: vhost_virtqueue, guest: _guest_rx, datalen: int, iovcount: list[int], quota: int) -> int:
    """This is a multi-buffer version of vhost_get_desc, that works if vq has read descriptors only.
    Returns number of buffer heads allocated, negative on error; ``iovcount[0]`` the io vectors
    filled. ``heads`` are not kept: a used chain's length is ``vhost_len`` (the caller's)."""
    seg = 0
    headcount = 0
    while datalen > 0 and headcount < quota:
        if seg >= UIO_MAXIOV:
            return -ENOBUFS  # goto err (vhost_discard_vq_desc: nothing taken is kept)
        d, out, in_ = _vhost_get_rx_desc(k, vq, vq.iov + seg, guest)
        if d == vq.num:
            return 0  # r = 0; goto err
        if out or in_ <= 0:
            # vq_err(vq, "unexpected descriptor format for RX: out %d, in %d\n", out, in);
            return -EINVAL
        # heads[headcount].id = d; heads[headcount].len = iov_length(vq->iov + seg, in);
        datalen -= sum(k.mem.elem(vq.iov + seg + i).iov_len for i in range(in_))
        headcount += 1
        seg += in_
    # heads[headcount - 1].len += datalen;
    iovcount[0] = seg
    # Detect overrun
    if datalen > 0:
        return UIO_MAXIOV + 1  # goto err: vhost_discard_vq_desc(vq, headcount)
    return headcount


def handle_rx(k, nvq: vhost_net_virtqueue, guest: _guest_rx) -> None:
    """Expects to be always run from workqueue - which acts as read-size critical section for
    our kind of RCU. ``guest`` is the model's stand-in for the ring (see _vhost_get_rx_desc)."""
    vq = nvq.vq
    msg = k.msghdr()
    msg.msg_control = NULL  # FIXME: get and handle RX aux data.
    msg.msg_iov = vq.iov
    msg.msg_flags = MSG_DONTWAIT
    # struct virtio_net_hdr_mrg_rxbuf hdr = { .hdr.flags = 0, .hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE };
    hdr = k.mem.alloc_bytes(bytes(_VIRTIO_NET_HDR_LEN), name="hdr")
    total_len = 0

    # mutex_lock(&vq->mutex);
    sock = vq.private_data
    if sock is None:
        return
    # vhost_disable_notify(&net->dev, vq);
    vhost_hlen = nvq.vhost_hlen
    sock_hlen = nvq.sock_hlen
    mergeable = False  # vhost_has_feature(vq, VIRTIO_NET_F_MRG_RXBUF): not negotiated
    in_ = [0]

    while True:
        sock_len = k.peek_head_len(sock.sk)
        if not sock_len:
            break
        sock_len += sock_hlen
        vhost_len = sock_len + vhost_hlen
        headcount = k.get_rx_bufs(vq, guest, vhost_len, in_, UIO_MAXIOV if mergeable else 1)
        # On error, stop handling until the next kick.
        if headcount < 0:
            break
        # On overrun, truncate and discard
        if headcount > UIO_MAXIOV:
            msg.msg_iovlen = 1
            err = getattr(k, sock.ops.recvmsg)(None, sock, msg, 1, MSG_DONTWAIT | MSG_TRUNC)
            # pr_debug("Discarded rx packet: len %zd\n", sock_len);
            continue
        # OK, now we need to know about added descriptors.
        if not headcount:
            # vhost_enable_notify(): a buffer slipped in meanwhile is the guest's next kick
            # Nothing new?  Wait for eventfd to tell us they refilled.
            break
        # We don't need to be notified again.
        if vhost_hlen:
            # Skip header. TODO: support TSO.
            k.move_iovec_hdr(vq.iov, nvq.hdr, vhost_hlen, in_[0])
        # else copy_iovec_hdr(vq->iov, nvq->hdr, sock_hlen, in): sock_hlen is 0, not modelled
        msg.msg_iovlen = in_[0]
        err = getattr(k, sock.ops.recvmsg)(None, sock, msg, sock_len, MSG_DONTWAIT | MSG_TRUNC)
        # Userspace might have consumed the packet meanwhile: it's not supposed to do this usually,
        # but might be hard to prevent. Discard data we got (if any) and keep going.
        if err != sock_len:
            # pr_debug("Discarded rx packet: len %d, expected %zd\n", err, sock_len);
            continue  # vhost_discard_vq_desc(vq, headcount): the chain is offered again
        if vhost_hlen and k.memcpy_toiovecend(nvq.hdr, hdr, 0, vhost_hlen):
            # vq_err(vq, "Unable to write vnet_hdr at addr %p\n", vq->iov->iov_base);
            break
        # TODO: Should check and handle checksum. (mergeable: no num_buffers to write)
        guest.used_len = vhost_len  # vhost_add_used_and_signal_n(&net->dev, vq, vq->heads, headcount);
        total_len += vhost_len  # VHOST_NET_WEIGHT (0x80000) is never reached here
    # mutex_unlock(&vq->mutex);


def _guest_rx_chain(k, vec: Ptr, nr_segs: int) -> tuple[tuple[Ptr, int], ...]:
    """The guest's RX buffers in user memory: the checker's kvecs, the first behind room for the
    virtio-net header (VIRTIO_F_ANY_LAYOUT), filled with what the kvecs hold (unwritten bytes)."""
    chain = []
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        data = k.mem.read(seg.iov_base, seg.iov_len)
        if i == 0:
            data = bytes(_VIRTIO_NET_HDR_LEN) + data
        chain.append((k.mem.alloc_bytes(data, space=USER_SPACE, name=f"guest rx buffer {i}"), len(data)))
    return tuple(chain)


def _vhost_rx_nvq(k, sock, n: int):
    iov = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in range(max(n, 1))], name="vq->iov")
    hdr = k.mem.alloc_array([k.iovec(iov_base=NULL, iov_len=0) for _ in range(max(n, 1))], name="nvq->hdr")
    return k.vhost_net_virtqueue(vq=k.vhost_virtqueue(iov=iov, private_data=sock), hdr=hdr)


def _guest_reads_rx(k, guest: _guest_rx, vec: Ptr, nr_segs: int) -> int:
    """The guest driver takes the used chain: ``used_len`` bytes of its buffers, header first; the
    packet goes into the kvecs in order. Returns the packet's length."""
    data = b"".join(k.mem.read(base, n) for base, n in guest.chain)[_VIRTIO_NET_HDR_LEN : guest.used_len]
    off = 0
    for i in range(nr_segs):
        seg = k.mem.elem(vec + i)
        piece = data[off : off + seg.iov_len]
        k.mem.write(seg.iov_base, piece)
        off += len(piece)
    return len(data)


def _vhost_net_rx(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """The guest posts the kvecs as one RX chain; the host stack sends the peer's message as one
    packet, whose arrival wakes handle_rx() (handle_rx_net()); once that packet is taken, the next
    one arrives and wakes it again (the guest has no buffer left for it: it must stay queued).
    Returns the length of the packet the guest got, -EAGAIN if it got none."""
    if total == 0:
        return 0  # no packet: peek_head_len() cannot tell an empty packet from an empty queue
    guest = _guest_rx(chain=_guest_rx_chain(k, vec, nr_segs))
    nvq = _vhost_rx_nvq(k, sock, nr_segs)
    peer = sock.sk.peer
    peer.arrive(total)  # tun_net_xmit(): the message, one packet
    k.handle_rx(nvq, guest)
    if not peer.queued():
        peer.arrive(UNLIMITED)  # the next packet
        k.handle_rx(nvq, guest)
    if guest.used_len is None:
        return -EAGAIN  # the packet never reached the guest
    return _guest_reads_rx(k, guest, vec, nr_segs)


USERS = (
    User("handle_tx", "drivers/vhost/net.c", SEND, ("tun",), _vhost_net_tx,
         note="sock->ops->sendmsg on vq->iov (user memory), MSG_DONTWAIT; move_iovec_hdr() advances vq->iov"),
    User("handle_rx", "drivers/vhost/net.c", RECV, ("tun",), _vhost_net_rx,
         note="sock->ops->recvmsg on vq->iov (user memory) after peek_head_len(), MSG_DONTWAIT|MSG_TRUNC; "
              "move_iovec_hdr() advances vq->iov; err != sock_len discards"),
)
