#!/bin/sh
# t/check-core-split.sh SRCDIR — the core/glue split guard.
# src/jm_*.c and src/jm_*.h (and src/sql/) are the httpd-independent core:
# they must not include httpd headers (httpd.h, http_*.h, ap_*.h, util_*.h,
# mod_*.h, mpm_common.h). Only mod_jmap_smime.c and src/mod_jm_* may.
# (APR's apr_*.h / apu.h are fine: they are not httpd headers.)
set -u
SRCDIR=${1:-.}
cd "$SRCDIR" || exit 2
files=$(ls src/jm_*.c src/jm_*.h src/sql/*.c src/sql/*.h 2>/dev/null)
if [ -z "$files" ]; then
    echo "check-core-split: no src/jm_* files found under $SRCDIR" >&2
    exit 1
fi
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*/)?(httpd\.h|http_[^>"]*\.h|ap_[^>"]*\.h|util_[^>"]*\.h|mod_[^>"]*\.h|mpm_common\.h)[>"]'
# shellcheck disable=SC2086
bad=$(grep -nE "$pattern" $files)
if [ -n "$bad" ]; then
    echo "check-core-split: httpd headers included in the core (src/jm_*):" >&2
    echo "$bad" >&2
    exit 1
fi
echo "check-core-split: ok ($(echo "$files" | wc -l) core files, no httpd headers)"
