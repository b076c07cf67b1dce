"""make bench: the figures behind the README's speed table, measured on this machine, in one run.

* cold verify: ``seriescheck verify`` of every series with an empty verdict cache, as the first
  ``make verify`` on a fresh clone runs it (the venv exists): wall and CPU seconds, cells in all,
  distinct and computed (they must be equal: every distinct cell computed once), executions or
  examples per second of each engine, peak memory;
* the previous engine side by side: the ``previous`` profile (whole-input enumeration, its bounds
  and budgets) and ``quick`` on the same series, both cold, in this run: the ratio;
* warm verify (nothing changed) and ``verify --git . --range HEAD~1..HEAD`` right after it;
* ``order --search`` on the warm cache: prefixes, naive cells, computed cells;
* where the time goes: cProfile's top lines for the costliest cell.

Machines here are noisy: compare figures within one run, not across runs.

    python -m bench [--profile quick] [--subset v3.18,send-path-advances,iscsi-stable] [--skip-previous]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"cells: (\d+) in all, (\d+) distinct; (\d+) reused from the cache, (\d+) computed")


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def run_verify(cache: Path, *args: str, json_out: Path | None = None) -> dict:
    """One ``seriescheck verify`` in a fresh process: wall, CPU, exit code and its cell counts."""
    argv = [sys.executable, "-m", "checks", "verify", *args]
    if json_out is not None:
        argv += ["--json", str(json_out)]
    env = dict(os.environ, SERIESCHECK_CACHE=str(cache))
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    m = SUMMARY.search(proc.stdout + proc.stderr)
    cells = dict(zip(("all", "distinct", "reused", "computed"), map(int, m.groups()), strict=True)) if m else {}
    return {"wall": wall, "cpu": cpu, "rc": proc.returncode, **cells,
            "tail": (proc.stdout + proc.stderr).strip().splitlines()[-1:]}


def engine_rates(doc: dict) -> dict[str, tuple[int, float]]:
    """Per engine: inputs run (executions, examples, iterations) and seconds, over computed cells
    (a verdict shared by several cells of the run is counted once)."""
    rates: dict[str, tuple[int, float]] = {}
    seen = set()
    for s in doc["series"]:
        for c in s["cells"]:
            runs = json.dumps(c.get("engines", ()), sort_keys=True)
            if runs in seen:
                continue
            seen.add(runs)
            for e in c.get("engines", ()):
                n, t = rates.get(e["engine"], (0, 0.0))
                rates[e["engine"]] = (n + e["explored"], t + e["seconds"])
    return rates


def show_run(label: str, r: dict) -> None:
    counts = (f"{r.get('all', '?')} cells, {r.get('distinct', '?')} distinct, {r.get('computed', '?')} computed, "
              f"{r.get('reused', '?')} reused") if r.get("all") else f"no summary ({r['tail']})"
    print(f"  {label:<34} wall {r['wall']:8.1f} s  cpu {r['cpu']:8.1f} s  exit {r['rc']}  {counts}")


def bench_cold(profile: str, subset: list[str], skip_previous: bool) -> Path:
    """Cold verify of everything, warm verify, and the previous engine on ``subset``. Returns the cache."""
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    out = cache / "verify.json"
    print(f"cold verify, every series, profile {profile} (empty cache, {os.cpu_count()} cores):")
    cold = run_verify(cache, "--profile", profile, json_out=out)
    show_run("cold", cold)
    if out.is_file():
        for engine, (n, t) in sorted(engine_rates(json.loads(out.read_text())).items()):
            print(f"    {engine:<24} {n:>9} inputs in {t:7.1f} s = {n / max(t, 1e-9):8.0f} per second")
    warm = run_verify(cache, "--profile", profile)
    show_run("warm (nothing changed)", warm)
    print(f"  warm is {100 * warm['wall'] / max(cold['wall'], 1e-9):.1f}% of cold")
    git = _git_range(cache, profile)
    if git is not None:
        show_run("verify --git (README commit) HEAD~1..HEAD", git)
    if not skip_previous:
        print(f"previous engine side by side, series {', '.join(subset)} (each cold):")
        new = run_verify(Path(tempfile.mkdtemp(prefix="bench-new-")), "--profile", profile, *subset)
        old = run_verify(Path(tempfile.mkdtemp(prefix="bench-old-")), "--profile", "previous", *subset)
        show_run(f"{profile} (executions, 3x3x3x3)", new)
        show_run("previous (whole inputs, 3x2x2x2)", old)
        print(f"  ratio previous/{profile}: wall {old['wall'] / max(new['wall'], 1e-9):.1f}x, "
              f"cpu {old['cpu'] / max(new['cpu'], 1e-9):.1f}x")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak memory of a verify process: {peak:.0f} MiB")
    return cache


def _git_range(cache: Path, profile: str) -> dict | None:
    """``verify --git CLONE --range HEAD~1..HEAD`` right after the verify above, as after a commit
    that changes no verdict's inputs (a README line): a clone of HEAD with one such commit on top.
    HEAD~1 is this checkout's HEAD, so with the checkout clean every cell comes from the cache."""
    if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "model", "series", "checks"], cwd=ROOT).returncode:
        print("  (verify --git skipped: model/, series/ or checks/ differ from HEAD)")
        return None
    clone = Path(tempfile.mkdtemp(prefix="bench-clone-")) / "repo"
    subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
    (clone / "README.md").write_text((clone / "README.md").read_text() + "\nA line.\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org"]
    subprocess.run([*git, "commit", "--quiet", "-am", "README: a line"], cwd=clone, check=True)
    argv = [sys.executable, "-m", "checks", "verify", "--git", str(clone), "--range", "HEAD~1..HEAD",
            "--profile", profile]
    env = dict(os.environ, SERIESCHECK_CACHE=str(cache))
    c0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    return {"wall": time.perf_counter() - t0, "cpu": _children_cpu() - c0, "rc": proc.returncode,
            "tail": (proc.stdout + proc.stderr).strip().splitlines()[-1:]}


