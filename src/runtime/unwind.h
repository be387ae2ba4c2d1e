/*
 * unwind.h — walking a thread's stack from inside a signal handler.
 *
 * Debian builds with -O2, which omits frame pointers, so following %rbp alone loses callers. We
 * precompute, outside any signal handler, one table per loaded module from its DWARF call-frame
 * information (.eh_frame / .debug_frame, read with libdw in the extension): for each address range,
 * how to find the canonical frame address (CFA) from %rsp or %rbp, and where the caller's %rbp was
 * saved. The signal handler then unwinds with an indexed search and a few checked loads: no locks, no
 * allocation, no syscalls, no calls into libdw or the dynamic loader. Where a pc has no table (a
 * module loaded since the tables were built, JIT code) it falls back to the frame-pointer chain.
 *
 * Every load from the stack is checked against the bounds of the interrupted thread's stack, so a
 * wrong table or a garbage frame pointer ends the walk instead of faulting.
 *
 * Tables are immutable once published. The core swaps the whole set atomically and frees an old set
 * only when no walk can still be reading it (tables.c).
 */
#ifndef CPROF_RUNTIME_UNWIND_H
#define CPROF_RUNTIME_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  UNWIND_CFA_NONE = 0, /* no rule known here: fall back to frame pointers, or stop */
  UNWIND_CFA_SP = 1,   /* CFA = %rsp + cfa_off */
  UNWIND_CFA_FP = 2,   /* CFA = %rbp + cfa_off */
  UNWIND_CFA_PLT = 3,  /* the PLT's expression: CFA = %rsp + 8, or + 16 after the push */
};

/*
 * How to unwind from any pc in [start of this row, start of the next row). The return address is
 * always at CFA - 8 (x86_64). fp_off is where the caller's %rbp was saved, relative to the CFA
 * (e.g. -16), or 0 when %rbp still holds the caller's value.
 */
typedef struct unwind_row {
  uint32_t pc_off; /* pc - module base */
  uint8_t cfa_reg; /* UNWIND_CFA_* */
  uint8_t pad[3];
  int32_t cfa_off;
  int32_t fp_off;
} unwind_row_t;

/*
 * A module's rows, plus a page index over its range so that a lookup reads a few neighbouring rows
 * instead of binary-searching all of them: the range [start, end) is cut into nblocks blocks of
 * 1 << block_shift bytes, and block_first[b] (b <= nblocks) is the index of the last row whose pc
 * is at or before start + (b << block_shift), or 0 when no row is. The row for a pc in block b then
 * lies in [block_first[b], block_first[b + 1]]. block_first[nblocks] is nrows - 1. block_first may
 * be NULL (no index: search all rows).
 */
typedef struct unwind_module {
  uintptr_t start, end; /* the executable range, runtime addresses */
  uintptr_t base;       /* load bias: pc_off = pc - base */
  const unwind_row_t *rows; /* sorted by pc_off */
  size_t nrows;
  uint64_t key; /* private to the builder (to reuse tables across rebuilds) */
  const uint32_t *block_first; /* nblocks + 1 entries, or NULL */
  size_t nblocks;
  unsigned block_shift;
} unwind_module_t;

typedef struct unwind_set {
  size_t nmodules;
  unwind_module_t *modules; /* sorted by start, non-overlapping */
  void *priv;               /* the builder's: owns rows and modules */
  uint64_t id;              /* unique per set built, never reused; 0: lookups are not cached */
} unwind_set_t;

/* Bounds of the current thread's stack, for checking loads. */
typedef struct unwind_stack_bounds {
  uintptr_t lo, hi;
} unwind_stack_bounds_t;

/*
 * Walks the stack of the interrupted context uc (a ucontext_t *) into pcs, leaf first: pcs[0] is
 * the interrupted pc and the others return addresses. Returns the number of pcs written (at least 1
 * when uc has a pc). Uses the set published last, checks every load against bounds.
 * Async-signal-safe: no locks, no allocation, errno untouched.
 */
int unwind_from_context(const void *uc, const unwind_set_t *set,
                        const unwind_stack_bounds_t *bounds, uintptr_t *pcs, int max);

/*
 * The same, starting from the caller of the function that calls it (for the malloc, lock and
 * thread-creation hooks, which run in ordinary context). Async-signal-safe.
 */
int unwind_here(const unwind_set_t *set, const unwind_stack_bounds_t *bounds, uintptr_t *pcs,
                int max);

/*
 * Another thread's stack, copied: data holds the len bytes that were at [base, base + len) in the
 * thread (base is its sp), and end is where its stack mapping ends (base + len <= end). A walk
 * sets short_copy when it wanted a word in [base + len, end), beyond what was copied.
 */
typedef struct unwind_copy {
  const void *data;
  uintptr_t base;
  size_t len;
  uintptr_t end;
  bool short_copy;
} unwind_copy_t;

#if defined(__x86_64__)
#define UNWIND_FROM_COPY 1 /* unwind_from_copy walks on this architecture */
#endif

/*
 * Walks the stack of a thread that is not running — blocked in the kernel, its pc and sp read from
 * /proc — over a copy of that stack, beginning at sp (copy->base must equal sp). pc is exact (the
 * instruction the thread resumes at, as a signal context's), so pcs[0] is pc. %rbp is not known:
 * a frame whose CFA is %rbp-based is unwound with %rbp saved by a frame below it, or, for the
 * standard frame (CFA = %rbp + 16), with the nearest frame record found above sp (a heuristic);
 * otherwise the walk ends there, as it does where a pc has no row (the frame-pointer chain needs
 * %rbp too). Loads never leave the copy. Returns the number of pcs written; 0 on architectures
 * without UNWIND_FROM_COPY (their frame-record walk needs the frame pointer). Async-signal-safe.
 */
int unwind_from_copy(uintptr_t pc, uintptr_t sp, const unwind_set_t *set, unwind_copy_t *copy,
                     uintptr_t *pcs, int max);

/* Finds the row for pc, or NULL. Async-signal-safe. Exposed for tests. */
const unwind_row_t *unwind_lookup(const unwind_set_t *set, uintptr_t pc, uintptr_t *base);

#endif /* CPROF_RUNTIME_UNWIND_H */
