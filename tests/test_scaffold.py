"""``seriescheck new`` and ``seriescheck users``: a series written in a temporary folder from the
scaffold and the documented format only (docs/series-format.md), then verified and ordered.

The series: s01 makes kernel_recvmsg() hand the protocol a copy of the caller's kvec array (the
iSCSI target's receive loop, which relies on the kvec being consumed, then reads the first bytes
again); s02 makes iscsit_do_rx_data() advance by hand. Only s02 first is safe.
"""

from __future__ import annotations

import json
import tomllib

import pytest

from checks.cli import main
from tests.test_order import RX_BY_HAND, RX_LEAVES

SMOKE = ["--profile", "smoke", "--no-crosshair", "--jobs", "1"]


def test_a_fresh_scaffold_verifies_and_is_not_overwritten(tmp_path, capsys):
    path = str(tmp_path / "fresh")
    assert main(["new", path]) == 0
    manifest = tomllib.loads((tmp_path / "fresh" / "series.toml").read_text())
    assert manifest["order"] == ["s01_first_change"]
    inherited = {(e["user"], e["protocol"], e["step"]) for e in manifest["expected"]}
    assert ("iscsit_do_tx_data", "tcp", "*") in inherited  # the base kernel's known breaks, at every step
    assert main(["verify", path, *SMOKE]) == 0
    capsys.readouterr()
    before = (tmp_path / "fresh" / "series.toml").read_text()
    assert main(["new", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err
    assert (tmp_path / "fresh" / "series.toml").read_text() == before


def write_rx_series(folder) -> None:
    """What the documented steps say to do: write the patch into the first step file, add a second
    from the template, list both in ``order``, restrict ``users``, record the expected break."""
    (folder / "s01_first_change.py").write_text(RX_LEAVES)
    (folder / "s02_rx_by_hand.py").write_text(RX_BY_HAND)
    text = (folder / "series.toml").read_text()
    text = text.replace('order = [\n    "s01_first_change",\n]',
                        'order = ["s01_first_change", "s02_rx_by_hand"]\nusers = ["iscsit_do_rx_data"]')
    text += ('\n[[expected]]\nstep = "s01"\nuser = "iscsit_do_rx_data"\nprotocol = "tcp"\nstatus = "BROKEN"\n'
             'claim = "kernel_recvmsg() no longer consumes the caller\'s kvec: the loop reads into its start again"\n')
    (folder / "series.toml").write_text(text)


def test_a_series_written_from_the_scaffold_verifies_and_orders(tmp_path, capsys):
    folder = tmp_path / "rx"
    assert main(["new", str(folder)]) == 0
    write_rx_series(folder)
    assert main(["verify", str(folder), *SMOKE]) == 0
    out = capsys.readouterr().out
    assert "s01 iscsit_do_rx_data/tcp BROKEN" in out and "series rx matches its manifest" in out
    assert main(["order", str(folder), *SMOKE, "--json", str(tmp_path / "o.json")]) == 1
    doc = json.loads((tmp_path / "o.json").read_text())
    assert [(c["after"], c["before"]) for c in doc["review"]["constraints"]] == [("s01", "s02")]
    assert main(["order", str(folder), "--search", *SMOKE]) == 0
    assert "safe order: s02,s01" in capsys.readouterr().out


def test_new_with_a_base_shares_its_steps_and_carries_its_breaks(tmp_path, capsys):
    base = tmp_path / "rx"
    assert main(["new", str(base)]) == 0
    write_rx_series(base)
    assert main(["new", str(tmp_path / "next"), "--base", str(base)]) == 0
    manifest = tomllib.loads((tmp_path / "next" / "series.toml").read_text())
    assert manifest["order"] == ["rx/s01_first_change", "rx/s02_rx_by_hand", "s03_first_change"]
    assert manifest["users"] == ["iscsit_do_rx_data"]
    steps = {(e["user"], e["step"]) for e in manifest["expected"]}
    assert ("iscsit_do_rx_data", "s01") in steps and ("iscsit_do_tx_data", "*") in steps
    assert main(["verify", str(tmp_path / "next"), *SMOKE]) == 0


def test_new_refuses_a_base_it_cannot_share_from_elsewhere(tmp_path, capsys):
    base = tmp_path / "a" / "rx"
    base.parent.mkdir()
    assert main(["new", str(base)]) == 0
    write_rx_series(base)
    assert main(["new", str(tmp_path / "b"), "--base", str(base)]) == 2
    assert "must sit beside it" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("args", [["users", "nobody"], ["users", "iscsit_do_rx_data", "--step", "s01"]])
def test_users_refuses_bad_input(args, capsys):
    assert main(args) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_users_shows_entry_file_protocols_and_what_a_step_changes(tmp_path, capsys):
    folder = tmp_path / "rx"
    main(["new", str(folder)])
    write_rx_series(folder)
    capsys.readouterr()
    assert main(["users", "iscsit_do_rx_data", "--series", str(folder), "--step", "s02"]) == 0
    out = capsys.readouterr().out
    assert "iscsit_do_rx_data (recv): drivers/target/iscsi/iscsi_target_util.c" in out
    assert "cell enters: model.users.iscsi_target_util._recv_pdu" in out and "k.rx_data" in out
    assert "changed by the series: iscsit_do_rx_data@s02_rx_by_hand, kernel_recvmsg@s01_first_change" in out


@pytest.mark.parametrize("name", ["a b", "a:b", "über"])
def test_new_refuses_a_name_that_is_not_a_series_name(name, capsys):
    assert main(["new", name]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_order_refuses_an_unwritable_output_before_running(tmp_path, capsys):
    folder = tmp_path / "rx"
    main(["new", str(folder)])
    capsys.readouterr()
    assert main(["order", str(folder), *SMOKE, "--json", str(tmp_path / "no" / "such" / "o.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "cannot write there" in captured.err
