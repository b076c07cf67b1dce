"""put iov_iter into msghdr

Note that the code _using_ ->msg_iter at that point will be very
unhappy with anything other than unshifted iovec-backed iov_iter.
We still need to convert users to proper primitives.

struct msghdr loses msg_iov/msg_iovlen and embeds struct iov_iter
msg_iter.  kernel_sendmsg() and kernel_recvmsg() set it up with
iov_iter_init() on the caller's kvec array (under KERNEL_DS, so it is
flagged ITER_KVEC); sock_sendmsg()/sock_recvmsg() do not touch it.  The
users of msg_iov switch to msg_iter.iov and msg_iter.nr_segs as they are:
tcp_sendmsg() walks the array as before, ignoring iov_offset and count,
and the msg copy helpers still run memcpy_{from,to}iovec() on the array
behind the iterator ("XXX: stripping const"), so they still consume it
and do not advance msg_iter.  Nothing a caller sees changes yet.

The other protocols that still read msg->msg_iov do the same:
ip_generic_getfrag() now gets the msghdr itself from udp_sendmsg() and
reads msg_iter.iov by offset; ping_v4_sendmsg() hands msg_iter.iov to
ping_getfrag() through pingfakehdr; udp_recvmsg() gives msg_iter.iov to
skb_copy_and_csum_datagram_iovec(); unix_stream_sendmsg() and packet_snd()
give it to skb_copy_datagram_from_iovec(); l2cap_skbuff_fromiovec() to its
->memcpy_fromiovec callback.

SCTP (sctp_datamsg_from_user() hands &msg->msg_iter to
sctp_user_addto_chunk(), which copies with copy_from_iter()) and tun
(tun_sendmsg() hands &m->msg_iter to tun_get_user(); vhost-net's handle_tx()
sets msg.msg_iter up over vq->iov, drivers/vhost/net.c:397-400@3.19.8) are
converted here too: they read msg_iov, which this patch takes away.  Which
3.19 commit converted each is not known [INF]; they are placed with the
removal of msg_iov, which they need.

ocfs2's o2net_send_tcp_msg() and lustre's ksocknal_lib_send_iov() need
no change: they already call kernel_sendmsg() in 3.18
(fs/ocfs2/cluster/tcp.c:935@3.18.9, drivers/staging/lustre/lnet/klnds/
socklnd/socklnd_lib-linux.c:114@3.18.9).

Upstream: Al Viro, recalled as c0371da6047a [UNVERIFIED subject].  The id
exists and is Al Viro's of this cycle: a blame of net/unix/af_unix.c
(kernel test robot report on netdev, 2025-01-11) gives "c0371da6047abd
Al Viro 2014-11-24" for ``err = skb_copy_datagram_from_iter(skb, 0,
&msg->msg_iter, size);`` in unix_stream_sendmsg(), a file this step
touches.  That line also says the upstream commit switched the AF_UNIX
stream send to skb_copy_datagram_from_iter() at once, where this series
does it in s10 (3.19.8 has it: net/unix/af_unix.c:1697@3.19.8); callers see
no difference (neither consumes the kvec).  The result: struct msghdr with
msg_iter (include/linux/socket.h:50@3.19.8); kernel_sendmsg() and
kernel_recvmsg() under set_fs(KERNEL_DS) with iov_iter_init() on the kvec
array (net/socket.c:667-672, 830-835@3.19.8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.series import Step, earlier
from model.errno import EFAULT, EINVAL, EMSGSIZE, ENETDOWN, EOPNOTSUPP, EPIPE
from model.errno import EINVAL as _EINVAL
from model.kernel import NULL, Ptr
from model.net_h import SOCK_RAW, socket
from model.proto._net_core import (
    _skb_checksum_complete,
    _skb_copy_and_csum_datagram_iovec,
    _skb_recv_datagram,
    _sock_alloc_send_skb,
)
from model.proto.af_packet import (
    _DEV_HARD_HEADER_LEN,
    _DEV_MTU,
    _VIRTIO_NET_HDR_F_NEEDS_CSUM,
    _VIRTIO_NET_HDR_GSO_ECN,
    _VIRTIO_NET_HDR_GSO_NONE,
    _VIRTIO_NET_HDR_GSO_TCPV4,
    _VIRTIO_NET_HDR_GSO_TCPV6,
    _VIRTIO_NET_HDR_GSO_UDP,
    _VLAN_HLEN,
    _VNET_HDR_LEN,
    _dev_up,
    _frame_is_8021q,
    _packet_dev_down,
)
from model.proto.af_unix import _SKB_MAX_ALLOC, _UNIX_SK_SNDBUF, _unix_peer_dead, _unix_peer_dies
from model.proto.ip_output import _ip_icmp_error
from model.proto.l2cap import l2cap_chan
from model.proto.ping import _ICMPHDR_LEN, _PING_IDENT
from model.proto.sctp import sctp_chunk as _sctp_chunk
from model.proto.sctp import sctp_datamsg as _sctp_datamsg
from model.proto.tun import _MSG_ERRQUEUE, _tun_rx
from model.proto.udp import _UDPHDR_LEN, _udp_peer_skb
from model.skbuff import sk_buff
from model.sock import SEND_SHUTDOWN, sock
from model.socket_h import AF_INET, MSG_DONTWAIT, MSG_OOB, MSG_TRUNC
from model.socket_h import MSG_DONTWAIT as _MSG_DONTWAIT
from model.socket_h import MSG_TRUNC as _MSG_TRUNC
from model.uaccess import KERNEL_DS
from model.uio import READ, WRITE
from model.uio import READ as _READ
from model.uio import UIO_MAXIOV as _UIO_MAXIOV
from model.uio import WRITE as _WRITE
from model.users.vhost_net import _VIRTIO_NET_HDR_LEN, _vhost_get_vq_desc

iov_iter = earlier("s04_iov_iter_kvec").iov_iter

STEP = Step(
    subject="put iov_iter into msghdr",
    upstream="c0371da6047a",
    upstream_verified=False,
    kernel="v3.19",
    depends=("s01", "s02", "s04"),
    intends=("msg_iov/msg_iovlen replaced by msg_iter; kernel_{send,recv}msg initialise it",
             "callers see no change: the array behind msg_iter is still walked and consumed as before"),
)


@dataclass(slots=True)
class msghdr:
    """struct msghdr (3.19)."""

    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_iter: iov_iter = field(default_factory=iov_iter)  # data
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0


def kernel_sendmsg(k, sock, msg, vec: Ptr, num: int, size: int) -> int:
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    # the following is safe, since for compiler definitions of kvec and iovec are
    # identical, yielding the same in-core layout and alignment
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


def memcpy_from_msg(k, data: Ptr, msg, len: int) -> int:
    # XXX: stripping const
    return k.memcpy_fromiovec(data, msg.msg_iter.iov, len)


def memcpy_to_msg(k, msg, data: Ptr, len: int) -> int:
    return k.memcpy_toiovec(msg.msg_iter.iov, data, len)


def skb_copy_datagram_msg(k, from_, offset: int, msg, size: int) -> int:
    return k.skb_copy_datagram_iovec(from_, offset, msg.msg_iter.iov, size)


def tcp_sendmsg(k, iocb, sk, msg, size: int) -> int:
    k.sk_begin_call(sk)
    flags = msg.msg_flags
    timeo = k.sock_sndtimeo(sk, flags & MSG_DONTWAIT)
    copied = 0
    err = -EPIPE
    if sk.sk_err or (sk.sk_shutdown & SEND_SHUTDOWN):
        return k.sk_stream_error(sk, flags, err)

    iovlen = msg.msg_iter.nr_segs
    iov = msg.msg_iter.iov
    while iovlen > 0:
        iovlen -= 1
        seg = k.mem.elem(iov)
        seglen = seg.iov_len
        from_ = seg.iov_base
        iov = iov + 1
        while seglen > 0:
            if sk.room == 0:
                # wait_for_sndbuf: push what we have, then sk_stream_wait_memory()
                err = k.sk_stream_wait_memory(sk, timeo)
                if err:
                    return copied if copied else k.sk_stream_error(sk, flags, err)
                continue
            copy = min(seglen, sk.room)
            skb = k.alloc_skb(copy)
            if k.copy_from_user(skb.data, from_, copy):
                # do_fault: the partly filled skb is trimmed away
                err = -EFAULT
                return copied if copied else k.sk_stream_error(sk, flags, err)
            sk.peer.deliver(k.mem.read(skb.data, copy))
            sk.room -= copy
            copied += copy
            from_ = from_ + copy
            seglen -= copy
    return copied


def udp_sendmsg(k, iocb, sk: sock, msg: msghdr, len: int) -> int:
    k.sk_begin_call(sk)
    ulen = len

    if len > 0xFFFF:
        return -EMSGSIZE

    # Check the flags.
    if msg.msg_flags & MSG_OOB:  # Mirror BSD error message compatibility
        return -EOPNOTSUPP

    getfrag = "ip_generic_getfrag"
    ulen += _UDPHDR_LEN

    # Get and verify the address: connected, so daddr/dport are the peer's (see above).

    # Lockless fast path for the non-corking case.
    skb = k.ip_make_skb(sk, getfrag, msg, ulen, _UDPHDR_LEN, msg.msg_flags)
    err = skb if isinstance(skb, int) else 0
    if skb and not err:
        err = k.udp_send_skb(skb, sk)

    if not err:
        return len
    return err


def ip_generic_getfrag(k, from_: msghdr, to: Ptr, offset: int, len: int, odd: int, skb: sk_buff) -> int:
    """Copy ``len`` bytes from ``offset`` bytes into the message ``from_`` (a ``struct msghdr *``
    now) to ``to``, and add their checksum to ``skb->csum`` at the parity ``odd``. The array
    behind ``msg_iter`` is read by offset: neither it nor the iterator is modified."""
    msg = from_
    # skb->ip_summed is CHECKSUM_NONE: the route's device has no checksum offload (see above),
    # so the CHECKSUM_PARTIAL branch (memcpy_fromiovecend) is never taken.
    csum = [0]
    # XXX: stripping const
    if k.csum_partial_copy_fromiovecend(to, msg.msg_iter.iov, offset, len, csum) < 0:
        return -EFAULT
    skb.csum = k.csum_block_add(skb.csum, csum[0], odd)
    return 0


def udp_recvmsg(k, iocb, sk: sock, msg: msghdr, len: int, noblock: int, flags: int) -> int:
    k.sk_begin_call(sk)
    sk.peer.arrive(sk.window.room)

    while True:  # try_again:
        data = _skb_recv_datagram(k, sk, flags | (MSG_DONTWAIT if noblock else 0), _ip_icmp_error)
        if isinstance(data, int):
            return data  # out: err (0 after a shutdown)
        skb = _udp_peer_skb(k, data)

        ulen = skb.len - _UDPHDR_LEN
        copied = len
        if copied > ulen:
            copied = ulen
        elif copied < ulen:
            msg.msg_flags |= MSG_TRUNC

        # If checksum is needed at all, try to do it while copying the data. If the data is
        # truncated, or if we only want a partial coverage checksum (UDP-Lite), do it before
        # the copy.
        checksum_valid = False
        if copied < ulen:
            checksum_valid = not _skb_checksum_complete(k, skb)  # udp_lib_checksum_complete()
            if not checksum_valid:
                msg.msg_flags &= ~MSG_TRUNC  # csum_copy_err: starting over for a new packet
                continue

        if checksum_valid:  # || skb_csum_unnecessary(skb): never, see above
            err = k.skb_copy_datagram_msg(skb, _UDPHDR_LEN, msg, copied)
        else:
            err = _skb_copy_and_csum_datagram_iovec(k, skb, _UDPHDR_LEN, msg.msg_iter.iov)
            if err == -EINVAL:
                msg.msg_flags &= ~MSG_TRUNC  # csum_copy_err
                continue

        if err:
            return err  # out_free

        err = copied
        if flags & MSG_TRUNC:
            err = ulen
        return err


def ping_v4_sendmsg(k, iocb, sk: sock, msg: msghdr, len: int) -> int:
    k.sk_begin_call(sk)
    user_icmph = k.mem.alloc_bytes(bytes(_ICMPHDR_LEN), name="user_icmph")

    err = k.ping_common_sendmsg(AF_INET, msg, len, user_icmph, _ICMPHDR_LEN)
    if err:
        return err

    # Get and verify the address: connected, daddr is the peer's (see above).

    user = k.mem.read(user_icmph, _ICMPHDR_LEN)
    pfh = k.pingfakehdr(icmph=k.mem.alloc_bytes(bytes(_ICMPHDR_LEN), name="pfh.icmph"), iov=msg.msg_iter.iov)
    k.mem.write(
        pfh.icmph,
        user[0:2]  # type, code: already checked
        + bytes(2)  # checksum = 0
        + _PING_IDENT.to_bytes(2, "big")  # un.echo.id = inet->inet_sport
        + user[6:8],  # un.echo.sequence
    )
    pfh.wcheck = 0
    pfh.family = AF_INET

    queue: list = []  # sk->sk_write_queue
    err = k.ip_append_data(sk, "ping_getfrag", pfh, len, 0, msg.msg_flags, queue)
    if err:
        k.ip_flush_pending_frames(sk, queue)
    else:
        err = k.ping_v4_push_pending_frames(sk, pfh, queue)

    if not err:
        return len
    return err


def unix_stream_sendmsg(k, iocb, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    k.sk_begin_call(sk)
    sent = 0

    err = -EOPNOTSUPP
    if msg.msg_flags & MSG_OOB:
        return sent or err  # out_err

    # msg_namelen: the socket is connected (see above); other = unix_peer(sk)

    if sk.sk_shutdown & SEND_SHUTDOWN:
        return sent or -EPIPE  # pipe_err

    while sent < len:
        size = len - sent

        # Keep two messages in the pipe so it schedules better
        size = min(size, (_UNIX_SK_SNDBUF >> 1) - 64)
        size = min(size, _SKB_MAX_ALLOC)

        skb = _sock_alloc_send_skb(k, sk, size, msg.msg_flags & MSG_DONTWAIT, _unix_peer_dies)
        if isinstance(skb, int):
            return sent or skb  # out_err

        # Only send the fds in the first buffer: no SCM rights here

        k.skb_put(skb, size)
        err = k.skb_copy_datagram_from_iovec(skb, 0, msg.msg_iter.iov, sent, size)
        if err:
            return sent or err  # kfree_skb(skb); goto out_err

        # unix_state_lock(other)
        if _unix_peer_dead(sk):
            return sent or -EPIPE  # pipe_err_free

        # skb_queue_tail(&other->sk_receive_queue, skb); other->sk_data_ready(other)
        sk.peer.deliver(k.mem.read(skb.data, size))
        sent += size

    return sent


def packet_snd(k, sock: socket, msg: msghdr, len: int) -> int:
    sk = sock.sk
    reserve = 0
    gso_type = 0
    extra_len = 0

    # Get and verify the address: the bound device (packet_cached_dev_get).
    if not _dev_up(sk):
        return -ENETDOWN

    if sock.type == SOCK_RAW:
        reserve = _DEV_HARD_HEADER_LEN
    # po->has_vnet_hdr: set on every SOCK_RAW socket here (see above)
    vnet_hdr_len = _VNET_HDR_LEN

    err = -EINVAL
    if len < vnet_hdr_len:
        return err

    len -= vnet_hdr_len

    vnet_hdr = k.mem.alloc_bytes(bytes(_VNET_HDR_LEN), name="vnet_hdr")
    err = k.memcpy_from_msg(vnet_hdr, msg, vnet_hdr_len)
    if err < 0:
        return err
    raw = k.mem.read(vnet_hdr, _VNET_HDR_LEN)
    flags, hdr_gso_type = raw[0], raw[1]
    hdr_len, gso_size, csum_start, csum_offset = (
        int.from_bytes(raw[i : i + 2], "little") for i in range(2, 10, 2)
    )

    if (flags & _VIRTIO_NET_HDR_F_NEEDS_CSUM) and csum_start + csum_offset + 2 > hdr_len:
        hdr_len = csum_start + csum_offset + 2

    err = -EINVAL
    if hdr_len > len:
        return err

    if hdr_gso_type != _VIRTIO_NET_HDR_GSO_NONE:
        kind = hdr_gso_type & ~_VIRTIO_NET_HDR_GSO_ECN
        if kind not in (_VIRTIO_NET_HDR_GSO_TCPV4, _VIRTIO_NET_HDR_GSO_TCPV6, _VIRTIO_NET_HDR_GSO_UDP):
            return err
        gso_type = kind
        if gso_size == 0:
            return err

    err = -EMSGSIZE
    if not gso_type and len > _DEV_MTU + reserve + _VLAN_HLEN + extra_len:
        return err

    # packet_alloc_skb() -> sock_alloc_send_pskb()
    skb = _sock_alloc_send_skb(k, sk, len, msg.msg_flags & MSG_DONTWAIT, _packet_dev_down)
    if isinstance(skb, int):
        return skb
    k.skb_put(skb, len)

    # Returns -EFAULT on error
    offset = 0
    err = k.skb_copy_datagram_from_iovec(skb, offset, msg.msg_iter.iov, 0, len)
    if err:
        return err  # out_free

    if not gso_type and len > _DEV_MTU + reserve + extra_len and not _frame_is_8021q(k, skb.data, len):
        # Earlier code assumed this would be a VLAN pkt, double-check this now that we have
        # the actual packet in hand.
        return -EMSGSIZE

    # po->has_vnet_hdr: VIRTIO_NET_HDR_F_NEEDS_CSUM && !skb_partial_csum_set(skb, start, off)
    if (flags & _VIRTIO_NET_HDR_F_NEEDS_CSUM) and (csum_start > len or csum_start + csum_offset > len - 2):
        return -EINVAL
    len += vnet_hdr_len

    # po->xmit(skb): dev_queue_xmit
    sk.peer.deliver_datagram(k.mem.read(skb.data, skb.len))
    return len


def l2cap_skbuff_fromiovec(k, chan: l2cap_chan, msg: msghdr, len: int, count: int, skb: sk_buff) -> int:
    """Fill ``skb`` (``count`` bytes) and continuation fragments with ``len`` bytes from
    ``msg->msg_iter.iov``, one ->memcpy_fromiovec call per fragment on the same iovec."""
    conn = chan.conn
    sent = 0

    if getattr(k, chan.ops.memcpy_fromiovec)(chan, k.skb_put(skb, count), msg.msg_iter.iov, count):
        return -EFAULT

    sent += count
    len -= count

    # Continuation fragments (no L2CAP header)
    while len:
        count = min(conn.mtu, len)

        tmp = getattr(k, chan.ops.alloc_skb)(chan, 0, count, msg.msg_flags & MSG_DONTWAIT)
        if isinstance(tmp, int):
            return tmp

        if getattr(k, chan.ops.memcpy_fromiovec)(chan, k.skb_put(tmp, count), msg.msg_iter.iov, count):
            return -EFAULT

        sent += count
        len -= count

        # *frag = tmp; skb->len += (*frag)->len: the frag_list is flattened into the head
        k.mem.write(k.skb_put(skb, tmp.len), k.mem.read(tmp.data, tmp.len))

    return sent


# --- the other users this patch converts -----------------------------------
# SCTP reads the message through msg_iter: 3.19's sctp_datamsg_from_user() hands
# &msgh->msg_iter to sctp_user_addto_chunk(), which copies with copy_from_iter() (kernel-facts §3,
# the SCTP row, T319 column; net/sctp/chunk.c and sm_make_chunk.c are not in the reference set,
# so the bodies are recalled [INF] around that call, and which 3.19 commit did it is not known:
# it is placed with the removal of msg_iov, which it needs). The iterator advances chunk by chunk;
# the caller's kvec array is not touched, as before.



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
# conversion, kernel-facts §5 #4, ids not found). Placed with the removal of msg_iov, which they need.



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
