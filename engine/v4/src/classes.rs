//! Client classification in the DHCPv4 engine (Kea ARM chapter 16).
//!
//! [`ClassTable`] is built once per config from `client-classes`: every `test` compiled into a
//! [`Program`], class options merged into an [`OptionTable`], guards and
//! `evaluate-additional-classes` names resolved to class indices. Per packet the shard keeps
//! one [`PacketClasses`] (cleared, never reallocated) holding which classes the packet belongs
//! to and in which order they were assigned, which is the order of precedence for class
//! options and class fields (ARM 16.1.1 step 13, 16.8).

use crate::prepared::{Lifetime, OptionTable};
use corelease_classes::ClassEffects;
use corelease_classify::{ClassMembership, Program, Scratch, Universe, V4Context};
use corelease_config::{ClientClass, Dhcp4Config};
use corelease_wire::v4::{Dhcp4Packet, OptionIndex};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

pub use corelease_classes::classes::{KNOWN_ID, UNKNOWN_ID, VENDOR_CLASS_PREFIX};
pub use corelease_classes::{Builtin, ClassIdx, ClassRef, Guard};

/// What a DHCPv4 class gives its members (ARM 16.4, 16.8): options and the header fields,
/// and a valid lifetime.
pub struct ClassEffects4 {
    pub options: OptionTable,
    pub has_options: bool,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<Box<[u8]>>,
    pub boot_file_name: Option<Box<[u8]>>,
    pub valid: Option<Lifetime>,
    /// The class's `offer-lifetime` (ARM 9.2.34: "supported at the global, shared-network,
    /// subnet, and class levels").
    pub offer_lifetime: Option<u32>,
}

impl Default for ClassEffects4 {
    fn default() -> Self {
        ClassEffects4 {
            options: OptionTable::merge(&[]),
            has_options: false,
            next_server: None,
            server_hostname: None,
            boot_file_name: None,
            valid: None,
            offer_lifetime: None,
        }
    }
}

impl ClassEffects for ClassEffects4 {
    fn any(&self) -> bool {
        self.has_options
            || self.next_server.is_some()
            || self.server_hostname.is_some()
            || self.boot_file_name.is_some()
            || self.valid.is_some()
            || self.offer_lifetime.is_some()
    }
}

impl ClassEffects4 {
    fn of(c: &ClientClass) -> Self {
        let options = OptionTable::merge(&[&c.options]);
        let has_options = options.iter().next().is_some();
        ClassEffects4 {
            options,
            has_options,
            next_server: c.next_server,
            server_hostname: c.server_hostname.as_deref().map(|s| s.as_bytes().into()),
            boot_file_name: c.boot_file_name.as_deref().map(|s| s.as_bytes().into()),
            valid: c.valid_lifetime.map(|l| Lifetime {
                min: l.min,
                default: l.default,
                max: l.max,
            }),
            offer_lifetime: c.offer_lifetime,
        }
    }
}

/// One defined class: the shared classification facts, dereferencing to its effects.
pub type ClassDef = corelease_classes::ClassDef<ClassEffects4>;

/// Every class of one config.
pub type ClassTable = corelease_classes::ClassTable<ClassEffects4>;

/// Builds the config's class table (the shared builder, with DHCPv4's universe, option names
/// and effects).
pub fn class_table(cfg: &Dhcp4Config) -> ClassTable {
    let resolve = |name: &str| corelease_config::option_code_by_name(name, &cfg.option_defs);
    ClassTable::new(
        &cfg.client_classes,
        Universe::V4,
        &resolve,
        referenced_class_names(cfg),
        ClassEffects4::of,
    )
}

