"""No false green, no hang, no traceback (issue 10): each class of what an adversarial run found.

* an out-of-bounds copy of kernel memory is a finding, -EFAULT stays the answer for user memory;
* ``sys.exit`` or ``KeyboardInterrupt`` in a step or model code is bad input, never a pass, and a
  real Ctrl-C still stops the run (130);
* fuel: a user that keeps calling the kernel is a livelock finding with its input, not a hang;
* a tampered cache entry is discarded and recomputed;
* ``check SERIES STEP`` judges that step (and its regressions against the step before) only, with
  the verdict cache;
* bad input of every kind the issue lists is refused before running, with exit 2 and one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checks.cache import VerdictCache
from checks.cell import all_users
from checks.harness import CellInput, ModelError, run_cell
from checks.verdicts import CellVerdict, Counterexample, EngineRun, Status
from model.kernel import Kernel
from model.uaccess import KERNEL_DS, USER_DS
from tests.conftest import plant

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ("--profile", "smoke", "--no-crosshair", "--jobs", "1")


def seriescheck(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checks", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def messages(stderr: str) -> list[str]:
    """stderr without the progress log lines (``[verify] 3/8 cells computed ...``)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("[")]


def one_error_line(r: subprocess.CompletedProcess, needle: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    lines = messages(r.stderr)
    assert len(lines) == 1 and needle in lines[0], r.stderr


def make_series(folder: Path, manifest: str, steps: dict[str, str | bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "series.toml").write_text(manifest)
    for name, text in (steps or {}).items():
        data = text.encode() if isinstance(text, str) else text
        (folder / f"{name}.py").write_bytes(data)
    return folder


STEP_HEAD = ('"""cifs: {subject}"""\nimport sys\n\nfrom checks.series import Step\n\n'
             'STEP = Step(subject="cifs: {subject}")\n\n\n')


def smb_step(subject: str, body: str) -> str:
    head = STEP_HEAD.format(subject=subject)
    return head + f"def smb_send_kvec(k, server, iov, n_vec, sent, mode='blocking'):\n{body}\n"


ONE_USER = 'name = "{name}"\norder = [{order}]\nusers = ["smb_send_kvec"]\n'


# --- 1a: out of bounds --------------------------------------------------------------------------

def test_a_user_copy_past_a_kernel_allocation_is_out_of_bounds(v318):
    from model.kernel import OutOfBounds

    k = Kernel(v318)
    buf = k.mem.alloc_bytes(b"ab", name="segment 0")
    dst = k.mem.alloc_bytes(bytes(3))
    k.set_fs(KERNEL_DS)
    with pytest.raises(OutOfBounds, match=r"read of 3 byte\(s\) .* 1 byte\(s\) past the end of its 2-byte kernel "
                                          r"allocation \(segment 0\)"):
        k.copy_from_user(dst, buf, 3)
    with pytest.raises(OutOfBounds, match="write of 3"):
        k.copy_to_user(buf, dst, 3)


def test_under_user_ds_a_kernel_address_is_still_efault_not_a_finding(v318):
    k = Kernel(v318)
    buf = k.mem.alloc_bytes(b"ab")
    dst = k.mem.alloc_bytes(bytes(3))
    assert k.get_fs() == USER_DS
    assert k.copy_from_user(dst, buf, 3) == 3  # access_ok fails: nothing copied, as the kernel does


def test_forgetting_iov_len_in_write_partial_kvec_is_broken_with_where_it_read(v318):
    from tests.detection.corpus import write_partial_kvec_trims_base_only

    image = plant(v318, "write_partial_kvec", write_partial_kvec_trims_base_only)
    user = all_users()["write_partial_kvec"]
    obs = run_cell(image, user, "tcp", CellInput((2,), ((1, "ok"),), "more"))
    assert not obs.holds and obs.failure.startswith("out-of-bounds: read of 2 byte(s)")
    assert "past the end of its 2-byte kernel allocation (segment 0)" in obs.failure
    assert "copy_from_user" in obs.failure  # where: the kernel functions on the way
    assert run_cell(v318, user, "tcp", CellInput((2,), ((1, "ok"),), "more")).holds


# --- 3 (fuel): a loop through the kernel is a livelock, not a hang ------------------------------

def _loops_through_the_kernel(k, server, iov, n_vec, sent, mode="blocking"):
    while True:
        k.get_fs()


def test_a_user_that_never_stops_calling_the_kernel_runs_out_of_fuel(v318):
    from model.kernel import FUEL

    image = plant(v318, "smb_send_kvec", _loops_through_the_kernel)
    obs = run_cell(image, all_users()["smb_send_kvec"], "tcp", CellInput((1,), (), "blocking"))
    assert not obs.holds and obs.failure.startswith("livelock: ") and str(FUEL) in obs.failure


def test_a_long_correct_transfer_stays_far_below_the_fuel(v318):
    """The limit is generous: the iSCSI target's receive loop over many small windows holds."""
    user = all_users()["iscsit_do_rx_data"]
    script = tuple((1, "ok") for _ in range(200))
    assert run_cell(v318, user, "tcp", CellInput((16,) * 16, script, user.modes[0])).holds


# --- 1b: SystemExit and KeyboardInterrupt from model or step code --------------------------------

def test_a_step_that_exits_at_import_is_a_bad_step(tmp_path):
    d = make_series(tmp_path / "exits", ONE_USER.format(name="exits", order='"s01_exits"'),
                    {"s01_exits": STEP_HEAD.format(subject="exits") + "sys.exit(0)\n"})
    one_error_line(seriescheck("verify", str(d), *SMOKE), f"{d / 's01_exits.py'}:")
    assert "sys.exit(0)" in seriescheck("verify", str(d), *SMOKE).stderr


def test_a_step_that_raises_keyboardinterrupt_at_import_is_a_bad_step(tmp_path):
    d = make_series(tmp_path / "ki", ONE_USER.format(name="ki", order='"s01_ki"'),
                    {"s01_ki": STEP_HEAD.format(subject="ki") + "raise KeyboardInterrupt\n"})
    one_error_line(seriescheck("verify", str(d), *SMOKE), "KeyboardInterrupt")


@pytest.mark.parametrize(("body", "needle"), [("    sys.exit(0)", "sys.exit(0)"),
                                              ("    raise KeyboardInterrupt", "KeyboardInterrupt")])
def test_model_code_that_exits_during_a_cell_is_a_model_error(tmp_path, body, needle):
    d = make_series(tmp_path / "m", ONE_USER.format(name="m", order='"s01_m"'), {"s01_m": smb_step("m", body)})
    r = seriescheck("verify", str(d), *SMOKE, "--user", "smb_send_kvec")
    one_error_line(r, needle)
    assert f"{d / 's01_m.py'}:" in r.stderr


def test_model_code_that_exits_is_a_model_error_in_process(v318):
    def exits(k, server, iov, n_vec, sent, mode="blocking"):
        sys.exit(0)

    image = plant(v318, "smb_send_kvec", exits)
    with pytest.raises(ModelError, match=r"sys.exit\(0\)"):
        run_cell(image, all_users()["smb_send_kvec"], "tcp", CellInput((1,), (), "blocking"))


def test_a_real_ctrl_c_still_stops_the_run_with_130(tmp_path):
    d = make_series(tmp_path / "spin", ONE_USER.format(name="spin", order='"s01_spin"'),
                    {"s01_spin": smb_step("spin", "    while True:\n        pass")})
    p = subprocess.Popen([sys.executable, "-m", "checks", "verify", str(d), *SMOKE, "--user", "smb_send_kvec"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("seriescheck |")  # the header: the cells are about to run
        p.stdout.readline()
        time.sleep(1.0)  # inside the loop (not a timed assertion: any moment after the header will do)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
        p.wait()
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in err and messages(err) == ["seriescheck: interrupted"]


# --- 1c: the cache trusts nothing it could not have written --------------------------------------

def _broken(**changes) -> CellVerdict:
    inp = {"segs": [2], "script": [[1, "signal"]], "mode": "default"}
    cex = Counterexample(inp, "x", "fails", -1, "b'aab'", "b'ab'", "exhaustive")
    replay = ("seriescheck replay v3.18 v3.18 iscsit_do_tx_data tcp --input "
              "'{\"segs\":[2],\"script\":[[1,\"signal\"]],\"mode\":\"default\"}'")
    v = CellVerdict("v3.18", "iscsit_do_tx_data", "tcp", Status.BROKEN, "fails", 0.1, cex, replay,
                    (EngineRun("exhaustive", Status.BROKEN, 5, 0.1),))
    from dataclasses import replace

    return replace(v, **changes)


def verdict_problem(v, cell=None):
    from checks.cache import verdict_problem

    return verdict_problem(v, cell)


def test_a_fresh_looking_verdict_passes_validation():
    assert verdict_problem(_broken()) is None
    assert verdict_problem(_broken(), ("iscsit_do_tx_data", "tcp")) is None


@pytest.mark.parametrize(("changes", "why"), [
    ({"counterexample": None}, "without a counterexample"),
    ({"replay": None}, "replay command"),
    ({"replay": "seriescheck replay v3.18 v3.18 smb_send_kvec tcp --input '{\"segs\":[2]}'"}, "replay command"),
    ({"status": Status.UNKNOWN}, "UNKNOWN is never cached"),
    ({"status": Status.CONFIRMED}, "CONFIRMED without an exhaustive run"),
    ({"status": Status.CONFIRMED, "engines": (EngineRun("exhaustive", Status.CONFIRMED, 0, 0.1),)},
     "CONFIRMED without"),
    ({"protocol": "udp"}, "not a cell"),
    ({"user": "nobody"}, "not a cell"),
    ({"step": ""}, "non-empty"),
])
def test_a_verdict_no_fresh_run_gives_is_invalid(changes, why):
    assert why in (verdict_problem(_broken(**changes)) or "")


def test_a_verdict_stored_for_another_cell_is_invalid():
    assert "asked for smb_send_kvec/tcp" in verdict_problem(_broken(), ("smb_send_kvec", "tcp"))


def test_a_tampered_cache_entry_is_discarded_and_recomputed(tmp_path):
    cache = tmp_path / "cache"
    env = {"SERIESCHECK_CACHE": str(cache)}
    args = ("verify", "v3.18", *SMOKE, "--user", "smb_send_kvec")
    assert seriescheck(*args, env=env).returncode == 0
    entries = list((cache / "cells").rglob("*.json"))
    assert len(entries) == 1
    doc = json.loads(entries[0].read_text())
    assert doc["verdict"]["status"] == "CONFIRMED"
    doc["verdict"]["status"] = "BROKEN"  # flipped, with no counterexample
    entries[0].write_text(json.dumps(doc))
    r = seriescheck(*args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr  # recomputed: CONFIRMED again, the manifest is met
    assert "1 corrupt or stale entries discarded" in r.stdout
    assert json.loads(entries[0].read_text())["verdict"]["status"] == "CONFIRMED"


def test_cache_get_counts_an_invalid_entry_as_discarded(tmp_path):
    c = VerdictCache(tmp_path)
    c.put("ab" * 32, _broken())
    assert c.get("ab" * 32) is not None and c.hits == 1
    c.put("cd" * 32, _broken(replay=None))
    assert c.get("cd" * 32) is None and c.discarded == 1
    assert not c._path("cd" * 32).exists()


# --- 4: check SERIES STEP ------------------------------------------------------------------------

def test_check_judges_only_the_step_and_uses_the_cache(tmp_path):
    env = {"SERIESCHECK_CACHE": str(tmp_path / "cache")}
    args = ("check", "as-merged", "s06", *SMOKE, "--user", "iscsit_do_tx_data")
    r = seriescheck(*args, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not checked" not in r.stdout and "MANIFEST MISMATCH" not in r.stdout and "window:" not in r.stdout
    assert "computed" in r.stdout
    again = seriescheck(*args, env=env)
    assert again.returncode == 0 and ", 0 computed" in again.stdout, again.stdout
    fresh = seriescheck(*args, "--no-cache", env=env)
    assert fresh.returncode == 0 and "; 0 reused from the cache" in fresh.stdout, fresh.stdout


def test_check_finds_a_regression_against_the_step_before(tmp_path):
    nothing = STEP_HEAD.format(subject="nothing").replace(
        'STEP = Step(subject="cifs: nothing")', 'STEP = Step(subject="cifs: nothing", adds=("X_NOTHING",))')
    d = make_series(tmp_path / "reg", ONE_USER.format(name="reg", order='"s01_ok", "s02_breaks"'),
                    {"s01_ok": nothing + "X_NOTHING = 1\n",
                     "s02_breaks": smb_step("claim success", "    sent[0] = 0\n    return 0")})
    env = {"SERIESCHECK_CACHE": str(tmp_path / "cache")}
    r = seriescheck("check", str(d), "s02", *SMOKE, "--user", "smb_send_kvec", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "regression (UNEXPECTED): smb_send_kvec/tcp holds at s01_ok, BROKEN at s02_breaks" in r.stdout
    assert "MANIFEST MISMATCH s02_breaks smb_send_kvec/tcp: expected holds, got BROKEN" in r.stdout
    ok = seriescheck("check", str(d), "s01", *SMOKE, "--user", "smb_send_kvec", env=env)
    assert ok.returncode == 0 and "s02_breaks" not in ok.stdout and "MISMATCH" not in ok.stdout, ok.stdout


# --- 5: exit codes that do not lie ----------------------------------------------------------------

@pytest.mark.parametrize(("inp", "needle"), [
    ('{"segs":[1000000000]}', "segs must be"),
    ('{"segs":[-1]}', "segs must be"),
    ('{"segs":[1],"mode":"turbo"}', "mode 'turbo'"),
    ('{"segs":[1],"script":[[1,"maybe"]]}', "window"),
    ('{"segs":[1],"script":[[-1,"ok"]]}', "window"),
    ('{"segs":[1],"colour":"red"}', "unknown key"),
    ('{"segs":[]}', "segs must be"),
    ('[1]', "JSON object"),
    ('{"segs":[1]', "--input is not"),
])
def test_replay_refuses_nonsense_before_running(inp, needle):
    one_error_line(seriescheck("replay", "v3.18", "v3.18", "smb_send_kvec", "tcp", "--input", inp), needle)


def test_replay_refuses_a_protocol_the_user_never_runs_over():
    one_error_line(seriescheck("replay", "v3.18", "v3.18", "smb_send_kvec", "udp", "--input", '{"segs":[1]}'),
                   "does not run over 'udp'")


def test_replay_with_an_order_that_leaves_the_step_out_is_bad_input():
    one_error_line(seriescheck("replay", "as-merged", "s06", "iscsit_do_tx_data", "tcp", "--order", "s01",
                               "--input", '{"segs":[2]}'), "does not include s06")


def test_outputs_are_checked_before_running(tmp_path):
    one_error_line(seriescheck("verify", "v3.18", *SMOKE, "--json", str(tmp_path / "no" / "such" / "dir.json")),
                   "cannot write there")
    one_error_line(seriescheck("verify", "v3.18", *SMOKE, "--format", f"markdown={tmp_path}"), "is a directory")
    one_error_line(seriescheck("verify", "v3.18", *SMOKE, "--json", "-", "--format", "markdown"),
                   "both write to stdout")


def test_json_to_stdout_is_json_alone(tmp_path):
    r = seriescheck("verify", "v3.18", *SMOKE, "--user", "smb_send_kvec", "--json", "-",
                    env={"SERIESCHECK_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
    assert "seriescheck |" in r.stderr  # the running text went to stderr


def test_a_cache_path_that_is_a_file_is_bad_input(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    one_error_line(seriescheck("verify", "v3.18", *SMOKE, env={"SERIESCHECK_CACHE": str(f)}), "verdict cache")


@pytest.mark.parametrize("args", [("verify", "v3.18", "--jobs", "-1"), ("relies", "--jobs", "0")])
def test_a_nonsense_worker_count_is_a_usage_error(args):
    r = seriescheck(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "worker processes" in r.stderr


def test_relies_for_an_unknown_user_is_bad_input():
    one_error_line(seriescheck("relies", "--user", "nobody"), "unknown user 'nobody'")


def test_an_overlong_series_path_is_bad_input(tmp_path):
    one_error_line(seriescheck("verify", str(tmp_path / ("a" * 5000))), "not a usable series path")


@pytest.mark.parametrize(("manifest", "needle"), [
    ('name = "x"\norder = []\nexpected = 5\n', "'expected' must be an array of tables"),
    ('name = "x"\norder = []\nexpected = ["a"]\n', "'expected' must be an array of tables"),
    ('name = "x"\norder = []\nusers = 5\n', "'users' must be an array"),
    ('name = "x"\norder = []\nusers = [5]\n', "'users' must be an array"),
    ('name = "x"\norder = []\nusers = ["smb_send_kvec"]\n[[expected]]\nstep = "v3.18"\nuser = "smb_send_kvec"\n'
     'protocol = "tpc"\nstatus = "BROKEN"\n', "protocol 'tpc'"),
    ('name = "x"\norder = []\nusers = ["iscsit_do_tx_data"]\n[[expected]]\nstep = "v3.18"\n'
     'user = "iscsit_do_tx_data"\nprotocol = "tcp"\nstatus = "BROKEN"\n[[expected]]\nstep = "*"\n'
     'user = "iscsit_do_tx_data"\nprotocol = "tcp"\nstatus = "CONFIRMED"\n', "contradict"),
    ('name = "x"\norder = []\nusers = ["smb_send_kvec"]\n[[expected]]\nstep = 3\nuser = "smb_send_kvec"\n'
     'protocol = "tcp"\nstatus = "BROKEN"\n', "must be a string"),
])
def test_a_malformed_manifest_is_bad_input(tmp_path, manifest, needle):
    d = make_series(tmp_path / "m", manifest)
    one_error_line(seriescheck("verify", str(d), *SMOKE), needle)


def test_non_utf8_manifest_and_step_are_bad_input(tmp_path):
    d = tmp_path / "latin"
    d.mkdir()
    (d / "series.toml").write_bytes(b'name = "caf\xe9"\norder = []\n')
    one_error_line(seriescheck("verify", str(d), *SMOKE), "not UTF-8")
    s = make_series(tmp_path / "step", ONE_USER.format(name="step", order='"s01_latin"'),
                    {"s01_latin": b'"""caf\xe9"""\n'})
    one_error_line(seriescheck("verify", str(s), *SMOKE), str(s / "s01_latin.py"))


def test_a_step_file_left_out_of_the_order_is_bad_input(tmp_path):
    d = make_series(tmp_path / "left", ONE_USER.format(name="left", order=""),
                    {"s01_forgotten": smb_step("forgotten", "    return 0")})
    one_error_line(seriescheck("verify", str(d), *SMOKE), "s01_forgotten.py is a step file of this series")


def test_a_primitive_that_exits_is_a_model_error(tmp_path):
    step = STEP_HEAD.format(subject="exits") + "def csum_partial(k, buff, len, sum):\n    sys.exit(0)\n"
    d = make_series(tmp_path / "prim", 'name = "prim"\norder = ["s01_csum"]\nusers = ["smb_send_kvec"]\n',
                    {"s01_csum": step})
    one_error_line(seriescheck("verify", str(d), *SMOKE, "--jobs", "2"), "SystemExit")


def test_a_step_that_removes_a_base_symbol_a_cell_reaches_gets_its_own_key(v318):
    """Found with vhost-net's rx: as-merged s14 removes memcpy_toiovecend(), which handle_rx() in its
    3.19 form still called; the cell's key at s14 equalled the one at s13 (only step definitions were
    hashed), so `check` showed s13's CONFIRMED where the kernel does not build."""
    from checks.cache import cell_key
    from checks.cell import CellTask, cell_reach
    from model.kernel import KernelImage

    task = CellTask("v3.18", "series/v3.18", "v3.18", "handle_rx", "tun")
    defs = {n: d for n, d in v318.definitions.items() if n != "memcpy_toiovecend"}
    without = KernelImage("v3.18-memcpy_toiovecend", defs)
    reach_with, reach_without = cell_reach(v318, task), cell_reach(without, task)
    assert "memcpy_toiovecend" in reach_with and "memcpy_toiovecend" not in reach_without

    def key(image, names):
        return cell_key(image, names, task.user, task.protocol, frozenset(), {}, {})

    assert key(v318, reach_with) != key(without, reach_without)
