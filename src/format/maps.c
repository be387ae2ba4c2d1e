/*
 * maps.c — the memory map that ends a legacy profile, read and applied as pprof's ParseMemoryMap
 * does.
 *
 * Each line after the sentinel may be a mapping, in one of two shapes: /proc/self/maps
 * ("start-limit perms offset dev inode path") or pprof's "brief" form ("start-limit [perms] [path]
 * [(@offset)] [build id]", which is what libcprof writes). Before matching, a glog prefix
 * ("I0102 10:00:00.000 file.cc:12] ") is cut, and "$name" is replaced by value for every earlier
 * line "name = value" that was not a mapping. Lines with permissions but no 'x' are not code and
 * are skipped; lines that match neither shape are ignored.
 *
 * Then, as pprof does (massageMappings, remapLocationIDs, remapMappingIDs):
 *  - adjacent mappings of the same file (and build id, and contiguous offsets) are merged;
 *  - the first mapping that looks like the main binary (a file name that is not a shared library
 *    and not "[vdso]"-like) moves to the front;
 *  - locations are renumbered in order of first use by the samples; unused ones go;
 *  - a leading "/anon_hugepage" mapping right before the next one is dropped, and a first mapping
 *    that would start at 0x400000 without its offset is made to;
 *  - each location gets the first mapping that holds its address; failing that, one whose start
 *    minus offset would hold it, which is then extended down; failing that, a fake mapping of the
 *    whole address space, created once and appended (so later locations find it first).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/legacy.h"

/* The patterns of the two shapes (pprof's procMapsRE and briefMapsRE) and of a glog prefix. */
#define HEX "([[:xdigit:]]+)"
#define RANGE "^\\s*(?:0x)?" HEX "[\\s-]?\\s*(?:0x)?" HEX ":?(?:\\s+([-rwxp]+))?"
static lg_rx_t proc_rx = LG_RX(RANGE "(?:\\s+" HEX ")?\\s+[[:xdigit:]]+:[[:xdigit:]]+"
                                     "\\s+[[:digit:]]+(?:\\s+(\\S+))?");
static lg_rx_t brief_rx = LG_RX(RANGE "(?:\\s+(\\S+))?(?:\\s+\\(@" HEX "\\))?(?:\\s+" HEX ")?");
static lg_rx_t glog_rx = LG_RX("^[^\\[\\]]+:[0-9]+\\]\\s");

/* Most trie steps the attribute substitution may take in one map (a guard against inputs built to
 * make it quadratic). */
#define SUBST_BUDGET ((size_t)1 << 26)

/* ------------------------------------------------------------ attributes --------------------- */

/*
 * The "$name" -> value substitutions, as strings.Replacer applies them: scanning left to right,
 * at each position the earliest-defined key that starts there is replaced. Keys live in a trie
 * (children as sibling lists) whose nodes know the earliest key ending at them.
 */
typedef struct trie_node {
  uint32_t child, sibling; /* node indexes, 0 = none (node 0 is the root) */
  uint32_t key;            /* attribute index + 1 of the earliest key ending here, or 0 */
  unsigned char byte;
} trie_node_t;

typedef struct subst {
  trie_node_t *node;
  size_t nnode, node_cap;
  lg_str_t *value; /* malloc'd bytes */
  size_t nvalue, value_cap;
  char *out; /* the substituted line */
  size_t out_cap;
  size_t steps;
} subst_t;

static void subst_free(subst_t *a) {
  for (size_t i = 0; i < a->nvalue; i++)
    free((char *)a->value[i].s);
  free(a->value);
  free(a->node);
  free(a->out);
}

