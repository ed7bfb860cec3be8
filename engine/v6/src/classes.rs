//! Client classification in the DHCPv6 engine (Kea ARM chapter 16).
//!
//! The expression language is `corelease-classify`'s (compiled at load for the DHCPv6
//! universe, evaluated per packet with no allocation); this module is the v6 side of what
//! engine/v4's `classes.rs` does for DHCPv4: which classes exist ([`ClassTable6`]), which a
//! packet is in and in which order ([`PacketClasses6`], kept by the shard and reset per
//! packet), the guards of subnets, shared networks, pools and pd-pools, and a
//! [`PacketContext`] over a DHCPv6 message and its relay layers ([`V6Context`]).

use crate::hosts::Host6;
use crate::prepared::{reply_options, ReplyOption6};
use corelease_classes::ClassEffects;
use corelease_classify::{PacketContext, Scratch, Universe};
use corelease_config::{option6_code_by_name, ClassLists, ClientClass6, Dhcp6Config, Lifetime6};
use corelease_wire::v6::{opt, Dhcp6Packet, Options6, RELAY_HEADER_LEN};
use std::net::{IpAddr, Ipv6Addr};

pub use corelease_classes::classes::VENDOR_CLASS_PREFIX;
pub use corelease_classes::{ClassIdx, ClassRef, Guard};

/// What a DHCPv6 class gives its members: options and lifetimes (ARM 16.4, 16.8).
#[derive(Default)]
pub struct ClassEffects6 {
    pub options: Box<[ReplyOption6]>,
    pub preferred: Option<Lifetime6>,
    pub valid: Option<Lifetime6>,
}

impl ClassEffects for ClassEffects6 {
    fn any(&self) -> bool {
        !self.options.is_empty() || self.preferred.is_some() || self.valid.is_some()
    }
}

impl ClassEffects6 {
    fn of(c: &ClientClass6) -> Self {
        ClassEffects6 {
            options: reply_options(&c.options).into_boxed_slice(),
            preferred: c.preferred,
            valid: c.valid,
        }
    }
}

/// One defined class: the shared classification facts, dereferencing to its effects.
pub type ClassDef6 = corelease_classes::ClassDef<ClassEffects6>;

/// Every class of one config.
pub type ClassTable6 = corelease_classes::ClassTable<ClassEffects6>;

/// A scope's `client-classes` guard (ARM 16.6).
pub type Guard6 = Guard;

/// Builds the config's class table (the shared builder, with DHCPv6's universe, option names
/// and effects): `member('name')` is bound to class ids at load, as in DHCPv4.
pub fn class_table(cfg: &Dhcp6Config) -> ClassTable6 {
    let resolve = |name: &str| option6_code_by_name(name, &cfg.option_defs);
    ClassTable6::new(
        &cfg.client_classes,
        Universe::V6,
        &resolve,
        referenced_class_names(cfg),
        ClassEffects6::of,
    )
}

/// The classes one packet belongs to. Lives in the shard and is reset per packet; sized for
/// the config once (and again after a reload), so classifying never allocates.
#[derive(Default)]
pub struct PacketClasses6 {
    member: Vec<bool>,
    /// Defined classes in the order they were assigned: the order of precedence of class
    /// options and lifetimes (ARM 16.1.1, 16.8).
    order: Vec<ClassIdx>,
    /// None before the host lookup, then whether a reservation was found.
    known: Option<bool>,
    /// Where host classes go in `order`: after ALL and the vendor class.
    host_pos: usize,
}

impl PacketClasses6 {
    /// Resets the state for a new packet (and sizes it for `table` after a config change).
    pub fn reset(&mut self, table: &ClassTable6, scratch: &mut Scratch) {
        if self.member.len() != table.len() {
            self.member = vec![false; table.len()];
            self.order = Vec::with_capacity(table.len());
            for p in table.defs.iter().filter_map(|d| d.test.as_ref()) {
                scratch.reserve_for(p);
            }
            for t in table.templates() {
                scratch.reserve_for(&t.program);
            }
        }
        self.member.iter_mut().for_each(|m| *m = false);
        self.order.clear();
        self.known = None;
        self.host_pos = 0;
    }

