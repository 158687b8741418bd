#!/bin/sh
# t/check-core-split.sh SRCDIR — the core/glue split guard.
# Everything under src/ except src/httpd/ is the httpd-independent core
# (src/core, src/std, src/mail, src/mime, src/smime, src/directory,
# src/store): it must not include httpd headers (httpd.h, http_*.h, ap_*.h,
# util_*.h, mod_*.h, mpm_common.h). Only mod_jmap_smime.c and src/httpd/ may.
# (APR's apr_*.h / apu.h are fine: they are not httpd headers.)
set -u
SRCDIR=${1:-.}
cd "$SRCDIR" || exit 2
files=$(find src -path src/httpd -prune -o -name '*.[ch]' -print | sort)
if [ -z "$files" ] || ls src/httpd/jm_* >/dev/null 2>&1; then
    echo "check-core-split: no core files found under src/ under $SRCDIR" >&2
    exit 1
fi
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*/)?(httpd\.h|http_[^>"]*\.h|ap_[^>"]*\.h|util_[^>"]*\.h|mod_[^>"]*\.h|mpm_common\.h)[>"]'
# shellcheck disable=SC2086
bad=$(grep -nE "$pattern" $files)
if [ -n "$bad" ]; then
    echo "check-core-split: httpd headers included in the core (src/ outside src/httpd/):" >&2
    echo "$bad" >&2
    exit 1
fi
echo "check-core-split: ok ($(echo "$files" | wc -l) core files, no httpd headers)"
