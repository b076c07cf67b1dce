"""The CrossHair engine and the PEP316 contracts of the primitives, with real CrossHair.

Finds: iscsit_do_tx_data's resend (a real 3.18 bug) and a sabotaged harness, each with a
counterexample that replays concretely. Holds: a correct cell is not BROKEN, and
``crosshair check model/uio.py`` reports nothing. Catches: a planted off-by-one in a copy of
model/uio.py. Budgets are kept small: about 20 s of wall time on an idle 2-core machine, most
of it `crosshair check` (three contracts of 5 s each; the planted copy runs alongside).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from checks.cell import all_users
from checks.engines import crosshair as crosshair_engine
from checks.engines.crosshair_harness import Cell, Probe, contract_for
from checks.harness import CellInput, run_cell
from checks.profiles import Bounds, get_profile
from checks.verdicts import Status

# The count budget at which CrossHair finds the iSCSI re-send (at input 74 with its fixed seed), fixed
# here so the test does not depend on what the quick profile trades for speed.
QUICK = replace(get_profile("quick"), crosshair_max_iterations=200)
ROOT = Path(__file__).resolve().parents[2]
CROSSHAIR = Path(sys.executable).with_name("crosshair")
CLI_BUDGET = ["--per_condition_timeout", "5", "--per_path_timeout", "1"]


def _search(v318, user: str, sabotage: str | None = None, profile=QUICK, bounds: Bounds | None = None):
    return crosshair_engine.search(v318, all_users()[user], "tcp", bounds or profile.crosshair, profile, sabotage)


# --- the engine finds -------------------------------------------------------------------------

def test_finds_iscsit_do_tx_data_resend_with_a_replayable_counterexample(v318):
    run = _search(v318, "iscsit_do_tx_data")
    assert run.engine == "crosshair"
    assert run.status == Status.BROKEN, run.detail
    assert "not a prefix" in run.detail  # the resent bytes: a failure CrossHair could not see traced
    assert run.seconds_to_counterexample is not None
    inp = CellInput.from_json(run.counterexample)
    obs = run_cell(v318, all_users()["iscsit_do_tx_data"], "tcp", inp)
    assert not obs.holds and obs.failure == run.detail


def test_finds_a_sabotaged_smb_send_kvec(v318):
    run = _search(v318, "smb_send_kvec", sabotage="repeat")
    assert run.status == Status.BROKEN, run.detail
    inp = CellInput.from_json(run.counterexample)
    assert not run_cell(v318, all_users()["smb_send_kvec"], "tcp", inp, "repeat").holds
    assert run_cell(v318, all_users()["smb_send_kvec"], "tcp", inp).holds  # only the sabotage breaks it


# --- the engine holds -------------------------------------------------------------------------

def test_a_correct_cell_is_not_broken(v318):
    run = _search(v318, "smb_send_kvec", profile=replace(QUICK, crosshair_max_iterations=30))
    assert run.status == Status.NOT_REFUTED, run.detail
    assert run.explored > 0


def test_solver_exhaustion_is_not_trusted(v318):
    run = _search(v318, "iscsit_do_rx_data", bounds=Bounds(max_segs=1, max_seg_len=1, max_windows=0, max_room=0))
    assert run.status == Status.NOT_REFUTED
    assert "not trusted" in run.detail and run.explored == 2


def test_bounds_no_input_passes_are_vacuous(v318):
    run = _search(v318, "iscsit_do_rx_data", bounds=Bounds(max_segs=0, max_seg_len=2, max_windows=1, max_room=1))
    assert run.status == Status.UNKNOWN and "vacuous" in run.detail


# --- reading CrossHair's counterexample -------------------------------------------------------

def test_counterexample_text_is_read_as_the_call(v318):
    cell = Cell.of(v318, all_users()["iscsit_do_rx_data"], "tcp", QUICK.crosshair)
    fn = contract_for(cell, Probe())
    text = ("false when calling cell_contract(nsegs=2, s0=2, s1=-5, s2=9, s3=0, s4=0, s5=0, s6=0, s7=0, "
            "nwin=2, w0=2, w1=0, w2=0, w3=0, w4=0, w5=0, w6=0, w7=0, mode=0) "
            "(which returns Observation(rc=-1, failure='reported (1) ...'))")
    args = crosshair_engine.parse_call(text, fn)
    assert args["s1"] == -5 and args["nwin"] == 2
    inp = cell.input_of(**args)
    # a value below its range counts as its lowest; lengths past nsegs are not read
    assert inp == CellInput((2, 0), ((0, cell.endings[2]), (0, cell.endings[0])), cell.modes[0])
    assert cell.input_of(**cell.arguments(inp)) == inp
    with pytest.raises(crosshair_engine.UnreadableCounterexample):
        crosshair_engine.parse_call("Not confirmed.", fn)


def test_every_argument_value_is_an_input_within_the_bounds(v318):
    """No precondition filters cell_contract's arguments: any ints map into the bounds."""
    cell = Cell.of(v318, all_users()["smb_send_kvec"], "tcp", QUICK.crosshair)
    b = QUICK.crosshair
    for v in (-100, -1, 0, 1, 3, 7, 1000):
        inp = cell.input_of(v, *[v] * 8, v, *[v] * 8, v)
        assert b.holds(inp) and len(inp.segs) >= 1 and inp.mode in cell.modes


