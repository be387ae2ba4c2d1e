/*
 * format_test.c — unit tests of src/format/: the profile model, the profile.proto codec and gzip.
 *
 * What is covered: building a profile that uses every field and checking that encode → decode
 * gives it back field for field; decode → encode → decode stability; real profiles written by Go's
 * pprof (from $CPROF_SHARED/peer/pprof, which ctest sets), checked against facts `go tool pprof
 * -raw` shows for them, and re-encoded to the very same bytes; hand-made encodings (unpacked
 * repeated fields, unknown fields of every wire type, sparse ids); hostile input (every truncation,
 * seeded random corruption, bad varints, dangling string indexes and ids, a gzip bomb, empty input,
 * garbage), each of which must fail with a negative errno and a reason; and interoperability: a
 * profile written here is read by `go tool pprof` (which must be in PATH).
 *
 * Each CHECK counts a pass or prints file:line and counts a failure; the exit status is non-zero
 * when anything failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format/profile.h"
#include "readfile.h"
#include "test.h"

#define CHECK_STR(p, idx, want) CHECK(strcmp(prof_str((p), (idx)), (want)) == 0)

/* ------------------------------------------------------------------ helpers ------------------ */

static prof_t *decode_file(const char *rel, char *err, size_t errlen) {
  const char *shared = getenv("CPROF_SHARED");
  char path[4096];
  snprintf(path, sizeof path, "%s/peer/pprof/%s", shared ? shared : "/work/shared", rel);
  size_t len = 0;
  uint8_t *data = read_file(path, &len);
  if (!data) {
    fprintf(stderr, "cannot read %s (set CPROF_SHARED)\n", path);
    return NULL;
  }
  prof_t *p = NULL;
  int rc = prof_decode(data, len, &p, err, errlen);
  if (rc < 0)
    fprintf(stderr, "%s: %s\n", rel, err);
  free(data);
  return p;
}

static bool same_str(const prof_t *a, int64_t i, const prof_t *b, int64_t j) {
  return strcmp(prof_str(a, i), prof_str(b, j)) == 0;
}

/* Whether a and b hold the same profile, comparing strings by content. Reports the first diff. */
static bool prof_equal(const prof_t *a, const prof_t *b) {
#define EQ(c)                                                                                      \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "profiles differ: %s\n", #c);                                                \
      return false;                                                                                \
    }                                                                                              \
  } while (0)
  EQ(a->nsample_type == b->nsample_type && a->nsample == b->nsample);
  EQ(a->nmapping == b->nmapping && a->nlocation == b->nlocation && a->nfunction == b->nfunction);
  for (size_t i = 0; i < a->nsample_type; i++)
    EQ(same_str(a, a->sample_type[i].type, b, b->sample_type[i].type) &&
       same_str(a, a->sample_type[i].unit, b, b->sample_type[i].unit));
  for (size_t i = 0; i < a->nsample; i++) {
    const prof_sample_t *x = &a->sample[i], *y = &b->sample[i];
    EQ(x->nlocation == y->nlocation && x->nvalue == y->nvalue && x->nlabel == y->nlabel);
    EQ(!x->nlocation || !memcmp(x->location_id, y->location_id, x->nlocation * 8));
    EQ(!x->nvalue || !memcmp(x->value, y->value, x->nvalue * 8));
    for (size_t j = 0; j < x->nlabel; j++) {
      const prof_label_t *l = &x->label[j], *m = &y->label[j];
      EQ(same_str(a, l->key, b, m->key) && same_str(a, l->str, b, m->str) && l->num == m->num &&
         same_str(a, l->num_unit, b, m->num_unit));
    }
  }
  for (size_t i = 0; i < a->nmapping; i++) {
    const prof_mapping_t *x = &a->mapping[i], *y = &b->mapping[i];
    EQ(x->id == y->id && x->memory_start == y->memory_start && x->memory_limit == y->memory_limit &&
       x->file_offset == y->file_offset);
    EQ(same_str(a, x->filename, b, y->filename) && same_str(a, x->build_id, b, y->build_id));
    EQ(x->has_functions == y->has_functions && x->has_filenames == y->has_filenames &&
       x->has_line_numbers == y->has_line_numbers && x->has_inline_frames == y->has_inline_frames);
  }
  for (size_t i = 0; i < a->nlocation; i++) {
    const prof_location_t *x = &a->location[i], *y = &b->location[i];
    EQ(x->id == y->id && x->mapping_id == y->mapping_id && x->address == y->address);
    EQ(x->nline == y->nline && x->is_folded == y->is_folded);
    for (size_t j = 0; j < x->nline; j++)
      EQ(x->line[j].function_id == y->line[j].function_id && x->line[j].line == y->line[j].line &&
         x->line[j].column == y->line[j].column);
  }
  for (size_t i = 0; i < a->nfunction; i++) {
    const prof_function_t *x = &a->function[i], *y = &b->function[i];
    EQ(x->id == y->id && x->start_line == y->start_line && same_str(a, x->name, b, y->name));
    EQ(same_str(a, x->system_name, b, y->system_name) && same_str(a, x->filename, b, y->filename));
  }
  EQ(same_str(a, a->drop_frames, b, b->drop_frames) &&
     same_str(a, a->keep_frames, b, b->keep_frames));
  EQ(a->time_nanos == b->time_nanos && a->duration_nanos == b->duration_nanos);
  EQ(same_str(a, a->period_type.type, b, b->period_type.type) &&
     same_str(a, a->period_type.unit, b, b->period_type.unit) && a->period == b->period);
  EQ(a->ncomment == b->ncomment);
  for (size_t i = 0; i < a->ncomment; i++)
    EQ(same_str(a, a->comment[i], b, b->comment[i]));
  EQ(same_str(a, a->default_sample_type, b, b->default_sample_type));
  EQ(same_str(a, a->doc_url, b, b->doc_url));
  return true;
