#!/usr/bin/env python3
"""heap_ab.py — several builds of libcprof (or settings of one) against bare runs of heap_work,
round-robin, for changes too small for heap_bench.py's pairs to see.

Each configuration is NAME=LIB[,VAR=VALUE...]; LIB "none" runs heap_work bare. Every round runs
each configuration once, the order rotating from round to round; per round, each configuration's
CPU (user+sys) and peak RSS are compared with the bare run of the same round. Prints the median
added CPU (min-max) and the median added peak RSS. CPROF_HEAP points at a scratch file unless a
configuration sets it. The A/A noise of one pair on a 2-vCPU VM is ~5%: effects under ~15 ms need
20 rounds or more.

  python3 bench/heap_ab.py --build build --rounds 20 \\
      new=build/libcprof.so old=/tmp/old/libcprof.so off=build/libcprof.so,CPROF_MEM_RATE=0
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib as bl  # noqa: E402


def parse(spec, tmp):
    name, _, rest = spec.partition("=")
    parts = rest.split(",")
    env = {}
    if parts[0] != "none":
        env = {"LD_PRELOAD": os.path.abspath(parts[0]), "CPROF_HEAP": os.path.join(tmp, name)}
    for kv in parts[1:]:
        k, _, v = kv.partition("=")
        env[k] = v
    return name, env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the CMake build directory")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--work", type=int, default=2000000, help="heap_work rounds per thread")
    ap.add_argument("configs", nargs="+", help="NAME=LIB[,VAR=VALUE...] (LIB none: bare)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="heap_ab.")
    cfgs = [("bare", {})] + [parse(c, tmp) for c in a.configs]
    work = [os.path.join(a.build, "bench", "heap_work"), str(a.work)]
    cpu = {n: [] for n, _ in cfgs}
    rss = {n: [] for n, _ in cfgs}
    err = os.path.join(tmp, "err")
    for r in range(a.rounds):
        k = r % len(cfgs)
        for name, env in cfgs[k:] + cfgs[:k]:
            m = bl.run_measured(work, env, None, err)
            bl.check_preload_stderr(err)
            cpu[name].append(m["cpu"])
            rss[name].append(m["maxrss_kb"])
    for name, _ in cfgs[1:]:
        d = [1000 * (x - y) for x, y in zip(cpu[name], cpu["bare"])]
        m = [(x - y) / 1024 for x, y in zip(rss[name], rss["bare"])]
        print("%-12s added CPU %+7.1f ms (%+.1f to %+.1f), ratio %.4f; added peak RSS %+.2f MB" %
              (name, statistics.median(d), min(d), max(d),
               statistics.median(x / y for x, y in zip(cpu[name], cpu["bare"])),
               statistics.median(m)))


if __name__ == "__main__":
    main()
