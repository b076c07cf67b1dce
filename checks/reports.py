"""Reports for the two readers of a check: the reviewer and CI.

* ``markdown(results, profile)``: what a maintainer pastes into a review. Per series: the steps, the
  step x user/protocol matrix, the regressions with what the manifest says they mean, and every cell
  that does not hold with its counterexample in words, what the user observed at the step before
  and at this one, and the command that replays it. It names the profile, its bounds and the tool
  versions, and says in a paragraph what was checked, so it reads on its own. The raw text is
  meant to be read too (a review is a plain-text mail): tables are padded into columns and prose is
  not backslash-escaped.
* ``junit(results, profile)``: one <testsuite> per series, one <testcase> per cell (classname
  ``series.step``, name ``user/protocol``), in the Jenkins xunit-plugin junit-10.xsd shape that
  pytest's own ``--junitxml`` follows.
* ``add_report_options``/``write_reports``/``text_stream``: ``seriescheck verify --format``.
* ``progress_display()``: a live progress line on a terminal, silent otherwise.

Results are not changed here; the terminal matrix and the JSON document are checks/render.py.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from checks.profiles import Profile
from checks.progress import Progress
from checks.verdicts import CellVerdict, Counterexample, Status

if TYPE_CHECKING:
    from checks.matrix import SeriesResult
    from checks.series import Expectation, Series

ROOT = Path(__file__).resolve().parent.parent
PRIMITIVE = "primitive:"  # checks.cell.PRIMITIVE, repeated to keep this module's imports light
HOLDS = (Status.CONFIRMED, Status.NOT_REFUTED)
FAILS = (Status.BROKEN, Status.DOES_NOT_BUILD)

FORMATS = ("text", "json", "markdown", "junit")

# --- what every report needs from a result ----------------------------------------------------


def short(step_id: str) -> str:
    return step_id.split("_", 1)[0]


def series_ref(series: Series) -> str:
    """How a command names the series: its name when it lives under series/, else its path
    (the rule checks/matrix.cell_tasks uses for replay commands)."""
    from checks.series import SERIES_ROOT

    if series.path.resolve() == (SERIES_ROOT / series.name).resolve():
        return series.name
    return str(series.path)


def portable(text: str) -> str:
    """``text`` with the repository's absolute path taken out: a build error names
    ``series/as-merged/s06_....py:42``, the same on every machine and in CI's clone."""
    return text.replace(f"{ROOT}{os.sep}", "")


def is_primitive(user: str) -> bool:
    return user.startswith(PRIMITIVE)


def row_name(user: str, protocol: str) -> str:
    """``smb_send_kvec/tcp``; a primitive's cell is named after its function: ``copy_from_iter()``."""
    return f"{user[len(PRIMITIVE):]}()" if is_primitive(user) else f"{user}/{protocol}"


def expectations(series: Series) -> dict[tuple[str, str, str], Expectation]:
    """The manifest by full cell key (a manifest may name a step by its short id)."""
    return {(series.step(e.step).id, e.user, e.protocol): e for e in series.expected}


def _users() -> dict:
    from checks.cell import all_users

    return all_users()


def direction_of(user: str) -> str | None:
    u = _users().get(user)
    return u.direction if u is not None else None


def same_finding(a: CellVerdict, b: CellVerdict) -> bool:
    """Two cells of a row that a report may summarise as one ("as at s03")."""
    ia = a.counterexample.input if a.counterexample else None
    ib = b.counterexample.input if b.counterexample else None
    return (a.status, a.evidence, ia) == (b.status, b.evidence, ib)


@dataclass
class Finding:
    """A cell that does not hold, or the run of steps along one row where it stays the same."""

    number: int
    cells: list[CellVerdict]  # consecutive steps, same status, evidence and input

    @property
    def first(self) -> CellVerdict:
        return self.cells[0]

    @property
    def label(self) -> str:
        return f"F{self.number}"


