"""kill lib/iovec.c and net/core/iovec.c

With memcpy_from_msg(), the getfrag callbacks, tcp_sendmsg(), AF_UNIX,
packet_snd() and L2CAP on copy_from_iter() and friends, nothing calls the
iovec helpers any more.  Delete them:

  lib/iovec.c       memcpy_fromiovec(), memcpy_fromiovecend(),
                    memcpy_toiovecend()
  net/core/iovec.c  csum_partial_copy_fromiovecend()
                    (verify_iovec() went in 3.19, iov_pages() is not modelled)
  net/core/datagram.c
                    skb_copy_datagram_from_iovec(), built on
                    memcpy_fromiovecend()

mm/iov_iter.c moves to lib/iov_iter.c in the same release; a move does
not change code, and nothing here models file locations.

No behaviour changes: nothing reachable calls what is removed; a cell
that still did would not build.

Upstream: 4.0, ids not found (kernel-facts §5 #16: the 4.0 net/core/
Makefile has no iovec.o).  include/linux/uio.h@4.0.5 declares none of
memcpy_fromiovec*, which include/linux/uio.h:138-141@3.19.8 still
declares, and ip_generic_getfrag() copies with copy_from_iter()/
csum_and_copy_from_iter() (net/ipv4/ip_output.c:805-819@4.0.5).  When
skb_copy_datagram_from_iovec() went is not known: include/linux/
skbuff.h@4.0.5 has no declaration of it; it can be no later than
memcpy_fromiovecend(), so it goes here [INF].
"""

from __future__ import annotations

from checks.series import Step

STEP = Step(
    subject="kill lib/iovec.c and net/core/iovec.c",
    upstream=None,
    kernel="v4.0",
    depends=("s09", "s10", "s11", "s12", "s13"),
    removes=("memcpy_fromiovec", "memcpy_fromiovecend", "memcpy_toiovecend", "csum_partial_copy_fromiovecend",
             "skb_copy_datagram_from_iovec"),
    intends=("no interface change: the removed helpers have no caller left",),
)
