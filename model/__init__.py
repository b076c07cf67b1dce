"""A small Linux kernel in Python, at v3.18: the socket data path and its in-kernel users."""
