"""Cells as tasks on a Dask distributed scheduler: ``--cluster ADDRESS`` or ``$SERIESCHECK_CLUSTER``.

A cell's verdict is a pure function of what its cache key hashes, so cells can run anywhere that
has the same code. Without ``--cluster`` nothing here runs (``distributed`` is not even imported):
the local process pool in ``checks.matrix`` is the default.

What a worker needs, checked when the client connects and again by every task (a worker that joins
during a run is checked too), so a run never mixes results of different code:

* the client's Python, seriescheck, crosshair-tool, z3-solver, hypothesis and hypothesis-crosshair
  versions, and the same ``checks/`` and ``model/`` source (one hash over every ``*.py`` in them):
  install the client's checkout on it (``pip install -e .`` at the same commit);
* one thread per worker process (``dask worker ADDRESS --nthreads 1``; ``--nworkers N`` for more
  cores): CrossHair and Hypothesis keep per-process interpreter state (tracers, patched builtins).

What is sent: the series is not read from the worker's disk. The client packs the files the series
loads -- its ``series.toml``, the step files its order names, the sibling-series step files that
order or an ``earlier("...")`` call names -- into a :class:`SeriesBundle` and sends it once per
command as a task the cells depend on (dask copies it to each worker that needs it); each worker
unpacks it under its local directory, once per content hash. A cell's task carries the
:class:`~checks.cell.CellTask` and the profile; it returns the verdict, with the worker's paths of
the unpacked files put back to the client's so a "does not build" line names the client's file.

The client keeps the verdict cache: ``checks.matrix.run_tasks`` looks every cell up before any is
sent, and only misses reach :meth:`ClusterRunner.run`.

Faults: a worker that dies mid-cell loses nothing -- the scheduler gives its cells to another worker
(a cell is deterministic: count budgets, fixed seeds); a cell whose worker dies more often than
Dask's ``allowed-failures`` (3), an exception in a cell, or every worker gone for ``NO_WORKER_GRACE`` seconds
stops the run with one line (exit 2), never an UNKNOWN. Ctrl-C cancels every task not finished (a
cell already running completes on its worker and its result is dropped).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import socket
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module: it stays light until --cluster is given
    from checks.cell import CellTask
    from checks.profiles import Profile
    from checks.verdicts import CellVerdict

ENV = "SERIESCHECK_CLUSTER"
ROOT = Path(__file__).resolve().parent.parent
CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler that accepts the connection
WORKER_WAIT = 30.0  # seconds to wait for a first worker to join
NO_WORKER_GRACE = 120.0  # seconds a run waits with no worker at all before giving up
POLL = 0.02  # seconds between looks at finished tasks (cells take 0.1-5 s)
PACKAGES = ("seriescheck", "crosshair-tool", "z3-solver", "hypothesis", "hypothesis-crosshair")


class ClusterError(Exception):
    """The cluster cannot run this check: the scheduler is unreachable, no worker joined, a worker
    differs from the client, or a run cannot finish. The message says what to do; exit code 2."""


class WorkerMismatch(ClusterError):
    """A worker's versions or code differ from the client's: its verdicts would not be the client's."""


# --- what a worker must share with the client ----------------------------------------------------

