#!/usr/bin/env bash
# Builds Helm $HELM_VERSION (see paths.sh) from its Go module with
# `go install` and caches it at $HELM_BIN, outside the repository.
# Idempotent: does nothing when the cached binary exists and `helm version`
# reports the right version. Prints the binary's path on stdout; progress
# goes to stderr. Build time is appended to $DUBBO_DNS_CACHE/build-helm.log.
#
# Env: DUBBO_DNS_CACHE (cache root), DUBBO_DNS_GO_P (go build -p, default nproc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=paths.sh
. "$here/paths.sh"
# shellcheck source=go-env.sh
. "$here/go-env.sh"

bin="$HELM_BIN"
module=helm.sh/helm/v4

works() { # works BINARY: it runs and reports exactly $HELM_VERSION
  [ -x "$1" ] && [ "$("$1" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

if works "$bin"; then
  echo "$bin"
  exit 0
fi

# Helm v4.3's go.mod says go 1.26.0; with GOTOOLCHAIN=local an older Go fails late and unclearly.
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -n "$go_minor" ] && [ "$go_minor" -lt 26 ]; then
  log "error: Helm $HELM_VERSION needs Go >= 1.26, found $(go env GOVERSION)"
  exit 1
fi

mkdir -p "$DUBBO_DNS_CACHE/bin" "$DUBBO_DNS_CACHE/tmp"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DUBBO_DNS_CACHE/tmp/helm.lock"
  flock 9
  if works "$bin"; then echo "$bin"; exit 0; fi   # built while we waited
fi

work=$(mktemp -d "$DUBBO_DNS_CACHE/tmp/helm-$HELM_VERSION.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# Stamp version and commit as Helm's Makefile does for a tagged build; without
# them `helm version` says "v4.3" and charts' kubeVersion checks see no patch.
commit=$(go list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "$module@$HELM_VERSION" 2>/dev/null || true)
ldflags="-s -w -X $module/internal/version.version=$HELM_VERSION"
ldflags+=" -X $module/internal/version.gitTreeState=clean"
[ -n "$commit" ] && ldflags+=" -X $module/internal/version.gitCommit=$commit"

log "go install $module/cmd/helm@$HELM_VERSION ($(go env GOVERSION), GOFLAGS=$GOFLAGS)"
start=$(date +%s)
GOBIN="$work" go install -trimpath -ldflags "$ldflags" "$module/cmd/helm@$HELM_VERSION" >&2
wall=$(( $(date +%s) - start ))

if ! works "$work/helm"; then
  log "error: built binary reports '$("$work/helm" version --short 2>&1 | head -n1)', want '$HELM_VERSION'"
  exit 1
fi
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) helm $HELM_VERSION $(go env GOVERSION) GOFLAGS='$GOFLAGS' wall=${wall}s" \
  >>"$DUBBO_DNS_CACHE/build-helm.log"
mv -f "$work/helm" "$bin"
log "built $bin in ${wall}s"
echo "$bin"
