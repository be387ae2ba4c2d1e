"""test_heap_api.py — the heap profile's API with the library linked in (progs/heap_api.c).

No CPROF_* variable: the rate is 0 until cprof_set_mem_profile_rate() turns sampling on; -1 is
refused with -EINVAL; at rate 1 api_keep()'s 1000 allocations of 1000 B, half of them freed,
show exactly (alloc_objects 1000, inuse_objects 500) in the profile cprof_write_heap_profile()
writes; a bad fd is refused, and so is an unknown name in cprof_write_profile; after rate 0 api_after_off()'s allocations are not sampled; the
rate reads back as set each time. Profile 2 is written by cprof_write_profile("allocs"), so its
default sample type is alloc_space.
"""
import os

import lib

c = lib.Checker("heap profile API, linked in")
lib.require(c)
d = lib.tmpdir("heap-api")
p1, p2 = os.path.join(d, "heap1.pb.gz"), os.path.join(d, "heap2.pb.gz")
r = lib.run([lib.prog("heap_api"), p1, p2], env=lib.cprof_env(preload=False), cwd=d)
c.check(r.rc == 0, "heap_api exits 0", r.describe())
want = ["initial rate 0", "set -1: EINVAL", "set 1: 0, rate 1", "write 1: 0",
        "write to fd -1: negative errno", "write profile nosuch: ENOENT", "set 0: 0, rate 0", "write 2: 0",
        "set default: 0, rate 524288"]
got = r.out.splitlines()
for line in want:
    c.check(line in got, "prints %r" % line, "output: %r" % r.out)
if lib.check_opens_mem(c, p1, "profile 1") is not None:
    v = lib.pprof_raw_heap(p1).by_function("api_keep")
    c.check(v[0] == 1000 and v[2] == 500, "profile 1: api_keep alloc_objects %d == 1000, "
            "inuse_objects %d == 500" % (v[0], v[2]))
    c.check(1000 * 1000 <= v[1] <= 1.02 * 1000 * 1000 and 500 * 1000 <= v[3] <= 1.02 * 500000,
            "profile 1: api_keep alloc_space %d, inuse_space %d (1000 B blocks)" % (v[1], v[3]))
if lib.check_opens_mem(c, p2, "profile 2") is not None:
    raw = lib.pprof_raw_heap(p2)
    top = lib.run(["go", "tool", "pprof", "-top", p2])
    c.check("alloc_space" in top.out, "profile 2 (allocs) shows alloc_space by default",
            top.out[:300])
    v = raw.by_function("api_after_off")
    c.check(v == [0, 0, 0, 0], "profile 2: nothing sampled at api_after_off after rate 0", str(v))
    v = raw.by_function("api_keep")
    c.check(v[0] == 1000 and v[2] == 500, "profile 2: api_keep's samples are still there "
            "(alloc_objects %d, inuse_objects %d)" % (v[0], v[2]))
c.finish()
