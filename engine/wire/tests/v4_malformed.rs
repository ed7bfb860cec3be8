//! Malformed and hostile DHCPv4 input: every case gives an `Err` or a well-defined value, never a
//! panic; plus property round trips through our own writer and reader.

use corelease_wire::v4::{
    field, fuzz_decode, fuzz_reencodes, opt, Dhcp4Packet, Dhcp4Writer, OptionIndex, MAGIC_COOKIE,
};
use corelease_wire::WireError;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn packet_with(options: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 240];
    b[field::COOKIE].copy_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(options);
    b
}

fn parse(bytes: &[u8]) -> Result<OptionIndex, WireError> {
    let packet = Dhcp4Packet::new_checked(bytes)?;
    let mut index = OptionIndex::new();
    index.parse(&packet)?;
    Ok(index)
}

#[test]
fn every_truncated_header_length_is_refused() {
    let full = packet_with(&[]);
    for len in 0..240 {
        assert_eq!(
            Dhcp4Packet::new_checked(&full[..len]).err(),
            Some(WireError::Truncated { len, needed: 240 }),
            "length {len}"
        );
        fuzz_decode(&full[..len]);
    }
    assert!(Dhcp4Packet::new_checked(&full[..]).is_ok());
}

#[test]
fn bootp_packet_without_cookie_is_refused() {
    let mut b = packet_with(&[53, 1, 1, 255]);
    b[field::COOKIE].copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        parse(&b).err(),
        Some(WireError::BadMagicCookie { found: [0; 4] })
    );
    fuzz_decode(&b);
}

#[test]
fn option_length_past_the_end_names_code_and_offset() {
    let b = packet_with(&[53, 1, 1, 12, 200, b'x']);
    assert_eq!(
        parse(&b).err(),
        Some(WireError::BadOptionLength {
            code: 12,
            offset: 243
        })
    );
    fuzz_decode(&b);
}

#[test]
fn option_in_file_running_past_file_end_is_bad_length() {
    let mut b = packet_with(&[52, 1, 1, 255]);
    // file's last two bytes start an option whose payload would cross into the cookie.
    b[field::FILE.end - 2] = 12;
    b[field::FILE.end - 1] = 5;
    assert_eq!(
        parse(&b).err(),
        Some(WireError::BadOptionLength {
            code: 12,
            offset: field::FILE.end - 2
        })
    );
}

#[test]
fn overload_pointing_at_garbage_is_an_error_or_a_value_never_a_panic() {
    // sname and file full of 0xfe: "option 254, length 254" runs off each area.
    let mut b = packet_with(&[52, 1, 3, 53, 1, 1, 255]);
    b[field::SNAME].fill(0xfe);
    b[field::FILE].fill(0xfe);
    assert_eq!(
        parse(&b).err(),
        Some(WireError::BadOptionLength {
            code: 254,
            offset: field::FILE.start
        })
    );
    assert!(!fuzz_reencodes(&b));

    // A text file name read as options: "pxelinux.0" is option 'p' (112) of length 'x' (120)
    // which runs past the 128-byte file field? No: 2 + 120 fits, so it is a (garbage) value.
    let mut b = packet_with(&[52, 1, 1, 53, 1, 3, 255]);
    b[field::FILE][..10].copy_from_slice(b"pxelinux.0");
    let index = parse(&b);
    assert!(index.is_ok());
    if let Ok(index) = index {
        assert_eq!(index.get(b'p').map(|v| v.len()), Some(usize::from(b'x')));
    }
    assert!(fuzz_reencodes(&b));
}

#[test]
fn overload_inside_file_cannot_make_a_loop() {
    // file claims overload again; it is ignored, and sname is not read.
    let mut b = packet_with(&[52, 1, 1, 255]);
    b[field::FILE][..4].copy_from_slice(&[52, 1, 3, 255]);
    b[field::SNAME][..3].copy_from_slice(&[12, 1, b'x']);
    let index = parse(&b);
    assert!(index.is_ok());
    if let Ok(index) = index {
        assert_eq!(index.overload(), 1);
        assert!(!index.contains(opt::HOST_NAME));
    }
}

