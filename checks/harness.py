"""One run of one cell: boot a kernel, set the user's caller up, call it, judge what it observed.

This is the contract every user relies on, stated once:

* send: if the caller reports success, each byte of the message reached the peer exactly once
  and in order; if it reports an error, what reached the peer is a prefix of the message;
* receive: the bytes taken off the socket are in the caller's buffer at their place, in order,
  and success means all of them arrived;
* either way, when the network never makes the socket wait (no scripted window), a non-empty
  transfer succeeds: a user that fails safely on every input has not kept its contract.

Message bytes are distinct (``abc...``), so a resent or skipped byte cannot hide behind an equal
one. Segments are separate kernel allocations, so reading past one is an Oops, not a silent read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from model.errno import errname
from model.in_h import IPPROTO_ICMP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP
from model.kernel import DoesNotBuild, Kernel, KernelImage, Oops
from model.net_h import SOCK_DGRAM, SOCK_PACKET, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM
from model.socket_h import AF_BLUETOOTH, AF_INET, AF_NETLINK, AF_PACKET, AF_UNIX, AF_UNSPEC
from model.users import RECV, SEND, User
from model.world import Peer, Stalled, Window

# checker name -> sock_create_kern() arguments
PROTOCOLS: dict[str, tuple[int, int, int]] = {
    "tcp": (AF_INET, SOCK_STREAM, IPPROTO_TCP),
    "udp": (AF_INET, SOCK_DGRAM, IPPROTO_UDP),
    "ping": (AF_INET, SOCK_DGRAM, IPPROTO_ICMP),
    "unix": (AF_UNIX, SOCK_STREAM, 0),
    "netlink": (AF_NETLINK, SOCK_RAW, 0),
    "packet": (AF_PACKET, SOCK_PACKET, 0),
    "l2cap": (AF_BLUETOOTH, SOCK_SEQPACKET, 0),
    "sctp": (AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP),
    "tun": (AF_UNSPEC, SOCK_RAW, 0),  # stands for open("/dev/net/tun") + TUNSETIFF (model/proto/tun.py)
}

ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NEXT_MESSAGE = b"!#$%"  # what the peer sends after our message: a reader must not take it
UNFILLED = ord(".")

SABOTAGES = ("repeat", "drop")


def message_bytes(n: int) -> bytes:
    """The message: distinct bytes while it fits the alphabet."""
    return bytes(ALPHABET[i % len(ALPHABET)] for i in range(n))


@dataclass(frozen=True)
class CellInput:
    """Everything the world and the caller decide for one run."""

    segs: tuple[int, ...]  # the caller's kvec lengths
    script: tuple[tuple[int, str], ...] = ()  # per call: (room, how the wait ends)
    mode: str = "default"

    def to_json(self) -> dict:
        return {"segs": list(self.segs), "script": [list(w) for w in self.script], "mode": self.mode}

    @classmethod
    def from_json(cls, d: dict) -> CellInput:
        return cls(tuple(d["segs"]), tuple((int(r), str(t)) for r, t in d.get("script", ())), d.get("mode", "default"))

    def describe(self) -> str:
        windows = ", ".join(f"{r}/{t}" for r, t in self.script) or "none"
        mode = "" if self.mode == "default" else f", mode {self.mode}"
        return f"kvec lengths {list(self.segs)}, windows [{windows}]{mode}"


@dataclass(frozen=True)
class Observation:
    """What the caller and the peer saw, and the contract's judgement (``failure`` None = holds)."""

    rc: int | None
    expected: bytes
    got: bytes
    consumed: int
    failure: str | None

    @property
    def holds(self) -> bool:
        return self.failure is None


def _setup_segments(k: Kernel, segs: tuple[int, ...], fill: bytes, direction: str):
    bufs, kv, off = [], [], 0
    for i, n in enumerate(segs):
        data = fill[off : off + n] if direction == SEND else bytes([UNFILLED]) * n
        p = k.mem.alloc_bytes(data, name=f"segment {i}")
        bufs.append((p, n))
        kv.append(k.kvec(iov_base=p, iov_len=n))
        off += n
    return k.mem.alloc_array(kv, name="caller's kvec[]"), bufs


