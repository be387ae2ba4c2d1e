"""test_heap_http.py — the known live set through /debug/pprof/heap, /allocs, ?debug=1 and
?seconds=2.

progs/heap_live.c runs with LD_PRELOAD and CPROF_HTTP=127.0.0.1:<free port> (which turns heap
sampling on), builds its live set (keep_big 40 x 1 MiB, keep_small 100 000 x 200 B, churn 2 GiB
in 4 KiB blocks allocated and freed) and waits for commands on stdin.

Default rate:
- /heap: Go's heap sample types, period 524288, inuse_space the default; the kept sites within
  5 standard deviations of the truth (one run cannot do 10%: see test_heap_live.py), churn's in
  use under 1% of the total, its alloc_space within 10% of 2 GiB.
- /allocs: the same data with alloc_space as the default sample type (`go tool pprof -top`
  without -sample_index shows Type: alloc_space).
- /heap?debug=1 and /allocs?debug=1: Go's text, first line
  `heap profile: N: N [N: N] @ heap/1048576`, records `N: N [N: N] @ 0x...`, frame lines
  `#\t0x<pc>\t<func>+0x<offset from the function's start>\t<file>:<line>` (tabs as Go's
  tabwriter pads them), and `go tool pprof` (given the binary) parses it and names keep_big and
  keep_small.
- /allocs?seconds=2 while churn_later() allocates 1 GiB (asked for through stdin once the
  request is under way, done well within the 2 s): the delta's alloc_space at churn_later within
  10% of 1 GiB (sd 2.2%), nothing at keep_big (allocated before the window), duration ~2 s.
- The index page lists heap and allocs; seconds with debug, and seconds=0, are refused with 400
  as Go does.
CPROF_MEM_RATE=1: /heap's inuse_objects are exactly 40 and 100000, /allocs' alloc_objects at churn
exactly 16384, debug=1's header says `@ heap/2`.
"""
# ctest: serial
import os
import re
import threading
import time

import lib

MIB = 1 << 20
RATE = lib.HEAP_RATE
HEADER = re.compile(r"^heap profile: (\d+): (\d+) \[(\d+): (\d+)\] @ heap/(\d+)$")
FRAME = re.compile(r"^#\t0x([0-9a-f]+)\t+(\S.*)\+0x([0-9a-f]+)\t+(\S*):(\d+)$")
RECORD = re.compile(r"^(\d+): (\d+) \[(\d+): (\d+)\] @( 0x[0-9a-f]+)+$")

c = lib.Checker("heap and allocs profiles through CPROF_HTTP")
lib.require(c)
d = lib.tmpdir("heap-http")


def save(name, body):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(body)
    return path


def get(port, what, name):
    status, body = lib.fetch("http://127.0.0.1:%d/debug/pprof/%s" % (port, what))
    c.check(status == 200, "GET %s answers 200" % what,
            "" if status == 200 else "status %d: %r" % (status, body[:200]))
    return save(name, body) if status == 200 else None


def start(churn_mib, **cprof_vars):
    port = lib.free_port()
    env = lib.cprof_env(CPROF_HTTP="127.0.0.1:%d" % port, **cprof_vars)
    p = lib.start_interactive([lib.prog("heap_live"), str(churn_mib), "wait"], env=env)
    first = p.stdout.readline().decode()
    ready = p.stdout.readline().decode()
    ok = c.check(first.startswith("heap_live kept") and ready == "ready\n",
                 "%s: program built its live set" % cprof_vars, "%r %r" % (first, ready))
    ok = ok and c.check(lib.wait_port(port, p), "serves on 127.0.0.1:%d" % port)
    return p, port, ok


