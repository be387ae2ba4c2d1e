"""test_fork.py — fork while profiled; the child outlives the parent.

progs/forker.c forks in the middle of its work (with a second thread running) and its child
waits for the parent to exit before working on two threads of its own. The decision this test
pins down (DESIGN.md, CPROF_CPU): a CPROF_CPU without %p belongs to the process that first got
the variable; a forked child's CPU timers are off and it neither writes nor clobbers the file.
So: the output is the same as without the library, the parent's profile is written at the
parent's exit (the test snapshots it right then) and is byte-for-byte the same after the child
has finished, it names the parent's functions and not child_work, and nothing else appears in
the directory. With %p, the parent's file is <name>.<pid>; a child file, if any, holds no
samples of child_work (its timers are off).
"""
import os
import re

import lib


def snapshot(path):
    with open(path, "rb") as f:
        return f.read()


def snap_or_none(path):
    return lambda: snapshot(path) if os.path.exists(path) else None


c = lib.Checker("fork: the child's timers are off and it writes nothing")
lib.require(c)
argv = [lib.prog("forker"), "600"]
base = lib.baseline(argv)
c.check(base.rc == 0 and "child checksum=" in base.out, "baseline run has parent and child output",
        base.describe())

d = lib.tmpdir("fork")
path = os.path.join(d, "cpu.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_CPU=path, CPROF_HZ=1000), cwd=d,
            after_exit=snap_or_none(path))
lib.check_same_output(c, base, r, "profiled")
c.check(r.after is not None, "profile written by the time the parent exited")
top = lib.check_opens(c, path, "parent")
if top is not None and r.after is not None:
    c.check(snapshot(path) == r.after, "file unchanged after the child finished (child did not clobber it)")
    c.check(lib.flat_of(top, "parent_work") > 0, "parent's profile has parent_work")
    c.check(lib.flat_of(top, "parent_thread_work") > 0, "parent's profile has parent_thread_work")
    c.check(not lib.has_function(top, "child_work"), "parent's profile has no child_work",
            "child_work flat %.3fs" % lib.flat_of(top, "child_work"))
c.check(sorted(os.listdir(d)) == ["cpu.pb.gz"], "no other files written", str(os.listdir(d)))

# %p: every process that writes names its file with its own pid.
d = lib.tmpdir("fork-p")
r = lib.run(argv, env=lib.cprof_env(CPROF_CPU=os.path.join(d, "cpu.%p.pb.gz"), CPROF_HZ=1000), cwd=d)
lib.check_same_output(c, base, r, "profiled with %p")
m = re.search(r"forker: parent (\d+) child (\d+)", r.err)
if c.check(m is not None, "pids reported on stderr", r.err[-200:]):
    ppath = os.path.join(d, "cpu.%s.pb.gz" % m.group(1))
    ptop = lib.check_opens(c, ppath, "%p parent file")
    if ptop is not None:
        c.check(lib.flat_of(ptop, "parent_work") > 0, "%p parent file has parent_work")
    cpath = os.path.join(d, "cpu.%s.pb.gz" % m.group(2))
    c.note("child file %s" % ("exists" if os.path.exists(cpath) else "not written"))
    if os.path.exists(cpath):
        ctop = lib.check_opens(c, cpath, "%p child file")
        if ctop is not None:
            c.check(lib.flat_of(ctop, "child_work") == 0, "%p child file has no child_work samples (timers off)")
    extra = set(os.listdir(d)) - {os.path.basename(ppath), os.path.basename(cpath)}
    c.check(not extra, "no files other than cpu.<pid>.pb.gz", str(sorted(extra)))
c.finish()
