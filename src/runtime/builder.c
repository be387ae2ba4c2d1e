/*
 * builder.c — the extension's profile writer: samples of raw pcs in, a symbolized profile.proto,
 * gzipped, out.
 *
 * builder_profile_write() copies what the descriptor says (sample and period types, period, time,
 * duration, comments, default sample type) and adds what only this process knows:
 *
 *   Mappings   the executable mappings of /proc/self/maps, main executable first (mappings.c).
 *   Locations  one per distinct address. A return address is written as pc - 1, the call
 *              instruction, and symbolized there, as Go does; only a CPU sample's leaf pc (when
 *              desc->leaf_is_exact) is taken as is. Addresses are sorted and numbered in that
 *              order, so the same samples give the same bytes; the sorted array doubles as the
 *              lookup table from address to location id (binary search), which is also the cache
 *              that makes each address symbolized once.
 *   Lines      from symbolize.c: inlined functions first, the physical function last. An address
 *              nothing knows keeps only its address and mapping.
 *   Functions  one per (name, system name, file, start line), deduplicated through an open-
 *              addressing hash table keyed on the interned string indexes.
 *   Labels     each sample's rt_sample_t.labels, strings or numbers with their unit.
 *   Synthetic  a sample with rt_sample_t.synthetic set becomes one Location with no mapping and
 *              one Line naming that pseudo-function (runtime/pprof.lostProfileEvent and friends).
 *
 * Each mapping's has_* flags say what is true of every location in it, so that pprof re-symbolizes
 * only what we could not. The symbolizer is the process's shared one (symbolize.c): it is brought
 * up to date with the mappings read for this profile, so libraries loaded with dlopen since the
 * last one are covered, and it remembers what it learned, so the next profile of the same code
 * costs little.
 *
 * Runs in an ordinary thread of the host, never in a signal handler; allocates freely. Concurrent
 * calls share only the symbolizer, which they take in turns while they make their locations.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "format/profile.h"
#include "runtime/ext.h"
#include "runtime/mappings.h"
#include "runtime/symbolize.h"

typedef struct bld_fn_slot {
  int64_t name, system_name, file, start_line;
  uint64_t id; /* 0: empty slot */
} bld_fn_slot_t;

/* What was learned about the locations of one mapping. */
typedef struct bld_map_stat {
  size_t nloc, nfunc, nfile, nline, ninline;
} bld_map_stat_t;

typedef struct bld {
  prof_t *p;
  map_list_t maps;
  bld_map_stat_t *stat; /* one per mapping */
  uint64_t *addr;       /* sorted, distinct; location id of addr[i] is i + 1 */
  size_t naddr;
  bld_fn_slot_t *fn; /* the function index */
  size_t fncap, nfn;
  const char **synth_name; /* synthetic frames, location id nsaddr + i + 1 */
  size_t nsynth;
} bld_t;

/* ------------------------------------------------------------------ functions ---------------- */

static uint64_t bld_fn_hash(const bld_fn_slot_t *k) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  const int64_t v[4] = {k->name, k->system_name, k->file, k->start_line};
  for (int i = 0; i < 4; i++) {
    h ^= (uint64_t)v[i];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h;
}

static bool bld_fn_equal(const bld_fn_slot_t *a, const bld_fn_slot_t *b) {
  return a->name == b->name && a->system_name == b->system_name && a->file == b->file &&
         a->start_line == b->start_line;
}

static bld_fn_slot_t *bld_fn_slot(bld_fn_slot_t *tab, size_t cap, const bld_fn_slot_t *k) {
  size_t i = bld_fn_hash(k) & (cap - 1);
  while (tab[i].id != 0 && !bld_fn_equal(&tab[i], k))
    i = (i + 1) & (cap - 1);
  return &tab[i];
}

static int bld_fn_grow(bld_t *b) {
  size_t ncap = b->fncap ? b->fncap * 2 : 256;
  bld_fn_slot_t *tab = calloc(ncap, sizeof(*tab));
  if (tab == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < b->fncap; i++)
    if (b->fn[i].id != 0)
      *bld_fn_slot(tab, ncap, &b->fn[i]) = b->fn[i];
  free(b->fn);
  b->fn = tab;
  b->fncap = ncap;
  return 0;
}

/* The id of the function with these strings, adding it when new; 0 when out of memory. */
static uint64_t bld_function(bld_t *b, const char *name, const char *system_name, const char *file,
                             int64_t start_line) {
  bld_fn_slot_t k = {
      .name = prof_intern(b->p, name),
      .system_name = prof_intern(b->p, system_name),
      .file = prof_intern(b->p, file),
      .start_line = start_line,
  };
  if (k.name < 0 || k.system_name < 0 || k.file < 0)
    return 0;
  if ((b->nfn + 1) * 2 > b->fncap && bld_fn_grow(b) < 0)
    return 0;
  bld_fn_slot_t *slot = bld_fn_slot(b->fn, b->fncap, &k);
  if (slot->id != 0)
    return slot->id;
  prof_function_t *f = prof_add_function(b->p);
  if (f == NULL)
    return 0;
  f->name = k.name;
  f->system_name = k.system_name;
  f->filename = k.file;
  f->start_line = k.start_line;
  k.id = f->id;
  *slot = k;
  b->nfn++;
  return k.id;
}

