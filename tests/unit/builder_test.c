/*
 * builder_test.c — the profile builder against real code: this test's own functions (a global
 * one, a static one called through a pointer, one with an always_inline callee), libc, a library
 * loaded with dlopen after start, an address nothing knows and a synthetic frame. Each profile is
 * decoded with our codec and read back by `go tool pprof` (-raw, -traces, -top -lines) as the
 * independent referee. Build with -O2 -g so the inlining is real.
 *
 * The pcs are real return addresses: each function calls bt_capture(), which records
 * __builtin_return_address(0), i.e. a pc inside the function just after its call; the builder
 * must write pc - 1 and symbolize it to the line of that call.
 *
 * The symbolizer lives across writes, so the later tests check what it keeps and what it drops
 * (through sym_stats): a second write of the same samples symbolizes nothing afresh and gives the
 * same bytes, also from two threads at once; a library compiled here and loaded between writes is
 * named, unloading it leaves its stale addresses unnamed, and another library loaded in its place
 * (same path, likely the same address) is not taken for the old one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format/profile.h"
#include "runtime/ext.h"
#include "runtime/mappings.h"
#include "runtime/demangle.h"
#include "runtime/symbolize.h"
#include "test.h"
#include "cmdtext.h"
#include "readfile.h"

#define BT_BARRIER() __asm__ volatile("" ::: "memory")

/* ------------------------------------------------------------------ the code we profile ------ */

static uintptr_t ret_global, ret_static, ret_inline;
static int line_global, line_static, line_inline, line_outer_call;

__attribute__((noipa)) static void bt_capture(uintptr_t *slot, int *line, int at) {
  *slot = (uintptr_t)__builtin_return_address(0);
  *line = at;
}

enum { BT_GLOBAL_DECL = __LINE__ + 1 };
__attribute__((noinline)) void bt_global_fn(void) {
  bt_capture(&ret_global, &line_global, __LINE__);
  BT_BARRIER();
}

enum { BT_STATIC_DECL = __LINE__ + 1 };
__attribute__((noinline)) static void bt_static_fn(void) {
  bt_capture(&ret_static, &line_static, __LINE__);
  BT_BARRIER();
}

enum { BT_INLINED_DECL = __LINE__ + 1 };
static inline __attribute__((always_inline)) void bt_inlined(int outer_line) {
  line_outer_call = outer_line;
  bt_capture(&ret_inline, &line_inline, __LINE__);
  BT_BARRIER();
}

enum { BT_OUTER_DECL = __LINE__ + 1 };
__attribute__((noinline)) void bt_outer(void) {
  bt_inlined(__LINE__);
  BT_BARRIER();
}

static void (*volatile bt_static_ptr)(void) = bt_static_fn;

/* ------------------------------------------------------------------ helpers ------------------ */

static const char *bt_base(const char *path) {
  const char *s = strrchr(path, '/');
  return s != NULL ? s + 1 : path;
}

static char bt_tmpdir[] = "/tmp/builder_test.XXXXXX";

/* Writes desc to a fresh file and returns its path (static buffer per slot). */
static const char *bt_write(const rt_profile_desc_t *desc, const char *name, int *err) {
  static char path[4][512];
  static int slot;
  char *out = path[slot++ % 4];
  snprintf(out, 512, "%s/%s", bt_tmpdir, name);
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *err = -errno;
    return out;
  }
  *err = builder_profile_write(fd, desc);
  close(fd);
  return out;
}

static const prof_location_t *bt_loc_at(const prof_t *p, uint64_t addr) {
  for (size_t i = 0; i < p->nlocation; i++)
    if (p->location[i].address == addr && p->location[i].mapping_id != 0)
      return &p->location[i];
  return NULL;
}

static const char *bt_fn_name(const prof_t *p, const prof_line_t *l) {
  const prof_function_t *f = prof_function_by_id(p, l->function_id);
  return f != NULL ? prof_str(p, f->name) : "<none>";
}

static const prof_function_t *bt_fn(const prof_t *p, const prof_line_t *l) {
  return prof_function_by_id(p, l->function_id);
}

static const prof_t *bt_decode(const char *path) {
  size_t len = 0;
  uint8_t *data = read_file(path, &len);
  prof_t *p = NULL;
  char err[256] = "";
  int r = data != NULL ? prof_decode(data, len, &p, err, sizeof(err)) : -EIO;
  CHECK(r == 0, "decoding %s: %d %s", path, r, err);
  free(data);
  return p;
}

/* ------------------------------------------------------------------ the main profile --------- */

static const char *const bt_synth = "runtime/pprof.lostProfileEvent";

typedef struct bt_fixture {
  uintptr_t qsort_pc, dtor_pc;
  uintptr_t pcs_a[5], pcs_b[2], pcs_c[1];
  rt_sample_t samples[4];
  rt_profile_desc_t desc;
} bt_fixture_t;

