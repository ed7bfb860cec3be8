#!/usr/bin/env bash
# Rate of the DHCPv4 or DHCPv6 server with run-script hooks (issue 6), perfdhcp against a
# release build in a private network namespace, one run per case, back to back, same load:
#   none       no hooks-libraries
#   detached   libdhcp_run_script, sync false, at leases4_committed / leases6_committed
#              (script: exit 0)
#   waiting    kea-hook-runscript, wait true at all its points; the script sleeps 1 s at
#              lease4_select / lease6_select for the clients relayed through 127.0.0.3 / ::3
#              (a few slow clients, driven by a second perfdhcp at 1 exchange/s), exits 0 at
#              once for the others
# Prints per case: offered rate, completed 4-way exchanges/s, drops, avg/max delay of the
# main perfdhcp run, and for "waiting" the slow clients' exchanges and their min delay.
# DHCPv6 (FAMILY 6): perfdhcp -6 as a relay (-A 1) asking for an address (IA_NA), Solicit /
# Advertise / Request / Reply; "REQUEST drops" are then Request-Reply drops.
#
# Usage (root; every run bounded by SECONDS):
#   cargo build --release -p corelease
#   bench-harness/hooks-rate.sh [RATE] [SECONDS] [THREADS] [FAMILY: 4 or 6]
set -euo pipefail
RATE=${1:-500}
SECS=${2:-10}
THREADS=${3:-2}
FAMILY=${4:-4}
case "$FAMILY" in 4|6) ;; *) echo "FAMILY must be 4 or 6, not $FAMILY"; exit 1;; esac
BIN=${CORELEASE_BIN:-${CARGO_TARGET_DIR:-target}/release/corelease}
NS=corel-hooks-$$
DIR=$(mktemp -d)
SRV_PID=
cleanup() {
  if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "no corelease binary at $BIN (cargo build --release -p corelease)"; exit 1; }
ulimit -l 8192
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 127.0.0.2/8 dev lo
ip -n "$NS" addr add 127.0.0.3/8 dev lo
ip -n "$NS" -6 addr add ::2/128 dev lo nodad
ip -n "$NS" -6 addr add ::3/128 dev lo nodad

cat > "$DIR/quick.sh" <<'SH'
#!/bin/sh
exit 0
SH
cat > "$DIR/slow.sh" <<'SH'
#!/bin/sh
[ "$1" = lease4_select ] && [ "$KEA_QUERY4_GIADDR" = 127.0.0.3 ] && exec /bin/sleep 1
[ "$1" = lease6_select ] && [ "$KEA_QUERY6_REMOTE_ADDRESS" = ::3 ] && exec /bin/sleep 1
exit 0
SH
chmod +x "$DIR/quick.sh" "$DIR/slow.sh"

config() { # $1: hooks-libraries entries
if [ "$FAMILY" = 6 ]; then
cat > "$DIR/kea-dhcp6.json" <<JSON
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "lo" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases6-$RANDOM.csv", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": $THREADS, "packet-queue-size": 64 },
  "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
  "hooks-libraries": [ $1 ],
  "subnet6": [ { "id": 1, "subnet": "fd00:1::/64", "relay": { "ip-addresses": [ "::2", "::3" ] },
                 "pools": [ { "pool": "fd00:1::1:0 - fd00:1::ffff:ffff" } ] } ] } }
JSON
return
fi
cat > "$DIR/kea-dhcp4.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases-$RANDOM.csv", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": $THREADS, "packet-queue-size": 64 },
  "valid-lifetime": 4000,
  "hooks-libraries": [ $1 ],
  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "relay": { "ip-addresses": [ "127.0.0.2", "127.0.0.3" ] },
                 "pools": [ { "pool": "10.0.0.10 - 10.255.255.250" } ] } ] } }
JSON
}

