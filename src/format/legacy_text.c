/*
 * legacy_text.c — the legacy text profiles, read as pprof reads them: heap (and growth), Go's count
 * profiles (goroutine, threadcreate), threadz, and contention.
 *
 * Heap: a header "heap profile: N: B [AN: AB] @ <kind>[/<rate>]", then one line per stack,
 * "n: b [an: ab] @ 0x.. 0x..". The kind says how the counts were sampled: heapz_v2 and heap_v2 at
 * the given rate, Go's "heap/2R" at rate R (Go writes twice the rate), heapprofile unsampled;
 * growthz and fragmentationz headers carry no rate. v2-sampled counts are unbiased: count and bytes
 * are multiplied by 1 / (1 - exp(-avg / R)), avg being the mean object size. When the header's
 * alloc totals differ from the in-use ones (and are not 0) the profile has four sample types,
 * alloc_objects, alloc_space, inuse_objects, inuse_space; else two, objects and space. Every sample
 * gets the numeric label "bytes" = its mean object size (of the in-use pair when it has objects).
 * Go's debug=1 text, and libcprof's, are this format; their "#" lines are comments.
 *
 * Count: "<type> profile: total N", then "n @ 0x.. 0x.." per stack (Go's goroutine and
 * threadcreate debug=1 text); one sample type <type>/count.
 *
 * Threadz: "--- threadz N ---", then per thread "--- Thread <id> (name: <name>/<tid>) stack: ---"
 * and lines holding its addresses ("[same as previous thread]" counts the previous stack again).
 * One sample type thread/count. The leaf address is not moved back (it is not a return address).
 *
 * Contention: "--- contentionz N ---", "--- mutex:" or "--- contention:", "key = value" attributes
 * (cycles/second, sampling period, ms since reset), then "<delay cycles> <count> @ 0x.. 0x..".
 * Sample types contentions/count and delay/nanoseconds; with a sampling period P the counts are
 * multiplied by P, and with a clock rate too the delays become nanoseconds x P.
 *
 * Every address but the threadz leaf is moved back by one (to the call, from the return address).
 * The text may end with a memory map after "--- Memory map: ---" (maps.c). Where pprof's reader
 * says "unrecognized" (the next reader may try) and where it fails is kept as pprof has it, line
 * for line, since that decides which reader gets a file.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/legacy.h"

#define HEAP_COUNTS "heap profile: *(\\d+): *(\\d+) *\\[ *(\\d+): *(\\d+) *\\]"
static lg_rx_t heap_header_rx = LG_RX(HEAP_COUNTS " *@ *(heap[_a-z0-9]*)/?(\\d*)");
static lg_rx_t growth_header_rx = LG_RX(HEAP_COUNTS " @ growthz?");
static lg_rx_t frag_header_rx = LG_RX(HEAP_COUNTS " @ fragmentationz?");
static lg_rx_t heap_sample_rx =
    LG_RX("(-?\\d+): *(-?\\d+) *\\[ *(\\d+): *(\\d+) *\\] @([ x0-9a-f]*)");
static lg_rx_t count_header_rx = LG_RX("^(\\S+) profile: total \\d+$");
static lg_rx_t count_sample_rx = LG_RX("^(\\d+) @(( 0x[0-9a-f]+)+)$");
static lg_rx_t threadz_rx = LG_RX("--- threadz \\d+ ---");
static lg_rx_t thread_rx = LG_RX("--- Thread ([[:xdigit:]]+) \\(name: (.*)/(\\d+)\\) stack: ---");
static lg_rx_t contention_sample_rx = LG_RX("(\\d+) *(\\d+) @([ x0-9a-f]*)");

static lg_str_t cur(const lg_scan_t *s) { return (lg_str_t){s->line, s->line_len}; }

static int too_long(lg_t *g, const lg_scan_t *s) {
  return lg_fail(g, -EINVAL, "line %zu is longer than %d bytes", s->lineno, LG_MAX_LINE);
}

/* Quotes at most 60 bytes of a line for an error message. */
#define Q(l) (int)((l).n > 60 ? 60 : (l).n), (l).s

/* ------------------------------------------------------------ addresses ---------------------- */

typedef struct addrs {
  uint64_t *a;
  size_t n, cap;
} addrs_t;

/*
 * Appends every "0x<lower-case hex>" of s (pprof's parseHexAddresses); 0, -ERANGE when one does
 * not fit in 64 bits, -ENOMEM.
 */
