#!/usr/bin/env bash
# Builds kube-apiserver $KUBE_VERSION (see paths.sh) from Go modules and caches
# it at $KUBE_APISERVER_BIN, outside the repository. Idempotent: does nothing
# when the cached binary exists and reports the right version. Prints the
# binary's path on stdout; progress goes to stderr.
#
# How: a throw-away wrapper module requires k8s.io/kubernetes $KUBE_VERSION and
# replaces each staging module (the "=> ./staging/..." lines of kubernetes'
# own go.mod) by its published v0.X.Y tag; main.go is cmd/kube-apiserver's.
# The build's wall time and peak memory go to $DUBBO_DNS_CACHE/build-kube-apiserver.log.
#
# Env: DUBBO_DNS_CACHE (cache root), DUBBO_DNS_GO_P (go build -p, default nproc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=paths.sh
. "$here/paths.sh"
# shellcheck source=go-env.sh
. "$here/go-env.sh"

bin="$KUBE_APISERVER_BIN"
staging_version="v0.${KUBE_VERSION#v1.}"    # v1.32.13 -> v0.32.13
logfile="$DUBBO_DNS_CACHE/build-kube-apiserver.log"

works() { # works BINARY: it runs and reports exactly $KUBE_VERSION
  [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "Kubernetes $KUBE_VERSION" ]
}

if works "$bin"; then
  echo "$bin"
  exit 0
fi

mkdir -p "$DUBBO_DNS_CACHE/bin" "$DUBBO_DNS_CACHE/tmp"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DUBBO_DNS_CACHE/tmp/kube-apiserver.lock"
  flock 9
  if works "$bin"; then echo "$bin"; exit 0; fi   # built while we waited
fi

if [ ! -x /usr/bin/time ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing Debian package 'time' for the build statistics"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >&2; } || true
fi

work=$(mktemp -d "$DUBBO_DNS_CACHE/tmp/kube-apiserver-$KUBE_VERSION.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

log "fetching k8s.io/kubernetes@$KUBE_VERSION"
k8s_json=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION")
k8s_gomod=$(printf '%s\n' "$k8s_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
k8s_info=$(printf '%s\n' "$k8s_json" | sed -n 's/^[[:space:]]*"Info": "\(.*\)",*$/\1/p')
if [ ! -f "$k8s_gomod" ]; then
  log "error: no go.mod for k8s.io/kubernetes@$KUBE_VERSION in: $k8s_json"
  exit 1
fi

mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$k8s_gomod")
if [ "${#staging[@]}" -lt 20 ]; then
  log "error: expected ~31 staging replaces in $k8s_gomod, found ${#staging[@]}"
  exit 1
fi
log "${#staging[@]} staging modules -> $staging_version"

{
  echo "module dubbo-dns.test/kube-apiserver"
  echo
  # Same language version and GODEBUG defaults as the upstream build.
  grep -E '^(go|godebug)[[:space:]]' "$k8s_gomod"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for m in "${staging[@]}"; do
    printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"
  done
  echo ")"
} >"$work/go.mod"

# Same as k8s.io/kubernetes/cmd/kube-apiserver/apiserver.go.
cat >"$work/main.go" <<'GO'
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
GO

# Version stamping as kubernetes' hack/lib/version.sh does it, into both
# k8s.io/component-base/version and k8s.io/client-go/pkg/version.
major=${KUBE_VERSION#v}; major=${major%%.*}
minor=${KUBE_VERSION#v*.}; minor=${minor%%.*}
commit=$(go list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "k8s.io/kubernetes@$KUBE_VERSION" 2>/dev/null || true)
build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$k8s_info" 2>/dev/null || true)
ldflags="-s -w"
add_ldflag() {
  ldflags+=" -X 'k8s.io/component-base/version.$1=$2' -X 'k8s.io/client-go/pkg/version.$1=$2'"
}
add_ldflag gitVersion "$KUBE_VERSION"
add_ldflag gitMajor "$major"
add_ldflag gitMinor "$minor"
add_ldflag gitTreeState clean
[ -n "$commit" ] && add_ldflag gitCommit "$commit"
[ -n "$build_date" ] && add_ldflag buildDate "$build_date"

# run_timed NAME CMD...: runs CMD in $work under /usr/bin/time -v (if present),
# sampling the summed RSS of the whole process tree once a second.
run_timed() {
  local name=$1; shift
  local tfile="$work/$name.time" pfile="$work/$name.peak" start end rc=0
  start=$(date +%s)
  if [ -x /usr/bin/time ]; then
    (cd "$work" && exec /usr/bin/time -v -o "$tfile" "$@") >&2 &
  else
    (cd "$work" && exec "$@") >&2 &
  fi
  local pid=$! peak=0 total
  echo 0 >"$pfile"
  while kill -0 "$pid" 2>/dev/null; do
    if command -v ps >/dev/null 2>&1; then
      total=$(ps -e -o pid=,ppid=,rss= 2>/dev/null | awk -v root="$pid" '
        { pp[$1] = $2; rss[$1] = $3 }
        END { for (p in pp) { q = p; n = 0
                while (q != root && (q in pp) && n++ < 64) q = pp[q]
                if (q == root) s += rss[p] }
              print s + 0 }')
      if [ "$total" -gt "$peak" ]; then peak=$total; echo "$peak" >"$pfile"; fi
    fi
    sleep 1
  done
  wait "$pid" || rc=$?
  end=$(date +%s)
  echo "$((end - start))" >"$work/$name.wall"
  return "$rc"
}

summary() { # summary NAME: one line from the time -v output and the sampler
  local name=$1 wall maxrss
  wall=$(sed -n 's/^.*Elapsed (wall clock) time.*): //p' "$work/$name.time" 2>/dev/null || true)
  maxrss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$work/$name.time" 2>/dev/null || true)
  printf '%-5s wall=%s (%ss) max_rss_single_process=%s MiB peak_rss_process_tree=%s MiB\n' \
    "$name" "${wall:-?}" "$(cat "$work/$name.wall")" \
    "$(( ${maxrss:-0} / 1024 ))" "$(( $(cat "$work/$name.peak") / 1024 ))"
}

log "go mod tidy (downloads the dependency graph)"
run_timed tidy go mod tidy
log "go build ($(go env GOVERSION), GOFLAGS=$GOFLAGS)"
run_timed build go build -trimpath -ldflags "$ldflags" -o "$work/kube-apiserver" .

if ! works "$work/kube-apiserver"; then
  log "error: built binary reports '$("$work/kube-apiserver" --version 2>&1 | head -1)', want 'Kubernetes $KUBE_VERSION'"
  exit 1
fi

{
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) kube-apiserver $KUBE_VERSION ($staging_version staging) $(go env GOVERSION) GOFLAGS='$GOFLAGS' nproc=$(nproc)"
  summary tidy
  summary build
  echo "binary: $bin ($(( $(stat -c %s "$work/kube-apiserver") / 1024 / 1024 )) MiB)"
  echo "--- go build: /usr/bin/time -v"
  cat "$work/build.time" 2>/dev/null || echo "(no /usr/bin/time)"
  echo "--- go.mod"
  cat "$work/go.mod"
} >>"$logfile"

mv -f "$work/kube-apiserver" "$bin"
log "built $bin; stats in $logfile:"
grep -A2 "kube-apiserver $KUBE_VERSION" "$logfile" | tail -3 >&2
echo "$bin"