static int64_t trie_child(subst_t *a, uint32_t n, unsigned char b, bool create) {
  uint32_t c = a->node[n].child;
  for (; c; c = a->node[c].sibling) {
    a->steps++;
    if (a->node[c].byte == b)
      return c;
  }
  if (!create)
    return 0;
  if (a->nnode == a->node_cap) {
    size_t cap = a->node_cap * 2;
    trie_node_t *t = cap < UINT32_MAX ? realloc(a->node, cap * sizeof *t) : NULL;
    if (!t)
      return -1;
    a->node = t;
    a->node_cap = cap;
  }
  uint32_t k = (uint32_t)a->nnode++;
  a->node[k] = (trie_node_t){.sibling = a->node[n].child, .byte = b};
  a->node[n].child = k;
  return k;
}

/* Adds "$" + key -> value; 0 or -ENOMEM. */
static int subst_add(subst_t *a, lg_str_t key, lg_str_t value) {
  if (!a->node) {
    if (!(a->node = calloc(64, sizeof *a->node)))
      return -ENOMEM;
    a->node_cap = 64;
    a->nnode = 1;
  }
  char *v = malloc(value.n + 1);
  if (!v)
    return -ENOMEM;
  memcpy(v, value.s, value.n);
  if (a->nvalue == a->value_cap) {
    size_t cap = a->value_cap ? a->value_cap * 2 : 16;
    lg_str_t *t = realloc(a->value, cap * sizeof *t);
    if (!t) {
      free(v);
      return -ENOMEM;
    }
    a->value = t;
    a->value_cap = cap;
  }
  a->value[a->nvalue++] = (lg_str_t){v, value.n};
  int64_t n = trie_child(a, 0, '$', true);
  for (size_t i = 0; n > 0 && i < key.n; i++)
    n = trie_child(a, (uint32_t)n, (unsigned char)key.s[i], true);
  if (n <= 0)
    return -ENOMEM;
  if (!a->node[n].key)
    a->node[n].key = (uint32_t)a->nvalue; /* the first definition wins */
  return 0;
}

static int out_put(subst_t *a, size_t *len, const char *s, size_t n) {
  if (a->out_cap - *len < n) {
    size_t cap = a->out_cap ? a->out_cap : 256;
    while (cap - *len < n)
      cap *= 2;
    char *o = realloc(a->out, cap);
    if (!o)
      return -ENOMEM;
    a->out = o;
    a->out_cap = cap;
  }
  memcpy(a->out + *len, s, n);
  *len += n;
  return 0;
}

/* Replaces the attributes in line (into a->out when anything was defined); -E2BIG past budget. */
static int subst_apply(subst_t *a, lg_str_t *line) {
  if (a->nvalue == 0)
    return 0;
  size_t len = 0;
  for (size_t i = 0; i < line->n;) {
    uint32_t n = 0, best = 0;
    size_t best_len = 0;
    for (size_t j = i; j < line->n; j++) {
      int64_t c = trie_child(a, n, (unsigned char)line->s[j], false);
      if (c <= 0)
        break;
      n = (uint32_t)c;
      if (a->node[n].key && (!best || a->node[n].key < best))
        best = a->node[n].key, best_len = j + 1 - i;
    }
    if (a->steps > SUBST_BUDGET)
      return -E2BIG;
    int rc = best ? out_put(a, &len, a->value[best - 1].s, a->value[best - 1].n)
                  : out_put(a, &len, line->s + i, 1);
    if (rc < 0)
      return rc;
    i += best ? best_len : 1;
  }
  line->s = a->out ? a->out : "";
  line->n = len;
  return 0;
}

/* ------------------------------------------------------------ map lines ---------------------- */

/*
 * 1 when a mapping was added, 0 when the line is a mapping but not code, 2 when it is not a
 * mapping (pprof's errUnrecognized: only then may it define an attribute), -ENOMEM.
 */
