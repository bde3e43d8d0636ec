#!/bin/bash
# Runs once, when the postgres image initialises an empty data directory (files in
# /docker-entrypoint-initdb.d/). Creates the iRODS catalog database and its owner, as
# irods/irods_demo irods_catalog/init-user-db.sh does; the password must match
# plugin_configuration.database in irods/setup_irods.*.json.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<-EOSQL
    CREATE USER irods WITH PASSWORD '${IRODS_DB_PASSWORD:-testpassword}';
    CREATE DATABASE "ICAT" OWNER irods;
    GRANT ALL PRIVILEGES ON DATABASE "ICAT" TO irods;
EOSQL
