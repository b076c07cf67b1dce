"""kill lib/iovec.c and net/core/iovec.c

With memcpy_from_msg(), the getfrag callbacks, tcp_sendmsg(), AF_UNIX,
packet_snd() and L2CAP on copy_from_iter() and friends, nothing calls the
iovec helpers any more.  Delete them:

  lib/iovec.c       memcpy_fromiovec(), memcpy_fromiovecend(),
                    memcpy_toiovecend()
  net/core/iovec.c  csum_partial_copy_fromiovecend()
                    (verify_iovec() went in 3.19, iov_pages() is not modelled)
  net/core/datagram.c
                    skb_copy_datagram_from_iovec(), built on
                    memcpy_fromiovecend()

mm/iov_iter.c moves to lib/iov_iter.c in the same release; a move does
not change code, and nothing here models file locations.

No behaviour changes: nothing reachable calls what is removed; a cell
that still did would not build.

Upstream: 4.0, ids not found (kernel-facts §5 #16: the 4.0 net/core/
Makefile has no iovec.o).  include/linux/uio.h@4.0.5 declares none of
memcpy_fromiovec*, which include/linux/uio.h:138-141@3.19.8 still
declares, and ip_generic_getfrag() copies with copy_from_iter()/
csum_and_copy_from_iter() (net/ipv4/ip_output.c:805-819@4.0.5).  When
skb_copy_datagram_from_iovec() went is not known: include/linux/
skbuff.h@4.0.5 has no declaration of it; it can be no later than
memcpy_fromiovecend(), so it goes here [INF].

vhost-net's handle_rx() wrote the guest's virtio-net header with
memcpy_toiovecend() through nvq->hdr up to 3.19 (drivers/vhost/net.c:
645-646@3.19.8); 4.1 inits msg_iter over the whole chain, keeps a copy
(``fixup``), advances msg_iter past the header instead of move_iovec_hdr(),
and writes the header with copy_to_iter() into the copy (:587-611@4.1.6).
4.0's vhost/net.c is not in the reference set; since memcpy_toiovecend()
goes here, the 4.1 form must be in by now [INF: placed with the removal it
needs, as the tun/vhost msg_iter forms are placed with s06].
"""

from __future__ import annotations

import copy

from checks.series import Step
from model.kernel import NULL
from model.socket_h import MSG_DONTWAIT, MSG_TRUNC
from model.uio import READ, UIO_MAXIOV
from model.users.vhost_net import _VIRTIO_NET_HDR_LEN

STEP = Step(
    subject="kill lib/iovec.c and net/core/iovec.c",
    upstream=None,
    kernel="v4.0",
    depends=("s09", "s10", "s11", "s12", "s13"),
    removes=("memcpy_fromiovec", "memcpy_fromiovecend", "memcpy_toiovecend", "csum_partial_copy_fromiovecend",
             "skb_copy_datagram_from_iovec"),
    intends=("no interface change: the removed helpers have no caller left",),
)


def handle_rx(k, nvq, guest) -> None:
    """Expects to be always run from workqueue - which acts as read-size critical section for
    our kind of RCU."""
    vq = nvq.vq
    msg = k.msghdr()
    msg.msg_control = NULL  # FIXME: get and handle RX aux data.
    msg.msg_flags = MSG_DONTWAIT
    # struct virtio_net_hdr hdr = { .flags = 0, .gso_type = VIRTIO_NET_HDR_GSO_NONE };
    hdr = k.mem.alloc_bytes(bytes(_VIRTIO_NET_HDR_LEN), name="hdr")
    total_len = 0

    sock = vq.private_data
    if sock is None:
        return
    vhost_hlen = nvq.vhost_hlen
    sock_hlen = nvq.sock_hlen
    mergeable = False
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
            k.iov_iter_init(msg.msg_iter, READ, vq.iov, 1, 1)
            err = getattr(k, sock.ops.recvmsg)(None, sock, msg, 1, MSG_DONTWAIT | MSG_TRUNC)
            continue
        # OK, now we need to know about added descriptors.
        if not headcount:
            break
        # We don't need to be notified again.
        k.iov_iter_init(msg.msg_iter, READ, vq.iov, in_[0], vhost_len)
        fixup = copy.copy(msg.msg_iter)  # fixup = msg.msg_iter;
        if vhost_hlen:
            # We will supply the header ourselves. TODO: support TSO.
            k.iov_iter_advance(msg.msg_iter, vhost_hlen)
        err = getattr(k, sock.ops.recvmsg)(None, sock, msg, sock_len, MSG_DONTWAIT | MSG_TRUNC)
        # Userspace might have consumed the packet meanwhile. Discard data we got (if any) and keep going.
        if err != sock_len:
            continue  # vhost_discard_vq_desc(vq, headcount);
        # Supply virtio_net_hdr if VHOST_NET_F_VIRTIO_NET_HDR
        if vhost_hlen and k.copy_to_iter(hdr, _VIRTIO_NET_HDR_LEN, fixup) != _VIRTIO_NET_HDR_LEN:
            break  # vq_err(vq, "Unable to write vnet_hdr at addr %p\n", vq->iov->iov_base);
        # else iov_iter_advance(&fixup, sizeof(hdr)): sock_hlen is 0, not reached
        # TODO: Should check and handle checksum. (not mergeable: no num_buffers to write)
        guest.used_len = vhost_len  # vhost_add_used_and_signal_n(&net->dev, vq, vq->heads, headcount);
        total_len += vhost_len
