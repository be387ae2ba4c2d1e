/*
 * counttext_test.c — Go's count-profile text (counttext.c, with gotext.c's quoting), checked
 * against Go itself.
 *
 *   1. The layout, line by line: "<name> profile: total N" (N the sum of the counts), the note
 *      line, records sorted by count and then by Go's key as a string (so "@ 0x10" before
 *      "@ 0x9", and a stack without labels before the same stack with them), "# labels:" lines,
 *      "#" frame lines naming real functions of this test at pc - 1, a pseudo-frame record, blank
 *      lines, and the memory map.
 *   2. Go as referee, with a small Go program run by `go run`: strconv.Quote of awkward strings
 *      against gotext_quote; the "# labels:" line Go's goroutine profile prints for a goroutine
 *      under pprof.Do against gotext_labels_print for the same labels; every line of a Go custom
 *      profile's debug=1 text and of ours against the same line shapes; and our text, tab runs
 *      collapsed, through Go's text/tabwriter must come back as ours.
 *   3. `go tool pprof -traces` reads our text as a count profile and names the sites, with their
 *      counts, through the memory map.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/ext.h"
#include "runtime/gotext.h"
#include "test.h"
#include "cmdtext.h"

/* ------------------------------------------------------------ real return addresses ------- */

__attribute__((noinline)) static uintptr_t ret_addr(void) {
  uintptr_t r = (uintptr_t)__builtin_return_address(0);
  __asm__ volatile("" ::: "memory");
  return r;
}

static int line_a, line_b;

__attribute__((noipa)) static void site_a(uintptr_t *pcs) {
  line_a = __LINE__ + 1;
  pcs[0] = ret_addr();
  __asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) static void site_b(uintptr_t *pcs) {
  line_b = __LINE__ + 1;
  pcs[0] = ret_addr();
  __asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) static void site_with_a_much_longer_name_for_the_tabs(uintptr_t *pcs) {
  pcs[0] = ret_addr();
  __asm__ volatile("" ::: "memory");
}

/* ------------------------------------------------------------ helpers --------------------- */

static char tmpdir[] = "/tmp/counttext_test.XXXXXX";

/* Writes t to tmpdir/name and returns the text (malloc'd), or NULL. */
static char *write_text(const rt_count_text_t *t, const char *name) {
  char *path = NULL, *text = NULL;
  size_t len = 0;
  if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
    return NULL;
  FILE *f = fopen(path, "w");
  int rc = f != NULL ? counttext_write(fileno(f), t) : -errno;
  if (f != NULL)
    fclose(f);
  CHECK(rc == 0, "counttext_write: %d", rc);
  f = fopen(path, "r");
  FILE *m = open_memstream(&text, &len);
  int c;
  while (f != NULL && (c = fgetc(f)) != EOF)
    fputc(c, m);
  if (f != NULL)
    fclose(f);
  fclose(m);
  free(path);
  return text;
}

/* ------------------------------------------------------------ the layout ------------------ */

static uintptr_t pcs_a[1], pcs_b[1], pcs_long_a[2];
static const uintptr_t pcs_9[1] = {0x9}, pcs_10[1] = {0x10}, pcs_30[2] = {0x30, 0x31};
static const uintptr_t pcs_pseudo[1] = {0x41};
static const rt_label_t labels_30[2] = {{.key = "user", .str = "x\"y"}, {.key = "n", .num = 42}};

static const rt_count_record_t layout_recs[] = {
    {pcs_9, 1, 2, NULL, NULL, 0},
    {pcs_a, 1, 3, NULL, NULL, 0},
    {pcs_30, 2, 1, NULL, labels_30, 2},
    {pcs_10, 1, 2, NULL, NULL, 0},
    {pcs_30, 2, 1, NULL, NULL, 0},
    {pcs_pseudo, 1, 1, "cprof_thread_signals_blocked", NULL, 0},
};

static void expect(char **lines, size_t n, size_t *i, const char *want) {
  char *l = *i < n ? collapse_tabs(lines[*i]) : NULL;
  CHECK(l != NULL && strcmp(l, want) == 0, "line %zu: '%s', want '%s'", *i, l ? l : "(none)",
        want);
  free(l);
  (*i)++;
}

