/*
 * model.h — the profile as the cprof command works on it: pprof's Profile with pointers.
 *
 * src/format/ holds the wire model (prof_t: ids and string indexes). The command needs what
 * pprof's Go package gives its driver: locations that point at their mapping and functions,
 * samples that point at their locations, strings it can compare by address (all interned in the
 * profile's mem_t), and freedom to rewrite any of it in place while filtering and aggregating.
 * tp_from_prof builds this from a prof_t; tp_to_prof turns it back for -proto and -topproto.
 *
 * Labels of a sample are kept as pprof keeps them after a write and re-read: the string labels
 * first, ordered by key (values of one key in their order), then the numeric ones, ordered by
 * key. A numeric label's unit is "" when it has none. Everything is allocated in p->mem and freed
 * with the profile.
 */
#ifndef CPROF_TOOL_MODEL_H
#define CPROF_TOOL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/profile.h"
#include "tool/mem.h"

typedef struct tp_function {
  uint64_t id;
  const char *name, *system_name, *filename;
  int64_t start_line;
  void *aux; /* scratch for the passes (merge) */
} tp_function_t;

typedef struct tp_mapping {
  uint64_t id, start, limit, offset;
  const char *file, *build_id;
  bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
  void *aux;      /* scratch for the passes (merge) */
  int64_t auxoff; /* scratch: the address offset merge found */
} tp_mapping_t;

typedef struct tp_line {
  tp_function_t *fn; /* never NULL */
  int64_t line;
  int64_t column;
} tp_line_t;

typedef struct tp_location {
  uint64_t id;
  tp_mapping_t *mapping; /* NULL: none */
  uint64_t address;
  tp_line_t *line; /* line[nline - 1] is the caller; the others were inlined into it */
  uint32_t nline;
  bool is_folded;
  uint32_t idx;  /* position in p->location, kept current by tp_reindex */
  uint32_t mark; /* scratch for the passes (filters, graph) */
  void *aux;     /* scratch */
} tp_location_t;

typedef struct tp_label {
  const char *key;
  const char *str; /* NULL for a numeric label */
  int64_t num;
  const char *unit; /* numeric labels: "" when none */
} tp_label_t;

typedef struct tp_sample {
  tp_location_t **loc; /* leaf first */
  int64_t *value;      /* p->nsample_type values */
  tp_label_t *label;
  uint32_t nloc, nlabel;
} tp_sample_t;

typedef struct tp_value_type {
  const char *type, *unit;
} tp_value_type_t;

typedef struct tprof {
  mem_t *mem;
  tp_value_type_t *sample_type;
  size_t nsample_type;
  const char *default_sample_type;
  tp_sample_t *sample;
  size_t nsample;
  tp_mapping_t **mapping;
  size_t nmapping;
  tp_location_t **location;
  size_t nlocation;
  tp_function_t **function;
  size_t nfunction;
  const char **comment;
  size_t ncomment;
  const char *drop_frames, *keep_frames, *doc_url;
  int64_t time_nanos, duration_nanos, period;
  tp_value_type_t period_type;
} tprof_t;

/*
 * The command's one arena and interner: every profile lives in it, so strings of different
 * profiles compare by address too. Created on first use, freed at exit.
 */
mem_t *tp_mem(void);

/* An empty profile (in tp_mem()). */
tprof_t *tp_new(void);
/* Nothing to free one by one: profiles live until the arena goes. */
static inline void tp_free(tprof_t *p) { (void)p; }

/*
 * The command's model of a decoded profile (which must have passed prof_decode's checks). Labels
 * with neither a string nor a number nor a unit are dropped, as pprof's decoder drops them.
 */
tprof_t *tp_from_prof(const prof_t *src);

/* The wire model of p, ids kept, strings in the order pprof's encoder interns them. */
prof_t *tp_to_prof(const tprof_t *p);

/* Sets every location's idx to its position. */
void tp_reindex(tprof_t *p);

/* Sorts a sample's labels into the canonical order (see the file comment). */
void tp_labels_canon(tp_label_t *l, size_t n);

/* Whether the sample has a string label key=value. */
bool tp_sample_has_label(const tp_sample_t *s, const char *key, const char *value);

/* Adds to every sample the string label key=value, replacing the values it had for key. */
void tp_set_label(tprof_t *p, const char *key, const char *value);
/* Removes the string labels with this key from every sample. */
void tp_remove_label(tprof_t *p, const char *key);

/* Index of the sample type named by si ("" = default), as pprof's SampleIndexByName; -1 with a
 * message in err when there is none. */
int tp_sample_index(const tprof_t *p, const char *si, char *err, size_t errlen);

#endif /* CPROF_TOOL_MODEL_H */
