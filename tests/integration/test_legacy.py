"""test_legacy.py — prof_parse reads every legacy profile as `go tool pprof` reads it.

For each input, what go tool pprof makes of the file itself is compared with what it makes of the
profile prof_parse read from it (written back out as profile.proto by the test tool prof_dump):
`go tool pprof -raw -symbolize=none` prints the sample types, period, every sample's values and
locations, the locations' addresses and mappings, and the mappings, so the two texts are equal
only when prof_parse read the same profile. The frame-dropping expressions pprof attaches to
legacy profiles, which -raw does not print, are compared through `go tool pprof -proto`. When go
tool pprof refuses a file, prof_parse must refuse it too, and the other way round.

The inputs:
  - google/pprof's legacy test inputs (../shared/peer/pprof; the Java ones aside);
  - texts written by Go's runtime (heap, allocs, goroutine with labels, threadcreate, mutex,
    block; debug=1) from progs/gotext.go, built here;
  - libcprof's own heap and allocs texts (debug=1, sampled, with its memory map) from
    progs/heaptext_api.c;
  - seeded random legacy profiles in every format and word size (legacy_gen.py), and corrupted
    copies of them and of the peer inputs, for the edge cases of pprof's readers.
"""
import glob
import os
import random
import subprocess

import legacy_gen
import lib

c = lib.Checker("legacy profiles read as go tool pprof reads them")
lib.require(c)
DUMP = os.path.join(lib.BUILD, "prof_dump")
PEER = os.path.join(lib.SRC, "..", "shared", "peer", "pprof")
tmp = lib.tmpdir("legacy")
N_RANDOM = 100    # generated profiles, each also compared once corrupted
N_CORRUPT = 60    # corrupted copies of peer inputs


def scratch(path, suffix):
    """A file in the test's own directory for what is made from path (never beside an input: the
    peer inputs are a shared, read-only tree)."""
    return os.path.join(tmp, "%s.%x.%s" % (os.path.basename(path), abs(hash(path)), suffix))


def raw(path):
    return lib.pprof(["-raw", "-symbolize=none", path])


def first_difference(a, b):
    al, bl = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(al, bl)):
        if x != y:
            return "line %d: go %r, ours %r" % (i + 1, x, y)
    return "lengths %d and %d lines" % (len(al), len(bl))


def compare(path):
    """None when prof_parse reads path as go tool pprof does, else what differs."""
    grc, gout, gerr = raw(path)
    ours = scratch(path, "ours.pb.gz")
    d = lib.run([DUMP, "-proto", ours, path])
    if (grc == 0) != (d.rc == 0):
        return "go tool pprof %s (%s), prof_parse %s (%s)" % (
            "reads it" if grc == 0 else "refuses it", gerr.strip()[-150:],
            "reads it" if d.rc == 0 else "refuses it", d.err.strip()[-150:])
    if grc != 0:
        return None
    orc, oout, oerr = raw(ours)
    if orc != 0:
        return "go tool pprof cannot read what prof_parse read: " + oerr[-200:]
    if oout != gout:
        return "-raw differs: " + first_difference(gout, oout)
    return None


def frames_of(path):
    """(ours, go's) drop_frames and keep_frames of the profile in path."""
    theirs = scratch(path, "go.pb.gz")
    rc, _, err = lib.pprof(["-proto", "-symbolize=none", "-output", theirs, path])
    if rc != 0:
        return None, err
    a = lib.run([DUMP, "-frames", path])
    b = lib.run([DUMP, "-frames", theirs])
    return a.out, b.out


def sample_count(dump):
    """The number of samples in prof_dump's output (label lines are indented by 16 spaces)."""
    lines = dump.split("Samples:\n", 1)[-1].split("Locations\n", 1)[0].splitlines()[1:]
    return sum(1 for line in lines if line.strip() and not line.startswith(" " * 16))


def check_file(path, what, frames=False):
    why = compare(path)
    c.check(why is None, "%s: read as go tool pprof reads it" % what, why or "")
    if frames and why is None:
        ours, theirs = frames_of(path)
        same = ours is not None and ours == theirs and "DropFrames: " in ours
        c.check(same, "%s: drop_frames and keep_frames as pprof sets them" % what,
                "" if same else "ours %r, go's %r" % (ours, theirs))


# ----------------------------------------------------------- google/pprof's inputs ---------
peer = sorted(f for f in glob.glob(os.path.join(PEER, "profile", "testdata", "*"))
              if not f.endswith(".string") and "java" not in os.path.basename(f))
peer += [os.path.join(PEER, "internal", "driver", "testdata", n)
         for n in ("cppbench.cpu", "cppbench.small.contention")]
