#!/usr/bin/env python3
"""Writes the dhcp4o6 seeds (fuzz/corpus/dhcp4o6/): scripts for fuzz_targets/dhcp4o6.rs.

Structured steps (see the target's `dhcpv4`, `query`, `relay` functions for the byte layout)
play the exchanges of the engine tests (engine/v4/src/dhcp4o6.rs, engine/v6/src/dhcp4o6.rs)
and of tests/integration/dhcp4o6.rs: DISCOVER then REQUEST of the offered address from a
client on eth0 (4o6-subnet), through a relay with Interface-ID port-7 (4o6-interface-id), on
eth1 (4o6-interface), through two relays with Relay Source Port, and as an IPC message sent
straight to the DHCPv4 side. Raw steps carry whole messages as the two servers pass them
(DHCPv4-query from a client, IPC query, IPC response), built here the way Kea's
Dhcp4o6IpcBase::send lays them out (ISC vendor option 17, enterprise 2495, sub-options 60000
interface, 60001 source address, 60002 source port).
Run: python3 fuzz/seedgen/scripts/dhcp4o6_seeds.py
"""
import ipaddress
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parents[2] / "corpus" / "dhcp4o6"
CLIENT = ipaddress.IPv6Address("2001:db8:1:1::42").packed
RELAY_LINK = ipaddress.IPv6Address("2001:db8:9::1").packed
LL = ipaddress.IPv6Address("fe80::42").packed


def opt6(code, data):
    return struct.pack("!HH", code, len(data)) + data


def dhcpv4(kind, mac_last, opts=b""):
    p = bytearray(240)
    p[0], p[1], p[2] = 1, 1, 6
    p[4:8] = bytes([0x40, 0x60, mac_last, kind])
    p[28:34] = bytes([2, 0, 0, 0, 0, mac_last])
    p[236:240] = bytes([99, 130, 83, 99])
    return bytes(p) + bytes([53, 1, kind]) + opts + b"\xff"


def query(v4, xid=b"\x51\x52\x53"):
    return bytes([20]) + xid + opt6(87, v4)


def relay(inner, iid=None, source_port=False):
    r = bytes([12, 0]) + RELAY_LINK + LL
    if iid is not None:
        r += opt6(18, iid)
    if source_port:
        r += opt6(135, b"")
    return r + opt6(9, inner)


def isc(iface, addr, port):
    subs = opt6(60000, iface) + opt6(60001, addr) + opt6(60002, struct.pack("!H", port))
    return opt6(17, struct.pack("!I", 2495) + subs)


def ipc_query(v4, iface, addr, port):
    # The vendor option goes before DHCPv4 Message (87): options in code order.
    return bytes([20, 0x51, 0x52, 0x53]) + isc(iface, addr, port) + opt6(87, v4)


def ipc_response(v4_reply, iface, addr, port):
    return bytes([21, 0x51, 0x52, 0x53]) + isc(iface, addr, port) + opt6(87, v4_reply)


