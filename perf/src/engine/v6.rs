//! The DHCPv6 half of a worker: SOLICIT-ADVERTISE, then REQUEST-REPLY under a new
//! transaction id (RFC 8415 section 18.2.2: each client message starts a new transaction,
//! which is also what perfdhcp does), RENEW-REPLY and RELEASE-REPLY for -f / -F. All of it is
//! relayed (RELAY-FORW / RELAY-REPL, perfdhcp -A 1).

use super::{LeaseRecord, Slot, SlotState, Worker, FREE_SLOT};
use crate::stats::ExchangeKind;
use crate::wire6::{self, ClientFrame6, MessageType6, Reply6};
use std::net::{IpAddr, Ipv6Addr};

/// `prefix/len` for --record-acks lines.
struct PrefixText(Ipv6Addr, u8);

impl std::fmt::Display for PrefixText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

/// IA_NA (IAID 1, T1 = T2 = 0) holding one address with zero lifetimes, as a client puts
/// in RENEW / RELEASE (RFC 8415 18.2.4: lifetimes are ignored by the server).
fn ia_na_for(address: Ipv6Addr) -> [u8; 44] {
    let mut out = [0u8; 44];
    out[..16].copy_from_slice(&[0, 3, 0, 40, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    out[16..20].copy_from_slice(&[0, 5, 0, 24]);
    out[20..36].copy_from_slice(&address.octets());
    out
}

/// IA_PD (IAID 1, T1 = T2 = 0) holding one prefix with zero lifetimes.
fn ia_pd_for(prefix: Ipv6Addr, len: u8) -> [u8; 45] {
    let mut out = [0u8; 45];
    out[..16].copy_from_slice(&[0, 25, 0, 41, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    out[16..20].copy_from_slice(&[0, 26, 0, 25]);
    out[28] = len;
    out[29..45].copy_from_slice(&prefix.octets());
    out
}

impl Worker {
    fn relay_port6(&self) -> Option<u16> {
        match self.plan.endpoints.local.port() {
            547 => None,
            _ if !self.plan.relayed => None,
            port => Some(port),
        }
    }

    fn link_address(&self) -> Ipv6Addr {
        match self.plan.endpoints.local.ip() {
            IpAddr::V6(ip) => ip,
            IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
        }
    }

    /// Writes a relayed SOLICIT for the client at `client_pos` into the transmit buffer.
    pub(super) fn build_solicit(&mut self, xid: u32, client_pos: u32) -> usize {
        let client = self.client_number(client_pos);
        let duid_len = wire6::client_duid(&self.plan.duid_template, client, &mut self.duid);
        let frame = ClientFrame6 {
            xid,
            duid: self.duid.get(..duid_len).unwrap_or(&[]),
            link_address: self.link_address(),
            peer_address: wire6::peer_address(client),
            relay_port: self.relay_port6(),
            relayed: self.plan.relayed,
        };
        wire6::build_solicit(&mut self.tx, &frame, self.plan.ias, self.plan.rapid_commit)
    }

    /// RENEW or RELEASE for the next client holding a lease (-f / -F).
    pub(super) fn send_with_lease6(&mut self, now_ns: u64, kind: MessageType6) -> bool {
        if self.server_id6_len == 0 {
            return false;
        }
        let Some(pos) = self.next_leased_client() else {
            return false;
        };
        let Some(lease) = self.leases.get(pos as usize).copied() else {
            return false;
        };
        let Some((seq, xid)) = self.take_slot() else {
            return false;
        };
        let client = self.client_number(pos);
        let duid_len = wire6::client_duid(&self.plan.duid_template, client, &mut self.duid);
        let na = lease.address6.map(ia_na_for);
        let pd = lease.prefix6.map(|(p, l)| ia_pd_for(p, l));
        let mut ias: [&[u8]; 2] = [&[], &[]];
        if let Some(na) = &na {
            ias[0] = na;
        }
        if let Some(pd) = &pd {
            ias[1] = pd;
        }
        let frame = ClientFrame6 {
            xid,
            duid: self.duid.get(..duid_len).unwrap_or(&[]),
            link_address: self.link_address(),
            peer_address: wire6::peer_address(client),
            relay_port: self.relay_port6(),
            relayed: self.plan.relayed,
        };
        let server_id = self.server_id6.get(..self.server_id6_len).unwrap_or(&[]);
        let len = wire6::build_with_lease(&mut self.tx, &frame, kind, server_id, &ias);
        self.send(len);
        let (state, stats_kind) = if kind == MessageType6::Release {
            if let Some(record) = self.leases.get_mut(pos as usize) {
                *record = super::NO_LEASE;
            }
            if let (Some(table), Some(address)) = (&self.uniqueness, lease.address6) {
                table.release(address_key(address));
            }
            (SlotState::AwaitReleaseReply, ExchangeKind::Release)
        } else {
            (SlotState::AwaitRenewAck, ExchangeKind::RenewAck)
        };
        self.occupy(
            seq,
            Slot {
                xid,
                state,
                client_pos: pos,
                sent_ns: now_ns,
                attempts: 0,
                ..FREE_SLOT
            },
        );
        self.stats[stats_kind.index()].sent += 1;
        true
    }

    /// Handles one received datagram of `len` bytes in the receive buffer.
    pub(super) fn handle_datagram6(&mut self, len: usize, now_ns: u64) {
        let parse = if self.plan.relayed {
            wire6::parse_relay_reply
        } else {
            wire6::parse_direct_reply
        };
        let parsed = self.rx.get(..len).map(parse);
        let Some(Ok(reply)) = parsed else {
            self.malformed += 1;
            return;
        };
        let reply_kind = match reply.message_type {
            MessageType6::Advertise => ExchangeKind::DiscoverOffer,
            _ => ExchangeKind::RequestAck,
        };
        let seq = super::seq_of_xid(reply.xid, self.plan.threads, self.next_seq, 24);
        let slot = self.slots.get((seq & self.mask) as usize).copied();
        let Some(slot) = slot.filter(|s| s.state != SlotState::Free && s.xid == reply.xid) else {
            self.orphan(reply_kind);
            return;
        };
        let delay = now_ns.saturating_sub(slot.sent_ns);
        match (slot.state, reply.message_type) {
            (SlotState::AwaitOffer, MessageType6::Advertise) => {
                self.on_advertise(seq, slot, &reply, delay, now_ns)
            }
            // Rapid commit (-c, RFC 8415 18.3.1): the REPLY ends the exchange at once.
            (SlotState::AwaitOffer, MessageType6::Reply) => self.on_reply6(
                seq,
                slot,
                &reply,
                delay,
                now_ns,
                ExchangeKind::DiscoverOffer,
            ),
            (SlotState::AwaitAck, MessageType6::Reply) => {
                self.on_reply6(seq, slot, &reply, delay, now_ns, ExchangeKind::RequestAck)
            }
            (SlotState::AwaitRenewAck, MessageType6::Reply) => {
                self.on_reply6(seq, slot, &reply, delay, now_ns, ExchangeKind::RenewAck)
            }
            (SlotState::AwaitReleaseReply, MessageType6::Reply) => {
                self.free_slot(seq);
                let stats = &mut self.stats[ExchangeKind::Release.index()];
                stats.record_delay(delay);
                if reply.failed_status {
                    stats.rejected += 1;
                }
            }
            _ => self.orphan(reply_kind),
        }
    }

    fn remember_server_id(&mut self, reply: &Reply6) {
        let Some(range) = reply.server_id.clone() else {
            return;
        };
        let len = range.len();
        if let (Some(src), Some(dst)) = (self.rx.get(range), self.server_id6.get_mut(..len)) {
            dst.copy_from_slice(src);
            self.server_id6_len = len;
        }
    }

    fn on_advertise(&mut self, seq: u64, slot: Slot, reply: &Reply6, delay: u64, now_ns: u64) {
        let stats = &mut self.stats[ExchangeKind::DiscoverOffer.index()];
        stats.record_delay(delay);
        let ias = self.plan.ias;
        let offered =
            (!ias.address || reply.address.is_some()) && (!ias.prefix || reply.prefix.is_some());
        if reply.failed_status || !offered || reply.server_id.is_none() {
            stats.rejected += 1;
            self.free_slot(seq);
            return;
        }
        self.remember_server_id(reply);
        self.free_slot(seq);
        if self.plan.initial_only {
            self.complete(delay, now_ns);
            return;
        }
        // The REQUEST is a new transaction under a fresh xid.
        self.stats[ExchangeKind::RequestAck.index()].sent += 1;
        let Some((new_seq, xid)) = self.take_slot() else {
            return; // window full: counted as sent and never answered, i.e. a drop
        };
        let client = self.client_number(slot.client_pos);
        let duid_len = wire6::client_duid(&self.plan.duid_template, client, &mut self.duid);
        let frame = ClientFrame6 {
            xid,
            duid: self.duid.get(..duid_len).unwrap_or(&[]),
            link_address: self.link_address(),
            peer_address: wire6::peer_address(client),
            relay_port: self.relay_port6(),
            relayed: self.plan.relayed,
        };
        let empty: &[u8] = &[];
        let pick = |range: &Option<std::ops::Range<usize>>, wanted: bool| -> &[u8] {
            match range {
                Some(r) if wanted => self.rx.get(r.clone()).unwrap_or(empty),
                _ => empty,
            }
        };
        let server_id = pick(&reply.server_id, true);
        let ia_options = [
            pick(&reply.ia_na, ias.address),
            pick(&reply.ia_pd, ias.prefix),
        ];
        let len = wire6::build_with_lease(
            &mut self.tx,
            &frame,
            MessageType6::Request,
            server_id,
            &ia_options,
        );
        self.send(len);
        self.occupy(
            new_seq,
            Slot {
                xid,
                state: SlotState::AwaitAck,
                client_pos: slot.client_pos,
                sent_ns: now_ns,
                attempts: 0,
                ..FREE_SLOT
            },
        );
    }

    fn on_reply6(
        &mut self,
        seq: u64,
        slot: Slot,
        reply: &Reply6,
        delay: u64,
        now_ns: u64,
        kind: ExchangeKind,
    ) {
        self.free_slot(seq);
        let client = self.client_number(slot.client_pos);
        let stats = &mut self.stats[kind.index()];
        stats.record_delay(delay);
        if reply.failed_status || (reply.address.is_none() && reply.prefix.is_none()) {
            stats.rejected += 1;
            if let Some(record) = self.leases.get_mut(slot.client_pos as usize) {
                *record = super::NO_LEASE;
            }
            return;
        }
        if let (Some(table), Some((address, _))) = (&self.uniqueness, reply.address) {
            if !table.claim(address_key(address), client) {
                stats.non_unique += 1;
            }
        }
        self.remember_server_id(reply);
        if let Some(record) = self.leases.get_mut(slot.client_pos as usize) {
            *record = LeaseRecord {
                address6: reply.address.map(|(a, _)| a),
                prefix6: reply.prefix.map(|(p, l, _)| (p, l)),
                ..super::NO_LEASE
            };
        }
        if kind != ExchangeKind::RenewAck {
            self.complete(delay, now_ns);
        }
        if let Some(recorder) = &mut self.recorder {
            let duid_len = wire6::client_duid(&self.plan.duid_template, client, &mut self.duid);
            let duid = self.duid.get(..duid_len).unwrap_or(&[]);
            if let Some((address, valid)) = reply.address {
                recorder.record(duid, &address, Some(valid));
            }
            if let Some((prefix, len, valid)) = reply.prefix {
                recorder.record(duid, &PrefixText(prefix, len), Some(valid));
            }
        }
    }
}

/// -u for DHCPv6 tracks the low 32 bits of each address: pools narrower than 2^32
/// addresses (every practical one) map one-to-one.
fn address_key(address: Ipv6Addr) -> std::net::Ipv4Addr {
    let o = address.octets();
    std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_ias_carry_the_leased_address_and_prefix() {
        let a: Ipv6Addr = "2001:db8::1001".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let na = ia_na_for(a);
        assert_eq!(&na[..4], &[0, 3, 0, 40]);
        assert_eq!(&na[20..36], &a.octets());
        let p: Ipv6Addr = "2001:db8:8000::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        let pd = ia_pd_for(p, 56);
        assert_eq!(&pd[..4], &[0, 25, 0, 41]);
        assert_eq!(pd[28], 56);
        assert_eq!(&pd[29..45], &p.octets());
    }
}
