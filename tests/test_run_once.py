"""Every distinct cell is computed once per run, and once across commands: verify, order, check and
the git modes share one verdict cache, keyed by exactly what a verdict depends on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import git

from checks.cache import VerdictCache
from checks.matrix import cell_tasks, task_key, verify_all
from checks.order import Evaluator, search_order
from checks.profiles import get_profile
from checks.series import load_series

ROOT = Path(__file__).resolve().parents[1]
SMOKE = get_profile("smoke")
SHARING = ("v3.18", "iscsi-stable", "send-path-advances")  # most of their cells are equal


def test_verify_computes_each_distinct_cell_once(tmp_path):
    series = [load_series(name) for name in SHARING]
    cache = VerdictCache(tmp_path)
    results = verify_all(series, SMOKE, jobs=2, cache=cache)
    keys = [task_key(t, SMOKE) for s in series for t in cell_tasks(s)]
    assert len(keys) > len(set(keys))  # the series do share cells: the test can fail
    assert cache.computed == len(set(keys)) == cache.misses
    assert cache.shared == len(keys) - len(set(keys))
    assert sum(len(r.cells) for r in results) == len(keys)
    again = VerdictCache(tmp_path)
    verify_all(series, SMOKE, jobs=2, cache=again)
    assert again.computed == 0 and again.hits == len(set(keys))


def test_order_search_reuses_what_verify_computed(tmp_path):
    series = load_series("send-path-advances")
    verify_all([series], SMOKE, jobs=1, cache=VerdictCache(tmp_path))
    ev = Evaluator(series, SMOKE, VerdictCache(tmp_path), jobs=1)
    search_order(ev)
    # the series' own order is the first one tried: its prefixes are exactly verify's cells
    assert ev.cache.hits > 0
    assert ev.stats.cells_computed < ev.stats.cells_naive


def _cache_files(cache: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in (cache / "cells").rglob("*.json")}


def test_git_range_reuses_the_verify_cache(tmp_path):
    """`verify --git . --range HEAD~1..HEAD` right after `verify` in the same checkout computes nothing."""
    repo_dir = tmp_path / "project"
    repo = git.Repo.init(repo_dir, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Test").set_value("user", "email", "test@example.org")
    for d in ("model", "checks", "series/v3.18"):
        shutil.copytree(ROOT / d, repo_dir / d, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "series/__init__.py", repo_dir / "series/__init__.py")
    toml = repo_dir / "series/v3.18/series.toml"
    toml.write_text('users = ["smb_send_kvec", "iscsit_do_tx_data"]\n'
                    + re.sub(r"(?m)^users\s*=.*\n", "", toml.read_text()))
    repo.git.add("-A")
    repo.index.commit("Import the model")
    (repo_dir / "README").write_text("notes\n")
    repo.git.add("-A")
    repo.index.commit("README")
    cache = tmp_path / "cache"
    env = dict(os.environ, SERIESCHECK_CACHE=str(cache))
    smoke = ("--profile", "smoke", "--no-crosshair")
    first = subprocess.run([sys.executable, "-P", "-m", "checks", "verify", "series/v3.18", *smoke],
                           cwd=repo_dir, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"0 reused from the cache, [1-9]\d* computed", first.stdout)
    before = _cache_files(cache)
    ranged = subprocess.run([sys.executable, "-P", "-m", "checks", "verify", "--git", ".", "--range",
                             "HEAD~1..HEAD", "v3.18", *smoke],
                            cwd=repo_dir, env=env, capture_output=True, text=True, timeout=300)
    assert ranged.returncode == 0, ranged.stdout + ranged.stderr
    assert _cache_files(cache) == before  # no verdict written again: every cell was read


def _killing_series(tmp_path: Path, marker: Path | None) -> Path:
    """A series whose one step kills the worker process running it: once (when ``marker`` does not
    exist yet, which it then creates), or every time (``marker`` None)."""
    d = tmp_path / "killer"
    d.mkdir()
    (d / "series.toml").write_text('name = "killer"\norder = ["s01_kill"]\nusers = ["smb_send_kvec"]\n')
    once = f"    if Path({str(marker)!r}).exists():\n        return _clean(k, server, iov, n_vec, sent)\n" \
           f"    Path({str(marker)!r}).touch()\n" if marker else ""
    (d / "s01_kill.py").write_text(
        '"""cifs: a step whose model code kills the process it runs in"""\n'
        "import os\nimport signal\nfrom pathlib import Path\n\n"
        "from checks.series import Step\nfrom model.users.cifs_transport import smb_send_kvec as _clean\n\n"
        'STEP = Step(subject="cifs: a step whose model code kills the process it runs in")\n\n\n'
        "def smb_send_kvec(k, server, iov, n_vec, sent):\n" + once +
        "    os.kill(os.getpid(), signal.SIGKILL)\n")
    return d


def test_a_killed_worker_is_replaced_and_no_cell_is_lost(tmp_path):
    series = load_series(str(_killing_series(tmp_path, tmp_path / "killed-once")))
    result = verify_all([series], SMOKE, jobs=2, cache=VerdictCache(tmp_path / "cache"))[0]
    assert (tmp_path / "killed-once").exists()  # a worker did die
    assert not [c for c in result.cells if c.status.name == "UNKNOWN"]


def test_a_cell_that_kills_every_worker_is_unknown_with_the_reason(tmp_path):
    series = load_series(str(_killing_series(tmp_path, None)))
    result = verify_all([series], SMOKE, jobs=2, cache=VerdictCache(tmp_path / "cache"))[0]
    lost = [c for c in result.cells if c.user == "smb_send_kvec" and c.step.startswith("s01")]
    assert lost and all(c.status.name == "UNKNOWN" and "worker process died" in c.evidence for c in lost)
    assert all(c.status.name != "UNKNOWN" for c in result.cells if c.step == "v3.18")
