#!/bin/sh
# bench/run.sh <builddir> — what `make bench` runs: builds the bench programs into <builddir>/bench,
# measures CPU-profiling overhead (cpu_bench.py: libcprof and gperftools at 100 and 1000 Hz against
# bare runs, paired, at two workload lengths: fixed cost per profile and steady-state overhead),
# start-up cost (startup_bench.py: LD_PRELOAD of libcprof and comparison libraries on /bin/true),
# heap-profiling overhead (heap_bench.py), the pthread hooks' cost per lock/unlock pair
# (sync_bench.py) and the cprof command against go tool pprof on a large profile (tool_bench.py),
# and prints one summary. The same text is written to
# <builddir>/bench/results.md; copy its tables into bench/README.md when they change.
# Takes ~7 minutes on 2 cores. BENCH_QUICK=1 makes a ~30 s smoke run (numbers not meaningful);
# BENCH_PAIRS=n overrides the number of pairs. Not part of `make test`.
set -eu
export PYTHONDONTWRITEBYTECODE=1
B=${1:?usage: bench/run.sh <builddir>}
here=$(cd "$(dirname "$0")" && pwd)

if ! cmake --build "$B" --target bench_progs -j 2 >"$B/bench-build.log" 2>&1; then
  cat "$B/bench-build.log" >&2
  exit 1
fi
if [ ! -e "$B/libcprof.so" ]; then
  echo "bench/run.sh: warning: $B/libcprof.so not built; libcprof rows will be missing" >&2
fi
if ! command -v go >/dev/null; then
  echo "bench/run.sh: go (golang-go) is needed to read profiles" >&2
  exit 1
fi

cpu_args="--pairs ${BENCH_PAIRS:-3}"  # repetitions of a short and a ~10 s pair
start_args="-n 2000 --rounds 5"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  cpu_args="--pairs ${BENCH_PAIRS:-1} --fixed-pairs 2 --rounds 1000 --long-rounds 3000"
  start_args="-n 300 --rounds 3"
fi

hz=unknown
if [ -r "/boot/config-$(uname -r)" ]; then
  hz=$(sed -n 's/^CONFIG_HZ=//p' "/boot/config-$(uname -r)")
elif [ -r /proc/config.gz ]; then
  hz=$(zcat /proc/config.gz | sed -n 's/^CONFIG_HZ=//p')
fi
out="$B/bench/results.md"
{
  echo "## cprof bench results, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo '?')
  echo "Machine: $(nproc) CPUs ($model),"
  echo "Linux $(uname -r), CONFIG_HZ=$hz, perf_event_paranoid=$paranoid."
  echo
} >"$out"
# shellcheck disable=SC2086
python3 "$here/cpu_bench.py" --build "$B" $cpu_args --md "$B/bench/cpu.md" >/dev/null
# shellcheck disable=SC2086
python3 "$here/startup_bench.py" --build "$B" $start_args --md "$B/bench/startup.md" >/dev/null
# heap profiling: heap_bench.py (libcprof at the default rate and at rate 1 beside jemalloc's
# profiler, gperftools' heap profiler and heaptrack; ~2-3 minutes).
heap_args="--pairs ${BENCH_PAIRS:-7} --small-pairs ${BENCH_PAIRS:-5}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  heap_args="--pairs ${BENCH_PAIRS:-2} --small-pairs 1 --rounds 300000"
fi
# shellcheck disable=SC2086
python3 "$here/heap_bench.py" --build "$B" $heap_args --md "$B/bench/heap.md" >/dev/null
# the cprof command: -top on a 1M-sample profile against go tool pprof (tool_bench.py; ~1.5 min)
tool_args="--pairs ${BENCH_PAIRS:-3}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  tool_args="--pairs 1 --samples 100000 --functions 10000"
fi
# shellcheck disable=SC2086
python3 "$here/tool_bench.py" --build "$B" $tool_args --md "$B/bench/tool.md" >/dev/null
# lock/unlock cost: sync_bench.py (glibc, libcprof off, on, on sampled; ~1 minute).
sync_args="--rounds ${BENCH_PAIRS:-7}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  sync_args="--rounds ${BENCH_PAIRS:-2} --scale 0.1"
fi
# shellcheck disable=SC2086
python3 "$here/sync_bench.py" --build "$B" $sync_args --md "$B/bench/sync.md" >/dev/null
{ cat "$B/bench/cpu.md"; echo; cat "$B/bench/startup.md"; } >>"$out"
{ echo; cat "$B/bench/heap.md"; } >>"$out"
{ echo; cat "$B/bench/sync.md"; } >>"$out"
{ echo; cat "$B/bench/tool.md"; } >>"$out"
cat "$out"
