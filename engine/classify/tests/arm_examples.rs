//! Every expression example of Kea ARM chapter 16 (and the class tests quoted elsewhere in the
//! ARM), compiled and evaluated on crafted packets, with the values the ARM gives.

mod common;

use common::{Relay6, TestPacket};
use corelease_classify::{
    compile, compile_test, compile_with, standard_v4_option_code, EvalError, ExprError,
    PacketContext, Program, Scratch, Universe, ValueKind,
};
use std::net::{IpAddr, Ipv6Addr};

fn v4(expr: &str) -> Program {
    match compile(expr) {
        Ok(p) => p,
        Err(e) => panic!("{expr:?} did not compile: {e}"),
    }
}

fn v6(expr: &str) -> Program {
    let names = |n: &str| match n {
        "clientid" => Some(1),
        "interface-id" => Some(18),
        _ => None,
    };
    match compile_with(expr, Universe::V6, &names) {
        Ok(p) => p,
        Err(e) => panic!("{expr:?} did not compile for v6: {e}"),
    }
}

fn truth(p: &Program, pkt: &impl PacketContext) -> bool {
    assert_eq!(p.kind(), ValueKind::Bool, "not a boolean expression");
    let mut s = Scratch::new();
    match p.try_eval_bool(pkt, &mut s) {
        Ok(v) => v,
        Err(e) => panic!("evaluation failed: {e}"),
    }
}

fn value(p: &Program, pkt: &impl PacketContext) -> Vec<u8> {
    let mut s = Scratch::new();
    match p.try_eval_string(pkt, &mut s) {
        Ok(v) => v.to_vec(),
        Err(e) => panic!("evaluation failed: {e}"),
    }
}

fn is_true(expr: &str, pkt: &TestPacket) -> bool {
    truth(&v4(expr), pkt)
}

fn str4(expr: &str, pkt: &TestPacket) -> Vec<u8> {
    value(&v4(expr), pkt)
}

fn empty() -> TestPacket {
    TestPacket::default()
}

#[test]
fn table1_literals_have_the_arm_example_values() {
    let p = empty();
    assert_eq!(str4("'example'", &p), b"example");
    assert_eq!(str4("0x5a7d", &p), b"Z}");
    assert_eq!(str4("10.0.0.1", &p), [0x0a, 0, 0, 1]);
    assert_eq!(str4("123", &p), [0, 0, 0, 0x7b]);
    // An odd digit count gets a leading 0 (ARM 16.3 notes).
    assert_eq!(str4("0xabc", &p), [0x0a, 0xbc]);
    assert_eq!(str4("0X01", &p), [1]);
    assert_eq!(str4("2001:db8::1", &p).len(), 16);
    assert_eq!(
        str4("::ffff:10.0.0.1", &p),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]
    );
    assert!(is_true("10.0.0.1 == 0x0a000001", &p));
    assert!(is_true("123 == 0x0000007b", &p));
}

#[test]
fn option_hex_and_exists_follow_table1() {
    let p = empty().with_option(123, b"abc").with_option(124, b"");
    assert_eq!(str4("option[123].hex", &p), b"abc");
    assert!(is_true("option[123].exists", &p));
    // Exists works for empty options; a missing option is "" and does not exist.
    assert!(is_true("option[124].exists", &p));
    assert!(!is_true("option[125].exists", &p));
    assert_eq!(str4("option[125].hex", &p), b"");
    assert!(is_true("option[125].hex == ''", &p));
}

#[test]
fn sub_option_hex_and_exists_follow_table1() {
    let p = empty().with_option(12, &[33, 1, b'x', 34, 2, b'h', b'i']);
    assert_eq!(str4("option[12].option[34].hex", &p), b"hi");
    assert!(is_true("option[12].option[34].exists", &p));
    assert!(!is_true("option[12].option[35].exists", &p));
    assert!(!is_true("option[13].option[34].exists", &p));
    assert_eq!(str4("option[13].option[34].hex", &p), b"");
}

