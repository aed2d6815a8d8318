#!/bin/sh
# PostgreSQL's entrypoint runs this once, on an empty volume: one database per service.
# (The services would create their own databases too; this keeps the original's layout.)
set -eu
for database in auth_db lang_db greeter_db caller_db gateway_db; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE $database" || echo "$database exists"
done
