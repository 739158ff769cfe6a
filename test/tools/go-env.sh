# shellcheck shell=bash
# Sourced by the build scripts: puts a usable Go toolchain on PATH and sets
# the build environment shared by them. Not meant to be run directly.

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: 'go' not found on PATH nor at /usr/local/go/bin/go" >&2
  exit 1
fi

# Refuse toolchains older than the pinned modules need (both say go 1.23.0).
_go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -n "$_go_minor" ] && [ "$_go_minor" -lt 23 ]; then
  echo "error: Go >= 1.23 required, found $(go env GOVERSION)" >&2
  exit 1
fi
unset _go_minor

# Static binaries, never download another toolchain.
export CGO_ENABLED=0
export GOTOOLCHAIN=local
# Build parallelism: the machines have 2 cores; override with DUBBO_DNS_GO_P.
DUBBO_DNS_GO_P="${DUBBO_DNS_GO_P:-$(nproc 2>/dev/null || echo 2)}"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=$DUBBO_DNS_GO_P"

# log MSG...: progress goes to stderr, so stdout carries only the result path.
log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
