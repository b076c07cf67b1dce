"""Detection power, measured: every defect of tests/detection/corpus.py through every engine.

    python -m bench.detection [--profile quick] [--only ID ...] [--engines a,b] [--json FILE]

Engines, each on the defect's cells in order until one catches it:

* ``exhaustive``: checks/exhaustive.py (checks/primitives.py for a primitive) within the profile's
  exhaustive bounds;
* ``crosshair``: checks/crosshair_engine.py within the CrossHair scope and budget (user cells only:
  the primitives have no CrossHair engine, so a primitive-only defect is n/a);
* ``hypothesis``, ``hypothesis-crosshair``: checks/hypothesis_engine.py within the CrossHair scope,
  plain and with Hypothesis' CrossHair backend (primitives included);
* ``combined``: checks.cell.check_cell with the profile as it is (CrossHair on if the profile has
  it): what ``seriescheck verify`` would say.

A defect is found by an engine when a cell comes out BROKEN (or DOES_NOT_BUILD) with a
counterexample that fails on the planted image and holds on the clean one; a counterexample the
clean image fails too is the model's own failure, not this defect's, and is listed. The time to
the first counterexample counts the cells tried before the one that caught it. Times are wall
seconds of one process, engines run one after another (no workers: the CrossHair budget is time).

Prints a Markdown summary table (paste into the README), a per-defect table, and the defects no
engine finds with the reason each is a limit. Machines are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests/ is not an installed package
    sys.path.insert(0, str(ROOT))

from checks.cell import PRIMITIVE, CellTask, all_users, check_cell  # noqa: E402
from checks.engines import exhaustive  # noqa: E402
from checks.engines import hypothesis as hypothesis_engine  # noqa: E402
from checks.harness import CellInput, ModelError, run_cell  # noqa: E402
from checks.primitives import check_primitive, replay_primitive  # noqa: E402
from checks.profiles import Profile, get_profile  # noqa: E402
from checks.verdicts import EngineRun, Status  # noqa: E402
from model.kernel import DoesNotBuild  # noqa: E402
from tests.detection.corpus import CORPUS, LIMITS, Defect, split_cell  # noqa: E402

ENGINES = ("exhaustive", "crosshair", "hypothesis", "hypothesis-crosshair", "combined")
FOUND = (Status.BROKEN, Status.DOES_NOT_BUILD)


@dataclass
class Outcome:
    """One engine on one defect."""

    status: str  # "found", "missed", "n/a", "clean-fails" (found only the model's own failure), "error"
    seconds: float = 0.0  # all cells tried
    to_counterexample: float | None = None
    cell: str = ""  # the cell that caught it
    detail: str = ""


def _holds_on_clean(d: Defect, user: str, proto: str, cex: dict | None) -> bool:
    if cex is None:
        return True
    clean = d.clean()
    if user.startswith(PRIMITIVE):
        return replay_primitive(clean, user[len(PRIMITIVE):], cex) is None
    return run_cell(clean, all_users()[user], proto, CellInput.from_json(cex)).holds


def _run_engine(engine: str, d: Defect, user: str, proto: str, profile: Profile, budgets: dict) -> EngineRun | None:
    """One engine on one cell; None when the engine does not apply to the cell."""
    image = d.image()
    primitive = user.startswith(PRIMITIVE)
    name = user[len(PRIMITIVE):]
    if engine == "exhaustive":
        if primitive:
            return check_primitive(image, name, profile.exhaustive)
        return exhaustive.search(image, all_users()[user], proto, profile.exhaustive)
    if engine == "crosshair":
        if primitive:
            return None
        from checks.engines import crosshair as crosshair_engine

        return crosshair_engine.search(image, all_users()[user], proto, profile.crosshair, profile)
    if engine in ("hypothesis", "hypothesis-crosshair"):
        backend = "crosshair" if engine == "hypothesis-crosshair" else "hypothesis"
        n = budgets[engine]
        if primitive:
            return hypothesis_engine.search_primitive(image, name, profile.crosshair, profile, backend, max_examples=n)
        return hypothesis_engine.search(image, all_users()[user], proto, profile.crosshair, profile, backend,
                                        max_examples=n)
    if engine == "combined":
        task = CellTask(d.series, d.series, d.clean().name, user, proto)
        v = check_cell(task, image, d.removed_fields(), profile)
        cex = v.counterexample.input if v.counterexample else None
        found_by = v.counterexample.found_by if v.counterexample else ""
        return EngineRun("combined", v.status, 0, v.seconds, f"{found_by}: {v.evidence}" if found_by else v.evidence,
                         cex, v.seconds if v.status in FOUND else None)
    raise ValueError(f"unknown engine {engine!r}: choose from {', '.join(ENGINES)}")


def measure(engine: str, d: Defect, profile: Profile, budgets: dict) -> Outcome:
    spent, applicable, notes = 0.0, False, []
    for cell in d.cells:
        user, proto = split_cell(cell)
        t0 = time.perf_counter()
        try:
            run = _run_engine(engine, d, user, proto, profile, budgets)
        except DoesNotBuild as e:  # the engine reached the missing symbol or field at run time
            dt = time.perf_counter() - t0
            return Outcome("found", spent + dt, spent + dt, cell, f"DOES_NOT_BUILD at run time: {e}")
        except ModelError as e:
            return Outcome("error", spent + time.perf_counter() - t0, None, cell, str(e))
        dt = time.perf_counter() - t0
        if run is None:
            continue
        applicable = True
        if run.status in FOUND:
            if run.status == Status.BROKEN and not _holds_on_clean(d, user, proto, run.counterexample):
                notes.append(f"{cell}: the clean image fails too at {run.counterexample}")
                spent += dt
                continue
            ttc = run.seconds_to_counterexample if run.seconds_to_counterexample is not None else dt
            return Outcome("found", spent + dt, spent + ttc, cell, run.detail)
        spent += dt
    if not applicable:
        return Outcome("n/a")
    return Outcome("clean-fails" if notes else "missed", spent, None, "", "; ".join(notes))


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.1f} s"


def _budget_text(engine: str, profile: Profile, budgets: dict) -> str:
    if engine == "exhaustive":
        return f"all inputs, {profile.exhaustive.describe()}"
    if engine == "crosshair":
        if profile.crosshair_max_iterations:
            return f"{profile.crosshair_max_iterations} iterations per cell, {profile.crosshair.describe()}"
        return (f"{profile.crosshair_per_condition_timeout:g} s per cell (per path "
                f"{profile.crosshair_per_path_timeout:g} s), {profile.crosshair.describe()}")
    if engine.startswith("hypothesis"):
        seed = hypothesis_engine.profile_seed(profile)
        return f"{budgets[engine]} examples, seed {seed}, {profile.crosshair.describe()}"
    return f"profile {profile.name}, CrossHair {'on' if profile.crosshair_enabled else 'off'}"


def summary_table(results: dict, defects: list[Defect], engines: list[str], profile: Profile, budgets: dict) -> str:
    """Per engine: the corpus defects found (of those it applies to), the limits found, and the
    median and worst time to the first counterexample over everything it found."""
    lines = ["| engine | budget and scope | corpus found | share | limits found | median to first counterexample "
             "| worst |", "|---|---|---:|---:|---:|---:|---:|"]
    for e in engines:
        def tally(group: list[Defect], e: str = e) -> tuple[list[Outcome], list[Outcome], int]:
            outs = [results[d.id][e] for d in group]
            applicable = [o for o in outs if o.status != "n/a"]
            return applicable, [o for o in applicable if o.status == "found"], len(outs) - len(applicable)

        c_app, c_found, c_na = tally([d for d in defects if not d.limit])
        l_app, l_found, l_na = tally([d for d in defects if d.limit])
        times = [o.to_counterexample for o in c_found + l_found if o.to_counterexample is not None]
        share = f"{100 * len(c_found) / len(c_app):.0f}%" if c_app else "-"
        corpus = f"{len(c_found)}/{len(c_app)}" + (f" ({c_na} n/a)" if c_na else "")
        limits = f"{len(l_found)}/{len(l_app)}" + (f" ({l_na} n/a)" if l_na else "")
        median = _fmt_s(statistics.median(times) if times else None)
        worst = _fmt_s(max(times) if times else None)
        lines.append(f"| {e} | {_budget_text(e, profile, budgets)} | {corpus} | {share} | {limits} | {median} "
                     f"| {worst} |")
    return "\n".join(lines)


def defect_table(results: dict, defects: list[Defect], engines: list[str]) -> str:
    mark = {"found": "", "missed": "missed", "n/a": "n/a", "clean-fails": "clean fails", "error": "error"}
    lines = ["| defect | kind | where | " + " | ".join(engines) + " |", "|---|---|---|" + "---:|" * len(engines)]
    for d in defects:
        cells = []
        for e in engines:
            o = results[d.id][e]
            cells.append(_fmt_s(o.to_counterexample) if o.status == "found" else mark[o.status])
        tag = " (limit)" if d.limit else ""
        lines.append(f"| `{d.id}`{tag} | {d.kind} | {d.where} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.detection", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ", ".join(ENGINES))
    ap.add_argument("--only", nargs="*", default=None, help="defect ids (default: the whole corpus and its limits)")
    ap.add_argument("--crosshair-timeout", type=float, default=None,
                    help="CrossHair per-condition budget for the bench (default: the profile's)")
    ap.add_argument("--crosshair-iterations", type=int, default=None, help="CrossHair's count budget per cell")
    ap.add_argument("--hypothesis-examples", type=int, default=None)
    ap.add_argument("--hypothesis-crosshair-examples", type=int, default=None)
    ap.add_argument("--json", default=None, help="write every outcome to this file")
    args = ap.parse_args(argv)

    profile = get_profile(args.profile)
    if args.crosshair_timeout is not None:
        profile = replace(profile, crosshair_per_condition_timeout=args.crosshair_timeout)
    if args.crosshair_iterations is not None:
        profile = replace(profile, crosshair_max_iterations=args.crosshair_iterations)
    budgets = {
        "hypothesis": args.hypothesis_examples or hypothesis_engine.budget(profile, "hypothesis"),
        "hypothesis-crosshair": args.hypothesis_crosshair_examples or hypothesis_engine.budget(profile, "crosshair"),
    }
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}: choose from {', '.join(ENGINES)}")
    if "crosshair" in engines and not profile.crosshair_enabled:
        print("note: the profile has CrossHair off; the crosshair engine runs anyway for the bench", file=sys.stderr)
    defects = [d for d in CORPUS + LIMITS if args.only is None or d.id in args.only]
    if not defects:
        ap.error("no defect selected")

    print(f"detection bench: {len(defects)} defects ({sum(not d.limit for d in defects)} corpus, "
          f"{sum(bool(d.limit) for d in defects)} limits), engines {', '.join(engines)}, profile {profile.name}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}", flush=True)
    t_all = time.perf_counter()
    results: dict[str, dict[str, Outcome]] = {}
    per_engine = dict.fromkeys(engines, 0.0)
    for i, d in enumerate(defects, 1):
        results[d.id] = {}
        for e in engines:
            o = measure(e, d, profile, budgets)
            results[d.id][e] = o
            per_engine[e] += o.seconds
        shown = " ".join(f"{e}={results[d.id][e].status}" for e in engines)
        print(f"  [{i:>2}/{len(defects)}] {d.id:<36} {shown}", flush=True)
    total = time.perf_counter() - t_all

    print()
    print(f"## Detection power ({profile.name} profile; {len(defects)} planted defects, "
          f"{sum(not d.limit for d in defects)} of them the corpus tests/detection/corpus.py requires)")
    print()
    print(summary_table(results, defects, engines, profile, budgets))
    print()
    missed = [d for d in defects if not any(results[d.id][e].status == "found" for e in engines)]
    print(f"Defects no engine finds ({len(missed)}):")
    print()
    for d in missed:
        reason = d.limit or "NOT A DOCUMENTED LIMIT: a gap to close"
        print(f"* `{d.id}` ({d.kind}, {d.where}): {d.description} {reason}.")
    if not missed:
        print("* none")
    noise = [(d, e, results[d.id][e]) for d in defects for e in engines if results[d.id][e].status == "clean-fails"]
    if noise:
        print()
        print("Counterexamples that the clean image fails too (the model's own failure, not counted):")
        print()
        for d, e, o in noise:
            print(f"* {e} on `{d.id}`: {o.detail}")
    errors = [(d, e, results[d.id][e]) for d in defects for e in engines if results[d.id][e].status == "error"]
    for d, e, o in errors:
        print(f"* ERROR {e} on `{d.id}`: {o.detail}")
    print()
    print("<details><summary>Per defect: time to the first counterexample</summary>")
    print()
    print(defect_table(results, defects, engines))
    print()
    print("</details>")
    print()
    print(f"total {total:.0f} s wall: " + ", ".join(f"{e} {s:.0f} s" for e, s in per_engine.items()))
    if args.json:
        out = {"profile": profile.to_json(), "budgets": budgets, "total_seconds": round(total, 1),
               "engine_seconds": {e: round(s, 1) for e, s in per_engine.items()},
               "defects": {d.id: {"kind": d.kind, "where": d.where, "cells": list(d.cells), "limit": d.limit,
                                  "engines": {e: vars(results[d.id][e]) for e in engines}} for d in defects}}
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
