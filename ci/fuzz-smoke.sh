#!/usr/bin/env bash
# Fuzz smoke test (issue 9): runs every cargo-fuzz target in fuzz/ for a short bounded time,
# starting from the committed seed corpus (fuzz/corpus/<target>/), and fails if any target
# finds a crash, a panic, a timeout or an out-of-memory. The seed corpus is only read; what the
# run discovers goes to a temporary directory that is removed afterwards.
#
# Needs a Rust toolchain; cargo-fuzz wants nightly features, which RUSTC_BOOTSTRAP=1 unlocks on
# stable. Installs cargo-fuzz (cargo install --locked) when it is missing.
#
# Environment:
#   FUZZ_SECONDS      seconds per target (default 20)
#   FUZZ_TARGETS      space-separated subset of targets (default: all, from `cargo fuzz list`)
#   CARGO_TARGET_DIR  build directory (default: fuzz/target)
# A crashing input is kept in $FUZZ_ARTIFACTS (default fuzz/artifacts/<target>/); reproduce
# with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo/fuzz"
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-20}"
artifacts="${FUZZ_ARTIFACTS:-$repo/fuzz/artifacts}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

started=$(date +%s)
echo "fuzz-smoke: building the fuzz targets"
cargo fuzz build

work="$(mktemp -d "${TMPDIR:-/tmp}/corelease-fuzz-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
failed=()
for target in $targets; do
    seeds="corpus/$target"
    if [ ! -d "$seeds" ]; then
        echo "fuzz-smoke: $target has no seed corpus in fuzz/$seeds" >&2
        failed+=("$target (no seeds)")
        continue
    fi
    mkdir -p "$work/$target" "$artifacts/$target"
    echo "fuzz-smoke: $target for ${seconds}s"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: runaway allocation.
    if cargo fuzz run "$target" "$work/$target" "$seeds" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/$target/" -print_final_stats=1 \
        >"$work/$target.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+ +DONE' "$work/$target.log" | tail -2 || true
    else
        echo "fuzz-smoke: $target FAILED; last lines of its log:" >&2
        tail -n 40 "$work/$target.log" >&2
        failed+=("$target")
    fi
done

echo "fuzz-smoke: done in $(( $(date +%s) - started ))s"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz-smoke: failures: ${failed[*]} (inputs in $artifacts/)" >&2
    exit 1
fi
echo "fuzz-smoke: all targets ran clean"
