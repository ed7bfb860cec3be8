#!/usr/bin/env bash
# Checks that a real kea-dhcp4 loads a lease file: starts it (memfile, lease_cmds hook) on the
# loopback of a private network namespace with a copy of FILE as its lease file, asks it for
# lease4-get-all over its unix control socket, prints the number of leases it holds and the
# lines its log has about the lease file, then stops it and removes the namespace.
# Usage: kea-loads-export.sh FILE.csv      (needs root, kea-dhcp4)
set -euo pipefail
file=$1
ns="corelease-stor-load-$$"
work=$(mktemp -d)
kea_pid=""
cleanup() {
    if [ -n "$kea_pid" ] && kill -0 "$kea_pid" 2>/dev/null; then
        kill "$kea_pid"
        for _ in $(seq 1 50); do kill -0 "$kea_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$kea_pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
hooks=$(dirname "$(find /usr/lib -name libdhcp_lease_cmds.so -print -quit)")
cp "$file" "$work/leases4.csv"
ip netns add "$ns"
ip -n "$ns" link set lo up
cat > "$work/kea-dhcp4.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "lfc-interval": 0,
                        "name": "$work/leases4.csv" },
    "control-socket": { "socket-type": "unix", "socket-name": "$work/kea4.sock" },
    "hooks-libraries": [ { "library": "$hooks/libdhcp_lease_cmds.so" } ],
    "valid-lifetime": 4000,
    "subnet4": [ { "id": 7, "subnet": "10.77.0.0/24",
                   "pools": [ { "pool": "10.77.0.10 - 10.77.0.200" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO",
                   "output_options": [ { "output": "$work/kea.log" } ] } ]
} }
JSON
ip netns exec "$ns" env KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work" \
    kea-dhcp4 -c "$work/kea-dhcp4.json" > "$work/kea.out" 2>&1 &
kea_pid=$!
for _ in $(seq 1 50); do [ -S "$work/kea4.sock" ] && break; sleep 0.1; done
python3 -c 'import socket,sys,json
s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
s.sendall(b"{\"command\":\"lease4-get-all\"}")
data=b""
while True:
    chunk=s.recv(65536)
    if not chunk: break
    data+=chunk
r=json.loads(data)
print("kea holds", len(r.get("arguments",{}).get("leases",[])), "leases:", r.get("text"))' "$work/kea4.sock"
grep -iE "lease file|DHCPSRV_MEMFILE|error" "$work/kea.log" "$work/kea.out" | sed 's/^/  /' | head -20 || true