@cache
def code_digest() -> str:
    """One hash over the source of checks/ and model/: the code every verdict depends on."""
    h = hashlib.sha256()
    for folder in ("checks", "model"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


@cache
def identity() -> dict[str, str]:
    """What must be equal on the client and every worker."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    out["checks+model code"] = code_digest()
    return out


def mismatch(worker: str, theirs: dict[str, str], ours: dict[str, str]) -> str | None:
    """One line naming what differs, or None."""
    diff = [f"{k} {theirs.get(k, 'missing')} there, {v} here" for k, v in ours.items() if theirs.get(k) != v]
    if not diff:
        return None
    return (f"worker {worker} differs from this client ({'; '.join(diff)}): install this checkout and its pinned "
            f"dependencies on it (pip install -e . at the same commit) or stop that worker")


# --- what is sent: the series files --------------------------------------------------------------

_EARLIER = re.compile(r"""\bearlier\(\s*["']([^"']+)["']\s*\)""")


@dataclass(frozen=True)
class SeriesBundle:
    """The files a series loads, relative to the folder that holds the series (and its siblings)."""

    digest: str  # hash of every (path, content): the folder name on the worker
    files: tuple[tuple[str, bytes], ...]  # ("iov_iter-net/series.toml", b"..."), ...
    series: str  # the series folder, relative ("iov_iter-net")
    client_base: str  # the client's absolute folder the paths are relative to

    def unpack(self, into: Path) -> Path:
        """Write the files under ``into/digest`` once (atomically: a temporary folder renamed into
        place); the base folder the series' paths are relative to."""
        dest = into / self.digest
        if not dest.is_dir():
            tmp = into / f".tmp-{self.digest}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            for rel, data in self.files:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            try:
                os.rename(tmp, dest)
            except OSError:  # another process of this worker unpacked it first
                if not dest.is_dir():
                    raise
        return dest.resolve()


def bundle_series(series_path: str) -> SeriesBundle:
    """Pack ``series.toml``, every step file its order names, and every file an ``earlier()`` call
    in them names (transitively)."""
    folder = Path(series_path).resolve()
    base = folder.parent
    needed = [folder / "series.toml"]
    order = tomllib.loads(needed[0].read_text()).get("order", [])
    needed += [_step_file(folder, entry) for entry in order if isinstance(entry, str)]
    seen: dict[Path, bytes] = {}
    while needed:
        p = needed.pop().resolve()
        if p in seen or not p.is_file():  # a missing file was reported when the client loaded the series
            continue
        seen[p] = p.read_bytes()
        if p.suffix == ".py":
            needed += [_step_file(p.parent, stem) for stem in _EARLIER.findall(seen[p].decode(errors="replace"))]
    files = []
    for p, data in sorted(seen.items()):
        try:
            files.append((str(p.relative_to(base)), data))
        except ValueError:
            raise ClusterError(f"{folder / 'series.toml'}: step file {p} lies outside {base}; "
                               f"keep a series' steps in its folder or a sibling series' folder") from None
    h = hashlib.sha256()
    for rel, data in files:
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return SeriesBundle(h.hexdigest()[:20], tuple(files), folder.name, str(base))


def _step_file(folder: Path, entry: str) -> Path:
    """``sNN_x`` beside the series; ``other-series/sNN_x`` in a sibling folder (as checks.series loads them)."""
    origin, _, stem = entry.rpartition("/")
    return (folder.parent / origin / f"{stem}.py") if origin else folder / f"{stem}.py"


def _rewrite(value, pairs: tuple[tuple[str, str], ...]):
    """``value`` with every worker path in ``pairs`` replaced by the client's, through the verdict's
    strings, tuples, dicts and nested frozen records."""
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, tuple):
        return tuple(_rewrite(v, pairs) for v in value)
    if isinstance(value, list):
        return [_rewrite(v, pairs) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, pairs) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _rewrite(getattr(value, f.name), pairs) for f in fields(value) if f.init})
    return value


# --- the worker side ------------------------------------------------------------------------------

def _worker_folder() -> Path:
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory) / "seriescheck-series"
    except (ImportError, ValueError):  # not inside a worker (a direct call)
        import tempfile

        return Path(tempfile.gettempdir()) / f"seriescheck-series-{os.getuid()}"


def run_on_worker(bundle: SeriesBundle, task: CellTask, profile: Profile, client: dict[str, str],
                  client_root: str) -> tuple[CellVerdict, str]:
    """One cell on this worker: refuse if this worker differs from the client, unpack the series,
    run the cell as the local pool would, and give back the verdict in the client's paths."""
    from checks.matrix import _run_task

    where = _worker_name()
    problem = mismatch(where, identity(), client)
    if problem:
        raise WorkerMismatch(problem)
    folder = _worker_folder()
    folder.mkdir(parents=True, exist_ok=True)
    base = bundle.unpack(folder)
    here = replace(task, series_path=str(base / bundle.series))
    verdict = _run_task((here, profile))
    pairs = ((str(base), bundle.client_base), (str(ROOT), client_root))
    return _rewrite(verdict, tuple(p for p in pairs if p[0] != p[1])), where


def _unchanged(value):
    return value


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


# --- the client side ------------------------------------------------------------------------------

def _reachable(address: str) -> None:
    """Fail at once, with one line, when nothing listens at a tcp address (instead of retrying for
    the connect timeout); other schemes are left to the client's own timeout."""
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise ClusterError(f"--cluster {address!r} is not a scheduler address; give HOST:PORT or tcp://HOST:PORT "
                           f"(as `dask scheduler` prints it)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({e.strerror or e}); start one with "
                           f"`dask scheduler`, or fix --cluster / ${ENV}") from None