static void bt_fixture_init(bt_fixture_t *fx) {
  memset(fx, 0, sizeof(*fx));
  bt_global_fn();
  bt_static_ptr();
  bt_outer();
  fx->qsort_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "qsort");
  /* Loaded after start: the builder must see it, and it brings __cxa_demangle along. */
  void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
  CHECK(h != NULL, "dlopen libstdc++: %s", dlerror());
  fx->dtor_pc = h != NULL ? (uintptr_t)dlsym(h, "_ZNSt9exceptionD1Ev") : 0;
  /* CPU-style: the leaf is exact, the rest are return addresses. */
  uintptr_t a[] = {ret_inline - 1, ret_static, ret_global, fx->qsort_pc + 1, 0x10};
  memcpy(fx->pcs_a, a, sizeof(a));
  fx->pcs_b[0] = ret_global; /* exact: written as is */
  fx->pcs_b[1] = ret_static;
  fx->pcs_c[0] = fx->dtor_pc + 1;
  fx->samples[0] = (rt_sample_t){.pcs = fx->pcs_a, .depth = 5, .values = {3, 30000000}};
  static const rt_label_t labels[2] = {{.key = "bytes", .num = 4096},
                                       {.key = "tenant", .str = "blue"}};
  fx->samples[1] = (rt_sample_t){
      .pcs = fx->pcs_b, .depth = 2, .values = {1, 10000000}, .labels = labels, .nlabels = 2};
  fx->samples[2] = (rt_sample_t){.synthetic = bt_synth, .values = {2, 20000000}};
  fx->samples[3] = (rt_sample_t){.pcs = fx->pcs_c, .depth = 1, .values = {1, 10000000}};
  rt_profile_desc_t d = {
      .sample_type = {{"samples", "count"}, {"cpu", "nanoseconds"}},
      .nvalues = 2,
      .period_type = {"cpu", "nanoseconds"},
      .period = 10000000,
      .time_nanos = 1700000000123456789,
      .duration_nanos = 2500000000,
      .default_sample_type = "cpu",
      .leaf_is_exact = true,
      .comments = {"builder test comment", NULL},
      .samples = fx->samples,
      .nsamples = 4,
  };
  fx->desc = d;
}

static void bt_check_header(const prof_t *p) {
  CHECK(p->nsample_type == 2 && strcmp(prof_str(p, p->sample_type[0].type), "samples") == 0 &&
            strcmp(prof_str(p, p->sample_type[1].unit), "nanoseconds") == 0,
        "sample types");
  CHECK(strcmp(prof_str(p, p->period_type.type), "cpu") == 0 && p->period == 10000000, "period");
  CHECK(p->time_nanos == 1700000000123456789 && p->duration_nanos == 2500000000, "times");
  CHECK(p->ncomment == 1 && strcmp(prof_str(p, p->comment[0]), "builder test comment") == 0,
        "comments");
  CHECK(strcmp(prof_str(p, p->default_sample_type), "cpu") == 0, "default sample type");
}

static void bt_check_mapping0(const prof_t *p) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  CHECK(p->nmapping > 2, "%zu mappings", p->nmapping);
  if (p->nmapping == 0)
    return;
  const prof_mapping_t *m = &p->mapping[0];
  const char *bid = prof_str(p, m->build_id);
  CHECK(strcmp(prof_str(p, m->filename), exe) == 0, "mapping[0] %s", prof_str(p, m->filename));
  CHECK(strlen(bid) >= 32 && strspn(bid, "0123456789abcdef") == strlen(bid), "build id '%s'", bid);
  CHECK(m->has_functions && m->has_filenames && m->has_line_numbers && m->has_inline_frames,
        "mapping[0] flags %d%d%d%d", m->has_functions, m->has_filenames, m->has_line_numbers,
        m->has_inline_frames);
  CHECK(m->memory_start <= ret_global && ret_global < m->memory_limit, "exe range");
  int libstd = 0;
  for (size_t i = 0; i < p->nmapping; i++)
    libstd += strstr(prof_str(p, p->mapping[i].filename), "libstdc++") != NULL;
  CHECK(libstd >= 1, "dlopened libstdc++ has a mapping");
}

/* Checks the one Line of the location at addr: function name, line, start line, file. */
static void bt_check_simple(const prof_t *p, uint64_t addr, const char *fn, int line, int decl) {
  const prof_location_t *l = bt_loc_at(p, addr);
  CHECK(l != NULL && l->nline == 1, "location of %s at %#lx", fn, (unsigned long)addr);
  if (l == NULL || l->nline != 1)
    return;
  const prof_function_t *f = bt_fn(p, &l->line[0]);
  CHECK(strcmp(bt_fn_name(p, &l->line[0]), fn) == 0, "%s vs %s", bt_fn_name(p, &l->line[0]), fn);
  CHECK(l->line[0].line == line, "%s line %lld vs %d", fn, (long long)l->line[0].line, line);
  CHECK(f != NULL && f->start_line == decl, "%s start line %lld vs %d", fn,
        f ? (long long)f->start_line : -1LL, decl);
  CHECK(f != NULL && strcmp(bt_base(prof_str(p, f->filename)), "builder_test.c") == 0, "%s file %s",
        fn, f ? prof_str(p, f->filename) : "");
  CHECK(l->mapping_id == 1, "%s in mapping %llu", fn, (unsigned long long)l->mapping_id);
}

