"""kill memcpy_toiovec() and the 3.19 leftovers of the iovec receive path

Nothing calls memcpy_toiovec() any more: memcpy_to_msg() and
skb_copy_datagram_msg() copy with copy_to_iter()/skb_copy_datagram_iter()
since "switch memcpy_to_msg() and skb_copy{,_and_csum}_datagram_msg() to
primitives".  Remove it, and with it what 3.19 no longer has of the iovec
copy helpers:

  skb_copy_datagram_iovec()         built on memcpy_toiovec(); every caller
                                    goes through skb_copy_datagram_msg()
  skb_copy_datagram_const_iovec()   Herbert Xu's "kill" after tun/macvtap
                                    moved to iov_iter (not modelled)
  verify_iovec()                    folded into copy_msghdr_from_user(),
                                    which builds msg_iter for the syscalls

What stays until 4.0: memcpy_fromiovec() (memcpy_from_msg() is still
built on it), memcpy_fromiovecend() and csum_partial_copy_fromiovecend()
(udp/ping getfrag read by offset), memcpy_toiovecend(), and
skb_copy_datagram_from_iovec().

No behaviour changes: nothing reachable calls what is removed; a cell
that still did would not build.

Upstream: several 3.19 commits, ids not found ("memcpy_toiovec removed",
kernel-facts §5 #11; skb_copy_datagram_const_iovec's removal, §5 #4;
verify_iovec, recalled as 08adb7dabd48 [UNVERIFIED], §5 #10).  3.19.8 has
neither memcpy_toiovec (lib/iovec.c, include/linux/uio.h), nor
verify_iovec (net/socket.c, net/core/iovec.c), nor a declaration of
skb_copy_datagram_iovec or skb_copy_datagram_const_iovec
(include/linux/skbuff.h), all @3.19.8 (3.18.9 lib/iovec.c:36 has
memcpy_toiovec).
"""

from __future__ import annotations

from checks.series import Step

STEP = Step(
    subject="kill memcpy_toiovec() and the 3.19 leftovers of the iovec receive path",
    upstream=None,
    kernel="v3.19",
    depends=("s07",),
    removes=("memcpy_toiovec", "skb_copy_datagram_iovec", "skb_copy_datagram_const_iovec", "verify_iovec"),
    intends=("no interface change: the removed helpers have no caller left",),
)