static void test_layout(void) {
  rt_count_text_t t = {"test.layout", layout_recs, 6, "a note"};
  char *text = write_text(&t, "layout.txt");
  char *lines[128], want[256];
  if (text == NULL)
    return;
  size_t n = split_lines(text, lines, 128), i = 0;
  expect(lines, n, &i, "test.layout profile: total 10");
  expect(lines, n, &i, "# a note");
  snprintf(want, sizeof want, "3 @ 0x%" PRIxPTR, pcs_a[0]);
  expect(lines, n, &i, want);
  snprintf(want, sizeof want, "#\t0x%" PRIxPTR "\tsite_a+0x%" PRIxPTR "\t", pcs_a[0] - 1,
           pcs_a[0] - 1 - (uintptr_t)site_a);
  char *l = i < n ? collapse_tabs(lines[i]) : strdup("");
  char tail[64];
  snprintf(tail, sizeof tail, "counttext_test.c:%d", line_a);
  CHECK(strncmp(l, want, strlen(want)) == 0 && strstr(l, tail) != NULL, "frame '%s', want '%s%s'",
        l, want, tail);
  free(l);
  i++;
  expect(lines, n, &i, "");
  /* Ties on count: Go's key as a string: "@ 0x10" < "@ 0x9". */
  expect(lines, n, &i, "2 @ 0x10");
  expect(lines, n, &i, "#\t0xf");
  expect(lines, n, &i, "");
  expect(lines, n, &i, "2 @ 0x9");
  expect(lines, n, &i, "#\t0x8");
  expect(lines, n, &i, "");
  /* The same stack without labels, then with them (its key is longer). */
  expect(lines, n, &i, "1 @ 0x30 0x31");
  expect(lines, n, &i, "#\t0x2f");
  expect(lines, n, &i, "#\t0x30");
  expect(lines, n, &i, "");
  expect(lines, n, &i, "1 @ 0x30 0x31");
  expect(lines, n, &i, "# labels: {\"n\":\"42\", \"user\":\"x\\\"y\"}");
  expect(lines, n, &i, "#\t0x2f");
  expect(lines, n, &i, "#\t0x30");
  expect(lines, n, &i, "");
  expect(lines, n, &i, "1 @ 0x41");
  expect(lines, n, &i, "#\t0x40\tcprof_thread_signals_blocked+0x0\t:0");
  expect(lines, n, &i, "");
  expect(lines, n, &i, "");
  expect(lines, n, &i, "--- Memory map: ---");
  CHECK(i < n && strstr(lines[i], " r-xp ") != NULL, "a mapping line: '%s'", i < n ? lines[i] : "");
  free(text);

  rt_count_text_t empty = {"empty", NULL, 0, NULL};
  text = write_text(&empty, "empty.txt");
  CHECK(text != NULL && strncmp(text, "empty profile: total 0\n\n--- Memory map: ---\n", 44) == 0,
        "empty: '%.60s'", text ? text : "");
  free(text);
  CHECK(counttext_write(-1, &empty) == -EINVAL, "bad fd");
  CHECK(counttext_write(1, NULL) == -EINVAL, "no text");
}

/* ------------------------------------------------------------ Go as referee --------------- */

static const char *const quote_cases[] = {
    "plain", "with \"quotes\" and \\", "tab\there\nnewline", "ctrl\x01\x1f\x7f end",
    "utf8 \xc3\xa9 \xe2\x9c\x93", "bad \xff\xfe bytes", "\a\b\f\r\v", "",
};

