/*
 * unwind_test.c — tests of the unwind tables (cfi.c) and the walker (unwind.c).
 *
 * The workload is a chain of functions compiled without frame pointers, main → wl_a → wl_b →
 * wl_c → wl_d, with frames of different shapes: a large fixed frame (wl_a), a variable-length
 * array that makes GCC address the frame from %rbp (wl_b, so its rows say CFA = %rbp + 16), a
 * static function reached through a pointer (wl_c), and a spinning frame with a frameless leaf
 * below it (wl_d, wl_leaf). Expected return addresses are checked against the functions' ranges
 * in the test binary's own symbol table, read with libelf. Every function of the workload is
 * `noipa`, so GCC neither inlines, clones nor turns the calls into jumps.
 *
 * The cases: the tables themselves (rows for the binary, libc and libstdc++, the CFA rule at a
 * function's entry, sortedness, the page index agreeing with a plain binary search at every row
 * and block boundary and at random pcs, reuse across rebuilds, build time); unwind_here from inside
 * the chain; unwind_from_context from a SIGPROF handler while the chain spins; garbage contexts
 * with narrow bounds; a frame-pointer-only walk against the table walk on the same chain; walks
 * over a copy of the stack from pc and sp only (unwind_from_copy) equal to the context's, through
 * wl_b's rbp frame and through wl_e's, where %rbp must be guessed, and never reading outside the
 * copy; a stack that passes through glibc's qsort; and the cost of one walk.
 */
#define _GNU_SOURCE
#include "runtime/ext.h"
#include "runtime/unwind.h"
#include "test.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

int main(void);

#define WL __attribute__((noipa, optimize("omit-frame-pointer")))

/* ---------------------------------------------------------------------------------------------
 * Function ranges from the symbol table
 * ------------------------------------------------------------------------------------------- */

typedef struct range {
  const char *name;
  uintptr_t lo, hi;
} range_t;

enum { R_MAIN, R_A, R_B, R_C, R_D, R_LEAF, R_SORT, R_CMP, R_THREAD, R_E, R_FP_LEAF, R_COUNT };
static range_t ranges[R_COUNT] = {{"main", 0, 0},    {"wl_a", 0, 0},      {"wl_b", 0, 0},
                                  {"wl_c", 0, 0},    {"wl_d", 0, 0},      {"wl_leaf", 0, 0},
                                  {"wl_sort", 0, 0}, {"wl_cmp", 0, 0},    {"wl_thread", 0, 0},
                                  {"wl_e", 0, 0},    {"wl_fp_leaf", 0, 0}};

/* Fills ranges[] with link-time addresses from /proc/self/exe's .symtab, then relocates them by
 * the difference between main's run-time and link-time addresses. */
