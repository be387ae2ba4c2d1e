/*
 * heaptext_test.c — Go's heap?debug=1 text (heaptext.c), checked three ways.
 *
 * The records are built from real return addresses of this test's own functions (each site
 * captures __builtin_return_address of a helper it calls, and notes the line of that call), so the
 * symbolizer has real code to name. The text heaptext_write() produces is then checked
 *   1. line by line against what Go's format demands: the header's totals, rate and +1 rule, the
 *      order of the records, the "@" addresses, one "#" line per frame (inlined frames expanded)
 *      naming the site, its file and line, at pc - 1, the blank lines, the statistics tail;
 *   2. byte for byte against Go's own text/tabwriter: the text with its tab runs collapsed is what
 *      Go's fmt calls print, and a small Go program runs it through tabwriter.NewWriter(w, 1, 8, 1,
 *      '\t', 0) as writeHeapInternal does; the output must equal ours;
 *   3. by go tool pprof: -raw must read it as a legacy heap profile (sample types, period = rate,
 *      values scaled by pprof's own v2 formula) and name the sites through the memory map, and
 *      -top -sample_index=inuse_space must list them.
 * Parts 2 and 3 need the go command; without it they say so and fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/ext.h"
#include "test.h"
#include "cmdtext.h"

/* ------------------------------------------------------------ real return addresses ------- */

static int line_big, line_caller, line_small, line_inl, line_inl_call;

__attribute__((noinline)) static uintptr_t ret_addr(void) {
  uintptr_t r = (uintptr_t)__builtin_return_address(0);
  __asm__ volatile("" ::: "memory");
  return r;
}

__attribute__((noipa)) static void site_big(uintptr_t *pcs) {
  line_big = __LINE__ + 1;
  pcs[0] = ret_addr();
  __asm__ volatile("" ::: "memory");
}

void site_caller(uintptr_t *pcs);
__attribute__((noipa)) void site_caller(uintptr_t *pcs) {
  site_big(pcs);
  line_caller = __LINE__ + 1;
  pcs[1] = ret_addr();
  __asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) static void site_small(uintptr_t *pcs) {
  line_small = __LINE__ + 1;
  pcs[0] = ret_addr();
  __asm__ volatile("" ::: "memory");
}

static inline __attribute__((always_inline)) void site_inlined(uintptr_t *pcs) {
  line_inl = __LINE__ + 1;
  pcs[0] = ret_addr();
}

__attribute__((noipa)) static void site_outer(uintptr_t *pcs) {
  line_inl_call = __LINE__ + 1;
  site_inlined(pcs);
  __asm__ volatile("" ::: "memory");
}

/* ------------------------------------------------------------ helpers --------------------- */

static char tmpdir[] = "/tmp/heaptext_test.XXXXXX";

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "r");
  char *buf = NULL;
  size_t cap = 0;
  if (f == NULL)
    return NULL;
  FILE *m = open_memstream(&buf, &cap);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    fwrite(chunk, 1, n, m);
  fclose(f);
  fclose(m);
  if (len != NULL)
    *len = cap;
  return buf;
}

static char *write_text(const rt_heap_text_t *t, const char *name) {
  char *path = NULL;
  if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
    return NULL;
  FILE *f = fopen(path, "w");
  int rc = f != NULL ? heaptext_write(fileno(f), t) : -errno;
  if (f != NULL)
    fclose(f);
  CHECK(rc == 0, "heaptext_write: %d", rc);
  return path;
}

/* ------------------------------------------------------------ the layout ------------------ */

/* The records (see main): big (2 frames), small, a tie with small, freed-only (inlined frame). */
static uintptr_t pcs_big[2], pcs_small[1], pcs_inl[1];
static const uintptr_t pcs_unknown[2] = {0x11, 0x23};

/* Checks a record's "#" lines (tab runs collapsed) from lines[*i] on, and the blank line after. */
static void check_frame(char **lines, size_t n, size_t *i, uintptr_t ret, const char *func,
                        int line, void (*physical)(uintptr_t *)) {
  char want_head[64], want_tail[256];
  snprintf(want_head, sizeof want_head, "#\t0x%" PRIxPTR "\t%s+0x", ret - 1, func);
  snprintf(want_tail, sizeof want_tail, "heaptext_test.c:%d", line);
  CHECK(*i < n, "missing frame line for %s", func);
  if (*i >= n)
    return;
  char *l = collapse_tabs(lines[*i]);
  const char *tail = strrchr(l, '\t');
  CHECK(strncmp(l, want_head, strlen(want_head)) == 0, "frame line '%s', want '%s...'", l,
        want_head);
  CHECK(tail != NULL && strlen(tail + 1) >= strlen(want_tail) && tail[1] == '/' &&
            strcmp(tail + 1 + strlen(tail + 1) - strlen(want_tail), want_tail) == 0,
        "frame line '%s' should end with an absolute path .../%s", l, want_tail);
  /* The offset is from the physical function's entry, static functions included, and is the
   * same for an inlined frame as for the function it was inlined into (Go's Frame.Entry). */
  uintptr_t entry = (uintptr_t)physical, off = 0;
  const char *plus = strstr(l, "+0x");
  CHECK(plus != NULL && sscanf(plus, "+0x%" SCNxPTR, &off) == 1 && off == ret - 1 - entry,
        "offset in '%s', want 0x%" PRIxPTR, l, ret - 1 - entry);
  free(l);
  (*i)++;
}

