/*
 * procstack.c — reading a blocked thread's stack from outside it (see procstack.h).
 *
 * A capture is: the thread's scheduler statistics; where it is blocked (/proc/.../syscall: the
 * system call number, or -1 when it is blocked outside one, its six arguments, then sp and pc); the
 * mapping that holds sp, found in the ranges of /proc/self/maps read once per dump (read again once
 * when sp falls in none, for a thread whose stack was mapped since); a copy of the stack from sp,
 * PROCSTACK_COPY_FIRST bytes first and up to PROCSTACK_COPY_MAX when the walk wanted more; the
 * walk; the record; then where and statistics again, which must not have changed. The statistics
 * make the check exact where the kernel keeps them (a thread that woke, ran and blocked again at
 * the same place has a longer run time and one more time scheduled in); the pc and sp alone would
 * miss it.
 *
 * The pc /proc gives is where the thread resumes: on x86_64, for a thread in a system call, the
 * instruction after its `syscall`, inside the libc wrapper. The walk treats it as a signal
 * context's interrupted pc (exact), not as a return address.
 */
#define _GNU_SOURCE
#include "runtime/procstack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sys.h"
#include "runtime/tables.h"

#define PS_MAPS_FIRST 4096 /* ranges room for at first; doubled as needed */
#define PS_MAPS_READS 2    /* reads of /proc/self/maps in one dump at most */

/* Where a blocked thread entered the kernel. */
typedef struct ps_where {
  long nr; /* the system call, or -1 */
  uintptr_t sp, pc;
} ps_where_t;

int procstack_init(procstack_t *ps) {
  *ps = (procstack_t){0};
  ps->buf = sys_map(PROCSTACK_COPY_MAX);
  return ps->buf != NULL ? 0 : -ENOMEM;
}

void procstack_fini(procstack_t *ps) {
  sys_unmap(ps->buf, PROCSTACK_COPY_MAX);
  sys_unmap(ps->maps, ps->maps_bytes);
  *ps = (procstack_t){0};
}

/* ------------------------------------------------------------ /proc/self/maps -------------- */

/* Appends the range [lo, hi) to ps->maps, growing it; false when out of memory. */
static bool ps_maps_add(procstack_t *ps, uintptr_t lo, uintptr_t hi) {
  if ((ps->nmaps + 1) * 2 * sizeof(uintptr_t) > ps->maps_bytes) {
    size_t bytes = ps->maps_bytes != 0 ? ps->maps_bytes * 2 : PS_MAPS_FIRST * 2 * sizeof(uintptr_t);
    uintptr_t *grown = sys_map(bytes);
    if (grown == NULL)
      return false;
    if (ps->maps != NULL)
      memcpy(grown, ps->maps, ps->nmaps * 2 * sizeof(uintptr_t));
    sys_unmap(ps->maps, ps->maps_bytes);
    ps->maps = grown;
    ps->maps_bytes = bytes;
  }
  ps->maps[2 * ps->nmaps] = lo;
  ps->maps[2 * ps->nmaps + 1] = hi;
  ps->nmaps++;
  return true;
}

/* Reads the readable ranges of /proc/self/maps (which lists them sorted). */
static void ps_maps_read(procstack_t *ps) {
  ps->nmaps = 0;
  ps->maps_reads++;
  int fd = sys_open_ro("/proc/self/maps");
  if (fd < 0)
    return;
  char buf[4096];
  int field = 0; /* 0: start, 1: end, 2: permissions' first letter, 3: rest of the line */
  uintptr_t a = 0, b = 0;
  ssize_t n;
  while ((n = sys_read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n') {
        field = 0;
        a = b = 0;
      } else if (field == 0 && c == '-') {
        field = 1;
      } else if (field == 1 && c == ' ') {
        field = 2;
      } else if (field == 2) {
        field = 3;
        if (c == 'r' && b > a && !ps_maps_add(ps, a, b)) {
          sys_close(fd);
          return;
        }
      } else if (field < 2) {
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : 0;
        if (field == 0)
          a = a << 4 | (uintptr_t)d;
        else
          b = b << 4 | (uintptr_t)d;
      }
    }
  }
  sys_close(fd);
}

/* The end of the readable mapping that holds sp, or 0. */
static uintptr_t ps_maps_end(const procstack_t *ps, uintptr_t sp) {
  size_t lo = 0, hi = ps->nmaps; /* the last range that starts at or before sp */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ps->maps[2 * mid] <= sp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo > 0 && sp < ps->maps[2 * (lo - 1) + 1] ? ps->maps[2 * (lo - 1) + 1] : 0;
}

