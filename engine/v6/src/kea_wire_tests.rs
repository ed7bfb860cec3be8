//! What kea-dhcp6 2.2.0 did with crafted datagrams on the wire (issue 9: relay nesting,
//! Relay-reply, junk options, identifiers, Release and Decline statuses), replayed against the
//! engine: the same answer or silence, counted in the same statistics. Each case names the
//! Kea run it repeats (bytes sent through one Relay-forward to kea-dhcp6 2.2.0 on loopback).

use super::*;

fn opt(code: u16, data: &[u8]) -> Vec<u8> {
    let mut o = code.to_be_bytes().to_vec();
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

fn ia_na_raw(iaid: u32, sub: &[u8]) -> Vec<u8> {
    let mut d = iaid.to_be_bytes().to_vec();
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(sub);
    opt(3, &d)
}

/// A client message of `kind` with transaction id `xid` and these option bytes.
fn raw_msg(kind: u8, xid: u32, options: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&xid.to_be_bytes()[1..]);
    m.extend_from_slice(options);
    m
}

/// A Solicit from client 0xc with an empty IA_NA, then `extra`.
fn solicit_with(xid: u32, extra: &[u8]) -> Vec<u8> {
    let mut o = opt(1, &duid(0xc));
    o.extend(opt(8, &[0, 0]));
    o.extend(ia_na_raw(1, &[]));
    o.extend_from_slice(extra);
    raw_msg(1, xid, &o)
}

/// `inner` in `depth` relay layers of type `kind` (12 Relay-forward, 13 Relay-reply).
fn wrapped(inner: Vec<u8>, depth: usize, kind: u8) -> Vec<u8> {
    let mut m = inner;
    for hop in 0..depth {
        m = relay_forward(&m, hop as u8, a("2001:db8:ffff::1"), LL, &[]);
        m[0] = kind;
    }
    m
}

/// What happened to one datagram: the reply's inner message type, and the changes of the
/// statistics Kea moves for a received packet.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    answer: Option<u8>,
    parse_failed: i64,
    dropped: i64,
    solicits: i64,
    unknown: i64,
}

fn outcome(s: &mut V6Shard<MemorySink>, datagram: &[u8]) -> Outcome {
    let names = [
        "pkt6-parse-failed",
        "pkt6-receive-drop",
        "pkt6-solicit-received",
        "pkt6-unknown-received",
    ];
    let before: Vec<i64> = names.iter().map(|n| stat(s, n)).collect();
    let answer = send_raw(s, &relay_meta(), datagram, NOW).map(|(_, mut b)| {
        while b.first() == Some(&13) {
            b = open_relay_reply(&b).1;
        }
        b.first().copied().unwrap_or(0)
    });
    let d: Vec<i64> = names
        .iter()
        .zip(before)
        .map(|(n, b)| stat(s, n) - b)
        .collect();
    Outcome {
        answer,
        parse_failed: d[0],
        dropped: d[1],
        solicits: d[2],
        unknown: d[3],
    }
}

const ADVERTISED: Outcome = Outcome {
    answer: Some(2),
    parse_failed: 0,
    dropped: 0,
    solicits: 1,
    unknown: 0,
};
const PARSE_FAILURE: Outcome = Outcome {
    answer: None,
    parse_failed: 1,
    dropped: 1,
    solicits: 0,
    unknown: 0,
};
/// Counted as a Solicit, then dropped by the sanity checks.
const SOLICIT_DROPPED: Outcome = Outcome {
    answer: None,
    parse_failed: 0,
    dropped: 1,
    solicits: 1,
    unknown: 0,
};
const UNKNOWN_DROPPED: Outcome = Outcome {
    answer: None,
    parse_failed: 0,
    dropped: 1,
    solicits: 0,
    unknown: 1,
};

#[test]
fn thirty_three_relay_layers_are_served_and_thirty_four_fail_to_parse() {
    // Kea runs B1-B3: 32 and 33 layers answered, 34 a parse failure.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    for (depth, want) in [(32, ADVERTISED), (33, ADVERTISED), (34, PARSE_FAILURE)] {
        let datagram = wrapped(solicit_with(0xb0 + depth as u32, &[]), depth, 12);
        assert_eq!(outcome(&mut s, &datagram), want, "{depth} layers");
    }
}

#[test]
fn relay_reply_layers_are_unwrapped_like_relay_forward_ones() {
    // Kea runs C1-C3: Relay-reply outside, inside or alone around a Solicit is answered.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let sol = || solicit_with(0xc1, &[]);
    let inner_reply = wrapped(wrapped(sol(), 1, 13), 1, 12);
    let outer_reply = wrapped(wrapped(sol(), 1, 12), 1, 13);
    for datagram in [wrapped(sol(), 1, 13), inner_reply, outer_reply] {
        assert_eq!(outcome(&mut s, &datagram), ADVERTISED);
    }
}