#undef EQ
}

/* Encodes p and decodes the bytes; NULL (and a message) on failure. */
static prof_t *roundtrip(const prof_t *p) {
  prof_buf_t b = {0};
  prof_t *q = NULL;
  char err[256];
  if (prof_encode(p, &b) == 0 && prof_decode(b.data, b.len, &q, err, sizeof err) < 0)
    fprintf(stderr, "roundtrip: %s\n", err);
  prof_buf_free(&b);
  return q;
}

/* A profile that sets every field of every message. */
static prof_t *build_full(void) {
  prof_t *p = prof_new();
  prof_add_sample_type(p, "samples", "count");
  prof_add_sample_type(p, "cpu", "nanoseconds");
  prof_set_period_type(p, "cpu", "nanoseconds");
  p->period = 10000000;
  p->time_nanos = 1700000000123456789;
  p->duration_nanos = 2500000000;
  p->drop_frames = prof_intern(p, "^malloc$");
  p->keep_frames = prof_intern(p, "^keep_me$");
  p->default_sample_type = prof_intern(p, "cpu");
  p->doc_url = prof_intern(p, "https://example.com/doc");
  prof_add_comment(p, "first comment");
  prof_add_comment(p, "#hidden");
  prof_mapping_t *m = prof_add_mapping(p);
  *m = (prof_mapping_t){.id = m->id,
                        .memory_start = 0x400000,
                        .memory_limit = 0x500000,
                        .file_offset = 0x1000,
                        .filename = prof_intern(p, "/usr/bin/app"),
                        .build_id = prof_intern(p, "abcdef0123"),
                        .has_functions = true,
                        .has_filenames = true,
                        .has_line_numbers = true,
                        .has_inline_frames = true};
  const char *fn[] = {"main", "work", "inlined_helper"};
  for (int i = 0; i < 3; i++) {
    prof_function_t *f = prof_add_function(p);
    f->name = prof_intern(p, fn[i]);
    f->system_name = prof_intern(p, i == 2 ? "_Z14inlined_helperv" : fn[i]);
    f->filename = prof_intern(p, "src/app.c");
    f->start_line = 10 * (i + 1);
  }
  prof_location_t *l = prof_add_location(p); /* 1: main */
  l->mapping_id = 1, l->address = 0x401000;
  prof_location_add_line(l, 1, 12);
  l = prof_add_location(p); /* 2: work with inlined_helper inlined */
  l->mapping_id = 1, l->address = 0x402000, l->is_folded = true;
  prof_location_add_line(l, 3, 33);
  prof_location_add_line(l, 2, 24);
  l->line[0].column = 7;
  l = prof_add_location(p); /* 3: no mapping, negative line */
  l->address = 0xdeadbeef;
  prof_location_add_line(l, 2, -5);
  uint64_t s1[] = {2, 1}, s2[] = {3, 2, 1, 1};
  int64_t v1[] = {3, 30000000}, v2[] = {-1, INT64_MIN};
  prof_sample_t *s = prof_add_sample(p, s1, 2, v1, 2);
  prof_sample_add_label_str(p, s, "thread", "worker-1");
  prof_sample_add_label_num(p, s, "bytes", 4096, "bytes");
  prof_sample_add_label_num(p, s, "count", -3, NULL);
  s = prof_add_sample(p, s2, 4, v2, 2);
  prof_sample_add_label_str(p, s, "thread", "main");
  prof_add_sample(p, NULL, 0, v1, 2);
  prof_intern_len(p, "nul\0inside", 10);
  return p;
}

/* ------------------------------------------------------------------- tests ------------------- */

