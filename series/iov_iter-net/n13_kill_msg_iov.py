"""net: kill msg_iov/msg_iovlen

Every ->sendmsg()/->recvmsg() instance and every in-kernel user now goes
through msg->msg_iter, and the iovec behind it is never written: drop
msg_iov and msg_iovlen from struct msghdr, and stop kernel_sendmsg()/
kernel_recvmsg() setting them.  Anything still reading them no longer
builds, which is the point: the checks show nothing does.

SCTP's and tun's ->sendmsg() read msg_iov until here: they take msg_iter
now (sctp_user_addto_chunk() with copy_from_iter(), tun_get_user() with
skb_copy_datagram_from_iter()), and vhost-net's handle_tx() sets msg_iter up
over vq->iov.  These are the same definitions as as-merged's s06 (the 3.19
forms), repeated so that this step reads as its patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.series import Step, earlier
from model.errno import EFAULT
from model.errno import EINVAL as _EINVAL
from model.kernel import NULL, Ptr
from model.proto.sctp import sctp_chunk as _sctp_chunk
from model.proto.sctp import sctp_datamsg as _sctp_datamsg
from model.proto.tun import _MSG_ERRQUEUE, _tun_rx
from model.socket_h import MSG_DONTWAIT as _MSG_DONTWAIT
from model.socket_h import MSG_TRUNC as _MSG_TRUNC
from model.uaccess import KERNEL_DS
from model.uio import READ, WRITE
from model.uio import READ as _READ
from model.uio import UIO_MAXIOV as _UIO_MAXIOV
from model.uio import WRITE as _WRITE
from model.users.vhost_net import _VIRTIO_NET_HDR_LEN, _vhost_get_vq_desc

iov_iter = earlier("as-merged/s04_iov_iter_kvec").iov_iter

STEP = Step(
    subject="net: kill msg_iov/msg_iovlen",
    upstream=None,
    depends=("n11",),
    intends=("struct msghdr describes the data by msg_iter only",),
)


@dataclass(slots=True)
class msghdr:
    """struct msghdr: the data is msg_iter."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iter: iov_iter = field(default_factory=iov_iter)
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0