    pub fn order(&self) -> &[ClassIdx] {
        &self.order
    }

    pub fn known(&self) -> Option<bool> {
        self.known
    }

    pub fn is_defined_member(&self, idx: ClassIdx) -> bool {
        self.member.get(usize::from(idx)).copied().unwrap_or(false)
    }

    fn assign(&mut self, idx: ClassIdx) {
        if let Some(m) = self.member.get_mut(usize::from(idx)) {
            if !*m && self.order.len() < self.order.capacity() {
                *m = true;
                self.order.push(idx);
            }
        }
    }

    fn assign_host_class(&mut self, idx: ClassIdx) {
        if let Some(m) = self.member.get_mut(usize::from(idx)) {
            if !*m && self.order.len() < self.order.capacity() {
                *m = true;
                let at = self.host_pos.min(self.order.len());
                self.order.insert(at, idx);
                self.host_pos = at + 1;
            }
        }
    }
}

/// The first vendor-class-data of a Vendor Class option (16): enterprise number (4 bytes),
/// then 16-bit-length tuples (RFC 8415 section 21.16). Kea's VENDOR_CLASS_ class takes it.
pub fn vendor_class_data(option: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes([*option.get(4)?, *option.get(5)?]));
    option.get(6..6 + len)
}

/// What classification reads about one message, borrowed for one packet.
#[derive(Clone, Copy)]
pub struct Packet6<'a> {
    pub outer: &'a Dhcp6Packet<&'a [u8]>,
    pub relays: usize,
    pub msg: &'a Dhcp6Packet<&'a [u8]>,
    pub iface: &'a str,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl<'a> Packet6<'a> {
    /// Relay layer `level`, 0 being the outermost (closest to the server), as Kea's
    /// `relay6[nest]` counts (ARM 16.3).
    fn relay(&self, level: usize) -> Option<Dhcp6Packet<&'a [u8]>> {
        if level >= self.relays {
            return None;
        }
        self.outer.relay_chain().nth(level)?.ok()
    }

    pub(crate) fn vendor(&self) -> Option<&'a [u8]> {
        self.msg
            .option(opt::VENDOR_CLASS)
            .and_then(vendor_class_data)
    }
}

/// The [`PacketContext`] of a DHCPv6 message: options of the client message, the pkt6 fields,
/// the relay layers, KNOWN and membership.
pub struct V6Context<'a> {
    pub pkt: Packet6<'a>,
    pub table: &'a ClassTable6,
    pub state: &'a PacketClasses6,
    /// Classes assigned by `evaluate-additional-classes` (kept apart so that the state the
    /// lease choice read stays borrowed while they are added).
    pub extra: Option<&'a PacketClasses6>,
    pub host: Option<&'a Host6>,
}

impl V6Context<'_> {
    /// Membership as `member()` and guards see it: defined classes assigned so far, the
    /// built-in ALL, KNOWN / UNKNOWN after the host lookup, VENDOR_CLASS_<data>, and the
    /// host's reserved class names.
    fn is_defined_member(&self, i: ClassIdx) -> bool {
        self.state.is_defined_member(i) || self.extra.is_some_and(|e| e.is_defined_member(i))
    }

    pub fn is_member_name(&self, name: &str) -> bool {
        if let Some(i) = self.table.index_of(name) {
            if self.is_defined_member(i) {
                return true;
            }
        }
        match name {
            "ALL" => return true,
            "KNOWN" => return self.state.known == Some(true),
            "UNKNOWN" => return self.state.known == Some(false),
            _ => {}
        }
        if let Some(v) = name.strip_prefix(VENDOR_CLASS_PREFIX) {
            if self.pkt.vendor() == Some(v.as_bytes()) {
                return true;
            }
        }
        self.host.is_some_and(|h| h.has_class(name))
    }

    /// Whether a scope guarded by `guard` admits the packet (empty guard: everyone).
    pub fn admits(&self, guard: &Guard6) -> bool {
        guard.0.is_empty()
            || guard.0.iter().any(|r| match r {
                ClassRef::Defined(i) => {
                    self.is_defined_member(*i)
                        || self
                            .table
                            .def(*i)
                            .is_some_and(|d| self.is_member_name(&d.name))
                }
                ClassRef::Named(n) => self.is_member_name(n),
            })
    }
}

