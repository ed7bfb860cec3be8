//! DHCPv4/DHCPv6 codec: in-place packet views and option writers, no allocation.
//!
//! This crate reads DHCP messages where they lie (a [`Dhcp4Packet`] / [`Dhcp6Packet`] is a view
//! over the caller's bytes, smoltcp style), indexes DHCPv4 options into a reusable per-shard
//! [`OptionIndex`], walks DHCPv6 relay nesting and encapsulated options in place, and writes
//! replies into a caller's reused buffer with [`Dhcp4Writer`] / [`Dhcp6Writer`].
//! It is the hot path of every packet, so it must never allocate per packet (buffers keep their
//! capacity after warm-up), never take a lock, never do I/O, and never panic whatever the bytes
//! say: every malformed input gives a [`WireError`] or a well-defined value. Protocol decisions
//! (which subnet, which address) belong to the protocol crates, not here.

mod error;
pub mod v4;
pub mod v6;

pub use error::WireError;
pub use v4::{
    fuzz_decode, relay_link_selection, relay_suboptions, Dhcp4Packet, Dhcp4Writer, MessageType,
    OptionIndex, RawOptions, RelaySubOptions,
};
pub use v6::{fuzz_decode6, Dhcp6Packet, Dhcp6Writer};
