/*
 * rx.h — a small regular-expression matcher with Go's (RE2's) leftmost-first semantics, for the
 * legacy profile readers in src/format/.
 *
 * pprof recognises legacy text profiles with Go regular expressions, and which text a group
 * captures decides the profile it makes (a maps line "4000" is a mapping from 0x400 to 0x0). To
 * read those files exactly as pprof does, the readers match with the same semantics: the match
 * that starts leftmost, and among those the one a backtracking matcher that prefers the greedy
 * branch finds first. Matching is byte-wise; every pattern used here delimits its groups with
 * ASCII, so byte-wise and Go's rune-wise matching agree.
 *
 * A pattern is compiled into a program (rx_compile) and run by a backtracker that remembers every
 * (instruction, position) it has visited, as Go's own backtracker does: a state reached a second
 * time has already failed, so a match costs at most instructions x (length + 1) steps, whatever the
 * input. The syntax is the subset the readers use: literals, `\` escapes of punctuation, `\s` `\S`
 * `\d` (Go's ASCII classes: \s is [\t\n\f\r ]), `.` (any byte but newline), bracket classes with
 * ranges, negation and [:digit:] / [:xdigit:], groups `( )` and `(?: )`, the greedy `?` `*` `+`,
 * and the anchors `^` `$` (text start and end, as Go without the m flag).
 *
 * Not async-signal-safe (the scratch space grows with malloc). A compiled rx_t is read-only while
 * matching, so one may be shared; each matching thread needs its own rx_scratch_t.
 */
#ifndef CPROF_FORMAT_RX_H
#define CPROF_FORMAT_RX_H

#include <stddef.h>
#include <stdint.h>

#define RX_MAX_INST 128
#define RX_MAX_SETS 48
#define RX_MAX_GROUPS 8 /* group 0, the whole match, included */

/* The position of a group that did not take part in the match. */
#define RX_UNSET ((size_t)-1)

typedef struct rx_inst {
  uint8_t op;
  uint8_t arg;   /* the byte set of a RX_SET, the capture slot of a RX_SAVE */
  uint16_t x, y; /* jump targets; a RX_SPLIT prefers x */
} rx_inst_t;

typedef struct rx {
  rx_inst_t inst[RX_MAX_INST];
  uint8_t set[RX_MAX_SETS][32]; /* 256-bit byte sets */
  int ninst, nsets, ngroups;
  int anchored;    /* starts with ^: try position 0 only */
  char prefix[16]; /* the literal every match starts with, to find candidate starts fast */
  int nprefix;
} rx_t;

/* Reusable working memory of the matcher: the visited bitmap and the backtracking stack. */
typedef struct rx_scratch {
  uint64_t *visited;
  size_t visited_cap; /* in words */
  uint64_t *stack;
  size_t stack_len, stack_cap;
} rx_scratch_t;

/* Compiles pat; 0, or -1 when it is outside the supported syntax or too big (a programming error).
 */
int rx_compile(rx_t *rx, const char *pat);

/*
 * Finds the leftmost-first match of rx in s[0, n). Returns 1 and fills cap[2k], cap[2k+1] with the
 * start and end of group k (RX_UNSET for groups that did not take part), 0 when nothing matches,
 * or -ENOMEM. cap has room for 2 * RX_MAX_GROUPS entries.
 */
int rx_find(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t n, size_t *cap);

void rx_scratch_free(rx_scratch_t *sc);

#endif /* CPROF_FORMAT_RX_H */