impl PacketContext for V6Context<'_> {
    fn option(&self, code: u16) -> Option<&[u8]> {
        self.pkt.msg.option(code)
    }
    fn msg_type(&self) -> u8 {
        self.pkt.msg.msg_type_raw()
    }
    fn transaction_id(&self) -> u32 {
        self.pkt.msg.transaction_id()
    }
    fn iface(&self) -> &[u8] {
        self.pkt.iface.as_bytes()
    }
    fn src_addr(&self) -> IpAddr {
        IpAddr::V6(self.pkt.src)
    }
    fn dst_addr(&self) -> IpAddr {
        IpAddr::V6(self.pkt.dst)
    }
    fn packet_len(&self) -> u32 {
        u32::try_from(self.pkt.outer.as_bytes().len()).unwrap_or(u32::MAX)
    }
    fn relay6_count(&self) -> usize {
        self.pkt.relays
    }
    fn relay6_option(&self, level: usize, code: u16) -> Option<&[u8]> {
        let layer = self.pkt.relay(level)?.into_inner();
        Options6::new(layer.get(RELAY_HEADER_LEN..)?, RELAY_HEADER_LEN).find(code)
    }
    fn relay6_peer_addr(&self, level: usize) -> Option<Ipv6Addr> {
        self.pkt.relay(level).map(|l| l.peer_address())
    }
    fn relay6_link_addr(&self, level: usize) -> Option<Ipv6Addr> {
        self.pkt.relay(level).map(|l| l.link_address())
    }
    fn is_known(&self) -> bool {
        self.state.known == Some(true)
    }
    fn is_member(&self, name: &str) -> bool {
        self.is_member_name(name)
    }
    /// `member()` names bound at load ([`ClassTable6::member_id`]): a plain class is its bit.
    fn is_member_id(&self, id: u32, name: &str) -> bool {
        self.table.is_member_id(
            id,
            self.state.known,
            |i| self.is_defined_member(i),
            || self.is_member_name(name),
        )
    }
}

/// Everything one classification step reads, borrowed from the shard.
pub struct Classify6<'a> {
    pub table: &'a ClassTable6,
    pub pkt: Packet6<'a>,
    pub host: Option<&'a Host6>,
}

impl Classify6<'_> {
    fn eval(
        &self,
        state: &PacketClasses6,
        extra: Option<&PacketClasses6>,
        scratch: &mut Scratch,
        idx: ClassIdx,
    ) -> bool {
        let Some(program) = self.table.def(idx).and_then(|d| d.test.as_ref()) else {
            return false;
        };
        let ctx = V6Context {
            pkt: self.pkt,
            table: self.table,
            state,
            extra,
            host: self.host,
        };
        program.eval_bool(&ctx, scratch)
    }

    /// A test in the `early` / `late` lists: a `test`, or a template's `template-test`, whose
    /// value v puts the packet in `SPAWN_<name>_<v>` (its class, assigned first: its options
    /// win over the template's) and in the template class; "" spawns nothing (ARM 16.4.1).
    fn run(&self, state: &mut PacketClasses6, scratch: &mut Scratch, idx: ClassIdx) {
        let Some(t) = self.table.template(idx) else {
            if self.eval(state, None, scratch, idx) {
                state.assign(idx);
            }
            return;
        };
        let ctx = V6Context {
            pkt: self.pkt,
            table: self.table,
            state,
            extra: None,
            host: self.host,
        };
        let value = t.program.eval_string(&ctx, scratch);
        if value.is_empty() {
            return;
        }
        if let Some(&s) = t.spawned.get(value) {
            state.assign(s);
        }
        state.assign(idx);
    }
}

