"""test_sync.py — the block and mutex profiles with known waits, through cprof_write_profile and
HTTP, read by go tool pprof; and the pthread calls' results left as libc's.

progs/sync_api.c (linked with libcprof.so, CPROF_BLOCK_RATE=1, CPROF_MUTEX_FRACTION=1) runs two
scenes at once: holder() keeps a mutex 200 ms, 8 times, while two mutex_waiter() threads block on
it; cond_waiter() waits 150 ms on a condition variable, 6 times. It measures and prints the truth:
the waiters' time in pthread_mutex_lock, the time they had waited when holder() released the lock,
the time in pthread_cond_wait, and the number of calls.

- Files (cprof_write_profile): the block profile's delay at mutex_waiter and at cond_waiter within
  25% of the truth (flat: the waits of the barrier between rounds sit in round_sync, not in the
  waiters), their contentions exactly the calls made; the mutex profile's delay at holder (the
  function that calls pthread_mutex_unlock) within 25% of what its release made the waiters wait,
  8 contentions; Go's sample types and period; the debug=1 texts in Go's layout, which go tool
  pprof reads to the same numbers.
- HTTP: /debug/pprof/block and /mutex give the same; ?debug=1 is Go's text; block?seconds=2 while
  3 more condition rounds run holds only those (within 25%), not the mutex scene's waits from
  before; the index lists block and mutex with their record counts; seconds with debug is a 400.
- progs/sync_edge.c (error-checking, recursive and robust mutexes, trylock, timeouts, bad
  arguments, semaphores, errno, join, barrier, a contended counter) prints the same lines without
  the library, with it preloaded and the profiles never turned on, and with them on; and the
  preloaded runs really went through the hooks.
"""
import os
import re
import threading
import time

import lib

TOL = 0.25
RECORD = re.compile(r"^(\d+) (\d+) @( 0x[0-9a-f]+)+$")
FRAME = re.compile(r"^#\t0x[0-9a-f]+\t+(\S.*)\+0x[0-9a-f]+\t+\S*:\d+$")

c = lib.Checker("block and mutex profiles")
lib.require(c)
d = lib.tmpdir("sync")
RATES = {"CPROF_BLOCK_RATE": 1, "CPROF_MUTEX_FRACTION": 1}
PROG = lib.prog("sync_api")


def truths(lines):
    """{'waiters': (ns, calls), 'holder': (ns,), 'cond': (ns, calls)} from the program's lines."""
    out = {}
    for line in lines:
        f = line.split()
        if f and f[0] in ("waiters", "holder", "cond"):
            out[f[0]] = tuple(int(x) for x in f[1:])
    return out


def near(what, got, want):
    """got in seconds (as pprof shows it), want in ns (as the program measured it)."""
    ratio = got * 1e9 / want if want else 0.0
    c.check(want > 0 and abs(ratio - 1) <= TOL,
            "%s: %.3fs within 25%% of the truth %.3fs (ratio %.3f)" % (what, got, want / 1e9,
                                                                        ratio))


def check_block(path, t, what):
    top = lib.pprof_top(path, "-sample_index=delay")
    if not c.check(top.ok, what + ": go tool pprof reads the block profile", top.err[-300:]):
        return
    for fn, key in (("mutex_waiter", "waiters"), ("cond_waiter", "cond")):
        got = top.rows[fn].flat if fn in top.rows else 0.0
        near("%s: block delay at %s" % (what, fn), got, t[key][0])
    counts = lib.pprof_top(path, "-sample_index=contentions")
    for fn, key in (("mutex_waiter", "waiters"), ("cond_waiter", "cond")):
        got = counts.rows[fn].flat if fn in counts.rows else 0
        c.check(got == t[key][1], "%s: block contentions at %s are the %d calls made (%g)"
                % (what, fn, t[key][1], got))


def check_mutex(path, t, what):
    top = lib.pprof_top(path, "-sample_index=delay")
    if not c.check(top.ok, what + ": go tool pprof reads the mutex profile", top.err[-300:]):
        return
    got = top.rows["holder"].flat if "holder" in top.rows else 0.0
    near("%s: mutex delay charged to holder, the releaser" % what, got, t["holder"][0])
    c.check("mutex_waiter" not in top.rows or top.rows["mutex_waiter"].flat < 0.05 * got,
            "%s: the waiters' own releases are charged little (they hold the lock briefly)" % what)
    counts = lib.pprof_top(path, "-sample_index=contentions")
    got = counts.rows["holder"].flat if "holder" in counts.rows else 0
    c.check(got == 8, "%s: 8 contentions at holder, one per release (%g)" % (what, got))


