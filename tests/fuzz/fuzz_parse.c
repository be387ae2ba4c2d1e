/*
 * fuzz_parse.c — libFuzzer target for prof_parse (src/format/parse.c, the legacy readers, maps.c,
 * rx.c, and through them the proto decoder and gzip).
 *
 * Any input must either be refused with -EINVAL or -EFBIG, no profile, and a reason that starts
 * with "not a profile: " (or "gzip: " from the inflater), or give a profile that is whole: every
 * sample has one value per sample type and refers to locations that exist, every location's
 * mapping exists, and the profile survives a round trip (encoding it, decoding the bytes and
 * encoding again gives the same bytes). A violation traps, which libFuzzer reports as a crash.
 *
 * `make test` builds it with clang -fsanitize=fuzzer,address,undefined and runs it for a fixed
 * number of inputs from a seed corpus (tests/fuzz/run.sh). By hand, for longer:
 *
 *   tests/fuzz/run.sh . build fuzz_parse 0   # builds build/tests/fuzz/fuzz_parse, runs nothing
 *   build/tests/fuzz/fuzz_parse -max_total_time=600 build/tests/fuzz/fuzz_parse.corpus
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_whole(const prof_t *p) {
  for (size_t i = 0; i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    if (s->nvalue != p->nsample_type)
      __builtin_trap();
    for (size_t k = 0; k < s->nlocation; k++)
      if (!prof_location_by_id(p, s->location_id[k]))
        __builtin_trap();
  }
  for (size_t i = 0; i < p->nlocation; i++)
    if (p->location[i].mapping_id && !prof_mapping_by_id(p, p->location[i].mapping_id))
      __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  prof_t *p = NULL, *q = NULL;
  char err[256] = "";
  int rc = prof_parse(data, size, &p, err, sizeof err);
  if (rc < 0) {
    if (p != NULL || (rc != -EINVAL && rc != -EFBIG) ||
        (strncmp(err, "not a profile: ", 15) != 0 && strncmp(err, "gzip: ", 6) != 0))
      __builtin_trap();
    return 0;
  }
  if (p == NULL)
    __builtin_trap();
  check_whole(p);
  prof_buf_t a = {0}, b = {0};
  if (prof_encode(p, &a) < 0)
    __builtin_trap();
  if (prof_decode(a.data, a.len, &q, err, sizeof err) < 0)
    __builtin_trap();
  if (prof_encode(q, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
    __builtin_trap();
  prof_buf_free(&a);
  prof_buf_free(&b);
  prof_free(q);
  prof_free(p);
  return 0;
}
