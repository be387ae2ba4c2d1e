"""legacy_gen.py — random legacy profiles for test_legacy.py (python3 standard library only).

Each generator takes a random.Random and returns the bytes of one profile in a legacy format pprof
reads: gperftools' binary CPU profile (32- or 64-bit words, either byte order, with or without the
end marker, sometimes with a second frame shared by nearly every sample or a leaf seen twice),
heap text (every header kind pprof knows, with and without alloc counts, comments, CRLF line ends),
Go's count text, threadz text and contention text (every attribute). Most end with a memory map
whose lines mix every form pprof accepts: /proc/self/maps, the brief "start-limit perms path
(@offset) build-id" form, "start-limit: path", a glog prefix, "$name" attributes, non-code lines,
split and adjacent mappings, a main binary at 0x400000 + offset, an "/anon_hugepage" first
mapping, addresses below a mapping with an offset. mutate() corrupts a profile a little (bytes
changed, cut, inserted, repeated) so that both readers must agree on what they refuse too.

The generators only need to be varied, not right: the test compares what prof_parse and
`go tool pprof` make of each file, whatever it is.
"""

import struct

FILES = ["/usr/bin/prog", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/libm-2.15.so", "[vdso]",
         "/tmp/a b", "/opt/thing (deleted)", "", "libfoo.so", "prog_2"]


def memory_map(r):
    """Lines of a memory map, and an address base most stacks should fall in."""
    lines = []
    base = r.choice([0x400000, 0x555555554000, 0x10000])
    addr = base
    for _ in range(r.randint(0, 8)):
        size = r.choice([0x1000, 0x20000, 0x100000])
        f = r.choice(FILES)
        off = r.choice([0, 0, 0x1000, size])
        perm = r.choice(["r-xp", "r--p", "rw-p", "r-xs", "--xp", ""])
        kind = r.choice(["proc", "brief", "brief_at", "brief_colon", "glog"])
        if kind == "proc":
            line = "%x-%x %s %08x 00:00 %d   %s" % (addr, addr + size, perm or "r-xp", off,
                                                    r.randint(0, 9999), f)
        elif kind == "brief":
            line = "%x-%x %s %s" % (addr, addr + size, perm, f)
        elif kind == "brief_at":
            line = "0x%x-0x%x %s %s (@%x) %s" % (addr, addr + size, perm, f or "x", off,
                                                 r.choice(["", "abcdef0123", "deadbeef"]))
        elif kind == "brief_colon":
            line = "  %x-%x: %s" % (addr, addr + size, f)
        else:
            line = "I0102 10:00:00.000000 1234 file.cc:12] %x-%x %s %s" % (
                addr, addr + size, perm or "r-xp", f)
        if r.random() < 0.1:
            line = line.replace("prog", "$name")
        lines.append(line)
        addr += size if r.random() < 0.7 else size + 0x10000
    if r.random() < 0.2:
        lines.insert(0, "name = realprog")
    case = r.random()
    if case < 0.15:  # the main binary at 0x400000 + its offset
        lines.insert(0, "401000-480000 r-xp 00001000 00:00 1 /usr/bin/main")
        base = 0x400800
    elif case < 0.3:  # addresses below a mapping that has an offset
        lines.insert(0, "7f0000010000-7f0000020000 r-xp 00008000 00:00 1 /usr/lib/libz.so.1")
        base = 0x7f000000a000
    elif case < 0.4:  # an /anon_hugepage mapping right before the binary
        lines.insert(0, "300000-400000 r-xp 00000000 00:00 0 /anon_hugepage (deleted)")
        lines.insert(1, "400000-500000 r-xp 00000000 00:00 1 /usr/bin/main")
        base = 0x3ff000
    return lines, base


def stack(r, base, n):
    return [r.choice([base + r.randint(0, 0x30000), r.randint(1, 1 << 48), 0x400123, base + 5])
            for _ in range(n)]


def hexes(addrs):
    return "".join(" 0x%x" % a for a in addrs)


def cpu(r, word=None, big=None):
    """A binary CPU profile; word size 4 or 8 and byte order random unless given."""
    word = word or r.choice([4, 8])
    big = r.random() < 0.3 if big is None else big
    fmt = (">" if big else "<") + ("I" if word == 4 else "Q")
    mask = (1 << (8 * word)) - 1

    def w(v):
        return struct.pack(fmt, v & mask)

    out = [w(0), w(3), w(0), w(r.choice([10000, 1, 4000, 100])), w(0)]
    maps, base = memory_map(r)
    shared = r.random() < 0.3
    for _ in range(r.randint(0, 40)):
        depth = r.randint(0, 8)
        st = stack(r, base, depth)
        if shared and depth > 1 and r.random() < 0.98:
            st[1] = base + 0x100
        if depth > 1 and r.random() < 0.1:
            st[1] = st[0]
        out += [w(r.randint(1, 1000)), w(depth)] + [w(a) for a in st]
    if r.random() < 0.9:
        out += [w(0), w(1), w(0)]
    data = b"".join(out)
    if r.random() < 0.9:
        data += ("\n".join(maps) + "\n").encode()
    return data