#[test]
fn zero_length_options_everywhere_are_present_and_empty() {
    let mut options = Vec::new();
    for code in 1..=254u8 {
        if code != opt::OVERLOAD {
            options.extend_from_slice(&[code, 0]);
        }
    }
    options.push(255);
    let index = parse(&packet_with(&options));
    assert!(index.is_ok());
    if let Ok(index) = index {
        assert_eq!(index.len(), 253);
        assert_eq!(index.get(opt::CLIENT_ID), Some(&[][..]));
        assert_eq!(index.client_id(), None);
        assert_eq!(index.message_type(), None);
        assert_eq!(index.requested_address(), None);
        assert_eq!(index.parameter_request_list(), &[] as &[u8]);
    }
    assert!(fuzz_reencodes(&packet_with(&options)));
}

#[test]
fn two_hundred_fifty_five_options_of_255_bytes_survive_fuzz_decode() {
    let mut options = Vec::new();
    for i in 0..255u32 {
        let code = (i % 250) as u8 + 1;
        let code = if code == opt::OVERLOAD { 251 } else { code };
        options.push(code);
        options.push(255);
        options.extend_from_slice(&[i as u8; 255]);
    }
    let b = packet_with(&options);
    assert!(parse(&b).is_ok());
    assert!(fuzz_reencodes(&b));
}

#[test]
fn oversized_hlen_reads_the_16_byte_field() {
    let mut b = packet_with(&[255]);
    b[field::HLEN] = 255;
    b[field::CHADDR].copy_from_slice(&[0xab; 16]);
    let packet = Dhcp4Packet::new_checked(&b[..]);
    assert!(packet.is_ok());
    if let Ok(packet) = packet {
        assert_eq!(packet.hlen(), 255);
        assert_eq!(packet.chaddr(), &[0xab; 16]);
    }
    assert!(fuzz_reencodes(&b));
}

#[test]
fn message_without_end_is_read_to_the_end_of_the_datagram() {
    let index = parse(&packet_with(&[53, 1, 5, 54, 4, 10, 0, 0, 1]));
    assert!(index.is_ok());
    if let Ok(index) = index {
        assert_eq!(index.server_id(), Some(Ipv4Addr::new(10, 0, 0, 1)));
    }
}

/// xid, chaddr, distinct (code, payload) options, max message length.
type WriteCase = (u32, [u8; 16], Vec<(u8, Vec<u8>)>, usize);