/// The classes one packet belongs to. Lives in the shard and is reset per packet; its
/// vectors are sized for the config once, so classifying never allocates.
pub struct PacketClasses {
    /// Cells, so that a run of tests can mark classes through the shared borrow its
    /// evaluation context holds (see [`Classifier::run_tests`]).
    member: Box<[Cell<bool>]>,
    /// Defined classes in the order they were assigned (precedence order).
    order: Vec<ClassIdx>,
    /// None before the host lookup, then whether a reservation was found.
    known: Option<bool>,
    /// Option 60 of the packet, copied (at most 255 bytes by the codec).
    vendor: [u8; 255],
    vendor_len: u8,
    has_vendor: bool,
    /// Where host classes go in `order`: after ALL and the vendor classes (ARM 16.1.1
    /// step 13: ALL, vendor classes, host classes, evaluated classes...).
    host_pos: usize,
}

impl PacketClasses {
    /// Sizes the state for `table` (config load; allocation happens here only).
    pub fn for_table(table: &ClassTable) -> Self {
        PacketClasses {
            member: (0..table.len()).map(|_| Cell::new(false)).collect(),
            order: Vec::with_capacity(table.len()),
            known: None,
            vendor: [0; 255],
            vendor_len: 0,
            has_vendor: false,
            host_pos: 0,
        }
    }

    pub fn order(&self) -> &[ClassIdx] {
        &self.order
    }

    pub fn known(&self) -> Option<bool> {
        self.known
    }

    pub fn is_defined_member(&self, idx: ClassIdx) -> bool {
        self.member.get(usize::from(idx)).is_some_and(|m| m.get())
    }

    fn assign(&mut self, idx: ClassIdx) {
        if self.mark(idx) {
            self.push_order(idx);
        }
    }

    /// Sets the membership bit; true when it was not set (the class still needs its place
    /// in `order`, see [`push_order`](Self::push_order)).
    #[inline]
    fn mark(&self, idx: ClassIdx) -> bool {
        self.member
            .get(usize::from(idx))
            .is_some_and(|m| !m.replace(true))
    }

    #[inline]
    fn push_order(&mut self, idx: ClassIdx) {
        if self.order.len() < self.order.capacity() {
            self.order.push(idx);
        }
    }

    /// Inserts at the host-class position (keeps precedence order without reallocating).
    fn assign_host_class(&mut self, idx: ClassIdx) {
        if let Some(m) = self.member.get(usize::from(idx)) {
            if !m.get() && self.order.len() < self.order.capacity() {
                m.set(true);
                let at = self.host_pos.min(self.order.len());
                self.order.insert(at, idx);
                self.host_pos = at + 1;
            }
        }
    }

    pub(crate) fn vendor(&self) -> Option<&[u8]> {
        self.has_vendor
            .then(|| self.vendor.get(..usize::from(self.vendor_len)))
            .flatten()
    }
}

/// Host classes that are not defined in the config, as seen by `member()` and guards.
pub trait HostClassNames {
    fn has_class(&self, name: &str) -> bool;
}

impl HostClassNames for () {
    fn has_class(&self, _name: &str) -> bool {
        false
    }
}

/// The membership view an expression and a guard see.
pub struct Membership<'a> {
    pub table: &'a ClassTable,
    pub state: &'a PacketClasses,
    pub host: &'a dyn HostClassNames,
}

impl Membership<'_> {
    pub fn is_member(&self, name: &str) -> bool {
        if let Some(i) = self.table.index_of(name) {
            if self.state.is_defined_member(i) {
                return true;
            }
        }
        match name {
            "ALL" => return true,
            "KNOWN" => return self.state.known == Some(true),
            "UNKNOWN" => return self.state.known == Some(false),
            _ => {}
        }
        if let Some(value) = name.strip_prefix(VENDOR_CLASS_PREFIX) {
            if self.state.vendor() == Some(value.as_bytes()) {
                return true;
            }
        }
        self.host.has_class(name)
    }

    pub fn is_ref_member(&self, r: &ClassRef) -> bool {
        match r {
            ClassRef::Defined(i) => {
                self.state.is_defined_member(*i)
                    || self
                        .table
                        .def(*i)
                        .is_some_and(|d| !d.plain && self.is_member(&d.name))
            }
            ClassRef::Named(n) => self.is_member(n),
        }
    }

    /// Whether the packet may use a scope guarded by `guard` (ARM 16.6: an empty guard admits
    /// everyone, otherwise membership of at least one listed class).
    pub fn admits(&self, guard: &Guard) -> bool {
        guard.0.is_empty() || guard.0.iter().any(|r| self.is_ref_member(r))
    }
}