/* ------------------------------------------------------------ one thread ------------------- */

/* What a failed read of one of tid's files means: gone, or (the thread still there) the kernel
 * does not have that file. */
static int ps_missing(pid_t tid) { return sys_thread_alive(tid) ? -ENOSYS : -ESRCH; }

/* Reads where tid is blocked: 0, -EAGAIN (running), -ESRCH, -ENOSYS or -EIO. */
static int ps_where(pid_t tid, ps_where_t *w) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  ssize_t n = sys_read_file(path, buf, sizeof buf);
  if (n < 0)
    return ps_missing(tid);
  if (strncmp(buf, "running", 7) == 0)
    return -EAGAIN;
  unsigned long long v[9];
  int nv = 0;
  char *p = buf, *end;
  w->nr = strtol(p, &end, 10);
  for (p = end; nv < 9 && *p == ' '; p = end) {
    v[nv] = strtoull(p + 1, &end, 16);
    if (end == p + 1)
      break;
    nv++;
  }
  if ((w->nr < 0 && nv != 2) || (w->nr >= 0 && nv != 8))
    return -EIO;
  w->sp = (uintptr_t)v[nv - 2];
  w->pc = (uintptr_t)v[nv - 1];
  if (w->sp == 0 || w->pc == 0) /* a thread without a stack: exiting */
    return sys_thread_alive(tid) ? -EIO : -ESRCH;
  return 0;
}

/* tid's scheduler statistics as text; false when the kernel keeps none (or tid is gone). */
static bool ps_schedstat(pid_t tid, char *buf, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
  return sys_read_file(path, buf, len) > 0 && strncmp(buf, "0 0 0", 5) != 0;
}

/* Copies tid's stack from w->sp and walks it; the depth, with *copied the bytes copied. */
static int ps_walk(procstack_t *ps, const ps_where_t *w, uintptr_t map_end, uintptr_t *pcs, int max,
                   ssize_t *copied) {
  size_t most = map_end - w->sp < PROCSTACK_COPY_MAX ? map_end - w->sp : PROCSTACK_COPY_MAX;
  size_t len = most < PROCSTACK_COPY_FIRST ? most : PROCSTACK_COPY_FIRST;
  for (;;) {
    ssize_t got = sys_read_self_mem(ps->buf, w->sp, len);
    *copied = got;
    unwind_copy_t copy = {
        .data = ps->buf, .base = w->sp, .len = got > 0 ? (size_t)got : 0, .end = w->sp + most};
    const unwind_set_t *set = tables_enter();
    int depth = unwind_from_copy(w->pc, w->sp, set, &copy, pcs, max);
    tables_exit();
    if (!copy.short_copy || got < (ssize_t)len || len == most)
      return depth;
    len = most; /* the walk wanted more of the stack */
  }
}

int procstack_capture(procstack_t *ps, pid_t tid, const threadrec_t *rec, uintptr_t *pcs, int max,
                      int *depth, threadrec_info_t *info, bool *have_info) {
  int rc = -EBUSY;
  *depth = 0;
  *have_info = false;
  for (int try = 0; try < PROCSTACK_TRIES; try++) {
    char stat1[128], stat2[128];
    bool stats = ps_schedstat(tid, stat1, sizeof stat1);
    ps_where_t w1, w2;
    if ((rc = ps_where(tid, &w1)) != 0)
      return rc;
    uintptr_t end = ps_maps_end(ps, w1.sp);
    if (end == 0 && ps->maps_reads < PS_MAPS_READS) { /* not read yet, or the stack is newer */
      ps_maps_read(ps);
      end = ps_maps_end(ps, w1.sp);
    }
    if (end == 0)
      return sys_thread_alive(tid) ? -EIO : -ESRCH;
    ssize_t copied;
    int d = ps_walk(ps, &w1, end, pcs, max, &copied);
    if (rec != NULL)
      *have_info = threadrec_read(rec, tid, info);
    rc = ps_where(tid, &w2);
    if (rc == -ESRCH || rc == -ENOSYS)
      return rc;
    bool still = rc == 0 && w2.nr == w1.nr && w2.sp == w1.sp && w2.pc == w1.pc;
    if (still && stats)
      still = ps_schedstat(tid, stat2, sizeof stat2) && strcmp(stat1, stat2) == 0;
    if (still) {
      if (copied <= 0 || d <= 0)
        return -EIO;
      *depth = d;
      return 0;
    }
    if (rc == 0)
      rc = -EBUSY; /* it ran, and is blocked again: try again */
  }
  *have_info = false;
  return rc;
}
