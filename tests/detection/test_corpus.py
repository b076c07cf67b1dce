"""The combined checker finds every planted defect of the corpus (tests/detection/corpus.py) in
the quick profile, CrossHair off: each (defect, cell) is a test that fails if the cell is not
BROKEN or DOES_NOT_BUILD. A counterexample must fail on the planted image and hold on the clean
one: the defect, not the input, is at fault.

The defects the quick exhaustive bounds cannot reach (``LIMITS``) are checked to stay out of
reach, and the mutations nothing catches (``UNCAUGHT``) to stay uncaught: either changing is news
(a defect to move to ``CORPUS``). About 15 s on 2 cores with -n 2.
"""

from __future__ import annotations

import collections

import pytest

from checks.callgraph import build_errors
from checks.cell import PRIMITIVE, CellTask, all_users, check_cell, reach
from checks.engines import exhaustive
from checks.harness import CellInput, run_cell
from checks.primitives import check_primitive, replay_primitive
from checks.profiles import get_profile
from checks.verdicts import Status
from tests.detection.corpus import CORPUS, KINDS, LIMITS, UNCAUGHT, Defect, split_cell

QUICK = get_profile("quick", crosshair=False)


def _cases(defects: tuple[Defect, ...]) -> list:
    return [pytest.param(d, cell, id=f"{d.id}[{cell}]") for d in defects for cell in d.cells]


def _task(d: Defect, user: str, proto: str) -> CellTask:
    return CellTask(d.series, d.series, d.clean().name, user, proto)


@pytest.mark.parametrize(("defect", "cell"), _cases(CORPUS))
def test_combined_checker_catches(defect: Defect, cell: str):
    user, proto = split_cell(cell)
    image = defect.image()
    v = check_cell(_task(defect, user, proto), image, defect.removed_fields(), QUICK)
    assert v.status in (Status.BROKEN, Status.DOES_NOT_BUILD), (
        f"{defect.id} ({defect.kind}: {defect.description}) slipped through {cell} at {defect.where}: "
        f"{v.status.name} {v.evidence}")
    clean = defect.clean()
    if v.status == Status.DOES_NOT_BUILD:
        # the clean step builds: it is the planted definition that reaches what is gone
        if user.startswith(PRIMITIVE):
            return
        u = all_users()[user]
        assert not build_errors(clean, reach(clean, u, proto), defect.removed_fields(), (u.entry,))
        run_cell(clean, u, proto, CellInput((1,)))  # no DoesNotBuild at run time either
        return
    inp = v.counterexample.input
    if user.startswith(PRIMITIVE):
        name = user[len(PRIMITIVE):]
        assert replay_primitive(image, name, inp) is not None
        assert replay_primitive(clean, name, inp) is None, f"{cell} fails at {inp} without the defect"
    else:
        u = all_users()[user]
        assert not run_cell(image, u, proto, CellInput.from_json(inp)).holds
        assert run_cell(clean, u, proto, CellInput.from_json(inp)).holds, f"{cell} fails at {inp} without the defect"
        assert v.replay and "seriescheck replay" in v.replay


@pytest.mark.parametrize(("defect", "cell"), _cases(LIMITS))
def test_limit_is_out_of_quick_exhaustive_reach(defect: Defect, cell: str):
    """Documented limits stay limits: if the quick bounds now reach one, move it to CORPUS."""
    user, proto = split_cell(cell)
    if user.startswith(PRIMITIVE):
        run = check_primitive(defect.image(), user[len(PRIMITIVE):], QUICK.exhaustive)
    else:
        run = exhaustive.search(defect.image(), all_users()[user], proto, QUICK.exhaustive)
    assert run.status == Status.CONFIRMED, f"{defect.id} is now caught in {cell}: move it to CORPUS ({run.detail})"


@pytest.mark.parametrize(("defect", "cell"), _cases(UNCAUGHT))
def test_uncaught_mutation_is_still_uncaught(defect: Defect, cell: str):
    """Equivalent mutants and model gaps: if one is caught now, the contract or the model changed."""
    user, proto = split_cell(cell)
    v = check_cell(_task(defect, user, proto), defect.image(), defect.removed_fields(), QUICK)
    assert v.status == Status.CONFIRMED, f"{defect.id} is now {v.status.name} in {cell}: {v.evidence}"


def test_corpus_is_broad():
    """At least 40 defects, every kind used, primitives, several protocols, users and series steps."""
    assert len(CORPUS) >= 40
    assert {d.kind for d in CORPUS} == set(KINDS)
    cells = [c for d in CORPUS for c in d.cells]
    protocols = {split_cell(c)[1] for c in cells} - {"-"}
    assert {"tcp", "udp", "unix", "netlink", "l2cap"} <= protocols
    assert len({c for c in cells if c.startswith(PRIMITIVE)}) >= 8
    assert len({split_cell(c)[0] for c in cells if not c.startswith(PRIMITIVE)}) >= 15
    steps = collections.Counter((d.series, d.step) for d in CORPUS if d.series != "v3.18")
    assert len(steps) >= 8 and {s for s, _ in steps} >= {"as-merged", "iov_iter-net"}
    ids = [d.id for d in CORPUS + LIMITS + UNCAUGHT]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("defect", CORPUS + LIMITS + UNCAUGHT, ids=lambda d: d.id)
def test_defect_replaces_a_symbol_of_its_image_and_names_real_cells(defect: Defect):
    assert defect.symbol in defect.clean(), f"{defect.symbol} is not a symbol at {defect.where}"
    assert defect.fn.__doc__ and defect.description
    for cell in defect.cells:
        user, proto = split_cell(cell)
        if not user.startswith(PRIMITIVE):
            assert proto in all_users()[user].protocols, cell