static int map_line(lg_t *g, lg_str_t line) {
  size_t cap[2 * RX_MAX_GROUPS];
  lg_str_t start = {"", 0}, limit = start, perm = start, file = start, off = start, bid = start;
  int m = lg_find(g, &proc_rx, line, cap);
  if (m == 1) {
    start = lg_group(line, cap, 1), limit = lg_group(line, cap, 2), perm = lg_group(line, cap, 3);
    off = lg_group(line, cap, 4), file = lg_group(line, cap, 5);
  } else if (m == 0 && (m = lg_find(g, &brief_rx, line, cap)) == 1) {
    start = lg_group(line, cap, 1), limit = lg_group(line, cap, 2), perm = lg_group(line, cap, 3);
    file = lg_group(line, cap, 4), off = lg_group(line, cap, 5), bid = lg_group(line, cap, 6);
  }
  if (m <= 0)
    return m == 0 ? 2 : m;
  if (perm.n && !memchr(perm.s, 'x', perm.n))
    return 0; /* not code */
  uint64_t s, l, o = 0;
  if (go_parse_uint(start, 16, &s) < 0 || go_parse_uint(limit, 16, &l) < 0 ||
      (off.n && go_parse_uint(off, 16, &o) < 0))
    return 2;
  lg_map_t *mp = lg_map_add(g, file, bid);
  if (!mp)
    return -ENOMEM;
  mp->start = s, mp->limit = l, mp->offset = o;
  return 1;
}

/* Reads the mapping lines; 0 or a negative errno. */
static int read_lines(lg_t *g, lg_scan_t *s, subst_t *a) {
  size_t cap[2 * RX_MAX_GROUPS];
  while (lg_scan_next(s)) {
    lg_str_t line = {s->line, s->line_len};
    int rc = lg_find(g, &glog_rx, line, cap);
    if (rc < 0)
      return rc;
    if (rc == 1)
      line.s += cap[1], line.n -= cap[1];
    if ((rc = subst_apply(a, &line)) < 0)
      return rc == -E2BIG
                 ? lg_fail(g, -EINVAL, "memory map, line %zu: too many substitutions", s->lineno)
                 : lg_fail(g, rc, "out of memory");
    if ((rc = map_line(g, line)) < 0)
      return rc;
    const char *eq = rc == 2 ? memchr(line.s, '=', line.n) : NULL;
    if (eq) {
      lg_str_t key = go_trim_space((lg_str_t){line.s, (size_t)(eq - line.s)});
      lg_str_t val = go_trim_space((lg_str_t){eq + 1, line.n - (size_t)(eq + 1 - line.s)});
      if (subst_add(a, key, val) < 0)
        return lg_fail(g, -ENOMEM, "out of memory");
    }
  }
  if (s->too_long)
    return lg_fail(g, -EINVAL, "line %zu is longer than %d bytes", s->lineno, LG_MAX_LINE);
  return 0;
}

/* ------------------------------------------------------------ applying ----------------------- */

/* pprof's adjacent(): the second mapping continues the first. */
static bool adjacent(const lg_map_t *a, const lg_map_t *b) {
  lg_str_t af = {a->file, a->file_len}, bf = {b->file, b->file_len};
  lg_str_t ab = {a->build_id, a->build_id_len}, bb = {b->build_id, b->build_id_len};
  if (af.n && bf.n && !go_str_eq(af, bf))
    return false;
  if (ab.n && bb.n && !go_str_eq(ab, bb))
    return false;
  if (a->limit != b->start)
    return false;
  return !(a->offset && b->offset && a->offset + (a->limit - a->start) != b->offset);
}

static void map_drop(lg_t *g, size_t i) {
  free(g->map[i].file);
  free(g->map[i].build_id);
  memmove(&g->map[i], &g->map[i + 1], (g->nmap - i - 1) * sizeof *g->map);
  g->nmap--;
}

