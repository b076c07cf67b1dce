"""The world outside the kernel: the peer at the other end of a socket. Not a kernel file.

Everything the network, the scheduler and signals decide is an input here, never hard-coded in
a protocol or a user. Each ``->sendmsg``/``->recvmsg`` call on a socket takes the next
``Window`` from its peer's script:

* sending: ``room`` bytes fit in the send buffer before the socket must wait;
* receiving: ``room`` more bytes of the peer's stream have arrived before the reader must wait.

When the socket must wait, ``then`` says how the wait ends: ``ok`` (space or data comes: the
rest of this call is unconstrained), ``signal`` (a signal is pending), ``error`` (the connection
fails: ``sk_err`` is set), ``eof`` (the peer shuts down; receive only) or ``timeout`` (the socket's
send or receive timeout expires; a socket without one waits on, as for ``ok``). ``MSG_DONTWAIT`` or a
zero timeout turns any wait into -EAGAIN. After the script the network is unconstrained, so a
correct retry loop always terminates.

What reached the peer is recorded in order: the byte stream for stream sockets, one entry per
datagram for datagram sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def next_window(self) -> Window:
        if self.calls >= MAX_CALLS:
            raise Stalled(f"{self.calls} calls on one socket without finishing")
        w = self.script[self.calls] if self.calls < len(self.script) else OPEN
        self.calls += 1
        return w

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
