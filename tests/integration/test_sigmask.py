"""test_sigmask.py — a program whose threads block SIGPROF (pthread_sigmask) for their work and
unblock it before exiting, next to one thread that never blocks it. The program computes the
same output with the library; the unblocked thread's open_work is in the profile with at least
half of its share of the CPU.
"""
import lib

c = lib.Checker("threads blocking SIGPROF")
lib.require(c)
argv = [lib.prog("sigmask"), "800"]
base = lib.baseline(argv)
r, path, _ = lib.profiled(c, "sigmask", argv, CPROF_HZ=1000)
lib.check_same_output(c, base, r, "profiled")
top = lib.check_opens(c, path, "sigmask")
if top is not None:
    open_s = lib.flat_of(top, "open_work")
    c.note("open_work %.3fs, masked_work0 %.3fs, masked_work1 %.3fs, process CPU %.3fs"
           % (open_s, lib.flat_of(top, "masked_work0"), lib.flat_of(top, "masked_work1"), r.cpu))
    c.check(open_s >= 0.5 * r.cpu / 3, "open_work sampled (>= half of a third of the CPU)")
c.finish()