fn header_and_options() -> impl Strategy<Value = WriteCase> {
    (
        any::<u32>(),
        any::<[u8; 16]>(),
        proptest::collection::btree_map(
            (1u8..=254).prop_filter("writer-managed", |c| *c != opt::OVERLOAD),
            proptest::collection::vec(any::<u8>(), 0..400),
            0..12,
        )
        .prop_map(|m| m.into_iter().collect()),
        300usize..1500,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever fits is read back byte for byte; what does not fit is refused with NoSpace and
    /// leaves the rest intact; the message never exceeds the limit (or the 300-byte minimum).
    #[test]
    fn writer_then_index_round_trips_every_option_that_fits(
        (xid, chaddr, options, max_len) in header_and_options()
    ) {
        let mut buf = vec![0x5au8; 1500];
        let mut w = Dhcp4Writer::new(&mut buf, max_len).map_err(|e| TestCaseError::fail(e.to_string()))?;
        w.set_xid(xid);
        w.set_hlen(16);
        w.set_chaddr(&chaddr);
        let mut kept = Vec::new();
        for (code, data) in &options {
            match w.option(*code, data) {
                Ok(()) => kept.push((*code, data.clone())),
                Err(WireError::NoSpace) => {}
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
        let len = w.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(len <= max_len.max(300));
        prop_assert!(len >= 300);
        let packet = Dhcp4Packet::new_checked(&buf[..len]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(packet.xid(), xid);
        prop_assert_eq!(packet.chaddr(), &chaddr[..]);
        let mut index = OptionIndex::new();
        prop_assert_eq!(index.parse(&packet), Ok(()));
        for (code, data) in &kept {
            prop_assert_eq!(index.get(*code), Some(&data[..]));
        }
        let expected = kept.len() + usize::from(index.overload() != 0);
        prop_assert_eq!(index.len(), expected);
        prop_assert!(fuzz_reencodes(&buf[..len]));
    }

    /// Arbitrary bytes behind a valid cookie never panic anything.
    #[test]
    fn arbitrary_options_area_never_panics(
        header in proptest::collection::vec(any::<u8>(), 236),
        options in proptest::collection::vec(any::<u8>(), 0..700),
    ) {
        let mut b = header;
        b.extend_from_slice(&MAGIC_COOKIE);
        b.extend_from_slice(&options);
        fuzz_decode(&b);
    }

    /// Option-shaped random input (mostly well-formed TLVs, random overload) never panics,
    /// and whenever it parses, re-encoding keeps every option.
    #[test]
    fn option_shaped_input_never_panics(
        overload in 0u8..5,
        tlvs in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..30),
        sname in proptest::collection::vec(any::<u8>(), 64),
        file in proptest::collection::vec(any::<u8>(), 128),
    ) {
        let mut options = vec![52, 1, overload];
        for (code, data) in &tlvs {
            options.push(*code);
            options.push(data.len() as u8);
            options.extend_from_slice(data);
        }
        let mut b = packet_with(&options);
        b[field::SNAME].copy_from_slice(&sname);
        b[field::FILE].copy_from_slice(&file);
        fuzz_decode(&b);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_decode(&bytes);
    }
}

/// A deliberately naive model of RFC 3396 joining and RFC 2132 9.3 overload, to check the
/// index's one-pass and two-pass paths against: `None` where the index must return `Err`.
fn reference_index(bytes: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    fn walk(area: &[u8], skip_overload: bool, out: &mut Vec<(u8, Vec<u8>)>) -> Option<()> {
        let mut i = 0;
        while i < area.len() {
            match area[i] {
                0 => i += 1,
                255 => return Some(()),
                code => {
                    let len = usize::from(*area.get(i + 1)?);
                    let payload = area.get(i + 2..i + 2 + len)?;
                    if !(skip_overload && code == 52) {
                        out.push((code, payload.to_vec()));
                    }
                    i += 2 + len;
                }
            }
        }
        Some(())
    }
    let mut raw = Vec::new();
    walk(&bytes[240..], false, &mut raw)?;
    let present = raw.iter().any(|(c, _)| *c == 52);
    let overload: Vec<u8> = raw
        .iter()
        .filter(|(c, _)| *c == 52)
        .flat_map(|(_, p)| p.clone())
        .collect();
    let overload = match overload.as_slice() {
        [] if !present => 0,
        [v @ 1..=3] => *v,
        _ => return None,
    };
    if overload & 1 != 0 {
        walk(&bytes[108..236], true, &mut raw)?;
    }
    if overload & 2 != 0 {
        walk(&bytes[44..108], true, &mut raw)?;
    }
    let mut joined: Vec<(u8, Vec<u8>)> = Vec::new();
    for (code, payload) in raw {
        match joined.iter_mut().find(|(c, _)| *c == code) {
            Some((_, p)) => p.extend_from_slice(&payload),
            None => joined.push((code, payload)),
        }
    }
    Some(joined)
}

fn tlvs(codes: impl Strategy<Value = u8>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (codes, proptest::collection::vec(any::<u8>(), 0..12)),
        0..max,
    )
    .prop_map(|list| {
        let mut out = Vec::new();
        for (code, data) in list {
            out.push(code);
            out.push(data.len() as u8);
            out.extend_from_slice(&data);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Repeated codes (adjacent or not), overload into file and sname: the index equals the
    /// naive model, option by option and in order of first appearance.
    #[test]
    fn index_matches_a_naive_model_of_joining_and_overload(
        main in tlvs(prop_oneof![1u8..=4, Just(52u8)], 12),
        overload in prop_oneof![Just(None), (0u8..5).prop_map(Some)],
        file in tlvs(1u8..=5, 6),
        sname in tlvs(1u8..=5, 3),
    ) {
        let mut options = Vec::new();
        if let Some(v) = overload {
            options.extend_from_slice(&[52, 1, v]);
        }
        options.extend_from_slice(&main);
        options.push(255);
        let mut b = packet_with(&options);
        let file = &file[..file.len().min(127)];
        let sname = &sname[..sname.len().min(63)];
        b[108..108 + file.len()].copy_from_slice(file);
        b[44..44 + sname.len()].copy_from_slice(sname);

        let expected = reference_index(&b);
        let ours = parse(&b);
        match (expected, ours) {
            (Some(expected), Ok(index)) => {
                let codes: Vec<u8> = index.codes().collect();
                let expected_codes: Vec<u8> = expected.iter().map(|(c, _)| *c).collect();
                prop_assert_eq!(codes, expected_codes);
                for (code, payload) in &expected {
                    prop_assert_eq!(index.get(*code), Some(&payload[..]));
                }
            }
            (None, Err(_)) => {}
            (expected, ours) => {
                return Err(TestCaseError::fail(format!("model {expected:?} vs index {:?}", ours.map(|i| i.codes().collect::<Vec<_>>()))));
            }
        }
    }
}
