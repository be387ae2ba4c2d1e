/*
 * fuzz_decode.c — libFuzzer target for prof_decode (src/format/proto.c and gzip.c).
 *
 * Any input must either be rejected with a negative errno and a non-empty reason, or decode into a
 * profile that survives a round trip: encoding it, decoding the bytes and encoding again must give
 * the same bytes. A violation traps, which libFuzzer reports as a crash.
 *
 * `make test` builds it with clang and runs it for a fixed number of inputs from a seed corpus
 * (tests/fuzz/run.sh). By hand, for longer:
 *
 *   tests/fuzz/run.sh . build fuzz_decode 0   # builds build/tests/fuzz/fuzz_decode, runs nothing
 *   build/tests/fuzz/fuzz_decode -max_total_time=600 build/tests/fuzz/fuzz_decode.corpus
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "format/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  prof_t *p = NULL, *q = NULL;
  char err[256] = "";
  int rc = prof_decode(data, size, &p, err, sizeof err);
  if (rc < 0) {
    if (p != NULL || err[0] == '\0')
      __builtin_trap();
    return 0;
  }
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