static const char ref_go[] =
    "package main\n"
    "import (\"bufio\"; \"context\"; \"fmt\"; \"io\"; \"os\"; \"runtime/pprof\"; \"strconv\"; "
    "\"text/tabwriter\"; \"time\")\n"
    "var quotes = []string{\"plain\", \"with \\\"quotes\\\" and \\\\\", \"tab\\there\\nnewline\", "
    "\"ctrl\\x01\\x1f\\x7f end\", \"utf8 \\xc3\\xa9 \\xe2\\x9c\\x93\", \"bad \\xff\\xfe bytes\", "
    "\"\\a\\b\\f\\r\\v\", \"\"}\n"
    "var keys [6]int\n"
    "//go:noinline\nfunc addA(p *pprof.Profile) { for i := 0; i < 3; i++ { p.Add(&keys[i], 0) } }\n"
    "//go:noinline\nfunc addB(p *pprof.Profile) { p.Add(&keys[3], 0) }\n"
    "//go:noinline\nfunc park(ch chan struct{}) { <-ch }\n"
    "func main() {\n"
    "\tif len(os.Args) > 1 {\n"
    "\t\tin, _ := io.ReadAll(os.Stdin)\n"
    "\t\tb := bufio.NewWriter(os.Stdout)\n"
    "\t\ttw := tabwriter.NewWriter(b, 1, 8, 1, '\\t', 0)\n"
    "\t\ttw.Write(in)\n"
    "\t\ttw.Flush()\n"
    "\t\tb.Flush()\n"
    "\t\treturn\n"
    "\t}\n"
    "\tfor _, q := range quotes { fmt.Println(strconv.Quote(q)) }\n"
    "\tch, ready := make(chan struct{}), make(chan struct{})\n"
    "\tgo pprof.Do(context.Background(), pprof.Labels(\"k\\\"ey\", \"v\\nal\", \"a\", "
    "\"\\xc3\\xa9\\x01\", \"zz\", \"1\"), func(context.Context) { close(ready); park(ch) })\n"
    "\t<-ready\n"
    "\ttime.Sleep(20 * time.Millisecond)\n"
    "\tpprof.Lookup(\"goroutine\").WriteTo(os.Stdout, 1)\n"
    "\tfmt.Println(\"=== custom\")\n"
    "\tp := pprof.NewProfile(\"test.custom\")\n"
    "\taddA(p)\n"
    "\taddB(p)\n"
    "\tp.WriteTo(os.Stdout, 1)\n"
    "}\n";

/* Runs the reference program (with arg, stdin from the file in, when given). */
static char *run_ref(const char *arg, const char *in) {
  char *src = NULL, cmd[1024];
  if (asprintf(&src, "%s/ref.go", tmpdir) < 0)
    return NULL;
  FILE *f = fopen(src, "w");
  fputs(ref_go, f);
  fclose(f);
  free(src);
  snprintf(cmd, sizeof cmd, "cd %s && GOFLAGS= go run ref.go %s %s%s", tmpdir, arg ? arg : "",
           in ? "< " : "", in ? in : "");
  return run_cmd(cmd);
}

/* Every line of text matches one of the shapes of a count profile's text. */
static void check_shapes(const char *what, char *text) {
  static const char *const shapes[] = {
      "^[^ ]+ profile: total [0-9]+$",
      "^[0-9]+ @( 0x[0-9a-f]+)+$",
      "^# labels: \\{.*\\}$",
      "^#\t0x[0-9a-f]+\t+[^\t]+\\+0x[0-9a-f]+\t+[^\t]*:[0-9]+$",
      "^#\t0x[0-9a-f]+$",
      "^$",
  };
  regex_t re[6];
  for (size_t k = 0; k < 6; k++)
    regcomp(&re[k], shapes[k], REG_EXTENDED | REG_NOSUB);
  char *lines[512];
  size_t n = split_lines(text, lines, 512), bad = 0;
  for (size_t i = 0; i < n && strcmp(lines[i], "--- Memory map: ---") != 0; i++) {
    bool ok = false;
    for (size_t k = 0; k < 6 && !ok; k++)
      ok = regexec(&re[k], lines[i], 0, NULL, 0) == 0;
    if (!ok && bad++ < 3)
      fprintf(stderr, "  %s: line '%s' has no count-profile shape\n", what, lines[i]);
  }
  CHECK(n > 3 && bad == 0, "%s: %zu lines without a count-profile shape", what, bad);
  for (size_t k = 0; k < 6; k++)
    regfree(&re[k]);
}