class SeriesView:
    """A SeriesResult arranged for reading: rows, columns, findings, the manifest by cell."""

    def __init__(self, r: SeriesResult):
        self.result = r
        self.series = r.series
        self.steps = [s.id for s in r.series.steps]
        self.index = {sid: i for i, sid in enumerate(self.steps)}
        self.cells = {c.key: c for c in r.cells}
        self.expected = expectations(r.series)
        self.ref = series_ref(r.series)
        rows = sorted({(c.user, c.protocol) for c in r.cells})
        self.user_rows = [k for k in rows if not is_primitive(k[0])]
        self.primitive_rows = [k for k in rows if is_primitive(k[0])]
        self.regressed = {(g.after, g.user, g.protocol): g for g in r.regressions}
        self.findings: list[Finding] = []
        self.finding_of: dict[tuple[str, str, str], Finding] = {}
        runs: list[list[CellVerdict]] = []
        for u, p in self.user_rows + self.primitive_rows:
            run: list[CellVerdict] = []
            for sid in self.steps:
                c = self.cells.get((sid, u, p))
                if c is None or c.status in HOLDS:
                    run = []
                    continue
                # a regression always opens a finding of its own; so does a change of verdict
                if run and same_finding(run[-1], c) and c.key not in self.regressed:
                    run.append(c)
                else:
                    run = [c]
                    runs.append(run)
        runs.sort(key=lambda run: (self.index[run[0].step], is_primitive(run[0].user), run[0].user, run[0].protocol))
        for n, run in enumerate(runs, 1):
            f = Finding(n, run)
            self.findings.append(f)
            for c in run:
                self.finding_of[c.key] = f

    def counts(self) -> dict[Status, int]:
        out = dict.fromkeys(Status, 0)
        for c in self.result.cells:
            out[c.status] += 1
        return out

    def contradicts(self, c: CellVerdict) -> bool:
        """Does this cell's verdict disagree with the manifest (as checks/matrix.judge decides)?"""
        e = self.expected.get(c.key)
        return c.status != e.status if e is not None else c.status in FAILS

    def steps_phrase(self, cells: list[CellVerdict]) -> str:
        ids = [short(c.step) for c in cells]
        if len(ids) <= 2:
            return " and ".join(ids)
        return f"{ids[0]} to {ids[-1]}"

    def previous_step(self, step: str) -> str | None:
        i = self.index[step]
        return self.steps[i - 1] if i else None


def tool_line(tools: dict[str, str]) -> str:
    """``seriescheck 0.1.0, python 3.11.7, ...``: the tool first, then what its verdicts depend on."""
    order = sorted(tools, key=lambda k: (k != "seriescheck", list(tools).index(k)))
    return ", ".join(f"{k} {tools[k]}" for k in order)


def crosshair_phrase(profile: Profile) -> str:
    if not profile.crosshair_enabled:
        return "off"
    return (f"over {profile.crosshair.describe()}, {profile.crosshair_per_condition_timeout}s per cell, "
            f"{profile.crosshair_per_path_timeout}s per path")


# --- a counterexample in words ---------------------------------------------------------------

_ENDINGS = {
    "send": {
        "ok": "space comes and the call goes on",
        "signal": "the wait is interrupted by a signal",
        "error": "the connection fails (sk_err is set)",
        "eof": "the peer shuts down",
        "timeout": "the socket's send timeout expires (a socket without one waits on)",
    },
    "recv": {
        "ok": "more data comes and the call goes on",
        "signal": "the wait is interrupted by a signal",
        "error": "the connection fails (sk_err is set)",
        "eof": "the peer shuts down (end of stream)",
        "timeout": "the socket's receive timeout expires (a socket without one waits on)",
    },
}
_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _bytes(n: int) -> str:
    return f"{n} byte" if n == 1 else f"{n} bytes"


def code(text: str) -> str:
    """``text`` as a Markdown code span, whatever backticks it holds."""
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def shown_bytes(data: bytes) -> str:
    """Message bytes as a reader sees them: `ab`; nothing at all is "nothing"."""
    if not data:
        return "nothing"
    text = data.decode("latin-1")
    return code(text) if text.isprintable() else code(repr(data))


def shown_repr(r: str | None) -> str:
    """A ``repr(bytes)`` as recorded in a Counterexample, shown as ``shown_bytes`` would."""
    if not r:
        return "-"
    try:
        value = ast.literal_eval(r)
    except (ValueError, SyntaxError):
        return code(r)
    return shown_bytes(value) if isinstance(value, bytes) else code(r)


def _kvecs(segs: list[int], message: bytes) -> str:
    pieces, off = [], 0
    for n in segs:
        pieces.append(message[off:off + n])
        off += n
    if not segs:
        return "no kvec at all"
    if len(segs) == 1:
        return f"one {segs[0]}-byte kvec ({shown_bytes(pieces[0])})"
    sizes = ", ".join(str(n) for n in segs[:-1]) + f" and {segs[-1]}"
    shown = " + ".join("an empty one" if not p else shown_bytes(p) for p in pieces)
    return f"{_NUMBERS.get(len(segs), len(segs))} kvecs of {sizes} bytes ({shown})"


