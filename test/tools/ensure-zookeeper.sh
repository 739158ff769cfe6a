#!/usr/bin/env bash
# Installs Apache ZooKeeper 3.8 from Debian (package `zookeeper`, which brings the server
# jars and a JRE dependency; Java 17 is enough) for the tests that run a private ZooKeeper
# (test/support/zookeeper.ts). Idempotent: installs only when missing. Prints the
# directory holding the server jars (ZOOKEEPER_JARS) on stdout; progress goes to stderr.
#
# We install `zookeeper`, not `zookeeperd`: zookeeperd adds nothing but the system service
# (/etc/init.d/zookeeper), which the tests never use, because each test starts its own
# server on a free port and a temporary data directory. Should a service appear anyway
# (zookeeperd installed by hand), policy-rc.d keeps the install from starting it and it is
# disabled afterwards.
# Run as root (or with passwordless sudo).
set -euo pipefail

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=apt-lib.sh
. "$here/apt-lib.sh"

jars=/usr/share/java
apt_ensure zookeeper
# Never a system ZooKeeper: disable the service if one exists (zookeeperd).
keep_service_off zookeeper

if [ ! -f "$jars/zookeeper.jar" ]; then
  log "error: $jars/zookeeper.jar missing after installing zookeeper"
  exit 1
fi
echo "$jars"
