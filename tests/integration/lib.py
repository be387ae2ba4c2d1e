"""lib.py — helpers shared by the integration tests (python3 standard library only).

The tests run real programs with libcprof attached (LD_PRELOAD plus CPROF_* variables), or
linked in, and judge the profiles with `go tool pprof`, the independent referee. This module
holds what they all need: where things are (CPROF_BUILD, CPROF_SRC, CPROF_PROGS from ctest's
environment), running a program while capturing its output, exit status and CPU time (from
wait4, so the CPU of the process itself, not of this script), parsing `go tool pprof -top` into
{function: Row(flat, flat_pct, cum, cum_pct)} and `-raw` into its header fields, fetching URLs,
picking free ports, and a Checker that prints one line per assertion and ends with
"N passed, N failed" (exit status 1 on any failure).

For heap profiles: pprof_top_mem (-top with plain bytes, several files merged), pprof_raw_heap
(the four values, the "bytes" label and the stack of every sample), heap_rel_sd (how far one
run's estimate may stray at a given rate), and start_interactive / stop_interactive for a
program driven through its stdin while it serves HTTP.

Times are in seconds everywhere (pprof's "590ms" becomes 0.59); counts stay counts.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BUILD = os.environ.get("CPROF_BUILD") or os.path.join(os.path.dirname(__file__), "../../build")
SRC = os.environ.get("CPROF_SRC") or os.path.join(os.path.dirname(__file__), "../..")
PROGS = os.environ.get("CPROF_PROGS") or os.path.join(BUILD, "tests/integration/progs")
LIBCPROF = os.path.join(BUILD, "libcprof.so")
HANG_SECONDS = 120  # a run longer than this is a deadlock, not a slow machine


def prog(name):
    """The path of a workload program built from progs/<name>.c."""
    return os.path.join(PROGS, name)


class Checker:
    """Counts and prints assertions; finish() prints the summary and exits."""

    def __init__(self, title):
        self.passed = 0
        self.failed = 0
        print("== " + title, flush=True)

    def check(self, cond, what, detail=""):
        self.passed += bool(cond)
        self.failed += not cond
        line = ("ok    " if cond else "FAIL  ") + what
        if detail:
            line += "  [" + detail.replace("\n", " | ") + "]"
        print(line, flush=True)
        return bool(cond)

    def note(self, text):
        print("      " + text, flush=True)

    def finish(self):
        """Prints the summary and exits; the temporary directories are kept only on failure."""
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        if self.failed:
            print("      files kept for inspection: %s" % " ".join(_TMPDIRS), flush=True)
        else:
            for d in _TMPDIRS:
                shutil.rmtree(d, ignore_errors=True)
        sys.exit(1 if self.failed else 0)


_TMPDIRS = []


def tmpdir(tag):
    d = tempfile.mkdtemp(prefix="cprof-it-%s-" % tag)
    _TMPDIRS.append(d)
    return d


def cprof_env(preload=True, **cprof_vars):
    """The environment for a profiled run: ours minus any CPROF_* and LD_PRELOAD, plus these."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    if preload:
        env["LD_PRELOAD"] = LIBCPROF
    for k, v in cprof_vars.items():
        env[k] = str(v)
    return env


class Run:
    """The outcome of run(): rc (negative = killed by that signal), out, err, cpu seconds."""

    def __init__(self, rc, out, err, cpu, wall, pid):
        self.rc, self.out, self.err, self.cpu, self.wall = rc, out, err, cpu, wall
        self.pid = pid

    def describe(self):
        return "rc=%s stderr=%r" % (self.rc, self.err[-500:])


def _drain(pipe, sink):
    sink.append(pipe.read())
    pipe.close()


def run(argv, env=None, cwd=None, after_exit=None):
    """Runs argv to completion and returns a Run.

    The CPU time is the process's own user+sys (plus children it waited for) from wait4.
    after_exit, if given, is called once the process has exited but before its stdout and stderr
    reach EOF, which they do only when every process holding them (say, a child that outlives
    its parent) has closed them; its return value is stored in Run.after.
    """
    start = time.monotonic()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    out, err = [], []
    readers = [threading.Thread(target=_drain, args=(p.stdout, out)),
               threading.Thread(target=_drain, args=(p.stderr, err))]
    for t in readers:
        t.start()
    watchdog = threading.Timer(HANG_SECONDS, _kill_group, args=(p.pid,))
    watchdog.start()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    after = after_exit() if after_exit else None
    for t in readers:
        t.join()
    watchdog.cancel()
    r = Run(p.returncode, out[0].decode(errors="replace"), err[0].decode(errors="replace"),
            ru.ru_utime + ru.ru_stime, wall, p.pid)
    r.after = after
    return r


