/*
 * ext_load.c — finding the extension (libcprof-ext.so) the first time it is needed.
 *
 * Built twice. In libcprof.so (CPROF_EXT_DLOPEN) it dlopens libcprof-ext.so.0 from the directory
 * libcprof.so itself was loaded from (found with dladdr), then by name through the loader's search
 * path, and calls its cprof_ext_init. In libcprof.a (CPROF_EXT_STATIC) the extension is linked in
 * and called directly. Either way the core hands over its table of services, core_api.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cpu.h"
#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/profiles.h"
#include "runtime/report.h"
#include "runtime/sync.h"

static char cmdline_buf[8192];

static void read_cmdline(void) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t got = read(fd, cmdline_buf, sizeof cmdline_buf - 1);
  (void)got;
  close(fd);
}

/* /proc/self/cmdline without its final NUL, read when first asked (nothing at start-up). */
static const char *core_cmdline(size_t *len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, read_cmdline);
  size_t n = sizeof cmdline_buf;
  while (n > 0 && cmdline_buf[n - 1] == '\0')
    n--;
  *len = n;
  return cmdline_buf;
}


/* The load addresses of the modules that dlopen of the extension brought in: itself and its
 * libraries, unless the program had them already. Written once, before ext_loaded is set. */
#define EXT_MODULES_MAX 128
typedef struct module_bases {
  uintptr_t base[EXT_MODULES_MAX];
  size_t n;
} module_bases_t;
static module_bases_t ext_modules;

/* In libcprof.a the extension's libraries are linked into the program: ext_modules stays empty. */
static bool core_ext_module(uintptr_t base) {
  for (size_t i = 0; i < ext_modules.n; i++)
    if (ext_modules.base[i] == base)
      return true;
  return false;
}

/* The executable ranges of those modules, for the heap hooks: an allocation whose stack passes
 * through the extension is the profiler's own (its HTTP server's threads, libdw, zlib). Written
 * before ext_nranges is published; read without a lock. */
#define EXT_RANGES_MAX 256
static struct {
  uintptr_t lo, hi;
} ext_ranges[EXT_RANGES_MAX];
static _Atomic size_t ext_nranges;

/* The smallest range holding them all, checked first: the heap hooks ask for every frame of every
 * sample, and nearly every frame (the program's, libc's) lies outside it. Stored before
 * ext_nranges is published; only ever widens, as the set of modules only grows. */
static _Atomic uintptr_t ext_span_lo = UINTPTR_MAX, ext_span_hi;

/* Async-signal-safe. In libcprof.a there are no ranges: the extension is the program's code. */
bool ext_code_has(uintptr_t pc) {
  size_t n = atomic_load_explicit(&ext_nranges, memory_order_acquire);
  if (n == 0 || pc < atomic_load_explicit(&ext_span_lo, memory_order_relaxed) ||
      pc >= atomic_load_explicit(&ext_span_hi, memory_order_relaxed))
    return false;
  for (size_t i = 0; i < n; i++)
    if (pc >= ext_ranges[i].lo && pc < ext_ranges[i].hi)
      return true;
  return false;
}

#if defined(CPROF_EXT_DLOPEN)
static int collect_ranges(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  size_t *n = data;
  if (!core_ext_module(info->dlpi_addr))
    return 0;
  for (int i = 0; i < info->dlpi_phnum && *n < EXT_RANGES_MAX; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      ext_ranges[*n].lo = info->dlpi_addr + ph->p_vaddr;
      ext_ranges[(*n)++].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
  }
  return 0;
}

static int collect_base(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  module_bases_t *b = data;
  if (b->n < EXT_MODULES_MAX)
    b->base[b->n++] = info->dlpi_addr;
  return 0;
}

static bool in_bases(const module_bases_t *b, uintptr_t base) {
  for (size_t i = 0; i < b->n; i++)
    if (b->base[i] == base)
      return true;
  return false;
}

#endif


static const core_api_t core_table = {
    .size = sizeof(core_api_t),
    .cpu_start = cpu_start,
    .cpu_stop = cpu_stop,
    .report = report,
    .cmdline = core_cmdline,
    .heap_snapshot = heap_snapshot,
    .heap_snapshot_free = heap_snapshot_free,
    .heap_write = heap_write,
    .heap_count = heap_count,
    .ext_module = core_ext_module,
    .count_snapshot = profiles_count_snapshot,
    .count_snapshot_free = profiles_count_snapshot_free,
    .count_write = profiles_count_write,
    .count_of = profiles_count_of,
    .count_custom = profiles_count_custom,
    .sync_snapshot = sync_snapshot,
    .sync_snapshot_free = sync_snapshot_free,
    .sync_write = sync_write,
    .sync_count = sync_count,
};