static void bt_check_inline(const prof_t *p) {
  const prof_location_t *l = bt_loc_at(p, ret_inline - 1);
  CHECK(l != NULL && l->nline == 2, "inline location has %zu lines", l ? l->nline : 0);
  if (l == NULL || l->nline != 2)
    return;
  CHECK(strcmp(bt_fn_name(p, &l->line[0]), "bt_inlined") == 0, "inner %s",
        bt_fn_name(p, &l->line[0]));
  CHECK(l->line[0].line == line_inline, "inner line %lld", (long long)l->line[0].line);
  CHECK(bt_fn(p, &l->line[0])->start_line == BT_INLINED_DECL, "inner start line");
  CHECK(strcmp(bt_fn_name(p, &l->line[1]), "bt_outer") == 0, "outer %s",
        bt_fn_name(p, &l->line[1]));
  CHECK(l->line[1].line == line_outer_call, "outer line %lld vs %d", (long long)l->line[1].line,
        line_outer_call);
  CHECK(bt_fn(p, &l->line[1])->start_line == BT_OUTER_DECL, "outer start line");
}

static void bt_check_others(const prof_t *p, const bt_fixture_t *fx) {
  const prof_location_t *q = bt_loc_at(p, fx->qsort_pc);
  CHECK(q != NULL && q->nline >= 1 && strcmp(bt_fn_name(p, &q->line[q->nline - 1]), "qsort") == 0,
        "qsort location");
  if (q != NULL)
    CHECK(strstr(prof_str(p, prof_mapping_by_id(p, q->mapping_id)->filename), "libc") != NULL,
          "qsort mapping");
  const prof_location_t *d = bt_loc_at(p, fx->dtor_pc + 1); /* an exact leaf */
  CHECK(d != NULL && d->nline == 1, "libstdc++ location");
  if (d != NULL && d->nline == 1) {
    const prof_function_t *f = bt_fn(p, &d->line[0]);
    CHECK(strcmp(prof_str(p, f->name), "std::exception::~exception") == 0, "demangled %s",
          prof_str(p, f->name));
    CHECK(strncmp(prof_str(p, f->system_name), "_ZNSt9exceptionD", 16) == 0, "system name %s",
          prof_str(p, f->system_name));
  }
  /* The bogus pc: address only, no mapping, no lines. */
  const prof_location_t *bogus = NULL;
  for (size_t i = 0; i < p->nlocation; i++)
    if (p->location[i].address == 0xf)
      bogus = &p->location[i];
  CHECK(bogus != NULL && bogus->mapping_id == 0 && bogus->nline == 0, "unknown pc location");
  /* The exact leaf of sample B is its own location, apart from the return address ret_global. */
  CHECK(bt_loc_at(p, ret_global) != NULL, "exact leaf kept as is");
}

static void bt_check_samples(const prof_t *p, const bt_fixture_t *fx) {
  CHECK(p->nsample == 4, "%zu samples", p->nsample);
  if (p->nsample != 4)
    return;
  const int64_t want[4] = {3, 1, 2, 1};
  for (size_t i = 0; i < 4; i++)
    CHECK(p->sample[i].nvalue == 2 && p->sample[i].value[0] == want[i] &&
              p->sample[i].value[1] == want[i] * 10000000,
          "sample %zu values", i);
  const uint64_t addr_a[5] = {ret_inline - 1, ret_static - 1, ret_global - 1, fx->qsort_pc, 0xf};
  CHECK(p->sample[0].nlocation == 5, "sample 0 depth");
  for (size_t i = 0; i < 5 && i < p->sample[0].nlocation; i++) {
    const prof_location_t *l = prof_location_by_id(p, p->sample[0].location_id[i]);
    CHECK(l != NULL && l->address == addr_a[i], "sample 0 frame %zu", i);
  }
  const prof_sample_t *lab = &p->sample[1];
  CHECK(lab->nlabel == 2 && strcmp(prof_str(p, lab->label[0].key), "bytes") == 0 &&
            lab->label[0].num == 4096 && lab->label[0].str == 0 && lab->label[0].num_unit == 0,
        "numeric label bytes=4096");
  CHECK(lab->nlabel == 2 && strcmp(prof_str(p, lab->label[1].key), "tenant") == 0 &&
            strcmp(prof_str(p, lab->label[1].str), "blue") == 0,
        "string label tenant=blue");
  CHECK(p->sample[0].nlabel == 0, "no labels where none were given");
  const prof_sample_t *s = &p->sample[2];
  const prof_location_t *l = s->nlocation == 1 ? prof_location_by_id(p, s->location_id[0]) : NULL;
  CHECK(l != NULL && l->mapping_id == 0 && l->nline == 1 &&
            strcmp(bt_fn_name(p, &l->line[0]), bt_synth) == 0,
        "synthetic sample");
  /* Locations are numbered in address order, the synthetic ones (address 0) last. */
  size_t i = 0;
  int sorted = 1;
  for (; i < p->nlocation && p->location[i].address != 0; i++)
    sorted &= p->location[i].id == i + 1 &&
              (i == 0 || p->location[i - 1].address < p->location[i].address);
  for (; i < p->nlocation; i++)
    sorted &= p->location[i].id == i + 1 && p->location[i].address == 0;
  CHECK(sorted, "location ids follow addresses");
  int dup = 0;
  for (size_t k = 0; k < p->nfunction; k++)
    for (size_t j = k + 1; j < p->nfunction; j++) {
      const prof_function_t *a = &p->function[k], *b = &p->function[j];
      dup += a->name == b->name && a->system_name == b->system_name && a->filename == b->filename &&
             a->start_line == b->start_line;
    }
  CHECK(dup == 0, "%d duplicate functions", dup);
}

