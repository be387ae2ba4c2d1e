/*
 * legacy_test.c — unit tests of prof_parse and the legacy readers (src/format/parse.c, legacy*.c,
 * maps.c, rx.c).
 *
 * What is covered:
 *  - google/pprof's own parser goldens: every legacy input of profile/testdata (Java excepted)
 *    read with prof_parse and printed as Profile.String() must equal pprof's .string file byte for
 *    byte (sample order and values, location and mapping ids, addresses, mappings);
 *  - the binary CPU profile in all four word formats pprof reads (32/64-bit, either byte order)
 *    gives the same profile; the handler-frame and duplicate-leaf rules; a missing end marker;
 *  - the heap readers' sampling rules (heap_v2 unbiasing, Go's heap/2R, heapprofile, growthz), the
 *    "bytes" label, libcprof's debug=1 text with its "--- Memory map: ---" trailer and build ids;
 *  - count, threadz and contention texts, Go's integer syntax ("010" is octal) and the Go
 *    regular-expression semantics the readers rely on;
 *  - the memory map rules: brief and /proc forms, glog prefixes, $attribute substitution,
 *    non-code lines, main binary first, merging, the fake mapping;
 *  - detection and errors: profile.proto and gzip go through, empty input, garbage and Java
 *    profiles are refused with a reason naming what the input is not;
 *  - hostile input: every truncation of every peer input, seeded random corruption, huge counts,
 *    bad maps lines and a substitution bomb each give a profile or -EINVAL with a reason, never a
 *    crash (the fuzz target runs the same under ASan and UBSan).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/profile.h"
#include "profstring.h"
#include "readfile.h"
#include "test.h"

static const char *shared_dir(void) {
  const char *s = getenv("CPROF_SHARED");
  return s ? s : "/work/shared";
}

static uint8_t *peer_file(const char *rel, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/peer/pprof/%s", shared_dir(), rel);
  uint8_t *d = read_file(path, len);
  if (!d)
    fprintf(stderr, "cannot read %s (set CPROF_SHARED)\n", path);
  return d;
}

/* Profile.String() of p, malloc'd. */
static char *to_string(const prof_t *p) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ps_print(f, p);
  fclose(f);
  return buf;
}

/* Parses text; the profile, or NULL with the reason in err. */
static prof_t *parse_text(const char *text, char *err, size_t errlen) {
  prof_t *p = NULL;
  int rc = prof_parse((const uint8_t *)text, strlen(text), &p, err, errlen);
  if (rc < 0)
    return NULL;
  return p;
}

/* Whether parsing text fails with -EINVAL, a reason containing want, and no profile. */
static int refused(const char *text, size_t len, const char *want) {
  prof_t *p = (prof_t *)1;
  char err[512] = "";
  int rc = prof_parse((const uint8_t *)text, len, &p, err, sizeof err);
  int ok = rc == -EINVAL && p == NULL && strstr(err, want) != NULL;
  if (!ok)
    fprintf(stderr, "  rc %d, reason \"%s\", want \"%s\"\n", rc, err, want);
  if (rc == 0)
    prof_free(p);
  return ok;
}

static int refused_s(const char *text, const char *want) {
  return refused(text, strlen(text), want);
}

/* ------------------------------------------------------------------ goldens ----------------- */

static void test_goldens(void) {
  static const char *const names[] = {
      "cppbench.cpu",         "cppbench.heap",       "cppbench.growth", "cppbench.contention",
      "cppbench.thread",      "cppbench.thread.all", "go.crc32.cpu",    "go.godoc.thread",
      "cppbench.thread.none", "gobench.cpu",         "gobench.heap"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char rel[256], grel[256];
    snprintf(rel, sizeof rel, "profile/testdata/%s", names[i]);
    snprintf(grel, sizeof grel, "profile/testdata/%s.string", names[i]);
    size_t len = 0, glen = 0;
    uint8_t *data = peer_file(rel, &len), *golden = peer_file(grel, &glen);
    CHECK(data && golden, "%s", names[i]);
    if (!data || !golden) {
      free(data);
      free(golden);
      continue;
    }
    prof_t *p = NULL;
    char err[512] = "";
    int rc = prof_parse(data, len, &p, err, sizeof err);
    CHECK(rc == 0, "%s: %s", names[i], err);
    if (rc == 0) {
      char *s = to_string(p);
      int same = strlen(s) == glen && memcmp(s, golden, glen) == 0;
      CHECK(same, "%s: Profile.String() differs from pprof's golden", names[i]);
      if (!same)
        fprintf(stderr, "---- ours:\n%s---- pprof's:\n%.*s\n", s, (int)glen, golden);
      free(s);
      prof_free(p);
    }
    free(data);
    free(golden);
  }
}