#[test]
fn member_known_and_unknown_follow_table1() {
    let mut p = empty();
    p.classes = vec!["foobar", "phones", "HA_server1", "ALL"];
    assert!(is_true("member('foobar')", &p));
    assert!(!is_true("member('laptops')", &p));
    assert!(is_true("unknown", &p));
    assert!(!is_true("known", &p));
    assert!(is_true("not member('KNOWN')", &p));
    p.known = true;
    assert!(is_true("known", &p));
    assert!(is_true("member('KNOWN')", &p));
    assert!(!is_true("unknown", &p));
    // Class tests quoted in ARM chapters 9 and 16 (HA load balancing, option class-tagging).
    assert!(is_true("member('phones') and member('HA_server1')", &p));
    assert!(!is_true("member('phones') and member('HA_server2')", &p));
    assert!(!is_true("member('laptops') and member('HA_server1')", &p));
    assert!(is_true("member('ALL')", &p));
    assert!(is_true("not member('BOOTP')", &p));
    assert!(!is_true("not member('phones')", &p));
    assert!(is_true("member('KNOWN') or member('bar')", &p));
    assert!(!is_true("not member('reserved_class')", &{
        let mut q = empty();
        q.classes = vec!["reserved_class"];
        q
    }));
}

#[test]
fn member_programs_report_their_dependencies() {
    let p = v4("member('a') and (member('b') or member('a')) and known");
    assert_eq!(p.member_classes().collect::<Vec<_>>(), vec!["a", "b"]);
    assert!(p.depends_on_known());
    assert!(!v4("member('a')").depends_on_known());
}

#[test]
fn relay4_reads_rai_sub_options() {
    // Option 82 with circuit-id (1) "eth0" and remote-id (2) "abc".
    let p = empty().with_option(82, &[1, 4, b'e', b't', b'h', b'0', 2, 3, b'a', b'b', b'c']);
    assert_eq!(str4("relay4[2].hex", &p), b"abc");
    assert!(is_true("relay4[2].hex == 'abc'", &p));
    assert!(is_true("relay4[1].exists", &p));
    assert!(!is_true("relay4[123].exists", &p));
    assert_eq!(str4("relay4[123].hex", &p), b"");
    assert_eq!(str4("relay4[2].hex", &empty()), b"");
}

#[test]
fn relay6_reads_options_and_addresses_by_nest_level() {
    let a1: Ipv6Addr = "2001:db8::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let a2: Ipv6Addr = "2001:db8::2".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let mut p = empty();
    p.relays = vec![
        Relay6 {
            peer: Some(a1),
            link: Some(a2),
            options: vec![(18, b"port1".to_vec())],
        },
        Relay6 {
            peer: Some(a2),
            link: Some(a1),
            options: vec![(37, b"remote".to_vec())],
        },
    ];
    assert_eq!(value(&v6("relay6[0].option[18].hex"), &p), b"port1");
    assert_eq!(
        value(&v6("relay6[0].option[interface-id].hex"), &p),
        b"port1"
    );
    assert!(truth(&v6("relay6[1].option[37].exists"), &p));
    assert!(truth(&v6("relay6[-1].option[37].exists"), &p));
    assert!(!truth(&v6("relay6[0].option[37].exists"), &p));
    assert_eq!(value(&v6("relay6[0].peeraddr"), &p), a1.octets());
    assert!(truth(&v6("relay6[0].peeraddr == 2001:db8::1"), &p));
    assert!(truth(&v6("relay6[0].linkaddr == 2001:DB8::2"), &p));
    assert!(truth(&v6("relay6[-2].peeraddr == 2001:db8::1"), &p));
    // A nest level that does not exist gives "".
    assert_eq!(value(&v6("relay6[2].peeraddr"), &p), b"");
    assert_eq!(value(&v6("relay6[-3].option[18].hex"), &p), b"");
    assert_eq!(value(&v6("relay6[5].option[18].hex"), &p), b"");
}

