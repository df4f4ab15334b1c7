#!/usr/bin/env bash
# Packs kiln's providers into signed provider archives with the kiln CLI:
# providers/build/{httpserver,keyvalue}.par.gz. Binaries come from target/$KILN_PROFILE
# (debug by default); the signing keys are made once in providers/build/keys.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
profile=${KILN_PROFILE:-debug}
out=${KILN_PROVIDERS_OUT:-$here/build}
kiln=${KILN_CLI:-$root/target/$profile/kiln}
bin=$root/target/$profile

for name in kiln kiln-httpserver kiln-keyvalue; do
  [ -x "$bin/$name" ] || { echo "providers/build.sh: $bin/$name is missing; build the workspace first" >&2; exit 1; }
done
mkdir -p "$out/keys"
chmod 700 "$out/keys"
seed() { # kind name -> path of a seed file, made on first use
  local file="$out/keys/$2.nk"
  [ -s "$file" ] || "$kiln" keys gen "$1" --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["seed"], end="")' > "$file"
  echo "$file"
}
account=$(seed account account)
pack() { # binary archive contract name
  "$kiln" par create --binary "$bin/$1" --capid "$3" --name "$4" --vendor kiln --rev 1 --ver 0.1.0 \
    --issuer "$account" --subject "$(seed service "$2")" --destination "$out/$2.par.gz" > /dev/null
}
pack kiln-httpserver httpserver wasmcloud:httpserver "HTTP Server"
pack kiln-keyvalue keyvalue wasmcloud:keyvalue "Key-Value (Redis)"
echo "provider archives in $out:"
ls -1 "$out"/*.par.gz
