"""Golden outputs of reports, and JUnit from both entry points against a JUnit schema.

The Markdown report of each series below is compared with tests/golden/report-<series>.md. The
goldens are written, to be read and reviewed, by

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/reports -k golden

Volatile parts are fixed, not masked: tool versions are passed in (every one reads <version>), the
Markdown shows no timings, and paths inside the repository are shown relative to it.

JUnit from ``checks.reports.junit`` and from ``pytest --junitxml`` over the items of
``checks/pytest_plugin.py`` (run in a subprocess with ``-p checks.pytest_plugin``) is validated with
xmlschema against tests/reports/junit.xsd, which follows Jenkins' junit-10.xsd.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from checks import reports
from checks.cache import VerdictCache
from checks.matrix import SeriesResult, judge, verify_series
from checks.profiles import get_profile
from checks.progress import LOG_EVERY, Progress
from checks.pytest_plugin import judge_cell
from checks.render import tool_versions
from checks.series import SERIES_ROOT, Expectation, load_series
from checks.verdicts import CellVerdict, Counterexample, Status

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
GOLDEN = ROOT / "tests" / "golden"
SCHEMA = xmlschema.XMLSchema(HERE / "junit.xsd")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
PROFILE = get_profile("smoke", crosshair=False)
FIXED_TOOLS = {name: "<version>" for name in tool_versions()}
GOLDEN_SERIES = ("v3.18", "send-path-advances", "iov_iter-net")  # iov_iter-net: once it is in series/


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One verdict cache for this module and the pytest subprocesses it starts (never the user's)."""
    return tmp_path_factory.mktemp("verdicts")


@pytest.fixture(scope="module")
def checked(cache_dir):
    """series name -> SeriesResult under the smoke profile, computed once per module."""
    done: dict[str, SeriesResult] = {}

    def get(name: str) -> SeriesResult:
        if name not in done:
            done[name] = verify_series(load_series(name), PROFILE, jobs=1, cache=VerdictCache(cache_dir))
        return done[name]

    return get


def flat(text: str) -> str:
    """The report with every run of whitespace as one space: phrases are found across line wraps
    and table padding."""
    return " ".join(text.split())


def validate(xml_text: str) -> ET.Element:
    """Schema-valid JUnit whose counts agree with its test cases; returns the root."""
    SCHEMA.validate(xml_text)
    root = ET.fromstring(xml_text)
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("errors")) == sum(c.find("error") is not None for c in cases)
        assert int(suite.get("skipped", "0")) == sum(c.find("skipped") is not None for c in cases)
    return root


# --- Markdown: golden ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_SERIES)
def test_markdown_report_matches_golden(name, checked):
    assert (SERIES_ROOT / name / "series.toml").is_file(), f"series {name} has a golden but no series.toml"
    text = reports.markdown([checked(name)], PROFILE, tools=FIXED_TOOLS)
    golden = GOLDEN / f"report-{name}.md"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    assert golden.is_file(), f"no golden {golden.relative_to(ROOT)}: run UPDATE_GOLDEN=1 pytest tests/reports " \
                             "-k golden and review the file"
    want = golden.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True), str(golden), "now"))
    assert text == want, f"the report of {name} differs from its golden (UPDATE_GOLDEN=1 to rewrite):\n{diff}"


def test_markdown_names_installed_tools_and_no_machine_paths(checked):
    text = reports.markdown([checked("send-path-advances")], PROFILE)
    versions = tool_versions()
    assert f"crosshair-tool {versions['crosshair-tool']}" in text
    assert f"python {versions['python']}" in text
    assert str(ROOT) not in text
    assert "every input with <= 2 segments of <= 2 bytes" in text  # the bounds a verdict depends on


def test_markdown_shows_contradicted_manifest(checked):
    """Drop drbd_send's expectation and expect a cell that holds: both are reported as contradictions."""
    r = checked("send-path-advances")
    s = r.series
    kept = tuple(e for e in s.expected if e.user != "drbd_send")
    wrong = Expectation("s01", "iscsit_do_rx_data", "tcp", Status.BROKEN, "a claim that does not reproduce")
    edited = dataclasses.replace(s, expected=kept + (wrong,))
    result = judge(edited, r.cells)
    text = flat(reports.markdown([result], PROFILE, tools=FIXED_TOOLS))
    assert "## send-path-advances: CONTRADICTS its manifest" in text
    assert "**Not in the manifest**: nobody said this step would break it." in text
    assert re.search(r"- `drbd_send/tcp` at s01: the manifest expects holds, the check found BROKEN \(F\d+\)\.", text)
    assert "the manifest expects BROKEN, the check found CONFIRMED" in text
    assert '"a claim that does not reproduce"' in text
    assert "| `iscsit_do_rx_data/tcp` | ok | ok (manifest: BROKEN) |" in text
    assert re.search(r"\| BROKEN F\d+ \(unexpected\) \|", text)


