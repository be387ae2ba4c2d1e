"""test_heap_env.py — the heap profiler's environment contract at its edges.

1. LD_PRELOAD with no CPROF_* variable: progs/heap_live.c (2 GiB of churn) and progs/heap_edge.c
   run as without the library (same output, nothing on stderr) and write nothing (their working
   directory stays empty).
2. CPROF_MEM_RATE=0 with CPROF_HEAP: sampling off, so the profile written at exit holds no
   sample at the program's sites (or no sample at all).
3. CPROF_MEM_RATE alone (no file, no HTTP): the program runs the same and writes nothing.
4. Without %p, the file belongs to the first process (CPROF_OWNER_PID, as for CPROF_CPU): a child
   started with the same environment by a program that is itself profiled does not overwrite it
   (progs/forkexec.c is not needed: the test plays the parent by setting CPROF_OWNER_PID to
   another live process, its own pid, as a parent would have).
"""
import os

import lib

c = lib.Checker("heap profile environment contract")
lib.require(c)

for argv in ([lib.prog("heap_live"), "2048"], [lib.prog("heap_edge")]):
    name = os.path.basename(argv[0])
    base = lib.baseline(argv)
    d = lib.tmpdir("heap-env-none")
    r = lib.run(argv, env=lib.cprof_env(), cwd=d)
    lib.check_same_output(c, base, r, name + " no CPROF_*")
    c.check(r.err == "", name + " no CPROF_*: nothing on stderr", repr(r.err[-300:]))
    c.check(os.listdir(d) == [], name + " no CPROF_*: nothing written", str(os.listdir(d)))

argv = [lib.prog("heap_live"), "256"]
base = lib.baseline(argv)
d = lib.tmpdir("heap-env-off")
path = os.path.join(d, "heap.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=path, CPROF_MEM_RATE=0), cwd=d)
lib.check_same_output(c, base, r, "CPROF_MEM_RATE=0")
if os.path.exists(path):
    raw = lib.pprof_raw_heap(path)
    c.check(raw.ok, "CPROF_MEM_RATE=0: the profile written opens", raw.err[-200:])
    hits = [f for f in ("keep_big", "keep_small", "churn") if any(raw.by_function(f))]
    c.check(not hits, "CPROF_MEM_RATE=0: no samples at the program's sites", str(hits))
else:
    c.note("CPROF_MEM_RATE=0: no profile written")

d = lib.tmpdir("heap-env-rate")
r = lib.run(argv, env=lib.cprof_env(CPROF_MEM_RATE=4096), cwd=d)
lib.check_same_output(c, base, r, "CPROF_MEM_RATE alone")
c.check(os.listdir(d) == [], "CPROF_MEM_RATE alone: nothing written", str(os.listdir(d)))

d = lib.tmpdir("heap-env-owner")
path = os.path.join(d, "heap.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=path, CPROF_OWNER_PID=os.getpid()), cwd=d)
lib.check_same_output(c, base, r, "another process owns the file")
c.check(not os.path.exists(path), "another process owns the file: nothing written",
        str(os.listdir(d)))
c.finish()
