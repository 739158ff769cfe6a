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

jars=/usr/share/java
SUDO=()
if [ "$(id -u)" != 0 ]; then SUDO=(sudo -n); fi
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' zookeeper 2>/dev/null || true)" = installed ]; }

if ! installed; then
  if [ "${#SUDO[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
    log "error: need root (or sudo) to install zookeeper"; exit 1
  fi
  log "installing Debian package zookeeper"
  # Keep maintainer scripts from starting services (invoke-rc.d and deb-systemd-invoke
  # honour policy-rc.d's exit 101), as test/tools/ensure.sh does.
  policy=/usr/sbin/policy-rc.d
  policy_backup=""
  if [ -e "$policy" ]; then
    policy_backup=$(mktemp /tmp/policy-rc.d.XXXXXX)
    "${SUDO[@]}" cp -p "$policy" "$policy_backup"
  fi
  restore_policy() {
    if [ -n "$policy_backup" ]; then
      "${SUDO[@]}" cp -p "$policy_backup" "$policy" && rm -f "$policy_backup"
    else
      "${SUDO[@]}" rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# written by dubbo-dns test/tools/ensure-zookeeper.sh during apt-get install\nexit 101\n' |
    "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"

  # A fresh machine has no package lists yet; update only when the package is unknown.
  if ! apt-cache show zookeeper >/dev/null 2>&1; then
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2
  fi
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold zookeeper >&2; then
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold zookeeper >&2
  fi
  restore_policy
  trap - EXIT
fi

# Never a system ZooKeeper: disable the service if one exists (zookeeperd).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
   systemctl list-unit-files zookeeper.service >/dev/null 2>&1; then
  "${SUDO[@]}" systemctl disable --now zookeeper.service >&2 || true
elif [ -x /etc/init.d/zookeeper ] && command -v update-rc.d >/dev/null 2>&1; then
  "${SUDO[@]}" update-rc.d zookeeper disable >&2 || true
fi

if [ ! -f "$jars/zookeeper.jar" ]; then
  log "error: $jars/zookeeper.jar missing after installing zookeeper"
  exit 1
fi
echo "$jars"
