"""The audit fixes of issue 11, each against the kernel source it was read in
(../shared/reference/linux/, cited as path:line@version). Each test fails on the model as it was
before the fix."""

from __future__ import annotations

import pytest

from checks.cell import all_users
from checks.harness import CellInput, run_cell
from checks.order import parse_order
from checks.series import compose, load_series
from model.errno import EAGAIN, ECONNREFUSED, ECONNRESET, ENOBUFS, ENOTCONN, EPIPE
from model.kernel import NULL
from model.param import HZ
from model.users.sunrpc_xprtsock import _task
from tests.conftest import plant
from tests.unit.test_protocols import Rig

# include/net/tcp_states.h@3.18.9, written out so that each test fails on its own on the old model
TCP_ESTABLISHED, TCP_SYN_SENT, TCP_CLOSE, TCP_CLOSE_WAIT = 1, 2, 7, 8

# --- item 1: ocfs2 and lustre call kernel_sendmsg() in 3.18 ------------------------------------


@pytest.mark.parametrize("user", ["o2net_send_tcp_msg", "ksocknal_lib_send_iov"])
def test_callers_setting_msg_iter_up_need_no_ocfs2_lustre_step(user):
    """fs/ocfs2/cluster/tcp.c:935@3.18.9 and socklnd_lib-linux.c:114@3.18.9 already send with
    kernel_sendmsg(), so once msg_iter is set up by the callers of sock_sendmsg() (iov_iter-net
    n11) they send their data with no step of their own. The model that open-coded
    kernel_sendmsg() sent nothing here (the iterator was left empty)."""
    series = load_series("iov_iter-net")
    order = parse_order(series, "s01,s02,s03,s04,s05,n06,n07,n08,n09,n11")
    image = compose(series, order).images["n11_msg_iter_set_up_by_callers"]
    obs = run_cell(image, all_users()[user], "tcp", CellInput.from_json({"segs": [2, 1], "script": []}))
    assert obs.holds, obs.failure


def test_iov_iter_net_has_no_step_for_ocfs2_or_lustre():
    defined = {name for s in load_series("iov_iter-net").steps for name in s.definitions}
    assert not defined & {"o2net_send_tcp_msg", "ksocknal_lib_send_iov"}


# --- item 2: as-merged carries 6bf6ca7515c1 -------------------------------------------------------

SHORT_SEND_CUT_BY_SIGNAL = {"segs": [2], "script": [[1, "signal"]], "mode": "default"}


def _as_merged_images():
    series = load_series("as-merged")
    return compose(series).images


@pytest.mark.parametrize("step,holds", [
    ("s11_kill_memcpy_toiovec", False),  # the v3.18 loop: re-sends from the kvec's start
    ("t01_iscsi_target_fail_connection_on_short_sendmsg_writes", True),
    ("s13_tcp_sendmsg_iov_iter", True),  # was 'aa' reported as a full send
    ("s15_sock_sendmsg_without_size", True),
])
def test_as_merged_iscsi_target_send_is_fixed_before_v3_19(step, holds):
    """drivers/target/iscsi/iscsi_target_util.c:1376-1382@3.19.8: one kernel_sendmsg(), -EPIPE
    on a short count. as-merged without the fix reported a corrupt stream as sent at 4.0/4.1."""
    image = _as_merged_images()[step]
    obs = run_cell(image, all_users()["iscsit_do_tx_data"], "tcp", CellInput.from_json(SHORT_SEND_CUT_BY_SIGNAL))
    assert obs.holds is holds, obs.failure


# --- item 4: smaller model fixes -------------------------------------------------------------------


def test_datagram_send_with_expired_sndtimeo_is_eagain(v318):
    """sock_alloc_send_pskb(): after sock_wait_for_wmem() times out the buffer is still full and
    !timeo gives -EAGAIN (net/core/sock.c:1778-1788@3.18.9); the old model sent the datagram."""
    rig = Rig(v318, "udp", [2], script=[(0, "timeout")])
    rig.sock.sk.sk_sndtimeo = 5 * HZ
    assert rig.send() == -EAGAIN
    assert bytes(rig.peer.wire) == b"" and not rig.peer.datagrams


def test_datagram_receive_with_expired_rcvtimeo_is_eagain(v318):
    """__skb_recv_datagram(): the queue still empty and !timeo: -EAGAIN (net/core/datagram.c:216-219@3.18.9)."""
    rig = Rig(v318, "udp", [2], script=[(0, "timeout")], incoming=b"ab")
    rig.sock.sk.sk_rcvtimeo = 5 * HZ
    assert rig.recv(2) == -EAGAIN


@pytest.mark.parametrize("state,err", [
    (TCP_ESTABLISHED, ECONNRESET), (TCP_CLOSE_WAIT, EPIPE), (TCP_SYN_SENT, ECONNREFUSED), (TCP_CLOSE, 0),
])
def test_tcp_reset_error_follows_the_state(v318, state, err):
    """net/ipv4/tcp_input.c:3833-3844@3.18.9: the error as BSD sees it; a closed socket is left alone."""
    rig = Rig(v318, "tcp", [1])
    k, sk = rig.k, rig.sock.sk
    sk.sk_state = state
    k.tcp_reset(sk)
    assert sk.sk_err == err


def test_tcp_recv_after_fin_then_reset_is_eof(v318):
    """The peer's FIN (recv: 0, CLOSE_WAIT), then a reset while a send waits (sk_err = EPIPE in
    CLOSE_WAIT, the send returns the byte it queued). The next read ends at SOCK_DONE before it
    looks at sk_err (net/ipv4/tcp.c:1691-1698@3.18.9): 0, and the error stays for the next call.
    The old model returned -ECONNRESET from the read."""
    rig = Rig(v318, "tcp", [2], script=[(0, "eof"), (1, "error")])
    sk = rig.sock.sk
    assert (rig.recv(2), rig.send(), rig.recv(2)) == (0, 1, 0)
    assert sk.sk_err == EPIPE and sk.sk_state == TCP_CLOSE


def test_xs_sendpages_reports_a_short_send_through_sent_p(v318):
    """3.18's xs_sendpages(..., int *sent_p) (net/sunrpc/xprtsock.c:449-494@3.18.9): a short
    count of the head kvec goes to *sent_p and the return value is 0."""
    rig = Rig(v318, "tcp", [2, 1], script=[(1, "ok")])
    task = _task(rig.k, rig.sock, rig.vec, 2)
    sent = [0]
    assert rig.k.xs_sendpages(rig.sock, NULL, 0, task.tk_rqstp.rq_snd_buf, 0, True, sent) == 0
    assert sent == [1] and bytes(rig.peer.wire) == b"a"


@pytest.mark.parametrize("connected,status", [(True, -EAGAIN), (False, -ENOTCONN)])
def test_xs_tcp_send_request_sends_enobufs_to_xs_nospace(v318, connected, status):
    """net/sunrpc/xprtsock.c:766-769@3.18.9: -ENOBUFS, like -EAGAIN, puts the task to sleep in
    xs_nospace(); the old model returned -ENOBUFS, which fails the RPC."""

    def xs_send_kvec_out_of_buffers(k, sock, addr, addrlen, vec, base, more):
        return -ENOBUFS  # the transport has no buffers: nothing is queued

    image = plant(v318, "xs_send_kvec", xs_send_kvec_out_of_buffers)
    rig = Rig(image, "tcp", [2])
    task = _task(rig.k, rig.sock, rig.vec, 1)
    task.tk_xprt.connected = connected
    assert rig.k.xs_tcp_send_request(task) == status