class ClusterRunner:
    """A connection to a Dask scheduler whose workers were checked against this client."""

    def __init__(self, client, address: str):
        self.client = client
        self.address = address
        self._bundles: dict[str, object] = {}  # digest -> the future of the bundle task
        self._running: list = []  # the futures of the batch being run
        self.log = sys.stderr

    @classmethod
    def connect(cls, address: str, worker_wait: float = WORKER_WAIT) -> ClusterRunner:
        _reachable(address)
        from distributed import Client

        try:
            client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise ClusterError(f"cannot connect to the Dask scheduler at {address} ({e}); is it a `dask scheduler`, "
                               f"of distributed {version('distributed')}?") from None
        runner = cls(client, address)
        try:
            runner.check_workers(worker_wait)
        except BaseException:
            runner.close()
            raise
        return runner

    def workers(self) -> dict[str, dict]:
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def check_workers(self, worker_wait: float = WORKER_WAIT) -> None:
        """At least one worker; each with one thread and the client's versions and code."""
        try:
            self.client.wait_for_workers(1, timeout=worker_wait)
        except TimeoutError:
            raise ClusterError(f"no worker joined the Dask scheduler at {self.address} within {worker_wait:.0f} s; "
                               f"start one with `dask worker {self.address} --nthreads 1`") from None
        for addr, info in sorted(self.workers().items()):
            if info.get("nthreads", 1) != 1:
                raise ClusterError(f"worker {addr} has {info['nthreads']} threads; start workers with --nthreads 1 "
                                   f"(--nworkers N for more cores): the engines keep per-process interpreter state")
        for addr, theirs in sorted(self.client.run(identity).items()):
            problem = mismatch(addr, theirs, identity())
            if problem:
                raise WorkerMismatch(problem)

    def describe(self) -> str:
        n = len(self.workers())
        return f"cluster {self.address}: {n} worker{'s' * (n != 1)}, same versions and code as this client"

    def each(self, todo: dict[str, CellTask], profile: Profile,
             idle: Callable[[], None] | None = None) -> Iterator[tuple[str, CellVerdict]]:
        """(key, verdict) for every task of ``todo`` as it finishes; ``idle`` is called about once a
        second while none does. Closing the generator early (an error, Ctrl-C) cancels what is left."""
        if not todo:
            return
        from distributed import KilledWorker

        tasks = list(todo.items())
        bundles = {p: self._shipped(bundle_series(p)) for p in sorted({t.series_path for _, t in tasks})}
        token = uuid.uuid4().hex[:8]
        futures = [self.client.submit(run_on_worker, bundles[t.series_path], t, profile, identity(), str(ROOT),
                                      key=f"seriescheck-{token}-{i}-{t.step}-{t.user}-{t.protocol}", pure=False)
                   for i, (_, t) in enumerate(tasks)]
        self._running = futures
        by_worker: dict[str, int] = {}
        try:
            for i, (verdict, where) in self._completed(futures, idle):
                by_worker[where] = by_worker.get(where, 0) + 1
                yield tasks[i][0], verdict
        except KilledWorker as e:
            raise ClusterError(f"cell {e.task} killed {e.allowed_failures + 1} workers in a row (the last "
                               f"{getattr(e.last_worker, 'address', '?')}); the scheduler gave up on it: read the "
                               f"workers' logs (a memory limit?)") from None
        finally:
            self.client.cancel(futures, force=True)  # Ctrl-C or an error: nothing left queued or running
            self._running = []
        spread = ", ".join(f"{w} {n}" for w, n in sorted(by_worker.items()))
        print(f"seriescheck: cluster {self.address}: {len(tasks)} cells computed on {len(by_worker)} worker(s) "
              f"({spread})", file=self.log, flush=True)

    def run(self, tasks: list[CellTask], profile: Profile,
            progress: Callable[[CellVerdict], None] | None = None) -> list[CellVerdict]:
        """Every task's verdict, in task order; ``progress`` is called as each arrives."""
        results: dict[str, CellVerdict] = {}
        with contextlib.closing(self.each({str(i): t for i, t in enumerate(tasks)}, profile)) as verdicts:
            for key, verdict in verdicts:  # an error in progress() closes the generator: it cancels
                results[key] = verdict
                if progress:
                    progress(verdict)
        return [results[str(i)] for i in range(len(tasks))]

    def _shipped(self, bundle: SeriesBundle):
        """The bundle as a task every cell depends on, sent once per command (``order`` runs many
        batches). A task, not scattered data: if every worker holding it dies, the scheduler runs it
        again from its spec instead of cancelling the cells for a lost dependency. Its key is unique:
        a content key would be shared with an earlier run or another client, whose release could
        delete it under this run's cells."""
        if bundle.digest not in self._bundles:
            key = f"bundle-{bundle.digest}-{uuid.uuid4().hex[:8]}"
            self._bundles[bundle.digest] = self.client.submit(_unchanged, bundle, key=key, pure=False)
        return self._bundles[bundle.digest]

    def _completed(self, futures, idle=None) -> Iterator[tuple[int, tuple[CellVerdict, str]]]:
        """(index, result) as tasks finish; gives up when no worker has been there for NO_WORKER_GRACE."""
        from distributed import as_completed

        index = {f.key: i for i, f in enumerate(futures)}
        ac = as_completed(futures, loop=self.client.loop)
        alone_since = None
        last_look = 0.0
        while not ac.is_empty():
            if ac.has_ready():
                for f in ac.next_batch(block=False):
                    yield index[f.key], f.result()  # a cell's exception is raised here, as locally
                continue
            now = time.monotonic()
            if now - last_look > 1.0:
                last_look = now
                count = len(self.workers())
                _show_workers(count)
                if idle is not None:
                    idle()
                alone_since = None if count else (alone_since or now)
                if alone_since is not None and now - alone_since > NO_WORKER_GRACE:
                    raise ClusterError(f"every worker left the Dask scheduler at {self.address} and none joined "
                                       f"for {NO_WORKER_GRACE:.0f} s; start workers and run again")
            time.sleep(POLL)

    def close(self) -> None:
        """Cancel a batch still running (a caller that stopped reading it), then disconnect."""
        with contextlib.suppress(Exception):
            if self._running:
                self.client.cancel(self._running, force=True)
            self.client.close(timeout=5)


