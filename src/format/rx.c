/*
 * rx.c — the leftmost-first regular-expression matcher of rx.h.
 *
 * Compiling is two steps: a recursive-descent parser turns the pattern into a small tree (byte
 * sets, anchors, sequences, groups and the three greedy repetitions), and the tree is emitted as a
 * Thompson program: RX_SET consumes one byte of a set, RX_SPLIT forks (the x branch first), RX_JMP
 * jumps, RX_SAVE records a group boundary, RX_BEGIN/RX_END test the ends of the text and RX_MATCH
 * ends. `e?` is SPLIT(e, next); `e*` is L: SPLIT(e then JMP L, next); `e+` is L: e, SPLIT(L, next).
 *
 * Matching is backtracking in the order a Perl-style matcher would explore (so the first match
 * found is Go's leftmost-first one), with an explicit stack instead of recursion and a bitmap of
 * visited (instruction, position) pairs: reaching a pair again can only fail again, so each pair
 * runs once. The bitmap is not cleared between start positions, which keeps an unanchored search
 * linear too. Stack entries are pairs of words: a thread to resume (pc, position) or a capture
 * slot to restore when backtracking past the RX_SAVE that changed it. A pattern that starts with
 * a literal (the program's first byte sets have one member each) is tried only where memmem finds
 * that literal, as Go's matcher does with a literal prefix.
 */
#define _GNU_SOURCE /* memmem */
#include "format/rx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { RX_SET, RX_SPLIT, RX_JMP, RX_SAVE, RX_BEGIN, RX_END, RX_MATCH };

/* ---------------------------------------------------------------- parsing -------------------- */

enum { N_SET, N_BEGIN, N_END, N_CAT, N_GROUP, N_QUEST, N_STAR, N_PLUS };

typedef struct node {
  uint8_t kind;
  int8_t group; /* capture index of an N_GROUP, -1 when it does not capture */
  uint8_t set;
  int16_t child, next; /* first child; next sibling in an N_CAT */
} node_t;

typedef struct comp {
  const char *p;
  rx_t *rx;
  node_t n[RX_MAX_INST];
  int nn;
  bool bad;
} comp_t;

static int node_new(comp_t *c, int kind) {
  if (c->nn >= RX_MAX_INST) {
    c->bad = true;
    return 0;
  }
  c->n[c->nn] = (node_t){.kind = (uint8_t)kind, .group = -1, .child = -1, .next = -1};
  return c->nn++;
}

static void set_add(uint8_t *set, unsigned b) { set[b >> 3] |= (uint8_t)(1u << (b & 7)); }

static void set_range(uint8_t *set, unsigned lo, unsigned hi) {
  for (unsigned b = lo; b <= hi; b++)
    set_add(set, b);
}

/* Go's \s (Perl's, as RE2 defines it: no \v). */
static void set_space(uint8_t *set) {
  set_add(set, '\t');
  set_add(set, '\n');
  set_add(set, '\f');
  set_add(set, '\r');
  set_add(set, ' ');
}

/* Interns a byte set among the program's sets; its index. */
static int set_intern(comp_t *c, const uint8_t *set) {
  rx_t *rx = c->rx;
  for (int i = 0; i < rx->nsets; i++)
    if (memcmp(rx->set[i], set, 32) == 0)
      return i;
  if (rx->nsets >= RX_MAX_SETS) {
    c->bad = true;
    return 0;
  }
  memcpy(rx->set[rx->nsets], set, 32);
  return rx->nsets++;
}

static int node_set(comp_t *c, const uint8_t *set) {
  int i = node_new(c, N_SET);
  c->n[i].set = (uint8_t)set_intern(c, set);
  return i;
}

