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

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=apt-lib.sh
. "$here/apt-lib.sh"
apt_ensure buildah skopeo umoci binutils