def check_proto_header(path, what):
    raw = lib.pprof_raw(path)
    c.check(raw.sample_types == ["contentions/count", "delay/nanoseconds"],
            "%s: sample types contentions/count delay/nanoseconds" % what, str(raw.sample_types))
    c.check(raw.period_type == "contentions count" and raw.period == 1,
            "%s: period type contentions/count, period 1" % what,
            "%s %s" % (raw.period_type, raw.period))


def check_text(text, mutex, what, binary=PROG):
    lines = text.splitlines()
    head = ["--- mutex:" if mutex else "--- contention:", "cycles/second=1000000000"]
    if mutex:
        head.append("sampling period=1")
    c.check(lines[:len(head)] == head, "%s: Go's header %s" % (what, head), repr(lines[:3]))
    records = [RECORD.match(l) for l in lines if RECORD.match(l)]
    cycles = [int(m.group(1)) for m in records]
    c.check(records and cycles == sorted(cycles, reverse=True),
            "%s: records `<cycles> <count> @ 0x..`, sorted by cycles" % what, repr(text[:200]))
    frames = [l for l in lines if l.startswith("#\t0x")]
    bad = [l for l in frames if not FRAME.match(l)]
    named = [FRAME.match(l).group(1) for l in frames if FRAME.match(l)]
    want = "holder" if mutex else "mutex_waiter"
    c.check(want in named and not bad, "%s: frame lines `#\\t0x..\\tfunc+0x..\\tfile:line`, %s "
            "among them" % (what, want), repr(bad[:2]))
    path = os.path.join(d, what.replace(" ", "_").replace("/", "_") + ".txt")
    with open(path, "w") as f:
        f.write(text)
    top = lib.pprof_top(path, "-sample_index=delay")
    if not top.ok:  # unsymbolized: give pprof the binary
        top = lib._parse_top(*lib.pprof(["-top", "-sample_index=delay", binary, path]),
                             lib.parse_value)
    got = top.rows[want].flat if want in top.rows else 0.0
    total = sum(cycles) / 1e9
    c.check(top.ok and got > 0.5 * total,
            "%s: go tool pprof reads the text: %s %.3fs of %.3fs" % (what, want, got, total),
            top.err[-200:])


# ------------------------------------------------------------------ through the API --------

def files():
    r = lib.run([PROG, d], env=lib.cprof_env(preload=False, **RATES))
    if not c.check(r.rc == 0, "sync_api wrote its profiles", r.describe()):
        return
    t = truths(r.out.splitlines())
    c.check(set(t) == {"waiters", "holder", "cond"} and t["waiters"][1] == 16,
            "the program measured its waits: %s" % t)
    c.check("rates 1 1" in r.out, "the API reads the rates the variables set", r.out)
    if set(t) != {"waiters", "holder", "cond"}:
        return
    c.check(abs(t["waiters"][0] / 3.2e9 - 1) <= TOL and abs(t["cond"][0] / 0.9e9 - 1) <= TOL,
            "the scenes are what they say: waiters ~2 x 8 x 200 ms, cond ~6 x 150 ms")
    block, mutex = os.path.join(d, "block.pb.gz"), os.path.join(d, "mutex.pb.gz")
    check_block(block, t, "file")
    check_mutex(mutex, t, "file")
    check_proto_header(block, "file block")
    check_proto_header(mutex, "file mutex")
    with open(os.path.join(d, "block.txt")) as f:
        check_text(f.read(), False, "file block.txt")
    with open(os.path.join(d, "mutex.txt")) as f:
        check_text(f.read(), True, "file mutex.txt")


# ------------------------------------------------------------------ over HTTP --------------

def read_until_done(p):
    lines = []
    while True:
        line = p.stdout.readline().decode()
        if not line or line == "done\n":
            return lines
        lines.append(line)


def get(port, what):
    return lib.fetch("http://127.0.0.1:%d/debug/pprof/%s" % (port, what))


def save(name, body):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(body)
    return path