static const ext_api_t *ext_loaded;
static pthread_once_t ext_once = PTHREAD_ONCE_INIT;
static const http_api_t *http_loaded;
static pthread_once_t http_once = PTHREAD_ONCE_INIT;

#if defined(CPROF_EXT_DLOPEN)
/* dlopens soname from the directory libcprof.so was loaded from, else through the loader's search
 * path, and records the modules it brought in (see ext_modules). NULL, reported, on failure. */
static void *plugin_open(const char *soname) {
  static module_bases_t before, after;
  before.n = after.n = 0;
  dl_iterate_phdr(collect_base, &before);
  void *h = NULL;
  Dl_info info;
  if (dladdr((void *)ext_get, &info) != 0 && info.dli_fname != NULL &&
      strrchr(info.dli_fname, '/') != NULL) {
    char path[PATH_MAX];
    int dir = (int)(strrchr(info.dli_fname, '/') - info.dli_fname);
    snprintf(path, sizeof path, "%.*s/%s", dir, info.dli_fname, soname);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
  if (h == NULL)
    h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *e = dlerror();
    report("cannot load %s: %s", soname, e ? e : "not found");
    return NULL;
  }
  dl_iterate_phdr(collect_base, &after);
  for (size_t i = 0; i < after.n; i++)
    if (!in_bases(&before, after.base[i]) && ext_modules.n < EXT_MODULES_MAX)
      ext_modules.base[ext_modules.n++] = after.base[i];
  size_t n = 0;
  dl_iterate_phdr(collect_ranges, &n);
  for (size_t i = 0; i < n; i++) {
    if (ext_ranges[i].lo < atomic_load_explicit(&ext_span_lo, memory_order_relaxed))
      atomic_store_explicit(&ext_span_lo, ext_ranges[i].lo, memory_order_relaxed);
    if (ext_ranges[i].hi > atomic_load_explicit(&ext_span_hi, memory_order_relaxed))
      atomic_store_explicit(&ext_span_hi, ext_ranges[i].hi, memory_order_relaxed);
  }
  atomic_store_explicit(&ext_nranges, n, memory_order_release);
  return h;
}

static void ext_load(void) {
  void *h = plugin_open("libcprof-ext.so.0");
  if (h == NULL)
    return;
  const ext_api_t *(*init)(const core_api_t *) =
      (const ext_api_t *(*)(const core_api_t *))dlsym(h, "cprof_ext_init");
  ext_loaded = init ? init(&core_table) : NULL;
  if (ext_loaded == NULL)
    report("libcprof-ext.so.0 does not match this libcprof.so");
}

static void http_load(void) {
  void *h = ext_get() != NULL ? plugin_open("libcprof-http.so.0") : NULL;
  if (h == NULL)
    return;
  const http_api_t *(*init)(const core_api_t *) =
      (const http_api_t *(*)(const core_api_t *))dlsym(h, "cprof_http_init");
  http_loaded = init ? init(&core_table) : NULL;
  if (http_loaded == NULL)
    report("libcprof-http.so.0 does not match this libcprof.so");
}
#else
static void ext_load(void) { ext_loaded = cprof_ext_init(&core_table); }

static void http_load(void) { http_loaded = ext_get() ? cprof_http_init(&core_table) : NULL; }
#endif

/* Loading runs inside the heap guard: the plugins' libraries allocate in their constructors
 * (GnuTLS's initialization, under libmicrohttpd), and that memory is the profiler's, not the
 * program's. */
static void ext_load_guarded(void) {
  heap_guard_enter();
  ext_load();
  heap_guard_exit();
}

static void http_load_guarded(void) {
  heap_guard_enter();
  http_load();
  heap_guard_exit();
}

const ext_api_t *ext_get(void) {
  pthread_once(&ext_once, ext_load_guarded);
  return ext_loaded;
}

const http_api_t *http_get(void) {
  pthread_once(&http_once, http_load_guarded);
  return http_loaded;
}