def input_in_words(user: str, inp: dict, direction: str | None) -> str:
    """A cell input (``CellInput.to_json()``) as a sentence: what the caller passes and what the
    network does on each ``->sendmsg``/``->recvmsg`` call (model/world.py's script)."""
    if direction not in ("send", "recv") or "segs" not in inp:
        return code(json.dumps(inp, sort_keys=True))
    from checks.harness import message_bytes

    segs = list(inp["segs"])
    script = [tuple(w) for w in inp.get("script", ())]
    mode = inp.get("mode", "default")
    message = message_bytes(sum(segs))
    if direction == "send":
        words = [f"{code(user)} sends {_kvecs(segs, message)}"]
    else:
        words = [f"{code(user)} receives into {_kvecs(segs, bytes(sum(segs)))}; the peer sends "
                 f"{shown_bytes(message)} followed by its next message"]
    if mode != "default":
        words[0] += f", in mode {code(mode)}"
    call = "`->sendmsg`" if direction == "send" else "`->recvmsg`"
    if not script:
        words.append("the network never makes the socket wait")
    for n, (room, then) in enumerate(script, 1):
        ending = _ENDINGS[direction].get(then, then)
        if direction == "send":
            fits = "no byte fits" if room == 0 else f"{_bytes(room)} fit" if room > 1 else "1 byte fits"
            words.append(f"on the {_ordinal(n)} {call} call {fits} in the send buffer before the socket "
                         f"must wait, and then {ending}")
        else:
            came = "no byte has arrived" if room == 0 else f"{_bytes(room)} have arrived" if room > 1 else \
                "1 byte has arrived"
            words.append(f"on the {_ordinal(n)} {call} call {came} before the reader must wait, and then {ending}")
    if script:
        words.append("after that the network never makes the socket wait")
    return "; ".join(words) + "."


_PREVIOUS = re.compile(r"^at (?P<step>\S+): returned (?P<rc>\S+), got (?P<got>b'[^']*'|b\"[^\"]*\") "
                       r"\((?P<seen>.*)\)$")


@dataclass(frozen=True)
class Observed:
    """What a user's caller concluded and what arrived, at one step, for one input."""

    step: str
    rc: int | None
    got: str  # repr of the bytes, as in Counterexample.got
    verdict: str  # "holds" or the contract's failure


def previous_observed(cex: Counterexample) -> Observed | None:
    """``Counterexample.previous`` is a sentence written by checks/matrix._show_previous
    ("at v3.18: returned 2, got b'ab' (holds)"); read back into its parts. A sentence in another
    shape is shown as it is by the caller (None here)."""
    m = _PREVIOUS.match(cex.previous or "")
    if not m:
        return None
    rc = None if m["rc"] == "None" else int(m["rc"]) if re.fullmatch(r"-?\d+", m["rc"]) else None
    return Observed(m["step"], rc, m["got"], m["seen"])


def returned(rc: int | None) -> str:
    """The harness's reading of the caller's result (checks/harness.py): negative is an error."""
    if rc is None:
        return "did not return"
    return f"{rc} (error)" if rc < 0 else f"{rc} (success)"


# --- Markdown ----------------------------------------------------------------------------------


WIDTH = 100  # prose is wrapped: a review is often read as the raw text of a mail


def para(text: str) -> str:
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def item(text: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="- ", subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False)


