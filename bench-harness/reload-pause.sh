#!/usr/bin/env bash
# How long a config reload stops each shard, against the number of leases it holds: a Kea
# leases4 CSV of LEASES leases is imported at start (spread over SHARDS shards by client), then
# RELOADS config-reload commands (each changes valid-lifetime, so every shard switches) are
# sent over the unix control socket, optionally while `corelease perf` runs RATE exchanges/s.
# Prints each shard's pause (DHCP4_DYNRECONF pause_us: from the shard stopping serving to it
# serving the new config; fixups: addresses changed since the last catch-up) and per reload
# the command's total time, the preparation off the shards and the longest preparation jobs a
# shard ran between its packets, in its thread's CPU time and wall time (DHCP4_CONFIG_COMPLETE). A binary before the off-shard
# preparation logs only pause_us and micros.
# Usage (root): cargo build --release -p corelease &&
#   bench-harness/reload-pause.sh [LEASES=1000000] [SHARDS=4] [RELOADS=5] [RATE=0]
set -euo pipefail
LEASES=${1:-1000000}
SHARDS=${2:-4}
RELOADS=${3:-5}
RATE=${4:-0}
BIN=${CORELEASE_BIN:-${CARGO_TARGET_DIR:-target}/release/corelease}
NS=corel-rld-$$
DIR=$(mktemp -d)
SRV_PID=
PERF_PID=
cleanup() {
  if [ -n "$PERF_PID" ]; then kill "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; fi
  if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 127.0.0.2/8 dev lo

# LEASES active leases in 10.0.0.0/8, one client each (hwaddr from the index), expiring in a day.
awk -v n="$LEASES" -v expire="$(( $(date +%s) + 86400 ))" 'BEGIN {
  print "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id"
  for (i = 0; i < n; i++) {
    a = i + 256
    printf "10.%d.%d.%d,02:00:%02x:%02x:%02x:%02x,,86400,%d,1,0,0,,0,,0\n",
      int(a / 65536) % 256, int(a / 256) % 256, a % 256,
      int(i / 16777216) % 256, int(i / 65536) % 256, int(i / 256) % 256, i % 256, expire
  }
}' > "$DIR/leases4.csv"

config() {
  cat > "$DIR/c.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases4.csv", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": $SHARDS },
  "control-socket": { "socket-type": "unix", "socket-name": "$DIR/ctrl" },
  "valid-lifetime": $1,
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "relay": { "ip-addresses": [ "127.0.0.2" ] },
                 "pools": [ { "pool": "10.0.0.10 - 10.255.255.200" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output-options": [ { "output": "$DIR/server.log" } ], "severity": "INFO" } ]
} }
JSON
}
command() {
  python3 - "$DIR/ctrl" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(120)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
print(out.decode())
PY
}

config 86400
ulimit -l 8192
started=$(date +%s.%N)
KEA_PIDFILE_DIR=$DIR ip netns exec "$NS" "$BIN" dhcp4 -c "$DIR/c.json" -p 6767 >/dev/null 2>&1 &
SRV_PID=$!
for _ in $(seq 1200); do [ -S "$DIR/ctrl" ] && break; sleep 0.1; done
[ -S "$DIR/ctrl" ] || { echo "server did not start"; tail -5 "$DIR/server.log"; exit 1; }
echo "started with $LEASES leases on $SHARDS shards in $(echo "$(date +%s.%N) - $started" | bc) s"
command '{"command":"statistic-get","arguments":{"name":"subnet[1].assigned-addresses"}}'

if [ "$RATE" -gt 0 ]; then
  timeout $((RELOADS * 30 + 60)) ip netns exec "$NS" "$BIN" perf -4 -r "$RATE" -R 200000 \
    -p $((RELOADS * 30 + 30)) -l 127.0.0.2 -L 6767 -N 6767 127.0.0.1 >"$DIR/perf.txt" 2>&1 &
  PERF_PID=$!
  sleep 2
fi
for i in $(seq "$RELOADS"); do
  config $((86400 + i))
  command '{"command":"config-reload"}'
  sleep 1
done
if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; PERF_PID=; fi
command '{"command":"statistic-get","arguments":{"name":"subnet[1].assigned-addresses"}}'
echo "--- per-shard pause (us) per reload, then the command's total (us)"
grep -o 'DHCP4_DYNRECONF.*pause_us=[0-9]*' "$DIR/server.log" | grep -o 'shard=[0-9]*\|leases=[0-9]*\|fixups=[0-9]*\|pause_us=[0-9]*' | paste -d' ' - - - - || true
echo "--- per reload (us): total, preparation off the shards, longest first step (journal on,"
echo "    list the leases) and longest copy / catch-up job on a shard, shard-thread CPU and wall"
grep 'DHCP4_CONFIG_COMPLETE' "$DIR/server.log" | grep -o ' micros=[0-9]*\|prepared_micros=[0-9]*\|begin_cpu_us=[0-9]*\|begin_wall_us=[0-9]*\|copy_cpu_us=[0-9]*\|copy_wall_us=[0-9]*\|catch_ups=[0-9]*' | paste -d' ' - - - - - - - || true
[ -f "$DIR/perf.txt" ] && grep -iE "sent|received|drops" "$DIR/perf.txt" | head -8
