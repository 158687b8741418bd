#!/bin/bash
# mkpki.sh [--force] OUTDIR — the shared test and demo PKI (openssl CLI only).
#
# Idempotent: does nothing if OUTDIR/ca.pem exists, unless --force (which
# wipes the files listed below first). Takes ~3 s. Everything is created
# under OUTDIR (made absolute):
#
#   ca.key, ca.pem      RSA-2048 root "O=Example, CN=Example Root CA", 10 years
#   ca.crl, ca.crl.der  CRL (PEM / DER) signed by the CA, lists erin's cert as
#                       revoked, nextUpdate = now + 30 days
#   ca/                 the private `openssl ca` state (openssl.cnf, index.txt,
#                       serial, crlnumber, newcerts/, per-user ext files, CSRs)
#   users.txt           "NAME ADDRESS" per person with certificate files below
#   directory.ldif      LDIF for dc=example,dc=com (see below), cert values by
#                       file:// URL to the absolute NAME.der paths in OUTDIR
#
# Per NAME (files NAME.key  PEM, unencrypted, mode 0600
#                  NAME.pem  certificate PEM
#                  NAME.der  certificate DER
#                  NAME-full.pem  key + cert + ca.pem (grace: key + cert only)
#                  NAME.p12  PKCS#12 key+cert+ca (AES-256-CBC, MAC sha256,
#                            loads in OpenSSL 3 without the legacy provider),
#                            mode 0600, passphrase in NAME.pass (0600, no newline)
#   alice  RSA-2048  alice@example.com   good (entry also has mail alice.smith@example.com)
#   bob    RSA-2048  bob@example.com     good
#   carol  EC P-256  carol@example.com   good (keyAgreement instead of keyEncipherment)
#   dave   RSA-2048  dave@example.com    EXPIRED (2020-01-01 .. 2021-01-01)
#   erin   RSA-2048  erin@example.com    REVOKED in ca.crl
#   frank  RSA-2048  frank@example.com   WRONG USAGE (keyUsage=digitalSignature,
#                                        extendedKeyUsage=serverAuth)
#   grace  RSA-2048  grace@example.com   self-signed, does NOT chain to the CA
#   heidi  RSA-2048  heidi@example.com   two certs in her entry: heidi.pem (newer,
#                                        2 years) and heidi-old.pem/.der/.key
#                                        (older, valid 1 year)
#   ivan   RSA-2048  ivan@example.com    good; his entry carries the cert ONLY as
#                                        userSMIMECertificate (ivan.p7c: DER
#                                        PKCS#7 certs-only), no userCertificate
#   sales  RSA-2048  sales@example.com   good, a shared role address
#   server.key/.pem  TLS server cert for 127.0.0.1 and localhost (serverAuth),
#          used by slapd-start.sh when SLAPD_TLS=OUTDIR; not in users.txt
# Good certs: subject "O=Example, CN=<Name> Example", subjectAltName=email:ADDR,
#   keyUsage=digitalSignature,nonRepudiation,keyEncipherment (EC: keyAgreement),
#   extendedKeyUsage=emailProtection, 2 years.
#
# directory.ldif: dc=example,dc=com (dcObject+organization), ou=people, ou=pki,
#   uid=NAME,ou=people,dc=example,dc=com (inetOrgPerson: uid, cn, sn, mail,
#   userCertificate;binary) for every NAME above, plus uid=mallory with
#   mail mallory@example.com and NO certificate (mallory is not in users.txt);
#   cn=Example Root CA,ou=pki,dc=example,dc=com (organizationalRole +
#   certificationAuthority: cACertificate;binary = ca.der,
#   certificateRevocationList;binary = authorityRevocationList;binary = ca.crl.der).
#
# Example:
#   t/lib/mkpki.sh /tmp/pki
#   t/lib/slapd-start.sh /tmp/slapd 18189 /tmp/pki/directory.ldif
#   openssl cms -encrypt -in msg.txt /tmp/pki/alice.pem > enc.p7m
#   openssl pkcs12 -in /tmp/pki/alice.p12 -passin file:/tmp/pki/alice.pass -nodes
set -eu

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
if [ $# -ne 1 ]; then
    echo "usage: $0 [--force] OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
if [ -e "$OUT/ca.pem" ] && [ $force -eq 0 ]; then
    exit 0
fi
if [ $force -eq 1 ]; then
    rm -rf "$OUT/ca" "$OUT"/*.key "$OUT"/*.pem "$OUT"/*.der "$OUT"/*.p12 \
           "$OUT"/*.pass "$OUT"/*.p7c "$OUT"/ca.crl "$OUT"/users.txt "$OUT"/server.* \
           "$OUT"/directory.ldif
fi

umask 077
CA="$OUT/ca"
mkdir -p "$CA/newcerts"
: > "$CA/index.txt"
echo 1000 > "$CA/serial"
echo 1000 > "$CA/crlnumber"
LOG="$CA/openssl.log"
: > "$LOG"

ossl() {
    if ! openssl "$@" >>"$LOG" 2>&1; then
        echo "mkpki.sh: openssl $1 failed, see $LOG:" >&2
        tail -5 "$LOG" >&2
        exit 1
    fi
}

cat > "$CA/openssl.cnf" <<EOF
[ ca ]
default_ca = example_ca
[ example_ca ]
dir              = $CA
database         = \$dir/index.txt
new_certs_dir    = \$dir/newcerts
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
certificate      = $OUT/ca.pem
private_key      = $OUT/ca.key
default_md       = sha256
default_days     = 730
default_crl_days = 30
policy           = policy_any
unique_subject   = no
copy_extensions  = none
email_in_dn      = no
crl_extensions   = crl_ext
[ policy_any ]
organizationName = optional
commonName       = supplied
emailAddress     = optional
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
[ v3_ca ]
basicConstraints       = critical,CA:TRUE
keyUsage               = critical,keyCertSign,cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF

# Root CA.
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/ca.key"
ossl req -config "$CA/openssl.cnf" -new -x509 -key "$OUT/ca.key" -days 3650 \
    -subj "/O=Example/CN=Example Root CA" -extensions v3_ca -out "$OUT/ca.pem"
openssl x509 -in "$OUT/ca.pem" -outform DER -out "$OUT/ca.der"

# ext_file NAME ADDR KIND: writes the [usr] extension section for one cert.
ext_file() {
    local f="$CA/$1.ext" ku
    case "$3" in
        ec)    ku="digitalSignature,nonRepudiation,keyAgreement" ;;
        wrong) ku="digitalSignature" ;;
        *)     ku="digitalSignature,nonRepudiation,keyEncipherment" ;;
    esac
    {
        echo "[ usr ]"
        echo "basicConstraints = CA:FALSE"
        echo "subjectAltName = email:$2"
        echo "keyUsage = $ku"
        if [ "$3" = wrong ]; then
            echo "extendedKeyUsage = serverAuth"
        else
            echo "extendedKeyUsage = emailProtection"
        fi
        echo "subjectKeyIdentifier = hash"
        [ "$3" = self ] || echo "authorityKeyIdentifier = keyid:always"
    } > "$f"
    echo "$f"
}

# new_key FILE KIND
new_key() {
    if [ "$2" = ec ]; then
        ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
    else
        ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
    fi
    chmod 600 "$1"
}

# issue BASE NAME ADDR KIND [openssl ca validity options...]
# BASE is the file stem (heidi-old), NAME the person (heidi).
issue() {
    local base="$1" name="$2" addr="$3" kind="$4" ext cn
    shift 4
    cn="$(echo "${name:0:1}" | tr a-z A-Z)${name:1} Example"
    ext=$(ext_file "$base" "$addr" "$kind")
    new_key "$OUT/$base.key" "$kind"
    if [ "$kind" = self ]; then
        # `openssl req` has no -extfile: append the section to a config copy.
        cat "$CA/openssl.cnf" "$ext" > "$CA/$base-req.cnf"
        ossl req -config "$CA/$base-req.cnf" -new -x509 -key "$OUT/$base.key" \
            -days 730 -subj "/O=Example/CN=$cn" -extensions usr \
            -out "$OUT/$base.pem"
    else
        ossl req -config "$CA/openssl.cnf" -new -key "$OUT/$base.key" \
            -subj "/O=Example/CN=$cn" -out "$CA/$base.csr"
        ossl ca -config "$CA/openssl.cnf" -batch -notext -in "$CA/$base.csr" \
            -extfile "$ext" -extensions usr -out "$OUT/$base.pem" "$@"
    fi
    openssl x509 -in "$OUT/$base.pem" -outform DER -out "$OUT/$base.der"
    if [ "$kind" = self ]; then
        cat "$OUT/$base.key" "$OUT/$base.pem" > "$OUT/$base-full.pem"
    else
        cat "$OUT/$base.key" "$OUT/$base.pem" "$OUT/ca.pem" > "$OUT/$base-full.pem"
    fi
    chmod 600 "$OUT/$base-full.pem"
    printf '%s' "pass-$base-$(openssl rand -hex 6)" > "$OUT/$base.pass"
    chmod 600 "$OUT/$base.pass"
    ossl pkcs12 -export -inkey "$OUT/$base.key" -in "$OUT/$base.pem" \
        -certfile "$OUT/ca.pem" -name "$cn <$addr>" \
        -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 \
        -passout "file:$OUT/$base.pass" -out "$OUT/$base.p12"
    chmod 600 "$OUT/$base.p12"
}

issue alice alice alice@example.com rsa
issue bob   bob   bob@example.com   rsa
issue carol carol carol@example.com ec
issue dave  dave  dave@example.com  rsa -startdate 20200101000000Z -enddate 20210101000000Z
issue erin  erin  erin@example.com  rsa
issue frank frank frank@example.com wrong
issue grace grace grace@example.com self
issue heidi-old heidi heidi@example.com rsa -days 365
issue heidi heidi heidi@example.com rsa -days 730
issue ivan  ivan  ivan@example.com  rsa
issue sales sales sales@example.com rsa
openssl crl2pkcs7 -nocrl -certfile "$OUT/ivan.pem" -outform DER -out "$OUT/ivan.p7c"

# TLS server certificate for a test slapd (StartTLS on 127.0.0.1).
printf '%s\n' "[ usr ]" "basicConstraints = CA:FALSE" \
    "subjectAltName = DNS:localhost,IP:127.0.0.1" \
    "keyUsage = digitalSignature,keyEncipherment" \
    "extendedKeyUsage = serverAuth" > "$CA/server.ext"
new_key "$OUT/server.key" rsa
ossl req -config "$CA/openssl.cnf" -new -key "$OUT/server.key" \
    -subj "/O=Example/CN=localhost" -out "$CA/server.csr"
ossl ca -config "$CA/openssl.cnf" -batch -notext -in "$CA/server.csr" \
    -extfile "$CA/server.ext" -extensions usr -out "$OUT/server.pem"

# Revoke erin and publish the CRL.
ossl ca -config "$CA/openssl.cnf" -revoke "$OUT/erin.pem" -crl_reason keyCompromise
ossl ca -config "$CA/openssl.cnf" -gencrl -crldays 30 -out "$OUT/ca.crl"
openssl crl -in "$OUT/ca.crl" -outform DER -out "$OUT/ca.crl.der"

# Public material is world-readable (slapd, httpd children).
chmod 644 "$OUT"/*.pem "$OUT"/*.der "$OUT"/*.p7c "$OUT"/ca.crl
chmod 600 "$OUT"/*-full.pem
chmod 755 "$OUT"

PEOPLE="alice bob carol dave erin frank grace heidi ivan sales"
: > "$OUT/users.txt"
for n in $PEOPLE; do
    echo "$n $n@example.com" >> "$OUT/users.txt"
done

person() {
    local n="$1" cn
    cn="$(echo "${n:0:1}" | tr a-z A-Z)${n:1} Example"
    printf 'dn: uid=%s,ou=people,dc=example,dc=com\n' "$n"
    printf 'objectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: Example\n' "$n" "$cn"
    printf 'mail: %s@example.com\n' "$n"
}

{
    printf 'dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\n'
    printf 'dc: example\no: Example\n\n'
    printf 'dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n'
    printf 'dn: ou=pki,dc=example,dc=com\nobjectClass: organizationalUnit\nou: pki\n\n'
    for n in $PEOPLE; do
        person "$n"
        case "$n" in
            alice) echo "mail: alice.smith@example.com" ;;
            heidi) echo "userCertificate;binary:< file://$OUT/heidi-old.der" ;;
        esac
        if [ "$n" = ivan ]; then
            echo "userSMIMECertificate:< file://$OUT/ivan.p7c"
        else
            echo "userCertificate;binary:< file://$OUT/$n.der"
        fi
        echo
    done
    person mallory
    echo
    printf 'dn: cn=Example Root CA,ou=pki,dc=example,dc=com\n'
    printf 'objectClass: organizationalRole\nobjectClass: certificationAuthority\n'
    printf 'cn: Example Root CA\n'
    printf 'cACertificate;binary:< file://%s/ca.der\n' "$OUT"
    printf 'certificateRevocationList;binary:< file://%s/ca.crl.der\n' "$OUT"
    printf 'authorityRevocationList;binary:< file://%s/ca.crl.der\n' "$OUT"
} > "$OUT/directory.ldif"
chmod 644 "$OUT/directory.ldif" "$OUT/users.txt"
exit 0
