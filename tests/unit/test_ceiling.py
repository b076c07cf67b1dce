"""No hang: a step that loops forever only on inputs beyond the exhaustive bounds (where Hypothesis
and CrossHair look) ends as UNKNOWN (timeout) at the cell's wall-time ceiling, never as a pass and
never as a hang, whichever engine meets the loop."""

from __future__ import annotations

from dataclasses import replace

import pytest

import model.users.cifs_transport as cifs
from checks.cell import CellTask, check_cell
from checks.profiles import Bounds, get_profile
from checks.verdicts import Status
from tests.conftest import plant

SMALL = Bounds(max_segs=1, max_seg_len=2, max_windows=1, max_room=2)
LARGER = Bounds(max_segs=3, max_seg_len=4, max_windows=2, max_room=4)


def smb_send_kvec_spins_on_long_messages(k, server, iov, n_vec, sent):
    """Planted: a loop that never ends once the message is longer than 2 bytes (beyond SMALL)."""
    total = sum(k.mem.elem(iov + i).iov_len for i in range(n_vec))
    while total > 2:
        pass
    return cifs.smb_send_kvec(k, server, iov, n_vec, sent)


@pytest.mark.parametrize("engine", ["hypothesis", "crosshair"])
def test_a_loop_beyond_the_bounds_is_unknown_at_the_ceiling(v318, engine):
    image = plant(v318, "smb_send_kvec", smb_send_kvec_spins_on_long_messages)
    profile = replace(get_profile("quick"), exhaustive=SMALL, crosshair=LARGER, cell_timeout=3.0,
                      hypothesis_enabled=engine == "hypothesis", crosshair_enabled=engine == "crosshair",
                      crosshair_max_iterations=1000)
    task = CellTask("v3.18", "series/v3.18", "v3.18", "smb_send_kvec", "tcp")
    v = check_cell(task, image, frozenset(), profile)
    assert v.status == Status.UNKNOWN, v.evidence
    assert "timeout" in v.evidence and "cell ceiling" in v.evidence
    assert [e.engine for e in v.engines][:2] == ["exhaustive", "exhaustive-sabotaged"]  # those held


def test_the_same_step_holds_within_the_bounds(v318):
    """The loop is out of the exhaustive bounds: without the larger-scope engines the cell holds."""
    image = plant(v318, "smb_send_kvec", smb_send_kvec_spins_on_long_messages)
    profile = replace(get_profile("quick"), exhaustive=SMALL, hypothesis_enabled=False, crosshair_enabled=False)
    v = check_cell(CellTask("v3.18", "series/v3.18", "v3.18", "smb_send_kvec", "tcp"), image, frozenset(), profile)
    assert v.status == Status.CONFIRMED
