#!/bin/bash
# t/fuzz/build.sh [SRCDIR [OUTDIR]] — build the libFuzzer targets with clang.
#
# The core (every .c under src/ but src/httpd/) and the harness are compiled with
#   -g -O1 -fsanitize=fuzzer-no-link,address,undefined
# (coverage-instrumented: without it libFuzzer's coverage stays flat) and
# each target is linked with -fsanitize=fuzzer,address,undefined against
# jansson, OpenSSL, libldap, GMime, libcurl, SQLite and APR/APR-util (flags
# from pkg-config and apr-1-config/apu-1-config, as configure.ac does).
# src/directory/jm_ldap.c is replaced by t/fuzz/fake_ldap.c (the in-memory directory;
# src/directory/jm_ldap_filter.c is kept);
# the httpd glue (src/httpd/) is not part of the core.
#
# APR: Debian's libapr allocates pool memory with mmap, which
# LeakSanitizer does not scan (everything only a pool points to looks
# leaked) and AddressSanitizer cannot see inside (a pool block is one
# object). With JM_FUZZ_APR=PREFIX (default /var/tmp/jm-fuzz-apr when it
# exists; made by t/fuzz/build-apr.sh) the targets are linked with rpath to
# a libapr built with --enable-pool-debug: every apr_palloc is its own
# malloc, so leaks and pool overflows are found. JM_FUZZ_APR=system forces
# the system library. The headers are the system's either way (the
# pool-debug library keeps the non-debug entry points).
#
# JM_FUZZ_BUILD=coverage builds the same targets with clang's source-based
# coverage instead (-fprofile-instr-generate -fcoverage-mapping, no
# sanitizers, regress_main.c as main): t/fuzz/coverage.sh uses that.
#
# Output: OUTDIR/fuzz_request, fuzz_email_set, fuzz_mime_get, fuzz_certdir, fuzz_lmtp,
# fuzz_vacation, fuzz_push, fuzz_webpush, fuzz_submit, fuzz_view_splice
# and OUTDIR/apr (the APR used: "pool-debug PREFIX" or "system"); default
# OUTDIR: SRCDIR/t/fuzz/build. Objects are rebuilt only when a source or
# header is newer. Environment: CC (clang), FUZZ_CFLAGS (extra), JOBS (2).
set -euo pipefail

SRCDIR=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
OUTDIR=${2:-$SRCDIR/t/fuzz/build}
CC=${CC:-clang}
JOBS=${JOBS:-2}
TARGETS="fuzz_request fuzz_email_set fuzz_mime_get fuzz_certdir fuzz_lmtp fuzz_vacation fuzz_push fuzz_webpush fuzz_submit fuzz_view_splice"

command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p "$OUTDIR/obj"
OUTDIR=$(cd "$OUTDIR" && pwd)

APR_CONFIG=$(command -v apr-1-config)
APU_CONFIG=$(command -v apu-1-config)
PKGS="jansson libcrypto ldap gmime-3.0 libcurl sqlite3"
CPPFLAGS="-I$SRCDIR/src -I$SRCDIR/t/fuzz $($APR_CONFIG --cppflags --includes) $($APU_CONFIG --includes)"
# UBSan stays recoverable so that t/fuzz/ubsan.supp can suppress known
# reports; fuzz_common.c's __ubsan_default_options sets halt_on_error=1.
CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
 -DFZ_UBSAN_SUPP=\"$SRCDIR/t/fuzz/ubsan.supp\" \
 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
 $($APR_CONFIG --cflags) $(pkg-config --cflags $PKGS) ${FUZZ_CFLAGS:-}"
