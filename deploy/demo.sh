#!/usr/bin/env bash
# The demo's wiring through the control API, run once by compose's `demo` service and by
# scripts/run: starts echo and kvcounter, an HTTP server and the keyvalue provider, and
# links them (echo on :8080, kvcounter on :8081 counting in Redis). Paths, addresses and
# the Redis URL can be changed through KILN_DEMO_* variables.
#
# KILN_DEMO_HTTP chooses the HTTP server: `builtin` (the default), the control plane's
# built-in server, which hands each request to the data plane with no NATS hop and no
# signing; or `provider`, kiln's httpserver provider as a process under the data plane,
# which reaches the actors over NATS as any wasmbus provider does.
set -euo pipefail
for _ in $(seq 60); do "${KILN_CLI:-kiln}" hosts >/dev/null 2>&1 && break; sleep 1; done
kiln=${KILN_CLI:-kiln}
actors=${KILN_DEMO_ACTORS:-/opt/kiln/actors}
providers=${KILN_DEMO_PROVIDERS:-/opt/kiln/providers}
key() { cut -d' ' -f2; } # "started KEY (…)"
echo_key=$("$kiln" start actor "file://$actors/echo_s.wasm" | key)
counter_key=$("$kiln" start actor "file://$actors/kvcounter_s.wasm" | key)
case ${KILN_DEMO_HTTP:-builtin} in
  builtin) http_key=$("$kiln" start provider kiln+builtin://httpserver | key) ;;
  provider) http_key=$("$kiln" start provider "file://$providers/httpserver.par.gz" | key) ;;
  *) echo "KILN_DEMO_HTTP is builtin or provider, not ${KILN_DEMO_HTTP}" >&2; exit 2 ;;
esac
kv_key=$("$kiln" start provider "file://$providers/keyvalue.par.gz" | key)
link() { "$kiln" link put "$@" >/dev/null; }
link "$echo_key" "$http_key" wasmcloud:httpserver --value "address=${KILN_DEMO_ECHO_ADDRESS:-0.0.0.0:8080}"
link "$counter_key" "$http_key" wasmcloud:httpserver --value "address=${KILN_DEMO_COUNTER_ADDRESS:-0.0.0.0:8081}"
link "$counter_key" "$kv_key" wasmcloud:keyvalue --value "URL=${KILN_DEMO_REDIS_URL:-redis://redis:6379/}"
echo "demo wired (HTTP: ${KILN_DEMO_HTTP:-builtin}): echo $echo_key, kvcounter $counter_key"