static int ranges_load(void) {
  elf_version(EV_CURRENT);
  int fd = open("/proc/self/exe", O_RDONLY);
  Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
  Elf_Scn *scn = NULL;
  GElf_Shdr sh;
  while (elf != NULL && (scn = elf_nextscn(elf, scn)) != NULL)
    if (gelf_getshdr(scn, &sh) != NULL && sh.sh_type == SHT_SYMTAB)
      break;
  Elf_Data *data = scn != NULL ? elf_getdata(scn, NULL) : NULL;
  for (size_t i = 0; data != NULL && sh.sh_entsize != 0 && i < sh.sh_size / sh.sh_entsize; i++) {
    GElf_Sym sym;
    if (gelf_getsym(data, (int)i, &sym) == NULL || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
      continue;
    const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
    for (int r = 0; name != NULL && r < R_COUNT; r++)
      if (strcmp(name, ranges[r].name) == 0) {
        ranges[r].lo = sym.st_value;
        ranges[r].hi = sym.st_value + sym.st_size;
      }
  }
  if (elf != NULL)
    elf_end(elf);
  if (fd >= 0)
    close(fd);
  if (ranges[R_MAIN].hi == 0)
    return -1;
  uintptr_t bias = (uintptr_t)&main - ranges[R_MAIN].lo;
  for (int r = 0; r < R_COUNT; r++) {
    if (ranges[r].hi == 0)
      return -1;
    ranges[r].lo += bias;
    ranges[r].hi += bias;
  }
  return 0;
}

/* Whether return address pc was a call from function r (pc - 1 is the call instruction). */
static int ret_in(uintptr_t pc, int r) { return pc - 1 >= ranges[r].lo && pc - 1 < ranges[r].hi; }

/* Whether stack pcs[0..n) holds the functions want[0..k) in that order (other frames between). */
static int stack_has(const uintptr_t *pcs, int n, const int *want, int k, int exact_leaf) {
  int j = 0;
  for (int i = 0; i < n && j < k; i++) {
    uintptr_t pc = (i == 0 && exact_leaf) ? pcs[i] + 1 : pcs[i];
    if (ret_in(pc, want[j]))
      j++;
  }
  return j == k;
}

/* ---------------------------------------------------------------------------------------------
 * The workload
 * ------------------------------------------------------------------------------------------- */

enum { MODE_PROBE, MODE_SPIN, MODE_SPIN_LIBC };

static unwind_set_t *g_set;
static unwind_stack_bounds_t g_bounds;
static uintptr_t probe_pcs[64], probe_fp_pcs[64];
static int probe_n, probe_fp_n;

typedef struct sample {
  uintptr_t pcs[64];
  int n;
  uintptr_t cpcs[64]; /* the same stack walked over a copy, from pc and sp only */
  int cn;
} sample_t;
#define MAX_SAMPLES 400
static sample_t samples[MAX_SAMPLES];
static volatile int nsamples;
static volatile int spin_stop;

/* Called by wl_d: records the stack from wl_d up, with the tables and with frame pointers only. */
WL static void wl_probe(void) {
  probe_n = unwind_here(g_set, &g_bounds, probe_pcs, 64);
  probe_fp_n = unwind_here(NULL, &g_bounds, probe_fp_pcs, 64);
}

WL unsigned wl_leaf(unsigned x) { return x * 3 + 1; }

WL int wl_d(int mode) {
  volatile unsigned acc = 0;
  static char src[1 << 16], dst[1 << 16];
  if (mode == MODE_PROBE) {
    wl_probe();
  } else if (mode == MODE_SPIN) {
    while (!spin_stop)
      for (int i = 0; i < 1000; i++)
        acc += wl_leaf(acc);
  } else {
    while (!spin_stop) {
      memset(src, (int)acc, sizeof(src));
      memcpy(dst, src, sizeof(dst));
      acc += (unsigned char)dst[acc % sizeof(dst)];
    }
  }
  return (int)(acc & 1);
}

WL static int wl_c(int mode, volatile char *buf) {
  volatile int local[16];
  local[mode & 15] = buf[0];
  int r = wl_d(mode);
  return r + local[mode & 15];
}
static int (*volatile wl_c_ptr)(int, volatile char *) = wl_c;

WL int wl_b(int mode, int n) {
  volatile char vla[n];
  vla[0] = (char)mode;
  vla[n - 1] = 1;
  int r = wl_c_ptr(mode, vla);
  return r + vla[n - 1];
}

WL int wl_a(int mode) {
  volatile char big[3000];
  big[mode] = 2;
  int r = wl_b(mode, 40 + mode);
  return r + big[mode];
}

static uintptr_t sort_pcs[64];
static int sort_n;

WL int wl_cmp(const void *x, const void *y) {
  if (sort_n == 0)
    sort_n = unwind_here(g_set, &g_bounds, sort_pcs, 64);
  return *(const int *)x - *(const int *)y;
}

WL int wl_sort(void) {
  int v[64];
  for (int i = 0; i < 64; i++)
    v[i] = (i * 37) % 64;
  qsort(v, 64, sizeof(int), wl_cmp);
  return v[0] + 1;
}

/* ---------------------------------------------------------------------------------------------
 * The cases
 * ------------------------------------------------------------------------------------------- */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const unwind_module_t *module_of(const unwind_set_t *set, uintptr_t pc) {
  for (size_t i = 0; i < set->nmodules; i++)
    if (pc >= set->modules[i].start && pc < set->modules[i].end)
      return &set->modules[i];
  return NULL;
}

/* Sortedness and distinctness of modules and rows. */
static void check_set_shape(const unwind_set_t *set) {
  size_t total = 0;
  for (size_t i = 0; i < set->nmodules; i++) {
    const unwind_module_t *m = &set->modules[i];
    CHECK(m->start < m->end, "module %zu empty", i);
    CHECK(i == 0 || set->modules[i - 1].end <= m->start, "module %zu overlaps", i);
    for (size_t j = 1; j < m->nrows; j++) {
      const unwind_row_t *p = &m->rows[j - 1], *r = &m->rows[j];
      if (!(p->pc_off < r->pc_off) ||
          (p->cfa_reg == r->cfa_reg && p->cfa_off == r->cfa_off && p->fp_off == r->fp_off)) {
        CHECK(0, "module %zu rows %zu/%zu unsorted or equal", i, j - 1, j);
        break;
      }
    }
    total += m->nrows;
  }
  printf("tables: %zu modules, %zu rows\n", set->nmodules, total);
}

/* unwind_lookup as it was before the page index: a binary search over all of the module's rows. */
static const unwind_row_t *ref_lookup(const unwind_set_t *set, uintptr_t pc, uintptr_t *base) {
  const unwind_module_t *m = module_of(set, pc);
  if (m == NULL || m->nrows == 0 || pc < m->base || pc - m->base > UINT32_MAX)
    return NULL;
  uint32_t off = (uint32_t)(pc - m->base);
  size_t lo = 0, hi = m->nrows;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->rows[mid].pc_off <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0 || m->rows[lo - 1].cfa_reg == UNWIND_CFA_NONE)
    return NULL;
  *base = m->base;
  return &m->rows[lo - 1];
}

