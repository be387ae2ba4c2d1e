/*
 * wire.h — the protobuf wire primitives shared by the encoder and decoder in src/format/.
 *
 * Internal to the format layer; nothing outside src/format/ includes it. The writers append to a
 * prof_buf_t without checking capacity: a caller first calls wire_reserve() with the largest size
 * the element can take (every varint is at most 10 bytes), then writes unchecked. The reader works
 * on a [p, end) window and never reads past end; a varint longer than 10 bytes, or whose tenth
 * byte carries more than the one bit a uint64 has left, is malformed.
 *
 * Besides the wire codec, this header declares the few private hooks profile.c gives proto.c: the
 * byte pool that holds a decoded profile's sample arrays and strings, and the id indexes.
 */
#ifndef CPROF_FORMAT_WIRE_H
#define CPROF_FORMAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/profile.h"

/* Protobuf wire types. */
enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

/* Longest encoding of a uint64 varint. */
#define WIRE_VARINT_MAX 10

/* The biggest inflated profile prof_decode accepts (a gzip bomb stops here). */
#define WIRE_MAX_INFLATE ((size_t)2 << 30)

/* Makes room for n more bytes in b; 0 or -ENOMEM. */
int wire_reserve(prof_buf_t *b, size_t n);

static inline size_t wire_varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static inline void wire_put_varint(prof_buf_t *b, uint64_t v) {
  uint8_t *d = b->data + b->len;
  while (v >= 0x80) {
    *d++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *d++ = (uint8_t)v;
  b->len = (size_t)(d - b->data);
}

static inline void wire_put_tag(prof_buf_t *b, int field, int wt) {
  wire_put_varint(b, ((uint64_t)field << 3) | (uint64_t)wt);
}

/* A varint field, always written (Go's encodeInt64/encodeUint64). */
static inline void wire_put_u64(prof_buf_t *b, int field, uint64_t v) {
  wire_put_tag(b, field, WIRE_VARINT);
  wire_put_varint(b, v);
}

/* A varint field written only when non-zero (Go's encode*Opt). */
static inline void wire_put_u64_opt(prof_buf_t *b, int field, uint64_t v) {
  if (v != 0)
    wire_put_u64(b, field, v);
}

static inline void wire_put_bytes(prof_buf_t *b, int field, const void *s, size_t len) {
  wire_put_tag(b, field, WIRE_LEN);
  wire_put_varint(b, len);
  if (len)
    memcpy(b->data + b->len, s, len);
  b->len += len;
}

/*
 * A length-delimited message is written as tag, then its body at the current end; wire_msg_end
 * shifts the body right to make room for its length. Bodies are single elements, so the shift is
 * short. The caller reserved WIRE_VARINT_MAX bytes of slack for it.
 */
static inline size_t wire_msg_begin(prof_buf_t *b, int field) {
  wire_put_tag(b, field, WIRE_LEN);
  return b->len;
}

static inline void wire_msg_end(prof_buf_t *b, size_t start) {
  size_t body = b->len - start, k = wire_varint_len(body);
  memmove(b->data + start + k, b->data + start, body);
  b->len = start;
  wire_put_varint(b, body);
  b->len += body;
}

/*
 * Reads a varint from *pp, advancing it. 0, or -1 when the input ends first, or -2 when the varint
 * is longer than 10 bytes or overflows 64 bits.
 */
static inline int wire_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  if (p < end && *p < 0x80) {
    *out = *p;
    *pp = p + 1;
    return 0;
  }
  for (int i = 0; i < WIRE_VARINT_MAX; i++) {
    if (p >= end)
      return -1;
    uint8_t c = *p++;
    if (i == WIRE_VARINT_MAX - 1 && c > 1)
      return -2;
    v |= (uint64_t)(c & 0x7f) << (7 * i);
    if (c < 0x80) {
      *out = v;
      *pp = p;
      return 0;
    }
  }
  return -2;
}

/* ---------------------------------------------------- private hooks of profile.c ------------- */

/*
 * The pool of a decoded profile: one malloc'd block holding every sample's location ids, values
 * and labels, and the bytes of every decoded string. prof_free frees what lies outside it.
 */
void prof_pool_adopt(prof_t *p, uint8_t *pool, size_t len);

/* The growable arrays of a profile, for prof_push. */
enum prof_kind {
  PROF_K_SAMPLE_TYPE,
  PROF_K_SAMPLE,
  PROF_K_MAPPING,
  PROF_K_LOCATION,
  PROF_K_FUNCTION,
  PROF_K_COMMENT,
  PROF_K_COUNT
};

/* Appends a zeroed element to the array of that kind and returns it; NULL when out of memory. */
void *prof_push(prof_t *p, enum prof_kind kind);

/* Replaces the string table with n decoded strings (their bytes may lie in the pool). */
void prof_strings_adopt(prof_t *p, char **strings, size_t *lens, size_t n);

/*
 * Builds the id indexes of mappings, locations and functions. -EEXIST names the first duplicate
 * or zero id in *what and *bad_id (what is "mapping", "location" or "function"); -ENOMEM.
 */
int prof_ids_build(prof_t *p, const char **what, uint64_t *bad_id);

/*
 * Checks a decoded profile as pprof's CheckValid does, and more: strings[0] is "", every string
 * index is in range, ids are non-zero and unique, every referenced mapping, location and function
 * exists, and every sample has one value per sample type. Builds the id indexes on the way.
 * 0, or -EINVAL (-ENOMEM) with "not a profile: ..." in err.
 */
int prof_check(prof_t *p, char *err, size_t errlen);

/*
 * prof_decode without the gunzip step: data is the profile.proto message itself. *concat is set
 * when it failed on a second time_nanos field (two profiles concatenated), which pprof reports
 * instead of trying the legacy formats.
 */
int prof_decode_plain(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen,
                      bool *concat);

#endif /* CPROF_FORMAT_WIRE_H */
