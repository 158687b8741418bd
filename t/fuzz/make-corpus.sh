#!/bin/bash
# t/fuzz/make-corpus.sh BUILDDIR — (re)make the seed corpora t/fuzz/corpus/<target>/.
#
# BUILDDIR is a configured and built tree (autoreconf -fi && ./configure &&
# make; it may be the source tree). Steps:
#  1. the integration tests run once against SQLite (not 06-jmap-jam) with
#     t/fuzz/tools/FuzzCapture.pm recording their HTTP traffic, and
#     email_fuzz.py (via 25-fuzz.t) recording its requests;
#  2. t/fuzz/tools/corpus_tool.py turns that into inputs (ids replaced by
#     the targets' placeholders), adds hand-made ones (large arrays, deep
#     nesting, every header form, result references) and fuzz_certdir
#     inputs from the test PKI (t/lib/mkpki.sh); fuzz_certdir adds its own
#     (FZ_WRITE_SEEDS, certificates of the CA it trusts) and fuzz_email_set
#     writes the messages it makes from its seeds (FZ_DUMP_MESSAGES) as
#     fuzz_mime_get seeds;
#  3. each target merges the raw inputs and the current corpus
#     (-merge=1): only inputs that add coverage are kept.
# Needs clang (t/fuzz/build.sh), httpd, slapd, openssl. Takes a few
# minutes. JM_FUZZ_KEEP_RAW=1 keeps the raw inputs (path printed);
# JM_FUZZ_REUSE=DIR takes the capture and PKI of such a kept DIR instead of
# running the integration tests again.
set -euo pipefail
BUILDDIR=$(cd "${1:?usage: make-corpus.sh BUILDDIR}" && pwd)
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/jm-fuzz-corpus.XXXXXX)
chmod 755 "$W"
trap '[ -n "${JM_FUZZ_KEEP_RAW:-}" ] && echo "make-corpus: kept $W" || rm -rf "$W"' EXIT
mkdir -p "$W/capture" "$W/raw"
chmod 777 "$W/capture"

echo "make-corpus: building the targets"
"$SRCDIR/t/fuzz/build.sh" "$SRCDIR" "$W/bin" | tail -1

if [ -n "${JM_FUZZ_REUSE:-}" ]; then
    echo "make-corpus: capture and PKI from $JM_FUZZ_REUSE"
    cp -a "$JM_FUZZ_REUSE/capture/." "$W/capture/"
    cp -a "$JM_FUZZ_REUSE/pki" "$W/pki"
else
echo "make-corpus: test PKI"
"$SRCDIR/t/lib/mkpki.sh" "$W/pki" > "$W/mkpki.log" 2>&1

echo "make-corpus: integration tests with capture (SQLite)"
files=()
for f in "$SRCDIR"/t/integration/*.t; do
    case "$(basename "$f")" in 06-jmap-jam.t) continue ;; esac
    files+=("$f")
done
(cd "$SRCDIR" && JMAP_BUILDDIR=$BUILDDIR JMAP_SRCDIR=$SRCDIR JMAP_TEST_DRIVER=sqlite3 \
    JMAP_TEST_PKI=$W/pki HTTPD_BIN=${HTTPD_BIN:-/usr/sbin/apache2} \
    HTTPD_MODDIR=${HTTPD_MODDIR:-/usr/lib/apache2/modules} JMAP_FUZZ_COUNT=${JMAP_FUZZ_COUNT:-150} \
    JMAP_FUZZ_CAPTURE=$W/capture PERL5LIB=$SRCDIR/t/fuzz/tools${PERL5LIB:+:$PERL5LIB} \
    PERL5OPT=-MFuzzCapture prove "${files[@]}") > "$W/prove.log" 2>&1 \
    || echo "make-corpus: some integration tests failed (see $W/prove.log); the capture is used anyway"
fi
echo "make-corpus: $(cat "$W"/capture/*.jsonl | wc -l) requests captured"

PY=/usr/bin/python3
$PY "$SRCDIR/t/fuzz/tools/corpus_tool.py" capture "$W/capture" "$W/raw"
$PY "$SRCDIR/t/fuzz/tools/corpus_tool.py" synth "$W/raw"
$PY "$SRCDIR/t/fuzz/tools/corpus_tool.py" pki "$W/pki" "$W/raw"
mkdir -p "$W/raw/fuzz_certdir" "$W/raw/fuzz_mime_get"
FZ_WRITE_SEEDS=$W/raw/fuzz_certdir "$W/bin/fuzz_certdir" >/dev/null 2>&1
# the messages fuzz_email_set makes from its seeds (signed, encrypted, ...)
mkdir -p "$W/made"
FZ_DUMP_MESSAGES=$W/made JM_FUZZ_AVOID_KNOWN=1 "$W/bin/fuzz_email_set" -runs=0 -artifact_prefix="$W/made-" \
    "$W/raw/fuzz_email_set" > "$W/made.log" 2>&1 || true
cp "$W"/made/*.eml "$W/raw/fuzz_mime_get/" 2>/dev/null || true
for t in fuzz_request fuzz_email_set fuzz_mime_get fuzz_certdir; do
    echo "make-corpus: $t: $(ls "$W/raw/$t" | wc -l) raw inputs, $(cat "$W/raw/$t"/* | wc -c) bytes"
done

echo "make-corpus: merging"
for t in fuzz_request fuzz_email_set fuzz_mime_get fuzz_certdir; do
    dest=$SRCDIR/t/fuzz/corpus/$t
    mkdir -p "$dest" "$W/merged/$t"
    # inputs that crash on a known bug (t/fuzz/regress/KNOWN) would stop the
    # merge: it runs with the known crash avoided
    JM_FUZZ_AVOID_KNOWN=1 "$W/bin/$t" -merge=1 -max_len=65536 -timeout=30 -rss_limit_mb=2048 \
        -artifact_prefix="$W/merge-$t-" \
        "$W/merged/$t" "$dest" "$W/raw/$t" > "$W/merge-$t.log" 2>&1 \
        || { tail -20 "$W/merge-$t.log"; echo "make-corpus: merge of $t failed" >&2; exit 1; }
    rm -f "$dest"/*
    cp "$W/merged/$t"/* "$dest/"
    echo "make-corpus: $t: $(ls "$dest" | wc -l) inputs, $(cat "$dest"/* | wc -c) bytes ($(grep -o 'cov: [0-9]* ft: [0-9]*' "$W/merge-$t.log" | tail -1))"
done
