"""The verdict cache: a cell's verdict keyed by exactly what it depends on.

A cell's verdict depends on the definitions its user can reach at that step (its call graph
through the composed kernel), the checker's and the model's own code, the profile and the tool
versions. The key hashes:

* the user, the protocol, the profile and the tool versions;
* the source of checks/ and of model/ (the base kernel, the world, private helpers that the call
  graph cannot see through): editing them invalidates everything, which is rare;
* for each reachable definition introduced by a series step: its name, its step and the source of
  that step's file; and the struct members removed so far (they decide "does not build").

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

    def get(self, key: str) -> CellVerdict | None:
        if not self.read:
            self.misses += 1
            return None
        p = self._path(key)
        try:
            doc = json.loads(p.read_text())
            if doc.get("format") != FORMAT or doc.get("key") != key:
                raise ValueError("stale entry")
            v = verdict_from_json(doc["verdict"])
        except FileNotFoundError:
            self.misses += 1
            return None
        except (ValueError, KeyError, TypeError):
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