/* Whether unwind_lookup agrees with ref_lookup at pc (same row, same base); counts mismatches. */
static int lookup_agrees(const unwind_set_t *set, uintptr_t pc, int *bad) {
  uintptr_t b1 = 1, b2 = 1;
  const unwind_row_t *got = unwind_lookup(set, pc, &b1), *want = ref_lookup(set, pc, &b2);
  if (got == want && (got == NULL || b1 == b2))
    return 1;
  if ((*bad)++ < 5)
    fprintf(stderr, "lookup(%#lx): row %p, want %p\n", (unsigned long)pc, (const void *)got,
            (const void *)want);
  return 0;
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* The page index: its shape, and lookups through it equal to a plain binary search at every row
 * boundary and block boundary (and one byte either side), at the modules' edges, and at random pcs;
 * then the cost of a lookup at random pcs, indexed and plain. */
static void check_index(const unwind_set_t *set) {
  int bad = 0;
  size_t npcs = 0;
  for (size_t i = 0; i < set->nmodules; i++) {
    const unwind_module_t *m = &set->modules[i];
    size_t want_blocks = ((m->end - m->start - 1) >> m->block_shift) + 1;
    CHECK(m->block_first != NULL && m->nblocks == want_blocks, "module %zu: no index", i);
    if (m->block_first == NULL)
      continue;
    CHECK(m->block_first[m->nblocks] == m->nrows - 1, "module %zu: index sentinel", i);
    for (size_t b = 0; b < m->nblocks; b++) {
      if (m->block_first[b] > m->block_first[b + 1]) {
        CHECK(0, "module %zu: index decreases at block %zu", i, b);
        break;
      }
    }
    for (size_t j = 0; j < m->nrows; j++)
      for (int d = -1; d <= 1; d++, npcs++)
        lookup_agrees(set, m->base + m->rows[j].pc_off + d, &bad);
    for (size_t b = 0; b <= m->nblocks; b++)
      for (int d = -1; d <= 1; d++, npcs++)
        lookup_agrees(set, m->start + (b << m->block_shift) + d, &bad);
    lookup_agrees(set, m->end - 1, &bad);
    lookup_agrees(set, m->end, &bad);
  }
  enum { NRAND = 1 << 20 };
  static uintptr_t pcs[NRAND];
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < NRAND; i++) {
    const unwind_module_t *m = &set->modules[rng_next(&seed) % set->nmodules];
    pcs[i] = m->start + rng_next(&seed) % (m->end - m->start + 64);
    lookup_agrees(set, pcs[i], &bad);
  }
  CHECK(bad == 0, "%d of %zu lookups differ from a plain binary search", bad, npcs + NRAND);
  /* The cost over ~1M random pcs: mostly cache misses, unlike a walk that repeats one stack. */
  uintptr_t sum = 0, base = 0;
  double t0 = now_ns();
  for (size_t i = 0; i < NRAND; i++)
    sum += (uintptr_t)unwind_lookup(set, pcs[i], &base);
  double t1 = now_ns();
  for (size_t i = 0; i < NRAND; i++)
    sum -= (uintptr_t)ref_lookup(set, pcs[i], &base);
  double t2 = now_ns();
  CHECK(sum == 0, "lookup results differ in the timed runs");
  printf("unwind_lookup at random pcs: %.1f ns indexed, %.1f ns plain binary search\n",
         (t1 - t0) / NRAND, (t2 - t1) / NRAND);
}

