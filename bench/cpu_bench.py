#!/usr/bin/env python3
"""cpu_bench.py — what CPU profiling costs a CPU-bound program, libcprof beside gperftools, split
into a fixed cost per profile and a steady-state overhead while sampling.

Runs bench/cpu_work (2 threads, fixed integer hashing, ~20-frame stacks, no frame pointers) bare and
under each profiler, attached with LD_PRELOAD only:
  libcprof    LD_PRELOAD=<build>/libcprof.so CPROF_CPU=<file> CPROF_HZ=100|1000  (perf_event timer)
  libcprof    the same plus CPROF_TIMER=timer (per-thread POSIX timers; --extra-timer '' drops it)
  gperftools  LD_PRELOAD=libprofiler.so CPUPROFILE=<file> CPUPROFILE_FREQUENCY=100|1000
plus a bare-vs-bare row (A/A) that goes through the same arithmetic and shows the noise.

Method: a profiler's added CPU is modelled as fixed + s * W, where W is the program's own CPU time
(the bare run's), `fixed` the cost of a profile whatever its length (loading the extension, timers,
unwind tables, writing and symbolizing the profile at exit: the set of sampled addresses does not
grow with W) and s the steady-state overhead while sampling. Each configuration runs `pairs`
repetitions of two pairs, a short one (--rounds, ~1.2 s of CPU) and a long one (--long-rounds,
~10 s), each pair (bare, profiled) back to back; the order inside the pairs and of the two pairs
alternates from repetition to repetition. CPU time is the kernel's rusage of the child (user+sys,
all threads, everything up to exit). Per repetition, with a = profiled - bare CPU:
  steady state s = (a_long - a_short) / (W_long - W_short)      (the slope, as % of the program)
  fixed cost     = a_short - s * W_short                         (the intercept, ms)
  cost/sample    = (a_long - a_short) / (samples_long - samples_short)
and the whole-run ratios profiled/bare of both lengths; tables give the median and the range
over repetitions. The cost of starting a profile and writing an almost empty one is also measured
directly, with `cpu_work 0` (--fixed-pairs pairs); the intercept minus it is mostly the
symbolization of the real profile's addresses. Targets (libcprof with its default timer) are
judged on the steady-state overhead; the ~10 s whole-run ratio shows what a typical profile pays
once the fixed cost is amortized.

Every profile is read with `go tool pprof -raw` (gperftools' legacy file with the binary,
libcprof's profile.proto as written, unsymbolized by pprof); the Samples table gives, for the long
runs, the number of samples, the CPU time they add up to, the mean stack depth, the fraction of
stacks unwound up to `worker` and the shares of the three leaves (expected 60/30/10); expected
samples = the paired bare run's CPU seconds x Hz.
The program's checksum is compared across runs of the same length.

Prints Markdown tables on stdout (and to --md FILE); anomalies are listed under them.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import benchlib as bl  # noqa: E402

LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so"
TARGETS = {100: 0.01, 1000: 0.03}  # libcprof's steady-state CPU overhead targets by rate
LEAVES = ("work_hot", "work_warm", "work_cold")  # cpu_work's leaves, 60/30/10 of its work


def tool_env(tool, hz, prof, args, extra=None):
    """The environment that turns profiling on for tool at hz, writing to prof."""
    if tool == "libcprof":
        env = {"LD_PRELOAD": args.libcprof, "CPROF_CPU": prof, "CPROF_HZ": str(hz)}
        env.update(extra or {})
        return env
    if tool == "gperftools":
        return {"LD_PRELOAD": args.libprofiler, "CPUPROFILE": prof,
                "CPUPROFILE_FREQUENCY": str(hz)}
    return {}


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="cpu_bench.", dir=args.tmpdir)
        self.checksums = {}  # rounds -> the program's output line
        self.anomalies = []
        self.seq = 0

    def run(self, rounds, tool=None, hz=0, extra=None, read=True):
        """One run of cpu_work; returns the measurement, with the profile's figures if profiled
        and read is set (the profile must exist in any case)."""
        self.seq += 1
        out = os.path.join(self.tmp, "out.txt")
        err = os.path.join(self.tmp, "err.txt")
        prof = os.path.join(self.tmp, "p%d.prof" % self.seq)
        env = tool_env(tool, hz, prof, self.args, extra) if tool else {}
        r = bl.run_measured([self.args.cpu_work, str(rounds)], env, out, err)
        bl.check_preload_stderr(err)
        with open(out) as f:
            text = f.read().strip()
        want = self.checksums.setdefault(rounds, text)
        if text != want:
            self.anomalies.append("output changed: %r vs %r (%s %d Hz)" % (text, want, tool, hz))
        if tool:
            if not os.path.exists(prof) or os.path.getsize(prof) == 0:
                raise bl.RunError("%s at %d Hz wrote no profile (%s)" % (tool, hz, prof))
            if read:
                binary = self.args.cpu_work if tool == "gperftools" else None
                r["prof"] = bl.read_profile(prof, binary, LEAVES)
            os.unlink(prof)
        return r

    def pair(self, rounds, base_first, tool, hz, extra=None, read=True):
        """One (bare, profiled) pair, in the given order; tool None gives bare-vs-bare."""
        if base_first:
            base = self.run(rounds)
            prof = self.run(rounds, tool, hz, extra, read)
        else:
            prof = self.run(rounds, tool, hz, extra, read)
            base = self.run(rounds)
        return base, prof

    def reps(self, n, tool, hz, extra=None):
        """n repetitions of a short and a long pair; orders alternate between repetitions."""
        a = self.args
        out = []
        for i in range(n):
            order = bl.paired_order(i)
            lengths = (a.rounds, a.long_rounds) if order else (a.long_rounds, a.rounds)
            got = {k: self.pair(k, order, tool, hz, extra) for k in lengths}
            out.append((got[a.rounds], got[a.long_rounds]))
        return out

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def probe(b, tool, hz, extra):
    """A warm-up run that also checks the tool works; returns None or why it cannot be measured."""
    lib = b.args.libcprof if tool == "libcprof" else b.args.libprofiler
    if not os.path.exists(lib):
        return "%s not found" % lib
    try:
        b.run(b.args.rounds, tool, hz, extra)
    except bl.RunError as e:
        return str(e)
    return None


def measure(b, configs):
    """Runs every configuration; returns rows of results (dicts)."""
    a = b.args
    results = []
    for tool, hz, extra in configs:
        label = "%s %d Hz" % (tool, hz) if tool else "none (A/A)"
        label += "".join(" %s=%s" % kv for kv in sorted((extra or {}).items()))
        why = probe(b, tool, hz, extra) if tool else None
        if why:
            bl.log("cpu_bench: %s: not measured: %s" % (label, why))
            results.append({"tool": tool, "hz": hz, "label": label, "skipped": why})
            b.anomalies.append("%s not measured: %s" % (label, why))
            continue
        bl.log("cpu_bench: %s: %d repetitions" % (label, a.pairs))
        reps = b.reps(a.pairs, tool, hz, extra)
        fixed = [b.pair(0, bl.paired_order(i), tool, hz, extra, read=False)
                 for i in range(a.fixed_pairs)] if tool else []
        results.append({"tool": tool, "hz": hz, "label": label, "reps": reps, "fixed": fixed,
                        "extra": extra})
    return results


def fit(short, long_):
    """Slope (fraction), intercept (ms) and cost per sample (us, or None) of one repetition."""
    (bs, ps), (bl_, pl) = short, long_
    a_s, a_l = ps["cpu"] - bs["cpu"], pl["cpu"] - bl_["cpu"]
    slope = (a_l - a_s) / (bl_["cpu"] - bs["cpu"])
    fixed_ms = (a_s - slope * bs["cpu"]) * 1e3
    per = None
    if "prof" in pl and "prof" in ps:
        n_s, n_l = ps["prof"]["samples"], pl["prof"]["samples"]
        if n_l > n_s:
            per = (a_l - a_s) * 1e6 / (n_l - n_s)
    return slope, fixed_ms, per


def derive(r):
    """Per-repetition figures of one configuration's result."""
    reps = r["reps"]
    fits = [fit(s, l) for s, l in reps]
    d = {
        "steady_pct": [100.0 * f[0] for f in fits],
        "fixed_ms": [f[1] for f in fits],
        "us_per_sample": [f[2] for f in fits if f[2] is not None],
        "ratio_s": [p["cpu"] / q["cpu"] for (q, p), _ in reps],
        "ratio_l": [p["cpu"] / q["cpu"] for _, (q, p) in reps],
        "wall_l": [p["wall"] / q["wall"] for _, (q, p) in reps],
        "added_s": [(p["cpu"] - q["cpu"]) * 1e3 for (q, p), _ in reps],
        "added_l": [(p["cpu"] - q["cpu"]) * 1e3 for _, (q, p) in reps],
        "bare_s": [q["cpu"] for (q, _), _ in reps],
        "bare_l": [q["cpu"] for _, (q, _) in reps],
        "bare_l_wall": [q["wall"] for _, (q, _) in reps],
        "empty_ms": [(p["cpu"] - q["cpu"]) * 1e3 for q, p in r["fixed"]],
    }
    # Expected samples are counted on the bare run's CPU time, the program's own work: the
    # profiled run's also holds the profiler's, which a profiler need not sample.
    profs = [(q["cpu"], p["prof"]) for _, (q, p) in reps if "prof" in p]
    d["samples"] = [pr["samples"] for _, pr in profs]
    d["expected"] = [cpu * r["hz"] for cpu, _ in profs]
    d["got_pct"] = [100.0 * pr["samples"] / (cpu * r["hz"]) for cpu, pr in profs]
    d["cpu_pct"] = [100.0 * pr["cpu_s"] / cpu for cpu, pr in profs]
    d["depth"] = [pr["depth"] for _, pr in profs]
    d["full_pct"] = [100.0 * pr["full"] for _, pr in profs]
    shares = {k: [] for k in LEAVES}
    for _, pr in profs:
        tot = max(1, pr["samples"])
        for k in shares:
            shares[k].append(100.0 * pr["leaf"].get(k, 0) / tot)
    d["shares"] = shares
    return d


