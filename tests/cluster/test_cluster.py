"""--cluster against a real Dask scheduler and workers on 127.0.0.1: the same verdicts as the local
pool, only cache misses sent, a killed worker loses no cell, Ctrl-C cancels, a worker that differs
from the client and an unreachable scheduler are refused with one line and exit 2."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace

from checks.cluster import ClusterRunner
from checks.matrix import cell_tasks
from checks.profiles import get_profile
from checks.series import load_series
from checks.verdicts import Status
from tests.cluster.conftest import ROOT, START_WAIT, seriescheck, without_timings

SPREAD = re.compile(r"cluster \S+: (\d+) cells computed on (\d+) worker\(s\)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cluster_verdicts_equal_the_local_pool_and_only_misses_are_sent(dask_cluster, local_v318, tmp_path):
    out = tmp_path / "r.json"
    r = seriescheck("verify", "v3.18", "--profile", "smoke", "--no-cache", "--json", str(out),
                    "--cluster", dask_cluster.address, cache=tmp_path / "cache",
                    env={"SERIESCHECK_PROGRESS_EVERY": "0"})  # a progress line for every cell
    assert r.returncode == 0, r.stdout + r.stderr
    assert without_timings(json.loads(out.read_text())) == without_timings(local_v318)
    computed = re.search(r"reused from the cache, (\d+) computed", r.stdout).group(1)
    assert SPREAD.search(r.stderr).groups() == (computed, "2"), r.stderr  # every miss sent; both workers ran some
    assert f"[verify on 2 workers] {computed}/{computed} cells computed" in r.stderr  # the progress log line

    # the client's cache answers a second run: nothing is sent (the address from the environment)
    again = seriescheck("verify", "v3.18", "--profile", "smoke", "--json", str(out), cache=tmp_path / "cache",
                        env={"SERIESCHECK_CLUSTER": dask_cluster.address})
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{computed} reused from the cache, 0 computed" in again.stdout
    assert not SPREAD.search(again.stderr), again.stderr
    assert without_timings(json.loads(out.read_text())) == without_timings(local_v318)


DROP_IOV = '''"""drop msg_iov from msghdr"""
from dataclasses import dataclass

from checks.series import Step
from model.kernel import NULL, Ptr

STEP = Step(subject="drop msg_iov from msghdr")


@dataclass(slots=True)
class msghdr:
    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0
'''

STILL_SETS_IOV = '''"""kernel_sendmsg as before: it still sets msg_iov"""
from checks.series import Step
from model.uaccess import KERNEL_DS

STEP = Step(subject="kernel_sendmsg as before")


def kernel_sendmsg(k, sock, msg, vec, num, size):
    oldfs = k.get_fs()
    k.set_fs(KERNEL_DS)
    msg.msg_iov = vec
    msg.msg_iovlen = num
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result
'''


def test_a_series_outside_the_checkout_is_sent_and_names_the_clients_files(dask_cluster, tmp_path):
    """A series given by path, with a step taken from a sibling folder: the worker has neither; a
    cell that does not build names the step file as the client has it."""
    for folder, files in {"shared": {"s01_drop_iov.py": DROP_IOV},
                          "mine": {"s02_still_sets_iov.py": STILL_SETS_IOV,
                                   "series.toml": 'name = "mine"\norder = ["shared/s01_drop_iov", '
                                                  '"s02_still_sets_iov"]\nusers = ["smb_send_kvec"]\n'}}.items():
        (tmp_path / "series" / folder).mkdir(parents=True)
        for name, text in files.items():
            (tmp_path / "series" / folder / name).write_text(text)
    mine = tmp_path / "series" / "mine"
    args = ("verify", str(mine), "--profile", "smoke", "--no-cache", "--user", "smb_send_kvec", "--json")
    local = seriescheck(*args, str(tmp_path / "local.json"), cache=tmp_path / "cache")
    remote = seriescheck(*args, str(tmp_path / "remote.json"), "--cluster", dask_cluster.address,
                         cache=tmp_path / "cache")
    assert local.returncode == remote.returncode == 1, remote.stdout + remote.stderr  # no manifest: mismatches
    doc = json.loads((tmp_path / "remote.json").read_text())
    assert without_timings(doc) == without_timings(json.loads((tmp_path / "local.json").read_text()))
    s02 = [c for c in doc["series"][0]["cells"] if c["step"] == "s02_still_sets_iov"]
    assert s02[0]["status"] == "DOES_NOT_BUILD"
    assert s02[0]["evidence"].startswith(f"{mine.resolve() / 's02_still_sets_iov.py'}:11: "), s02
    assert SPREAD.search(remote.stderr), remote.stderr


def test_one_command_sends_many_batches(dask_cluster):
    """order runs a batch of cells per prefix on one connection: every batch gets its series."""
    profile = get_profile("smoke")
    tasks = cell_tasks(load_series("v3.18"), users=["smb_send_kvec"])
    runner = ClusterRunner.connect(dask_cluster.address)
    try:
        first, second = runner.run(tasks, profile), runner.run(tasks, profile)
    finally:
        runner.close()
    assert [replace(c, seconds=0, engines=()) for c in first] == [replace(c, seconds=0, engines=()) for c in second]
    assert [c.status for c in first] == [Status.CONFIRMED]


def test_a_worker_killed_mid_run_loses_no_cell(dask_cluster, local_v318, tmp_path):
    from distributed import Client

    d = dask_cluster
    target = d.workers[0]
    try:
        with Client(d.address, timeout=START_WAIT, set_as_default=False) as observer:
            address_of = {pid: addr for addr, pid in observer.run(os.getpid).items()}
            target_addr = address_of[target.pid]
            out = tmp_path / "r.json"
            env = {k: v for k, v in os.environ.items() if k != "SERIESCHECK_CLUSTER"}
            env["SERIESCHECK_CACHE"] = str(tmp_path / "cache")
            run = subprocess.Popen([sys.executable, "-m", "checks", "verify", "v3.18", "--profile", "smoke",
                                    "--no-cache", "--json", str(out), "--cluster", d.address], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + START_WAIT
            while not observer.processing(workers=[target_addr]).get(target_addr):  # the worker holds a cell
                assert run.poll() is None and time.monotonic() < deadline, "the run sent no cell to the worker"
                time.sleep(0.02)
            target.send_signal(signal.SIGKILL)
            target.wait(timeout=30)
            stdout, stderr = run.communicate(timeout=300)
    finally:
        if target.poll() is None:
            target.kill()
        d.workers.remove(target)
        d.start_worker()  # the other tests of the module have two workers again
        d.wait_for_workers(2)
    assert run.returncode == 0, stdout + stderr
    assert without_timings(json.loads(out.read_text())) == without_timings(local_v318), stderr
    assert "UNKNOWN" not in stdout


def test_ctrl_c_cancels_the_tasks_sent(dask_cluster):
    profile = get_profile("smoke")
    series = load_series("v3.18")
    tasks = cell_tasks(series)
    runner = ClusterRunner.connect(dask_cluster.address)

    def interrupt(_verdict):
        raise KeyboardInterrupt

    try:
        try:
            runner.run(tasks, profile, progress=interrupt)
            raise AssertionError("the interrupt did not stop the run")
        except KeyboardInterrupt:
            # still inside the handler the run's frame, and so its futures, are alive: only a cancel
            # takes its tasks off the scheduler
            deadline = time.monotonic() + START_WAIT
            while left := runner.client.run_on_scheduler(
                    lambda dask_scheduler: [f"{k} {t.state}" for k, t in dask_scheduler.tasks.items()
                                        if str(k).startswith("seriescheck-")]):
                assert time.monotonic() < deadline, f"tasks still on the scheduler: {left[:3]}"
                time.sleep(0.1)
    finally:
        runner.close()


def test_a_worker_with_other_code_is_refused(dask_cluster, tmp_path):
    other = tmp_path / "other"
    for pkg in ("checks", "model"):
        shutil.copytree(ROOT / pkg, other / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "model" / "world.py", "a") as f:
        f.write("\n# an edit the client does not have\n")
    env = dict(os.environ, PYTHONPATH=str(other))  # found before the editable install of this checkout
    w = dask_cluster.start_worker(env)
    try:
        dask_cluster.wait_for_workers(3)
        r = seriescheck("verify", "v3.18", "--profile", "smoke", "--cluster", dask_cluster.address,
                        cache=tmp_path / "cache")
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
        dask_cluster.workers.remove(w)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "differs from this client (checks+model code" in lines[0], r.stderr
    assert "cells computed" not in r.stderr and "CONFIRMED" not in r.stdout


def test_a_worker_of_two_threads_is_refused(dask_cluster, tmp_path):
    w = dask_cluster.start_worker(nthreads=2)
    try:
        dask_cluster.wait_for_workers(3)
        r = seriescheck("verify", "v3.18", "--profile", "smoke", "--cluster", dask_cluster.address,
                        cache=tmp_path / "cache")
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
        dask_cluster.workers.remove(w)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "has 2 threads; start workers with --nthreads 1" in lines[0], r.stderr


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    for args, env in [(("--cluster", address), None), ((), {"SERIESCHECK_CLUSTER": address})]:
        r = seriescheck("verify", "v3.18", "--profile", "smoke", *args, cache=tmp_path / "cache", env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and f"cannot reach the Dask scheduler at {address}" in lines[0], r.stderr
        assert r.stdout == ""  # before any work


def test_cluster_does_not_apply_to_commits_checked_from_git(tmp_path):
    r = seriescheck("verify", "--git-head", "--cluster", "127.0.0.1:1", cache=tmp_path / "cache")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--cluster does not apply to --git" in lines[0], r.stderr
