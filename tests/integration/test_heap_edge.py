"""test_heap_edge.py — the malloc family's corners with the heap profiler attached (LD_PRELOAD,
glibc's allocator underneath).

progs/heap_edge.c prints what every corner gives (realloc growing and shrinking big blocks,
realloc(NULL, n), realloc(p, 0), free(NULL), posix_memalign / aligned_alloc / memalign / valloc
/ pvalloc with good and bad alignments, calloc zeroing and overflow, malloc / reallocarray of
impossible sizes with NULL and ENOMEM, errno left alone by calls that succeed, fork while another
thread allocates with children that allocate and exit, threads that allocate and exit with their
blocks freed by the main thread). With CPROF_MEM_RATE=1 (every call sampled) and at the default
rate the output is identical to a run without the library. The rate-1 profile must then be
consistent: realloc_keep() holds exactly one block of 3 MiB; every other site freed everything
it allocated itself (inuse_objects 0 where it is the leaf frame), thread_allocates' 80000 allocations are all counted; failed allocations are not
counted (the alloc_space of the sites that asked for impossible sizes stays small). The fork
children write no profile of their own: the working directory holds the parent's file only, named
by the parent's pid with %p.
"""
import os

import lib

MIB = 1 << 20
c = lib.Checker("malloc family edge cases under the heap profiler")
lib.require(c)
argv = [lib.prog("heap_edge")]
base = lib.baseline(argv)
c.check(base.rc == 0 and "heap_edge done" in base.out, "heap_edge runs without the library",
        base.describe())


def compare(r, what):
    c.check(r.rc == 0, what + ": exits 0", r.describe())
    diff = [(a, b) for a, b in zip(base.out.splitlines(), r.out.splitlines()) if a != b]
    c.check(r.out == base.out, what + ": output identical to a run without the library",
            "first differences: %s; lines %d vs %d" % (diff[:3], len(base.out.splitlines()),
                                                        len(r.out.splitlines())))


d = lib.tmpdir("heap-edge")
path = os.path.join(d, "heap.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=path, CPROF_MEM_RATE=1), cwd=d)
compare(r, "rate 1")
c.check(os.listdir(d) == ["heap.pb.gz"], "rate 1: only the parent's profile in the directory",
        str(sorted(os.listdir(d))))
if lib.check_opens_mem(c, path, "rate 1") is not None:
    raw = lib.pprof_raw_heap(path)
    v = raw.by_function("realloc_keep")
    c.check(v[2] == 1 and 3 * MIB <= v[3] <= 3 * MIB * 1.02,
            "rate 1: realloc_keep holds one block of 3 MiB (inuse_objects %d, inuse_space %d)"
            % (v[2], v[3]))
    # Only the blocks these functions allocate themselves (leaf frame): the libc calls under
    # them keep some memory of their own (stdout's buffer, thread DTVs in glibc's stack cache).
    for funcs in (("realloc_steps",), ("alignments", "try_aligned", "try_posix_memalign"),
                  ("sizes",), ("thread_allocates",), ("allocate_loop",)):
        v = [sum(s["values"][i] for s in raw.samples if s["funcs"] and s["funcs"][0] in funcs)
             for i in range(4)]
        c.check(v[0] > 0 and v[2] == 0 and v[3] == 0, "rate 1: %s freed all it allocated "
                "(alloc_objects %d, inuse %d objects, %d bytes)" % ("/".join(funcs), v[0], v[2],
                                                                     v[3]))
    v = raw.by_function("thread_allocates")
    c.check(v[0] == 5 * 8 * 2000, "rate 1: thread_allocates alloc_objects %d == 80000" % v[0])
    for func, limit in (("sizes", 4 * MIB), ("alignments", 64 * MIB), ("realloc_steps", 128 * MIB)):
        v = raw.by_function(func)
        c.check(0 < v[1] < limit, "rate 1: %s alloc_space %d < %d: failed allocations are not "
                "counted" % (func, v[1], limit))

d = lib.tmpdir("heap-edge-p")
r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=os.path.join(d, "heap.%p.pb.gz")), cwd=d)
compare(r, "default rate, %p")
want = "heap.%d.pb.gz" % r.pid
c.check(os.listdir(d) == [want], "default rate, %p: only the parent's file, named by its pid",
        "have %s, want %s" % (sorted(os.listdir(d)), want))
if want in os.listdir(d):
    lib.check_opens_mem(c, os.path.join(d, want), "default rate, %p")
c.finish()
