#!/bin/sh
# t/lib/pg-stop.sh DIR — stop the PostgreSQL started by pg-start.sh DIR.
# Quiet and successful when it is not running.
set -u
DIR=${1:?usage: pg-stop.sh DIR}
PGUSER_OS=${JMAP_PG_USER:-postgres}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -f "$DIR/data/postmaster.pid" ] || exit 0
if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PGUSER_OS" -- "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null
else
    "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >/dev/null
fi
