"""python -m bench.cluster: cells per second on the local process pool and on a Dask scheduler with
local workers (127.0.0.1 only), and what the cluster adds per task.

Every run is cold (no verdict cache), over the same cells. Figures:

* cells/s: cells / wall time of the run;
* overhead per cell: (wall time x processes - the cells' own seconds) / cells -- the process time
  not spent inside a cell: pickling, scheduling, transfer, unpacking the series, composing it;
* the cluster's first run includes each worker's imports and composing the series; the second
  run is on warm workers (the steady state of a long run);
* dask round trip: a task that does nothing, submitted 200 times: the scheduler's own share.

Machines here are noisy: compare figures within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from checks import cluster
from checks.matrix import cell_tasks, run_tasks, task_key
from checks.profiles import get_profile
from checks.series import load_series

DASK = str(Path(sys.executable).parent / "dask")


def start_dask(folder: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and ``workers`` one-thread workers on 127.0.0.1, free ports; (address, processes)."""
    info = folder / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info), "--idle-timeout", "600"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 60
    while not (info.is_file() and info.stat().st_size):
        if time.monotonic() > deadline or procs[0].poll() is not None:
            stop(procs)
            raise SystemExit("bench.cluster: the scheduler did not start")
        time.sleep(0.1)
    address = json.loads(info.read_text())["address"]
    procs += [subprocess.Popen([DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--death-timeout", "30", "--local-directory", str(folder / f"w{i}")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
    return address, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def timed(tasks, profile, processes: int, jobs: int | None = None) -> tuple[float, float, float]:
    """(cells/s, overhead per cell in seconds, wall seconds) of one cold run."""
    t0 = time.perf_counter()
    cells = run_tasks(tasks, profile, jobs)  # no cache, no two equal: every cell computed
    wall = time.perf_counter() - t0
    inside = sum(c.seconds for c in cells)
    return len(cells) / wall, (wall * processes - inside) / len(cells), wall


def round_trip(runner: cluster.ClusterRunner, n: int = 200) -> float:
    """Seconds per task of a task that does nothing, all n submitted at once."""
    futures = [runner.client.submit(abs, i, pure=False) for i in range(n)]
    t0 = time.perf_counter()
    runner.client.gather(futures)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", default="v3.18")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--crosshair", action="store_true", help="keep the CrossHair engine if the profile has it")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    profile = get_profile(args.profile, crosshair=None if args.crosshair else False)
    every = cell_tasks(load_series(args.series))
    tasks = list({task_key(t, profile): t for t in every}.values())  # equal cells are computed once anyway
    print(f"cluster bench: series {args.series}, profile {profile.name} (crosshair "
          f"{'on' if profile.crosshair_enabled else 'off'}), {len(tasks)} distinct cells, cold, "
          f"{args.workers} processes each way")
    rate, over, wall = timed(tasks, profile, args.workers, jobs=args.workers)
    print(f"  local pool ({args.workers} processes): {rate:6.2f} cells/s, wall {wall:6.2f} s, "
          f"overhead {1000 * over:6.1f} ms/cell")
    with tempfile.TemporaryDirectory(prefix="seriescheck-bench-") as tmp:
        address, procs = start_dask(Path(tmp), args.workers)
        try:
            from distributed import Client

            with Client(address, timeout=60, set_as_default=False) as c:
                c.wait_for_workers(args.workers, timeout=60)
            with cluster.session(address) as runner:
                for label in ("first run, cold workers", "second run, warm workers"):
                    rate, over, wall = timed(tasks, profile, args.workers)
                    print(f"  dask, {args.workers} workers, {label}: {rate:6.2f} cells/s, wall {wall:6.2f} s, "
                          f"overhead {1000 * over:6.1f} ms/cell")
                print(f"  dask round trip of an empty task: {1000 * round_trip(runner):.2f} ms/task")
        finally:
            stop(procs)


if __name__ == "__main__":
    main()
