/*
 * test.h — the unit tests' one assertion macro and their closing line.
 *
 * CHECK(cond) or CHECK(cond, fmt, ...) counts a pass, or counts a failure and prints it to stderr
 * as "file:line: FAIL: cond" followed by ": message" when a message was given. The message is
 * optional: the macro pastes ": " in front of whatever follows cond, so the format test_fail()
 * receives always starts with ": " and is never empty (an empty format would trip
 * -Wformat-zero-length under -Werror), and a bare ": " means "no message". Because of that pasting
 * the message format must be a string literal, and test_fail's format attribute lets -Wformat
 * check it against its arguments. Helpers such as CHECK_STR belong in the test that needs them, as
 * small macros on top of CHECK. cond is evaluated exactly once.
 *
 * TEST_DONE(name) prints "name: N passed, M failed" (the line ctest's log shows) and evaluates to
 * the exit status: 1 when any check failed, else 0.
 */
#ifndef CPROF_TEST_H
#define CPROF_TEST_H

#include <stdarg.h>
#include <stdio.h>

static int test_passed, test_failed;

/* Prints one failed check; fmt is ": " followed by the caller's message format (possibly empty). */
static inline void test_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void test_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  fprintf(stderr, "%s:%d: FAIL: %s", file, line, cond);
  if (fmt[0] != ':' || fmt[1] != ' ' || fmt[2] != '\0') {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      test_passed++;                                                                               \
    } else {                                                                                       \
      test_failed++;                                                                               \
      test_fail(__FILE__, __LINE__, #cond, ": " __VA_ARGS__);                                      \
    }                                                                                              \
  } while (0)

#define TEST_DONE(name)                                                                            \
  (printf("%s: %d passed, %d failed\n", name, test_passed, test_failed), test_failed ? 1 : 0)

#endif