static void test_tables(void) {
  void *h = dlopen("libstdc++.so.6", RTLD_NOW);
  void *hm = dlopen("libm.so.6", RTLD_NOW);
  CHECK(h != NULL && hm != NULL, "dlopen: %s", dlerror());
  /* The best of three builds from scratch, so that a busy machine does not skew the report. */
  unwind_set_t *set = NULL;
  double best = 1e18;
  for (int i = 0; i < 3; i++) {
    double t0 = now_ns();
    unwind_set_t *s = cfi_build(NULL);
    double t1 = now_ns();
    best = t1 - t0 < best ? t1 - t0 : best;
    cfi_free(set);
    set = s;
  }
  CHECK(set != NULL, "cfi_build failed");
  if (set == NULL)
    return;
  check_set_shape(set);
  check_index(set);
  const unwind_module_t *self = module_of(set, (uintptr_t)&main);
  uintptr_t qs = (uintptr_t)dlsym(RTLD_DEFAULT, "qsort");
  const unwind_module_t *libc = module_of(set, qs);
  CHECK(self != NULL && self->nrows > 0, "no rows for the test binary");
  CHECK(libc != NULL && libc->nrows > 100, "no rows for libc");
  uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
  int have_vdso = 0;
  for (size_t i = 0; vdso != 0 && i < set->nmodules; i++)
    have_vdso |= set->modules[i].start >= vdso && set->modules[i].start < vdso + (1 << 16);
  CHECK(vdso == 0 || have_vdso, "no rows for the vdso");
  if (h != NULL) {
    const unwind_module_t *cxx = module_of(set, (uintptr_t)dlsym(h, "_ZSt9terminatev"));
    CHECK(cxx != NULL && cxx->nrows > 100, "no rows for libstdc++");
  }

  /* At a function's first instruction the CFA is %rsp + 8 and %rbp untouched. */
  uintptr_t base = 0;
  const unwind_row_t *r = unwind_lookup(set, (uintptr_t)wl_a, &base);
  CHECK(r != NULL && r->cfa_reg == UNWIND_CFA_SP && r->cfa_off == 8 && r->fp_off == 0,
        "wl_a entry row %d %d %d", r ? r->cfa_reg : -1, r ? r->cfa_off : 0, r ? r->fp_off : 0);
  CHECK(self == NULL || base == self->base, "base mismatch");
  r = unwind_lookup(set, qs, NULL);
  CHECK(r != NULL && r->cfa_reg == UNWIND_CFA_SP && r->cfa_off == 8, "qsort entry row");
  /* wl_b's variable-length array makes its body address the CFA from %rbp. */
  int fp_rows = 0;
  for (uintptr_t pc = ranges[R_B].lo; pc < ranges[R_B].hi; pc++) {
    r = unwind_lookup(set, pc, NULL);
    fp_rows += r != NULL && r->cfa_reg == UNWIND_CFA_FP && r->cfa_off == 16 && r->fp_off == -16;
  }
  CHECK(fp_rows > 0, "wl_b has no CFA=rbp+16 row");
  CHECK(unwind_lookup(set, 0x10, NULL) == NULL, "row for an unmapped pc");

  /* A rebuild reuses every module and yields the same rows. */
  double t2 = now_ns();
  unwind_set_t *again = cfi_build(set);
  double t3 = now_ns();
  CHECK(again != NULL && again->nmodules == set->nmodules, "rebuild differs");
  for (size_t i = 0; again != NULL && i < again->nmodules && i < set->nmodules; i++)
    CHECK(again->modules[i].nrows == set->modules[i].nrows &&
              memcmp(again->modules[i].rows, set->modules[i].rows,
                     set->modules[i].nrows * sizeof(unwind_row_t)) == 0,
          "module %zu rows differ after rebuild", i);
  printf("cfi_build: %.2f ms from scratch (libc, libm, libstdc++, test), %.3f ms reusing\n",
         best / 1e6, (t3 - t2) / 1e6);
  cfi_free(again);
  g_set = set;
}