def heap(r):
    maps, base = memory_map(r)
    kind = r.choice(["heapz_v2/524288", "heap_v2/1024", "heap/1048576", "heap/2", "heapprofile",
                     "growthz", "fragmentationz", "heap", "heapz_v2"])
    alloc = r.random() < 0.5
    lines = []
    for _ in range(r.randint(0, 20)):
        n = r.choice([0, 1, 2, 7, 100])
        b = n * r.choice([1, 16, 100, 4096, 1 << 20]) + (r.randint(0, 5) if r.random() < 0.2 else 0)
        an, ab = (n + r.choice([0, 1, 5]), b + 8 * n) if alloc else (n, b)
        st = stack(r, base, r.randint(0, 8))
        lines.append("%d: %d [%d: %d] @%s" % (n, b, an, ab, hexes(st)))
        if r.random() < 0.3:
            lines.append("#\t0x%x\tmain.foo+0x12\t/src/x.go:3" % (st[0] if st else 0))
        if r.random() < 0.2:
            lines.append("")
    total = sum(int(x.split(":")[0]) for x in lines if x[:1].isdigit())
    text = ["heap profile: %d: 12345 [%d: %d] @ %s" % (total, total + alloc, 12345 + 7 * alloc, kind)]
    text += lines
    if r.random() < 0.5:
        text += ["", "# runtime.MemStats", "# Alloc = 123"]
    if r.random() < 0.8:
        text += ["", r.choice(["--- Memory map: ---", "MAPPED_LIBRARIES:"])] + maps
    eol = "\r\n" if r.random() < 0.1 else "\n"
    return (eol.join(text) + eol).encode()


def count(r):
    maps, base = memory_map(r)
    text = ["%s profile: total %d" % (r.choice(["goroutine", "threadcreate", "custom"]),
                                      r.randint(0, 100))]
    for _ in range(r.randint(0, 10)):
        st = stack(r, base, r.randint(1, 6))
        text.append("%s @%s" % (r.choice(["1", "3", "010", "12"]), hexes(st)))
        if r.random() < 0.5:
            text.append('# labels: {"a":"b"}')
        text += ["#\t0x%x\tmain.x+0x1\t/a.go:1" % st[0], ""]
    if r.random() < 0.5:
        text += ["--- Memory map: ---"] + maps
    return ("\n".join(text) + "\n").encode()


def thread(r):
    maps, base = memory_map(r)
    text = ["--- threadz 1 ---", ""]
    for i in range(r.randint(0, 6)):
        text.append("--- Thread %x (name: t%d/%d) stack: ---" % (r.randint(1, 1 << 40), i, 100 + i))
        if i and r.random() < 0.2:
            text.append("  [same as previous thread]")
            continue
        st = stack(r, base, r.randint(1, 6))
        if len(st) > 1 and r.random() < 0.2:
            st[1] = st[0]
        text.append("  PC: " + " ".join("0x%x" % a for a in st))
        if r.random() < 0.3:
            text.append("      creator:" + hexes(stack(r, base, 3)))
    text += [r.choice(["--- Memory map: ---", "---- no stack trace for x"])] + maps
    return ("\n".join(text) + "\n").encode()


def contention(r):
    maps, base = memory_map(r)
    text = [r.choice(["--- contentionz 1 ---", "--- mutex:", "--- contention:"])]
    if r.random() < 0.8:
        text.append(r.choice(["cycles/second = 3201000000", "cycles/second=2399988000",
                              "cycles/second = 0x10"]))
    if r.random() < 0.7:
        text.append(r.choice(["sampling period = 100", "sampling period=5",
                              "sampling period = 0", "sampling period = 1"]))
    if r.random() < 0.3:
        text.append("ms since reset = %d" % r.randint(0, 10 ** 8))
    if r.random() < 0.2:
        text.append("discarded samples = 3")
    for _ in range(r.randint(0, 10)):
        st = stack(r, base, r.randint(0, 8))
        text.append("%10d %8d @%s" % (r.randint(0, 10 ** 9), r.randint(1, 100), hexes(st)))
        if r.random() < 0.3:
            text.append("#\t0x%x\tmain.x+0x1\t/a.go:1" % (st[0] if st else 1))
    if r.random() < 0.8:
        text += ["--- Memory map: ---"] + maps
    return ("\n".join(text) + "\n").encode()


GENERATORS = [cpu, heap, count, thread, contention]

INSERTS = [b" ", b"\n", b"0x", b"=", b"---", b"\r", b"9", b"\xc2\xa0", b"$", b"-", b":"]


def mutate(r, data):
    """data with 1 to 4 small corruptions."""
    data = bytearray(data)
    for _ in range(r.randint(1, 4)):
        if not data:
            break
        i = r.randrange(len(data))
        op = r.randint(0, 5)
        if op == 0:
            data[i] = r.randrange(256)
        elif op == 1:
            del data[i:i + r.randint(1, 8)]
        elif op == 2:
            data[i:i] = r.choice(INSERTS)
        elif op == 3:
            j = r.randrange(len(data))
            data[i:i] = data[j:j + r.randint(1, 40)]
        elif op == 4:
            del data[i:]
        else:
            data[i] = ord(r.choice("0123456789abcdefx :-@[]#"))
    return bytes(data)
