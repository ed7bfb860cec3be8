//! Expressions evaluated through `V4Context` over real DHCPv4 wire bytes (built with the
//! codec's writer), so header fields and options come from where the engine will read them.

use corelease_classify::{compile, Scratch, V4Context};
use corelease_wire::v4::{opt, Dhcp4Packet, Dhcp4Writer, OptionIndex};
use std::net::{IpAddr, Ipv4Addr};

fn request(buf: &mut [u8]) -> usize {
    let Ok(mut w) = Dhcp4Writer::new(buf, 1500) else {
        return 0;
    };
    w.set_op(1);
    w.set_htype(1);
    w.set_hlen(6);
    w.set_xid(0xdead_beef);
    w.set_ciaddr(Ipv4Addr::new(192, 0, 2, 1));
    w.set_giaddr(Ipv4Addr::new(10, 0, 0, 1));
    w.set_chaddr(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    let _ = w.option(opt::MESSAGE_TYPE, &[3]);
    let _ = w.option(opt::CLIENT_ID, &[1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    let _ = w.option(60, b"PXEClient:Arch:00007");
    let _ = w.option(82, &[1, 4, b'p', b'o', b'r', b't', 2, 2, 0x12, 0x34]);
    w.finish().unwrap_or(0)
}

fn check(expr: &str, ctx: &V4Context<'_, &[u8]>) -> bool {
    match compile(expr) {
        Ok(p) => p.eval_bool(ctx, &mut Scratch::new()),
        Err(e) => panic!("{expr:?}: {e}"),
    }
}

#[test]
fn v4_context_exposes_header_fields_options_and_relay_info() {
    let mut buf = [0u8; 1500];
    let len = request(&mut buf);
    assert!(len > 240, "request was not written");
    let Ok(pkt) = Dhcp4Packet::new_checked(&buf[..len]) else {
        panic!("codec rejected the request");
    };
    let mut index = OptionIndex::new();
    assert!(index.parse(&pkt).is_ok());
    let classes = vec!["gold"];
    let mut ctx = V4Context::new(&pkt, &index);
    ctx.iface = "eth1";
    ctx.src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    ctx.dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254));
    ctx.classes = &classes;

    assert!(check("pkt4.mac == 0xaabbccddeeff", &ctx));
    assert!(check(
        "hexstring(pkt4.mac, ':') == 'AA:BB:CC:DD:EE:FF'",
        &ctx
    ));
    assert!(check("pkt4.hlen == 6 and pkt4.htype == 1", &ctx));
    assert!(check("pkt4.msgtype == 3", &ctx));
    assert!(check("pkt4.transid == 0xdeadbeef", &ctx));
    assert!(check("pkt4.ciaddr == 192.0.2.1", &ctx));
    assert!(check("pkt4.giaddr == 10.0.0.1", &ctx));
    assert!(check("pkt4.yiaddr == 0.0.0.0", &ctx));
    assert!(check(
        "substring(option[vendor-class-identifier].text, 0, 9) == 'PXEClient'",
        &ctx
    ));
    assert!(check("option[61].hex == 0x01aabbccddeeff", &ctx));
    assert!(check(
        "relay4[1].hex == 'port' and relay4[2].hex == 0x1234",
        &ctx
    ));
    assert!(!check("relay4[5].exists", &ctx));
    assert!(check("pkt.iface == 'eth1'", &ctx));
    assert!(check("pkt.src == 10.0.0.1 and pkt.dst == 10.0.0.254", &ctx));
    assert!(check(&format!("pkt.len == {len}"), &ctx));
    assert!(check("member('gold') and not member('silver')", &ctx));
    assert!(check("unknown", &ctx));
    ctx.known = true;
    assert!(check("known", &ctx));
}
