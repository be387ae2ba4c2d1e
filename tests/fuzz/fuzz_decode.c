/*
 * fuzz_decode.c — libFuzzer target for prof_decode (src/format/proto.c and gzip.c).
 *
 * Any input must either be rejected with a negative errno and a non-empty reason, or decode into a
 * profile that survives a round trip: encoding it, decoding the bytes and encoding again must give
 * the same bytes. A violation traps, which libFuzzer reports as a crash. Not built by CMake; build
 * and run it by hand, seeded with Go-written profiles:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_decode.c \
 *     src/format/profile.c src/format/proto.c src/format/gzip.c -lz -o /tmp/fuzz_decode
 *   mkdir -p /tmp/corpus && cp ../shared/peer/pprof/derived/driver/cpu.pb.gz /tmp/corpus/  # and
 * the others /tmp/fuzz_decode -max_total_time=60 /tmp/corpus
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