/* The lookup cache (asked when base is not wanted) answers what the search answers (asked when it
 * is), on first lookups and on repeated ones, and keys its entries by set: a set with another id
 * and no modules finds nothing at pcs the cache knows for this one. */
static void test_lookup_cache(void) {
  CHECK(g_set->id != 0, "a built set has an id");
  unwind_set_t empty = {.nmodules = 0, .modules = NULL, .priv = NULL, .id = g_set->id + 1000};
  uintptr_t qs = (uintptr_t)dlsym(RTLD_DEFAULT, "qsort"), base = 0;
  int differ = 0, stale = 0, looked = 0;
  for (int round = 0; round < 2; round++) {
    for (uintptr_t pc = ranges[R_B].lo; pc < ranges[R_B].hi; pc++, looked++) {
      differ += unwind_lookup(g_set, pc, NULL) != unwind_lookup(g_set, pc, &base);
      stale += unwind_lookup(&empty, pc, NULL) != NULL;
    }
    differ += unwind_lookup(g_set, qs, NULL) != unwind_lookup(g_set, qs, &base);
  }
  CHECK(differ == 0 && stale == 0, "cached lookups: %d of %d differ, %d stale", differ, looked,
        stale);
}

static void test_here(void) {
  static const int chain[] = {R_D, R_C, R_B, R_A, R_MAIN};
  wl_a(MODE_PROBE);
  CHECK(probe_n >= 5, "depth %d", probe_n);
  for (int i = 0; i < 5 && i < probe_n; i++)
    CHECK(ret_in(probe_pcs[i], chain[i]), "pcs[%d]=%#lx not in %s", i, (unsigned long)probe_pcs[i],
          ranges[chain[i]].name);
  /* Without tables only the %rbp chain is left, and wl_b's frame record skips wl_d..wl_b. */
  int fp_found = stack_has(probe_fp_pcs, probe_fp_n, chain, 5, 0);
  int fp_d = probe_fp_n > 0 && ret_in(probe_fp_pcs[0], R_D);
  CHECK(!fp_found && !fp_d, "frame-pointer walk unexpectedly complete");
  printf("unwind_here: tables give %d frames; frame pointers alone %d frames%s\n", probe_n,
         probe_fp_n, fp_d ? "" : ", missing wl_d");
}

/* Walks the interrupted stack as another thread would see it: from pc and sp only, over a copy
 * of the stack at another address. Async-signal-safe. */
static int walk_copy(const ucontext_t *u, uintptr_t *pcs, int max) {
  static uint8_t copy[1 << 16];
  uintptr_t sp = (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
  size_t len = g_bounds.hi - sp < sizeof copy ? g_bounds.hi - sp : sizeof copy;
  memcpy(copy, (const void *)sp, len);
  unwind_copy_t c = {.data = copy, .base = sp, .len = len, .end = sp + len};
  return unwind_from_copy((uintptr_t)u->uc_mcontext.gregs[REG_RIP], sp, g_set, &c, pcs, max);
}

static void on_prof(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)si;
  int saved = errno;
  int i = nsamples;
  if (i < MAX_SAMPLES) {
    samples[i].n = unwind_from_context(uc, g_set, &g_bounds, samples[i].pcs, 64);
    samples[i].cn = walk_copy(uc, samples[i].cpcs, 64);
    nsamples = i + 1;
  }
  if (i + 1 >= 300)
    spin_stop = 1;
  errno = saved;
}