def check_text(port, what, binary, rate):
    status, body = lib.fetch("http://127.0.0.1:%d/debug/pprof/%s" % (port, what))
    text = body.decode(errors="replace")
    lines = text.splitlines()
    c.check(status == 200, "GET %s answers 200" % what, "status %d: %r" % (status, text[:200]))
    m = HEADER.match(lines[0]) if lines else None
    c.check(m and int(m.group(5)) == 2 * rate,
            "%s: first line is Go's header, @ heap/%d" % (what, 2 * rate),
            repr(lines[0] if lines else text[:100]))
    records = [l for l in lines if RECORD.match(l)]
    c.check(records, "%s: records `N: N [N: N] @ 0x...`" % what, repr(text[:300]))
    if m and records:
        c.check(int(m.group(2)) == sum(int(RECORD.match(l).group(2)) for l in records),
                "%s: header's in-use bytes are the sum of the records'" % what)
    frames = [FRAME.match(l) for l in lines if l.startswith("#\t0x")]
    named = [m for m in frames if m]
    bad = [l for l in lines if l.startswith("#\t0x") and not FRAME.match(l)]
    c.check(named and not bad, "%s: frame lines are `#\\t0x<pc>\\t<func>+0x<offset>\\t<file>:<line>`"
            % what, "not so: %r" % bad[:2])
    far = [m.group(0) for m in named if int(m.group(3), 16) >= 0x100000
           or int(m.group(3), 16) > int(m.group(1), 16)]
    c.check(named and not far, "%s: offsets are from the function's start (< 1 MiB)" % what,
            "%d of %d frames, e.g. %r" % (len(far), len(named), far[:2]))
    path = save(what.replace("?", "_").replace("=", "") + ".txt", body)
    top = lib.pprof_top_mem(path, "inuse_space", binary=binary)
    c.check(top.ok and lib.cum_of(top, "keep_big") > 0 and lib.cum_of(top, "keep_small") > 0,
            "%s: go tool pprof parses it and names keep_big and keep_small" % what,
            (top.err.strip()[-200:] + " top: " + ", ".join(lib.top_names(top, 6))))
    return m


def delta_allocs(p, port):
    """Fetches /allocs?seconds=2 while the program allocates 1 GiB in churn_later()."""
    result = {}

    def fetch():
        result["t0"] = time.monotonic()
        result["resp"] = lib.fetch("http://127.0.0.1:%d/debug/pprof/allocs?seconds=2" % port)
        result["t1"] = time.monotonic()

    t = threading.Thread(target=fetch)
    t.start()
    time.sleep(0.4)  # the request has taken its first profile
    start_churn = time.monotonic()
    p.stdin.write(b"churn %d\n" % (1024 * MIB))
    answer = p.stdout.readline().decode()
    took = time.monotonic() - start_churn
    t.join()
    c.check(answer.startswith("done"), "churn_later ran during the request", repr(answer))
    c.check(took < 1.2, "churn_later's 1 GiB took %.2fs, well inside the 2 s window" % took)
    status, body = result["resp"]
    c.check(status == 200, "GET allocs?seconds=2 answers 200",
            "" if status == 200 else "status %d: %r" % (status, body[:200]))
    c.note("request took %.2fs" % (result["t1"] - result["t0"]))
    if status != 200:
        return
    path = save("allocs-delta.pb.gz", body)
    top = lib.pprof_top_mem(path)
    c.check(top.header.get("Type") == "alloc_space", "delta: default sample type alloc_space",
            str(top.header.get("Type")))
    got = lib.cum_of(top, "churn_later")
    c.check(abs(got - 1024 * MIB) <= 0.10 * 1024 * MIB,
            "delta: churn_later alloc_space %.0f within 10%% of %d (ratio %.3f)"
            % (got, 1024 * MIB, got / (1024 * MIB)))
    c.check(lib.cum_of(top, "keep_big") == 0 and lib.cum_of(top, "churn") == 0,
            "delta: nothing at keep_big and churn, allocated before the window",
            "keep_big %.0f churn %.0f" % (lib.cum_of(top, "keep_big"), lib.cum_of(top, "churn")))
    c.check(top.duration is not None and 1.9 <= top.duration <= 3.0,
            "delta: duration %s is the 2 s asked for" % top.duration)


