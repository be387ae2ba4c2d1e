"""test_http.py — the known-shares workload profiled through /debug/pprof/profile?seconds=3.

progs/shares.c runs until killed with LD_PRELOAD and CPROF_HTTP=127.0.0.1:<free port>; the test
fetches a 3-second CPU profile with urllib, saves it and judges it with `go tool pprof` as
test_shares.py does. The sampled CPU is compared with the CPU the workload's threads used during
the profile: the request also spans the profiler's own start and its symbolization at the end,
which the profile does not cover (and runs in the server's thread, which is left out), so the
workload's CPU rate over the request (utime+stime of its threads from /proc, before and after)
is multiplied by the profile's own duration.
"""
# ctest: serial
import os
import time

import lib

c = lib.Checker("known shares through CPROF_HTTP /debug/pprof/profile")
lib.require(c)
port = lib.free_port()
p = lib.start([lib.prog("shares"), "0"], env=lib.cprof_env(CPROF_HTTP="127.0.0.1:%d" % port))
try:
    if c.check(lib.wait_port(port, p), "serves on 127.0.0.1:%d" % port):
        time.sleep(0.3)  # let the three threads get going
        before, t0 = lib.threads_cpu_seconds(p.pid), time.monotonic()
        status, body = lib.fetch("http://127.0.0.1:%d/debug/pprof/profile?seconds=3" % port)
        used, wall = lib.threads_cpu_seconds(p.pid) - before, time.monotonic() - t0
        c.check(status == 200, "profile?seconds=3 answers 200", "" if status == 200 else "status %d: %r" % (status, body[:200]))
        path = os.path.join(lib.tmpdir("http"), "cpu.pb.gz")
        with open(path, "wb") as f:
            f.write(body)
        top = lib.check_opens(c, path, "http profile") if status == 200 else None
        if top is not None:
            c.check(top.duration is not None and 2.9 <= top.duration <= 4.0,
                    "profile duration %s is the 3 s asked for" % top.duration)
            if top.duration:
                expected = used * top.duration / wall
                c.note("workload CPU %.3fs over the %.3fs request, %.3fs over the profile's %.2fs;"
                       " sampled %.3fs" % (used, wall, expected, top.duration, top.total))
                lib.check_shares(c, top, expected, "http")
        c.check(p.poll() is None, "program still running after the request")
finally:
    rc, out, err = lib.stop(p)
c.check(rc == -15, "program ends by SIGTERM as if unprofiled", "rc=%s stderr=%r" % (rc, err[-300:]))
c.finish()
