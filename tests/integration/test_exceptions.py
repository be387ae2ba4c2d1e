"""test_exceptions.py — C++ exceptions thrown and caught in a loop on two threads, sampled at
1000 Hz. The C++ unwinder and the profiler's signal handler must not get in each other's way:
same output as without the library, the profile opens and shows the throwing code.
"""
import lib

c = lib.Checker("C++ exceptions while sampled at 1000 Hz")
lib.require(c)
argv = [lib.prog("exceptions"), "400000"]
base = lib.baseline(argv)
r, path, _ = lib.profiled(c, "exc", argv, CPROF_HZ=1000)
lib.check_same_output(c, base, r, "profiled")
top = lib.check_opens(c, path, "exceptions")
if top is not None:
    names = [k for k in top.rows if "thrower" in k or "catch_loop" in k]
    c.check(names, "profile names the throwing code (thrower / catch_loop)",
            "top: %s" % ", ".join(lib.top_names(top, 8)))
    c.check(top.total >= 0.5 * r.cpu, "most of the CPU is sampled (%.3fs of %.3fs)" % (top.total, r.cpu))
c.finish()