static void test_model(void) {
  prof_t *p = prof_new();
  CHECK(p && p->nstrings == 1 && strcmp(p->strings[0], "") == 0);
  CHECK(prof_intern(p, "") == 0);
  int64_t a = prof_intern(p, "alpha");
  CHECK(a == 1 && prof_intern(p, "alpha") == 1 && prof_intern(p, "beta") == 2);
  CHECK(prof_intern_len(p, "alphabet", 5) == 1);
  int64_t z = prof_intern_len(p, "a\0b", 3);
  CHECK(z == 3 && p->string_len[3] == 3 && memcmp(p->strings[3], "a\0b", 4) == 0);
  CHECK(prof_intern_len(p, "a\0c", 3) == 4);
  CHECK_STR(p, 99, "");
  CHECK_STR(p, -1, "");
  char name[32];
  for (int i = 0; i < 5000; i++) { /* grows the index several times */
    snprintf(name, sizeof name, "s%d", i);
    CHECK(prof_intern(p, name) == 5 + i);
  }
  CHECK(prof_intern(p, "s4321") == 5 + 4321 && prof_intern(p, "beta") == 2);
  CHECK(prof_add_sample(p, NULL, 0, NULL, 1) == NULL && errno == EINVAL);
  for (int i = 0; i < 100; i++) {
    CHECK(prof_add_function(p)->id == (uint64_t)i + 1);
    CHECK(prof_add_location(p)->id == (uint64_t)i + 1);
  }
  CHECK(prof_add_mapping(p)->id == 1);
  CHECK(prof_location_by_id(p, 100) == &p->location[99] && prof_location_by_id(p, 101) == NULL);
  CHECK(prof_location_by_id(p, 0) == NULL && prof_mapping_by_id(p, 2) == NULL);
  /* Sparse ids: the lookup builds an index, and extends it as more are added. */
  for (size_t i = 0; i < p->nfunction; i++)
    p->function[i].id = 1000003 * (i + 1);
  CHECK(prof_function_by_id(p, 1000003 * 57) == &p->function[56]);
  CHECK(prof_function_by_id(p, 57) == NULL);
  prof_function_t *f = prof_add_function(p);
  f->id = 42;
  CHECK(prof_function_by_id(p, 42) == &p->function[100]);
  CHECK(prof_function_by_id(p, 1000003) == &p->function[0]);
  prof_free(p);
  prof_free(NULL);
}

static void test_roundtrip(void) {
  prof_t *p = build_full();
  prof_t *q = roundtrip(p);
  CHECK(q != NULL);
  if (!q) {
    prof_free(p);
    return;
  }
  CHECK(prof_equal(p, q));
  /* The string table itself survives, in order, NUL bytes included. */
  CHECK(q->nstrings == p->nstrings);
  for (size_t i = 0; i < p->nstrings && i < q->nstrings; i++)
    CHECK(q->string_len[i] == p->string_len[i] &&
          memcmp(q->strings[i], p->strings[i], p->string_len[i]) == 0);
  /* Spot checks of the decoded values themselves. */
  CHECK(q->sample[1].value[1] == INT64_MIN && q->sample[1].value[0] == -1);
  CHECK(q->sample[0].nlabel == 3 && q->sample[0].label[1].num == 4096);
  CHECK_STR(q, q->sample[0].label[1].num_unit, "bytes");
  CHECK(q->sample[0].label[2].num == -3 && q->sample[0].label[2].num_unit == 0);
  CHECK_STR(q, q->sample[0].label[0].str, "worker-1");
  CHECK(q->sample[2].nlocation == 0 && q->sample[2].location_id == NULL);
  CHECK(q->location[1].nline == 2 && q->location[1].line[0].column == 7 &&
        q->location[1].is_folded);
  CHECK(q->location[2].line[0].line == -5 && q->location[2].mapping_id == 0);
  CHECK_STR(q, q->default_sample_type, "cpu");
  CHECK_STR(q, q->doc_url, "https://example.com/doc");
  CHECK_STR(q, q->keep_frames, "^keep_me$");
  CHECK_STR(q, q->comment[1], "#hidden");
  /* Deterministic: encoding twice, or encoding the decoded copy, gives the same bytes. */
  prof_buf_t b1 = {0}, b2 = {0}, b3 = {0};
  CHECK(prof_encode(p, &b1) == 0 && prof_encode(p, &b2) == 0 && prof_encode(q, &b3) == 0);
  CHECK(b1.len == b2.len && b1.len == b3.len && memcmp(b1.data, b2.data, b1.len) == 0 &&
        memcmp(b1.data, b3.data, b1.len) == 0);
  /* Editing a decoded profile: labels move out of the pool; interning finds decoded strings. */
  CHECK(prof_intern(q, "worker-1") == q->sample[0].label[0].str);
  int64_t fresh = prof_intern(q, "a brand new string");
  CHECK(fresh == (int64_t)p->nstrings);
  CHECK(prof_sample_add_label_str(q, &q->sample[0], "extra", "yes") == 0);
  CHECK(q->sample[0].nlabel == 4 && q->sample[0].label[1].num == 4096);
  CHECK_STR(q, q->sample[0].label[3].str, "yes");
  prof_t *r = roundtrip(q);
  CHECK(r && prof_equal(q, r));
  prof_free(r);
  /* gzip round trip, and prof_decode's detection of the gzip magic. */
  prof_buf_t gz = {0};
  CHECK(prof_gzip(b1.data, b1.len, 1, &gz) == 0 && gz.len > 18 && gz.data[0] == 0x1f);
  prof_t *g = NULL;
  char err[256] = "";
  CHECK(prof_decode(gz.data, gz.len, &g, err, sizeof err) == 0 && g && prof_equal(p, g));
  prof_free(g);
  prof_buf_free(&b1), prof_buf_free(&b2), prof_buf_free(&b3), prof_buf_free(&gz);
  prof_free(q);
  prof_free(p);
}

