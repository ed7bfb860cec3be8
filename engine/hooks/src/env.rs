//! The environment a run-script sees, per contract and hook point.
//!
//! Two contracts exist and operators have scripts written against each:
//! - kea-hook-runscript (its README, ../shared/spec/kea-hook-runscript-readme.txt): `KEA_*`
//!   variables, booleans `0`/`1`, message types as Kea names them (`DHCPREQUEST`), hardware
//!   addresses as Kea prints them (`aa:bb:cc:dd:ee:ff`), `KEA_SUBNET4` as `prefix/len`.
//! - Kea's own run_script library (ARM 17.25, libdhcp_run_script.so): `QUERY4_*`, `SUBNET4_*`,
//!   `PKT4_*`, `LEASE4_*`, `LEASES4_AT<i>_*` variables, booleans `true`/`false`, options as
//!   `0x` and upper-case hex.
//!
//! For each point, the variables are exactly those the contract lists, in its order; a value
//! the engine did not supply is present and empty (as both libraries do for a missing
//! argument), so a script never sees a variable appear or vanish. Client-supplied strings go
//! in as bytes, untouched: they are data in the child's environment and no shell ever reads
//! them. A NUL byte ends a value, as it does for the C libraries (an environment string is a C
//! string).

use crate::context::{HookContext, PacketView, SubnetView};
use crate::HookPoint;
use corelease_types::{HwAddr, Lease, LeaseState};
use corelease_wire::v4::{relay_suboptions, MessageType};
use std::fmt::Write as _;

/// Which library's contract a run-script hook follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contract {
    /// `kea-hook-runscript.so` (parameters `script`, `wait`).
    KeaHookRunscript,
    /// Kea's `libdhcp_run_script.so` (parameters `name`, `sync`).
    KeaRunScript,
}

impl Contract {
    /// The hook points the library has callouts for (kea-hook-runscript README "For each Kea
    /// hook point"; ARM 17.25 "The dhcpv4 hook points").
    pub fn fires_at(self, point: HookPoint) -> bool {
        use HookPoint::*;
        match self {
            Contract::KeaHookRunscript => matches!(
                point,
                Pkt4Receive
                    | Pkt4Send
                    | Subnet4Select
                    | Lease4Select
                    | Lease4Renew
                    | Lease4Release
                    | Lease4Decline
                    | Lease4Expire
                    | Lease4Recover
                    | Pkt6Receive
                    | Pkt6Send
                    | Subnet6Select
                    | Lease6Select
                    | Lease6Renew
                    | Lease6Rebind
                    | Lease6Decline
                    | Lease6Release
                    | Lease6Expire
                    | Lease6Recover
            ),
            // ARM 17.25 "The dhcpv6 hook points" also lists addr6_register, a Kea 3.0 point
            // (RFC 9686 address registration) corelease does not have.
            Contract::KeaRunScript => matches!(
                point,
                Lease4Renew
                    | Lease4Expire
                    | Lease4Recover
                    | Leases4Committed
                    | Lease4Release
                    | Lease4Decline
                    | Lease6Renew
                    | Lease6Rebind
                    | Lease6Expire
                    | Lease6Recover
                    | Leases6Committed
                    | Lease6Release
                    | Lease6Decline
            ),
        }
    }
}

/// The environment (name, value) the script gets at `point` under `contract`, in the
/// contract's order; empty when the contract has no callout at that point.
pub fn script_env(
    contract: Contract,
    point: HookPoint,
    ctx: &HookContext<'_>,
) -> Vec<(String, Vec<u8>)> {
    let mut env = Env::default();
    if contract.fires_at(point) {
        match (contract, point.is_v6()) {
            (Contract::KeaHookRunscript, false) => runscript_readme(&mut env, point, ctx),
            (Contract::KeaRunScript, false) => kea_run_script(&mut env, point, ctx),
            (Contract::KeaHookRunscript, true) => {
                crate::env6::runscript_readme6(&mut env, point, ctx)
            }
            (Contract::KeaRunScript, true) => crate::env6::kea_run_script6(&mut env, point, ctx),
        }
    }
    env.vars
}

#[derive(Default)]
pub(crate) struct Env {
    vars: Vec<(String, Vec<u8>)>,
}

impl Env {
    pub(crate) fn bytes(&mut self, name: impl Into<String>, value: &[u8]) {
        // An environment entry is a C string: like the C++ libraries, stop at a NUL.
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        let value = value.get(..end).unwrap_or(&[]);
        self.vars.push((name.into(), value.to_vec()));
    }

