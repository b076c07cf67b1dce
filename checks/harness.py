"""One run of one cell: boot a kernel, set the user's caller up, call it, judge what it observed.

This is the contract every user relies on, stated once:

* send: if the caller reports success, each byte of the message reached the peer exactly once
  and in order; if it reports an error, what reached the peer is a prefix of the message;
* receive: the bytes taken off the socket are in the caller's buffer at their place, in order,
  and success means all of them arrived;
* either way, when the network never makes the socket wait (no scripted window), a non-empty
  transfer succeeds: a user that fails safely on every input has not kept its contract.

Message bytes are distinct (``abc...``), so a resent or skipped byte cannot hide behind an equal
one. Segments are separate kernel allocations, so reading past one is an Oops, not a silent read;
a copy that runs past one under KERNEL_DS (where the kernel would read or overwrite the memory after
it) is an out-of-bounds access: the run fails with where it happened, whatever the caller returns.
Model code that raises ``SystemExit`` or ``KeyboardInterrupt`` is a ``ModelError``, never a run that
ended well (a real Ctrl-C still stops the checker: see ``watch_interrupts``).
"""

from __future__ import annotations

import re
import signal
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import FunctionType

from model.errno import errname
from model.in_h import IPPROTO_ICMP, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP
from model.kernel import DoesNotBuild, Kernel, KernelImage, Oops, OutOfBounds
from model.net_h import SOCK_DGRAM, SOCK_PACKET, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM
from model.socket_h import AF_BLUETOOTH, AF_INET, AF_NETLINK, AF_PACKET, AF_UNIX, AF_UNSPEC
from model.users import RECV, SEND, User
from model.world import MAX_CALLS, UNLIMITED, Chooser, Peer, Stalled, Window

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


# What a person may ask ``replay`` to run: far beyond every profile's scope, small enough to run at once.
MAX_INPUT_SEGS = 64
MAX_SEG_LEN = 4096
INPUT_EXAMPLE = '{"segs":[2],"script":[[1,"signal"]]}'


def _is_count(n: object, most: int) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= most


@cache
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

    @classmethod
    def parse(cls, d: object, user: User, proto: str) -> CellInput:
        """A cell input given by a person (``replay --input``), checked before anything runs: the
        kvec lengths, windows and mode must be ones this user over ``proto`` can meet. Raises
        ``ValueError`` saying what is wrong."""
        if not isinstance(d, dict):
            raise ValueError(f"a cell input is a JSON object like {INPUT_EXAMPLE}, not {type(d).__name__}")
        unknown = set(d) - {"segs", "script", "mode"}
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}; a cell input has segs, script and mode")
        segs, script, mode = d.get("segs"), d.get("script", []), d.get("mode", user.modes[0])
        if not isinstance(segs, list) or not segs or not all(_is_count(n, MAX_SEG_LEN) for n in segs):
            raise ValueError(f"segs must be a non-empty list of kvec lengths, each 0..{MAX_SEG_LEN}; got {segs!r}")
        if len(segs) > MAX_INPUT_SEGS:
            raise ValueError(f"segs has {len(segs)} kvecs; at most {MAX_INPUT_SEGS}")
        if not isinstance(script, list) or len(script) > MAX_CALLS:
            raise ValueError(f"script must be a list of at most {MAX_CALLS} [room, ending] windows; got {script!r}")
        endings = user.wait_endings()
        for w in script:
            if (not isinstance(w, list) or len(w) != 2 or not _is_count(w[0], UNLIMITED)
                    or w[1] not in endings):
                raise ValueError(f"window {w!r} is not [room, ending] with room 0..{UNLIMITED} and ending one of "
                                 f"{', '.join(endings)}")
        if mode not in user.modes:
            raise ValueError(f"mode {mode!r} is not one of {user.name}'s: {', '.join(user.modes)}")
        if proto not in user.protocols:
            raise ValueError(f"{user.name} does not run over {proto!r}; it runs over {', '.join(user.protocols)}")
        return cls(tuple(segs), tuple((r, t) for r, t in script), mode)

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
    alloc, kvec = k.mem.alloc_bytes, k.kvec
    bufs, kv, off = [], [], 0
    for i, n in enumerate(segs):
        p = alloc(fill[off : off + n] if direction == SEND else _unfilled(n), name=f"segment {i}")
        bufs.append((p, n))
        kv.append(kvec(iov_base=p, iov_len=n))
        off += n
    return k.mem.alloc_array(kv, name="caller's kvec[]"), bufs


@cache
def _unfilled(n: int) -> bytes:
    """A receive buffer of ``n`` bytes, none of them yet written by the kernel."""
    return bytes([UNFILLED]) * n


def _sabotaged(got: bytes, sabotage: str | None) -> bytes:
    """The wire or buffer as a broken harness would see it: one byte repeated or lost."""
    if not sabotage or not got:
        return got
    return got + got[-1:] if sabotage == "repeat" else got[1:]