def quoted(claim: str) -> str:
    return f'"{portable(claim)}"'


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table padded into columns, so the raw text reads as a table too."""
    cells = [[_cell(h) for h in header]] + [[_cell(x) for x in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) + " |"

    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [line(r) for r in cells[1:]])


_MEANING = [
    ("ok", "CONFIRMED: every input within the exhaustive bounds below was run and the contract held "
           "(a bounded check, not a proof beyond the bounds)"),
    ("not refuted", "NOT_REFUTED: an engine's budget ran out without a counterexample: not a proof"),
    ("BROKEN", "a concrete counterexample, replayed in a fresh kernel outside the engine that found it"),
    ("DOES_NOT_BUILD", "the user reaches a symbol or struct field this step no longer has"),
    ("UNKNOWN", "nothing can be concluded (timeout, solver error, a counterexample that did not replay, "
                "or a harness that could not have failed); never a pass"),
]

_CONTRACT = (
    "seriescheck models the Linux v3.18 socket data path in Python and runs each in-kernel caller of "
    "`kernel_sendmsg()`/`kernel_recvmsg()` (a *user*), over each protocol it uses, against the kernel "
    "after every step of a patch series. For every input within the bounds below it checks the contract "
    "the user relies on: on send, if the caller reports success the peer received each byte of the message "
    "exactly once and in order, and if it reports an error the peer received a prefix of it; on receive, the "
    "bytes taken off the socket are in the caller's buffer at their place, and success means all arrived; "
    "and a transfer the network never makes wait succeeds. Message bytes are distinct (`abc...`), so a "
    "resent or skipped byte shows. An input is the caller's kvec lengths and the network's script: on each "
    "`->sendmsg`/`->recvmsg` call, how many bytes fit (or arrive) before the socket must wait, and how that "
    "wait ends. The copy primitives (`copy_from_iter()`, ...) are checked against their own contracts. "
    "Each series has a manifest: the cells expected not to hold, with the claim each reproduces."
)


def _status_word(c: CellVerdict) -> str:
    return {Status.CONFIRMED: "ok", Status.NOT_REFUTED: "not refuted"}.get(c.status, c.status.name)


def _matrix_mark(v: SeriesView, key: tuple[str, str, str]) -> str:
    c = v.cells.get(key)
    if c is None:
        return "-"
    word = _status_word(c)
    f = v.finding_of.get(key)
    if f is not None:
        word += f" {f.label}"
    if v.contradicts(c):
        e = v.expected.get(key)
        word += f" (manifest: {e.status.name})" if e is not None else " (unexpected)"
    return word


def _all_ok(v: SeriesView, row: tuple[str, str]) -> bool:
    u, p = row
    for sid in v.steps:
        c = v.cells.get((sid, u, p))
        if c is None or c.status != Status.CONFIRMED or v.contradicts(c):
            return False
    return True


def _matrix(v: SeriesView, rows: list[tuple[str, str]], first: str) -> list[str]:
    """The rows with something to say as a table; the rows that hold at every step by name.
    Together they account for every cell."""
    shown = [row for row in rows if not _all_ok(v, row)]
    quiet = [row for row in rows if _all_ok(v, row)]
    out = []
    if shown:
        header = [first] + [short(s) for s in v.steps]
        out += [table(header, [[code(row_name(u, p))] + [_matrix_mark(v, (s, u, p)) for s in v.steps]
                               for u, p in shown]), ""]
    if quiet:
        names = ", ".join(code(row_name(u, p)) for u, p in quiet)
        lead = "Every other row holds" if shown else "Every row holds"
        out += [para(f"{lead} (ok) at every step: {names}."), ""]
    return out


def _upstream(record) -> str:
    if not record.upstream:
        return "-"
    checked = "verified" if record.upstream_verified else "unverified"
    return f"{record.upstream[:12]} ({checked})"


def _summary_row(v: SeriesView) -> list[str]:
    n = v.counts()
    manifest = "matches" if v.result.expected_met else f"CONTRADICTS ({len(v.result.mismatches)})"
    return [v.series.name, str(len(v.steps)), str(len(v.result.cells)), str(n[Status.CONFIRMED]),
            str(n[Status.NOT_REFUTED]), str(n[Status.BROKEN]), str(n[Status.DOES_NOT_BUILD]),
            str(n[Status.UNKNOWN]), manifest]


def markdown(results: list[SeriesResult], profile: Profile, *, tools: dict[str, str] | None = None) -> str:
    """The report a maintainer pastes into a review. ``tools`` defaults to the installed versions
    (checks/render.tool_versions); a golden test passes fixed ones."""
    from checks.render import tool_versions

    tools = tool_versions() if tools is None else tools
    views = [SeriesView(r) for r in results]
    names = ", ".join(v.series.name for v in views)
    out = [f"# seriescheck: {names}", "", para(_CONTRACT), ""]
    out += [table(["verdict", "meaning"], [list(m) for m in _MEANING]), ""]
    out += ["Checked with:", "", table(["", ""], [
        ["profile", code(profile.name)],
        ["exhaustive search", f"every input with {profile.exhaustive.describe()}"],
        ["CrossHair", crosshair_phrase(profile)],
        ["tools", tool_line(tools)],
    ]), ""]
    out += [table(["series", "steps", "cells", "ok", "not refuted", "BROKEN", "DOES_NOT_BUILD", "UNKNOWN",
                   "manifest"], [_summary_row(v) for v in views]), ""]
    for v in views:
        out += _series_markdown(v)
    return "\n".join(out).rstrip() + "\n"


def _series_markdown(v: SeriesView) -> list[str]:
    s, r = v.series, v.result
    verdict = "matches its manifest" if r.expected_met else "CONTRADICTS its manifest"
    unknown = f"; {len(r.unknown)} cell(s) UNKNOWN" if r.unknown else ""
    out = [f"## {s.name}: {verdict}{unknown}", ""]
    if s.description:
        out += [para(s.description), ""]
    out += ["### Steps", ""]
    rows = []
    for st in s.steps:
        subject = st.record.subject + (" (the base)" if st.path is None else "")
        rows.append([code(short(st.id)), subject, _upstream(st.record), st.record.kernel or "-"])
    out += [table(["step", "subject", "upstream commit", "release"], rows), ""]
    intends = [(st, i) for st in s.steps for i in st.record.intends]
    if intends:
        out += ["What the steps intend to change for callers:", ""]
        out += [item(f"{short(st.id)}: {i}") for st, i in intends] + [""]
    out += ["### Matrix", "",
            para(f"{len(v.user_rows)} users and protocols, then {len(v.primitive_rows)} copy primitives, over "
                 f"{len(v.steps)} step(s). The tables show the rows where some step does not hold or has no such "
                 "cell (-); F1, F2, ... name the findings below, and a finding that stays the same along a "
                 "row keeps its number."), ""]
    if v.user_rows:
        out += _matrix(v, v.user_rows, "user/protocol")
    if v.primitive_rows:
        out += ["The copy primitives, each against its own contract:", ""]
        out += _matrix(v, v.primitive_rows, "primitive")
    out += _regressions_markdown(v)
    out += _mismatches_markdown(v)
    out += _findings_markdown(v)
    return out


def _regressions_markdown(v: SeriesView) -> list[str]:
    regs = v.result.regressions
    if not regs:
        return ["### Regressions", "", "No cell that holds at one step fails at the next.", ""]
    unexpected = sum(not g.expected for g in regs)
    head = "all expected by the manifest" if not unexpected else f"{unexpected} NOT in the manifest"
    out = [f"### Regressions ({len(regs)}, {head})", ""]
    order = sorted(regs, key=lambda g: (v.index[g.after], g.user, g.protocol))
    for g in order:
        key = (g.after, g.user, g.protocol)
        f = v.finding_of.get(key)
        ref = f" ({f.label})" if f else ""
        row = code(row_name(g.user, g.protocol))
        line = f"{row}: holds at {short(g.before)}, {g.status.name} at {short(g.after)}{ref}."
        e = v.expected.get(key)
        if e is not None and g.expected:
            line += f" The manifest: {quoted(e.claim)}"
        else:
            line += " **Not in the manifest**: nobody said this step would break it."
        out.append(item(line))
    return out + [""]


def _mismatches_markdown(v: SeriesView) -> list[str]:
    ms = v.result.mismatches
    if not ms:
        return []
    out = [f"### Where the results contradict the manifest ({len(ms)})", ""]
    groups: dict[tuple, list[str]] = {}
    for m in ms:
        groups.setdefault((m.user, m.protocol, m.expected, m.got, m.claim), []).append(m.step)
    for (user, proto, expected, got, claim), steps in groups.items():
        steps = sorted(steps, key=lambda sid: v.index.get(sid, len(v.index)))
        where = ", ".join(short(sid) for sid in steps)
        line = f"{code(row_name(user, proto))} at {where}: the manifest expects {expected}, the check found {got}"
        cells = [v.finding_of.get((sid, user, proto)) for sid in steps]
        labels = sorted({f.label for f in cells if f is not None}, key=lambda x: int(x[1:]))
        if labels:
            line += f" ({', '.join(labels)})"
        line += "."
        if claim:
            line += f" The manifest's claim: {quoted(claim)}"
        out.append(item(line))
    return out + [""]


def _findings_markdown(v: SeriesView) -> list[str]:
    if not v.findings:
        return ["### Findings", "", "Every cell holds.", ""]
    out = ["### Findings", ""]
    for f in v.findings:
        out += _finding_markdown(v, f)
    return out


def _who(user: str, protocol: str) -> str:
    if is_primitive(user):
        return f"{code(user[len(PRIMITIVE):] + '()')}, checked against its own contract (checks/primitives.py)."
    u = _users().get(user)
    if u is None:
        return f"{code(user)} over {protocol}."
    what = "sends" if u.direction == "send" else "receives"
    note = f"; {u.note}" if u.note else ""
    return f"{code(user)} ({u.kfile}) {what} over {protocol}{note}."


def _finding_markdown(v: SeriesView, f: Finding) -> list[str]:
    c = f.first
    where = short(c.step)
    also = f" (the same at {v.steps_phrase(f.cells[1:])})" if len(f.cells) > 1 else ""
    out = [f"#### {f.label}. {code(row_name(c.user, c.protocol))} {c.status.name} at {where}{also}", ""]
    out += [para(_who(c.user, c.protocol)), ""]
    g = v.regressed.get(c.key)
    e = v.expected.get(c.key)
    status_lines = []
    if g is not None:
        status_lines.append(f"A regression: it holds at {short(g.before)}.")
    if any(v.contradicts(x) for x in f.cells):
        if e is not None:
            status_lines.append(f"**Contradicts the manifest**, which expects {e.status.name} here: {quoted(e.claim)}")
        else:
            status_lines.append("**Not in the manifest**: the series' manifest expects this cell to hold.")
    elif e is not None:
        status_lines.append(f"Expected by the manifest: {quoted(e.claim)}")
    if status_lines:
        out += [para(" ".join(status_lines)), ""]
    if c.status == Status.DOES_NOT_BUILD:
        out += [para(f"Does not build: {portable(c.evidence)}"), ""]
        out += _reproduce(v, f)
        return out
    if c.status in (Status.UNKNOWN, Status.NOT_REFUTED) or c.counterexample is None:
        out += [para(f"No verdict: {portable(c.evidence)}" if c.status == Status.UNKNOWN else portable(c.evidence)), ""]
        out += _reproduce(v, f)
        return out
    x = c.counterexample
    direction = direction_of(c.user)
    if direction is None:  # a primitive's input is its call, and the failure says what it did
        out += [para(f"Fails: {portable(x.failure)}"), ""]
    what = "Input" if direction is not None else "Input, as the replay takes it"
    out += [para(f"{what}: {input_in_words(c.user, x.input, direction)}"), ""]
    if direction is not None:
        out += [_observed_table(v, c, x, direction), ""]
    before = v.previous_step(c.step)
    if before is not None and previous_observed(x) is None:
        pc = v.cells.get((before, c.user, c.protocol))
        if x.previous:
            out += [para(f"At the step before: {portable(x.previous)}"), ""]
        elif pc is not None and pc.status not in HOLDS:
            pf = v.finding_of.get(pc.key)
            ref = f" ({pf.label})" if pf else ""
            out += [para(f"At {short(before)}, the step before, this cell is {pc.status.name} already{ref}."), ""]
    out += ["Replay (exits 1 when the failure shows):", "", "```sh", c.replay or "", "```", ""]
    if len(f.cells) > 1:
        out += [para(f"The same input fails the same way at {v.steps_phrase(f.cells[1:])}; "
                     "its replay there differs only in the step."), ""]
    return out


def _observed_table(v: SeriesView, c: CellVerdict, x: Counterexample, direction: str) -> str:
    prev = previous_observed(x)
    received = "the peer received" if direction == "send" else "the caller's buffer holds"
    header = [""]
    rows: list[list[str]] = [["the caller concluded"], [received], ["the contract"]]
    if prev is not None:
        header.append(f"at {short(prev.step)} (the step before)")
        rows[0].append(returned(prev.rc))
        rows[1].append(shown_repr(prev.got))
        rows[2].append(prev.verdict)
    header.append(f"at {short(c.step)}")
    rows[0].append(returned(x.rc))
    rows[1].append(shown_repr(x.got))
    rows[2].append(portable(x.failure))
    note = "" if direction == "send" else "\n\n(`.` marks a byte of the caller's buffer nobody wrote.)"
    return table(header, rows) + note


def _reproduce(v: SeriesView, f: Finding) -> list[str]:
    c = f.first
    if is_primitive(c.user):
        cmd = f"seriescheck check {v.ref} {short(c.step)}"
    else:
        cmd = f"seriescheck check {v.ref} {short(c.step)} --user {c.user} --protocol {c.protocol}"
    out = ["Re-run this cell:", "", "```sh", cmd, "```", ""]
    if len(f.cells) > 1:
        out += [f"The same verdict at {v.steps_phrase(f.cells[1:])}.", ""]
    return out


# --- plain text of one cell (JUnit failures, pytest items) --------------------------------------


def _outcome(rc: int | None) -> str:
    return "did not return" if rc is None else f"returned {returned(rc)}"


def cell_text(c: CellVerdict, series: Series | None = None) -> str:
    """One cell that does not hold, as plain text: what fails, the input in words, what the user
    observed before and now, what the manifest says, and the replay command."""
    lines = [f"{c.user}/{c.protocol} at {c.step}: {c.status.name}: {portable(c.evidence)}"]
    if series is not None:
        e = expectations(series).get(c.key)
        if e is not None:
            lines.append(f"manifest: expects {e.status.name}: {portable(e.claim)}")
        elif c.status in FAILS:
            lines.append("manifest: expects this cell to hold")
    x = c.counterexample
    if x is not None:
        direction = direction_of(c.user)
        lines.append("input: " + input_in_words(c.user, x.input, direction).replace("`", ""))
        if direction is not None:
            prev = previous_observed(x)
            if prev is not None:
                lines.append(f"at {prev.step} (the step before): {_outcome(prev.rc)}; got {prev.got}: {prev.verdict}")
            elif x.previous:
                lines.append(f"the step before: {portable(x.previous)}")
            lines.append(f"at {c.step}: {_outcome(x.rc)}; got {x.got or '-'} (expected {x.expected or '-'}): "
                         f"{portable(x.failure)}")
    if c.replay:
        lines.append(f"replay: {c.replay}")
    elif series is not None and c.status != Status.CONFIRMED:
        opts = "" if is_primitive(c.user) else f" --user {c.user} --protocol {c.protocol}"
        lines.append(f"re-run: seriescheck check {series_ref(series)} {short(c.step)}{opts}")
    return "\n".join(lines)


# --- JUnit XML -------------------------------------------------------------------------------

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text that XML 1.0 can carry (ElementTree escapes markup but not illegal characters)."""
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def junit(results: list[SeriesResult], profile: Profile, *, tools: dict[str, str] | None = None) -> str:
    """JUnit XML: one <testsuite> per series, one <testcase> per cell.

    BROKEN and DOES_NOT_BUILD are <failure>s (type = the status), whatever the manifest expects: this
    report carries the cells' verdicts, and the failure text says whether the manifest expected it.
    (The pytest entry point, checks/pytest_plugin.py, reports agreement with the manifest instead.)
    UNKNOWN is an <error>, not <skipped>: the check ran and could not conclude (a timeout, a solver
    error, a vacuous harness), which `seriescheck verify` reports with exit code 3, never as a pass.
    CI systems show a skip as neutral and an error as needing attention, which is what UNKNOWN needs.
    """
    from checks.render import tool_versions

    tools = tool_versions() if tools is None else tools
    root = ET.Element("testsuites", name="seriescheck")
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    seconds = 0.0
    for r in results:
        suite = _suite(r, profile, tools)
        root.append(suite)
        for k in totals:
            totals[k] += int(suite.get(k))
        seconds += float(suite.get("time"))
    for k, n in totals.items():
        root.set(k, str(n))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True).decode() + "\n"


