//! DHCPv4/DHCPv6 codec: in-place packet views and option writers, no allocation
