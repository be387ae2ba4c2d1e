/*
 * proto.c — profile.proto on the wire: the encoder and the validating decoder.
 *
 * The encoder writes exactly what Go's pprof (profile/encode.go) writes for the same model: the
 * Profile fields in field-number order, optional scalars only when non-zero (default_sample_type
 * always, as Go does), repeated scalars packed when there are more than two and as separate fields
 * otherwise. So a profile Go wrote decodes and re-encodes to the same bytes. Each element reserves
 * its worst-case size first, then is written unchecked; a message's length is patched in after its
 * body (wire_msg_end).
 *
 * The decoder accepts any valid proto3 encoding: fields in any order, packed or unpacked repeated
 * scalars, unknown fields skipped. It never trusts a length: every read is bounded by the end of
 * the enclosing message. For speed on profiles with millions of samples it does not allocate per
 * sample: a sample's location ids, values and labels gather in reusable scratch vectors and are
 * then copied into one growing pool (with the string bytes), recorded by offset while the pool
 * may still move, and turned into pointers once decoding ends; the profile adopts the pool. Then
 * every string index and every referenced id is checked, as pprof's postDecode + CheckValid do,
 * so the rest of cprof can index without checking. Errors are -EINVAL (or -ENOMEM, -EFBIG) with
 * one line in err that says what and at which byte of the (inflated) message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/profile.h"
#include "format/wire.h"

/* ------------------------------------------------------------------ encoder ------------------ */

/* Go's encodeUint64s: packed when more than two, else one field each. Reserves for itself. */
static int enc_repeated(prof_buf_t *b, int field, const uint64_t *x, size_t n) {
  if (n == 0)
    return 0;
  if (n > SIZE_MAX / 12 || wire_reserve(b, 12 + n * (WIRE_VARINT_MAX + 1)) < 0)
    return -ENOMEM;
  if (n <= 2) {
    for (size_t i = 0; i < n; i++)
      wire_put_u64(b, field, x[i]);
    return 0;
  }
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += wire_varint_len(x[i]);
  wire_put_tag(b, field, WIRE_LEN);
  wire_put_varint(b, len);
  for (size_t i = 0; i < n; i++)
    wire_put_varint(b, x[i]);
  return 0;
}

static int enc_value_type(prof_buf_t *b, int field, const prof_value_type_t *vt) {
  if (wire_reserve(b, 40) < 0)
    return -ENOMEM;
  size_t m = wire_msg_begin(b, field);
  wire_put_u64_opt(b, 1, (uint64_t)vt->type);
  wire_put_u64_opt(b, 2, (uint64_t)vt->unit);
  wire_msg_end(b, m);
  return 0;
}

static int enc_sample(prof_buf_t *b, const prof_sample_t *s) {
  if (wire_reserve(b, 16) < 0)
    return -ENOMEM;
  size_t m = wire_msg_begin(b, 2);
  if (enc_repeated(b, 1, s->location_id, s->nlocation) < 0 ||
      enc_repeated(b, 2, (const uint64_t *)s->value, s->nvalue) < 0)
    return -ENOMEM;
  if (s->nlabel > SIZE_MAX / 64 || wire_reserve(b, s->nlabel * 60 + WIRE_VARINT_MAX) < 0)
    return -ENOMEM;
  for (size_t i = 0; i < s->nlabel; i++) {
    const prof_label_t *l = &s->label[i];
    size_t lm = wire_msg_begin(b, 3);
    wire_put_u64_opt(b, 1, (uint64_t)l->key);
    wire_put_u64_opt(b, 2, (uint64_t)l->str);
    wire_put_u64_opt(b, 3, (uint64_t)l->num);
    wire_put_u64_opt(b, 4, (uint64_t)l->num_unit);
    wire_msg_end(b, lm);
  }
  wire_msg_end(b, m);
  return 0;
}

