//! Where classification and host reservations meet the DHCPv4 exchange: the steps of Kea ARM
//! 16.1.1 at their points in `V4Shard::handle`, the reservation rules of ARM 9.3 for the
//! allocator, and what classes and hosts put into a reply (ARM 16.8, 9.3.4, 9.3.5).

use crate::classes::{ClassDef, ClassIdx, ClassTable, Classifier, Guard, HostClassNames};
use crate::classes::{Membership, PacketEnv};
use crate::hosts::{Host, PacketIds};
use crate::prepared::{Lifetime, OptionTable, ReplyOption, SubnetRt};
use crate::{ClientIdent, Meta4, V4Shard, NO_POOL};
use corelease_classes::ClassNames;
use corelease_classify::V4Context;
use corelease_storage::LeaseSink;
use corelease_types::{LeaseKind, LeaseState};
use corelease_wire::v4::Dhcp4Packet;
use std::net::{IpAddr, Ipv4Addr};

fn env<'a>(p: &'a crate::Prepared4, meta: &Meta4) -> PacketEnv<'a> {
    PacketEnv {
        iface: p
            .interface(meta.ifindex)
            .map(|i| i.name.as_str())
            .unwrap_or(""),
        src: IpAddr::V4(*meta.src.ip()),
        dst: IpAddr::V4(meta.dst),
    }
}

/// The replaced client identifier, if any (see `V4Shard::client_id_bytes`).
fn replaced(buf: &[u8]) -> Option<&[u8]> {
    (!buf.is_empty()).then_some(buf)
}

impl<S: LeaseSink> V4Shard<S> {
    /// The client identifier the packet is handled with: flex_id's replacement (ARM 17.9.1),
    /// else option 61 as sent.
    pub(crate) fn client_id_bytes(&self) -> Option<&[u8]> {
        replaced(&self.replaced_client_id).or_else(|| self.opts.client_id())
    }

    /// ARM 16.1.1 steps 1-6: ALL, vendor class, the tests that do not need the host lookup,
    /// DROP, and with early-global-reservations-lookup the global host. True when the packet
    /// is in DROP and must be dropped.
    pub(crate) fn classify_early(&mut self, meta: &Meta4, pkt: &Dhcp4Packet<&[u8]>) -> bool {
        self.host = None;
        let p = &*self.prepared;
        let env = env(p, meta);
        let cl = Classifier {
            table: &p.classes,
            pkt,
            opts: &self.opts,
            env,
            host: &(),
        };
        cl.classify_early(&mut self.cls, &mut self.scratch);
        self.flex_id.clear();
        if let Some(program) = &p.hosts.flex_id {
            // ARM 17.9: the flex_id library evaluates its expression for every packet, at
            // pkt4_receive (after the early classes, which `member()` may read).
            let membership = Membership {
                table: &p.classes,
                state: &self.cls,
                host: &(),
            };
            let mut ctx = V4Context::new(pkt, &self.opts);
            ctx.iface = env.iface;
            ctx.src = env.src;
            ctx.dst = env.dst;
            ctx.classes = &membership;
            let value = program.eval_string(&ctx, &mut self.scratch);
            self.flex_id.extend_from_slice(value);
            tracing::debug!(target: "FLEX_ID_EXPRESSION_EVALUATED", size = value.len(), "flex-id evaluated for packet");
        }
        self.replaced_client_id.clear();
        if p.hosts.flex_replaces_client_id && !self.flex_id.is_empty() {
            // ARM 17.9.1: "the value derived from the flexible identifier is formed by
            // prepending one byte with a value of zero"; the packet is then handled as if
            // it had sent that client identifier (lease ownership, host lookup).
            self.replaced_client_id.push(0);
            self.replaced_client_id.extend_from_slice(&self.flex_id);
        }
        let mut early_host = None;
        if p.early_global_reservations_lookup {
            let ids = PacketIds::of(pkt, &self.opts)
                .with_flex_id(&self.flex_id)
                .with_client_id(replaced(&self.replaced_client_id));
            if let Some(h) = p.hosts.global(&ids) {
                early_host = Some(h);
                let classes = p.hosts.host(h).map(|h| &*h.classes).unwrap_or(&[]);
                cl.classify_early_host(&mut self.cls, classes);
            }
        }
        self.host = early_host;
        self.in_drop()
    }

