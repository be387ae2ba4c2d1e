#!/usr/bin/env python3
"""heap_bench.py — what heap profiling costs an allocation-heavy program, libcprof beside
jemalloc's profiler, gperftools' heap profiler and heaptrack.

bench/heap_work (2 threads; small, medium and large blocks; realloc; a long-lived set; ~70 MB
peak RSS) runs under each configuration, every profiler attached with LD_PRELOAD (heaptrack with
its own launcher), each one paired with the baseline it must be compared with:
  libcprof          LD_PRELOAD=libcprof.so CPROF_HEAP=<file>        vs bare (glibc malloc)
  libcprof+jemalloc LD_PRELOAD="libcprof.so libjemalloc.so.2" ...   vs jemalloc alone
  jemalloc prof     LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,lg_prof_sample:19,
                    prof_final:true,prof_prefix:<dir>/je           vs MALLOC_CONF=prof:false
  gperftools        LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=<file>  vs tcmalloc alone
  libcprof rate 1   CPROF_MEM_RATE=1 (every allocation)             vs bare
  heaptrack         heaptrack -o <file> heap_work                    vs bare
The default-rate rows (libcprof at 512 KiB, jemalloc at 2^19 = 512 KiB) run the full workload;
the record-everything rows (gperftools' heap profiler, libcprof at rate 1, heaptrack) run a
tenth of it (gperftools' a hundredth: it costs ~100x the program), since they cost many times
the program. The fixed cost of libcprof (loading its
extension, building unwind tables, writing and symbolizing a profile at exit) is measured the
same way with `heap_work 0` (threads that allocate only their long-lived set).

Method (benchlib): for each configuration, `pairs` pairs of (baseline, profiled) runs back to
back, the order alternating; per pair the ratios of user+sys CPU and of peak RSS (ru_maxrss from
os.wait4: for heaptrack, the largest of its processes) and the added CPU; the tables give the
median and the range. CPU includes everything the profiler does up to exit, writing and
symbolizing the profile included; for heaptrack also heaptrack_interpret and the compression of
its output (waited for by its launcher). Every run's output (checksum, bytes allocated) must be
the baseline's, and every profiled run must leave its profile file. libcprof's default-rate
profiles are read with `go tool pprof -raw` for their alloc_space, compared with the bytes the
program says it allocated.

Prints Markdown on stdout (and to --md FILE). Targets: libcprof at the default rate <= 3% CPU and
<= 5% peak RSS; at rate 1 at least 3x cheaper (added CPU) than heaptrack.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib as bl  # noqa: E402

LIBDIR = "/usr/lib/x86_64-linux-gnu"
JEMALLOC = LIBDIR + "/libjemalloc.so.2"
TCMALLOC = LIBDIR + "/libtcmalloc.so.4"
RATE = 524288
SIZES = {"full": 1.0, "1/10": 0.1, "1/100": 0.01, "0": 0.0}  # workload sizes, x --rounds


class Config:
    """One row: name, the baseline's and the profiled run's setup, the workload size."""

    def __init__(self, name, base_env, prof_env, size, prof_file, launcher=None, target=None):
        self.name, self.base_env, self.prof_env = name, base_env, prof_env
        self.size, self.prof_file, self.launcher, self.target = size, prof_file, launcher, target
        self.small = size in ("1/10", "1/100")
        self.pairs = []
        self.skipped = None
        self.alloc_ratio = []


def configs(a, tmp):
    """The configurations to measure; prof_file is a glob pattern under tmp (cleared per run)."""
    lib = a.libcprof
    je_prof = "prof:true,lg_prof_sample:19,prof_final:true,prof_prefix:%s/je" % tmp
    return [
        Config("none (A/A)", {}, {}, "full", None),
        Config("libcprof, default rate", {}, {"LD_PRELOAD": lib, "CPROF_HEAP": tmp + "/c.pb.gz"},
               "full", "c.pb.gz", target=(0.03, 0.05)),
        Config("libcprof, default rate, fixed cost", {},
               {"LD_PRELOAD": lib, "CPROF_HEAP": tmp + "/c.pb.gz"}, "0", "c.pb.gz"),
        Config("libcprof over jemalloc, default rate", {"LD_PRELOAD": JEMALLOC},
               {"LD_PRELOAD": lib + " " + JEMALLOC, "CPROF_HEAP": tmp + "/c.pb.gz"},
               "full", "c.pb.gz"),
        Config("jemalloc prof:true lg_prof_sample:19", {"LD_PRELOAD": JEMALLOC,
                                                        "MALLOC_CONF": "prof:false"},
               {"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": je_prof}, "full", "je.*.heap"),
        Config("gperftools HEAPPROFILE (every allocation)", {"LD_PRELOAD": TCMALLOC},
               {"LD_PRELOAD": TCMALLOC, "HEAPPROFILE": tmp + "/gp"}, "1/100", "gp.*.heap"),
        Config("libcprof, rate 1 (every allocation)", {},
               {"LD_PRELOAD": lib, "CPROF_HEAP": tmp + "/c.pb.gz", "CPROF_MEM_RATE": "1"}, "1/10",
               "c.pb.gz"),
        Config("heaptrack (every allocation)", {}, {}, "1/10", "ht.*",
               launcher=[a.heaptrack, "-o", tmp + "/ht"] if a.heaptrack else None),
    ]


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="heap_bench.", dir=args.tmpdir)
        self.ptmp = os.path.join(self.tmp, "p")
        os.mkdir(self.ptmp)
        self.outputs = {}
        self.anomalies = []

    def run(self, cfg, profiled):
        """One measured run; checks the output and the profile; returns benchlib's dict."""
        rounds = int(self.a.rounds * SIZES[cfg.size])
        out, err = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "err")
        for f in glob.glob(os.path.join(self.ptmp, "*")):
            os.unlink(f)
        argv = [self.a.heap_work, str(rounds)]
        if profiled and cfg.launcher:
            argv = cfg.launcher + argv
        env = cfg.prof_env if profiled else cfg.base_env
        r = bl.run_measured(argv, env, out, err)
        bl.check_preload_stderr(err)
        with open(out) as f:
            line = next((l for l in f if l.startswith("heap_work ")), "").strip()
        want = self.outputs.setdefault(rounds, line)
        if line != want:
            raise bl.RunError("%s: output %r, expected %r" % (cfg.name, line, want))
        r["allocated"] = int(line.split("allocated=")[1].split()[0]) if "allocated=" in line else 0
        if profiled and cfg.prof_file:
            files = glob.glob(os.path.join(self.ptmp, cfg.prof_file))
            if not files or os.path.getsize(files[0]) == 0:
                with open(err, errors="replace") as f:
                    msg = f.read().strip()[-300:]
                raise bl.RunError("%s wrote no profile %s%s" % (cfg.name, cfg.prof_file,
                                                                 ": " + msg if msg else ""))
            if cfg.prof_file == "c.pb.gz" and cfg.size == "full":
                got = alloc_space(files[0])
                if got is not None and r["allocated"]:
                    r["alloc_ratio"] = got / r["allocated"]
        return r

    def measure(self, cfg):
        for i in range(self.a.pairs if not cfg.small else self.a.small_pairs):
            if bl.paired_order(i):
                base, prof = self.run(cfg, False), self.run(cfg, True)
            else:
                prof, base = self.run(cfg, True), self.run(cfg, False)
            cfg.pairs.append((base, prof))
            if "alloc_ratio" in prof:
                cfg.alloc_ratio.append(prof["alloc_ratio"])

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def alloc_space(path):
    """The total alloc_space of a heap profile, from `go tool pprof -raw`."""
    p = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    lines = p.stdout.splitlines()
    try:
        start = lines.index("Samples:") + 1
    except ValueError:
        return None
    types = [t.replace("[dflt]", "") for t in lines[start].split()]
    idx = types.index("alloc_space/bytes") if "alloc_space/bytes" in types else 1
    total = 0
    for line in lines[start + 1:]:
        if line == "Locations":
            break
        vals = line.split(":", 1)[0].split()
        if len(vals) == len(types) and all(v.isdigit() for v in vals):
            total += int(vals[idx])
    return total


