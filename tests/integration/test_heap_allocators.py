"""test_heap_allocators.py — the heap profile with jemalloc or tcmalloc underneath.

LD_PRELOAD="<build>/libcprof.so <allocator>": libcprof's hooks come first and find the
allocator's malloc family with dlsym(RTLD_NEXT). For jemalloc (libjemalloc2) and tcmalloc
(libgoogle-perftools4), each run of progs/heap_live.c gives the same output as the allocator alone
and the known live set:
- CPROF_MEM_RATE=1, 64 MiB of churn: inuse_objects 40 at keep_big and 100000 at keep_small,
  alloc_objects 16384 and inuse_objects 0 at churn, exactly; bytes within 2% above the
  requested sizes.
- default rate, 2 GiB of churn: keep_big and keep_small within 5 sd of the truth (see
  test_heap_live.py for why one run cannot be held to 10%), churn's in use under 1% of the total
  and its alloc_space within 10% of 2 GiB.
progs/heap_edge.c (realloc, alignment functions, huge sizes, fork, threads) prints the same with
and without libcprof at rate 1 over each allocator (pvalloc left out for jemalloc, which lacks
it), and a heap profile is written.
An allocator that is not installed is reported as a failure: scripts/deps.sh installs both.
"""
import os

import lib

MIB = 1 << 20
ALLOCATORS = (("jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
              ("tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"))

c = lib.Checker("heap profile over jemalloc and tcmalloc")
lib.require(c)


def env_with(alloc, preload_cprof=True, **cprof_vars):
    env = lib.cprof_env(preload=False, **cprof_vars)
    env["LD_PRELOAD"] = (lib.LIBCPROF + " " if preload_cprof else "") + alloc
    return env


def run_heap(name, alloc, argv, **cprof_vars):
    d = lib.tmpdir("heap-" + name)
    path = os.path.join(d, "heap.pb.gz")
    r = lib.run(argv, env=env_with(alloc, CPROF_HEAP=path, **cprof_vars), cwd=d)
    return r, path


def check_rate1(name, alloc):
    argv = [lib.prog("heap_live"), "64"]
    base = lib.run(argv, env=env_with(alloc, preload_cprof=False))
    r, path = run_heap(name, alloc, argv, CPROF_MEM_RATE=1)
    lib.check_same_output(c, base, r, name + " rate 1")
    if lib.check_opens_mem(c, path, name + " rate 1") is None:
        return
    raw = lib.pprof_raw_heap(path)
    for func, objs, nbytes, allocs in (("keep_big", 40, 40 * MIB, 40),
                                       ("keep_small", 100000, 100000 * 200, 100000),
                                       ("churn", 0, 0, 16384)):
        v = raw.by_function(func)
        c.check(v[2] == objs and v[0] == allocs and nbytes <= v[3] <= 1.02 * nbytes,
                "%s rate 1: %s inuse_objects %d (want %d), alloc_objects %d (want %d), "
                "inuse_space %d (want %d..+2%%)" % (name, func, v[2], objs, v[0], allocs, v[3],
                                                    nbytes))


def check_default(name, alloc):
    argv = [lib.prog("heap_live"), "2048"]
    base = lib.run(argv, env=env_with(alloc, preload_cprof=False))
    r, path = run_heap(name + "-def", alloc, argv)
    lib.check_same_output(c, base, r, name + " default rate")
    if lib.check_opens_mem(c, path, name + " default rate") is None:
        return
    inuse = lib.pprof_top_mem(path, "inuse_space")
    for func, truth, n, size in (("keep_big", 40 * MIB, 40, MIB),
                                 ("keep_small", 100000 * 200, 100000, 200)):
        got = lib.cum_of(inuse, func)
        band = 5 * lib.heap_rel_sd(n, size)
        c.check(abs(got - truth) <= band * truth, "%s default rate: %s in use %.0f within 5 sd "
                "(%.0f%%) of %d" % (name, func, got, band * 100, truth))
    churn = lib.cum_of(inuse, "churn")
    c.check(inuse.total and churn < 0.01 * inuse.total, "%s default rate: churn in use %.0f < 1%% "
            "of the total %.0f" % (name, churn, inuse.total or 0))
    got = lib.cum_of(lib.pprof_top_mem(path, "alloc_space"), "churn")
    c.check(abs(got - 2048 * MIB) <= 0.10 * 2048 * MIB, "%s default rate: churn alloc_space %.0f "
            "within 10%% of 2 GiB (ratio %.3f)" % (name, got, got / (2048 * MIB)))


def check_edge(name, alloc):
    argv = [lib.prog("heap_edge")] + (["no-pvalloc"] if name == "jemalloc" else [])
    base = lib.run(argv, env=env_with(alloc, preload_cprof=False))
    c.check(base.rc == 0 and "heap_edge done" in base.out, "%s: heap_edge runs without libcprof"
            % name, base.describe())
    r, path = run_heap(name + "-edge", alloc, argv, CPROF_MEM_RATE=1)
    c.check(r.rc == 0, "%s edge cases at rate 1: exits 0" % name, r.describe())
    same = r.out == base.out
    diff = [(a, b) for a, b in zip(base.out.splitlines(), r.out.splitlines()) if a != b]
    c.check(same, "%s edge cases at rate 1: output identical to %s alone" % (name, name),
            "first differences: %s" % diff[:3])
    lib.check_opens_mem(c, path, name + " edge cases")


for name, alloc in ALLOCATORS:
    if not c.check(os.path.exists(alloc), "%s installed (%s)" % (name, alloc)):
        continue
    check_rate1(name, alloc)
    check_default(name, alloc)
    check_edge(name, alloc)
c.finish()