    pub(crate) fn text(&mut self, name: impl Into<String>, value: impl std::fmt::Display) {
        let mut s = String::new();
        let _ = write!(s, "{value}");
        self.vars.push((name.into(), s.into_bytes()));
    }

    pub(crate) fn empty(&mut self, name: impl Into<String>) {
        self.vars.push((name.into(), Vec::new()));
    }

    /// `<prefix>_<name>` present and empty for each name (an argument the engine did not
    /// supply).
    pub(crate) fn empty_all(&mut self, prefix: &str, names: &[&str]) {
        for n in names {
            self.empty(format!("{prefix}_{n}"));
        }
    }

    /// The value, or the variable present and empty.
    pub(crate) fn text_or_empty(
        &mut self,
        name: impl Into<String>,
        value: Option<impl std::fmt::Display>,
    ) {
        match value {
            Some(v) => self.text(name, v),
            None => self.empty(name),
        }
    }
}

/// kea-hook-runscript's `KEA_SUBNET4*` / `KEA_SUBNET6*` (`prefix` names the family): the
/// prefix, its length, and both as `prefix/len`.
pub(crate) fn readme_subnet_vars(
    env: &mut Env,
    prefix: &str,
    subnet: Option<(impl std::fmt::Display, u8)>,
) {
    match subnet {
        Some((net, len)) => {
            env.text(format!("{prefix}_PREFIX"), &net);
            env.text(format!("{prefix}_PREFIXLEN"), len);
            env.text(prefix, format_args!("{net}/{len}"));
        }
        None => {
            env.empty(format!("{prefix}_PREFIX"));
            env.empty(format!("{prefix}_PREFIXLEN"));
            env.empty(prefix);
        }
    }
}

/// kea-hook-runscript's lease times, the same four for both families.
pub(crate) fn readme_lease_times(
    env: &mut Env,
    prefix: &str,
    lease: &Lease,
    ctx: &HookContext<'_>,
) {
    env.text(format!("{prefix}_CLIENT_LAST_TRANSMISSION"), lease.cltt);
    env.text(format!("{prefix}_RENEW_TIMER"), ctx.timers.t1);
    env.text(format!("{prefix}_REBIND_TIMER"), ctx.timers.t2);
    env.text(format!("{prefix}_VALID_LIFETIME"), lease.valid_lifetime);
}

/// The head of run_script's `extractPkt4` / `extractPkt6`, the same for both families: type,
/// transaction, addresses and ports, interface.
pub(crate) struct PacketHead<'a> {
    pub(crate) type_name: &'static str,
    pub(crate) xid: u32,
    pub(crate) local: std::net::SocketAddr,
    pub(crate) remote: std::net::SocketAddr,
    pub(crate) ifindex: u32,
    pub(crate) interface: &'a str,
}

/// The names [`kea_packet_head`] sets, for a packet that is absent.
pub(crate) const KEA_PACKET_HEAD: [&str; 8] = [
    "TYPE",
    "TXID",
    "LOCAL_ADDR",
    "LOCAL_PORT",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "IFACE_INDEX",
    "IFACE_NAME",
];

pub(crate) fn kea_packet_head(env: &mut Env, prefix: &str, p: PacketHead<'_>) {
    env.text(format!("{prefix}_TYPE"), p.type_name);
    env.text(format!("{prefix}_TXID"), p.xid);
    env.text(format!("{prefix}_LOCAL_ADDR"), p.local.ip());
    env.text(format!("{prefix}_LOCAL_PORT"), p.local.port());
    env.text(format!("{prefix}_REMOTE_ADDR"), p.remote.ip());
    env.text(format!("{prefix}_REMOTE_PORT"), p.remote.port());
    env.text(format!("{prefix}_IFACE_INDEX"), p.ifindex);
    env.bytes(format!("{prefix}_IFACE_NAME"), p.interface.as_bytes());
}

/// The head of run_script's `extractLease4` / `extractLease6`, the same for both families:
/// address, cltt, hostname, hardware address, state, subnet, valid lifetime.
pub(crate) fn kea_lease_head(
    env: &mut Env,
    prefix: &str,
    lease: Option<(&Lease, &[u8], Option<&HwAddr>)>,
) {
    let Some((l, hostname, hwaddr)) = lease else {
        env.empty_all(prefix, &["ADDRESS", "CLTT", "HOSTNAME"]);
        kea_hwaddr(env, &format!("{prefix}_HWADDR"), None);
        env.empty_all(prefix, &["STATE", "SUBNET_ID", "VALID_LIFETIME"]);
        return;
    };
    env.text(format!("{prefix}_ADDRESS"), l.addr);
    env.text(format!("{prefix}_CLTT"), l.cltt);
    env.bytes(format!("{prefix}_HOSTNAME"), hostname);
    kea_hwaddr(env, &format!("{prefix}_HWADDR"), hwaddr);
    env.text(format!("{prefix}_STATE"), state_name(l.state));
    env.text(format!("{prefix}_SUBNET_ID"), l.subnet_id);
    env.text(format!("{prefix}_VALID_LIFETIME"), l.valid_lifetime);
}

