/*
 * unwind.c — walking a thread's stack from a signal handler or a hook, with precomputed tables.
 *
 * The tables (unwind.h) are built outside any signal handler by cfi.c in the extension; this file
 * only reads them. A walk keeps three registers of the frame being unwound: pc, sp and fp (%rbp).
 * For each frame it looks up the row for pc — a binary search over the modules, then one over the
 * few rows that the module's page index (unwind.h) leaves for pc's block — and computes the
 * canonical frame address (CFA) from sp or fp as the row says. The return address is at CFA - 8;
 * the caller's %rbp is at CFA + fp_off when the row says it was saved, and otherwise is still in
 * %rbp; the caller's sp is the CFA. Where a pc has no row (code loaded after the tables were
 * built, JIT code, a gap between functions) the walk takes one step along the %rbp chain instead:
 * [rbp] is the caller's rbp and [rbp + 8] the return address.
 *
 * The first pc of a walk from a signal is the interrupted instruction itself, so its row is looked
 * up at pc. Every later pc is a return address, which may lie just past the end of its function
 * when the call was the function's last instruction (a call to a noreturn function); those rows
 * are looked up at pc - 1, inside the call instruction.
 *
 * Invariants that make the walk safe on garbage: every load is 8-aligned, inside the bounds of the
 * interrupted thread's stack and not below the sp the walk started from; sp strictly increases
 * from frame to frame, so the walk cannot loop; frame pointers used for the chain must strictly
 * increase too; a return address that is zero or outside the canonical user range ends the walk;
 * and it never writes more than max pcs.
 *
 * A walk reads the stack through a view: the live stack (the walks from a signal context or a
 * hook) or a copy of another thread's stack (unwind_from_copy, for a thread blocked in the kernel
 * that the threads profile does not signal): the copy mirrors [sp, sp + len) of that thread, and a
 * load is checked against that range and translated into the copy, so the walk never touches the
 * other thread's memory. Such a walk starts without %rbp: it learns it from the first frame that
 * saved it; until then a row whose CFA is %rbp-based needs a guess (unwind_guess_fp, the nearest
 * frame record above sp, for the standard frame only) or ends the walk, and so does a pc without
 * a row, since the frame-pointer chain needs %rbp too.
 *
 * The PLT row (UNWIND_CFA_PLT) encodes the expression GNU ld emits for lazy-binding PLT entries:
 * CFA = %rsp + 8, plus 8 more once the entry has pushed its relocation index, which happens at
 * byte cfa_off of each 16-byte entry (11 for the classic PLT). cfa_off holds that threshold.
 *
 * On aarch64 the file walks the frame-record chain only (x29 points at {caller's x29, x30}), so a
 * sample in a leaf that keeps its return address in x30 loses its caller. On other architectures
 * unwind_from_context finds nothing (their context layouts are not coded here) and unwind_here
 * returns the hook's own pc.
 *
 * Everything here is async-signal-safe: no locks, no allocation, no system calls, errno untouched;
 * the only global state is the lookup cache, whose entries are seqlocks that never wait.
 */
#define _GNU_SOURCE
#include "runtime/unwind.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <ucontext.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define UNWIND_WALKS 1 /* architectures whose contexts and frame records this file knows */
#endif

/* Lowest and highest plausible code addresses in a user address space. */
#define UNWIND_PC_MIN ((uintptr_t)4096)
#define UNWIND_PC_MAX ((uintptr_t)1 << 47)

/* The registers of one frame while walking. fp_known is false while a walk from another thread's
 * pc and sp (unwind_from_copy) has not yet found %rbp saved in a frame. */
typedef struct unwind_regs {
  uintptr_t pc, sp, fp;
  bool fp_known;
} unwind_regs_t;

/* What a walk reads: the words of [lo, hi) of the walked stack, each found at its address + delta
 * in our memory. A walk over the live stack has delta 0; a walk over a copy has the copy's range
 * and delta = copy - base. A load in [hi, want_hi) is one the copy was too short for. */
