"""The verdict cache: a cell's verdict keyed by exactly what it depends on.

A cell's verdict depends on the definitions its user can reach at that step (its call graph
through the composed kernel), the checker's and the model's own code, the profile and the tool
versions. The key hashes:

* the user, the protocol, the profile and the tool versions;
* the source of checks/ and of model/ (the base kernel, the world, private helpers that the call
  graph cannot see through): editing them invalidates everything, which is rare;
* for each reachable definition introduced by a series step: its name, its step and the source of
  that step's file; the names of the reachable base definitions (a step that removes one the cell
  reaches changes them: without it, the cell would reuse the verdict of the step before, which
  still had the symbol, and hide its "undefined reference"); and the struct members removed so far
  (they decide "does not build").

So editing one step re-checks only the cells that reach one of its definitions, and a verdict is
reused across steps, orders and series that compose the same definitions.

On disk under ``.seriescheck-cache/`` (next to the series, or ``$SERIESCHECK_CACHE``): one JSON
file per key, written to a temporary file and renamed into place, so concurrent runs never see a
half-written entry. An entry that does not parse, or whose key or format does not match, is
deleted and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from functools import cache
from pathlib import Path

from checks.verdicts import CellVerdict, Counterexample, EngineRun, Status
from model.kernel import KernelImage
from model.vmlinux import BASE_VERSION

FORMAT = 1
ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    return Path(os.environ.get("SERIESCHECK_CACHE", ROOT / ".seriescheck-cache"))


@cache
def _tree_hash(*folders: str) -> str:
    h = hashlib.sha256()
    for folder in folders:
        for p in sorted((ROOT / folder).rglob("*.py")):
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@cache
def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cell_key(image: KernelImage, names: set[str], user: str, protocol: str, removed: frozenset,
             profile_json: dict, tools: dict) -> str:
    steps = sorted(
        (n, d.origin, _file_hash(d.pyfile))
        for n in names
        if (d := image.definitions.get(n)) is not None and d.origin != BASE_VERSION
    )
    doc = {
        "format": FORMAT, "user": user, "protocol": protocol, "profile": profile_json, "tools": tools,
        "checker": _tree_hash("checks"), "model": _tree_hash("model"), "steps": steps,
        "removed": sorted(map(list, removed)),
        "base": sorted(n for n in names if (d := image.definitions.get(n)) is not None and d.origin == BASE_VERSION),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


# --- (de)serialising verdicts -------------------------------------------------------------------

def verdict_to_json(v: CellVerdict) -> dict:
    d = asdict(v)
    d["status"] = v.status.name
    d["engines"] = [dict(asdict(e), status=e.status.name) for e in v.engines]
    return d


def verdict_from_json(d: dict) -> CellVerdict:
    cex = Counterexample(**d["counterexample"]) if d.get("counterexample") else None
    engines = tuple(EngineRun(**dict(e, status=Status[e["status"]])) for e in d["engines"])
    return CellVerdict(d["step"], d["user"], d["protocol"], Status[d["status"]], d["evidence"], d["seconds"],
                       cex, d.get("replay"), engines)


# --- what a cached verdict must be (issue 10: a tampered entry is not trusted) ----------------------

EXHAUSTIVE_ENGINES = ("exhaustive", "enumerate")  # checks/engines/: the two that run every input within bounds


def verdict_problem(v: CellVerdict, cell: tuple[str, str] | None = None) -> str | None:
    """Why ``v`` is not a verdict a fresh run could have given, or None. The invariants of a fresh
    verdict: BROKEN has a counterexample with its input and (for a cell of a series) a replay
    command for that very cell and input; CONFIRMED has an exhaustive run that confirmed and
    explored at least one input; UNKNOWN is never stored; the user and protocol are a real cell."""
    if not all(isinstance(x, str) and x for x in (v.step, v.user, v.protocol, v.evidence)):
        return "step, user, protocol and evidence must be non-empty strings"
    if not isinstance(v.seconds, (int, float)) or v.seconds < 0:
        return f"seconds is {v.seconds!r}"
    if cell is not None and (v.user, v.protocol) != cell:
        return f"stored for {v.user}/{v.protocol}, asked for {cell[0]}/{cell[1]}"
    problem = _cell_problem(v)
    if problem:
        return problem
    if v.status == Status.UNKNOWN:
        return "UNKNOWN is never cached"
    if any(not isinstance(e.explored, int) or e.explored < 0 for e in v.engines):
        return "an engine run with a negative or non-integer count"
    if v.status == Status.CONFIRMED and not any(
            e.engine in EXHAUSTIVE_ENGINES and e.status == Status.CONFIRMED and e.explored > 0 for e in v.engines):
        return "CONFIRMED without an exhaustive run that explored its inputs"
    if v.status == Status.NOT_REFUTED and not v.engines:
        return "NOT_REFUTED without the engine run whose budget ran out"
    if v.status == Status.BROKEN:
        return _broken_problem(v)
    return None


def _cell_problem(v: CellVerdict) -> str | None:
    from checks.cell import PRIMITIVE, all_users
    from checks.primitives import PRIMITIVES

    if v.user.startswith(PRIMITIVE):
        ok = v.user[len(PRIMITIVE):] in PRIMITIVES and v.protocol == "-"
    else:
        user = all_users().get(v.user)
        ok = user is not None and v.protocol in user.protocols
    return None if ok else f"{v.user}/{v.protocol} is not a cell of this checker"


def _broken_problem(v: CellVerdict) -> str | None:
    import shlex

    from checks.cell import PRIMITIVE, all_users
    from checks.harness import CellInput

    cex = v.counterexample
    if cex is None or not isinstance(cex.input, dict) or not cex.input:
        return "BROKEN without a counterexample input"
    if not v.user.startswith(PRIMITIVE):
        try:
            CellInput.parse(cex.input, all_users()[v.user], v.protocol)
        except ValueError as e:
            return f"BROKEN with a counterexample that is not an input of the cell: {e}"
    if v.step.startswith("behaviour:"):  # a row of `seriescheck relies`: an abstract path, no replay command
        return None
    try:
        words = shlex.split(v.replay or "")
    except ValueError:
        words = []
    if (words[:2] != ["seriescheck", "replay"] or len(words) < 8 or words[4:6] != [v.user, v.protocol]
            or "--input" not in words or _json_or_none(words[words.index("--input") + 1:]) != cex.input):
        return "BROKEN without a replay command of its own cell and counterexample"
    return None


def _json_or_none(rest: list[str]):
    try:
        return json.loads(rest[0]) if rest else None
    except ValueError:
        return None


class VerdictCache:
    """Get and put verdicts by key; counts what was reused and what was computed."""

    def __init__(self, folder: Path | None = None, read: bool = True, enabled: bool = True):
        self.folder = (folder or cache_dir()) / "cells"
        self.enabled = enabled  # False: nothing is read or written (the run still shares equal cells)
        self.read = read and enabled  # False: --no-cache, every cell is run afresh (and written)
        self.hits = 0  # distinct cells read from the cache
        self.misses = 0  # distinct cells not in it (computed)
        self.shared = 0  # cells equal to another cell of the same run: computed or read once for both
        self.computed = 0  # distinct cells computed in this run
        self.discarded = 0

    def summary(self) -> str:
        """One line: how many cells were reused, computed and shared in this run."""
        total = self.hits + self.misses + self.shared
        line = (f"cells: {total} in all, {self.hits + self.misses} distinct; {self.hits} reused from the cache, "
                f"{self.computed} computed")
        return line + (f", {self.discarded} corrupt or stale entries discarded" if self.discarded else "")

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str, cell: tuple[str, str] | None = None) -> CellVerdict | None:
        """The verdict stored under ``key``, if it is one a fresh run could have given (see
        ``verdict_problem``; ``cell``, the (user, protocol) asked for, when the caller knows it);
        anything else is discarded and recomputed."""
        if not self.read:
            self.misses += 1
            return None
        p = self._path(key)
        try:
            doc = json.loads(p.read_text())
            if doc.get("format") != FORMAT or doc.get("key") != key:
                raise ValueError("stale entry")
            v = verdict_from_json(doc["verdict"])
            problem = verdict_problem(v, cell)
            if problem:
                raise ValueError(f"invalid entry: {problem}")
        except FileNotFoundError:
            self.misses += 1
            return None
        except (ValueError, KeyError, TypeError, AttributeError, OSError):
            self.discarded += 1
            self.misses += 1
            p.unlink(missing_ok=True)
            return None
        self.hits += 1
        return v

    def put(self, key: str, v: CellVerdict) -> None:
        self.computed += 1
        if v.status == Status.UNKNOWN or not self.enabled:  # an UNKNOWN is worth another try
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": FORMAT, "key": key, "verdict": verdict_to_json(v)}
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
