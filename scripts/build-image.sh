#!/usr/bin/env bash
# Builds the dubbo-dns container image from this checkout, with no container
# registry: the base images are assembled from Debian packages and the Node 24
# binary that `npm ci` put in node_modules, then the Containerfile at the
# repository root compiles and packs the application on top of them.
#
#   scripts/build-image.sh [--oci-archive FILE] [--rebuild]
#
#   --oci-archive FILE  also write the image as an OCI archive (for
#                       `kind load image-archive`, `ctr images import`,
#                       `skopeo copy oci-archive:FILE docker://...`);
#                       its reference is docker.io/library/dubbo-dns:VERSION,
#                       the name a Pod's `image: dubbo-dns:VERSION` resolves to.
#   --rebuild           ignore the cache and build everything again.
#
# The image is tagged localhost/dubbo-dns:VERSION (VERSION from package.json)
# in the local containers storage (buildah/podman). Everything is cached by a
# hash of its inputs under $DUBBO_DNS_CACHE/image (default
# ~/.cache/dubbo-dns/image): the Debian packages' versions, the Node binary,
# the npm used in the build stage, this script, the Containerfile,
# package.json, package-lock.json, tsconfig*.json, src/ and bin/. With nothing
# changed a rerun takes seconds.
#
# Needs: root (buildah's storage and the chroot build), buildah, skopeo, strip
# (test/tools/ensure-image-tools.sh installs them), apt-get with current
# package lists, and `npm ci` done in this checkout. The build stage reaches
# the npm registry. Progress goes to stderr; stdout gets KEY=value lines:
# IMAGE, IMAGE_ID, IMAGE_SIZE (uncompressed bytes), OCI_ARCHIVE (if asked).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

archive_out="" rebuild=0
while [ $# -gt 0 ]; do
  case "$1" in
    --oci-archive|--output) [ $# -ge 2 ] || die "$1 needs a file"; archive_out=$2; shift 2 ;;
    --oci-archive=*|--output=*) archive_out=${1#*=}; shift ;;
    --rebuild) rebuild=1; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--oci-archive FILE] [--rebuild]" >&2; exit 2 ;;
  esac
done
if [ -n "$archive_out" ]; then
  case "$archive_out" in *:*) die "--oci-archive: the file name must not contain ':'" ;; esac
  archive_out=$(cd "$(dirname "$archive_out")" && pwd)/$(basename "$archive_out")
fi

[ "$(id -u)" = 0 ] || die "run as root: buildah's local storage and the chroot build need it"
for tool in buildah skopeo strip apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run test/tools/ensure-image-tools.sh (Debian: buildah skopeo binutils)"
done

started=$(date +%s)
# The Node 24 binary that the `node` devDependency installed: the same build the tests run on.
case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64) node_arch=arm64 ;;
  *) die "no Node binary package for $(uname -m)" ;;
esac
node_pkg=""
for dir in node_modules/node/node_modules/node-linux-$node_arch node_modules/node-linux-$node_arch; do
  if [ -x "$dir/bin/node" ]; then node_pkg=$dir; break; fi
done
[ -n "$node_pkg" ] || die "node_modules has no Node binary (node-linux-$node_arch): run npm ci first"
node_bin=$node_pkg/bin/node
node_version=$("$node_bin" --version)
case "$node_version" in v24.*) ;; *) die "$node_bin is $node_version, want v24" ;; esac

