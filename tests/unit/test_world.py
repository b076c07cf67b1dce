"""The world's rules that no script can break (model/world.py): a pending signal ends every later wait
of the run until flush_signals(), and a socket without a timeout never sees one expire. Both failed on
the model before issue 11 (a script could end the wait after a signal ``ok``)."""

from __future__ import annotations

from checks.cell import all_users
from checks.engines import exhaustive
from checks.harness import CellInput, run_cell
from checks.profiles import Bounds
from model.world import WAIT_OK, WAIT_SIGNAL, WAIT_TIMEOUT, Peer, Window


def test_a_signal_stays_pending_for_the_rest_of_the_run():
    peer = Peer(script=(Window(0, WAIT_SIGNAL), Window(0, WAIT_OK), Window(0, WAIT_OK)))
    first = peer.next_window()
    assert first.then == WAIT_SIGNAL
    second = peer.next_window()
    assert second.then == WAIT_SIGNAL  # the script says ok: the pending signal wins
    peer.flush_signals()
    assert peer.next_window().then == WAIT_OK  # after flush_signals() the script speaks again


def test_no_timeout_expires_on_a_socket_without_one():
    assert Peer(script=(Window(0, WAIT_TIMEOUT),)).next_window(can_time_out=False).then == WAIT_OK
    assert Peer(script=(Window(0, WAIT_TIMEOUT),)).next_window(can_time_out=True).then == WAIT_TIMEOUT


def test_drbd_flushes_the_signal_and_completes(v318):
    """drbd_send() flushes the signal after -EINTR and sends the rest (drbd_main.c:1812-1814@3.18.9):
    with the signal left pending every later wait would fail and the retry loop would spin."""
    user = all_users()["drbd_send"]
    obs = run_cell(v318, user, "tcp", CellInput((2,), ((1, WAIT_SIGNAL), (0, WAIT_OK))))
    assert obs.holds and obs.rc == 2 and obs.got == b"ab"


def test_the_exhaustive_engine_never_asks_after_a_signal(v318):
    """No execution's script has a wait after a signal end otherwise (unless the user flushed it)."""
    user = all_users()["smb_send_kvec"]
    for inp, _ in exhaustive.executions(v318, user, "tcp", Bounds(2, 2, 3, 2)):
        endings = [t for _, t in inp.script]
        if WAIT_SIGNAL in endings:
            assert set(endings[endings.index(WAIT_SIGNAL):]) == {WAIT_SIGNAL} or _unread_after(v318, inp)


def _unread_after(image, inp: CellInput) -> bool:
    """An ``ok`` after a signal is the default of a wait that never happened: replaying with it set to
    anything else gives the same run."""
    user = all_users()["smb_send_kvec"]
    base = run_cell(image, user, "tcp", inp)
    i = [t for _, t in inp.script].index(WAIT_SIGNAL)
    other = CellInput(inp.segs, inp.script[: i + 1] + tuple((r, WAIT_SIGNAL) for r, _ in inp.script[i + 1:]), inp.mode)
    again = run_cell(image, user, "tcp", other)
    return (base.rc, base.got) == (again.rc, again.got)
