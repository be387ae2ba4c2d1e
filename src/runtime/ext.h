/*
 * ext.h — the line between libcprof's two halves.
 *
 * libcprof.so is loaded into every process that has it in LD_PRELOAD, profiled or not, so it must
 * stay small and start fast: it holds only the sampling machinery (timers, signal handler, ring,
 * stack tables, thread hooks) and depends on nothing but libc. Everything heavy — symbolization
 * (libdw), unwind-table building (libdw), the profile encoder and gzip (zlib), the HTTP server
 * (libmicrohttpd) — lives in the extension, libcprof-ext.so, which the core dlopens from its own
 * directory the first time it is needed (the HTTP server is a third part, below). In libcprof.a
 * everything is linked together and reached directly.
 *
 * The two halves talk only through the two tables below, each beginning with its size so that a
 * newer half can tell what an older one provides. The core passes its table to cprof_ext_init()
 * and receives the extension's.
 */
#ifndef CPROF_RUNTIME_EXT_H
#define CPROF_RUNTIME_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unwind.h"

#define RT_MAX_VALUES 4

/* A label of a sample: a string (str set) or a number (num, with unit or NULL). */
typedef struct rt_label {
  const char *key;
  const char *str;
  int64_t num;
  const char *unit;
} rt_label_t;

/* One sample: a stack (leaf first) and its values, one per sample type. */
typedef struct rt_sample {
  const uintptr_t *pcs;
  uint32_t depth;
  int64_t values[RT_MAX_VALUES];
  /* When set, the sample's stack is a single pseudo-frame of this name (pcs are ignored), as Go
   * writes runtime/pprof.lostProfileEvent for samples it had to drop. */
  const char *synthetic;
  const rt_label_t *labels;
  size_t nlabels;
} rt_sample_t;

/* Everything the extension needs to write a profile. Strings are borrowed for the call. */
typedef struct rt_profile_desc {
  const char *sample_type[RT_MAX_VALUES][2]; /* {type, unit} */
  size_t nvalues;
  const char *period_type[2];
  int64_t period;
  int64_t time_nanos;
  int64_t duration_nanos;
  const char *default_sample_type; /* NULL: none */
  /* true for CPU samples: pcs[0] is the interrupted instruction and every other pc a return
   * address. false: every pc is a return address (or a call site already). Return addresses are
   * symbolized and written as pc - 1, the call instruction, as Go does. */
  bool leaf_is_exact;
  const char *comments[4]; /* NULL-terminated when shorter */
  const rt_sample_t *samples;
  size_t nsamples;
} rt_profile_desc_t;

/* One record of the heap profile for Go's legacy text form (heap?debug=1): raw sampled counts,
 * not scaled. */
typedef struct rt_heap_record {
  const uintptr_t *pcs; /* return addresses, leaf first */
  uint32_t depth;
  int64_t inuse_objects, inuse_bytes, alloc_objects, alloc_bytes;
} rt_heap_record_t;

typedef struct rt_heap_text {
  const rt_heap_record_t *records; /* any order: the writer sorts them as Go does */
  size_t nrecords;
  int64_t rate; /* the sampling rate in bytes */
} rt_heap_text_t;

/* One record of a count profile (goroutine, threadcreate, the user-defined ones): a stack of
 * return addresses, leaf first, and how many times it was seen, with its labels. */
typedef struct rt_count_record {
  const uintptr_t *pcs;
  uint32_t depth;
  int64_t count;
  /* When set, the record's stack is this pseudo-frame (a thread whose stack could not be taken,
   * and why): the proto names it, and pcs hold one return address into a core function of that
   * name, for the text forms, whose parsers want an address. */
  const char *synthetic;
  const rt_label_t *labels; /* sorted by key */
  size_t nlabels;
} rt_count_record_t;

/* A count profile for Go's debug=1 text (printCountProfile). */
typedef struct rt_count_text {
  const char *name;                 /* "goroutine", "threadcreate", a user-defined profile's */
  const rt_count_record_t *records; /* any order: the writer sorts them as Go does */
  size_t nrecords;
  const char *note; /* NULL, or a line the writer adds after the header as a "# " comment */
} rt_count_text_t;

