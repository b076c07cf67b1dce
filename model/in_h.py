"""include/uapi/linux/in.h (v3.18): the IPPROTO_* numbers used to pick a transport."""

IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_SCTP = 132
