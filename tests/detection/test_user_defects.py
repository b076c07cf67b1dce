"""The checker finds planted defects in the socket path and in users: each must come out BROKEN
(quick bounds, exhaustive engine), with a counterexample that replays. A defect that slips
through fails its test."""

from __future__ import annotations

import pytest

from checks.cell import CellTask, all_users, check_cell
from checks.harness import CellInput, run_cell
from checks.profiles import get_profile
from checks.verdicts import Status
from model.errno import EAGAIN, EFAULT
from model.socket_h import MSG_DONTWAIT, MSG_NOSIGNAL, MSG_WAITALL
from tests.conftest import plant

QUICK = get_profile("quick", crosshair=False)


# --- planted defects: each is the model's function with one realistic mistake ----------------

def smb_send_kvec_advances_by_requested(k, server, iov, n_vec, sent):
    """cifs advancing its kvec by what it asked for, not by what was sent."""
    ssocket, rc = server.ssocket, 0
    sent[0] = 0
    msg = k.msghdr(msg_flags=MSG_DONTWAIT + MSG_NOSIGNAL if server.noblocksnd else MSG_NOSIGNAL)
    remaining = sum(k.mem.elem(iov + i).iov_len for i in range(n_vec))
    first_vec = 0
    while remaining:
        rc = k.kernel_sendmsg(ssocket, msg, iov + first_vec, n_vec - first_vec, remaining)
        if rc == -EAGAIN:
            continue
        if rc < 0:
            break
        sent[0] += rc
        if rc == remaining:
            break
        requested = remaining  # the defect
        remaining -= rc
        for i in range(first_vec, n_vec):
            seg = k.mem.elem(iov + i)
            if seg.iov_len:
                step = min(requested, seg.iov_len)
                seg.iov_base, seg.iov_len, requested = seg.iov_base + step, seg.iov_len - step, requested - step
                if seg.iov_len:
                    first_vec = i
                    break
        rc = 0
    return rc


def smb_send_kvec_treats_eagain_as_done(k, server, iov, n_vec, sent):
    """cifs giving up on -EAGAIN but reporting success."""
    sent[0] = 0
    msg = k.msghdr(msg_flags=MSG_DONTWAIT + MSG_NOSIGNAL if server.noblocksnd else MSG_NOSIGNAL)
    remaining = sum(k.mem.elem(iov + i).iov_len for i in range(n_vec))
    rc = k.kernel_sendmsg(server.ssocket, msg, iov, n_vec, remaining)
    if rc == -EAGAIN:
        return 0  # the defect: nothing sent, "success"
    if rc > 0:
        sent[0] = rc
    return rc if rc < 0 else 0


def tcp_sendmsg_forgets_segment_offset(k, iocb, sk, msg, size):
    """tcp_sendmsg that re-reads a segment from its start after waiting for space."""
    k.sk_begin_call(sk)
    timeo = k.sock_sndtimeo(sk, msg.msg_flags & MSG_DONTWAIT)
    copied = 0
    for n in range(msg.msg_iovlen):
        seg = k.mem.elem(msg.msg_iov + n)
        seglen = seg.iov_len
        while seglen > 0:
            if sk.room == 0:
                err = k.sk_stream_wait_memory(sk, timeo)
                if err:
                    return copied if copied else k.sk_stream_error(sk, msg.msg_flags, err)
                continue
            copy = min(seglen, sk.room)
            skb = k.alloc_skb(copy)
            k.copy_from_user(skb.data, seg.iov_base, copy)  # the defect: no "+ offset"
            sk.peer.deliver(k.mem.read(skb.data, copy))
            sk.room -= copy
            copied += copy
            seglen -= copy
    return copied


def memcpy_toiovec_forgets_base(k, iov, kdata, len):
    """memcpy_toiovec reducing iov_len but not moving iov_base."""
    while len > 0:
        seg = k.mem.elem(iov)
        if seg.iov_len:
            copy = min(seg.iov_len, len)
            if k.copy_to_user(seg.iov_base, kdata, copy):
                return -EFAULT
            kdata, len = kdata + copy, len - copy
            seg.iov_len -= copy  # the defect: iov_base stays
        iov = iov + 1
    return 0