/// `RunScriptImpl::extractLeases4` / `extractLeases6`: the count, then each lease as
/// `<prefix>_AT<i>_*` by `one`.
pub(crate) fn kea_leases_with<'a, Q: Copy>(
    env: &mut Env,
    prefix: &str,
    leases: &'a [Lease],
    query: Q,
    one: fn(&mut Env, &str, Option<&'a Lease>, Q),
) {
    env.text(format!("{prefix}_SIZE"), leases.len());
    for (i, l) in leases.iter().enumerate() {
        one(env, &format!("{prefix}_AT{i}"), Some(l), query);
    }
}

/// Kea's `Pkt4::getName` for an option 53 value ("UNKNOWN" for none or an unnamed one).
fn type_name(message_type: Option<u8>) -> &'static str {
    message_type
        .and_then(MessageType::from_u8)
        .map(MessageType::kea_name)
        .unwrap_or("UNKNOWN")
}

/// Kea's `Lease::basicStatesToText`.
pub(crate) fn state_name(state: LeaseState) -> &'static str {
    match state {
        LeaseState::Default => "default",
        LeaseState::Declined => "declined",
        LeaseState::ExpiredReclaimed => "expired-reclaimed",
        LeaseState::Released => "released",
        LeaseState::Registered => "registered",
    }
}