def _sabotaged(got: bytes, sabotage: str | None) -> bytes:
    """The wire or buffer as a broken harness would see it: one byte repeated or lost."""
    if not sabotage or not got:
        return got
    return got + got[-1:] if sabotage == "repeat" else got[1:]


def run_cell(image: KernelImage, user: User, proto: str, inp: CellInput, sabotage: str | None = None) -> Observation:
    """Run one input; raises DoesNotBuild when the kernel cannot run this user at all."""
    k = Kernel(image)
    total = sum(inp.segs)
    message = message_bytes(total)
    script = tuple(Window(r, t) for r, t in inp.script)
    peer = Peer(script=script, incoming=message + NEXT_MESSAGE if user.direction == RECV else b"")
    sock = k.sock_create_kern(*PROTOCOLS[proto], peer)
    if isinstance(sock, int):
        raise DoesNotBuild(f"no socket for protocol {proto!r} in this kernel (sock_create_kern: {sock})")
    vec, bufs = _setup_segments(k, inp.segs, message, user.direction)
    try:
        rc = user.entry(k, sock, vec, len(inp.segs), total, inp.mode)
    except (Oops, Stalled) as e:
        kind = "oops" if isinstance(e, Oops) else "livelock"
        seen = f"wire has {bytes(peer.wire)!r}" if user.direction == SEND else f"{peer.consumed} bytes received"
        return Observation(None, message, bytes(peer.wire), peer.consumed, f"{kind}: {e}; {seen}")
    except AttributeError as e:
        # a slots struct without the field, or a kernel without the symbol: "does not build"
        raise DoesNotBuild(str(e), _model_frame(e)) from e
    except DoesNotBuild:
        raise
    except Exception as e:
        raise ModelError(f"{_model_frame(e)}: {type(e).__name__}: {e}") from e
    if not isinstance(rc, int):
        return Observation(None, message, bytes(peer.wire), peer.consumed, f"caller returned {rc!r}, not an int")
    if user.direction == SEND:
        got = _sabotaged(bytes(peer.wire), sabotage)
        failure = _judge_send(rc, message, got)
        consumed = len(got)
    else:
        got = _sabotaged(b"".join(k.mem.read(p, n) for p, n in bufs), sabotage)
        failure = _judge_recv(rc, message, got, peer.consumed)
        consumed = peer.consumed
    if failure is None and rc < 0 and total and not inp.script:
        failure = f"failed ({errname(rc)}) although the network never made the socket wait"
    return Observation(rc, message, got, consumed, failure)


class ModelError(Exception):
    """The model itself is wrong (a Python error inside a kernel function): fix the model file named."""


_CHECKER_DIR = str(Path(__file__).resolve().parent)
_PYTHON_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


def _model_frame(e: BaseException) -> str:
    """``file:line`` of the innermost frame in model or step code (not the checker's, not Python's),
    where the error happened."""
    tb, where = e.__traceback__, ""
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if not f.startswith(_CHECKER_DIR) and not f.startswith(_PYTHON_DIRS) and not f.startswith("<"):
            where = f"{f}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _judge_send(rc: int, message: bytes, wire: bytes) -> str | None:
    if rc >= 0 and wire != message:
        return f"reported success ({rc}) but wire has {wire!r}, expected {message!r}"
    if rc < 0 and not message.startswith(wire):
        return f"reported error ({errname(rc)}) but wire has {wire!r}, not a prefix of {message!r}"
    return None


def _judge_recv(rc: int, message: bytes, buf: bytes, consumed: int) -> str | None:
    if consumed > len(message):
        return f"took {consumed} bytes off the socket for a {len(message)}-byte message: the next one is cut"
    if buf[:consumed] != message[:consumed]:
        return f"took {consumed} bytes off the socket but buffer holds {buf!r}, expected {message[:consumed]!r} first"
    if rc >= 0 and (consumed != len(message) or buf != message):
        return f"reported success ({rc}) with {consumed} of {len(message)} bytes received, buffer {buf!r}"
    return None