#[test]
fn a_truncated_option_ends_its_area_silently_as_in_kea() {
    // Kea runs D1, D2, D17, D7, R7, D8: trailing bytes, an option running past the end of the
    // message, of an IA_NA or of an IAADDR, or of a relay layer: the options before it are
    // kept and the Solicit is answered.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let overrun = [0u8, 99, 0, 50, b'x', b'x'];
    let mut iaaddr = a("2001:db8:3::50").octets().to_vec();
    iaaddr.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 13, 0, 40]);
    let mut o = opt(1, &duid(0xc));
    o.extend(ia_na_raw(1, &opt(5, &iaaddr)));
    let in_iaaddr = raw_msg(1, 0xd9, &o);
    let mut o = opt(1, &duid(0xc));
    o.extend(ia_na_raw(1, &[0, 5, 0, 99, 0, 0, 0, 0]));
    let in_ia = raw_msg(1, 0xd7, &o);
    let mut relay_overrun = wrapped(solicit_with(0xd8, &[]), 1, 12);
    relay_overrun.extend_from_slice(&[0, 18, 0, 99, b'a', b'b']);
    for datagram in [
        wrapped(solicit_with(0xd1, &[0, 1]), 1, 12),
        wrapped(solicit_with(0xd2, &overrun), 1, 12),
        wrapped(solicit_with(0xd3, &[0, 1, 0]), 1, 12),
        wrapped(in_ia, 1, 12),
        wrapped(in_iaaddr, 1, 12),
        relay_overrun,
    ] {
        assert_eq!(outcome(&mut s, &datagram), ADVERTISED, "{datagram:02x?}");
    }
    // Kea run D3: the client identifier after the truncated option is lost, so the Solicit
    // is counted and then dropped by the sanity check.
    let mut o = vec![0, 99, 1, 244, b'x', b'x'];
    o.extend(opt(1, &duid(0xc)));
    o.extend(ia_na_raw(1, &[]));
    let lost = wrapped(raw_msg(1, 0xda, &o), 1, 12);
    assert_eq!(outcome(&mut s, &lost), SOLICIT_DROPPED);
}

#[test]
fn an_option_kea_cannot_read_fails_the_message_at_any_level() {
    // Kea runs D4, D5, D6, D9, D15, D16, R1, R2, R4, R5, R6: a short IA_NA, elapsed time,
    // IAADDR, IA_PD or status code, an odd ORO, in the message, in an IA, in an IAADDR or
    // in a relay layer: parse failures.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let cid = opt(1, &duid(0xc));
    let with = |xid: u32, body: &[u8]| {
        let mut o = cid.clone();
        o.extend_from_slice(body);
        wrapped(raw_msg(1, xid, &o), 1, 12)
    };
    let mut iaaddr = a("2001:db8:3::50").octets().to_vec();
    iaaddr.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    iaaddr.extend(opt(13, &[0]));
    let in_relay = |code: u16, data: &[u8]| {
        relay_forward(
            &solicit_with(0xe0, &[]),
            0,
            a("2001:db8:ffff::1"),
            LL,
            &[(code, data)],
        )
    };
    for datagram in [
        with(0xd4, &opt(3, &[0, 0, 0, 1, 0])),
        with(0xd5, &[opt(8, &[0]), ia_na_raw(1, &[])].concat()),
        with(0xd6, &ia_na_raw(1, &opt(5, &[0; 10]))),
        with(0xd9, &[ia_na_raw(1, &[]), opt(6, &[0, 23, 0])].concat()),
        with(0xdf, &opt(25, &[0, 0, 1])),
        with(0xe0, &[ia_na_raw(1, &[]), opt(13, &[0])].concat()),
        with(0xe1, &ia_na_raw(1, &opt(13, &[0]))),
        with(0xe2, &ia_na_raw(1, &opt(6, &[0]))),
        with(0xe3, &ia_na_raw(1, &opt(5, &iaaddr))),
        in_relay(37, b"ab"),
        in_relay(6, b"abc"),
    ] {
        assert_eq!(outcome(&mut s, &datagram), PARSE_FAILURE, "{datagram:02x?}");
    }
    // Kea runs D14, D18, D19, R3: payloads its definitions read (data in Rapid Commit, an
    // unknown code, a 3-byte preference, an empty Interface-ID in the relay) are fine.
    for datagram in [
        wrapped(solicit_with(0xe4, &opt(14, b"x")), 1, 12),
        wrapped(solicit_with(0xe5, &opt(0xfff0, b"junkjunk")), 1, 12),
        wrapped(solicit_with(0xe6, &opt(7, &[0, 0, 0])), 1, 12),
        in_relay(18, b""),
    ] {
        assert_eq!(outcome(&mut s, &datagram), ADVERTISED, "{datagram:02x?}");
    }
}

