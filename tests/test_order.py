"""Migration order review on small synthetic series whose safe orders are known by construction.

* ``rx_by_hand`` makes iscsit_do_rx_data advance its own kvec (safe under either receive path);
  ``rx_leaves`` makes kernel_recvmsg hand the protocol a copy of the caller's kvec array. Only rx_by_hand first is safe.
* ``rx_orig`` puts back v3.18's iscsit_do_rx_data (it relies on the receive path consuming the kvec),
  ``recv_orig`` v3.18's kernel_recvmsg: steps that replace the same function as another, so one kernel
  is reached by two prefixes with different steps left.
* ``tx_consumes`` makes tcp_sendmsg consume the kvec: cifs breaks in every order.
* ``sendmsg_same`` replaces kernel_sendmsg with v3.18's: no receive user reaches it, it moves freely.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.cache import VerdictCache
from checks.cli import main
from checks.order import (
    Evaluator,
    OrderError,
    certificate,
    check_order,
    explore,
    parse_order,
    precedence,
    review,
    search_order,
)
from checks.profiles import get_profile
from checks.series import load_series

SMOKE = get_profile("smoke")
EXHAUSTIVE_ONLY = replace(SMOKE, hypothesis_enabled=False)  # no Hypothesis run inside a Hypothesis test

RX_BY_HAND = '''
"""iscsi-target: advance the receive kvec by hand"""
from checks.series import Step
from model.socket_h import MSG_WAITALL

STEP = Step(subject="iscsi-target: advance the receive kvec by hand")


def iscsit_do_rx_data(k, conn, count) -> int:
    data, total_rx = count.data_length, 0
    msg = k.msghdr()
    segs = [k.mem.elem(count.iov + i) for i in range(count.iov_count)]
    while total_rx < data:
        # a scratch kvec array for what is left, rebuilt on every pass
        left, skip = [], total_rx
        for s in segs:
            if skip >= s.iov_len:
                skip -= s.iov_len
                continue
            left.append(k.kvec(iov_base=s.iov_base + skip, iov_len=s.iov_len - skip))
            skip = 0
        vec = k.mem.alloc_array(left)
        rx_loop = k.kernel_recvmsg(conn.sock, msg, vec, len(left), data - total_rx, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx
'''

RX_LEAVES = '''
"""net: kernel_recvmsg() leaves the caller's kvec array alone"""
from checks.series import Step

STEP = Step(subject="net: kernel_recvmsg() leaves the caller's kvec array alone")


def kernel_recvmsg(k, sock, msg, vec, num, size, flags):
    oldfs = k.get_fs()
    k.set_fs("KERNEL_DS")
    # the protocol consumes a copy of the array, never the caller's
    segs = [k.mem.elem(vec + i) for i in range(num)]
    msg.msg_iov = k.mem.alloc_array([k.kvec(iov_base=s.iov_base, iov_len=s.iov_len) for s in segs])
    msg.msg_iovlen = num
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result
'''

TX_CONSUMES = '''
"""net: tcp_sendmsg consumes the iovec"""
from checks.series import Step

STEP = Step(subject="net: tcp_sendmsg consumes the iovec")


def tcp_sendmsg(k, iocb, sk, msg, size):
    k.sk_begin_call(sk)
    copied = 0
    for n in range(msg.msg_iovlen):
        seg = k.mem.elem(msg.msg_iov + n)
        while seg.iov_len:
            if sk.room == 0:
                err = k.sk_stream_wait_memory(sk, k.sock_sndtimeo(sk, msg.msg_flags & 0x40))
                if err:
                    return copied if copied else err
                continue
            copy = min(seg.iov_len, sk.room)
            sk.peer.deliver(k.mem.read(seg.iov_base, copy))
            sk.room -= copy
            copied += copy
            seg.iov_base, seg.iov_len = seg.iov_base + copy, seg.iov_len - copy
    return copied
'''


RX_ORIG = '''
"""iscsi-target: receive as v3.18 does (the loop relies on the receive path consuming the kvec)"""
from checks.series import Step
from model.socket_h import MSG_WAITALL

