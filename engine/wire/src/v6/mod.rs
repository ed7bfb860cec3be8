//! DHCPv6 (RFC 8415): the message view with relay nesting, option iteration with the
//! encapsulating options (IA_NA, IA_TA, IA_PD, IAADDR, IAPREFIX), and the reply writer.

pub mod dhcp4o6;
mod fuzz;
pub mod kea_check;
pub mod mac;
mod packet;
mod writer;

pub use crate::error::WireError;
pub use fuzz::{fuzz_decode6, fuzz_reencodes6};
pub use packet::{
    elapsed_time, oro_codes, relay_message_of, Dhcp6Packet, Ia, IaAddr, IaPrefix, Opt6, Options6,
    RelayChain, StatusCode, MAX_OPTION_DEPTH, MAX_RELAY_DEPTH,
};
pub use writer::{Dhcp6Writer, MAX_NESTING};

/// UDP port servers and relays listen on (RFC 8415 section 7.2).
pub const SERVER_PORT: u16 = 547;
/// UDP port clients listen on (RFC 8415 section 7.2).
pub const CLIENT_PORT: u16 = 546;
/// All_DHCP_Relay_Agents_and_Servers, ff02::1:2 (RFC 8415 section 7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// All_DHCP_Servers, ff05::1:3 (RFC 8415 section 7.1).
pub const ALL_DHCP_SERVERS: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 1, 3);

/// Client/server message header: msg-type and transaction-id (RFC 8415 section 8).
pub const HEADER_LEN: usize = 4;
/// Relay message header: msg-type, hop-count, link-address, peer-address (RFC 8415 section 9).
pub const RELAY_HEADER_LEN: usize = 34;
/// Option header: option-code and option-len (RFC 8415 section 21.1).
pub const OPTION_HEADER_LEN: usize = 4;

/// Byte positions of the header fields.
pub mod field {
    pub type Field = core::ops::Range<usize>;
    pub const MSG_TYPE: usize = 0;
    pub const TRANSACTION_ID: Field = 1..4;
    pub const HOP_COUNT: usize = 1;
    pub const LINK_ADDRESS: Field = 2..18;
    pub const PEER_ADDRESS: Field = 18..34;
}

/// DHCPv6 option codes (RFC 8415 section 21 and the IANA DHCPv6 option registry).
pub mod opt {
    pub const CLIENTID: u16 = 1;
    pub const SERVERID: u16 = 2;
    pub const IA_NA: u16 = 3;
    pub const IA_TA: u16 = 4;
    pub const IAADDR: u16 = 5;
    pub const ORO: u16 = 6;
    pub const PREFERENCE: u16 = 7;
    pub const ELAPSED_TIME: u16 = 8;
    pub const RELAY_MSG: u16 = 9;
    pub const AUTH: u16 = 11;
    pub const UNICAST: u16 = 12;
    pub const STATUS_CODE: u16 = 13;
    pub const RAPID_COMMIT: u16 = 14;
    pub const USER_CLASS: u16 = 15;
    pub const VENDOR_CLASS: u16 = 16;
    pub const VENDOR_OPTS: u16 = 17;
    pub const INTERFACE_ID: u16 = 18;
    pub const RECONF_MSG: u16 = 19;
    pub const RECONF_ACCEPT: u16 = 20;
    pub const SIP_SERVERS_DNS: u16 = 21;
    pub const SIP_SERVERS_ADDR: u16 = 22;
    pub const DNS_SERVERS: u16 = 23;
    pub const DOMAIN_SEARCH: u16 = 24;
    pub const IA_PD: u16 = 25;
    pub const IAPREFIX: u16 = 26;
    pub const NIS_SERVERS: u16 = 27;
    pub const NISP_SERVERS: u16 = 28;
    pub const NIS_DOMAIN_NAME: u16 = 29;
    pub const NISP_DOMAIN_NAME: u16 = 30;
    pub const SNTP_SERVERS: u16 = 31;
    pub const INFORMATION_REFRESH_TIME: u16 = 32;
    pub const REMOTE_ID: u16 = 37;
    pub const SUBSCRIBER_ID: u16 = 38;
    pub const CLIENT_FQDN: u16 = 39;
    pub const ERO: u16 = 43;
    pub const LQ_QUERY: u16 = 44;
    pub const CLIENT_DATA: u16 = 45;
    pub const CLT_TIME: u16 = 46;
    pub const LQ_RELAY_DATA: u16 = 47;
    pub const LQ_CLIENT_LINK: u16 = 48;
    pub const NTP_SERVER: u16 = 56;
    pub const BOOTFILE_URL: u16 = 59;
    pub const BOOTFILE_PARAM: u16 = 60;
    pub const CLIENT_ARCH_TYPE: u16 = 61;
    pub const NII: u16 = 62;
    pub const RELAY_ID: u16 = 53;
    pub const CLIENT_LINKLAYER_ADDR: u16 = 79;
    pub const LINK_ADDRESS: u16 = 80;
    pub const SOL_MAX_RT: u16 = 82;
    pub const INF_MAX_RT: u16 = 83;
    pub const DHCPV4_MSG: u16 = 87;
    pub const DHCP4_O_DHCP6_SERVER: u16 = 88;
}