/* ------------------------------------------------------------------ go tool pprof ------------ */

static char *bt_pprof(const char *args, const char *path) {
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "HOME=%s PPROF_BINARY_PATH=%s go tool pprof %s %s 2>&1", bt_tmpdir,
           bt_tmpdir, args, path);
  return run_cmd(cmd);
}

/* True when some line of text holds a and then b. */
static int bt_line_has(const char *text, const char *a, const char *b) {
  for (const char *p = text; (p = strstr(p, a)) != NULL; p++) {
    const char *eol = strchr(p, '\n');
    const char *q = strstr(p, b);
    if (q != NULL && (eol == NULL || q <= eol))
      return 1;
  }
  return 0;
}

static void bt_check_pprof(const char *path, const prof_t *p) {
  char *raw = bt_pprof("-raw", path);
  CHECK(raw != NULL, "go tool pprof -raw");
  if (raw != NULL) {
    CHECK(strstr(raw, "lostProfileEvent") != NULL, "raw: lostProfileEvent");
    CHECK(strstr(raw, prof_str(p, p->mapping[0].build_id)) != NULL, "raw: build id");
    CHECK(strstr(raw, "bt_static_fn") != NULL, "raw: static function");
  }
  char *traces = bt_pprof("-traces", path);
  CHECK(traces != NULL, "go tool pprof -traces");
  if (traces != NULL) {
    char want[128];
    snprintf(want, sizeof(want), "File: %s", bt_base(prof_str(p, p->mapping[0].filename)));
    CHECK(strstr(traces, want) != NULL, "traces: %s", want);
    CHECK(strstr(traces, "bt_inlined (inline)") != NULL, "traces: inlined frame\n%s", traces);
    const char *in = strstr(traces, "bt_inlined (inline)");
    const char *outer = in != NULL ? strstr(in, "\n") : NULL;
    CHECK(outer != NULL && strncmp(outer + strspn(outer, " \n"), "bt_outer\n", 9) == 0,
          "traces: bt_outer right after the inlined frame");
    const char *names[] = {"bt_static_fn",
                           "bt_global_fn",
                           "qsort",
                           "std::exception::~exception",
                           "runtime/pprof.lostProfileEvent",
                           "builder test comment"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
      CHECK(strstr(traces, names[i]) != NULL, "traces: %s", names[i]);
  }
  char *top = bt_pprof("-top -lines", path);
  CHECK(top != NULL, "go tool pprof -top -lines");
  if (top != NULL) {
    char want[4][2][128];
    snprintf(want[0][0], 128, "bt_inlined /");
    snprintf(want[0][1], 128, "/builder_test.c:%d (inline)\n", line_inline);
    snprintf(want[1][0], 128, "bt_outer /");
    snprintf(want[1][1], 128, "/builder_test.c:%d\n", line_outer_call);
    snprintf(want[2][0], 128, "bt_static_fn /");
    snprintf(want[2][1], 128, "/builder_test.c:%d\n", line_static);
    snprintf(want[3][0], 128, "bt_global_fn /");
    snprintf(want[3][1], 128, "/builder_test.c:%d\n", line_global);
    for (int i = 0; i < 4; i++)
      CHECK(bt_line_has(top, want[i][0], want[i][1]), "top -lines: %s...%s\n%s", want[i][0],
            want[i][1], top);
  }
  free(raw);
  free(traces);
  free(top);
}

static void bt_test_profile(void) {
  bt_fixture_t fx;
  bt_fixture_init(&fx);
  int err = 0;
  const char *path = bt_write(&fx.desc, "cpu.pb.gz", &err);
  CHECK(err == 0, "builder_profile_write: %d", err);
  const prof_t *p = bt_decode(path);
  if (p != NULL) {
    bt_check_header(p);
    bt_check_mapping0(p);
    bt_check_simple(p, ret_global - 1, "bt_global_fn", line_global, BT_GLOBAL_DECL);
    bt_check_simple(p, ret_static - 1, "bt_static_fn", line_static, BT_STATIC_DECL);
    bt_check_inline(p);
    bt_check_others(p, &fx);
    bt_check_samples(p, &fx);
    bt_check_pprof(path, p);
  }
  /* The same samples give the same bytes, from what the symbolizer kept. */
  sym_stats_t st0, st1;
  sym_stats(&st0);
  const char *again = bt_write(&fx.desc, "cpu2.pb.gz", &err);
  sym_stats(&st1);
  CHECK(st1.lookups > st0.lookups && st1.misses == st0.misses && st1.refreshes == st0.refreshes,
        "second write from the cache: %llu misses, %llu refreshes",
        (unsigned long long)(st1.misses - st0.misses),
        (unsigned long long)(st1.refreshes - st0.refreshes));
  size_t l1 = 0, l2 = 0;
  uint8_t *b1 = read_file(path, &l1), *b2 = read_file(again, &l2);
  CHECK(err == 0 && b1 != NULL && b2 != NULL && l1 == l2 && memcmp(b1, b2, l1) == 0,
        "deterministic output (%zu vs %zu bytes)", l1, l2);
  free(b1);
  free(b2);
  prof_free((prof_t *)p);
  /* Symbolizing must not drag libdebuginfod (and libcurl with it) into the host. */
  size_t mlen = 0;
  uint8_t *maps = read_file("/proc/self/maps", &mlen);
  CHECK(maps != NULL && memmem(maps, mlen, "libdebuginfod", 13) == NULL, "no libdebuginfod loaded");
  free(maps);
}

/* Without an exact leaf every pc is a return address, the first one included. */
static void bt_test_no_exact_leaf(void) {
  uintptr_t pcs[] = {ret_global, ret_static};
  rt_sample_t s = {.pcs = pcs, .depth = 2, .values = {7}};
  rt_profile_desc_t d = {.sample_type = {{"contentions", "count"}},
                         .nvalues = 1,
                         .period_type = {"contentions", "count"},
                         .period = 1,
                         .samples = &s,
                         .nsamples = 1};
  int err = 0;
  const prof_t *p = bt_decode(bt_write(&d, "mutex.pb.gz", &err));
  CHECK(err == 0, "write: %d", err);
  if (p == NULL)
    return;
  CHECK(p->nlocation == 2 && bt_loc_at(p, ret_global - 1) != NULL &&
            bt_loc_at(p, ret_global) == NULL,
        "leaf is pc - 1");
  CHECK(p->default_sample_type == 0 && p->ncomment == 0, "no default type, no comments");
  prof_free((prof_t *)p);
}

/* ------------------------------------------------------------------ libc's debug info -------- */

static uintptr_t ret_main, ret_cmp; /* in __libc_start_call_main; in qsort's merge sort */

static int bt_cmp(const void *a, const void *b) {
  if (ret_cmp == 0)
    ret_cmp = (uintptr_t)__builtin_return_address(0);
  return *(const int *)a - *(const int *)b;
}

/* Writes libc pcs (return addresses: each is written as pc - 1) to name, with
 * CPROF_DEBUGINFO=full set in a forked child when full. */
static const prof_t *bt_libc_profile(const uintptr_t *pcs, size_t n, const char *name, bool full) {
  rt_sample_t s = {.pcs = (uintptr_t *)pcs, .depth = n, .values = {1}};
  rt_profile_desc_t d = {.sample_type = {{"samples", "count"}}, .nvalues = 1, .samples = &s,
                         .nsamples = 1};
  int err = 0;
  pid_t pid = full ? fork() : 0;
  if (pid == 0) {
    if (full)
      setenv("CPROF_DEBUGINFO", "full", 1);
    bt_write(&d, name, &err);
    if (full)
      _exit(err == 0 ? 0 : 1);
  }
  int st = 0;
  CHECK(pid > 0 ? waitpid(pid, &st, 0) == pid && st == 0 : err == 0, "%s written", name);
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", bt_tmpdir, name);
  return bt_decode(path);
}

/* libc's DWARF is in a separate debug file: by default it is not read (names from that file's
 * symbol table; no files, lines or inlined frames); with
 * CPROF_DEBUGINFO=full it is. The physical function names agree, internal ones included. */
static void bt_test_libc_debuginfo(void) {
  int v[8] = {5, 3, 8, 1, 9, 2, 7, 4};
  qsort(v, 8, sizeof(v[0]), bt_cmp);
  uintptr_t start = (uintptr_t)dlsym(RTLD_DEFAULT, "__libc_start_main");
  uintptr_t pcs[] = {ret_cmp, ret_main, start + 1};
  const char *want[] = {"msort_with_tmp", "__libc_start_call_main", "__libc_start_main_impl"};
  const prof_t *p = bt_libc_profile(pcs, 3, "libc.pb.gz", false);
  const prof_t *f = bt_libc_profile(pcs, 3, "libc-full.pb.gz", true);
  if (p == NULL || f == NULL)
    return;
  for (size_t i = 0; i < 3; i++) {
    const prof_location_t *a = bt_loc_at(p, pcs[i] - 1), *b = bt_loc_at(f, pcs[i] - 1);
    CHECK(a != NULL && b != NULL && a->nline == 1 && b->nline >= 1, "libc location %zu", i);
    if (a == NULL || b == NULL || a->nline != 1 || b->nline < 1)
      continue;
    const char *na = bt_fn_name(p, &a->line[0]), *nb = bt_fn_name(f, &b->line[b->nline - 1]);
    const char *fb = prof_str(f, bt_fn(f, &b->line[0])->filename);
    CHECK(strcmp(na, nb) == 0, "default %s vs full %s", na, nb);
    /* The merge sort is glibc 2.36's; later ones sort elsewhere. */
    CHECK(strcmp(na, want[i]) == 0 || (i == 0 && strchr(na, '.') == NULL), "%s vs %s", na, want[i]);
    CHECK(a->line[0].line == 0 && prof_str(p, bt_fn(p, &a->line[0])->filename)[0] == '\0',
          "%s: no file:line by default", na);
    CHECK(b->line[0].line > 0 && fb[0] != '\0' && strstr(fb, "stdlib/stdlib/") == NULL,
          "%s: file:line with full (%s:%lld)", nb, fb, (long long)b->line[0].line);
  }
  const prof_location_t *a = bt_loc_at(p, ret_main - 1), *b = bt_loc_at(f, ret_main - 1);
  const prof_mapping_t *ma = a ? prof_mapping_by_id(p, a->mapping_id) : NULL;
  const prof_mapping_t *mb = b ? prof_mapping_by_id(f, b->mapping_id) : NULL;
  CHECK(ma != NULL && ma->has_functions && !ma->has_filenames && !ma->has_line_numbers &&
            !ma->has_inline_frames,
        "libc mapping flags by default");
  CHECK(mb != NULL && mb->has_functions && mb->has_filenames && mb->has_line_numbers &&
            mb->has_inline_frames,
        "libc mapping flags with full");
  prof_free((prof_t *)p);
  prof_free((prof_t *)f);
}

/* ------------------------------------------------------------------ pieces ------------------- */

static void bt_test_map_lines(void) {
  map_entry_t e;
  int r = map_line_parse(
      "55d0c0a00000-55d0c0a05000 r-xp 00002000 fd:01 1234   /usr/bin/x (deleted)\n", &e);
  CHECK(r == 1 && e.start == 0x55d0c0a00000 && e.limit == 0x55d0c0a05000 && e.offset == 0x2000 &&
            strcmp(e.path, "/usr/bin/x") == 0,
        "executable line, deleted trimmed");
  if (r == 1)
    free(e.path);
  CHECK(map_line_parse("7f0000000000-7f0000001000 r--p 00000000 fd:01 1234 /lib/a.so\n", &e) == 0,
        "not executable: skipped");
  CHECK(map_line_parse("7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n", &e) == 0,
        "anonymous: skipped");
  r = map_line_parse("7ffd1000-7ffd3000 r-xp 00000000 00:00 0                  [vdso]\n", &e);
  CHECK(r == 1 && strcmp(e.path, "[vdso]") == 0, "[vdso] kept");
  if (r == 1)
    free(e.path);

  map_list_t l;
  CHECK(map_list_read(&l) == 0 && l.n > 1, "map_list_read");
  long i = map_list_find(&l, (uintptr_t)&bt_global_fn);
  CHECK(i == 0, "the executable is mapping 0 (found %ld)", i);
  i = map_list_find(&l, (uintptr_t)dlsym(RTLD_DEFAULT, "qsort"));
  CHECK(i > 0 && strstr(l.v[i].path, "libc") != NULL && l.v[i].build_id[0] != '\0',
        "libc found with a build id");
  CHECK(map_list_find(&l, 0x10) == -1, "0x10 in no mapping");
  map_list_free(&l);
}

static void bt_test_demangle(void) {
  static const char *const cases[][2] = {
      {"_ZN2ns3FooIiE3barEi", "ns::Foo::bar"},
      {"_ZNK2ns3Foo3bazEv", "ns::Foo::baz"},
      {"_Z3maxIiET_S0_S0_", "max"},
      {"_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo"},
      {"_ZN2ns3FoolsEi", "ns::Foo::operator<<"},
      {"_ZN2ns3FooclEv", "ns::Foo::operator()"},
      {"_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector::push_back"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *d = demangle_with(demangle_find(), cases[i][0]);
    CHECK(d != NULL && strcmp(d, cases[i][1]) == 0, "%s -> %s", cases[i][0], d ? d : "(null)");
    free(d);
  }
  CHECK(demangle_with(demangle_find(), "main") == NULL, "plain C names are left alone");
}

static void bt_test_errors(void) {
  uintptr_t pc = ret_global;
  rt_sample_t s = {.pcs = &pc, .depth = 1, .values = {1}};
  rt_profile_desc_t d = {
      .sample_type = {{"samples", "count"}}, .nvalues = 1, .samples = &s, .nsamples = 1};
  int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    CHECK(builder_profile_write(fd, &d) == -ENOSPC, "/dev/full gives -ENOSPC");
    close(fd);
  }
  CHECK(builder_profile_write(-1, &d) == -EBADF, "bad fd gives -EBADF");
  d.nvalues = 0;
  CHECK(builder_profile_write(1, &d) == -EINVAL, "no sample types: -EINVAL");
  CHECK(builder_profile_write(1, NULL) == -EINVAL, "NULL desc: -EINVAL");
}

/* ------------------------------------------------------------------ across writes ------------ */

typedef struct bt_job {
  const rt_profile_desc_t *desc;
  char name[32];
  int err;
  const char *path;
} bt_job_t;

static void *bt_job_run(void *arg) {
  bt_job_t *j = arg;
  j->path = bt_write(j->desc, j->name, &j->err);
  return NULL;
}

static bool bt_same_file(const char *a, const char *b) {
  size_t la = 0, lb = 0;
  uint8_t *x = read_file(a, &la), *y = read_file(b, &lb);
  bool same = x != NULL && y != NULL && la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

/* Two writers at once share the symbolizer and both get the one-writer bytes. */
static void bt_test_concurrent(void) {
  bt_fixture_t fx;
  bt_fixture_init(&fx);
  int err = 0;
  const char *want = bt_write(&fx.desc, "solo.pb.gz", &err);
  CHECK(err == 0, "solo write: %d", err);
  bt_job_t jobs[2] = {{.desc = &fx.desc, .name = "par0.pb.gz"},
                      {.desc = &fx.desc, .name = "par1.pb.gz"}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    CHECK(pthread_create(&th[i], NULL, bt_job_run, &jobs[i]) == 0, "pthread_create");
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    CHECK(jobs[i].err == 0 && bt_same_file(want, jobs[i].path), "parallel write %d: %d", i,
          jobs[i].err);
  }
}

/* Compiles a one-function library to path (through a temporary file and a rename, as a package
 * upgrade would replace it). 0 on success. */
static int bt_plugin_build(const char *path, const char *fn) {
  char src[600], cmd[2048];
  snprintf(src, sizeof(src), "%s/%s.c", bt_tmpdir, fn);
  FILE *f = fopen(src, "w");
  if (f == NULL)
    return -1;
  fprintf(f, "__attribute__((noinline)) int %s(int x) {\n  return x * 3 + 1;\n}\n", fn);
  fclose(f);
  snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -g -O1 -o %s.tmp %s && mv -f %s.tmp %s", path, src,
           path, path);
  return system(cmd) == 0 ? 0 : -1;
}

/* Writes a profile of two frames, leaf (exact) then ret_global, and decodes it. */
static const prof_t *bt_write_pair(uintptr_t leaf, const char *name) {
  uintptr_t pcs[2] = {leaf, ret_global};
  rt_sample_t s = {.pcs = pcs, .depth = 2, .values = {1}};
  rt_profile_desc_t d = {.sample_type = {{"samples", "count"}},
                         .nvalues = 1,
                         .leaf_is_exact = true,
                         .samples = &s,
                         .nsamples = 1};
  int err = 0;
  const char *path = bt_write(&d, name, &err);
  CHECK(err == 0, "write %s: %d", name, err);
  return err == 0 ? bt_decode(path) : NULL;
}

/* The name of the location at addr's only line, "" when it has none. */
static const char *bt_name_at(const prof_t *p, uint64_t addr) {
  for (size_t i = 0; p != NULL && i < p->nlocation; i++)
    if (p->location[i].address == addr)
      return p->location[i].nline == 1 ? bt_fn_name(p, &p->location[i].line[0]) : "";
  return "<no location>";
}

/* Loads the library at path, written afresh with function fn, writes a profile at fn + 1 and
 * checks that it is named; returns fn's address (0 on failure) with the handle in *h. */
static uintptr_t bt_plugin_load(const char *path, const char *fn, void **h, sym_stats_t *before,
                                sym_stats_t *after) {
  *h = NULL;
  CHECK(bt_plugin_build(path, fn) == 0, "compiling %s", fn);
  *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(*h != NULL, "dlopen %s: %s", path, dlerror());
  uintptr_t pc = *h != NULL ? (uintptr_t)dlsym(*h, fn) : 0;
  if (pc == 0)
    return 0;
  sym_stats(before);
  const prof_t *p = bt_write_pair(pc + 1, fn);
  sym_stats(after);
  CHECK(strcmp(bt_name_at(p, pc + 1), fn) == 0, "loaded since the last write: %s named %s", fn,
        bt_name_at(p, pc + 1));
  CHECK(strcmp(bt_name_at(p, ret_global - 1), "bt_global_fn") == 0, "exe still named: %s",
        bt_name_at(p, ret_global - 1));
  prof_free((prof_t *)p);
  return pc;
}

static void bt_test_dlopen_between_writes(void) {
  char so[600];
  snprintf(so, sizeof(so), "%s/libbt_plugin.so", bt_tmpdir);
  sym_stats_t s0, s1, s2;
  void *h;
  uintptr_t pa = bt_plugin_load(so, "bt_plugin_a", &h, &s0, &s1);
  if (pa == 0)
    return;
  /* Only the new library's address was symbolized; the modules already there were kept. */
  CHECK(
      s1.refreshes == s0.refreshes + 1 && s1.rebuilds == s0.rebuilds && s1.misses == s0.misses + 1,
      "dlopen: %llu refreshes, %llu rebuilds, %llu misses",
      (unsigned long long)(s1.refreshes - s0.refreshes),
      (unsigned long long)(s1.rebuilds - s0.rebuilds), (unsigned long long)(s1.misses - s0.misses));
  dlclose(h);
  const prof_t *p = bt_write_pair(pa + 1, "after_dlclose.pb.gz");
  CHECK(p != NULL && strcmp(bt_name_at(p, pa + 1), "") == 0,
        "after dlclose the stale address is unnamed: %s", bt_name_at(p, pa + 1));
  CHECK(strcmp(bt_name_at(p, ret_global - 1), "bt_global_fn") == 0, "exe named after dlclose");
  prof_free((prof_t *)p);

  uintptr_t pb = bt_plugin_load(so, "bt_plugin_b", &h, &s0, &s1);
  if (pb == 0)
    return;
  /* Swapped with no write in between: the same path, most likely at the same address, with
   * other contents. The symbolizer must not answer from the old module. */
  dlclose(h);
  uintptr_t pc = bt_plugin_load(so, "bt_plugin_c", &h, &s1, &s2);
  printf("builder_test: plugin b at %#lx, c at %#lx\n", (unsigned long)pb, (unsigned long)pc);
  if (pc == pb)
    CHECK(s2.rebuilds == s1.rebuilds + 1, "same path, same place, new build ID: rebuilt");
  if (h != NULL)
    dlclose(h);
}

/* ------------------------------------------------------------------ cost --------------------- */

typedef struct bt_text {
  uintptr_t lo, hi;
  const char *want;
} bt_text_t;

static int bt_find_text(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  bt_text_t *t = arg;
  const char *name = info->dlpi_name;
  if (t->want[0] == '\0' ? name[0] != '\0' : strstr(name, t->want) == NULL)
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++)
    if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X)) {
      t->lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
      t->hi = t->lo + info->dlpi_phdr[i].p_memsz;
      return 1;
    }
  return 0;
}