/* ------------------------------------------------------------------ CPU --------------------- */

/* A binary CPU profile of word size ws (4 or 8), big-endian or not, from words, then text. */
static uint8_t *cpu_bytes(const uint64_t *w, size_t nw, int ws, int big, const char *text,
                          size_t *len) {
  size_t tl = strlen(text);
  uint8_t *b = malloc(nw * (size_t)ws + tl + 1), *q = b;
  for (size_t i = 0; i < nw; i++)
    for (int k = 0; k < ws; k++)
      *q++ = (uint8_t)(w[i] >> (8 * (big ? ws - 1 - k : k)));
  memcpy(q, text, tl);
  *len = nw * (size_t)ws + tl;
  return b;
}

static void test_cpu_formats(void) {
  /* header (period 2000 us), three records, end marker */
  const uint64_t w[] = {0, 3, 0,        2000,     0, 5, 3,         0x401000, 0x402001, 0x403001,
                        2, 2, 0x401100, 0x402001, 1, 1, 0x7000000, 0,        1,        0};
  const char *maps = "00400000-00500000 r-xp 00000000 08:01 42   /usr/bin/app\n"
                     "00500000-00600000 rw-p 00100000 08:01 42   /usr/bin/app\n";
  char *first = NULL;
  for (int f = 0; f < 4; f++) {
    size_t len;
    uint8_t *b = cpu_bytes(w, sizeof w / sizeof *w, f < 2 ? 4 : 8, f & 1, maps, &len);
    prof_t *p = NULL;
    char err[256] = "";
    int rc = prof_parse(b, len, &p, err, sizeof err);
    CHECK(rc == 0, "format %d: %s", f, err);
    if (rc == 0) {
      char *s = to_string(p);
      if (!first) {
        first = s;
        CHECK(p->period == 2000000 && p->nsample == 3 && p->nsample_type == 2);
        CHECK(strcmp(prof_str(p, p->sample_type[1].type), "cpu") == 0);
        CHECK(p->sample[0].value[0] == 5 && p->sample[0].value[1] == 10000000);
        /* the common second frame (0x402000, in all but one in 32) is not stripped: 2 of 3 */
        CHECK(p->sample[0].nlocation == 3 && p->location[1].address == 0x402000);
        CHECK(p->nmapping == 2 && p->mapping[0].memory_start == 0x400000, "%zu", p->nmapping);
        CHECK(p->location[p->nlocation - 1].address == 0x7000000 &&
              p->location[p->nlocation - 1].mapping_id == 2); /* the fake mapping */
        CHECK(strstr(prof_str(p, p->drop_frames), "ProfileData::Add") != NULL);
      } else {
        CHECK(strcmp(first, s) == 0, "format %d reads differently", f);
        free(s);
      }
      prof_free(p);
    }
    free(b);
  }
  free(first);

  /* One sample: its second frame is "shared by all" and goes, twice; the leaf duplicate goes. */
  const uint64_t w2[] = {0, 3, 0, 100, 0, 1, 4, 0x1000, 0x2001, 0x3001, 0x4001, 0, 1, 0};
  size_t len;
  uint8_t *b = cpu_bytes(w2, sizeof w2 / sizeof *w2, 8, 0, "", &len);
  prof_t *p = NULL;
  char err[256];
  CHECK(prof_parse(b, len, &p, err, sizeof err) == 0, "%s", err);
  if (p) {
    CHECK(p->nsample == 1 && p->sample[0].nlocation == 2, "%zu", p->sample[0].nlocation);
    CHECK(p->location[p->sample[0].location_id[1] - 1].address == 0x4000);
    prof_free(p);
  }
  free(b);
  const uint64_t w3[] = {0, 3, 0, 100, 0, 1, 2, 0x1000, 0x1000, 1, 2, 0x5000, 0x6001};
  b = cpu_bytes(w3, sizeof w3 / sizeof *w3, 8, 1, "", &len); /* no end marker */
  p = NULL;
  CHECK(prof_parse(b, len, &p, err, sizeof err) == 0, "%s", err);
  if (p) {
    CHECK(p->nsample == 2 && p->sample[0].nlocation == 1, "duplicate leaf dropped");
    CHECK(p->nmapping == 1 && p->mapping[0].memory_limit == UINT64_MAX, "the fake mapping");
    prof_free(p);
  }
  free(b);
  const uint64_t w4[] = {0, 3, 1, 100, 0};
  b = cpu_bytes(w4, 5, 4, 0, "", &len);
  CHECK(refused((const char *)b, len, "Java"));
  free(b);
}