/* ------------------------------------------------------------------ addresses ---------------- */

static uintptr_t bld_frame_addr(const rt_profile_desc_t *desc, const rt_sample_t *s, uint32_t i) {
  uintptr_t pc = s->pcs[i];
  if ((i == 0 && desc->leaf_is_exact) || pc == 0)
    return pc;
  return pc - 1;
}

static int bld_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Gathers the distinct addresses of all samples, sorted. */
static int bld_collect_addrs(bld_t *b, const rt_profile_desc_t *desc) {
  size_t total = 0;
  for (size_t i = 0; i < desc->nsamples; i++)
    if (desc->samples[i].synthetic == NULL)
      total += desc->samples[i].depth;
  b->addr = malloc((total ? total : 1) * sizeof(uint64_t));
  if (b->addr == NULL)
    return -ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < desc->nsamples; i++) {
    const rt_sample_t *s = &desc->samples[i];
    if (s->synthetic != NULL)
      continue;
    for (uint32_t j = 0; j < s->depth; j++)
      b->addr[n++] = bld_frame_addr(desc, s, j);
  }
  qsort(b->addr, n, sizeof(uint64_t), bld_cmp_u64);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || b->addr[u - 1] != b->addr[i])
      b->addr[u++] = b->addr[i];
  b->naddr = u;
  return 0;
}

static uint64_t bld_addr_id(const bld_t *b, uint64_t addr) {
  size_t lo = 0, hi = b->naddr;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b->addr[mid] < addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < b->naddr && b->addr[lo] == addr ? lo + 1 : 0;
}

/* ------------------------------------------------------------------ locations ---------------- */

/* Adds the location of addr[i] with its lines and counts what it learned in its mapping's stat.
 * sym is NULL when libdw could not be set up: the address only. */
static int bld_location(bld_t *b, sym_t *sym, size_t i) {
  uint64_t fid[SYM_MAX_FRAMES];
  unsigned flags = 0;
  size_t nf = 0;
  const sym_frame_t *frames = sym != NULL ? sym_lookup(sym, b->addr[i], &nf, &flags) : NULL;
  bool files = nf > 0, lines = nf > 0;
  for (size_t j = 0; j < nf; j++) {
    fid[j] = bld_function(b, frames[j].name, frames[j].system_name, frames[j].file,
                          frames[j].start_line);
    if (fid[j] == 0)
      return -ENOMEM;
    files = files && frames[j].file[0] != '\0';
    lines = lines && frames[j].line > 0;
  }
  long m = map_list_find(&b->maps, b->addr[i]);
  prof_location_t *loc = prof_add_location(b->p);
  if (loc == NULL)
    return -ENOMEM;
  loc->address = b->addr[i];
  loc->mapping_id = m >= 0 ? (uint64_t)m + 1 : 0;
  for (size_t j = 0; j < nf; j++)
    if (prof_location_add_line(loc, fid[j], frames[j].line) < 0)
      return -ENOMEM;
  if (m >= 0) {
    bld_map_stat_t *st = &b->stat[m];
    st->nloc++;
    st->nfunc += nf > 0;
    st->nfile += files;
    st->nline += lines;
    st->ninline += (flags & SYM_FROM_DWARF) != 0;
  }
  return 0;
}

/* The location id of a synthetic frame, adding its function and location when new; 0 when out of
 * memory. Synthetic locations follow the address ones, in order of first use. */
static uint64_t bld_synthetic(bld_t *b, const char *name) {
  for (size_t i = 0; i < b->nsynth; i++)
    if (strcmp(b->synth_name[i], name) == 0)
      return b->naddr + i + 1;
  uint64_t fid = bld_function(b, name, name, "", 0);
  prof_location_t *loc = fid != 0 ? prof_add_location(b->p) : NULL;
  if (loc == NULL || prof_location_add_line(loc, fid, 0) < 0)
    return 0;
  b->synth_name[b->nsynth++] = name;
  return loc->id;
}

/* ------------------------------------------------------------------ the profile -------------- */

static int bld_header(prof_t *p, const rt_profile_desc_t *desc) {
  for (size_t i = 0; i < desc->nvalues; i++)
    if (prof_add_sample_type(p, desc->sample_type[i][0], desc->sample_type[i][1]) < 0)
      return -ENOMEM;
  if (desc->period_type[0] != NULL &&
      prof_set_period_type(p, desc->period_type[0],
                           desc->period_type[1] ? desc->period_type[1] : "") < 0)
    return -ENOMEM;
  p->period = desc->period;
  p->time_nanos = desc->time_nanos;
  p->duration_nanos = desc->duration_nanos;
  for (size_t i = 0; i < 4 && desc->comments[i] != NULL; i++)
    if (prof_add_comment(p, desc->comments[i]) < 0)
      return -ENOMEM;
  if (desc->default_sample_type != NULL &&
      (p->default_sample_type = prof_intern(p, desc->default_sample_type)) < 0)
    return -ENOMEM;
  return 0;
}