def jemalloc_prof_available(tmp):
    """None if Debian's jemalloc honours prof:true, else why not (it warns on an unknown option
    when built without --enable-prof)."""
    env = dict(os.environ, LD_PRELOAD=JEMALLOC,
               MALLOC_CONF="prof:true,prof_final:true,prof_prefix:%s/probe" % tmp)
    p = subprocess.run(["/bin/true"], env=env, capture_output=True, text=True)
    if "Invalid conf" in p.stderr or "prof" in p.stderr:
        return "not available in Debian's build (%s)" % p.stderr.strip().splitlines()[0]
    return None


def probe(b, cfg):
    """A warm-up pair that also checks the setup; returns None or why it cannot be measured."""
    if cfg.launcher is None and cfg.name.startswith("heaptrack"):
        return "heaptrack not found"
    for lib in (JEMALLOC, TCMALLOC, b.a.libcprof):
        if lib in " ".join(cfg.prof_env.values()) + " ".join(cfg.base_env.values()) and \
                not os.path.exists(lib):
            return "%s not found" % lib
    if cfg.name.startswith("jemalloc"):
        why = jemalloc_prof_available(b.tmp)
        if why:
            return why
    try:
        b.run(cfg, False)
        b.run(cfg, True)
    except bl.RunError as e:
        return str(e)
    return None


def derive(cfg):
    p = cfg.pairs
    return {
        "cpu_ratio": [q["cpu"] / b["cpu"] for b, q in p],
        "wall_ratio": [q["wall"] / b["wall"] for b, q in p],
        "rss_ratio": [q["maxrss_kb"] / b["maxrss_kb"] for b, q in p],
        "added_ms": [(q["cpu"] - b["cpu"]) * 1e3 for b, q in p],
        "added_rss_mb": [(q["maxrss_kb"] - b["maxrss_kb"]) / 1024 for b, q in p],
        "base_cpu": [b["cpu"] for b, _ in p],
        "base_rss_mb": [b["maxrss_kb"] / 1024 for b, _ in p],
    }


