#!/usr/bin/env python3
"""tool_bench.py — the cprof command against `go tool pprof` on a large profile.

mkprof (bench/mkprof.c) writes a synthetic CPU profile of about 1,000,000 distinct samples over
50,000 functions (gzipped profile.proto, ~13 MB). Each pair runs `cprof -top` and pprof's own
binary (`$(go env GOTOOLDIR)/pprof -top`, the program `go tool pprof` execs, so the `go` wrapper
is not measured) on it, the order alternating from pair to pair; wall time and peak RSS come from
wait4. Both must print the same bytes (checked on every run). The ratios are per pair, summarised
by their median and range.

Usage: tool_bench.py --build BUILD [--pairs N] [--samples N] [--functions N] [--md FILE]
"""
import argparse
import filecmp
import os
import subprocess
import sys
import tempfile

import benchlib as bl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=1000000)
    ap.add_argument("--functions", type=int, default=50000)
    ap.add_argument("--md")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    cprof = os.path.join(build, "cprof")
    mkprof = os.path.join(build, "bench", "mkprof")
    tooldir = subprocess.run(["go", "env", "GOTOOLDIR"], stdout=subprocess.PIPE,
                             check=True).stdout.decode().strip()
    pprof = os.path.join(tooldir, "pprof")
    d = tempfile.mkdtemp(prefix="cprof-toolbench-")
    prof = os.path.join(d, "big.pb.gz")
    bl.log("tool_bench: writing %d samples, %d functions" % (a.samples, a.functions))
    subprocess.run([mkprof, prof, str(a.samples), str(a.functions)], check=True)
    size = os.path.getsize(prof)
    ours, theirs, anomalies = [], [], []
    for i in range(a.pairs):
        order = [("cprof", cprof), ("pprof", pprof)]
        if not bl.paired_order(i):
            order.reverse()
        res = {}
        for name, exe in order:
            out = os.path.join(d, name + ".txt")
            res[name] = bl.run_measured([exe, "-top", prof], stdout_path=out)
        if not filecmp.cmp(os.path.join(d, "cprof.txt"), os.path.join(d, "pprof.txt"),
                           shallow=False):
            anomalies.append("pair %d: outputs differ" % i)
        ours.append(res["cprof"])
        theirs.append(res["pprof"])
        bl.log("pair %d: cprof %.2fs %.0f MB, pprof %.2fs %.0f MB" % (
            i, res["cprof"]["wall"], res["cprof"]["maxrss_kb"] / 1024, res["pprof"]["wall"],
            res["pprof"]["maxrss_kb"] / 1024))
    speed = [t["wall"] / o["wall"] for o, t in zip(ours, theirs)]
    mem = [o["maxrss_kb"] / t["maxrss_kb"] for o, t in zip(ours, theirs)]
    rows = [
        ["cprof -top", bl.fmt_range([o["wall"] for o in ours], "%.2f"),
         bl.fmt_range([o["cpu"] for o in ours], "%.2f"),
         bl.fmt_range([o["maxrss_kb"] / 1024 for o in ours], "%.0f")],
        ["go tool pprof -top", bl.fmt_range([t["wall"] for t in theirs], "%.2f"),
         bl.fmt_range([t["cpu"] for t in theirs], "%.2f"),
         bl.fmt_range([t["maxrss_kb"] / 1024 for t in theirs], "%.0f")],
    ]
    text = "### cprof -top vs go tool pprof -top (1M samples)\n\n"
    text += ("Profile: %d samples over %d functions, %.1f MB gzipped (bench/mkprof.c). %d pairs, "
             "order alternating; median (min-max).\n\n" % (a.samples, a.functions, size / 1e6,
                                                            a.pairs))
    text += bl.table(["command", "wall s", "CPU s", "peak RSS MB"], rows) + "\n\n"
    text += ("cprof is %s times faster (wall, per pair) and uses %s of pprof's peak memory. "
             "Same output on every run: %s.\n\nAnomalies: %s\n" % (
                 bl.fmt_range(speed, "%.1f"), bl.fmt_range(mem, "%.2f"),
                 "yes" if not anomalies else "NO", bl.anomalies_md(anomalies)))
    bl.emit(text, a.md)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)
    return 1 if anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
