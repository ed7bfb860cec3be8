#!/usr/bin/env bash
# Side-by-side: ISC Kea (Debian kea-dhcp4-server) and corelease, started from the SAME Kea
# config in a private network namespace, each driven with the same load by ISC perfdhcp and by
# corelease perf, back to back. Prints per run: completed 4-way exchanges per second, drops,
# delay (perfdhcp: its average, as it has no percentiles; corelease perf: p99), server CPU seconds, and server CPU
# per 1000 leases (from /proc/PID/stat), then the corelease/Kea ratios.
#
# Usage (root; bounded: every run stops after SECONDS):
#   cargo build --release -p corelease
#   bench-harness/compare-kea.sh [-6] [RATE] [CLIENTS] [SECONDS] [THREADS]
# RATE is perfdhcp's -r (offered exchanges per second), THREADS the config's thread-pool-size
# for both servers (0 = one per core for corelease; Kea 2.2 needs an explicit number).
# -6: DHCPv6 instead: kea-dhcp6 and `corelease dhcp6` from the same Dhcp6 config (relayed
# clients on ::1, an address pool and a pd-pool), perfdhcp -6 -A 1 -e address-and-prefix and
# corelease perf -6 with the same options as generators; the figures are Solicit/Advertise +
# Request/Reply exchanges, each granting one address and one /56. Kea 2.2 opens no socket for
# a bare "lo" (no link-local address there), so the config says "lo/::1"; it also needs a
# server-id it can keep without a MAC, so the config gives one (DUID-EN) with persist false.
set -euo pipefail
V6=0
if [ "${1:-}" = "-6" ]; then V6=1; shift; fi
RATE=${1:-20000}
CLIENTS=${2:-200000}
SECS=${3:-10}
THREADS=${4:-2}
BIN=${CORELEASE_BIN:-${CARGO_TARGET_DIR:-target}/release/corelease}
NS=corel-cmp-$$
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

write_config6() { # $1 lease file
cat > "$DIR/kea-dhcp6.json" <<JSON
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "lo/::1" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$1", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": $THREADS, "packet-queue-size": 64 },
  "server-id": { "type": "EN", "enterprise-id": 2495, "identifier": "c0de01", "persist": false },
  "preferred-lifetime": 3000, "valid-lifetime": 4000,
  "option-data": [ { "name": "dns-servers", "data": "fd00:1::53" } ],
  "subnet6": [ { "id": 1, "subnet": "fd00:1::/64", "relay": { "ip-addresses": [ "::1" ] },
      "pools": [ { "pool": "fd00:1::1000 - fd00:1::ffff:ffff" } ],
      "pd-pools": [ { "prefix": "fd00:1000::", "prefix-len": 32, "delegated-len": 56 } ] } ],
  "loggers": [ { "name": "kea-dhcp6", "output_options": [ { "output": "$DIR/server.log" } ], "severity": "WARN" } ]
} }
JSON
}

write_config() { # $1 lease file
cat > "$DIR/kea-dhcp4.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$1", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": $THREADS, "packet-queue-size": 64 },
  "valid-lifetime": 4000,
  "option-data": [ { "name": "domain-name-servers", "data": "10.0.0.53" } ],
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8",
      "pools": [ { "pool": "10.0.0.10 - 10.255.255.200" } ],
      "relay": { "ip-addresses": [ "127.0.0.2" ] },
      "option-data": [ { "name": "routers", "data": "10.0.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$DIR/server.log" } ], "severity": "WARN" } ]
} }
JSON
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