/* A profile whose every integer is a varint of the given field numbers, built by hand. */
static void test_handmade(void) {
  static const uint8_t msg[] = {
      0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,             /* sample_type {type 1, unit 2} */
      0x0a, 0x02, 0x10, 0x01,                         /* sample_type {unit 1} */
      0x12, 0x0b, 0x08, 0x07, 0x08, 0x07, 0x08, 0x05, /* sample: location_id 7, 7, 5 unpacked */
      0x12, 0x01, 0x09, 0x10, 0x02,                   /* value packed [9], then unpacked 2 */
      0x22, 0x04, 0x08, 0x07, 0x10, 0x03,             /* location {id 7, mapping 3} */
      0x22, 0x02, 0x08, 0x05,                         /* location {id 5} */
      0x1a, 0x02, 0x08, 0x03,                         /* mapping {id 3} */
      0x32, 0x00, 0x32, 0x01, 'a',  0x32, 0x01, 'b',  /* strings "", "a", "b" */
      0xa0, 0x01, 0x07,                               /* field 20, varint: unknown */
      0xa9, 0x01, 1,    2,    3,    4,    5,    6,    7, 8, /* field 21, fixed64: unknown */
      0xb5, 0x01, 1,    2,    3,    4,                      /* field 22, fixed32: unknown */
      0xba, 0x01, 0x02, 0xff, 0xff,                         /* field 23, bytes: unknown */
      0x6a, 0x02, 0x01, 0x02,                               /* comment packed [1, 2] */
      0x68, 0x01,                                           /* comment unpacked 1 */
  };
  prof_t *p = NULL;
  char err[256] = "";
  int rc = prof_decode(msg, sizeof msg, &p, err, sizeof err);
  CHECK(rc == 0);
  if (rc < 0) {
    fprintf(stderr, "handmade: %s\n", err);
    return;
  }
  CHECK(p->nsample == 1 && p->sample[0].nlocation == 3 && p->sample[0].location_id[2] == 5);
  CHECK(p->sample[0].nvalue == 2 && p->sample[0].value[0] == 9 && p->sample[0].value[1] == 2);
  CHECK(p->nlocation == 2 && prof_location_by_id(p, 5) == &p->location[1]);
  CHECK(prof_location_by_id(p, 7) == &p->location[0] && prof_location_by_id(p, 6) == NULL);
  CHECK(prof_mapping_by_id(p, 3) == &p->mapping[0] && prof_mapping_by_id(p, 1) == NULL);
  CHECK(p->ncomment == 3 && p->comment[2] == 1);
  CHECK_STR(p, p->comment[1], "b");
  prof_free(p);
}

