#!/usr/bin/env bash
# Entrypoint of the local postgres:15 stand-in: like the official image's, on
# first start it creates the cluster in $PGDATA with superuser POSTGRES_USER
# (default postgres), password POSTGRES_PASSWORD (required) and database
# POSTGRES_DB (default: the user's name); then it runs the server as postgres.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?the postgres:15 stand-in needs POSTGRES_PASSWORD}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w -s start
    if [ "$db" != postgres ]; then
        echo 'CREATE DATABASE :"db";' |
            psql -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$user" -d postgres -v db="$db"
    fi
    pg_ctl -D "$PGDATA" -m fast -w -s stop
    echo "initialised $PGDATA: user $user, database $db"
fi

exec "$@"
