#!/bin/sh
# cross_build.sh — aarch64 must at least build: compiles every source of the library and the
# command for aarch64 with Debian's cross compiler, warnings as errors, and links the core,
# libcprof.so, which needs nothing but libc. (The extension and the command need aarch64 builds
# of libdw, zlib and libmicrohttpd to link, which the cross toolchain does not carry; their
# headers are the same on both architectures, so they are compiled against the host's.)
set -eu
src=${1:?usage: cross_build.sh SOURCE_DIR}
cc=aarch64-linux-gnu-gcc
command -v $cc >/dev/null || { echo "cross_build: $cc missing: run scripts/deps.sh"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags="-std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes
       -fPIC -fvisibility=hidden -ftls-model=initial-exec -I$src/include -I$src/src -idirafter /usr/include"
# The extension's and the HTTP plugin's files, as CMakeLists.txt lists them; every other runtime
# file is the core.
ext=$(sed -n 's/^set(\(EXT\|HTTP\)_NAMES \(.*\))$/\2/p' "$src/CMakeLists.txt" | tr '\n' ' ')
[ -n "$ext" ] || { echo "cross_build: no EXT_NAMES in CMakeLists.txt"; exit 1; }
n=0
core=""
for f in "$src"/src/runtime/*.c "$src"/src/format/*.c "$src"/src/tool/*.c; do
  o="$out/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"
  # shellcheck disable=SC2086
  $cc $flags -DCPROF_EXT_DLOPEN=1 -c "$f" -o "$o"
  n=$((n + 1))
  case "$f" in
    */runtime/*) case " $ext " in *" $(basename "$f") "*) ;; *) core="$core $o" ;; esac ;;
  esac
done
# shellcheck disable=SC2086
$cc -shared -o "$out/libcprof.so" $core -Wl,--version-script="$src/src/runtime/libcprof.map" \
  -Wl,--no-undefined -lpthread -ldl -lrt
file "$out/libcprof.so" | grep -q "ARM aarch64" || { echo "cross_build: not an aarch64 library"; exit 1; }
echo "cross_build: $n sources compiled for aarch64, libcprof.so linked"
echo "1 passed, 0 failed"
