"""test_timers.py — the CPU timer fallbacks, and a host that owns SIGPROF.

Where perf_event_open is refused, libcprof falls back to per-thread POSIX CPU timers, which fire
at most once per kernel tick (250 Hz here): at 1000 Hz each sample must then carry its timer's
overrun count as weight, or the profile would show a quarter of the CPU. CPROF_TIMER forces each
kind, which must be reported on stderr. What a fallback must keep is the total (sampled CPU within
10% of the CPU used) and, for per-thread timers, fairness between threads: progs/fair.c's four
equal threads within 10% of each other. The known-shares split inside a thread is not asserted
for these kinds: their samples land on kernel ticks (4 ms here), which beat against the shares
workload's fixed 10 ms rounds (runs have read 22/28 instead of 30/20) — the reason perf_event,
which samples at exact CPU-time instants, is the default; test_shares.py holds it to 3 points.

Last, a program that installs its own SIGPROF handler (with signal() and with sigaction()) and
its own ITIMER_PROF, after libcprof started profiling: libcprof must let go of the signal at once
and say so, so that the program's handler sees only its own timer's signals.
"""
# ctest: serial
import os

import lib

c = lib.Checker("CPU timer fallbacks and SIGPROF ownership")
lib.require(c)
def check_fallback(what, top, cpu_seconds):
    c.note("%s: process CPU %.3fs, sampled %.3fs" % (what, cpu_seconds, top.total))
    c.check(cpu_seconds > 0 and abs(top.total - cpu_seconds) <= 0.10 * cpu_seconds,
            "%s: sampled CPU %.3fs within 10%% of the process's CPU %.3fs"
            % (what, top.total, cpu_seconds))


# Per-thread POSIX timers at 1000 Hz: overrun weights keep the total; threads stay fair.
what = "CPROF_TIMER=timer at 1000 Hz"
r, path, _ = lib.profiled(c, "timers", [lib.prog("fair"), "1000"], CPROF_HZ=1000, CPROF_TIMER="timer")
c.check(r.rc == 0 and "fair checksum=" in r.out, what + ": program ran", r.describe())
c.check("timer_create" in r.err, what + ": the kind is reported on stderr", r.err.strip()[-300:])
top = lib.check_opens(c, path, what)
if top is not None:
    check_fallback(what, top, r.cpu)
    counts = lib.pprof_top(path, "-sample_index=samples")
    per = [lib.flat_of(counts, "worker%d" % i) for i in range(4)]
    c.check(min(per) > 0, what + ": every thread has samples", str(per))
    if min(per) > 0:
        spread = (max(per) - min(per)) / max(per)
        c.check(spread <= 0.10, "%s: per-thread samples within 10%% of each other (%s, spread "
                "%.1f%%)" % (what, per, 100 * spread))

# The process-wide setitimer at 100 Hz: the total, and every worker seen.
what = "CPROF_TIMER=setitimer at 100 Hz"
r, path, _ = lib.profiled(c, "timers", [lib.prog("shares"), "170"], CPROF_HZ=100,
                          CPROF_TIMER="setitimer")
c.check(r.rc == 0 and "shares checksum=" in r.out, what + ": program ran", r.describe())
c.check("setitimer" in r.err, what + ": the kind is reported on stderr", r.err.strip()[-300:])
top = lib.check_opens(c, path, what)
if top is not None:
    check_fallback(what, top, r.cpu)
    for worker, _, _ in lib.SHARES:
        c.check(lib.flat_of(top, worker) > 0, "%s: %s has samples" % (what, worker))

for how in ("signal", "sigaction"):
    what = "program takes SIGPROF with %s()" % how
    base = lib.baseline([lib.prog("ownsigprof"), how])
    c.check("ticks_ok=1 handler_kept=1" in base.out, what + ": sane without the library", base.out)
    r, path, _ = lib.profiled(c, "ownsigprof", [lib.prog("ownsigprof"), how], CPROF_HZ=1000)
    lib.check_same_output(c, base, r, what)
    c.check("installed its own SIGPROF handler" in r.err, what + ": libcprof says it lets go",
            r.err.strip()[-300:])
    c.check(os.path.exists(path), what + ": the profile of the run so far is still written", path)
c.finish()