static void test_layout(const rt_heap_text_t *t, int64_t rate) {
  char *path = write_text(t, "heap.txt");
  char *text = path != NULL ? slurp(path, NULL) : NULL;
  char *lines[256];
  CHECK(text != NULL, "no text");
  if (text == NULL)
    return;
  size_t n = split_lines(text, lines, 256), i = 0;
  char want[512];
  /* Totals: inuse 2+100+100+0 objects, 2 MiB + 20000 + 20000 bytes; alloc 5+100+300+10 objects, 5
   * MiB + 20000 + 60000 + 40960 bytes. */
  snprintf(want, sizeof want, "heap profile: 202: 2137152 [415: 5363840] @ heap/%" PRId64,
           2 * rate);
  CHECK(n > 20 && strcmp(lines[0], want) == 0, "header '%s', want '%s'", lines[0], want);
  i = 1;
  /* 1: big, the most in-use bytes, two frames. */
  snprintf(want, sizeof want, "2: 2097152 [5: 5242880] @ 0x%" PRIxPTR " 0x%" PRIxPTR, pcs_big[0],
           pcs_big[1]);
  CHECK(strcmp(lines[i], want) == 0, "record 1 '%s', want '%s'", lines[i], want);
  i++;
  check_frame(lines, n, &i, pcs_big[0], "site_big", line_big, site_big);
  check_frame(lines, n, &i, pcs_big[1], "site_caller", line_caller, site_caller);
  CHECK(i < n && lines[i][0] == '\0', "blank line after record 1");
  i++;
  /* 2: the tie on in-use bytes, more alloc bytes first; unknown addresses print alone. */
  CHECK(strcmp(lines[i], "100: 20000 [300: 60000] @ 0x11 0x23") == 0, "record 2 '%s'", lines[i]);
  CHECK(strcmp(lines[i + 1], "#\t0x10") == 0 && strcmp(lines[i + 2], "#\t0x22") == 0,
        "unknown frames '%s' '%s'", lines[i + 1], lines[i + 2]);
  CHECK(lines[i + 3][0] == '\0', "blank line after record 2");
  i += 4;
  snprintf(want, sizeof want, "100: 20000 [100: 20000] @ 0x%" PRIxPTR, pcs_small[0]);
  CHECK(strcmp(lines[i], want) == 0, "record 3 '%s', want '%s'", lines[i], want);
  i++;
  check_frame(lines, n, &i, pcs_small[0], "site_small", line_small, site_small);
  CHECK(i < n && lines[i][0] == '\0', "blank line after record 3");
  i++;
  /* 4: nothing in use; the inlined function's line first, then its caller's, same address. */
  snprintf(want, sizeof want, "0: 0 [10: 40960] @ 0x%" PRIxPTR, pcs_inl[0]);
  CHECK(strcmp(lines[i], want) == 0, "record 4 '%s', want '%s'", lines[i], want);
  i++;
  check_frame(lines, n, &i, pcs_inl[0], "site_inlined", line_inl, site_outer);
  check_frame(lines, n, &i, pcs_inl[0], "site_outer", line_inl_call, site_outer);
  /* Both lines of one address give the same offset, from the physical function's entry. */
  char *a = collapse_tabs(lines[i - 2]), *b = collapse_tabs(lines[i - 1]);
  CHECK(strncmp(strstr(a, "+0x"), strstr(b, "+0x"), strcspn(strstr(a, "+0x"), "\t")) == 0,
        "inlined frames share one offset: '%s' vs '%s'", a, b);
  free(a);
  free(b);
  CHECK(i < n && lines[i][0] == '\0', "blank line after record 4");
  i++;
  /* The statistics where Go prints runtime.MemStats, after one more blank line. */
  CHECK(i < n && lines[i][0] == '\0', "blank line before the statistics");
  i++;
  CHECK(i < n && strcmp(lines[i], "# cprof.MallocStats") == 0, "stats head '%s'", lines[i]);
  static const char *const names[] = {"arena",    "ordblks",  "hblks", "hblkhd", "uordblks",
                                      "fordblks", "keepcost", "RSS",   "MaxRSS"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    i++;
    long long v = -1;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "# %s = %%lld%%n", names[k]);
    int used = 0;
    CHECK(i < n && sscanf(lines[i], fmt, &v, &used) == 1 && lines[i][used] == '\0' && v >= 0,
          "stat line '%s', want '# %s = N'", i < n ? lines[i] : "", names[k]);
    if (strcmp(names[k], "RSS") == 0 || strcmp(names[k], "MaxRSS") == 0)
      CHECK(v > 1024 * 1024, "%s = %lld is not a byte count", names[k], v);
  }
  i++;
  CHECK(i + 1 < n && lines[i][0] == '\0' && strcmp(lines[i + 1], "--- Memory map: ---") == 0,
        "memory map sentinel '%s'", i + 1 < n ? lines[i + 1] : "");
  CHECK(i + 2 < n && strstr(lines[i + 2], " r-xp ") != NULL, "a mapping line");
  free(text);
  free(path);
}

