#!/usr/bin/env bash
# Measures ISC perfdhcp and corelease perf back to back, with the same -R and -p, against
# (1) Kea 2.2 DHCPv4, (2) the stateless reflector example (a DHCPv4 server that is never the
# bottleneck) and (3) Kea 2.2 DHCPv6 through a simulated relay (-6 -A 1), each on loopback
# inside a private network namespace this script creates and deletes. Kea is restarted
# before every run so both generators meet an empty lease table.
#
# Usage: perf/scripts/compare-with-perfdhcp.sh [CLIENTS] [SECONDS]
# Needs root (ip netns), kea-dhcp4, perfdhcp, and a release build:
#   cargo build --release -p corelease-perf --bin corelease-perf --example reflector
set -euo pipefail
CLIENTS=${1:-10000}
SECONDS_PER_RUN=${2:-5}
TARGET=${CARGO_TARGET_DIR:-target}/release
GEN=$TARGET/corelease-perf
REFLECTOR=$TARGET/examples/reflector
NS=corelease-perf-cmp-$$
DIR=$(mktemp -d)
PORT=6767
KEA_PID=
KEA=kea-dhcp4
CONFIG=kea4.json
CLIENT_NS=$NS
cleanup() {
  [ -n "$KEA_PID" ] && kill "$KEA_PID" 2>/dev/null && wait "$KEA_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$NS-c" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
cat > "$DIR/kea4.json" <<JSON
{"Dhcp4": {
 "interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
 "lease-database": {"type": "memfile", "persist": false},
 "valid-lifetime": 4000,
 "subnet4": [{"id": 1, "subnet": "10.0.0.0/8", "pools": [{"pool": "10.0.0.10 - 10.255.255.200"}],
   "relay": {"ip-addresses": ["127.0.0.1"]}}],
 "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "$DIR/kea.log"}], "severity": "WARN"}]
}}
JSON
cat > "$DIR/kea6.json" <<JSON
{"Dhcp6": {
 "interfaces-config": {"interfaces": ["lo/::1"]},
 "lease-database": {"type": "memfile", "persist": false},
 "server-id": {"type": "EN", "enterprise-id": 2495, "identifier": "0102030405", "persist": false},
 "preferred-lifetime": 3000, "valid-lifetime": 4000,
 "subnet6": [{"id": 1, "subnet": "2001:db8::/64", "pools": [{"pool": "2001:db8::1000 - 2001:db8::ffff:ffff"}],
   "relay": {"ip-addresses": ["::1"]}}],
 "loggers": [{"name": "kea-dhcp6", "output_options": [{"output": "$DIR/kea6.log"}], "severity": "WARN"}]
}}
JSON
start_kea() {
  KEA_PIDFILE_DIR=$DIR KEA_LOCKFILE_DIR=$DIR KEA_DHCP_DATA_DIR=$DIR ip netns exec "$NS" $KEA -c "$DIR/$CONFIG" -p $PORT >/dev/null 2>&1 &
  KEA_PID=$!
  sleep 1.5
}
stop_kea() { kill "$KEA_PID"; wait "$KEA_PID" 2>/dev/null || true; KEA_PID=; }
rate_of() { grep -m1 '^Rate:' "$1" | awk '{print $2}'; }
drops_of() { grep -m1 '^drops:' "$1" | awk '{print $2}'; }

run_pair() { # $1 label, $2 family arguments and server
  local pd="ip netns exec $CLIENT_NS perfdhcp -R $CLIENTS -p $SECONDS_PER_RUN -N $PORT $2"
  local cp="ip netns exec $CLIENT_NS $GEN -R $CLIENTS -p $SECONDS_PER_RUN -N $PORT $2"
  [ "$1" = kea ] && start_kea
  timeout 60 $pd > "$DIR/pd.out" 2>&1 || true
  [ "$1" = kea ] && stop_kea && start_kea
  timeout 60 $cp > "$DIR/cp.out" 2>&1 || true
  [ "$1" = kea ] && stop_kea
  echo "== against $1 ($2)"
  echo "\$ $pd"
  echo "perfdhcp:       rate $(rate_of "$DIR/pd.out")/s, first-exchange drops $(drops_of "$DIR/pd.out")"
  echo "\$ $cp"
  echo "corelease perf: rate $(rate_of "$DIR/cp.out")/s, first-exchange drops $(drops_of "$DIR/cp.out")"
  grep -A2 '^\*\*\*Latency' "$DIR/cp.out" | tail -2
}
run_pair kea "-l 127.0.0.1 127.0.0.1"
ip netns exec "$NS" "$REFLECTOR" 127.0.0.1:$PORT $((2 * SECONDS_PER_RUN + 10)) 2>/dev/null &
REFLECTOR_PID=$!
sleep 0.5
run_pair reflector "-l 127.0.0.1 127.0.0.1"
kill "$REFLECTOR_PID" 2>/dev/null || true
wait "$REFLECTOR_PID" 2>/dev/null || true
KEA=kea-dhcp6
CONFIG=kea6.json
run_pair kea "-6 -A 1 -l lo ::1"
# DHCPv6 clients on a link: Kea on veth "vs" in $NS, the generators on "vc" in $NS-c.
ip netns add "$NS-c"
for n in "$NS" "$NS-c"; do
  ip netns exec "$n" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
ip -n "$NS-c" link set lo up
ip link add vs netns "$NS" type veth peer name vc netns "$NS-c"
ip -n "$NS" link set vs up
ip -n "$NS-c" link set vc up
sleep 2
sed 's#"interfaces": \["lo/::1"\]#"interfaces": ["vs"]#; s#"relay": {"ip-addresses": \["::1"\]}#"interface": "vs"#' \
  "$DIR/kea6.json" > "$DIR/kea6link.json"
CONFIG=kea6link.json
PORT=547
CLIENT_NS=$NS-c
run_pair kea "-6 -l vc all"
