"""Series kept in git: check a range of commits, one commit for git bisect run / rebase --exec, and
tie each step to the upstream kernel commit it stands for. Nothing here writes to a repository.

Commands (wired into checks/cli.py by ``add_parsers(sub)``; ``python -P -m checks.gitrange`` is the
same command line with them wired in, for a cli.py that does not call it yet)::

    seriescheck verify --git REPO --range A..B [SERIES...]   every commit of A..B, in order
    seriescheck verify --git REPO --git-head [SERIES...]     HEAD against HEAD^: 0 good, 1 bad, 125 cannot test
    seriescheck upstream SERIES --linux PATH [--map ID=REV]  each step against its upstream kernel commit

The repository is a seriescheck project (a fork of this one) or at least holds ``model/`` and
``series/``. ``--git`` may be left out: the repository is then the one the current directory is in.

How a commit is checked
  A commit's model is read from the commit itself, never by checking it out: the blobs of its
  ``model/``, ``series/`` and (if it has one) ``checks/`` trees are read from the object database
  (GitPython's ``Tree.traverse`` and ``Blob.data_stream``, i.e. ``git cat-file --batch``) and
  written to a fresh temporary directory outside the repository. The checker runs there in a
  subprocess, ``sys.executable -m checks verify series/NAME ... --json FILE``, with that directory
  as its working directory and first on ``PYTHONPATH``: ``model``, ``series`` and ``checks`` are
  imported from the export; an export without ``checks/`` is checked by this installation's
  checker (the editable-install finder comes after ``PYTHONPATH``). Symlinks and submodules in
  those trees are not exported. The temporary directory is removed when the check ends, also on
  an error or Ctrl-C.

  The subprocess runs in its own process group. On Ctrl-C (SIGINT), SIGTERM or SIGHUP the group is
  sent SIGTERM (SIGKILL after 5 s), the export is removed and the command exits 128 + the signal
  (130 for Ctrl-C, which aborts ``git bisect run``).

What is compared
  For each series (those named on the command line, by directory name; default: every directory
  of ``series/`` with a ``series.toml``), the verdict of every cell at the series' LAST step,
  keyed by (series, user, protocol). A cell that held (CONFIRMED, NOT_REFUTED) at the previous
  commit and is BROKEN or DOES_NOT_BUILD now is a regression. It counts even when the commit's
  manifest lists it as expected (it is then tagged so): the branch ends in a broken state there.

  Commits are the first-parent chain of A..B, oldest first (``git rev-list --first-parent
  --reverse``), so a merge is one step against its first parent. The first commit is compared
  with its first parent (A itself when A is an ancestor of B). A commit is in one of three states:

  * tested: the checker produced verdicts;
  * no model: the commit has no ``model/`` or ``series/`` (or not the named series): nothing held
    there, so the next commit has nothing to regress from;
  * cannot be tested: the model or a series does not load, or the checker fails (the reason is its
    last line on stderr). The next commit is compared with the last tested one.

Exit codes
  ``--range``: 0 no commit regresses a cell; 1 some commit does (the first one is named with its
  subject, the counterexample and the replay command); 3 none regresses but some commit of the
  range could not be tested or compared (the project's "nothing contradicts, but not concluded");
  2 bad input (below), also when no commit of the range and its base could be tested at all.

  ``--git-head``: 0 good (HEAD regresses no cell of HEAD^; also when HEAD^ has no model or HEAD is
  a root commit); 1 bad; 125 cannot test (HEAD has no model or cannot be tested, or HEAD^ cannot
  be tested), which ``git bisect run`` skips and ``git rebase --exec`` stops on. Exit 2 (bad input)
  is counted as bad by ``git bisect run``: run the command once by hand first.

  Bad input, one line on stderr and exit 2: a repository path or range that looks like an option
  (``--upload-pack=...``); a path that is not a git repository; a range that is not ``A..B`` or
  does not resolve to commits, or holds no commit; a shallow clone missing a commit the check needs
  (``git fetch --unshallow``); a temporary directory inside the repository.

Cache
  Each commit's verdicts are kept under ``cache_dir()/git/`` (``$SERIESCHECK_CACHE`` or this
  installation's ``.seriescheck-cache``; never inside the checked repository unless that is this
  installation), keyed by what they depend on: the git tree ids of ``model/``, ``series/`` and
  ``checks/`` (a hash of this installation's checker when the commit has none), the series
  selected, users and protocols, the profile and the tool versions. Tree ids hash every blob id
  below them, so the key costs nothing to compute, and a commit whose trees are unchanged (an
  earlier commit after ``git commit --amend`` on the last one, a reworded message, a rebase that
  does not touch the model) is reused. Results with an UNKNOWN cell and checker failures that may
  not repeat (a signal, a missing result) are not kept. The export's own checker uses the same
  verdict cache as ``verify``, ``order`` and ``check`` (``cache_dir()/cells``): its keys hash the
  export's model/, checks/ and step sources, so a cell is computed once whichever command meets it
  first; a commit without ``checks/`` gets a throwaway one (this installation's cell keys would
  hash this installation's model, not the commit's).

Upstream
  For each step whose ``STEP.upstream`` is set: the commit exists in the clone (``git rev-parse
  --verify ID^{commit}``; an ambiguous short id is a mismatch); its subject (first line) is the
  step's subject, compared after normalising: runs of whitespace collapsed, ends stripped, case
  folded, one trailing period dropped (the report says "exact" or "normalised"); and the kernel
  files the step's definitions stand for are among the files the commit touched (its diff against
  its first parent; renames count under both names). A definition stands for the kernel files of
  the model module of the symbol it replaces or removes, as named on that module's docstring's
  first line (``Definition.kfile`` is the first of them; ``model/uio.py`` stands for
  ``include/linux/uio.h`` and ``mm/iov_iter.c``); one of them must have been touched. A symbol the
  series itself introduced has no model module, so no file is required for it (the report says
  so). Paths are compared as written, without following later moves: a 4.0 commit that touches
  lib/iov_iter.c does not count for the v3.18 model's mm/iov_iter.c.

  A commit id cannot be faked in a test repository, and stable or vendor trees carry backports
  under other ids: ``--map ID=REV`` (repeatable) looks the step up at REV instead; ID is the step
  (``s01`` or its file stem) or a prefix (7+ hex digits) of its upstream id. The checks on one
  commit object are ``check_step_commit()``, usable without a clone of the kernel.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # GitPython is imported when a git command runs, not with the command line
    import git

EXIT_OK, EXIT_BAD, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_CANNOT_TEST = 125  # git bisect run: skip this commit
EXIT_INTERRUPTED = 130

MODEL_DIRS = ("model", "series")  # a commit without both has no model
CHECKER_DIR = "checks"  # used from the commit when it has one
FORMAT = 1
HOLDS = ("CONFIRMED", "NOT_REFUTED")
FAILS = ("BROKEN", "DOES_NOT_BUILD")
TESTED, NO_MODEL, CANNOT_TEST = "tested", "no model", "cannot be tested"
KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL of an interrupted checker
# Variables that would point git at another repository or index than --git names.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                      "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE")


def _bad_input(message: str) -> Exception:
    from checks.cli import BadInput  # imported late: cli.py imports this module from build_parser()

    return BadInput(message)


# --- the command line ---------------------------------------------------------------------------

def add_verify_git_options(parser: argparse.ArgumentParser) -> None:
    """Add --git/--range/--git-head to ``verify`` and route a verify that uses them to verify_git().

    Call it after the parser's ``set_defaults(func=...)``: the verify function is kept and called
    when none of the three options is given.
    """
    g = parser.add_argument_group("a series kept in git (nothing in the repository is changed)")
    g.add_argument("--git", metavar="REPO",
                   help="the repository (a seriescheck project); default: the one the current directory is in")
    g.add_argument("--range", metavar="A..B",
                   help="check every commit of A..B in order against the one before it")
    g.add_argument("--git-head", action="store_true",
                   help="check HEAD against HEAD^: exit 0 good, 1 bad, 125 cannot test (git bisect run, rebase --exec)")
    plain = parser.get_default("func")

    def verify(args) -> int:
        if args.git is not None or args.range is not None or args.git_head:
            return verify_git(args)
        if plain is None:
            raise _bad_input("verify: no command is set up (add_verify_git_options came before set_defaults)")
        return plain(args)

    parser.set_defaults(func=verify)


def add_parsers(subparsers) -> None:
    """The ``upstream`` command, and the git options of ``verify`` when that parser exists already."""
    if "verify" in subparsers.choices:
        add_verify_git_options(subparsers.choices["verify"])
    up = subparsers.add_parser("upstream", help="check each step's upstream commit in a local kernel clone")
    up.add_argument("series", help="a series name under series/ or a path")
    up.add_argument("--linux", metavar="PATH", help="a local clone of the kernel (git)")
    up.add_argument("--map", action="append", default=[], metavar="ID=REV",
                    help="look the step (s01, or a prefix of its upstream id) up at REV instead (repeatable)")
    up.set_defaults(func=cmd_upstream)


# --- opening a repository, reading revisions -----------------------------------------------------

def _not_an_option(value: str, what: str) -> str:
    if value.startswith("-"):
        raise _bad_input(f"{what} {value!r} looks like an option; refusing it (give a path or revision)")
    return value


@contextlib.contextmanager
def _git_environment():
    """git reads the repository --git names, nothing else: drop GIT_DIR and friends for the duration."""
    saved = {k: os.environ.pop(k) for k in _GIT_LOCATION_VARS if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def open_repo(path: str, what: str = "--git") -> git.Repo:
    import git

    _not_an_option(path, what)
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except git.NoSuchPathError:
        raise _bad_input(f"{what} {path}: no such directory") from None
    except git.InvalidGitRepositoryError:
        raise _bad_input(f"{what} {path}: not a git repository") from None
    # Read-only commands never take optional locks (no index refresh behind our back).
    repo.git.update_environment(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
    return repo


def _is_shallow(repo: git.Repo) -> bool:
    return repo.git.rev_parse("--is-shallow-repository").strip() == "true"


def _shallow_hint(repo: git.Repo) -> str:
    return (" (the repository is a shallow clone: fetch the missing history with git fetch --unshallow)"
            if _is_shallow(repo) else "")


def resolve_commit(repo: git.Repo, rev: str, what: str) -> git.Commit:
    import git

    _not_an_option(rev, what)
    try:
        sha = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").strip()
    except git.GitCommandError:
        raise _bad_input(f"{what} {rev!r} does not resolve to a commit in {_where(repo)}"
                         f"{_shallow_hint(repo)}") from None
    return repo.commit(sha)


def _has_object(repo: git.Repo, sha: str) -> bool:
    import git

    try:
        repo.git.cat_file("-e", sha)
    except git.GitCommandError:
        return False
    return True


def first_parent(repo: git.Repo, c: git.Commit) -> git.Commit | None:
    """The first parent, None for a root commit; a parent missing from the object database (a
    shallow clone's boundary) is bad input."""
    if not c.parents:
        return None
    p = c.parents[0]
    if not _has_object(repo, p.hexsha):
        raise _bad_input(f"{_where(repo)}: commit {c.hexsha[:12]}'s parent {p.hexsha[:12]} is missing"
                         f"{_shallow_hint(repo) or ' from the object database'}")
    return p


def parse_range(text: str) -> tuple[str, str]:
    """``A..B``; ``A..`` is A..HEAD and ``..B`` is HEAD..B, as in git."""
    _not_an_option(text, "--range")
    if "..." in text or text.count("..") != 1:
        raise _bad_input(f"--range {text!r} is not A..B (two dots, e.g. origin/master..my-series)")
    a, b = text.split("..")
    a, b = a or "HEAD", b or "HEAD"
    _not_an_option(a, "--range start")
    _not_an_option(b, "--range end")
    return a, b


def range_commits(repo: git.Repo, text: str) -> tuple[git.Commit | None, list[git.Commit]]:
    """The base (the first commit's first parent, None for a root) and the commits of A..B, oldest first."""
    a, b = parse_range(text)
    ca, cb = resolve_commit(repo, a, "--range start"), resolve_commit(repo, b, "--range end")
    shas = repo.git.rev_list("--first-parent", "--reverse", f"{ca.hexsha}..{cb.hexsha}").split()
    if not shas:
        raise _bad_input(f"--range {text}: no commit is in {b} but not in {a} (is {b} an ancestor of {a}?)")
    commits = [repo.commit(s) for s in shas]
    return first_parent(repo, commits[0]), commits


def _where(repo: git.Repo) -> str:
    return repo.working_tree_dir or repo.git_dir


def _subject(c: git.Commit) -> str:
    return c.message.strip().splitlines()[0] if c.message.strip() else ""


def _label(c: git.Commit) -> str:
    return f'{c.hexsha[:12]} "{_subject(c)}"'


# --- one commit: export, check, cache -------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """What is checked at every commit: the same for the whole range, part of the cache key."""

    series: tuple[str, ...]  # directory names under series/; () = every series of the commit
    profile: str = "quick"
    crosshair: bool = True
    users: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    jobs: int | None = None
    read_cache: bool = True

    def checker_args(self) -> list[str]:
        out = ["--profile", self.profile]
        out += [] if self.crosshair else ["--no-crosshair"]
        out += ["--jobs", str(self.jobs)] if self.jobs else []
        out += [] if self.read_cache else ["--no-cache"]
        for u in self.users:
            out += ["--user", u]
        for p in self.protocols:
            out += ["--protocol", p]
        return out

    def describe(self) -> str:
        what = ", ".join(self.series) if self.series else "every series"
        extra = "".join(f"; {k} {', '.join(v)}" for k, v in (("users", self.users), ("protocols", self.protocols)) if v)
        return what + extra


@dataclass(frozen=True)
class Cell:
    """One cell at the last step of its series, as a commit's checker reported it."""

    series: str
    user: str
    protocol: str
    step: str
    status: str
    evidence: str = ""
    description: str = ""  # the counterexample's input in words
    replay: str | None = None
    manifest_expects: bool = False  # a failure the commit's manifest lists

    @property
    def key(self) -> str:
        return f"{self.series} {self.user}/{self.protocol}"


@dataclass
class CommitResult:
    sha: str
    subject: str
    state: str  # TESTED, NO_MODEL, CANNOT_TEST
    reason: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)
    seconds: float = 0.0
    reused: bool = False
    keep: bool = True  # False: a failure that may not repeat, not cached

    def to_json(self) -> dict:
        return {"sha": self.sha, "subject": self.subject, "state": self.state, "reason": self.reason,
                "cells": [asdict(c) for c in self.cells.values()], "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, d: dict, sha: str, subject: str) -> CommitResult:
        cells = [Cell(**c) for c in d["cells"]]
        return cls(sha, subject, d["state"], d["reason"], {c.key: c for c in cells}, d["seconds"], reused=True)


@cache
def _installation_checker_hash() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(here.rglob("*.py")):
        h.update(str(p.relative_to(here)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _subtree(commit: git.Commit, name: str):
    try:
        t = commit.tree / name
    except KeyError:
        return None
    return t if t.type == "tree" else None


def commit_key(commit: git.Commit, sel: Selection) -> str:
    """The cache key of a commit's result: what its verdicts depend on, never the commit id."""
    from checks.profiles import get_profile
    from checks.render import tool_versions

    trees = {d: (t.hexsha if (t := _subtree(commit, d)) is not None else None) for d in (*MODEL_DIRS, CHECKER_DIR)}
    if trees[CHECKER_DIR] is None:
        trees[CHECKER_DIR] = f"installation:{_installation_checker_hash()}"
    doc = {"format": FORMAT, "trees": trees, "series": list(sel.series), "users": list(sel.users),
           "protocols": list(sel.protocols),
           "profile": get_profile(sel.profile, crosshair=sel.crosshair).to_json(), "tools": tool_versions()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class CommitCache:
    """Commit results on disk, one JSON file per key, written atomically (temp file + rename)."""

    def __init__(self, folder: Path | None = None, read: bool = True):
        from checks.cache import cache_dir

        self.folder = folder or cache_dir() / "git"
        self.read = read
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.folder / "commits" / key[:2] / f"{key}.json"

    def get(self, key: str, commit: git.Commit) -> CommitResult | None:
        if self.read:
            p = self._path(key)
            try:
                doc = json.loads(p.read_text())
                if doc.get("format") == FORMAT and doc.get("key") == key:
                    self.hits += 1
                    return CommitResult.from_json(doc["result"], commit.hexsha, _subject(commit))
                p.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            except (ValueError, KeyError, TypeError):  # corrupt or from another format: recompute
                p.unlink(missing_ok=True)
        self.misses += 1
        return None

    def put(self, key: str, r: CommitResult) -> None:
        if not r.keep or any(c.status == "UNKNOWN" for c in r.cells.values()):
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"format": FORMAT, "key": key, "result": r.to_json()}, f)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def export_commit(commit: git.Commit, dest: Path) -> list[str]:
    """Write the blobs of the commit's model/, series/ and checks/ trees under ``dest``; return the
    top directories written. Reads the object database only."""
    written = []
    for top in (*MODEL_DIRS, CHECKER_DIR):
        tree = _subtree(commit, top)
        if tree is None:
            continue
        written.append(top)
        for item in tree.traverse():
            if item.type != "blob" or (item.mode & 0o170000) != 0o100000:  # trees, symlinks, submodules
                continue
            parts = PurePosixPath(item.path).parts
            if any(p in ("", ".", "..", ".git") for p in parts):
                continue  # a hand-made tree entry that would leave the export
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as f:
                stream = item.data_stream
                while chunk := stream.read(1 << 16):
                    f.write(chunk)
    return written


def _temp_root(repo: git.Repo) -> Path:
    tmp = Path(tempfile.gettempdir()).resolve()
    for inside in filter(None, (repo.working_tree_dir, repo.git_dir)):
        if tmp == Path(inside).resolve() or Path(inside).resolve() in tmp.parents:
            raise _bad_input(f"the temporary directory {tmp} is inside {inside}; set TMPDIR to a directory "
                             f"outside the repository")
    return tmp


def check_commit(repo: git.Repo, commit: git.Commit, sel: Selection, cache: CommitCache) -> CommitResult:
    """The verdicts at the last step of each selected series, from the cache or a fresh check."""
    key = commit_key(commit, sel)
    hit = cache.get(key, commit)
    if hit is not None:
        return hit
    result = _check_fresh(repo, commit, sel)
    cache.put(key, result)
    return result


def _check_fresh(repo: git.Repo, commit: git.Commit, sel: Selection) -> CommitResult:
    from checks.cache import cache_dir

    t0 = time.monotonic()
    sha, subject = commit.hexsha, _subject(commit)
    missing = [d for d in MODEL_DIRS if _subtree(commit, d) is None]
    if missing:
        return CommitResult(sha, subject, NO_MODEL, f"no {' or '.join(d + '/' for d in missing)} in this commit")
    series_tree = _subtree(commit, "series")
    present = sorted(t.name for t in series_tree.trees if "series.toml" in {b.name for b in t.blobs})
    for name in sel.series:
        if name not in present:
            known = ", ".join(present) or "none"
            return CommitResult(sha, subject, NO_MODEL, f"no series/{name}/series.toml (series here: {known})")
    names = list(sel.series) or present
    if not names:
        return CommitResult(sha, subject, NO_MODEL, "series/ holds no series (no series/*/series.toml)")
    with tempfile.TemporaryDirectory(prefix="seriescheck-git-", dir=_temp_root(repo)) as tmp:
        export = Path(tmp) / "tree"
        export.mkdir()
        own_checker = CHECKER_DIR in export_commit(commit, export)
        out = Path(tmp) / "result.json"
        # The commit's own checker shares this installation's verdict cache: its keys hash the
        # export's model/, checks/ and step sources, so a verdict computed by `verify` in a checkout
        # of the same files is reused here, and the other way round.
        cells_cache = cache_dir() if own_checker else Path(tmp) / "cells"
        argv = [sys.executable, "-m", "checks", "verify", *[f"series/{n}" for n in names], *sel.checker_args(),
                "--json", str(out)]
        env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
        env["PYTHONPATH"] = os.pathsep.join([str(export), *filter(None, [os.environ.get("PYTHONPATH")])])
        env["SERIESCHECK_CACHE"] = str(cells_cache)
        env.pop("PYTHONSAFEPATH", None)
        rc, stderr = _run_checker(argv, export, env, Path(tmp))
        # a file of the export is named as git names a file of a commit: <commit>:<path>
        stderr = stderr.replace(f"{export}{os.sep}", f"{sha[:12]}:")
        result = _read_result(sha, subject, rc, stderr, out, names)
    result.seconds = time.monotonic() - t0
    return result


def _run_checker(argv: list[str], cwd: Path, env: dict, tmp: Path) -> tuple[int, str]:
    """Run the checker in its own process group; on Ctrl-C stop the whole group, then re-raise."""
    with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        try:
            rc = proc.wait()
        except BaseException:
            _stop_group(proc)
            raise
    return rc, (tmp / "stderr").read_text(errors="replace")


def _stop_group(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_result(sha: str, subject: str, rc: int, stderr: str, out: Path, names: list[str]) -> CommitResult:
    last = (stderr.strip().splitlines() or [""])[-1].strip().removeprefix("seriescheck: error: ")
    if rc not in (0, 1, 3) or not out.is_file():
        why = last or f"the checker exited {rc} without a result"
        frames = re.findall(r'File "([^"]+)", line (\d+)', stderr)
        if "Traceback (most recent call last)" in stderr and frames:  # an uncaught error: say where
            why += f" ({frames[-1][0]}:{frames[-1][1]})"
        # exit 2 is the checker's "bad input": the model or a series does not load; it repeats
        return CommitResult(sha, subject, CANNOT_TEST, why, keep=rc == 2)
    try:
        doc = json.loads(out.read_text())
        cells = _last_step_cells(doc, names)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        return CommitResult(sha, subject, CANNOT_TEST, f"the checker's JSON is not understood ({e})", keep=False)
    return CommitResult(sha, subject, TESTED, "", cells)


def _last_step_cells(doc: dict, names: list[str]) -> dict[str, Cell]:
    cells: dict[str, Cell] = {}
    for s, dirname in zip(doc["series"], names, strict=True):
        last = s["steps"][-1]["id"]
        unexpected = {(m["step"], m["user"], m["protocol"]) for m in s.get("mismatches", ())}
        for c in s["cells"]:
            if c["step"] != last:
                continue
            cex = c.get("counterexample") or {}
            replay = c.get("replay")
            if replay:  # the checker named the series by its path in the export; name it by directory
                replay = replay.replace(f"seriescheck replay {shlex.quote('series/' + dirname)} ",
                                        f"seriescheck replay {shlex.quote(dirname)} ", 1)
            cell = Cell(s["name"], c["user"], c["protocol"], c["step"], c["status"], c.get("evidence", ""),
                        cex.get("description", ""), replay,
                        c["status"] in FAILS and (c["step"], c["user"], c["protocol"]) not in unexpected)
            cells[cell.key] = cell
    return cells


# --- comparing two commits ---------------------------------------------------------------------

@dataclass(frozen=True)
class CellRegression:
    before: Cell
    after: Cell


def regressions(before: dict[str, Cell], after: dict[str, Cell]) -> list[CellRegression]:
    """Cells that held before and fail after, in a stable order."""
    return [CellRegression(before[k], c) for k, c in sorted(after.items())
            if k in before and before[k].status in HOLDS and c.status in FAILS]


@dataclass
class Row:
    """One commit of a range, judged against the last tested commit before it."""

    result: CommitResult
    against: CommitResult | None  # the commit it was compared with (None: nothing to compare with)
    regressed: list[CellRegression] = field(default_factory=list)
    concluded: bool = True  # False: cannot be tested, or nothing tested before it

    @property
    def verdict(self) -> str:
        if self.result.state == CANNOT_TEST:
            return "CANNOT TEST"
        if self.result.state == NO_MODEL:
            return "no model"
        if self.regressed:
            return "BAD"
        return "good" if self.concluded else "not compared"


class RangeJudge:
    """Judges the commits of a range one at a time, each against the last commit with a known state."""

    def __init__(self, base: CommitResult | None):
        self.baseline = base
        # the cells that held or failed at the baseline; None: nothing before could be tested
        self.known: dict[str, Cell] | None = (
            {} if base is None or base.state == NO_MODEL else base.cells if base.state == TESTED else None)

    def add(self, r: CommitResult) -> Row:
        if r.state == CANNOT_TEST:  # skipped, as git bisect skips: the next commit is compared further back
            return Row(r, self.baseline, concluded=False)
        if r.state == NO_MODEL:
            row = Row(r, self.baseline)
        elif self.known is None:
            row = Row(r, self.baseline, concluded=False)
        else:
            row = Row(r, self.baseline, regressions(self.known, r.cells))
        self.baseline, self.known = r, r.cells
        return row


def judge_range(base: CommitResult | None, results: list[CommitResult]) -> list[Row]:
    judge = RangeJudge(base)
    return [judge.add(r) for r in results]


# --- verify --git ------------------------------------------------------------------------------

def _selection(args) -> Selection:
    from checks.profiles import get_profile

    get_profile(args.profile)  # an unknown profile is bad input here, before any commit is read
    series = tuple(getattr(args, "series", None) or ())
    for name in series:
        if name.startswith("-") or "/" in name or name in (".", ".."):
            raise _bad_input(f"series {name!r}: with --git, name a series by its directory under series/")
    return Selection(series=series, profile=args.profile, crosshair=not getattr(args, "no_crosshair", False),
                     users=tuple(getattr(args, "user", None) or ()),
                     protocols=tuple(getattr(args, "protocol", None) or ()),
                     jobs=getattr(args, "jobs", None), read_cache=not getattr(args, "no_cache", False))


def verify_git(args) -> int:
    """``seriescheck verify`` with --git/--range/--git-head (see the module docstring)."""
    if args.range is not None and args.git_head:
        raise _bad_input("give either --range A..B or --git-head, not both")
    if args.range is None and not args.git_head:
        raise _bad_input("--git needs --range A..B (every commit of a range) or --git-head (HEAD against HEAD^)")
    sel = _selection(args)
    with _git_environment(), _stop_signals_interrupt():
        repo = open_repo(args.git if args.git is not None else ".")
        try:
            _temp_root(repo)  # an export inside the repository would change it: refuse before any output
            # with --json -, stdout is the JSON's alone: the running text goes to stderr
            args.json_stream = sys.stdout
            text = contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", None) == "-" else nullcontext()
            with text:
                return _verify_head(repo, sel, args) if args.git_head else _verify_range(repo, sel, args)
        except KeyboardInterrupt as e:
            print(f"seriescheck: interrupted; nothing in {_where(repo)} was changed", file=sys.stderr)
            return 128 + e.signum if isinstance(e, _Stopped) else EXIT_INTERRUPTED
        finally:
            repo.close()


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled as Ctrl-C is: the checker is stopped and the export removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_signals_interrupt():
    """SIGTERM and SIGHUP raise _Stopped for the duration (unless ignored, as under nohup)."""

    def stop(signum, frame):
        raise _Stopped(signum)

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is not signal.SIG_IGN:
                saved[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _header(repo: git.Repo, sel: Selection, what: str) -> None:
    from checks import render
    from checks.profiles import get_profile

    print(render.header(get_profile(sel.profile, crosshair=sel.crosshair)))
    print(f"git {_where(repo)}: {what}; checking {sel.describe()} at the last step of each series", flush=True)


def _verify_range(repo: git.Repo, sel: Selection, args) -> int:
    base, commits = range_commits(repo, args.range)
    _header(repo, sel, f"{len(commits)} commit(s) in {args.range}")
    cache = CommitCache(read=sel.read_cache)
    t0 = time.monotonic()
    base_result = None
    if base is not None:
        base_result = check_commit(repo, base, sel, cache)
        print(_base_line(base_result), flush=True)
    else:
        print(f"base: none ({commits[0].hexsha[:12]} is a root commit)")
    judge, results, rows = RangeJudge(base_result), [], []
    for i, c in enumerate(commits, 1):
        results.append(check_commit(repo, c, sel, cache))
        rows.append(judge.add(results[-1]))
        print(_row_line(f"{i}/{len(commits)}", rows[-1]), flush=True)
    every = [*([base_result] if base_result else []), *results]
    if not any(r.state == TESTED for r in every):
        hint = (f" (is {_where(repo)} a seriescheck project?)" if all(r.state == NO_MODEL for r in every) else "")
        raise _bad_input(f"nothing in {args.range} could be checked: {every[0].reason}{hint}")
    print(f"commits: {cache.hits} reused from the cache, {cache.misses} checked "
          f"({time.monotonic() - t0:.1f} s)")
    bad = [row for row in rows if row.regressed]
    for n, row in enumerate(bad):
        print(("FIRST REGRESSION" if n == 0 else "regression") + f": {_label_r(row.result)}")
        print(_detail(row))
    unconcluded = [row for row in rows if not row.concluded]
    for row in unconcluded:
        print(f"not concluded: {_label_r(row.result)}: {row.result.reason or 'nothing tested before it'}")
    _write_json(args, repo, sel, args.range, base_result, rows)
    if bad:
        return EXIT_BAD
    return EXIT_UNKNOWN if unconcluded else EXIT_OK


def _verify_head(repo: git.Repo, sel: Selection, args) -> int:
    head = resolve_commit(repo, "HEAD", "HEAD")
    parent = first_parent(repo, head)
    _header(repo, sel, f"HEAD {_label(head)} against HEAD^")
    cache = CommitCache(read=sel.read_cache)
    now = check_commit(repo, head, sel, cache)
    before = check_commit(repo, parent, sel, cache) if parent is not None and now.state == TESTED else None
    if before is not None:
        print(_base_line(before, "HEAD^"))
    row = judge_range(before, [now])[0]
    print(_row_line("HEAD", row))
    print(f"commits: {cache.hits} reused from the cache, {cache.misses} checked")
    _write_json(args, repo, sel, "HEAD^..HEAD", before, [row])
    if now.state != TESTED:
        print(f"cannot test HEAD: {now.reason}")
        return EXIT_CANNOT_TEST
    if parent is None:
        print("HEAD is a root commit: nothing before it to regress from")
        return EXIT_OK
    if before is not None and before.state == CANNOT_TEST:
        print(f"cannot test: HEAD^ {_label_r(before)} cannot be tested ({before.reason}), nothing to compare with")
        return EXIT_CANNOT_TEST
    if row.regressed:
        print(f"BAD: {_label_r(now)}")
        print(_detail(row))
        return EXIT_BAD
    return EXIT_OK


def _label_r(r: CommitResult) -> str:
    return f'{r.sha[:12]} "{r.subject}"'


def _count(r: CommitResult) -> str:
    failing = sum(c.status in FAILS for c in r.cells.values())
    return f"{len(r.cells)} cells, {failing} failing" + (" (cached)" if r.reused else f" ({r.seconds:.1f} s)")


def _base_line(r: CommitResult, tag: str = "base") -> str:
    state = _count(r) if r.state == TESTED else f"{r.state.upper()}: {r.reason}"
    return f"{tag:<8} {r.sha[:12]}  {'':<12} {state}  \"{r.subject}\""


def _row_line(tag: str, row: Row) -> str:
    r = row.result
    if r.state != TESTED:
        what = r.reason
    elif row.regressed:
        what = f"{len(row.regressed)} cell(s) regressed; {_count(r)}"
    elif not row.concluded:
        what = f"nothing tested before it; {_count(r)}"
    else:
        what = _count(r)
    return f"{tag:<8} {r.sha[:12]}  {row.verdict:<12} {what}  \"{r.subject}\""


def _detail(row: Row) -> str:
    out = []
    for g in row.regressed:
        b, a = g.before, g.after
        tag = " (the manifest at this commit expects it)" if a.manifest_expects else ""
        out.append(f"  {a.key} (last step {a.step}): {b.status} at {row.against.sha[:12]}, {a.status} at "
                   f"{row.result.sha[:12]}{tag}: {a.evidence}")
        if a.description:
            out.append(f"    input: {a.description}")
        if a.replay:
            out.append(f"    replay (in a checkout of {row.result.sha[:12]}): {a.replay}")
    return "\n".join(out)


def _write_json(args, repo, sel: Selection, what: str, base: CommitResult | None, rows: list[Row]) -> None:
    target = getattr(args, "json", None)
    if not target:
        return
    from checks.profiles import get_profile
    from checks.render import tool_versions

    def reg(row: Row) -> list[dict]:
        return [{"series": g.after.series, "user": g.after.user, "protocol": g.after.protocol,
                 "before": g.before.status, "after": g.after.status, "step": g.after.step,
                 "evidence": g.after.evidence, "input": g.after.description, "replay": g.after.replay,
                 "manifest_expects": g.after.manifest_expects} for g in row.regressed]

    commits = [{"commit": row.result.sha, "subject": row.result.subject, "state": row.result.state,
                "verdict": row.verdict, "reason": row.result.reason, "reused": row.result.reused,
                "compared_with": row.against.sha if row.against else None, "cells": len(row.result.cells),
                "regressions": reg(row)} for row in rows]
    first = next((c for c in commits if c["regressions"]), None)
    doc = {"ok": first is None and all(r.concluded for r in rows), "repo": _where(repo), "range": what,
           "selection": asdict(sel), "tool": tool_versions(),
           "profile": get_profile(sel.profile, crosshair=sel.crosshair).to_json(),
           "base": base.to_json() | {"cells": len(base.cells)} if base else None,
           "commits": commits, "first_regression": first}
    text = json.dumps(doc, indent=2)
    if target == "-":
        print(text, file=getattr(args, "json_stream", sys.stdout), flush=True)
    else:
        Path(target).write_text(text + "\n")


# --- upstream ----------------------------------------------------------------------------------

_KERNEL_PATH = re.compile(r"[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*\.[chS]")


@cache
def module_kernel_files(pyfile: str) -> tuple[str, ...]:
    """The kernel files a model module stands for, from its docstring's first line: ``lib/a.c +
    include/b.h (v3.18): ...``; a bare name after a path is in that path's directory
    (``drivers/usb/usbip/vhci_tx.c + usbip_common.c``). "Not a kernel file" names none."""
    try:
        doc = ast.get_docstring(ast.parse(Path(pyfile).read_text())) or ""
    except (OSError, SyntaxError):
        return ()
    head = " ".join(doc.split("\n\n", 1)[0].split())
    head = re.split(r" \(|: |:$", head, maxsplit=1)[0]
    files: list[str] = []
    folder = None
    for tok in re.split(r"\s*(?:\+|,|\band\b)\s*", head):
        if not _KERNEL_PATH.fullmatch(tok):
            continue
        if "/" in tok:
            folder = tok.rsplit("/", 1)[0]
            files.append(tok)
        elif folder:
            files.append(f"{folder}/{tok}")
    return tuple(files)


def step_kernel_files(base_image, step) -> dict[str, tuple[str, ...]]:
    """Per symbol the step defines or removes: the kernel files of the v3.18 model module that
    defines it (empty: the series introduced the symbol, no model module stands for it)."""
    out = {}
    for name in sorted({*step.definitions, *step.record.removes}):
        d = base_image.definitions.get(name)
        out[name] = module_kernel_files(d.pyfile) if d is not None else ()
    return out


def normalise_subject(s: str) -> str:
    s = " ".join(s.split()).casefold()
    return s[:-1] if s.endswith(".") else s


@dataclass
class StepCheck:
    subject_match: str | None  # "exact", "normalised" or None (a mismatch)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0


def touched_files(commit: git.Commit) -> set[str]:
    """Paths the commit changed against its first parent (both names of a rename)."""
    import git

    diffs = commit.parents[0].diff(commit) if commit.parents else commit.diff(git.NULL_TREE)
    return {p for d in diffs for p in (d.a_path, d.b_path) if p}


def check_step_commit(subject: str, files: dict[str, tuple[str, ...]], commit: git.Commit) -> StepCheck:
    """Does ``commit`` look like the patch a step stands for: its subject, and every symbol's kernel
    file among the files it touched?"""
    theirs = _subject(commit)
    if theirs == subject:
        match = "exact"
    elif normalise_subject(theirs) == normalise_subject(subject):
        match = "normalised"
    else:
        match = None
    check = StepCheck(match)
    if match is None:
        check.problems.append(f'subject: the step says "{subject}", the commit says "{theirs}"')
    touched = touched_files(commit)
    missing: dict[tuple[str, ...], list[str]] = {}
    for name, kfiles in files.items():
        if not kfiles:
            check.notes.append(name)
            continue
        check.files_checked += 1
        if not touched.intersection(kfiles):
            missing.setdefault(kfiles, []).append(name)
    for kfiles, names in sorted(missing.items()):
        check.problems.append(f"files: the commit touches none of {' or '.join(kfiles)} ({', '.join(names)})")
    return check


def _maps(items: list[str], series) -> dict[str, str]:
    """``--map ID=REV`` as {step id: rev}."""
    out = {}
    for item in items:
        left, sep, rev = item.partition("=")
        if not sep or not left or not rev:
            raise _bad_input(f"--map {item!r} is not ID=REV (e.g. s01=HEAD~2 or 666547ff591c=abc1234)")
        _not_an_option(rev, "--map revision")
        hits = [s for s in series.steps[1:] if left in (s.id, s.short)
                or (s.record.upstream and len(left) >= 7 and re.fullmatch(r"[0-9a-fA-F]+", left)
                    and s.record.upstream.lower().startswith(left.lower()))]
        if len(hits) != 1:
            what = "no step" if not hits else f"{len(hits)} steps"
            raise _bad_input(f"--map {item!r}: {what} of series {series.name} is {left!r} "
                             f"(give a step like s01 or 7+ hex digits of its upstream id)")
        out[hits[0].id] = rev
    return out


def cmd_upstream(args) -> int:
    from checks.series import compose, load_series
    from model.vmlinux import BASE_VERSION

    if not args.linux:
        raise _bad_input("upstream needs a local clone of the kernel: --linux PATH (e.g. git clone "
                         "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git); it only reads it")
    _not_an_option(args.linux, "--linux")
    series = load_series(args.series)
    base_image = compose(series).images[BASE_VERSION]
    maps = _maps(args.map, series)
    with _git_environment():
        repo = open_repo(args.linux, "--linux")
        try:
            return _upstream(repo, series, base_image, maps)
        finally:
            repo.close()


def _upstream(repo: git.Repo, series, base_image, maps: dict[str, str]) -> int:
    import git

    print(f"upstream check of series {series.name} against {_where(repo)}")
    checked = mismatched = 0
    for step in series.steps[1:]:
        rec = step.record
        if not rec.upstream:
            print(f"{step.short:<4} {'-':<12}  not checked: no upstream id")
            continue
        checked += 1
        rev = maps.get(step.id, rec.upstream)
        via = f" (looked up as {rev})" if step.id in maps else ""
        source = "confirmed" if rec.upstream_verified else "unverified"
        head = f"{step.short:<4} {rec.upstream[:12]:<12}"
        try:
            sha = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}").strip()
            commit = repo.commit(sha)
        except (git.GitCommandError, ValueError):
            mismatched += 1
            print(f"{head}  MISMATCH{via}: no such commit in this clone{_shallow_hint(repo)} ({source} id)")
            continue
        result = check_step_commit(rec.subject, step_kernel_files(base_image, step), commit)
        if result.problems:
            mismatched += 1
            print(f"{head}  MISMATCH{via} ({source} id)")
            for p in result.problems:
                print(f"       {p}")
        else:
            files = (f"{result.files_checked} definition(s) in files the commit touched" if result.files_checked
                     else "no definition with a v3.18 model file to compare")
            print(f"{head}  ok{via}: subject {result.subject_match}; {files} ({source} id)")
        if result.notes:
            print(f"       not compared (introduced by the series, no model file): {', '.join(result.notes)}")
    if not checked:
        print(f"no step of series {series.name} names an upstream commit: nothing to check")
        return EXIT_OK
    print(f"upstream: {mismatched} of {checked} step(s) do not match" if mismatched
          else f"upstream: all {checked} step(s) match")
    return EXIT_BAD if mismatched else EXIT_OK


# --- the command line with the git commands wired in (until checks/cli.py calls add_parsers) ------

def build_parser() -> argparse.ArgumentParser:
    from checks.cli import build_parser as cli_parser

    p = cli_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "upstream" not in sub.choices:
        add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from checks.cli import BadInput
    from checks.harness import ModelError
    from checks.profiles import UnknownProfile
    from checks.series import SeriesError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BadInput, SeriesError, UnknownProfile, ModelError) as e:
        print(f"seriescheck: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
