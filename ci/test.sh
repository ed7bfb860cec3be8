#!/usr/bin/env bash
# Runs every corelease test: unit, protocol, codec and the end-to-end tests with the real binary
# against ISC perfdhcp, dhclient and udhcpc inside private network namespaces.
# Installs the Debian packages the tests need when they are missing (needs root, as do the
# network-namespace tests).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v perfdhcp >/dev/null || need+=(kea-admin)
command -v kea-dhcp4 >/dev/null || need+=(kea-dhcp4-server)
command -v kea-dhcp6 >/dev/null || need+=(kea-dhcp6-server)
command -v dhclient >/dev/null || need+=(isc-dhcp-client)
command -v busybox >/dev/null || need+=(busybox)
command -v ip >/dev/null || need+=(iproute2)
command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# glommio needs a locked-memory limit of at least 512 KiB (DESIGN.md).
ulimit -l 8192 2>/dev/null || true

# Tests that drive real Kea / perfdhcp fail (not skip) when those are missing.
export CORELEASE_PERF_REQUIRE_KEA=1
cargo test --workspace --locked -- --test-threads=2
# corelease perf against the real server (the binary comes from the root package, so this test
# is run explicitly with its path).
CORELEASE_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/corelease" \
  cargo test -p corelease-perf --locked --test against_corelease -- --ignored
# Fuzz smoke (issue 9): every cargo-fuzz target for 20 s from the committed seeds; a crash fails.
./ci/fuzz-smoke.sh
