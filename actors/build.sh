#!/usr/bin/env bash
# Builds the sample actors (wasm32-unknown-unknown, release) and signs them with the
# kiln CLI. Output: actors/build/<name>_s.wasm, plus the signing keys in actors/build/keys
# (made once, so rebuilt actors keep their public keys).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${KILN_ACTORS_OUT:-$here/build}
kiln=${KILN_CLI:-$root/target/debug/kiln}

rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || { echo "actors/build.sh: the wasm32-unknown-unknown target is missing: rustup target add wasm32-unknown-unknown" >&2; exit 1; }
[ -x "$kiln" ] || cargo build --manifest-path "$root/Cargo.toml" -p kiln-control-plane --bin kiln --quiet
cargo build --manifest-path "$here/Cargo.toml" --release --target wasm32-unknown-unknown --locked --quiet

mkdir -p "$out/keys"
chmod 700 "$out/keys"
seed() { # kind name -> path of a seed file, made on first use
  local file="$out/keys/$2.nk"
  [ -s "$file" ] || "$kiln" keys gen "$1" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["seed"], end="")' > "$file"
  echo "$file"
}
account=$(seed account account)
sign() { # name display-name [extra claims flags...]
  local name=$1 display=$2; shift 2
  "$kiln" claims sign "$here/target/wasm32-unknown-unknown/release/$name.wasm" \
    --issuer "$account" --subject "$(seed module "$name")" \
    --name "$display" --ver 0.1.0 --rev 1 -d "$out/${name}_s.wasm" "$@" > /dev/null
}
sign echo Echo --cap wasmcloud:httpserver
sign pinger Pinger --cap wasmcloud:httpserver
sign ponger Ponger --call-alias demo/ponger
sign randlogger RandLogger --cap wasmcloud:httpserver --cap wasmcloud:builtin:logging --cap wasmcloud:builtin:numbergen
sign kvcounter KvCounter --cap wasmcloud:httpserver --cap wasmcloud:keyvalue
# The same code without the keyvalue claim, under its own key: its calls must be refused.
"$kiln" claims sign "$here/target/wasm32-unknown-unknown/release/kvcounter.wasm" \
  --issuer "$account" --subject "$(seed module kvcounter_unpriv)" \
  --name "KvCounter (no keyvalue claim)" --ver 0.1.0 --rev 1 -d "$out/kvcounter_unpriv_s.wasm" \
  --cap wasmcloud:httpserver > /dev/null
echo "signed actors in $out:"
ls -1 "$out"/*_s.wasm