#[test]
fn relay_message_edge_cases_count_as_kea_counts_them() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let link = a("2001:db8:ffff::1").octets();
    let peer = LL.octets();
    let header = |kind: u8| [&[kind, 0][..], &link, &peer].concat();
    // Kea runs R8, R9, T13: a relay message shorter than its 34-byte header, outermost or
    // inside another: Kea stops unwrapping and counts the relay type as unknown.
    let short_inner = relay_forward(&[12; 20], 0, a("2001:db8:ffff::1"), LL, &[]);
    for datagram in [vec![12; 20], vec![13; 20], short_inner] {
        assert_eq!(
            outcome(&mut s, &datagram),
            UNKNOWN_DROPPED,
            "{datagram:02x?}"
        );
    }
    // Kea runs R10, R12, D12: an empty or 3-byte Relay Message, or one running past the end.
    let mut cut = wrapped(solicit_with(0xdc, &[]), 1, 12);
    cut.truncate(cut.len() - 5);
    for datagram in [
        [header(12), opt(9, &[])].concat(),
        [header(12), opt(9, &[1, 0, 0])].concat(),
        cut,
    ] {
        assert_eq!(outcome(&mut s, &datagram), PARSE_FAILURE, "{datagram:02x?}");
    }
    // Kea run R11: with two Relay Message options the last one is the message.
    let two = [
        header(12),
        opt(9, &solicit_with(0x111, &[])),
        opt(9, &solicit_with(0x112, &[])),
    ]
    .concat();
    let (_, bytes) =
        send_raw(&mut s, &relay_meta(), &two, NOW).unwrap_or_else(|| panic!("no reply"));
    let adv = decode(&open_relay_reply(&bytes).1);
    assert_eq!(adv.xid(), [0, 0x01, 0x12]);
}

#[test]
fn client_identifiers_follow_kea_sanity_rules() {
    // Kea runs U1-U131, D10, D11: client identifiers of 0, 1, 2 and 130 bytes, or two of them,
    // are counted and dropped; 3 bytes is enough.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let with_ids = |xid: u32, ids: &[&[u8]]| {
        let mut o: Vec<u8> = ids.iter().flat_map(|d| opt(1, d)).collect();
        o.extend(ia_na_raw(1, &[]));
        wrapped(raw_msg(1, xid, &o), 1, 12)
    };
    let long = [7u8; 130];
    let two = duid(0xc);
    for ids in [
        &[&[][..]][..],
        &[&[1]],
        &[&[0, 3]],
        &[&long[..]],
        &[&two, &two],
    ] {
        assert_eq!(
            outcome(&mut s, &with_ids(0x200, ids)),
            SOLICIT_DROPPED,
            "{ids:02x?}"
        );
    }
    assert_eq!(outcome(&mut s, &with_ids(0x203, &[&[0, 3, 1]])), ADVERTISED);
    // Two server identifiers in a Request: dropped.
    let mut o = opt(1, &duid(0xc));
    o.extend(opt(2, SERVER_DUID));
    o.extend(opt(2, SERVER_DUID));
    o.extend(ia_na_raw(1, &[]));
    let before = stat(&s, "pkt6-receive-drop");
    assert!(send_raw(
        &mut s,
        &relay_meta(),
        &wrapped(raw_msg(3, 0x300, &o), 1, 12),
        NOW
    )
    .is_none());
    assert_eq!(stat(&s, "pkt6-receive-drop"), before + 1);
}