/// kea-hook-runscript booleans.
pub(crate) fn bit(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// Kea run_script booleans (`RunScriptImpl::extractBoolean`).
pub(crate) fn word(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Kea's `Lease::expired`: the expiration time is strictly in the past.
pub(crate) fn expired(lease: &Lease, now: u64) -> bool {
    lease.expire() < now
}

// ---- kea-hook-runscript (README tables) ----

fn runscript_readme(env: &mut Env, point: HookPoint, ctx: &HookContext<'_>) {
    use HookPoint::*;
    match point {
        Pkt4Receive => readme_packet(env, "KEA_QUERY4", ctx.query.as_ref()),
        Pkt4Send => {
            readme_packet(env, "KEA_QUERY4", ctx.query.as_ref());
            readme_packet(env, "KEA_RESPONSE4", ctx.response.as_ref());
        }
        Subnet4Select => {
            readme_packet(env, "KEA_QUERY4", ctx.query.as_ref());
            readme_subnet(env, ctx.subnet.as_ref());
        }
        Lease4Select => {
            readme_packet(env, "KEA_QUERY4", ctx.query.as_ref());
            readme_subnet(env, ctx.subnet.as_ref());
            env.text("KEA_FAKE_ALLOCATION", bit(ctx.fake_allocation));
            readme_lease(env, ctx);
        }
        Lease4Renew => {
            readme_packet(env, "KEA_QUERY4", ctx.query.as_ref());
            readme_subnet(env, ctx.subnet.as_ref());
            readme_lease(env, ctx);
        }
        Lease4Release | Lease4Decline => {
            readme_packet(env, "KEA_QUERY4", ctx.query.as_ref());
            readme_lease(env, ctx);
        }
        Lease4Expire => {
            readme_lease(env, ctx);
            env.text("KEA_REMOVE_LEASE", bit(ctx.remove_lease));
        }
        Lease4Recover => readme_lease(env, ctx),
        _ => {}
    }
}

fn readme_packet(env: &mut Env, prefix: &str, pkt: Option<&PacketView<'_>>) {
    let names = [
        "TYPE",
        "INTERFACE",
        "IFINDEX",
        "HWADDR",
        "HWADDR_SOURCE",
        "HWADDR_TYPE",
        "RELAYED",
        "RELAY_HOPS",
        "CIADDR",
        "SIADDR",
        "YIADDR",
        "GIADDR",
    ];
    let Some(p) = pkt else {
        env.empty_all(prefix, &names);
        return;
    };
    env.text(format!("{prefix}_TYPE"), type_name(p.message_type));
    env.bytes(format!("{prefix}_INTERFACE"), p.interface.as_bytes());
    env.text(format!("{prefix}_IFINDEX"), p.ifindex);
    env.text(format!("{prefix}_HWADDR"), p.hwaddr);
    // Kea builds a DHCPv4 packet's HWAddr from chaddr without setting its source: 0
    // (HWADDR_SOURCE_UNKNOWN in dhcp/hwaddr.h).
    env.text(format!("{prefix}_HWADDR_SOURCE"), 0);
    env.text(format!("{prefix}_HWADDR_TYPE"), p.hwaddr.htype());
    env.text(format!("{prefix}_RELAYED"), bit(p.is_relayed()));
    env.text(format!("{prefix}_RELAY_HOPS"), p.hops);
    env.text(format!("{prefix}_CIADDR"), p.ciaddr);
    env.text(format!("{prefix}_SIADDR"), p.siaddr);
    env.text(format!("{prefix}_YIADDR"), p.yiaddr);
    env.text(format!("{prefix}_GIADDR"), p.giaddr);
}

fn readme_subnet(env: &mut Env, subnet: Option<&SubnetView>) {
    readme_subnet_vars(env, "KEA_SUBNET4", subnet.map(|s| (s.prefix, s.prefix_len)));
}

/// The hostname the server associates with the client: the lease's, else (the engine does not
/// record hostnames yet) the query's option 12, verbatim.
fn hostname<'a>(lease: &'a Lease, query: Option<&PacketView<'a>>) -> &'a [u8] {
    match (&lease.hostname, query.and_then(|q| q.hostname)) {
        (Some(h), _) => h.as_bytes(),
        (None, Some(h)) => h,
        (None, None) => &[],
    }
}

fn readme_lease(env: &mut Env, ctx: &HookContext<'_>) {
    let Some(l) = ctx.lease else {
        env.empty_all(
            "KEA_LEASE4",
            &[
                "ADDRESS",
                "TYPE",
                "STATE",
                "IS_EXPIRED",
                "HWADDR",
                "HOSTNAME",
                "CLIENT_LAST_TRANSMISSION",
                "RENEW_TIMER",
                "REBIND_TIMER",
                "VALID_LIFETIME",
            ],
        );
        return;
    };
    env.text("KEA_LEASE4_ADDRESS", l.addr);
    env.text("KEA_LEASE4_TYPE", "V4");
    env.text("KEA_LEASE4_STATE", state_name(l.state));
    env.text("KEA_LEASE4_IS_EXPIRED", bit(expired(l, ctx.now)));
    env.text_or_empty("KEA_LEASE4_HWADDR", l.hwaddr.as_ref());
    env.bytes("KEA_LEASE4_HOSTNAME", hostname(l, ctx.query.as_ref()));
    readme_lease_times(env, "KEA_LEASE4", l, ctx);
}

// ---- Kea run_script (ARM 17.25) ----

fn kea_run_script(env: &mut Env, point: HookPoint, ctx: &HookContext<'_>) {
    use HookPoint::*;
    match point {
        Lease4Renew => {
            kea_packet(env, "QUERY4", ctx.query.as_ref());
            kea_subnet(env, ctx.subnet.as_ref());
            let q = ctx.query.as_ref();
            // The `clientid` and `hwaddr` callout arguments: the query's identifiers.
            env.text_or_empty("PKT4_CLIENT_ID", q.and_then(|q| q.client_id).map(ColonHex));
            kea_hwaddr(env, "PKT4_HWADDR", q.map(|q| q.hwaddr).as_ref());
            kea_lease(env, "LEASE4", ctx.lease, ctx.query.as_ref());
        }
        Lease4Expire => {
            kea_lease(env, "LEASE4", ctx.lease, None);
            env.text("REMOVE_LEASE", word(ctx.remove_lease));
        }
        Lease4Recover => kea_lease(env, "LEASE4", ctx.lease, None),
        Leases4Committed => {
            kea_packet(env, "QUERY4", ctx.query.as_ref());
            kea_leases(env, "LEASES4", ctx.leases, ctx.query.as_ref());
            kea_leases(
                env,
                "DELETED_LEASES4",
                ctx.deleted_leases,
                ctx.query.as_ref(),
            );
        }
        Lease4Release | Lease4Decline => {
            kea_packet(env, "QUERY4", ctx.query.as_ref());
            kea_lease(env, "LEASE4", ctx.lease, ctx.query.as_ref());
        }
        _ => {}
    }
}

/// `RunScriptImpl::extractHWAddr`: the address and its `_TYPE`, both empty when absent.
pub(crate) fn kea_hwaddr(env: &mut Env, prefix: &str, hw: Option<&HwAddr>) {
    match hw {
        Some(hw) => {
            env.text(prefix, hw);
            env.text(format!("{prefix}_TYPE"), hw.htype());
        }
        None => {
            env.empty(prefix);
            env.empty(format!("{prefix}_TYPE"));
        }
    }
}

/// Kea's `Option::toHexString`: `0x` and upper-case hex of the payload, empty for none.
struct OptionHex<'a>(&'a [u8]);

impl std::fmt::Display for OptionHex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Kea's `ClientId::toText`: lower-case colon-separated hex.
pub(crate) struct ColonHex<'a>(pub(crate) &'a [u8]);