    fn in_drop(&self) -> bool {
        self.prepared
            .classes
            .drop
            .is_some_and(|d| self.cls.is_defined_member(d))
    }

    /// ARM 16.1.1 steps 8-10, after subnet selection: the host reservation (the subnet's,
    /// with reservations-in-subnet, across its shared network; then the global ones with
    /// reservations-global: a subnet reservation wins, ARM 9.3.1), KNOWN or UNKNOWN, the
    /// host's classes, the tests depending on them, then DROP. True when dropped.
    pub(crate) fn classify_after_subnet(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        subnet: usize,
    ) -> bool {
        if !self.prepared.classify {
            return false;
        }
        let p = &*self.prepared;
        let early = self.host;
        let mut host = None;
        if !p.hosts.is_empty() {
            let ids = PacketIds::of(pkt, &self.opts)
                .with_flex_id(&self.flex_id)
                .with_client_id(replaced(&self.replaced_client_id));
            let sel = p.subnets.get(subnet);
            if sel.is_some_and(|s| s.reservations_in_subnet) {
                host = p
                    .candidates(subnet)
                    .filter(|&s| self.subnet_admits(s))
                    .find_map(|s| p.hosts.in_subnet(s, &ids));
            }
            if host.is_none() && sel.is_some_and(|s| s.reservations_global) {
                host = early.or_else(|| p.hosts.global(&ids));
            }
        }
        // An early global host stays KNOWN for classification even where the subnet does
        // not use global reservations (ARM 16.1.1 step 6 already assigned its classes).
        let found = host.is_some() || early.is_some();
        self.host = host;
        let env = env(p, meta);
        let h: Option<&Host> = host.and_then(|h| p.hosts.host(h));
        let names: &dyn HostClassNames = match h {
            Some(h) => h,
            None => &(),
        };
        let cl = Classifier {
            table: &p.classes,
            pkt,
            opts: &self.opts,
            env,
            host: names,
        };
        let classes = h.map(|h| &*h.classes).unwrap_or(&[]);
        cl.classify_host(&mut self.cls, &mut self.scratch, found, classes);
        self.in_drop()
    }

    /// ARM 16.1.1 step 12: the additional classes of the chosen pool, subnet and network.
    pub(crate) fn classify_additional(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        subnet: usize,
        pool: u32,
    ) {
        let p = &*self.prepared;
        if !p.classify {
            return;
        }
        let empty: &[ClassIdx] = &[];
        let pool_list = p
            .pools
            .get(pool as usize)
            .filter(|_| pool != NO_POOL)
            .map(|x| &*x.additional)
            .unwrap_or(empty);
        let srt = p.subnets.get(subnet);
        let subnet_list = srt.map(|s| &*s.additional).unwrap_or(empty);
        let network_list = srt
            .and_then(|s| s.network)
            .and_then(|n| p.networks.get(n))
            .map(|n| &*n.additional)
            .unwrap_or(empty);
        if pool_list.is_empty() && subnet_list.is_empty() && network_list.is_empty() {
            return;
        }
        let env = env(p, meta);
        let h: Option<&Host> = self.host.and_then(|h| p.hosts.host(h));
        let names: &dyn HostClassNames = match h {
            Some(h) => h,
            None => &(),
        };
        let cl = Classifier {
            table: &p.classes,
            pkt,
            opts: &self.opts,
            env,
            host: names,
        };
        cl.classify_additional(
            &mut self.cls,
            &mut self.scratch,
            [pool_list, subnet_list, network_list],
        );
    }

