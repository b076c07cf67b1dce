"""net/sctp/socket.c + net/sctp/chunk.c + net/sctp/sm_make_chunk.c (v3.18): the send path of an
SCTP socket on an established association, as far as dlm uses it; ``sctp_prot``.

One module for the send path through these files (split across them by the socket/chunk layering;
no other model module needs an association).

Send: sctp_sendmsg() (net/sctp/socket.c:1589@3.18.9) refuses an empty message that is neither
EOF nor ABORT (-EINVAL, :1686-1690) and a message longer than the send buffer (-EMSGSIZE,
:1895-1898); when the association has no send-buffer space at all it waits in
sctp_wait_for_sndbuf() (:1920-1924, :6919) until the whole message fits, failing with -EAGAIN
(no timeout left), -EPIPE (``sk_err`` set or the association shutting down or dead) or a signal's
errno. Then sctp_datamsg_from_user() (chunk.c) cuts the message into DATA chunks of at most
``asoc->frag_point`` bytes and fills each with sctp_user_addto_chunk() (sm_make_chunk.c), which
reads the caller's iovec by offset with memcpy_fromiovecend(target, msg_iov, off, len) and so
never modifies it (kernel-facts §3, the SCTP row; chunk.c and sm_make_chunk.c are not in the
reference set, so their bodies here are recalled [INF] around that call). sctp_primitive_SEND()
hands every chunk to the association: all of them go or none ("all chunks must either fail or
succeed"), and the return is ``msg_len``. Errors go through sctp_error() (:1555): -EPIPE becomes
the pending socket error if there is one. A message is all or nothing, like a UDP datagram.

Simplified, and why no caller can tell:

* The socket is one-to-one with one established association to the world's peer (dlm's
  peeled-off sockets): no address lookup, no implicit association setup, no control messages
  (sctp_msghdr_parse() finds none; dlm's SCTP_SNDRCV cmsg only names the peer, :1127-1132 of
  fs/dlm/lowcomms.c), one stream. ``frag_point`` is scaled down to 1 byte, so the checker's
  few-byte messages span several DATA chunks as kernel-sized messages span 1452-byte ones.
* struct sock has no room for the association here: it is rebuilt from the socket on each call,
  and its state follows the socket: established until the world's "error", which is the
  association's loss (SCTP_COMM_LOST: the model sets ``sk_err = ECONNRESET`` and shuts the
  socket down); a send after that finds no association (-EPIPE, :1724-1728).
* sctp_wspace() is the world's send-buffer room in this call (``sk.room``), and
  sctp_set_owner_w() charges the message to it. The peer receives the message as one datagram,
  reassembled from its chunks. No receive path: no modelled user receives over SCTP here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EAGAIN, ECONNRESET, EINVAL, EMSGSIZE, EPIPE
from model.kernel import Ptr
from model.skbuff import sk_buff
from model.sock import SHUTDOWN_MASK, proto, sock
from model.socket_h import MSG_DONTWAIT, msghdr
from model.world import UNLIMITED, WAIT_ERROR, WAIT_SIGNAL

SCTP_STATE_ESTABLISHED = 4
SCTP_STATE_SHUTDOWN_PENDING = 5
SCTP_STATE_CLOSED = 1

_SCTP_FRAG_POINT = 1  # asoc->frag_point, scaled down (see above)
_SK_SNDBUF = 1 << 16  # sk->sk_sndbuf: above any message here


@dataclass(slots=True)
class sctp_association:
    base_sk: sock  # asoc->base.sk
    state: int = SCTP_STATE_ESTABLISHED
    frag_point: int = _SCTP_FRAG_POINT


@dataclass(slots=True)
class sctp_chunk:
    skb: sk_buff


@dataclass(slots=True)
class sctp_datamsg:
    chunks: list = field(default_factory=list)  # struct list_head chunks


def _sctp_comm_lost(k, sk: sock) -> None:
    """The world's "error": the association is lost (SCTP_COMM_LOST) and the socket is closed."""
    sk.sk_shutdown = SHUTDOWN_MASK
    sk.sk_err = ECONNRESET


def _sctp_asoc(sk: sock) -> sctp_association | None:
    """The socket's one association, rebuilt from the socket; None once it is gone."""
    if sk.sk_shutdown == SHUTDOWN_MASK:
        return None
    return sctp_association(base_sk=sk)


# --- net/sctp/socket.c ------------------------------------------------------------------------


def sctp_wspace(k, asoc: sctp_association) -> int:
    """Get the sndbuf space available at the time on the association (the world's room)."""
    return asoc.base_sk.room


