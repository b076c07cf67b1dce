"""A step read as a patch: its definitions against the ones they replace, the versions of a
symbol through a series, the cells a step can affect, and what a caller can observe of it."""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType

from checks.cell import all_users, reach
from checks.engines import exhaustive
from checks.harness import ModelError, run_cell
from checks.profiles import Bounds
from checks.series import Composed, Series, StepInfo
from model.kernel import Definition, DoesNotBuild, KernelImage

ROOT = Path(__file__).resolve().parent.parent


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def definition_source(d: Definition) -> str:
    """The source text of one definition (a function, a struct, or a constant's assignment)."""
    if isinstance(d.obj, (FunctionType, type)):
        return textwrap.dedent(inspect.getsource(d.obj))
    source = Path(d.pyfile).read_text()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.lineno == d.line:
            return ast.get_source_segment(source, node) + "\n"
    return f"{d.name} = {d.obj!r}\n"


def step_patch(series: Series, composed: Composed, step: StepInfo) -> str:
    """The step as a patch: commit message, diffstat, and a unified diff per definition."""
    i = [s.id for s in series.steps].index(step.id)
    if i == 0:
        return f"{step.id}: the base kernel; it has no patch"
    before = composed.images[series.steps[i - 1].id]
    hunks, stat = [], []
    names = sorted(step.definitions) + sorted(step.record.removes)
    for name in names:
        old = before.definitions.get(name)
        new = composed.images[step.id].definitions.get(name) if name in step.definitions else None
        a = definition_source(old).splitlines(keepends=True) if old else []
        b = definition_source(new).splitlines(keepends=True) if new else []
        label_a = f"a/{old.kfile} ({old.label}, {_rel(old.pyfile)}:{old.line})" if old else "/dev/null"
        label_b = f"b/{new.kfile} ({new.label}, {_rel(new.pyfile)}:{new.line})" if new else "/dev/null"
        diff = list(difflib.unified_diff(a, b, label_a, label_b))
        hunks.append("".join(diff))
        plus = sum(1 for x in diff if x.startswith("+") and not x.startswith("+++"))
        minus = sum(1 for x in diff if x.startswith("-") and not x.startswith("---"))
        kfile = (new or old).kfile
        stat.append(f" {kfile} ({name}) | {plus + minus} {'+' * plus}{'-' * minus}")
    r = step.record
    head = [f"Subject: [PATCH {i}/{len(series.steps) - 1}] {r.subject}",
            f"Upstream: {r.upstream or 'unknown'}{'' if r.upstream_verified or not r.upstream else ' [UNVERIFIED]'}"]
    message = (inspect.getdoc(_module_of(step)) or "").strip()
    return "\n".join(head) + "\n\n" + message + "\n---\n" + "\n".join(stat) + "\n\n" + "\n".join(hunks)


def _module_of(step: StepInfo):
    import sys

    for m in sys.modules.values():
        if getattr(m, "__file__", None) == str(step.path):
            return m
    return None


@dataclass(frozen=True)
class Version:
    step: str
    label: str
    where: str  # file:line, or "removed"


def versions(series: Series, composed: Composed, symbol: str) -> list[Version]:
    """Every version of ``symbol`` through the series, with the step that introduced it."""
    out: list[Version] = []
    last = None
    for s in series.steps:
        d = composed.images[s.id].definitions.get(symbol)
        if d is None:
            if last is not None:
                out.append(Version(s.id, f"{symbol}@{s.id}", "removed"))
            last = None
            continue
        if last is None or d.origin != last.origin:
            out.append(Version(s.id, d.label, f"{_rel(d.pyfile)}:{d.line}"))
        last = d
    return out


def changed_symbols(before: KernelImage, after: KernelImage) -> set[str]:
    names = set(before.definitions) | set(after.definitions)
    return {n for n in names if before.definitions.get(n) != after.definitions.get(n)}


def impacted_cells(series: Series, composed: Composed, step: StepInfo) -> list[tuple[str, str, set[str]]]:
    """The (user, protocol) cells whose reachable definitions the step changes, and which ones."""
    i = [s.id for s in series.steps].index(step.id)
    if i == 0:
        return []
    before, after = composed.images[series.steps[i - 1].id], composed.images[step.id]
    changed = changed_symbols(before, after)
    users = all_users()
    out = []
    for name in series.users or sorted(users):
        for proto in users[name].protocols:
            touched = (reach(before, users[name], proto) | reach(after, users[name], proto)) & changed
            if touched:
                out.append((name, proto, touched))
    return out


@dataclass(frozen=True)
class Difference:
    user: str
    protocol: str
    inputs: int  # inputs compared
    first: str | None  # the first input whose observation differs, in words; None: no difference


def behaviour_difference(before: KernelImage, after: KernelImage, user: str, proto: str,
                         bounds: Bounds) -> Difference:
    """Compare what the user observes at two kernels over every input within the bounds.

    Every distinct execution of each kernel is replayed on the other: for any whole input, the
    windows one kernel reads are a prefix of those the other reads, so the longer one's execution
    shows a difference if there is one."""
    u = all_users()[user]
    n = 0
    for this, other in ((before, after), (after, before)):
        try:
            for inp, a in exhaustive.executions(this, u, proto, bounds):
                n += 1
                b = run_cell(other, u, proto, inp)
                if this is after:
                    a, b = b, a
                if (a.rc, a.got, a.consumed, a.failure) != (b.rc, b.got, b.consumed, b.failure):
                    return Difference(user, proto, n, f"{inp.describe()}: before returned {a.rc}, got {a.got!r}; "
                                                      f"after returned {b.rc}, got {b.got!r}")
        except (DoesNotBuild, ModelError) as e:  # one side cannot run this cell at all
            return Difference(user, proto, n, f"{type(e).__name__}: {e}")
    return Difference(user, proto, n, None)