STEP = Step(subject="iscsi-target: receive as v3.18 does")


def iscsit_do_rx_data(k, conn, count) -> int:
    data = count.data_length
    total_rx = 0
    msg = k.msghdr()
    while total_rx < data:
        rx_loop = k.kernel_recvmsg(conn.sock, msg, count.iov, count.iov_count, data - total_rx, MSG_WAITALL)
        if rx_loop <= 0:
            return rx_loop
        total_rx += rx_loop
    return total_rx
'''

RECV_ORIG = '''
"""net: kernel_recvmsg() as v3.18 has it (the protocol consumes the caller's kvec array)"""
from checks.series import Step

STEP = Step(subject="net: kernel_recvmsg() as v3.18 has it")


def kernel_recvmsg(k, sock, msg, vec, num, size, flags):
    oldfs = k.get_fs()
    k.set_fs("KERNEL_DS")
    msg.msg_iov = vec
    msg.msg_iovlen = num
    result = k.sock_recvmsg(sock, msg, size, flags)
    k.set_fs(oldfs)
    return result
'''

SENDMSG_SAME = '''
"""net: kernel_sendmsg() unchanged (a step no receive user can observe)"""
from checks.series import Step

STEP = Step(subject="net: kernel_sendmsg() unchanged"{depends})


def kernel_sendmsg(k, sock, msg, vec, num, size):
    oldfs = k.get_fs()
    k.set_fs("KERNEL_DS")
    msg.msg_iov = vec
    msg.msg_iovlen = num
    result = k.sock_sendmsg(sock, msg, size)
    k.set_fs(oldfs)
    return result