def verdict(r, steady_pct, anomalies):
    """The target column of a libcprof row (judged on the steady-state overhead), else '-'."""
    target = TARGETS.get(r["hz"]) if r["tool"] == "libcprof" else None
    if target is None:
        return "-"
    ok = steady_pct <= target * 100
    if not ok and not r["extra"]:
        anomalies.append("%s: steady-state CPU overhead %.2f%% is over the %.0f%% target" %
                         (r["label"], steady_pct, target * 100))
    return "%s (<= %.0f%%)" % ("ok" if ok else "OVER", target * 100)


def tables(results, anomalies):
    """The three result tables as Markdown; anomalies are appended to the list."""
    over, samp, cost = [], [], []
    med = lambda v: bl.summary(v)[0]
    for r in results:
        if "skipped" in r:
            over.append([r["label"], "not measured"] + ["-"] * 6)
            continue
        d = derive(r)
        empty = "%+.1f" % med(d["empty_ms"]) if d["empty_ms"] else "-"
        over.append([r["label"], bl.fmt_range(d["steady_pct"], "%+.2f"),
                     bl.fmt_range(d["fixed_ms"], "%+.0f"), empty,
                     bl.fmt_range(d["ratio_s"]), bl.fmt_range(d["ratio_l"]),
                     bl.fmt_range(d["wall_l"]), verdict(r, med(d["steady_pct"]), anomalies)])
        if not r["tool"]:
            continue
        sh = d["shares"]
        samp.append([r["label"], "%d" % med(d["samples"]), "%d" % med(d["expected"]),
                     bl.fmt_range(d["got_pct"], "%.0f") + "%", "%.0f%%" % med(d["cpu_pct"]),
                     "%.1f" % med(d["depth"]), "%.0f%%" % med(d["full_pct"]),
                     "%.1f/%.1f/%.1f" % (med(sh["work_hot"]), med(sh["work_warm"]),
                                         med(sh["work_cold"]))])
        n = med(d["samples"])
        cost.append([r["label"], "%+.1f" % med(d["added_s"]), "%+.1f" % med(d["added_l"]),
                     "%d" % n, "%.1f" % (med(d["added_l"]) * 1e3 / n) if n else "-",
                     bl.fmt_range(d["us_per_sample"], "%+.1f") if d["us_per_sample"] else "-"])
        check_sampling(r, d, anomalies)
    t1 = bl.table(["profiler", "steady state % of CPU median (min-max)",
                   "fixed cost ms (intercept)", "fixed ms, empty profile (cpu_work 0)",
                   "CPU ratio, short run", "CPU ratio, long run", "wall ratio, long run",
                   "target (steady state)"], over)
    t2 = bl.table(["profiler", "samples", "expected (CPU s x Hz)", "obtained median (min-max)",
                   "profile CPU / bare CPU", "mean depth", "stacks to worker",
                   "hot/warm/cold % (60/30/10)"], samp)
    t3 = bl.table(["profiler", "added CPU ms, short", "added CPU ms, long", "samples, long",
                   "us/sample (all added, long)", "us/sample steady state (min-max)"], cost)
    return t1, t2, t3