def test_bounds_wider_than_the_harness_are_refused(v318):
    run = _search(v318, "smb_send_kvec", bounds=Bounds(max_segs=9, max_seg_len=2, max_windows=1, max_room=1))
    assert run.status == Status.UNKNOWN and "at most 8 segments" in run.detail


def test_the_analysed_function_is_run_cell_on_plain_arguments(v318):
    """Called outside CrossHair, cell_contract is the concrete run of the input it stands for."""
    user = all_users()["iscsit_do_tx_data"]
    cell = Cell.of(v318, user, "tcp", QUICK.crosshair)
    probe = Probe()
    inp = CellInput((2,), ((1, "signal"),))
    obs = contract_for(cell, probe)(**cell.arguments(inp))
    assert probe.runs == 1
    assert obs == run_cell(v318, user, "tcp", inp)


# --- crosshair check on the primitives' contracts ---------------------------------------------

def _crosshair_check(target: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([str(CROSSHAIR), "check", target, *CLI_BUDGET], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _planted_copy(tmp_path: Path, name: str, old: str, new: str, contract: str) -> str:
    """A copy of model/NAME under tmp_path with OLD replaced by NEW; the target for CONTRACT."""
    source = (ROOT / "model" / name).read_text()
    assert source.count(old) == 1, f"the line to plant the bug in is not unique in model/{name}"
    planted = source.replace(old, new)
    (tmp_path / name).write_text(planted)
    line = next(n for n, text in enumerate(planted.splitlines(), 1) if text.startswith(f"def {contract}("))
    return f"{tmp_path / name}:{line}"


ADVANCE_STEP = "        if seg.iov_len == base:\n            iov = iov + 1\n"
ADVANCE_OFF_BY_ONE = "        if seg.iov_len <= base + 1:\n            iov = iov + 1\n"


def test_crosshair_check_passes_uio_and_catches_a_planted_off_by_one(tmp_path):
    clean = _crosshair_check("model/uio.py", ROOT)
    planted = _crosshair_check(
        _planted_copy(tmp_path, "uio.py", ADVANCE_STEP, ADVANCE_OFF_BY_ONE, "_iov_iter_advance_contract"), tmp_path)
    planted_out, _ = planted.communicate(timeout=120)
    clean_out, _ = clean.communicate(timeout=120)
    assert clean.returncode == 0, clean_out
    assert planted.returncode == 1, planted_out
    assert re.search(r"uio\.py:\d+: error: .*_iov_iter_advance_contract\(", planted_out), planted_out


FROMIOVEC_CONSUMES = "            seg.iov_base = seg.iov_base + copy\n            seg.iov_len -= copy\n"
FROMIOVEC_FORGETS_BASE = "            seg.iov_len -= copy\n"


@pytest.mark.slow
def test_crosshair_check_passes_iovec_and_catches_a_planted_defect(tmp_path):
    clean = _crosshair_check("model/iovec.py", ROOT)
    planted = _crosshair_check(
        _planted_copy(tmp_path, "iovec.py", FROMIOVEC_CONSUMES, FROMIOVEC_FORGETS_BASE, "_memcpy_fromiovec_contract"),
        tmp_path)
    planted_out, _ = planted.communicate(timeout=120)
    clean_out, _ = clean.communicate(timeout=120)
    assert clean.returncode == 0, clean_out
    assert planted.returncode == 1, planted_out
    assert "_memcpy_fromiovec_contract(" in planted_out
