//! The DHCPv6 environment of both run-script contracts, per hook point.
//!
//! - kea-hook-runscript: its README's DHCPv6 tables (`KEA_QUERY6_*`, `KEA_RESPONSE6_*`,
//!   `KEA_SUBNET6*`, `KEA_LEASE6_*`), in the README's order, with the values its source
//!   (`extract_query6`, `extract_subnet6`, `extract_lease6`) prints. The README lists every
//!   query variable for every point but lease6_decline, whose list lacks
//!   `KEA_QUERY6_IFINDEX`; the library builds that list with the same function as the others,
//!   so corelease sends it there too.
//! - Kea's run_script (ARM 17.25, `RunScriptImpl::extractPkt6` / `extractLease6` /
//!   `extractOptionIA`): `QUERY6_*`, `LEASE6_*`, `PKT6_IA_*`, `LEASES6_AT<i>_*`,
//!   `DELETED_LEASES6_AT<i>_*`. Compared with kea-dhcp6 2.2 and its libdhcp_run_script.so
//!   under perfdhcp -6 (relayed): same names, and values in the same formats.
//!
//! As for DHCPv4, a value the engine did not supply is present and empty.

use crate::context::{HookContext, Packet6View, Subnet6View};
use crate::env::{
    bit, expired, kea_hwaddr, kea_lease_head, kea_leases_with, kea_packet_head, readme_lease_times,
    readme_subnet_vars, state_name, word, ColonHex, Env, PacketHead, KEA_PACKET_HEAD,
};
use crate::HookPoint;
use corelease_types::{HwAddr, Lease, LeaseKind};
use corelease_wire::v6::MessageType;

/// Kea's `Pkt6::getName` for a message type ("UNKNOWN" for none or an unnamed one).
fn type_name(message_type: Option<u8>) -> &'static str {
    message_type
        .and_then(MessageType::from_u8)
        .map(MessageType::kea_name)
        .unwrap_or("UNKNOWN")
}

/// Kea's `Lease::typeToText`.
fn lease_type(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::V6Na => "IA_NA",
        LeaseKind::V6Ta => "IA_TA",
        LeaseKind::V6Pd => "IA_PD",
        LeaseKind::V4 => "V4",
    }
}

/// Kea's `Pkt6::getLabel`: `duid=[<DUID>], tid=0x<xid in hex>`.
struct Label<'a>(&'a Packet6View<'a>);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.client_id {
            Some(d) => write!(f, "duid=[{}]", ColonHex(d))?,
            None => f.write_str("duid=[no info]")?,
        }
        write!(f, ", tid=0x{:x}", self.0.xid)
    }
}

/// The hardware address of a lease: the one recorded with it, else (leases do not record it
/// yet) the one Kea's `getMAC` finds in the query of the exchange, which is what Kea stores in
/// a new lease.
fn lease_hwaddr(lease: &Lease, query: Option<&Packet6View<'_>>) -> Option<HwAddr> {
    lease
        .hwaddr
        .or_else(|| query.and_then(|q| q.hwaddr).map(|(hw, _)| hw))
}

// ---- kea-hook-runscript (README DHCPv6 tables) ----

pub(crate) fn runscript_readme6(env: &mut Env, point: HookPoint, ctx: &HookContext<'_>) {
    use HookPoint::*;
    let q = ctx.query6.as_ref();
    match point {
        Pkt6Receive => readme_packet6(env, "KEA_QUERY6", q),
        Pkt6Send => {
            readme_packet6(env, "KEA_QUERY6", q);
            readme_packet6(env, "KEA_RESPONSE6", ctx.response6.as_ref());
        }
        Subnet6Select => {
            readme_packet6(env, "KEA_QUERY6", q);
            readme_subnet6(env, ctx.subnet6.as_ref());
        }
        Lease6Select => {
            readme_packet6(env, "KEA_QUERY6", q);
            readme_subnet6(env, ctx.subnet6.as_ref());
            env.text("KEA_FAKE_ALLOCATION", bit(ctx.fake_allocation));
            readme_lease6(env, ctx);
        }
        Lease6Renew | Lease6Rebind | Lease6Decline | Lease6Release => {
            readme_packet6(env, "KEA_QUERY6", q);
            readme_lease6(env, ctx);
        }
        Lease6Expire => {
            readme_lease6(env, ctx);
            env.text("KEA_REMOVE_LEASE", bit(ctx.remove_lease));
        }
        Lease6Recover => readme_lease6(env, ctx),
        _ => {}
    }
}