run_case() { # $1 name, $2 hooks entries, $3 "slow" to add the slow clients
  config "$2"
  local d=dhcp$FAMILY port=6767 relay=127.0.0.2 slow_relay=127.0.0.3 server=127.0.0.1 lport=67 v=-4
  if [ "$FAMILY" = 6 ]; then
    port=5547 relay=::2 slow_relay=::3 server=::1 lport=547 v="-6 -A 1"
  fi
  # perfdhcp -6 builds DUID-LLTs from one MAC and the second it starts: the slow clients get
  # their own base DUID, or they would share the main run's first client's.
  local slow_base=
  [ "$FAMILY" = 6 ] && slow_base="-b duid=0003000102aabbccdd01"
  KEA_PIDFILE_DIR=$DIR ip netns exec "$NS" "$BIN" "$d" -c "$DIR/kea-$d.json" -p "$port" > "$DIR/server-$1.log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 100); do [ -e "$DIR/kea-$d.kea-$d.pid" ] && break; sleep 0.05; done
  local slow_pid=
  if [ "${3:-}" = slow ]; then
    # shellcheck disable=SC2086
    ip netns exec "$NS" perfdhcp $v $slow_base -r 1 -R 3 -p "$SECS" -d 10 -W 4000000 -u -l "$slow_relay" -L "$lport" -N "$port" "$server" > "$DIR/slow-$1.txt" 2>&1 &
    slow_pid=$!
  fi
  # shellcheck disable=SC2086
  ip netns exec "$NS" perfdhcp $v -r "$RATE" -R 1000000 -p "$SECS" -W 2000000 -u -l "$relay" -L "$lport" -N "$port" "$server" > "$DIR/perf-$1.txt" 2>&1 || true
  [ -n "$slow_pid" ] && wait "$slow_pid" || true
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  rm -f "$DIR/kea-$d.kea-$d.pid"
  local f="$DIR/perf-$1.txt" first=DISCOVER-OFFER second=REQUEST-ACK
  [ "$FAMILY" = 6 ] && first=SOLICIT-ADVERTISE second=REQUEST-REPLY
  local rate drops avg max
  rate=$(sed -n 's/^Rate: \([0-9.]*\).*/\1/p' "$f" | head -1)
  drops=$(awk '/Statistics for: '"$second"'/{s=1} s&&/^drops:/{print $2; exit}' "$f")
  avg=$(awk '/Statistics for: '"$second"'/{s=1} s&&/^avg delay:/{print $3; exit}' "$f")
  max=$(awk '/Statistics for: '"$second"'/{s=1} s&&/^max delay:/{print $3; exit}' "$f")
  printf '%-9s offered %5s/s  completed %8s exchanges/s  REQUEST drops %5s  avg %8s ms  max %8s ms' "$1" "$RATE" "$rate" "$drops" "$avg" "$max"
  if [ "${3:-}" = slow ]; then
    local s="$DIR/slow-$1.txt"
    printf '  | slow clients: %s of %s completed, min %s delay %s ms' \
      "$(awk '/Statistics for: '"$second"'/{s=1} s&&/^received packets:/{print $3; exit}' "$s")" \
      "$(awk '/Statistics for: '"$first"'/{s=1} s&&/^sent packets:/{print $3; exit}' "$s")" \
      "$first" \
      "$(awk '/Statistics for: '"$first"'/{s=1} s&&/^min delay:/{print $3; exit}' "$s")"
  fi
  echo
}

echo "corelease dhcp$FAMILY $("$BIN" "dhcp$FAMILY" -v), $THREADS shards, ${SECS}s per case, load $(cut -d' ' -f1-3 /proc/loadavg)"
run_case none ""
run_case detached "{ \"library\": \"libdhcp_run_script.so\", \"parameters\": { \"name\": \"$DIR/quick.sh\", \"sync\": false } }"
run_case waiting "{ \"library\": \"kea-hook-runscript.so\", \"parameters\": { \"script\": \"$DIR/slow.sh\", \"wait\": true } }" slow
