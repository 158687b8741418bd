#!/bin/bash
# t/fuzz/run-fuzzers.sh [SECONDS] — build the libFuzzer targets (t/fuzz/build.sh)
# and run each for SECONDS (default 60) on a copy of its seed corpus
# (t/fuzz/corpus/<target>/). Exits non-zero when any target found a crash,
# a leak or a timeout, or could not be built. Prints per target: executions,
# exec/s, coverage (cov: edges, ft: features, from libFuzzer's final
# status line and -print_final_stats=1) and the path of the crashing input.
#
# libFuzzer options: -max_total_time=SECONDS -timeout=10 -rss_limit_mb=2048
# -detect_leaks=1 (0 when the pool-debug APR is not available: with the
# packaged libapr, pool memory is mmap'ed and every pool-held pointer would
# look leaked; see t/fuzz/build.sh) -print_final_stats=1, plus the
# target's dictionary (t/fuzz/dict/). Two targets run at a time (nice 10).
#
# Environment:
#   JMAP_FUZZ_TARGETS    targets to run (default: all six)
#   JMAP_FUZZ_PARALLEL   targets at a time (default 2)
#   JMAP_FUZZ_OUT        where logs, crash inputs and the grown corpora go
#                        (default: a temp dir under TMPDIR or /var/tmp, kept and printed when
#                        something was found)
#   JMAP_FUZZ_APR_BUILD=0  do not try to build the pool-debug APR
#                        (t/fuzz/build-apr.sh, 1-5 minutes, cached in
#                        /var/tmp/jm-fuzz-apr)
#   JMAP_FUZZ_REQUIRED=1 fail instead of skipping when clang/libFuzzer is missing
#   JM_FUZZ_AVOID_KNOWN  1/0: explore past the known crashes listed with
#                        "(JM_FUZZ_AVOID_KNOWN)" in t/fuzz/regress/KNOWN;
#                        default: 1 while such a line exists, so CI reports
#                        new findings, not the reported one again
set -u
SECS=${1:-60}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
TARGETS=${JMAP_FUZZ_TARGETS:-fuzz_request fuzz_email_set fuzz_mime_get fuzz_certdir fuzz_lmtp fuzz_vacation fuzz_push fuzz_webpush fuzz_submit fuzz_view_splice}
PAR=${JMAP_FUZZ_PARALLEL:-2}
OUT=${JMAP_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/var/tmp}/jm-fuzz-run.XXXXXX")}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
start=$(date +%s)

if [ -z "${JM_FUZZ_AVOID_KNOWN:-}" ]; then
    # entries only: the file's comment names the marker too
    if grep -v '^#' "$SRCDIR/t/fuzz/regress/KNOWN" 2>/dev/null | grep -q '(JM_FUZZ_AVOID_KNOWN)'; then
        export JM_FUZZ_AVOID_KNOWN=1
        echo "run-fuzzers: known crashes avoided (JM_FUZZ_AVOID_KNOWN=1):"
        grep -v '^#' "$SRCDIR/t/fuzz/regress/KNOWN" | grep '(JM_FUZZ_AVOID_KNOWN)' | sed 's/^/    /'
    fi
fi

# --- build ---------------------------------------------------------------------
if ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
     | "${CC:-clang}" -fsanitize=fuzzer,address -x c - -o "$OUT/probe" >/dev/null 2>&1; then
    echo "run-fuzzers: SKIPPED: clang with libFuzzer not found (tools/install-deps installs clang libclang-rt-14-dev)"
    [ -n "${JMAP_FUZZ_OUT:-}" ] || rm -rf "$OUT"
    [ -n "${JMAP_FUZZ_REQUIRED:-}" ] && exit 1
    exit 0
fi
if [ "${JMAP_FUZZ_APR_BUILD:-1}" != 0 ] && [ "${JM_FUZZ_APR:-}" != system ] \
   && [ ! -e "${JM_FUZZ_APR:-/var/tmp/jm-fuzz-apr}/lib/libapr-1.so.0" ]; then
    echo "run-fuzzers: building the pool-debug APR (t/fuzz/build-apr.sh)"
    timeout 600 nice "$SRCDIR/t/fuzz/build-apr.sh" "${JM_FUZZ_APR:-/var/tmp/jm-fuzz-apr}" \
        || echo "run-fuzzers: no pool-debug APR: fuzzing without leak detection"