static void test_go(void) {
  if (!have_go())
    return;
  char *ref = run_ref(NULL, NULL);
  CHECK(ref != NULL, "the Go reference program failed");
  if (ref == NULL)
    return;
  char *lines[1024];
  size_t n = split_lines(ref, lines, 1024), i = 0;
  size_t nq = sizeof quote_cases / sizeof quote_cases[0];
  for (; i < nq && i < n; i++) {
    char *ours = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&ours, &len);
    gotext_quote(m, quote_cases[i]);
    fclose(m);
    CHECK(strcmp(ours, lines[i]) == 0, "quote %zu: ours %s, Go's %s", i, ours, lines[i]);
    free(ours);
  }
  /* The labels line of the goroutine under pprof.Do. */
  const rt_label_t labels[3] = {{.key = "k\"ey", .str = "v\nal"},
                                {.key = "a", .str = "\xc3\xa9\x01"},
                                {.key = "zz", .str = "1"}};
  char *ours = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&ours, &len);
  fputs("# labels: ", m);
  gotext_labels_print(m, labels, 3);
  fclose(m);
  const char *go_line = NULL;
  size_t custom = n;
  for (size_t k = i; k < n; k++) {
    if (strncmp(lines[k], "# labels: ", 10) == 0)
      go_line = lines[k];
    if (strcmp(lines[k], "=== custom") == 0)
      custom = k;
  }
  CHECK(go_line != NULL && strcmp(go_line, ours) == 0, "labels: ours '%s', Go's '%s'", ours,
        go_line ? go_line : "(none)");
  free(ours);
  /* Go's custom profile text and ours have the same line shapes. */
  CHECK(custom + 1 < n && strcmp(lines[custom + 1], "test.custom profile: total 4") == 0,
        "Go's custom header: '%s'", custom + 1 < n ? lines[custom + 1] : "");
  char *go_custom = NULL;
  m = open_memstream(&go_custom, &len);
  for (size_t k = custom + 1; k < n; k++)
    fprintf(m, "%s\n", lines[k]);
  fclose(m);
  check_shapes("Go's text", go_custom);
  free(go_custom);
  rt_count_text_t t = {"test.layout", layout_recs, 6, NULL};
  char *text = write_text(&t, "shapes.txt");
  if (text != NULL)
    check_shapes("our text", text);
  free(text);
  free(ref);

  /* Our tabs are Go's tabwriter's: a record whose frames' names differ in length by more than a
   * tab stop. */
  const rt_count_record_t tw_recs[] = {{pcs_long_a, 2, 1, NULL, NULL, 0}, layout_recs[5]};
  rt_count_text_t tw = {"test.tabs", tw_recs, 2, NULL};
  text = write_text(&tw, "tw.txt");
  char *raw = text != NULL ? collapse_tabs(text) : NULL, *raw_path = NULL;
  if (raw != NULL && asprintf(&raw_path, "%s/raw.txt", tmpdir) >= 0) {
    FILE *f = fopen(raw_path, "w");
    fputs(raw, f);
    fclose(f);
    char *theirs = run_ref("tw", "raw.txt");
    CHECK(theirs != NULL && strcmp(theirs, text) == 0,
          "Go's tabwriter disagrees:\n%s\n--- ours:\n%s", theirs ? theirs : "(none)", text);
    CHECK(strcmp(raw, text) != 0, "the text has no alignment to check");
    free(theirs);
  }
  free(raw_path);
  free(raw);
  free(text);
}

/* go tool pprof reads our text and names the sites through the memory map. */
static void test_pprof(void) {
  if (!have_go())
    return;
  const rt_count_record_t recs[] = {{pcs_a, 1, 3, NULL, NULL, 0}, {pcs_b, 1, 5, NULL, NULL, 0}};
  rt_count_text_t t = {"threadcreate", recs, 2, NULL};
  char *text = write_text(&t, "pprof.txt");
  free(text);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "go tool pprof -traces %s/pprof.txt 2>&1", tmpdir);
  char *out = run_cmd(cmd);
  CHECK(out != NULL && strstr(out, "Type: threadcreate") != NULL, "pprof -traces: %s",
        out ? out : "(failed)");
  bool a = false, b = false;
  for (char *p = out; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    long v = 0;
    char name[64] = "";
    if (sscanf(p, " %ld %63s", &v, name) == 2) {
      a |= v == 3 && strcmp(name, "site_a") == 0;
      b |= v == 5 && strcmp(name, "site_b") == 0;
    }
  }
  CHECK(a && b, "pprof -traces should show site_a 3 and site_b 5:\n%s", out ? out : "");
  free(out);
}

int main(void) {
  site_a(pcs_a);
  site_b(pcs_b);
  site_with_a_much_longer_name_for_the_tabs(pcs_long_a);
  pcs_long_a[1] = pcs_a[0];
  (void)line_b;
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  test_layout();
  test_go();
  test_pprof();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (test_failed == 0 && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", tmpdir);
  return TEST_DONE("counttext_test");
}