def _with_cells(r: SeriesResult, changes: dict[tuple[str, str, str], CellVerdict]) -> SeriesResult:
    cells = [changes.get(c.key, c) for c in r.cells]
    return judge(r.series, cells)


def _synthetic(r: SeriesResult) -> SeriesResult:
    """send-path-advances with a cell that does not build, one UNKNOWN and one NOT_REFUTED."""
    s01 = "s01_tcp_sendmsg_advance_iovec"
    where = f"{ROOT}/series/send-path-advances/{s01}.py:40"
    return _with_cells(r, {
        (s01, "iscsit_do_rx_data", "tcp"): CellVerdict(
            s01, "iscsit_do_rx_data", "tcp", Status.DOES_NOT_BUILD,
            f"iscsit_do_rx_data ({where}): 'struct msghdr' has no member named 'msg_iov'", 0.01),
        (s01, "rds_tcp_xmit", "tcp"): CellVerdict(
            s01, "rds_tcp_xmit", "tcp", Status.UNKNOWN,
            "vacuous: a wire that repeats a byte was not caught within the bounds", 0.5),
        ("v3.18", "usbip_recv", "tcp"): CellVerdict(
            "v3.18", "usbip_recv", "tcp", Status.NOT_REFUTED, "crosshair: budget ran out", 4.0),
        (s01, "primitive:copy_to_iter", "-"): CellVerdict(
            s01, "primitive:copy_to_iter", "-", Status.DOES_NOT_BUILD, "at run time: no symbol copy_to_iter", 0.0),
    })


def test_markdown_reports_cells_without_counterexample(checked):
    result = _synthetic(checked("send-path-advances"))
    text = flat(reports.markdown([result], PROFILE, tools=FIXED_TOOLS))
    assert str(ROOT) not in text  # the build error's file is shown relative to the repository
    assert "series/send-path-advances/s01_tcp_sendmsg_advance_iovec.py:40" in text
    assert "seriescheck check send-path-advances s01 --user iscsit_do_rx_data --protocol tcp" in text
    assert "seriescheck check send-path-advances s01 ```" in text  # a primitive's cells run with their step
    assert "No verdict: vacuous: a wire that repeats a byte" in text
    assert "| `usbip_recv/tcp` | not refuted" in text
    assert "UNKNOWN F" in text and "DOES_NOT_BUILD F" in text
    assert "1 cell(s) UNKNOWN" in text


def test_markdown_receive_cell_explains_the_buffer(checked):
    """A receive user's counterexample: the input says what arrives, the table shows the buffer."""
    r = checked("send-path-advances")
    s01 = "s01_tcp_sendmsg_advance_iovec"
    x = Counterexample({"segs": [2], "script": [[1, "signal"]], "mode": "default"},
                               "kvec lengths [2], windows [1/signal]",
                               "took 2 bytes off the socket but buffer holds b'b.', expected b'ab' first",
                               2, "b'b.'", "b'ab'", "exhaustive", "at v3.18: returned 2, got b'ab' (holds)")
    cell = CellVerdict(s01, "iscsit_do_rx_data", "tcp", Status.BROKEN, x.failure, 0.01, x, "seriescheck replay ...")
    text = flat(reports.markdown([_with_cells(r, {cell.key: cell})], PROFILE, tools=FIXED_TOOLS))
    assert "`iscsit_do_rx_data` receives into one 2-byte kvec" in text
    assert "the peer sends `ab` followed by its next message" in text
    assert "1 byte has arrived before the reader must wait" in text
    assert "| the caller's buffer holds | `ab` | `b.` |" in text
    assert "`b.`" in text and "nobody wrote" in text