static int enc_mapping(prof_buf_t *b, const prof_mapping_t *x) {
  if (wire_reserve(b, 160) < 0)
    return -ENOMEM;
  size_t m = wire_msg_begin(b, 3);
  wire_put_u64_opt(b, 1, x->id);
  wire_put_u64_opt(b, 2, x->memory_start);
  wire_put_u64_opt(b, 3, x->memory_limit);
  wire_put_u64_opt(b, 4, x->file_offset);
  wire_put_u64_opt(b, 5, (uint64_t)x->filename);
  wire_put_u64_opt(b, 6, (uint64_t)x->build_id);
  wire_put_u64_opt(b, 7, x->has_functions);
  wire_put_u64_opt(b, 8, x->has_filenames);
  wire_put_u64_opt(b, 9, x->has_line_numbers);
  wire_put_u64_opt(b, 10, x->has_inline_frames);
  wire_msg_end(b, m);
  return 0;
}

static int enc_location(prof_buf_t *b, const prof_location_t *x) {
  if (x->nline > SIZE_MAX / 64 || wire_reserve(b, 64 + x->nline * 48) < 0)
    return -ENOMEM;
  size_t m = wire_msg_begin(b, 4);
  wire_put_u64_opt(b, 1, x->id);
  wire_put_u64_opt(b, 2, x->mapping_id);
  wire_put_u64_opt(b, 3, x->address);
  for (size_t i = 0; i < x->nline; i++) {
    size_t lm = wire_msg_begin(b, 4);
    wire_put_u64_opt(b, 1, x->line[i].function_id);
    wire_put_u64_opt(b, 2, (uint64_t)x->line[i].line);
    wire_put_u64_opt(b, 3, (uint64_t)x->line[i].column);
    wire_msg_end(b, lm);
  }
  wire_put_u64_opt(b, 5, x->is_folded);
  wire_msg_end(b, m);
  return 0;
}

static int enc_function(prof_buf_t *b, const prof_function_t *x) {
  if (wire_reserve(b, 80) < 0)
    return -ENOMEM;
  size_t m = wire_msg_begin(b, 5);
  wire_put_u64_opt(b, 1, x->id);
  wire_put_u64_opt(b, 2, (uint64_t)x->name);
  wire_put_u64_opt(b, 3, (uint64_t)x->system_name);
  wire_put_u64_opt(b, 4, (uint64_t)x->filename);
  wire_put_u64_opt(b, 5, (uint64_t)x->start_line);
  wire_msg_end(b, m);
  return 0;
}

static int enc_tables(const prof_t *p, prof_buf_t *b) {
  for (size_t i = 0; i < p->nsample_type; i++)
    if (enc_value_type(b, 1, &p->sample_type[i]) < 0)
      return -ENOMEM;
  for (size_t i = 0; i < p->nsample; i++)
    if (enc_sample(b, &p->sample[i]) < 0)
      return -ENOMEM;
  for (size_t i = 0; i < p->nmapping; i++)
    if (enc_mapping(b, &p->mapping[i]) < 0)
      return -ENOMEM;
  for (size_t i = 0; i < p->nlocation; i++)
    if (enc_location(b, &p->location[i]) < 0)
      return -ENOMEM;
  for (size_t i = 0; i < p->nfunction; i++)
    if (enc_function(b, &p->function[i]) < 0)
      return -ENOMEM;
  for (size_t i = 0; i < p->nstrings; i++) {
    const char *s = p->strings[i] ? p->strings[i] : "";
    size_t len = p->string_len ? p->string_len[i] : strlen(s);
    if (len > SIZE_MAX / 2 || wire_reserve(b, len + 12) < 0)
      return -ENOMEM;
    wire_put_bytes(b, 6, s, len);
  }
  return 0;
}