fn readme_packet6(env: &mut Env, prefix: &str, pkt: Option<&Packet6View<'_>>) {
    let Some(p) = pkt else {
        env.empty_all(
            prefix,
            &[
                "TYPE",
                "INTERFACE",
                "IFINDEX",
                "DUID",
                "HWADDR",
                "HWADDR_TYPE",
                "HWADDR_SOURCE",
                "LOCAL_ADDRESS",
                "LOCAL_PORT",
                "REMOTE_ADDRESS",
                "REMOTE_PORT",
                "LABEL",
                "TRANSACTION_ID",
            ],
        );
        return;
    };
    env.text(format!("{prefix}_TYPE"), type_name(p.message_type));
    env.bytes(format!("{prefix}_INTERFACE"), p.interface.as_bytes());
    env.text(format!("{prefix}_IFINDEX"), p.ifindex);
    // The library leaves this one empty (a TODO in its source); corelease gives the client's
    // DUID as Kea prints DUIDs, which is what the name promises.
    env.text_or_empty(format!("{prefix}_DUID"), p.client_id.map(ColonHex));
    match &p.hwaddr {
        Some((hw, source)) => {
            env.text(format!("{prefix}_HWADDR"), hw);
            env.text(format!("{prefix}_HWADDR_TYPE"), hw.htype());
            env.text(format!("{prefix}_HWADDR_SOURCE"), source);
        }
        None => {
            env.empty(format!("{prefix}_HWADDR"));
            env.empty(format!("{prefix}_HWADDR_TYPE"));
            env.empty(format!("{prefix}_HWADDR_SOURCE"));
        }
    }
    env.text(format!("{prefix}_LOCAL_ADDRESS"), p.local.ip());
    env.text(format!("{prefix}_LOCAL_PORT"), p.local.port());
    env.text(format!("{prefix}_REMOTE_ADDRESS"), p.remote.ip());
    env.text(format!("{prefix}_REMOTE_PORT"), p.remote.port());
    env.text(format!("{prefix}_LABEL"), Label(p));
    env.text(format!("{prefix}_TRANSACTION_ID"), p.xid);
}

fn readme_subnet6(env: &mut Env, subnet: Option<&Subnet6View>) {
    readme_subnet_vars(env, "KEA_SUBNET6", subnet.map(|s| (s.prefix, s.prefix_len)));
}

fn readme_lease6(env: &mut Env, ctx: &HookContext<'_>) {
    let Some(l) = ctx.lease else {
        env.empty_all(
            "KEA_LEASE6",
            &[
                "TYPE",
                "ADDRESS",
                "DELEGATED_PREFIX",
                "DELEGATED_PREFIXLEN",
                "CLIENT_DUID",
                "HWADDR",
                "HOSTNAME",
                "STATE",
                "IS_EXPIRED",
                "CLIENT_LAST_TRANSMISSION",
                "RENEW_TIMER",
                "REBIND_TIMER",
                "VALID_LIFETIME",
                "PREFERRED_LIFETIME",
                "IAID",
            ],
        );
        return;
    };
    env.text("KEA_LEASE6_TYPE", lease_type(l.kind));
    env.text("KEA_LEASE6_ADDRESS", l.addr);
    if l.kind == LeaseKind::V6Pd {
        env.text(
            "KEA_LEASE6_DELEGATED_PREFIX",
            format_args!("{}/{}", l.addr, l.prefix_len),
        );
        env.text("KEA_LEASE6_DELEGATED_PREFIXLEN", l.prefix_len);
    } else {
        env.empty("KEA_LEASE6_DELEGATED_PREFIX");
        env.empty("KEA_LEASE6_DELEGATED_PREFIXLEN");
    }
    env.text_or_empty("KEA_LEASE6_CLIENT_DUID", l.client_id.as_ref());
    env.text_or_empty("KEA_LEASE6_HWADDR", lease_hwaddr(l, ctx.query6.as_ref()));
    env.bytes(
        "KEA_LEASE6_HOSTNAME",
        l.hostname.as_deref().unwrap_or("").as_bytes(),
    );
    env.text("KEA_LEASE6_STATE", state_name(l.state));
    env.text("KEA_LEASE6_IS_EXPIRED", bit(expired(l, ctx.now)));
    readme_lease_times(env, "KEA_LEASE6", l, ctx);
    env.text("KEA_LEASE6_PREFERRED_LIFETIME", l.preferred_lifetime);
    env.text("KEA_LEASE6_IAID", l.iaid);
}