def _kill_group(pid):
    print("      (killing process group %d: still running after %d s)" % (pid, HANG_SECONDS),
          flush=True)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def start(argv, env=None):
    """Starts argv in the background with its output going to files; stop() ends it."""
    outf = tempfile.TemporaryFile()
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, env=env, stdout=outf, stderr=errf, start_new_session=True)
    p.outf, p.errf = outf, errf
    return p


def stop(p, sig=signal.SIGTERM):
    """Stops a process from start(); returns (rc, stdout, stderr)."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    texts = []
    for f in (p.outf, p.errf):
        f.seek(0)
        texts.append(f.read().decode(errors="replace"))
        f.close()
    return p.returncode, texts[0], texts[1]


def proc_cpu_seconds(pid):
    """user+sys CPU seconds of a live process, from /proc/<pid>/stat (clock-tick resolution)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def threads_cpu_seconds(pid, skip_prefixes=("MHD", "cprof")):
    """user+sys CPU seconds of a live process's threads, leaving out the profiler's own threads
    (libmicrohttpd's, named MHD-*, and libcprof's, named cprof-*)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().startswith(skip_prefixes):
                    continue
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            pass  # the thread exited meanwhile
    return total / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=15.0):
    """Waits until something accepts on 127.0.0.1:port; False if proc died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def fetch(url, timeout=60):
    """GETs url; returns (status, body bytes). HTTP errors return their status and body."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ------------------------------------------------------------------ go tool pprof ----------

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "mins": 60.0,
          "hrs": 3600.0, "days": 86400.0, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}
_VALUE = re.compile(r"^(-?[0-9.]+(?:e[-+]?[0-9]+)?)([a-zA-Z\u00b5]*)$")


def parse_value(text):
    """'590ms' -> 0.59, '1.50mins' -> 90.0, '0' -> 0.0, '42' -> 42.0."""
    m = _VALUE.match(text)
    if not m or m.group(2) not in _UNITS:
        raise ValueError("not a pprof value: %r" % text)
    return float(m.group(1)) * _UNITS[m.group(2)]


class Row:
    def __init__(self, flat, flat_pct, cum, cum_pct):
        self.flat, self.flat_pct, self.cum, self.cum_pct = flat, flat_pct, cum, cum_pct

    def __repr__(self):
        return "Row(flat=%g %.2f%%, cum=%g %.2f%%)" % (self.flat, self.flat_pct, self.cum,
                                                    self.cum_pct)


class Top:
    """go tool pprof -top parsed: ok, rows {name: Row}, header lines, total, duration, text."""

    def __init__(self, ok, text, err):
        self.ok, self.text, self.err = ok, text, err
        self.rows, self.header = {}, {}
        self.total = self.duration = None
        self.header_text = ""


def pprof(args, timeout=120):
    p = subprocess.run(["go", "tool", "pprof"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def _parse_top(rc, out, err, value):
    """The table and header of `go tool pprof -top` output, values parsed with value(); the
    header's text (the lines above the table) is kept in top.header_text."""
    top = Top(rc == 0, out, err)
    in_table = False
    header_lines = []
    for line in out.splitlines():
        if in_table:
            f = line.split(None, 5)
            if len(f) == 6:
                top.rows[f[5]] = Row(value(f[0]), float(f[1].rstrip("%")),
                                     value(f[3]), float(f[4].rstrip("%")))
            continue
        if line.split() == ["flat", "flat%", "sum%", "cum", "cum%"]:
            in_table = True
            continue
        header_lines.append(line)
        if ":" in line:
            key, val = line.split(":", 1)
            top.header[key.strip()] = val.strip()
        m = re.match(r"Duration: ([^,]+)", line)
        if m:
            top.duration = parse_value(m.group(1).strip())
    top.header_text = "\n".join(header_lines)
    return top


def pprof_top(path, *extra):
    """Runs `go tool pprof -top` with every node kept and parses it."""
    rc, out, err = pprof(["-top", "-nodecount=0", "-nodefraction=0", "-edgefraction=0"]
                         + list(extra) + [path])
    top = _parse_top(rc, out, err, parse_value)
    m = re.search(r"Total samples = (\S+)", top.header_text)
    if m:
        top.total = parse_value(m.group(1))
    if top.total is None and top.ok:
        # Without a Duration pprof prints "Showing nodes accounting for X, 100% of X total".
        m = re.search(r"of (\S+) total", out)
        top.total = parse_value(m.group(1)) if m else 0.0
    return top