def _suite(r: SeriesResult, profile: Profile, tools: dict[str, str]) -> ET.Element:
    suite = ET.Element("testsuite", name=r.series.name)
    props = ET.SubElement(suite, "properties")
    pairs = [("profile", profile.name), ("profile.exhaustive", profile.exhaustive.describe()),
             ("profile.crosshair", crosshair_phrase(profile)),
             ("profile.json", json.dumps(profile.to_json(), sort_keys=True))]
    pairs += [(f"tool.{k}", v) for k, v in tools.items()]
    pairs += [("manifest", "matches" if r.expected_met else "contradicts")]
    for name, value in pairs:
        ET.SubElement(props, "property", name=name, value=_x(value))
    failures = errors = 0
    total = 0.0
    for c in r.cells:
        tc = ET.SubElement(suite, "testcase", classname=f"{r.series.name}.{c.step}", name=f"{c.user}/{c.protocol}",
                           time=f"{c.seconds:.3f}")
        total += c.seconds
        if c.status in FAILS:
            failures += 1
            el = ET.SubElement(tc, "failure", type=c.status.name, message=_x(portable(c.evidence)))
            el.text = _x(cell_text(c, r.series))
        elif c.status == Status.UNKNOWN:
            errors += 1
            el = ET.SubElement(tc, "error", type="UNKNOWN", message=_x(portable(c.evidence)))
            el.text = _x(cell_text(c, r.series))
        else:
            ET.SubElement(tc, "system-out").text = _x(f"{c.status.name}: {portable(c.evidence)}")
    if r.mismatches:
        lines = [f"MANIFEST MISMATCH {m.step} {m.user}/{m.protocol}: expected {m.expected}, got {m.got}"
                 + (f" ({m.claim})" if m.claim else "") for m in r.mismatches]
        ET.SubElement(suite, "system-err").text = _x("\n".join(lines))
    suite.set("tests", str(len(r.cells)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", f"{total:.3f}")
    return suite


# --- plain text, as the terminal shows it ----------------------------------------------------


def text(results: list[SeriesResult], profile: Profile) -> str:
    from checks import render

    return "\n".join([render.header(profile)] + [render.series_text(r) for r in results]) + "\n"


def render_format(fmt: str, results: list[SeriesResult], profile: Profile) -> str:
    from checks import render

    if fmt == "text":
        return text(results, profile)
    if fmt == "json":
        return render.dumps(render.to_json(results, profile)) + "\n"
    if fmt == "markdown":
        return markdown(results, profile)
    if fmt == "junit":
        return junit(results, profile)
    raise ValueError(f"unknown report format {fmt!r}; one of {', '.join(FORMATS)}")


# --- seriescheck verify --format ---------------------------------------------------------------


class _FormatAction(argparse.Action):
    """``--format FORMAT[=FILE]``, repeatable; at most one format on stdout, no file twice."""

    def __call__(self, parser, namespace, value, option_string=None):
        fmt, sep, path = value.partition("=")
        if fmt not in FORMATS:
            raise argparse.ArgumentError(self, f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}, "
                                               "optionally with =FILE (e.g. markdown=review.md)")
        if sep and not path:
            raise argparse.ArgumentError(self, f"{value!r} names no file after '='; give {fmt}=FILE, or {fmt} "
                                               "alone for stdout")
        target = None if not sep or path == "-" else path
        chosen = list(getattr(namespace, self.dest, None) or [])
        if target is None and any(t is None for _, t in chosen):
            raise argparse.ArgumentError(self, "only one format can go to stdout; give the others a file "
                                               "(e.g. --format junit=cells.xml)")
        if target is not None and any(t == target for _, t in chosen):
            raise argparse.ArgumentError(self, f"two formats are written to {target}; give each its own file")
        chosen.append((fmt, target))
        setattr(namespace, self.dest, chosen)


def add_report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", dest="formats", action=_FormatAction, default=[], metavar="FORMAT[=FILE]",
        help=f"also write the results as FORMAT ({'|'.join(FORMATS)}) to FILE, or to stdout without =FILE; "
             "repeatable, e.g. --format markdown=review.md --format junit=cells.xml. When a format other "
             "than text goes to stdout, the running text goes to stderr.")


def text_stream(args) -> TextIO:
    """Where the running text (header, matrices, findings) goes: stdout, unless another format
    claims it."""
    return sys.stderr if any(t is None and f != "text" for f, t in getattr(args, "formats", [])) else sys.stdout


def write_reports(args, results: list[SeriesResult], profile: Profile) -> None:
    """Write each ``--format``. Text without a file is what ``verify`` already printed as it ran."""
    for fmt, target in getattr(args, "formats", []):
        if fmt == "text" and target is None:
            continue
        doc = render_format(fmt, results, profile)
        if target is None:
            sys.stdout.write(doc)
            sys.stdout.flush()
        else:
            Path(target).write_text(doc, encoding="utf-8")


# --- progress on a terminal ---------------------------------------------------------------------


def progress_display(jobs: int | None = None, file: TextIO | None = None, label: str = "verify") -> Progress:
    """Progress on stderr (or ``file``): a live line on a terminal, else a log line every few seconds."""
    return Progress(label, jobs, file)
