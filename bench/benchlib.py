"""benchlib.py — what the benchmark drivers share: running a child and measuring it, paired
statistics, reading a profile through `go tool pprof -raw`, and printing tables.

A measured run is one child started with os.posix_spawn and reaped with os.wait4, so its CPU time
is the kernel's rusage for exactly that process (user+sys, all its threads, including whatever a
preloaded profiler does in it up to exit) and its wall time is time.perf_counter around spawn and
reap. Overheads are taken pair by pair: each profiled run is paired with an unprofiled run made
right next to it, the order alternating from pair to pair, and the ratio (or difference) of each
pair is summarised by its median and its range. That cancels most of the drift of a shared VM,
which is larger than the effects measured here. Python's standard library only.
"""

import os
import statistics
import subprocess
import sys
import time


class RunError(Exception):
    """A child failed: bad exit status, or something on stderr that means the setup is wrong."""


def run_measured(argv, env_extra=None, stdout_path=None, stderr_path=None):
    """Runs argv once with our environment plus env_extra; returns dict(cpu=s, wall=s,
    maxrss_kb=peak RSS in KiB).

    stdout and stderr go to the given files (or /dev/null). Raises RunError if the child cannot be
    started or does not exit 0."""
    env = dict(os.environ)
    env.update(env_extra or {})
    actions = [
        (os.POSIX_SPAWN_OPEN, 1, stdout_path or os.devnull,
         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path or os.devnull,
         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    t0 = time.perf_counter()
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    except OSError as e:
        raise RunError("%s: %s" % (argv[0], e)) from e
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        msg = ""
        if stderr_path and os.path.exists(stderr_path):
            with open(stderr_path, errors="replace") as f:
                msg = f.read()[-2000:]
        raise RunError("%s exited with %d%s" % (" ".join(argv), code,
                                                ": " + msg.strip() if msg.strip() else ""))
    # maxrss_kb: the peak RSS of the child, or of its largest waited-for descendant (getrusage(2))
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "maxrss_kb": ru.ru_maxrss}


def check_preload_stderr(path):
    """Raises RunError if the dynamic loader refused an LD_PRELOAD (it only warns and goes on)."""
    if path and os.path.exists(path):
        with open(path, errors="replace") as f:
            text = f.read()
        if "cannot be preloaded" in text:
            raise RunError(text.strip().splitlines()[0])


def summary(values):
    """(median, min, max) of a non-empty list, or (nan, nan, nan) when it is empty."""
    if not values:
        nan = float("nan")
        return (nan, nan, nan)
    return (statistics.median(values), min(values), max(values))


def fmt_range(values, fmt="%.3f"):
    """'median (min-max)' of values in fmt ('to' instead of '-' for signed formats)."""
    med, lo, hi = summary(values)
    sep = " to " if "+" in fmt else "-"
    return (fmt + " (" + fmt + sep + fmt + ")") % (med, lo, hi)


def paired_order(i):
    """True if pair i runs the baseline first; alternates so order effects cancel."""
    return i % 2 == 0


# ------------------------------------------------------------------ reading profiles --------

def _parse_raw_samples(lines, start):
    """Parses the Samples: block of pprof -raw from lines[start] (the header after 'Samples:')."""
    types = lines[start].split()
    samples = []
    i = start + 1
    while i < len(lines) and lines[i] != "Locations":
        line = lines[i]
        i += 1
        if ":" not in line:
            continue
        head, _, tail = line.partition(":")
        vals = head.split()
        if len(vals) != len(types) or not all(v.lstrip("-").isdigit() for v in vals):
            continue  # a label line
        samples.append(([int(v) for v in vals], [int(x) for x in tail.split()]))
    return types, samples, i


def _parse_raw_locations(lines, start):
    """Parses the Locations block: id -> list of function names, innermost first."""
    locs = {}
    cur = None
    i = start + 1
    while i < len(lines) and lines[i] != "Mappings":
        line = lines[i]
        i += 1
        head = line.split(":", 1)
        if len(head) == 2 and head[0].strip().isdigit() and head[1].strip().startswith("0x"):
            cur = int(head[0])
            parts = head[1].split()
            # '0xADDR M=1 fn file:line s=0' or just '0xADDR M=1'
            names = [p for p in parts[1:] if not p.startswith("M=") and p != "[F]"]
            locs[cur] = [names[0]] if names else []
        elif cur is not None and line.startswith("             ") and line.strip():
            locs[cur].append(line.split()[0])
    return locs


def read_profile(path, binary=None, buckets=()):
    """Reads a CPU profile (profile.proto or gperftools' legacy format) with `go tool pprof -raw`.

    Returns dict(samples=count, cpu_s=seconds, depth=mean frames per sample, full=fraction of
    samples whose stack reaches `worker`, leaf={function: sample count}, period_ns). A sample counts
    for the innermost function of its stack that is in buckets (so that frames inlined into a bucket
    count for it), else for its leaf. Raises RunError when pprof cannot read the file."""
    argv = ["go", "tool", "pprof", "-raw"]
    argv += [binary, path] if binary else ["-symbolize=none", path]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise RunError("go tool pprof -raw %s: %s" % (path, p.stderr.strip()[-500:]))
    lines = p.stdout.splitlines()
    try:
        start = lines.index("Samples:") + 1
    except ValueError:
        raise RunError("go tool pprof -raw %s: no Samples: section" % path) from None
    types, samples, loc_start = _parse_raw_samples(lines, start)
    locs = _parse_raw_locations(lines, loc_start) if loc_start < len(lines) else {}
    idx_count = next((k for k, t in enumerate(types) if t.endswith("/count")), 0)
    idx_ns = next((k for k, t in enumerate(types)
                   if t.split("[")[0].endswith("/nanoseconds")), None)
    period = next((int(l.split()[1]) for l in lines[:start] if l.startswith("Period:")), 0)
    out = {"samples": 0, "cpu_s": 0.0, "depth": 0.0, "full": 0.0, "leaf": {}, "period_ns": period}
    frames = full = 0
    for vals, ids in samples:
        n = vals[idx_count]
        out["samples"] += n
        if idx_ns is not None:
            out["cpu_s"] += vals[idx_ns] / 1e9
        fns = [fn for lid in ids for fn in (locs.get(lid) or ["?"])]
        frames += n * len(fns)
        if "worker" in fns:
            full += n
        leaf = next((fn for fn in fns if fn in buckets), fns[0] if fns else "?")
        out["leaf"][leaf] = out["leaf"].get(leaf, 0) + n
    if out["samples"]:
        out["depth"] = frames / out["samples"]
        out["full"] = full / out["samples"]
    return out


# ------------------------------------------------------------------ output ------------------

def table(header, rows):
    """Formats rows (lists of strings) under header as a Markdown table with aligned columns."""
    widths = [max(len(str(r[c])) for r in [header] + rows) for c in range(len(header))]

    def line(r):
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def log(msg):
    """Progress on stderr, so stdout holds only results."""
    print(msg, file=sys.stderr, flush=True)


def anomalies_md(anomalies):
    """A Markdown list of anomalies, or "none"."""
    return "\n".join("- " + a for a in anomalies) or "none"


def emit(text, md_path):
    """Prints a result section and, when asked, writes it to md_path as well."""
    print(text)
    if md_path:
        with open(md_path, "w") as f:
            f.write(text)