class Raw:
    """go tool pprof -raw parsed: ok, text, period_type, period, time, sample_types, mappings
    (list of (file, build_id)), functions (set of names in Locations)."""

    def __init__(self, ok, text, err):
        self.ok, self.text, self.err = ok, text, err
        self.period_type = self.period = self.time = None
        self.sample_types, self.mappings, self.functions = [], [], set()
        self.sample_values = []


def pprof_raw(path):
    rc, out, err = pprof(["-raw", path])
    raw = Raw(rc == 0, out, err)
    section = None
    for line in out.splitlines():
        if line.startswith("PeriodType:"):
            raw.period_type = line.split(":", 1)[1].strip()
        elif line.startswith("Period:"):
            raw.period = int(line.split(":", 1)[1])
        elif line.startswith("Time:"):
            raw.time = line.split(":", 1)[1].strip()
        elif line in ("Samples:", "Locations", "Mappings"):
            section = line
        elif section == "Samples:" and not raw.sample_types:
            raw.sample_types = line.split()
        elif section == "Samples:" and ":" in line:
            vals = line.split(":", 1)[0].split()
            nums = [int(v) for v in vals if re.match(r"^-?\d+$", v)]
            if nums:
                raw.sample_values.append(nums)
        elif section == "Locations":
            _raw_location(raw, line)
        elif section == "Mappings":
            m = re.match(r"^\s*\d+: 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S*) ?(\S*)", line)
            if m:
                build_id = m.group(2) if not m.group(2).startswith("[") else ""
                raw.mappings.append((m.group(1), build_id))
    return raw


def _raw_location(raw, line):
    # "     1: 0x4a8898 M=1 main.workA /tmp/x.go:9 s=0" and, for inlined frames, continuation
    # lines "             inlined.fn /tmp/x.go:3 s=0".
    m = re.match(r"^\s*\d+: 0x[0-9a-f]+ (?:M=\d+ )?(?:\[F\] )?(.*)$", line)
    rest = m.group(1) if m else line.strip()
    if not rest or rest == "??":
        return
    m = re.match(r"^(.*?) \S*:-?\d+ s=-?\d+(?:\(.*\))?$", rest)
    raw.functions.add(m.group(1) if m else rest.split()[0])


def top_names(top, n):
    """The n functions with the largest flat, largest first."""
    return [k for k, _ in sorted(top.rows.items(), key=lambda kv: -kv[1].flat)[:n]]


