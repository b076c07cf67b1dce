"""include/asm-generic/param.h (v3.18): HZ, the tick rate socket timeouts are written in."""

HZ = 100
