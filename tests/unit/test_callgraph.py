"""The static call graph: what a user's cell reaches must not depend on the order a set pops in.

A cell's build errors and its cache key are computed from what it reaches; a reach that stops
before following the ops tables (``sock->ops->sendmsg`` to ``inet_sendmsg`` to ``tcp_sendmsg``)
misses build errors on the protocol's path and keys a cell without the code it runs.
"""

from __future__ import annotations

import os
import subprocess
import sys

from checks.callgraph import reachable
from checks.cell import all_users, reach

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A send through kernel_sendmsg on TCP, reached only through the tables' fields.
SEND_PATH = {"kernel_sendmsg", "sock_sendmsg", "inet_sendmsg", "tcp_sendmsg"}


def _caller_reads_sendmsg(k, sock):
    """A checker-side caller that reads ``sock->ops->sendmsg``."""
    return sock.ops.sendmsg


def test_the_tables_are_followed_whatever_is_popped_last(v318):
    """Names that are no symbol of the image (popped and skipped) must not end the walk before the
    tables are followed: the walk starts from the table and 64 such names, so the table is almost
    never the last name popped."""
    absent = {f"not_a_symbol_{i}" for i in range(64)}
    reached = reachable(v318, {"inet_stream_ops"} | absent, (_caller_reads_sendmsg,))
    assert "inet_sendmsg" in reached
    assert "inet_recvmsg" not in reached  # a field nobody reads is not followed


def test_a_send_on_tcp_reaches_the_protocol(v318):
    assert reach(v318, all_users()["libcfs_sock_write"], "tcp") >= SEND_PATH


def test_every_process_reaches_the_same(v318):
    """pytest-xdist workers and cluster workers each have their own hash seed."""
    here = sorted(reach(v318, all_users()["libcfs_sock_write"], "tcp"))
    probe = ("from checks.cell import all_users, reach; from checks.series import base_image; "
             "print(sorted(reach(base_image(), all_users()['libcfs_sock_write'], 'tcp')))")
    for seed in ("1", "7", "42", "1234"):
        out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.stdout.strip() == str(here), f"PYTHONHASHSEED={seed}"