typedef struct unwind_view {
  uintptr_t lo, hi, delta;
  uintptr_t want_hi;
  bool short_copy;
} unwind_view_t;

/* ---------------------------------------------------------------------------------------------
 * Table lookup
 * ------------------------------------------------------------------------------------------- */

/* The module whose executable range holds pc, or NULL. Async-signal-safe. */
static const unwind_module_t *unwind_module_find(const unwind_set_t *set, uintptr_t pc) {
  if (set == NULL || set->nmodules == 0)
    return NULL;
  size_t lo = 0, hi = set->nmodules; /* find the last module with start <= pc */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (set->modules[mid].start <= pc)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return NULL;
  const unwind_module_t *m = &set->modules[lo - 1];
  return pc < m->end ? m : NULL;
}

/*
 * The lookup cache: the answers of recent lookups, by pc and set id, direct-mapped. A walk asks
 * for the same few return addresses again and again (at rate 1 every allocation walks the same
 * call sites), and a hit reads one cache line instead of the module list, the page index and the
 * rows (~15% of a sample's cost at rate 1). Each entry is a seqlock: a writer claims it by moving
 * seq from even to odd (a writer that finds it odd, or loses the race, just does not cache), and
 * a reader keeps what it read only when seq was the same even number before and after. So a
 * signal handler that walks on top of a writer on its own thread misses and goes on. An entry
 * names its set by id, which no later set reuses, so a row of a freed set is never handed out.
 */
#define LCACHE_BITS 10

typedef struct lcache_entry {
  _Atomic uint32_t seq;
  _Atomic uintptr_t pc;
  _Atomic uint64_t set_id;
  const unwind_row_t *_Atomic row; /* NULL: no row (cached too) */
} lcache_entry_t;

static lcache_entry_t lcache[1u << LCACHE_BITS];

static inline lcache_entry_t *lcache_slot(uintptr_t pc) {
  return &lcache[(uint64_t)pc * 0x9E3779B97F4A7C15ull >> (64 - LCACHE_BITS)];
}

static bool lcache_get(lcache_entry_t *e, uintptr_t pc, uint64_t id, const unwind_row_t **row) {
  uint32_t s = atomic_load_explicit(&e->seq, memory_order_acquire);
  if ((s & 1) != 0)
    return false;
  uintptr_t p = atomic_load_explicit(&e->pc, memory_order_relaxed);
  uint64_t i = atomic_load_explicit(&e->set_id, memory_order_relaxed);
  const unwind_row_t *r = atomic_load_explicit(&e->row, memory_order_relaxed);
  atomic_thread_fence(memory_order_acquire);
  if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s || p != pc || i != id)
    return false;
  *row = r;
  return true;
}