'''

POOL = {"rx_leaves": RX_LEAVES, "rx_by_hand": RX_BY_HAND, "rx_orig": RX_ORIG, "recv_orig": RECV_ORIG}


def make_series(tmp: Path, name: str, steps: dict[str, str], users: list[str], depends: str = "") -> str:
    d = tmp / name
    d.mkdir()
    order = ", ".join(f'"{s}"' for s in steps)
    users_toml = ", ".join(f'"{u}"' for u in users)
    (d / "series.toml").write_text(f'name = "{name}"\norder = [{order}]\nusers = [{users_toml}]\n')
    for sid, body in steps.items():
        (d / f"{sid}.py").write_text(textwrap.dedent(body))
    return str(d)


def with_depends(body: str, depends: tuple[str, ...]) -> str:
    """A pool step's text with ``depends`` added to its STEP record."""
    return body.replace('")\n', f'", depends={depends!r})\n', 1) if depends else body


@pytest.fixture
def evaluator(tmp_path):
    def make(name, steps, users):
        series = load_series(make_series(tmp_path, name, steps, users))
        return Evaluator(series, SMOKE, VerdictCache(tmp_path / "cache"), jobs=1)
    return make


def test_unsafe_order_names_the_user_and_step(evaluator):
    ev = evaluator("rx", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND}, ["iscsit_do_rx_data"])
    result = check_order(ev, parse_order(ev.series, "s01,s02"))
    assert not result.safe
    b = result.first_break
    assert b.step == "s01_rx_leaves" and b.after.user == "iscsit_do_rx_data" and b.after.protocol == "tcp"
    assert b.after.counterexample is not None and "--order s01" in b.after.replay


def test_search_finds_the_safe_order(evaluator):
    ev = evaluator("rx2", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND}, ["iscsit_do_rx_data"])
    result = search_order(ev)
    assert result.found == ("s02_rx_by_hand", "s01_rx_leaves")
    assert check_order(ev, result.found).safe
    assert result.stats.cells_naive > result.stats.cells_computed  # the cache saved work


def test_no_safe_order_gives_a_certificate(evaluator):
    ev = evaluator("tx", {"s01_rx_by_hand": RX_BY_HAND, "s02_tx_consumes": TX_CONSUMES},
                   ["smb_send_kvec", "iscsit_do_rx_data"])
    assert search_order(ev).found is None
    cert, breaks = certificate(ev)
    assert cert == ("s02_tx_consumes",)
    assert breaks and breaks[0].after.user == "smb_send_kvec" and breaks[0].after.counterexample


def test_bad_orders_are_refused(evaluator):
    ev = evaluator("bad", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND}, ["iscsit_do_rx_data"])
    with pytest.raises(OrderError, match="no step 's09'"):
        parse_order(ev.series, "s01,s09")
    with pytest.raises(OrderError, match="names s01 twice"):
        parse_order(ev.series, "s01,s01")


def test_two_steps_replacing_one_function_do_not_hide_a_safe_order(evaluator):
    """Issue 10: with rx_by_hand tried first, [s02,s03] reaches the kernel [s03] reaches (rx_orig
    puts back what rx_by_hand replaced) with s01 still to come: a dead end there is not one here.
    The safe order: rx_orig, rx_by_hand, rx_leaves."""
    ev = evaluator("same-fn", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND, "s03_rx_orig": RX_ORIG},
                   ["iscsit_do_rx_data"])
    result = search_order(ev)
    assert result.found == ("s03_rx_orig", "s02_rx_by_hand", "s01_rx_leaves")
    assert check_order(ev, result.found).safe


def test_a_series_with_no_steps_has_a_safe_order(tmp_path, capsys):
    d = tmp_path / "empty"
    d.mkdir()
    (d / "series.toml").write_text('name = "empty"\norder = []\nusers = ["iscsit_do_rx_data"]\n')
    assert main(["order", str(d), "--search", "--profile", "smoke", "--jobs", "1"]) == 0
    assert "safe order: (no steps)" in capsys.readouterr().out


def brute_force(ev) -> list[tuple[str, ...]]:
    """Every safe order: each permutation that respects the declared depends, checked prefix by prefix."""
    safe = []
    for perm in itertools.permutations(s.id for s in ev.series.steps[1:]):
        try:
            order = parse_order(ev.series, ",".join(perm)) if perm else ()
            if check_order(ev, order).safe:
                safe.append(order)
        except OrderError:
            continue  # a declared dependency violated, or a step that does not compose there
    return safe


@st.composite
def synthetic_series(draw):
    """Up to four steps drawn from POOL (repeats allowed: two steps may replace one function), each
    depending on a random subset of the steps before it."""
    kinds = draw(st.lists(st.sampled_from(sorted(POOL)), max_size=4))
    steps, ids = {}, []
    for i, kind in enumerate(kinds):
        sid = f"s{i + 1:02d}_{kind}"
        deps = tuple(d.split("_", 1)[0] for d in draw(st.lists(st.sampled_from(ids), unique=True))) if ids else ()
        steps[sid] = with_depends(POOL[kind], deps)
        ids.append(sid)
    return steps


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return VerdictCache(tmp_path_factory.mktemp("order-cache"))


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=synthetic_series())
def test_search_and_review_agree_with_brute_force(steps, tmp_path_factory, shared_cache):
    tmp = tmp_path_factory.mktemp("series")
    series = load_series(make_series(tmp, "synthetic", steps, ["iscsit_do_rx_data"]))
    ev = Evaluator(series, EXHAUSTIVE_ONLY, shared_cache, jobs=1)
    safe = brute_force(ev)
    found = search_order(ev).found
    assert (found is not None) == bool(safe), (steps, safe, found)
    if found is not None:
        assert found in safe
    ex = explore(ev, max_states=10_000)
    assert ex.complete and (ex.root in ex.live) == bool(safe)
    if safe:
        expected = {(a, b) for a in steps for b in steps
                    if a != b and all(o.index(b) < o.index(a) for o in safe)}
        assert precedence(ex) == expected


def test_review_names_constraints_free_steps_and_missing_depends(evaluator):
    """Known by construction: rx_leaves must come after rx_by_hand (else iscsit_do_rx_data/tcp breaks),
    sendmsg_same is reached by no user here and moves freely; rx_leaves declares no depends."""
    ev = evaluator("known", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND,
                             "s03_sendmsg_same": SENDMSG_SAME.replace("{depends}", "")}, ["iscsit_do_rx_data"])
    r = review(ev)
    assert r.complete and r.safe_exists
    [c] = r.constraints
    assert (c.after, c.before) == ("s01_rx_leaves", "s02_rx_by_hand") and not c.declared
    assert c.witness.cell == "iscsit_do_rx_data/tcp" and c.witness.step == "s01_rx_leaves"
    # the witness keeps every other step it can: s03 applied, only s02 missing
    assert c.witness.prefix == ("s03_sendmsg_same",) and "--order s03,s01 " in c.witness.after.replay
    assert c.witness.after.counterexample is not None
    assert r.free == ["s03_sendmsg_same"]
    assert r.missing_depends == [("s01_rx_leaves", "s02_rx_by_hand")]


def test_order_command_prints_the_constraints_in_text_json_and_markdown(tmp_path, capsys):
    path = make_series(tmp_path, "cli", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND,
                                         "s03_sendmsg_same": SENDMSG_SAME.replace("{depends}", "")},
                       ["iscsit_do_rx_data"])
    out_json, out_md = tmp_path / "o.json", tmp_path / "o.md"
    rc = main(["order", path, "--profile", "smoke", "--jobs", "1", "--json", str(out_json),
               "--markdown", str(out_md)])
    text = capsys.readouterr().out
    assert rc == 1  # the series' own order applies rx_leaves first
    assert "s01 must come after s02: otherwise iscsit_do_rx_data/tcp breaks (s01 after [s03])" in text
    assert "replay: seriescheck replay" in text
    assert "may move freely (no constraint ties them to another step): s03" in text
    assert "s01 does not declare depends on s02, which the checks require" in text
    doc = json.loads(out_json.read_text())
    assert doc["safe"] is False and doc["first_break"]["user"] == "iscsit_do_rx_data"
    [c] = doc["review"]["constraints"]
    assert (c["after"], c["before"]) == ("s01", "s02") and c["witness"]["replay"].startswith("seriescheck replay")
    assert doc["review"]["free"] == ["s03"]
    assert doc["review"]["missing_depends"] == [{"step": "s01", "needs": "s02", "from_series": None}]
    md = out_md.read_text()
    assert "| s01 | s02 | iscsit_do_rx_data/tcp breaks" in md and "s02 -> s01" in md
    assert main(["order", path, "--search", "--profile", "smoke", "--jobs", "1"]) == 0
    assert "safe order: s02,s01,s03" in capsys.readouterr().out


def test_a_review_over_budget_reads_one_place_moves_along_a_safe_order(evaluator):
    """With too small a budget for every safe order, the review says so and falls back to swapping
    neighbours of the order found: s01 cannot move before s02, s03 swaps with s01 freely."""
    ev = evaluator("budget", {"s01_rx_leaves": RX_LEAVES, "s02_rx_by_hand": RX_BY_HAND,
                              "s03_sendmsg_same": SENDMSG_SAME.replace("{depends}", "")}, ["iscsit_do_rx_data"])
    r = review(ev, max_states=2)
    assert not r.complete and r.along == ("s02_rx_by_hand", "s01_rx_leaves", "s03_sendmsg_same")
    assert [(c.after, c.before) for c in r.constraints] == [("s01_rx_leaves", "s02_rx_by_hand")]
    assert r.constraints[0].witness.cell == "iscsit_do_rx_data/tcp"
    assert r.free == ["s03_sendmsg_same"]



def test_a_step_before_the_one_it_builds_on_does_not_build():
    """as-merged s06 calls tun_do_read() as s03 redefines it; before s03 the call does not match
    3.18's definition: the compiler's "too few arguments", DOES_NOT_BUILD, never a model error."""
    from checks.cell import all_users
    from checks.harness import CellInput, run_cell
    from checks.series import compose
    from model.kernel import DoesNotBuild

    series = load_series("as-merged")
    order = tuple(series.step(s).id for s in ("s01", "s02", "s04", "s05", "s06"))
    image = compose(series, order).images[order[-1]]
    with pytest.raises(DoesNotBuild, match=r"call of tun_do_read\(\) does not match its definition"):
        run_cell(image, all_users()["handle_rx"], "tun", CellInput((1,)))