def have_go():
    try:
        return subprocess.run(["go", "version"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE).returncode == 0
    except OSError:
        return False


def require(c):
    """Checks the preconditions every test shares; ends the test if they do not hold."""
    ok = c.check(os.path.exists(LIBCPROF), "library built", LIBCPROF)
    ok &= c.check(os.path.isdir(PROGS), "workload programs built", PROGS)
    ok &= c.check(have_go(), "go tool pprof available")
    if not ok:
        c.finish()


# ------------------------------------------------------------------ common test steps -------

def baseline(argv):
    """A run without the library: the output every profiled run must reproduce."""
    return run(argv, env=cprof_env(preload=False))


def check_same_output(c, base, r, what):
    c.check(r.rc == 0, what + ": exits 0", r.describe())
    c.check(r.out == base.out and base.out != "", what + ": stdout same as without the library",
            "without %r, with %r" % (base.out.strip(), r.out.strip()))


def profiled(c, tag, argv, **cprof_vars):
    """Runs argv with LD_PRELOAD and CPROF_CPU=<fresh dir>/cpu.pb.gz plus cprof_vars.
    Returns (Run, profile path, directory)."""
    d = tmpdir(tag)
    path = os.path.join(d, "cpu.pb.gz")
    r = run(argv, env=cprof_env(CPROF_CPU=path, **cprof_vars), cwd=d)
    return r, path, d


def check_opens(c, path, what):
    """Checks that the file exists and go tool pprof reads it; returns the parsed Top or None."""
    if not c.check(os.path.isfile(path) and os.path.getsize(path) > 0, what + ": profile written",
                   path):
        return None
    top = pprof_top(path)
    if not c.check(top.ok, what + ": go tool pprof opens it", top.err.strip()[-300:]):
        return None
    return top


def has_function(top, name):
    """True if some function's name is name or starts with name( (C++ parameters)."""
    return any(k == name or k.startswith(name + "(") for k in top.rows)


def flat_of(top, name):
    return sum(r.flat for k, r in top.rows.items() if k == name or k.startswith(name + "("))


SHARES = (("work_fifty", "caller_of_fifty", 50.0), ("work_thirty", "caller_of_thirty", 30.0),
          ("work_twenty", "caller_of_twenty", 20.0))


def check_shares(c, top, cpu_seconds, what, tolerance=3.0):
    """The checks on a profile of progs/shares.c: flat shares 50/30/20 within tolerance points
    (normalized over the three workers), each caller's cum at least its worker's flat and at its
    share, the thread function above them all, and sampled CPU within 10% of cpu_seconds."""
    flats = {w: flat_of(top, w) for w, _, _ in SHARES}
    work = sum(flats.values())
    if not c.check(work > 0, what + ": the three worker functions have samples",
                   "functions: %s" % ", ".join(top_names(top, 8))):
        return
    for worker, caller, want in SHARES:
        share = 100.0 * flats[worker] / work
        c.check(abs(share - want) <= tolerance,
                "%s: %s flat share %.1f%% within %.0f points of %.0f%%"
                % (what, worker, share, tolerance, want), "flat %.3fs of %.3fs" % (flats[worker], work))
    for worker, caller, want in SHARES:
        cum = top.rows[caller].cum if caller in top.rows else 0.0
        c.check(cum >= 0.98 * flats[worker],
                "%s: caller %s cum %.3fs >= flat of %s %.3fs" % (what, caller, cum, worker,
                                                                   flats[worker]))
        share = 100.0 * cum / work
        c.check(abs(share - want) <= tolerance,
                "%s: caller %s cum share %.1f%% within %.0f points of %.0f%%"
                % (what, caller, share, tolerance, want))
    thread = top.rows["shares_thread"].cum if "shares_thread" in top.rows else 0.0
    c.check(thread >= 0.95 * work, "%s: shares_thread cum %.3fs covers the workers' %.3fs"
            % (what, thread, work), "unwinding reaches the thread's start function")
    c.check(cpu_seconds > 0 and abs(top.total - cpu_seconds) <= 0.10 * cpu_seconds,
            "%s: sampled CPU %.3fs within 10%% of the process's CPU %.3fs"
            % (what, top.total, cpu_seconds),
            "ratio %.3f" % (top.total / cpu_seconds if cpu_seconds else 0))


# ------------------------------------------------------------------ heap profiles ----------

HEAP_SAMPLE_TYPES = ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                     "inuse_space/bytes"]
HEAP_RATE = 524288  # the default CPROF_MEM_RATE, Go's MemProfileRate


def _mem_value(text):
    """A value of `go tool pprof -top -unit=B`: '43657079B' -> 43657079.0, '75634' -> 75634.0."""
    return parse_value(text[:-1] if text.endswith("B") else text)


def pprof_top_mem(paths, sample_index=None, binary=None):
    """`go tool pprof -top` of heap profiles (several paths are merged, as pprof sums them),
    bytes shown as plain bytes (-unit=B); sample_index None keeps the profile's default.
    Returns a Top whose rows hold bytes or counts, and header["Type"] the sample type shown."""
    if isinstance(paths, str):
        paths = [paths]
    args = ["-top", "-nodecount=0", "-nodefraction=0", "-edgefraction=0", "-unit=B"]
    if sample_index:
        args.append("-sample_index=" + sample_index)
    rc, out, err = pprof(args + ([binary] if binary else []) + list(paths))
    top = _parse_top(rc, out, err, _mem_value)
    m = re.search(r"of (\S+) total", top.header_text)
    if m:
        top.total = _mem_value(m.group(1))
    if top.total is None and top.ok:
        top.total = 0.0
    return top


def cum_of(top, name):
    """cum of function name (or name(...) for C++), 0 when absent."""
    return sum(r.cum for k, r in top.rows.items() if k == name or k.startswith(name + "("))