impl std::fmt::Display for ColonHex<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// `RunScriptImpl::extractPkt4`.
fn kea_packet(env: &mut Env, prefix: &str, pkt: Option<&PacketView<'_>>) {
    let Some(p) = pkt else {
        env.empty_all(prefix, &KEA_PACKET_HEAD);
        env.empty_all(
            prefix,
            &[
                "HOPS", "SECS", "FLAGS", "CIADDR", "SIADDR", "YIADDR", "GIADDR", "RELAYED",
            ],
        );
        for n in ["HWADDR", "LOCAL_HWADDR", "REMOTE_HWADDR"] {
            kea_hwaddr(env, &format!("{prefix}_{n}"), None);
        }
        return;
    };
    let head = PacketHead {
        type_name: type_name(p.message_type),
        xid: p.xid,
        local: p.local.into(),
        remote: p.remote,
        ifindex: p.ifindex,
        interface: p.interface,
    };
    kea_packet_head(env, prefix, head);
    env.text(format!("{prefix}_HOPS"), p.hops);
    env.text(format!("{prefix}_SECS"), p.secs);
    env.text(format!("{prefix}_FLAGS"), p.flags);
    env.text(format!("{prefix}_CIADDR"), p.ciaddr);
    env.text(format!("{prefix}_SIADDR"), p.siaddr);
    env.text(format!("{prefix}_YIADDR"), p.yiaddr);
    env.text(format!("{prefix}_GIADDR"), p.giaddr);
    env.text(format!("{prefix}_RELAYED"), word(p.is_relayed()));
    kea_hwaddr(env, &format!("{prefix}_HWADDR"), Some(&p.hwaddr));
    kea_hwaddr(
        env,
        &format!("{prefix}_LOCAL_HWADDR"),
        p.local_hwaddr.as_ref(),
    );
    kea_hwaddr(
        env,
        &format!("{prefix}_REMOTE_HWADDR"),
        p.remote_hwaddr.as_ref(),
    );
    // Option 82 and its circuit-id (1) and remote-id (2) sub-options appear only when the query
    // carries them (`RunScriptImpl::extractOption` / `extractSubOption`).
    if let Some(rai) = p.relay_agent_info {
        env.text(format!("{prefix}_OPTION_82"), OptionHex(rai));
        for code in [1u8, 2] {
            if let Some((_, data)) = relay_suboptions(rai).find(|(c, _)| *c == code) {
                env.text(
                    format!("{prefix}_OPTION_82_SUB_OPTION_{code}"),
                    OptionHex(data),
                );
            }
        }
    }
}

/// `RunScriptImpl::extractSubnet4`.
fn kea_subnet(env: &mut Env, subnet: Option<&SubnetView>) {
    match subnet {
        Some(s) => {
            env.text("SUBNET4_ID", s.id);
            env.text(
                "SUBNET4_NAME",
                format_args!("{}/{}", s.prefix, s.prefix_len),
            );
            env.text("SUBNET4_PREFIX", s.prefix);
            env.text("SUBNET4_PREFIX_LEN", s.prefix_len);
        }
        None => env.empty_all("SUBNET4", &["ID", "NAME", "PREFIX", "PREFIX_LEN"]),
    }
}

/// `RunScriptImpl::extractLease4`.
fn kea_lease(env: &mut Env, prefix: &str, lease: Option<&Lease>, query: Option<&PacketView<'_>>) {
    kea_lease_head(
        env,
        prefix,
        lease.map(|l| (l, hostname(l, query), l.hwaddr.as_ref())),
    );
    match lease {
        Some(l) => env.text_or_empty(format!("{prefix}_CLIENT_ID"), l.client_id.as_ref()),
        None => env.empty(format!("{prefix}_CLIENT_ID")),
    }
}

/// `RunScriptImpl::extractLeases4`.
fn kea_leases(env: &mut Env, prefix: &str, leases: &[Lease], query: Option<&PacketView<'_>>) {
    kea_leases_with(env, prefix, leases, query, kea_lease);
}