int prof_encode(const prof_t *p, prof_buf_t *out) {
  size_t start = out->len;
  if (enc_tables(p, out) < 0 || wire_reserve(out, 128) < 0)
    goto oom;
  wire_put_u64_opt(out, 7, (uint64_t)p->drop_frames);
  wire_put_u64_opt(out, 8, (uint64_t)p->keep_frames);
  wire_put_u64_opt(out, 9, (uint64_t)p->time_nanos);
  wire_put_u64_opt(out, 10, (uint64_t)p->duration_nanos);
  if ((p->period_type.type || p->period_type.unit) && enc_value_type(out, 11, &p->period_type) < 0)
    goto oom;
  if (wire_reserve(out, 16) < 0)
    goto oom;
  wire_put_u64_opt(out, 12, (uint64_t)p->period);
  if (enc_repeated(out, 13, (const uint64_t *)p->comment, p->ncomment) < 0 ||
      wire_reserve(out, 32) < 0)
    goto oom;
  wire_put_u64(out, 14, (uint64_t)p->default_sample_type);
  wire_put_u64_opt(out, 15, (uint64_t)p->doc_url);
  return 0;
oom:
  out->len = start;
  return -ENOMEM;
}

/* ------------------------------------------------------------------ decoder ------------------ */

typedef struct vec {
  void *a;
  size_t n, cap;
} vec_t;

typedef struct dec {
  const uint8_t *base; /* offsets in messages are from here */
  prof_t *p;
  bool concat; /* failed on a second time_nanos */
  char *err;
  size_t errlen;
  uint8_t *pool;
  size_t plen, pcap;
  vec_t soff;                /* size_t: each sample's offset in the pool */
  vec_t stroff;              /* size_t pairs: each string's offset in the pool, and length */
  vec_t loc, val, lab, line; /* scratch for the element being decoded */
} dec_t;

typedef struct field {
  int num, wt;
  uint64_t v;           /* a varint or fixed value */
  const uint8_t *s, *e; /* a length-delimited payload */
  size_t at;            /* offset of the tag */
} field_t;

/*
 * A message kind: its name in errors, and per field number its name and, for scalar fields, where
 * in the C struct it goes (F_U64 for any 64-bit integer, F_BOOL) so one loop decodes them all.
 */
enum { F_OTHER, F_U64, F_BOOL };
typedef struct fielddef {
  const char *name;
  uint8_t kind;
  uint16_t off;
} fielddef_t;
typedef struct msgdef {
  const char *name;
  const fielddef_t *fields;
  int nfields;
} msgdef_t;

