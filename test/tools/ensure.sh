#!/usr/bin/env bash
# The one entry point for test/bench setup: installs the Debian packages the
# tests and benches need (only when missing), builds the pinned Go test
# binaries into the cache outside the repository (see paths.sh), then prints
# KEY=path lines on stdout (all progress goes to stderr), so callers can do
#
#   eval "$(test/tools/ensure.sh)"          # or: ensure.sh --no-apiserver
#
# --no-apiserver  skip the (slow, tens of minutes cold) kube-apiserver build;
#                 KUBE_APISERVER_BIN is still printed if already cached.
# Works on a fresh Debian 12 with Go at /usr/local/go; run as root (or with
# passwordless sudo for the apt step).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=paths.sh
. "$here/paths.sh"

with_apiserver=1
for arg in "$@"; do
  case "$arg" in
    --no-apiserver) with_apiserver=0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--no-apiserver]" >&2; exit 2 ;;
  esac
done

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
packages=(bind9-dnsutils knot-dnsutils ldnsutils dnsperf knot etcd-server openssl time procps python3)
# Packages whose install would start a system service we do not want running:
# the tests start their own knotd/etcd instances on private ports and dirs.
services=(knot etcd)

# shellcheck source=apt-lib.sh
. "$here/apt-lib.sh"
apt_ensure "${packages[@]}"
keep_service_off "${services[@]}"

# Image tools (buildah, skopeo, umoci, binutils) for scripts/build-image.sh and test/image/.
"$here/ensure-image-tools.sh"

# ZooKeeper 3.8 (Debian's zookeeper, no system service) for test/support/zookeeper.ts.
zookeeper_jars=$("$here/ensure-zookeeper.sh")

# --- Go-built binaries --------------------------------------------------------
coredns=$("$here/build-coredns.sh")
# Helm, for the chart tests (test/chart/) and scripts/render-deploy.sh.
helm=$("$here/build-helm.sh")
# The Go programs of test/consumers/ (clients/go/examples: dubbo-go provider and consumer, grpc-go).
go_consumers=$("$here/build-go-consumers.sh")
apiserver=""
if [ "$with_apiserver" = 1 ]; then
  apiserver=$("$here/build-kube-apiserver.sh")
elif [ -x "$KUBE_APISERVER_BIN" ]; then
  apiserver="$KUBE_APISERVER_BIN"
fi

# --- result -------------------------------------------------------------------
kv() { printf '%s=%q\n' "$1" "$2"; }
kv DUBBO_DNS_CACHE "$DUBBO_DNS_CACHE"
kv COREDNS_BIN "$coredns"
kv HELM_BIN "$helm"
kv ZOOKEEPER_JARS "$zookeeper_jars"
kv GO_CONSUMERS_DIR "$go_consumers"
if [ -n "$apiserver" ]; then kv KUBE_APISERVER_BIN "$apiserver"; fi
for pair in ETCD_BIN=etcd KNOTD_BIN=knotd KNOTC_BIN=knotc DIG_BIN=dig KDIG_BIN=kdig \
            DRILL_BIN=drill DNSPERF_BIN=dnsperf OPENSSL_BIN=openssl; do
  key=${pair%%=*} cmd=${pair#*=} path=""
  for dir in /usr/sbin /usr/bin /sbin /bin; do   # knotd lives in /usr/sbin
    if [ -x "$dir/$cmd" ]; then path="$dir/$cmd"; break; fi
  done
  [ -n "$path" ] || path=$(command -v "$cmd" || true)
  if [ -z "$path" ]; then log "error: $cmd not found after install"; exit 1; fi
  kv "$key" "$path"
done
