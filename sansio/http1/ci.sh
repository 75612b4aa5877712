#!/usr/bin/env bash
# End-to-end check of the http-server example with curl: keep-alive reuse, pipelining,
# chunked upload, 100-continue, 404, 431 on a huge head, HTTPS (--tls) with curl -k, and
# the same server on tokio and smol (--runtime).
# Idempotent; installs curl if
# missing. Run from anywhere: bash sansio/http1/ci.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v curl >/dev/null; then
    apt-get update -qq && apt-get install -y -qq curl >/dev/null
fi
if ! command -v python3 >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 >/dev/null
fi

cargo build -q -p strait-examples --bin http-server --bin http-get
# Below the ephemeral range (32768 and up), so no client socket of this run holds it.
port=$((20000 + RANDOM % 12000))
addr="127.0.0.1:$port"
./target/debug/http-server "$addr" --threads 2 >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://$addr/plaintext" && break
    sleep 0.1
done

tmp=$(mktemp -d)
fail() { echo "http1 ci: $*" >&2; exit 1; }

# GET /plaintext, twice on one connection.
out=$(curl -sv "http://$addr/plaintext" "http://$addr/plaintext" 2>&1)
[ "$(grep -c '^Hello, World!\|Hello, World!' <<<"$out")" -ge 1 ] || fail "plaintext body"
grep -q "Re-using existing connection" <<<"$out" || fail "keep-alive was not reused"
[ "$(grep -c '< HTTP/1.1 200 OK' <<<"$out")" -eq 2 ] || fail "two 200s"

# POST /echo with Content-Length, chunked, and 100-continue.
[ "$(curl -s --data-binary 'hello echo' "http://$addr/echo")" = "hello echo" ] || fail "echo"
head -c 300000 /dev/urandom >"$tmp/up"
curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/up" "http://$addr/echo" -o "$tmp/down"
cmp -s "$tmp/up" "$tmp/down" || fail "chunked echo differs"
out=$(curl -sv -H 'Expect: 100-continue' --data-binary @"$tmp/up" "http://$addr/echo" -o "$tmp/down2" 2>&1)
grep -q '< HTTP/1.1 100 Continue' <<<"$out" || fail "no 100 Continue"
cmp -s "$tmp/up" "$tmp/down2" || fail "100-continue echo differs"

# 404 and 431.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/nope")" = 404 ] || fail "404"
big=$(head -c 20000 /dev/zero | tr '\0' a)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://$addr/plaintext")" = 431 ] || fail "431"

# Pipelining: 16 requests in one write, answered in order; a client that vanishes.
python3 - "$port" <<'PY' || fail "pipelining"
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n" * 16
          + b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
assert data.count(b"HTTP/1.1 200 OK") == 17 and data.endswith(b"abc"), data[-200:]
v = socket.create_connection(("127.0.0.1", port))
v.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
v.close()
PY
[ "$(curl -s "http://$addr/plaintext")" = "Hello, World!" ] || fail "serving after a vanished client"
# The http-get example: keep-alive reuse over 20 requests, echo, 404.
out=$(./target/debug/http-get "http://$addr/echo" -d "from http-get" -n 20)
grep -q '^HTTP/1.1 200 OK' <<<"$out" && grep -q 'from http-get' <<<"$out" || fail "http-get echo"
# Captured first: `grep -q` stops reading at its match, and under pipefail the writer's
# broken pipe would fail the check.
out=$(./target/debug/http-get "http://$addr/nope")
grep -q '404 Not Found' <<<"$out" || fail "http-get 404"
# Thread per core: one context per thread with SO_REUSEPORT listeners.
port2=$((port + 1))
./target/debug/http-server "127.0.0.1:$port2" --reuseport --threads 2 >/dev/null &
server2=$!
trap 'kill $server $server2 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port2/plaintext" && break
    sleep 0.1
done
for _ in $(seq 8); do
    [ "$(curl -s "http://127.0.0.1:$port2/plaintext")" = "Hello, World!" ] || fail "reuseport"
done
# HTTPS: the same service over strait-tls (self-signed certificate made at start).
port3=$((port + 2))
./target/debug/http-server "127.0.0.1:$port3" --tls --threads 2 >/dev/null &
server3=$!
trap 'kill $server $server2 $server3 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -sk -o /dev/null "https://127.0.0.1:$port3/plaintext" && break
    sleep 0.1
done
out=$(curl -skv "https://127.0.0.1:$port3/plaintext" "https://127.0.0.1:$port3/plaintext" 2>&1)
grep -q "Hello, World!" <<<"$out" || fail "https plaintext"
grep -q "Re-using existing connection" <<<"$out" || fail "https keep-alive was not reused"
grep -qiE "ALPN.*(server accepted|accepted to use).*http/1.1" <<<"$out" || fail "https ALPN http/1.1"
curl -sk -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/up" "https://127.0.0.1:$port3/echo" -o "$tmp/down3"
cmp -s "$tmp/up" "$tmp/down3" || fail "https chunked echo differs"
[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port3/nope")" = 404 ] || fail "https 404"
# The http-get example over TLS: keep-alive reuse, echo; a self-signed certificate is
# refused without -k.
out=$(./target/debug/http-get -k "https://127.0.0.1:$port3/echo" -d "over tls" -n 5)
grep -q '^HTTP/1.1 200 OK' <<<"$out" && grep -q 'over tls' <<<"$out" || fail "http-get -k https echo"
./target/debug/http-get "https://127.0.0.1:$port3/plaintext" >/dev/null 2>&1 && fail "http-get trusted a self-signed certificate"
# Plain HTTP to the TLS port is refused, and the server keeps serving.
curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port3/plaintext" && fail "plain HTTP on the TLS port"
[ "$(curl -sk "https://127.0.0.1:$port3/plaintext")" = "Hello, World!" ] || fail "https after a plain-HTTP client"
# The same service on tokio and on smol through the drivers (--runtime).
for rt in tokio smol; do
    port4=$((port + 3))
    ./target/debug/http-server "127.0.0.1:$port4" --runtime "$rt" --threads 2 >/dev/null &
    server4=$!
    trap 'kill $server $server2 $server3 $server4 2>/dev/null || true' EXIT
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port4/plaintext" && break
        sleep 0.1
    done
    out=$(curl -sv "http://127.0.0.1:$port4/plaintext" "http://127.0.0.1:$port4/plaintext" 2>&1)
    grep -q "Hello, World!" <<<"$out" || fail "$rt plaintext"
    grep -q "Re-using existing connection" <<<"$out" || fail "$rt keep-alive was not reused"
    curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/up" "http://127.0.0.1:$port4/echo" -o "$tmp/down4"
    cmp -s "$tmp/up" "$tmp/down4" || fail "$rt chunked echo differs"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port4/nope")" = 404 ] || fail "$rt 404"
    kill "$server4"
    wait "$server4" 2>/dev/null || true
done
echo "http1 ci: ok"
