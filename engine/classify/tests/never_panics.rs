//! Hostile expression text (config input) and hostile packet bytes never panic the compiler or
//! the evaluator: every outcome is an `ExprError`, `false` or a value.

use corelease_classify::{compile, compile_with, PacketContext, Scratch, Universe};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "option",
    "[",
    "]",
    ".",
    "hex",
    "text",
    "exists",
    "(",
    ")",
    ",",
    "==",
    "+",
    "and",
    "or",
    "not",
    "'foo'",
    "''",
    "0x",
    "0x0102",
    "0xabc",
    "1",
    "-1",
    "0",
    "255",
    "65536",
    "-7",
    "4294967296",
    "10.0.0.1",
    "::1",
    "2001:db8::",
    "fe80::1:",
    "relay4",
    "relay6",
    "peeraddr",
    "linkaddr",
    "pkt",
    "pkt4",
    "pkt6",
    "mac",
    "msgtype",
    "transid",
    "iface",
    "len",
    "vendor",
    "vendor-class",
    "*",
    "data",
    "enterprise",
    "member",
    "known",
    "unknown",
    "substring",
    "all",
    "split",
    "concat",
    "ifelse",
    "hexstring",
    "addrtotext",
    "int8totext",
    "uint16totext",
    "int32totext",
    "lcase",
    "ucase",
    "match",
    "'.*'",
    "'('",
    "'",
    "vendor-class-identifier",
    "1.2.3",
    "\u{e9}",
    "=",
];

#[derive(Debug)]
struct Bytes {
    options: Vec<(u16, Vec<u8>)>,
}

impl PacketContext for Bytes {
    fn option(&self, code: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }
    fn pkt4_mac(&self) -> &[u8] {
        self.options.first().map_or(&[], |(_, d)| d.as_slice())
    }
    fn relay6_count(&self) -> usize {
        self.options.len()
    }
    fn relay6_option(&self, level: usize, _code: u16) -> Option<&[u8]> {
        self.options.get(level).map(|(_, d)| d.as_slice())
    }
}

fn packet() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        (
            prop::sample::select(vec![0u16, 1, 2, 12, 16, 17, 60, 82, 124, 125, 255]),
            prop::collection::vec(any::<u8>(), 0..40),
        ),
        0..6,
    )
    .prop_map(|options| Bytes { options })
}

fn exercise(expr: &str, pkt: &Bytes) {
    let mut s = Scratch::new();
    let names = |n: &str| (n == "vendor-class-identifier").then_some(60);
    for program in [compile(expr), compile_with(expr, Universe::V6, &names)]
        .into_iter()
        .flatten()
    {
        let _ = program.eval_bool(pkt, &mut s);
        let _ = program.eval_string(pkt, &mut s).len();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn token_soup_never_panics(
        words in prop::collection::vec(prop::sample::select(TOKENS), 0..24),
        spaced in any::<bool>(),
        pkt in packet(),
    ) {
        let expr = words.join(if spaced { " " } else { "" });
        exercise(&expr, &pkt);
    }

    #[test]
    fn arbitrary_text_never_panics(expr in "\\PC{0,60}", pkt in packet()) {
        exercise(&expr, &pkt);
    }
}

/// Well-formed string expressions, so the evaluator (not just the parser) meets random shapes.
fn string_expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "'foo.bar'",
        "''",
        "0x00ff10",
        "7",
        "-1",
        "10.0.0.1",
        "2001:db8::1",
        "option[12].hex",
        "option[125].hex",
        "option[12].option[34].hex",
        "relay4[2].hex",
        "pkt4.mac",
        "pkt4.hlen",
        "pkt4.transid",
        "pkt.iface",
        "pkt.len",
        "vendor.enterprise",
        "vendor[*].option[1].hex",
        "vendor-class[0].data[2]",
        "vendor-class.enterprise",
    ])
    .prop_map(str::to_string);
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (inner.clone(), -8i32..8, prop::option::of(-8i32..8)).prop_map(|(e, s, l)| format!(
                "substring({e}, {s}, {})",
                l.map_or("all".to_string(), |l| l.to_string())
            )),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("concat({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} + {b}")),
            (inner.clone(), inner.clone(), -2i32..5)
                .prop_map(|(a, b, n)| format!("split({a}, {b}, {n})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("hexstring({a}, {b})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("ifelse({c} == {a}, {a}, {b})")),
            inner.clone().prop_map(|e| format!("addrtotext({e})")),
            inner.clone().prop_map(|e| format!("int16totext({e})")),
            inner.clone().prop_map(|e| format!("uint32totext({e})")),
            inner.clone().prop_map(|e| format!("lcase({e})")),
            inner.prop_map(|e| format!("ucase({e})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn well_formed_expressions_compile_and_evaluate_without_panic(
        a in string_expr(),
        b in string_expr(),
        pkt in packet(),
    ) {
        let expr = format!("{a} == {b} or not match('f.*', {a})");
        let program = compile(&expr);
        prop_assert!(program.is_ok(), "{} did not compile: {:?}", expr, program.err());
        exercise(&expr, &pkt);
        exercise(&a, &pkt);
    }
}

#[test]
fn compiled_expressions_survive_malformed_packet_bytes() {
    // Truncated TLVs, a vendor block whose data-len overruns, a relay option cut mid-header.
    let pkt = Bytes {
        options: vec![
            (12, vec![34, 200, 1]),
            (125, vec![0, 0, 0x11, 0x8b, 250, 1, 9]),
            (124, vec![0, 0, 0x11]),
            (82, vec![2]),
        ],
    };
    let mut s = Scratch::new();
    for e in [
        "option[12].option[34].exists",
        "vendor[4491].option[1].exists",
        "vendor-class[*].exists",
        "relay4[2].exists",
    ] {
        match compile(e) {
            Ok(p) => assert!(!p.eval_bool(&pkt, &mut s), "{e} matched malformed bytes"),
            Err(err) => panic!("{e}: {err}"),
        }
    }
}