impl Classify6<'_> {
    /// ARM 16.1.1 first steps: ALL, the vendor class, then every test that does not depend
    /// on KNOWN/UNKNOWN and is not only-in-additional-list, in config order.
    pub fn early(&self, state: &mut PacketClasses6, scratch: &mut Scratch) {
        let table = self.table;
        state.reset(table, scratch);
        if let Some(all) = table.all {
            state.assign(all);
        }
        if let Some(v) = self.pkt.vendor() {
            if let Some(&(i, _)) = table.vendor.iter().find(|(_, value)| **value == *v) {
                state.assign(i);
            }
        }
        state.host_pos = state.order.len();
        for &i in &table.early {
            self.run(state, scratch, i);
        }
    }

    /// ARM 16.1.1 step 6 (early-global-reservations-lookup), before subnet selection: a
    /// global host (`self.host`) gives its classes and KNOWN; without one nothing is set
    /// (UNKNOWN waits for the lookup after subnet selection).
    pub fn early_host(&self, state: &mut PacketClasses6) {
        let Some(h) = self.host else {
            return;
        };
        for c in h.classes.iter() {
            if let Some(i) = self.table.index_of(c) {
                state.assign_host_class(i);
            }
        }
        state.known = Some(true);
    }

    /// After subnet selection and the host lookup (`self.host`): the host's classes, KNOWN or
    /// UNKNOWN, then the tests that depend on them.
    pub fn after_host(&self, state: &mut PacketClasses6, scratch: &mut Scratch) {
        let table = self.table;
        if let Some(h) = self.host {
            for c in h.classes.iter() {
                if let Some(i) = table.index_of(c) {
                    state.assign_host_class(i);
                }
            }
        }
        state.known = Some(self.host.is_some());
        let builtin = if self.host.is_some() {
            table.known
        } else {
            table.unknown
        };
        if let Some(i) = builtin {
            state.assign(i);
        }
        for &i in &table.late {
            self.run(state, scratch, i);
        }
    }

    /// `evaluate-additional-classes` of the pool, then the subnet, then the shared network
    /// (ARM 16.4.1); a listed class without a test is assigned unconditionally.
    pub fn additional(
        &self,
        state: &PacketClasses6,
        extra: &mut PacketClasses6,
        scratch: &mut Scratch,
        lists: [&[ClassIdx]; 3],
    ) {
        extra.reset(self.table, scratch);
        for list in lists {
            for &i in list {
                if state.is_defined_member(i) || extra.is_defined_member(i) {
                    continue;
                }
                let Some(def) = self.table.def(i) else {
                    continue;
                };
                if let Some(t) = self.table.template(i) {
                    // An only-in-additional-list template class spawns here (ARM 16.4.1),
                    // as from the early or late tests: its spawned class first, then the
                    // template; an empty value spawns nothing.
                    let (spawned, empty) = {
                        let ctx = V6Context {
                            pkt: self.pkt,
                            table: self.table,
                            state,
                            extra: Some(extra),
                            host: self.host,
                        };
                        let value = t.program.eval_string(&ctx, scratch);
                        (t.spawned(value), value.is_empty())
                    };
                    if !empty {
                        if let Some(s) = spawned {
                            extra.assign(s);
                        }
                        extra.assign(i);
                    }
                    continue;
                }
                if def.test.is_none() || self.eval(state, Some(extra), scratch, i) {
                    extra.assign(i);
                }
            }
        }
    }

    /// The membership view of guards.
    pub fn view<'s>(&'s self, state: &'s PacketClasses6) -> V6Context<'s> {
        V6Context {
            pkt: self.pkt,
            table: self.table,
            state,
            extra: None,
            host: self.host,
        }
    }
}

/// Every class name the config refers to outside class definitions: guards and additional
/// lists of subnets, pools, pd-pools and shared networks, and the classes of reservations
/// (for the spawned names of template classes, ARM 16.4.1).
fn referenced_class_names(cfg: &Dhcp6Config) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut lists = |l: &ClassLists| {
        names.extend(l.guard.iter().chain(&l.additional).cloned());
    };
    for s in &cfg.subnets {
        lists(&s.classes);
        for p in &s.pools {
            lists(&p.classes);
        }
        for p in &s.pd_pools {
            lists(&p.classes);
        }
    }
    for n in &cfg.shared_networks {
        lists(&n.classes);
    }
    let reservations = cfg
        .subnets
        .iter()
        .flat_map(|s| &s.reservations)
        .chain(&cfg.reservations);
    for r in reservations {
        names.extend(r.client_classes.iter().cloned());
    }
    names
}
