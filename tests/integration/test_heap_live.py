"""test_heap_live.py — the heap profile of a known live set, written at exit (CPROF_HEAP), judged
by `go tool pprof`.

progs/heap_live.c keeps 40 x 1 MiB from keep_big() and 100 000 x 200 B from keep_small(), and
allocates and frees CHURN MiB in 4 KiB blocks from churn(). Attached with LD_PRELOAD.

1. Default rate, 2 GiB of churn, one run: the profile has Go's four heap sample types, period
   type space/bytes and period 524288, a numeric label "bytes" on every sample (the block size);
   the leaf frame of each kept block is the function that called malloc (the hooks' own frames
   are hidden, as Go hides runtime.mallocgc); churn()'s in-use space is under 1% of the total
   in use and its alloc_space within 10% of 2 GiB (sd of the estimate 1.6%); nothing was freed
   at keep_big, so its alloc and in-use values are equal.
2. Default rate, no churn, RUNS separate runs: each run's in-use estimate for keep_big and
   keep_small within 5 standard deviations of the truth, and the mean over the runs (pprof
   merges the files: -top of all of them, divided by RUNS) within 10%. One run cannot be held
   to 10%: keep_small's 20 MB are ~38 samples at 512 KiB, a relative sd of 16% (keep_big's:
   6.3%) — Go's own sampler gets such a set 13% low now and then. Over 32 runs the sds are 2.9%
   and 1.1%, so 10% is 3.5 sds for the worst site.
3. CPROF_MEM_RATE=1, 64 MiB of churn: every allocation is recorded and the counts are exact:
   inuse_objects 40 and 100000, churn()'s alloc_objects 16384 and inuse_objects 0; period 1;
   bytes within 2% of the requested sizes (Go records the size-class size; a C library may
   record the requested or the usable size).
The output of every run is the output of a run without the library.
"""
import os

import lib

MIB = 1 << 20
RATE = lib.HEAP_RATE
BIG, SMALL = 40 * MIB, 100000 * 200
CHURN_MIB = 2048
RUNS = 32
RATE1_CHURN_MIB = 64

c = lib.Checker("heap profile of a known live set, CPROF_HEAP at exit")
lib.require(c)


def heap_run(tag, churn_mib, **cprof_vars):
    d = lib.tmpdir(tag)
    path = os.path.join(d, "heap.pb.gz")
    argv = [lib.prog("heap_live"), str(churn_mib)]
    r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=path, **cprof_vars), cwd=d)
    return r, path


def check_format(raw, what, period):
    c.check(raw.sample_types == lib.HEAP_SAMPLE_TYPES, what + ": Go's heap sample types",
            " ".join(raw.sample_types))
    c.check(raw.period_type == "space bytes" and raw.period == period,
            what + ": period type space/bytes, period %d" % period,
            "PeriodType %s Period %s" % (raw.period_type, raw.period))
    missing = [s for s in raw.samples if s["bytes"] is None]
    c.check(raw.samples and not missing, what + ": every sample has a numeric label bytes",
            "%d of %d samples without it" % (len(missing), len(raw.samples)))


def check_label(raw, func, size, what):
    """The bytes label of the samples at func is the block size (Go: the size class's size)."""
    sizes = sorted({s["bytes"] or 0 for s in raw.samples if s["funcs"] and s["funcs"][0] == func})
    c.check(sizes and all(b is not None and size <= b <= size * 1.02 + 16 for b in sizes),
            "%s: bytes label at %s is the block size %d" % (what, func, size), "labels %s" % sizes)


base = lib.baseline([lib.prog("heap_live"), str(CHURN_MIB)])

# 1. One run with the churn at the default rate.
r, path = heap_run("heap-live", CHURN_MIB)
lib.check_same_output(c, base, r, "default rate")
c.check(r.err == "", "default rate: nothing on stderr", r.err[-300:])
if lib.check_opens_mem(c, path, "default rate") is not None:
    raw = lib.pprof_raw_heap(path)
    check_format(raw, "default rate", RATE)
    check_label(raw, "keep_big", MIB, "default rate")
    check_label(raw, "keep_small", 200, "default rate")
    inuse = lib.pprof_top_mem(path, "inuse_space")
    alloc = lib.pprof_top_mem(path, "alloc_space")
    c.check(inuse.header.get("Type") == "inuse_space",
            "default sample type of the heap profile is inuse_space", inuse.header.get("Type"))
    c.note("inuse: %s" % ", ".join("%s %.0f" % (k, lib.cum_of(inuse, k))
                                   for k in ("keep_big", "keep_small", "churn", "main")))
    for func, truth, n, size in (("keep_big", BIG, 40, MIB), ("keep_small", SMALL, 100000, 200)):
        got = lib.cum_of(inuse, func)
        band = 5 * lib.heap_rel_sd(n, size)
        c.check(abs(got - truth) <= band * truth,
                "default rate: %s in use %.0f within 5 sd (%.0f%%) of %d" % (func, got,
                                                                           band * 100, truth))
        leaf = lib.flat_of(inuse, func)
        c.check(got > 0 and leaf >= 0.99 * got,
                "default rate: %s is the leaf frame of its blocks (flat %.0f of cum %.0f)"
                % (func, leaf, got), "top: %s" % ", ".join(lib.top_names(inuse, 6)))
    churn_inuse = lib.cum_of(inuse, "churn")
    c.check(inuse.total and churn_inuse < 0.01 * inuse.total,
            "default rate: churn in use %.0f < 1%% of the total in use %.0f"
            % (churn_inuse, inuse.total or 0))
    churn_alloc = lib.cum_of(alloc, "churn")
    c.check(abs(churn_alloc - CHURN_MIB * MIB) <= 0.10 * CHURN_MIB * MIB,
            "default rate: churn alloc_space %.0f within 10%% of %d (ratio %.3f)"
            % (churn_alloc, CHURN_MIB * MIB, churn_alloc / (CHURN_MIB * MIB)))
    big = raw.by_function("keep_big")
    c.check(big[0] > 0 and big[0] == big[2] and big[1] == big[3],
            "default rate: keep_big freed nothing: alloc == inuse (objects and bytes)", str(big))

