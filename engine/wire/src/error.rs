//! The codec's single error type, shared by the DHCPv4 and DHCPv6 halves.

/// What was wrong with a packet being read, or why a message could not be written.
///
/// Offsets are byte offsets from the start of the UDP payload, so they can be matched against a
/// packet capture.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The datagram ends before a fixed-size part of the message.
    #[error("packet truncated: it is {len} bytes but at least {needed} are needed")]
    Truncated { len: usize, needed: usize },

    /// Bytes 236..240 are not 99.130.83.99 (RFC 2131 section 3): a plain BOOTP packet or garbage.
    #[error(
        "bad DHCP magic cookie {found:?} at bytes 236..240 (expected [99, 130, 83, 99]); \
         plain BOOTP is not served"
    )]
    BadMagicCookie { found: [u8; 4] },

    /// An option's length byte (or the length byte itself) runs past the end of the area
    /// (options field, file or sname) that holds it.
    #[error("option {code} at byte {offset} runs past the end of its area (bad length)")]
    BadOptionLength { code: u8, offset: usize },

    /// Option 52 must be exactly one byte of value 1, 2 or 3 (RFC 2132 section 9.3).
    #[error(
        "option 52 (overload) is {len} byte(s) with first value {value}; it must be one byte \
         of 1 (file), 2 (sname) or 3 (both)"
    )]
    BadOverload { len: usize, value: u8 },

    /// The option does not fit in what is left of the message (the client's maximum message
    /// size or the buffer); the message is still valid without it.
    #[error(
        "option does not fit in the remaining message space (client max message size or buffer)"
    )]
    NoSpace,

    /// The caller's output buffer cannot hold even a minimal message.
    #[error("output buffer of {len} bytes is smaller than the {needed}-byte minimum message")]
    BufferTooSmall { len: usize, needed: usize },

    /// PAD (0), END (255) and OVERLOAD (52) are framing, written by the writer itself.
    #[error(
        "option code {code} is framing (PAD, END or OVERLOAD) and cannot be written as an option"
    )]
    ReservedOptionCode { code: u8 },

    /// A DHCPv6 option's length runs past the end of the message or of the option holding it
    /// (RFC 8415 section 21.1).
    #[error(
        "DHCPv6 option {code} at byte {offset} runs past the end of its container (bad length)"
    )]
    BadOption6Length { code: u16, offset: usize },

    /// An option is shorter than its fixed fields (e.g. IA_NA needs 12 bytes, RFC 8415 21.4).
    #[error("option {code} is {len} bytes, shorter than its {needed} bytes of fixed fields")]
    ShortOption {
        code: u16,
        len: usize,
        needed: usize,
    },

    /// A DHCPv6 option whose payload its standard definition cannot read (an IA_NA under 12
    /// bytes, an odd-length ORO, a broken domain name, ...): kea-dhcp6 refuses the message.
    #[error("DHCPv6 option {code} of {len} bytes does not parse as its standard definition")]
    BadOption6 { code: u16, len: usize },

    /// A Relay-forward / Relay-reply message without its Relay Message option (RFC 8415 9.1).
    #[error("relay message at nesting level {depth} has no Relay Message option (9)")]
    MissingRelayMessage { depth: usize },

    /// More relay encapsulations than Kea accepts (33).
    #[error("message is relayed more than {max} times")]
    TooManyRelays { max: usize },

    /// A DHCPv6 option payload longer than its 16-bit length field can say.
    #[error("option {code} payload of {len} bytes exceeds the 65535-byte maximum")]
    OptionTooLong { code: u16, len: usize },

    /// Writer misuse: `end` with no open option, or `finish` with options still open.
    #[error("unbalanced option nesting: {open} option(s) still open or none to close")]
    UnbalancedOption { open: usize },

    /// Writer misuse: options nested deeper than the writer's fixed stack.
    #[error("options nested deeper than {max} levels")]
    NestingTooDeep { max: usize },
}
