//! DHCPv4 (RFC 2131 / RFC 2132): the fixed header view, the option index, relay-agent
//! sub-options and the reply writer.

mod fuzz;
mod options;
mod packet;
mod relay;
mod writer;

pub use crate::error::WireError;
pub use fuzz::{fuzz_decode, fuzz_reencodes};
pub use options::{OptionIndex, RawOptions};
pub use packet::{until_nul, Dhcp4Packet};
pub use relay::{relay_link_selection, relay_suboptions, RelaySubOptions};
pub use writer::Dhcp4Writer;

/// UDP port servers listen on (RFC 2131 section 4.1).
pub const SERVER_PORT: u16 = 67;
/// UDP port clients listen on (RFC 2131 section 4.1).
pub const CLIENT_PORT: u16 = 68;
/// The four bytes after the fixed header that mark a DHCP (not plain BOOTP) message
/// (RFC 2131 section 3, RFC 1497).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Fixed header plus magic cookie: the shortest DHCP message that can be read.
pub const HEADER_LEN: usize = field::OPTIONS;
/// BOOTP's minimum message size (RFC 1542 section 2.1): replies are padded up to it, since some
/// relay agents and clients drop anything shorter.
pub const MIN_MESSAGE_LEN: usize = 300;
/// Every DHCP client must accept a 576-byte IP datagram (RFC 2131 section 2): 576 minus the IP
/// (20) and UDP (8) headers. Use it when the client sent no option 57.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 576 - 28;

/// BOOTP op codes (RFC 951).
pub const BOOTREQUEST: u8 = 1;
/// BOOTP op codes (RFC 951).
pub const BOOTREPLY: u8 = 2;

/// Bit of the flags field a client sets when it cannot receive unicast before it is configured
/// (RFC 2131 section 2, figure 2).
pub const BROADCAST_FLAG: u16 = 0x8000;

/// Byte positions of the fixed header fields (RFC 2131 section 2, figure 1).
pub mod field {
    /// A byte range within the message.
    pub type Field = core::ops::Range<usize>;

    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Field = 4..8;
    pub const SECS: Field = 8..10;
    pub const FLAGS: Field = 10..12;
    pub const CIADDR: Field = 12..16;
    pub const YIADDR: Field = 16..20;
    pub const SIADDR: Field = 20..24;
    pub const GIADDR: Field = 24..28;
    pub const CHADDR: Field = 28..44;
    pub const SNAME: Field = 44..108;
    pub const FILE: Field = 108..236;
    pub const COOKIE: Field = 236..240;
    /// Where the options field starts.
    pub const OPTIONS: usize = 240;
}

/// DHCPv4 option codes (RFC 2132 and the IANA "BOOTP Vendor Extensions and DHCP Options"
/// registry) that corelease reads or writes.
pub mod opt {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const TIME_OFFSET: u8 = 2;
    pub const ROUTERS: u8 = 3;
    pub const TIME_SERVERS: u8 = 4;
    pub const NAME_SERVERS: u8 = 5;
    pub const DOMAIN_NAME_SERVERS: u8 = 6;
    pub const LOG_SERVERS: u8 = 7;
    pub const HOST_NAME: u8 = 12;
    pub const BOOT_SIZE: u8 = 13;
    pub const DOMAIN_NAME: u8 = 15;
    pub const ROOT_PATH: u8 = 17;
    pub const IP_FORWARDING: u8 = 19;
    pub const DEFAULT_IP_TTL: u8 = 23;
    pub const INTERFACE_MTU: u8 = 26;
    pub const BROADCAST_ADDRESS: u8 = 28;
    pub const STATIC_ROUTES: u8 = 33;
    pub const NIS_DOMAIN: u8 = 40;
    pub const NIS_SERVERS: u8 = 41;
    pub const NTP_SERVERS: u8 = 42;
    pub const VENDOR_ENCAPSULATED_OPTIONS: u8 = 43;
    pub const NETBIOS_NAME_SERVERS: u8 = 44;
    pub const NETBIOS_NODE_TYPE: u8 = 46;
    pub const NETBIOS_SCOPE: u8 = 47;
    pub const REQUESTED_ADDRESS: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MESSAGE: u8 = 56;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const VENDOR_CLASS_ID: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const TFTP_SERVER_NAME: u8 = 66;
    pub const BOOT_FILE_NAME: u8 = 67;
    pub const USER_CLASS: u8 = 77;
    pub const RAPID_COMMIT: u8 = 80;
    pub const CLIENT_FQDN: u8 = 81;
    pub const RELAY_AGENT_INFO: u8 = 82;
    pub const AUTHENTICATION: u8 = 90;
    pub const CLIENT_LAST_TRANSACTION_TIME: u8 = 91;
    pub const ASSOCIATED_IP: u8 = 92;
    pub const CLIENT_SYSTEM_ARCHITECTURE: u8 = 93;
    pub const CLIENT_NDI: u8 = 94;
    pub const UUID_GUID: u8 = 97;
    pub const V6_ONLY_PREFERRED: u8 = 108;
    pub const CAPTIVE_PORTAL: u8 = 114;
    pub const SUBNET_SELECTION: u8 = 118;
    pub const DOMAIN_SEARCH: u8 = 119;
    pub const CLASSLESS_STATIC_ROUTE: u8 = 121;
    pub const VIVCO: u8 = 124;
    pub const VIVSO: u8 = 125;
    /// RFC 6926 bulk lease query options.
    pub const STATUS_CODE: u8 = 151;
    pub const BASE_TIME: u8 = 152;
    pub const START_TIME_OF_STATE: u8 = 153;
    pub const QUERY_START_TIME: u8 = 154;
    pub const QUERY_END_TIME: u8 = 155;
    pub const DHCP_STATE: u8 = 156;
    pub const DATA_SOURCE: u8 = 157;
    pub const END: u8 = 255;
}