// ---- Kea run_script (ARM 17.25) ----

pub(crate) fn kea_run_script6(env: &mut Env, point: HookPoint, ctx: &HookContext<'_>) {
    use HookPoint::*;
    let q = ctx.query6.as_ref();
    match point {
        Lease6Renew | Lease6Rebind => {
            kea_packet6(env, "QUERY6", q);
            kea_lease6(env, "LEASE6", ctx.lease, q);
            // `RunScriptImpl::extractOptionIA` of the `ia_na` / `ia_pd` argument: the IA the
            // client sent.
            match &ctx.ia {
                Some(ia) => {
                    env.text("PKT6_IA_IAID", ia.iaid);
                    env.text("PKT6_IA_IA_TYPE", ia.code);
                    env.text("PKT6_IA_IA_T1", ia.t1);
                    env.text("PKT6_IA_IA_T2", ia.t2);
                }
                None => env.empty_all("PKT6_IA", &["IAID", "IA_TYPE", "IA_T1", "IA_T2"]),
            }
        }
        Lease6Expire => {
            kea_lease6(env, "LEASE6", ctx.lease, None);
            env.text("REMOVE_LEASE", word(ctx.remove_lease));
        }
        Lease6Recover => kea_lease6(env, "LEASE6", ctx.lease, None),
        Leases6Committed => {
            kea_packet6(env, "QUERY6", q);
            kea_leases6(env, "LEASES6", ctx.leases, q);
            kea_leases6(env, "DELETED_LEASES6", ctx.deleted_leases, q);
        }
        Lease6Release | Lease6Decline => {
            kea_packet6(env, "QUERY6", q);
            kea_lease6(env, "LEASE6", ctx.lease, q);
        }
        _ => {}
    }
}

/// `RunScriptImpl::extractPkt6`.
fn kea_packet6(env: &mut Env, prefix: &str, pkt: Option<&Packet6View<'_>>) {
    let Some(p) = pkt else {
        env.empty_all(prefix, &KEA_PACKET_HEAD);
        kea_hwaddr(env, &format!("{prefix}_REMOTE_HWADDR"), None);
        env.empty_all(prefix, &["PROTO", "CLIENT_ID"]);
        return;
    };
    let head = PacketHead {
        type_name: type_name(p.message_type),
        xid: p.xid,
        local: p.local.into(),
        remote: p.remote.into(),
        ifindex: p.ifindex,
        interface: p.interface,
    };
    kea_packet_head(env, prefix, head);
    // The layer-2 source of the frame: Kea knows it only with raw sockets, which DHCPv6 never
    // uses.
    kea_hwaddr(env, &format!("{prefix}_REMOTE_HWADDR"), None);
    env.text(format!("{prefix}_PROTO"), "UDP");
    env.text_or_empty(format!("{prefix}_CLIENT_ID"), p.client_id.map(ColonHex));
}

/// `RunScriptImpl::extractLease6`.
fn kea_lease6(env: &mut Env, prefix: &str, lease: Option<&Lease>, query: Option<&Packet6View<'_>>) {
    let hwaddr = lease.and_then(|l| lease_hwaddr(l, query));
    kea_lease_head(
        env,
        prefix,
        lease.map(|l| {
            let hostname = l.hostname.as_deref().unwrap_or("").as_bytes();
            (l, hostname, hwaddr.as_ref())
        }),
    );
    let Some(l) = lease else {
        env.empty_all(
            prefix,
            &["DUID", "IAID", "PREFERRED_LIFETIME", "PREFIX_LEN", "TYPE"],
        );
        return;
    };
    env.text_or_empty(format!("{prefix}_DUID"), l.client_id.as_ref());
    env.text(format!("{prefix}_IAID"), l.iaid);
    env.text(format!("{prefix}_PREFERRED_LIFETIME"), l.preferred_lifetime);
    env.text(format!("{prefix}_PREFIX_LEN"), l.prefix_len);
    env.text(format!("{prefix}_TYPE"), lease_type(l.kind));
}

/// `RunScriptImpl::extractLeases6`.
fn kea_leases6(env: &mut Env, prefix: &str, leases: &[Lease], query: Option<&Packet6View<'_>>) {
    kea_leases_with(env, prefix, leases, query, kea_lease6);
}