impl ClassMembership for Membership<'_> {
    fn contains_class(&self, name: &str) -> bool {
        self.is_member(name)
    }

    /// The ids of [`ClassTable::member_id`], answered as `is_member(name)` would: a plain
    /// class is its bit (a host's undefined class names never equal a defined name).
    fn contains_class_id(&self, id: u32, name: &str) -> bool {
        self.table.is_member_id(
            id,
            self.state.known,
            |i| self.state.is_defined_member(i),
            || self.is_member(name),
        )
    }
}

/// What a class expression may read about the packet besides its bytes.
#[derive(Clone, Copy)]
pub struct PacketEnv<'a> {
    pub iface: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// Everything classification reads, borrowed from the shard for one step.
pub struct Classifier<'a> {
    pub table: &'a ClassTable,
    pub pkt: &'a Dhcp4Packet<&'a [u8]>,
    pub opts: &'a OptionIndex,
    pub env: PacketEnv<'a>,
    pub host: &'a dyn HostClassNames,
}

/// The evaluation context of one classification step: the membership type is named, so
/// `member()` is inlined rather than a virtual call.
type StepContext<'s> = V4Context<'s, &'s [u8], Membership<'s>>;

/// How many tests share one [`StepContext`] in [`Classifier::run_tests`]: the bits of the
/// run's hit mask.
const RUN: usize = 64;

