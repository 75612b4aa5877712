#!/usr/bin/env bash
# The io_uring completion layer's full cancellation torture (10^6 operations), too slow
# for the debug test run (which does 10^5). Idempotent; run from anywhere in the
# workspace. Exits non-zero on failure; about a minute after the release build.
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo test -p strait-native --release --lib uring::tests::torture::cancellation_torture_million \
    -- --ignored --exact --nocapture
