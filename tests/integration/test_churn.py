"""test_churn.py — 4000 short threads created and joined while sampled at 1000 Hz, next to a
long-running one. Threads dying with timers armed must not crash the program or change its
output; the profile shows both the short threads' and the background thread's functions (the
short threads use far less than a sampling period each, so they appear only if, as in Go, a
thread's first sample comes after a random fraction of the period).
"""
import lib

c = lib.Checker("thread churn while sampled at 1000 Hz")
lib.require(c)
argv = [lib.prog("churn"), "4000"]
base = lib.baseline(argv)
r, path, _ = lib.profiled(c, "churn", argv, CPROF_HZ=1000)
lib.check_same_output(c, base, r, "profiled")
top = lib.check_opens(c, path, "churn")
if top is not None:
    # 4000 x 20000 xorshift rounds: about 0.15 s of CPU, 150 samples at 1000 Hz, although each
    # thread runs for well under one sampling period. Go draws each thread's first timer expiry
    # uniformly from (0, period] so that such threads are sampled in proportion; a profiler
    # that starts every thread's timer at a full period never samples them.
    c.check(lib.flat_of(top, "short_task") > 0, "short threads' short_task sampled",
            "short_task %.3fs; top: %s" % (lib.flat_of(top, "short_task"),
                                           ", ".join(lib.top_names(top, 8))))
    c.check(lib.flat_of(top, "background_work") > 0, "background_work sampled")
c.finish()