/* The +1 rule: totals of in-use bytes equal to alloc bytes make the header's alloc one more. */
static void test_plus_one(void) {
  rt_heap_record_t r = {pcs_small, 1, 3, 300, 3, 300};
  rt_heap_text_t t = {&r, 1, 1};
  char *path = write_text(&t, "plus1.txt");
  char *text = path != NULL ? slurp(path, NULL) : NULL;
  CHECK(text != NULL &&
            strncmp(text, "heap profile: 3: 300 [3: 301] @ heap/2\n3: 300 [3: 300] @ ", 56) == 0,
        "+1 rule: '%.60s'", text != NULL ? text : "");
  free(text);
  free(path);

  rt_heap_text_t empty = {NULL, 0, 524288};
  path = write_text(&empty, "empty.txt");
  text = path != NULL ? slurp(path, NULL) : NULL;
  CHECK(text != NULL &&
            strncmp(text, "heap profile: 0: 0 [0: 1] @ heap/1048576\n\n# cprof.MallocStats\n",
                    61) == 0,
        "empty profile: '%.80s'", text != NULL ? text : "");
  free(text);
  free(path);
  CHECK(heaptext_write(-1, &empty) == -EINVAL, "bad fd");
  CHECK(heaptext_write(1, NULL) == -EINVAL, "no text");
}

/* ------------------------------------------------------------ Go itself as referee -------- */

static const char tw_go[] = "package main\n"
                            "import (\"bufio\"; \"io\"; \"os\"; \"text/tabwriter\")\n"
                            "func main() {\n"
                            "\tin, _ := io.ReadAll(os.Stdin)\n"
                            "\tb := bufio.NewWriter(os.Stdout)\n"
                            "\ttw := tabwriter.NewWriter(b, 1, 8, 1, '\\t', 0)\n"
                            "\ttw.Write(in)\n"
                            "\ttw.Flush()\n"
                            "\tb.Flush()\n"
                            "}\n";

static void test_tabwriter(const char *path) {
  char cmd[1024], *go_src = NULL, *raw_path = NULL;
  size_t len = 0;
  char *ours = slurp(path, &len);
  if (ours == NULL || !have_go())
    return;
  char *raw = collapse_tabs(ours);
  if (asprintf(&go_src, "%s/tw.go", tmpdir) < 0 || asprintf(&raw_path, "%s/raw.txt", tmpdir) < 0)
    return;
  FILE *f = fopen(go_src, "w");
  fputs(tw_go, f);
  fclose(f);
  f = fopen(raw_path, "w");
  fputs(raw, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "cd %s && GOFLAGS= go run tw.go < raw.txt", tmpdir);
  char *theirs = run_cmd(cmd);
  CHECK(theirs != NULL && strcmp(theirs, ours) == 0, "Go's tabwriter disagrees:\n%s\n--- ours:\n%s",
        theirs != NULL ? theirs : "(none)", ours);
  CHECK(strcmp(raw, ours) != 0, "the text has no alignment to check");
  free(theirs);
  free(raw);
  free(ours);
  free(go_src);
  free(raw_path);
}

/* e^x for x <= 0 by halving, a Taylor series and squaring back (unit tests link no libm). */
static double exp_neg(double x) {
  int halvings = 0;
  double term = 1, sum = 1;
  for (; x < -1e-3; halvings++)
    x /= 2;
  for (int i = 1; i < 12; i++) {
    term *= x / i;
    sum += term;
  }
  while (halvings-- > 0)
    sum *= sum;
  return sum;
}