/// Sub-option codes inside option 82 (relay agent information).
pub mod relay_sub {
    /// RFC 3046 section 2.1.
    pub const CIRCUIT_ID: u8 = 1;
    /// RFC 3046 section 2.2.
    pub const REMOTE_ID: u8 = 2;
    /// RFC 3527.
    pub const LINK_SELECTION: u8 = 5;
    /// RFC 3993.
    pub const SUBSCRIBER_ID: u8 = 6;
    /// RFC 5010.
    pub const RELAY_AGENT_FLAGS: u8 = 10;
    /// RFC 5107.
    pub const SERVER_ID_OVERRIDE: u8 = 11;
    /// RFC 6925.
    pub const RELAY_ID: u8 = 12;
    /// RFC 8357: the relay listens on the source port of its packets, not on 67.
    pub const RELAY_PORT: u8 = 19;
}

/// Option 53 values (RFC 2132 section 9.6, RFC 4388 lease query, RFC 6926 bulk lease query,
/// RFC 7724 active lease query, RFC 3203 force renew).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
    ForceRenew = 9,
    LeaseQuery = 10,
    LeaseUnassigned = 11,
    LeaseUnknown = 12,
    LeaseActive = 13,
    BulkLeaseQuery = 14,
    LeaseQueryDone = 15,
    ActiveLeaseQuery = 16,
    LeaseQueryStatus = 17,
    Tls = 18,
}

impl MessageType {
    /// The type for an option 53 value, or `None` for values no RFC assigns.
    pub fn from_u8(v: u8) -> Option<Self> {
        use MessageType::*;
        Some(match v {
            1 => Discover,
            2 => Offer,
            3 => Request,
            4 => Decline,
            5 => Ack,
            6 => Nak,
            7 => Release,
            8 => Inform,
            9 => ForceRenew,
            10 => LeaseQuery,
            11 => LeaseUnassigned,
            12 => LeaseUnknown,
            13 => LeaseActive,
            14 => BulkLeaseQuery,
            15 => LeaseQueryDone,
            16 => ActiveLeaseQuery,
            17 => LeaseQueryStatus,
            18 => Tls,
            _ => return None,
        })
    }

    /// The option 53 value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The name Kea prints in log messages (Kea's `Pkt4::getName`), so log lines match what
    /// operators grep for. Kea has no name for FORCERENEW and ACTIVELEASEQUERY and prints
    /// "UNKNOWN" for them; so do we.
    pub fn kea_name(self) -> &'static str {
        use MessageType::*;
        match self {
            Discover => "DHCPDISCOVER",
            Offer => "DHCPOFFER",
            Request => "DHCPREQUEST",
            Decline => "DHCPDECLINE",
            Ack => "DHCPACK",
            Nak => "DHCPNAK",
            Release => "DHCPRELEASE",
            Inform => "DHCPINFORM",
            LeaseQuery => "DHCPLEASEQUERY",
            LeaseUnassigned => "DHCPLEASEUNASSIGNED",
            LeaseUnknown => "DHCPLEASEUNKNOWN",
            LeaseActive => "DHCPLEASEACTIVE",
            BulkLeaseQuery => "DHCPBULKLEASEQUERY",
            LeaseQueryDone => "DHCPLEASEQUERYDONE",
            LeaseQueryStatus => "DHCPLEASEQUERYSTATUS",
            Tls => "DHCPTLS",
            ForceRenew | ActiveLeaseQuery => "UNKNOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_round_trips_every_assigned_value_and_rejects_others() {
        for v in 0..=255u8 {
            match MessageType::from_u8(v) {
                Some(t) => {
                    assert!((1..=18).contains(&v));
                    assert_eq!(t.as_u8(), v);
                }
                None => assert!(v == 0 || v > 18),
            }
        }
    }

    #[test]
    fn kea_names_match_kea_log_spelling() {
        assert_eq!(MessageType::Discover.kea_name(), "DHCPDISCOVER");
        assert_eq!(MessageType::Inform.kea_name(), "DHCPINFORM");
        assert_eq!(MessageType::Nak.kea_name(), "DHCPNAK");
        assert_eq!(MessageType::LeaseQueryDone.kea_name(), "DHCPLEASEQUERYDONE");
        assert_eq!(MessageType::ForceRenew.kea_name(), "UNKNOWN");
    }
}
