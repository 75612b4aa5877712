#!/usr/bin/env bash
# Interop with the system's openssl: installs it if missing, then runs strait-tls's
# openssl tests (s_server as the server for strait's client, s_client as the client
# for strait's server; TLS 1.2 and 1.3, ALPN, client certificates, close_notify).
# Idempotent; run from anywhere in the workspace.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v openssl >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq openssl >/dev/null
fi
openssl version

# Fail, instead of skipping, if openssl is still missing.
command -v openssl >/dev/null
cargo test -p strait-tls --test openssl_interop -- --test-threads=2

# https-get against `openssl s_server -www` (HTTP/1.0 answer, ALPN http/1.1), trusting
# the test CA with --cafile; and the same server refused without it (unknown issuer).
cargo build -q -p strait-examples --bin https-get
work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
# A CA and a server certificate it issues (a self-signed CA:TRUE certificate is not
# acceptable as an end entity).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=https-get test CA" -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$work/key.pem" -out "$work/req.pem" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/req.pem" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
    -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/cert.pem" 2>/dev/null
# Below the ephemeral range (32768 and up), so no client socket of this run holds it.
port=$((20000 + RANDOM % 12000))
openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$work/cert.pem" \
    -key "$work/key.pem" -alpn http/1.1 </dev/null >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
done
https_get="${CARGO_TARGET_DIR:-target}/debug/https-get"
"$https_get" "https://localhost:$port/" --cafile "$work/ca.pem" \
    --resolve "127.0.0.1:$port" >"$work/out.txt" 2>&1 || { cat "$work/out.txt"; exit 1; }
grep -q "^TLS: Tls13, TLS13_.*, ALPN http/1.1$" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
grep -q " 200 OK$" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
if "$https_get" "https://localhost:$port/" --resolve "127.0.0.1:$port" >"$work/out.txt" 2>&1; then
    echo "https-get trusted a self-signed certificate without --cafile"; exit 1
fi
grep -qi "unknown issuer\|UnknownIssuer\|trusted root" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
echo "https-get against openssl s_server: ok"