/* Samples the chain spinning in mode: in its own frameless leaf, or in glibc's memset/memcpy. */
static void test_signal(int mode) {
  struct sigaction sa = {0}, old;
  sa.sa_sigaction = on_prof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGPROF, &sa, &old);
  nsamples = 0;
  spin_stop = 0;
  struct itimerval it = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &it, NULL);
  wl_a(mode);
  setitimer(ITIMER_PROF, &off, NULL);
  sigaction(SIGPROF, &old, NULL);

  static const int chain[] = {R_D, R_C, R_B, R_A, R_MAIN};
  int good = 0, outside = 0, same = 0, n = nsamples;
  for (int i = 0; i < n; i++) {
    good += stack_has(samples[i].pcs, samples[i].n, chain, 5, 1);
    same += samples[i].cn == samples[i].n &&
            memcmp(samples[i].cpcs, samples[i].pcs, (size_t)samples[i].n * sizeof(uintptr_t)) == 0;
    /* interrupted outside wl_d itself: in wl_leaf, or in libc */
    outside += samples[i].n > 0 && !ret_in(samples[i].pcs[0] + 1, R_D) &&
               stack_has(samples[i].pcs, samples[i].n, chain, 5, 1);
  }
  CHECK(n >= 100, "only %d samples", n);
  CHECK(good * 10 > n * 9, "%d of %d samples have d c b a main", good, n);
  CHECK(outside * 10 > n, "only %d of %d samples interrupted below wl_d", outside, n);
  CHECK(same * 10 > n * 9, "only %d of %d walks over a copy from pc and sp equal the context's",
        same, n);
  printf("SIGPROF (%s): %d of %d samples have d c b a main in order, %d of them interrupted in %s; "
         "%d walks over a copy equal\n",
         mode == MODE_SPIN ? "leaf" : "libc", good, n, outside,
         mode == MODE_SPIN ? "the frameless leaf" : "memset/memcpy", same);
}

static void test_garbage(void) {
  uintptr_t buf[32], pcs[64];
  unwind_stack_bounds_t b = {(uintptr_t)buf, (uintptr_t)(buf + 32)};
  ucontext_t uc;
  memset(&uc, 0, sizeof(uc));
  uc.uc_mcontext.gregs[REG_RIP] = (greg_t)ranges[R_D].lo + 4;
  uc.uc_mcontext.gregs[REG_RSP] = 0x1234;
  uc.uc_mcontext.gregs[REG_RBP] = (greg_t)0xdeadbeefcafeULL;
  int n = unwind_from_context(&uc, g_set, &b, pcs, 64);
  CHECK(n == 1, "garbage sp: depth %d", n);
  /* A frame record below sp is never followed, however plausible (0x1000 has no row). */
  buf[2] = (uintptr_t)&buf[30];
  buf[3] = ranges[R_MAIN].lo + 8;
  uc.uc_mcontext.gregs[REG_RIP] = 0x1000;
  uc.uc_mcontext.gregs[REG_RSP] = (greg_t)&buf[16];
  uc.uc_mcontext.gregs[REG_RBP] = (greg_t)&buf[2];
  n = unwind_from_context(&uc, g_set, &b, pcs, 64);
  CHECK(n == 1, "frame record below sp followed: depth %d", n);
  uc.uc_mcontext.gregs[REG_RSP] = (greg_t)&buf[1];
  n = unwind_from_context(&uc, g_set, &b, pcs, 64);
  CHECK(n >= 2 && pcs[1] == buf[3], "frame record above sp not followed: depth %d", n);
  /* A stack of plausible-looking junk: pointers into itself and into code. */
  unsigned s = 12345;
  for (int round = 0; round < 2000; round++) {
    for (int i = 0; i < 32; i++) {
      s = s * 1103515245 + 12345;
      uintptr_t v = (s >> 8) % 3 == 0   ? (uintptr_t)buf + 8 * ((s >> 4) % 40)
                    : (s >> 8) % 3 == 1 ? ranges[(s >> 12) % R_COUNT].lo + (s >> 16) % 64
                                        : (uintptr_t)s * 0x9e3779b97f4a7c15ULL;
      buf[i] = v;
    }
    s = s * 1103515245 + 12345;
    uc.uc_mcontext.gregs[REG_RIP] = (greg_t)buf[s % 32];
    uc.uc_mcontext.gregs[REG_RSP] = (greg_t)&buf[(s >> 5) % 32];
    uc.uc_mcontext.gregs[REG_RBP] = (greg_t)buf[(s >> 10) % 32];
    n = unwind_from_context(&uc, g_set, &b, pcs, 64);
    if (n > 33) {
      CHECK(0, "junk stack round %d: depth %d", round, n);
      break;
    }
  }
  /* max is honoured, and no pc means no frames. */
  uc.uc_mcontext.gregs[REG_RIP] = 0;
  CHECK(unwind_from_context(&uc, g_set, &b, pcs, 64) == 0, "zero pc");
  CHECK(unwind_here(g_set, &g_bounds, pcs, 2) == 2, "max 2");
}

