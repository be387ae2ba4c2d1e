#!/bin/sh
# tests/tool_goldens.sh <cprof> <shared> <min> — google/pprof's golden outputs as a conformance
# suite for the cprof command: runs ../shared/peer/pprof/check_cases.sh with PPROF=<cprof> (every
# feasible CLI case of cases.tsv, byte-for-byte against the goldens) and fails when fewer than
# <min> cases pass, printing the cases that failed with a diff of the first ones.
set -u
cprof=${1:?usage: tool_goldens.sh <cprof> <shared> <min>}
shared=${2:?}
min=${3:?}
script="$shared/peer/pprof/check_cases.sh"
if [ ! -f "$script" ]; then
  echo "tool_goldens: $script not found" >&2
  exit 1
fi
out=$(PPROF="$cprof" bash "$script" 2>&1)
echo "$out" | grep -v '^PASS' || true
passed=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, .*/\1/p')
echo "cprof passes $passed pprof goldens (required: at least $min)"
[ -n "$passed" ] && [ "$passed" -ge "$min" ]
