"""test_tool_diff.py — the cprof command's text equals `go tool pprof`'s, over a matrix of options.

Profiles: (a) written by Go's runtime (goprog/main.go, built here with `go build`: a CPU profile
with goroutine labels and inlined calls, a heap profile at MemProfileRate 1); (b) written by
libcprof (progs/shares under CPROF_CPU at 1000 Hz, progs/heap_cxx under CPROF_HEAP at rate 1);
(c) the google/pprof test inputs in ../shared/peer/pprof (derived/*.pb.gz and large.cpu), and its
legacy-format inputs (profile/testdata: gperftools CPU, heap, growth, contention, thread texts;
Go's pre-proto CPU profiles and threadcreate text).

For each profile, every report (-top, -text -cum, -tree, -peek, -traces, -raw, -dot, -callgrind,
-comments, -list) runs with default options, and -top runs with each option of the matrix:
granularities, -noinlines, -nodecount, fractions, -sample_index/-mean, -unit, -divide_by,
focus/ignore/hide/show/show_from/prune_from, the tag filters, -relative_percentages, -trim=false,
-drop_negative, -compact_labels, -tagroot/-tagleaf; some combinations run with -tree, -peek, -traces and -dot too.
Sources are merged (two Go CPU profiles), and subtracted (-base, -diff_base, -normalize).
cprof's stdout and exit status must equal go tool pprof's (Go 1.19, pprof of 2022-07).

Where cprof must differ, the case says why and is checked against what it must print instead:
  -callgrind/-dot -call_tree: pprof orders call-tree nodes that have equal names (one function
         reached through different paths) by Go's map iteration, so its own output changes from
         run to run; there cprof must print the same lines (dot's node numbers aside) in its own
         stable order, and for callgrind (whose name numbers and relative addresses follow the
         order) the same self and call costs.
  -tags: cprof prints pprof's current layout (google/pprof 2025-02: values in the report's
         unit, "Total X of Y (p%)" against the profile total), the one the goldens in
         tool/goldens hold; 1.19 prints "Total 1.1s" with %.1f values. Here cprof's keys, values
         and counts must match 1.19's line for line, only the numbers' layout differs.
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

import lib

c = lib.Checker("cprof's reports equal go tool pprof's")
CPROF = os.path.join(lib.BUILD, "cprof")
SHARED = os.path.join(lib.SRC, "..", "shared", "peer", "pprof")
c.check(os.path.exists(CPROF), "cprof built", CPROF)
if not lib.have_go():
    c.check(False, "go tool pprof available")
    c.finish()

d = lib.tmpdir("tool-diff")
env = dict(os.environ, GOCACHE=os.path.join(d, "gocache"), GO111MODULE="off", GOFLAGS="")
gobin = os.path.join(d, "goprog")
b = subprocess.run(["go", "build", "-o", gobin,
                    os.path.join(os.path.dirname(os.path.abspath(__file__)), "goprog", "main.go")],
                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
c.check(b.returncode == 0, "go build goprog", b.stdout.decode()[-300:])
profiles = {}
for i in (1, 2):
    r = lib.run([gobin, os.path.join(d, "gocpu%d.pb.gz" % i), os.path.join(d, "goheap%d.pb.gz" % i)],
                cwd=d)
    c.check(r.rc == 0, "goprog run %d writes its profiles" % i, r.describe())
profiles["gocpu"] = os.path.join(d, "gocpu1.pb.gz")
profiles["goheap"] = os.path.join(d, "goheap1.pb.gz")
if os.path.exists(lib.LIBCPROF):
    r = lib.run([lib.prog("shares"), "15"], cwd=d,
                env=lib.cprof_env(CPROF_CPU=os.path.join(d, "ccpu.pb.gz"), CPROF_HZ=1000))
    c.check(r.rc == 0, "libcprof CPU profile of progs/shares", r.describe())
    r = lib.run([lib.prog("heap_cxx")], cwd=d,
                env=lib.cprof_env(CPROF_HEAP=os.path.join(d, "cheap.pb.gz"), CPROF_MEM_RATE=1))
    c.check(r.rc == 0, "libcprof heap profile of progs/heap_cxx", r.describe())
    profiles["ccpu"] = os.path.join(d, "ccpu.pb.gz")
    profiles["cheap"] = os.path.join(d, "cheap.pb.gz")

# regexps that match something in each kind of profile: focus, ignore, hide, show, show_from,
# prune_from, peek/list, tagfocus, tagignore, tagshow, taghide, unit
RX = {
    "gocpu": ("main\\.spin", "mix", "runtime", "main", "main\\.work", "spinA", "main\\.",
              "job=parse", "render", "job", "tier", "ms"),
    "goheap": ("main\\.alloc", "Small", "runtime", "main", "main\\.main", "allocLarge", "alloc",
               "1kb:", "64", "bytes", "bytes", "kb"),
    "ccpu": ("work_fifty", "twenty", "start_thread", "work", "worker", "work_thirty", "work_",
             "x=y", "y", "x", "y", "ms"),
    "cheap": ("make_widgets", "churn", "main", "heapcc", "main", "fill_buffers", "heapcc",
              "300:400", "8000", "bytes", "bytes", "kb"),
}
PEER_RX = ("line[12]", "line3", "line.*1", "line[23]", "line2", "line1", "line",
           "key1=tag1", "tag2", "key1", "key2", "s")

REPORTS = ["-top", "-text -cum", "-tree", "-peek=%(peek)s", "-traces", "-raw", "-dot",
           "-callgrind", "-comments", "-list=%(peek)s", "-tags"]
OPTIONS = ["-functions", "-filefunctions", "-files", "-lines", "-addresses", "-noinlines",
           "-lines -noinlines", "-addresses -noinlines", "-nodecount=3", "-nodecount=10 -cum",
           "-nodefraction=0.2 -edgefraction=0.1", "-nodefraction=0 -edgefraction=0",
           "-trim=false", "-sample_index=0", "-mean", "-unit=%(unit)s", "-unit=auto",
           "-divide_by=3", "-focus=%(focus)s", "-ignore=%(ignore)s", "-hide=%(hide)s",
           "-show=%(show)s", "-show_from=%(show_from)s", "-prune_from=%(prune)s",
           "-tagfocus=%(tagfocus)s", "-tagignore=%(tagignore)s", "-tagshow=%(tagshow)s",
           "-taghide=%(taghide)s", "-relative_percentages -focus=%(focus)s", "-drop_negative",
           "-compact_labels", "-focus=%(focus)s -hide=%(hide)s -lines -cum",
           "-tagroot=%(tagshow)s", "-tagleaf=%(tagshow)s,%(taghide)s -lines"]
COMBOS = ["-tree -lines -nodecount=8", "-tree -focus=%(focus)s", "-peek=%(peek)s -addresses",
          "-traces -lines", "-traces -focus=%(focus)s -noinlines", "-dot -lines",
          "-dot -focus=%(focus)s -nodecount=6", "-dot -call_tree", "-callgrind -call_tree",
          "-raw -focus=%(focus)s", "-tags -tagfocus=%(tagfocus)s", "-list=%(peek)s -noinlines"]

# Where cprof's output must differ from Go 1.19's, and why (see the docstring).
WHY = {"-tags": "pprof's current -tags layout (2025-02), as in the goldens"}


def subst(spec, rx):
    keys = ("focus", "ignore", "hide", "show", "show_from", "prune", "peek", "tagfocus",
            "tagignore", "tagshow", "taghide", "unit")
    return (spec % dict(zip(keys, rx))).split()


cases = []
for name, path in profiles.items():
    rx = RX[name]
    for spec in REPORTS + COMBOS:
        cases.append((name, [path], subst(spec, rx), d))
    for spec in OPTIONS:
        cases.append((name, [path], ["-top"] + subst(spec, rx), d))
# merging and subtracting profiles
g1, g2 = os.path.join(d, "gocpu1.pb.gz"), os.path.join(d, "gocpu2.pb.gz")
h1, h2 = os.path.join(d, "goheap1.pb.gz"), os.path.join(d, "goheap2.pb.gz")
for extra in (["-top"], ["-top", "-cum", "-lines"], ["-traces"], ["-raw"]):
    cases.append(("gocpu1+2", [g1, g2], extra, d))
for extra in (["-base", g2], ["-diff_base", g2], ["-base", g2, "-normalize"],
              ["-diff_base", g2, "-normalize"]):
    cases.append(("gocpu-base", [g1], ["-top"] + extra, d))
    cases.append(("gocpu-base", [g1], ["-traces"] + extra, d))
    cases.append(("goheap-base", [h1], ["-top", "-sample_index=alloc_space"] + extra, d))
# symbolization modes other than none: pprof demangles and simplifies C++ names (names equal to
# their system names); nothing in these profiles needs addresses symbolized
for name in ("gocpu", "ccpu", "cheap"):
    if name in profiles:
        # (not the modes that force re-symbolization from the binaries: cprof cannot yet)
        for extra in (["-default-symbolize"], ["-symbolize=local"], ["-symbolize=remote"]):
            cases.append((name, [profiles[name]], ["-top"] + extra, d))
# the peer inputs
peer = []
ddir = os.path.join(SHARED, "derived", "driver")
if os.path.isdir(ddir):
    peer = [os.path.join(ddir, f) for f in sorted(os.listdir(ddir)) if f.endswith(".pb.gz")]
    peer.append(os.path.join(SHARED, "internal", "proftest", "testdata", "large.cpu"))
    peer.append(os.path.join(SHARED, "derived", "report", "testprofile.pb.gz"))
    # a real Go profile whose source files are not here: -list prints pprof's " Error: open ..."
    peer.append(os.path.join(SHARED, "internal", "report", "testdata", "sample.cpu"))
c.check(len(peer) >= 13, "peer inputs found", SHARED)
# the legacy formats (read by src/format/parse.c): gperftools' binary CPU profile, heap, growth,
# contention and thread texts, Go's pre-proto CPU profile and threadcreate text
LEGACY = ["cppbench.cpu", "cppbench.heap", "cppbench.growth", "cppbench.contention",
          "cppbench.thread", "cppbench.thread.all", "go.crc32.cpu", "gobench.cpu", "gobench.heap",
          "go.godoc.thread"]
legacy = [os.path.join(SHARED, "profile", "testdata", f) for f in LEGACY]
c.check(all(os.path.exists(f) for f in legacy), "legacy peer inputs found", str(legacy))
for path in legacy:
    for spec in ("-top", "-traces", "-tree", "-raw", "-text -lines -cum", "-top -addresses",
                 "-peek=.", "-callgrind"):
        cases.append(("legacy " + os.path.basename(path), [path], spec.split(),
                      os.path.join(SHARED, "internal", "driver")))
pcwd = os.path.join(SHARED, "internal", "driver")
for path in peer:
    name = os.path.basename(path)
    for spec in ("-top", "-tree", "-traces", "-raw", "-dot", "-text -lines -cum",
                 "-top -addresses -noinlines", "-top -focus=%(focus)s -hide=%(hide)s",
                 "-top -tagfocus=%(tagfocus)s", "-peek=%(peek)s", "-callgrind", "-tags",
                 "-list=%(peek)s", "-top -sample_index=0 -mean", "-top -nodecount=4"):
        cases.append((name, [path], subst(spec, PEER_RX), pcwd))


def run_one(case):
    name, paths, flags, cwd = case
    sym = [] if any(f.startswith("-symbolize") or f == "-default-symbolize" for f in flags) \
        else ["-symbolize=none"]
    argv = [f for f in flags if f != "-default-symbolize"] + sym + paths
    ours = subprocess.run([CPROF] + argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    go = subprocess.run(["go", "tool", "pprof"] + argv, cwd=cwd, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    return case, ours, go


def tags_shape(text):
    """-tags output with the numbers taken out: the keys, the tag values and their order."""
    shape = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\S+): Total ", line)
        if m:
            shape.append(("key", m.group(1)))
        elif "): " in line:
            shape.append(("value", line.rsplit("): ", 1)[1]))
        elif ": " in line:
            shape.append(("value", line.rsplit(": ", 1)[1]))
    return shape


def unordered(text):
    """The lines of a report, without call-tree disambiguation suffixes, as a sorted list."""
    text = re.sub(r" \[\d+/\d+\]", "", text)
    if text.startswith("positions:"):
        # callgrind: names are numbered, blocks opened and addresses written relative to the
        # previous node, all in node order: compare the costs (self and call) alone
        lines = []
        for line in text.splitlines():
            if line.startswith("* * "):
                lines.append(line)
            elif re.match(r"^(\*|[+-]\d+|0x[0-9a-f]+) ", line):
                lines.append("A " + line.split(" ", 1)[1])
        return sorted(lines)
    text = re.sub(r"\bN\d+(_\d+)?\b|\bnode\d+\b", "N", text)  # dot node numbers follow the order
    return sorted(text.splitlines())


mismatch = []
with concurrent.futures.ThreadPoolExecutor(max_workers=3) as ex:
    for case, ours, go in ex.map(run_one, cases):
        name, paths, flags, cwd = case
        what = "%s: %s" % (name, " ".join(flags).replace(d, "$D"))
        same_rc = (ours.returncode == 0) == (go.returncode == 0)
        why = WHY.get(flags[0])
        if why and go.returncode == 0:
            ok = same_rc and tags_shape(ours.stdout.decode()) == tags_shape(go.stdout.decode())
            if not ok:
                mismatch.append(what)
            c.check(ok, what + " (differs by design: %s; keys and values as 1.19's)" % why,
                    "" if ok else ours.stdout.decode()[:300] + " VS " + go.stdout.decode()[:300])
            continue
        ok = same_rc and ours.stdout == go.stdout
        if not ok and "-call_tree" in flags:
            # pprof orders call-tree nodes with equal names by Go's map iteration, so its output
            # changes from run to run: cprof must print the same lines in some order.
            ok = same_rc and unordered(ours.stdout.decode()) == unordered(go.stdout.decode())
            c.check(ok, what + " (pprof's order of equal call-tree nodes is not stable: same "
                    "lines, any order)")
            if not ok:
                mismatch.append(what)
            continue
        detail = ""
        if not ok:
            mismatch.append(what)
            a, b2 = ours.stdout.decode(errors="replace"), go.stdout.decode(errors="replace")
            al, bl = a.splitlines(), b2.splitlines()
            for i in range(max(len(al), len(bl))):
                x = al[i] if i < len(al) else "<none>"
                y = bl[i] if i < len(bl) else "<none>"
                if x != y:
                    detail = "rc %d vs %d; line %d: cprof %r, pprof %r; cprof stderr %r" % (
                        ours.returncode, go.returncode, i + 1, x, y,
                        ours.stderr.decode()[-200:])
                    break
            if not detail:
                detail = "rc %d vs %d: %r / %r" % (ours.returncode, go.returncode,
                                                   ours.stderr.decode()[-200:],
                                                   go.stderr.decode()[-200:])
        c.check(ok, what, detail)
c.note("%d cases, %d differ" % (len(cases), len(mismatch)))

# -proto and -topproto write profiles go tool pprof reads back to the same reports
for name in ("gocpu", "cheap"):
    if name not in profiles:
        continue
    for flags, reread in ((["-proto", "-focus=%s" % RX[name][0]], ["-top"]),
                          (["-topproto", "-lines"], ["-text", "-lines"])):
        out = os.path.join(d, "%s%s.pb.gz" % (name, flags[0]))
        ours = subprocess.run([CPROF] + flags + ["-symbolize=none", "-output=" + out,
                                                  profiles[name]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        gout = out + ".go"
        go = subprocess.run(["go", "tool", "pprof"] + flags + ["-symbolize=none",
                                                               "-output=" + gout, profiles[name]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        a = subprocess.run(["go", "tool", "pprof", "-symbolize=none"] + reread + [out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        b2 = subprocess.run(["go", "tool", "pprof", "-symbolize=none"] + reread + [gout],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        c.check(ours.returncode == 0 and a.returncode == 0 and a.stdout == b2.stdout,
                "%s %s: go tool pprof %s reads cprof's profile as its own"
                % (name, " ".join(flags), " ".join(reread)),
                a.stderr.decode()[-200:])
c.finish()
