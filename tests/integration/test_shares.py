"""test_shares.py — the known-shares workload profiled with LD_PRELOAD at 100 Hz and 1000 Hz.

progs/shares.c runs three threads whose work splits 50/30/20 between work_fifty, work_thirty and
the static work_twenty (called through a function pointer), each called from its own caller,
built -O2 without frame pointers. Profiled from start to exit via CPROF_CPU, judged with
`go tool pprof -top`: flat shares within 3 points, callers' cum right, and the sampled CPU
within 10% of the CPU time the process used (wait4's user+sys), at 1000 Hz too, which a
setitimer-style profiler or one that drops timer overruns fails.
"""
# ctest: serial
import lib

c = lib.Checker("known shares, LD_PRELOAD + CPROF_CPU")
lib.require(c)
# rounds: about 8 ms of CPU per thread each, so 170 rounds ~ 4 s of CPU (400 samples at 100 Hz)
for hz, rounds in ((100, 170), (1000, 130)):
    what = "%d Hz" % hz
    r, path, _ = lib.profiled(c, "shares", [lib.prog("shares"), str(rounds)], CPROF_HZ=hz)
    c.check(r.rc == 0 and "shares checksum=" in r.out, what + ": program ran", r.describe())
    top = lib.check_opens(c, path, what)
    if top is not None:
        c.note("%s: process CPU %.3fs, wall %.3fs, sampled %.3fs" % (what, r.cpu, r.wall, top.total))
        lib.check_shares(c, top, r.cpu, what)
c.finish()
