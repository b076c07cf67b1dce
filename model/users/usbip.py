"""drivers/usb/usbip/vhci_tx.c + usbip_common.c (v3.18): vhci_send_cmd_submit(), the USB/IP
client's URB submit, and usbip_recv(), USB/IP's receive loop.

Send: one blocking kernel_sendmsg() per URB over a local ``iov[3]`` (the usbip_header, the OUT
transfer buffer, the ISO packet descriptors; unused entries stay zero-length). Anything but
``txsize`` is an error: "sendmsg failed!", VDEV_EVENT_ERROR_TCP (the event handler shuts the
connection down) and -1. No retry, so what the protocol does to the kvecs cannot matter.

Receive: usbip_recv() rebuilds a one-element kvec ``{buf, size}`` each iteration and calls
kernel_recvmsg(..., MSG_WAITALL), advancing ``buf``/``size`` itself; a result <= 0 is returned
as it is, and the rx callers treat 0 as "connection closed" and a short total as an error.

Simplified: the URB is reduced to the three buffers the caller gives (the first kvec stands for
the header setup_cmd_submit_pdu() fills, the second for the transfer buffer, the third for the
ISO descriptors usbip_alloc_iso_desc_pdu() builds); usbip_event_add() records the event.
Sources: vhci_send_cmd_submit() and usbip_recv() as in 3.1x (before the 4.x iov_iter forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.errno import EINVAL, EPIPE
from model.kernel import NULL, Ptr
from model.socket_h import MSG_NOSIGNAL, MSG_WAITALL
from model.users import RECV, SEND, User

# usbip_common.h (private here: the header is not modelled)
_USBIP_EH_SHUTDOWN = 1 << 0
_USBIP_EH_RESET = 1 << 2
_VDEV_EVENT_ERROR_TCP = _USBIP_EH_SHUTDOWN | _USBIP_EH_RESET  # also VDEV_EVENT_DOWN


@dataclass(slots=True)
class usbip_device:
    tcp_socket: object  # struct socket *
    event: int = 0


@dataclass(slots=True)
class vhci_priv:
    """One queued URB: the three buffers vhci_send_cmd_submit() puts in its iov[3]."""

    pdu_header: Ptr  # model: struct usbip_header pdu_header, filled by setup_cmd_submit_pdu()
    pdu_header_len: int
    transfer_buffer: Ptr = NULL  # urb->transfer_buffer (OUT pipe)
    transfer_buffer_length: int = 0
    iso_buffer: Ptr = NULL  # usbip_alloc_iso_desc_pdu(urb, &len)
    iso_len: int = 0


@dataclass(slots=True)
class vhci_device:
    ud: usbip_device
    priv_tx: list = field(default_factory=list)  # struct list_head priv_tx


def usbip_event_add(k, ud: usbip_device, event: int) -> None:
    ud.event |= event  # spin_lock_irqsave(&ud->lock, flags); ... wake_up(&ud->eh_waitq);


def dequeue_from_priv_tx(k, vdev: vhci_device):
    if not vdev.priv_tx:
        return None
    return vdev.priv_tx.pop(0)  # list_move_tail(&priv->list, &vdev->priv_rx);


def vhci_send_cmd_submit(k, vdev: vhci_device) -> int:
    total_size = 0

    while True:
        priv = k.dequeue_from_priv_tx(vdev)
        if priv is None:
            break
        txsize = 0
        msg = k.msghdr()  # memset(&msg, 0, sizeof(msg));
        iov = k.mem.alloc_array([k.kvec(iov_base=NULL, iov_len=0) for _ in range(3)], name="iov[3]")

        # "setup txdata urb %p"

        # 1. setup usbip_header: setup_cmd_submit_pdu(&pdu_header, urb); usbip_header_correct_endian(...)
        k.mem.elem(iov).iov_base = priv.pdu_header
        k.mem.elem(iov).iov_len = priv.pdu_header_len
        txsize += priv.pdu_header_len

        # 2. setup transfer buffer: if (!usb_pipein(urb->pipe) && urb->transfer_buffer_length > 0)
        if priv.transfer_buffer_length > 0:
            k.mem.elem(iov + 1).iov_base = priv.transfer_buffer
            k.mem.elem(iov + 1).iov_len = priv.transfer_buffer_length
            txsize += priv.transfer_buffer_length

        # 3. setup iso_packet_descriptor: if (usb_pipetype(urb->pipe) == PIPE_ISOCHRONOUS)
        if priv.iso_len > 0:
            k.mem.elem(iov + 2).iov_base = priv.iso_buffer
            k.mem.elem(iov + 2).iov_len = priv.iso_len
            txsize += priv.iso_len

        ret = k.kernel_sendmsg(vdev.ud.tcp_socket, msg, iov, 3, txsize)
        if ret != txsize:
            # pr_err("sendmsg failed!, ret=%d for %zd\n", ret, txsize);
            # kfree(iso_buffer);
            k.usbip_event_add(vdev.ud, _VDEV_EVENT_ERROR_TCP)
            return -1

        # kfree(iso_buffer); "send txdata"
        total_size += txsize

    return total_size


def usbip_recv(k, sock, buf: Ptr, size: int) -> int:
    """Receive data over TCP/IP."""
    total = 0

    # "enter"
    if sock is None or buf == NULL or not size:
        # pr_err("invalid arg, sock %p buff %p size %d\n", sock, buf, size);
        return -EINVAL

    while True:
        # sock->sk->sk_allocation = GFP_NOIO;
        iov = k.mem.alloc_array([k.kvec(iov_base=buf, iov_len=size)], name="usbip_recv iov")
        msg = k.msghdr()
        msg.msg_flags = MSG_NOSIGNAL

        result = k.kernel_recvmsg(sock, msg, iov, 1, size, MSG_WAITALL)
        if result <= 0:
            # pr_debug("receive sock %p buf %p size %u ret %d total %d\n", ...);
            return result  # goto err

        size -= result
        buf = buf + result
        total += result
        if not size > 0:
            break

    # if (usbip_dbg_flag_xmit) { ... usbip_dump_buffer(bp, osize); ... }
    return total


def _vhci_tx_loop(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """vhci_tx_loop()'s use: ``if (vhci_send_cmd_submit(vdev) < 0) break;`` ends the tx thread;
    the error event tears the connection down."""
    vdev = k.vhci_device(ud=k.usbip_device(tcp_socket=sock))
    segs = [k.mem.elem(vec + i) for i in range(nr_segs)] + [k.kvec(iov_base=NULL, iov_len=0)] * 2
    vdev.priv_tx.append(k.vhci_priv(pdu_header=segs[0].iov_base, pdu_header_len=segs[0].iov_len,
                                    transfer_buffer=segs[1].iov_base, transfer_buffer_length=segs[1].iov_len,
                                    iso_buffer=segs[2].iov_base, iso_len=segs[2].iov_len))
    ret = k.vhci_send_cmd_submit(vdev)
    return ret if ret < 0 else total


def _vhci_rx_pdu(k, sock, vec: Ptr, nr_segs: int, total: int, mode: str) -> int:
    """vhci_rx_pdu()'s use for the header: ``ret < 0`` is VDEV_EVENT_ERROR_TCP, 0 is "connection
    closed" (VDEV_EVENT_DOWN), a short count "received pdu size is %d, should be %d"."""
    seg = k.mem.elem(vec)
    if seg.iov_len == 0:
        return 0  # the PDU header is never empty
    ret = k.usbip_recv(sock, seg.iov_base, seg.iov_len)
    if ret < 0:
        return ret
    if ret == 0:
        return -EPIPE  # usbip_event_add(ud, VDEV_EVENT_DOWN);
    if ret != seg.iov_len:
        return -EPIPE  # usbip_event_add(ud, VDEV_EVENT_ERROR_TCP);
    return total


USERS = (
    User("vhci_send_cmd_submit", "drivers/usb/usbip/vhci_tx.c", SEND, ("tcp",), _vhci_tx_loop,
         max_segs=3,  # struct kvec iov[3]: header, transfer buffer, iso descriptors
         note="one kernel_sendmsg() of iov[3]; ret != txsize is an error event, no retry"),
    User("usbip_recv", "drivers/usb/usbip/usbip_common.c", RECV, ("tcp",), _vhci_rx_pdu, max_segs=1,
         note="a fresh one-element kvec per call, MSG_WAITALL; advances buf/size itself"),
)