c.check(len(peer) >= 13, "pprof's legacy inputs found (%d)" % len(peer), PEER)
for f in peer:
    check_file(f, "pprof's " + os.path.relpath(f, PEER), frames=True)

# ----------------------------------------------------------- Go's runtime ------------------
gobin = os.path.join(tmp, "gotext")
env = dict(os.environ)
env.setdefault("GOCACHE", os.path.join(tmp, "gocache"))
b = subprocess.run(["go", "build", "-o", gobin, os.path.join(lib.SRC, "tests", "integration",
                                                             "progs", "gotext.go")],
                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
if c.check(b.returncode == 0, "progs/gotext.go builds", b.stdout.decode()[-300:]):
    gdir = os.path.join(tmp, "go")
    os.mkdir(gdir)
    r = lib.run([gobin, gdir])
    c.check(r.rc == 0, "gotext ran", r.describe())
    for name in ("heap", "allocs", "goroutine", "mutex", "block"):
        path = os.path.join(gdir, name + ".txt")
        head = open(path, errors="replace").readline().strip() if os.path.exists(path) else ""
        c.note("%s: %s" % (name, head))
        check_file(path, "Go's %s?debug=1" % name, frames=name in ("heap", "mutex"))
        d = lib.run([DUMP, path])
        c.check(d.rc == 0 and sample_count(d.out) > 0, "Go's %s: prof_parse reads %d samples"
                % (name, sample_count(d.out)), d.err)
    # Go's threadcreate stacks are empty (golang/go#6104), which pprof refuses: so must we.
    check_file(os.path.join(gdir, "threadcreate.txt"), "Go's threadcreate?debug=1 (refused)")

# ----------------------------------------------------------- libcprof's own text -----------
for rate in (1, 4096):
    heap_txt = os.path.join(tmp, "cprof-heap-%d.txt" % rate)
    allocs_txt = os.path.join(tmp, "cprof-allocs-%d.txt" % rate)
    r = lib.run([lib.prog("heaptext_api"), heap_txt, allocs_txt, str(rate)],
                env=lib.cprof_env(preload=False))
    c.check(r.rc == 0 and "heap: 0" in r.out and "allocs: 0" in r.out,
            "heaptext_api wrote the texts at rate %d" % rate, r.describe() + " " + r.out)
    for path, what in ((heap_txt, "heap"), (allocs_txt, "allocs")):
        if not os.path.exists(path):
            continue
        text = open(path, errors="replace").read()
        c.check("--- Memory map: ---" in text, "libcprof %s text (rate %d) has a memory map"
                % (what, rate))
        check_file(path, "libcprof's %s?debug=1 at rate %d" % (what, rate), frames=True)
        d = lib.run([DUMP, path])
        maps = d.out.split("Mappings\n", 1)[-1]
        c.check(d.rc == 0 and "heaptext_api " in maps,
                "libcprof %s text: the program's mapping, with its build id" % what,
                maps[:300])

# ----------------------------------------------------------- generated and corrupted ----------
rnd = random.Random(20240611)
fails = []
for i in range(N_RANDOM):
    gen = legacy_gen.GENERATORS[i % len(legacy_gen.GENERATORS)]
    data = gen(rnd)
    for variant, blob in (("", data), (" corrupted", legacy_gen.mutate(rnd, data))):
        path = os.path.join(tmp, "gen%03d%s" % (i, variant.replace(" ", "-")))
        with open(path, "wb") as f:
            f.write(blob)
        why = compare(path)
        if why:
            fails.append("%s (%s%s): %s" % (path, gen.__name__, variant, why))
c.check(not fails, "%d generated legacy profiles and %d corrupted copies read as go tool pprof "
        "reads them" % (N_RANDOM, N_RANDOM), "; ".join(fails[:3]))
for word, big in ((4, False), (4, True), (8, False), (8, True)):
    path = os.path.join(tmp, "cpu%d%s" % (word * 8, "be" if big else "le"))
    with open(path, "wb") as f:
        f.write(legacy_gen.cpu(random.Random(word * 2 + big), word, big))
    check_file(path, "a %d-bit %s-endian CPU profile" % (word * 8, "big" if big else "little"),
               frames=True)
fails = []
for i in range(N_CORRUPT):
    src = peer[i % len(peer)]
    path = os.path.join(tmp, "peer%03d" % i)
    with open(path, "wb") as f:
        f.write(legacy_gen.mutate(rnd, open(src, "rb").read()))
    why = compare(path)
    if why:
        fails.append("%s (from %s): %s" % (path, os.path.basename(src), why))
c.check(not fails, "%d corrupted peer inputs: accepted or refused as go tool pprof does"
        % N_CORRUPT, "; ".join(fails[:3]))
c.finish()
