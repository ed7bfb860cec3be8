#!/usr/bin/env bash
# Seeds from real traffic (issue 9): records perfdhcp -4 / -6, ISC dhclient (-4 and -6) and
# busybox udhcpc exchanges with tcpdump and turns the UDP payloads into seed files
# (fuzz/seedgen's pcap_seeds): raw datagrams for wire_v4_decode / wire_v6_decode, and each
# client's requests as a script of raw-datagram steps for v4_handler / v6_handler.
#
# DHCPv4 is answered by the real corelease binary ($CORELEASE, default target/debug/corelease:
# build it first), DHCPv6 by kea-dhcp6 (corelease has no DHCPv6 runtime yet). All traffic stays
# on a veth pair between two network namespaces this script creates and deletes (also on
# failure). Needs root, ip, tcpdump, perfdhcp, dhclient, busybox, kea-dhcp6. Every client run
# is bounded in count and time. Usage (from the repository root):
#   sudo fuzz/capture/capture.sh            # writes fuzz/corpus/*/cap-*
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
corelease="${CORELEASE:-$repo/target/debug/corelease}"
tag="cap$$"
srv="corel-${tag}s"
cli="corel-${tag}c"
work="$(mktemp -d "${TMPDIR:-/tmp}/corelease-capture.XXXXXX")"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$srv" 2>/dev/null || true
    ip netns del "$cli" 2>/dev/null || true
    if [ -n "${CAPTURE_KEEP:-}" ]; then echo "capture: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

[ -x "$corelease" ] || { echo "capture: no corelease binary at $corelease (cargo build)" >&2; exit 1; }

ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link set lo up
ip -n "$cli" link set lo up
ip link add vsrv0 netns "$srv" type veth peer name vcli0 netns "$cli"
ip -n "$srv" addr add 192.0.2.1/24 dev vsrv0
ip -n "$srv" addr add 2001:db8:1::1/64 dev vsrv0 nodad
in_srv() { ip netns exec "$srv" "$@"; }
in_cli() { ip netns exec "$cli" "$@"; }
# No duplicate address detection: kea-dhcp6 binds the link-local address at start.
in_srv sysctl -qw net.ipv6.conf.vsrv0.accept_dad=0
in_cli sysctl -qw net.ipv6.conf.vcli0.accept_dad=0
ip -n "$srv" link set vsrv0 up
ip -n "$cli" link set vcli0 up

cat >"$work/kea-dhcp4.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "vsrv0" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "$work/leases4.csv" },
    "valid-lifetime": 60, "renew-timer": 20, "rebind-timer": 40,
    "option-data": [ { "name": "domain-name-servers", "data": "192.0.2.53" },
                     { "name": "domain-name", "data": "example.org" } ],
    "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "interface": "vsrv0",
        "pools": [ { "pool": "192.0.2.100 - 192.0.2.199" } ],
        "option-data": [ { "name": "routers", "data": "192.0.2.1" } ] } ] } }
JSON
cat >"$work/kea-dhcp6.json" <<JSON
{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "vsrv0" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "server-id": { "type": "LLT", "persist": false },
    "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "option-data": [ { "name": "dns-servers", "data": "2001:db8::53" } ],
    "subnet6": [ { "id": 1, "subnet": "2001:db8:1::/64", "interface": "vsrv0",
        "pools": [ { "pool": "2001:db8:1::100 - 2001:db8:1::1ff" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56 } ] } ] } }
JSON

in_srv tcpdump -i vsrv0 -U -s 0 -w "$work/dhcp.pcap" 'udp and (port 67 or port 68 or port 546 or port 547)' \
    >"$work/tcpdump.log" 2>&1 &
pids+=($!)
KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work" in_srv "$corelease" dhcp4 -c "$work/kea-dhcp4.json" \
    >"$work/corelease.log" 2>&1 &
pids+=($!)
KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work" in_srv kea-dhcp6 -c "$work/kea-dhcp6.json" \
    >"$work/kea6.log" 2>&1 &
pids+=($!)
sleep 3 # tcpdump, the servers and the link-local addresses (DAD) come up

# perfdhcp -4 always acts as a relay (giaddr = its address, port 67): it needs an address.
echo "capture: perfdhcp -4 (20 clients, 4-way, relayed)"
ip -n "$cli" addr add 192.0.2.2/24 dev vcli0
in_cli timeout 20 perfdhcp -4 -l vcli0 -r 10 -R 20 -n 20 -p 5 >"$work/perf4.log" 2>&1 || true
ip -n "$cli" addr del 192.0.2.2/24 dev vcli0
echo "capture: perfdhcp -6 (20 clients, Solicit-Advertise-Request-Reply)"
in_cli timeout 20 perfdhcp -6 -l vcli0 -r 10 -R 20 -n 20 -p 5 >"$work/perf6.log" 2>&1 || true
# dhclient's script puts the address on the link (client namespace only) so that its
# RELEASE, a unicast to the server, can be sent.
cat >"$work/dhclient-script" <<'SH'
#!/bin/sh
case $reason in BOUND|RENEW|REBOOT) ip addr replace "$new_ip_address/24" dev "$interface" ;; esac
exit 0
SH
chmod +x "$work/dhclient-script"
echo "capture: dhclient -4 (lease, release)"
in_cli timeout 15 dhclient -1 -v -lf "$work/dhcl4.leases" -pf "$work/dhcl4.pid" -sf "$work/dhclient-script" \
    vcli0 >"$work/dhcl4.log" 2>&1 || true
in_cli timeout 15 dhclient -r -v -lf "$work/dhcl4.leases" -pf "$work/dhcl4.pid" -sf "$work/dhclient-script" \
    vcli0 >>"$work/dhcl4.log" 2>&1 || true
ip -n "$cli" -4 addr flush dev vcli0
echo "capture: dhclient -6 (address and prefix, release)"
in_cli timeout 15 dhclient -6 -N -P -1 -v -lf "$work/dhcl6.leases" -pf "$work/dhcl6.pid" -sf /bin/true vcli0 \
    >"$work/dhcl6.log" 2>&1 || true
in_cli timeout 15 dhclient -6 -r -v -lf "$work/dhcl6.leases" -pf "$work/dhcl6.pid" -sf /bin/true vcli0 \
    >>"$work/dhcl6.log" 2>&1 || true
echo "capture: busybox udhcpc (lease, release)"
in_cli timeout 15 busybox udhcpc -i vcli0 -n -q -R -t 3 -T 1 -s /bin/true -x hostname:capture \
    -V corelease-capture >"$work/udhcpc.log" 2>&1 || true
sleep 1
kill "${pids[0]}" 2>/dev/null || true
sleep 1

cargo run --quiet --manifest-path "$repo/fuzz/seedgen/Cargo.toml" --bin pcap_seeds -- \
    "$work/dhcp.pcap" "$repo/fuzz/corpus"
