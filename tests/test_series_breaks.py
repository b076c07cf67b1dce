"""Each series broken on purpose: a step moved before what it needs, a user converted too early,
a fix written wrongly. The checks must name the right step, user and protocol, with a
counterexample that replays."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from checks.cache import VerdictCache
from checks.cell import all_users
from checks.harness import CellInput, run_cell
from checks.order import Evaluator, certificate, check_order, parse_order
from checks.profiles import get_profile
from checks.series import SERIES_ROOT, compose, load_series

QUICK = get_profile("quick", crosshair=False)


def evaluator(tmp_path: Path, name: str, users: tuple[str, ...]) -> Evaluator:
    series = dataclasses.replace(load_series(name), users=users)
    return Evaluator(series, QUICK, VerdictCache(tmp_path / "cache"), jobs=1)


def assert_break(result, step: str, user: str, protocol: str = "tcp"):
    assert not result.safe
    b = result.first_break
    assert (b.step.split("_", 1)[0], b.after.user, b.after.protocol) == (step, user, protocol), b.describe()
    cex = b.after.counterexample
    assert cex is not None and b.after.replay and "--order" in b.after.replay
    return b


def replays_at(series_name: str, order: tuple[str, ...], step: str, user: str, cex) -> bool:
    series = load_series(series_name)
    image = compose(series, order[: order.index(step) + 1]).images[step]
    return not run_cell(image, all_users()[user], "tcp", CellInput.from_json(cex.input)).holds


@pytest.mark.parametrize("order,step,user", [
    # the local iov_iter bounds the copy by size: drbd, still passing its original size, walks off its kvec
    ("s01,s02,s03,s04,s05,n08,n06,n07", "n08", "drbd_send"),
    # the receive path stops consuming the kvec before the iSCSI target carries its own progress
    ("s01,s02,s03,s04,s05,n06,n08,n07", "n08", "iscsit_do_rx_data"),
])
def test_iov_iter_net_reordered(tmp_path, order, step, user):
    ev = evaluator(tmp_path, "iov_iter-net", (user,))
    ids = parse_order(ev.series, order)
    b = assert_break(check_order(ev, ids), step, user)
    assert replays_at("iov_iter-net", ids, b.step, user, b.after.counterexample)


def test_iov_iter_net_callers_set_msg_iter_up_without_an_ocfs2_lustre_step(tmp_path):
    """ocfs2 and lustre call kernel_sendmsg() in 3.18 (fs/ocfs2/cluster/tcp.c:935@3.18.9,
    socklnd_lib-linux.c:114@3.18.9): msg_iter set up by the callers (n11) right after n09 breaks
    neither. (A model that open-coded kernel_sendmsg() reported two breaks here and a step to fix them.)"""
    ev = evaluator(tmp_path, "iov_iter-net", ("o2net_send_tcp_msg", "ksocknal_lib_send_iov"))
    result = check_order(ev, parse_order(ev.series, "s01,s02,s03,s04,s05,n06,n07,n08,n09,n11"))
    assert result.safe, result.first_break.describe()


def test_as_merged_iscsi_converted_too_early(tmp_path):
    """The iSCSI target on a persistent msg_iter before the receive helpers use primitives: its
    sock_recvmsg() runs under USER_DS and memcpy_toiovec() refuses the kernel buffer."""
    ev = evaluator(tmp_path, "as-merged", ("iscsit_do_rx_data",))
    ids = parse_order(ev.series, "s01,s02,s03,s04,s05,s06,s08,s07")
    b = assert_break(check_order(ev, ids), "s08", "iscsit_do_rx_data")
    assert "EFAULT" in b.after.evidence or "failed" in b.after.evidence


def test_send_path_advances_has_no_safe_order(tmp_path):
    ev = evaluator(tmp_path, "send-path-advances", ("smb_send_kvec", "write_partial_kvec"))
    b = assert_break(check_order(ev, parse_order(ev.series, "s01")), "s01", "smb_send_kvec")
    assert replays_at("send-path-advances", ("s01_tcp_sendmsg_advance_iovec",), b.step, "smb_send_kvec",
                      b.after.counterexample)
    cert, breaks = certificate(ev)
    assert cert == ("s01_tcp_sendmsg_advance_iovec",) and breaks


def test_iscsi_stable_fix_written_wrongly(tmp_path):
    """The -stable fix comparing with the wrong variable ('ret != iov_len', the segment count, for
    'ret != data'): a full send fails the connection, and a short one can pass."""
    d = tmp_path / "iscsi-stable-wrong"
    shutil.copytree(SERIES_ROOT / "iscsi-stable", d)
    step = d / "t01_iscsi_target_fail_connection_on_short_sendmsg_writes.py"
    text = step.read_text()
    assert "    if ret != data:" in text
    step.write_text(text.replace("    if ret != data:", "    if ret != iov_len:"))
    series = dataclasses.replace(load_series(str(d)), users=("iscsit_do_tx_data",))
    ev = Evaluator(series, QUICK, VerdictCache(tmp_path / "cache"), jobs=1)
    cells = ev.cells(("t01_iscsi_target_fail_connection_on_short_sendmsg_writes",))
    v = cells[("iscsit_do_tx_data", "tcp")]
    assert v.status.name == "BROKEN" and v.counterexample is not None
