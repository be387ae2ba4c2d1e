"""test_demo.py — examples/demo.sh against this build: it must start build/demo, fetch a
5-second CPU profile over HTTP, print a top 10 (with our own cprof -top) that names the demo's
functions, stop the demo and exit 0; the top 10 must be exactly what go tool pprof prints. Runs on a free port (DEMO_PORT) instead of 6060 so as not to collide with anything.
"""
# ctest: serial
import os
import subprocess

import lib

# One group per thread of the demo; each thread uses a third of the CPU, so each group must be
# in the top 10.
DEMO_GROUPS = (("mandelbrot_escape", "mandelbrot_render"),
               ("merge_runs", "sort_records", "rle_compress", "demo_random"),
               ("hash_strings", "fnv1a_hash", "sha_mix"))

c = lib.Checker("examples/demo.sh")
lib.require(c)
script = os.path.join(lib.SRC, "examples", "demo.sh")
env = dict(os.environ, DEMO_PORT=str(lib.free_port()))
p = subprocess.run([script, lib.BUILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   timeout=120)
out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
for line in out.splitlines():
    c.note("demo.sh: " + line)
c.check(p.returncode == 0, "demo.sh exits 0", "rc=%d stderr=%r" % (p.returncode, err[-400:]))
c.check(os.path.getsize(os.path.join(lib.BUILD, "demo-cpu.pb.gz")) > 0
        if os.path.exists(os.path.join(lib.BUILD, "demo-cpu.pb.gz")) else False,
        "profile saved as build/demo-cpu.pb.gz")
table = out.split("flat%", 1)[1] if "flat%" in out else ""
for group in DEMO_GROUPS:
    named = [f for f in group if f in table]
    c.check(named, "the top 10 names the %s thread's functions" % group[0].split("_")[0],
            "found %s of %s" % (named, group))
prof = os.path.join(lib.BUILD, "demo-cpu.pb.gz")
if os.path.exists(prof):
    ref = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=10", prof],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()
    ours = subprocess.run([os.path.join(lib.BUILD, "cprof"), "-top", "-nodecount=10", prof],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()
    c.check(ref != "" and ours == ref and ours in out,
            "the demo's top 10 (cprof -top) is go tool pprof's, byte for byte", ours[-300:])
c.finish()
