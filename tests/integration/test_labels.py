"""test_labels.py — thread labels on CPU, heap and allocs samples (progs/labels_api.c), read
through go tool pprof's -tagfocus and -tags.

CPU: one function does all the work, 70% of it under tenant=a and 30% under tenant=b, first in
one thread alternating in rounds of irregular length, then in two threads (one inheriting
tenant=a from a push in its creator, one created inside cprof_do({tenant=b})); in each 100 Hz
profile, `-tagfocus=tenant=a` and `=b` must split the labelled samples within 5 points of the
work the program did, the labelled samples must be nearly all of them, and `-tags` must list the
key with both values.

Heap: allocations under tenant=a and tenant=b (b's in a thread created inside cprof_do), with some
of a's blocks freed while no labels are in force. At CPROF_MEM_RATE=1, -tagfocus must give every
one of the four values (alloc_objects, alloc_space, inuse_objects, inuse_space) of the program's
allocating functions exactly as the program counted them (b also owns the few blocks glibc
allocates to create its thread, made under its labels); one call site used under both labels
has a sample for each in the proto and one record in Go's debug=1 text, which has no labels; at the default rate, alloc_space and inuse_space split within 5 points of
the truth. Go's heap profile has no labels at all (golang/go#23458).

API: cprof_do adds labels and restores the caller's afterwards (undoing a push its function left),
a thread created inside it inherits them, a pop takes its token once, a NULL key is refused.
"""
import os
import re

import lib

TOLERANCE = 5.0  # points of share

c = lib.Checker("labels: -tagfocus splits CPU, heap and allocs profiles")
lib.require(c)
d = lib.tmpdir("labels")


def value(text):
    """'850ms' -> 0.85, '104857600B' -> 104857600.0, '9216' -> 9216.0."""
    return lib.parse_value(text[:-1] if text.endswith("B") else text)


def focused(path, tagfocus, *extra):
    """What `go tool pprof -top -tagfocus=...` keeps: (kept, total), or None when it fails."""
    rc, out, err = lib.pprof(["-top", "-nodecount=0", "-nodefraction=0", "-edgefraction=0",
                              "-tagfocus=" + tagfocus] + list(extra) + [path])
    m = re.search(r"Showing nodes accounting for (\S+), [-0-9.]+% of (\S+) total", out)
    if rc != 0 or not m:
        c.note("pprof -tagfocus=%s %s: rc=%d %s" % (tagfocus, path, rc, (err or out)[-300:]))
        return None
    return value(m.group(1)), value(m.group(2))


def tags(path):
    """`go tool pprof -tags`: {key: {value: weight text}}."""
    rc, out, err = lib.pprof(["-tags", path])
    result, key = {}, None
    for line in out.splitlines():
        m = re.match(r"^\s*(\S+): Total ", line)
        if m:
            key = m.group(1)
            result[key] = {}
            continue
        m = re.match(r"^\s*(\S+) \(\s*[0-9.]+%\): (.*)$", line)
        if m and key is not None:
            result[key][m.group(2)] = m.group(1)
    return result


# ------------------------------------------------------------------ CPU ---------------------

alt, thr = os.path.join(d, "alt.pb.gz"), os.path.join(d, "threads.pb.gz")
r = lib.run([lib.prog("labels_api"), "cpu", alt, thr, "1500"], env=lib.cprof_env(preload=False),
            cwd=d)
c.check(r.rc == 0, "labels_api cpu exits 0", r.describe())
truth = {m.group(1): (int(m.group(2)), int(m.group(3)))
         for m in re.finditer(r"^cpu (\w+) a=(\d+) b=(\d+)$", r.out, re.M)}
for name, path in (("alternate", alt), ("threads", thr)):
    if not c.check(name in truth and lib.check_opens(c, path, "cpu " + name) is not None,
                   "cpu %s: profile written and the work reported" % name, r.out[-300:]):
        continue
    ua, ub = truth[name]
    fa, fb = focused(path, "tenant=a"), focused(path, "tenant=b")
    if not c.check(fa is not None and fb is not None, "cpu %s: -tagfocus=tenant=a and =b" % name):
        continue
    a, b, total = fa[0], fb[0], fa[1]
    c.check(a + b >= 0.9 * total, "cpu %s: labelled samples %.2fs of %.2fs" % (name, a + b, total))
    want = 100.0 * ua / (ua + ub)
    share = 100.0 * a / (a + b) if a + b else 0.0
    c.check(abs(share - want) <= TOLERANCE, "cpu %s: tenant=a %.1f%% of the labelled CPU, "
            "within %.0f points of the %.1f%% of the work it did" % (name, share, TOLERANCE, want),
            "a %.2fs, b %.2fs" % (a, b))
    t = tags(path)
    c.check(set(t.get("tenant", {})) == {"a", "b"}, "cpu %s: -tags lists tenant: a, b" % name,
            str(t))
    fn = focused(path, "tenant=a", "-focus=^burn$")
    c.check(fn is not None and abs(fn[0] - a) <= 0.05 * a,
            "cpu %s: tenant=a's samples are burn()'s (%.2fs of %.2fs)"
            % (name, fn[0] if fn else -1, a))

