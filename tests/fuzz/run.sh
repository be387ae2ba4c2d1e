#!/bin/sh
# run.sh — builds a libFuzzer target of tests/fuzz/ with clang (ASan + UBSan) and runs it for a
# fixed number of inputs, as a test: `run.sh SOURCE_DIR BUILD_DIR TARGET RUNS`.
#
# The target is rebuilt only when a source of src/format/ or tests/fuzz/ is newer than it. Each run
# starts from the same seeds: pprof's own test inputs from ../shared/peer/pprof (legacy texts and
# binaries, gzipped profile.proto) and the small profiles in tests/fuzz/seeds/; what libFuzzer
# finds goes to a fresh BUILD_DIR/tests/fuzz/TARGET.corpus (kept for a longer run by hand). The
# run is bounded by the number of inputs (-runs), not by time, and its random seed is fixed, so
# every run is the same run. Crashing inputs are saved as BUILD_DIR/tests/fuzz/crash-*. RUNS=0
# only builds. Without clang this fails: install it with scripts/deps.sh.
set -eu
src=${1:?usage: run.sh SOURCE_DIR BUILD_DIR TARGET RUNS}
build=${2:?}
target=${3:?}
runs=${4:?}
shared=${CPROF_SHARED:-$src/../shared}
out=$build/tests/fuzz
bin=$out/$target
mkdir -p "$out"
cc=$(command -v clang || true)
[ -n "$cc" ] || { echo "FAIL: clang not found (the fuzz test needs clang and libFuzzer: run scripts/deps.sh)"; exit 1; }

if [ ! -x "$bin" ] || [ -n "$(find "$src/src/format" "$src/tests/fuzz" -newer "$bin" -name '*.[ch]' | head -1)" ]; then
  echo "building $bin"
  # The regular-expression matcher is sanitized but not coverage-instrumented: its branches say
  # nothing about the readers, and tracing its inner loop would make each run several times slower.
  san="-g -O2 -fsanitize=address,undefined -fno-sanitize-recover=undefined -I$src/src"
  # shellcheck disable=SC2086,SC2046
  "$cc" $san -c "$src/src/format/rx.c" -o "$bin.rx.o" &&
    "$cc" $san -fsanitize=fuzzer "$src/tests/fuzz/$target.c" \
      $(ls "$src"/src/format/*.c | grep -v '/rx\.c$') "$bin.rx.o" -lz -lm -o "$bin.tmp" \
    || { echo "FAIL: cannot build $target with $cc (is libFuzzer there? run scripts/deps.sh)"; exit 1; }
  mv "$bin.tmp" "$bin"
fi
[ "$runs" -gt 0 ] || exit 0

corpus=$out/$target.corpus
seeds=$out/$target.seeds
rm -rf "$seeds" "$corpus"
mkdir -p "$corpus" "$seeds"
cp "$src"/tests/fuzz/seeds/* "$seeds"/
for f in "$shared"/peer/pprof/profile/testdata/* "$shared"/peer/pprof/derived/driver/*.pb.gz \
         "$shared"/peer/pprof/internal/driver/testdata/cppbench.* \
         "$shared"/peer/pprof/internal/driver/testdata/go.nomappings.crash \
         "$shared"/peer/pprof/fuzz/testdata/*; do
  case "$f" in *.string) ;; *) [ -f "$f" ] && cp "$f" "$seeds/$(basename "$f")" ;; esac
done
[ "$(ls "$seeds" | wc -l)" -gt 10 ] || { echo "FAIL: too few seeds (is $shared/peer/pprof there?)"; exit 1; }

log=$out/$target.log
if "$bin" -runs="$runs" -seed=1 -max_len=32768 -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$out/" \
     "$corpus" "$seeds" >"$log" 2>&1; then
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|INITED|DONE" "$log" || true
  echo "1 passed, 0 failed"
else
  tail -60 "$log"
  echo "FAIL: $target found a crash (the input is saved as $out/crash-*; log $log)"
  exit 1
fi