/// The statuses of a reply's top level and IAs, in wire order: (option code, IAID or 0,
/// status code, message).
fn statuses(reply: &[u8]) -> Vec<(u16, u32, u16, Vec<u8>)> {
    let mut out = Vec::new();
    for o in Options6::new(reply.get(4..).unwrap_or(&[]), 4).map_while(Result::ok) {
        match o.code {
            opt::STATUS_CODE => {
                let st =
                    corelease_wire::v6::StatusCode::parse(o.data).unwrap_or_else(|e| panic!("{e}"));
                out.push((o.code, 0, st.code, st.message.to_vec()));
            }
            opt::IA_NA | opt::IA_PD => {
                let ia = Ia::parse(o.code, o.data).unwrap_or_else(|e| panic!("{e}"));
                for sub in ia.options().map_while(Result::ok) {
                    if sub.code == opt::STATUS_CODE {
                        let st = corelease_wire::v6::StatusCode::parse(sub.data)
                            .unwrap_or_else(|e| panic!("{e}"));
                        out.push((o.code, ia.iaid, st.code, st.message.to_vec()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn release_sums_up_its_ias_in_a_top_level_status_as_kea_does() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let release = |extra: Vec<DhcpOption>, client: u8| {
        let mut o = vec![server_id()];
        o.extend(extra);
        encode(&client_msg(d6::MessageType::Release, client, o))
    };
    let reply = |s: &mut V6Shard<MemorySink>, m: &[u8]| {
        send_raw(s, &meta(), m, NOW)
            .map(|(_, b)| b)
            .unwrap_or_else(|| panic!("no Reply"))
    };
    let no_lease = b"Sorry, no known leases for this duid/iaid, can't release.".to_vec();
    let summary = b"Summary status for all processed IA_NAs".to_vec();
    // Kea run E1: an unknown address: NoBinding in the IA and at the top.
    let r = reply(
        &mut s,
        &release(vec![iana(1, &[(a("2001:db8:1::1234"), 0, 0)])], 9),
    );
    assert_eq!(
        statuses(&r),
        vec![(3, 1, 3, no_lease.clone()), (13, 0, 3, summary.clone())]
    );
    // Kea run E4: no IA at all: Success.
    let r = reply(&mut s, &release(vec![], 9));
    assert_eq!(statuses(&r), vec![(13, 0, 0, summary.clone())]);
    // Kea run E6: an IA_PD without a prefix: the summary comes first (Kea orders by code).
    let r = reply(&mut s, &release(vec![iapd(4, &[])], 9));
    assert_eq!(
        statuses(&r),
        vec![
            (13, 0, 3, summary.clone()),
            (
                25,
                4,
                3,
                b"You did not include a prefix in your RELEASE".to_vec()
            )
        ]
    );
    // Kea runs E2, E7: one IA released and one unknown: NoBinding; all released: Success.
    let r = reply(
        &mut s,
        &release(
            vec![
                iana(7, &[(a("2001:db8:1::1235"), 0, 0)]),
                iana(1, &[(addr, 0, 0)]),
            ],
            1,
        ),
    );
    let mut got = statuses(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                3,
                1,
                0,
                b"Lease released. Thank you, please come again.".to_vec()
            ),
            (3, 7, 3, no_lease),
            (13, 0, 3, summary.clone()),
        ]
    );
    let other = lease_one(&mut s, 2, NOW);
    let r = reply(&mut s, &release(vec![iana(1, &[(other, 0, 0)])], 2));
    assert_eq!(statuses(&r)[1], (13, 0, 0, summary));
}

#[test]
fn decline_answers_per_ia_without_a_top_level_status() {
    // Kea runs E3, E8-E10.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let decline = |ias: Vec<DhcpOption>, client: u8| {
        let mut o = vec![server_id()];
        o.extend(ias);
        encode(&client_msg(d6::MessageType::Decline, client, o))
    };
    let cases = [
        (
            decline(vec![iana(1, &[(a("2001:db8:1::1234"), 0, 0)])], 9),
            vec![(
                3,
                1,
                3,
                b"Server does not know about such an address.".to_vec(),
            )],
        ),
        (decline(vec![], 9), vec![]),
        (
            decline(vec![iana(4, &[])], 9),
            vec![(3, 4, 3, b"No addresses sent in IA_NA".to_vec())],
        ),
        (
            decline(vec![iana(1, &[(addr, 0, 0)])], 1),
            vec![(
                3,
                1,
                0,
                b"Lease declined. Hopefully the next one will be better.".to_vec(),
            )],
        ),
    ];
    for (m, want) in cases {
        let (_, r) = send_raw(&mut s, &meta(), &m, NOW).unwrap_or_else(|| panic!("no Reply"));
        assert_eq!(statuses(&r), want);
    }
    assert_eq!(stat(&s, "declined-addresses"), 1);
}

#[test]
fn a_solicit_sent_straight_to_a_unicast_address_is_counted_and_dropped() {
    // Kea run D13 (testUnicast): a direct Solicit to the server's unicast address.
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let sol = solicit_with(0xdd, &[]);
    let mut to_unicast = meta();
    to_unicast.dst = a("2001:db8:1::1");
    let before = stat(&s, "pkt6-receive-drop");
    assert!(send_raw(&mut s, &to_unicast, &sol, NOW).is_none());
    assert_eq!(stat(&s, "pkt6-receive-drop"), before + 1);
    assert_eq!(stat(&s, "pkt6-solicit-received"), 1);
    // To the multicast address, or relayed to a unicast one, it is answered.
    assert!(send_raw(&mut s, &meta(), &sol, NOW).is_some());
    assert_eq!(outcome(&mut s, &wrapped(sol, 1, 12)), ADVERTISED);
}
