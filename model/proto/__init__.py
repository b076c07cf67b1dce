"""The protocols' ->sendmsg/->recvmsg instances reached by the in-kernel users (v3.18)."""