# ------------------------------------------------------------------ heap --------------------

SAMPLE_TYPES = ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"]


def heap_run(tag, div, *extra, **env):
    path = os.path.join(d, "heap-%s.pb.gz" % tag)
    r = lib.run([lib.prog("labels_api"), "heap", str(div)] + list(extra),
                env=lib.cprof_env(preload=False, CPROF_HEAP=path, **env), cwd=d)
    c.check(r.rc == 0, "heap %s: labels_api heap exits 0" % tag, r.describe())
    truth = {}
    for m in re.finditer(r"^heap (\w+) (.*)$", r.out, re.M):
        truth[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    ok = c.check(set(truth) == {"a", "b"}, "heap %s: the truth printed" % tag, r.out[-300:])
    ok = ok and lib.check_opens_mem(c, path, "heap " + tag) is not None
    return (path, truth) if ok else (None, None)


text = os.path.join(d, "heap-rate1.txt")
path, truth = heap_run("rate1", 16, text, CPROF_MEM_RATE=1)
if path:
    for st in SAMPLE_TYPES:
        for t in ("a", "b"):
            got = focused(path, "tenant=" + t, "-sample_index=" + st, "-unit=B",
                          "-focus=^(churn|hold|shared_site)$")
            c.check(got is not None and got[0] == truth[t][st],
                    "heap rate 1: -tagfocus=tenant=%s -sample_index=%s: %s in churn and hold, "
                    "exactly the %d the program counted" % (t, st, got[0] if got else None,
                                                            truth[t][st]))
            # Beyond churn and hold, b has what creating its thread allocated (under its labels,
            # as it should): a few small blocks.
            got = focused(path, "tenant=" + t, "-sample_index=" + st, "-unit=B")
            c.check(got is not None and truth[t][st] <= got[0] <= truth[t][st] + 4096,
                    "heap rate 1: -tagfocus=tenant=%s -sample_index=%s: %s in all" %
                    (t, st, got[0] if got else None))
    t = tags(path)
    c.check("tenant" in t and "bytes" in t, "heap rate 1: -tags lists tenant and bytes",
            str(list(t)))
    raw = lib.pprof_raw_heap(path)
    shared = [s["values"] for s in raw.samples if "shared_site" in s["funcs"]]
    c.check(sorted(shared) == [[100, 100000, 100, 100000]] * 2,
            "heap rate 1: shared_site's call site has a sample per label", str(shared))
    # Go's debug=1 text has no labels: the two are one record there.
    with open(text) as f:
        records = f.read().split("\n")
    heads = [i for i, line in enumerate(records) if re.match(r"^\d+: \d+ \[", line)]
    mine = []
    for k, i in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(records)
        if any("\tshared_site+" in line for line in records[i:end]):
            mine.append(records[i].split(" @ ")[0])
    c.check(mine == ["200: 200000 [200: 200000]"],
            "heap debug=1 text: shared_site is one record, both labels' blocks added", str(mine))

path, truth = heap_run("default", 1)
if path:
    for st in ("alloc_space", "inuse_space"):
        fa = focused(path, "tenant=a", "-sample_index=" + st, "-unit=B")
        fb = focused(path, "tenant=b", "-sample_index=" + st, "-unit=B")
        if not c.check(fa is not None and fb is not None, "heap default rate: %s split" % st):
            continue
        want = 100.0 * truth["a"][st] / (truth["a"][st] + truth["b"][st])
        share = 100.0 * fa[0] / (fa[0] + fb[0]) if fa[0] + fb[0] else 0.0
        c.check(abs(share - want) <= TOLERANCE,
                "heap default rate: tenant=a has %.1f%% of %s, within %.0f points of %.1f%%"
                % (share, st, TOLERANCE, want), "a %d, b %d" % (fa[0], fb[0]))
        c.check(fa[0] + fb[0] >= 0.95 * fa[1], "heap default rate: labelled %s is %.0f%% of "
                "the total" % (st, 100.0 * (fa[0] + fb[0]) / fa[1] if fa[1] else 0))

# ------------------------------------------------------------------ API ---------------------

r = lib.run([lib.prog("labels_api"), "api"], env=lib.cprof_env(preload=False), cwd=d)
c.check(r.rc == 0, "labels_api api exits 0", r.describe())
want = ["before: tenant=(none) job=(none)",
        "pushed: tenant=outer job=(none)",
        "token: 1",
        "in do: tenant=x job=y",
        "child: tenant=x job=y",
        "do: 0",
        "after do: tenant=outer job=(none)",
        "pop: 0",
        "pop again: -22",
        "after pop: tenant=(none) job=(none)",
        "push NULL key: -22"]
c.check(r.out.splitlines() == want, "api: cprof_do restores, a child inherits, tokens pop once",
        "got %r" % r.out)
c.finish()