def test_input_in_words():
    words = reports.input_in_words("smb_send_kvec", {"segs": [1, 0, 2], "script": [[0, "error"], [2, "ok"]],
                                                     "mode": "noblocksnd"}, "send")
    assert words == ("`smb_send_kvec` sends three kvecs of 1, 0 and 2 bytes (`a` + an empty one + `bc`), in mode "
                     "`noblocksnd`; on the 1st `->sendmsg` call no byte fits in the send buffer before the socket "
                     "must wait, and then the connection fails (sk_err is set); on the 2nd `->sendmsg` call 2 bytes "
                     "fit in the send buffer before the socket must wait, and then space comes and the call goes on; "
                     "after that the network never makes the socket wait.")
    assert reports.input_in_words("x", {"segs": [1]}, "send").endswith("the network never makes the socket wait.")
    assert reports.input_in_words("primitive:csum_partial", {"len": 3}, None) == '`{"len": 3}`'


# --- JUnit -----------------------------------------------------------------------------------------


def test_junit_report_is_valid(checked):
    results = [checked("v3.18"), checked("send-path-advances")]
    root = validate(reports.junit(results, PROFILE))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["v3.18", "send-path-advances"]
    assert root.get("tests") == str(sum(len(r.cells) for r in results))
    assert root.get("failures") == str(sum(c.status == Status.BROKEN for r in results for c in r.cells))
    props = {p.get("name"): p.get("value") for p in suites[1].iter("property")}
    assert props["profile"] == "smoke" and props["manifest"] == "matches"
    assert props["tool.crosshair-tool"] == tool_versions()["crosshair-tool"]
    case = next(c for c in suites[1].iter("testcase")
                if c.get("classname") == "send-path-advances.s01_tcp_sendmsg_advance_iovec"
                and c.get("name") == "smb_send_kvec/tcp")
    failure = case.find("failure")
    assert failure.get("type") == "BROKEN" and failure.get("message").startswith("livelock")
    assert "replay: seriescheck replay send-path-advances s01_tcp_sendmsg_advance_iovec smb_send_kvec" in failure.text
    assert "at v3.18 (the step before): returned 2 (success); got b'ab': holds" in failure.text
    assert "manifest: expects BROKEN: the mail: you'll break smb_send_kvec()" in failure.text


def test_junit_unknown_is_an_error(checked):
    root = validate(reports.junit([_synthetic(checked("send-path-advances"))], PROFILE))
    suite = root.find("testsuite")
    assert suite.get("errors") == "1"
    error = next(c for c in suite.iter("testcase") if c.get("name") == "rds_tcp_xmit/tcp"
                 and c.get("classname").endswith("s01_tcp_sendmsg_advance_iovec")).find("error")
    assert error.get("type") == "UNKNOWN"
    assert "re-run: seriescheck check send-path-advances s01 --user rds_tcp_xmit --protocol tcp" in error.text
    nobuild = next(c for c in suite.iter("testcase") if c.get("name") == "iscsit_do_rx_data/tcp"
                   and c.get("classname").endswith("s01_tcp_sendmsg_advance_iovec")).find("failure")
    assert nobuild.get("type") == "DOES_NOT_BUILD" and str(ROOT) not in nobuild.text
    assert suite.find("system-err") is not None  # the manifest mismatch of the cell that does not build


@pytest.mark.parametrize("broken", [
    '<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase classname="c"/></testsuite>'
    "</testsuites>",  # a testcase without a name
    '<testsuites><testsuite name="s" failures="0" errors="0"/></testsuites>',  # no test count
    '<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase classname="c" name="n">'
    '<failure/><error/></testcase></testsuite></testsuites>',  # two outcomes
])
def test_schema_rejects_malformed_junit(broken):
    assert not SCHEMA.is_valid(broken)


# --- the pytest entry point --------------------------------------------------------------------------