pkg() { "$node_bin" -e "const p = require('./package.json'); const v = $1; process.stdout.write(String(v ?? ''))"; }
version=$(pkg 'p.version')
license=$(pkg 'p.license')
description=$(pkg 'p.description')
# Where the source lives: package.json's repository, else the clone's origin; empty when neither says.
source_url=$(pkg 'typeof p.repository === "string" ? p.repository : p.repository?.url')
if [ -z "$source_url" ]; then source_url=$(git remote get-url origin 2>/dev/null || true); fi
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
inputs=(Containerfile .containerignore package.json package-lock.json tsconfig*.json src bin)
if [ "$revision" != unknown ] && [ -n "$(git status --porcelain -- "${inputs[@]}" 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi

cache="${DUBBO_DNS_CACHE:-$HOME/.cache/dubbo-dns}/image"
mkdir -p "$cache/debs"
exec 9>"$cache/build.lock"
flock 9   # one build at a time per machine: they share the cache and the storage

# --- base images -------------------------------------------------------------
# Runtime base (distroless style): glibc, libgcc, libstdc++ (what `ldd node` lists), the CA bundle,
# /etc/services and /etc/protocols, passwd/group with nonroot (65532), the stripped Node binary.
# Build base: the runtime base plus busybox (a shell for RUN) and npm, for the Containerfile's
# build stages only; nothing of it reaches the final image.
NPM_VERSION=11.19.1
# gcc-N-base holds the copyright of libgcc and libstdc++ (N is the release's GCC: 12 on Debian 12).
gcc_base=$(apt-cache depends libgcc-s1 2>/dev/null | sed -n 's/^ *Depends: \(gcc-[0-9]*-base\).*/\1/p' | head -n1)
runtime_debs=(libc6 libgcc-s1 libstdc++6 ${gcc_base:-gcc-12-base} netbase ca-certificates base-files)
build_debs=(busybox-static)
# deb_file[name] = the cached .deb of the candidate version of each package.
declare -A deb_file
candidates=$(apt-cache show --no-all-versions "${runtime_debs[@]}" "${build_debs[@]}" 2>/dev/null |
  sed -n 's/^\(Package\|Version\|Architecture\): //p' | paste - - - || true)
for p in "${runtime_debs[@]}" "${build_debs[@]}"; do
  read -r _ v a < <(awk -v p="$p" '$1 == p' <<<"$candidates") || die "apt knows no package $p: run apt-get update"
  f="$cache/debs/${p}_${v//:/%3a}_${a}.deb"
  if [ ! -s "$f" ]; then
    tmp=$(mktemp -d "$cache/debs/.dl.XXXXXX")
    (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$p=$v" >&2) ||
      { rm -rf "$tmp"; die "apt-get download $p=$v failed: run apt-get update"; }
    mv "$tmp"/*.deb "$f" && rmdir "$tmp"
  fi
  deb_file[$p]=$f
done
npm_tgz="$cache/npm-$NPM_VERSION.tgz"
if [ ! -s "$npm_tgz" ]; then
  tmp=$(mktemp -d "$cache/.npm.XXXXXX")
  (cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || { rm -rf "$tmp"; die "npm pack npm@$NPM_VERSION failed"; }
  mv "$tmp/npm-$NPM_VERSION.tgz" "$npm_tgz" && rmdir "$tmp"
fi

base_key=$( {
  for p in "${runtime_debs[@]}" "${build_debs[@]}"; do basename "${deb_file[$p]}"; done
  sha256sum "$node_bin" | cut -d' ' -f1
  echo "npm $NPM_VERSION"
  sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
} | sha256sum | cut -c1-16)
base_ref=localhost/dubbo-dns-base:$base_key
build_base_ref=localhost/dubbo-dns-build-base:$base_key

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }
# skopeo without the storage library's "using prior storage driver" info line
skopeo() { command skopeo "$@" 2> >(grep -v 'using prior storage driver' >&2); }

# commit FROM DIR REF [buildah config args...]: FROM (an image, or scratch) plus one layer holding
# DIR's tree at /, owners and modes as they are in DIR (buildah copy would make everything root's).
commit_rootfs() {
  local from=$1 dir=$2 ref=$3 ctr mnt
  shift 3
  ctr=$(buildah from --pull=never "$from")
  mnt=$(buildah mount "$ctr")
  cp -a "$dir/." "$mnt/"
  buildah umount "$ctr" >/dev/null
  buildah config "$@" "$ctr"
  buildah commit --quiet --rm "$ctr" "$ref" >/dev/null
}

if [ "$rebuild" = 1 ] || ! have_image "$base_ref" || ! have_image "$build_base_ref"; then
  log "assembling the base images ($base_key) from ${runtime_debs[*]} and Node $node_version"
  work=$(mktemp -d "$cache/.base.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  rootfs=$work/rootfs
  mkdir -p "$rootfs"
  for p in libc6 libgcc-s1 libstdc++6 "${runtime_debs[3]}" netbase; do dpkg-deb -x "${deb_file[$p]}" "$rootfs"; done
  # From ca-certificates only the bundle (what update-ca-certificates would write), from base-files
  # only the OS identity and the licence texts the copyright files point to.
  for p in ca-certificates base-files; do
    dpkg-deb -x "${deb_file[$p]}" "$work/deb-$p"
    mkdir -p "$rootfs/usr/share/doc/$p"
    cp "$work/deb-$p/usr/share/doc/$p/copyright" "$rootfs/usr/share/doc/$p/"
  done
  mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/lib" "$rootfs/usr/share"
  for crt in "$work"/deb-ca-certificates/usr/share/ca-certificates/mozilla/*.crt; do
    sed -e '$a\' "$crt"
  done >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  cp -a "$work/deb-base-files/usr/lib/os-release" "$rootfs/usr/lib/"
  cp -a "$work/deb-base-files/etc/os-release" "$work/deb-base-files/etc/debian_version" "$rootfs/etc/"
  cp -a "$work/deb-base-files/usr/share/common-licenses" "$rootfs/usr/share/"
  # What never runs: iconv modules (Node converts with its built-in ICU), debugger and lint
  # helpers, manuals, changelogs (copyright files stay).
  rm -rf "$rootfs"/usr/lib/*-linux-gnu/gconv "$rootfs"/usr/share/{gcc,gdb,lintian,man,info} \
    "$rootfs"/etc/ld.so.conf.d
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  find "$rootfs/usr/share/doc" -type l -delete
  # Scanners (trivy, grype, syft) read the package list from here in distroless images.
  mkdir -p "$rootfs/var/lib/dpkg/status.d"
  for p in "${runtime_debs[@]}"; do
    { dpkg-deb -f "${deb_file[$p]}"; } >"$rootfs/var/lib/dpkg/status.d/$p"
  done
  # Users as distroless has them; no shell anywhere, so no login shell either.
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  printf 'hosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' >"$rootfs/etc/nsswitch.conf"
  # Mount points a runtime fills (they must exist: a read-only root cannot grow them).
  mkdir -p "$rootfs"/{proc,sys,dev,tmp,root,home/nonroot}
  chmod 1777 "$rootfs/tmp"
  chmod 700 "$rootfs/root" "$rootfs/home/nonroot"
  # The Node binary, without its symbol table (about 18 MB; Node keeps its dynamic symbols).
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/share/doc/node"
  strip --strip-all -o "$rootfs/usr/local/bin/node" "$node_bin"
  cp "$node_pkg/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
  # Of the shared libraries keep those Node links (transitively) and the NSS modules glibc loads
  # by name; the rest of libc6 (libmvec, malloc debugging, NIS, ...) is loaded by nothing here.
  multiarch=$(cd "$rootfs/lib" && ls -d ./*-linux-gnu* | head -n1)
  libdirs=("$rootfs/lib/${multiarch#./}" "$rootfs/usr/lib/${multiarch#./}")
  declare -A keep=()
  queue=("$rootfs/usr/local/bin/node")
  while [ "${#queue[@]}" -gt 0 ]; do
    elf=${queue[0]}
    queue=("${queue[@]:1}")
    for lib in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -z "${keep[$lib]:-}" ] || continue
      for d in "${libdirs[@]}"; do
        if [ -e "$d/$lib" ]; then keep[$lib]=1; queue+=("$(readlink -f "$d/$lib")"); continue 2; fi
      done
      die "node needs $lib, which no base package provides"
    done
  done
  for d in "${libdirs[@]}"; do
    for f in "$d"/*.so*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      name=${f##*/} target=$(readlink -f "$f")
      case "$name" in ld-linux*|libnss_files*|libnss_dns*) continue ;; esac
      [ -n "${keep[$name]:-}" ] && continue
      # a real file stays when a kept name links to it (libstdc++.so.6 -> libstdc++.so.6.0.30)
      for k in "${!keep[@]}"; do
        for kd in "${libdirs[@]}"; do [ "$(readlink -f "$kd/$k" 2>/dev/null)" = "$target" ] && continue 3; done
      done
      rm -f "$f"
    done
  done
  # Fail here, not in a Pod, if a library is missing.
  chroot "$rootfs" /usr/local/bin/node -e 'if (process.version !== process.argv[1]) process.exit(1)' "$node_version" ||
    die "the assembled base cannot run Node $node_version"
  chown 65532:65532 "$rootfs/home/nonroot"
  commit_rootfs scratch "$rootfs" "$base_ref" \
    --env PATH=/usr/local/bin:/usr/bin:/bin --user 65532:65532 --workingdir /home/nonroot \
    --label org.opencontainers.image.description="Node $node_version on Debian $(cat "$rootfs/etc/debian_version") libraries, no shell"

  # Build base: add busybox (a shell and the usual tools for RUN) and npm.
  build=$work/build
  mkdir -p "$build"
  dpkg-deb -x "${deb_file[busybox-static]}" "$work/bb"
  mkdir -p "$build/bin" "$build/usr/bin" "$build/usr/sbin" "$build/sbin" "$build/usr/local/lib/node_modules"
  cp "$work/bb/bin/busybox" "$build/bin/busybox"
  "$build/bin/busybox" --list-full | while read -r applet; do
    [ -e "$build/$applet" ] || ln -s /bin/busybox "$build/$applet"
  done
  tar -xzf "$npm_tgz" -C "$build/usr/local/lib/node_modules"
  mv "$build/usr/local/lib/node_modules/package" "$build/usr/local/lib/node_modules/npm"
  mkdir -p "$build/usr/local/bin"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$build/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$build/usr/local/bin/npx"
  commit_rootfs "$base_ref" "$build" "$build_base_ref" --user 0:0 --workingdir / --env HOME=/root \
    --env npm_config_update_notifier=false --env npm_config_fund=false --env npm_config_audit=false
  # Older bases are never used again.
  buildah images --format '{{.Name}}:{{.Tag}}' | grep -E '^localhost/dubbo-dns-(build-)?base:' |
    grep -v ":$base_key\$" | xargs -r buildah rmi >/dev/null 2>&1 || true
  rm -rf "$work"
  trap - EXIT