def kernel_sendmsg(k, sock, msg, vec: Ptr, num: int, size: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    k.iov_iter_init(msg.msg_iter, WRITE, vec, num, size)
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result


def kernel_recvmsg(k, sock, msg, vec: Ptr, num: int, size: int, flags: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    k.iov_iter_init(msg.msg_iter, READ, vec, num, size)
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result


# --- the other users this patch converts -----------------------------------
# SCTP reads the message through msg_iter: 3.19's sctp_datamsg_from_user() hands
# &msgh->msg_iter to sctp_user_addto_chunk(), which copies with copy_from_iter() (kernel-facts §3,
# the SCTP row, T319 column; net/sctp/chunk.c and sm_make_chunk.c are not in the reference set,
# so the bodies are recalled [INF] around that call, and which 3.19 commit did it is not known:
# it is placed with the removal of msg_iov, which it needs; as-merged has it in s06). The
# iterator advances chunk by chunk; the caller's kvec array is not touched, as before.



def sctp_datamsg_from_user(k, asoc, sinfo, msgh, msg_len: int):
    """A new datamsg of DATA chunks holding the message, or a negative errno."""
    msg = _sctp_datamsg()
    max = asoc.frag_point
    whole = msg_len // max
    over = msg_len % max

    # Create chunks for all the full sized DATA chunks.
    for _ in range(whole):
        chunk = _sctp_chunk(skb=k.alloc_skb(0))  # sctp_make_datafrag_empty(asoc, sinfo, len, ...)
        err = k.sctp_user_addto_chunk(chunk, max, msgh.msg_iter)
        if err < 0:
            return err  # errout_chunk_free
        msg.chunks.append(chunk)

    # .. now the leftover bytes.
    if over:
        chunk = _sctp_chunk(skb=k.alloc_skb(0))
        err = k.sctp_user_addto_chunk(chunk, over, msgh.msg_iter)
        if err < 0:
            return err
        msg.chunks.append(chunk)

    return msg


def sctp_user_addto_chunk(k, chunk, len: int, from_) -> int:
    """Helper function to assemble user data into a chunk: ``len`` bytes from the iov_iter."""
    # Make room in chunk for data.
    target = k.skb_put(chunk.skb, len)

    # Copy data (whole iovec) into chunk
    copied = k.copy_from_iter(target, len, from_)
    if copied != len:
        return -EFAULT

    # Adjust the chunk length field: chunk->chunk_hdr->length += len (not kept here)
    return 0


# --- vhost-net and tun on msg_iter ----------------------------------------
# handle_tx() sets msg.msg_iter with iov_iter_init(&msg.msg_iter, WRITE, vq->iov, out, len)
# after move_iovec_hdr() (drivers/vhost/net.c:397-400@3.19.8); tun_sendmsg() hands &m->msg_iter to
# tun_get_user(), which takes the length from iov_iter_count() and copies with
# skb_copy_datagram_from_iter() (drivers/net/tun.c:1034-1040, 1113@3.19.8; Herbert Xu's
# conversion, kernel-facts §5 #4, ids not found). Placed with the removal of msg_iov, which they need (as-merged: s06).



def handle_tx(k, nvq, guest) -> None:
    vq = nvq.vq
    msg = k.msghdr()
    msg.msg_flags = _MSG_DONTWAIT

    sock = vq.private_data
    if sock is None:
        return

    hdr_size = nvq.vhost_hlen

    while True:
        head, out, in_ = _vhost_get_vq_desc(k, vq, guest)
        if head == vq.num:
            break
        # Skip header. TODO: support TSO.
        k.move_iovec_hdr(vq.iov, nvq.hdr, hdr_size, out)
        len = sum(k.mem.elem(vq.iov + i).iov_len for i in range(out))  # iov_length(vq->iov, out)
        k.iov_iter_init(msg.msg_iter, _WRITE, vq.iov, out, len)
        # Sanity check
        if not len:
            break

        msg.msg_control = NULL
        err = getattr(k, sock.ops.sendmsg)(None, sock, msg, len)
        if err < 0:
            # vhost_discard_vq_desc(vq, 1);
            break
        guest.used = True  # vhost_add_used_and_signal(&net->dev, vq, head, 0);


def tun_sendmsg(k, iocb, sock, m, total_len: int) -> int:
    k.sk_begin_call(sock.sk)
    return k.tun_get_user(sock.sk, m.msg_control, m.msg_iter, m.msg_flags & _MSG_DONTWAIT)


def tun_get_user(k, sk, msg_control, from_, noblock: int) -> int:
    """Get packet from user space buffer."""
    total_len = k.iov_iter_count(from_)
    len = total_len
    skb = k.tun_alloc_skb(sk, 0, len, 0, noblock)
    if isinstance(skb, int):
        return skb

    err = k.skb_copy_datagram_from_iter(skb, 0, from_, len)
    if err:
        return -EFAULT

    return _tun_rx(k, sk, skb, total_len)


# handle_rx() sets msg.msg_iter with iov_iter_init(&msg.msg_iter, READ, vq->iov, in, sock_len)
# after move_iovec_hdr(), and with iov_iter_init(&msg.msg_iter, READ, vq->iov, 1, 1) for an overrun
# (drivers/vhost/net.c:607, 628-633@3.19.8); tun_recvmsg() hands &m->msg_iter to tun_do_read()
# (drivers/net/tun.c:1491@3.19.8).


def handle_rx(k, nvq, guest) -> None:
    vq = nvq.vq
    msg = k.msghdr()
    msg.msg_control = NULL  # FIXME: get and handle RX aux data.
    msg.msg_flags = _MSG_DONTWAIT
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
        headcount = k.get_rx_bufs(vq, guest, vhost_len, in_, _UIO_MAXIOV if mergeable else 1)
        # On error, stop handling until the next kick.
        if headcount < 0:
            break
        # On overrun, truncate and discard
        if headcount > _UIO_MAXIOV:
            k.iov_iter_init(msg.msg_iter, _READ, vq.iov, 1, 1)
            err = getattr(k, sock.ops.recvmsg)(None, sock, msg, 1, _MSG_DONTWAIT | _MSG_TRUNC)
            continue
        # OK, now we need to know about added descriptors.
        if not headcount:
            break
        if vhost_hlen:
            # Skip header. TODO: support TSO.
            k.move_iovec_hdr(vq.iov, nvq.hdr, vhost_hlen, in_[0])
        k.iov_iter_init(msg.msg_iter, _READ, vq.iov, in_[0], sock_len)
        err = getattr(k, sock.ops.recvmsg)(None, sock, msg, sock_len, _MSG_DONTWAIT | _MSG_TRUNC)
        # Userspace might have consumed the packet meanwhile. Discard data we got (if any) and keep going.
        if err != sock_len:
            continue  # vhost_discard_vq_desc(vq, headcount);
        if vhost_hlen and k.memcpy_toiovecend(nvq.hdr, hdr, 0, vhost_hlen):
            break  # vq_err(vq, "Unable to write vnet_hdr at addr %p\n", vq->iov->iov_base);
        guest.used_len = vhost_len  # vhost_add_used_and_signal_n(&net->dev, vq, vq->heads, headcount);
        total_len += vhost_len


def tun_recvmsg(k, iocb, sock, m, total_len: int, flags: int) -> int:
    k.sk_begin_call(sock.sk)  # the window's room is not read: see model/proto/tun.py
    if flags & ~(_MSG_DONTWAIT | _MSG_TRUNC | _MSG_ERRQUEUE):
        return -_EINVAL
    ret = k.tun_do_read(sock.sk, m.msg_iter, flags & _MSG_DONTWAIT)
    if ret > total_len:
        m.msg_flags |= _MSG_TRUNC
        ret = ret if flags & _MSG_TRUNC else total_len
    return ret
