"""Composition of steps: a step lays definitions over the kernel before it, and every way of
writing one wrongly is reported with the file (and line) to fix."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from checks.cell import CellTask, check_cell
from checks.profiles import get_profile
from checks.series import SeriesError, compose, load_series
from checks.verdicts import Status

QUICK = get_profile("smoke")


def write_series(tmp: Path, steps: dict[str, str], extra_toml: str = "") -> Path:
    d = tmp / "synthetic"
    d.mkdir()
    order = ", ".join(f'"{s}"' for s in steps)
    (d / "series.toml").write_text(f'name = "synthetic"\norder = [{order}]\n{extra_toml}')
    for sid, body in steps.items():
        (d / f"{sid}.py").write_text(textwrap.dedent(body))
    return d


STEP_HEADER = '''"""{subject}"""
from checks.series import Step
STEP = Step(subject="{subject}"{extra})
'''


def step(subject: str, body: str = "", extra: str = "") -> str:
    return STEP_HEADER.format(subject=subject, extra=extra) + textwrap.dedent(body)


def test_replacing_a_symbol_that_does_not_exist_names_file_and_line(tmp_path):
    d = write_series(tmp_path, {"s01_new": step("add a helper", "def brand_new_helper(k):\n    return 0\n")})
    with pytest.raises(SeriesError, match=r"s01_new\.py:4: replaces 'brand_new_helper'.*STEP.adds"):
        compose(load_series(str(d)))


def test_adding_a_symbol_that_exists_is_an_error(tmp_path):
    body = "def kernel_sendmsg(k, sock, msg, vec, num, size):\n    return 0\n"
    d = write_series(tmp_path, {"s01_dup": step("dup", body, ', adds=("kernel_sendmsg",)')})
    with pytest.raises(SeriesError, match="adds 'kernel_sendmsg', which already exists"):
        compose(load_series(str(d)))


def test_removing_a_missing_symbol_is_an_error(tmp_path):
    d = write_series(tmp_path, {"s01_rm": step("rm", "", ', removes=("no_such_symbol",)')})
    with pytest.raises(SeriesError, match="removes 'no_such_symbol'"):
        compose(load_series(str(d)))


def test_a_dependency_after_its_dependent_is_an_error(tmp_path):
    d = write_series(tmp_path, {"s01_a": step("a", "", ', depends=("s02",)'), "s02_b": step("b")})
    with pytest.raises(SeriesError, match="depends on s02 but comes before it"):
        load_series(str(d))


def test_missing_step_file_and_malformed_manifest(tmp_path):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "series.toml").write_text('name = "broken"\norder = ["s01_missing"]\n')
    with pytest.raises(SeriesError, match="s01_missing.py does not exist"):
        load_series(str(d))
    (d / "series.toml").write_text("name = \n")
    with pytest.raises(SeriesError, match="not valid TOML"):
        load_series(str(d))


def test_unknown_series_lists_the_known_ones():
    with pytest.raises(SeriesError, match="no such series.*v3.18"):
        load_series("no-such-series")


def test_a_step_that_fails_to_import_names_its_line(tmp_path):
    d = write_series(tmp_path, {"s01_bad": step("bad", "x = undefined_name\n")})
    with pytest.raises(SeriesError, match=r"s01_bad\.py:4: cannot load step: NameError"):
        load_series(str(d))


MSGHDR_WITHOUT_IOV = """
from dataclasses import dataclass
from model.kernel import NULL, Ptr


@dataclass(slots=True)
class msghdr:
    msg_name: Ptr = NULL
    msg_namelen: int = 0
    msg_control: Ptr = NULL
    msg_controllen: int = 0
    msg_flags: int = 0
"""


def test_removed_field_makes_reaching_cells_not_build(tmp_path):
    d = write_series(tmp_path, {"s01_drop_iov": step("drop msg_iov from msghdr", MSGHDR_WITHOUT_IOV)})
    series = load_series(str(d))
    c = compose(series)
    assert ("msghdr", "msg_iov") in c.removed_fields["s01_drop_iov"]
    task = CellTask("synthetic", str(d), "s01_drop_iov", "smb_send_kvec", "tcp")
    v = check_cell(task, c.images["s01_drop_iov"], c.removed_fields["s01_drop_iov"], QUICK)
    assert v.status == Status.DOES_NOT_BUILD
    assert "model/socket.py:" in v.evidence and "'struct msghdr' has no member named 'msg_iov'" in v.evidence


def test_replaced_helper_is_seen_by_every_caller(tmp_path):
    """Relinking: a step replacing kernel_sendmsg changes what smb_send_kvec calls."""
    body = "def kernel_sendmsg(k, sock, msg, vec, num, size):\n    return -32\n"
    d = write_series(tmp_path, {"s01_epipe": step("always fail", body)})
    c = compose(load_series(str(d)))
    task = CellTask("synthetic", str(d), "s01_epipe", "smb_send_kvec", "tcp")
    v = check_cell(task, c.images["s01_epipe"], frozenset(), QUICK)
    assert v.status == Status.BROKEN and "EPIPE" in v.evidence
    assert c.images["s01_epipe"].definitions["kernel_sendmsg"].label == "kernel_sendmsg@s01_epipe"
    assert c.images["v3.18"].definitions["kernel_sendmsg"].label == "kernel_sendmsg@v3.18"


def test_a_dependency_cycle_is_named(tmp_path):
    d = write_series(tmp_path, {"s01_a": step("a", "", ', depends=("s02",)'),
                                "s02_b": step("b", "", ', depends=("s01",)')})
    with pytest.raises(SeriesError, match="form a cycle: s01 -> s02 -> s01"):
        load_series(str(d))


def test_a_step_taken_from_a_sibling_series(tmp_path):
    """Two series that share a patch share its file: 'other/s01_x' in the order."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "s07_shared.py").write_text(step("shared patch", "USER_TWIN = 7\n", ', adds=("USER_TWIN",)'))
    d = write_series(tmp_path, {"s01_local": step("local")}, "")
    toml = (d / "series.toml").read_text().replace('order = ["s01_local"]', 'order = ["s01_local", "other/s07_shared"]')
    (d / "series.toml").write_text(toml)
    c = compose(load_series(str(d)))
    assert c.images["s07_shared"].definitions["USER_TWIN"].obj == 7


def test_a_model_stuck_in_a_loop_is_unknown_not_a_pass(tmp_path):
    """A user that spins without calling the socket: the search times out and says so."""
    body = ("def smb_send_kvec(k, server, iov, n_vec, sent):\n"
            "    while True:\n"
            "        pass\n")
    d = write_series(tmp_path, {"s01_spin": step("cifs: spin", body)})
    c = compose(load_series(str(d)))
    profile = dataclasses.replace(get_profile("smoke"), exhaustive_timeout=1.0)
    task = CellTask("synthetic", str(d), "s01_spin", "smb_send_kvec", "tcp")
    v = check_cell(task, c.images["s01_spin"], frozenset(), profile)
    assert v.status == Status.UNKNOWN and "timeout" in v.evidence
