/*
 * cmdtext.h — running a command for its output, and the text helpers the tests that compare our
 * text with go tool pprof's share, for tests only.
 *
 * Header-only, for tests/unit/builder_test.c, counttext_test.c and heaptext_test.c. have_go()
 * counts a failed check when the go command is missing, so test.h comes first.
 */
#ifndef CPROF_TEST_CMDTEXT_H
#define CPROF_TEST_CMDTEXT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmd's standard output (malloc'd, NUL-terminated), or NULL, after printing the command and what
 * it wrote, when it could not run or exited with a status other than 0. */
static inline char *run_cmd(const char *cmd) {
  char *buf = NULL;
  size_t cap = 0;
  FILE *p = popen(cmd, "r"), *m = open_memstream(&buf, &cap);
  char chunk[4096];
  size_t n;
  while (p != NULL && (n = fread(chunk, 1, sizeof chunk, p)) > 0)
    fwrite(chunk, 1, n, m);
  int st = p != NULL ? pclose(p) : -1;
  fclose(m);
  if (st != 0) {
    fprintf(stderr, "command failed (%d): %s\n%s", st, cmd, buf);
    free(buf);
    return NULL;
  }
  return buf;
}

/* Splits text into lines (in place); returns their number, at most max. */
static inline size_t split_lines(char *text, char **lines, size_t max) {
  size_t n = 0;
  for (char *p = text; *p != '\0' && n < max;) {
    char *nl = strchr(p, '\n');
    lines[n++] = p;
    if (nl == NULL)
      break;
    *nl = '\0';
    p = nl + 1;
  }
  return n;
}

/* A copy of s (malloc'd) with every run of tabs collapsed to one tab. */
static inline char *collapse_tabs(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  for (; *s != '\0'; s++)
    if (*s != '\t' || o == out || o[-1] != '\t')
      *o++ = *s;
  *o = '\0';
  return out;
}

/* Whether the go command is here; a failed check when it is not (go tool pprof is the tests'
 * referee). */
static inline bool have_go(void) {
  if (system("go version >/dev/null 2>&1") == 0)
    return true;
  CHECK(0, "the go command is missing (scripts/deps.sh installs golang-go)");
  return false;
}

#endif /* CPROF_TEST_CMDTEXT_H */
