"""include/linux/net.h (v3.18): struct socket and struct proto_ops.

``proto_ops`` holds the *names* of its methods, and calls go through the running kernel
(``getattr(k, sock.ops.sendmsg)``), so a step that replaces ``tcp_sendmsg`` is seen through every
socket, as relinking would. Only the data-path methods are modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOCK_SEQPACKET = 5
SOCK_PACKET = 10

SS_CONNECTED = 3


@dataclass(frozen=True, slots=True)
class proto_ops:
    family: int
    sendmsg: str
    recvmsg: str
    sendpage: str = ""  # "" where the model has no ->sendpage for this family


@dataclass(slots=True)
class socket:
    """struct socket: the BSD side of a socket."""

    type: int
    ops: proto_ops
    sk: object  # struct sock *
    state: int = SS_CONNECTED
    flags: int = 0