/* pprof's v2 unbiasing (legacy_profile.go scaleHeapSample). */
static void scaled(int64_t count, int64_t size, int64_t rate, int64_t *c, int64_t *s) {
  if (count == 0 || size == 0) {
    *c = *s = 0;
    return;
  }
  double scale = rate <= 1 ? 1 : 1 / (1 - exp_neg(-((double)size / (double)count) / (double)rate));
  *c = (int64_t)((double)count * scale);
  *s = (int64_t)((double)size * scale);
}

/* Equal but for the last digit: our exp and Go's may round differently before truncation. */
static bool near(int64_t got, int64_t want) { return got >= want - 1 && got <= want + 1; }

/* Finds pprof -raw's sample line ("  a  b  c  d: loc...") holding the record's scaled values. */
static void check_raw_sample(const char *out, const rt_heap_record_t *r, int64_t rate) {
  int64_t w[4];
  scaled(r->alloc_objects, r->alloc_bytes, rate, &w[0], &w[1]);
  scaled(r->inuse_objects, r->inuse_bytes, rate, &w[2], &w[3]);
  bool found = false;
  for (const char *p = out; p != NULL && !found; p = strchr(p + 1, '\n')) {
    long long v[4];
    char colon = 0;
    found = sscanf(p, " %lld %lld %lld %lld%c", &v[0], &v[1], &v[2], &v[3], &colon) == 5 &&
            colon == ':' && near(v[0], w[0]) && near(v[1], w[1]) && near(v[2], w[2]) &&
            near(v[3], w[3]);
  }
  CHECK(found, "pprof -raw has no sample %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, w[0], w[1],
        w[2], w[3]);
}

static void test_pprof(const char *path, const rt_heap_record_t *recs, size_t n, int64_t rate) {
  char cmd[1024];
  if (!have_go())
    return;
  snprintf(cmd, sizeof cmd, "go tool pprof -raw %s 2>&1", path);
  char *out = run_cmd(cmd);
  CHECK(out != NULL, "pprof -raw failed");
  if (out == NULL)
    return;
  char want[64];
  snprintf(want, sizeof want, "Period: %" PRId64 "\n", rate);
  CHECK(strstr(out, "PeriodType: space bytes\n") != NULL && strstr(out, want) != NULL, "period: %s",
        out);
  CHECK(strstr(out, "alloc_objects/count alloc_space/bytes inuse_objects/count "
                    "inuse_space/bytes") != NULL,
        "sample types: %s", out);
  for (size_t i = 0; i < n; i++)
    check_raw_sample(out, &recs[i], rate);
  static const char *const funcs[] = {"site_big", "site_caller", "site_small", "site_outer"};
  for (size_t i = 0; i < 4; i++)
    CHECK(strstr(out, funcs[i]) != NULL, "pprof -raw does not name %s:\n%s", funcs[i], out);
  free(out);

  snprintf(cmd, sizeof cmd, "go tool pprof -top -sample_index=inuse_space %s 2>&1", path);
  out = run_cmd(cmd);
  CHECK(out != NULL && strstr(out, "Type: inuse_space") != NULL, "pprof -top: %s",
        out != NULL ? out : "(failed)");
  /* After pprof's scaling, 100 blocks of 200 bytes outweigh 2 of 1 MiB at the default rate. */
  int64_t c, big_b, small_b;
  scaled(recs[2].inuse_objects, recs[2].inuse_bytes, rate, &c, &big_b);
  scaled(recs[0].inuse_objects, recs[0].inuse_bytes, rate, &c, &small_b);
  const char *big = out != NULL ? strstr(out, "site_big") : NULL;
  const char *small = out != NULL ? strstr(out, "site_small") : NULL;
  CHECK(big != NULL && small != NULL && (big < small) == (big_b > small_b), "pprof -top order:\n%s",
        out != NULL ? out : "(failed)");
  free(out);
}

int main(void) {
  site_caller(pcs_big);
  site_small(pcs_small);
  site_outer(pcs_inl);
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  const int64_t rate = 524288;
  const rt_heap_record_t recs[] = {
      {pcs_small, 1, 100, 20000, 100, 20000},
      {pcs_inl, 1, 0, 0, 10, 40960},
      {pcs_big, 2, 2, 2 * 1048576, 5, 5 * 1048576},
      {pcs_unknown, 2, 100, 20000, 300, 60000},
  };
  rt_heap_text_t t = {recs, 4, rate};
  test_layout(&t, rate);
  test_plus_one();
  char *path = write_text(&t, "heap.txt");
  test_tabwriter(path);
  test_pprof(path, recs, 4, rate);
  rt_heap_text_t exact = {recs, 4, 1};
  char *path1 = write_text(&exact, "heap1.txt");
  test_pprof(path1, recs, 4, 1);
  free(path);
  free(path1);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (test_failed == 0 && getenv("HEAPTEXT_KEEP") == NULL && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return TEST_DONE("heaptext_test");
}