def sctp_wait_for_sndbuf(k, asoc: sctp_association, timeo_p: list[int], msg_len: int) -> int:
    """Helper function to wait for space in the sndbuf."""
    sk = asoc.base_sk
    # Wait on the association specific sndbuf space.
    while True:
        if not timeo_p[0]:
            return -EAGAIN  # do_nonblock
        if sk.sk_err or asoc.state >= SCTP_STATE_SHUTDOWN_PENDING:
            return -EPIPE  # do_error
        if sk.window.then == WAIT_SIGNAL:  # signal_pending(current)
            return k.sock_intr_errno(timeo_p[0])  # do_interrupted
        if msg_len <= k.sctp_wspace(asoc):
            return 0
        # release_sock(sk); current_timeo = schedule_timeout(current_timeo); lock_sock(sk);
        if sk.window.then == WAIT_ERROR:
            _sctp_comm_lost(k, sk)
            asoc.state = SCTP_STATE_CLOSED
        else:
            sk.room = UNLIMITED


def sctp_error(k, sk: sock, flags: int, err: int) -> int:
    if err == -EPIPE:
        err = k.sock_error(sk) or -EPIPE
    # if (err == -EPIPE && !(flags & MSG_NOSIGNAL)) send_sig(SIGPIPE, current, 0);
    return err


def sctp_sendmsg(k, iocb, sk: sock, msg: msghdr, msg_len: int) -> int:
    k.sk_begin_call(sk)
    msg_flags = msg.msg_flags

    # sctp_msghdr_parse(msg, &cmsgs): no control messages; sinfo_flags = 0 (see above)
    if msg_len == 0:  # !(sinfo_flags & (SCTP_EOF|SCTP_ABORT)) && (msg_len == 0)
        return k.sctp_error(sk, msg_flags, -EINVAL)

    asoc = _sctp_asoc(sk)  # sctp_id2assoc(sk, associd) for the socket's one association
    if asoc is None:
        return k.sctp_error(sk, msg_flags, -EPIPE)

    # API 7.1.7, the sndbuf size per association bounds the maximum size of data that can be
    # sent in a single send call.
    if msg_len > _SK_SNDBUF:
        return k.sctp_error(sk, msg_flags, -EMSGSIZE)

    timeo = [k.sock_sndtimeo(sk, msg.msg_flags & MSG_DONTWAIT)]
    if not k.sctp_wspace(asoc):
        err = k.sctp_wait_for_sndbuf(asoc, timeo, msg_len)
        if err:
            return k.sctp_error(sk, msg_flags, err)

    # Break the message into multiple chunks of maximum size.
    datamsg = k.sctp_datamsg_from_user(asoc, None, msg, msg_len)
    if isinstance(datamsg, int):
        return k.sctp_error(sk, msg_flags, datamsg)

    # Do accounting for the write space: sctp_set_owner_w(chunk) for each chunk
    sk.room = max(0, sk.room - msg_len)

    # Send it to the lower layers. Note: all chunks must either fail or succeed.
    _sctp_primitive_send(k, asoc, datamsg)
    return k.sctp_error(sk, msg_flags, msg_len)


def _sctp_primitive_send(k, asoc: sctp_association, datamsg: sctp_datamsg) -> None:
    """sctp_primitive_SEND(): the chunks go out; the peer reassembles the message."""
    data = b"".join(k.mem.read(c.skb.data, c.skb.len) for c in datamsg.chunks)
    asoc.base_sk.peer.deliver_datagram(data)


# --- net/sctp/chunk.c -------------------------------------------------------------------------


def sctp_datamsg_from_user(k, asoc: sctp_association, sinfo, msgh: msghdr, msg_len: int):
    """A new datamsg of DATA chunks holding the message, or a negative errno."""
    msg = sctp_datamsg()
    max = asoc.frag_point
    offset = 0
    whole = msg_len // max
    over = msg_len % max

    # Create chunks for all the full sized DATA chunks.
    for _ in range(whole):
        chunk = sctp_chunk(skb=k.alloc_skb(0))  # sctp_make_datafrag_empty(asoc, sinfo, len, ...)
        err = k.sctp_user_addto_chunk(chunk, offset, max, msgh.msg_iov)
        if err < 0:
            return err  # errout_chunk_free
        offset += max
        msg.chunks.append(chunk)

    # .. now the leftover bytes.
    if over:
        chunk = sctp_chunk(skb=k.alloc_skb(0))
        err = k.sctp_user_addto_chunk(chunk, offset, over, msgh.msg_iov)
        if err < 0:
            return err
        msg.chunks.append(chunk)

    return msg


# --- net/sctp/sm_make_chunk.c -----------------------------------------------------------------


def sctp_user_addto_chunk(k, chunk: sctp_chunk, off: int, len: int, data: Ptr) -> int:
    """Helper function to assemble user data into a chunk: ``len`` bytes from ``off`` bytes into
    the iovec ``data``, which is not modified."""
    # Make room in chunk for data.
    target = k.skb_put(chunk.skb, len)

    # Copy data (whole iovec) into chunk
    err = k.memcpy_fromiovecend(target, data, off, len)
    if err:
        return err  # goto out

    # Adjust the chunk length field: chunk->chunk_hdr->length += len (not kept here)
    return err


sctp_prot = proto(name="SCTP", sendmsg="sctp_sendmsg", recvmsg="")
