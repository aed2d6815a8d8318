#!/bin/sh
# PostgreSQL's entrypoint runs this once, on an empty volume: for each service, a role of its own
# (password from <SERVICE>_DB_PASSWORD) owning its database, which no other role may connect to.
# Services never hold the superuser: a leaked DATABASE_URL opens one service's data, not all.
set -eu
for service in auth lang greeter caller gateway; do
  variable="$(echo "$service" | tr '[:lower:]-' '[:upper:]_')_DB_PASSWORD"
  password="$(printenv "$variable" || true)"
  if [ -z "$password" ]; then
    echo "init-db.sh: set $variable" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$service" -v password="$password" -v database="${service}_db" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
ALTER DATABASE :"database" OWNER TO :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"role";
SQL
done
