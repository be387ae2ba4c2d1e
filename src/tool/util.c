/*
 * util.c — Go's filepath functions for '/'-separated paths, and sbuf_t (see util.h).
 */
#include "tool/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/mem.h"

bool path_is_abs(const char *path) { return path[0] == '/'; }

const char *go_strerror(int e, char *buf, size_t n) {
  snprintf(buf, n, "%s", strerror(e));
  if (buf[0] >= 'A' && buf[0] <= 'Z')
    buf[0] = (char)(buf[0] - 'A' + 'a');
  return buf;
}

/* Go's Clean: one slash between elements, no "." elements, ".." resolved lexically, "" -> ".". */
char *path_clean(const char *path, char *buf, size_t n) {
  size_t len = strlen(path);
  if (len == 0 || n < len + 2) {
    snprintf(buf, n, "%s", len ? path : ".");
    return buf;
  }
  bool rooted = path[0] == '/';
  size_t w = 0, r = 0, dotdot = 0;
  if (rooted) {
    buf[w++] = '/';
    r = 1;
    dotdot = 1;
  }
  while (r < len) {
    if (path[r] == '/') {
      r++;
    } else if (path[r] == '.' && (r + 1 == len || path[r + 1] == '/')) {
      r++;
    } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == len || path[r + 2] == '/')) {
      r += 2;
      if (w > dotdot) {
        w--;
        while (w > dotdot && buf[w] != '/')
          w--;
      } else if (!rooted) {
        if (w > 0)
          buf[w++] = '/';
        buf[w++] = '.';
        buf[w++] = '.';
        dotdot = w;
      }
    } else {
      if ((rooted && w != 1) || (!rooted && w != 0))
        buf[w++] = '/';
      for (; r < len && path[r] != '/'; r++)
        buf[w++] = path[r];
    }
  }
  if (w == 0)
    buf[w++] = '.';
  buf[w] = '\0';
  return buf;
}

const char *path_base(const char *path, char *buf, size_t n) {
  size_t len = strlen(path);
  if (len == 0)
    return ".";
  while (len > 0 && path[len - 1] == '/')
    len--;
  if (len == 0)
    return "/";
  size_t i = len;
  while (i > 0 && path[i - 1] != '/')
    i--;
  size_t l = len - i;
  if (l >= n)
    l = n - 1;
  memcpy(buf, path + i, l);
  buf[l] = '\0';
  return buf;
}

static void sb_grow(sbuf_t *b, size_t more) {
  if (b->len + more + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more + 1)
    cap *= 2;
  b->s = xrealloc(b->s, cap);
  b->cap = cap;
}

void sb_putn(sbuf_t *b, const char *s, size_t n) {
  sb_grow(b, n);
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void sb_puts(sbuf_t *b, const char *s) { sb_putn(b, s, strlen(s)); }

void sb_putc(sbuf_t *b, char c) { sb_putn(b, &c, 1); }

void sb_printf(sbuf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (k < 0)
    return;
  if ((size_t)k < sizeof tmp) {
    sb_putn(b, tmp, (size_t)k);
    return;
  }
  sb_grow(b, (size_t)k);
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, (size_t)k + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)k;
}

void sb_free(sbuf_t *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}
