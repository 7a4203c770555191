# One role and one database per service: api, bank, mailer and kitchen each log in with their
# own password (the Secrets api-database, bank-database, mailer-database, kitchen-database,
# key `password`) and own
# only their database; none can connect to another's. The image's entrypoint runs this once,
# when the data directory is new. Safe to run again, e.g. on a volume made before it existed:
#   kubectl -n kafka-restaurants exec postgres-0 -- sh /docker-entrypoint-initdb.d/10-service-roles.sh
for service in api bank mailer kitchen; do
    case "$service" in
        api) password="${API_DB_PASSWORD:-}" ;;
        bank) password="${BANK_DB_PASSWORD:-}" ;;
        mailer) password="${MAILER_DB_PASSWORD:-}" ;;
        kitchen) password="${KITCHEN_DB_PASSWORD:-}" ;;
    esac
    if [ -z "$password" ]; then
        echo "service-roles: no database password for $service" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
        --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        --set role="$service" --set password="$password" <<'SQL' || exit 1
SELECT format('CREATE ROLE %I', :'role')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'role', :'role')
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'role') \gexec
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
# The superuser's own databases are not for the services either.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set db="$POSTGRES_DB" <<'SQL' || exit 1
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
SQL
unset service password
