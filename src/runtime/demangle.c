/*
 * demangle.c — C++ names as pprof shows them.
 *
 * The profile's Function.name is the demangled name, simplified as pprof does by default: no
 * parameter list, no template arguments, no trailing qualifiers, no return type
 * ("int ns::f<int>(int) const" becomes "ns::f"); system_name keeps the mangled linkage name.
 * Demangling is the C++ runtime's __cxa_demangle, found with dlsym in the process being profiled:
 * libcprof does not link libstdc++, so a program without a C++ runtime loaded keeps mangled
 * names. Runs in the extension, never in a signal handler.
 */
#define _GNU_SOURCE
#include "runtime/demangle.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* Length of the operator spelled at p (just after "operator"), so that its '<', '(' or '>' are
 * not taken for brackets: "()", "<<=", "->*", " new[]" and so on. */
static size_t operator_len(const char *p) {
  static const char *const ops[] = {"()", "[]", "<=>", "<<=", ">>=", "->*", "<<",
                                    ">>", "<=", ">=",  "->",  "<",   ">"};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (strncmp(p, ops[i], strlen(ops[i])) == 0)
      return strlen(ops[i]);
  return 0;
}

/* Drops parameter lists, template arguments, trailing qualifiers and the return type from a
 * demangled name, in place: "int ns::f<int>(int) const" -> "ns::f". */
static void simplify(char *s) {
  char *out = s;
  const char *p = s;
  int depth = 0;
  char *spaces[8]; /* the last top-level spaces not part of "operator new" and the like */
  size_t nspaces = 0;
  while (*p != '\0') {
    if (strncmp(p, "(anonymous namespace)", 21) == 0 && depth == 0) {
      memmove(out, p, 21);
      out += 21, p += 21;
    } else if (*p == '{' && depth == 0) { /* {lambda(int)#1}: keep verbatim */
      const char *end = strchr(p, '}');
      size_t n = end != NULL ? (size_t)(end - p) + 1 : strlen(p);
      memmove(out, p, n);
      out += n, p += n;
    } else if (strncmp(p, "operator", 8) == 0 && depth == 0) {
      size_t n = 8 + operator_len(p + 8);
      memmove(out, p, n);
      out += n, p += n;
      if (*p == ' ') /* operator new, operator delete, conversion operators */
        *out++ = *p++;
    } else if (*p == '<' || *p == '(') {
      depth++, p++;
    } else if (*p == '>' || *p == ')') {
      depth -= depth > 0, p++;
    } else if (depth > 0) {
      p++;
    } else {
      if (*p == ' ') {
        if (nspaces == 8)
          memmove(spaces, spaces + 1, 7 * sizeof(spaces[0])), nspaces--;
        spaces[nspaces++] = out;
      }
      *out++ = *p++;
    }
  }
  *out = '\0';
  /* Qualifiers after the parameters (" const", " &&") were at top level and survived; cut
   * them, then a leading return type (the part before the last top-level space). */
  size_t len = strlen(s);
  static const char *const quals[] = {" const", " volatile", " &&", " &"};
  for (int again = 1; again;) {
    again = 0;
    for (size_t i = 0; i < sizeof(quals) / sizeof(quals[0]); i++) {
      size_t ql = strlen(quals[i]);
      if (len >= ql && strcmp(s + len - ql, quals[i]) == 0) {
        len -= ql, s[len] = '\0', again = 1;
      }
    }
  }
  while (nspaces > 0 && spaces[nspaces - 1] >= s + len)
    nspaces--;
  if (nspaces > 0)
    memmove(s, spaces[nspaces - 1] + 1, strlen(spaces[nspaces - 1] + 1) + 1);
}

demangle_fn demangle_find(void) {
  demangle_fn fn;
  void *sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
  memcpy(&fn, &sym, sizeof(fn));
  return fn;
}

char *demangle_with(demangle_fn fn, const char *name) {
  if (fn == NULL || name == NULL || strncmp(name, "_Z", 2) != 0)
    return NULL;
  int status = -1;
  char *out = fn(name, NULL, NULL, &status);
  if (status != 0 || out == NULL) {
    free(out);
    return NULL;
  }
  simplify(out);
  return out;
}