# --- the hooks: one runner per command, found by checks.matrix ------------------------------------

_ACTIVE: ClusterRunner | None = None
_PROGRESS = None  # the command's progress display, if it has one
_LABEL: str | None = None  # its label before the workers were added to it


def active() -> ClusterRunner | None:
    """The runner of the command being run with --cluster, else None (cells run locally)."""
    return _ACTIVE


def address_from(args) -> str | None:
    """--cluster, else $SERIESCHECK_CLUSTER, for the commands that take --cluster."""
    if not hasattr(args, "cluster"):
        return None
    if getattr(args, "git", None) is not None or getattr(args, "range", None) is not None or \
            getattr(args, "git_head", False):
        if args.cluster:
            raise ClusterError("--cluster does not apply to --git/--range/--git-head: each commit is checked by "
                               "that commit's own code, which the workers do not have; drop --cluster")
        os.environ.pop(ENV, None)  # nor may the per-commit checkers (subprocesses) inherit it
        return None
    return args.cluster or os.environ.get(ENV) or None


def add_argument(parser) -> None:
    parser.add_argument("--cluster", metavar="ADDRESS", default=None,
                        help=f"run the cells on the Dask scheduler at ADDRESS (default ${ENV}; none: local processes)")


def jobs(default: int | None) -> int | None:
    """Workers of the active cluster (for the progress display), else ``default``."""
    return len(_ACTIVE.workers()) if _ACTIVE is not None else default


def watch(progress) -> None:
    """The progress display whose label names the number of workers (kept current by the runner)."""
    global _PROGRESS, _LABEL
    _PROGRESS, _LABEL = progress, getattr(progress, "label", None)
    if _ACTIVE is not None:
        _show_workers(len(_ACTIVE.workers()))


def _show_workers(count: int) -> None:
    if _PROGRESS is not None and isinstance(_LABEL, str):
        _PROGRESS.label = f"{_LABEL} on {count} worker{'s' * (count != 1)}"


@contextlib.contextmanager
def session(address: str | None):
    """Connect (checking the workers) before the command does any work; close after it."""
    global _ACTIVE
    if not address:
        yield None
        return
    runner = ClusterRunner.connect(address)
    print(f"seriescheck: {runner.describe()}", file=sys.stderr, flush=True)
    _ACTIVE = runner
    try:
        yield runner
    finally:
        _ACTIVE = None
        watch(None)
        runner.close()
