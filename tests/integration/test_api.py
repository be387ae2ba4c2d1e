"""test_api.py — the CPU-profile API of include/cprof.h, linked in (progs/api_api.c).

The program checks the documented return codes itself (-EINVAL for rates 0, -5 and 100000,
-ENOENT for stop without start, -EBADF for bad fds, -EBUSY for a second start and for a rate
change while running) and exits 1 if any is wrong; the test shows its report. The 500 Hz
profile it writes must open with api_work on top and Period 2000000 (1e9/500); the second
profile, started after the first was stopped, must hold api_work_again and not api_work.
"""
import os

import lib

c = lib.Checker("public API: cprof_start/stop_cpu_profile, cprof_set_cpu_profile_rate")
lib.require(c)
d = lib.tmpdir("api")
f1, f2 = os.path.join(d, "first.pb.gz"), os.path.join(d, "second.pb.gz")
r = lib.run([lib.prog("api_api"), f1, f2, "800"], env=lib.cprof_env(preload=False), cwd=d)
for line in r.out.splitlines():
    c.note("api_api: " + line)
c.check(r.rc == 0, "api_api: all return codes as documented", r.describe())
kinds = [l.split(": ", 1)[1] for l in r.out.splitlines() if l.startswith("timer kind while")]
c.check(kinds and kinds[0] in ("perf_event", "timer_create", "setitimer"),
        "cprof_cpu_timer_kind() names a timer while profiling", str(kinds))
top = lib.check_opens(c, f1, "first profile")
if top is not None:
    c.check(lib.top_names(top, 1) == ["api_work"], "api_work has the largest flat",
            "top: %s" % ", ".join(lib.top_names(top, 5)))
    raw = lib.pprof_raw(f1)
    c.check(raw.period == 2000000, "Period is 1e9/500", "Period: %s" % raw.period)
top = lib.check_opens(c, f2, "second profile")
if top is not None:
    c.check(lib.flat_of(top, "api_work_again") > 0, "second profile has api_work_again")
    c.check(not lib.has_function(top, "api_work"), "second profile starts afresh (no api_work)")
c.finish()
