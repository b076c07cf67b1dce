"""The link map of the v3.18 model kernel: which model modules make up the image. Not a kernel file.

Users (model/users/) are linked in too: a series step may convert them like any other caller.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import cache

from model.kernel import DoesNotBuild, KernelImage, module_definitions

BASE_VERSION = "v3.18"

CORE_MODULES = (
    "model.uaccess",
    "model.signal",
    "model.uio",
    "model.iovec",
    "model.net_iovec",
    "model.checksum",
    "model.skbuff",
    "model.datagram",
    "model.socket_h",
    "model.net_h",
    "model.sock",
    "model.stream",
    "model.socket",
)

PROTO_MODULES = (
    "model.proto.af_inet",
    "model.proto.tcp",
    "model.proto.tcp_input",
    "model.proto.udp",
    "model.proto.ip_output",
    "model.proto.af_unix",
    "model.proto.af_netlink",
    "model.proto.af_packet",
    "model.proto.ping",
    "model.proto.l2cap",
    "model.proto.sctp",
    "model.proto.tun",
)

USER_MODULES = (
    "model.users.cifs_transport",
    "model.users.cifs_connect",
    "model.users.ceph_messenger",
    "model.users.iscsi_target_util",
    "model.users.iscsi_tcp",
    "model.users.sunrpc_xprtsock",
    "model.users.nbd",
    "model.users.drbd_main",
    "model.users.ocfs2_tcp",
    "model.users.dlm_lowcomms",
    "model.users.rds_tcp_send",
    "model.users.lustre_socklnd",
    "model.users.lustre_tcpip",
    "model.users.ncpfs_sock",
    "model.users.tipc_server",
    "model.users.usbip",
    "model.users.core_sock",
    "model.users.svcsock",
    "model.users.bnep_core",
    "model.users.hidp_core",
    "model.users.cmtp_core",
    "model.users.rxrpc_ar_output",
    "model.users.vhost_net",
)


def linked_modules() -> tuple[str, ...]:
    """The modules that exist: a module listed here but not yet written is skipped."""
    present = []
    for name in CORE_MODULES + PROTO_MODULES + USER_MODULES:
        if importlib.util.find_spec(name) is not None:
            present.append(name)
    return tuple(present)


@cache
def base_image() -> KernelImage:
    """Link v3.18: every symbol of every module; a symbol defined twice does not link."""
    definitions = {}
    for name in linked_modules():
        module = importlib.import_module(name)
        for sym, d in module_definitions(module, BASE_VERSION).items():
            if sym in definitions:
                raise DoesNotBuild(
                    f"multiple definition of {sym!r} (first in {definitions[sym].pyfile})", d.pyfile
                )
            definitions[sym] = d
    return KernelImage(BASE_VERSION, definitions)