def memcpy_toiovec_len_off_by_one(k, iov, kdata, len):
    """memcpy_toiovec taking one byte too many off a segment it finished early."""
    while len > 0:
        seg = k.mem.elem(iov)
        if seg.iov_len:
            copy = min(seg.iov_len, len)
            if k.copy_to_user(seg.iov_base, kdata, copy):
                return -EFAULT
            kdata, len = kdata + copy, len - copy
            seg.iov_base = seg.iov_base + copy
            seg.iov_len -= copy + (1 if seg.iov_len > copy else 0)  # the defect
        iov = iov + 1
    return 0


def skb_copy_datagram_iovec_const(k, skb, offset, to, len):
    """tcp receive that stops consuming the iovec (the 3.19 semantics, without msg_iter)."""
    return k.memcpy_toiovecend(to, skb.data + offset, 0, len)


def kernel_sendmsg_without_set_fs(k, sock, msg, vec, num, size):
    """kernel_sendmsg that forgets set_fs(KERNEL_DS): copy_from_user refuses kernel addresses."""
    msg.msg_iov, msg.msg_iovlen = vec, num
    return k.sock_sendmsg(sock, msg, size)


def kernel_sendmsg_drops_last_segment(k, sock, msg, vec, num, size):
    """kernel_sendmsg passing num - 1 segments (an off-by-one in msg_iovlen)."""
    oldfs = k.get_fs()
    k.set_fs("KERNEL_DS")
    msg.msg_iov, msg.msg_iovlen = vec, max(num - 1, 1)
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result


def iscsit_do_rx_data_asks_for_everything(k, conn, count):
    """iscsit_do_rx_data passing the full length on every call instead of what is left."""
    data, total_rx = count.data_length, 0
    msg = k.msghdr()
    while total_rx < data:
        rx_loop = k.kernel_recvmsg(conn.sock, msg, count.iov, count.iov_count, data, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx




DEFECTS = [
    # (id, symbol, defect, user, protocol)
    ("cifs advances by requested count", "smb_send_kvec", smb_send_kvec_advances_by_requested, "smb_send_kvec", "tcp"),
    ("cifs treats -EAGAIN as done", "smb_send_kvec", smb_send_kvec_treats_eagain_as_done, "smb_send_kvec", "tcp"),
    ("tcp_sendmsg forgets segment offset", "tcp_sendmsg", tcp_sendmsg_forgets_segment_offset, "smb_send_kvec", "tcp"),
    ("memcpy_toiovec forgets iov_base", "memcpy_toiovec", memcpy_toiovec_forgets_base, "iscsit_do_rx_data", "tcp"),
    ("memcpy_toiovec iov_len off by one", "memcpy_toiovec", memcpy_toiovec_len_off_by_one, "iscsit_do_rx_data", "tcp"),
    ("tcp receive stops consuming", "skb_copy_datagram_iovec", skb_copy_datagram_iovec_const, "iscsit_do_rx_data",
     "tcp"),
    ("kernel_sendmsg without set_fs", "kernel_sendmsg", kernel_sendmsg_without_set_fs, "smb_send_kvec", "tcp"),
    ("kernel_sendmsg drops a segment", "kernel_sendmsg", kernel_sendmsg_drops_last_segment, "smb_send_kvec", "tcp"),
    ("iscsi rx asks for the full length", "iscsit_do_rx_data", iscsit_do_rx_data_asks_for_everything,
     "iscsit_do_rx_data", "tcp"),
]


@pytest.mark.parametrize("name,symbol,defect,user,proto", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_planted_defect_is_broken(v318, name, symbol, defect, user, proto):
    image = plant(v318, symbol, defect)
    # the cell holds without the defect ...
    task = CellTask("v3.18", "series/v3.18", "v3.18", user, proto)
    assert check_cell(task, v318, frozenset(), QUICK).status == Status.CONFIRMED
    # ... and is BROKEN with it, with a counterexample that replays concretely
    v = check_cell(task, image, frozenset(), QUICK)
    assert v.status == Status.BROKEN, f"{name}: {v.status.name} {v.evidence}"
    obs = run_cell(image, all_users()[user], proto, CellInput.from_json(v.counterexample.input))
    assert not obs.holds
    assert v.replay and "seriescheck replay" in v.replay
