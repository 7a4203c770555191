#!/usr/bin/env bash
# Generate the secrets that compose and the Minikube overlay need, with random values, into
# files git ignores, readable by their owner only. Never overwrites a value that exists
# (PostgreSQL keeps the password it was initialised with); a variable added since a file was
# written is appended to it. Delete a file (and the database volume) to start over.
#   deploy/.env                                    for docker compose
#   deploy/k8s/overlays/minikube/secrets.env       for kustomize's secretGenerator
#   deploy/k8s/overlays/minikube/secrets/*.env     one file per credential (database roles,
#                                                  the bank's caller keys)
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

add_missing() {  # append each NAME=value line of stdin whose NAME $1 does not define yet
    local path="$1" line name added=""
    while IFS= read -r line; do
        name="${line%%=*}"
        if ! grep -q "^${name}=" "$path"; then
            printf '%s\n' "$line" >>"$path"
            added="$added $name"
        fi
    done
    if [ -n "$added" ] && [ -n "$existed" ]; then
        echo "added   $added to $path"
    fi
}

# compose: the database superuser, one database role per service (api, bank, mailer, kitchen: each
# logs in with its own), the web replicas' cookie key, one bank key per caller (the bank gets
# all three, api and transactions each only its own), and Grafana's admin password.
env_file="$OUT/.env"
existed=""
[ -e "$env_file" ] && existed=yes
password="$(random_hex 18)"
write_once "$env_file" <<ENV
# docker compose reads this file (deploy/make-secrets.sh wrote it; git ignores it).
POSTGRES_PASSWORD=$password
CART_SECRET=$(random_hex 32)
ENV
add_missing "$env_file" <<ENV
BANK_CALLER_KEY_API=$(random_hex 32)
BANK_CALLER_KEY_TRANSACTIONS=$(random_hex 32)
BANK_CALLER_KEY_OPERATOR=$(random_hex 32)
GRAFANA_ADMIN_PASSWORD=$(random_hex 18)
API_DB_PASSWORD=$(random_hex 18)
BANK_DB_PASSWORD=$(random_hex 18)
MAILER_DB_PASSWORD=$(random_hex 18)
KITCHEN_DB_PASSWORD=$(random_hex 18)
KITCHEN_SECRET=$(random_hex 32)
ENV

minikube="$OUT/k8s/overlays/minikube"
password="$(random_hex 18)"
write_once "$minikube/secrets.env" <<ENV
POSTGRES_PASSWORD=$password
CART_SECRET=$(random_hex 32)
ENV

# One file per credential, each made into a Secret only the pods that use it mount.
mkdir -p "$minikube/secrets"
chmod 700 "$minikube/secrets"
for db in api bank mailer kitchen; do
    password="$(random_hex 18)"
    write_once "$minikube/secrets/$db-database.env" <<ENV
url=postgresql+psycopg://$db:$password@postgres:5432/$db
password=$password
ENV
done
for caller in api transactions operator; do
    write_once "$minikube/secrets/bank-caller-$caller.env" <<ENV
key=$(random_hex 32)
ENV
done
write_once "$minikube/secrets/kitchen-secret.env" <<ENV
key=$(random_hex 32)
ENV
