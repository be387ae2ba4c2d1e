/*
 * test.h — the unit tests' one assertion macro and their closing line.
 *
 * CHECK(cond, fmt, ...) counts a pass or prints the failure with its file and line and counts a
 * failure; TEST_DONE(name) prints "name: N passed, M failed" (the line ctest's log shows) and
 * returns the exit status.
 */
#ifndef CPROF_TEST_H
#define CPROF_TEST_H

#include <stdio.h>

static int test_passed, test_failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      test_passed++;                                                                               \
    } else {                                                                                       \
      test_failed++;                                                                               \
      fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);                             \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

#define TEST_DONE(name)                                                                            \
  (printf("%s: %d passed, %d failed\n", name, test_passed, test_failed), test_failed ? 1 : 0)

#endif