def run_cell(image: KernelImage, user: User, proto: str, inp: CellInput, sabotage: str | None = None,
             chooser: Chooser | None = None) -> Observation:
    """Run one input; raises DoesNotBuild when the kernel cannot run this user at all. With a
    ``chooser`` the world asks it for the script as the run goes (``inp.script`` is not read)."""
    stop_if_interrupted()
    k = Kernel(image)
    total = sum(inp.segs)
    message = message_bytes(total)
    script = tuple(Window(r, t) for r, t in inp.script)
    peer = Peer(script=script, incoming=message + NEXT_MESSAGE if user.direction == RECV else b"", chooser=chooser)
    k.world = peer  # the task's pending signal is the world's (model/signal.py)
    sock = k.sock_create_kern(*PROTOCOLS[proto], peer)
    if isinstance(sock, int):
        raise DoesNotBuild(f"no socket for protocol {proto!r} in this kernel (sock_create_kern: {sock})")
    vec, bufs = _setup_segments(k, inp.segs, message, user.direction)
    try:
        rc = user.entry(k, sock, vec, len(inp.segs), total, inp.mode)
    except (Oops, Stalled) as e:
        kind = "out-of-bounds" if isinstance(e, OutOfBounds) else "oops" if isinstance(e, Oops) else "livelock"
        where = f" (in {_kernel_stack(e)})" if isinstance(e, OutOfBounds) else ""
        seen = f"wire has {bytes(peer.wire)!r}" if user.direction == SEND else f"{peer.consumed} bytes received"
        return Observation(None, message, bytes(peer.wire), peer.consumed, f"{kind}: {e}{where}; {seen}")
    except AttributeError as e:
        # a slots struct without the field, or a kernel without the symbol: "does not build"
        raise DoesNotBuild(str(e), _model_frame(e)) from e
    except TypeError as e:
        name = _prototype_mismatch(e, image)
        if name is None:
            raise ModelError(f"{_model_frame(e)}: TypeError: {e}") from e
        # a caller and the definition of a kernel function in this image disagree on its
        # parameters: the compiler's "too few arguments to function" (steps applied out of order)
        raise DoesNotBuild(f"call of {name}() does not match its definition in this kernel ({e})",
                           _model_frame(e)) from e
    except DoesNotBuild:
        raise
    except Exception as e:
        raise ModelError(f"{_model_frame(e)}: {type(e).__name__}: {e}") from e
    except KeyboardInterrupt as e:
        if interrupted_by_user():
            raise
        raise ModelError(f"{_model_frame(e)}: model code raised KeyboardInterrupt; only the user's Ctrl-C may") from e
    except SystemExit as e:
        raise ModelError(f"{_model_frame(e)}: model code called sys.exit({e.code!r}); a kernel function "
                         f"returns its result instead") from e
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
    if failure is None and rc < 0 and total and not peer.scripted:
        failure = f"failed ({errname(rc)}) although the network never made the socket wait"
    return Observation(rc, message, got, consumed, failure)


_ARITY = re.compile(r"^(\w+)\(\) (?:missing \d+ required|takes \d+|takes from|got an unexpected keyword|"
                    r"got multiple values)")


def _prototype_mismatch(e: TypeError, image: KernelImage) -> str | None:
    """The kernel function whose call ``e`` rejected for its arguments, or None: a TypeError of
    the model's own making (a wrong operand, a Python builtin misused) is a model error."""
    m = _ARITY.match(str(e))
    if m is None or m.group(1) not in image.definitions:
        return None
    return m.group(1) if isinstance(image.definitions[m.group(1)].obj, FunctionType) else None


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


def _kernel_stack(e: BaseException, depth: int = 5) -> str:
    """The kernel functions on the way to an exception, innermost first: ``a <- b <- c``."""
    names = []
    tb = e.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        model = not code.co_filename.startswith(_CHECKER_DIR) and not code.co_filename.startswith(_PYTHON_DIRS)
        if model and code.co_name not in ("call", "user_copyable"):  # the linker's fuel wrapper, the MMU
            names.append(code.co_name)
        tb = tb.tb_next
    names.reverse()
    return " <- ".join(names[:depth]) or "the model"


# --- Ctrl-C: the user's, or model code's -----------------------------------------------------------

_USER_INTERRUPT = threading.Event()
_WATCHING = threading.Event()


def _on_sigint(signum, frame):
    _USER_INTERRUPT.set()
    raise KeyboardInterrupt


def _quiet_unraisable(hook):
    """A KeyboardInterrupt raised where Python cannot propagate it (a garbage-collector callback, a
    ``__del__``) is dropped with an "Exception ignored" traceback; the flag keeps it, and
    ``stop_if_interrupted`` raises it again at the next cell, so print nothing."""
    def quiet(unraisable):
        if not (issubclass(unraisable.exc_type, KeyboardInterrupt) and _USER_INTERRUPT.is_set()):
            hook(unraisable)
    return quiet


def watch_interrupts() -> None:
    """Tell a real Ctrl-C (SIGINT) from a ``KeyboardInterrupt`` that model code raises itself: the
    first stops the run (exit 130), the second is a model error. Call once, in the main thread;
    forked workers inherit the handler."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) in (
            signal.default_int_handler, _on_sigint):
        signal.signal(signal.SIGINT, _on_sigint)
        if not _WATCHING.is_set():
            sys.unraisablehook = _quiet_unraisable(sys.unraisablehook)
        _WATCHING.set()


def interrupted_by_user() -> bool:
    """True after a real SIGINT, or whenever nobody watches for one (then a KeyboardInterrupt may be
    the user's, and stopping is the safe reading)."""
    return _USER_INTERRUPT.is_set() or not _WATCHING.is_set()


def stop_if_interrupted() -> None:
    """Raise the user's Ctrl-C again if Python dropped it on the way (see ``_quiet_unraisable``)."""
    if _USER_INTERRUPT.is_set():
        raise KeyboardInterrupt


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
