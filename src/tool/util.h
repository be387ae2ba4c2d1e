/*
 * util.h — small helpers shared by the command's layers: Go's path/filepath functions on Linux
 * paths, and a growable string buffer.
 */
#ifndef CPROF_TOOL_UTIL_H
#define CPROF_TOOL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* filepath.Clean, filepath.Base and filepath.Dir into buf (n >= strlen(path) + 2). */
char *path_clean(const char *path, char *buf, size_t n);
const char *path_base(const char *path, char *buf, size_t n);
bool path_is_abs(const char *path);

/* strerror(e) as Go prints errno texts ("no such file or directory"), into buf. */
const char *go_strerror(int e, char *buf, size_t n);

/* A growable NUL-terminated string. */
typedef struct sbuf {
  char *s;
  size_t len, cap;
} sbuf_t;

void sb_putn(sbuf_t *b, const char *s, size_t n);
void sb_puts(sbuf_t *b, const char *s);
void sb_putc(sbuf_t *b, char c);
void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(sbuf_t *b);
static inline const char *sb_str(const sbuf_t *b) { return b->s ? b->s : ""; }

#endif /* CPROF_TOOL_UTIL_H */