static void merge_adjacent(lg_t *g) {
  size_t kept = g->nmap ? 1 : 0;
  for (size_t i = 1; i < g->nmap; i++) {
    lg_map_t *last = &g->map[kept - 1], *m = &g->map[i];
    if (adjacent(last, m)) {
      last->limit = m->limit;
      if (m->file_len) {
        free(last->file);
        last->file = m->file, last->file_len = m->file_len, m->file = NULL;
      }
      if (m->build_id_len) {
        free(last->build_id);
        last->build_id = m->build_id, last->build_id_len = m->build_id_len, m->build_id = NULL;
      }
      free(m->file);
      free(m->build_id);
      continue;
    }
    g->map[kept++] = *m;
  }
  g->nmap = kept;
}

/* pprof's libRx: ".so" at the end, or ".so" then '.' or '_' then a digit anywhere. */
static bool is_library(const char *f, size_t n) {
  for (size_t i = 0; i + 3 <= n; i++) {
    if (memcmp(f + i, ".so", 3) != 0)
      continue;
    if (i + 3 == n ||
        (i + 5 <= n && (f[i + 3] == '.' || f[i + 3] == '_') && f[i + 4] >= '0' && f[i + 4] <= '9'))
      return true;
  }
  return false;
}

/* Moves the first mapping that looks like the main binary to the front. */
static int main_first(lg_t *g) {
  for (size_t i = 0; i < g->nmap; i++) {
    const char *f = g->map[i].file;
    size_t n = g->map[i].file_len, k = 0;
    char *c = malloc(n + 1);
    if (!c)
      return -ENOMEM;
    for (size_t j = 0; j < n;) /* without every "(deleted)" */
      if (n - j >= 9 && memcmp(f + j, "(deleted)", 9) == 0)
        j += 9;
      else
        c[k++] = f[j++];
    lg_str_t t = go_trim_space((lg_str_t){c, k});
    bool main = t.n && !is_library(t.s, t.n) && t.s[0] != '[';
    free(c);
    if (main) {
      lg_map_t tmp = g->map[0];
      g->map[0] = g->map[i];
      g->map[i] = tmp;
      break;
    }
  }
  return 0;
}

/* Locations in order of first use by the samples, unused ones dropped. */
static int renumber_locations(lg_t *g) {
  uint32_t *to = malloc((g->nloc ? g->nloc : 1) * sizeof *to);
  lg_loc_t *loc = malloc((g->nloc ? g->nloc : 1) * sizeof *loc);
  if (!to || !loc) {
    free(to);
    free(loc);
    return -ENOMEM;
  }
  memset(to, 0xff, g->nloc * sizeof *to);
  size_t n = 0;
  for (size_t i = 0; i < g->nstk; i++) {
    uint32_t li = g->stk[i];
    if (to[li] == UINT32_MAX) {
      to[li] = (uint32_t)n;
      loc[n++] = g->loc[li];
    }
    g->stk[i] = to[li];
  }
  free(to);
  free(g->loc);
  g->loc = loc;
  g->loc_cap = g->nloc ? g->nloc : 1;
  g->nloc = n;
  free(g->slot); /* the address index is stale; lg_loc rebuilds it */
  g->slot = NULL;
  g->nslot = 0;
  return 0;
}

/* ------------------------------------------------------------ mapping index ------------------ */

/*
 * pprof finds a location's mapping by scanning the mappings in order, which a map of many lines
 * and a profile of many addresses would make quadratic. The same answers come from an index: the
 * breakpoints are every start, limit and start - offset (the start a mapping gets when a location
 * below it takes it), and a segment tree over the ranges between them records, per node, the
 * least mapping that covers the node's whole range ("held", extended when a mapping's start moves
 * down) and the list of mappings whose gap below their start covers it ("gaps", least first, with
 * a cursor that skips mappings whose gap was taken). The least mapping holding a point is the
 * least one met on its path from the root.
 */
typedef struct mindex {
  uint64_t *pt;                  /* sorted distinct breakpoints */
  size_t npt, nseg;              /* nseg = npt - 1 ranges [pt[i], pt[i + 1]) */
  uint32_t *held;                /* per node: least mapping index + 1 covering it, 0 for none */
  uint32_t *goff, *gent, *ghead; /* per node: its gap entries gent[goff[n], goff[n + 1]) */
  bool *used;                    /* per mapping: its gap was taken */
} mindex_t;

