//! The family-independent half of host reservations (Kea ARM 9.3, 10.3) and client
//! classification (ARM chapter 16): tables built once per config, looked up per packet with no
//! allocation and no lock.
//!
//! engine/v4 and engine/v6 keep only what differs between the families: which bytes of a
//! packet are an identifier, what a reservation or a class gives a client (options, fields,
//! lifetimes, addresses or prefixes), and the [`corelease_classify::PacketContext`] over their
//! packets. The lookup structure, the "reserved for another client" index and the flex-id
//! expression live here once, so both families behave alike by construction.
//!
//! This crate never touches a packet's bytes or a socket; it knows config types, not wire
//! types.

pub mod classes;
pub mod hosts;

pub use classes::{
    Builtin, ClassConfig, ClassDef, ClassEffects, ClassIdx, ClassNames, ClassRef, ClassTable,
    Guard, Template,
};
pub use hosts::{HostIdentifiers, HostIdx, HostTable};
