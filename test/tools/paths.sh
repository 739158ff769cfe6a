# shellcheck shell=bash
# Sourced by test and bench scripts: exports where the Go-built test binaries
# live. Builds nothing; run test/tools/ensure.sh to build/install them.
#
#   DUBBO_DNS_CACHE     cache root, outside the repository
#                       (default: $HOME/.cache/dubbo-dns)
#   COREDNS_VERSION     pinned CoreDNS version
#   KUBE_VERSION        pinned Kubernetes (kube-apiserver) version
#   COREDNS_BIN         $DUBBO_DNS_CACHE/bin/coredns-$COREDNS_VERSION
#   KUBE_APISERVER_BIN  $DUBBO_DNS_CACHE/bin/kube-apiserver-$KUBE_VERSION
#   HELM_VERSION        pinned Helm version
#   HELM_BIN            $DUBBO_DNS_CACHE/bin/helm-$HELM_VERSION

if [ -z "${HOME:-}" ]; then
  # HOME unset (e.g. a stripped CI env): ~ falls back to the passwd entry.
  HOME=$(cd ~ 2>/dev/null && pwd || echo /tmp)
  export HOME
fi

export DUBBO_DNS_CACHE="${DUBBO_DNS_CACHE:-$HOME/.cache/dubbo-dns}"
export COREDNS_VERSION=v1.12.3
export KUBE_VERSION=v1.32.13
export HELM_VERSION=v4.3.2
export COREDNS_BIN="$DUBBO_DNS_CACHE/bin/coredns-$COREDNS_VERSION"
export KUBE_APISERVER_BIN="$DUBBO_DNS_CACHE/bin/kube-apiserver-$KUBE_VERSION"
export HELM_BIN="$DUBBO_DNS_CACHE/bin/helm-$HELM_VERSION"
