"""A patch series on disk, composed step by step into kernel images.

A series is a directory::

    series/<name>/series.toml   name, description, base, the order of the steps, and the
                                manifest of every cell expected not to hold (with its claim)
    series/<name>/sNN_*.py      one module per patch: its docstring is the commit message, STEP
                                its record, and its public names the definitions it adds or replaces

The kernel at step N is step N-1 with step N laid over it. Composition validates at once:
replacing a symbol that does not exist, adding one that does, or removing one that is not there
is a ``SeriesError`` naming the file and line. Uses of a removed symbol or struct field are not
errors of the series: they make the cells that reach them ``DOES_NOT_BUILD``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from checks.callgraph import struct_fields
from checks.harness import interrupted_by_user
from checks.verdicts import Status
from model.kernel import Definition, DoesNotBuild, KernelImage, module_definitions
from model.vmlinux import BASE_VERSION, base_image

SERIES_ROOT = Path(__file__).resolve().parent.parent / "series"


class SeriesError(Exception):
    """A series cannot be loaded as written. The message names the file and what to change."""


@dataclass(frozen=True)
class Step:
    """The record of one patch, written in its step file as ``STEP = Step(...)``."""

    subject: str
    upstream: str | None = None  # commit id
    upstream_verified: bool = False  # True only when the id was confirmed in a source
    depends: tuple[str, ...] = ()  # step ids that must come before this one
    adds: tuple[str, ...] = ()  # new symbols; every other definition in the file replaces one
    removes: tuple[str, ...] = ()  # symbols this patch deletes
    intends: tuple[str, ...] = ()  # interface changes in words ("the caller's kvec is no longer consumed")
    kernel: str | None = None  # the release it went into, where known
    files: dict = field(default_factory=dict)  # kernel file of each added symbol ({"iov_iter_kvec": "mm/iov_iter.c"})


@dataclass(frozen=True)
class StepInfo:
    id: str  # file stem, e.g. "s04_put_iov_iter_into_msghdr"; the base kernel is "v3.18"
    record: Step
    path: Path | None
    definitions: dict[str, Definition]  # what this step defines (empty for the base)
    origin: str | None = None  # the sibling series the step is taken from, if any

    @property
    def depends(self) -> tuple[str, ...]:
        """Declared dependencies, in this series: a step taken from a sibling series declared its
        own in that series' terms, so here its place is judged by composition and by the checks."""
        return () if self.origin else self.record.depends

    @property
    def short(self) -> str:
        return self.id.split("_", 1)[0]


@dataclass(frozen=True)
class Expectation:
    step: str
    user: str
    protocol: str
    status: Status
    claim: str
    accept: bool = False  # a regression the maintainer accepts: it does not make an order unsafe


@dataclass(frozen=True)
class Series:
    name: str
    path: Path
    description: str
    steps: tuple[StepInfo, ...]  # the base first
    expected: tuple[Expectation, ...] = ()
    users: tuple[str, ...] | None = None  # restrict to these users (None: all)

    def step(self, ref: str) -> StepInfo:
        for s in self.steps:
            if ref in (s.id, s.short):
                return s
        raise SeriesError(f"{self.path / 'series.toml'}: no step {ref!r} in series {self.name!r}; "
                          f"steps are {', '.join(s.short for s in self.steps)}")


@dataclass
class Composed:
    """The image after each step, and the struct fields each step took away."""

    images: dict[str, KernelImage] = field(default_factory=dict)
    removed_fields: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)  # (struct, field)


# --- loading ---------------------------------------------------------------------------------

_STEP_FILE = re.compile(r"^[a-z]\d+[a-z]?_[A-Za-z0-9_]+$")


def find_series(ref: str) -> Path:
    """A series by name under series/, or by path."""
    p = Path(ref)
    if _is_file(p / "series.toml", ref):
        return p
    q = SERIES_ROOT / ref
    if _is_file(q / "series.toml", ref):
        return q
    known = ", ".join(sorted(x.name for x in SERIES_ROOT.iterdir() if (x / "series.toml").is_file()))
    raise SeriesError(f"{ref}: no such series (no {ref}/series.toml); known series: {known}")


def _is_file(p: Path, ref: str) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError) as e:  # a name too long for the file system, a NUL byte
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise SeriesError(f"{ref[:80]}{'...' if len(ref) > 80 else ''}: not a usable series path ({why}); "
                          f"give a series name or a directory holding series.toml") from None


def all_series() -> list[Path]:
    return sorted(x for x in SERIES_ROOT.iterdir() if (x / "series.toml").is_file())


