/*
 * tool_test.c — unit tests of the cprof command's lower layers: pprof's value formatting and
 * units (measure), Go's path functions, Go's tabwriter, Go-compatible regexps, the flag parser
 * (Go flag rules), pprof's name simplifications, and Merge on a small built profile.
 */
#include <string.h>

#include "test.h"
#include "tool/filter.h"
#include "tool/graph.h"
#include "tool/measure.h"
#include "tool/merge.h"
#include "tool/options.h"
#include "tool/regex.h"
#include "tool/symbolize.h"
#include "tool/tabwriter.h"
#include "tool/util.h"

#define CHECK_STR(got, want)                                                                       \
  CHECK(strcmp((got), (want)) == 0, "got \"%s\", want \"%s\"", (got), (want))

static void test_measure(void) {
  char b[64];
  CHECK_STR(measure_label(b, sizeof b, 1500000000, "nanoseconds", "minimum"), "1.50s");
  CHECK_STR(measure_label(b, sizeof b, 10000000, "nanoseconds", "ms"), "10ms");
  CHECK_STR(measure_label(b, sizeof b, 2048, "bytes", "auto"), "2kB");
  CHECK_STR(measure_label(b, sizeof b, 1536, "bytes", "kb"), "1.50kB");
  CHECK_STR(measure_label(b, sizeof b, 0, "bytes", "auto"), "0");
  CHECK_STR(measure_label(b, sizeof b, 3, "count", "minimum"), "3");
  CHECK_STR(measure_label(b, sizeof b, -7200000000000LL, "nanoseconds", "auto"), "-2hrs");
  CHECK_STR(measure_label(b, sizeof b, 5, "widgets", "widgets"), "5widgets");
  CHECK_STR(measure_pct(b, sizeof b, 1, 3), "33.33%");
  CHECK_STR(measure_pct(b, sizeof b, 1, 1000), "  0.1%");
  CHECK_STR(measure_pct(b, sizeof b, 1, 100000), "0.001%");
  CHECK_STR(measure_pct(b, sizeof b, 9996, 10000), "  100%");
  CHECK_STR(measure_pct(b, sizeof b, 5, 0), "    0%");
  CHECK(measure_compatible("cpu", "nanoseconds", "cpu", "microseconds"));
  CHECK(measure_compatible("samples", "count", "sample", "count"));
  CHECK(!measure_compatible("cpu", "nanoseconds", "space", "bytes"));
}

static void test_paths(void) {
  char b[256];
  CHECK_STR(path_clean("a//b/./c/..", b, sizeof b), "a/b");
  CHECK_STR(path_clean("/../x/", b, sizeof b), "/x");
  CHECK_STR(path_clean("../../a", b, sizeof b), "../../a");
  CHECK_STR(path_clean("", b, sizeof b), ".");
  CHECK_STR(path_base("/usr/bin/prog", b, sizeof b), "prog");
  CHECK_STR(path_base("dir/", b, sizeof b), "dir");
  CHECK_STR(path_base("/", b, sizeof b), "/");
}

static void test_tabwriter(void) {
  sbuf_t out = {0};
  const char in[] = "key:\t Total 3\n \t10 (1%):\t a\n \t1000 (99%):\t bb\n\n";
  tabwriter_format(in, strlen(in), 0, 1, true, &out);
  CHECK_STR(sb_str(&out), " key: Total 3\n         10 (1%): a\n      1000 (99%): bb\n\n");
  sb_free(&out);
}

static void test_regex(void) {
  char err[256];
  regex_pat_t *r = regex_compile("line[12]$", err, sizeof err);
  CHECK(r != NULL, "%s", err);
  if (r) {
    CHECK(regex_match(r, "func line1"));
    CHECK(!regex_match(r, "line1\n"), "Go's $ matches only at the end of the text");
    CHECK(!regex_match(r, "line3"));
    regex_free(r);
  }
  r = regex_compile("(?i)FOO\\.bar\\d+", err, sizeof err);
  CHECK(r && regex_match(r, "x.foo.BAR12"));
  regex_free(r);
  CHECK(regex_compile("(", err, sizeof err) == NULL && strstr(err, "error parsing regexp"));
}

static void test_flags(void) {
  char *argv[] = {"cprof",      "-nodecount", "5",  "--cum",      "-lines",
                  "-focus=a=b", "-list",      "re", "prof.pb.gz", "-top"};
  parsed_t p;
  char err[256];
  int rc = options_parse(10, argv, &p, err, sizeof err);
  CHECK(rc == 0, "rc %d %s", rc, err);
  if (rc == 0) {
    CHECK(p.cfg.nodecount == 5);
    CHECK_STR(p.cfg.sort, "cum");
    CHECK_STR(p.cfg.granularity, "lines");
    CHECK_STR(p.cfg.focus, "a=b");
    CHECK(p.cmd && strcmp(p.cmd->name, "list") == 0 && strcmp(p.cmd_arg, "re") == 0);
    CHECK(p.nargs == 2 && strcmp(p.args[1], "-top") == 0, "flags stop at the first source");
  }
  char *two[] = {"cprof", "-top", "-tree", "x"};
  CHECK(options_parse(4, two, &p, err, sizeof err) == -2 && strstr(err, "at most one"));
  char *hex[] = {"cprof", "-nodecount=0x10", "-trim=f", "x"};
  CHECK(options_parse(4, hex, &p, err, sizeof err) == 0 && p.cfg.nodecount == 16 && !p.cfg.trim);
}

static void test_names(void) {
  char b[256];
  CHECK_STR(filter_simplify_func("ns::(anonymous namespace)::f(int)", b, sizeof b),
            "ns::(anonymous namespace)::f");
  CHECK_STR(filter_simplify_func("Foo::operator()(int) const", b, sizeof b), "Foo::operator()");
  CHECK_STR(symbolize_remove_matching("std::vector<int, A<int>>::push(int)", '<', '>', b, sizeof b),
            "std::vector::push(int)");
  CHECK_STR(graph_shorten_name("github.com/x/y/v2/pkg.F", b, sizeof b), "pkg.F");
  CHECK_STR(graph_shorten_name("ns::Class::method", b, sizeof b), "Class::method");
}

/* Two profiles of one sample each on equal locations merge into one sample of summed values. */
static void test_merge(void) {
  prof_t *w[2];
  for (int i = 0; i < 2; i++) {
    w[i] = prof_new();
    prof_add_sample_type(w[i], "samples", "count");
    prof_function_t *f = prof_add_function(w[i]);
    f->name = prof_intern(w[i], "main");
    prof_location_t *l = prof_add_location(w[i]);
    l->address = 0x1000;
    prof_location_add_line(l, f->id, 3);
    uint64_t id = l->id;
    int64_t v = 2 + i;
    prof_add_sample(w[i], &id, 1, &v, 1);
    prof_add_sample(w[i], &id, 1, &v, 1);
  }
  tprof_t *t[2] = {tp_from_prof(w[0]), tp_from_prof(w[1])};
  char err[256];
  tprof_t *m = merge_profiles(t, 2, err, sizeof err);
  CHECK(m && m->nsample == 1 && m->sample[0].value[0] == 10 && m->nlocation == 1 &&
        m->nfunction == 1);
  prof_free(w[0]);
  prof_free(w[1]);
}

int main(void) {
  test_measure();
  test_paths();
  test_tabwriter();
  test_regex();
  test_flags();
  test_names();
  test_merge();
  return TEST_DONE("tool");
}