/* ------------------------------------------------------------------ heap -------------------- */

static void test_heap(void) {
  char err[512] = "";
  /* Go's heap/2R means v2 sampling at rate R; four types when alloc differs from inuse. */
  prof_t *p = parse_text("heap profile: 1: 2048 [3: 6144] @ heap/1048576\n"
                         "1: 2048 [3: 6144] @ 0x401001 0x402002\n"
                         "#\t0x401000\tmain.f+0x10\t/src/m.go:3\n\n"
                         "0: 0 [2: 64] @ 0x401001\n",
                         err, sizeof err);
  CHECK(p != NULL, "%s", err);
  if (p) {
    CHECK(p->nsample_type == 4 && p->period == 524288, "%" PRId64, p->period);
    CHECK(strcmp(prof_str(p, p->sample_type[3].type), "inuse_space") == 0);
    /* scale = 1 / (1 - exp(-2048 / 524288)) */
    CHECK(p->sample[0].value[0] == 769 && p->sample[0].value[1] == 1575937 &&
              p->sample[0].value[2] == 256 && p->sample[0].value[3] == 525312,
          "%" PRId64 " %" PRId64, p->sample[0].value[2], p->sample[0].value[3]);
    CHECK(p->sample[0].nlabel == 1 && p->sample[0].label[0].num == 2048);
    CHECK(p->sample[1].value[2] == 0 && p->sample[1].label[0].num == 32, "alloc's mean size");
    CHECK(p->location[0].address == 0x401000 && p->location[1].address == 0x402001);
    CHECK(strstr(prof_str(p, p->drop_frames), "operator new") != NULL &&
          strstr(prof_str(p, p->keep_frames), "runtime\\.panic") != NULL);
    prof_free(p);
  }
  /* libcprof's debug=1 text: brief maps with offsets and build ids; a PIE binary. */
  p = parse_text("heap profile: 2: 200 [2: 201] @ heap/2\n"
                 "2: 200 [2: 201] @ 0x55550000101a 0x7f0000002005\n"
                 "#\t0x555500001019\tleak+0x9\t/src/a.c:3\n\n"
                 "# cprof.MallocStats\n# RSS = 1\n\n--- Memory map: ---\n"
                 "555500001000-555500002000 r-xp /usr/bin/app (@1000) 0123abcd\n"
                 "7f0000001000-7f0000009000 r-xp /lib/libc.so.6 (@0) fedc\n",
                 err, sizeof err);
  CHECK(p != NULL, "%s", err);
  if (p) {
    CHECK(p->period == 1 && p->nsample_type == 4 && p->sample[0].value[3] == 200);
    CHECK(p->nmapping == 2 && p->mapping[0].file_offset == 0x1000 &&
          strcmp(prof_str(p, p->mapping[0].build_id), "0123abcd") == 0 &&
          strcmp(prof_str(p, p->mapping[1].filename), "/lib/libc.so.6") == 0);
    CHECK(p->location[0].mapping_id == 1 && p->location[1].mapping_id == 2);
    prof_free(p);
  }
  p = parse_text("heap profile: 1: 10 [1: 10] @ heapprofile\n1: 10 [1: 10] @ 0x10\n", err,
                 sizeof err);
  CHECK(p && p->period == 1 && p->nsample_type == 2 && p->sample[0].value[1] == 10);
  prof_free(p);
  p = parse_text("heap profile: 1: 10 [1: 10] @ growthz\n1: 10 [1: 10] @ 0x10\n", err, sizeof err);
  CHECK(p && p->period == 1 && strcmp(prof_str(p, p->sample_type[0].type), "objects") == 0);
  prof_free(p);
  CHECK(refused_s("heap profile: 1: 10 [1: 10] @ heap_v2/8\n1: 10 [1: 10] 0x10\n",
                  "heap profile, line 2: not a sample"));
  CHECK(refused_s("heap profile: 1: 10 [1: 10] @ heap_v2/8\n0: 10 [1: 10] @ 0x10\n",
                  "inuse count was 0 but inuse bytes was 10"));
  CHECK(refused_s("heap profile: 1: 10 [1: 10] @ heap_v2/8\n1: 10 [1: 10] @ 0x1ffffffffffffffff\n",
                  "address out of range"));
}

