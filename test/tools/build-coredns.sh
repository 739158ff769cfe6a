#!/usr/bin/env bash
# Builds CoreDNS $COREDNS_VERSION (see paths.sh) from its Go module with
# `go install` and caches it at $COREDNS_BIN, outside the repository.
# Idempotent: does nothing when the cached binary exists and `-version`
# reports the right version. Prints the binary's path on stdout; progress
# goes to stderr. Build time is appended to $DUBBO_DNS_CACHE/build-coredns.log.
#
# Env: DUBBO_DNS_CACHE (cache root), DUBBO_DNS_GO_P (go build -p, default nproc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=paths.sh
. "$here/paths.sh"
# shellcheck source=go-env.sh
. "$here/go-env.sh"

bin="$COREDNS_BIN"
module=github.com/coredns/coredns

works() { # works BINARY: it runs and reports exactly $COREDNS_VERSION
  [ -x "$1" ] && [ "$("$1" -version 2>/dev/null | head -n1)" = "CoreDNS-${COREDNS_VERSION#v}" ]
}

if works "$bin"; then
  echo "$bin"
  exit 0
fi

mkdir -p "$DUBBO_DNS_CACHE/bin" "$DUBBO_DNS_CACHE/tmp"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DUBBO_DNS_CACHE/tmp/coredns.lock"
  flock 9
  if works "$bin"; then echo "$bin"; exit 0; fi   # built while we waited
fi

work=$(mktemp -d "$DUBBO_DNS_CACHE/tmp/coredns-$COREDNS_VERSION.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# Stamp the commit as CoreDNS' Makefile does (the proxy knows it for tags).
commit=$(go list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "$module@$COREDNS_VERSION" 2>/dev/null || true)
ldflags="-s -w"
[ -n "$commit" ] && ldflags+=" -X $module/coremain.GitCommit=${commit:0:7}"

log "go install $module@$COREDNS_VERSION ($(go env GOVERSION), GOFLAGS=$GOFLAGS)"
start=$(date +%s)
GOBIN="$work" go install -trimpath -ldflags "$ldflags" "$module@$COREDNS_VERSION" >&2
wall=$(( $(date +%s) - start ))

if ! works "$work/coredns"; then
  log "error: built binary reports '$("$work/coredns" -version 2>&1 | head -n1)', want 'CoreDNS-${COREDNS_VERSION#v}'"
  exit 1
fi
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) coredns $COREDNS_VERSION $(go env GOVERSION) GOFLAGS='$GOFLAGS' wall=${wall}s" \
  >>"$DUBBO_DNS_CACHE/build-coredns.log"
mv -f "$work/coredns" "$bin"
log "built $bin in ${wall}s"
echo "$bin"
