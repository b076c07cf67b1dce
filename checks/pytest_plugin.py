"""pytest entry point: the cells of a series as pytest items.

    pytest --seriescheck v3.18 --seriescheck-profile smoke
    pytest -p checks.pytest_plugin --seriescheck send-path-advances -k smb_send_kvec -n 2 --junitxml cells.xml

collects one item per (series, step, user, protocol), with the node id
``<series>::<step>::<user>/<protocol>`` (``v3.18::v3.18::smb_send_kvec/tcp``), so ``-k``, ``-m seriescheck``,
pytest-xdist and ``--junitxml`` (classname ``series.step``, name ``user/protocol``) work as for any test.
The items are added to whatever else the run collects. Node ids are not file paths: select with
``-k``, not by passing the id as an argument.

An item passes when its verdict agrees with the series' manifest, exactly as ``seriescheck verify``
judges (checks/matrix.judge): a cell the manifest expects BROKEN that is BROKEN passes; a BROKEN or
DOES_NOT_BUILD cell the manifest does not list, or a listed cell whose verdict differs, fails with the
counterexample, what the user observed at the step before, and the replay command.

An UNKNOWN cell the manifest does not list is *skipped* with its reason. Not xfail: xfail says "known
to fail", and an UNKNOWN cell is not known to fail, nothing was concluded about it; an XPASS/XFAIL
pair would also invite marking it strict, which would turn a timeout on a loaded machine into a test
failure. Skip says "no verdict here", keeps the reason in the report (``-rs``, and <skipped message>
in JUnit), and the terminal summary counts these cells, since `seriescheck verify` would exit 3.

The plugin does nothing unless ``--seriescheck`` is given: no items, no marker, no properties.
Registered through the ``pytest11`` entry point ``checks.pytest_plugin`` (named as the module, so
``-p checks.pytest_plugin`` on top of the entry point is not a double registration).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

MARKER = "seriescheck"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seriescheck", "seriescheck: the cells of kernel patch series as test items")
    group.addoption("--seriescheck", action="append", default=[], metavar="SERIES",
                    help="collect every (step, user, protocol) cell of SERIES (a name under series/, a path to a "
                         "series directory, or 'all'); repeatable")
    group.addoption("--seriescheck-profile", default="quick", metavar="PROFILE",
                    help="check profile: bounds and budgets (default quick; smoke for tests)")
    group.addoption("--seriescheck-no-crosshair", action="store_true", help="skip the CrossHair engine")
    group.addoption("--seriescheck-no-cache", action="store_true",
                    help="run every cell afresh (the verdict cache is still refreshed)")


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("seriescheck", default=None))


def _profile(config: pytest.Config):
    from checks.profiles import UnknownProfile, get_profile

    try:
        return get_profile(config.getoption("seriescheck_profile"),
                           crosshair=False if config.getoption("seriescheck_no_crosshair") else None)
    except UnknownProfile as e:
        raise pytest.UsageError(f"--seriescheck-profile: {e}") from None


def pytest_configure(config: pytest.Config) -> None:
    if not _active(config):
        return
    config.addinivalue_line("markers", f"{MARKER}: a (series, step, user, protocol) cell of seriescheck")
    config.stash[_profile_key] = _profile(config)


_profile_key = pytest.StashKey[object]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The profile and tool versions as JUnit testsuite properties (the controller writes the XML
    when pytest-xdist runs the items, so this is done where the XML is)."""
    config = session.config
    if not _active(config) or hasattr(config, "workerinput"):
        return
    xml = next((p for p in config.pluginmanager.get_plugins() if hasattr(p, "add_global_property")), None)
    if xml is None:
        return
    from checks.render import tool_versions
    from checks.reports import crosshair_phrase

    profile = config.stash[_profile_key]
    xml.add_global_property("seriescheck.profile", profile.name)
    xml.add_global_property("seriescheck.profile.exhaustive", profile.exhaustive.describe())
    xml.add_global_property("seriescheck.profile.crosshair", crosshair_phrase(profile))
    for name, version in tool_versions().items():
        xml.add_global_property(f"seriescheck.tool.{name}", version)


@pytest.hookimpl(tryfirst=True)  # before -k, -m and --deselect look at the items
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    if not _active(config):
        return
    from checks.series import SeriesError, all_series

    refs: list[str] = []
    for ref in config.getoption("seriescheck"):
        refs += [str(p) for p in all_series()] if ref == "all" else [ref]
    for ref in dict.fromkeys(refs):
        try:
            collector = SeriesCollector.from_series(session, ref)
        except SeriesError as e:
            raise pytest.UsageError(f"--seriescheck {ref}: {e}") from None
        items.extend(session.genitems(collector))


