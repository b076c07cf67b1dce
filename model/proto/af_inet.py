"""net/ipv4/af_inet.c (v3.18): inet_sendmsg/inet_recvmsg, the proto_ops glue to struct proto.

Autobind and RPS flow recording are left out: the users' sockets are connected.
"""

from __future__ import annotations

from model.net_h import proto_ops, socket
from model.socket_h import AF_INET, MSG_DONTWAIT, msghdr


def inet_sendmsg(k, iocb, sock: socket, msg: msghdr, size: int) -> int:
    sk = sock.sk
    return getattr(k, sk.sk_prot.sendmsg)(iocb, sk, msg, size)


def inet_recvmsg(k, iocb, sock: socket, msg: msghdr, size: int, flags: int) -> int:
    sk = sock.sk
    return getattr(k, sk.sk_prot.recvmsg)(iocb, sk, msg, size, flags & MSG_DONTWAIT, flags & ~MSG_DONTWAIT)


# ->sendpage (inet_sendpage -> tcp_sendpage) is not modelled: no modelled user sends pages.
inet_stream_ops = proto_ops(family=AF_INET, sendmsg="inet_sendmsg", recvmsg="inet_recvmsg")
inet_dgram_ops = proto_ops(family=AF_INET, sendmsg="inet_sendmsg", recvmsg="inet_recvmsg")
# SCTP's SOCK_SEQPACKET sockets (net/sctp/protocol.c sctp_seqpacket_protosw); its ->sendpage,
# inet_sendpage(), falls back to sock_no_sendpage() since sctp_prot has no ->sendpage
inet_seqpacket_ops = proto_ops(family=AF_INET, sendmsg="inet_sendmsg", recvmsg="inet_recvmsg")
