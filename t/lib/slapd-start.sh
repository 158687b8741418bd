#!/bin/bash
# slapd-start.sh DIR PORT [LDIF] — a private slapd for tests.
#
# Writes DIR/slapd.conf (core, cosine, inetorgperson schema; mdb in DIR/db;
# suffix dc=example,dc=com; rootdn cn=admin,dc=example,dc=com / rootpw secret;
# anonymous read allowed), starts slapd on ldap://127.0.0.1:PORT/ only (pid in
# DIR/slapd.pid, log in DIR/slapd.log), waits (<= ~5 s) until it answers, then
# loads LDIF with ldapadd. The LDIF is loaded once per DIR: a restart on the
# same DIR (after slapd-stop.sh) reuses the database and skips loading.
# Exits non-zero with a message on failure (and stops a slapd it started).
# With SLAPD_TLS=PKIDIR (a mkpki.sh OUTDIR) slapd also offers StartTLS with
# PKIDIR/server.pem (issued by PKIDIR/ca.pem for 127.0.0.1 and localhost).
# Example: t/lib/slapd-start.sh /tmp/ldap 18189 /tmp/pki/directory.ldif
set -u

die() {
    echo "slapd-start.sh: $*" >&2
    exit 1
}

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 DIR PORT [LDIF]"
mkdir -p "$1/db" || die "cannot create $1/db"
D=$(cd "$1" && pwd)
PORT="$2"
LDIF="${3:-}"
URL="ldap://127.0.0.1:$PORT/"
case "$PORT" in
    ''|*[!0-9]*) die "bad port '$PORT'" ;;
esac
[ -z "$LDIF" ] || [ -r "$LDIF" ] || die "cannot read LDIF $LDIF"

if [ -s "$D/slapd.pid" ] && kill -0 "$(cat "$D/slapd.pid")" 2>/dev/null; then
    die "slapd already running in $D (pid $(cat "$D/slapd.pid"))"
fi
rm -f "$D/slapd.pid"

cat > "$D/slapd.conf" <<EOF
include   /etc/ldap/schema/core.schema
include   /etc/ldap/schema/cosine.schema
include   /etc/ldap/schema/inetorgperson.schema
pidfile   $D/slapd.pid
argsfile  $D/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database  mdb
maxsize   104857600
suffix    "dc=example,dc=com"
rootdn    "cn=admin,dc=example,dc=com"
rootpw    secret
directory $D/db
index     objectClass eq
index     mail eq
index     uid eq
EOF

if [ -n "${SLAPD_TLS:-}" ]; then
    for f in ca.pem server.pem server.key; do
        [ -r "$SLAPD_TLS/$f" ] || die "SLAPD_TLS: cannot read $SLAPD_TLS/$f"
    done
    {
        echo "TLSCACertificateFile  $SLAPD_TLS/ca.pem"
        echo "TLSCertificateFile    $SLAPD_TLS/server.pem"
        echo "TLSCertificateKeyFile $SLAPD_TLS/server.key"
    } >> "$D/slapd.conf"
fi

slaptest -u -f "$D/slapd.conf" > "$D/slaptest.log" 2>&1 \
    || die "slaptest failed: $(cat "$D/slaptest.log")"
# -d 0 would keep it in the foreground; we want it daemonized with a pid file.
slapd -f "$D/slapd.conf" -h "$URL" > "$D/slapd.log" 2>&1 \
    || die "slapd did not start: $(cat "$D/slapd.log")"

stop_and_die() {
    [ -s "$D/slapd.pid" ] && kill "$(cat "$D/slapd.pid")" 2>/dev/null
    die "$@"
}

up=0
for _ in $(seq 1 50); do
    if ldapsearch -x -H "$URL" -s base -b "" -o nettimeout=1 -l 1 \
            '(objectClass=*)' namingContexts > /dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.1
done
[ $up -eq 1 ] || stop_and_die "slapd on $URL did not answer within 5 s"
for _ in $(seq 1 20); do
    [ -s "$D/slapd.pid" ] && break
    sleep 0.1
done
[ -s "$D/slapd.pid" ] || stop_and_die "no pid file $D/slapd.pid"

if [ -n "$LDIF" ] && [ ! -e "$D/loaded" ]; then
    ldapadd -x -H "$URL" -D cn=admin,dc=example,dc=com -w secret \
        -f "$LDIF" > "$D/ldapadd.log" 2>&1 \
        || stop_and_die "ldapadd $LDIF failed: $(tail -5 "$D/ldapadd.log")"
    echo "$LDIF" > "$D/loaded"
fi
exit 0
