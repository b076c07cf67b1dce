"""drivers/scsi/iscsi_tcp.c + drivers/scsi/libiscsi_tcp.c (v3.18): the open-iscsi software
initiator's transmit path, iscsi_sw_tcp_xmit_segment() with iscsi_tcp_segment_done().

Every call to kernel_sendmsg() gets a fresh one-element kvec
``{segment->data + segment->copied, segment->size - segment->copied}``; the progress lives in the
segment (``copied``, ``total_copied``), which iscsi_tcp_segment_done() advances by what the
socket took. So the initiator is indifferent to what the protocol does to the kvec. A short send
loops for the rest; an error (-EAGAIN from the 15 s send timeout, or a signal's -EINTR) leaves
the segment where it is: -EAGAIN makes libiscsi requeue the task and iscsi_sw_tcp_write_space()
run the transmit again, any other error fails the connection.

Simplified: a PDU is a linear header segment and at most one linear data segment (no
scatterlist data through ->sendpage, no header or data digests: segment->hash is NULL); the
padding step of iscsi_tcp_segment_done() is a comment, the message standing for the padded PDU
(as with CAP_PADDING_OFFLOAD). libiscsi's struct iscsi_conn and struct iscsi_task are folded
into iscsi_tcp_conn (the name iscsi_conn is the target's struct in this image), so
iscsi_sw_tcp_pdu_xmit() and iscsi_sw_tcp_xmit() take the iscsi_tcp_conn. segment->done is a
function pointer (a callable bound to the running kernel). Source: 3.1x iscsi_tcp.c and
libiscsi_tcp.c (before MSG_SENDPAGE_NOTLAST and queue_recv were added).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from model.errno import EAGAIN, EIO
from model.kernel import NULL, Ptr
from model.param import HZ
from model.socket_h import MSG_MORE
from model.users import SEND, User

_ISCSI_ERR_XMIT_FAILED = 1011  # enum iscsi_err (ISCSI_ERR_BASE 1000 + 11)


@dataclass(slots=True)
class iscsi_segment:
    data: Ptr = NULL
    size: int = 0
    copied: int = 0
    total_size: int = 0
    total_copied: int = 0
    hash: object = None  # struct hash_desc *: digests are not modelled
    done: Callable | None = None  # iscsi_segment_done_fn_t *


@dataclass(slots=True)
class iscsi_sw_tcp_send:
    hdr: Ptr = NULL
    segment: iscsi_segment = field(default_factory=iscsi_segment)
    data_segment: iscsi_segment = field(default_factory=iscsi_segment)


@dataclass(slots=True)
class iscsi_sw_tcp_conn:
    sock: object  # struct socket *
    out: iscsi_sw_tcp_send = field(default_factory=iscsi_sw_tcp_send)


@dataclass(slots=True)
class iscsi_tcp_conn:
    dd_data: iscsi_sw_tcp_conn
    txdata_octets: int = 0  # conn->txdata_octets (struct iscsi_conn, folded in)
    failed: int = 0  # iscsi_conn_failure(conn, err): the error the connection failed with


def iscsi_segment_init_linear(k, segment: iscsi_segment, data: Ptr, size: int, done, hash) -> None:
    """libiscsi_tcp.c: __iscsi_segment_init() (memset, total_size, done, hash), then data/size."""
    # memset(segment, 0, sizeof(*segment));
    segment.data = NULL
    segment.size = segment.copied = segment.total_size = segment.total_copied = 0
    segment.hash = segment.done = None
    segment.total_size = size
    segment.done = done
    if hash is not None:
        segment.hash = hash  # crypto_hash_init(hash);
    segment.data = data
    segment.size = size


def iscsi_tcp_segment_done(k, tcp_conn: iscsi_tcp_conn, segment: iscsi_segment, recv: int, copied: int) -> int:
    """libiscsi_tcp.c: check whether the segment is complete; 1 when it is, with no digest to go."""
    # if (segment->hash && copied) { ... crypto_hash_update(...) }: no digests
    segment.copied += copied
    if segment.copied < segment.size:
        # iscsi_tcp_segment_map(segment, recv): nothing to map for linear data
        return 0

    segment.total_copied += segment.copied
    segment.copied = 0
    segment.size = 0

    # Unmap the current scatterlist page, if there is one: iscsi_tcp_segment_unmap(segment);

    # Do we have more scatterlist entries?
    if segment.total_copied < segment.total_size:
        # Proceed to the next entry in the scatterlist: linear segments have none
        return 0

    # Do we need to handle padding? if (!(caps & CAP_PADDING_OFFLOAD)) { pad = iscsi_padding(...);
    # ... segment->data = segment->padbuf; return 0; }: not modelled, see the module docstring

    # Set us up for transferring the data digest. hdr digest is completely handled in hdr done
    # function: if (segment->hash) { ... return 0; }: no digests
    return 1


def iscsi_sw_tcp_send_hdr_done(k, tcp_conn: iscsi_tcp_conn, segment: iscsi_segment) -> int:
    """Called when the header segment is sent: switch to the data segment (a struct copy)."""
    tcp_sw_conn = tcp_conn.dd_data
    for f in dataclasses.fields(iscsi_segment):
        setattr(tcp_sw_conn.out.segment, f.name, getattr(tcp_sw_conn.out.data_segment, f.name))
    # "Header done. Next segment size %u total_size %u"
    return 0


def iscsi_sw_tcp_send_hdr_prep(k, tcp_conn: iscsi_tcp_conn, hdr: Ptr, hdrlen: int) -> None:
    tcp_sw_conn = tcp_conn.dd_data
    # Clear the data segment - needs to be filled in by the caller using iscsi_tcp_send_data_prep()
    k.iscsi_segment_init_linear(tcp_sw_conn.out.data_segment, NULL, 0, None, None)
    # if (conn->hdrdgst_en) { ... }: no header digest
    tcp_sw_conn.out.hdr = hdr
    k.iscsi_segment_init_linear(tcp_sw_conn.out.segment, hdr, hdrlen, k.iscsi_sw_tcp_send_hdr_done, None)


def iscsi_sw_tcp_send_linear_data_prep(k, tcp_conn: iscsi_tcp_conn, data: Ptr, len: int) -> None:
    tcp_sw_conn = tcp_conn.dd_data
    # datalen = len; pad = iscsi_padding(len): not modelled; if (conn->datadgst_en) tx_hash = ...
    k.iscsi_segment_init_linear(tcp_sw_conn.out.data_segment, data, len, None, None)


def iscsi_sw_tcp_xmit_segment(k, tcp_conn: iscsi_tcp_conn, segment: iscsi_segment) -> int:
    """Transmit as much of the buffer as the network layer will accept; returns the bytes sent."""
    tcp_sw_conn = tcp_conn.dd_data
    sk = tcp_sw_conn.sock
    copied = 0
    r = 0

    while not k.iscsi_tcp_segment_done(tcp_conn, segment, 0, r):
        flags = 0

        r = 0
        offset = segment.copied
        copy = segment.size - offset

        if segment.total_copied + segment.size < segment.total_size:
            flags |= MSG_MORE

        # Use sendpage if we can; else fall back to sendmsg: linear segments only here
        msg = k.msghdr()
        msg.msg_flags = flags
        iov = k.mem.alloc_array([k.kvec(iov_base=segment.data + offset, iov_len=copy)],
                                name="iscsi_sw_tcp_xmit_segment iov")
        r = k.kernel_sendmsg(sk, msg, iov, 1, copy)

        if r < 0:
            # iscsi_tcp_segment_unmap(segment);
            return r
        copied += r
    return copied


def iscsi_sw_tcp_xmit(k, tcp_conn: iscsi_tcp_conn) -> int:
    """TCP transmit: the bytes consumed, -EAGAIN to be called again, -EIO after a failure."""
    tcp_sw_conn = tcp_conn.dd_data
    segment = tcp_sw_conn.out.segment
    consumed = 0
    rc = 0

    while True:
        rc = k.iscsi_sw_tcp_xmit_segment(tcp_conn, segment)
        # We may not have been able to send data because the conn is getting stopped. libiscsi
        # will know so propagate err for it to do the right thing.
        if rc == -EAGAIN:
            return rc
        elif rc < 0:
            rc = _ISCSI_ERR_XMIT_FAILED
            # error: Transmit error. We could initiate error recovery here.
            tcp_conn.failed = rc  # iscsi_conn_failure(conn, rc);
            return -EIO
        elif rc == 0:
            break

        consumed += rc

        # if (segment->total_copied >= segment->total_size) { if (segment->done != NULL) {
        if segment.total_copied >= segment.total_size and segment.done is not None:
            rc = segment.done(tcp_conn, segment)
            if rc != 0:
                tcp_conn.failed = rc  # goto error: iscsi_conn_failure(conn, rc);
                return -EIO

    # "xmit %d bytes"
    tcp_conn.txdata_octets += consumed
    return consumed


def iscsi_sw_tcp_xmit_qlen(k, tcp_conn: iscsi_tcp_conn) -> int:
    segment = tcp_conn.dd_data.out.segment
    return segment.total_copied - segment.total_size


def iscsi_sw_tcp_pdu_xmit(k, tcp_conn: iscsi_tcp_conn) -> int:
    rc = 0
    # current->flags |= PF_MEMALLOC;
    while k.iscsi_sw_tcp_xmit_qlen(tcp_conn):
        rc = k.iscsi_sw_tcp_xmit(tcp_conn)
        if rc == 0:
            rc = -EAGAIN
            break
        if rc < 0:
            break
        rc = 0
    # tsk_restore_flags(current, pflags, PF_MEMALLOC);
    return rc


def _xmit_task(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """libiscsi's iscsi_xmit_task()/iscsi_data_xmit() use: the header is the first non-empty kvec
    (a PDU always has its 48-byte header), the data the second; -EAGAIN requeues the task and
    the transmit runs again on write space; any other error fails the connection."""
    # iscsi_sw_tcp_conn_bind(): sk->sk_sndtimeo = 15 * HZ; /* FIXME: make it configurable */
    sock.sk.sk_sndtimeo = 15 * HZ
    tcp_conn = k.iscsi_tcp_conn(dd_data=k.iscsi_sw_tcp_conn(sock=sock))
    parts = [k.mem.elem(vec + i) for i in range(nr_segs)]
    parts = [p for p in parts if p.iov_len]
    if not parts:
        return 0
    k.iscsi_sw_tcp_send_hdr_prep(tcp_conn, parts[0].iov_base, parts[0].iov_len)
    if len(parts) > 1:
        k.iscsi_sw_tcp_send_linear_data_prep(tcp_conn, parts[1].iov_base, parts[1].iov_len)
    while True:
        rc = k.iscsi_sw_tcp_pdu_xmit(tcp_conn)
        if rc != -EAGAIN:
            return rc if rc < 0 else total


USERS = (
    User("iscsi_sw_tcp_xmit_segment", "drivers/scsi/iscsi_tcp.c", SEND, ("tcp",), _xmit_task, max_segs=2,
         note="a fresh one-element kvec per call; the segment's copied/total_copied carry progress"),
)
