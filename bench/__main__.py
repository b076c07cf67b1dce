"""make bench: the figures behind the README's performance tables, measured on this machine.

* verify: for the profile, wall and CPU time of every series' matrix run cold (empty cache),
  cells and time per step, per-cell time to the first counterexample for each engine, peak
  memory; then the same run warm, and its share of the cold time.
* order: for --search on each series, prefixes evaluated, distinct cells computed versus the naive
  count (every cell of every prefix of every order tried), and wall time (warm cache of the
  verify run, then cold).

Machines here are noisy: compare figures within one run, not across runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from checks.cache import VerdictCache
from checks.matrix import verify_series
from checks.order import Evaluator, search_order
from checks.profiles import get_profile
from checks.series import all_series, load_series
from checks.verdicts import Status


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_mib() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_maxrss / 1024, kids.ru_maxrss / 1024


def verify_all(profile, cache: VerdictCache, label: str) -> tuple[float, dict[str, list[float]]]:
    total0 = time.perf_counter()
    ttfc: dict[str, list[float]] = {}
    for path in all_series():
        series = load_series(str(path))
        w0, c0 = time.perf_counter(), cpu_seconds()
        r = verify_series(series, profile, cache=cache)
        wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
        broken = sum(c.status == Status.BROKEN for c in r.cells)
        print(f"  {label} {series.name:<20} {len(r.cells):>4} cells {len(series.steps):>3} steps "
              f"wall {wall:7.2f} s cpu {cpu:7.2f} s {wall / len(series.steps):6.2f} s/step {broken:>3} broken")
        for c in r.cells:
            for e in c.engines:
                if e.seconds_to_counterexample is not None and not e.engine.endswith("sabotaged"):
                    ttfc.setdefault(e.engine, []).append(e.seconds_to_counterexample)
    return time.perf_counter() - total0, ttfc


def bench_verify(profile, folder: Path) -> None:
    print(f"verify, profile {profile.name}, crosshair {'on' if profile.crosshair_enabled else 'off'}:")
    cold_cache = VerdictCache(folder)
    c0 = cpu_seconds()
    cold, ttfc = verify_all(profile, cold_cache, "cold")
    cpu = cpu_seconds() - c0
    print(f"  cold: wall {cold:.2f} s, cpu {cpu:.2f} s, {cold_cache.misses} cells computed, "
          f"{cold_cache.hits} reused within the run")
    warm_cache = VerdictCache(folder)
    warm, _ = verify_all(profile, warm_cache, "warm")
    print(f"  warm: wall {warm:.2f} s = {100 * warm / cold:.1f}% of cold ({warm_cache.hits} reused, "
          f"{warm_cache.misses} computed)")
    for engine, times in sorted(ttfc.items()):
        print(f"  time to first counterexample, {engine:<10}: n={len(times):>3} "
              f"median {statistics.median(times):.4f} s, worst {max(times):.4f} s")
    me, kids = peak_mib()
    print(f"  peak memory: main process {me:.0f} MiB, largest worker {kids:.0f} MiB")


def bench_order(profile, folder: Path, label: str) -> None:
    print(f"order --search ({label} cache):")
    for path in all_series():
        series = load_series(str(path))
        if len(series.steps) < 2:
            continue
        cache = VerdictCache(folder)
        ev = Evaluator(series, profile, cache)
        t0 = time.perf_counter()
        result = search_order(ev)
        wall = time.perf_counter() - t0
        s = result.stats
        found = "safe order found" if result.found else "no safe order"
        print(f"  {series.name:<20} {found:<16} {s.states:>4} prefixes, cells: {s.cells_naive:>6} naive, "
              f"{s.cells_computed:>5} computed, {s.cells_reused:>6} reused; wall {wall:7.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--no-crosshair", action="store_true")
    args = ap.parse_args()
    profile = get_profile(args.profile, crosshair=False if args.no_crosshair else None)
    print(f"bench on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_verify(profile, folder)
        bench_order(profile, folder, "warm")
    with tempfile.TemporaryDirectory() as tmp:
        bench_order(profile, Path(tmp), "cold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