static int hex_addrs(lg_str_t s, addrs_t *v) {
  for (size_t i = 0; i + 2 < s.n; i++) {
    if (s.s[i] != '0' || s.s[i + 1] != 'x')
      continue;
    size_t j = i + 2;
    while (j < s.n && ((s.s[j] >= '0' && s.s[j] <= '9') || (s.s[j] >= 'a' && s.s[j] <= 'f')))
      j++;
    if (j == i + 2)
      continue;
    uint64_t a;
    if (go_parse_uint((lg_str_t){s.s + i, j - i}, 0, &a) < 0)
      return -ERANGE;
    if (v->n == v->cap) {
      size_t cap = v->cap ? v->cap * 2 : 64;
      uint64_t *t = realloc(v->a, cap * sizeof *t);
      if (!t)
        return -ENOMEM;
      v->a = t;
      v->cap = cap;
    }
    v->a[v->n++] = a;
    i = j - 1;
  }
  return 0;
}

/* Adds a sample of nv values with the addresses, moved back by one from index `from` on. */
static lg_sample_t *add_sample(lg_t *g, const int64_t *v, size_t nv, const addrs_t *a,
                               size_t from) {
  lg_sample_t *s = lg_sample_new(g, v, nv);
  for (size_t i = 0; s && i < a->n; i++)
    if (lg_push_addr(g, i >= from ? a->a[i] - 1 : a->a[i]) < 0)
      s = NULL;
  if (!s)
    lg_fail(g, -ENOMEM, "out of memory");
  return s ? &g->smp[g->nsmp - 1] : NULL;
}

/* ------------------------------------------------------------------ heap -------------------- */

typedef struct heap {
  bool v2, has_alloc;
  addrs_t addrs;
} heap_t;

/* pprof's parseHeapHeader; 0 or LG_UNRECOGNIZED. */
static int heap_header(lg_t *g, heap_t *h, lg_str_t line, const size_t *cap) {
  lg_str_t n[7];
  for (int k = 1; k <= 6; k++)
    n[k] = lg_group(line, cap, k);
  int64_t rate = 0;
  if (n[6].n && go_parse_int(n[6], 10, &rate) < 0)
    return LG_UNRECOGNIZED;
  lg_str_t zero = {"0", 1};
  h->has_alloc = (!go_str_eq(n[3], n[1]) && !go_str_eq(n[3], zero)) ||
                 (!go_str_eq(n[4], n[2]) && !go_str_eq(n[4], zero));
  lg_str_t kind = n[5];
  if (go_str_eq(kind, (lg_str_t){"heapz_v2", 8}) || go_str_eq(kind, (lg_str_t){"heap_v2", 7}))
    h->v2 = true, g->period = rate;
  else if (go_str_eq(kind, (lg_str_t){"heapprofile", 11}))
    g->period = 1;
  else if (go_str_eq(kind, (lg_str_t){"heap", 4}))
    h->v2 = true, g->period = rate / 2;
  else
    return LG_UNRECOGNIZED;
  return 0;
}

/* pprof's scaleHeapSample: the counts divided by their probability of being sampled. */
static void unsample(int64_t *count, int64_t *size, int64_t rate) {
  if (*count == 0 || *size == 0) {
    *count = *size = 0;
    return;
  }
  if (rate <= 1)
    return;
  double avg = (double)*size / (double)*count;
  double scale = 1 / (1 - exp(-avg / (double)rate));
  *count = go_f2i((double)*count * scale);
  *size = go_f2i((double)*size * scale);
}

/* One pair of counts into v; sets *block (the mean size) when the count is not 0. */
static int heap_pair(lg_t *g, const heap_t *h, lg_str_t cs, lg_str_t ss, const char *what,
                     int64_t *v, int64_t *block, size_t lineno) {
  int64_t count, size;
  if (go_parse_int(cs, 10, &count) < 0 || go_parse_int(ss, 10, &size) < 0)
    return lg_fail(g, -EINVAL, "heap profile, line %zu: %s count or bytes out of range", lineno,
                   what);
  if (count == 0 && size != 0)
    return lg_fail(g, -EINVAL, "heap profile, line %zu: %s count was 0 but %s bytes was %lld",
                   lineno, what, what, (long long)size);
  if (count != 0) {
    *block = count == -1 ? (int64_t)(0 - (uint64_t)size) : size / count;
    if (h->v2)
      unsample(&count, &size, g->period);
  }
  v[0] = count, v[1] = size;
  return 0;
}

