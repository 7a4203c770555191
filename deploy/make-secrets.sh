#!/usr/bin/env bash
# Generate the secrets that compose and the Minikube overlay need, with random values, into
# files git ignores. Never overwrites a file that exists (PostgreSQL keeps the password it was
# initialised with); delete the file and the database volume to start over.
#   deploy/.env                                 for docker compose
#   deploy/k8s/overlays/minikube/secrets.env    for kustomize's secretGenerator
# Usage: deploy/make-secrets.sh [OUTPUT_ROOT]   (OUTPUT_ROOT defaults to this deploy/ folder)
set -euo pipefail

OUT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"

random_hex() {  # $1 bytes of randomness as hex: safe inside a URL and an env file
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

write_once() {  # write stdin to $1 unless it exists, readable by the owner only
    local path="$1"
    if [ -e "$path" ]; then
        echo "kept     $path"
        cat >/dev/null
        return
    fi
    mkdir -p "$(dirname "$path")"
    (umask 077 && cat >"$path")
    echo "written  $path"
}

password="$(random_hex 18)"
write_once "$OUT/.env" <<ENV
# docker compose reads this file (deploy/make-secrets.sh wrote it; git ignores it).
POSTGRES_PASSWORD=$password
CART_SECRET=$(random_hex 32)
ENV

password="$(random_hex 18)"
write_once "$OUT/k8s/overlays/minikube/secrets.env" <<ENV
POSTGRES_PASSWORD=$password
DATABASE_URL=postgresql+psycopg://restaurants:$password@postgres:5432/restaurants
CART_SECRET=$(random_hex 32)
ENV
