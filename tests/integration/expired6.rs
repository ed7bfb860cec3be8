//! A DHCPv6 client whose lease expired gets it back through the real binary (`corelease
//! dhcp6`), as kea-dhcp6 2.2 does (fuzz/kea-compare/hooks6.py, run side by side): a lease
//! that expired and was not reclaimed yet is advertised again at Solicit and renewed at Renew,
//! counted in reclaimed-leases and cumulative-assigned-nas (still assigned); a lease reclaimed
//! and held by hold-reclaimed-time is renewed too, counted as assigned again.
//!
//! The leases last 3 s (valid-lifetime 3): the test waits 4.2 s once for them to expire, a
//! lifetime the server computes in whole seconds, not a tuned delay.

use crate::hostile::{stat, unix_command};
use crate::hostile6::{
    client_msg, duid, exchange, lease6, relay_socket, relayed, sarr, start_relayed6, ADVERTISE,
    RENEW, REPLY, SOLICIT,
};
use crate::support::*;
use serde_json::json;
use std::time::Duration;

const CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "control-socket": { "socket-type": "unix", "socket-name": "SOCKET" },
    "preferred-lifetime": 2, "valid-lifetime": 3,
    "expired-leases-processing": { "reclaim-timer-wait-time": 3600, "hold-reclaimed-time": 3600 },
    "subnet6": [ {
      "id": 9, "subnet": "fd00:1::/64",
      "pools": [ { "pool": "fd00:1::1000 - fd00:1::10ff" } ]
    } ]
  }
}"#;

#[test]
fn a_dhcp6_client_whose_lease_expired_gets_the_same_address_back_as_from_kea() {
    let _g = serial();
    let (ns, _dir, _cfg, socket, server) = start_relayed6("expired6", CONFIG);
    let relay = relay_socket(&ns);
    let s = |name: &str| stat(&socket, name);

    let (a_duid, b_duid) = (duid(0xa), duid(0xb));
    let (server_id, a) = sarr(&relay, &a_duid, 0x0a00);
    let (_, b) = sarr(&relay, &b_duid, 0x0b00);
    std::thread::sleep(Duration::from_millis(4200));

    // Expired, not reclaimed (reclaim-timer-wait-time 3600): A's Solicit is advertised its
    // address again, its Renew renews it and reclaims the old lease in place.
    let adv = exchange(
        &relay,
        &relayed(client_msg(SOLICIT, 0x0a10, &a_duid, None, None), 1),
        0x0a10,
    )
    .expect("an Advertise");
    assert_eq!(
        (adv.kind, adv.addrs.clone()),
        (ADVERTISE, vec![a]),
        "{adv:?}"
    );
    let renew = client_msg(RENEW, 0x0a11, &a_duid, Some(&server_id), Some(a));
    let rep = exchange(&relay, &relayed(renew, 1), 0x0a11).expect("a Reply");
    assert_eq!(
        (rep.kind, rep.addrs.clone(), rep.ia_status),
        (REPLY, vec![a], None),
        "{rep:?}"
    );
    // kea-dhcp6 2.2: reclaimed-leases +1, cumulative-assigned-nas +1, assigned unchanged.
    assert_eq!(s("reclaimed-leases"), 1);
    assert_eq!(s("subnet[9].reclaimed-leases"), 1);
    assert_eq!(s("cumulative-assigned-nas"), 3);
    assert_eq!(s("subnet[9].assigned-nas"), 2);

    // Reclaimed and held (hold-reclaimed-time): B's Renew gives it back, assigned again.
    let reclaim = json!({ "command": "leases-reclaim", "arguments": { "remove": false } });
    let r = unix_command(&socket, &reclaim);
    assert_eq!(r["result"], 0, "{r}");
    let held = lease6(&socket, b).expect("B's lease kept for hold-reclaimed-time");
    assert_eq!(held["state"], 2, "expired-reclaimed: {held}");
    let assigned = s("subnet[9].assigned-nas");
    let cumulative = s("cumulative-assigned-nas");
    let renew = client_msg(RENEW, 0x0b11, &b_duid, Some(&server_id), Some(b));
    let rep = exchange(&relay, &relayed(renew, 1), 0x0b11).expect("a Reply");
    assert_eq!(
        (rep.kind, rep.addrs.clone(), rep.ia_status),
        (REPLY, vec![b], None),
        "{rep:?}"
    );
    assert_eq!(s("subnet[9].assigned-nas"), assigned + 1);
    assert_eq!(s("cumulative-assigned-nas"), cumulative + 1);
    let back = lease6(&socket, b).expect("B's lease");
    assert_eq!(back["state"], 0, "{back}");
    server.stop();
}