fi

# --- the image ---------------------------------------------------------------
image=localhost/dubbo-dns:$version
archive_ref=docker.io/library/dubbo-dns:$version
app_key=$( {
  echo "$base_key $(buildah inspect --type image --format '{{.FromImageID}}' "$base_ref" 2>/dev/null)"
  echo "$version|$license|$description|$source_url|$revision"
  find "${inputs[@]}" -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
cached_archive=$cache/dubbo-dns-$version-$app_key.oci.tar
cached_id=$cache/dubbo-dns-$version-$app_key.id

image_id() { buildah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null; }

if [ "$rebuild" = 0 ] && [ -s "$cached_archive" ] && [ -s "$cached_id" ] && [ "$(image_id "$image")" = "$(cat "$cached_id")" ]; then
  log "$image is up to date ($app_key)"
elif [ "$rebuild" = 0 ] && [ -s "$cached_archive" ]; then
  log "restoring $image from the cached archive ($app_key)"
  skopeo copy --quiet "oci-archive:$cached_archive:$archive_ref" "containers-storage:$image" >&2
  image_id "$image" >"$cached_id"
else
  log "building $image ($app_key)"
  build_started=$(date +%s)
  # The build stages run npm as this machine does: same registry, same CA bundle (a TLS-inspecting
  # proxy's CA, for one), same cache (warm after the checkout's own `npm ci`). Mounted for the RUN
  # steps only; nothing of it lands in a layer of the final image.
  npm_get() { local v; v=$(npm config get "$1" 2>/dev/null || true); case "$v" in null|undefined) v="" ;; esac; echo "$v"; }
  npmrc=$(mktemp "$cache/.npmrc.XXXXXX")
  trap 'rm -f "$npmrc"' EXIT
  npm_volumes=(-v "$npmrc:/root/.npmrc:ro")
  echo "registry=$(npm_get registry)" >"$npmrc"
  for key in strict-ssl proxy https-proxy noproxy; do
    v=$(npm_get "$key")
    [ -z "$v" ] || echo "$key=$v" >>"$npmrc"
  done
  ca=$(npm_get cafile)
  [ -n "$ca" ] || ca=${NODE_EXTRA_CA_CERTS:-}
  if [ -n "$ca" ] && [ -s "$ca" ]; then
    echo "cafile=/root/.npm-ca.pem" >>"$npmrc"
    npm_volumes+=(-v "$ca:/root/.npm-ca.pem:ro")
  fi
  npm_cache=$(npm_get cache)
  if [ -n "$npm_cache" ] && [ -d "$npm_cache" ]; then npm_volumes+=(-v "$npm_cache:/root/.npm"); fi
  # The labels are given again as --label: with --layers, buildah reuses a cached LABEL step even when
  # the build args it expands have changed (a new revision would keep the old commit's label).
  buildah build --isolation chroot --layers --force-rm --pull=never "${npm_volumes[@]}" \
    --build-arg BASE="$base_ref" --build-arg BUILD_BASE="$build_base_ref" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg SOURCE="$source_url" \
    --build-arg LICENSES="$license" --build-arg DESCRIPTION="$description" \
    --label org.opencontainers.image.version="$version" --label org.opencontainers.image.revision="$revision" \
    --label org.opencontainers.image.source="$source_url" --label org.opencontainers.image.licenses="$license" \
    --label org.opencontainers.image.description="$description" \
    -f Containerfile -t "$image" . >&2
  log "built in $(( $(date +%s) - build_started )) s; writing the OCI archive"
  rm -f "$cache"/dubbo-dns-*.oci.tar "$cache"/dubbo-dns-*.id   # one cached build is enough
  skopeo copy --quiet "containers-storage:$image" "oci-archive:$cached_archive.tmp:$archive_ref" >&2
  mv "$cached_archive.tmp" "$cached_archive"
  image_id "$image" >"$cached_id"
fi

if [ -n "$archive_out" ]; then
  cp "$cached_archive" "$archive_out.tmp" && mv "$archive_out.tmp" "$archive_out"
fi

# Uncompressed size: the layers as containers-storage holds them (plain tar), what
# `podman images` shows and what a node's disk holds once the image is unpacked.
size=$(skopeo inspect --raw "containers-storage:$image" | "$node_bin" -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () =>
    process.stdout.write(String(JSON.parse(s).layers.reduce((n, l) => n + l.size, 0))));')
log "$image: $(awk -v b="$size" 'BEGIN { printf "%.1f MB", b / 1e6 }') uncompressed; $(( $(date +%s) - started )) s in all"
printf 'IMAGE=%s\nIMAGE_ID=%s\nIMAGE_SIZE=%s\n' "$image" "$(cat "$cached_id")" "$size"
[ -z "$archive_out" ] || printf 'OCI_ARCHIVE=%s\n' "$archive_out"
