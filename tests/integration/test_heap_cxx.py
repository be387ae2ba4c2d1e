"""test_heap_cxx.py — C++ new and delete reach the heap profile through libstdc++'s malloc calls.

progs/heap_cxx.cc (g++ -O2, no frame pointers) keeps 5000 Widgets (320 B) created with new in
heapcc::Factory::make_widgets(int), keeps 300 arrays of 1000 doubles created with new[] in
heapcc::fill_buffers(int), and news and deletes 20000 Widgets in heapcc::churn_widgets(int).
Profiled with LD_PRELOAD, CPROF_MEM_RATE=1 and CPROF_HEAP: each site's counts are exact
(operator new / operator new[] / operator delete go through malloc and free), the bytes within
2% of the requested sizes, and `go tool pprof -top` names the sites with demangled C++ names
(no _Z... symbol among them). Same output as without the library. At the default rate too:
churn_widgets' 6.4 MB of new/delete (~12 samples expected, none with probability 6e-6) show.
"""
import os

import lib

c = lib.Checker("C++ new/delete in the heap profile")
lib.require(c)
argv = [lib.prog("heap_cxx")]
base = lib.baseline(argv)
SITES = (("heapcc::Factory::make_widgets", 5000, 5000 * 320, 5000),
         ("heapcc::fill_buffers", 300, 300 * 8000, 300),
         ("heapcc::churn_widgets", 0, 0, 20000))

d = lib.tmpdir("heap-cxx")
path = os.path.join(d, "heap.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=path, CPROF_MEM_RATE=1), cwd=d)
lib.check_same_output(c, base, r, "rate 1")
if lib.check_opens_mem(c, path, "rate 1") is not None:
    top = lib.pprof_top_mem(path, "inuse_space")
    names = [k for k in top.rows if "heapcc" in k or "make_widgets" in k or "fill_buffers" in k]
    c.note("C++ rows: %s" % names)
    for func, _, _, _ in SITES[:2]:
        c.check(lib.cum_of(top, func) > 0, "pprof -top names %s (demangled)" % func,
                "rows: %s" % ", ".join(lib.top_names(top, 8)))
    mangled = [k for k in top.rows if k.startswith("_Z")]
    c.check(not mangled, "no mangled names in the profile", str(mangled[:5]))
    raw = lib.pprof_raw_heap(path)
    for func, inuse_objs, inuse_bytes, alloc_objs in SITES:
        v = raw.by_function(func)
        c.check(v[2] == inuse_objs and v[0] == alloc_objs,
                "%s: inuse_objects %d == %d, alloc_objects %d == %d"
                % (func, v[2], inuse_objs, v[0], alloc_objs))
        c.check(inuse_bytes <= v[3] <= 1.02 * inuse_bytes,
                "%s: inuse_space %d within 2%% above %d" % (func, v[3], inuse_bytes))
    stacks = [s["funcs"] for s in raw.samples
              if any(f.startswith("heapcc::Factory::make_widgets") for f in s["funcs"])]
    c.note("a make_widgets stack: %s" % (stacks[0][:4] if stacks else None))

d = lib.tmpdir("heap-cxx-def")
path = os.path.join(d, "heap.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_HEAP=path), cwd=d)
lib.check_same_output(c, base, r, "default rate")
if lib.check_opens_mem(c, path, "default rate") is not None:
    top = lib.pprof_top_mem(path, "alloc_space")
    c.check(lib.cum_of(top, "heapcc::churn_widgets") > 0,
            "default rate: churn_widgets' 6.4 MB of new/delete sampled (~12 samples expected)",
            "rows: %s" % ", ".join(lib.top_names(top, 8)))
c.finish()
