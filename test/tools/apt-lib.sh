# shellcheck shell=bash
# Sourced by the ensure scripts: installs Debian packages the tests need, only those missing, and
# never lets an install start a system service (the tests run their own knotd, etcd, ZooKeeper on
# private ports and directories). Needs root or passwordless sudo. Progress goes to stderr.
#
#   . test/tools/apt-lib.sh
#   apt_ensure PKG...          # install what is missing (no recommends)
#   keep_service_off NAME...   # disable system services a package may have brought

_apt_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }

_apt_sudo=()
if [ "$(id -u)" != 0 ]; then _apt_sudo=(sudo -n); fi

# apt_ensure PKG...: installs the packages that are not installed yet.
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then missing+=("$p"); fi
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ "${#_apt_sudo[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
    _apt_log "error: need root (or sudo) to install: ${missing[*]}"
    return 1
  fi
  _apt_log "installing missing Debian packages: ${missing[*]}"

  # Keep maintainer scripts from starting services: invoke-rc.d and deb-systemd-invoke both
  # honour policy-rc.d's exit 101 ("not now"). An existing policy is put back afterwards.
  local policy=/usr/sbin/policy-rc.d backup="" rc=0
  if [ -e "$policy" ]; then
    backup=$(mktemp /tmp/policy-rc.d.XXXXXX)
    "${_apt_sudo[@]}" cp -p "$policy" "$backup"
  fi
  printf '#!/bin/sh\n# written by dubbo-dns test/tools/apt-lib.sh during apt-get install\nexit 101\n' |
    "${_apt_sudo[@]}" tee "$policy" >/dev/null
  "${_apt_sudo[@]}" chmod 755 "$policy"

  "${_apt_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2 &&
    "${_apt_sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2 || rc=$?

  if [ -n "$backup" ]; then
    "${_apt_sudo[@]}" cp -p "$backup" "$policy" && rm -f "$backup"
  else
    "${_apt_sudo[@]}" rm -f "$policy"
  fi
  return "$rc"
}

# keep_service_off NAME...: the services stay off now and at boot, on whatever init is there.
keep_service_off() {
  local s
  for s in "$@"; do
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      if systemctl list-unit-files "$s.service" >/dev/null 2>&1; then
        "${_apt_sudo[@]}" systemctl disable --now "$s.service" >&2 || true
      fi
    elif [ -x "/etc/init.d/$s" ] && command -v update-rc.d >/dev/null 2>&1; then
      "${_apt_sudo[@]}" update-rc.d "$s" disable >&2 || true
    fi
  done
}
