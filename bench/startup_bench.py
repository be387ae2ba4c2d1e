#!/usr/bin/env python3
"""startup_bench.py — what preloading a profiler costs a process that profiles nothing.

bench/spawn starts /bin/true N times in a row (posix_spawn + waitpid, clock_gettime around the
loop, children's rusage) with one LD_PRELOAD each:
  bare         nothing preloaded
  empty stub   a libc-only library with no code run at load: the floor for any preloaded library
  libcprof     <build>/libcprof.so with no CPROF_* variable set: must cost about the floor
  heavy stub   a do-nothing library linked (DT_NEEDED) with libdw, libelf, libmicrohttpd, zlib and
               libunwind: what a one-piece libcprof would cost; the core/extension split avoids it
  gperftools   libprofiler.so without CPUPROFILE (it links libstdc++, libunwind, ...)

Method: `rounds` rounds; in each, every configuration runs a batch of N/rounds spawns, the order
rotating from round to round; added time per process = (config - bare of the same round) / batch.
The table gives the median over rounds and the range. Prints Markdown (and writes --md FILE).
"""

import argparse
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib as bl  # noqa: E402

LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so"
TARGET_MS = 0.1  # libcprof's added start-up time per process


def batch(spawn, n, preload, prog):
    """One spawn loop of n runs of prog; returns (wall ms, cpu ms) per process."""
    argv = [spawn, "-n", str(n)]
    if preload:
        argv += ["-e", "LD_PRELOAD=" + preload]
    argv += ["--", prog]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0 or "cannot be preloaded" in p.stderr:
        raise bl.RunError("%s: %s" % (" ".join(argv), (p.stderr or p.stdout).strip()[:500]))
    f = dict(kv.split("=") for kv in p.stdout.split())
    return int(f["wall_ns"]) / n / 1e6, int(f["cpu_ns"]) / n / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("-n", type=int, default=2000, help="spawns per configuration in all")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--prog", default="/bin/true")
    ap.add_argument("--libprofiler", default=LIBPROFILER)
    ap.add_argument("--md")
    args = ap.parse_args()
    bdir = os.path.join(args.build, "bench")
    spawn = os.path.join(bdir, "spawn")
    if not os.access(spawn, os.X_OK):
        sys.exit("startup_bench: %s missing (cmake --build %s --target bench_progs)" %
                 (spawn, args.build))
    configs = [
        ("bare", None),
        ("empty stub (floor)", os.path.join(bdir, "libbench_empty_stub.so")),
        ("libcprof.so, nothing enabled", os.path.abspath(os.path.join(args.build, "libcprof.so"))),
        ("heavy stub (libdw+libelf+libmicrohttpd+zlib+libunwind)",
         os.path.join(bdir, "libbench_heavy_stub.so")),
        ("gperftools libprofiler.so, no CPUPROFILE", args.libprofiler),
    ]
    anomalies = []
    live = []
    for name, lib in configs:
        if lib and not os.path.exists(lib):
            anomalies.append("%s not measured: %s not found" % (name, lib))
            continue
        try:
            batch(spawn, 20, lib, args.prog)  # warm-up and check
        except bl.RunError as e:
            anomalies.append("%s not measured: %s" % (name, e))
            continue
        live.append((name, lib))
    per = max(1, args.n // args.rounds)
    res = {name: [] for name, _ in live}
    for r in range(args.rounds):
        bl.log("startup_bench: round %d/%d (%d spawns per configuration)" %
               (r + 1, args.rounds, per))
        k = r % len(live)
        for name, lib in live[k:] + live[:k]:
            res[name].append(batch(spawn, per, lib, args.prog))
    base = res["bare"]
    rows = []
    for name, _ in live:
        wall = [w for w, _ in res[name]]
        cpu = [c for _, c in res[name]]
        added = [w - bw for (w, _), (bw, _) in zip(res[name], base)]
        added_cpu = [c - bc for (_, c), (_, bc) in zip(res[name], base)]
        ratio = [w / bw for (w, _), (bw, _) in zip(res[name], base)]
        target = "-"
        if name.startswith("libcprof"):
            ok = bl.summary(added)[0] <= TARGET_MS
            target = "%s (<= %.1f ms)" % ("ok" if ok else "OVER", TARGET_MS)
            if not ok:
                anomalies.append("libcprof adds %.3f ms per process at start-up (target %.1f ms)" %
                                 (bl.summary(added)[0], TARGET_MS))
        if name == "bare":
            rows.append([name, "%.3f" % bl.summary(wall)[0], "%.3f" % bl.summary(cpu)[0],
                         "-", "-", "1", target])
            continue
        rows.append([name, "%.3f" % bl.summary(wall)[0], "%.3f" % bl.summary(cpu)[0],
                     bl.fmt_range(added, "%+.3f"), "%+.3f" % bl.summary(added_cpu)[0],
                     bl.fmt_range(ratio, "%.2f"), target])
    t = bl.table(["LD_PRELOAD", "ms/process (wall)", "ms/process (CPU)",
                  "added ms/process median (min-max)", "added CPU ms", "wall ratio", "target"],
                 rows)
    text = ("### Start-up (%s, %d spawns per configuration in %d rounds)\n\n%s\n\n"
            "### Anomalies\n\n%s\n" % (args.prog, per * args.rounds, args.rounds, t,
                                      bl.anomalies_md(anomalies)))
    bl.emit(text, args.md)


if __name__ == "__main__":
    main()