/* ------------------------------------------------------------ other texts -------------------- */

static void test_texts(void) {
  char err[512] = "";
  prof_t *p =
      parse_text("\n# comment\ngoroutine profile: total 12\n"
                 "010 @ 0x4010 0x4020\n# labels: {\"a\":\"b\"}\n#\t0x400f\tf+0x1\t/a.go:1\n\n"
                 "3 @ 0x4010\n",
                 err, sizeof err);
  CHECK(p != NULL, "%s", err);
  if (p) {
    CHECK(strcmp(prof_str(p, p->sample_type[0].type), "goroutine") == 0 && p->period == 1);
    CHECK(p->nsample == 2 && p->sample[0].value[0] == 8, "010 is octal: %" PRId64,
          p->sample[0].value[0]);
    CHECK(p->location[0].address == 0x400f && p->nmapping == 1);
    prof_free(p);
  }
  CHECK(refused_s("goroutine profile: total 1\n09 @ 0x1\n", "count profile, line 2: malformed"));

  p = parse_text("--- mutex:\ncycles/second=2000000000\nsampling period=5\n"
                 "1000 2 @ 0x4011 0x4021\n#\t0x4010\tf+0x1\t/a.go:1\n",
                 err, sizeof err);
  CHECK(p != NULL, "%s", err);
  if (p) {
    CHECK(strcmp(prof_str(p, p->sample_type[1].type), "delay") == 0 && p->period == 5);
    CHECK(p->sample[0].value[0] == 10 && p->sample[0].value[1] == 2500,
          "count x period, cycles / GHz x period: %" PRId64 " %" PRId64, p->sample[0].value[0],
          p->sample[0].value[1]);
    CHECK(strstr(prof_str(p, p->drop_frames), "RecordLockProfileData") != NULL);
    prof_free(p);
  }
  p = parse_text("--- contentionz 1 ---\nms since reset = 2000\n  7 1 @ 0x11\n", err, sizeof err);
  CHECK(p && p->duration_nanos == 2000000000 && p->sample[0].value[1] == 7);
  prof_free(p);

  p = parse_text("--- threadz 1 ---\n\n--- Thread 1 (name: main/1) stack: ---\n"
                 "  PC: 0x1000 0x2001\n--- Thread 2 (name: t/2) stack: ---\n"
                 "  [same as previous thread]\n--- Memory map: ---\n",
                 err, sizeof err);
  CHECK(p != NULL, "%s", err);
  if (p) {
    CHECK(p->nsample == 1 && p->sample[0].value[0] == 2 && p->location[0].address == 0x1000 &&
          p->location[1].address == 0x2000);
    prof_free(p);
  }
}

/* ------------------------------------------------------------------ maps -------------------- */

static void test_maps(void) {
  char err[512] = "";
  prof_t *p = parse_text(
      "goroutine profile: total 1\n1 @ 0x7000001 0x601 0x900001 0x800001\n"
      "--- Memory map: ---\n"
      "garbage that is not a mapping\n"
      "bin = /opt/real\n"
      "I0102 10:00:00.000000 99 maps.cc:12] 7000000-7001000 r-xp 00000000 08:01 1 /lib/libx.so\n"
      "0x800000-0x801000 rw-p 00000000 08:01 1 /data\n"
      "500-1000 r-xp [vdso]\n"
      "900000-901000 r-xp 00000000 08:01 7 $bin\n"
      "901000-902000 r-xp 00001000 08:01 7 $bin\n",
      err, sizeof err);
  CHECK(p != NULL, "%s", err);
  if (p) {
    /* main binary first, the split one merged, glog prefix cut, $bin substituted, rw skipped */
    CHECK(p->nmapping == 4, "%zu mappings", p->nmapping);
    CHECK(strcmp(prof_str(p, p->mapping[0].filename), "/opt/real") == 0 &&
          p->mapping[0].memory_limit == 0x902000);
    CHECK(strcmp(prof_str(p, p->mapping[1].filename), "[vdso]") == 0 &&
          p->location[1].mapping_id == 2);
    CHECK(strcmp(prof_str(p, p->mapping[2].filename), "/lib/libx.so") == 0);
    CHECK(p->mapping[3].memory_limit == UINT64_MAX && p->location[3].mapping_id == 4,
          "0x800000 only in a data mapping: the fake one");
    prof_free(p);
  }
}

/* ------------------------------------------------------------ detection --------------------- */