fi
if ! nice "$SRCDIR/t/fuzz/build.sh" "$SRCDIR" "$OUT/bin" > "$OUT/build.log" 2>&1; then
    tail -30 "$OUT/build.log"
    echo "run-fuzzers: FAILED to build the targets (log: $OUT/build.log)"
    exit 1
fi
tail -1 "$OUT/build.log"
LEAKS=0
grep -q '^pool-debug' "$OUT/bin/apr" && LEAKS=1
[ $LEAKS = 1 ] || echo "run-fuzzers: system APR: -detect_leaks=0"

export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64:detect_stack_use_after_return=0:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$SRCDIR/t/fuzz/ubsan.supp}
export JM_FUZZ_TMPDIR=$OUT/tmp
mkdir -p "$JM_FUZZ_TMPDIR"

# --- run -------------------------------------------------------------------------
run_one() {
    local t=$1 dir=$OUT/$t dict=""
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp "$SRCDIR/t/fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null
    [ -f "$SRCDIR/t/fuzz/dict/$t.dict" ] && dict="-dict=$SRCDIR/t/fuzz/dict/$t.dict"
    # shellcheck disable=SC2086
    nice -n 10 "$OUT/bin/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -detect_leaks=$LEAKS -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        $dict "$dir/corpus" > "$dir/log" 2>&1
    echo $? > "$dir/rc"
}

running=0
for t in $TARGETS; do
    if [ ! -x "$OUT/bin/$t" ]; then
        echo "run-fuzzers: no target $t" >&2
        echo 1 > "$OUT/$t.missing"
        continue
    fi
    echo "run-fuzzers: $t for $SECS s"
    run_one "$t" &
    running=$((running + 1))
    if [ $running -ge "$PAR" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

# --- report ----------------------------------------------------------------------
failed=0
printf '\n%-16s %10s %8s %7s %7s  %s\n' target execs exec/s cov ft result
for t in $TARGETS; do
    dir=$OUT/$t
    if [ -e "$OUT/$t.missing" ] || [ ! -f "$dir/log" ]; then
        printf '%-16s %10s %8s %7s %7s  %s\n' "$t" - - - - "NOT BUILT"
        failed=1
        continue
    fi
    rc=$(cat "$dir/rc")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    art=$(ls "$dir/artifacts/" 2>/dev/null | head -1)
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer): [a-z -]+|runtime error: .*|FINDING: .*' "$dir/log" | head -1)
    if [ "$rc" = 0 ] && [ -z "$art" ]; then
        result=ok
    else
        result="FOUND: ${kind:-exit $rc}${art:+ -> $dir/artifacts/$art}"
        failed=1
    fi
    printf '%-16s %10s %8s %7s %7s  %s\n' "$t" "${execs:--}" "${eps:--}" "${cov:--}" "${ft:--}" "$result"
done
echo
if [ $failed -ne 0 ]; then
    for t in $TARGETS; do
        [ -f "$OUT/$t/log" ] || continue
        if [ "$(cat "$OUT/$t/rc")" != 0 ]; then
            echo "--- $t (log: $OUT/$t/log) ---"
            grep -E -A30 '==ERROR|runtime error|FINDING|ERROR: libFuzzer' "$OUT/$t/log" | grep -v '^INFO' | head -45
        fi
    done
    echo "run-fuzzers: FOUND something after $(( $(date +%s) - start )) s; everything is in $OUT"
    echo "run-fuzzers: reproduce with: $OUT/bin/<target> <artifact>; keep the input in t/fuzz/regress/<target>/"
    exit 1
fi
echo "run-fuzzers: nothing found in $(( $(date +%s) - start )) s"
[ -n "${JMAP_FUZZ_OUT:-}" ] || rm -rf "$OUT"
exit 0
