#!/bin/bash
# Sends crafted datagrams to real kea-dhcp4 / kea-dhcp6 (2.2) in a network namespace of its
# own (created here, deleted on exit) and prints what Kea answered and counted (issue 9).
#   sudo fuzz/kea-compare/run.sh 6 cases6-a.py             # v6 cases (B*, C*, D*, E*)
#   sudo fuzz/kea-compare/run.sh 6 cases6-b.py             # v6 cases (R*, U*, T*, S*, E7-E10)
#   sudo fuzz/kea-compare/run.sh 6 cases6-option-table.py  # option code x payload table
#   sudo fuzz/kea-compare/run.sh 6 cases6-std-options.py   # standard option encodings
#   sudo SOCKTYPE=udp fuzz/kea-compare/run.sh 4 cases4.py  # v4 oversized datagrams (A*)
# Kea's files go under $KEA_COMPARE_DIR (default /tmp/kea-compare). Traffic stays on the
# namespace's loopback.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
family=$1 cases=$2
ns=keacmp$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" timeout 900 python3 "$here/kea$family.py" "$here/$cases"
