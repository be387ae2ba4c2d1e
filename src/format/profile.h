/*
 * profile.h — pprof's data model (profile.proto) in C, shared by the runtime and the tool.
 *
 * A prof_t owns everything it points to: the arrays of samples, mappings, locations and functions,
 * and the string table. Strings are referred to by their index in the table, as on the wire;
 * strings[0] is always "". Ids of mappings, locations and functions are assigned by the add
 * functions as index + 1, so `p->location[id - 1].id == id` holds for a profile that was built
 * here; a decoded profile keeps the ids it was given (prof_location_by_id and friends look them
 * up).
 *
 * Nothing here is async-signal-safe: it allocates with malloc. The runtime calls it only from its
 * own threads, with its allocation hooks told to pass those calls through.
 */
#ifndef CPROF_FORMAT_PROFILE_H
#define CPROF_FORMAT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prof_value_type {
  int64_t type; /* string index */
  int64_t unit; /* string index */
} prof_value_type_t;

typedef struct prof_label {
  int64_t key;      /* string index */
  int64_t str;      /* string index, 0 when the label is numeric */
  int64_t num;      /* numeric value, with num_unit */
  int64_t num_unit; /* string index */
} prof_label_t;

typedef struct prof_sample {
  uint64_t *location_id; /* leaf first */
  size_t nlocation;
  int64_t *value; /* one per sample type */
  size_t nvalue;
  prof_label_t *label;
  size_t nlabel;
} prof_sample_t;

typedef struct prof_mapping {
  uint64_t id;
  uint64_t memory_start;
  uint64_t memory_limit;
  uint64_t file_offset;
  int64_t filename; /* string index */
  int64_t build_id; /* string index */
  bool has_functions;
  bool has_filenames;
  bool has_line_numbers;
  bool has_inline_frames;
} prof_mapping_t;

typedef struct prof_line {
  uint64_t function_id;
  int64_t line;
  int64_t column;
} prof_line_t;

typedef struct prof_location {
  uint64_t id;
  uint64_t mapping_id; /* 0: unknown */
  uint64_t address;
  prof_line_t *line; /* line[nline - 1] is the caller; earlier ones were inlined into it */
  size_t nline;
  bool is_folded;
} prof_location_t;

typedef struct prof_function {
  uint64_t id;
  int64_t name;        /* string index */
  int64_t system_name; /* string index */
  int64_t filename;    /* string index */
  int64_t start_line;
} prof_function_t;

typedef struct prof {
  prof_value_type_t *sample_type;
  size_t nsample_type;
  prof_sample_t *sample;
  size_t nsample;
  prof_mapping_t *mapping;
  size_t nmapping;
  prof_location_t *location;
  size_t nlocation;
  prof_function_t *function;
  size_t nfunction;

  char **strings;     /* NUL-terminated copies; strings[0] == "" */
  size_t *string_len; /* byte lengths (a decoded string may hold NUL bytes) */
  size_t nstrings;

  int64_t drop_frames; /* string index */
  int64_t keep_frames; /* string index */
  int64_t time_nanos;
  int64_t duration_nanos;
  prof_value_type_t period_type;
  int64_t period;
  int64_t *comment; /* string indexes */
  size_t ncomment;
  int64_t default_sample_type; /* string index */
  int64_t doc_url;             /* string index */

  void *intern; /* private: the string interning index */
} prof_t;

/* A growable byte buffer. */
typedef struct prof_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} prof_buf_t;

void prof_buf_free(prof_buf_t *b);

/* ------------------------------------------------------------ building a profile -------------- */

/* A new, empty profile with strings[0] == "". NULL when out of memory. */
prof_t *prof_new(void);
void prof_free(prof_t *p);

/* The index of s in the string table, adding it when new; -1 when out of memory. */
int64_t prof_intern(prof_t *p, const char *s);
int64_t prof_intern_len(prof_t *p, const char *s, size_t len);

/* The string at index i, or "" when i is out of range. */
const char *prof_str(const prof_t *p, int64_t i);

/*
 * Each add function appends a zeroed element, gives it the next id (index + 1) where it has one,
 * and returns it; NULL when out of memory. The pointer is valid until the next add of that kind.
 */
