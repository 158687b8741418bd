#!/bin/bash
# t/fuzz/coverage.sh [OUTDIR [INPUT_DIR_SUFFIX...]] — line coverage of src/ by
# the fuzz targets' inputs: builds them with clang source-based coverage
# (t/fuzz/build.sh with JM_FUZZ_BUILD=coverage, into OUTDIR, default
# t/fuzz/build-cov), runs each over t/fuzz/corpus/<target>/ (or over
# DIR/<target>/ for every DIR given, e.g. the corpora a run-fuzzers.sh run
# grew: JMAP_FUZZ_OUT/<target>/corpus -> pass JMAP_FUZZ_OUT and "/corpus"
# is appended) and prints llvm-cov's per-file report for src/.
# Known crashes are avoided (JM_FUZZ_AVOID_KNOWN=1).
set -euo pipefail
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$SRCDIR/t/fuzz/build-cov}
shift || true
JM_FUZZ_BUILD=coverage "$SRCDIR/t/fuzz/build.sh" "$SRCDIR" "$OUT" | tail -1
rm -f "$OUT"/*.profraw "$OUT"/all.profdata
export JM_FUZZ_AVOID_KNOWN=1 JM_FUZZ_TMPDIR=${JM_FUZZ_TMPDIR:-/tmp}
for t in fuzz_request fuzz_email_set fuzz_mime_get fuzz_certdir fuzz_lmtp fuzz_vacation fuzz_push fuzz_webpush fuzz_submit fuzz_view_splice; do
    dirs=("$SRCDIR/t/fuzz/corpus/$t")
    if [ $# -gt 0 ]; then
        dirs=()
        for d in "$@"; do
            if [ -d "$d/$t/corpus" ]; then dirs+=("$d/$t/corpus"); elif [ -d "$d/$t" ]; then dirs+=("$d/$t"); fi
        done
    fi
    LLVM_PROFILE_FILE="$OUT/$t.profraw" "$OUT/$t" "${dirs[@]}" > "$OUT/$t.out" 2>&1 \
        || echo "coverage: $t stopped early (see $OUT/$t.out)"
done
llvm-profdata merge -o "$OUT/all.profdata" "$OUT"/*.profraw
objs=()
for t in fuzz_mime_get fuzz_email_set fuzz_certdir fuzz_lmtp fuzz_vacation fuzz_push fuzz_webpush fuzz_submit fuzz_view_splice; do objs+=(-object "$OUT/$t"); done
llvm-cov report "$OUT/fuzz_request" "${objs[@]}" -instr-profile="$OUT/all.profdata" \
    $(find "$SRCDIR/src" -path "$SRCDIR/src/httpd" -prune -o -name '*.c' -print | sort)
echo "coverage: llvm-cov show $OUT/fuzz_request ${objs[*]} -instr-profile=$OUT/all.profdata <file> for the lines"