static int bld_mappings(bld_t *b) {
  int err = map_list_read(&b->maps);
  if (err < 0)
    return err;
  b->stat = calloc(b->maps.n ? b->maps.n : 1, sizeof(*b->stat));
  if (b->stat == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < b->maps.n; i++) {
    const map_entry_t *e = &b->maps.v[i];
    prof_mapping_t *m = prof_add_mapping(b->p);
    if (m == NULL)
      return -ENOMEM;
    m->memory_start = e->start;
    m->memory_limit = e->limit;
    m->file_offset = e->offset;
    m->filename = prof_intern(b->p, e->path);
    m->build_id = prof_intern(b->p, e->build_id);
    if (m->filename < 0 || m->build_id < 0)
      return -ENOMEM;
  }
  return 0;
}

/* Sets each mapping's has_* flags: true when the symbolizer had that kind of information for the
 * module (some location in it got it). Its other locations are then addresses nothing names (a
 * PLT stub, code without a symbol), which a reader re-symbolizing from the binary cannot name
 * either: go tool pprof re-symbolizes a whole mapping whose has_functions is false, and when it
 * does so for a PIE program it loses the names this profile had. */
static void bld_mapping_flags(bld_t *b) {
  for (size_t i = 0; i < b->maps.n; i++) {
    const bld_map_stat_t *st = &b->stat[i];
    prof_mapping_t *m = &b->p->mapping[i];
    m->has_functions = st->nfunc > 0;
    m->has_filenames = st->nfile > 0;
    m->has_line_numbers = st->nline > 0;
    m->has_inline_frames = st->ninline > 0;
  }
}

static int bld_samples(bld_t *b, const rt_profile_desc_t *desc) {
  size_t maxdepth = 1;
  for (size_t i = 0; i < desc->nsamples; i++)
    if (desc->samples[i].depth > maxdepth)
      maxdepth = desc->samples[i].depth;
  uint64_t *ids = malloc((maxdepth + 1) * sizeof(uint64_t)); /* + 1: a synthetic frame */
  b->synth_name = malloc((desc->nsamples ? desc->nsamples : 1) * sizeof(char *));
  if (ids == NULL || b->synth_name == NULL) {
    free(ids);
    return -ENOMEM;
  }
  int err = 0;
  for (size_t i = 0; i < desc->nsamples && err == 0; i++) {
    const rt_sample_t *s = &desc->samples[i];
    size_t n = 0;
    if (s->synthetic != NULL) {
      ids[n++] = bld_synthetic(b, s->synthetic);
      if (ids[0] == 0)
        err = -ENOMEM;
    } else {
      for (uint32_t j = 0; j < s->depth; j++)
        ids[n++] = bld_addr_id(b, bld_frame_addr(desc, s, j));
    }
    prof_sample_t *ps = err == 0 ? prof_add_sample(b->p, ids, n, s->values, desc->nvalues) : NULL;
    if (ps == NULL)
      err = err ? err : -ENOMEM;
    for (size_t j = 0; j < s->nlabels && err == 0; j++) {
      const rt_label_t *l = &s->labels[j];
      err = l->str ? prof_sample_add_label_str(b->p, ps, l->key, l->str)
                   : prof_sample_add_label_num(b->p, ps, l->key, l->num, l->unit);
    }
  }
  free(ids);
  return err;
}

/* Adds a location per address, holding the shared symbolizer meanwhile. */
static int bld_locations(bld_t *b) {
  sym_t *sym = b->naddr > 0 ? sym_acquire(&b->maps) : NULL;
  int err = 0;
  for (size_t i = 0; i < b->naddr && err == 0; i++)
    err = bld_location(b, sym, i);
  if (sym != NULL)
    sym_release(sym);
  return err;
}

static int bld_build(bld_t *b, const rt_profile_desc_t *desc) {
  int err;
  if ((err = bld_header(b->p, desc)) < 0 || (err = bld_mappings(b)) < 0 ||
      (err = bld_collect_addrs(b, desc)) < 0)
    return err;
  if ((err = bld_locations(b)) < 0)
    return err;
  if ((err = bld_samples(b, desc)) < 0)
    return err;
  bld_mapping_flags(b);
  return 0;
}

int builder_profile_write(int fd, const rt_profile_desc_t *desc) {
  if (desc == NULL || desc->nvalues == 0 || desc->nvalues > RT_MAX_VALUES ||
      (desc->nsamples > 0 && desc->samples == NULL))
    return -EINVAL;
  for (size_t i = 0; i < desc->nsamples; i++)
    if (desc->samples[i].synthetic == NULL && desc->samples[i].depth > 0 &&
        desc->samples[i].pcs == NULL)
      return -EINVAL;
  bld_t b;
  memset(&b, 0, sizeof(b));
  b.p = prof_new();
  if (b.p == NULL)
    return -ENOMEM;
  int err = bld_build(&b, desc);
  if (err == 0)
    err = prof_write_gz_fd(b.p, fd);
  map_list_free(&b.maps);
  free(b.stat);
  free(b.addr);
  free(b.fn);
  free(b.synth_name);
  prof_free(b.p);
  return err;
}
