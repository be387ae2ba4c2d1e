"""test_install.py — `make install` gives a library that programs can build against and use.

Installs the build into a fresh prefix (cmake --install, what `make install PREFIX=...` runs),
then builds progs/api_api.c the way a user would: once with `pkg-config --cflags --libs cprof`
(shared: libcprof.so finds libcprof-ext.so beside it in the prefix) and once statically with
libcprof.a and `pkg-config --libs --static cprof`. Each binary runs its API checks and writes a
profile in which `go tool pprof` finds api_work.
"""
import glob
import os
import subprocess

import lib

c = lib.Checker("make install: header, libraries, pkg-config")
lib.require(c)
prefix = lib.tmpdir("install")
r = subprocess.run(["cmake", "--install", lib.BUILD, "--prefix", prefix], capture_output=True,
                   text=True)
c.check(r.returncode == 0, "cmake --install succeeds", r.stderr[-300:])
pcs = glob.glob(os.path.join(prefix, "**", "cprof.pc"), recursive=True)
c.check(len(pcs) == 1, "cprof.pc installed", str(pcs))
c.check(os.path.isfile(os.path.join(prefix, "include", "cprof.h")), "cprof.h installed")
c.check(os.path.isfile(os.path.join(prefix, "bin", "cprof")), "the cprof command installed")
if pcs:
    libdir = os.path.dirname(os.path.dirname(pcs[0]))
    for name in ("libcprof.so", "libcprof-ext.so.0", "libcprof-http.so.0", "libcprof.a"):
        c.check(os.path.exists(os.path.join(libdir, name)), name + " installed in " + libdir)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))

    def pkg(*args):
        p = subprocess.run(["pkg-config"] + list(args) + ["cprof"], capture_output=True, text=True,
                           env=env)
        c.check(p.returncode == 0, "pkg-config %s cprof" % " ".join(args), p.stderr)
        return p.stdout.split()

    src = os.path.join(lib.SRC, "tests", "integration", "progs", "api_api.c")
    inc = ["-I" + os.path.join(lib.SRC, "tests", "integration", "progs")]
    builds = {
        "shared": pkg("--cflags") + pkg("--libs") + ["-Wl,-rpath," + libdir],
        "static": pkg("--cflags") + [os.path.join(libdir, "libcprof.a")] + pkg("--libs", "--static"),
    }
    for kind, flags in builds.items():
        d = lib.tmpdir("install-" + kind)
        exe = os.path.join(d, "api_" + kind)
        b = subprocess.run(["cc", "-O2", "-g", "-o", exe, src] + inc + flags, capture_output=True,
                           text=True)
        if not c.check(b.returncode == 0, kind + ": builds against the installed library",
                       b.stderr[-400:]):
            continue
        if kind == "shared":
            ldd = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
            c.check(os.path.join(libdir, "libcprof.so") in ldd, "shared: uses the installed libcprof.so",
                    ldd)
        p1, p2 = os.path.join(d, "one.pb.gz"), os.path.join(d, "two.pb.gz")
        run = lib.run([exe, p1, p2, "600"], env=lib.cprof_env(preload=False))
        c.check(run.rc == 0 and "0 checks failed" in run.out, kind + ": the API checks pass",
                run.describe())
        top = lib.check_opens(c, p1, kind)
        if top is not None:
            c.check(lib.has_function(top, "api_work"), kind + ": api_work is in the profile",
                    ", ".join(lib.top_names(top, 5)))
c.finish()