/* A frameless leaf that never touches %rbp, below a frame addressed from %rbp (its VLA): a walk
 * from pc and sp must find wl_e's %rbp (unwind_guess_fp), as no frame below saved it. */
WL void wl_fp_leaf(void) {
  while (!spin_stop)
    __asm__ volatile("" ::: "memory");
}

WL int wl_e(int n) {
  volatile char vla[n];
  vla[0] = 1;
  wl_fp_leaf();
  return vla[0];
}

static void test_copy_guess(void) {
  uintptr_t base = 0;
  int fp_rows = 0;
  for (uintptr_t pc = ranges[R_E].lo; pc < ranges[R_E].hi; pc++) {
    const unwind_row_t *r = unwind_lookup(g_set, pc, &base);
    fp_rows += r != NULL && r->cfa_reg == UNWIND_CFA_FP && r->cfa_off == 16;
  }
  int saves = 0;
  for (uintptr_t pc = ranges[R_FP_LEAF].lo; pc < ranges[R_FP_LEAF].hi; pc++) {
    const unwind_row_t *r = unwind_lookup(g_set, pc, &base);
    saves += r != NULL && (r->fp_off != 0 || r->cfa_reg != UNWIND_CFA_SP);
  }
  CHECK(fp_rows > 0 && saves == 0, "wl_e: %d rbp rows; wl_fp_leaf: %d rows not rsp-only", fp_rows,
        saves);
  struct sigaction sa = {0}, old;
  sa.sa_sigaction = on_prof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGPROF, &sa, &old);
  nsamples = 0;
  spin_stop = 0;
  struct itimerval it = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &it, NULL);
  wl_e(24);
  setitimer(ITIMER_PROF, &off, NULL);
  sigaction(SIGPROF, &old, NULL);
  static const int chain[] = {R_FP_LEAF, R_E, R_MAIN};
  int good = 0, n = nsamples;
  for (int i = 0; i < n; i++)
    good += stack_has(samples[i].cpcs, samples[i].cn, chain, 3, 1) &&
            samples[i].cn == samples[i].n &&
            memcmp(samples[i].cpcs, samples[i].pcs, (size_t)samples[i].n * sizeof(uintptr_t)) == 0;
  CHECK(n >= 100 && good * 10 > n * 9,
        "%d of %d walks over a copy pass wl_e's rbp frame up to main, as the context's do", good,
        n);
  printf("copy walk through an rbp frame with %%rbp unknown: %d of %d equal the context's\n", good,
         n);
}

/* A walk over a copy reads only the copy: a garbage stack copied to an address where nothing is
 * mapped, and copies too short for the walk, which say so. */
static void test_copy_bounds(void) {
  uintptr_t buf[32], pcs[64];
  const uintptr_t fake = (uintptr_t)0x10000000000ULL; /* nothing is mapped there */
  unsigned s = 777;
  for (int round = 0; round < 2000; round++) {
    for (int i = 0; i < 32; i++) {
      s = s * 1103515245 + 12345;
      buf[i] = (s >> 8) % 3 == 0   ? fake + 8 * ((s >> 4) % 40)
               : (s >> 8) % 3 == 1 ? ranges[(s >> 12) % R_COUNT].lo + (s >> 16) % 64
                                   : (uintptr_t)s * 0x9e3779b97f4a7c15ULL;
    }
    s = s * 1103515245 + 12345;
    unwind_copy_t c = {.data = buf, .base = fake, .len = sizeof buf, .end = fake + 4096};
    int n = unwind_from_copy(buf[s % 32], fake, g_set, &c, pcs, 64);
    if (n > 33) {
      CHECK(0, "junk copy round %d: depth %d", round, n);
      break;
    }
  }
  /* The samples of test_copy_guess again, over copies cut short: never deeper, and short_copy. */
  int cut = 0, flagged = 0;
  for (int i = 0; i < nsamples && i < 20; i++) {
    uintptr_t sp = 0x7f0000000000ULL;
    unwind_copy_t c = {.data = samples[i].cpcs, .base = sp, .len = 16, .end = sp + 4096};
    int n = unwind_from_copy(ranges[R_FP_LEAF].lo + 1, sp, g_set, &c, pcs, 64);
    cut += n <= 3;
    flagged += c.short_copy;
  }
  CHECK(cut == (nsamples < 20 ? nsamples : 20), "a 16-byte copy gave deep walks");
  CHECK(flagged > 0, "no walk over a 16-byte copy said it wanted more");
  CHECK(unwind_from_copy(0, 0x1000, g_set, &(unwind_copy_t){.base = 0x1000}, pcs, 64) == 0,
        "zero pc");
}