static void test_detection(void) {
  char err[512] = "";
  CHECK(refused_s("", "not a profile: empty input"));
  CHECK(refused_s("hello\n", "not profile.proto ("));
  CHECK(refused_s("hello\n", "not a legacy profile (first line \"hello\")"));
  CHECK(refused_s("\x01\x02\x03", "first line \"\\x01\\x02\\x03\""));
  /* a gzipped legacy text is inflated first */
  const char *text = "heap profile: 1: 10 [1: 10] @ heapprofile\n1: 10 [1: 10] @ 0x10\n";
  prof_buf_t gz = {0};
  CHECK(prof_gzip((const uint8_t *)text, strlen(text), 1, &gz) == 0);
  prof_t *p = NULL;
  CHECK(prof_parse(gz.data, gz.len, &p, err, sizeof err) == 0 && p && p->nsample == 1, "%s", err);
  prof_free(p);
  prof_buf_free(&gz);
  /* profile.proto goes through as prof_decode reads it */
  size_t len;
  uint8_t *pb = peer_file("derived/driver/cpu.pb.gz", &len);
  if (pb) {
    prof_t *a = NULL, *b = NULL;
    CHECK(prof_parse(pb, len, &a, err, sizeof err) == 0, "%s", err);
    CHECK(prof_decode(pb, len, &b, err, sizeof err) == 0, "%s", err);
    prof_buf_t ea = {0}, eb = {0};
    CHECK(a && b && prof_encode(a, &ea) == 0 && prof_encode(b, &eb) == 0 && ea.len == eb.len &&
          memcmp(ea.data, eb.data, ea.len) == 0);
    prof_buf_free(&ea);
    prof_buf_free(&eb);
    prof_free(a);
    prof_free(b);
    free(pb);
  }
  /* pprof's fuzz reproducer (a Java heapz text) is refused */
  uint8_t *fz = peer_file("fuzz/testdata/7e3c92482f6f39fc502b822ded792c589849cca8", &len);
  if (fz)
    CHECK(refused((const char *)fz, len, "not a profile"));
  free(fz);
  /* a line of 64 KiB stops the text, as bufio.Scanner does */
  char *big = malloc(70000);
  strcpy(big, "heap profile: 1: 10 [1: 10] @ heapprofile\n");
  size_t n = strlen(big);
  memset(big + n, ' ', 65536);
  CHECK(refused(big, n + 65536, "line 2 is longer than 65535 bytes"));
  free(big);
}

/* ------------------------------------------------------------------ hostile ----------------- */

/* Parses data and checks the contract: a profile, or -EINVAL/-EFBIG with a reason and no profile.
 */
