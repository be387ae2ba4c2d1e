"""test_fair.py — four threads doing equal work get equal samples.

progs/fair.c runs worker0..worker3, one per thread, identical work, on a two-core machine (so
the threads share cores). At 1000 Hz each should collect the same number of samples, within 10%
of each other (max-min over max), and the sum should match the process's CPU within 10%.
"""
# ctest: serial
import lib

c = lib.Checker("fairness across threads")
lib.require(c)
r, path, _ = lib.profiled(c, "fair", [lib.prog("fair"), "1000"], CPROF_HZ=1000)
c.check(r.rc == 0 and "fair checksum=" in r.out, "program ran", r.describe())
top = lib.check_opens(c, path, "fair")
if top is not None:
    counts = lib.pprof_top(path, "-sample_index=samples")
    per = [lib.flat_of(counts, "worker%d" % i) for i in range(4)]
    c.note("samples per thread: %s; process CPU %.3fs" % (per, r.cpu))
    c.check(min(per) > 0, "every worker has samples")
    if min(per) > 0:
        spread = (max(per) - min(per)) / max(per)
        c.check(spread <= 0.10, "per-thread sample counts within 10%% of each other (spread %.1f%%)"
                % (100 * spread))
    c.check(abs(top.total - r.cpu) <= 0.10 * r.cpu, "sampled CPU %.3fs within 10%% of process CPU %.3fs"
            % (top.total, r.cpu))
c.finish()
