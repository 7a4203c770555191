#!/usr/bin/env bash
# Build the project's image, kafka-restaurants:<version>, from the repository's Dockerfile with
# whichever container engine works here: docker when its daemon answers, else podman (installed
# with apt-get on a Debian machine when missing; CI starts from a fresh one).
#
# Usage: deploy/images.sh          build (`make images`); quick when nothing changed
#        deploy/images.sh engine   print the engine command line the build uses (for tests)
# Exit status 3: no working engine and none could be installed (not root, or no apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)"
IMAGE="kafka-restaurants:${VERSION}"

# The build context: what .dockerignore lets in.
CONTEXT=(Dockerfile pyproject.toml requirements/runtime.txt requirements/build.txt README.md src
  deploy/docker/healthcheck.py)

log() { echo "images: $*" >&2; }

# The commit the image is built from; with local changes to the build context, "+" and a digest
# of it. Besides labelling the image, this makes podman re-run the runtime stage's pip install:
# buildah (1.28) reuses a cached RUN --mount=from=builder even when the builder's wheels changed.
revision() {
  local head digest
  head="$(git rev-parse HEAD 2>/dev/null)" || head=unknown
  if [ "$head" != unknown ] && [ -z "$(git status --porcelain -- "${CONTEXT[@]}")" ]; then
    echo "$head"
    return
  fi
  digest="$(find "${CONTEXT[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
    ! -path '*.egg-info/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
  echo "$head+$digest"
}

# The engine as a command line. Podman runs with runc: crun fails on hosts with hybrid cgroups.
detect_engine() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    echo docker
  elif command -v podman >/dev/null; then
    if command -v runc >/dev/null; then echo "podman --runtime runc"; else echo podman; fi
  else
    return 1
  fi
}

install_podman() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "no working docker or podman; install podman (apt-get install podman buildah runc uidmap)"
    exit 3
  fi
  log "installing podman"
  # Wait for another apt run to finish instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    podman buildah runc uidmap mmdebstrap >/dev/null
}

engine_line() {
  detect_engine || { install_podman && detect_engine; }
}

# Images that earlier builds left untagged: every source change leaves a pip-install layer of
# ~200 MB behind. Ours carry the image's title label, or (podman, builder stage) the stand-in
# base's. The builder stage's last image of this build stays: it is the next build's cache.
remove_superseded() {
  local keep=$1 id
  shift
  local -a engine=("$@") stale=()
  while read -r id; do
    if [ -n "$id" ] && [[ "${id#sha256:}" != "$keep"* ]]; then stale+=("$id"); fi
  done < <(for label in org.opencontainers.image.title=kafka-restaurants \
    io.kafka-restaurants.base-recipe; do
    "${engine[@]}" images --quiet --no-trunc --filter dangling=true --filter "label=$label"
  done | sort -u)
  if [ "${#stale[@]}" -gt 0 ]; then
    # Best effort: an image another build is using right now stays.
    "${engine[@]}" rmi "${stale[@]}" >/dev/null 2>&1 || true
  fi
}

build() {
  local -a engine
  read -r -a engine <<<"$(engine_line)"
  local -a args=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=$(revision)" -t "$IMAGE")
  # The base is pulled, or made from Debian packages where Docker Hub is out of reach.
  deploy/base-image.sh "${engine[@]}"
  if [ "${engine[0]}" = podman ]; then
    # Docker format keeps the HEALTHCHECK (OCI images have none). Host network: the build
    # reaches the package index the way the host does. The base is local, never pulled.
    args+=(--format docker --network host --pull=never --layers)
  fi
  log "building $IMAGE with ${engine[*]}"
  BUILD_OUTPUT="$(mktemp)"
  trap 'rm -f "$BUILD_OUTPUT"' EXIT
  "${engine[@]}" build "${args[@]}" . | tee "$BUILD_OUTPUT"
  log "built $IMAGE ($("${engine[@]}" image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-19))"
  if [ "${engine[0]}" = podman ]; then
    # buildah ends each stage's output with "--> <id>"; the builder is stage 1.
    local builder
    builder="$(awk '/^\[2\//{exit} /^--> [0-9a-f]+$/{id=$2} END{print id}' "$BUILD_OUTPUT")"
    if [ -n "$builder" ]; then remove_superseded "$builder" "${engine[@]}"; fi
  else
    "${engine[0]}" image prune --force --filter label=org.opencontainers.image.title=kafka-restaurants >/dev/null
  fi
}

case "${1:-build}" in
  build) build ;;
  engine) engine_line ;;
  *)
    echo "usage: $0 [build|engine]" >&2
    exit 2
    ;;
esac