static void test_pprof_files(void) {
  char err[256] = "";
  prof_t *p = decode_file("derived/driver/cpu.pb.gz", err, sizeof err);
  CHECK(p != NULL);
  if (p) {
    CHECK(p->nsample_type == 2 && p->nsample == 4 && p->nlocation == 5 && p->nfunction == 6);
    CHECK_STR(p, p->sample_type[0].type, "samples");
    CHECK_STR(p, p->sample_type[1].unit, "milliseconds");
    CHECK_STR(p, p->period_type.type, "cpu");
    CHECK(p->period == 1 && p->duration_nanos == 10000000000);
    CHECK(p->sample[0].value[0] == 1000 && p->sample[3].value[1] == 10);
    CHECK(p->sample[0].nlocation == 3 && p->sample[0].location_id[2] == 3000);
    CHECK(p->sample[1].nlabel == 2);
    CHECK_STR(p, p->sample[1].label[1].key, "key3");
    CHECK_STR(p, p->sample[1].label[1].str, "tag2");
    const prof_location_t *l = prof_location_by_id(p, 3000);
    CHECK(l && l->nline == 3 && l->address == 0x3000 && l->line[2].line == 6);
    const prof_function_t *f = l ? prof_function_by_id(p, l->line[0].function_id) : NULL;
    CHECK(f != NULL);
    if (f) {
      CHECK_STR(p, f->name, "line3002");
      CHECK_STR(p, f->system_name, "mangled3002");
    }
    CHECK_STR(p, p->mapping[0].filename, "/path/to/testbinary");
    CHECK(p->mapping[0].memory_limit == 0x4000 && p->mapping[0].has_inline_frames);
  }
  prof_free(p);
  p = decode_file("derived/driver/heap.pb.gz", err, sizeof err);
  CHECK(p != NULL);
  if (p) {
    CHECK_STR(p, p->sample_type[1].type, "inuse_space");
    CHECK_STR(p, p->drop_frames, ".*operator new.*|malloc");
    CHECK(p->ncomment == 2 && p->period == 524288);
    CHECK_STR(p, p->comment[1], "#hidden comment");
    CHECK(p->sample[2].value[1] == 65536000 && p->sample[2].label[0].num == 1638400);
    CHECK_STR(p, p->sample[2].label[0].key, "bytes");
    CHECK_STR(p, p->mapping[0].build_id, "buildid");
  }
  prof_free(p);
  p = decode_file("derived/driver/contention.pb.gz", err, sizeof err);
  CHECK(p && p->nsample == 4 && p->sample[1].value[1] == 40960000);
  if (p)
    CHECK_STR(p, p->sample_type[1].type, "delay");
  prof_free(p);
  p = decode_file("derived/report/testprofile.pb.gz", err, sizeof err);
  CHECK(p && p->nlocation == 6 && p->location[1].line[0].column == 4);
  CHECK(p && p->location[5].nline == 2 && p->sample[4].value[1] == 10000);
  prof_free(p);
  p = decode_file("internal/proftest/testdata/large.cpu", err, sizeof err);
  CHECK(p && p->nsample == 20430 && p->nlocation == 23355 && p->nmapping == 4);
  CHECK(p && p->time_nanos == 1666107597086748038 && p->period == 10000000);
  prof_t *q = p ? roundtrip(p) : NULL;
  CHECK(q && prof_equal(p, q));
  prof_free(q);
  prof_free(p);
  p = decode_file("fuzz/testdata/7e3c92482f6f39fc502b822ded792c589849cca8", err, sizeof err);
  CHECK(p == NULL && strncmp(err, "not a profile: ", 15) == 0);
}

/* Go's pprof writes what our encoder writes: every derived profile re-encodes to its own bytes. */
static void test_go_bytes(void) {
  const char *files[] = {"derived/driver/cpu.pb.gz",        "derived/driver/heap.pb.gz",
                         "derived/driver/contention.pb.gz", "derived/driver/heap_sizetags.pb.gz",
                         "derived/driver/cpusmall.pb.gz",   "derived/report/testprofile.pb.gz"};
  const char *shared = getenv("CPROF_SHARED");
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char path[4096], err[256] = "";
    snprintf(path, sizeof path, "%s/peer/pprof/%s", shared ? shared : "/work/shared", files[i]);
    size_t len = 0;
    uint8_t *gz = read_file(path, &len);
    prof_buf_t raw = {0}, enc = {0};
    prof_t *p = NULL;
    CHECK(gz && prof_gunzip(gz, len, 1 << 20, &raw, err, sizeof err) == 0);
    CHECK(prof_decode(raw.data, raw.len, &p, err, sizeof err) == 0);
    CHECK(p && prof_encode(p, &enc) == 0);
    CHECK(enc.len == raw.len && enc.len && memcmp(enc.data, raw.data, enc.len) == 0);
    if (enc.len != raw.len)
      fprintf(stderr, "%s: re-encoded %zu bytes, Go wrote %zu\n", files[i], enc.len, raw.len);
    prof_free(p);
    prof_buf_free(&raw), prof_buf_free(&enc);
    free(gz);
  }
}

static bool fails_cleanly(const uint8_t *data, size_t len, int want_rc, const char *want_text) {
  prof_t *p = (prof_t *)1;
  char err[256] = "";
  int rc = prof_decode(data, len, &p, err, sizeof err);
  bool ok = rc < 0 && p == NULL && err[0] != '\0' && (!want_rc || rc == want_rc) &&
            (!want_text || strstr(err, want_text));
  if (!ok)
    fprintf(stderr, "decode gave rc %d, err \"%s\" (want %d, \"%s\")\n", rc, err, want_rc,
            want_text ? want_text : "");
  if (rc == 0)
    prof_free(p);
  return ok;
}

static uint64_t get_varint(const uint8_t *d, size_t *i) {
  uint64_t v = 0;
  for (int s = 0;; s += 7) {
    uint8_t c = d[(*i)++];
    v |= (uint64_t)(c & 0x7f) << s;
    if (c < 0x80)
      return v;
  }
}

/*
 * Where the top-level fields after the string table (7 and up) begin in our encoding, and where
 * the last string begins.
 */
static size_t tail_offset(const uint8_t *d, size_t len, size_t *last_string) {
  for (size_t i = 0; i < len;) {
    size_t at = i;
    uint64_t tag = get_varint(d, &i), v = get_varint(d, &i);
    if ((tag >> 3) >= 7)
      return at;
    if ((tag >> 3) == 6)
      *last_string = at;
    if ((tag & 7) == 2)
      i += v;
  }
  return len;
}