def bench_order(profile_name: str, cache: Path) -> None:
    from checks.cache import VerdictCache
    from checks.order import Evaluator, search_order
    from checks.profiles import get_profile
    from checks.series import all_series, load_series

    profile = get_profile(profile_name)
    print("order --search (warm cache of the cold verify):")
    for path in all_series():
        series = load_series(str(path))
        if len(series.steps) < 2:
            continue
        ev = Evaluator(series, profile, VerdictCache(cache))
        t0 = time.perf_counter()
        result = search_order(ev)
        s = result.stats
        found = "safe order found" if result.found else "no safe order"
        print(f"  {series.name:<20} {found:<16} {s.states:>4} prefixes, cells: {s.cells_naive:>6} naive, "
              f"{s.cells_computed:>5} computed, {s.cells_reused:>6} reused; wall {time.perf_counter() - t0:7.2f} s")


def bench_profile(profile_name: str, top: int = 12) -> None:
    """cProfile of the costliest cell kind: a holding send cell over TCP at v3.18, all engines."""
    from checks.cell import CellTask, all_users, check_cell
    from checks.profiles import get_profile
    from checks.series import compose, load_series

    profile = get_profile(profile_name)
    series = load_series("v3.18")
    image = compose(series).images["v3.18"]
    task = CellTask("v3.18", str(series.path), "v3.18", "smb_send_kvec", "tcp")
    all_users()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    v = check_cell(task, image, frozenset(), profile)
    prof.disable()
    print(f"where a cell's time goes: v3.18 smb_send_kvec/tcp {v.status.name} in {time.perf_counter() - t0:.2f} s; "
          + ", ".join(f"{e.engine} {e.seconds:.2f} s ({e.explored})" for e in v.engines))
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    for ln in lines[start:start + top + 1]:
        print(f"  {ln.replace(str(ROOT) + os.sep, '')}")


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--subset", default="v3.18,send-path-advances,iscsi-stable",
                    help="series for the side-by-side run with the previous engine")
    ap.add_argument("--skip-previous", action="store_true", help="no side-by-side run with the previous engine")
    args = ap.parse_args()
    print(f"bench on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    bench_profile(args.profile)
    cache = bench_cold(args.profile, args.subset.split(","), args.skip_previous)
    bench_order(args.profile, cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