static double bt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 2000 distinct pcs, half in libc and half in this executable, one sample each. */
static void bt_test_cost(void) {
  enum { N = 2000 };
  bt_text_t exe = {.want = ""}, libc = {.want = "libc.so"};
  dl_iterate_phdr(bt_find_text, &exe);
  dl_iterate_phdr(bt_find_text, &libc);
  CHECK(exe.hi > exe.lo && libc.hi > libc.lo, "text segments found");
  if (exe.hi <= exe.lo || libc.hi <= libc.lo)
    return;
  static uintptr_t pcs[N];
  static rt_sample_t s[N];
  for (size_t i = 0; i < N; i++) {
    const bt_text_t *t = i % 2 ? &libc : &exe;
    pcs[i] = t->lo + 1 + (t->hi - t->lo - 2) / (N / 2) * (i / 2);
    s[i] = (rt_sample_t){.pcs = &pcs[i], .depth = 1, .values = {1}};
  }
  rt_profile_desc_t d = {
      .sample_type = {{"samples", "count"}}, .nvalues = 1, .samples = s, .nsamples = N};
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  double t0 = bt_now();
  int r1 = builder_profile_write(fd, &d);
  double t1 = bt_now();
  int r2 = builder_profile_write(fd, &d);
  double t2 = bt_now();
  close(fd);
  CHECK(r1 == 0 && r2 == 0, "cost run writes");
  printf("builder_test: %d distinct pcs (libc + exe): first write %.1f ms, second %.1f ms\n", N,
         (t1 - t0) * 1e3, (t2 - t1) * 1e3);
}

int main(void) {
  ret_main = (uintptr_t)__builtin_return_address(0);
  unsetenv("CPROF_DEBUGINFO"); /* the default, which bt_test_libc_debuginfo departs from */
  if (mkdtemp(bt_tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  bt_test_map_lines();
  bt_test_profile();
  bt_test_no_exact_leaf();
  bt_test_libc_debuginfo();
  bt_test_demangle();
  bt_test_errors();
  bt_test_concurrent();
  bt_test_dlopen_between_writes();
  bt_test_cost();
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", bt_tmpdir);
  if (test_failed == 0 && getenv("BT_KEEP") == NULL && system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", bt_tmpdir);
  return TEST_DONE("builder_test");
}
