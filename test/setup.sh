#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: Debian packages (dig, kdig, drill, dnsperf,
# knot, etcd, openssl), the Go-built binaries cached outside the repository (CoreDNS, Helm for the
# chart tests, and kube-apiserver for the controller tests against a real control plane), and the
# npm dependencies (Node 24 among them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash test/tools/ensure.sh >/dev/null
npm ci --no-audit --no-fund
