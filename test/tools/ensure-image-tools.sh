#!/usr/bin/env bash
# Installs the Debian packages that build and unpack the container image
# (scripts/build-image.sh, test/image/): buildah (build, tag, commit),
# skopeo (OCI layouts and archives), umoci (unpack an image into a root
# filesystem), binutils (strip for the Node binary in the base). Only what is
# missing is installed, without recommends: no container runtime is needed,
# because the build runs with `--isolation chroot` (crun/runc cannot start
# containers on these machines). Idempotent; run as root (or with
# passwordless sudo). Prints nothing on stdout; progress goes to stderr.
set -euo pipefail

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }

packages=(buildah skopeo umoci binutils)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
    missing+=("$p")
  fi
done
[ "${#missing[@]}" -gt 0 ] || exit 0

SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { log "error: need root (or sudo) to install: ${missing[*]}"; exit 1; }
  SUDO=(sudo -n)
fi
log "installing missing Debian packages: ${missing[*]}"

# None of these ships a service today, but keep maintainer scripts from
# starting any (same policy-rc.d guard as ensure.sh: exit 101 = "not now").
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
printf '#!/bin/sh\n# written by dubbo-dns test/tools/ensure-image-tools.sh during apt-get install\nexit 101\n' |
  "${SUDO[@]}" tee "$policy" >/dev/null
"${SUDO[@]}" chmod 755 "$policy"

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >&2
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2
