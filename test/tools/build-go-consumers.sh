#!/usr/bin/env bash
# Builds the Go programs of the consumer end-to-end tests from clients/go (its own module:
# dubbo-go v3.3.2, grpc-go, miekg/dns, all from the Go module proxy at the versions go.sum
# pins): the Triple Greeter provider, the dubbo-go consumer (dubbodns registry) and the plain
# grpc-go client. They are cached in $DUBBO_DNS_CACHE/go-consumers/<key>/, where key hashes the
# Go version, go.mod, go.sum, every non-test .go file and this script, so an edit rebuilds and
# a rerun does not. Idempotent; prints the directory on stdout (progress goes to stderr); the
# build time is appended to $DUBBO_DNS_CACHE/build-go-consumers.log.
#
# A cold build (empty module and build caches) downloads about 1 GB of modules and compiles
# dubbo-go: minutes on 2 cores. Env: DUBBO_DNS_CACHE, DUBBO_DNS_GO_P (go build -p).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=paths.sh
. "$here/paths.sh"
# shellcheck source=go-env.sh
. "$here/go-env.sh"

module=$(cd "$here/../../clients/go" && pwd)
programs=(provider consumer grpc-client)

key=$(
  cd "$module"
  {
    go env GOVERSION
    find . -name '*.go' ! -name '*_test.go' -print | LC_ALL=C sort
    printf '%s\n' go.mod go.sum "$here/build-go-consumers.sh"
  } | while IFS= read -r line; do
    if [ -f "$line" ]; then printf '%s\n' "$line"; sha256sum <"$line"; else printf '%s\n' "$line"; fi
  done | sha256sum | cut -c1-16
)
out="$DUBBO_DNS_CACHE/go-consumers/$key"

complete() { [ -f "$out/.complete" ]; }

if complete; then
  echo "$out"
  exit 0
fi

mkdir -p "$DUBBO_DNS_CACHE/go-consumers" "$DUBBO_DNS_CACHE/tmp"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DUBBO_DNS_CACHE/tmp/go-consumers.lock"
  flock 9
  if complete; then echo "$out"; exit 0; fi   # built while we waited
fi

work=$(mktemp -d "$DUBBO_DNS_CACHE/tmp/go-consumers-$key.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

log "go build ${programs[*]} from $module ($(go env GOVERSION), GOFLAGS=$GOFLAGS)"
start=$(date +%s)
(
  cd "$module"
  # No -trimpath: the compiled packages stay shareable with `go vet` and `go test` of the module
  # (test/consumers/go-unit.test.ts); -s -w only touch the link.
  go build -ldflags "-s -w" -o "$work/" "${programs[@]/#/./examples/}" >&2
)
wall=$(( $(date +%s) - start ))
for p in "${programs[@]}"; do
  [ -x "$work/$p" ] || { log "error: $p was not built"; exit 1; }
done
touch "$work/.complete"
rm -rf "$out"
mv "$work" "$out"
# Keep the three newest builds: each is a few hundred MB, and old keys are never asked again.
find "$DUBBO_DNS_CACHE/go-consumers" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' |
  sort -rn | tail -n +4 | cut -d' ' -f2- | while IFS= read -r old; do rm -rf "$old"; done
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) go-consumers $key $(go env GOVERSION) GOFLAGS='$GOFLAGS' wall=${wall}s" \
  >>"$DUBBO_DNS_CACHE/build-go-consumers.log"
log "built $out in ${wall}s"
echo "$out"
