//! Sans-IO DHCPv4 protocol logic: (shard state, request, now) -> verdict and reply