def noise_note(results):
    """One sentence on the A/A row: how far apart two identical runs are."""
    aa = [derive(r) for r in results if not r["tool"] and "reps" in r]
    if not aa:
        return ""
    d = aa[0]
    return ("Noise (A/A, bare vs bare through the same arithmetic): steady state %s points, "
            "intercept %s ms; per pair the CPU differs by %s ms (short) and %s ms (long)." %
            (bl.fmt_range(d["steady_pct"], "%+.2f"), bl.fmt_range(d["fixed_ms"], "%+.0f"),
             bl.fmt_range(d["added_s"], "%+.0f"), bl.fmt_range(d["added_l"], "%+.0f")))


def check_sampling(r, d, anomalies):
    """Notes sample counts far from expected, shallow or truncated stacks, and skewed shares."""
    got = bl.summary(d["got_pct"])[0]
    if not 80 <= got <= 120:
        anomalies.append("%s: %.0f%% of the expected samples (median %d of %d)" %
                         (r["label"], got, bl.summary(d["samples"])[0],
                          bl.summary(d["expected"])[0]))
    full = bl.summary(d["full_pct"])[0]
    if full < 95:
        anomalies.append("%s: only %.0f%% of stacks unwind up to worker (mean depth %.1f)" %
                         (r["label"], full, bl.summary(d["depth"])[0]))
    n = max(1, bl.summary(d["samples"])[0])
    for k, want in (("work_hot", 60), ("work_warm", 30), ("work_cold", 10)):
        got_share = bl.summary(d["shares"][k])[0]
        # three binomial standard deviations of one run's share, at least 3 points
        if abs(got_share - want) > max(3.0, 300 * (want / 100 * (1 - want / 100) / n) ** 0.5):
            anomalies.append("%s: %s has %.1f%% of samples, expected ~%d%%" %
                             (r["label"], k, got_share, want))