static int heap_sample(lg_t *g, heap_t *h, lg_str_t line, size_t lineno) {
  size_t cap[2 * RX_MAX_GROUPS];
  int r = lg_find(g, &heap_sample_rx, line, cap);
  if (r <= 0)
    return r < 0 ? r
                 : lg_fail(g, -EINVAL, "heap profile, line %zu: not a sample: \"%.*s\"", lineno,
                           Q(line));
  int64_t v[4], block = 0;
  int rc = 0;
  if (h->has_alloc)
    rc = heap_pair(g, h, lg_group(line, cap, 3), lg_group(line, cap, 4), "allocation", v, &block,
                   lineno);
  if (rc == 0)
    rc = heap_pair(g, h, lg_group(line, cap, 1), lg_group(line, cap, 2), "inuse",
                   v + (h->has_alloc ? 2 : 0), &block, lineno);
  if (rc < 0)
    return rc;
  h->addrs.n = 0;
  if ((rc = hex_addrs(lg_group(line, cap, 5), &h->addrs)) < 0)
    return rc == -ENOMEM
               ? lg_fail(g, rc, "out of memory")
               : lg_fail(g, -EINVAL, "heap profile, line %zu: address out of range", lineno);
  lg_sample_t *s = add_sample(g, v, g->ntypes, &h->addrs, 0);
  if (!s)
    return -ENOMEM;
  s->has_bytes = true;
  s->bytes = block;
  return 0;
}

static int heap_body(lg_t *g, heap_t *h, lg_scan_t *s) {
  size_t cap[2 * RX_MAX_GROUPS];
  lg_str_t line = cur(s);
  g->period_type[0] = "space", g->period_type[1] = "bytes";
  int r = lg_find(g, &heap_header_rx, line, cap);
  if (r == 1) {
    if ((r = heap_header(g, h, line, cap)) != 0)
      return r;
  } else if (r == 0) {
    if ((r = lg_find(g, &growth_header_rx, line, cap)) == 0)
      r = lg_find(g, &frag_header_rx, line, cap);
    if (r == 0)
      return LG_UNRECOGNIZED;
    g->period = 1; /* growthz, fragmentationz */
  }
  if (r < 0)
    return r;
  static const char *const four[4][2] = {{"alloc_objects", "count"},
                                         {"alloc_space", "bytes"},
                                         {"inuse_objects", "count"},
                                         {"inuse_space", "bytes"}};
  static const char *const two[2][2] = {{"objects", "count"}, {"space", "bytes"}};
  g->ntypes = h->has_alloc ? 4 : 2;
  for (size_t i = 0; i < g->ntypes; i++)
    for (int k = 0; k < 2; k++)
      g->type[i][k] = h->has_alloc ? four[i][k] : two[i][k];
  while (lg_scan_next(s)) {
    line = go_trim_space(cur(s));
    if (go_space_or_comment(line))
      continue;
    if (lg_is_map_sentinel(line))
      break;
    if ((r = heap_sample(g, h, line, s->lineno)) < 0)
      return r;
  }
  if (s->too_long)
    return too_long(g, s);
  return lg_maps_after_sentinel(g, s);
}

int lg_parse_heap(lg_t *g, const char *data, size_t len) {
  lg_scan_t s;
  lg_scan_init(&s, data, len);
  if (!lg_scan_next(&s))
    return s.too_long ? too_long(g, &s) : LG_UNRECOGNIZED;
  heap_t h = {0};
  int rc = heap_body(g, &h, &s);
  free(h.addrs.a);
  return rc;
}

/* ------------------------------------------------------------------ count ------------------- */

typedef struct count {
  addrs_t addrs;
} count_t;

static int count_sample(lg_t *g, count_t *c, lg_str_t line, size_t lineno) {
  size_t cap[2 * RX_MAX_GROUPS];
  int r = lg_find(g, &count_sample_rx, line, cap);
  if (r < 0)
    return r;
  int64_t n;
  if (r == 0 || go_parse_int(lg_group(line, cap, 1), 0, &n) < 0)
    return lg_fail(g, -EINVAL, "count profile, line %zu: malformed: \"%.*s\"", lineno, Q(line));
  lg_str_t f = lg_group(line, cap, 2);
  c->addrs.n = 0;
  if ((r = hex_addrs(f, &c->addrs)) < 0)
    return r == -ENOMEM
               ? lg_fail(g, r, "out of memory")
               : lg_fail(g, -EINVAL, "count profile, line %zu: address out of range", lineno);
  return add_sample(g, &n, 1, &c->addrs, 0) ? 0 : -ENOMEM;
}

