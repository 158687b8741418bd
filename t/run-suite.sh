#!/bin/bash
# t/run-suite.sh — the test suite behind `make check` (see t/run for the whole
# fresh-machine sequence).
#
#  1. C unit tests: prove $JMAP_BUILDDIR/t/unit/test_* (the built executables)
#  2. integration tests: prove -v -j$JMAP_TEST_JOBS t/integration/*.t, once
#     per database driver in $JMAP_TEST_DRIVERS (default "sqlite3 pgsql");
#     for pgsql a private PostgreSQL is started once (t/lib/pg-start.sh) and
#     stopped on exit. Each file starts its own servers on free ports and
#     mostly waits on them, so files run side by side (JMAP_TEST_JOBS,
#     default 4; 1 runs them one after another).
# The test PKI is built once (t/lib/mkpki.sh) and shared via JMAP_TEST_PKI.
#
# Environment: JMAP_BUILDDIR (default: the source tree), JMAP_SRCDIR,
# HTTPD_BIN, HTTPD_MODDIR (passed through to t/lib/JMAPTest.pm),
# JMAP_TEST_DRIVERS, JMAP_TEST_PG_PORT (default: a free port),
# JMAP_TEST_KEEP=1 (keep temp dirs), JMAP_TEST_FILES (integration tests to
# run instead of t/integration/*.t, space separated), JMAP_TEST_JOBS.
# Exit status: non-zero if any part failed.
set -u

SRCDIR=${JMAP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BUILDDIR=${JMAP_BUILDDIR:-$SRCDIR}
export JMAP_SRCDIR=$SRCDIR JMAP_BUILDDIR=$BUILDDIR
export HTTPD_BIN=${HTTPD_BIN:-/usr/sbin/apache2}
export HTTPD_MODDIR=${HTTPD_MODDIR:-/usr/lib/apache2/modules}
DRIVERS=${JMAP_TEST_DRIVERS:-sqlite3 pgsql}
JOBS=${JMAP_TEST_JOBS:-4}

WORK=$(mktemp -d /tmp/jmap-suite.XXXXXX)
chmod 755 "$WORK"
PG_DIR=""
cleanup() {
    if [ -n "$PG_DIR" ]; then
        "$SRCDIR/t/lib/pg-stop.sh" "$PG_DIR" || true
    fi
    if [ -n "${JMAP_TEST_KEEP:-}" ]; then
        echo "run-suite: JMAP_TEST_KEEP: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
        LocalPort => 0, Listen => 1, ReuseAddr => 1) or die $!; print $s->sockport'
}

declare -a SUMMARY
FAILED=0
record() {  # record NAME RC
    if [ "$2" -eq 0 ]; then SUMMARY+=("PASS  $1"); else SUMMARY+=("FAIL  $1 (exit $2)"); FAILED=1; fi
}

# --- PKI, once ---------------------------------------------------------------
if [ -z "${JMAP_TEST_PKI:-}" ]; then
    echo "run-suite: building the test PKI in $WORK/pki"
    if "$SRCDIR/t/lib/mkpki.sh" "$WORK/pki" > "$WORK/mkpki.log" 2>&1; then
        export JMAP_TEST_PKI=$WORK/pki
    else
        cat "$WORK/mkpki.log" >&2
        echo "run-suite: mkpki.sh failed" >&2
        record "PKI (t/lib/mkpki.sh)" 1
    fi
fi

# --- unit tests ------------------------------------------------------------------
shopt -s nullglob
UNITS=()
for f in "$BUILDDIR"/t/unit/test_*; do
    case "$f" in *.c|*.o|*.h|*.log|*.trs) continue ;; esac
    [ -x "$f" ] && [ -f "$f" ] && UNITS+=("$f")
done
echo
echo "=== unit tests (${#UNITS[@]} programs) ==="
if [ ${#UNITS[@]} -eq 0 ]; then
    echo "run-suite: no unit test executables under $BUILDDIR/t/unit (not built?)"
    record "unit tests: none built" 1
else
    (cd "$SRCDIR" && prove "${UNITS[@]}")
    record "unit tests (${#UNITS[@]} programs)" $?
fi

# --- integration tests, per driver -------------------------------------------------
if [ -n "${JMAP_TEST_FILES:-}" ]; then
    read -r -a ITESTS <<< "$JMAP_TEST_FILES"
else
    ITESTS=("$SRCDIR"/t/integration/*.t)
fi
for driver in $DRIVERS; do
    echo
    echo "=== integration tests, DBDriver $driver (${#ITESTS[@]} files) ==="
    if [ ${#ITESTS[@]} -eq 0 ]; then
        record "integration [$driver]: no test files" 1
        continue
    fi
    case "$driver" in
        sqlite3) ;;
        pgsql)
            if [ -z "$PG_DIR" ]; then
                PG_DIR=$WORK/pg
                export JMAP_TEST_PG_PORT=${JMAP_TEST_PG_PORT:-$(free_port)}
                if ! "$SRCDIR/t/lib/pg-start.sh" "$PG_DIR" "$JMAP_TEST_PG_PORT"; then
                    record "integration [pgsql]: PostgreSQL did not start" 1
                    continue
                fi
            fi
            # the store's unit tests that also run on PostgreSQL when it is there
            PGUNITS=()
            for f in "$BUILDDIR"/t/unit/test_store_mail "$BUILDDIR"/t/unit/test_query \
                     "$BUILDDIR"/t/unit/test_store_blob "$BUILDDIR"/t/unit/test_deliver; do
                [ -x "$f" ] && PGUNITS+=("$f")
            done
            if [ ${#PGUNITS[@]} -gt 0 ]; then
                echo "=== unit tests on PostgreSQL (${#PGUNITS[@]} programs) ==="
                prove "${PGUNITS[@]}"
                record "unit tests on PostgreSQL (${#PGUNITS[@]} programs)" $?
            fi
            ;;
        *) record "integration [$driver]: unknown driver" 1; continue ;;
    esac
    start=$(date +%s)
    (cd "$SRCDIR" && JMAP_TEST_DRIVER=$driver prove -v -j"$JOBS" "${ITESTS[@]}") \
        2>&1 | tee "$WORK/prove-$driver.log"
    rc=${PIPESTATUS[0]}
    record "integration [$driver] ($(( $(date +%s) - start )) s)" "$rc"
    # Keep prove's report of failing files for the summary.
    sed -n '/^Test Summary Report/,/^Files=/p' "$WORK/prove-$driver.log" \
        | grep -v -e '^Test Summary Report' -e '^---' -e '^Files=' | sed "s/^/    [$driver] /" \
        > "$WORK/verdicts-$driver.txt" || true
done

echo
echo "=================== run-suite summary ==================="
for line in "${SUMMARY[@]}"; do echo "$line"; done
for driver in $DRIVERS; do
    if [ -s "$WORK/verdicts-$driver.txt" ]; then cat "$WORK/verdicts-$driver.txt"; fi
done
echo "========================================================="
if [ $FAILED -ne 0 ]; then
    echo "run-suite: FAILED"
    exit 1
fi
echo "run-suite: all passed"
exit 0
