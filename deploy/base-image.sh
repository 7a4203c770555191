#!/usr/bin/env bash
# Make sure the Dockerfile's base, docker.io/library/python:3.11-slim-bookworm, is in the local
# image store. Where Docker Hub cannot be reached, build a stand-in from Debian packages:
# bookworm's python3 is 3.11, so the same Dockerfile builds on it unchanged.
#
# Usage: deploy/base-image.sh [ENGINE...]   (default: podman; deploy/images.sh passes its own)
# Env:   DEBIAN_MIRROR (default http://deb.debian.org), BASE_PULL=0 to skip trying the pull.
# Cache: the root filesystem tarball in ~/.cache/kafka-restaurants/base-image/, keyed by the
#        recipe below and the host's extra CA certificates, so re-importing it takes seconds.
set -euo pipefail

BASE=docker.io/library/python:3.11-slim-bookworm
RECIPE_LABEL=io.kafka-restaurants.base-recipe
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kafka-restaurants/base-image"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
# Extra trust anchors of this machine (a TLS-intercepting proxy's CA, say): pip inside the
# image build reaches the package index through the same network as the host.
shopt -s nullglob
HOST_CAS=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob

if [ "$#" -gt 0 ]; then engine=("$@"); else engine=(podman); fi

log() { echo "base-image: $*" >&2; }

# The image configuration of python:3.11-slim-bookworm that matters to our Dockerfile.
IMPORT_CHANGES=(
  'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'
  'ENV LANG=C.UTF-8'
  'CMD ["python3"]'
)

# A change to the recipe (not to its comments: `declare -f` drops them), the mirror or the host's
# CAs makes a new base.
recipe_hash() {
  {
    declare -f build_rootfs
    printf '%s\n' "$MIRROR" "${IMPORT_CHANGES[@]}"
    if [ "${#HOST_CAS[@]}" -gt 0 ]; then cat "${HOST_CAS[@]}"; fi
  } | sha256sum | cut -c1-16
}

ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "mmdebstrap is missing: apt-get install mmdebstrap (as root)"
    exit 3
  fi
  log "installing mmdebstrap"
  # Wait for another apt run to finish instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq mmdebstrap >/dev/null
}

# The root filesystem: what python:3.11-slim-bookworm holds, from Debian's packages, without
# documentation. `python`/`pip` live in /usr/local/bin as in the official image, and there is no
# EXTERNALLY-MANAGED marker, so the Dockerfile's `pip install` behaves as it does there.
build_rootfs() {
  local out=$1
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  local hooks=(
    --customize-hook='mkdir -p "$1/usr/local/bin"'
    --customize-hook='ln -s /usr/bin/python3 "$1/usr/local/bin/python"'
    --customize-hook='ln -s /usr/bin/python3 "$1/usr/local/bin/python3"'
    --customize-hook='ln -s /usr/bin/pip3 "$1/usr/local/bin/pip"'
    --customize-hook='ln -s /usr/bin/pip3 "$1/usr/local/bin/pip3"'
    --customize-hook='rm -f "$1"/usr/lib/python3.*/EXTERNALLY-MANAGED'
  )
  if [ "${#HOST_CAS[@]}" -gt 0 ]; then
    hooks+=(--customize-hook="copy-in ${HOST_CAS[*]} /usr/local/share/ca-certificates")
  fi
  hooks+=(--customize-hook='chroot "$1" update-ca-certificates >/dev/null')
  log "building the root filesystem with mmdebstrap (a minute or two)"
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-pip,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "${hooks[@]}" \
    bookworm "$WORK/rootfs.tar" \
    "deb $MIRROR/debian bookworm main" \
    "deb $MIRROR/debian bookworm-updates main" \
    "deb $MIRROR/debian-security bookworm-security main" </dev/null
  mv "$WORK/rootfs.tar" "$out"
}

main() {
  local hash current replaced=""
  hash="$(recipe_hash)"
  if "${engine[@]}" image inspect "$BASE" >/dev/null 2>&1; then
    current="$("${engine[@]}" image inspect --format "{{index .Config.Labels \"$RECIPE_LABEL\"}}" \
      "$BASE" 2>/dev/null || true)"
    case "$current" in
      "" | "<no value>")
        log "$BASE is present (pulled)"
        return
        ;;
      "$hash")
        log "$BASE is present and current"
        return
        ;;
    esac
    log "$BASE was made by another recipe ($current); making it again"
    replaced="$("${engine[@]}" image inspect --format '{{.Id}}' "$BASE")"
  elif [ "${BASE_PULL:-1}" != 0 ] && timeout 300 "${engine[@]}" pull -q "$BASE" >/dev/null 2>&1; then
    log "pulled $BASE"
    return
  else
    log "cannot pull $BASE; making a stand-in from Debian packages"
  fi

  ensure_mmdebstrap
  mkdir -p "$CACHE"
  local tarball="$CACHE/rootfs-$hash.tar"
  if [ ! -s "$tarball" ]; then
    find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' -delete # an older recipe's
    build_rootfs "$tarball"
  fi
  local -a changes=(--change "LABEL $RECIPE_LABEL=$hash")
  local change
  for change in "${IMPORT_CHANGES[@]}"; do changes+=(--change "$change"); done
  "${engine[@]}" import "${changes[@]}" "$tarball" "$BASE" >/dev/null
  log "made $BASE from $tarball"
  if [ -n "$replaced" ]; then
    # The old stand-in, unless images built on it still hold it.
    "${engine[@]}" rmi "$replaced" >/dev/null 2>&1 || true
  fi
}

main