def configs_of(args):
    """(tool, hz, extra env) of every configuration, in the order they run."""
    tools = args.tools.split(",")
    rates = [int(hz) for hz in args.hz.split(",")]
    configs = [(None, 0, None)] if "none" in tools else []
    if "libcprof" in tools:
        configs += [("libcprof", hz, None) for hz in rates]
        if args.extra_timer:
            configs += [("libcprof", hz, {"CPROF_TIMER": args.extra_timer}) for hz in rates]
    if "gperftools" in tools:
        configs += [("gperftools", hz, None) for hz in rates]
    return configs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, help="the CMake build directory")
    ap.add_argument("--pairs", type=int, default=3,
                    help="repetitions (each a short and a long pair) per configuration")
    ap.add_argument("--fixed-pairs", type=int, default=5, help="pairs of `cpu_work 0` runs")
    ap.add_argument("--rounds", type=int, default=5500,
                    help="cpu_work rounds per thread, short runs (~1.2 s CPU)")
    ap.add_argument("--long-rounds", type=int, default=44000,
                    help="cpu_work rounds per thread, long runs (~10 s CPU)")
    ap.add_argument("--hz", default="100,1000")
    ap.add_argument("--tools", default="none,libcprof,gperftools")
    ap.add_argument("--libprofiler", default=LIBPROFILER)
    ap.add_argument("--extra-timer", default="timer",
                    help="also measure libcprof with CPROF_TIMER=this ('' for none)")
    ap.add_argument("--md", help="also write the tables to this file")
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()
    if args.long_rounds <= args.rounds:
        sys.exit("cpu_bench: --long-rounds must be larger than --rounds")
    args.cpu_work = os.path.join(args.build, "bench", "cpu_work")
    args.libcprof = os.path.abspath(os.path.join(args.build, "libcprof.so"))
    if not os.access(args.cpu_work, os.X_OK):
        sys.exit("cpu_bench: %s missing (cmake --build %s --target bench_progs)" %
                 (args.cpu_work, args.build))
    if shutil.which("go") is None:
        sys.exit("cpu_bench: `go` not found (go tool pprof reads the profiles)")
    b = Bench(args)
    try:
        b.run(args.rounds)  # warm-up: page cache, CPU frequency
        results = measure(b, configs_of(args))
    finally:
        b.close()
    t1, t2, t3 = tables(results, b.anomalies)
    bare = [derive(r) for r in results if "reps" in r]
    size = ("short %d, long %d rounds per thread: %.1f s and %.1f s of CPU bare" %
            (args.rounds, args.long_rounds, bl.summary(bare[0]["bare_s"])[0],
             bl.summary(bare[0]["bare_l"])[0])) if bare else "no configuration measured"
    text = ("### CPU overhead: fixed cost and steady state (cpu_work, 2 threads, %s; %d "
            "repetitions of a short and a long pair)\n\n%s\n\n%s\n\n"
            "### Samples (long runs)\n\n%s\n\n### Cost per sample\n\n%s\n\n### Anomalies\n\n%s\n" %
            (size, args.pairs, t1, noise_note(results), t2, t3,
             bl.anomalies_md(b.anomalies)))
    bl.emit(text, args.md)


if __name__ == "__main__":
    main()