/* One thread of the threads profile's debug=2 dump. */
typedef struct rt_thread_info {
  int tid;
  const char *name;     /* /proc's comm */
  const char *state;    /* "running", "sleeping", "disk", "stopped", ... */
  const uintptr_t *pcs; /* leaf first, as return addresses */
  uint32_t depth;
  bool leaf_interrupted; /* pcs[0] is the interrupted instruction + 1, not a return address */
  const char *synthetic; /* as in rt_count_record_t, with why saying why there is no stack */
  const char *why;
  const char *wait;     /* the primitive it waits in ("mutex", "cond", ...), or NULL */
  uintptr_t wait_obj;   /* the object waited on */
  int64_t wait_ns;      /* for how long */
  uintptr_t created_pc; /* the return address of the pthread_create that made it, or 0 */
  int created_tid;      /* the thread that called it */
  const rt_label_t *labels;
  size_t nlabels;
  bool current; /* the thread that asked for the dump */
} rt_thread_info_t;

typedef struct rt_thread_dump {
  const rt_thread_info_t *threads; /* in the order to print */
  size_t nthreads;
  const char *note; /* NULL, or a line printed first as a "# " comment */
} rt_thread_dump_t;

/* One record of the block or mutex profile for Go's legacy text form (debug=1), as the proto has
 * it: the unbiased count and the delay in "cycles" (nanoseconds here). */
typedef struct rt_sync_record {
  const uintptr_t *pcs; /* return addresses, leaf first */
  uint32_t depth;
  int64_t cycles, count;
} rt_sync_record_t;

typedef struct rt_sync_text {
  bool mutex; /* "--- mutex:" with a "sampling period=" line, else "--- contention:" */
  int64_t cycles_per_second;       /* the unit of cycles */
  int64_t period;                  /* the mutex profile's fraction */
  const rt_sync_record_t *records; /* any order: the writer sorts them as Go does */
  size_t nrecords;
} rt_sync_text_t;

/* What the core offers the extension. */
typedef struct core_api {
  size_t size;
  /* The public CPU profile calls, for the HTTP handler. */
  int (*cpu_start)(int fd);
  int (*cpu_stop)(void);
  /* A message to stderr, prefixed "cprof: ", and remembered for cprof_last_error(). */
  void (*report)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
  /* The process's argv as read at start-up (for /debug/pprof/cmdline): NUL-separated. */
  const char *(*cmdline)(size_t *len);
  /* The heap profile (heap.c). A snapshot is a copy of the sampled records at one moment, to
   * write at once or to subtract from a later one (a delta, ?seconds=N). heap_write writes snap,
   * minus base when base is not NULL: debug 0 as gzipped profile.proto (default sample type
   * alloc_space when allocs, else inuse_space), debug >= 1 as Go's text. 0 or a negative errno. */
  void *(*heap_snapshot)(void);
  void (*heap_snapshot_free)(void *snap);
  int (*heap_write)(int fd, const void *snap, const void *base, int debug, bool allocs);
  long (*heap_count)(void); /* records, for the index page */
  /* Whether the module loaded at base came in with the extension (libdw, zlib, ...): code only
   * the profiler's own threads run, which needs no unwind tables. */
  bool (*ext_module)(uintptr_t base);
  /* The count profiles (countprof.c): "goroutine" (alias "threads": every thread's stack now),
   * "threadcreate" and the user-defined ones (cprof_profile_new). count_snapshot takes one now
   * (NULL when there is no such profile, or no memory); count_write writes snap, minus base when
   * base is not NULL, as debug 0 gzipped profile.proto, 1 Go's count text, 2 the per-thread dump
   * (goroutine, without base; 1 for the others). count_of is the index page's count, or -ENOENT
   * for no such profile. count_custom fills names (up to max) with the user-defined profiles'
   * names, which live as long as the process, and returns how many there are. */
  void *(*count_snapshot)(const char *name);
  void (*count_snapshot_free)(void *snap);
  int (*count_write)(int fd, const void *snap, const void *base, int debug);
  long (*count_of)(const char *name);
  size_t (*count_custom)(const char **names, size_t max);
  /* The block and mutex profiles (synctab.c, syncwrite.c), as the heap's above: which is 0 for
   * block, 1 for mutex; sync_write writes snap minus base (when not NULL), debug 0 as gzipped
   * profile.proto, >= 1 as Go's text; sync_count is the number of records, for the index page. */
  void *(*sync_snapshot)(int which);
  void (*sync_snapshot_free)(void *snap);
  int (*sync_write)(int fd, const void *snap, const void *base, int debug);
  long (*sync_count)(int which);
} core_api_t;