/* Truncation at every byte, of the message and of its gzip stream. */
static void test_truncation(void) {
  prof_t *p = build_full();
  prof_buf_t b = {0}, gz = {0};
  prof_encode(p, &b);
  prof_gzip(b.data, b.len, 1, &gz);
  /*
   * Every prefix that ends before the trailing scalar fields cuts a field or loses strings that
   * are referenced, except the one that drops just the last string, which nothing references.
   */
  size_t last = 0, tail = tail_offset(b.data, b.len, &last), bad = 0;
  CHECK(tail > 100 && tail < b.len && last > 100 && last < tail);
  for (size_t n = 0; n < tail; n++)
    if (n != last && !fails_cleanly(b.data, n, -EINVAL, "not a profile: "))
      bad++, fprintf(stderr, "prefix %zu of %zu decoded\n", n, b.len);
  CHECK(bad == 0);
  prof_t *pre = NULL;
  char perr[256];
  CHECK(prof_decode(b.data, last, &pre, perr, sizeof perr) == 0 &&
        pre->nstrings == p->nstrings - 1);
  prof_free(pre);
  for (size_t n = 0; n < gz.len; n++)
    if (!fails_cleanly(gz.data, n, 0, NULL))
      bad++, fprintf(stderr, "gzip prefix %zu of %zu decoded\n", n, gz.len);
  CHECK(bad == 0);
  CHECK(fails_cleanly(b.data, 40, -EINVAL, "truncated at byte"));
  prof_buf_free(&b), prof_buf_free(&gz);
  prof_free(p);
}

/* Seeded random corruption: whatever still decodes must survive a round trip. */
static void test_corruption(void) {
  prof_t *p = build_full();
  prof_buf_t b = {0};
  prof_encode(p, &b);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  uint8_t *m = malloc(b.len);
  size_t ok = 0, rejected = 0;
  for (int it = 0; it < 20000; it++) {
    memcpy(m, b.data, b.len);
    int flips = 1 + it % 4;
    for (int k = 0; k < flips; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      m[(x >> 8) % b.len] ^= (uint8_t)(1u << (x % 8));
    }
    prof_t *q = NULL;
    char err[256] = "";
    if (prof_decode(m, b.len, &q, err, sizeof err) == 0) {
      prof_t *r = roundtrip(q);
      ok += r && prof_equal(q, r);
      prof_free(r);
      prof_free(q);
    } else {
      rejected += err[0] != '\0';
    }
  }
  CHECK(ok + rejected == 20000 && rejected > 10000);
  printf("random corruption: %zu still valid, %zu rejected with a reason\n", ok, rejected);
  free(m);
  prof_buf_free(&b);
  prof_free(p);
}

static void test_bad_bytes(void) {
  /* An 11-byte varint; a 10-byte one whose last byte overflows. */
  static const uint8_t v11[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  static const uint8_t v10[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  CHECK(fails_cleanly(v11, sizeof v11, -EINVAL, "field 9 (time_nanos) has a bad varint at byte 0"));
  CHECK(fails_cleanly(v10, sizeof v10, -EINVAL, "bad varint"));
  static const uint8_t lenbig[] = {0x32, 0x00, 0x12, 0x80, 0x01, 0x08};
  CHECK(fails_cleanly(lenbig, sizeof lenbig, -EINVAL, "field 2 (sample) truncated at byte 2"));
  static const uint8_t group[] = {0x32, 0x00, 0x0b};
  CHECK(fails_cleanly(group, sizeof group, -EINVAL, "unsupported wire type 3"));
  static const uint8_t wrongwt[] = {0x32, 0x00, 0x3a, 0x00};
  CHECK(fails_cleanly(wrongwt, sizeof wrongwt, -EINVAL, "field 7 (drop_frames) has wire type 2"));
  static const uint8_t firstnonempty[] = {0x32, 0x01, 'x'};
  CHECK(fails_cleanly(firstnonempty, sizeof firstnonempty, -EINVAL, "string_table[0]"));
  static const uint8_t nostrings[] = {0x60, 0x01};
  CHECK(fails_cleanly(nostrings, sizeof nostrings, -EINVAL, "string table"));
  CHECK(fails_cleanly((const uint8_t *)"", 0, -EINVAL, "empty input"));
  const char *garbage = "this is certainly not a protobuf message at all";
  CHECK(fails_cleanly((const uint8_t *)garbage, strlen(garbage), -EINVAL, "not a profile: "));
  static const uint8_t badgz[] = {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0};
  CHECK(fails_cleanly(badgz, sizeof badgz, -EINVAL, "gzip: "));
}

/* Dangling references and broken invariants, each made by editing a valid profile. */
static void test_dangling(void) {
  prof_t *e = build_full();
  e->function[1].name = 9999;
  prof_buf_t eb = {0};
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "function 2 name: string index 9999 out of range"));
  e->function[1].name = 1;
  e->sample[1].location_id[0] = 42;
  eb.len = 0;
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "sample 1 refers to location 42"));
  e->sample[1].location_id[0] = 3;
  e->location[0].mapping_id = 7;
  eb.len = 0;
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "location 1 refers to mapping 7"));
  e->location[0].mapping_id = 1;
  e->location[1].line[1].function_id = 0;
  eb.len = 0;
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "refers to function 0"));
  e->location[1].line[1].function_id = 2;
  e->function[2].id = 1;
  eb.len = 0;
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "function id 1 is repeated"));
  e->function[2].id = 3;
  e->sample[0].nvalue = 1;
  eb.len = 0;
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "sample 0 has 1 values but there are 2"));
  e->sample[0].nvalue = 2;
  e->sample[0].label[0].key = -4;
  eb.len = 0;
  prof_encode(e, &eb);
  CHECK(fails_cleanly(eb.data, eb.len, -EINVAL, "label key: string index -4"));
  e->sample[0].label[0].key = 1;
  eb.len = 0;
  prof_encode(e, &eb);
  prof_t *back = NULL;
  char err[256];
  CHECK(prof_decode(eb.data, eb.len, &back, err, sizeof err) == 0); /* the edits undone */
  prof_free(back);
  prof_buf_free(&eb);
  prof_free(e);
}