# 2. RUNS runs of the live set alone, judged one by one and merged.
paths, per_run = [], {"keep_big": [], "keep_small": []}
base0 = lib.baseline([lib.prog("heap_live"), "0"])
bad_runs = []
for i in range(RUNS):
    r, path = heap_run("heap-live-n", 0)
    if r.rc != 0 or r.out != base0.out or not os.path.isfile(path):
        bad_runs.append("run %d: %s, profile %s" % (i, r.describe(), os.path.isfile(path)))
        continue
    paths.append(path)
    raw = lib.pprof_raw_heap(path)
    for func in per_run:
        per_run[func].append(raw.by_function(func)[3])
c.check(not bad_runs, "%d runs without churn: same output, profile written" % RUNS,
        "; ".join(bad_runs[:3]))
for func, truth, n, size in (("keep_big", BIG, 40, MIB), ("keep_small", SMALL, 100000, 200)):
    vals = per_run[func]
    band = 5 * lib.heap_rel_sd(n, size)
    out = [v for v in vals if abs(v - truth) > band * truth]
    c.note("%s in use per run / truth: min %.3f max %.3f" %
           (func, min(vals) / truth if vals else 0, max(vals) / truth if vals else 0))
    c.check(vals and not out, "each run: %s in use within 5 sd (%.0f%%) of %d" %
            (func, band * 100, truth), "%d of %d runs outside: %s" % (len(out), len(vals), out[:5]))
if paths:
    merged = lib.pprof_top_mem(paths, "inuse_space")
    c.check(merged.ok, "go tool pprof merges the %d profiles" % len(paths), merged.err[-300:])
    for func, truth, n, size in (("keep_big", BIG, 40, MIB), ("keep_small", SMALL, 100000, 200)):
        mean = lib.cum_of(merged, func) / len(paths)
        sd = lib.heap_rel_sd(n, size) / len(paths) ** 0.5
        c.check(abs(mean - truth) <= 0.10 * truth,
                "mean of %d runs: %s in use %.0f within 10%% of %d (ratio %.3f, sd of the mean "
                "%.1f%%)" % (len(paths), func, mean, truth, mean / truth, sd * 100))

# 3. Rate 1: exact counts.
argv1 = [lib.prog("heap_live"), str(RATE1_CHURN_MIB)]
base1 = lib.baseline(argv1)
r, path = heap_run("heap-live-1", RATE1_CHURN_MIB, CPROF_MEM_RATE=1)
lib.check_same_output(c, base1, r, "rate 1")
if lib.check_opens_mem(c, path, "rate 1") is not None:
    raw = lib.pprof_raw_heap(path)
    check_format(raw, "rate 1", 1)
    nchurn = RATE1_CHURN_MIB * MIB // 4096
    for func, objs, nbytes, alloc_objs in (("keep_big", 40, BIG, 40),
                                           ("keep_small", 100000, SMALL, 100000),
                                           ("churn", 0, 0, nchurn)):
        v = raw.by_function(func)
        c.check(v[2] == objs, "rate 1: %s inuse_objects %d == %d" % (func, v[2], objs))
        c.check(v[0] == alloc_objs, "rate 1: %s alloc_objects %d == %d" % (func, v[0], alloc_objs))
        c.check(nbytes <= v[3] <= nbytes * 1.02,
                "rate 1: %s inuse_space %d within 2%% above %d" % (func, v[3], nbytes))
    top = lib.pprof_top_mem(path, "inuse_objects")
    c.check(lib.cum_of(top, "keep_small") == 100000 and lib.cum_of(top, "keep_big") == 40,
            "rate 1: go tool pprof -top -sample_index=inuse_objects shows 40 and 100000",
            "keep_big %s keep_small %s" % (lib.cum_of(top, "keep_big"),
                                           lib.cum_of(top, "keep_small")))
    top = lib.pprof_top_mem(path, "alloc_objects")
    c.check(lib.cum_of(top, "churn") == nchurn,
            "rate 1: go tool pprof -top -sample_index=alloc_objects shows churn %d == %d"
            % (lib.cum_of(top, "churn"), nchurn))
c.finish()
