#!/usr/bin/env bash
# Generates tests/data/kea-2.2-leases4.csv: a lease file written by a real kea-dhcp4 (memfile)
# under perfdhcp load. Everything runs on the loopback of a private network namespace created
# here and removed on exit; perfdhcp acts as a relay (giaddr 127.0.0.2: kea-dhcp4 holds 127.0.0.1:67 itself), so no raw socket and
# no traffic leaves the namespace. Needs root, kea-dhcp4 and perfdhcp (Debian kea packages).
# Usage: make-kea-leases4.sh [OUTPUT.csv]
set -euo pipefail
out=${1:-"$(dirname "$0")/kea-2.2-leases4.csv"}
ns="corelease-stor-$$"
work=$(mktemp -d)
kea_pid=""
cleanup() {
    if [ -n "$kea_pid" ] && kill -0 "$kea_pid" 2>/dev/null; then
        kill "$kea_pid"
        for _ in $(seq 1 50); do kill -0 "$kea_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$kea_pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
hooks=$(dirname "$(find /usr/lib -name libdhcp_lease_cmds.so -print -quit)")
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 127.0.0.2/8 dev lo
cat > "$work/kea-dhcp4.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "lfc-interval": 0,
                        "name": "$work/leases4.csv" },
    "valid-lifetime": 4000,
    "control-socket": { "socket-type": "unix", "socket-name": "$work/kea4.sock" },
    "hooks-libraries": [ { "library": "$hooks/libdhcp_lease_cmds.so" } ],
    "subnet4": [ { "id": 7, "subnet": "10.77.0.0/24",
                   "pools": [ { "pool": "10.77.0.10 - 10.77.0.200" } ],
                   "relay": { "ip-addresses": [ "127.0.0.2" ] } } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN",
                   "output_options": [ { "output": "$work/kea.log" } ] } ]
} }
JSON
export KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work"
ip netns exec "$ns" env KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work" \
    kea-dhcp4 -c "$work/kea-dhcp4.json" > "$work/kea.out" 2>&1 &
kea_pid=$!
for _ in $(seq 1 50); do [ -e "$work/leases4.csv" ] && break; sleep 0.1; done
sleep 0.5
# 100 DORA exchanges at 50/s; perfdhcp exits on its own after -n exchanges (bounded by -p too).
ip netns exec "$ns" timeout 30 perfdhcp -4 -r 50 -n 100 -p 10 -R 100 -l 127.0.0.2 127.0.0.1 \
    > "$work/perfdhcp.out" 2>&1 || true
# Rows perfdhcp cannot produce, written by Kea itself through lease_cmds (control socket is a
# unix socket in $work): commas in hostname and user-context (&#x2c escapes), fqdn flags,
# declined and reclaimed states, an update (second row, last one wins) and a delete (a row with
# valid_lifetime 0).
kea_cmd() {
    python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode())
print(s.recv(65536).decode())' "$work/kea4.sock" "$1"
}
kea_cmd '{"command":"lease4-add","arguments":{"ip-address":"10.77.0.250","hw-address":"0a:0b:0c:0d:0e:0f","client-id":"01:0a:0b:0c:0d:0e:0f","subnet-id":7,"valid-lft":3600,"hostname":"first.example.org","fqdn-fwd":true,"fqdn-rev":false}}'
kea_cmd '{"command":"lease4-update","arguments":{"ip-address":"10.77.0.250","hw-address":"0a:0b:0c:0d:0e:0f","client-id":"01:0a:0b:0c:0d:0e:0f","subnet-id":7,"valid-lft":3600,"hostname":"host,with,commas.example.org","fqdn-fwd":true,"fqdn-rev":true,"user-context":{"ISC":{"note":"a,b"},"n":[1,2]}}}'
kea_cmd '{"command":"lease4-add","arguments":{"ip-address":"10.77.0.251","hw-address":"00:00:00:00:00:00","subnet-id":7,"valid-lft":86400,"state":1}}'
kea_cmd '{"command":"lease4-add","arguments":{"ip-address":"10.77.0.252","hw-address":"1a:2b:3c:4d:5e:6f","subnet-id":7,"valid-lft":0,"state":2}}'
kea_cmd '{"command":"lease4-del","arguments":{"ip-address":"10.77.0.10"}}'
sleep 0.5
cp "$work/leases4.csv" "$out"
echo "wrote $(($(wc -l < "$out") - 1)) rows to $out"
