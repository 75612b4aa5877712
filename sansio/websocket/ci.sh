#!/usr/bin/env bash
# Autobahn conformance for strait-websocket, with kosoku (PyPI) in a virtual environment:
#   1. fuzzingclient mode against the `ws-echo` example (tests the server side),
#   2. fuzzingserver mode against the `ws-autobahn-client` example (tests the client).
# All 517 cases, compression (12.*, 13.*) included. Gate: no case outside OK, NON-STRICT
# and INFORMATIONAL (behavior and close behavior). Prints the counts per behavior for
# both runs. Idempotent; run from anywhere. AUTOBAHN_CORE=1 skips the compression cases
# (about a minute instead of several); AUTOBAHN_PARALLEL sets kosoku's parallelism for the
# server run (default 4).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/autobahn-venv"
out="$target/autobahn"
server_port="${AUTOBAHN_SERVER_PORT:-9001}"
client_port="${AUTOBAHN_CLIENT_PORT:-9002}"

if [ ! -x "$venv/bin/kosoku" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q kosoku
fi

cargo build --release -q --manifest-path "$root/Cargo.toml" -p strait-websocket \
  --example ws-echo --example ws-autobahn-client

excludes=()
if [ "${AUTOBAHN_CORE:-0}" = 1 ]; then
  excludes=(-x '12.*' -x '13.*')
fi
rm -rf "$out" && mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# 1. The server under test.
"$target/release/examples/ws-echo" "127.0.0.1:$server_port" >"$out/ws-echo.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$server_port") 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/kosoku" -m fuzzingclient -p "${AUTOBAHN_PARALLEL:-4}" ${excludes[@]+"${excludes[@]}"} -o "$out/servers" "127.0.0.1:$server_port" \
  >"$out/servers.log" 2>&1 || true

# 2. The client under test.
"$venv/bin/kosoku" -m fuzzingserver ${excludes[@]+"${excludes[@]}"} -o "$out/clients" "127.0.0.1:$client_port" \
  >"$out/clients.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$client_port") 2>/dev/null && break
  sleep 0.1
done
"$target/release/examples/ws-autobahn-client" "127.0.0.1:$client_port" >"$out/client-run.log" 2>&1
sleep 1

python3 - "$out" <<'PY'
import collections, json, sys
out = sys.argv[1]
allowed = {"OK", "NON-STRICT", "INFORMATIONAL"}
bad = []
for run in ("servers", "clients"):
    with open(f"{out}/{run}/index.json") as f:
        index = json.load(f)
    counts = collections.Counter()
    for agent, cases in index.items():
        for case, r in cases.items():
            counts[r["behavior"]] += 1
            if r["behavior"] not in allowed or r["behaviorClose"] not in allowed:
                bad.append(f"{run} {case}: {r['behavior']}/{r['behaviorClose']}")
    total = sum(counts.values())
    print(f"{run}: {total} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if total == 0:
        bad.append(f"{run}: no case ran")
for b in bad:
    print("FAILED", b)
sys.exit(1 if bad else 0)
PY