static void test_gzip(void) {
  size_t n = 64 << 20; /* 64 MiB of zeros deflate to about 64 KiB: a small bomb */
  uint8_t *zeros = calloc(1, n);
  prof_buf_t gz = {0}, out = {0};
  char err[256] = "";
  CHECK(zeros && prof_gzip(zeros, n, 9, &gz) == 0 && gz.len < n / 500);
  CHECK(prof_gunzip(gz.data, gz.len, 1 << 20, &out, err, sizeof err) == -EFBIG);
  CHECK(strstr(err, "limit") != NULL && out.len == 0);
  CHECK(prof_gunzip(gz.data, gz.len, n, &out, err, sizeof err) == 0 && out.len == n);
  CHECK(out.len == n && memcmp(out.data, zeros, n) == 0);
  prof_buf_free(&out);
  CHECK(fails_cleanly(gz.data, gz.len, -EINVAL, "field number 0"));
  /* Concatenated members inflate to the concatenation. */
  prof_t *p = build_full();
  prof_buf_t enc = {0}, two = {0};
  prof_encode(p, &enc);
  size_t half = enc.len / 2;
  prof_gzip(enc.data, half, 1, &two);
  prof_gzip(enc.data + half, enc.len - half, 6, &two);
  CHECK(prof_gunzip(two.data, two.len, 1 << 20, &out, err, sizeof err) == 0);
  CHECK(out.len == enc.len && memcmp(out.data, enc.data, enc.len) == 0);
  prof_t *q = NULL;
  CHECK(prof_decode(two.data, two.len, &q, err, sizeof err) == 0 && q && prof_equal(p, q));
  prof_free(q);
  two.data[two.len - 1] ^= 1; /* the second member's length trailer */
  CHECK(prof_gunzip(two.data, two.len, 1 << 20, &out, err, sizeof err) == -EINVAL);
  uint8_t junk[] = {0x1f, 0x8b, 0x08, 0x00, 'j', 'u', 'n', 'k'};
  CHECK(prof_gunzip(junk, 3, 1 << 20, &out, err, sizeof err) == -EINVAL && err[0]);
  prof_buf_free(&out), prof_buf_free(&enc), prof_buf_free(&two), prof_buf_free(&gz);
  prof_free(p);
  free(zeros);
}

/* Runs cmd and returns its output (stdout and stderr) or NULL. */
static char *run(const char *cmd, int *status) {
  FILE *f = popen(cmd, "r");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0, r;
  char *out = malloc(cap);
  while (out && n < cap - 1 && (r = fread(out + n, 1, cap - 1 - n, f)) > 0)
    n += r;
  if (out)
    out[n] = '\0';
  *status = pclose(f);
  return out;
}