def load_series(ref: str) -> Series:
    path = find_series(ref)
    manifest = path / "series.toml"
    try:
        meta = tomllib.loads(manifest.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SeriesError(f"{manifest}: not UTF-8 (byte {e.object[e.start]:#04x} at offset {e.start}); "
                          f"save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise SeriesError(f"{manifest}: not valid TOML ({e}); fix the file") from e
    except OSError as e:
        raise SeriesError(f"{manifest}: cannot read it ({e.strerror})") from None
    name = _field(meta, "name", str, manifest)
    base = meta.get("base", BASE_VERSION)
    if base != BASE_VERSION:
        raise SeriesError(f"{manifest}: base {base!r} is not a known kernel; use {BASE_VERSION!r}")
    order = _field(meta, "order", list, manifest)
    _check_unlisted_steps(path, order, manifest)
    base_step = StepInfo(BASE_VERSION, Step(subject=f"Linux {BASE_VERSION}", kernel=BASE_VERSION), None, {})
    steps = [base_step] + [_load_step(path, name, sid, manifest) for sid in order]
    _check_order(steps, manifest)
    entries = meta.get("expected", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SeriesError(f"{manifest}: 'expected' must be an array of tables ([[expected]] entries with step, user, "
                          f"protocol, status), got {type(entries).__name__} {str(entries)[:60]}")
    expected = tuple(x for e in entries for x in _expectations(e, manifest, steps))
    users = _users(meta, manifest)
    _check_users(manifest, [e.user for e in expected] + list(users or ()))
    _check_expected(manifest, expected)
    description = meta.get("description", "")
    if not isinstance(description, str):
        raise SeriesError(f"{manifest}: 'description' must be a string, got {type(description).__name__}")
    return Series(name, path, description, tuple(steps), expected, users)


def _users(meta: dict, manifest: Path) -> tuple[str, ...] | None:
    if "users" not in meta:
        return None
    users = meta["users"]
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise SeriesError(f"{manifest}: 'users' must be an array of user names (e.g. users = [\"smb_send_kvec\"]), "
                          f"got {str(users)[:60]}")
    return tuple(users)


def _check_unlisted_steps(path: Path, order: list, manifest: Path) -> None:
    """A step file beside series.toml that ``order`` does not name is a patch silently left out."""
    listed = {e for e in order if isinstance(e, str) and "/" not in e}
    for file in sorted(path.glob("*.py")):
        if _STEP_FILE.match(file.stem) and file.stem not in listed:
            raise SeriesError(f"{manifest}: {file.name} is a step file of this series but 'order' does not name it; "
                              f"add {file.stem!r} to 'order' or move the file out of {path}")


def _check_expected(manifest: Path, expected: tuple[Expectation, ...]) -> None:
    """Every [[expected]] names a protocol its user runs over, and no cell is expected two ways."""
    from checks.cell import all_users

    users = all_users()
    seen: dict[tuple[str, str, str], Expectation] = {}
    for e in expected:
        known = users[e.user].protocols if e.user in users else ("-",)  # a primitive's cell has protocol "-"
        if e.protocol not in known:
            raise SeriesError(f"{manifest}: [[expected]] for {e.user} names protocol {e.protocol!r}, which it does not "
                              f"run over; use one of {', '.join(known)}")
        key = (e.step.split("_", 1)[0], e.user, e.protocol)
        other = seen.setdefault(key, e)
        if (other.status, other.accept) != (e.status, e.accept):
            raise SeriesError(f"{manifest}: two [[expected]] entries contradict each other for {e.step} {e.user}/"
                              f"{e.protocol}: {other.status.name} and {e.status.name}; keep one")


def _field(meta: dict, key: str, typ: type, manifest: Path):
    if key not in meta:
        raise SeriesError(f"{manifest}: missing required key {key!r}")
    if not isinstance(meta[key], typ):
        raise SeriesError(f"{manifest}: {key!r} must be a {typ.__name__}, got {type(meta[key]).__name__}")
    return meta[key]


def _load_step(path: Path, series_name: str, entry: str, manifest: Path) -> StepInfo:
    """``sNN_subject`` is a step file of this series; ``other-series/sNN_subject`` is the same patch
    taken from a sibling series (two series that share a patch share its file)."""
    if not isinstance(entry, str):
        raise SeriesError(f"{manifest}: order entry {entry!r} is not a string")
    origin, _, sid = entry.rpartition("/")
    if not _STEP_FILE.match(sid) or (origin and not re.fullmatch(r"[A-Za-z0-9._-]+", origin)):
        raise SeriesError(f"{manifest}: order entry {entry!r} is not a step file stem like 's01_subject' "
                          f"or 'other-series/s01_subject'")
    folder = (path.resolve().parent / origin) if origin else path.resolve()
    file = folder / f"{sid}.py"
    if not file.is_file():
        raise SeriesError(f"{manifest}: order names {entry!r} but {file} does not exist")
    module = _import_step(file, origin or series_name, sid)
    record = getattr(module, "STEP", None)
    if not isinstance(record, Step):
        raise SeriesError(f"{file}: no STEP = Step(subject=...) record")
    if not (module.__doc__ or "").strip():
        raise SeriesError(f"{file}: the module docstring is the commit message; it is empty")
    try:
        defs = module_definitions(module, sid)
    except DoesNotBuild as e:
        raise SeriesError(str(e)) from e
    defs.pop("STEP", None)
    return StepInfo(sid, record, file, defs, origin or None)


_LOADING: list[Path] = []  # the step files being imported, innermost last


def earlier(stem: str) -> ModuleType:
    """The module of an earlier step beside the one being imported (``s04_iov_iter_kvec``) or in a
    sibling series (``as-merged/s04_iov_iter_kvec``), for a step that builds on a struct an earlier
    step defined (``msg_iter`` embeds the iov_iter of the kvec patch)."""
    if not _LOADING:
        raise SeriesError(f"earlier({stem!r}) called outside the loading of a series")
    file = _LOADING[-1].parent / f"{stem}.py"
    if "/" in stem:
        file = _LOADING[-1].parent.parent / f"{stem}.py"
    for m in list(sys.modules.values()):
        if getattr(m, "__file__", None) == str(file):
            return m
    raise SeriesError(f"{file}: earlier({stem!r}) names a step that is not loaded before this one")


def _import_step(file: Path, series_name: str, sid: str) -> ModuleType:
    modname = f"seriescheck_steps.{re.sub(r'[^A-Za-z0-9_]', '_', series_name)}.{sid}"
    if modname in sys.modules and getattr(sys.modules[modname], "__file__", None) == str(file):
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    _LOADING.append(file)
    try:
        spec.loader.exec_module(module)
    except SeriesError:
        del sys.modules[modname]
        raise
    except Exception as e:
        del sys.modules[modname]
        line = _error_line(e, file)
        raise SeriesError(f"{file}{line}: cannot load step: {type(e).__name__}: {e}") from e
    except (SystemExit, KeyboardInterrupt) as e:
        del sys.modules[modname]
        if isinstance(e, KeyboardInterrupt) and interrupted_by_user():
            raise
        what = f"calls sys.exit({e.code!r})" if isinstance(e, SystemExit) else "raises KeyboardInterrupt"
        raise SeriesError(f"{file}{_error_line(e, file)}: cannot load step: it {what} when imported; "
                          f"a step module only defines things") from None
    finally:
        _LOADING.pop()
    return module


def _error_line(e: BaseException, file: Path) -> str:
    if isinstance(e, SyntaxError) and e.lineno:
        return f":{e.lineno}"
    tb, line = e.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(file):
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line


def _check_order(steps: list[StepInfo], manifest: Path) -> None:
    ids = {s.id: i for i, s in enumerate(steps)}
    shorts: dict[str, int] = {}
    for i, s in enumerate(steps):
        if s.short in shorts:
            raise SeriesError(f"{manifest}: two steps are called {s.short!r} ({steps[shorts[s.short]].id}, {s.id}); "
                              f"rename one")
        shorts[s.short] = i
    cycle = dependency_cycle({s.short: [steps[ids.get(d, shorts.get(d, -1))].short for d in s.depends
                                        if d in ids or d in shorts] for s in steps})
    if cycle:
        raise SeriesError(f"{manifest}: the steps' dependencies form a cycle: {' -> '.join(cycle)}; "
                          f"drop one of these 'depends'")
    for i, s in enumerate(steps):
        for dep in s.depends:
            j = ids.get(dep, shorts.get(dep))
            if j is None:
                raise SeriesError(f"{s.path}: depends on unknown step {dep!r}")
            if j >= i:
                raise SeriesError(f"{manifest}: {s.id} depends on {dep} but comes before it in 'order'")


def dependency_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in ``step -> steps it depends on``, as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        path.pop()
        state[n] = 2
        return None

    for n in graph:
        if n not in state and (found := visit(n)):
            return found
    return None


def _check_users(manifest: Path, names: list[str]) -> None:
    from checks.cell import all_users  # the user registry imports the model; load it only here
    from checks.primitives import PRIMITIVES

    known = all_users()
    for name in names:
        if name.startswith("primitive:") and name.split(":", 1)[1] in PRIMITIVES:
            continue
        if name not in known:
            raise SeriesError(f"{manifest}: names unknown user {name!r}; known users: {', '.join(sorted(known))}")


def _expectations(e: dict, manifest: Path, steps: list[StepInfo]) -> list[Expectation]:
    """One [[expected]] entry: ``step`` is a step, ``"A..B"`` (A to B inclusive) or ``"*"`` (all)."""
    ref = e.get("step")
    if not isinstance(ref, str) or (".." not in ref and ref != "*"):
        return [_expectation(e, manifest, steps)]
    index = {s.id: i for i, s in enumerate(steps)} | {s.short: i for i, s in enumerate(steps)}
    first, _, last = ref.partition("..") if ref != "*" else (steps[0].short, "", steps[-1].short)
    for end in (first, last):
        if end not in index:
            raise SeriesError(f"{manifest}: [[expected]] step range {ref!r} names unknown step {end!r}")
    if index[first] > index[last]:
        raise SeriesError(f"{manifest}: [[expected]] step range {ref!r} runs backwards")
    return [_expectation(dict(e, step=s.id), manifest, steps) for s in steps[index[first]: index[last] + 1]]


def _expectation(e: dict, manifest: Path, steps: list[StepInfo]) -> Expectation:
    statuses = ", ".join(s.name for s in Status)
    for key in ("step", "user", "protocol", "status", "claim"):
        if key in e and not isinstance(e[key], str):
            raise SeriesError(f"{manifest}: an [[expected]] entry's {key!r} must be a string, got {e[key]!r}")
    if "accept" in e and not isinstance(e["accept"], bool):
        raise SeriesError(f"{manifest}: an [[expected]] entry's 'accept' must be true or false, got {e['accept']!r}")
    try:
        status = Status[e["status"]]
        exp = Expectation(e["step"], e["user"], e["protocol"], status, e.get("claim", ""), bool(e.get("accept")))
    except KeyError as err:
        raise SeriesError(f"{manifest}: an [[expected]] entry lacks or misnames {err}; "
                          f"it needs step, user, protocol, status (one of {statuses})") from None
    if exp.step not in {s.id for s in steps} | {s.short for s in steps}:
        raise SeriesError(f"{manifest}: [[expected]] names unknown step {exp.step!r}")
    return exp


# --- composition ------------------------------------------------------------------------------

def overlay(prev: KernelImage, step: StepInfo) -> KernelImage:
    """Lay one step over the image before it; a definition that does not fit is a SeriesError."""
    defs = dict(prev.definitions)
    rec = step.record
    for name in rec.adds:
        if name in prev:
            raise SeriesError(f"{step.path}: STEP.adds {name!r}, which already exists "
                              f"({prev.definitions[name].pyfile}); to replace it, leave it out of adds")
        if name not in step.definitions:
            raise SeriesError(f"{step.path}: STEP.adds {name!r} but the file does not define it")
    for name, d in step.definitions.items():
        if name not in rec.adds and name not in prev:
            raise SeriesError(f"{d.pyfile}:{d.line}: replaces {name!r}, which does not exist before this step; "
                              f"list it in STEP.adds if the patch introduces it")
        # a replacement stands for the same kernel file; an addition for the files the step names
        kfile = prev.definitions[name].kfile if name in prev else rec.files.get(name, f"(new in {step.short})")
        defs[name] = dataclasses.replace(d, kfile=kfile)
    for name in rec.removes:
        if name not in defs:
            raise SeriesError(f"{step.path}: STEP.removes {name!r}, which does not exist before this step")
        if name in step.definitions:
            raise SeriesError(f"{step.path}: {name!r} is both defined and removed")
        del defs[name]
    return KernelImage(step.id, defs)


def compose(series: Series, order: tuple[str, ...] | None = None) -> Composed:
    """The image after each step of ``order`` (default: the series' own), base first."""
    steps = series.steps if order is None else (series.steps[0], *[series.step(s) for s in order])
    out = Composed()
    image = base_image()
    out.images[steps[0].id] = image
    out.removed_fields[steps[0].id] = frozenset()
    ever: set[tuple[str, str]] = _struct_members(image)
    for step in steps[1:]:
        image = overlay(image, step)
        now = _struct_members(image)
        ever |= now
        out.images[step.id] = image
        out.removed_fields[step.id] = frozenset(ever - now)
    return out


def _struct_members(image: KernelImage) -> set[tuple[str, str]]:
    return {(s, f) for s, fields in struct_fields(image).items() for f in fields}


def struct_diff(before: KernelImage, after: KernelImage) -> dict[str, tuple[frozenset, frozenset]]:
    """Per struct the step changed: (fields removed, fields added)."""
    b, a = struct_fields(before), struct_fields(after)
    return {n: (b[n] - a.get(n, frozenset()), a.get(n, frozenset()) - b[n])
            for n in b if n in a and a[n] != b[n]}

