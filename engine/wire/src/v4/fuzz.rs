//! A fuzzing entry point that is ordinary code, so tests and fuzz targets share it.

use super::{
    opt, relay_link_selection, relay_suboptions, Dhcp4Packet, Dhcp4Writer, OptionIndex, RawOptions,
};

/// Same as [`fuzz_reencodes`], for fuzz targets that only need "never panics".
pub fn fuzz_decode(data: &[u8]) {
    let _ = fuzz_reencodes(data);
}

/// Decodes `data` as a DHCPv4 message and exercises every accessor; if it parses, re-encodes
/// it with [`Dhcp4Writer`] and checks that every option that fitted reads back the same.
///
/// Returns whether the re-encoding check ran (the input was a well-formed message).
/// Must never panic except on a codec bug (the re-encoding checks are assertions). Allocates:
/// it is for fuzz targets and tests, not for the hot path.
pub fn fuzz_reencodes(data: &[u8]) -> bool {
    let Ok(packet) = Dhcp4Packet::new_checked(data) else {
        return false;
    };
    let header = (
        packet.op(),
        packet.htype(),
        packet.hlen(),
        packet.hops(),
        packet.xid(),
        packet.secs(),
        packet.flags(),
        packet.broadcast(),
    );
    let addrs = [
        packet.ciaddr(),
        packet.yiaddr(),
        packet.siaddr(),
        packet.giaddr(),
    ];
    assert!(packet.chaddr().len() <= 16);
    assert_eq!(packet.sname().len(), 64);
    assert_eq!(packet.file().len(), 128);
    let _ = packet.hw_addr();
    for item in packet.raw_options() {
        if item.is_err() {
            break;
        }
    }
    for item in RawOptions::new(packet.file(), 108) {
        let _ = item;
    }

    let mut index = OptionIndex::new();
    let parsed = index.parse(&packet);
    let _ = (
        index.message_type(),
        index.requested_address(),
        index.server_id(),
        index.client_id(),
        index.parameter_request_list(),
        index.max_message_size(),
        index.lease_time(),
        index.hostname(),
        index.subnet_selection(),
        index.overload(),
    );
    if let Some(rai) = index.relay_agent_info() {
        let _ = relay_suboptions(rai).count();
        let _ = relay_link_selection(rai);
    }
    for code in index.codes() {
        assert!(index.contains(code));
        assert!(index.get(code).is_some());
    }
    if parsed.is_err() {
        return false;
    }

    // Re-encode and read back.
    let mut out = vec![0u8; 1 << 17];
    let Ok(mut writer) = Dhcp4Writer::new(&mut out, usize::MAX) else {
        return false;
    };
    writer.set_op(header.0);
    writer.set_htype(header.1);
    writer.set_hlen(header.2);
    writer.set_hops(header.3);
    writer.set_xid(header.4);
    writer.set_secs(header.5);
    writer.set_flags(header.6);
    writer.set_ciaddr(addrs[0]);
    writer.set_yiaddr(addrs[1]);
    writer.set_siaddr(addrs[2]);
    writer.set_giaddr(addrs[3]);
    writer.set_chaddr(packet.chaddr());
    let mut written = Vec::new();
    for code in index.codes() {
        if code == opt::OVERLOAD {
            continue;
        }
        let payload = index.get(code).unwrap_or(&[]);
        if writer.option(code, payload).is_ok() {
            written.push(code);
        }
    }
    let Ok(len) = writer.finish() else {
        return false;
    };
    let reread = Dhcp4Packet::new_checked(out.get(..len).unwrap_or(&[]));
    assert!(reread.is_ok(), "re-encoded message must parse");
    if let Ok(reread) = reread {
        assert_eq!(reread.xid(), header.4);
        assert_eq!(reread.flags(), header.6);
        assert_eq!(reread.giaddr(), addrs[3]);
        let mut again = OptionIndex::new();
        assert_eq!(again.parse(&reread), Ok(()));
        for code in written {
            assert_eq!(again.get(code), index.get(code), "option {code}");
        }
    }
    true
}
