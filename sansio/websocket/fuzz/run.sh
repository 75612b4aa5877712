#!/usr/bin/env bash
# Builds the fuzz targets the way cargo-fuzz does (sancov + ASan, nightly) without
# needing cargo-fuzz installed, and runs each for RUNS executions (default 10^7).
# Usage: fuzz/run.sh [target...]   (targets: frames handshake deflate)
set -euo pipefail
cd "$(dirname "$0")"
RUNS="${RUNS:-10000000}"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(frames handshake deflate)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address -Cdebug-assertions"
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
cargo +nightly build --release --target "$host" --bins
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  "target/$host/release/$t" -runs="$RUNS" -artifact_prefix="artifacts/$t/" "corpus/$t" 2>&1 | tail -n 3
done