impl<'a> Classifier<'a> {
    /// The evaluation context for `membership`, built once per run of tests instead of once
    /// per test (issue 8: rebuilding it per test was ~240 instructions per packet).
    #[inline]
    fn context<'s>(&'s self, membership: &'s Membership<'s>) -> StepContext<'s> {
        let mut ctx = V4Context::with_classes(self.pkt, self.opts, membership);
        ctx.iface = self.env.iface;
        ctx.src = self.env.src;
        ctx.dst = self.env.dst;
        ctx.known = membership.state.known == Some(true);
        ctx
    }

    fn eval(&self, program: &Program, state: &PacketClasses, scratch: &mut Scratch) -> bool {
        let membership = self.membership(state);
        program.eval_bool(&self.context(&membership), scratch)
    }

    /// Runs the tests of `list` (`early` or `late`) in order: a class whose test holds is
    /// assigned, a template class spawns (ARM 16.4.1). Up to [`RUN`] consecutive tests share
    /// one evaluation context; it borrows `state`, so a hit sets the membership bit at once
    /// (a later test's `member()` sees it) and takes its place in the precedence order when
    /// the run ends, in the order the tests ran: exactly what assigning each at once gives.
    fn run_tests(&self, list: &[ClassIdx], state: &mut PacketClasses, scratch: &mut Scratch) {
        let mut rest = list;
        while !rest.is_empty() {
            let (mut hits, mut ran) = (0u64, 0usize);
            {
                let membership = self.membership(state);
                let ctx = self.context(&membership);
                for &i in rest.iter().take(RUN) {
                    let Some(program) = self.table.def(i).and_then(|d| d.test.as_ref()) else {
                        break;
                    };
                    if program.eval_bool(&ctx, scratch) && state.mark(i) {
                        hits |= 1 << ran;
                    }
                    ran += 1;
                }
            }
            while hits != 0 {
                if let Some(&i) = rest.get(hits.trailing_zeros() as usize) {
                    state.push_order(i);
                }
                hits &= hits - 1;
            }
            rest = rest.get(ran..).unwrap_or(&[]);
            // The run stopped short at a template class (no `test`).
            if ran < RUN {
                if let Some((&template, tail)) = rest.split_first() {
                    self.spawn(template, state, scratch);
                    rest = tail;
                }
            }
        }
    }

    /// ARM 16.1.1 steps 1-3: ALL, the vendor class, then every test that does not depend on
    /// KNOWN/UNKNOWN and is not only-in-additional-list, in config order.
    pub fn classify_early(&self, state: &mut PacketClasses, scratch: &mut Scratch) {
        state.member.iter().for_each(|m| m.set(false));
        state.order.clear();
        state.known = None;
        match self.opts.get(corelease_wire::v4::opt::VENDOR_CLASS_ID) {
            Some(v) => {
                let n = v.len().min(state.vendor.len());
                if let (Some(dst), Some(src)) = (state.vendor.get_mut(..n), v.get(..n)) {
                    dst.copy_from_slice(src);
                }
                state.vendor_len = n as u8;
                state.has_vendor = true;
            }
            None => {
                state.vendor_len = 0;
                state.has_vendor = false;
            }
        }
        if let Some(all) = self.table.all {
            state.assign(all);
        }
        if let Some(v) = state.vendor() {
            let matched = self
                .table
                .vendor
                .iter()
                .find(|(_, value)| **value == *v)
                .map(|(i, _)| *i);
            if let Some(i) = matched {
                state.assign(i);
            }
        }
        state.host_pos = state.order.len();
        self.run_tests(&self.table.early, state, scratch);
    }

    /// ARM 16.4.1: a template class's `template-test` value v spawns `SPAWN_<name>_<v>`
    /// (its defined class, assigned first: its options win over the template's), and the
    /// packet joins the template class too. An empty value spawns nothing.
    fn spawn(&self, template: ClassIdx, state: &mut PacketClasses, scratch: &mut Scratch) {
        let Some(t) = self.table.template(template) else {
            return;
        };
        let membership = self.membership(state);
        let value = t.program.eval_string(&self.context(&membership), scratch);
        if value.is_empty() {
            return;
        }
        let spawned = t.spawned.get(value).copied();
        if let Some(s) = spawned {
            state.assign(s);
        }
        state.assign(template);
    }

    /// ARM 16.1.1 steps 8-9: the host lookup's outcome (KNOWN/UNKNOWN and the host's
    /// classes), then the tests that depend on it. `early` marks the partial step 6 of
    /// early-global-reservations-lookup: a found host sets KNOWN, none sets nothing yet.
    pub fn classify_host(
        &self,
        state: &mut PacketClasses,
        scratch: &mut Scratch,
        found: bool,
        host_classes: &[ClassIdx],
    ) {
        for &c in host_classes {
            state.assign_host_class(c);
        }
        state.known = Some(found);
        let builtin = if found {
            self.table.known
        } else {
            self.table.unknown
        };
        if let Some(i) = builtin {
            state.assign(i);
        }
        self.run_tests(&self.table.late, state, scratch);
    }

    /// The classes a global host found before subnet selection brings (ARM 16.1.1 step 6).
    pub fn classify_early_host(&self, state: &mut PacketClasses, host_classes: &[ClassIdx]) {
        for &c in host_classes {
            state.assign_host_class(c);
        }
        state.known = Some(true);
    }

    /// ARM 16.1.1 step 12: the `evaluate-additional-classes` of the pool, then the subnet,
    /// then the shared network; a listed class without a test is assigned unconditionally.
    pub fn classify_additional(
        &self,
        state: &mut PacketClasses,
        scratch: &mut Scratch,
        lists: [&[ClassIdx]; 3],
    ) {
        for list in lists {
            for &i in list {
                if state.is_defined_member(i) {
                    continue;
                }
                let Some(def) = self.table.def(i) else {
                    continue;
                };
                let matched = match &def.test {
                    Some(program) => self.eval(program, state, scratch),
                    None if self.table.template(i).is_some() => {
                        self.spawn(i, state, scratch);
                        continue;
                    }
                    None => true,
                };
                if matched {
                    state.assign(i);
                }
            }
        }
    }

    pub fn membership<'s>(&'s self, state: &'s PacketClasses) -> Membership<'s> {
        Membership {
            table: self.table,
            state,
            host: self.host,
        }
    }
}

