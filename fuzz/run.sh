#!/bin/sh
# Runs every fuzz target for MINUTES minutes each (default 5), from the repository root.
#
#   fuzz/run.sh [MINUTES]
#
# With cargo-fuzz installed (nightly), libFuzzer drives the targets; otherwise each target is
# built on stable as a plain binary that mutates its seed corpus. Either way it prints one
# line per target (`runs=… crashes=…`) and exits non-zero if any target crashed; crashing
# inputs are kept under fuzz/crashes/<target>/ (plain) or fuzz/artifacts/<target>/ (libFuzzer).
set -eu
cd "$(dirname "$0")/.."
minutes=${1:-5}
seconds=$((minutes * 60))
corpus=tests/fixtures/corpus

seeds_for() {
    case "$1" in
        normalize_eks) echo "$corpus/eks $corpus/raw-k8s" ;;
        normalize_gke) echo "$corpus/gke" ;;
        normalize_aks) echo "$corpus/aks" ;;
        normalize_k8s) echo "$corpus/raw-k8s $corpus/eks" ;;
        framing_reader) echo "$corpus" ;;
        config_loader) echo "config" ;;
    esac
}

targets="normalize_eks normalize_gke normalize_aks normalize_k8s framing_reader config_loader"
failed=0
if cargo fuzz --version >/dev/null 2>&1; then
    for t in $targets; do
        mkdir -p "fuzz/corpus/$t"
        # shellcheck disable=SC2046
        (cd fuzz && cargo +nightly fuzz run --features libfuzzer "$t" "corpus/$t" \
            $(for d in $(seeds_for "$t"); do printf '../%s ' "$d"; done) \
            -- -max_total_time="$seconds") || failed=1
    done
else
    # The main target directory and the dev profile: the dependencies are already built there
    # by `cargo test`, and debug assertions and overflow checks catch more than a release build.
    CARGO_TARGET_DIR="$PWD/target" cargo build --manifest-path fuzz/Cargo.toml
    for t in $targets; do
        # shellcheck disable=SC2046
        "target/debug/$t" --seconds "$seconds" --crashes fuzz/crashes $(seeds_for "$t") || failed=1
    done
fi
exit $failed