#define U64(t, m)                                                                                  \
  { #m, F_U64, offsetof(t, m) }
#define BOOL(t, m)                                                                                 \
  { #m, F_BOOL, offsetof(t, m) }
#define OTHER(n)                                                                                   \
  { n, F_OTHER, 0 }
static const fielddef_t profile_fields[] = {OTHER(NULL),
                                            OTHER("sample_type"),
                                            OTHER("sample"),
                                            OTHER("mapping"),
                                            OTHER("location"),
                                            OTHER("function"),
                                            OTHER("string_table"),
                                            U64(prof_t, drop_frames),
                                            U64(prof_t, keep_frames),
                                            OTHER("time_nanos"),
                                            U64(prof_t, duration_nanos),
                                            OTHER("period_type"),
                                            U64(prof_t, period),
                                            OTHER("comment"),
                                            U64(prof_t, default_sample_type),
                                            U64(prof_t, doc_url)};
static const fielddef_t vt_fields[] = {OTHER(NULL), U64(prof_value_type_t, type),
                                       U64(prof_value_type_t, unit)};
static const fielddef_t sample_fields[] = {OTHER(NULL), OTHER("location_id"), OTHER("value"),
                                           OTHER("label")};
static const fielddef_t label_fields[] = {OTHER(NULL), U64(prof_label_t, key),
                                          U64(prof_label_t, str), U64(prof_label_t, num),
                                          U64(prof_label_t, num_unit)};
static const fielddef_t mapping_fields[] = {OTHER(NULL),
                                            U64(prof_mapping_t, id),
                                            U64(prof_mapping_t, memory_start),
                                            U64(prof_mapping_t, memory_limit),
                                            U64(prof_mapping_t, file_offset),
                                            U64(prof_mapping_t, filename),
                                            U64(prof_mapping_t, build_id),
                                            BOOL(prof_mapping_t, has_functions),
                                            BOOL(prof_mapping_t, has_filenames),
                                            BOOL(prof_mapping_t, has_line_numbers),
                                            BOOL(prof_mapping_t, has_inline_frames)};
static const fielddef_t location_fields[] = {OTHER(NULL),
                                             U64(prof_location_t, id),
                                             U64(prof_location_t, mapping_id),
                                             U64(prof_location_t, address),
                                             OTHER("line"),
                                             BOOL(prof_location_t, is_folded)};
static const fielddef_t line_fields[] = {OTHER(NULL), U64(prof_line_t, function_id),
                                         U64(prof_line_t, line), U64(prof_line_t, column)};
static const fielddef_t function_fields[] = {OTHER(NULL),
                                             U64(prof_function_t, id),
                                             U64(prof_function_t, name),
                                             U64(prof_function_t, system_name),
                                             U64(prof_function_t, filename),
                                             U64(prof_function_t, start_line)};

#define MSGDEF(n, f)                                                                               \
  { n, f, (int)(sizeof f / sizeof *f) }
static const msgdef_t M_PROFILE = MSGDEF(NULL, profile_fields);
static const msgdef_t M_VT = MSGDEF("value type", vt_fields);
static const msgdef_t M_SAMPLE = MSGDEF("sample", sample_fields);
static const msgdef_t M_LABEL = MSGDEF("label", label_fields);
static const msgdef_t M_MAPPING = MSGDEF("mapping", mapping_fields);
static const msgdef_t M_LOCATION = MSGDEF("location", location_fields);
static const msgdef_t M_LINE = MSGDEF("line", line_fields);
static const msgdef_t M_FUNCTION = MSGDEF("function", function_fields);

static int fail(dec_t *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dec_t *d, int rc, const char *fmt, ...) {
  if (d->err && d->errlen) {
    int n = snprintf(d->err, d->errlen, "not a profile: ");
    if (n >= 0 && (size_t)n < d->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return rc;
}

static const char *field_name(const msgdef_t *m, int num) {
  return num > 0 && num < m->nfields ? m->fields[num].name : "unknown";
}

/* "field 2 (sample)" or "field 1 (location_id) of sample", into a small buffer. */
static const char *field_desc(char *buf, size_t n, const msgdef_t *m, int num) {
  if (m->name)
    snprintf(buf, n, "field %d (%s) of %s", num, field_name(m, num), m->name);
  else
    snprintf(buf, n, "field %d (%s)", num, field_name(m, num));
  return buf;
}

static int fail_field(dec_t *d, const msgdef_t *m, const field_t *f, const char *what) {
  char b[96];
  return fail(d, -EINVAL, "%s %s at byte %zu", field_desc(b, sizeof b, m, f->num), what, f->at);
}

/* Reads the next field of a message in [*pp, end). 1 with f filled, 0 at the end, or an error. */
static int next_field(dec_t *d, const uint8_t **pp, const uint8_t *end, const msgdef_t *m,
                      field_t *f) {
  if (*pp >= end)
    return 0;
  uint64_t tag, len;
  f->at = (size_t)(*pp - d->base);
  int r = wire_get_varint(pp, end, &tag);
  if (r < 0)
    return fail(d, -EINVAL, "%s tag at byte %zu", r == -1 ? "truncated" : "bad varint", f->at);
  f->num = tag >> 3 > INT32_MAX ? INT32_MAX : (int)(tag >> 3);
  f->wt = (int)(tag & 7);
  if (f->num == 0)
    return fail(d, -EINVAL, "field number 0 at byte %zu", f->at);
  switch (f->wt) {
  case WIRE_VARINT:
    r = wire_get_varint(pp, end, &f->v);
    if (r < 0)
      return fail_field(d, m, f, r == -1 ? "truncated" : "has a bad varint");
    return 1;
  case WIRE_I64:
  case WIRE_I32: {
    size_t w = f->wt == WIRE_I64 ? 8 : 4;
    if ((size_t)(end - *pp) < w)
      return fail_field(d, m, f, "truncated");
    f->v = 0;
    memcpy(&f->v, *pp, w); /* little-endian host */
    *pp += w;
    return 1;
  }
  case WIRE_LEN:
    r = wire_get_varint(pp, end, &len);
    if (r < 0 || len > (uint64_t)(end - *pp))
      return fail_field(d, m, f, r == -2 ? "has a bad length" : "truncated");
    f->s = *pp;
    f->e = *pp + len;
    *pp = f->e;
    return 1;
  default: {
    char b[40];
    snprintf(b, sizeof b, "has unsupported wire type %d", f->wt);
    return fail_field(d, m, f, b);
  }
  }
}

static int want_wt(dec_t *d, const msgdef_t *m, const field_t *f, int wt) {
  if (f->wt == wt)
    return 0;
  char b[48];
  snprintf(b, sizeof b, "has wire type %d, want %d", f->wt, wt);
  return fail_field(d, m, f, b);
}

/* Room for one more element of size sz in v; NULL when out of memory. */
static void *vec_push(vec_t *v, size_t sz) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 64;
    void *a = cap <= SIZE_MAX / sz ? realloc(v->a, cap * sz) : NULL;
    if (!a)
      return NULL;
    v->a = a;
    v->cap = cap;
  }
  return (char *)v->a + sz * v->n++;
}

/* Appends a repeated scalar field, packed or not, to v (of uint64_t). */
static int get_repeated(dec_t *d, const msgdef_t *m, const field_t *f, vec_t *v) {
  uint64_t *x;
  if (f->wt == WIRE_VARINT) {
    if (!(x = vec_push(v, sizeof *x)))
      return fail(d, -ENOMEM, "out of memory");
    *x = f->v;
    return 0;
  }
  if (f->wt != WIRE_LEN)
    return want_wt(d, m, f, WIRE_LEN);
  /* Every varint takes at least a byte, so the payload's length bounds the count: grow once. */
  size_t most = (size_t)(f->e - f->s), n = v->n;
  if (most > v->cap - n) {
    size_t cap = v->cap ? v->cap : 64;
    while (cap - n < most)
      cap *= 2;
    if (!(x = cap <= SIZE_MAX / 8 ? realloc(v->a, cap * sizeof *x) : NULL))
      return fail(d, -ENOMEM, "out of memory");
    v->a = x;
    v->cap = cap;
  }
  x = v->a;
  for (const uint8_t *q = f->s; q < f->e;)
    if (wire_get_varint(&q, f->e, &x[n++]) < 0)
      return fail_field(d, m, f, "has a bad packed varint");
  v->n = n;
  return 0;
}

/*
 * Stores field f into obj when the message definition says it is a scalar of obj: 1 when stored,
 * 0 when the field is not one (the caller handles it or it is unknown), or an error.
 */
static int put_scalar(dec_t *d, const msgdef_t *m, const field_t *f, void *obj) {
  if (f->num >= m->nfields || m->fields[f->num].kind == F_OTHER)
    return 0;
  const fielddef_t *fd = &m->fields[f->num];
  int rc = want_wt(d, m, f, WIRE_VARINT);
  if (rc < 0)
    return rc;
  if (fd->kind == F_BOOL)
    *(bool *)((char *)obj + fd->off) = f->v != 0;
  else
    memcpy((char *)obj + fd->off, &f->v, sizeof f->v);
  return 1;
}

/* Decodes a message of only scalar fields (value type, label, mapping, line, function). */
static int dec_scalars(dec_t *d, const msgdef_t *outer, const field_t *in, const msgdef_t *m,
                       void *obj) {
  field_t f;
  int rc;
  if ((rc = want_wt(d, outer, in, WIRE_LEN)) < 0)
    return rc;
  for (const uint8_t *q = in->s; (rc = next_field(d, &q, in->e, m, &f)) > 0;)
    if ((rc = put_scalar(d, m, &f, obj)) < 0)
      return rc;
  return rc;
}

/* Reserves n bytes (a multiple of 8) at the end of the pool; their offset, or -1. */
static ptrdiff_t pool_alloc(dec_t *d, size_t n) {
  if (d->pcap - d->plen < n) {
    size_t cap = d->pcap ? d->pcap : 4096;
    while (cap - d->plen < n) {
      if (cap > SIZE_MAX / 4)
        return -1;
      cap *= 2;
    }
    uint8_t *a = realloc(d->pool, cap);
    if (!a)
      return -1;
    d->pool = a;
    d->pcap = cap;
  }
  size_t off = d->plen;
  d->plen += n;
  return (ptrdiff_t)off;
}

static int dec_label(dec_t *d, const field_t *in) {
  prof_label_t *l = vec_push(&d->lab, sizeof *l);
  if (!l)
    return fail(d, -ENOMEM, "out of memory");
  memset(l, 0, sizeof *l);
  return dec_scalars(d, &M_SAMPLE, in, &M_LABEL, l);
}

/* Decodes a sample into the scratch vectors, then moves it into the pool. */
static int dec_sample(dec_t *d, const field_t *in) {
  field_t f;
  int rc;
  if ((rc = want_wt(d, &M_PROFILE, in, WIRE_LEN)) < 0)
    return rc;
  d->loc.n = d->val.n = d->lab.n = 0;
  for (const uint8_t *q = in->s; (rc = next_field(d, &q, in->e, &M_SAMPLE, &f)) > 0;) {
    if (f.num == 1)
      rc = get_repeated(d, &M_SAMPLE, &f, &d->loc);
    else if (f.num == 2)
      rc = get_repeated(d, &M_SAMPLE, &f, &d->val);
    else if (f.num == 3)
      rc = dec_label(d, &f);
    if (rc < 0)
      return rc;
  }
  if (rc < 0)
    return rc;
  size_t nl = d->loc.n * 8, nv = d->val.n * 8, nb = d->lab.n * sizeof(prof_label_t);
  ptrdiff_t off = pool_alloc(d, nl + nv + nb);
  size_t *so = off < 0 ? NULL : vec_push(&d->soff, sizeof *so);
  prof_sample_t *s = so ? prof_push(d->p, PROF_K_SAMPLE) : NULL;
  if (!s)
    return fail(d, -ENOMEM, "out of memory");
  *so = (size_t)off;
  if (nl)
    memcpy(d->pool + off, d->loc.a, nl);
  if (nv)
    memcpy(d->pool + off + nl, d->val.a, nv);
  if (nb)
    memcpy(d->pool + off + nl + nv, d->lab.a, nb);
  s->nlocation = d->loc.n;
  s->nvalue = d->val.n;
  s->nlabel = d->lab.n;
  return 0;
}

static int dec_line(dec_t *d, const field_t *in) {
  prof_line_t *l = vec_push(&d->line, sizeof *l);
  if (!l)
    return fail(d, -ENOMEM, "out of memory");
  memset(l, 0, sizeof *l);
  return dec_scalars(d, &M_LOCATION, in, &M_LINE, l);
}

static int dec_location(dec_t *d, const field_t *in) {
  field_t f;
  int rc;
  prof_location_t *x;
  if ((rc = want_wt(d, &M_PROFILE, in, WIRE_LEN)) < 0)
    return rc;
  if (!(x = prof_push(d->p, PROF_K_LOCATION)))
    return fail(d, -ENOMEM, "out of memory");
  d->line.n = 0;
  for (const uint8_t *q = in->s; (rc = next_field(d, &q, in->e, &M_LOCATION, &f)) > 0;)
    if ((rc = f.num == 4 ? dec_line(d, &f) : put_scalar(d, &M_LOCATION, &f, x)) < 0)
      return rc;
  if (rc < 0 || d->line.n == 0)
    return rc;
  if (!(x->line = malloc(d->line.n * sizeof *x->line)))
    return fail(d, -ENOMEM, "out of memory");
  memcpy(x->line, d->line.a, d->line.n * sizeof *x->line);
  x->nline = d->line.n;
  return 0;
}

static int dec_string(dec_t *d, const field_t *f) {
  int rc = want_wt(d, &M_PROFILE, f, WIRE_LEN);
  if (rc < 0)
    return rc;
  size_t len = (size_t)(f->e - f->s);
  if (d->stroff.n == 0 && len != 0)
    return fail(d, -EINVAL, "string_table[0] must be \"\" (byte %zu)", f->at);
  ptrdiff_t off = pool_alloc(d, (len + 8) & ~(size_t)7);
  size_t *so = off < 0 ? NULL : vec_push(&d->stroff, 2 * sizeof *so);
  if (!so)
    return fail(d, -ENOMEM, "out of memory");
  if (len)
    memcpy(d->pool + off, f->s, len);
  d->pool[off + (ptrdiff_t)len] = '\0';
  so[0] = (size_t)off;
  so[1] = len;
  return 0;
}

static int dec_comments(dec_t *d, const field_t *f) {
  d->val.n = 0;
  int rc = get_repeated(d, &M_PROFILE, f, &d->val);
  for (size_t i = 0; rc == 0 && i < d->val.n; i++) {
    int64_t *c = prof_push(d->p, PROF_K_COMMENT);
    if (!c)
      return fail(d, -ENOMEM, "out of memory");
    *c = ((int64_t *)d->val.a)[i];
  }
  return rc;
}

/* A message appended to one of the profile's arrays. */
static int dec_pushed(dec_t *d, const field_t *f, enum prof_kind kind, const msgdef_t *m) {
  void *x = prof_push(d->p, kind);
  return x ? dec_scalars(d, &M_PROFILE, f, m, x) : fail(d, -ENOMEM, "out of memory");
}

static int dec_field(dec_t *d, const field_t *f) {
  prof_t *p = d->p;
  switch (f->num) {
  case 1:
    return dec_pushed(d, f, PROF_K_SAMPLE_TYPE, &M_VT);
  case 2:
    return dec_sample(d, f);
  case 3:
    return dec_pushed(d, f, PROF_K_MAPPING, &M_MAPPING);
  case 4:
    return dec_location(d, f);
  case 5:
    return dec_pushed(d, f, PROF_K_FUNCTION, &M_FUNCTION);
  case 6:
    return dec_string(d, f);
  case 9: /* as pprof: a second time_nanos means two profiles were concatenated */
    if (p->time_nanos != 0)
      return d->concat = true,
             fail(d, -EINVAL, "concatenated profiles detected (second time_nanos at byte %zu)",
                  f->at);
    return f->wt == WIRE_VARINT ? (p->time_nanos = (int64_t)f->v, 0)
                                : want_wt(d, &M_PROFILE, f, WIRE_VARINT);
  case 11:
    return dec_scalars(d, &M_PROFILE, f, &M_VT, &p->period_type);
  case 13:
    return dec_comments(d, f);
  default:
    return put_scalar(d, &M_PROFILE, f, p); /* or unknown, and skipped */
  }
}

static int dec_profile(dec_t *d, const uint8_t *q, const uint8_t *end) {
  field_t f;
  int rc;
  while ((rc = next_field(d, &q, end, &M_PROFILE, &f)) > 0)
    if ((rc = dec_field(d, &f)) < 0)
      return rc;
  return rc;
}

/* Turns pool offsets into pointers and hands the pool and strings to the profile. */
static int dec_finish(dec_t *d) {
  prof_t *p = d->p;
  if (d->plen && d->pcap - d->plen > ((size_t)1 << 20)) {
    uint8_t *a = realloc(d->pool, d->plen);
    if (a)
      d->pool = a, d->pcap = d->plen;
  }
  size_t ns = d->stroff.n;
  char **strs = malloc((ns ? ns : 1) * sizeof *strs);
  size_t *lens = malloc((ns ? ns : 1) * sizeof *lens);
  if (!strs || !lens) {
    free(strs);
    free(lens);
    return fail(d, -ENOMEM, "out of memory");
  }
  const size_t *so = d->stroff.a;
  for (size_t i = 0; i < ns; i++) {
    strs[i] = (char *)d->pool + so[2 * i];
    lens[i] = so[2 * i + 1];
  }
  const size_t *off = d->soff.a;
  for (size_t i = 0; d->pool && i < p->nsample; i++) {
    prof_sample_t *s = &p->sample[i];
    uint8_t *b = d->pool + off[i];
    s->location_id = s->nlocation ? (uint64_t *)b : NULL;
    b += s->nlocation * 8;
    s->value = s->nvalue ? (int64_t *)b : NULL;
    b += s->nvalue * 8;
    s->label = s->nlabel ? (prof_label_t *)b : NULL;
  }
  prof_pool_adopt(p, d->pool, d->plen);
  d->pool = NULL;
  prof_strings_adopt(p, strs, lens, ns);
  return 0;
}

/* Decodes an uncompressed message (see wire.h). */
int prof_decode_plain(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen,
                      bool *concat) {
  dec_t d = {.err = err, .errlen = errlen};
  int rc;
  *out = NULL;
  *concat = false;
  if (err && errlen)
    err[0] = '\0';
  if (len == 0)
    return fail(&d, -EINVAL, "empty input");
  d.base = data;
  if (!(d.p = prof_new()))
    return fail(&d, -ENOMEM, "out of memory");
  size_t guess = len < SIZE_MAX / 4 ? len * 2 : len;
  if (guess > 4096 && pool_alloc(&d, guess) >= 0)
    d.plen = 0;
  rc = dec_profile(&d, data, data + len);
  if (rc == 0)
    rc = dec_finish(&d);
  if (rc == 0 && (rc = prof_check(d.p, err, errlen)) == -ENOMEM)
    fail(&d, rc, "out of memory");
  free(d.pool);
  free(d.soff.a);
  free(d.stroff.a);
  free(d.loc.a);
  free(d.val.a);
  free(d.lab.a);
  free(d.line.a);
  *concat = d.concat;
  if (rc < 0) {
    prof_free(d.p);
    return rc;
  }
  *out = d.p;
  return 0;
}

int prof_decode(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen) {
  prof_buf_t raw = {0};
  dec_t d = {.err = err, .errlen = errlen};
  bool concat;
  *out = NULL;
  if (err && errlen)
    err[0] = '\0';
  if (len == 0)
    return fail(&d, -EINVAL, "empty input");
  if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    int rc = prof_gunzip(data, len, WIRE_MAX_INFLATE, &raw, err, errlen);
    if (rc < 0) {
      prof_buf_free(&raw);
      return rc;
    }
    if (raw.len == 0) {
      prof_buf_free(&raw);
      return fail(&d, -EINVAL, "empty input after gunzip");
    }
    data = raw.data;
    len = raw.len;
  }
  int rc = prof_decode_plain(data, len, out, err, errlen, &concat);
  prof_buf_free(&raw);
  return rc;
}