/// Every class name the config refers to outside class definitions: guards and additional
/// lists of subnets, pools and shared networks, and the classes of reservations (for the
/// spawned names of template classes, ARM 16.4.1).
fn referenced_class_names(cfg: &Dhcp4Config) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut lists = |l: &corelease_config::ClassLists| {
        names.extend(l.guard.iter().chain(&l.additional).cloned());
    };
    for s in &cfg.subnets {
        lists(&s.classes);
        for p in &s.pools {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn table(classes: &str) -> ClassTable {
        let json = format!(r#"{{ "Dhcp4": {{ "client-classes": {classes} }} }}"#);
        let loaded = corelease_config::parse_dhcp4_str(&json, Path::new("."))
            .unwrap_or_else(|e| panic!("test config rejected: {e}"));
        class_table(&loaded.config)
    }

    /// A DISCOVER with option 60 `vendor` and option 12 `host`.
    fn packet(vendor: &[u8], host: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        p.extend_from_slice(&[53, 1, 1]);
        for (code, value) in [(60u8, vendor), (12, host)] {
            p.push(code);
            p.push(value.len() as u8);
            p.extend_from_slice(value);
        }
        p.push(255);
        p
    }

    /// The general path `run_tests` replaces: a fresh context per test, each hit assigned at
    /// once, templates spawned in place.
    fn one_by_one(cl: &Classifier<'_>, list: &[ClassIdx], state: &mut PacketClasses) {
        let mut scratch = Scratch::new();
        for &i in list {
            match cl.table.def(i).and_then(|d| d.test.as_ref()) {
                Some(program) => {
                    if cl.eval(program, state, &mut scratch) {
                        state.assign(i);
                    }
                }
                None => cl.spawn(i, state, &mut scratch),
            }
        }
    }

    /// Classifies `pkt` early and after a host lookup (`found`) both ways; returns the order.
    fn both_ways(t: &ClassTable, pkt: &[u8], found: bool) -> Vec<ClassIdx> {
        let pkt = Dhcp4Packet::new_checked(pkt).expect("test packet");
        let mut opts = OptionIndex::new();
        opts.parse(&pkt).expect("test options");
        let cl = Classifier {
            table: t,
            pkt: &pkt,
            opts: &opts,
            env: PacketEnv {
                iface: "eth0",
                src: IpAddr::V4(Ipv4Addr::LOCALHOST),
                dst: IpAddr::V4(Ipv4Addr::LOCALHOST),
            },
            host: &(),
        };
        let mut fast = PacketClasses::for_table(t);
        let mut scratch = Scratch::new();
        cl.classify_early(&mut fast, &mut scratch);
        cl.classify_host(&mut fast, &mut scratch, found, &[]);
        // The general path from the same starting point (ALL and the vendor class).
        let mut slow = PacketClasses::for_table(t);
        cl.classify_early(&mut slow, &mut scratch);
        slow.member.iter().for_each(|m| m.set(false));
        slow.order.clear();
        if let Some(all) = t.all {
            slow.assign(all);
        }
        if let Some(&(v, _)) = t.vendor.iter().find(|(_, v)| Some(&**v) == slow.vendor()) {
            slow.assign(v);
        }
        one_by_one(&cl, &t.early, &mut slow);
        slow.known = Some(found);
        if let Some(i) = if found { t.known } else { t.unknown } {
            slow.assign(i);
        }
        one_by_one(&cl, &t.late, &mut slow);
        assert_eq!(fast.order(), slow.order(), "precedence order");
        for i in 0..t.len() {
            let i = ClassIdx::try_from(i).expect("small table");
            assert_eq!(
                fast.is_defined_member(i),
                slow.is_defined_member(i),
                "membership of {}",
                t.defs[usize::from(i)].name
            );
        }
        fast.order().to_vec()
    }

    fn names(t: &ClassTable, order: &[ClassIdx]) -> Vec<String> {
        order
            .iter()
            .map(|&i| t.defs[usize::from(i)].name.to_string())
            .collect()
    }

    /// 150 classes, each a member() of its predecessor or a test of the packet, with
    /// template classes and KNOWN-dependent classes between them: the runs of one shared
    /// context (64 tests, cut short at templates) assign what one context per test assigns,
    /// in the same order.
    #[test]
    fn runs_of_tests_assign_what_one_context_per_test_assigns() {
        let mut classes = Vec::new();
        for k in 0..150 {
            let class = match k % 10 {
                0 => format!(r#"{{ "name": "c{k}", "test": "option[60].text == 'pxe'" }}"#),
                3 => format!(
                    r#"{{ "name": "c{k}", "template-test": "substring(option[12].text, 0, 2)" }}"#
                ),
                5 => format!(
                    r#"{{ "name": "c{k}", "test": "member('KNOWN') and member('c{}')" }}"#,
                    k - 1
                ),
                7 => format!(
                    r#"{{ "name": "c{k}", "test": "option[12].exists or not member('c{}')" }}"#,
                    k - 2
                ),
                // A template class among the KNOWN-dependent tests.
                8 => format!(
                    r#"{{ "name": "c{k}", "template-test": "ifelse(member('c{}'), 'k', '')" }}"#,
                    k - 1
                ),
                _ => format!(
                    r#"{{ "name": "c{k}", "test": "member('c{}') or option[61].exists" }}"#,
                    k - 1
                ),
            };
            classes.push(class);
        }
        let t = table(&format!("[ {} ]", classes.join(",")));
        assert_eq!(t.len(), 150);
        for (vendor, host) in [(&b"pxe"[..], &b"host-1"[..]), (b"msft", b""), (b"pxe", b"")] {
            for found in [false, true] {
                let order = both_ways(&t, &packet(vendor, host), found);
                if vendor == b"pxe" && !host.is_empty() && found {
                    // The member() chains cross the 64-test run boundaries.
                    let n = names(&t, &order);
                    assert!(n.contains(&"c148".to_string()), "{n:?}");
                    assert!(n.contains(&"c65".to_string()), "{n:?}");
                }
            }
        }
    }

    /// A packet with no options at all, and options with empty values, take the same
    /// classes through a run as one test at a time.
    #[test]
    fn runs_agree_on_missing_and_empty_options() {
        let t = table(
            r#"[
            { "name": "a", "test": "option[60].exists" },
            { "name": "b", "test": "option[60].hex == ''" },
            { "name": "c", "test": "not member('a') and substring(option[12].text, 0, 1) == ''" },
            { "name": "VENDOR_CLASS_", "test": "member('b')" },
            { "name": "d", "template-test": "option[12].text" },
            { "name": "e", "test": "member('d') or member('KNOWN')" } ]"#,
        );
        for (vendor, host) in [(&b""[..], &b""[..]), (b"x", b"")] {
            both_ways(&t, &packet(vendor, host), true);
            both_ways(&t, &packet(vendor, host), false);
        }
        let mut bare = packet(b"", b"");
        bare.truncate(240);
        bare.push(255);
        for found in [false, true] {
            let order = both_ways(&t, &bare, found);
            assert_eq!(
                names(&t, &order),
                // An absent option reads as "" (ARM 16.3), so `b` holds and so does the
                // class whose test is member('b').
                if found {
                    vec!["b", "c", "VENDOR_CLASS_", "e"]
                } else {
                    vec!["b", "c", "VENDOR_CLASS_"]
                }
            );
        }
    }
}
