"""A real Dask cluster on the loopback interface: one ``dask scheduler`` and ``dask worker`` processes,
on free ports, each stopped by its PID. Every wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).parent / "dask")
START_WAIT = 60.0  # seconds for the scheduler to write its address and the workers to register


class DaskProcesses:
    """A scheduler and its workers, started as the README tells a user to start them."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.address = ""

    def _spawn(self, args: list[str], log: str, env: dict | None = None) -> subprocess.Popen:
        with open(self.folder / log, "w") as out:
            return subprocess.Popen(args, cwd=self.folder, stdout=out, stderr=subprocess.STDOUT,
                                    env=env or os.environ.copy())

    def start_scheduler(self) -> str:
        info = self.folder / "scheduler.json"
        # --idle-timeout: a scheduler left behind by a crashed test ends by itself
        self.scheduler = self._spawn([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(info), "--idle-timeout", "600"], "scheduler.log")
        deadline = time.monotonic() + START_WAIT
        while not (info.is_file() and info.stat().st_size):
            assert self.scheduler.poll() is None, (self.folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler wrote no address"
            time.sleep(0.1)
        self.address = json.loads(info.read_text())["address"]
        return self.address

    def start_worker(self, env: dict | None = None, nthreads: int = 1) -> subprocess.Popen:
        """A worker (of one thread, as the README says) without a nanny, so its PID is the process that
        runs cells; it exits by itself 30 s after losing the scheduler."""
        n = len(self.workers)
        w = self._spawn([DASK, "worker", self.address, "--host", "127.0.0.1", "--nthreads", str(nthreads), "--no-nanny",
                         "--no-dashboard", "--death-timeout", "30", "--local-directory", str(self.folder / f"w{n}")],
                        f"worker{n}.log", env)
        self.workers.append(w)
        return w

    def wait_for_workers(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=START_WAIT, set_as_default=False) as c:
            c.wait_for_workers(n, timeout=START_WAIT)

    def stop(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*self.workers, self.scheduler]:
            if p is None:
                continue
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=15)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A scheduler and two workers; a test that stops a worker starts another before it ends."""
    d = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        d.start_scheduler()
        d.start_worker()
        d.start_worker()
        d.wait_for_workers(2)
        yield d
    finally:
        d.stop()


def seriescheck(*args: str, cache: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command as a user runs it, with its own verdict cache."""
    full_env = {k: v for k, v in os.environ.items() if k != "SERIESCHECK_CLUSTER"}  # only what the test gives
    full_env.update(SERIESCHECK_CACHE=str(cache), **(env or {}))
    return subprocess.run([sys.executable, "-m", "checks", *args], cwd=ROOT, capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def without_timings(doc):
    """A JSON result without the fields that measure time (the only ones a cluster may change)."""
    if isinstance(doc, dict):
        return {k: without_timings(v) for k, v in doc.items() if k not in ("seconds", "seconds_to_counterexample")}
    if isinstance(doc, list):
        return [without_timings(v) for v in doc]
    return doc


@pytest.fixture(scope="session")
def local_v318(tmp_path_factory) -> dict:
    """v3.18 at the smoke profile on the local process pool: the result a cluster run must equal."""
    folder = tmp_path_factory.mktemp("local")
    r = seriescheck("verify", "v3.18", "--profile", "smoke", "--no-cache", "--json", str(folder / "r.json"),
                    cache=folder / "cache")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads((folder / "r.json").read_text())