    fn membership(&self) -> Membership<'_> {
        let names: &dyn HostClassNames = match self.current_host() {
            Some(h) => h,
            None => &(),
        };
        Membership {
            table: &self.prepared.classes,
            state: &self.cls,
            host: names,
        }
    }

    /// The packet's classes for a log line (see [`ClassNames`]).
    pub(crate) fn class_names(&self) -> ClassNames<'_, crate::classes::ClassEffects4> {
        let classify = self.prepared.classify;
        ClassNames {
            vendor_classes: &self.prepared.classes.vendor,
            defs: &self.prepared.classes.defs,
            order: if classify { self.cls.order() } else { &[] },
            known: self.cls.known().filter(|_| classify),
            vendor: self.cls.vendor().filter(|_| classify),
        }
    }

    pub(crate) fn current_host(&self) -> Option<&Host> {
        self.host.and_then(|h| self.prepared.hosts.host(h))
    }

    fn admits(&self, guard: &Guard) -> bool {
        guard.is_open() || self.membership().admits(guard)
    }

    /// Whether the packet may use subnet `s`: its guard and its shared network's (ARM 16.6).
    pub(crate) fn subnet_admits(&self, s: usize) -> bool {
        let p = &*self.prepared;
        if !p.classify {
            return true;
        }
        let Some(srt) = p.subnets.get(s) else {
            return false;
        };
        let network_ok = match srt.network.and_then(|n| p.networks.get(n)) {
            Some(n) => self.admits(&n.guard),
            None => true,
        };
        network_ok && self.admits(&srt.guard)
    }

    /// The answer to a REQUEST for which no subnet is selected — none matches its addresses
    /// (a giaddr in no subnet and no relay list) or the class guards refuse the client:
    /// kea-dhcp4 2.2.0 NAKs it (DHCP4_PACKET_NAK_0001, "failed to select a subnet"),
    /// renewals and INIT-REBOOT alike, so a client that left the class starts over. A
    /// REQUEST naming another server is still not ours to answer (RFC 2131 4.3.2).
    pub(crate) fn nak_no_subnet(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        out: &mut [u8],
    ) -> Option<crate::Reply4> {
        let server_id = self.local_addr(meta)?;
        if let Some(chosen) = self.opts.server_id() {
            if !self.prepared.is_own_server_id(chosen, server_id) {
                self.stats.global.pkt4_receive_drop.inc();
                return None;
            }
        }
        tracing::debug!(target: "DHCP4_PACKET_NAK_0001", xid = pkt.xid(), "failed to select a subnet for incoming packet");
        self.write_reply(
            meta,
            pkt,
            corelease_wire::v4::MessageType::Nak,
            None,
            server_id,
            out,
        )
    }

    /// Whether the packet may get an address from pool `pool` (ARM 16.7).
    pub(crate) fn pool_admits(&self, pool: usize) -> bool {
        let p = &*self.prepared;
        !p.classify || p.pools.get(pool).is_some_and(|x| self.admits(&x.guard))
    }

    /// Subnet selection with class guards (ARM 16.1.1 step 7): the selected subnet if the
    /// packet may use it, else the first of its shared network that it may use.
    pub(crate) fn admitted_subnet(&self, selected: usize) -> Option<usize> {
        if !self.prepared.classify {
            return Some(selected);
        }
        self.prepared
            .candidates(selected)
            .find(|&s| self.subnet_admits(s))
    }

    /// The host's reserved address when it lies in the client's network: (subnet, pool or
    /// NO_POOL, address).
    pub(crate) fn host_address(&self, subnet: usize) -> Option<(usize, u32, u32)> {
        let addr = self.current_host()?.addr?;
        let p = &*self.prepared;
        let s = p.candidates(subnet).find(|&s| {
            p.subnets.get(s).is_some_and(|x| x.contains(addr)) && self.subnet_admits(s)
        })?;
        let pool = p.pool_of(s, addr).map(|x| x as u32).unwrap_or(NO_POOL);
        Some((s, pool, addr))
    }

    /// Whether the reserved address `addr` can be this client's now: free, or already its
    /// own; not while another client's lease is active (ARM 9.3.2: that client keeps it until
    /// it renews and is refused). A lapsed entry of another client is dropped.
    pub(crate) fn take_reserved(
        &mut self,
        addr: u32,
        ident: &ClientIdent,
        mcid: bool,
        now: u64,
    ) -> bool {
        let Some(e) = self.table.get(addr) else {
            return true;
        };
        if ident.owns(&e.lease, mcid) && e.lease.state != LeaseState::Declined {
            return true;
        }
        if e.is_active(now) && !self.superseded(addr) {
            return false;
        }
        if let Some(l) = self.table.remove(addr) {
            if !l.is_offer() && matches!(l.lease.state, LeaseState::Default | LeaseState::Declined)
            {
                let pl = (l.pool != NO_POOL).then_some(l.pool as usize);
                self.count_assigned(
                    l.subnet as usize,
                    pl,
                    l.lease.state == LeaseState::Declined,
                    -1,
                );
            }
            self.give_back(&l, addr);
        }
        true
    }

    /// ARM 9.3.2: a client that held an address reserved for another client and now
    /// commits a different one loses the old lease, which frees the address for its host.
    pub(crate) fn drop_conflicting_lease(&mut self, subnet: usize, ident: &ClientIdent, addr: u32) {
        let prepared = std::sync::Arc::clone(&self.prepared);
        for s in prepared.candidates(subnet) {
            let Some(srt) = prepared.subnets.get(s) else {
                continue;
            };
            let Some(old) = self.table.find_client(srt.id, ident, srt.match_client_id) else {
                continue;
            };
            if old != addr && prepared.reserved_for_other(old, self.host) {
                self.release_moved(old);
            }
        }
    }

    /// The committed lease of this client that the offer (or lease) at `addr` displaced from
    /// the client index, if it is still the client's (see `LeaseTable::take_displaced`).
    pub(crate) fn displaced_lease(&mut self, addr: u32, ident: &ClientIdent) -> Option<u32> {
        let old = self.table.take_displaced(addr)?;
        let e = self.table.get(old)?;
        let mcid = self
            .prepared
            .subnets
            .get(e.subnet as usize)
            .map(|s| s.match_client_id)
            .unwrap_or(true);
        let still_its =
            !e.is_offer() && e.lease.state == LeaseState::Default && ident.owns(&e.lease, mcid);
        (still_its && old != addr).then_some(old)
    }

    /// A client granted a new address loses what it held before in the same step, as in
    /// Kea's allocation engine (ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE; kea-dhcp4 2.2.0
    /// checked: the memfile gets the deletion, subnet assigned-addresses drops by one): the
    /// lease log records the removal, the address goes back to the pool, the gauges drop.
    /// An offer is only forgotten (it was never logged or counted).
    pub(crate) fn release_moved(&mut self, old: u32) {
        let Some(e) = self.table.remove(old) else {
            return;
        };
        if !e.is_offer() && e.lease.state == LeaseState::Default {
            tracing::debug!(target: "ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE", addr = %Ipv4Addr::from(old), "removing previous client's lease");
            let pl = (e.pool != NO_POOL).then_some(e.pool as usize);
            self.count_assigned(e.subnet as usize, pl, false, -1);
            self.note_deleted(&e.lease);
            if self
                .sink
                .remove(LeaseKind::V4, IpAddr::V4(Ipv4Addr::from(old)), 32)
                .is_err()
            {
                tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", addr = %Ipv4Addr::from(old), "lease log append failed while removing a client's previous lease");
            }
        }
        self.give_back(&e, old);
    }

    /// Whether the lease on `addr` was left behind by its client, which holds (or was
    /// offered) another address in the subnet since: ARM 9.3.2, a client refused its address
    /// because it is reserved for another moves on, and its old lease no longer binds.
    pub(crate) fn superseded(&self, addr: u32) -> bool {
        let Some(e) = self.table.get(addr) else {
            return true;
        };
        let Some(hw) = e.lease.hwaddr else {
            return false;
        };
        let mcid = self
            .prepared
            .subnets
            .get(e.subnet as usize)
            .map(|s| s.match_client_id)
            .unwrap_or(true);
        let owner = ClientIdent {
            hw,
            client_id: e.lease.client_id.clone(),
        };
        matches!(self.table.find_client(e.lease.subnet_id, &owner, mcid), Some(a) if a != addr)
    }

    /// Whether `addr` is the reserved address of some host but not of this packet's host.
    pub(crate) fn reserved_for_other(&self, addr: u32) -> bool {
        self.prepared.reserved_for_other(addr, self.host)
    }

    /// Whether the entry for `addr` should hold its pool bit: a reserved address's bit stays
    /// with the reservation.
    pub(crate) fn holds_bit_for(&self, addr: u32) -> bool {
        self.prepared.hosts.reserved_for(addr).is_none()
    }

    /// The valid-lifetime bounds: the first class (in assignment order) that sets them, else
    /// the subnet's (ARM 16.8: class lifetimes override subnet, network and global ones).
    pub(crate) fn lifetime(&self, srt: &SubnetRt) -> Lifetime {
        let p = &*self.prepared;
        if !p.classes.any_effect {
            return srt.valid;
        }
        self.cls
            .order()
            .iter()
            .filter_map(|&c| p.classes.def(c))
            .find_map(|d| d.valid)
            .unwrap_or(srt.valid)
    }

    /// The offer lifetime of a DHCPDISCOVER: the first class (in assignment order) that sets
    /// `offer-lifetime`, else the subnet's, which inherited its shared network's and the
    /// global one (ARM 9.2.34; classes first as for valid-lifetime, ARM 16.8). Classes of the
    /// additional lists come too late to count (ARM 16.1.1: "parameters that would otherwise
    /// impact lease life times (e.g. valid-lifetime, offer-lifetime) will have no effect").
    /// 0 (no lease on DHCPDISCOVER) costs one flag test when no scope sets one.
    pub(crate) fn offer_lifetime(&self, srt: &SubnetRt) -> u32 {
        let p = &*self.prepared;
        if !p.offer_lifetime_used {
            return 0;
        }
        self.cls
            .order()
            .iter()
            .filter_map(|&c| p.classes.def(c))
            .find_map(|d| d.offer_lifetime)
            .unwrap_or(srt.offer_lifetime)
    }

    /// siaddr, sname and file of a reply: the host's, else the first class's that sets it,
    /// else the subnet's (ARM 9.3.5, 16.8).
    pub(crate) fn boot_fields<'a>(&'a self, srt: &'a SubnetRt) -> (Ipv4Addr, &'a [u8], &'a [u8]) {
        let p = &*self.prepared;
        let host = self.current_host();
        let mut next = host.and_then(|h| h.next_server);
        let mut sname = host.and_then(|h| h.server_hostname.as_deref());
        let mut file = host.and_then(|h| h.boot_file_name.as_deref());
        if p.classes.any_effect {
            for d in self.cls.order().iter().filter_map(|&c| p.classes.def(c)) {
                next = next.or(d.next_server);
                sname = sname.or(d.server_hostname.as_deref());
                file = file.or(d.boot_file_name.as_deref());
            }
        }
        (
            next.unwrap_or(srt.next_server),
            sname.unwrap_or(&srt.server_hostname),
            file.unwrap_or(&srt.boot_file_name),
        )
    }

    /// The options a reply draws from, in precedence order (ARM 16.1.1 step 13).
    pub(crate) fn option_chain<'a>(
        &'a self,
        pool: Option<&'a crate::PoolRt>,
        srt: &'a SubnetRt,
    ) -> OptionChain<'a> {
        let p = &*self.prepared;
        let host = self
            .current_host()
            .filter(|h| h.has_options)
            .map(|h| &h.options);
        let classes = if p.classes.any_effect {
            self.cls.order()
        } else {
            &[]
        };
        // Class tags (ARM 16.9) are decided by the packet's classes, host classes included.
        let tags = p.classify.then(|| self.membership());
        if host.is_none() && classes.is_empty() {
            // No class or host options: the tables merged at load are the whole answer.
            return OptionChain {
                host: None,
                local: pool.map(|x| &x.options).unwrap_or(&srt.options),
                classes: &[],
                table: &p.classes,
                global: None,
                tags,
            };
        }
        OptionChain {
            host,
            local: pool.map(|x| &x.local_options).unwrap_or(&srt.local_options),
            classes,
            table: &p.classes,
            global: Some(&p.global_options),
            tags,
        }
    }
}

