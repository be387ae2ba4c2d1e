"""test_env.py — the environment-variable contract at its edges.

1. LD_PRELOAD with no CPROF_* variable: the program runs as without the library (same output,
   nothing on stderr) and writes nothing (its working directory stays empty).
2. %p in CPROF_CPU becomes the pid: cpu.<pid>.pb.gz, and go tool pprof opens it.
   (One file per process across fork+exec: test_forkexec.py.)
3. A garbage CPROF_HZ is reported on stderr (naming the variable) and the program still runs
   to the same output.
"""
import os

import lib

c = lib.Checker("CPROF_* environment contract")
lib.require(c)
argv = [lib.prog("shares"), "15"]
base = lib.baseline(argv)

d = lib.tmpdir("env-none")
r = lib.run(argv, env=lib.cprof_env(), cwd=d)
lib.check_same_output(c, base, r, "no CPROF_*")
c.check(r.err == "", "no CPROF_*: nothing on stderr", repr(r.err[-300:]))
c.check(os.listdir(d) == [], "no CPROF_*: nothing written in the working directory", str(os.listdir(d)))

d = lib.tmpdir("env-pid")
r = lib.run(argv, env=lib.cprof_env(CPROF_CPU=os.path.join(d, "cpu.%p.pb.gz")), cwd=d)
lib.check_same_output(c, base, r, "%p")
want = "cpu.%d.pb.gz" % r.pid
c.check(os.listdir(d) == [want], "%p: file named by the pid", "have %s, want %s" % (os.listdir(d), want))
lib.check_opens(c, os.path.join(d, want), "%p")

for bad in ("abc", "0", "-5", "12x", "100000"):
    d = lib.tmpdir("env-hz")
    r = lib.run(argv, env=lib.cprof_env(CPROF_CPU=os.path.join(d, "cpu.pb.gz"), CPROF_HZ=bad), cwd=d)
    lib.check_same_output(c, base, r, "CPROF_HZ=%s" % bad)
    c.check("CPROF_HZ" in r.err, "CPROF_HZ=%s: reported on stderr" % bad, repr(r.err[-300:]))
    c.note("CPROF_HZ=%s: stderr %r; profile %s" % (bad, r.err.strip()[-200:],
           "written" if os.listdir(d) else "not written"))
c.finish()