prof_mapping_t *prof_add_mapping(prof_t *p);
prof_function_t *prof_add_function(prof_t *p);
prof_location_t *prof_add_location(prof_t *p);
int prof_location_add_line(prof_location_t *loc, uint64_t function_id, int64_t line);
int prof_add_sample_type(prof_t *p, const char *type, const char *unit);
int prof_set_period_type(prof_t *p, const char *type, const char *unit);
int prof_add_comment(prof_t *p, const char *text);

/*
 * Appends a sample with copies of the given locations (leaf first) and values (nvalue must equal
 * p->nsample_type). Returns the sample or NULL when out of memory.
 */
prof_sample_t *prof_add_sample(prof_t *p, const uint64_t *location_id, size_t nlocation,
                               const int64_t *value, size_t nvalue);
int prof_sample_add_label_str(prof_t *p, prof_sample_t *s, const char *key, const char *value);
int prof_sample_add_label_num(prof_t *p, prof_sample_t *s, const char *key, int64_t num,
                              const char *unit);

/* Lookups by id, for decoded profiles whose ids need not be dense; NULL when absent. */
const prof_mapping_t *prof_mapping_by_id(const prof_t *p, uint64_t id);
const prof_location_t *prof_location_by_id(const prof_t *p, uint64_t id);
const prof_function_t *prof_function_by_id(const prof_t *p, uint64_t id);

/* ------------------------------------------------------------------- the wire ---------------- */

/*
 * Encodes p as profile.proto into out (appending). Deterministic: the same profile gives the same
 * bytes. Returns 0 or -ENOMEM.
 */
int prof_encode(const prof_t *p, prof_buf_t *out);

/*
 * Decodes a profile.proto message, gzipped or not (detected by the gzip magic). On failure returns
 * a negative errno (-EINVAL for malformed input, -ENOMEM, -EFBIG when it would inflate past the
 * limit) and writes a one-line reason into err, e.g. "not a profile: field 2 (sample) truncated at
 * byte 1234". Every referenced id and string index is checked. Never crashes on hostile input.
 */
int prof_decode(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen);

/*
 * Reads a profile in any format pprof reads, as pprof reads it: profile.proto (gzipped or not; a
 * gzip stream is inflated first, up to the limit prof_decode has), else the legacy formats, tried
 * in pprof's order — gperftools' binary CPU profile (32- or 64-bit words, either byte order), heap
 * and growth text (heapz_v2, heap/N as Go's and libcprof's debug=1 write it, heapprofile, growthz),
 * Go's count text (goroutine, threadcreate), threadz text and contention text (contentionz, Go's
 * mutex and block) — each with the memory map that may follow it. A legacy profile gets the sample
 * types, period, samples, locations (addresses only) and mappings pprof makes of it, in pprof's
 * order, with pprof's drop_frames and keep_frames. pprof's Java formats are refused. Returns 0
 * with the profile in *out, or a negative errno (-EINVAL, -ENOMEM, -EFBIG) with a one-line reason
 * in err: what the input is not, e.g. "not a profile: not profile.proto (field 3 ...), not a
 * legacy profile (first line \"...\")", or what is wrong in the legacy profile it looks like, or
 * "gzip: ..." for a corrupt or too big gzip stream. Never crashes on hostile input; time and
 * memory grow with the input's size (n log n at worst), never with its square.
 */
int prof_parse(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen);

/* gzip (RFC 1952) through zlib, at the given level (1 = best speed, as Go writes). */
int prof_gzip(const uint8_t *data, size_t len, int level, prof_buf_t *out);

/*
 * Inflates a gzip stream into out, refusing to grow past max_out bytes (-EFBIG). -EINVAL with a
 * reason in err when the stream is corrupt.
 */
int prof_gunzip(const uint8_t *data, size_t len, size_t max_out, prof_buf_t *out, char *err,
                size_t errlen);

/* Encodes, gzips (level 1) and writes the whole profile to fd. 0 or a negative errno. */
int prof_write_gz_fd(const prof_t *p, int fd);

#endif /* CPROF_FORMAT_PROFILE_H */
