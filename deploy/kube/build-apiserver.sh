#!/usr/bin/env bash
# Build a real kube-apiserver (and kubectl, if the machine has none of v1.30+) from the Go module
# proxy alone, for tests/deploy's server-side checks. Idempotent: seconds when the binary is cached.
#   outputs: $KUBE_CACHE/bin/kube-apiserver, $KUBE_CACHE/bin/kubectl (only when built)
#   etcd:    Debian's etcd-server, unpacked into $KUBE_CACHE/etcd (no service is started)
# The k8s.io/kubernetes module zip has neither staging/src/k8s.io/* nor vendor/, so each
# `replace k8s.io/X => ./staging/src/k8s.io/X` is pointed at the published k8s.io/X module instead.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.32.13}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
KUBE_CACHE="${KUBE_CACHE:-$HOME/.cache/kafka-restaurants/kube-$K8S_VERSION}"
export PATH="/usr/local/go/bin:$PATH" GOFLAGS=-mod=mod
export GOPATH="${GOPATH:-$HOME/.cache/kafka-restaurants/go}" GOCACHE="${GOCACHE:-$HOME/.cache/kafka-restaurants/go-build}"
mkdir -p "$KUBE_CACHE/bin"

kubectl_is_recent() {
    command -v kubectl >/dev/null 2>&1 || return 1
    local minor
    minor=$(kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["minor"].rstrip("+"))') || return 1
    [ "${minor:-0}" -ge 30 ]
}

targets=()
[ -x "$KUBE_CACHE/bin/kube-apiserver" ] || targets+=(kube-apiserver)
if ! kubectl_is_recent && [ ! -x "$KUBE_CACHE/bin/kubectl" ]; then targets+=(kubectl); fi

if [ "${#targets[@]}" -gt 0 ]; then
    command -v go >/dev/null || { echo "Go is needed to build ${targets[*]}" >&2; exit 1; }
    echo "building ${targets[*]} $K8S_VERSION from the Go module proxy (about 7 minutes cold)"
    src=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    work="$KUBE_CACHE/src"
    rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"
    cd "$work"
    rm -rf vendor go.work go.work.sum
    replaces=()
    for module in $(grep -oE 'k8s.io/[a-z0-9-]+ => \./staging' go.mod | awk '{print $1}'); do
        replaces+=("-replace=$module=$module@$STAGING_VERSION")
    done
    go mod edit "${replaces[@]}"
    # Not served at the staging version, and imported by neither binary.
    go mod edit -droprequire=k8s.io/sample-apiserver -dropreplace=k8s.io/sample-apiserver \
        -dropreplace=k8s.io/sample-cli-plugin -dropreplace=k8s.io/sample-controller
    # The proxy refuses k8s.io/endpointslice v0.32.13 (403); v0.32.12 has the same API.
    if [ "$STAGING_VERSION" = "v0.32.13" ]; then
        go mod edit -replace=k8s.io/endpointslice=k8s.io/endpointslice@v0.32.12
    fi
    minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags="$ldflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    done
    for target in "${targets[@]}"; do
        go build -p "$(nproc)" -trimpath -ldflags "$ldflags" -o "$KUBE_CACHE/bin/$target" "./cmd/$target"
    done
    cd / && rm -rf "$work"
fi

if [ ! -x "$KUBE_CACHE/etcd/usr/bin/etcd" ]; then
    debs=$(mktemp -d)
    (cd "$debs" && apt-get download etcd-server >/dev/null 2>&1) \
        || { apt-get update -qq && (cd "$debs" && apt-get download etcd-server >/dev/null); }
    dpkg -x "$debs"/etcd-server_*.deb "$KUBE_CACHE/etcd"
    rm -rf "$debs"
fi
echo "kube-apiserver $K8S_VERSION ready in $KUBE_CACHE"
