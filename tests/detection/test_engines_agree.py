"""The exhaustive engine (each distinct execution once) against the previous one (every whole
input), on the same model and bounds: for every distinct cell of every series, the same verdict and
a first counterexample of the same class. Plus the properties that make the new engine's CONFIRMED
mean what the old one's did: every execution it runs is replayed by its own script, and every whole
input's run is one of its executions.
"""

from __future__ import annotations

import pytest

from checks.cell import PRIMITIVE, all_users, reach
from checks.engines import enumerate as enumeration
from checks.engines import exhaustive
from checks.harness import CellInput, run_cell
from checks.matrix import cell_tasks
from checks.profiles import Bounds
from checks.series import all_series, compose, load_series
from checks.verdicts import Status

SMALL = Bounds(max_segs=2, max_seg_len=2, max_windows=1, max_room=2)
LARGER = Bounds(max_segs=2, max_seg_len=2, max_windows=2, max_room=2)

# How a failure reads, by its first words: the class of a counterexample.
CLASSES = ("reported success", "reported error", "oops", "livelock", "took", "failed", "caller returned")


def failure_class(text: str) -> str:
    return next((c for c in CLASSES if text.startswith(c)), text.split(":", 1)[0])


def distinct_cells():
    """(label, image, user, protocol) for every distinct user cell of every series: cells whose user
    reaches the same definitions are one. Computed from the series alone (no state shared with other
    test modules), so every pytest-xdist worker collects the same tests."""
    seen, cells = set(), []
    for path in all_series():
        s = load_series(str(path))
        composed = compose(s)
        for t in cell_tasks(s):
            if t.user.startswith(PRIMITIVE):
                continue
            image = composed.images[t.step]
            user = all_users()[t.user]
            reached = frozenset((n, image.definitions[n].origin) for n in reach(image, user, t.protocol)
                                if n in image.definitions)
            if (t.user, t.protocol, reached) in seen:
                continue
            seen.add((t.user, t.protocol, reached))
            cells.append((f"{s.name}:{t.step.split('_', 1)[0]}:{t.user}/{t.protocol}", image, user, t.protocol))
    return cells


CELLS = distinct_cells()


def _agree(image, user, proto, bounds):
    new = exhaustive.search(image, user, proto, bounds)
    old = enumeration.search(image, user, proto, bounds)
    assert new.status == old.status, f"{new.detail} / {old.detail}"
    if new.status == Status.BROKEN:
        assert failure_class(new.detail) == failure_class(old.detail), f"{new.detail} / {old.detail}"
    assert new.explored <= old.explored  # never more runs than whole inputs


@pytest.mark.parametrize(("image", "user", "proto"), [c[1:] for c in CELLS], ids=[c[0] for c in CELLS])
def test_same_verdict_as_the_previous_engine(image, user, proto):
    _agree(image, user, proto, SMALL)


@pytest.mark.slow
@pytest.mark.parametrize(("image", "user", "proto"), [c[1:] for c in CELLS], ids=[c[0] for c in CELLS])
def test_same_verdict_as_the_previous_engine_two_windows(image, user, proto):
    _agree(image, user, proto, LARGER)


@pytest.mark.parametrize("name", ["smb_send_kvec", "iscsit_do_rx_data", "drbd_send", "sock_no_sendpage"])
def test_every_execution_replays_from_its_script_and_covers_every_input(v318, name):
    """Each execution's script replays it exactly; each whole input's observation is one of theirs."""
    user = all_users()[name]
    proto = user.protocols[0]
    seen = {}
    for inp, obs in exhaustive.executions(v318, user, proto, LARGER):
        again = run_cell(v318, user, proto, inp)
        assert (again.rc, again.got, again.failure) == (obs.rc, obs.got, obs.failure), inp.describe()
        seen[(inp.segs, inp.mode, inp.script)] = obs
    assert len(seen) > 1
    for inp in enumeration.all_inputs(LARGER, user):
        obs = run_cell(v318, user, proto, inp)
        matching = [o for (segs, mode, script), o in seen.items()
                    if segs == inp.segs and mode == inp.mode and _replays(script, inp.script)]
        assert any((o.rc, o.got, o.failure) == (obs.rc, obs.got, obs.failure) for o in matching), inp.describe()


def _replays(executed: tuple, whole: tuple) -> bool:
    """Could the execution with script ``executed`` be the run of the whole script ``whole``? The
    rooms it read are a prefix of the whole script's (its endings may be unread defaults)."""
    return len(executed) <= len(whole) and all(e[0] == w[0] for e, w in zip(executed, whole, strict=False))


def test_planted_defect_found_by_both_with_the_same_class(v318):
    """iscsit_do_tx_data re-sends from the start of its kvec after a short send (v3.18 itself)."""
    user = all_users()["iscsit_do_tx_data"]
    new = exhaustive.search(v318, user, "tcp", SMALL)
    old = enumeration.search(v318, user, "tcp", SMALL)
    assert new.status == old.status == Status.BROKEN
    assert failure_class(new.detail) == failure_class(old.detail) == "reported error"
    replay = run_cell(v318, user, "tcp", CellInput.from_json(new.counterexample))
    assert not replay.holds
