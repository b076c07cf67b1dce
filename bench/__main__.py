"""make bench: the figures behind the README's performance table, measured on this machine.

For the quick profile: wall and CPU time of every series' matrix, per-cell time to the first
counterexample for each engine, and peak memory (this process and its workers). Machines here
are noisy: compare figures within one run, not across runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from checks.matrix import verify_series
from checks.profiles import get_profile
from checks.series import all_series, load_series
from checks.verdicts import Status


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_mib() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_maxrss / 1024, kids.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--no-crosshair", action="store_true")
    args = ap.parse_args()
    profile = get_profile(args.profile, crosshair=False if args.no_crosshair else None)
    print(f"bench: profile {profile.name}, crosshair {'on' if profile.crosshair_enabled else 'off'}")
    total_wall0, total_cpu0 = time.perf_counter(), cpu_seconds()
    ttfc: dict[str, list[float]] = {}
    for path in all_series():
        series = load_series(str(path))
        w0, c0 = time.perf_counter(), cpu_seconds()
        r = verify_series(series, profile)
        wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
        per_step = wall / max(len(series.steps), 1)
        print(f"series {series.name:<20} {len(r.cells):>4} cells  {len(series.steps):>2} steps  "
              f"wall {wall:7.2f} s  cpu {cpu:7.2f} s  {per_step:6.2f} s/step  "
              f"{sum(c.status == Status.BROKEN for c in r.cells)} broken")
        for c in r.cells:
            for e in c.engines:
                if e.seconds_to_counterexample is not None:
                    ttfc.setdefault(e.engine, []).append(e.seconds_to_counterexample)
    wall, cpu = time.perf_counter() - total_wall0, cpu_seconds() - total_cpu0
    print(f"all series: wall {wall:.2f} s, cpu {cpu:.2f} s (cpu/wall {cpu / wall:.2f})")
    for engine, times in sorted(ttfc.items()):
        print(f"time to first counterexample, {engine:<22}: n={len(times):>3} median {statistics.median(times):.4f} s "
              f"worst {max(times):.4f} s")
    me, kids = peak_mib()
    print(f"peak memory: main process {me:.0f} MiB, largest worker {kids:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