def default_rate():
    p, port, ok = start(2048)
    try:
        if not ok:
            return
        path = get(port, "heap", "heap.pb.gz")
        if path:
            raw = lib.pprof_raw_heap(path)
            c.check(raw.sample_types == lib.HEAP_SAMPLE_TYPES and raw.period == RATE
                    and raw.period_type == "space bytes",
                    "heap: Go's sample types, space/bytes, period %d" % RATE,
                    "%s %s %s" % (raw.sample_types, raw.period_type, raw.period))
            top = lib.pprof_top_mem(path)
            c.check(top.header.get("Type") == "inuse_space", "heap: default sample type inuse_space",
                    str(top.header.get("Type")))
            for func, truth, n, size in (("keep_big", 40 * MIB, 40, MIB),
                                         ("keep_small", 100000 * 200, 100000, 200)):
                got = lib.cum_of(top, func)
                band = 5 * lib.heap_rel_sd(n, size)
                c.check(abs(got - truth) <= band * truth,
                        "heap: %s in use %.0f within 5 sd (%.0f%%) of %d"
                        % (func, got, band * 100, truth))
            churn = lib.cum_of(top, "churn")
            c.check(top.total and churn < 0.01 * top.total,
                    "heap: churn in use %.0f < 1%% of the total %.0f" % (churn, top.total or 0))
            alloc = lib.pprof_top_mem(path, "alloc_space")
            got = lib.cum_of(alloc, "churn")
            c.check(abs(got - 2048 * MIB) <= 0.10 * 2048 * MIB,
                    "heap: churn alloc_space %.0f within 10%% of 2 GiB (ratio %.3f)"
                    % (got, got / (2048 * MIB)))
        path = get(port, "allocs", "allocs.pb.gz")
        if path:
            top = lib.pprof_top_mem(path)
            c.check(top.header.get("Type") == "alloc_space",
                    "allocs: go tool pprof -top shows alloc_space by default",
                    str(top.header.get("Type")))
            got = lib.cum_of(top, "churn")
            c.check(abs(got - 2048 * MIB) <= 0.10 * 2048 * MIB,
                    "allocs: churn alloc_space %.0f within 10%% of 2 GiB" % got)
            raw = lib.pprof_raw_heap(path)
            types = [t.replace("[dflt]", "") for t in raw.sample_types]
            c.check(types == lib.HEAP_SAMPLE_TYPES and raw.period == RATE,
                    "allocs: the same four sample types and period", " ".join(raw.sample_types))
            c.check("alloc_space/bytes[dflt]" in raw.sample_types,
                    "allocs: default_sample_type is alloc_space", " ".join(raw.sample_types))
        check_text(port, "heap?debug=1", lib.prog("heap_live"), RATE)
        check_text(port, "allocs?debug=1", lib.prog("heap_live"), RATE)
        status, body = lib.fetch("http://127.0.0.1:%d/debug/pprof/" % port)
        index = body.decode(errors="replace")
        c.check(status == 200 and "heap?debug=1" in index and "allocs?debug=1" in index,
                "index page lists heap and allocs", index[:300])
        for bad in ("heap?seconds=2&debug=1", "allocs?seconds=0", "heap?seconds=x"):
            status, body = lib.fetch("http://127.0.0.1:%d/debug/pprof/%s" % (port, bad))
            c.check(status == 400, "%s is refused with 400 as Go does" % bad,
                    "status %d: %r" % (status, body[:100]))
        delta_allocs(p, port)
        c.check(p.poll() is None, "program still running after the requests")
    finally:
        rc, out, err = lib.stop_interactive(p)
    c.check(rc == 0, "default rate: program ends normally at end of input", "rc=%s %r" % (rc, err[-300:]))


def rate_one():
    p, port, ok = start(64, CPROF_MEM_RATE=1)
    try:
        if not ok:
            return
        path = get(port, "heap", "heap1.pb.gz")
        if path:
            top = lib.pprof_top_mem(path, "inuse_objects")
            big, small = lib.cum_of(top, "keep_big"), lib.cum_of(top, "keep_small")
            c.check(big == 40 and small == 100000,
                    "rate 1: heap inuse_objects keep_big %d == 40, keep_small %d == 100000"
                    % (big, small))
        path = get(port, "allocs", "allocs1.pb.gz")
        if path:
            top = lib.pprof_top_mem(path, "alloc_objects")
            got = lib.cum_of(top, "churn")
            c.check(got == 64 * MIB // 4096,
                    "rate 1: allocs alloc_objects at churn %d == %d" % (got, 64 * MIB // 4096))
        check_text(port, "heap?debug=1", lib.prog("heap_live"), 1)
    finally:
        rc, out, err = lib.stop_interactive(p)
    c.check(rc == 0, "rate 1: program ends normally at end of input", "rc=%s %r" % (rc, err[-300:]))


default_rate()
rate_one()
c.finish()