class SeriesCollector(pytest.Collector):
    """One series: a step collector per step, in the series' order."""

    @classmethod
    def from_series(cls, session: pytest.Session, ref: str) -> SeriesCollector:
        from checks.series import compose, load_series

        series = load_series(ref)
        compose(series)  # a series that does not compose is a usage error, before any item runs
        node = cls.from_parent(session, name=series.name, nodeid=series.name, path=series.path)
        node.series = series
        return node

    def collect(self):
        from checks.matrix import cell_tasks

        tasks = cell_tasks(self.series)
        for step in self.series.steps:
            mine = [t for t in tasks if t.step == step.id]
            if mine:
                yield StepCollector.from_parent(self, name=step.id, series=self.series, tasks=mine)


class StepCollector(pytest.Collector):
    def __init__(self, *, series, tasks, **kw):
        super().__init__(**kw)
        self.series = series
        self.tasks = tasks

    def collect(self):
        for t in self.tasks:
            yield CellItem.from_parent(self, name=f"{t.user}/{t.protocol}", task=t)


class CellContradicts(Exception):
    """The cell's verdict disagrees with the series' manifest; the message is the evidence."""


class CellItem(pytest.Item):
    def __init__(self, *, task, **kw):
        super().__init__(**kw)
        self.task = task
        self.series = self.parent.series
        self.add_marker(MARKER)
        self.verdict = None

    def runtest(self) -> None:
        from checks.cache import VerdictCache
        from checks.matrix import run_tasks

        config = self.config
        cache = VerdictCache(read=not config.getoption("seriescheck_no_cache"))
        self.verdict = run_tasks([self.task], config.stash[_profile_key], jobs=1, cache=cache)[0]
        outcome, message = judge_cell(self.series, self.verdict)
        if outcome == "skip":
            pytest.skip(message)
        if outcome == "fail":
            raise CellContradicts(message)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CellContradicts):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return Path(self.series.path) / "series.toml", None, self.nodeid


def judge_cell(series, verdict) -> tuple[str, str]:
    """("pass" | "fail" | "skip", message) for one cell, judged as checks/matrix.judge judges it."""
    from checks.matrix import judge
    from checks.reports import cell_text
    from checks.verdicts import Status

    mismatches = [m for m in judge(series, [verdict]).mismatches
                  if (m.step, m.user, m.protocol) == verdict.key]
    if mismatches:
        m = mismatches[0]
        head = f"the manifest expects {m.expected}, the check found {m.got}"
        return "fail", f"{head}\n{cell_text(_with_previous(series, verdict), series)}"
    if verdict.status == Status.UNKNOWN:
        return "skip", f"UNKNOWN: {verdict.evidence}"
    return "pass", ""


def _with_previous(series, verdict):
    """The verdict with what the user observed at the step before, for the same input (as
    `seriescheck verify` shows for a regression)."""
    from checks.cell import all_users
    from checks.harness import CellInput, ModelError, run_cell
    from checks.matrix import task_image
    from model.kernel import DoesNotBuild

    cex = verdict.counterexample
    steps = [s.id for s in series.steps]
    i = steps.index(verdict.step)
    user = all_users().get(verdict.user)
    if cex is None or cex.previous or i == 0 or user is None:
        return verdict
    task = dataclasses.replace(_task_of(series, verdict), step=steps[i - 1])
    image, _ = task_image(task)
    try:
        obs = run_cell(image, user, verdict.protocol, CellInput.from_json(cex.input))
    except (DoesNotBuild, ModelError) as e:  # the step before may not build or run this user at all
        previous = f"at {steps[i - 1]}: {type(e).__name__}: {e}"
    else:
        seen = "holds" if obs.holds else obs.failure
        previous = f"at {steps[i - 1]}: returned {obs.rc}, got {obs.got!r} ({seen})"
    return dataclasses.replace(verdict, counterexample=dataclasses.replace(cex, previous=previous))


def _task_of(series, verdict):
    from checks.cell import CellTask
    from checks.reports import series_ref

    return CellTask(series_ref(series), str(series.path), verdict.step, verdict.user, verdict.protocol)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not _active(config):
        return
    unknown = [r for r in terminalreporter.stats.get("skipped", [])
               if MARKER in getattr(r, "keywords", {}) and "UNKNOWN:" in str(r.longrepr)]
    if unknown:
        terminalreporter.write_sep("-", "seriescheck")
        terminalreporter.write_line(f"{len(unknown)} cell(s) UNKNOWN, skipped with their reasons (-rs shows them); "
                                    "`seriescheck verify` would exit 3 for them")
