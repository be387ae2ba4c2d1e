/*
 * regex.c — Go-compatible regular expressions on PCRE2 (see regex.h).
 *
 * The memo is an open-addressing table keyed by string address, holding 1 + the answer; it is
 * cleared when it would pass half full, which keeps it bounded for profiles with more names
 * than memory should hold answers for.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tool/regex.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/mem.h"

struct rx {
  pcre2_code *code;
  pcre2_match_data *md;
  char *pattern;
  const char **memo_key;
  unsigned char *memo_val;
  size_t memo_cap, memo_n;
};

regex_pat_t *regex_compile(const char *pattern, char *err, size_t errlen) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *code =
      pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_UTF_CHECK,
                    &ec, &eo, NULL);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    snprintf(err, errlen, "error parsing regexp: %s at offset %zu: `%s`", (char *)msg, (size_t)eo,
             pattern);
    return NULL;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort */
  regex_pat_t *r = xcalloc(1, sizeof *r);
  r->code = code;
  r->md = pcre2_match_data_create_from_pattern(code, NULL);
  if (!r->md)
    mem_oom();
  size_t n = strlen(pattern);
  r->pattern = xmalloc(n + 1);
  memcpy(r->pattern, pattern, n + 1);
  return r;
}

void regex_free(regex_pat_t *r) {
  if (!r)
    return;
  pcre2_match_data_free(r->md);
  pcre2_code_free(r->code);
  free(r->pattern);
  free(r->memo_key);
  free(r->memo_val);
  free(r);
}

const char *regex_pattern(const regex_pat_t *r) { return r->pattern; }

int regex_exec(regex_pat_t *r, const char *s, size_t len, size_t start, long *ov, int nov) {
  int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, start, 0, r->md, NULL);
  if (rc <= 0)
    return 0;
  PCRE2_SIZE *o = pcre2_get_ovector_pointer(r->md);
  int n = rc < nov ? rc : nov;
  for (int i = 0; i < n; i++) {
    ov[2 * i] = o[2 * i] == PCRE2_UNSET ? -1 : (long)o[2 * i];
    ov[2 * i + 1] = o[2 * i + 1] == PCRE2_UNSET ? -1 : (long)o[2 * i + 1];
  }
  for (int i = n; i < nov; i++)
    ov[2 * i] = ov[2 * i + 1] = -1;
  return n;
}

bool regex_match(regex_pat_t *r, const char *s) {
  return pcre2_match(r->code, (PCRE2_SPTR)s, strlen(s), 0, 0, r->md, NULL) > 0;
}

bool regex_match_interned(regex_pat_t *r, const char *s) {
  if (2 * (r->memo_n + 1) > r->memo_cap) {
    size_t cap = r->memo_cap ? r->memo_cap * 2 : 1024;
    if (cap > ((size_t)1 << 22)) /* stop growing: start over */
      cap = r->memo_cap;
    free(r->memo_key);
    free(r->memo_val);
    r->memo_key = xcalloc(cap, sizeof *r->memo_key);
    r->memo_val = xmalloc(cap);
    r->memo_cap = cap;
    r->memo_n = 0;
  }
  size_t mask = r->memo_cap - 1;
  size_t k = mem_mix((uintptr_t)s) & mask;
  for (; r->memo_key[k]; k = (k + 1) & mask)
    if (r->memo_key[k] == s)
      return r->memo_val[k];
  bool m = regex_match(r, s);
  r->memo_key[k] = s;
  r->memo_val[k] = m;
  r->memo_n++;
  return m;
}
