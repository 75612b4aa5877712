#!/usr/bin/env bash
# The whole strait-native test suite (the conformance stream suite over TCP and Unix
# sockets included) on each backend: once with STRAIT_NATIVE_BACKEND=epoll, once with
# STRAIT_NATIVE_BACKEND=io_uring (which fails, rather than falls back, when the kernel
# has no usable io_uring: `backend::this_run_uses_the_backend_the_environment_names`;
# on io_uring TCP runs the completion layer, and `tests/tcp_torture.rs` drops, stops
# and cancels its reads, writes and accepts at random through the public API);
# then the io_uring completion layer's full cancellation torture (10^6 operations, in
# release: the debug run above does 10^5), plain and with zero-copy sends.
# A third pass runs STRAIT_NATIVE_BACKEND=auto: epoll drives, files on a ring of their own
# (`tests/file_auto.rs` checks the wake-up paths; `backend::this_run_uses_...` that the
# ring is there). AddressSanitizer for that mode's file tests (nightly; by hand):
#   RUSTFLAGS=-Zsanitizer=address CARGO_TARGET_DIR=target/asan cargo +nightly test -p strait-native \
#     --target x86_64-unknown-linux-gnu --test file_auto --test file_ring --test file
# Idempotent, needs nothing beyond cargo. Run from anywhere: bash native-driver/ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for backend in epoll io_uring auto; do
    echo "strait-native ci: STRAIT_NATIVE_BACKEND=$backend"
    STRAIT_NATIVE_BACKEND=$backend cargo test -p strait-native
done
cargo test -p strait-native --release --lib uring::tests::torture::cancellation_torture_million \
    -- --ignored --exact --nocapture
# The same with zero-copy sends on (SEND_ZC blocks held until their notifications).
cargo test -p strait-native --release --lib \
    uring::tests::torture::cancellation_torture_zero_copy_million -- --ignored --exact --nocapture
echo "strait-native ci: ok"