def raw_step(kind, data):
    """Steps 1..4 take a length byte (half the length) and the bytes: pad to even length."""
    if len(data) % 2:
        data += b"\x00"
    assert len(data) <= 510
    return bytes([kind, len(data) // 2]) + data


def offer(mac_last, yiaddr):
    p = bytearray(240)
    p[0], p[1], p[2] = 2, 1, 6
    p[4:8] = bytes([0x40, 0x60, mac_last, 1])
    p[16:20] = ipaddress.IPv4Address(yiaddr).packed
    p[28:34] = bytes([2, 0, 0, 0, 0, mac_last])
    p[236:240] = bytes([99, 130, 83, 99])
    return bytes(p) + bytes([53, 1, 2, 54, 4, 192, 0, 2, 1, 51, 4, 0, 0, 15, 160, 255])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = {}
    # Structured: step, dhcpv4 (client, kind, flags[, addr bytes]), query (flags, carries),
    # relay sel bytes, meta sel / endpoint sel, corrupt-ipc, corrupt-response.
    discover = [5, 1, 1, 0x20, 1, 1, 0, 0, 0]
    request = [5, 1, 3, 0x38, 1, 6, 1, 1, 0, 0, 0]
    seeds["client-discover-request"] = bytes(discover + request)
    seeds["client-discover-request-renew"] = bytes(
        discover + request + [0, 200] + [5, 1, 3, 0x22, 1, 1, 1, 0, 0, 0]
    )
    seeds["relay-iid-discover-request"] = bytes(
        [13, 2, 1, 0x20, 1, 1, 0x43, 0, 0, 0] + [13, 2, 3, 0x38, 4, 6, 1, 1, 0x43, 0, 0, 0]
    )
    seeds["eth1-discover-request"] = bytes(
        [6, 3, 1, 0x20, 1, 1, 6, 0, 0] + [6, 3, 3, 0x38, 5, 7, 1, 1, 6, 0, 0]
    )
    seeds["two-relays-source-port"] = bytes([21, 4, 1, 0x20, 1, 1, 0x45, 0x47, 0, 0, 0])
    seeds["ipc-direct-eth0-and-unknown-iface"] = bytes(
        [7, 5, 1, 0, 1, 1, 0, 0, 0] + [7, 5, 1, 0, 1, 1, 2, 0, 0]
    )
    seeds["reserved-client-release-decline-inform"] = bytes(
        [5, 7, 1, 0x20, 1, 1, 0, 0, 0]
        + [5, 7, 3, 0x38, 3, 6, 1, 1, 0, 0, 0]
        + [5, 7, 7, 0x22, 3, 1, 1, 0, 0, 0]
        + [5, 6, 4, 0x08, 2, 1, 1, 0, 0, 0]
        + [5, 6, 8, 0x02, 2, 1, 1, 0, 0, 0]
    )
    seeds["exhaust-4o6-pool"] = bytes(
        sum(([5, c, 1, 0x20, 1, 1, 0, 0, 0] + [5, c, 3, 0x38, 1 + c % 2, 6, 1, 1, 0, 0, 0] for c in range(5)), [])
    )
    seeds["forged-server-id-vendor-two-messages"] = bytes(
        [5, 1, 1, 0x20, 3, 1, 0, 0, 0]
        + [5, 1, 1, 0x20, 0x09, 1, 2, 97, 98, 1, 0, 0, 0]
        + [5, 1, 1, 0x20, 1, 3, 0, 0, 0]
    )
    seeds["corrupted-ipc-and-response"] = bytes(
        [5, 1, 1, 0x20, 1, 1, 0, 0x80, 30, 4, 0] + [5, 1, 1, 0x20, 1, 1, 0, 0, 0x80, 40, 2]
    )
    # Raw: the messages of a real exchange as they cross each hop.
    v4d = dhcpv4(1, 9, bytes([61, 7, 1, 2, 0, 0, 0, 0, 9]))
    seeds["raw-client-query"] = raw_step(1, query(v4d))
    seeds["raw-client-query-relayed"] = raw_step(1, relay(query(v4d), b"port-7", True))
    seeds["raw-ipc-query"] = raw_step(2, ipc_query(v4d, b"eth0", CLIENT, 546))
    seeds["raw-ipc-query-relayed"] = raw_step(
        2, relay(ipc_query(v4d, b"eth1", RELAY_LINK, 547), b"port-7")
    )
    resp = ipc_response(offer(9, "10.10.10.100"), b"eth0", CLIENT, 546)
    seeds["raw-ipc-response"] = raw_step(3, resp)
    seeds["raw-ipc-response-relayed"] = raw_step(
        3,
        bytes([13, 0]) + RELAY_LINK + LL + opt6(18, b"port-7") + opt6(135, b"")
        + opt6(9, ipc_response(offer(9, "10.10.20.100"), b"eth1", RELAY_LINK, 547)),
    )
    seeds["raw-codec-ipc"] = raw_step(4, ipc_query(v4d, b"eth0", CLIENT, 546)) + bytes([1, 2, 0])
    seeds["raw-codec-plain-query"] = raw_step(4, query(v4d)) + bytes([1, 1, 0])
    for name, data in seeds.items():
        (OUT / name).write_bytes(data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