start_server() { # $1 = kea|corelease
  rm -rf "$DIR"/leases4.csv* "$DIR"/leases6.csv*
  if [ "$V6" = 1 ]; then
    write_config6 "$DIR/leases6.csv"
    if [ "$1" = kea ]; then
      KEA_PIDFILE_DIR=$DIR KEA_LOCKFILE_DIR=$DIR ip netns exec "$NS" kea-dhcp6 -c "$DIR/kea-dhcp6.json" -p 5547 >/dev/null 2>&1 &
    else
      KEA_PIDFILE_DIR=$DIR KEA_DHCP_DATA_DIR=$DIR ip netns exec "$NS" "$BIN" dhcp6 -c "$DIR/kea-dhcp6.json" -p 5547 >"$DIR/corelease.out" 2>&1 &
    fi
    SRV_PID=$!
    for _ in $(seq 50); do ls "$DIR"/*.pid >/dev/null 2>&1 && break; sleep 0.1; done
    sleep 0.5
    return
  fi
  write_config "$DIR/leases4.csv"
  if [ "$1" = kea ]; then
    KEA_PIDFILE_DIR=$DIR KEA_LOCKFILE_DIR=$DIR ip netns exec "$NS" kea-dhcp4 -c "$DIR/kea-dhcp4.json" -p 6767 >/dev/null 2>&1 &
  else
    KEA_PIDFILE_DIR=$DIR ip netns exec "$NS" "$BIN" dhcp4 -c "$DIR/kea-dhcp4.json" -p 6767 >"$DIR/corelease.out" 2>&1 &
  fi
  SRV_PID=$!
  for _ in $(seq 50); do ls "$DIR"/*.pid >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 0.5
}
stop_server() { kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=; rm -f "$DIR"/*.pid; }

declare -A RESULT
run() { # $1 server, $2 generator
  start_server "$1"
  local before after out
  before=$(cpu_ticks "$SRV_PID")
  out="$DIR/$1-$2.txt"
  if [ "$V6" = 1 ] && [ "$2" = perfdhcp ]; then
    timeout $((SECS + 30)) ip netns exec "$NS" perfdhcp -6 -A 1 -e address-and-prefix -r "$RATE" -R "$CLIENTS" \
      -p "$SECS" -l ::1 -L 547 -N 5547 ::1 >"$out" 2>&1 || true
  elif [ "$V6" = 1 ]; then
    timeout $((SECS + 30)) ip netns exec "$NS" "$BIN" perf -6 -A 1 -e address-and-prefix -r "$RATE" -R "$CLIENTS" \
      -p "$SECS" -l lo -L 547 -N 5547 ::1 >"$out" 2>&1 || true
  elif [ "$2" = perfdhcp ]; then
    timeout $((SECS + 30)) ip netns exec "$NS" perfdhcp -4 -r "$RATE" -R "$CLIENTS" -p "$SECS" \
      -l 127.0.0.2 -L 67 -N 6767 127.0.0.1 >"$out" 2>&1 || true
  else
    timeout $((SECS + 30)) ip netns exec "$NS" "$BIN" perf -4 -r "$RATE" -R "$CLIENTS" -p "$SECS" \
      -l 127.0.0.2 -L 6767 -N 6767 127.0.0.1 >"$out" 2>&1 || true
  fi
  after=$(cpu_ticks "$SRV_PID")
  stop_server
  local rate acks drops cpu per1k lat
  rate=$(grep -m1 '^Rate:' "$out" | awk '{print $2}')
  local section=REQUEST-ACK
  [ "$V6" = 1 ] && section=REQUEST-REPLY
  acks=$(awk -v s="Statistics for: $section" 'index($0,s){f=1} f&&/^received packets:/{print $3; exit}' "$out")
  drops=$(awk -v s="Statistics for: $section" 'index($0,s){f=1} f&&/^drops:/{print $2; exit}' "$out")
  if [ "$2" = perfdhcp ]; then
    # perfdhcp has no percentiles: its average is the best it reports.
    lat="avg $(awk -v s="Statistics for: $section" 'index($0,s){f=1} f&&/^avg delay:/{print $3; exit}' "$out") ms"
  else
    # corelease perf adds a percentile line per exchange after perfdhcp's report.
    lat="p99 $(grep -m1 "^$section: p50" "$out" | sed -E 's/.* p99 ([0-9.]+) ms.*/\1/') ms"
  fi
  cpu=$(awk -v a="$after" -v b="$before" -v hz="$HZ" 'BEGIN{printf "%.2f", (a-b)/hz}')
  per1k=$(awk -v c="$cpu" -v n="${acks:-0}" 'BEGIN{ if (n>0) printf "%.1f", c*1000*1000/n; else print "n/a"}')
  printf '%-10s %-9s rate %10s /s  acks %8s  drops %7s  delay %-14s  server cpu %6ss  %7s ms per 1000 leases\n' \
    "$1" "$2" "${rate:-?}" "${acks:-?}" "${drops:-?}" "${lat:-?}" "$cpu" "$per1k"
  RESULT[$1-$2-rate]=${rate:-0}
  RESULT[$1-$2-per1k]=$per1k
}

echo "load: $([ "$V6" = 1 ] && echo "DHCPv6 ")-r $RATE -R $CLIENTS -p $SECS, thread-pool-size $THREADS, $(nproc) cores, $(date -u +%FT%TZ)"
GENERATORS="perfdhcp corelease"
for gen in $GENERATORS; do
  run kea "$gen"
  run corelease "$gen"
done
for gen in $GENERATORS; do
  awk -v c="${RESULT[corelease-$gen-rate]}" -v k="${RESULT[kea-$gen-rate]}" -v cc="${RESULT[corelease-$gen-per1k]}" -v kc="${RESULT[kea-$gen-per1k]}" -v g="$gen" \
    'BEGIN{ printf "ratio corelease/Kea (%s): rate x%.2f, CPU per lease x%.2f\n", g, (k>0?c/k:0), (kc>0&&cc!="n/a"?cc/kc:0) }'
done
