"""The command line as a user meets it: exit codes, one clear error line, JSON, replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seriescheck(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checks", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_verify_v318_matches_manifest_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    r = seriescheck("verify", "v3.18", "--no-crosshair", "--user", "iscsit_do_tx_data", "--user", "smb_send_kvec",
                    "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(out.read_text())
    assert doc["ok"] is True and {"python", "crosshair-tool"} <= set(doc["tool"])
    cells = {(c["user"], c["protocol"]): c for c in doc["series"][0]["cells"]}
    broken = cells[("iscsit_do_tx_data", "tcp")]
    assert broken["status"] == "BROKEN"
    assert broken["counterexample"]["input"]["segs"]
    assert cells[("smb_send_kvec", "tcp")]["status"] == "CONFIRMED"
    # the replay command reproduces the failure and exits 1
    replay = subprocess.run(broken["replay"].replace("seriescheck", f"{sys.executable} -m checks", 1), shell=True,
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "FAILS" in replay.stdout


def test_a_result_that_contradicts_the_manifest_exits_1(tmp_path):
    d = tmp_path / "wrong"
    d.mkdir()
    (d / "series.toml").write_text('name = "wrong"\norder = []\nusers = ["iscsit_do_tx_data"]\n')
    r = seriescheck("verify", str(d), "--no-crosshair")
    assert r.returncode == 1
    assert "MANIFEST MISMATCH v3.18 iscsit_do_tx_data/tcp: expected holds, got BROKEN" in r.stdout


def test_bad_input_gives_one_line_and_exit_2(tmp_path):
    for args, needle in [
        (("verify", "no-such-series"), "no such series"),
        (("verify", "v3.18", "--user", "no_such_user"), "unknown user 'no_such_user'"),
        (("verify", "v3.18", "--protocol", "carrier-pigeon"), "unknown protocol"),
        (("verify", "v3.18", "--profile", "turbo"), "unknown profile 'turbo'"),
        (("replay", "v3.18", "v3.18", "smb_send_kvec", "tcp", "--input", "{not json"), "--input is not"),
    ]:
        r = seriescheck(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, r.stderr)


def test_replay_of_a_holding_input_exits_0():
    inp = '{"segs":[2],"script":[[1,"signal"]]}'
    r = seriescheck("replay", "v3.18", "v3.18", "smb_send_kvec", "tcp", "--input", inp)
    assert r.returncode == 0 and "holds" in r.stdout


def test_a_model_that_raises_a_python_error_is_bad_input_naming_its_line(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "series.toml").write_text('name = "bad"\norder = ["s01_oops"]\nusers = ["smb_send_kvec"]\n')
    (d / "s01_oops.py").write_text('"""cifs: a broken model"""\nfrom checks.series import Step\n\n'
                                   'STEP = Step(subject="cifs: a broken model")\n\n\n'
                                   'def smb_send_kvec(k, server, iov, n_vec, sent):\n    return 1 // 0\n')
    r = seriescheck("verify", str(d), "--no-crosshair")
    assert r.returncode == 2
    lines = [line for line in r.stderr.strip().splitlines() if not line.startswith("[")]  # not progress lines
    assert len(lines) == 1 and f"{d / 's01_oops.py'}:8: ZeroDivisionError" in lines[0]