/// The option levels of one reply: host, then pool/subnet/network, then each class in
/// assignment order, then the globals. The first level that defines a code wins.
pub(crate) struct OptionChain<'a> {
    host: Option<&'a OptionTable>,
    local: &'a OptionTable,
    classes: &'a [ClassIdx],
    table: &'a ClassTable,
    global: Option<&'a OptionTable>,
    /// The packet's classes, for class-tagged options; None when nothing classifies.
    tags: Option<Membership<'a>>,
}

impl<'a> OptionChain<'a> {
    fn class_defs(&self) -> impl Iterator<Item = &'a ClassDef> + '_ {
        let table = self.table;
        self.classes
            .iter()
            .filter_map(move |&c| table.def(c))
            .filter(|d| d.has_options)
    }

    pub(crate) fn get(&self, code: u8) -> Option<&'a ReplyOption> {
        let admits = |names: &[Box<str>]| {
            self.tags
                .as_ref()
                .is_some_and(|m| names.iter().any(|n| m.is_member(n)))
        };
        if let Some(o) = self.host.and_then(|t| t.get_for(code, &admits)) {
            return Some(o);
        }
        if let Some(o) = self.local.get_for(code, &admits) {
            return Some(o);
        }
        if let Some(o) = self
            .class_defs()
            .find_map(|d| d.options.get_for(code, &admits))
        {
            return Some(o);
        }
        self.global.and_then(|t| t.get_for(code, &admits))
    }

    /// Every option that wins its code, level by level (for always-send and the options
    /// Kea returns unasked).
    pub(crate) fn for_each_winner(&self, mut f: impl FnMut(&'a ReplyOption)) {
        let mut visit = |t: &'a OptionTable| {
            for o in t.iter() {
                if self.get(o.code).is_some_and(|w| std::ptr::eq(w, o)) {
                    f(o);
                }
            }
        };
        if let Some(t) = self.host {
            visit(t);
        }
        visit(self.local);
        for d in self.class_defs() {
            visit(&d.options);
        }
        if let Some(t) = self.global {
            visit(t);
        }
    }
}

