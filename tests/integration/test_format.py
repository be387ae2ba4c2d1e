"""test_format.py — the profile's header is what Go writes for a CPU profile.

`go tool pprof -raw` of a 250 Hz CPROF_CPU profile of progs/shares.c must show: sample types
samples/count and cpu/nanoseconds, PeriodType cpu nanoseconds, Period 4000000 (1e9/250), every
sample's cpu value = count x period, a Time within the run, a Duration (from -top's header) that
matches the run's wall time, locations with file names, and a mapping for the binary with its
path and its GNU build ID (as readelf reports it).
"""
# ctest: serial
import datetime
import os
import re
import subprocess
import time

import lib

c = lib.Checker("profile contents as Go writes them")
lib.require(c)
binary = os.path.realpath(lib.prog("shares"))
t0 = time.time()
r, path, _ = lib.profiled(c, "format", [binary, "60"], CPROF_HZ=250)
t1 = time.time()
c.check(r.rc == 0, "program ran", r.describe())
raw = lib.pprof_raw(path) if os.path.exists(path) else None
if c.check(raw is not None and raw.ok, "go tool pprof -raw reads it", raw.err[-300:] if raw else path):
    c.check([t.replace("[dflt]", "") for t in raw.sample_types] == ["samples/count", "cpu/nanoseconds"],
            "sample types samples/count cpu/nanoseconds", str(raw.sample_types))
    c.check(raw.period_type == "cpu nanoseconds", "PeriodType: cpu nanoseconds", str(raw.period_type))
    c.check(raw.period == 4000000, "Period: 4000000", str(raw.period))
    bad = [v for v in raw.sample_values if len(v) != 2 or v[1] != v[0] * (raw.period or 0)]
    c.check(raw.sample_values and not bad, "every sample: cpu = count x period (%d samples)"
            % len(raw.sample_values), "bad: %s" % bad[:5])
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})", raw.time or "")
    if c.check(m is not None, "Time present", str(raw.time)):
        when = datetime.datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S %z")
        c.check(t0 - 2 <= when.timestamp() <= t1 + 1, "Time is when the run started",
                "%s vs run %s..%s" % (raw.time, t0, t1))
    c.check(re.search(r"work_fifty \S*shares\.c:\d+", raw.text) is not None,
            "locations carry function, file and line (work_fifty shares.c:N)")
    out = subprocess.run(["readelf", "-n", binary], stdout=subprocess.PIPE).stdout.decode()
    bid = re.search(r"Build ID: ([0-9a-f]+)", out)
    maps = [m for m in raw.mappings if m[0] == binary]
    c.check(maps, "a mapping names the binary %s" % binary, str(raw.mappings[:4]))
    c.check(bid is not None and maps and maps[0][1] == bid.group(1),
            "the binary's mapping carries its build ID", "readelf %s, mapping %s"
            % (bid.group(1) if bid else None, maps[0][1] if maps else None))
top = lib.pprof_top(path)
if c.check(top.ok and top.duration is not None, "-top shows a Duration", top.text[:300]):
    c.check(0.8 * r.wall - 0.1 <= top.duration <= r.wall + 0.05,
            "Duration %.3fs matches the run's wall time %.3fs" % (top.duration, r.wall))
    c.check(top.header.get("Type") == "cpu", "Type: cpu", str(top.header.get("Type")))
c.finish()
