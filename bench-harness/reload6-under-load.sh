#!/usr/bin/env bash
# What a dhcp6 config reload costs the clients: `corelease dhcp6` (2 shards, the relayed
# config of tests/integration/dhcp6.rs, packet-queue-size 64) serves perfdhcp -6 (relay on ::1,
# address and prefix per client, RATE exchanges/s, CLIENTS clients, waiting for the last
# answers), while config-reload (a new subnet listed first, so the new pools serve) and SIGHUP
# run 2 s and 2.5 s into the run, as control6's reload test does. Prints perfdhcp's drops and
# delays, the server's reload log lines, and per 250 ms slot the exchanges sent, answered and
# their longest delay, measured on the wire (tcpdump, bench-harness/v6-delays.py).
# A busy machine without slowing anyone else: HOGS=N runs N busy loops next to the server and
# perfdhcp in a cgroup-v1 CPU group of their own (which the scheduler weighs as one task
# against the rest of the machine), and CPU_PCT=P caps that group at P % of one core.
# LOG_READER_PAUSE=S sends the server's log through a pipe whose reader reads for 0.5 s, then
# pauses S seconds, over and over (a supervisor or test rig that lags on a busy machine).
# Usage (root): cargo build -p corelease &&
#   bench-harness/reload6-under-load.sh [RATE=200] [CLIENTS=1500]
set -euo pipefail
RATE=${1:-200}
CLIENTS=${2:-1500}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${CORELEASE_BIN:-${CARGO_TARGET_DIR:-target}/debug/corelease}
NS=corel-r6-$$
DIR=$(mktemp -d)
CG=/sys/fs/cgroup/cpu/corel-r6-$$
CG_HOME=/sys/fs/cgroup/cpu$(sed -n 's/^[0-9]*:cpu[^:]*:\(.*\)$/\1/p' /proc/self/cgroup | head -1)
SRV_PID=
DUMP_PID=
HOG_PIDS=
cleanup() {
  for p in $HOG_PIDS; do kill "$p" 2>/dev/null || true; done
  if [ -n "$DUMP_PID" ]; then kill "$DUMP_PID" 2>/dev/null || true; wait "$DUMP_PID" 2>/dev/null || true; fi
  if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; fi
  if [ -d "$CG" ]; then echo $$ > "$CG_HOME/cgroup.procs"; sleep 0.2; rmdir "$CG" || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
if [ -n "${HOGS:-}${CPU_PCT:-}" ]; then
  mkdir "$CG"
  echo 100000 > "$CG/cpu.cfs_period_us"
  [ -n "${CPU_PCT:-}" ] && echo $((CPU_PCT * 1000)) > "$CG/cpu.cfs_quota_us"
  echo $$ > "$CG/cgroup.procs"
  for _ in $(seq "${HOGS:-0}"); do timeout 300 sh -c 'while :; do :; done' & HOG_PIDS="$HOG_PIDS $!"; done
  echo "in cgroup $CG: ${HOGS:-0} busy loops, quota ${CPU_PCT:-none} % of a core"
fi

config() { # $1: valid-lifetime, $2: extra subnet first (or empty)
  cat > "$DIR/c.json" <<JSON
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "lo" ] },
  "lease-database": { "type": "memfile", "persist": true, "name": "$DIR/leases6.csv", "lfc-interval": 3600 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
  "control-sockets": [ { "socket-type": "unix", "socket-name": "$DIR/ctrl" } ],
  "preferred-lifetime": 3000, "valid-lifetime": $1,
  "option-data": [ { "name": "dns-servers", "data": "fd00:1::53" } ],
  "subnet6": [ $2 {
    "id": 9, "subnet": "fd00:1::/64", "relay": { "ip-addresses": [ "::1" ] },
    "pools": [ { "pool": "fd00:1::1000 - fd00:1::ffff" } ],
    "pd-pools": [ { "prefix": "fd00:1000::", "prefix-len": 32, "delegated-len": 48 } ] } ]
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
print(out.decode()[:200])
PY
}
perf() { # $1: rate, $2: clients
  ip netns exec "$NS" perfdhcp -6 -A 1 -e address-and-prefix -r "$1" -R "$2" -n "$2" -n "$2" \
    -W 5000000 -p 30 -u -l ::1 -L 547 -N 5547 ::1
}

config 4000 ""
ulimit -l 8192
LOG_TO=$DIR/server.log
if [ -n "${LOG_READER_PAUSE:-}" ]; then
  LOG_TO=$DIR/log.pipe
  mkfifo "$LOG_TO"
  python3 - "$LOG_TO" "$DIR/server.log" "$LOG_READER_PAUSE" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
out = open(sys.argv[2], "wb")
began = time.time()
while True:
    if time.time() - began > 0.5:
        time.sleep(float(sys.argv[3]))
        began = time.time()
    data = os.read(fd, 4096)
    if not data:
        break
    out.write(data)
    out.flush()
PY
fi
KEA_PIDFILE_DIR=$DIR KEA_DHCP_DATA_DIR=$DIR ip netns exec "$NS" "$BIN" dhcp6 -c "$DIR/c.json" -p 5547 >"$LOG_TO" 2>&1 &
SRV_PID=$!
for _ in $(seq 200); do [ -S "$DIR/ctrl" ] && break; sleep 0.1; done
[ -S "$DIR/ctrl" ] || { echo "server did not start"; tail -5 "$DIR/server.log"; exit 1; }
echo "--- first run: 300 clients at 100/s"
perf 100 300 | grep -E "^(sent|received|drops)" | head -6
config 4001 '{ "id": 10, "subnet": "fd00:3::/64", "relay": { "ip-addresses": [ "::1" ] },
    "pools": [ { "pool": "fd00:3::1000 - fd00:3::ffff" } ],
    "pd-pools": [ { "prefix": "fd00:3000::", "prefix-len": 32, "delegated-len": 48 } ] },'
ip netns exec "$NS" tcpdump -i lo -w "$DIR/run.pcap" -U -s 300 udp 2>/dev/null &
DUMP_PID=$!
sleep 1
echo "--- reload run: $CLIENTS clients at $RATE/s, config-reload at 2 s, SIGHUP at 2.5 s"
perf "$RATE" "$CLIENTS" >"$DIR/perf.txt" 2>&1 &
PERF_PID=$!
sleep 2
T_RELOAD=$(date +%s.%N)
command '{"command":"config-reload"}'
T_RELOAD_DONE=$(date +%s.%N)
sleep 0.5
T_HUP=$(date +%s.%N)
kill -HUP "$SRV_PID"
wait "$PERF_PID" || true
sleep 0.5
kill "$DUMP_PID" 2>/dev/null || true; wait "$DUMP_PID" 2>/dev/null || true; DUMP_PID=
grep -E "^\*\*\*|^(sent|received|drops|min delay|avg delay|max delay)" "$DIR/perf.txt" || cat "$DIR/perf.txt"
echo "--- server reload lines"
grep -E "DYNRECONF|CONFIG_COMPLETE|RELOAD_TRACE" "$DIR/server.log" | sed 's/^.*\(DHCP6_[A-Z_]*\)/\1/' || true
echo "--- on the wire"
python3 "$HERE/v6-delays.py" "$DIR/run.pcap" 0.25 reload="$T_RELOAD" reload_answered="$T_RELOAD_DONE" sighup="$T_HUP"
