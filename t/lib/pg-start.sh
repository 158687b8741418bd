#!/bin/sh
# t/lib/pg-start.sh DIR PORT — start a private PostgreSQL 15 for the tests.
#
# Cluster in DIR/data, Unix socket in DIR, TCP on 127.0.0.1:PORT only, server
# log DIR/server.log. PostgreSQL refuses to run as root, so the server runs as
# the OS user "postgres" (override: JMAP_PG_USER). Creates the role
# jmap / password jmappw with CREATEDB (tests create one database per test
# file) and a database "jmap" owned by it. Stop with t/lib/pg-stop.sh DIR.
set -eu
DIR=${1:?usage: pg-start.sh DIR PORT}
PORT=${2:?usage: pg-start.sh DIR PORT}
PGUSER_OS=${JMAP_PG_USER:-postgres}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "pg-start: no PostgreSQL server binaries (install postgresql)" >&2; exit 1; }

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ "$(id -u)" -eq 0 ]; then chown "$PGUSER_OS" "$DIR"; fi
chmod 755 "$DIR"

if [ ! -s "$DIR/data/PG_VERSION" ]; then
    printf '%s' "pgadmin-$$-$(date +%s)" > "$DIR/pw"
    if [ "$(id -u)" -eq 0 ]; then chown "$PGUSER_OS" "$DIR/pw"; fi
    chmod 600 "$DIR/pw"
    as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/pw" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 -N \
        > "$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
fi

if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" \
        start > "$DIR/pg_ctl.log" 2>&1; then
    echo "pg-start: PostgreSQL did not start on 127.0.0.1:$PORT:" >&2
    cat "$DIR/pg_ctl.log" "$DIR/server.log" >&2 2>/dev/null || true
    exit 1
fi

psql_admin() {
    as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres "$@"
}
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='jmap'")" != 1 ]; then
    psql_admin -c "CREATE ROLE jmap LOGIN CREATEDB PASSWORD 'jmappw'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='jmap'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE jmap OWNER jmap"
fi
echo "pg-start: PostgreSQL on 127.0.0.1:$PORT (socket dir $DIR), role jmap/jmappw"