def tables(b, cfgs):
    med = lambda v: bl.summary(v)[0]
    rows, added = [], {}
    for cfg in cfgs:
        size = cfg.size
        if cfg.skipped:
            rows.append([cfg.name, size, "not measured: " + cfg.skipped, "-", "-", "-", "-", "-"])
            continue
        d = derive(cfg)
        added[cfg.name] = med(d["added_ms"])
        verdict = "-"
        if cfg.target:
            ok_cpu = med(d["cpu_ratio"]) - 1 <= cfg.target[0]
            ok_rss = med(d["rss_ratio"]) - 1 <= cfg.target[1]
            verdict = "CPU %s, RSS %s (<= %.2f, <= %.2f)" % ("ok" if ok_cpu else "OVER",
                                                             "ok" if ok_rss else "OVER",
                                                             1 + cfg.target[0], 1 + cfg.target[1])
            if not ok_cpu or not ok_rss:
                b.anomalies.append("%s: CPU ratio %.3f, peak RSS ratio %.3f: over the target"
                                   % (cfg.name, med(d["cpu_ratio"]), med(d["rss_ratio"])))
        rows.append([cfg.name, size, bl.fmt_range(d["cpu_ratio"]), bl.fmt_range(d["rss_ratio"]),
                     "%+.0f" % med(d["added_ms"]), "%+.1f" % med(d["added_rss_mb"]),
                     "%.2f s / %.0f MB" % (med(d["base_cpu"]), med(d["base_rss_mb"])), verdict])
        if cfg.alloc_ratio:
            rows[-1][-1] += "; alloc_space/allocated %s" % bl.fmt_range(cfg.alloc_ratio)
    t1 = bl.table(["profiler", "workload", "CPU ratio median (min-max)",
                   "peak RSS ratio median (min-max)", "added CPU ms", "added peak RSS MB",
                   "baseline CPU / peak RSS", "target / notes"], rows)
    r1 = added.get("libcprof, rate 1 (every allocation)")
    ht = added.get("heaptrack (every allocation)")
    if r1 is not None and ht is not None and r1 > 0:
        ratio = ht / r1
        t1 += ("\n\nEvery allocation recorded (1/10 workload): heaptrack adds %.0f ms of CPU, "
               "libcprof at rate 1 adds %.0f ms: libcprof is %.1fx cheaper (target >= 3x: %s)."
               % (ht, r1, ratio, "ok" if ratio >= 3 else "MISSED"))
        if ratio < 3:
            b.anomalies.append("libcprof rate 1 is only %.1fx cheaper than heaptrack" % ratio)
    return t1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="the CMake build directory")
    ap.add_argument("--pairs", type=int, default=7, help="pairs for the full-workload rows")
    ap.add_argument("--small-pairs", type=int, default=5, help="pairs for the 1/10 rows")
    ap.add_argument("--rounds", type=int, default=2000000, help="heap_work rounds per thread")
    ap.add_argument("--only", default="", help="prefixes of the rows to run, separated by |")
    ap.add_argument("--md", help="also write the tables to this file")
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()
    args.heap_work = os.path.join(args.build, "bench", "heap_work")
    args.libcprof = os.path.abspath(os.path.join(args.build, "libcprof.so"))
    args.heaptrack = shutil.which("heaptrack")
    if not os.access(args.heap_work, os.X_OK):
        sys.exit("heap_bench: %s missing (cmake --build %s --target bench_progs)" %
                 (args.heap_work, args.build))
    if shutil.which("go") is None:
        sys.exit("heap_bench: `go` not found (go tool pprof reads the profiles)")
    b = Bench(args)
    cfgs = configs(args, b.ptmp)
    if args.only:
        cfgs = [c for c in cfgs if any(c.name.startswith(p) for p in args.only.split("|"))]
    try:
        for cfg in cfgs:
            cfg.skipped = probe(b, cfg)
            if cfg.skipped:
                bl.log("heap_bench: %s: not measured: %s" % (cfg.name, cfg.skipped))
                b.anomalies.append("%s not measured: %s" % (cfg.name, cfg.skipped))
                continue
            bl.log("heap_bench: %s" % cfg.name)
            cfg.skipped = None
            try:
                b.measure(cfg)
            except bl.RunError as e:
                cfg.skipped = str(e)
                b.anomalies.append("%s failed: %s" % (cfg.name, e))
    finally:
        b.close()
    t1 = tables(b, cfgs)
    full = b.outputs.get(args.rounds, "")
    small = b.outputs.get(args.rounds // 10, "")
    text = ("### Heap profiling overhead (heap_work: 2 threads, %d rounds each (full), 1/10 and "
            "1/100 of that; %d pairs full and 0, %d pairs 1/10 and 1/100)\n\n"
            "Workload output: full `%s`; 1/10 `%s`.\n\n%s\n\n### Anomalies\n\n%s\n" %
            (args.rounds, args.pairs, args.small_pairs, full, small, t1,
             bl.anomalies_md(b.anomalies)))
    bl.emit(text, args.md)


if __name__ == "__main__":
    main()
