#!/usr/bin/env bash
# A real browser against the `chat` example: installs Debian's chromium if missing,
# builds the example, and runs examples/chat/chat_browser_test.py (two headless tabs
# each send a message and must see both). Idempotent; run from anywhere; exits non-zero
# on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"

if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

cargo build --release -q --manifest-path "$root/Cargo.toml" -p strait-websocket \
  --features http1 --example chat
timeout 120 python3 "$here/examples/chat/chat_browser_test.py" \
  "$target/release/examples/chat" "$(command -v chromium)"
