"""The command line under fuzzing (issue 10): Hypothesis makes up arguments, manifests, step files and
replay inputs, and every invocation must end with an exit code the README documents, meaning what
the README says it means, and never with a traceback.

* 0, 1, 3: the run judged something: ``verify``/``check`` print whether the series matches its
  manifest (1: it contradicts; 3: some cell is UNKNOWN), ``replay`` whether the contract holds;
* 2: bad input or usage, said in one line on stderr (argparse's usage errors end in one ``error:``
  line too);
* any other exception out of ``checks.cli.main`` fails the test with its traceback.

Runs in-process through ``checks.cli.main`` with the smoke profile, one worker and a private cache,
each test a bounded number of examples from a fixed seed; about 30 s on 2 cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.cli import main

SMOKE = ["--profile", "smoke", "--no-crosshair", "--jobs", "1"]
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.nested_given])  # verify runs the Hypothesis engine inside


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: a usage error (2) or --help (0)
            code = e.code
    return code, out.getvalue(), err.getvalue()


def assert_documented(argv: list[str], code: int, out: str, err: str) -> None:
    """The exit code is one of the README's and says what the README says."""
    shown = f"argv={argv!r}\nexit {code}\nstdout: {out[-1500:]}\nstderr: {err[-1500:]}"
    assert "Traceback" not in out + err, shown
    assert code in (0, 1, 2, 3), shown
    if code == 2:
        lines = [line for line in err.strip().splitlines() if not line.startswith("[")]  # not progress lines
        assert lines and "error:" in lines[-1], shown
        if lines[0].startswith("seriescheck: error:"):
            assert len(lines) == 1, shown
        return
    command = argv[0]
    if command == "replay":
        assert code in (0, 1), shown
        assert ("the contract holds" if code == 0 else "FAILS") in out, shown
    elif command in ("show", "versions", "impact", "relies", "list", "users"):
        assert code == 0, shown  # they report; only bad input fails them
    elif command == "order":
        assert code in (0, 1) and ("safe" in out or "UNSAFE" in out or "no order" in out), shown
    elif command in ("verify", "check"):
        text = out + err  # with --json - the running text is on stderr
        if code == 0:
            assert "matches its manifest" in text and "CONTRADICTS" not in text, shown
        elif code == 1:
            assert "CONTRADICTS its manifest" in text, shown
        else:
            assert "UNKNOWN" in text and "CONTRADICTS" not in text, shown


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Runs happen here: a stray ``--json WORD`` writes WORD here, not into the repository."""
    d = tmp_path_factory.mktemp("fuzz")
    before = os.getcwd()
    os.chdir(d)
    yield d
    os.chdir(before)


# --- arguments ----------------------------------------------------------------------------------

def _tiny_series(workdir: Path) -> str:
    d = workdir / "tiny"
    if not d.exists():
        d.mkdir()
        (d / "series.toml").write_text('name = "tiny"\norder = []\nusers = ["smb_send_kvec"]\n')
    return str(d)


GARBAGE = st.sampled_from(["", "-", "--", "-x", "--bogus", "nobody", "s99", "s0", "💥", "a" * 300, "../..", "*",
                           "v3.18", "s01", "s06", "tcp", "udp", "-1", "0", "1e9", "--json", "--order"])
SERIES = st.sampled_from(["v3.18", "iscsi-stable", "no-such-series", "", "../series", "💥", "a" * 5000])
STEPS = st.sampled_from(["v3.18", "s01", "s06", "s01_iscsi_target_fail", "s99", "", "-"])
USERS = st.sampled_from(["smb_send_kvec", "iscsit_do_tx_data", "nobody", "primitive:csum_partial", "primitive:x"])
PROTOCOLS = st.sampled_from(["tcp", "udp", "-", "carrier-pigeon"])


@st.composite
def command_lines(draw, workdir: Path) -> list[str]:
    command = draw(st.sampled_from(["verify", "check", "replay", "show", "versions", "impact", "order", "relies",
                                    "list", "users", "bogus"]))
    tiny = _tiny_series(workdir)
    if command == "verify":
        argv = ["verify", draw(st.sampled_from([tiny, "no-such-series", "💥"])), *SMOKE, "--user", "smb_send_kvec"]
        argv += draw(st.sampled_from([[], [], [], ["--json", "-"], ["--json", str(workdir / "no" / "dir.json")],
                                      ["--json", str(workdir)], ["--format", "markdown"],
                                      ["--format", f"junit={workdir}/no/x.xml"], ["--json", "-", "--format", "junit"],
                                      ["--protocol", "udp"], ["--jobs", "-1"], ["--profile", "turbo"]]))
    elif command == "check":
        argv = ["check", draw(st.sampled_from([tiny, tiny, "iscsi-stable", "nope"])),
                draw(st.sampled_from(["v3.18", "v3.18", "s01"]) | STEPS), *SMOKE,
                "--user", draw(st.sampled_from(["smb_send_kvec", "nobody"]))]
        argv += draw(st.sampled_from([[], ["--json", "-"], ["--no-cache"], ["--json", str(workdir)]]))
    elif command == "replay":
        argv = ["replay", draw(SERIES), draw(STEPS), draw(USERS), draw(PROTOCOLS),
                "--input", draw(st.sampled_from(['{"segs":[2]}', '{"segs":[1000000000]}', "{", "[]", "null",
                                                 '{"len":1,"align":0,"csum":0}']))]
        argv += draw(st.sampled_from([[], ["--order", "s01"], ["--order", ""], ["--order", "s01,s01"]]))
    elif command in ("show", "impact"):
        argv = [command, draw(st.sampled_from(["iscsi-stable", "v3.18", "nope"])), draw(STEPS)]
        argv += ["--no-behaviour", *SMOKE] if command == "show" else []
    elif command == "versions":
        argv = ["versions", draw(SERIES), draw(st.sampled_from(["tcp_sendmsg", "nothing", ""]))]
    elif command == "order":
        argv = ["order", draw(st.sampled_from([tiny, "nope"])), *SMOKE]
        argv += draw(st.sampled_from([[], ["--search"], ["--order", "s01"], ["--order", ""]]))
    elif command == "relies":
        argv = ["relies", *SMOKE, "--user", draw(st.sampled_from(["smb_send_kvec", "nobody", "sock_xmit:recv",
                                                                   "xs_udp_send_request"]))]
    elif command == "users":
        argv = ["users", draw(USERS)] + draw(st.sampled_from([[], ["--series", "v3.18"], ["--series", "nope"]]))
        argv += draw(st.sampled_from([[], ["--step", "s01"], ["--step", "v3.18"]]))
    else:
        argv = [command]
    # and now and then something that does not belong, anywhere
    extra = draw(st.lists(GARBAGE, max_size=2)) if draw(st.integers(0, 3)) == 0 else []
    for word in extra:
        argv.insert(draw(st.integers(1, len(argv))), word)
    return argv


@FUZZ
@given(data=st.data())
def test_no_argument_list_ends_in_a_traceback_or_an_undocumented_exit(workdir, data):
    argv = data.draw(command_lines(workdir))
    code, out, err = run(argv)
    assert_documented(argv, code, out, err)


# --- replay inputs ------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12)
ENDINGS = st.sampled_from(["ok", "signal", "error", "eof", "timeout"])
VALID_ISH = st.fixed_dictionaries(
    {"segs": st.lists(st.integers(0, 4), min_size=1, max_size=3)},
    optional={"script": st.lists(st.tuples(st.integers(0, 3), ENDINGS).map(list), max_size=3),
              "mode": st.sampled_from(["default", "blocking", "noblocksnd"])})
NEAR_VALID = st.fixed_dictionaries(
    {"segs": st.lists(st.integers(-3, 5000), max_size=5) | JSON},
    optional={"script": st.lists(st.tuples(st.integers(-2, 10), ENDINGS | st.sampled_from(["later", ""]))
                                 .map(list), max_size=4) | JSON,
              "mode": st.sampled_from(["default", "blocking", "noblocksnd", "more", "turbo", ""]) | JSON})


OWN_PROTOCOL = {"smb_send_kvec": "tcp", "iscsit_do_tx_data": "tcp", "iscsit_do_rx_data": "tcp",
                "xs_udp_send_request": "udp"}


@FUZZ
@given(user=st.sampled_from(sorted(OWN_PROTOCOL)), other=st.sampled_from(["tcp", "udp", "unix", None, None, None]),
       inp=st.one_of(VALID_ISH, VALID_ISH, VALID_ISH, NEAR_VALID, JSON))
def test_replay_refuses_every_input_that_is_not_one_and_judges_the_rest(user, other, inp):
    proto = other or OWN_PROTOCOL[user]
    argv = ["replay", "v3.18", "v3.18", user, proto, "--input", json.dumps(inp)]
    code, out, err = run(argv)
    assert_documented(argv, code, out, err)
    if code in (0, 1):  # it ran: so it was a cell input of this user over this protocol
        assert isinstance(inp, dict) and set(inp) <= {"segs", "script", "mode"}
        assert inp["segs"] and all(isinstance(n, int) and 0 <= n <= 4096 for n in inp["segs"])
        assert all(w[0] >= 0 for w in inp.get("script", []))


# --- manifests and step files ---------------------------------------------------------------------

def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


SCALAR = st.integers(-5, 5) | st.booleans() | st.sampled_from(["", "x", "s01", "v3.18", "*", "v3.18..s01",
                                                              "s01..v3.18"])
STEP_REF = st.sampled_from(["v3.18", "s01", "s01_step", "*", "v3.18..s01", "s02", "s01..v3.18"]) | st.integers(0, 2)
EXPECTED = st.fixed_dictionaries({}, optional={
    "step": STEP_REF,
    "user": st.sampled_from(["smb_send_kvec", "smb_send_rqst", "nobody", "primitive:csum_partial"]) | SCALAR,
    "protocol": st.sampled_from(["tcp", "tpc", "udp", "-"]) | SCALAR,
    "status": st.sampled_from(["BROKEN", "CONFIRMED", "NOT_REFUTED", "UNKNOWN", "DOES_NOT_BUILD", "broken"]) | SCALAR,
    "claim": st.text(max_size=5) | SCALAR,
    "accept": st.booleans() | SCALAR,
})

def expected_good(steps: list[str]):
    return st.fixed_dictionaries(
        {"step": st.sampled_from(steps), "user": st.just("smb_send_kvec"),
         "protocol": st.just("tcp"), "status": st.sampled_from(["BROKEN", "CONFIRMED", "DOES_NOT_BUILD"])},
        optional={"claim": st.text(max_size=5), "accept": st.booleans()})

STEP_FILES = {
    "adds": 'X_NOTHING = 1\n',
    "claims success": "def smb_send_kvec(k, server, iov, n_vec, sent):\n    sent[0] = 0\n    return 0\n",
    "exits at import": "sys.exit(0)\n",
    "exits inside": "def smb_send_kvec(k, server, iov, n_vec, sent):\n    sys.exit(3)\n",
    "interrupts inside": "def smb_send_kvec(k, server, iov, n_vec, sent):\n    raise KeyboardInterrupt\n",
    "loops through the kernel": "def smb_send_kvec(k, server, iov, n_vec, sent):\n    while True:\n"
                                "        k.get_fs()\n",
    "raises": "def smb_send_kvec(k, server, iov, n_vec, sent):\n    return [][1]\n",
    "replaces nothing": "def no_such_symbol(k):\n    return 0\n",
    "syntax error": "def (:\n",
}


@st.composite
def series_folders(draw, workdir: Path) -> Path:
    d = Path(tempfile.mkdtemp(dir=workdir))  # a fresh path: loaded steps are cached by file
    with_step = draw(st.booleans())
    good = draw(st.integers(0, 2)) > 0  # mostly a manifest that loads, so the runs get judged too
    own = ["s01_step"] if with_step else []
    meta = {
        "name": "fuzz" if good else draw(st.sampled_from(["fuzz", ""]) | SCALAR),
        "order": own if good else draw(st.sampled_from([own, [], ["s01_step", "s01_step"], ["../x"]])
                                       | st.lists(SCALAR, max_size=2)),
        "users": draw(st.sampled_from([["smb_send_kvec"], ["smb_send_kvec", "smb_send_rqst"]])) if good else
        draw(st.sampled_from([["smb_send_kvec"], [], ["nobody"]]) | SCALAR),
    }
    meta = {k: v for k, v in meta.items() if good or draw(st.integers(0, 9))}  # now and then a key is missing
    text = "".join(f"{k} = {toml_value(v)}\n" for k, v in meta.items())
    if not good and draw(st.booleans()):
        text += draw(st.sampled_from(["expected = 5\n", "expected = [1]\n", "expected = \"x\"\n"]))
    else:
        refs = ["v3.18", "*", "s01", "v3.18..s01"] if with_step else ["v3.18", "*"]
        for e in draw(st.lists(expected_good(refs) if good else EXPECTED, max_size=2 if good else 3)):
            text += "[[expected]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in e.items())
    raw = text.encode()
    if not good and draw(st.integers(0, 4)) == 0:
        raw = raw.replace(b"=", b"= \xff", 1) if draw(st.booleans()) else raw + b"[[[ not toml"
    (d / "series.toml").write_bytes(raw)
    if with_step:
        kind = draw(st.sampled_from(sorted(STEP_FILES)))
        adds = ', adds=("X_NOTHING",)' if kind == "adds" else ""
        body = (f'"""cifs: {kind}"""\nimport sys\n\nfrom checks.series import Step\n\n'
                f'STEP = Step(subject="cifs: {kind}"{adds})\n\n\n' + STEP_FILES[kind])
        data = body.encode()
        if draw(st.integers(0, 9)) == 0:
            data = data.replace(b"cifs", b"cifs \xe9", 1)
        (d / "s01_step.py").write_bytes(data)
    return d


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_no_manifest_or_step_ends_in_a_traceback_or_an_undocumented_exit(workdir, data):
    d = data.draw(series_folders(workdir))
    argv = ["verify", str(d), *SMOKE, "--user", "smb_send_kvec"]
    code, out, err = run(argv)
    assert_documented(argv, code, out, err)
    step = d / "s01_step.py"
    if step.exists() and any(w in step.read_bytes() for w in (b"sys.exit", b"KeyboardInterrupt")):
        assert code != 0, "model code that exits or interrupts must never end a run as a pass"
