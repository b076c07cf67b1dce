"""The Hypothesis engine (checks/hypothesis_engine.py), plain and with its CrossHair backend.

Finds: iscsit_do_tx_data's re-send, replayed concretely; a planted primitive defect outside the
quick exhaustive bounds. Holds: a correct cell is NOT_REFUTED, never CONFIRMED. Repeats: the
same seed gives the same examples. About 5 s.
"""

from __future__ import annotations

import pytest

from checks.cell import all_users
from checks.engines import hypothesis as he
from checks.harness import CellInput, run_cell
from checks.primitives import replay_primitive
from checks.profiles import get_profile
from checks.verdicts import Status
from model.kernel import DoesNotBuild
from tests.detection.corpus import by_id

QUICK = get_profile("quick")


def _search(image, user: str, backend: str = "hypothesis", **kw):
    return he.search(image, all_users()[user], "tcp", QUICK.crosshair, QUICK, backend=backend, **kw)


@pytest.mark.parametrize("backend", ["hypothesis", "crosshair"])
def test_finds_iscsit_do_tx_data_resend_and_replays_it(v318, backend):
    run = _search(v318, "iscsit_do_tx_data", backend)
    assert run.engine == he.BACKENDS[backend]
    assert run.status == Status.BROKEN, run.detail
    assert "not a prefix" in run.detail
    assert run.seconds_to_counterexample is not None and run.seconds_to_counterexample <= run.seconds
    assert not run_cell(v318, all_users()["iscsit_do_tx_data"], "tcp", CellInput.from_json(run.counterexample)).holds


def test_a_correct_cell_is_not_refuted_never_confirmed(v318):
    run = _search(v318, "smb_send_kvec", max_examples=200)
    assert run.status == Status.NOT_REFUTED, run.detail
    assert run.explored >= 200 and "200 examples" in run.detail and f"seed {he.SEED}" in run.detail


def test_same_seed_same_search(v318):
    a, b = (_search(v318, "smb_send_rqst", seed=7) for _ in range(2))
    assert a.status == b.status == Status.BROKEN
    assert (a.explored, a.counterexample) == (b.explored, b.counterexample)


def test_primitive_defect_beyond_the_exhaustive_bounds():
    d = by_id("csum-copy-remnant-source")
    run = he.search_primitive(d.image(), "csum_partial_copy_fromiovecend", QUICK.crosshair, QUICK,
                               max_examples=1000)
    assert run.status == Status.BROKEN, run.detail
    assert replay_primitive(d.image(), "csum_partial_copy_fromiovecend", run.counterexample) == run.detail
    assert replay_primitive(d.clean(), "csum_partial_copy_fromiovecend", run.counterexample) is None
    clean = he.search_primitive(d.clean(), "csum_partial_copy_fromiovecend", QUICK.crosshair, QUICK,
                                max_examples=300)
    assert clean.status == Status.NOT_REFUTED, clean.detail


def test_a_missing_field_is_does_not_build():
    d = by_id("s06-skb-copy-msg-iov")
    with pytest.raises(DoesNotBuild):
        _search(d.image(), "iscsit_do_rx_data")


def test_unknown_backend_is_an_error(v318):
    with pytest.raises(he.UnknownBackend):
        _search(v318, "smb_send_kvec", backend="z3")


def test_budget_comes_from_the_profile():
    from dataclasses import replace

    assert he.budget(replace(QUICK, hypothesis_max_examples=7), "hypothesis") == 7
    assert he.budget(replace(QUICK, hypothesis_crosshair_max_examples=3), "crosshair") == 3
