"""The world outside the kernel: the peer at the other end of a socket. Not a kernel file.

Everything the network, the scheduler and signals decide is an input here, never hard-coded in
a protocol or a user. Each ``->sendmsg``/``->recvmsg`` call on a socket takes the next
``Window`` from its peer's script:

* sending: ``room`` bytes fit in the send buffer before the socket must wait;
* receiving: ``room`` more bytes of the peer's stream have arrived before the reader must wait.

When the socket must wait, ``then`` says how the wait ends: ``ok`` (space or data comes: the
rest of this call is unconstrained), ``signal`` (a signal is pending), ``error`` (the connection
fails: ``sk_err`` is set), ``eof`` (the peer shuts down; receive only) or ``timeout`` (the socket's
send or receive timeout expires). A socket whose timeouts are both infinite has none to expire: the
world never ends its waits in ``timeout`` (a script that says so is read as ``ok``, which is what the
model's waits did with it), and the exhaustive engine does not offer it. ``MSG_DONTWAIT`` or a
zero timeout turns any wait into -EAGAIN. After the script the network is unconstrained, so a
correct retry loop always terminates.

A signal stays pending for the rest of the run, as it does for the rest of a system call (and in a
kernel thread until it calls ``flush_signals()``): once a wait has ended in ``signal``, every later
wait ends in ``signal`` at once, whatever the script says; transfers that need no wait still go
through. A script cannot say otherwise: while the signal is pending its ``then`` is not read, so a
world in which a later wait of the run ends ``ok`` cannot be expressed.

The script may also be asked for lazily, by a ``Chooser`` (the exhaustive engine's): the room of a
call is asked for when the call starts, and how its wait ends only when the call waits. A run then
visits one execution per distinct sequence of answers, and the answers it was asked for are the
script that replays it.

What reached the peer is recorded in order: the byte stream for stream sockets, one entry per
datagram for datagram sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

WAIT_OK = "ok"
WAIT_SIGNAL = "signal"
WAIT_ERROR = "error"
WAIT_EOF = "eof"
WAIT_TIMEOUT = "timeout"  # the socket's own SO_SNDTIMEO/SO_RCVTIMEO expires (if it has one)
WAIT_ENDINGS = (WAIT_OK, WAIT_SIGNAL, WAIT_ERROR, WAIT_EOF, WAIT_TIMEOUT)

UNLIMITED = 1 << 30
MAX_CALLS = 256  # more ->sendmsg/->recvmsg calls than this on one socket is a livelock


class Stalled(Exception):
    """The caller keeps calling without the world changing: a livelock, reported as a finding."""


@dataclass(frozen=True, slots=True)
class Window:
    room: int
    then: str = WAIT_OK

    def __post_init__(self) -> None:
        if self.room < 0:
            raise ValueError(f"Window.room must be >= 0, got {self.room}")
        if self.then not in WAIT_ENDINGS:
            raise ValueError(f"Window.then must be one of {WAIT_ENDINGS}, got {self.then!r}")


OPEN = Window(UNLIMITED, WAIT_OK)


class Chooser(Protocol):
    """Answers the script's questions as a run asks them (the exhaustive engine's choice points)."""

    def room(self, call: int) -> int | None:
        """The room of scripted call ``call``, or None: the script has ended (every later call is open)."""

    def ending(self, call: int, can_time_out: bool = True) -> str:
        """How the wait of scripted call ``call`` ends (asked only if it waits and no signal is pending;
        ``timeout`` is not an answer when the socket has no timeout to expire)."""

    def forced(self, call: int, then: str) -> None:
        """The wait of scripted call ``call`` ended in ``then`` without asking (a pending signal)."""


class CallWindow:
    """The window of one ``->sendmsg``/``->recvmsg`` call: its room, and how its wait ends, asked
    for once and only when the call waits. A pending signal ends every wait."""

    __slots__ = ("peer", "call", "room", "scripted", "script_then", "can_time_out", "_then")

    def __init__(self, peer: Peer, call: int, room: int, scripted: bool, script_then: str | None = None,
                 can_time_out: bool = True):
        self.peer, self.call, self.room, self.scripted = peer, call, room, scripted
        self.script_then = script_then  # what the script says (None: ask the chooser)
        self.can_time_out = can_time_out
        self._then: str | None = None  # how the wait ended, once it did

    @property
    def then(self) -> str:
        if self._then is None or self.peer.signal_pending:
            self._then = self.peer.wait_ends(self)
        return self._then


@dataclass
class Peer:
    """The other end of one socket, and the script of what happens on each call."""

    script: tuple[Window, ...] = ()
    incoming: bytes = b""  # what the peer sends us, for receive
    wire: bytearray = field(default_factory=bytearray)  # stream bytes that reached the peer
    datagrams: list[bytes] = field(default_factory=list)  # datagrams that reached the peer
    calls: int = 0
    arrived: int = 0  # bytes of ``incoming`` that have reached our receive queue
    consumed: int = 0  # bytes of ``incoming`` taken off the queue by recvmsg
    chooser: Chooser | None = None  # asked instead of ``script`` (the exhaustive engine)
    signal_pending: bool = False  # the task's: set by a wait that ends in a signal
    scripted: int = 0  # how many calls took a scripted window (0: the network never constrained the run)
    script_ended: bool = False

    def next_window(self, can_time_out: bool = True) -> CallWindow:
        """The next call's window; ``can_time_out``: the socket has a finite send or receive timeout."""
        if self.calls >= MAX_CALLS:
            raise Stalled(f"{self.calls} calls on one socket without finishing")
        call = self.calls
        self.calls += 1
        if self.chooser is not None:
            room = None if self.script_ended else self.chooser.room(call)
            self.script_ended = room is None
            then = None
        else:
            w = self.script[call] if call < len(self.script) else None
            room, then = (w.room, w.then) if w is not None else (None, None)
        if room is None:
            return CallWindow(self, call, OPEN.room, False, OPEN.then, can_time_out)
        self.scripted += 1
        return CallWindow(self, call, room, True, then, can_time_out)

    def wait_ends(self, w: CallWindow) -> str:
        """How the wait of ``w`` ends: a pending signal ends it, else the script (or the chooser) says."""
        if self.signal_pending:
            if w.scripted and self.chooser is not None:
                self.chooser.forced(w.call, WAIT_SIGNAL)
            return WAIT_SIGNAL
        if w.script_then is not None:
            then = w.script_then
        elif w.scripted and self.chooser is not None:
            then = self.chooser.ending(w.call, w.can_time_out)
        else:
            then = OPEN.then
        if then == WAIT_TIMEOUT and not w.can_time_out:
            then = WAIT_OK  # no timeout to expire: the socket waits on
        self.signal_pending = then == WAIT_SIGNAL
        return then

    def flush_signals(self) -> None:
        """The task's pending signals are discarded (``flush_signals(current)``)."""
        self.signal_pending = False

    def deliver(self, data: bytes) -> None:
        """Stream bytes leave the send queue and reach the peer, in order."""
        self.wire += data

    def deliver_datagram(self, data: bytes) -> None:
        self.datagrams.append(bytes(data))
        self.wire += data

    def arrive(self, n: int) -> None:
        """``n`` more bytes of the peer's stream reach our receive queue."""
        self.arrived = min(len(self.incoming), self.arrived + n)

    def all_arrived(self) -> bool:
        return self.arrived == len(self.incoming)

    def queued(self) -> int:
        return self.arrived - self.consumed

    def peek(self, n: int) -> bytes:
        return self.incoming[self.consumed : self.consumed + n]

    def take(self, n: int) -> bytes:
        data = self.incoming[self.consumed : self.consumed + n]
        self.consumed += len(data)
        return data