def http_delta(p, port):
    result = {}

    def fetch():
        result["resp"] = get(port, "block?seconds=2")

    th = threading.Thread(target=fetch)
    th.start()
    time.sleep(0.4)  # the request has taken its first snapshot
    p.stdin.write(b"cond 3\n")
    t = truths(read_until_done(p))
    th.join()
    status, body = result["resp"]
    if not c.check(status == 200 and "cond" in t, "GET block?seconds=2 answers 200",
                   "status %d %r, truth %s" % (status, body[:200], t)):
        return
    path = save("block-delta.pb.gz", body)
    top = lib.pprof_top(path, "-sample_index=delay")
    got = top.rows["cond_waiter"].flat if "cond_waiter" in top.rows else 0.0
    near("delta: block delay at cond_waiter for the 3 rounds in the window", got, t["cond"][0])
    c.check("mutex_waiter" not in top.rows,
            "delta: nothing at mutex_waiter, whose waits came before the window",
            ", ".join(lib.top_names(top, 5)))
    c.check(top.duration is not None and 1.9 <= top.duration <= 3.5,
            "delta: duration %s is the 2 s asked for" % top.duration)


def http():
    port = lib.free_port()
    env = lib.cprof_env(preload=False, CPROF_HTTP="127.0.0.1:%d" % port, **RATES)
    p = lib.start_interactive([PROG, "serve"], env=env)
    try:
        ok = c.check(p.stdout.readline() == b"ready\n", "sync_api serve started")
        if not (ok and c.check(lib.wait_port(port, p), "serves on 127.0.0.1:%d" % port)):
            return
        p.stdin.write(b"run\n")
        t = truths(read_until_done(p))
        if not c.check(set(t) == {"waiters", "holder", "cond"}, "the scenes ran: %s" % t):
            return
        for what in ("block", "mutex"):
            status, body = get(port, what)
            if c.check(status == 200, "GET %s answers 200" % what, "status %d" % status):
                path = save("http-%s.pb.gz" % what, body)
                (check_block if what == "block" else check_mutex)(path, t, "http")
            status, body = get(port, what + "?debug=1")
            if c.check(status == 200, "GET %s?debug=1 answers 200" % what, "status %d" % status):
                check_text(body.decode(errors="replace"), what == "mutex", "http %s?debug=1" % what)
        status, body = get(port, "")
        page = body.decode(errors="replace")
        for what, desc in (("block", "Stack traces that led to blocking on synchronization "
                            "primitives"), ("mutex", "Stack traces of holders of contended mutexes")):
            m = re.search(r"<tr><td>(\d+)</td><td><a href='%s\?debug=1'>%s</a>" % (what, what), page)
            c.check(status == 200 and m and int(m.group(1)) > 0 and desc in page,
                    "index: %s listed with its record count and Go's description" % what,
                    m.group(0) if m else page[:200])
        status, body = get(port, "mutex?seconds=1&debug=1")
        c.check(status == 400 and b"seconds and debug params are incompatible" in body,
                "seconds with debug: Go's 400", "status %d %r" % (status, body[:100]))
        http_delta(p, port)
    finally:
        rc, _, err = lib.stop_interactive(p)
        c.check(rc == 0, "sync_api serve exits 0", "rc %s %s" % (rc, err[-300:]))


# ------------------------------------------------------------------ semantics --------------

def semantics():
    edge = lib.prog("sync_edge")
    runs = [("without the library", lib.cprof_env(preload=False)),
            ("preloaded, profiles never on", lib.cprof_env()),
            ("preloaded, profiles on", lib.cprof_env(**RATES))]
    outs = []
    for what, env in runs:
        r = lib.run([edge], env=env)
        c.check(r.rc == 0 and r.out.count("\n") >= 50, "sync_edge %s: exits 0" % what,
                r.describe())
        hooked = "libcprof.so" in r.err
        c.check(hooked == (env.get("LD_PRELOAD") is not None),
                "sync_edge %s: pthread_mutex_lock is %s" % (what, "libcprof's" if hooked
                                                             else "libc's"), r.err.strip())
        outs.append(r.out)
    c.check(outs[0] == outs[1] == outs[2], "the same results in all three runs",
            "diff: %s" % [l for l in outs[1].splitlines() + outs[2].splitlines()
                          if l not in outs[0].splitlines()][:5])
    want = {"errorcheck-relock": "35", "errorcheck-unlock-again": "1",
            "recursive-trylock-other": "16", "robust-owner-died": "130",
            "timedlock-timeout": "110", "clocklock-bad-clock": "22",
            "timedrdlock-free-bad-time": "22", "cond-timedwait-timeout": "110",
            "trylock-held": "16", "contended-count": "80000"}
    got = dict(l.split(" ", 1) for l in outs[0].splitlines() if " " in l)
    c.check(all(got.get(k) == v for k, v in want.items()),
            "libc's answers: EDEADLK, EPERM, EBUSY, EOWNERDEAD, ETIMEDOUT, EINVAL, counts",
            str({k: got.get(k) for k in want if got.get(k) != want[k]}))


files()
http()
semantics()
c.finish()