static void test_go_pprof(void) {
  int st = -1;
  char *where = run("command -v go 2>&1", &st);
  CHECK(st == 0 && where && where[0]);
  free(where);
  if (st != 0) {
    fprintf(stderr,
            "FAIL: `go` is not in PATH; install golang-go (go tool pprof is the referee)\n");
    return;
  }
  prof_t *p = prof_new();
  prof_add_sample_type(p, "samples", "count");
  prof_add_sample_type(p, "cpu", "nanoseconds");
  prof_set_period_type(p, "cpu", "nanoseconds");
  p->period = 10000000;
  p->duration_nanos = 1000000000;
  prof_mapping_t *m = prof_add_mapping(p);
  m->memory_start = 0x400000, m->memory_limit = 0x480000;
  m->filename = prof_intern(p, "/opt/cprof-test/app");
  m->has_functions = m->has_filenames = m->has_line_numbers = true;
  const char *names[] = {"cprof_main_loop", "cprof_compute_hash"};
  for (int i = 0; i < 2; i++) {
    prof_function_t *f = prof_add_function(p);
    f->name = f->system_name = prof_intern(p, names[i]);
    f->filename = prof_intern(p, "app.c");
    prof_location_t *l = prof_add_location(p);
    l->mapping_id = 1, l->address = 0x401000 + 0x100 * (uint64_t)i;
    prof_location_add_line(l, f->id, 10 + i);
  }
  uint64_t st1[] = {2, 1}, st2[] = {1};
  int64_t v1[] = {7, 70000000}, v2[] = {3, 30000000};
  prof_add_sample(p, st1, 2, v1, 2);
  prof_add_sample(p, st2, 1, v2, 2);
  char path[] = "/tmp/cprof_format_test_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0 && prof_write_gz_fd(p, fd) == 0);
  close(fd);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "go tool pprof -raw %s 2>&1", path);
  char *raw = run(cmd, &st);
  CHECK(st == 0 && raw && strstr(raw, "samples/count cpu/nanoseconds"));
  /* pprof renumbers locations by first use, so only the values are checked on sample lines. */
  CHECK(raw && strstr(raw, "          7   70000000: 1 2 \n"));
  CHECK(raw && strstr(raw, "          3   30000000: "));
  CHECK(raw && strstr(raw, "0x401100 M=1 cprof_compute_hash app.c:11 s=0\n"));
  CHECK(raw && strstr(raw, "0x401000 M=1 cprof_main_loop app.c:10 s=0\n"));
  CHECK(raw && strstr(raw, "1: 0x400000/0x480000/0x0 /opt/cprof-test/app  [FN][FL][LN]"));
  CHECK(raw && strstr(raw, "PeriodType: cpu nanoseconds") && strstr(raw, "Period: 10000000"));
  if (st != 0 || !raw || !strstr(raw, "cprof_compute_hash"))
    fprintf(stderr, "go tool pprof -raw said:\n%s\n", raw ? raw : "(nothing)");
  free(raw);
  snprintf(cmd, sizeof cmd, "go tool pprof -top %s 2>&1", path);
  char *top = run(cmd, &st);
  CHECK(st == 0 && top && strstr(top, "Showing nodes accounting for 100ms, 100% of 100ms total"));
  CHECK(top && strstr(top, "      70ms 70.00% 70.00%       70ms 70.00%  cprof_compute_hash"));
  CHECK(top && strstr(top, "      30ms 30.00%   100%      100ms   100%  cprof_main_loop"));
  if (st != 0 || !top || !strstr(top, "cprof_main_loop"))
    fprintf(stderr, "go tool pprof -top said:\n%s\n", top ? top : "(nothing)");
  free(top);
  if (getenv("FORMAT_TEST_KEEP"))
    fprintf(stderr, "kept %s\n", path);
  else
    unlink(path);
  prof_free(p);
}

/* A big profile, to see that decoding scales (timings are printed, not asserted). */
static void test_big(void) {
  prof_t *p = prof_new();
  prof_add_sample_type(p, "samples", "count");
  prof_add_sample_type(p, "cpu", "nanoseconds");
  for (int i = 0; i < 5000; i++) {
    char name[32];
    snprintf(name, sizeof name, "fn_%d", i);
    prof_function_t *f = prof_add_function(p);
    f->name = prof_intern(p, name);
    prof_location_add_line(prof_add_location(p), f->id, i);
  }
  uint64_t stack[32];
  int64_t v[2];
  size_t nsamples = 200000;
  for (size_t i = 0; i < nsamples; i++) {
    for (int k = 0; k < 32; k++)
      stack[k] = 1 + (i * 31 + (size_t)k * 977) % 5000;
    v[0] = (int64_t)i, v[1] = (int64_t)i * 10000000;
    prof_add_sample(p, stack, 8 + i % 25, v, 2);
  }
  struct timespec t0, t1, t2;
  prof_buf_t b = {0};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(prof_encode(p, &b) == 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  prof_t *q = NULL;
  char err[256];
  CHECK(prof_decode(b.data, b.len, &q, err, sizeof err) == 0);
  clock_gettime(CLOCK_MONOTONIC, &t2);
  CHECK(q && q->nsample == nsamples && q->sample[nsamples - 1].value[0] == (int64_t)nsamples - 1);
  CHECK(q && prof_equal(p, q));
  printf("big profile: %zu samples, %zu bytes; encode %.1f ms, decode %.1f ms\n", nsamples, b.len,
         (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
         (t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) / 1e6);
  prof_free(q);
  prof_buf_free(&b);
  prof_free(p);
}

int main(void) {
  test_model();
  test_roundtrip();
  test_handmade();
  test_pprof_files();
  test_go_bytes();
  test_truncation();
  test_corruption();
  test_bad_bytes();
  test_dangling();
  test_gzip();
  test_go_pprof();
  test_big();
  return TEST_DONE("format_test");
}
