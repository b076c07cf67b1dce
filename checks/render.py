"""Rendering of results: the terminal matrix and the JSON document. Results are not changed here."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version

from checks.matrix import SeriesResult
from checks.profiles import Profile
from checks.verdicts import CellVerdict, Status

SHORT = {
    Status.CONFIRMED: "ok",
    Status.NOT_REFUTED: "nr",
    Status.UNKNOWN: "??",
    Status.BROKEN: "BROKEN",
    Status.DOES_NOT_BUILD: "NOBUILD",
}


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("seriescheck", "crosshair-tool", "z3-solver", "hypothesis"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def header(profile: Profile) -> str:
    tools = ", ".join(f"{k} {v}" for k, v in tool_versions().items())
    ch = (f"crosshair over {profile.crosshair.describe()}, "
          f"{profile.crosshair_per_condition_timeout}s per cell" if profile.crosshair_enabled else "crosshair off")
    return (f"seriescheck | {tools}\n"
            f"profile {profile.name}: exhaustive over {profile.exhaustive.describe()}; {ch}")


def short(step_id: str) -> str:
    return step_id.split("_", 1)[0]


def steps_of(r: SeriesResult) -> list[str]:
    return [s.id for s in r.series.steps]


def cell_line(c: CellVerdict) -> str:
    """One stable line per cell."""
    line = f"{c.step.split('_', 1)[0]} {c.user}/{c.protocol} {c.status.name:<14} {c.evidence}"
    if c.replay:
        line += f"\n    input: {c.counterexample.description}"
        if c.counterexample.previous:
            line += f"\n    before: {c.counterexample.previous}"
        line += f"\n    replay: {c.replay}"
    return line


def matrix_text(r: SeriesResult) -> str:
    steps = [s.id for s in r.series.steps]
    rows = sorted({(c.user, c.protocol) for c in r.cells})
    cells = {c.key: c for c in r.cells}
    shorts = [s.split("_", 1)[0] for s in steps]
    width = max([len(f"{u}/{p}") for u, p in rows] + [10])
    out = [f"{'user/protocol':<{width}}  " + "  ".join(f"{s:>7}" for s in shorts)]
    for u, p in rows:
        marks = [SHORT[cells[(s, u, p)].status] if (s, u, p) in cells else "-" for s in steps]
        out.append(f"{u + '/' + p:<{width}}  " + "  ".join(f"{m:>7}" for m in marks))
    return "\n".join(out)


def series_text(r: SeriesResult) -> str:
    s = r.series
    out = [f"== series {s.name}: {len(s.steps)} step(s), {len(r.cells)} cells", matrix_text(r), ""]
    order = {sid: i for i, sid in enumerate(steps_of(r))}
    previous: dict[tuple[str, str], CellVerdict] = {}
    for c in sorted(r.cells, key=lambda c: (order[c.step], c.user, c.protocol)):
        before = previous.get((c.user, c.protocol))
        previous[(c.user, c.protocol)] = c
        if c.status == Status.CONFIRMED:
            continue
        if before and (before.status, before.evidence) == (c.status, c.evidence):
            out.append(f"{short(c.step)} {c.user}/{c.protocol} {c.status.name:<14} as at {short(before.step)}")
        else:
            out.append(cell_line(c))
    for w in r.windows:
        end = f"repaired at {short(w.repaired_at)}" if w.repaired_at else "still broken at the last step"
        out.append(f"window: {w.user}/{w.protocol} broken from {short(w.broken_at)}, {end}")
    for g in r.regressions:
        tag = "expected" if g.expected else "UNEXPECTED"
        out.append(f"regression ({tag}): {g.user}/{g.protocol} holds at {g.before}, {g.status.name} at {g.after}")
    for m in r.mismatches:
        claim = f" ({m.claim})" if m.claim else ""
        out.append(f"MANIFEST MISMATCH {m.step} {m.user}/{m.protocol}: expected {m.expected}, got {m.got}{claim}")
    verdict = "matches its manifest" if r.expected_met else "CONTRADICTS its manifest"
    unknown = f"; {len(r.unknown)} cell(s) UNKNOWN" if r.unknown else ""
    out.append(f"series {s.name} {verdict}{unknown}")
    return "\n".join(out)


def to_json(results: list[SeriesResult], profile: Profile) -> dict:
    return {
        "ok": all(r.expected_met for r in results) and not any(r.unknown for r in results),
        "tool": tool_versions(),
        "profile": profile.to_json(),
        "series": [_series_json(r) for r in results],
    }


def _series_json(r: SeriesResult) -> dict:
    return {
        "name": r.series.name,
        "steps": [{"id": s.id, "subject": s.record.subject, "upstream": s.record.upstream,
                   "upstream_verified": s.record.upstream_verified} for s in r.series.steps],
        "cells": [_cell_json(c) for c in r.cells],
        "regressions": [{"user": g.user, "protocol": g.protocol, "before": g.before, "after": g.after,
                         "status": g.status.name, "expected": g.expected} for g in r.regressions],
        "windows": [{"user": w.user, "protocol": w.protocol, "broken_at": w.broken_at,
                     "repaired_at": w.repaired_at} for w in r.windows],
        "mismatches": [vars(m) for m in r.mismatches],
        "expected_met": r.expected_met,
    }


def _cell_json(c: CellVerdict) -> dict:
    cex = None
    if c.counterexample:
        x = c.counterexample
        cex = {"input": x.input, "description": x.description, "failure": x.failure, "rc": x.rc,
               "got": x.got, "expected": x.expected, "found_by": x.found_by, "previous": x.previous}
    return {
        "step": c.step, "user": c.user, "protocol": c.protocol, "status": c.status.name,
        "evidence": c.evidence, "seconds": c.seconds, "counterexample": cex, "replay": c.replay,
        "engines": [{"engine": e.engine, "status": e.status.name, "explored": e.explored,
                     "seconds": round(e.seconds, 3), "detail": e.detail,
                     "seconds_to_counterexample": e.seconds_to_counterexample,
                     "budget": e.budget, "seed": e.seed} for e in c.engines],
    }


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=False)