static void lcache_put(lcache_entry_t *e, uintptr_t pc, uint64_t id, const unwind_row_t *row) {
  uint32_t s = atomic_load_explicit(&e->seq, memory_order_relaxed);
  if ((s & 1) != 0 || !atomic_compare_exchange_strong_explicit(&e->seq, &s, s + 1,
                                                               memory_order_acquire,
                                                               memory_order_relaxed))
    return;
  atomic_store_explicit(&e->pc, pc, memory_order_relaxed);
  atomic_store_explicit(&e->set_id, id, memory_order_relaxed);
  atomic_store_explicit(&e->row, row, memory_order_relaxed);
  atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

/* The search itself. The module's page index narrows it to the rows between the entries of pc's
 * block and the next block: the first is at or before pc, the second at or after the row wanted. */
static const unwind_row_t *unwind_lookup_rows(const unwind_set_t *set, uintptr_t pc,
                                              uintptr_t *base) {
  const unwind_module_t *m = unwind_module_find(set, pc);
  if (m == NULL || m->nrows == 0 || pc < m->base || pc - m->base > UINT32_MAX)
    return NULL;
  uint32_t off = (uint32_t)(pc - m->base);
  size_t lo = 0, hi = m->nrows; /* find the last row with pc_off <= off */
  if (m->block_first != NULL) {
    size_t b = (pc - m->start) >> m->block_shift;
    if (b < m->nblocks) {
      lo = m->block_first[b];
      hi = (size_t)m->block_first[b + 1] + 1;
    }
  }
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->rows[mid].pc_off <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  /* lo is one past the answer; it stays at block_first[b] only when that is row 0 and lies
   * above pc (no row at or before pc). */
  if (lo == 0 || m->rows[lo - 1].cfa_reg == UNWIND_CFA_NONE)
    return NULL;
  if (base != NULL)
    *base = m->base;
  return &m->rows[lo - 1];
}

/* Finds the row covering pc; NULL when no module holds pc or its row says nothing is known
 * (UNWIND_CFA_NONE). Asks the lookup cache first when set has an id and base is not wanted.
 * Async-signal-safe. */
const unwind_row_t *unwind_lookup(const unwind_set_t *set, uintptr_t pc, uintptr_t *base) {
  if (set == NULL || set->id == 0 || base != NULL)
    return unwind_lookup_rows(set, pc, base);
  lcache_entry_t *e = lcache_slot(pc);
  const unwind_row_t *row;
  if (lcache_get(e, pc, set->id, &row))
    return row;
  row = unwind_lookup_rows(set, pc, NULL);
  lcache_put(e, pc, set->id, row);
  return row;
}

#ifdef UNWIND_WALKS
/* ---------------------------------------------------------------------------------------------
 * Checked loads and steps
 * ------------------------------------------------------------------------------------------- */

/* Loads the word at addr into *out when it lies, aligned, inside the view. Async-signal-safe. */
static bool unwind_load(unwind_view_t *v, uintptr_t addr, uintptr_t *out) {
  if ((addr & 7) != 0 || addr < v->lo || addr >= v->hi || v->hi - addr < sizeof(uintptr_t)) {
    if ((addr & 7) == 0 && addr >= v->hi && addr < v->want_hi)
      v->short_copy = true;
    return false;
  }
  *out = *(const uintptr_t *)(addr + v->delta);
  return true;
}

static bool unwind_pc_plausible(uintptr_t pc) { return pc >= UNWIND_PC_MIN && pc < UNWIND_PC_MAX; }

/* One step along the frame-pointer chain: the frame record at fp holds {caller's fp, return
 * address}. *last_fp is the last frame pointer followed; the chain must strictly climb above it
 * and above sp. Async-signal-safe. */
static bool unwind_step_fp(unwind_view_t *b, unwind_regs_t *r, uintptr_t *last_fp) {
  uintptr_t fp = r->fp, next_fp, ra;
  if (!r->fp_known || fp < r->sp || fp <= *last_fp || (fp & 7) != 0)
    return false;
  if (!unwind_load(b, fp, &next_fp) || !unwind_load(b, fp + sizeof(uintptr_t), &ra))
    return false;
  *last_fp = fp;
  r->pc = ra;
  r->sp = fp + 2 * sizeof(uintptr_t);
  r->fp = next_fp;
  return true;
}

#if defined(__x86_64__)
/*
 * %rbp for a frame whose row says CFA = %rbp + 16, the shape every function with a frame pointer
 * has after its prologue, when the walk does not know %rbp (it started from another thread's pc and
 * sp, and no frame below saved %rbp): the lowest aligned address at or above sp, within
 * UNWIND_FP_SCAN bytes, that holds a frame record — the caller's %rbp, higher up the stack, then a
 * return address into code the tables cover. A heuristic: a local that looks like a frame record
 * would be taken for one. Async-signal-safe.
 */
#define UNWIND_FP_SCAN 8192

static bool unwind_guess_fp(const unwind_set_t *set, unwind_view_t *b, uintptr_t sp,
                            uintptr_t *fp) {
  uintptr_t top = b->want_hi > b->hi ? b->want_hi : b->hi;
  for (uintptr_t a = (sp + 7) & ~(uintptr_t)7; a - sp < UNWIND_FP_SCAN; a += sizeof(uintptr_t)) {
    uintptr_t next, ra;
    if (!unwind_load(b, a, &next) || !unwind_load(b, a + sizeof(uintptr_t), &ra))
      return false;
    if (next <= a + sizeof(uintptr_t) || next >= top || (next & 7) != 0)
      continue;
    if (unwind_pc_plausible(ra) && unwind_lookup(set, ra - 1, NULL) != NULL) {
      *fp = a;
      return true;
    }
  }
  return false;
}

/* One step by the row for the current pc (exact: pc is the interrupted instruction, not a return
 * address). False when there is no row or a load fails. Async-signal-safe. */
static bool unwind_step_cfi(const unwind_set_t *set, unwind_view_t *b, unwind_regs_t *r, bool exact,
                            bool *have_row) {
  const unwind_row_t *row = unwind_lookup(set, exact ? r->pc : r->pc - 1, NULL);
  *have_row = row != NULL;
  if (row == NULL)
    return false;
  uintptr_t cfa;
  switch (row->cfa_reg) {
  case UNWIND_CFA_SP:
    cfa = r->sp + (intptr_t)row->cfa_off;
    break;
  case UNWIND_CFA_FP:
    if (!r->fp_known) {
      if (row->cfa_off != 16 || !unwind_guess_fp(set, b, r->sp, &r->fp))
        return false;
      r->fp_known = true;
    }
    cfa = r->fp + (intptr_t)row->cfa_off;
    break;
  case UNWIND_CFA_PLT:
    cfa = r->sp + 8 + ((r->pc & 15) >= (uintptr_t)row->cfa_off ? 8 : 0);
    break;
  default:
    return false;
  }
  uintptr_t ra, fp = r->fp;
  if (cfa <= r->sp || !unwind_load(b, cfa - sizeof(uintptr_t), &ra))
    return false;
  if (row->fp_off != 0 && !unwind_load(b, cfa + (intptr_t)row->fp_off, &fp))
    return false;
  r->pc = ra;
  r->sp = cfa;
  r->fp = fp;
  r->fp_known = r->fp_known || row->fp_off != 0;
  return true;
}
#endif

/* ---------------------------------------------------------------------------------------------
 * Walks
 * ------------------------------------------------------------------------------------------- */

/* Walks from r into pcs, leaf first, dropping the first skip pcs (r->pc is the first), reading
 * the stack through b (NULL: no stack, only r->pc). exact says whether r->pc is an interrupted
 * instruction rather than a return address. Returns the count written. Async-signal-safe. */
static int unwind_walk(const unwind_set_t *set, unwind_view_t *b, unwind_regs_t r, bool exact,
                       int skip, uintptr_t *pcs, int max) {
  int n = 0;
  uintptr_t last_fp = 0;
  for (;;) {
    if (skip > 0)
      skip--;
    else
      pcs[n++] = r.pc;
    if (n >= max || b == NULL)
      break;
    uintptr_t old_sp = r.sp;
    bool ok = false, have_row = false;
#if defined(__x86_64__)
    ok = unwind_step_cfi(set, b, &r, exact, &have_row);
#else
    (void)set;
    (void)exact;
#endif
    if (!ok && !have_row)
      ok = unwind_step_fp(b, &r, &last_fp);
    if (!ok || r.sp <= old_sp || !unwind_pc_plausible(r.pc))
      break;
    exact = false;
  }
  return n;
}

/* The walk over the live stack of the calling thread (or of the thread a signal interrupted). */
static int unwind_walk_live(const unwind_set_t *set, const unwind_stack_bounds_t *bounds,
                            unwind_regs_t r, bool exact, int skip, uintptr_t *pcs, int max) {
  /* Nothing below the starting sp is read: the stack is mapped from there up, while below it (the
   * main thread's not-yet-grown stack) it may not be. */
  unwind_view_t live = {0};
  if (bounds != NULL)
    live = (unwind_view_t){.lo = r.sp > bounds->lo ? r.sp : bounds->lo, .hi = bounds->hi};
  return unwind_walk(set, bounds != NULL ? &live : NULL, r, exact, skip, pcs, max);
}
#endif /* UNWIND_WALKS */

/* Walks the interrupted context uc into pcs, leaf first. Async-signal-safe. */
int unwind_from_context(const void *uc, const unwind_set_t *set,
                        const unwind_stack_bounds_t *bounds, uintptr_t *pcs, int max) {
  if (uc == NULL || pcs == NULL)
    return 0;
#if defined(UNWIND_WALKS)
  const ucontext_t *u = uc;
  unwind_regs_t r;
#if defined(__x86_64__)
  r.pc = (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
  r.sp = (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
  r.fp = (uintptr_t)u->uc_mcontext.gregs[REG_RBP];
#else
  r.pc = (uintptr_t)u->uc_mcontext.pc;
  r.sp = (uintptr_t)u->uc_mcontext.sp;
  r.fp = (uintptr_t)u->uc_mcontext.regs[29];
#endif
  r.fp_known = true;
  if (r.pc == 0 || max <= 0)
    return 0;
  return unwind_walk_live(set, bounds, r, true, 0, pcs, max);
#else
  (void)set;
  (void)bounds;
  (void)max;
  return 0;  /* this architecture's context layout is not known here */
#endif
}

/*
 * Walks the stack of the caller's caller: when hook() calls unwind_here(), pcs[0] is the return
 * address in the function that called hook(). This function keeps a frame pointer of its own
 * (__builtin_frame_address forces one) so that its frame record gives the exact state of hook() at
 * the call without needing a table row for this file. Async-signal-safe.
 */
__attribute__((noinline)) int
unwind_here(const unwind_set_t *set, const unwind_stack_bounds_t *bounds, uintptr_t *pcs, int max) {
  if (pcs == NULL || max <= 0 || bounds == NULL)
    return 0;
#if defined(UNWIND_WALKS)
  /* Our own frame record: {hook's fp, return address into hook}. On x86_64 hook's sp is just
   * above it; on aarch64 that is a lower bound, which is all the walk's checks need. */
  uintptr_t *rec = __builtin_frame_address(0);
  unwind_regs_t r = {.pc = rec[1], .fp = rec[0], .sp = (uintptr_t)(rec + 2), .fp_known = true};
  /* The walk from there yields hook's own pc first; drop it. */
  return unwind_walk_live(set, bounds, r, false, 1, pcs, max);
#else
  (void)set; /* the best this file can do elsewhere: the pc in hook */
  pcs[0] = (uintptr_t)__builtin_return_address(0);
  return 1;
#endif
}

/* Walks another thread's stack from its pc and sp over a copy of it. Async-signal-safe. */
int unwind_from_copy(uintptr_t pc, uintptr_t sp, const unwind_set_t *set, unwind_copy_t *copy,
                     uintptr_t *pcs, int max) {
  if (pcs == NULL || copy == NULL || max <= 0 || pc == 0)
    return 0;
  copy->short_copy = false;
#if defined(UNWIND_FROM_COPY)
  unwind_view_t v = {.lo = copy->base,
                     .hi = copy->base + (copy->len & ~(size_t)7),
                     .delta = (uintptr_t)copy->data - copy->base,
                     .want_hi = copy->end};
  if (sp != copy->base || copy->data == NULL)
    return 0;
  unwind_regs_t r = {.pc = pc, .sp = sp, .fp = 0, .fp_known = false};
  int n = unwind_walk(set, &v, r, true, 0, pcs, max);
  copy->short_copy = v.short_copy;
  return n;
#else
  (void)sp;
  (void)set;
  return 0; /* the frame-record walk of this architecture needs a frame pointer we do not have */
#endif
}