/// What classification decided about one packet (see [`V4Shard::classify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The selected subnet (index), after class guards; None when no subnet admits it.
    pub subnet: Option<usize>,
    /// The packet is in class DROP.
    pub dropped: bool,
    /// A host reservation was found (KNOWN).
    pub known: bool,
}

impl<S: LeaseSink> V4Shard<S> {
    /// Runs what `handle` does to a packet before any lease is touched: parsing, the class
    /// steps of ARM 16.1.1 (1-10), subnet selection with guards and the host lookup. Changes
    /// no lease and no statistic; for benchmarks and diagnostics.
    pub fn classify(&mut self, meta: &Meta4, data: &[u8]) -> Option<Classified> {
        let pkt = Dhcp4Packet::new_checked(data).ok()?;
        self.opts.parse(&pkt).ok()?;
        self.host = None;
        if self.prepared.classify && self.classify_early(meta, &pkt) {
            return Some(Classified {
                subnet: None,
                dropped: true,
                known: false,
            });
        }
        let Some(subnet) = self.select_subnet(meta, &pkt) else {
            return Some(Classified {
                subnet: None,
                dropped: false,
                known: self.host.is_some(),
            });
        };
        let dropped = self.classify_after_subnet(meta, &pkt, subnet);
        Some(Classified {
            subnet: Some(subnet),
            dropped,
            known: self.host.is_some(),
        })
    }
}
