"""test_tool_cli.py — the cprof command's errors and robustness.

Bad flags and bad inputs get pprof's messages (the same first line on stderr as `go tool pprof`
and the same exit status 2 as pprof's binary; `go tool` turns it into 1): an unknown flag, a value that does not parse, two report flags, no
source, a missing file, an empty file, a sample index out of range or unknown, a regexp that does
not compile, a list that matches nothing, -base with -diff_base, -normalize without a base.
-h prints the usage (exit 0); without a report flag cprof says the interactive shell is not
there yet (exit 2). Then every file of google/pprof's test data (legacy formats, the fuzz
reproducer, text files, the ELF-less cases) and truncated and corrupted copies of a real
profile go through every report: cprof must exit 0 or 2 with a message, never crash or hang.
"""
import os
import subprocess

import lib

c = lib.Checker("cprof: errors and robustness")
CPROF = os.path.join(lib.BUILD, "cprof")
SHARED = os.path.join(lib.SRC, "..", "shared", "peer", "pprof")
CPU = os.path.join(SHARED, "derived", "driver", "cpu.pb.gz")
d = lib.tmpdir("tool-cli")
empty = os.path.join(d, "empty")
open(empty, "w").close()


def run(exe, args):
    p = subprocess.run(exe + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


SAME = [
    ["-bogus", "-top", CPU],
    ["-nodecount=abc", "-top", CPU],
    ["-nodefraction=x", "-top", CPU],
    ["-trim=maybe", "-top", CPU],
    ["-top", "-peek=x", CPU],
    ["-top"],
    ["-top", os.path.join(d, "missing.pb.gz")],
    ["-top", empty],
    ["-top", "-sample_index=7", CPU],
    ["-top", "-sample_index=nope", CPU],
    ["-peek=nomatchanywhere", CPU],
    ["-list=nomatchanywhere", CPU],
    ["-top", "-base", CPU, "-diff_base", CPU, CPU],
    ["-top", "-normalize", CPU],
    ["-top", "-divide_by=0", CPU],
    ["-no_browser", "-top", CPU],
]
if lib.have_go():
    # pprof's own binary: `go tool` turns its exit status 2 into 1
    tooldir = subprocess.run(["go", "env", "GOTOOLDIR"], stdout=subprocess.PIPE).stdout.decode()
    PPROF = os.path.join(tooldir.strip(), "pprof")
    for args in SAME:
        ours, go = run([CPROF], args), run([PPROF], args)
        c.check(ours[0] == go[0] and first_line(ours[2]) == first_line(go[2]),
                "cprof %s: exit %d, %r" % (" ".join(args).replace(SHARED, "$P").replace(d, "$D"),
                                           ours[0], first_line(ours[2])),
                "go: exit %d, %r" % (go[0], first_line(go[2])))
# pprof names conflicting options in Go's map order, which changes from run to run
rc, out, err = run([CPROF], ["-cum", "-flat", "-top", CPU])
c.check(rc == 2 and first_line(err) in ("conflicting options set: [cum flat]",
                                        "conflicting options set: [flat cum]"),
        "-cum -flat: conflicting options, exit 2", err.strip())
rc, out, err = run([CPROF], ["-h"])
c.check(rc == 0 and "usage:" in err and "-list" in err, "-h prints the usage, exit 0")
rc, out, err = run([CPROF], [CPU])
c.check(rc == 2 and "interactive shell is not available yet" in err,
        "without a report flag: says the shell is not there yet, exit 2", err.strip())
rc, out, err = run([CPROF], ["-svg", CPU])
c.check(rc == 2 and "not available yet" in err, "-svg: not available yet, exit 2", err.strip())

# robustness: everything in the peer data, and damaged copies of a real profile
inputs = []
for root, _, files in os.walk(SHARED):
    for f in sorted(files):
        if not f.endswith((".md", ".sh", ".tsv", ".pprof")):
            inputs.append(os.path.join(root, f))
raw = open(CPU, "rb").read()
import gzip
plain = gzip.decompress(raw)
for i, cut in enumerate((1, 10, 100, len(plain) // 2, len(plain) - 1)):
    p = os.path.join(d, "cut%d" % i)
    open(p, "wb").write(plain[:cut])
    inputs.append(p)
for i in range(20):
    b = bytearray(plain)
    for k in range(1 + i):
        pos = (k * 7919 + i * 104729) % len(b)
        b[pos] ^= 0xFF >> (k % 8)
    p = os.path.join(d, "flip%d" % i)
    open(p, "wb").write(bytes(b))
    inputs.append(p)
reports = [["-top"], ["-traces"], ["-raw"], ["-tree", "-lines"], ["-tags"], ["-dot"],
           ["-callgrind"], ["-list=."], ["-proto", "-output=" + os.path.join(d, "out.pb.gz")]]
crashes = []
for path in inputs:
    for rep in reports:
        try:
            rc, out, err = run([CPROF], rep + [path])
        except subprocess.TimeoutExpired:
            crashes.append("%s %s: timeout" % (rep[0], path))
            continue
        if rc not in (0, 2) or (rc == 2 and not err.strip()):
            crashes.append("%s %s: exit %d %r" % (rep[0], path, rc, err[-200:]))
c.check(not crashes, "%d inputs x %d reports: every run exits 0 or 2 with a message"
        % (len(inputs), len(reports)), "; ".join(crashes[:5]))
c.finish()