class HeapRaw:
    """A heap profile read with `go tool pprof -raw`: ok, err, text, sample_types, period_type,
    period, default (the default sample type when set), samples: list of dicts
    {values: [4 ints], bytes: label value or None, funcs: [names, leaf first]}."""

    def __init__(self, ok, text, err):
        self.ok, self.text, self.err = ok, text, err
        self.sample_types, self.samples = [], []
        self.period_type = self.period = None

    def by_function(self, name):
        """Sums of the four values over the samples whose stack holds name (cum)."""
        tot = [0, 0, 0, 0]
        for s in self.samples:
            if any(f == name or f.startswith(name + "(") for f in s["funcs"]):
                tot = [a + b for a, b in zip(tot, s["values"])]
        return tot

    def leaf_share(self, name, index=3):
        """The fraction of name's value (cum) in samples whose leaf frame is name."""
        cum = leaf = 0
        for s in self.samples:
            hit = [f == name or f.startswith(name + "(") for f in s["funcs"]]
            if any(hit):
                cum += s["values"][index]
                leaf += s["values"][index] if hit[0] else 0
        return leaf / cum if cum else 0.0


def pprof_raw_heap(path, binary=None):
    rc, out, err = pprof(["-raw"] + ([binary] if binary else []) + [path])
    raw = HeapRaw(rc == 0, out, err)
    lines = out.splitlines()
    section, pending, locs = None, [], {}
    cur = None
    for line in lines:
        if line.startswith("PeriodType:"):
            raw.period_type = line.split(":", 1)[1].strip()
        elif line.startswith("Period:"):
            raw.period = int(line.split(":", 1)[1])
        elif line in ("Samples:", "Locations", "Mappings"):
            section = line
        elif section == "Samples:" and not raw.sample_types:
            raw.sample_types = line.split()
        elif section == "Samples:":
            m = re.match(r"^\s*bytes:\[(\d+)\]", line)
            if m and pending:
                pending[-1]["bytes"] = int(m.group(1))
            elif ":" in line:
                head, tail = line.split(":", 1)
                vals = head.split()
                if vals and all(re.match(r"^-?\d+$", v) for v in vals):
                    pending.append({"values": [int(v) for v in vals], "bytes": None,
                                    "ids": [int(x) for x in tail.split()]})
        elif section == "Locations":
            m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(?:\[F\] )?(.*)$", line)
            if m:
                cur = int(m.group(1))
                locs[cur] = [_raw_function(m.group(2))]
            elif cur is not None and line.strip():
                locs[cur].append(_raw_function(line))  # an inlined frame's continuation line
    for s in pending:
        s["funcs"] = [f for i in s.pop("ids") for f in locs.get(i, ["??"])]
        raw.samples.append(s)
    return raw


def _raw_function(rest):
    """The function name in the rest of a -raw location line: 'name file:line s=N' (the name may
    hold spaces, as in 'operator new(unsigned long)'), '??' when there is none."""
    rest = rest.strip()
    if not rest:
        return "??"
    m = re.match(r"^(.*?) \S*:-?\d+ s=-?\d+(?:\(.*\))?$", rest)
    return m.group(1) if m else rest


def heap_rel_sd(count, size, rate=HEAP_RATE):
    """The relative standard deviation of Go's unbiased estimate of count blocks of size bytes
    sampled at rate: each block is sampled with p = 1-exp(-size/rate), the estimate is
    (sampled/p)*size, so sd/mean = sqrt((1-p)/(count*p))."""
    import math
    p = 1.0 - math.exp(-size / rate)
    return math.sqrt((1.0 - p) / (count * p))


def start_interactive(argv, env=None):
    """Starts argv with pipes on stdin and stdout (line by line) and stderr to a file; stop() ends
    it. The caller writes commands to p.stdin and reads answers with p.stdout.readline()."""
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=errf, start_new_session=True, bufsize=0)
    p.outf, p.errf = None, errf
    return p


def stop_interactive(p, timeout=20):
    """Ends a process from start_interactive(): closes its stdin (end of input), waits, kills it
    if it lingers; returns (rc, rest of stdout, stderr)."""
    try:
        p.stdin.close()
    except OSError:
        pass
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    out = p.stdout.read().decode(errors="replace")
    p.stdout.close()
    p.errf.seek(0)
    err = p.errf.read().decode(errors="replace")
    p.errf.close()
    return p.returncode, out, err


def check_opens_mem(c, path, what):
    """check_opens() for heap profiles (values in bytes): the file exists and go tool pprof
    reads it; returns the parsed Top (default sample type) or None."""
    if not c.check(os.path.isfile(path) and os.path.getsize(path) > 0, what + ": profile written",
                   path):
        return None
    top = pprof_top_mem(path)
    if not c.check(top.ok, what + ": go tool pprof opens it", top.err.strip()[-300:]):
        return None
    return top
