"""Start a series, and see what a user reaches: ``seriescheck new`` and ``seriescheck users``.

``new SERIES [--base BASE]`` writes ``SERIES/series.toml`` and a first step file. The series
starts from BASE's steps (shared as ``BASE/sNN_...`` entries, one file for both series) and its
manifest already lists every break BASE's manifest lists, with the same claims: a new series
inherits the base kernel's known breaks, and without them every step would show a mismatch. The
first step is a template that changes nothing, so ``verify SERIES`` passes on the fresh scaffold;
each break carried to it holds there because the kernel is the base's last one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from checks.series import SERIES_ROOT, Series, SeriesError, find_series, load_series
from model.vmlinux import BASE_VERSION

FIRST_STEP = "first_change"

STEP_TEMPLATE = '''"""{subject}

The commit message: what the patch changes and why, what it leaves for later, and which later
step removes a shim it adds. (Replace this text; the first line is the subject.)

Every public name this file defines replaces the kernel's definition of that name from this step
on (copy the whole function from model/ or from an earlier step, then change it), or adds it when
STEP.adds lists it. Names starting with "_" are private to this file and are not laid over the
kernel: a helper the new code needs must be copied here or added as a kernel symbol. Call the
kernel through ``k`` (``k.kernel_sendmsg(...)``), never by importing the function.
See docs/series-format.md.
"""

from checks.series import Step

STEP = Step(
    subject="{subject}",
    upstream=None,  # the upstream commit id, e.g. "6bf6ca7515c1"
    upstream_verified=False,  # True only once the id was confirmed in a source
    depends=({depends}),  # short ids of steps that must come before this one, e.g. ("s01",)
    adds=(),  # symbols this patch introduces (every other public name replaces one)
    removes=(),  # symbols this patch deletes
    intends=(),  # interface changes in words, e.g. ("kernel_sendmsg() no longer consumes the kvec",)
    kernel=None,  # the release it went into, e.g. "3.19"
    files={{}},  # the kernel file of each added symbol, e.g. {{"iov_iter_kvec": "mm/iov_iter.c"}}
)
'''


class ScaffoldError(SeriesError):
    """``new`` cannot create the series as asked; the message says what to do instead."""


def target_folder(ref: str) -> Path:
    """A bare name is a folder under series/; anything with a slash is a path."""
    if "/" in ref or ref in (".", ".."):
        return Path(ref)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", ref):
        raise ScaffoldError(f"{ref}: not a series name (letters, digits, '.', '_', '-'); or give a path")
    return SERIES_ROOT / ref


def new_series(ref: str, base: str = BASE_VERSION) -> tuple[Path, Path]:
    """Create the series folder, its series.toml and its first step file; refuse to overwrite."""
    folder = target_folder(ref)
    if folder.exists():
        raise ScaffoldError(f"{folder}: already exists; choose another name or remove it first")
    base_series = load_series(base)
    entries = _base_entries(base_series, folder)
    stem = _first_step_stem(base_series)
    name = folder.name
    manifest = series_toml(name, base_series, entries + [stem], stem)
    try:
        folder.mkdir(parents=True)
        (folder / "series.toml").write_text(manifest, encoding="utf-8")
        step_file = folder / f"{stem}.py"
        step_file.write_text(STEP_TEMPLATE.format(subject=f"{name}: the first change (rewrite this subject)",
                                                  depends=""), encoding="utf-8")
    except OSError as e:
        raise ScaffoldError(f"{folder}: cannot create the series ({e.strerror}); choose a writable place") from e
    return folder / "series.toml", step_file


def _base_entries(base: Series, folder: Path) -> list[str]:
    """The base's steps as ``order`` entries of a sibling series (the loader finds ``X/sNN`` beside)."""
    entries = []
    for s in base.steps[1:]:
        origin = s.origin or base.path.name
        if not (folder.resolve().parent / origin / f"{s.id}.py").is_file():
            raise ScaffoldError(f"{folder}: --base {base.name} has steps, so the new series must sit beside it "
                                f"(in {base.path.resolve().parent}); give a name, or a path in that folder")
        entries.append(f"{origin}/{s.id}")
    return entries


def _first_step_stem(base: Series) -> str:
    numbers = [int(m.group(1)) for s in base.steps[1:] if (m := re.match(r"[a-z](\d+)", s.short))]
    return f"s{max(numbers, default=0) + 1:02d}_{FIRST_STEP}"


