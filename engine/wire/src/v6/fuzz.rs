//! A DHCPv6 fuzzing entry point that is ordinary code, so tests and fuzz targets share it.

use super::packet::{elapsed_time, oro_codes, MAX_OPTION_DEPTH, MAX_RELAY_DEPTH};
use super::{opt, Dhcp6Packet, Dhcp6Writer, Ia, IaAddr, IaPrefix, Options6, StatusCode};

/// Same as [`fuzz_reencodes6`], for fuzz targets that only need "never panics".
pub fn fuzz_decode6(data: &[u8]) {
    let _ = fuzz_reencodes6(data);
}

/// Decodes `data` as a DHCPv6 message, exercises every accessor and walks the relay chain and
/// every encapsulated option; if the message is well formed, re-encodes it with
/// [`Dhcp6Writer`] (nesting rebuilt through `begin`/`end`) and asserts the bytes are identical.
///
/// Returns whether the re-encoding check ran (the input was a well-formed message).
/// Must never panic except on a codec bug. Allocates: for fuzz targets and tests only.
pub fn fuzz_reencodes6(data: &[u8]) -> bool {
    let Ok(packet) = Dhcp6Packet::new_checked(data) else {
        return false;
    };
    let _ = (
        packet.msg_type(),
        packet.transaction_id(),
        packet.hop_count(),
        packet.link_address(),
        packet.peer_address(),
        packet.client_id(),
        packet.server_id(),
        packet.elapsed_time(),
        packet.oro().count(),
        packet.rapid_commit(),
        packet.ias(opt::IA_NA).count(),
        packet.ias(opt::IA_TA).count(),
        packet.ias(opt::IA_PD).count(),
    );
    let mut well_formed = true;
    for layer in packet.relay_chain() {
        match layer {
            Ok(layer) => {
                well_formed &= layer.validate().is_ok();
                touch_options(layer.options(), 0);
            }
            Err(_) => well_formed = false,
        }
    }
    let _ = packet.innermost();
    if !well_formed {
        return false;
    }
    let mut out = vec![0u8; data.len()];
    let written = reencode(&packet, &mut out);
    assert_eq!(written.ok(), Some(data.len()), "re-encoding must succeed");
    assert_eq!(&out[..], data, "re-encoding must give the same bytes");
    true
}

fn touch_options(options: Options6<'_>, depth: usize) {
    if depth >= MAX_OPTION_DEPTH {
        return;
    }
    for o in options.map_while(Result::ok) {
        match o.code {
            opt::IA_NA | opt::IA_PD => {
                if let Ok(ia) = Ia::parse(o.code, o.data) {
                    touch_options(ia.options(), depth + 1);
                }
            }
            opt::IA_TA => {
                if let Ok(ia) = Ia::parse_ta(o.data) {
                    touch_options(ia.options(), depth + 1);
                }
            }
            opt::IAADDR => {
                if let Ok(a) = IaAddr::parse(o.data) {
                    touch_options(a.options(), depth + 1);
                }
            }
            opt::IAPREFIX => {
                if let Ok(p) = IaPrefix::parse(o.data) {
                    touch_options(p.options(), depth + 1);
                }
            }
            opt::STATUS_CODE => {
                let _ = StatusCode::parse(o.data);
            }
            opt::ORO => {
                let _ = oro_codes(o.data).count();
            }
            opt::ELAPSED_TIME => {
                let _ = elapsed_time(o.data);
            }
            _ => {}
        }
    }
}

fn reencode(packet: &Dhcp6Packet<&[u8]>, out: &mut [u8]) -> Result<usize, crate::WireError> {
    let bytes = packet.as_bytes();
    let mut w = if packet.is_relay() {
        Dhcp6Writer::new_relay(
            out,
            packet.msg_type_raw(),
            packet.hop_count(),
            packet.link_address(),
            packet.peer_address(),
        )?
    } else {
        Dhcp6Writer::new(
            out,
            packet.msg_type_raw(),
            u32::from_be_bytes([
                0,
                bytes.get(1).copied().unwrap_or(0),
                bytes.get(2).copied().unwrap_or(0),
                bytes.get(3).copied().unwrap_or(0),
            ]),
        )?
    };
    copy_options(&mut w, packet, packet.options(), 0)?;
    w.finish()
}

fn copy_options(
    w: &mut Dhcp6Writer<'_>,
    packet: &Dhcp6Packet<&[u8]>,
    options: Options6<'_>,
    relays: usize,
) -> Result<(), crate::WireError> {
    // Depth is bounded: only messages that passed `validate` (MAX_OPTION_DEPTH) and the relay
    // chain walk (MAX_RELAY_DEPTH) are re-encoded.
    for o in options {
        let o = o?;
        let fixed = match o.code {
            opt::IA_NA | opt::IA_PD => 12,
            opt::IA_TA => 4,
            opt::IAADDR => 24,
            opt::IAPREFIX => 25,
            opt::RELAY_MSG if packet.is_relay() && relays < MAX_RELAY_DEPTH => {
                copy_relayed(w, o.data, relays + 1)?;
                continue;
            }
            _ => {
                w.option(o.code, o.data)?;
                continue;
            }
        };
        let (Some(head), Some(sub)) = (o.data.get(..fixed), o.data.get(fixed..)) else {
            w.option(o.code, o.data)?;
            continue;
        };
        w.begin(o.code)?;
        w.bytes(head)?;
        copy_options(w, packet, Options6::new(sub, 0), relays)?;
        w.end()?;
    }
    Ok(())
}

fn copy_relayed(
    w: &mut Dhcp6Writer<'_>,
    data: &[u8],
    relays: usize,
) -> Result<(), crate::WireError> {
    // Only a well-formed inner message is rebuilt structurally; anything else (a second Relay
    // Message option the chain does not follow, say) is copied as opaque bytes.
    let inner = match Dhcp6Packet::new_checked(data) {
        Ok(inner) if inner.validate().is_ok() => inner,
        _ => return w.option(opt::RELAY_MSG, data),
    };
    let header_len = inner.options_offset();
    w.begin(opt::RELAY_MSG)?;
    w.bytes(data.get(..header_len).unwrap_or(&[]))?;
    copy_options(w, &inner, inner.options(), relays)?;
    w.end()
}