LIBS="$(pkg-config --libs $PKGS) $($APR_CONFIG --link-ld --libs) $($APU_CONFIG --link-ld --libs)"
LDFLAGS="-fsanitize=fuzzer,address,undefined"
MAINOBJ=
if [ "${JM_FUZZ_BUILD:-}" = coverage ]; then
    CFLAGS="-g -O0 -fprofile-instr-generate -fcoverage-mapping -Wall -Wextra \
 -Wno-unused-parameter $($APR_CONFIG --cflags) $(pkg-config --cflags $PKGS) ${FUZZ_CFLAGS:-}"
    LDFLAGS="-fprofile-instr-generate"
    MAINOBJ=$OUTDIR/obj/regress_main.o
fi
APR_PREFIX=${JM_FUZZ_APR:-/var/tmp/jm-fuzz-apr}
if [ "$APR_PREFIX" != system ] && [ -e "$APR_PREFIX/lib/libapr-1.so.0" ]; then
    LDFLAGS="$LDFLAGS -L$APR_PREFIX/lib -Wl,--disable-new-dtags,-rpath,$APR_PREFIX/lib"
    APR_USED="pool-debug $APR_PREFIX"
else
    APR_USED=system
fi

CORE=()
for f in $(cd "$SRCDIR" && find src -path src/httpd -prune -o -name '*.c' -print | sort); do
    f=$SRCDIR/$f
    case "$(basename "$f")" in jm_ldap.c) continue ;; esac
    CORE+=("$f")
done
HARNESS=("$SRCDIR/t/fuzz/fuzz_common.c" "$SRCDIR/t/fuzz/fake_ldap.c")

HEADERS=$(ls -t $(find "$SRCDIR/src" -name '*.h') "$SRCDIR"/t/fuzz/*.h | sed -n 1p)
# other compiler or flags: everything again
if [ "$(cat "$OUTDIR/obj/flags" 2>/dev/null)" != "$CC $CPPFLAGS $CFLAGS" ]; then
    rm -f "$OUTDIR"/obj/*.o
    echo "$CC $CPPFLAGS $CFLAGS" > "$OUTDIR/obj/flags"
fi
# compile SRC into OBJ when needed; prints nothing when up to date
compile() {
    local src=$1 obj=$2
    if [ "$obj" -nt "$src" ] && [ "$obj" -nt "$HEADERS" ]; then
        return 0
    fi
    echo "  CC    ${src#$SRCDIR/}"
    # shellcheck disable=SC2086
    $CC $CPPFLAGS $CFLAGS -c "$src" -o "$obj"
}
export -f compile
export CC CPPFLAGS CFLAGS SRCDIR HEADERS

OBJS=()
jobs=()
for f in "${CORE[@]}" "${HARNESS[@]}"; do
    o="$OUTDIR/obj/$(basename "${f%.c}").o"
    OBJS+=("$o")
    jobs+=("$f" "$o")
done
for t in $TARGETS; do
    jobs+=("$SRCDIR/t/fuzz/$t.c" "$OUTDIR/obj/$t.o")
done
if [ -n "$MAINOBJ" ]; then
    jobs+=("$SRCDIR/t/fuzz/regress_main.c" "$MAINOBJ")
    OBJS+=("$MAINOBJ")
fi
printf '%s\0' "${jobs[@]}" | xargs -0 -n 2 -P "$JOBS" bash -c 'compile "$0" "$1"'

relink=
if [ "$(cat "$OUTDIR/apr" 2>/dev/null)" != "$APR_USED" ]; then
    relink=1
fi
for t in $TARGETS; do
    bin="$OUTDIR/$t"
    newest=$(ls -t "${OBJS[@]}" "$OUTDIR/obj/$t.o" | sed -n 1p)
    if [ -z "$relink" ] && [ -x "$bin" ] && [ "$bin" -nt "$newest" ]; then
        continue
    fi
    echo "  LINK  $t"
    # shellcheck disable=SC2086
    $CC $LDFLAGS -o "$bin" "$OUTDIR/obj/$t.o" "${OBJS[@]}" $LIBS
done
echo "$APR_USED" > "$OUTDIR/apr"
echo "build.sh: targets in $OUTDIR: $TARGETS (APR: $APR_USED)"
