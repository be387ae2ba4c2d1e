"""test_forkexec.py — fork+exec of a program that inherits LD_PRELOAD and CPROF_CPU.

progs/forkexec.c execs progs/exec_target, which starts working only after the parent has exited
(EOF on a pipe), so a child that wrote the inherited CPROF_CPU (no %p) would replace the
parent's profile after the fact. Decision pinned here: without %p only the process that first got
the variable writes; exec'd children neither write nor clobber it. The test checks the file by
the function names in it (parent_work, not target_work) and byte-for-byte against a snapshot
taken when the parent exited. With %p (CPROF_CPU=cpu.%p.pb.gz) each process writes its own
file: the parent's has parent_work, the exec'd child's has target_work.
"""
import os
import re

import lib

c = lib.Checker("fork+exec: the inherited CPROF_CPU is not clobbered; %p gives each its own file")
lib.require(c)
argv = [lib.prog("forkexec"), "600", lib.prog("exec_target")]
base = lib.baseline(argv)
c.check(base.rc == 0 and "target checksum=" in base.out, "baseline has parent and target output",
        base.describe())


def read_or_none(path):
    def snap():
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            return f.read()
    return snap


d = lib.tmpdir("forkexec")
path = os.path.join(d, "cpu.pb.gz")
r = lib.run(argv, env=lib.cprof_env(CPROF_CPU=path, CPROF_HZ=1000), cwd=d, after_exit=read_or_none(path))
lib.check_same_output(c, base, r, "profiled")
c.check(r.after is not None, "profile written by the time the parent exited")
top = lib.check_opens(c, path, "parent")
if top is not None:
    c.check(read_or_none(path)() == r.after, "file unchanged after the exec'd child finished")
    c.check(lib.flat_of(top, "parent_work") > 0, "the file is the parent's: has parent_work")
    c.check(not lib.has_function(top, "target_work"), "the file has no target_work (not the child's)")
c.check(sorted(os.listdir(d)) == ["cpu.pb.gz"], "no other files written", str(os.listdir(d)))

d = lib.tmpdir("forkexec-p")
r = lib.run(argv, env=lib.cprof_env(CPROF_CPU=os.path.join(d, "cpu.%p.pb.gz"), CPROF_HZ=1000), cwd=d)
lib.check_same_output(c, base, r, "profiled with %p")
m = re.search(r"forkexec: parent (\d+) child (\d+)", r.err)
if c.check(m is not None, "pids reported on stderr", r.err[-200:]):
    want = {"cpu.%s.pb.gz" % m.group(1), "cpu.%s.pb.gz" % m.group(2)}
    c.check(set(os.listdir(d)) == want, "%p: one file per process, named by pid",
            "have %s, want %s" % (sorted(os.listdir(d)), sorted(want)))
    ptop = lib.check_opens(c, os.path.join(d, "cpu.%s.pb.gz" % m.group(1)), "%p parent file")
    if ptop is not None:
        c.check(lib.flat_of(ptop, "parent_work") > 0 and not lib.has_function(ptop, "target_work"),
                "%p parent file has parent_work and no target_work")
    ctop = lib.check_opens(c, os.path.join(d, "cpu.%s.pb.gz" % m.group(2)), "%p child file")
    if ctop is not None:
        c.check(lib.flat_of(ctop, "target_work") > 0 and not lib.has_function(ctop, "parent_work"),
                "%p child file has target_work and no parent_work")
c.finish()
