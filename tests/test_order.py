"""Migration order review on small synthetic series whose safe orders are known by construction.

* ``rx_by_hand`` makes iscsit_do_rx_data advance its own kvec (safe under either receive path);
  ``rx_leaves`` makes kernel_recvmsg hand the protocol a copy of the caller's kvec array. Only rx_by_hand first is safe.
* ``tx_consumes`` makes tcp_sendmsg consume the kvec: cifs breaks in every order.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from checks.cache import VerdictCache
from checks.order import Evaluator, OrderError, certificate, check_order, parse_order, search_order
from checks.profiles import get_profile
from checks.series import load_series

SMOKE = get_profile("smoke")

RX_BY_HAND = '''
"""iscsi-target: advance the receive kvec by hand"""
from checks.series import Step
from model.socket_h import MSG_WAITALL

STEP = Step(subject="iscsi-target: advance the receive kvec by hand")


def iscsit_do_rx_data(k, conn, count) -> int:
    data, total_rx = count.data_length, 0
    msg = k.msghdr()
    segs = [k.mem.elem(count.iov + i) for i in range(count.iov_count)]
    while total_rx < data:
        # a scratch kvec array for what is left, rebuilt on every pass
        left, skip = [], total_rx
        for s in segs:
            if skip >= s.iov_len:
                skip -= s.iov_len
                continue
            left.append(k.kvec(iov_base=s.iov_base + skip, iov_len=s.iov_len - skip))
            skip = 0
        vec = k.mem.alloc_array(left)
        rx_loop = k.kernel_recvmsg(conn.sock, msg, vec, len(left), data - total_rx, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx
'''

RX_LEAVES = '''
"""net: kernel_recvmsg() leaves the caller's kvec array alone"""
from checks.series import Step

STEP = Step(subject="net: kernel_recvmsg() leaves the caller's kvec array alone")


def kernel_recvmsg(k, sock, msg, vec, num, size, flags):
    oldfs = k.get_fs()
    k.set_fs("KERNEL_DS")
    # the protocol consumes a copy of the array, never the caller's
    segs = [k.mem.elem(vec + i) for i in range(num)]
    msg.msg_iov = k.mem.alloc_array([k.kvec(iov_base=s.iov_base, iov_len=s.iov_len) for s in segs])
    msg.msg_iovlen = num
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result
'''

TX_CONSUMES = '''
"""net: tcp_sendmsg consumes the iovec"""
from checks.series import Step

STEP = Step(subject="net: tcp_sendmsg consumes the iovec")


def tcp_sendmsg(k, iocb, sk, msg, size):
    k.sk_begin_call(sk)
    copied = 0
    for n in range(msg.msg_iovlen):
        seg = k.mem.elem(msg.msg_iov + n)
        while seg.iov_len:
            if sk.room == 0:
                err = k.sk_stream_wait_memory(sk, k.sock_sndtimeo(sk, msg.msg_flags & 0x40))
                if err:
                    return copied if copied else err
                continue
            copy = min(seg.iov_len, sk.room)
            sk.peer.deliver(k.mem.read(seg.iov_base, copy))
            sk.room -= copy
            copied += copy
            seg.iov_base, seg.iov_len = seg.iov_base + copy, seg.iov_len - copy
    return copied
'''


def make_series(tmp: Path, name: str, steps: dict[str, str], users: list[str], depends: str = "") -> str:
    d = tmp / name
    d.mkdir()
    order = ", ".join(f'"{s}"' for s in steps)
    users_toml = ", ".join(f'"{u}"' for u in users)
    (d / "series.toml").write_text(f'name = "{name}"\norder = [{order}]\nusers = [{users_toml}]\n')
    for sid, body in steps.items():
        (d / f"{sid}.py").write_text(textwrap.dedent(body))
    return str(d)


@pytest.fixture
def evaluator(tmp_path):
    def make(name, steps, users):
        series = load_series(make_series(tmp_path, name, steps, users))
        return Evaluator(series, SMOKE, VerdictCache(tmp_path / "cache"), jobs=1)
    return make


def test_unsafe_order_names_the_user_and_step(evaluator):
    ev = evaluator("rx", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND}, ["iscsit_do_rx_data"])
    result = check_order(ev, parse_order(ev.series, "s01,s02"))
    assert not result.safe
    b = result.first_break
    assert b.step == "s01_rx_leaves" and b.after.user == "iscsit_do_rx_data" and b.after.protocol == "tcp"
    assert b.after.counterexample is not None and "--order s01" in b.after.replay


def test_search_finds_the_safe_order(evaluator):
    ev = evaluator("rx2", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND}, ["iscsit_do_rx_data"])
    result = search_order(ev)
    assert result.found == ("s02_rx_by_hand", "s01_rx_leaves")
    assert check_order(ev, result.found).safe
    assert result.stats.cells_naive > result.stats.cells_computed  # the cache saved work


def test_no_safe_order_gives_a_certificate(evaluator):
    ev = evaluator("tx", {"s01_rx_by_hand": RX_BY_HAND, "s02_tx_consumes": TX_CONSUMES},
                   ["smb_send_kvec", "iscsit_do_rx_data"])
    assert search_order(ev).found is None
    cert, breaks = certificate(ev)
    assert cert == ("s02_tx_consumes",)
    assert breaks and breaks[0].after.user == "smb_send_kvec" and breaks[0].after.counterexample


def test_bad_orders_are_refused(evaluator):
    ev = evaluator("bad", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND}, ["iscsit_do_rx_data"])
    with pytest.raises(OrderError, match="no step 's09'"):
        parse_order(ev.series, "s01,s09")
    with pytest.raises(OrderError, match="names s01 twice"):
        parse_order(ev.series, "s01,s01")