#[test]
fn pkt_metadata_follows_table1() {
    let p = empty();
    assert_eq!(str4("pkt.iface", &p), b"eth0");
    assert!(is_true("pkt.iface == 'eth0'", &p));
    assert!(is_true("pkt.src == 10.1.2.3", &p));
    assert!(is_true("pkt.dst == 10.1.2.4", &p));
    assert!(is_true("pkt.len == 513", &p));
    let mut q = empty();
    q.src = IpAddr::V6("2001:db8::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED));
    assert!(truth(&v6("pkt.src == 2001:db8::1"), &q));
}

#[test]
fn pkt4_fields_follow_table1() {
    let p = empty();
    assert_eq!(str4("pkt4.mac", &p), [1, 2, 3, 4, 5, 6]);
    assert!(is_true("pkt4.mac == 0x010203040506", &p));
    assert!(is_true("pkt4.hlen == 6", &p));
    assert!(is_true("pkt4.htype == 1", &p));
    assert!(is_true("pkt4.ciaddr == 192.0.2.1", &p));
    assert!(is_true("pkt4.giaddr == 192.0.2.2", &p));
    assert!(is_true("pkt4.yiaddr == 192.0.2.3", &p));
    assert!(is_true("pkt4.siaddr == 192.0.2.4", &p));
    assert!(is_true("pkt4.msgtype == 1", &p));
    assert!(is_true("pkt4.transid == 12345", &p));
    // All numeric fields are 32-bit (ARM 16.3 notes).
    assert_eq!(str4("pkt4.hlen", &p), [0, 0, 0, 6]);
    assert_eq!(str4("hexstring(pkt4.mac, ':')", &p), b"01:02:03:04:05:06");
}

#[test]
fn pkt6_fields_are_four_byte_values() {
    let p = empty();
    assert!(truth(&v6("pkt6.msgtype == 1"), &p));
    assert!(truth(&v6("pkt6.msgtype == 0x00000001"), &p));
    assert!(truth(&v6("pkt6.transid == 12345"), &p));
}

fn vivso_v4() -> Vec<u8> {
    // RFC 3925 4: enterprise 4491, data-len, sub-option 1 "docsis3.0".
    let mut d = vec![0, 0, 0x11, 0x8b, 11, 1, 9];
    d.extend_from_slice(b"docsis3.0");
    d
}

fn vivco_v4() -> Vec<u8> {
    // RFC 3925 3: enterprise 4491, data-len, four 1-byte-length chunks; chunk 3 is docsis3.0.
    let mut chunks = Vec::new();
    for c in [&b"a"[..], b"bb", b"", b"docsis3.0"] {
        chunks.push(c.len() as u8);
        chunks.extend_from_slice(c);
    }
    let mut d = vec![0, 0, 0x11, 0x8b, chunks.len() as u8];
    d.extend_from_slice(&chunks);
    d
}

#[test]
fn vendor_option_expressions_follow_table1_v4() {
    let p = empty().with_option(125, &vivso_v4());
    assert!(is_true("vendor[*].exists", &p));
    assert!(is_true("vendor[0].exists", &p));
    assert!(is_true("vendor[4491].exists", &p));
    assert!(!is_true("vendor[1234].exists", &p));
    assert!(is_true("vendor.enterprise == 4491", &p));
    assert!(is_true("vendor[4491].option[1].exists", &p));
    assert!(!is_true("vendor[4491].option[2].exists", &p));
    assert_eq!(str4("vendor[4491].option[1].hex", &p), b"docsis3.0");
    assert_eq!(str4("vendor[1234].option[1].hex", &p), b"");
    assert!(!is_true("vendor[*].exists", &empty()));
    assert_eq!(str4("vendor.enterprise", &empty()), b"");
}

#[test]
fn vendor_class_expressions_follow_table1_v4() {
    let p = empty().with_option(124, &vivco_v4());
    assert!(is_true("vendor-class[*].exists", &p));
    assert!(is_true("vendor-class[4491].exists", &p));
    assert!(!is_true("vendor-class[1].exists", &p));
    assert!(is_true("vendor-class.enterprise == 4491", &p));
    assert_eq!(str4("vendor-class[4491].data", &p), b"a");
    assert_eq!(str4("vendor-class[4491].data[1]", &p), b"bb");
    assert_eq!(str4("vendor-class[4491].data[3]", &p), b"docsis3.0");
    assert_eq!(str4("vendor-class[4491].data[4]", &p), b"");
    assert_eq!(str4("vendor-class[9].data", &p), b"");
}

#[test]
fn vendor_expressions_use_dhcpv6_layouts() {
    // RFC 8415 21.17: enterprise, then 2-byte code/length sub-options.
    let mut vso = vec![0, 0, 0x11, 0x8b, 0, 1, 0, 9];
    vso.extend_from_slice(b"docsis3.0");
    // RFC 8415 21.16: enterprise, then 2-byte-length chunks.
    let mut vc = vec![0, 0, 0x11, 0x8b, 0, 9];
    vc.extend_from_slice(b"docsis3.0");
    let p = empty().with_option(17, &vso).with_option(16, &vc);
    assert!(truth(&v6("vendor[4491].option[1].hex == 'docsis3.0'"), &p));
    assert!(truth(&v6("vendor.enterprise == 4491"), &p));
    assert!(truth(&v6("vendor-class[4491].data == 'docsis3.0'"), &p));
    assert!(truth(&v6("vendor-class[*].exists"), &p));
}

#[test]
fn table2_operators_give_documented_results() {
    let p = empty();
    assert!(!is_true("'foo' == 'bar'", &p));
    assert!(is_true("match('foo.*', 'foobar')", &p));
    assert!(is_true("not ('foo' == 'bar')", &p));
    assert!(!is_true("('foo' == 'bar') and ('bar' == 'foo')", &p));
    assert!(!is_true("('foo' == 'bar') or ('bar' == 'foo')", &p));
    assert_eq!(str4("substring('foobar',0,3)", &p), b"foo");
    assert_eq!(str4("concat('foo','bar')", &p), b"foobar");
    assert_eq!(str4("'foo' + 'bar'", &p), b"foobar");
    assert_eq!(str4("ifelse('foo' == 'bar','us','them')", &p), b"them");
    assert_eq!(str4("hexstring('foo', '-')", &p), b"66-6F-6F");
    assert_eq!(str4("lcase('LoWeR')", &p), b"lower");
    assert_eq!(str4("ucase('uPpEr')", &p), b"UPPER");
    assert_eq!(str4("split('foo.bar', '.', 2)", &p), b"bar");
}

#[test]
fn table3_conversions_give_documented_text() {
    let p = empty();
    assert_eq!(str4("addrtotext(192.10.0.1)", &p), b"192.10.0.1");
    assert_eq!(str4("addrtotext(2003:db8::)", &p), b"2003:db8::");
    assert_eq!(str4("int8totext(-1)", &p), b"-1");
    assert_eq!(str4("int16totext(-1)", &p), b"-1");
    assert_eq!(str4("int32totext(-1)", &p), b"-1");
    assert_eq!(str4("uint8totext(255)", &p), b"255");
    assert_eq!(str4("uint16totext(65535)", &p), b"65535");
    assert_eq!(str4("uint32totext(4294967295)", &p), b"4294967295");
    // Operands from the packet: the input length must match, "" stays "".
    assert_eq!(str4("uint32totext(pkt4.transid)", &p), b"12345");
    assert_eq!(str4("int8totext(0xff)", &p), b"-1");
    assert_eq!(str4("uint16totext(0x0102)", &p), b"258");
    assert_eq!(str4("uint8totext(option[99].hex)", &p), b"");
    assert_eq!(str4("addrtotext(option[99].hex)", &p), b"");
    assert_eq!(str4("addrtotext(pkt4.ciaddr)", &p), b"192.0.2.1");
}

#[test]
fn conversions_of_wrong_length_are_evaluation_errors() {
    let p = empty().with_option(1, &[1, 2, 3]);
    let mut s = Scratch::new();
    let prog = v4("addrtotext(option[1].hex) == ''");
    assert!(matches!(
        prog.try_eval_bool(&p, &mut s),
        Err(EvalError::BadLength { got: 3, .. })
    ));
    // Kea leaves the packet out of the class when evaluation throws.
    assert!(!prog.eval_bool(&p, &mut s));
    assert!(!v4("uint16totext(option[1].hex) == ''").eval_bool(&p, &mut s));
    assert_eq!(
        v4("int32totext(option[1].hex)").eval_string(&p, &mut s),
        b""
    );
}

#[test]
fn predicates_of_16_3_1() {
    let p = empty();
    assert!(!is_true("not (substring('foobar', 3, 3) == 'bar')", &p));
    assert!(is_true("match('foo.*', lcase('FooBar'))", &p));
    assert!(is_true("match('.*foo.*', 'is it foo or bar')", &p));
    assert!(is_true("match('^.*foo.*$', 'is it foo or bar')", &p));
    // Kea's match is a whole-value match (std::regex_match).
    assert!(!is_true("match('foo', 'foobar')", &p));
}

#[test]
fn logical_precedence_of_16_3_2() {
    let p = empty();
    let (f, t) = ("'a' == 'b'", "'a' == 'a'");
    // "A and B or C" means "(A and B) or C": with A false and C true it is true...
    assert!(is_true(&format!("{f} and {f} or {t}"), &p));
    // ...whereas "A and (B or C)" is false.
    assert!(!is_true(&format!("{f} and ({f} or {t})"), &p));
    // Not binds tighter than and: "not A and B" is "(not A) and B".
    assert!(!is_true(&format!("not {f} and {f}"), &p));
    assert!(is_true(&format!("not ({f} and {f})"), &p));
}

#[test]
fn substring_examples_of_16_3_3() {
    let p = empty();
    for e in [
        "substring('foobar', 0, 6) == 'foobar'",
        "substring('foobar', 3, 3) == 'bar'",
        "substring('foobar', 3, all) == 'bar'",
        "substring('foobar', 1, 4) == 'ooba'",
        "substring('foobar', -5, 4) == 'ooba'",
        "substring('foobar', -1, -3) == 'oba'",
        "substring('foobar', 4, -2) == 'ob'",
        "substring('foobar', 10, 2) == ''",
    ] {
        assert!(is_true(e, &p), "{e}");
    }
}

#[test]
fn concat_examples_of_16_3_4() {
    let p = empty();
    assert!(is_true("concat('foo', 'bar') == 'foobar'", &p));
    let want = b"abcdefghijkl...".to_vec();
    for e in [
        "'abc' + 'def' + 'ghi' + 'jkl' + '...'",
        "concat(concat(concat(concat('abc', 'def'), 'ghi'), 'jkl'), '...')",
        "concat('abc', concat('def', concat('ghi', concat('jkl', '...'))))",
        "'abcdefghijkl...'",
    ] {
        assert_eq!(str4(e, &p), want, "{e}");
    }
    // '+' binds tighter than '=='.
    assert!(is_true("'ab' + 'c' == 'a' + 'bc'", &p));
}

#[test]
fn split_examples_of_16_3_5() {
    let p = empty().with_option(39, b"it's me");
    for e in [
        "split ('one.two..four', '.', 1) == 'one'",
        "split ('one.two..four', '.', 2) == 'two'",
        "split ('one.two..four', '.', 3) == ''",
        "split ('one.two..four', '.', 4) == 'four'",
        "split ('one.two..four', '.', 5) == ''",
        "split ('', '.', 1) == ''",
        "split ('a.b', '', 1) == 'a.b'",
        "split ('a.b', '.', 0) == ''",
        "split ('a.b-c', '-.', 3) == 'c'",
    ] {
        assert!(is_true(e, &p), "{e}");
    }
    assert_eq!(str4("split(option[39].text, 0x27, 1)", &p), b"it");
}

#[test]
fn ifelse_example_of_16_3_6() {
    let e = "ifelse(option[230].exists, option[230].hex, 'none')";
    assert_eq!(str4(e, &empty()), b"none");
    assert_eq!(str4(e, &empty().with_option(230, b"val")), b"val");
}

#[test]
fn hexstring_example_of_16_3_7() {
    let p = empty();
    assert_eq!(str4("hexstring(pkt4.mac, ':')", &p), b"01:02:03:04:05:06");
    assert_eq!(str4("hexstring(pkt4.mac, '')", &p), b"010203040506");
    assert_eq!(str4("hexstring('', ':')", &p), b"");
}

#[test]
fn class_tests_quoted_in_the_arm_match_crafted_packets() {
    let p = empty()
        .with_option(61, b"foobar")
        .with_option(60, b"HMC1000-x")
        .with_option(93, &[0, 2])
        .with_option(123, b"ONE");
    assert!(is_true("substring(option[61].hex,0,3) == 'foo'", &p));
    assert!(is_true("substring(option[60].hex,0,7) == 'HMC1000'", &p));
    assert!(!is_true("substring(option[60].hex,0,6) == 'Aastra'", &p));
    assert!(is_true("option[93].hex == 0x0002", &p));
    assert!(!is_true("option[93].hex == 0x0017", &p));
    assert!(!is_true("option[93].hex == 0x0001", &p));
    assert!(is_true("substring(option[123].hex,0,4) == 'ONE'", &p));
    assert!(!is_true("substring(option[61].hex,0,3) == 'foo'", &empty()));

    let apc = empty().with_option(60, b"APC");
    assert!(is_true(
        "option[vendor-class-identifier].text == 'APC'",
        &apc
    ));
    assert!(!is_true(
        "option[vendor-class-identifier].text == 'PXE'",
        &apc
    ));

    let duid = empty()
        .with_option(1, &[0, 2, 0xaa, 0xbb, 0xcc, 0xdd, 9, 9])
        .with_option(1234, &[0, 2]);
    assert!(truth(
        &v6("substring(option[1].hex,0,6) == 0x0002AABBCCDD"),
        &duid
    ));
    assert!(truth(&v6("option[1234].hex == 0x0002"), &duid));
    assert!(truth(&v6("option[clientid].exists"), &duid));
}

#[test]
fn boolean_programs_evaluate_as_true_false_strings() {
    let p = empty();
    let mut s = Scratch::new();
    assert_eq!(v4("'a' == 'a'").eval_string(&p, &mut s), b"true");
    assert_eq!(v4("'a' == 'b'").eval_string(&p, &mut s), b"false");
    // A string program is not a class test.
    assert!(!v4("'true'").eval_bool(&p, &mut s));
}

fn error_of(expr: &str) -> ExprError {
    match compile(expr) {
        Ok(_) => panic!("{expr:?} compiled"),
        Err(e) => e,
    }
}

#[test]
fn syntax_errors_name_the_byte_offset_and_what_was_expected() {
    let e = error_of("option[61].hex == ");
    assert_eq!(e.offset(), 18);
    assert!(e.to_string().contains("expected an expression"), "{e}");

    let e = error_of("substring(option[61].hex,0) == 'a'");
    assert_eq!(e.offset(), 26);
    assert!(e.to_string().contains("expected ','"), "{e}");

    let e = error_of("option[61].hax");
    assert_eq!(e.offset(), 11);
    assert!(e.to_string().contains("'hex', 'text' or 'exists'"), "{e}");

    assert!(matches!(
        error_of("'abc == 'x"),
        ExprError::Unexpected { offset: 9, .. }
    ));
    assert!(matches!(
        error_of("'x' == 'abc"),
        ExprError::UnterminatedString { offset: 7 }
    ));
    assert!(matches!(
        error_of("option[300].hex"),
        ExprError::OutOfRange {
            offset: 7,
            value: 300,
            ..
        }
    ));
    assert!(matches!(
        error_of("option[no-such-option].hex"),
        ExprError::UnknownOptionName { offset: 7, .. }
    ));
    assert!(matches!(
        error_of("'a' and 'b' == 'b'"),
        ExprError::TypeMismatch {
            offset: 0,
            expected: "boolean",
            ..
        }
    ));
    assert!(matches!(
        error_of("option[1].exists == 'true'"),
        ExprError::TypeMismatch {
            offset: 0,
            expected: "string",
            ..
        }
    ));
    assert!(matches!(
        error_of("relay6[0].peeraddr == ::1"),
        ExprError::WrongUniverse { offset: 0, .. }
    ));
    assert!(matches!(
        error_of("'a' == 'b' 'c'"),
        ExprError::Unexpected { offset: 11, .. }
    ));
    assert!(matches!(
        error_of("match('(', 'a')"),
        ExprError::BadRegex { offset: 6, .. }
    ));
    assert!(matches!(
        error_of("int8totext(256)"),
        ExprError::OutOfRange {
            offset: 11,
            value: 256,
            ..
        }
    ));
    assert!(matches!(
        error_of("1.2.3"),
        ExprError::BadLiteral { offset: 0, .. }
    ));
    let deep = format!("{}'a'{}", "(".repeat(200), ")".repeat(200));
    assert!(matches!(error_of(&deep), ExprError::TooDeep { .. }));
    let nots = format!("{}'a' == 'a'", "not ".repeat(200));
    assert!(matches!(error_of(&nots), ExprError::TooDeep { .. }));
    assert!(matches!(
        compile_with("pkt4.mac == 0x01", Universe::V6, &standard_v4_option_code),
        Err(ExprError::WrongUniverse { offset: 0, .. })
    ));
    assert!(matches!(
        error_of("relay4[1].hex == pkt6.transid"),
        ExprError::WrongUniverse { offset: 17, .. }
    ));
}

#[test]
fn class_tests_must_be_boolean_but_template_tests_may_be_strings() {
    let v4names = &standard_v4_option_code;
    assert!(compile_test("option[61].exists", Universe::V4, v4names).is_ok());
    assert!(matches!(
        compile_test("option[61].hex", Universe::V4, v4names),
        Err(ExprError::TypeMismatch {
            offset: 0,
            expected: "boolean",
            ..
        })
    ));
    // A template-test (ARM 16.4.1) yields the spawned class suffix.
    let p = empty().with_option(61, b"foobar");
    assert_eq!(str4("substring(option[61].hex, 0, 3)", &p), b"foo");
}

#[test]
fn relay6_nest_levels_kea_accepts_compile_and_miss() {
    let p = empty();
    assert_eq!(value(&v6("relay6[100].peeraddr"), &p), b"");
    assert!(!truth(&v6("relay6[-128].option[1].exists"), &p));
    let names = |_: &str| None;
    assert!(matches!(
        compile_with("relay6[128].peeraddr", Universe::V6, &names),
        Err(ExprError::OutOfRange {
            offset: 7,
            value: 128,
            ..
        })
    ));
}