/* What the extension offers the core. */
typedef struct ext_api {
  size_t size;
  /* Symbolizes, encodes, gzips and writes the profile to fd. 0 or a negative errno. */
  int (*profile_write)(int fd, const rt_profile_desc_t *desc);
  /* Builds unwind tables for every module loaded now, reusing the modules of old that are still
   * loaded at the same address. NULL when out of memory. */
  unwind_set_t *(*unwind_build)(const unwind_set_t *old);
  void (*unwind_free)(unwind_set_t *set);
  /* Writes Go's heap?debug=1 text to fd: records sorted by in-use bytes, each with its symbolized
   * stack as "#\t0x..\tfunc+0x..\tfile:line" lines, and the allocator's statistics at the end. */
  int (*heap_text_write)(int fd, const rt_heap_text_t *text);
  /* Writes Go's count-profile text (debug=1 of goroutine, threadcreate and the user-defined
   * profiles): "<name> profile: total N", then each record "N @ 0x.. 0x..", its labels and its
   * symbolized stack, most frequent first (counttext.c). */
  int (*count_text_write)(int fd, const rt_count_text_t *text);
  /* Writes the threads profile's debug=2 dump: one block per thread, its state and its
   * symbolized stack, laid out after Go's goroutine dump (threadtext.c). */
  int (*threads_text_write)(int fd, const rt_thread_dump_t *dump);
  /* Writes Go's block or mutex debug=1 text to fd: "--- contention:" or "--- mutex:", the
   * cycles/second line (and the mutex profile's sampling period), records sorted by cycles with
   * their symbolized stacks, and the memory map. */
  int (*sync_text_write)(int fd, const rt_sync_text_t *text);
} ext_api_t;

/* What the HTTP plugin offers the core: cprof_http_start() and friends (cprof.h). */
typedef struct http_api {
  size_t size;
  int (*start)(const char *addr, const char *token);
  int (*port)(void);
  int (*stop)(void);
} http_api_t;

/* Extension side: the core's table, set by cprof_ext_init() before anything else runs. */
extern const core_api_t *ext_core;

/* The extension's modules, gathered into its table by ext_entry.c. */
int builder_profile_write(int fd, const rt_profile_desc_t *desc); /* builder.c */
unwind_set_t *cfi_build(const unwind_set_t *old);                  /* cfi.c */
void cfi_free(unwind_set_t *set);                                  /* cfi.c */
int heaptext_write(int fd, const rt_heap_text_t *text);            /* heaptext.c */
int counttext_write(int fd, const rt_count_text_t *text);          /* counttext.c */
int threadtext_write(int fd, const rt_thread_dump_t *dump);        /* threadtext.c */
int synctext_write(int fd, const rt_sync_text_t *text);            /* synctext.c */

/* The extension's one entry point. Called once; returns its table, or NULL with a report made. */
const ext_api_t *cprof_ext_init(const core_api_t *core);

/* Core side: loads the extension on first use (thread-safe). NULL when it cannot be loaded; the
 * reason was reported. */
const ext_api_t *ext_get(void);

/* The HTTP plugin (libcprof-http.so: http.c, http_pprof.c), apart from the extension because
 * libmicrohttpd brings GnuTLS and its friends (a megabyte and more of memory, and their
 * initialization) into every process that loads it; only a process that serves HTTP needs them.
 * It links against the extension and uses its ext_core. Its one entry point: */
const http_api_t *cprof_http_init(const core_api_t *core);

/* Core side: loads the extension, then the HTTP plugin, on first use. NULL when either cannot be
 * loaded (reported). */
const http_api_t *http_get(void);

#endif /* CPROF_RUNTIME_EXT_H */
