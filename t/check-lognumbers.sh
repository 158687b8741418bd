#!/bin/sh
# Every log tag JMnnnnn is used at exactly one call site (src/LOGNUMBERS).
SRC=${1:-.}
dups=$(grep -rhoE "JMLOGNO(_GLUE)?\([0-9]+\)" "$SRC/src" "$SRC/mod_jmap_smime.c" \
       | sed -E 's/.*\(([0-9]+)\)/\1/' | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "check-lognumbers: log numbers used more than once: $dups" >&2
    exit 1
fi
echo "check-lognumbers: ok ($(grep -rhoE "JMLOGNO(_GLUE)?\([0-9]+\)" "$SRC/src" "$SRC/mod_jmap_smime.c" | wc -l) tags, all distinct)"