/// Status codes carried in option 13 (RFC 8415 section 21.13).
pub mod status {
    pub const SUCCESS: u16 = 0;
    pub const UNSPEC_FAIL: u16 = 1;
    pub const NO_ADDRS_AVAIL: u16 = 2;
    pub const NO_BINDING: u16 = 3;
    pub const NOT_ON_LINK: u16 = 4;
    pub const USE_MULTICAST: u16 = 5;
    pub const NO_PREFIX_AVAIL: u16 = 6;
}

/// DHCPv6 message types (RFC 8415 section 7.3; RFC 5007 / 5460 lease query; RFC 7341 4o6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    Solicit = 1,
    Advertise = 2,
    Request = 3,
    Confirm = 4,
    Renew = 5,
    Rebind = 6,
    Reply = 7,
    Release = 8,
    Decline = 9,
    Reconfigure = 10,
    InformationRequest = 11,
    RelayForw = 12,
    RelayRepl = 13,
    LeaseQuery = 14,
    LeaseQueryReply = 15,
    LeaseQueryDone = 16,
    LeaseQueryData = 17,
    ReconfigureRequest = 18,
    ReconfigureReply = 19,
    Dhcpv4Query = 20,
    Dhcpv4Response = 21,
}

impl MessageType {
    pub fn from_u8(v: u8) -> Option<Self> {
        use MessageType::*;
        Some(match v {
            1 => Solicit,
            2 => Advertise,
            3 => Request,
            4 => Confirm,
            5 => Renew,
            6 => Rebind,
            7 => Reply,
            8 => Release,
            9 => Decline,
            10 => Reconfigure,
            11 => InformationRequest,
            12 => RelayForw,
            13 => RelayRepl,
            14 => LeaseQuery,
            15 => LeaseQueryReply,
            16 => LeaseQueryDone,
            17 => LeaseQueryData,
            18 => ReconfigureRequest,
            19 => ReconfigureReply,
            20 => Dhcpv4Query,
            21 => Dhcpv4Response,
            _ => return None,
        })
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// True for the two relay message types, whose header is 34 bytes (RFC 8415 section 9).
    pub fn is_relay(self) -> bool {
        matches!(self, MessageType::RelayForw | MessageType::RelayRepl)
    }

    /// The name Kea prints in log messages (Kea's `Pkt6::getName`); Kea prints "UNKNOWN" for
    /// the types it has no name for, and so do we.
    pub fn kea_name(self) -> &'static str {
        use MessageType::*;
        match self {
            Solicit => "SOLICIT",
            Advertise => "ADVERTISE",
            Request => "REQUEST",
            Confirm => "CONFIRM",
            Renew => "RENEW",
            Rebind => "REBIND",
            Reply => "REPLY",
            Release => "RELEASE",
            Decline => "DECLINE",
            Reconfigure => "RECONFIGURE",
            InformationRequest => "INFORMATION_REQUEST",
            RelayForw => "RELAY_FORWARD",
            RelayRepl => "RELAY_REPLY",
            LeaseQuery => "LEASEQUERY",
            LeaseQueryReply => "LEASEQUERY_REPLY",
            Dhcpv4Query => "DHCPV4_QUERY",
            Dhcpv4Response => "DHCPV4_RESPONSE",
            LeaseQueryDone | LeaseQueryData | ReconfigureRequest | ReconfigureReply => "UNKNOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_round_trip_and_relay_types_are_flagged() {
        for v in 0..=255u8 {
            match MessageType::from_u8(v) {
                Some(t) => {
                    assert_eq!(t.as_u8(), v);
                    assert_eq!(t.is_relay(), v == 12 || v == 13);
                }
                None => assert!(v == 0 || v > 21),
            }
        }
    }

    #[test]
    fn kea_names_match_kea_log_spelling() {
        assert_eq!(MessageType::Solicit.kea_name(), "SOLICIT");
        assert_eq!(
            MessageType::InformationRequest.kea_name(),
            "INFORMATION_REQUEST"
        );
        assert_eq!(MessageType::RelayForw.kea_name(), "RELAY_FORWARD");
        assert_eq!(MessageType::LeaseQueryData.kea_name(), "UNKNOWN");
    }
}
