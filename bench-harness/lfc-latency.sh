#!/usr/bin/env bash
# Effect of lease file cleanup (lfc-interval) on packet latency: the same corelease perf load
# against corelease with lfc-interval 0 (off) and 1 (a compaction every second per shard, far
# more often than any operator would), back to back, in a private namespace.
# Usage (root): cargo build --release -p corelease && bench-harness/lfc-latency.sh [RATE] [SECONDS]
set -euo pipefail
RATE=${1:-20000}
SECS=${2:-8}
BIN=${CORELEASE_BIN:-${CARGO_TARGET_DIR:-target}/release/corelease}
NS=corel-lfc-$$
DIR=$(mktemp -d)
SRV_PID=
cleanup() {
  if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 127.0.0.2/8 dev lo
for lfc in 0 1; do
  rm -rf "$DIR"/leases4.csv* "$DIR"/*.pid
  cat > "$DIR/c.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases4.csv", "lfc-interval": $lfc },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
  "valid-lifetime": 4000,
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "relay": { "ip-addresses": [ "127.0.0.2" ] },
                 "pools": [ { "pool": "10.0.0.10 - 10.255.255.200" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output-options": [ { "output": "$DIR/server.log" } ], "severity": "INFO" } ]
} }
JSON
  KEA_PIDFILE_DIR=$DIR ip netns exec "$NS" "$BIN" dhcp4 -c "$DIR/c.json" -p 6767 >/dev/null 2>&1 &
  SRV_PID=$!
  for _ in $(seq 50); do ls "$DIR"/*.pid >/dev/null 2>&1 && break; sleep 0.1; done
  timeout $((SECS + 30)) ip netns exec "$NS" "$BIN" perf -4 -r "$RATE" -R 1000000 -p "$SECS" \
    -l 127.0.0.2 -L 6767 -N 6767 --json 127.0.0.1 >"$DIR/perf.json" 2>/dev/null || true
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  runs=$(grep -c "lease file cleanup done" "$DIR/server.log" || true)
  python3 - "$DIR/perf.json" "$lfc" "$runs" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def find(o, key):
    if isinstance(o, dict):
        if key in o: return o[key]
        for v in o.values():
            r = find(v, key)
            if r is not None: return r
    if isinstance(o, list):
        for v in o:
            r = find(v, key)
            if r is not None: return r
ra = None
for k, v in (d.get("exchanges") or {}).items() if isinstance(d.get("exchanges"), dict) else []:
    if "request" in k.lower(): ra = v
print(f"lfc-interval {sys.argv[2]} ({sys.argv[3]} cleanups): rate {find(d, 'rate')}/s  REQUEST-ACK {json.dumps(ra) if ra else json.dumps(d)[:400]}")
PY
done