static int count_body(lg_t *g, count_t *c, lg_scan_t *s) {
  size_t cap[2 * RX_MAX_GROUPS];
  while (lg_scan_next(s) && go_space_or_comment(cur(s)))
    ;
  if (s->too_long)
    return too_long(g, s);
  lg_str_t line = cur(s);
  int r = lg_find(g, &count_header_rx, line, cap);
  if (r <= 0)
    return r < 0 ? r : LG_UNRECOGNIZED;
  lg_str_t type = lg_group(line, cap, 1);
  if (!(g->owned_type = strndup(type.s, type.n)))
    return lg_fail(g, -ENOMEM, "out of memory");
  g->type[0][0] = g->period_type[0] = g->owned_type;
  g->type[0][1] = g->period_type[1] = "count";
  g->ntypes = 1;
  g->period = 1;
  while (lg_scan_next(s)) {
    line = cur(s);
    if (go_space_or_comment(line))
      continue;
    if (go_has_prefix(line, "---"))
      break;
    if ((r = count_sample(g, c, line, s->lineno)) < 0)
      return r;
  }
  if (s->too_long)
    return too_long(g, s);
  return lg_maps_after_sentinel(g, s);
}

int lg_parse_count(lg_t *g, const char *data, size_t len) {
  lg_scan_t s;
  lg_scan_init(&s, data, len);
  count_t c = {0};
  int rc = count_body(g, &c, &s);
  free(c.addrs.a);
  return rc;
}

/* ------------------------------------------------------------------ threadz ----------------- */

typedef struct thread {
  addrs_t addrs;
} thread_t;

/*
 * pprof's parseThreadSample: the addresses of one thread's stack, up to the next "---" line
 * (returned in *next, trimmed; "" at the end). None when the stack is "same as previous".
 */
static int thread_stack(lg_t *g, thread_t *t, lg_scan_t *s, lg_str_t *next) {
  bool same = false;
  int rc;
  *next = (lg_str_t){"", 0};
  t->addrs.n = 0;
  while (lg_scan_next(s)) {
    lg_str_t line = go_trim_space(cur(s));
    *next = line;
    if (line.n == 0)
      continue;
    if (go_has_prefix(line, "---"))
      break;
    if (go_contains(line, "same as previous thread")) {
      same = true;
      continue;
    }
    if ((rc = hex_addrs(line, &t->addrs)) < 0)
      return rc == -ENOMEM
                 ? lg_fail(g, rc, "out of memory")
                 : lg_fail(g, -EINVAL, "thread profile, line %zu: address out of range", s->lineno);
  }
  if (s->too_long)
    return too_long(g, s);
  if (same)
    t->addrs.n = 0;
  return 0;
}

static int thread_body(lg_t *g, thread_t *t, lg_scan_t *s) {
  size_t cap[2 * RX_MAX_GROUPS];
  while (lg_scan_next(s) && go_space_or_comment(cur(s)))
    ;
  lg_str_t line = cur(s);
  int r = lg_find(g, &threadz_rx, line, cap);
  if (r == 1) {
    while (lg_scan_next(s)) {
      line = cur(s);
      if (lg_is_map_sentinel(line) || go_has_prefix(line, "-"))
        break;
    }
  } else if (r == 0 && (r = lg_find(g, &thread_rx, line, cap)) == 0) {
    return LG_UNRECOGNIZED;
  }
  if (r < 0)
    return r;
  g->type[0][0] = g->period_type[0] = "thread";
  g->type[0][1] = g->period_type[1] = "count";
  g->ntypes = 1;
  g->period = 1;
  while (!lg_is_map_sentinel(line)) {
    if (go_has_prefix(line, "---- no stack trace for"))
      break;
    if ((r = lg_find(g, &thread_rx, line, cap)) <= 0)
      return r < 0 ? r : LG_UNRECOGNIZED;
    if ((r = thread_stack(g, t, s, &line)) < 0)
      return r;
    if (t->addrs.n == 0) {
      if (g->nsmp > 0) { /* the previous thread's stack once more */
        lg_sample_t *p = &g->smp[g->nsmp - 1];
        p->v[0] = (int64_t)((uint64_t)p->v[0] + 1);
      }
      continue;
    }
    int64_t one = 1;
    if (!add_sample(g, &one, 1, &t->addrs, 1))
      return -ENOMEM;
  }
  if ((r = lg_maps_after_sentinel(g, s)) < 0)
    return r;
  lg_drop_duplicate_leaf(g);
  return 0;
}

int lg_parse_thread(lg_t *g, const char *data, size_t len) {
  lg_scan_t s;
  lg_scan_init(&s, data, len);
  thread_t t = {0};
  int rc = thread_body(g, &t, &s);
  free(t.addrs.a);
  return rc;
}

