#!/bin/bash
# t/fuzz/build-apr.sh [PREFIX] — build Debian's own APR source with
# --enable-pool-debug into PREFIX (default /var/tmp/jm-fuzz-apr) for the
# fuzz targets (see t/fuzz/build.sh: with the packaged library pool memory
# is mmap'ed, invisible to LeakSanitizer and opaque to AddressSanitizer).
#
# The source comes through apt-get source with a private sources list and
# private package lists (nothing under /etc/apt is changed). Needs
# dpkg-dev and a C compiler. Takes 1-5 minutes on 2 cores; a PREFIX that is
# already built is left alone. Exit status non-zero when it cannot be built
# (the fuzz targets then use the system APR, without leak detection).
set -euo pipefail
PREFIX=${1:-/var/tmp/jm-fuzz-apr}
if [ -e "$PREFIX/lib/libapr-1.so.0" ]; then
    echo "build-apr.sh: $PREFIX is already built"
    exit 0
fi
command -v dpkg-source >/dev/null || { echo "build-apr.sh: dpkg-source missing (apt-get install dpkg-dev)" >&2; exit 1; }
W=$(mktemp -d /tmp/jm-fuzz-apr-src.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/parts" "$W/lists/partial" "$W/cache/archives/partial"
. /etc/os-release
cat > "$W/parts/src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME:-bookworm}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
O=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$W/parts"
   -o "Dir::State::Lists=$W/lists" -o "Dir::Cache=$W/cache" -o "APT::Sandbox::User=root")
ver=$(dpkg-query -W -f '${source:Version}' libapr1 2>/dev/null || true)
echo "build-apr.sh: fetching the source of libapr1 ${ver:-(any version)}"
apt-get "${O[@]}" -qq update
(cd "$W" && apt-get "${O[@]}" -qq source --download-only "apr${ver:+=$ver}" >/dev/null)
(cd "$W" && dpkg-source -x apr_*.dsc src >/dev/null)
cd "$W/src"
echo "build-apr.sh: configure + make (pool debug, no mmap allocator)"
./configure --prefix="$PREFIX" --enable-nonportable-atomics --enable-pool-debug=yes \
    CFLAGS="-g -O2" > "$W/configure.log" 2>&1 || { tail -20 "$W/configure.log"; exit 1; }
make -j"${JOBS:-2}" > "$W/make.log" 2>&1 || { tail -20 "$W/make.log"; exit 1; }
make install > "$W/install.log" 2>&1 || { tail -20 "$W/install.log"; exit 1; }
echo "build-apr.sh: installed in $PREFIX"