def run_pytest(tmp_path: Path, cache_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """pytest with the plugin, in a directory of its own (its own pytest.ini: none of this project's
    options or test paths), sharing this module's verdict cache."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "SERIESCHECK_CACHE": str(cache_dir),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", "-p", "no:cacheprovider",
           "-p", "checks.pytest_plugin", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_plugin_junit_is_valid(tmp_path, cache_dir, checked):
    cells = len(checked("v3.18").cells) + len(checked("send-path-advances").cells)  # and warms the cache
    out = tmp_path / "cells.xml"
    p = run_pytest(tmp_path, cache_dir, "--seriescheck", "v3.18", "--seriescheck", "send-path-advances",
                   "--seriescheck-profile", "smoke", "-q", f"--junitxml={out}")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{cells} passed" in p.stdout
    root = validate(out.read_text())
    names = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")}
    assert ("v3.18.v3.18", "smb_send_kvec/tcp") in names
    assert ("send-path-advances.s01_tcp_sendmsg_advance_iovec", "smb_send_kvec/tcp") in names
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["seriescheck.profile"] == "smoke"
    assert props["seriescheck.tool.seriescheck"] == tool_versions()["seriescheck"]


def test_plugin_fails_an_unexpected_break_under_xdist(tmp_path, cache_dir, checked):
    """A copy of send-path-advances whose manifest forgets drbd_send: that cell fails with its
    counterexample and replay; -k selects, -n 2 runs it on two workers."""
    checked("send-path-advances")
    series = tmp_path / "spa"
    series.mkdir()
    source = SERIES_ROOT / "send-path-advances"
    (series / "s01_tcp_sendmsg_advance_iovec.py").write_text((source / "s01_tcp_sendmsg_advance_iovec.py").read_text())
    toml = (source / "series.toml").read_text().replace('name = "send-path-advances"', 'name = "spa-edited"')
    drbd = toml.index('[[expected]]\nstep = "s01"\nuser = "drbd_send"')
    (series / "series.toml").write_text(toml[:drbd])
    out = tmp_path / "cells.xml"
    p = run_pytest(tmp_path, cache_dir, "--seriescheck", str(series), "--seriescheck-profile", "smoke",
                   "-n", "2", "-k", "drbd_send or smb_send_kvec", f"--junitxml={out}")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "1 failed, 3 passed" in p.stdout
    assert "FAILED spa-edited::s01_tcp_sendmsg_advance_iovec::drbd_send/tcp" in p.stdout
    assert "the manifest expects holds, the check found BROKEN" in p.stdout
    assert "at v3.18 (the step before): returned 2 (success); got b'ab': holds" in p.stdout
    assert f"replay: seriescheck replay {series} s01_tcp_sendmsg_advance_iovec drbd_send tcp" in p.stdout
    root = validate(out.read_text())
    failed = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("spa-edited.s01_tcp_sendmsg_advance_iovec", "drbd_send/tcp")]
    assert "replay: seriescheck replay" in failed[0].find("failure").text


def test_plugin_is_inert_unless_asked(tmp_path, cache_dir, checked):
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")
    quiet = run_pytest(tmp_path, cache_dir, "--co", "-q")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout.splitlines()[0] == "test_other.py::test_other"
    assert "1 test collected" in quiet.stdout
    asked = run_pytest(tmp_path, cache_dir, "--co", "-q", "--seriescheck", "v3.18", "--seriescheck-profile", "smoke")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "v3.18::v3.18::smb_send_kvec/tcp" in asked.stdout.splitlines()
    assert f"{len(checked('v3.18').cells) + 1} tests collected" in asked.stdout  # added to the project's own
    bad = run_pytest(tmp_path, cache_dir, "--co", "--seriescheck", "no-such-series")
    assert bad.returncode == 4 and "--seriescheck no-such-series: no-such-series: no such series" in bad.stderr


def test_judge_cell_follows_the_manifest(checked):
    r = checked("send-path-advances")
    cells = {c.key: c for c in r.cells}
    s01 = "s01_tcp_sendmsg_advance_iovec"
    expected_broken = cells[(s01, "smb_send_kvec", "tcp")]
    assert judge_cell(r.series, expected_broken) == ("pass", "")
    holds = cells[(s01, "iscsit_do_tx_data", "tcp")]
    assert judge_cell(r.series, holds) == ("pass", "")
    unknown = dataclasses.replace(holds, status=Status.UNKNOWN, evidence="crosshair: solver timeout")
    assert judge_cell(r.series, unknown) == ("skip", "UNKNOWN: crosshair: solver timeout")
    outcome, message = judge_cell(r.series, dataclasses.replace(expected_broken, status=Status.UNKNOWN))
    assert outcome == "fail" and message.startswith("the manifest expects BROKEN, the check found UNKNOWN")
    unexpected = dataclasses.replace(expected_broken, user="iscsit_do_tx_data", replay="seriescheck replay x")
    outcome, message = judge_cell(r.series, dataclasses.replace(
        unexpected, counterexample=dataclasses.replace(unexpected.counterexample, previous=None)))
    assert outcome == "fail" and "the manifest expects holds, the check found BROKEN" in message
    assert "manifest: expects this cell to hold" in message and "replay: seriescheck replay x" in message


# --- --format and progress -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    reports.add_report_options(parser)
    return parser


def test_format_options(tmp_path, checked, capsys):
    args = _parser().parse_args(["--format", f"markdown={tmp_path / 'r.md'}", "--format",
                                 f"junit={tmp_path / 'c.xml'}", "--format", "json"])
    assert args.formats == [("markdown", str(tmp_path / "r.md")), ("junit", str(tmp_path / "c.xml")), ("json", None)]
    assert reports.text_stream(args) is sys.stderr  # JSON has stdout
    reports.write_reports(args, [checked("v3.18")], PROFILE)
    assert (tmp_path / "r.md").read_text().startswith("# seriescheck: v3.18")
    validate((tmp_path / "c.xml").read_text())
    assert '"name": "v3.18"' in capsys.readouterr().out
    assert reports.text_stream(_parser().parse_args([])) is sys.stdout
    assert reports.text_stream(_parser().parse_args(["--format", "text", "--format", "junit=x.xml"])) is sys.stdout


@pytest.mark.parametrize(("argv", "says"), [
    (["--format", "html"], "unknown format 'html'"),
    (["--format", "markdown", "--format", "junit"], "only one format can go to stdout"),
    (["--format", "markdown=a", "--format", "junit=a"], "two formats are written to a"),
    (["--format", "junit="], "names no file"),
])
def test_format_option_errors(argv, says):
    with pytest.raises(argparse.ArgumentError, match=says):
        _parser().parse_args(argv)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


LOG_EVERY_CELLS = int(LOG_EVERY)  # one cell a second


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_a_line_every_ten_seconds_off_a_terminal(checked):
    """A CI log is never silent for long: a line per LOG_EVERY seconds of work and one at the end, each
    with cells done/total, cells reused and the time left; a run shorter than that writes none."""
    cells = checked("v3.18").cells
    file, clock = io.StringIO(), _Clock()
    p = Progress("verify", file=file, clock=clock)
    p.plan(len(cells) + 5, len(cells), len(cells) + 5)
    for i, c in enumerate(cells):
        clock.now += 1.0  # a cell a second
        p(c, series="v3.18")
        if i == 3:
            p.tick()  # 4 s of work: nothing yet
            assert file.getvalue() == ""
    lines = file.getvalue().splitlines()
    # one per 10 s, and the last cell (which is the 10 s line itself when the count is a multiple of 10)
    assert len(lines) == -(-len(cells) // LOG_EVERY_CELLS)
    assert f"{len(cells)}/{len(cells)} cells computed (5 reused from the cache" in lines[-1]
    assert "about" in lines[0] and "left" in lines[0] and "v3.18 v3.18 " in lines[0]
    clock.now += 30.0
    p.tick()  # a long cell: still a line
    assert len(file.getvalue().splitlines()) == len(lines) + 1
    quiet, short = io.StringIO(), Progress("verify", file=io.StringIO(), clock=_Clock())
    short.file = quiet
    short.plan(3, 3)
    for c in cells[:3]:
        short(c)
    assert quiet.getvalue() == ""  # done within LOG_EVERY: no line at all


def test_progress_on_a_terminal_is_a_live_line(checked):
    cells = checked("v3.18").cells
    file = _Terminal()
    with Progress("verify", file=file) as p:
        p.plan(len(cells), len(cells))
        for c in cells:
            p(c)
    assert p.done == len(cells) and "\x1b[" in file.getvalue()


def test_verify_off_a_terminal_logs_progress_on_stderr(tmp_path):
    """A run that computes for longer than LOG_EVERY seconds logs progress on stderr, never stdout."""
    proc = subprocess.run([sys.executable, "-m", "checks", "verify", "v3.18", "--profile", "smoke", "--no-crosshair",
                           "--jobs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, SERIESCHECK_CACHE=str(tmp_path), SERIESCHECK_PROGRESS_EVERY="0.01"))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\[verify\] \d+/\d+ cells computed", proc.stderr), proc.stderr
    assert "[verify]" not in proc.stdout  # the report's stream is left alone