/* ------------------------------------------------------------------ contention -------------- */

typedef struct contention {
  int64_t cpu_hz;
  addrs_t addrs;
} contention_t;

/* One "key = value" line; 0, or LG_UNRECOGNIZED for keys and values pprof does not accept. */
static int contention_attr(lg_t *g, contention_t *c, lg_str_t key, lg_str_t val) {
  static const char *const keys[] = {"cycles/second", "sampling period", "ms since reset",
                                     "discarded samples"};
  int k = 0;
  while (k < 4 && !go_str_eq(key, (lg_str_t){keys[k], strlen(keys[k])}))
    k++;
  int64_t v;
  if (k == 4 || (k < 3 && go_parse_int(val, 0, &v) < 0))
    return LG_UNRECOGNIZED; /* "format" and "resolution" (Java) included */
  if (k == 0)
    c->cpu_hz = v;
  else if (k == 1)
    g->period = v;
  else if (k == 2)
    g->duration_nanos = (int64_t)((uint64_t)v * 1000 * 1000);
  return 0;
}

/* pprof's parseContentionSample; 0, LG_UNRECOGNIZED when the line is not a sample, or an error. */
static int contention_sample(lg_t *g, contention_t *c, lg_str_t line, size_t lineno) {
  size_t cap[2 * RX_MAX_GROUPS];
  int r = lg_find(g, &contention_sample_rx, line, cap);
  if (r <= 0)
    return r < 0 ? r : LG_UNRECOGNIZED;
  int64_t delay, count;
  if (go_parse_int(lg_group(line, cap, 1), 10, &delay) < 0 ||
      go_parse_int(lg_group(line, cap, 2), 10, &count) < 0)
    return lg_fail(g, -EINVAL, "contention profile, line %zu: value out of range: \"%.*s\"", lineno,
                   Q(line));
  int64_t period = g->period;
  if (period > 0) {
    if (c->cpu_hz > 0) {
      double ghz = (double)c->cpu_hz / 1e9;
      delay = go_f2i((double)delay * (double)period / ghz);
    }
    count = (int64_t)((uint64_t)count * (uint64_t)period);
  }
  c->addrs.n = 0;
  if ((r = hex_addrs(lg_group(line, cap, 3), &c->addrs)) < 0)
    return r == -ENOMEM
               ? lg_fail(g, r, "out of memory")
               : lg_fail(g, -EINVAL, "contention profile, line %zu: address out of range", lineno);
  int64_t v[2] = {count, delay};
  return add_sample(g, v, 2, &c->addrs, 0) ? 0 : -ENOMEM;
}

static int contention_body(lg_t *g, contention_t *c, lg_scan_t *s) {
  lg_str_t line = cur(s);
  if (!go_has_prefix(line, "--- contentionz ") && !go_has_prefix(line, "--- mutex:") &&
      !go_has_prefix(line, "--- contention:"))
    return LG_UNRECOGNIZED;
  g->type[0][0] = g->period_type[0] = "contentions";
  g->type[0][1] = g->period_type[1] = "count";
  g->type[1][0] = "delay", g->type[1][1] = "nanoseconds";
  g->ntypes = 2;
  g->period = 1;
  int r;
  while (lg_scan_next(s)) {
    line = go_trim_space(cur(s));
    if (go_space_or_comment(line))
      continue;
    const char *eq = memchr(line.s, '=', line.n);
    if (go_has_prefix(line, "---") || !eq)
      break;
    lg_str_t key = go_trim_space((lg_str_t){line.s, (size_t)(eq - line.s)});
    lg_str_t val = go_trim_space((lg_str_t){eq + 1, line.n - (size_t)(eq + 1 - line.s)});
    if ((r = contention_attr(g, c, key, val)) != 0)
      return r;
  }
  if (s->too_long)
    return too_long(g, s);
  for (;;) {
    line = go_trim_space(cur(s));
    if (go_has_prefix(line, "---"))
      break;
    if (!go_space_or_comment(line) && (r = contention_sample(g, c, line, s->lineno)) != 0)
      return r;
    if (!lg_scan_next(s))
      break;
  }
  if (s->too_long)
    return too_long(g, s);
  return lg_maps_after_sentinel(g, s);
}

int lg_parse_contention(lg_t *g, const char *data, size_t len) {
  lg_scan_t s;
  lg_scan_init(&s, data, len);
  if (!lg_scan_next(&s))
    return s.too_long ? too_long(g, &s) : LG_UNRECOGNIZED;
  contention_t c = {0};
  int rc = contention_body(g, &c, &s);
  free(c.addrs.a);
  return rc;
}
