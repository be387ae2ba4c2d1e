#!/bin/sh
# Installs the Debian packages cprof needs to build, test, run its demo and its benchmarks, and
# nothing when they are all present. Run as root, or with sudo available.
set -eu

# package: what it is for
pkgs="
build-essential  compiler and make
cmake            the build
pkg-config       finding the libraries below
libdw-dev        symbolization and unwind tables (elfutils)
libelf-dev       reading ELF files (elfutils)
libmicrohttpd-dev the /debug/pprof HTTP server
zlib1g-dev       gzip for profile.proto
libpcre2-dev     Go-compatible regular expressions in the cprof command (-focus, -list=...)
g++              C++ test programs (exceptions while sampling)
golang-go        go tool pprof, the independent referee in tests
curl             fetching profiles over HTTP in tests and the demo
python3          integration test scripts
libgoogle-perftools-dev gperftools' CPU profiler, a peer in bench/
libgoogle-perftools4 tcmalloc under libcprof in the heap tests; gperftools' heap profiler in bench/
libjemalloc2     jemalloc under libcprof in the heap tests; jemalloc's profiler in bench/
heaptrack        heap profiler, a peer in bench/
hyperfine        start-up time benchmark
gcc-aarch64-linux-gnu the aarch64 build check in make test
libc6-dev-arm64-cross the aarch64 build check in make test
file             the aarch64 build check in make test
clang            the bounded libFuzzer runs in make test (tests/fuzz/run.sh)
libclang-rt-dev  libFuzzer and the sanitizer runtimes clang links those fuzz targets with
"
missing=""
for p in $(printf '%s\n' "$pkgs" | awk 'NF {print $1}'); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "scripts/deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
