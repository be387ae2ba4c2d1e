/*
 * regex.h — regular expressions with Go's syntax and semantics, through PCRE2.
 *
 * pprof's filters are Go regexps (RE2 syntax: leftmost-first, unanchored search, '$' only at the
 * end of the text, UTF-8). PCRE2 accepts that syntax with the same meaning given the options set
 * here (UTF with invalid UTF-8 tolerated, DOLLAR_ENDONLY). Matches against interned strings are
 * memoized per string, since the filters ask the same question of one function name many times.
 */
#ifndef CPROF_TOOL_REGEX_H
#define CPROF_TOOL_REGEX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rx regex_pat_t;

/* Compiles pattern; NULL with the reason in err. */
regex_pat_t *regex_compile(const char *pattern, char *err, size_t errlen);
void regex_free(regex_pat_t *r);
const char *regex_pattern(const regex_pat_t *r);

/* Whether r matches somewhere in s (NUL-terminated). */
bool regex_match(regex_pat_t *r, const char *s);
/* The same for a string interned in tp_mem(): the answer is remembered by address. */
bool regex_match_interned(regex_pat_t *r, const char *s);

/*
 * The first match in s[0..len): fills ov with up to nov (start, end) pairs (-1 for groups that did
 * not take part) and returns the number of pairs set, 0 when there is no match.
 */
int regex_exec(regex_pat_t *r, const char *s, size_t len, size_t start, long *ov, int nov);

#endif /* CPROF_TOOL_REGEX_H */