static int contract(const uint8_t *data, size_t len) {
  prof_t *p = (prof_t *)1;
  char err[512] = "";
  int rc = prof_parse(data, len, &p, err, sizeof err);
  if (rc == 0) {
    int ok = p != NULL && p->nsample_type > 0;
    prof_free(p);
    return ok;
  }
  return (rc == -EINVAL || rc == -EFBIG) && p == NULL && strncmp(err, "not a profile: ", 15) == 0;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_hostile(void) {
  static const char *const inputs[] = {
      "profile/testdata/cppbench.cpu",        "profile/testdata/cppbench.heap",
      "profile/testdata/cppbench.contention", "profile/testdata/cppbench.thread",
      "profile/testdata/go.godoc.thread",     "profile/testdata/gobench.heap",
      "profile/testdata/go.crc32.cpu"};
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    size_t len;
    uint8_t *d = peer_file(inputs[i], &len);
    if (!d)
      continue;
    int bad = 0;
    for (size_t k = 0; k <= len; k += (k < 256 || len - k < 256) ? 1 : 13)
      bad += !contract(d, k);
    CHECK(bad == 0, "%s: %d truncations broke the contract", inputs[i], bad);
    uint8_t *m = malloc(len + 64);
    bad = 0;
    for (int r = 0; r < 400; r++) {
      memcpy(m, d, len);
      size_t ml = len;
      for (int e = 0; e < 1 + (int)(rng() % 4); e++) {
        size_t at = rng() % ml;
        switch (rng() % 3) {
        case 0:
          m[at] = (uint8_t)rng();
          break;
        case 1:
          m[at] = "0123456789abcdefx :@[]-\n#="[rng() % 26];
          break;
        default:
          ml = at + 1;
        }
      }
      bad += !contract(m, ml);
    }
    CHECK(bad == 0, "%s: %d corruptions broke the contract", inputs[i], bad);
    free(m);
    free(d);
  }
  static const char *const texts[] = {
      "heap profile: 1: 1 [1: 1] @ heap_v2/524288\n"
      "9223372036854775807: 9223372036854775807 [9223372036854775807: 9223372036854775807] @ 0x1\n",
      "heap profile: 1: 1 [1: 1] @ heap_v2/524288\n-1: -9223372036854775808 [1: 1] @ 0x1\n",
      "heap profile: 1: 1 [1: 1] @ heap_v2/99999999999999999999\n1: 1 [1: 1] @ 0x1\n",
      "--- mutex:\ncycles/second=1\nsampling period=9223372036854775807\n"
      "9223372036854775807 9223372036854775807 @ 0x0\n",
      "--- contention:\ncycles/second=0x_1\n1 1 @ 0x1\n",
      "goroutine profile: total 1\n99999999999999999999 @ 0x1\n",
      "--- threadz 1 ---\n--- Thread 1 (name: a/1) stack: ---\n",
      "goroutine profile: total 1\n1 @ 0x1\n--- Memory map: ---\n"
      "ffffffffffffffffff-1 r-xp x\n0-0\n-\n0x\n (@) \n=\n$=\n$$$=x\n$$$ $ $$\n",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
    CHECK(contract((const uint8_t *)texts[i], strlen(texts[i])), "text %zu", i);
  /* Attribute substitution built to be quadratic stops at its budget instead of taking seconds. */
  size_t n = 60000;
  char *bomb = malloc(3 * n + 200), *q = bomb;
  q += sprintf(q, "goroutine profile: total 1\n1 @ 0x1\n--- Memory map: ---\n");
  memset(q, '$', n / 2), q += n / 2;
  q += sprintf(q, "=x\n");
  memset(q, '$', n), q += n;
  *q++ = '\n';
  CHECK(refused(bomb, (size_t)(q - bomb), "too many substitutions"));
  free(bomb);
}

/* Many mappings and many addresses: each location gets the first mapping that holds it. */
static void test_many_mappings(void) {
  enum { NMAP = 20000, NADDR = 20000 };
  size_t cap = (size_t)NMAP * 64 + (size_t)NADDR * 24 + 256, n = 0;
  char *t = malloc(cap);
  uint64_t *start = malloc(NMAP * sizeof *start), *limit = malloc(NMAP * sizeof *limit);
  n += (size_t)sprintf(t + n, "goroutine profile: total 1\n");
  for (int i = 0; i < NADDR; i++)
    n += (size_t)sprintf(t + n, "%s 0x%" PRIx64 "%s", i % 16 ? "" : "1 @",
                         (uint64_t)(rng() % (1ull << 32)) + 2, i % 16 == 15 ? "\n" : "");
  n += (size_t)sprintf(t + n, "\n--- Memory map: ---\n");
  for (int k = 0; k < NMAP; k++) {
    start[k] = rng() % (1ull << 32);
    limit[k] = start[k] + rng() % (1u << 20);
    n += (size_t)sprintf(t + n, "%" PRIx64 "-%" PRIx64 " r-xp /lib/lib%d.so\n", start[k], limit[k],
                         k);
  }
  prof_t *p = NULL;
  char err[256];
  CHECK(prof_parse((const uint8_t *)t, n, &p, err, sizeof err) == 0, "%s", err);
  int bad = 0;
  for (size_t i = 0; p && i < p->nlocation; i += 17) { /* a sample: each check scans the map */
    const prof_location_t *l = &p->location[i];
    const prof_mapping_t *m = prof_mapping_by_id(p, l->mapping_id);
    int k = 0; /* the mapping pprof's scan would find: the first in file order */
    while (k < NMAP && !(start[k] <= l->address && l->address < limit[k]))
      k++;
    char want[32];
    snprintf(want, sizeof want, "/lib/lib%d.so", k);
    bad += !m ||
           (k < NMAP ? strcmp(prof_str(p, m->filename), want) != 0 : m->memory_limit != UINT64_MAX);
  }
  CHECK(p && p->nlocation > 0 && bad == 0, "%d locations with the wrong mapping", bad);
  prof_free(p);
  free(start);
  free(limit);
  free(t);
}

int main(void) {
  test_goldens();
  test_cpu_formats();
  test_heap();
  test_texts();
  test_maps();
  test_detection();
  test_hostile();
  test_many_mappings();
  return TEST_DONE("legacy_test");
}
