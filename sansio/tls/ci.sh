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
