#!/bin/bash
# Which hardware address a DHCPv6 server stores for perfdhcp -6 clients (relayed, -A 1): runs
# SERVER (default kea-dhcp6; e.g. "corelease dhcp6") in a namespace of its own on its loopback,
# 10 clients, then prints lease6-get-all's duid, hw-address and type per lease. Kea needs
# libdhcp_lease_cmds.so (added when SERVER is kea-dhcp6). Files under $KEA_COMPARE_DIR.
#   sudo fuzz/kea-compare/perf6-mac.sh
#   sudo SERVER="target/debug/corelease dhcp6" fuzz/kea-compare/perf6-mac.sh
set -euo pipefail
server=${SERVER:-kea-dhcp6}
d=${KEA_COMPARE_DIR:-/tmp/kea-compare}/perf6-$$
mkdir -p "$d"
ns=keaperf$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
hooks="" iface=lo
case "$server" in kea-dhcp6*)
  hooks='"hooks-libraries": [ { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" } ],'
  iface=lo/::1 ;; # Kea listens for unicast (relayed) traffic only on an address given so
esac
cat > "$d/kea6.json" <<JSON
{ "Dhcp6": { $hooks
  "interfaces-config": { "interfaces": [ "$iface" ] },
  "lease-database": { "type": "memfile", "persist": false },
  "control-socket": { "socket-type": "unix", "socket-name": "$d/ctrl6" },
  "server-id": { "type": "EN", "enterprise-id": 2495, "identifier": "0102030405", "persist": false },
  "subnet6": [ { "id": 9, "subnet": "fd00:1::/64", "relay": { "ip-addresses": [ "::1" ] },
    "pools": [ { "pool": "fd00:1::1000 - fd00:1::10ff" } ],
    "pd-pools": [ { "prefix": "fd00:1000::", "prefix-len": 32, "delegated-len": 48 } ] } ] } }
JSON
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" env KEA_PIDFILE_DIR="$d" KEA_LOCKFILE_DIR="$d" KEA_DHCP_DATA_DIR="$d" \
  timeout 60 $server -c "$d/kea6.json" -p 5547 > "$d/server.log" 2>&1 &
sleep 2
ip netns exec "$ns" timeout 30 perfdhcp -6 -A 1 -e address-and-prefix -r 10 -R 10 -n 10 -p 5 \
  -u -l ::1 -L 547 -N 5547 ::1 > "$d/perfdhcp.txt" 2>&1 || true
ip netns exec "$ns" python3 - "$d/ctrl6" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(json.dumps({"command": "lease6-get-all"}).encode())
buf = b""
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
    try: r = json.loads(buf); break
    except Exception: pass
for l in sorted(r.get("arguments", {}).get("leases", []), key=lambda l: (l["duid"], l["type"])):
    print(l["duid"], l.get("hw-address"), l["type"], "prefix-len" in l)
PY
kill %1 2>/dev/null || true
wait || true