def series_toml(name: str, base: Series, order: list[str], new_step: str) -> str:
    lines = [f"# Started with `seriescheck new {name} --base {base.name}`. Format: docs/series-format.md",
             f"name = {_s(name)}",
             f"description = {_s(f'{base.description or base.name}, then: (say what this series does)')}",
             f"base = {_s(BASE_VERSION)}",
             "order = [" + "".join(f"\n    {_s(e)}," for e in order) + ("\n]" if order else "]")]
    if base.users is not None:
        lines.append("users = [" + ", ".join(_s(u) for u in base.users) + "]")
    lines += ["", f"# Inherited from {base.name}: each cell its manifest expects not to hold, carried to {new_step}.",
              "# Change an entry when a step of this series changes that cell, with a claim that says why."]
    for entry in inherited_expectations(base, new_step.split("_", 1)[0]):
        lines += ["", "[[expected]]"] + [f"{k} = {_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def inherited_expectations(base: Series, new_short: str) -> list[dict]:
    """The base's [[expected]] entries, grouped into step ranges, each break at the base's last step
    extended to the new step (whose kernel is the same); a break at every step is ``"*"``."""
    shorts = [s.short for s in base.steps] + [new_short]
    last = len(base.steps) - 1
    groups: dict[tuple, set[int]] = {}
    for e in base.expected:
        key = (e.user, e.protocol, e.status.name, e.claim, e.accept)
        groups.setdefault(key, set()).add(shorts.index(base.step(e.step).short))
    out = []
    for (user, protocol, status, claim, accept), where in groups.items():
        if last in where:
            where = where | {last + 1}
        for first, end in _runs(sorted(where)):
            step = shorts[first] if first == end else f"{shorts[first]}..{shorts[end]}"
            if (first, end) == (0, last + 1):
                step = "*"  # every step, also those added later, until a step changes the cell
            entry = {"step": step, "user": user, "protocol": protocol, "status": status, "claim": claim}
            if accept:
                entry["accept"] = True
            out.append(entry)
    return out


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _value(v) -> str:
    return "true" if v is True else _s(v)


# --- seriescheck users -------------------------------------------------------------------------

def users_report(names: list[str] | None, series_ref: str | None, step_ref: str | None) -> str:
    """For each user: the model function its cell enters, the kernel file, the protocols, and the
    definitions it reaches at a step (default: the base kernel), each with the step that made it."""
    from checks.cell import all_users, reach
    from checks.series import compose
    from model.vmlinux import base_image

    users = all_users()
    for n in names or ():
        if n not in users:
            raise ScaffoldError(f"unknown user {n!r}; known users: {', '.join(sorted(users))}")
    if step_ref and not series_ref:
        raise ScaffoldError("--step needs --series: the step of which series?")
    if series_ref:
        series = load_series(str(find_series(series_ref)))
        step = series.step(step_ref).id if step_ref else series.steps[-1].id
        image, where = compose(series).images[step], f"{series.name} {step}"
    else:
        image, where = base_image(), BASE_VERSION
    out = []
    for u in sorted((users[n] for n in (names or users)), key=lambda u: u.name):
        entry = f"{u.entry.__module__}.{u.entry.__qualname__}"
        out.append(f"{u.name} ({u.direction}): {u.kfile}")
        out.append(f"  cell enters: {entry} ({_first_doc_line(u.entry)})")
        out.append(f"  which calls: {', '.join(_kernel_calls(u.entry)) or '(nothing through k)'}")
        if u.note:
            out.append(f"  note: {u.note}")
        for proto in u.protocols:
            names_reached = sorted(reach(image, u, proto))
            changed = [f"{n}@{image.definitions[n].origin}" for n in names_reached
                       if image.definitions[n].origin != BASE_VERSION]
            out.append(f"  over {proto} at {where}: reaches {len(names_reached)} definitions"
                       + (f"; changed by the series: {', '.join(changed)}" if changed else ""))
            out.append("    " + ", ".join(names_reached))
    return "\n".join(out)


def _kernel_calls(fn) -> list[str]:
    from checks.callgraph import function_uses
    from model.kernel import STATE_ATTRIBUTES

    return sorted({f"k.{name}" for name, _ in function_uses(fn).symbols if name not in STATE_ATTRIBUTES})


def _first_doc_line(fn) -> str:
    doc = (fn.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else "no docstring"