/* The set of a `\x` escape, into set (zeroed); advances past it. */
static void parse_escape(comp_t *c, uint8_t *set) {
  char e = c->p[1];
  c->p += 2;
  switch (e) {
  case 's':
    set_space(set);
    return;
  case 'S': {
    uint8_t sp[32] = {0};
    set_space(sp);
    for (int i = 0; i < 32; i++)
      set[i] = (uint8_t)~sp[i];
    return;
  }
  case 'd':
    set_range(set, '0', '9');
    return;
  default:
    if (e == '\0' || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
      c->bad = true; /* an escape this matcher does not know */
    else
      set_add(set, (unsigned char)e);
  }
}

/* A bracket class, c->p at its '['. */
static int parse_class(comp_t *c) {
  uint8_t set[32] = {0};
  bool neg = false;
  c->p++;
  if (*c->p == '^')
    neg = true, c->p++;
  while (*c->p && *c->p != ']') {
    if (strncmp(c->p, "[:digit:]", 9) == 0) {
      set_range(set, '0', '9');
      c->p += 9;
    } else if (strncmp(c->p, "[:xdigit:]", 10) == 0) {
      set_range(set, '0', '9');
      set_range(set, 'a', 'f');
      set_range(set, 'A', 'F');
      c->p += 10;
    } else if (*c->p == '\\') {
      parse_escape(c, set);
    } else {
      unsigned lo = (unsigned char)*c->p++;
      if (c->p[0] == '-' && c->p[1] && c->p[1] != ']') {
        unsigned hi = (unsigned char)c->p[1];
        c->p += 2;
        if (hi < lo)
          c->bad = true;
        else
          set_range(set, lo, hi);
      } else {
        set_add(set, lo);
      }
    }
  }
  if (*c->p != ']')
    c->bad = true;
  else
    c->p++;
  if (neg)
    for (int i = 0; i < 32; i++)
      set[i] = (uint8_t)~set[i];
  return node_set(c, set);
}

static int parse_seq(comp_t *c);

static int parse_atom(comp_t *c) {
  uint8_t set[32] = {0};
  switch (*c->p) {
  case '(': {
    int g = node_new(c, N_GROUP);
    if (c->p[1] == '?' && c->p[2] == ':') {
      c->p += 3;
    } else {
      c->p++;
      if (c->rx->ngroups >= RX_MAX_GROUPS)
        c->bad = true;
      else
        c->n[g].group = (int8_t)c->rx->ngroups++;
    }
    int child = parse_seq(c);
    c->n[g].child = (int16_t)child;
    if (*c->p != ')')
      c->bad = true;
    else
      c->p++;
    return g;
  }
  case '[':
    return parse_class(c);
  case '\\':
    parse_escape(c, set);
    return node_set(c, set);
  case '.':
    c->p++;
    memset(set, 0xff, sizeof set);
    set['\n' >> 3] &= (uint8_t) ~(1u << ('\n' & 7));
    return node_set(c, set);
  case '^':
    c->p++;
    return node_new(c, N_BEGIN);
  case '$':
    c->p++;
    return node_new(c, N_END);
  case '|':
  case '{':
  case '?':
  case '*':
  case '+':
    c->bad = true; /* alternation and counted repetition are not needed here */
    c->p++;
    return node_new(c, N_CAT);
  default:
    set_add(set, (unsigned char)*c->p++);
    return node_set(c, set);
  }
}

/* A sequence up to ')' or the end of the pattern. */
static int parse_seq(comp_t *c) {
  int cat = node_new(c, N_CAT), last = -1;
  while (*c->p && *c->p != ')' && !c->bad) {
    int a = parse_atom(c);
    while (*c->p == '?' || *c->p == '*' || *c->p == '+') {
      int w = node_new(c, *c->p == '?' ? N_QUEST : *c->p == '*' ? N_STAR : N_PLUS);
      c->n[w].child = (int16_t)a;
      a = w;
      c->p++;
    }
    if (last < 0)
      c->n[cat].child = (int16_t)a;
    else
      c->n[last].next = (int16_t)a;
    last = a;
  }
  return cat;
}

/* ---------------------------------------------------------------- emitting ------------------- */

static int inst_new(comp_t *c, int op, int arg) {
  rx_t *rx = c->rx;
  if (rx->ninst >= RX_MAX_INST) {
    c->bad = true;
    return 0;
  }
  rx->inst[rx->ninst] = (rx_inst_t){.op = (uint8_t)op, .arg = (uint8_t)arg};
  return rx->ninst++;
}

static void emit(comp_t *c, int i) {
  const node_t *n = &c->n[i];
  rx_t *rx = c->rx;
  int s;
  switch (n->kind) {
  case N_SET:
    inst_new(c, RX_SET, n->set);
    break;
  case N_BEGIN:
    inst_new(c, RX_BEGIN, 0);
    break;
  case N_END:
    inst_new(c, RX_END, 0);
    break;
  case N_CAT:
    for (int k = n->child; k >= 0 && !c->bad; k = c->n[k].next)
      emit(c, k);
    break;
  case N_GROUP:
    if (n->group >= 0)
      inst_new(c, RX_SAVE, 2 * n->group);
    emit(c, n->child);
    if (n->group >= 0)
      inst_new(c, RX_SAVE, 2 * n->group + 1);
    break;
  case N_QUEST:
    s = inst_new(c, RX_SPLIT, 0);
    emit(c, n->child);
    rx->inst[s].x = (uint16_t)(s + 1);
    rx->inst[s].y = (uint16_t)rx->ninst;
    break;
  case N_STAR:
    s = inst_new(c, RX_SPLIT, 0);
    emit(c, n->child);
    rx->inst[inst_new(c, RX_JMP, 0)].x = (uint16_t)s;
    rx->inst[s].x = (uint16_t)(s + 1);
    rx->inst[s].y = (uint16_t)rx->ninst;
    break;
  case N_PLUS: {
    int start = rx->ninst;
    emit(c, n->child);
    s = inst_new(c, RX_SPLIT, 0);
    rx->inst[s].x = (uint16_t)start;
    rx->inst[s].y = (uint16_t)(s + 1);
    break;
  }
  }
}

int rx_compile(rx_t *rx, const char *pat) {
  memset(rx, 0, sizeof *rx);
  comp_t *c = calloc(1, sizeof *c);
  if (!c)
    return -1;
  c->p = pat;
  c->rx = rx;
  rx->ngroups = 1;
  rx->anchored = pat[0] == '^';
  int root = parse_seq(c);
  if (*c->p != '\0')
    c->bad = true; /* an unbalanced ')' */
  inst_new(c, RX_SAVE, 0);
  if (!c->bad)
    emit(c, root);
  inst_new(c, RX_SAVE, 1);
  inst_new(c, RX_MATCH, 0);
  int rc = c->bad ? -1 : 0;
  free(c);
  for (int pc = 1; rc == 0 && pc < rx->ninst && rx->nprefix < (int)sizeof rx->prefix; pc++) {
    const uint8_t *set = rx->set[rx->inst[pc].arg];
    int members = 0, byte = 0;
    for (int b = 0; rx->inst[pc].op == RX_SET && b < 256 && members < 2; b++)
      if (set[b >> 3] >> (b & 7) & 1)
        members++, byte = b;
    if (members != 1)
      break;
    rx->prefix[rx->nprefix++] = (char)byte;
  }
  return rc;
}

/* ---------------------------------------------------------------- matching ------------------- */

#define RESTORE_BIT ((uint64_t)1 << 63)

void rx_scratch_free(rx_scratch_t *sc) {
  free(sc->visited);
  free(sc->stack);
  memset(sc, 0, sizeof *sc);
}

static int push(rx_scratch_t *sc, uint64_t a, uint64_t b) {
  if (sc->stack_cap - sc->stack_len < 2) {
    size_t cap = sc->stack_cap ? sc->stack_cap * 2 : 256;
    uint64_t *s = realloc(sc->stack, cap * sizeof *s);
    if (!s)
      return -ENOMEM;
    sc->stack = s;
    sc->stack_cap = cap;
  }
  sc->stack[sc->stack_len++] = a;
  sc->stack[sc->stack_len++] = b;
  return 0;
}

static bool in_set(const uint8_t *set, unsigned char b) { return set[b >> 3] >> (b & 7) & 1; }

/* Runs the program from start; 1 on a match (cap filled), 0 when none, -ENOMEM. */
static int run(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t n, size_t start,
               size_t *cap) {
  sc->stack_len = 0;
  if (push(sc, 0, start) < 0)
    return -ENOMEM;
  while (sc->stack_len) {
    uint64_t b = sc->stack[--sc->stack_len], a = sc->stack[--sc->stack_len];
    if (a & RESTORE_BIT) {
      cap[a & 0xff] = (size_t)b;
      continue;
    }
    size_t pc = (size_t)a, pos = (size_t)b;
    for (;;) {
      size_t bit = pc * (n + 1) + pos;
      if (sc->visited[bit >> 6] >> (bit & 63) & 1)
        break;
      sc->visited[bit >> 6] |= (uint64_t)1 << (bit & 63);
      const rx_inst_t *in = &rx->inst[pc];
      if (in->op == RX_SET) {
        if (pos < n && in_set(rx->set[in->arg], (unsigned char)s[pos])) {
          pc++, pos++;
          continue;
        }
        break;
      } else if (in->op == RX_SPLIT) {
        if (push(sc, in->y, pos) < 0)
          return -ENOMEM;
        pc = in->x;
      } else if (in->op == RX_JMP) {
        pc = in->x;
      } else if (in->op == RX_SAVE) {
        if (push(sc, RESTORE_BIT | in->arg, cap[in->arg]) < 0)
          return -ENOMEM;
        cap[in->arg] = pos;
        pc++;
      } else if (in->op == RX_BEGIN || in->op == RX_END) {
        if (pos != (in->op == RX_BEGIN ? 0 : n))
          break;
        pc++;
      } else {
        return 1; /* RX_MATCH */
      }
    }
  }
  return 0;
}

int rx_find(const rx_t *rx, rx_scratch_t *sc, const char *s, size_t n, size_t *cap) {
  const char *hit = s;
  size_t np = (size_t)rx->nprefix;
  if (np && !rx->anchored && !(hit = memmem(s, n, rx->prefix, np)))
    return 0; /* no start can match: spare the bitmap */
  size_t bits = (size_t)rx->ninst * (n + 1), words = bits / 64 + 1;
  if (n > SIZE_MAX / RX_MAX_INST - 1)
    return -ENOMEM;
  if (words > sc->visited_cap) {
    uint64_t *v = realloc(sc->visited, words * sizeof *v);
    if (!v)
      return -ENOMEM;
    sc->visited = v;
    sc->visited_cap = words;
  }
  memset(sc->visited, 0, words * sizeof *sc->visited);
  for (int i = 0; i < 2 * RX_MAX_GROUPS; i++)
    cap[i] = RX_UNSET;
  for (size_t start = (size_t)(hit - s); start <= n; start++) {
    if (np && !rx->anchored) { /* only where the literal prefix is */
      if (!(hit = memmem(s + start, n - start, rx->prefix, np)))
        break;
      start = (size_t)(hit - s);
    }
    int r = run(rx, sc, s, n, start, cap);
    if (r != 0)
      return r;
    if (rx->anchored)
      break;
  }
  return 0;
}