/* The comparator calls unwind_here, so the walk starts in its caller, inside libc's qsort. */
static void test_qsort(void) {
  static const int chain[] = {R_SORT, R_MAIN};
  wl_sort();
  CHECK(stack_has(sort_pcs, sort_n, chain, 2, 0), "qsort stack lacks wl_sort/main (depth %d)",
        sort_n);
  int in_libc = 0;
  for (int i = 0; i < sort_n; i++) {
    Dl_info di;
    if (dladdr((void *)sort_pcs[i], &di) != 0 && di.dli_fname && strstr(di.dli_fname, "libc.so"))
      in_libc++;
  }
  Dl_info di;
  CHECK(sort_n > 0 && dladdr((void *)sort_pcs[0], &di) != 0 && di.dli_fname != NULL &&
            strstr(di.dli_fname, "libc.so") != NULL,
        "the comparator's caller is not in libc");
  CHECK(in_libc > 0, "no libc frame between the comparator and wl_sort");
  printf("qsort: %d frames, %d of them in libc, then wl_sort and main\n", sort_n, in_libc);
}

static uintptr_t thread_pcs[64];
static int thread_n;

WL void *wl_thread(void *arg) {
  unwind_stack_bounds_t b;
  pthread_attr_t attr;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return NULL;
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  b.lo = (uintptr_t)addr;
  b.hi = b.lo + size;
  thread_n = unwind_here(g_set, &b, thread_pcs, 64);
  return arg;
}

/* A thread's stack ends in clone3, whose return address the CFI marks undefined: the walk must
 * stop there, a few frames up, instead of wandering. */
static void test_thread(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, wl_thread, NULL) == 0, "pthread_create");
  pthread_join(t, NULL);
  /* pcs[0] is wl_thread's caller, start_thread in libc. */
  Dl_info di;
  CHECK(thread_n >= 1 && thread_n <= 4, "thread depth %d", thread_n);
  CHECK(thread_n >= 1 && dladdr((void *)thread_pcs[0], &di) != 0 && di.dli_fname != NULL &&
            strstr(di.dli_fname, "libc.so") != NULL,
        "wl_thread's caller not in libc");
  printf("thread: %d frames from start_thread up\n", thread_n);
}

WL int wl_rec(int depth, double *ns) {
  if (depth > 0)
    return wl_rec(depth - 1, ns) + 1;
  uintptr_t pcs[64];
  int n = 0, iters = 200000;
  double t0 = now_ns();
  for (int i = 0; i < iters; i++)
    n += unwind_here(g_set, &g_bounds, pcs, 64);
  *ns = (now_ns() - t0) / iters;
  return n / iters;
}

static void test_speed(void) {
  double ns = 0;
  int depth = wl_rec(8, &ns);
  CHECK(depth >= 10, "depth %d", depth);
  printf("unwind_here: %.0f ns per walk of %d frames (%.1f ns/frame)\n", ns, depth, ns / depth);
}

int main(void) {
  if (ranges_load() != 0) {
    fprintf(stderr, "cannot read the test's symbol table\n");
    return 1;
  }
  pthread_attr_t attr;
  void *addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0 ||
      pthread_attr_getstack(&attr, &addr, &size) != 0) {
    fprintf(stderr, "cannot find the stack\n");
    return 1;
  }
  pthread_attr_destroy(&attr);
  g_bounds.lo = (uintptr_t)addr;
  g_bounds.hi = (uintptr_t)addr + size;

  test_tables();
  if (g_set == NULL) /* test_tables' CHECK(set != NULL) failed */
    return TEST_DONE("unwind_test");
  test_lookup_cache();
  test_here();
  test_signal(MODE_SPIN);
  test_signal(MODE_SPIN_LIBC);
  test_garbage();
  test_copy_guess();
  test_copy_bounds();
  test_qsort();
  test_thread();
  test_speed();
  cfi_free(g_set);
  return TEST_DONE("unwind_test");
}