typedef struct visit {
  mindex_t *x;
  int mode; /* 0 hold, 1 count a gap, 2 store a gap */
  uint32_t k;
} visit_t;

static void visit_node(visit_t *v, size_t node) {
  mindex_t *x = v->x;
  if (v->mode == 0 && (x->held[node] == 0 || x->held[node] > v->k + 1))
    x->held[node] = v->k + 1;
  else if (v->mode == 1)
    x->goff[node + 1]++;
  else if (v->mode == 2)
    x->gent[x->ghead[node]++] = v->k;
}

/* Visits the nodes that make up ranges [a, b) of the node covering [lo, hi). */
static void visit_range(visit_t *v, size_t node, size_t lo, size_t hi, size_t a, size_t b) {
  if (b <= lo || hi <= a)
    return;
  if (a <= lo && hi <= b) {
    visit_node(v, node);
    return;
  }
  size_t mid = lo + (hi - lo) / 2;
  visit_range(v, 2 * node, lo, mid, a, b);
  visit_range(v, 2 * node + 1, mid, hi, a, b);
}

/* The position of breakpoint p (which is one). */
static size_t pt_pos(const mindex_t *x, uint64_t p) {
  size_t lo = 0, hi = x->npt;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (x->pt[mid] <= p)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static void add_range(mindex_t *x, int mode, uint32_t k, uint64_t start, uint64_t limit) {
  if (start >= limit || x->nseg == 0)
    return;
  visit_t v = {x, mode, k};
  visit_range(&v, 1, 0, x->nseg, pt_pos(x, start), pt_pos(x, limit));
}

static bool has_gap(const lg_map_t *m) { return m->offset && m->offset <= m->start; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void mindex_free(mindex_t *x) {
  free(x->pt);
  free(x->held);
  free(x->goff);
  free(x->gent);
  free(x->ghead);
  free(x->used);
}

static int mindex_build(mindex_t *x, const lg_t *g) {
  size_t m = g->nmap, n = 0;
  memset(x, 0, sizeof *x);
  if (!(x->pt = malloc((3 * m + 1) * sizeof *x->pt)) || !(x->used = calloc(m + 1, 1)))
    return -ENOMEM;
  for (size_t k = 0; k < m; k++) {
    x->pt[n++] = g->map[k].start;
    x->pt[n++] = g->map[k].limit;
    if (has_gap(&g->map[k]))
      x->pt[n++] = g->map[k].start - g->map[k].offset;
  }
  qsort(x->pt, n, sizeof *x->pt, cmp_u64);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || x->pt[u - 1] != x->pt[i])
      x->pt[u++] = x->pt[i];
  x->npt = u;
  x->nseg = u > 1 ? u - 1 : 0;
  size_t nodes = 4 * x->nseg + 4;
  x->held = calloc(nodes, sizeof *x->held);
  x->goff = calloc(nodes + 1, sizeof *x->goff);
  x->ghead = calloc(nodes, sizeof *x->ghead);
  if (!x->held || !x->goff || !x->ghead)
    return -ENOMEM;
  for (size_t k = 0; k < m; k++) {
    const lg_map_t *mp = &g->map[k];
    add_range(x, 0, (uint32_t)k, mp->start, mp->limit);
    if (has_gap(mp))
      add_range(x, 1, (uint32_t)k, mp->start - mp->offset, mp->start);
  }
  for (size_t i = 0; i < nodes; i++) /* counts to offsets */
    x->goff[i + 1] += x->goff[i];
  for (size_t i = 0; i < nodes; i++)
    x->ghead[i] = x->goff[i];
  if (!(x->gent = malloc((x->goff[nodes] + 1) * sizeof *x->gent)))
    return -ENOMEM;
  for (size_t k = 0; k < m; k++) /* in index order, so every list is least first */
    if (has_gap(&g->map[k]))
      add_range(x, 2, (uint32_t)k, g->map[k].start - g->map[k].offset, g->map[k].start);
  for (size_t i = 0; i < nodes; i++)
    x->ghead[i] = x->goff[i];
  return 0;
}

/* The least mapping (index + 1) that holds a (gaps: whose untaken gap holds a), or 0. */
static uint32_t mindex_find(mindex_t *x, uint64_t a, bool gaps) {
  if (x->nseg == 0 || a < x->pt[0] || a >= x->pt[x->npt - 1])
    return 0;
  size_t seg = pt_pos(x, a), node = 1, lo = 0, hi = x->nseg;
  uint32_t best = 0;
  for (;;) {
    uint32_t k = 0;
    if (!gaps) {
      k = x->held[node];
    } else {
      while (x->ghead[node] < x->goff[node + 1] && x->used[x->gent[x->ghead[node]]])
        x->ghead[node]++;
      if (x->ghead[node] < x->goff[node + 1])
        k = x->gent[x->ghead[node]] + 1;
    }
    if (k && (!best || k < best))
      best = k;
    if (hi - lo == 1)
      return best;
    size_t mid = lo + (hi - lo) / 2;
    if (seg < mid)
      node = 2 * node, hi = mid;
    else
      node = 2 * node + 1, lo = mid;
  }
}

static int assign_mappings(lg_t *g) {
  if (g->nmap > 1 &&
      go_has_prefix((lg_str_t){g->map[0].file, g->map[0].file_len}, "/anon_hugepage") &&
      g->map[0].limit == g->map[1].start)
    map_drop(g, 0);
  if (g->nmap > 0 && g->map[0].start - g->map[0].offset == 0x400000) {
    g->map[0].start = 0x400000;
    g->map[0].offset = 0;
  }
  mindex_t x;
  int rc = mindex_build(&x, g);
  uint32_t fake = 0; /* index + 1 */
  for (size_t i = 0; rc == 0 && i < g->nloc; i++) {
    lg_loc_t *l = &g->loc[i];
    uint64_t a = l->addr;
    if (l->map || a == 0)
      continue;
    if ((l->map = mindex_find(&x, a, false)) != 0 || (l->map = fake) != 0)
      continue; /* the first mapping that holds it; else the fake one, which holds all */
    uint32_t k = mindex_find(&x, a, true);
    if (k) { /* the first whose start minus offset would hold it: its start moves down */
      lg_map_t *m = &g->map[k - 1];
      m->start -= m->offset;
      m->offset = 0;
      x.used[k - 1] = true;
      add_range(&x, 0, k - 1, m->start, m->limit);
      l->map = k;
      continue;
    }
    lg_map_t *m = lg_map_add(g, (lg_str_t){"", 0}, (lg_str_t){"", 0});
    if (!m)
      rc = -ENOMEM;
    else {
      m->limit = UINT64_MAX;
      l->map = fake = (uint32_t)g->nmap;
    }
  }
  mindex_free(&x);
  return rc;
}

int lg_maps_read(lg_t *g, lg_scan_t *s) {
  subst_t a = {0};
  int rc = read_lines(g, s, &a);
  subst_free(&a);
  if (rc < 0)
    return rc;
  merge_adjacent(g);
  if (main_first(g) < 0 || renumber_locations(g) < 0 || assign_mappings(g) < 0)
    return lg_fail(g, -ENOMEM, "out of memory");
  return 0;
}

int lg_maps_after_sentinel(lg_t *g, lg_scan_t *s) {
  while (!lg_is_map_sentinel((lg_str_t){s->line, s->line_len}) && lg_scan_next(s))
    ;
  if (s->too_long)
    return lg_fail(g, -EINVAL, "line %zu is longer than %d bytes", s->lineno, LG_MAX_LINE);
  return lg_maps_read(g, s);
}
