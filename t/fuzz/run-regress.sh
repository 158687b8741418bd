#!/bin/bash
# t/fuzz/run-regress.sh [BUILDDIR [SRCDIR]] — the fuzz regressions in
# `make check`: every file of t/fuzz/regress/<target>/ (inputs that once
# crashed) and t/fuzz/corpus/<target>/ (the seed corpus) is fed once to the
# target built as a plain program (BUILDDIR/t/fuzz/regress-<name>, see
# t/fuzz/fuzz.am and regress_main.c). Output is TAP; exit status 1 if any
# input crashed, hung (JMAP_FUZZ_REGRESS_TIMEOUT seconds per program run,
# default 300) or the program is missing.
#
# t/fuzz/regress/KNOWN lists inputs of bugs that are reported but not fixed
# yet ("<target>/<file>  <description>"): their crashes are reported as
# "not ok ... # TODO" and do not fail the run; once one passes it shows as
# "ok ... # TODO" and its line should be removed. JMAP_FUZZ_STRICT=1 treats
# them as failures. "(sanitizer)" marks bugs that only a sanitizer build
# notices (no "passes now" for those in a plain build). While a KNOWN line
# says "(JM_FUZZ_AVOID_KNOWN)", the
# seed corpus runs with JM_FUZZ_AVOID_KNOWN=1 (the harness steps around
# that crash, so the seeds check everything else); regress/ inputs never do.
set -u
BUILDDIR=${1:-${JMAP_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
SRCDIR=${2:-${JMAP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
TIMEOUT=${JMAP_FUZZ_REGRESS_TIMEOUT:-300}
KNOWN=$SRCDIR/t/fuzz/regress/KNOWN
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$SRCDIR/t/fuzz/ubsan.supp}
WORK=$(mktemp -d /tmp/jm-fuzz-regress.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export JM_FUZZ_TMPDIR=$WORK

AVOID=0
if [ -z "${JMAP_FUZZ_STRICT:-}" ] && grep -v '^#' "$KNOWN" 2>/dev/null | grep -q '(JM_FUZZ_AVOID_KNOWN)'; then
    AVOID=1
fi
n=0
failed=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; }

known_desc() {  # known_desc TARGET/FILE -> description or nothing
    [ -f "$KNOWN" ] || return 0
    awk -v k="$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$KNOWN"
}

for name in request email_set mime_get certdir lmtp vacation push webpush submit view_splice; do
  target=fuzz_$name
  bin=$BUILDDIR/t/fuzz/regress-$name
  if [ ! -x "$bin" ]; then
      tap "not ok" "$target: $bin not built"
      failed=1
      continue
  fi
  sanitized=
  grep -qa -e __asan_init -e __ubsan_handle "$bin" && sanitized=1
  for kind in regress corpus; do
    files=()
    d=$SRCDIR/t/fuzz/$kind/$target
    if [ -d "$d" ]; then
        while IFS= read -r -d '' f; do files+=("$f"); done \
            < <(find "$d" -maxdepth 1 -type f ! -name 'README*' -print0 | sort -z)
    fi
    if [ ${#files[@]} -eq 0 ]; then
        tap "ok" "$target/$kind: no inputs # SKIP"
        continue
    fi
    if [ $kind = corpus ]; then
        export JM_FUZZ_AVOID_KNOWN=$AVOID
    else
        export JM_FUZZ_AVOID_KNOWN=0
    fi
    start=$(date +%s)
    todo=("${files[@]}")
    passed=0
    while [ ${#todo[@]} -gt 0 ]; do
        out=$WORK/out err=$WORK/err
        # (in a subshell that waits: a crash is not reported by this shell)
        ( timeout "$TIMEOUT" "$bin" "${todo[@]}" > "$out" 2> "$err"; echo $? > "$WORK/rc" ) 2>/dev/null
        rc=$(cat "$WORK/rc")
        cat "$out" >> "$WORK/all-$name"
        ran=$(grep -c '^OK ' "$out")
        passed=$((passed + ran))
        if [ $rc -eq 0 ] && grep -q '^DONE' "$out"; then
            break
        fi
        # the input that did not come back: the last RUN without its OK
        crashed=$(grep '^RUN ' "$out" | tail -1 | cut -c5-)
        if [ -z "$crashed" ] || grep -qxF "OK $crashed" "$out"; then
            tap "not ok" "$target: exit $rc outside any input"
            sed 's/^/#   /' "$err" | tail -40
            failed=1
            break
        fi
        rel=${crashed#$SRCDIR/t/fuzz/}
        key=$target/$(basename "$crashed")
        what="crashed (exit $rc)"
        [ $rc -eq 124 ] && what="timed out after $TIMEOUT s"
        desc=$(known_desc "$key")
        if [ -n "$desc" ] && [ -z "${JMAP_FUZZ_STRICT:-}" ]; then
            tap "not ok" "$rel $what # TODO known bug: $desc"
        else
            tap "not ok" "$rel $what"
            failed=1
        fi
        grep -E 'ERROR|runtime error|FINDING|SUMMARY|^    #[0-9]+ ' "$err" | head -25 | sed 's/^/#   /'
        # go on after the crashing file
        rest=()
        seen=
        for f in "${todo[@]}"; do
            if [ -n "$seen" ]; then rest+=("$f"); fi
            [ "$f" = "$crashed" ] && seen=1
        done
        todo=("${rest[@]+"${rest[@]}"}")
    done
    # known inputs that no longer crash
    for f in "${files[@]}"; do
        key=$target/$(basename "$f")
        desc=$(known_desc "$key")
        case "$desc" in *"(sanitizer)"*) [ -n "$sanitized" ] || continue ;; esac
        if [ -n "$desc" ] && grep -qxF "OK $f" "$WORK/all-$name" 2>/dev/null; then
            tap "ok" "${f#$SRCDIR/t/fuzz/} passes now # TODO remove it from t/fuzz/regress/KNOWN ($desc)"
        fi
    done
    tap "ok" "$target/$kind: $passed of ${#files[@]} inputs ran clean ($(( $(date +%s) - start )) s)"
  done
  rm -f "$WORK/all-$name"
done
echo "1..$n"
exit $failed
