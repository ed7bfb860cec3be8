#!/usr/bin/env bash
# thread-pool-size sweep: corelease with 1, 2, ... shards (up to the core count, or the list
# given), each driven by corelease perf at a rate it cannot sustain, in a private namespace.
# Prints completed DORA/s and server CPU per 1000 leases per shard count.
#
# Usage (root; each run bounded by SECONDS):
#   cargo build --release -p corelease
#   bench-harness/sweep-threads.sh [SECONDS] [SHARDS...]
set -euo pipefail
SECS=${1:-6}
shift || true
if [ $# -gt 0 ]; then COUNTS=("$@"); else COUNTS=($(seq 1 "$(nproc)")); fi
BIN=${CORELEASE_BIN:-${CARGO_TARGET_DIR:-target}/release/corelease}
NS=corel-sweep-$$
DIR=$(mktemp -d)
SRV_PID=
cleanup() {
  if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "no corelease binary at $BIN (cargo build --release -p corelease)"; exit 1; }
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 127.0.0.2/8 dev lo
HZ=$(getconf CLK_TCK)
echo "shards  DORA/s      drops   server-cpu  ms-per-1000-leases   ($(nproc) cores, ${SECS}s each, $(date -u +%FT%TZ))"
for n in "${COUNTS[@]}"; do
  rm -rf "$DIR"/leases4.csv* "$DIR"/*.pid
  cat > "$DIR/c.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases4.csv" },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": $n },
  "valid-lifetime": 4000,
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "relay": { "ip-addresses": [ "127.0.0.2" ] },
                 "pools": [ { "pool": "10.0.0.10 - 10.255.255.200" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output-options": [ { "output": "$DIR/server.log" } ], "severity": "WARN" } ]
} }
JSON
  KEA_PIDFILE_DIR=$DIR ip netns exec "$NS" "$BIN" dhcp4 -c "$DIR/c.json" -p 6767 >/dev/null 2>&1 &
  SRV_PID=$!
  for _ in $(seq 50); do ls "$DIR"/*.pid >/dev/null 2>&1 && break; sleep 0.1; done
  before=$(awk '{print $14 + $15}' "/proc/$SRV_PID/stat")
  timeout $((SECS + 30)) ip netns exec "$NS" "$BIN" perf -4 -r 500000 -R 2000000 -p "$SECS" \
    -l 127.0.0.2 -L 6767 -N 6767 127.0.0.1 >"$DIR/perf.txt" 2>&1 || true
  after=$(awk '{print $14 + $15}' "/proc/$SRV_PID/stat")
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  rate=$(grep -m1 '^Rate:' "$DIR/perf.txt" | awk '{print $2}')
  acks=$(awk '/Statistics for: REQUEST-ACK/{f=1} f&&/^received packets:/{print $3; exit}' "$DIR/perf.txt")
  drops=$(awk '/Statistics for: REQUEST-ACK/{f=1} f&&/^drops:/{print $2; exit}' "$DIR/perf.txt")
  awk -v n="$n" -v r="${rate:-0}" -v d="${drops:-?}" -v a="$after" -v b="$before" -v hz="$HZ" -v k="${acks:-0}" \
    'BEGIN{ c=(a-b)/hz; printf "%6d  %-10s  %-6s  %8.2fs   %8.1f\n", n, r, d, c, (k>0? c*1e6/k : 0) }'
done
