/*
 * symbolize.c — -symbolize's modes and pprof's demangling step (see symbolize.h).
 *
 * A function whose name equals its system name has not been demangled. A mangled system name is
 * demangled with the C++ runtime's __cxa_demangle, then simplified as pprof's default does (no
 * parameters, no template arguments); a name that already looks like demangled C++ is simplified
 * the same way. -symbolize=demangle=full keeps parameters and templates, =templates keeps
 * templates, =none keeps the system names.
 */
#include "tool/symbolize.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

const char *symbolize_remove_matching(const char *name, char start, char end, char *buf, size_t n) {
  size_t len = strlen(name);
  if (len + 1 > n)
    return name;
  memcpy(buf, name, len + 1);
  int nesting = 0;
  size_t first = 0;
  for (size_t cur = 0; cur < len; cur++) {
    if (buf[cur] == start) {
      if (++nesting == 1)
        first = cur;
    } else if (buf[cur] == end) {
      nesting--;
      if (nesting < 0)
        return name;
      if (nesting == 0) {
        memmove(buf + first, buf + cur + 1, len - cur);
        len -= cur + 1 - first;
        cur = first - 1;
      }
    }
  }
  return buf;
}

static bool looks_cplusplus(const char *s) {
  if (strstr(s, ".<") || strstr(s, "]).")) /* Java "class.<init>", Go "(*T[...]).M" */
    return false;
  return strpbrk(s, "<>[]") || strstr(s, "::");
}

enum { D_DEFAULT, D_TEMPLATES, D_FULL, D_NONE };

static const char *simplify(const char *name, int mode, char *buf, size_t n) {
  char tmp[4096];
  if (mode == D_DEFAULT || mode == D_TEMPLATES)
    name = symbolize_remove_matching(name, '(', ')', tmp, sizeof tmp);
  if (mode == D_DEFAULT)
    name = symbolize_remove_matching(name, '<', '>', buf, n);
  else
    name = snprintf(buf, n, "%s", name) >= 0 ? buf : name;
  return name;
}

void symbolize_profile(tprof_t *p, const char *mode) {
  bool force = false;
  int dm = D_DEFAULT;
  char *m = strdup(mode ? mode : "");
  for (char *save = NULL, *o = strtok_r(m, ":", &save); o; o = strtok_r(NULL, ":", &save)) {
    for (char *c = o; *c; c++)
      if (*c >= 'A' && *c <= 'Z')
        *c = (char)(*c - 'A' + 'a');
    if (!strcmp(o, "none") || !strcmp(o, "no")) {
      free(m);
      return;
    }
    if (!strcmp(o, "local") || !strcmp(o, "fastlocal") || !strcmp(o, "remote"))
      continue;
    if (!strcmp(o, "force")) {
      force = true;
      continue;
    }
    const char *d = strncmp(o, "demangle=", 9) == 0 ? o + 9 : o;
    if (!strcmp(d, "full") || !strcmp(d, "none") || !strcmp(d, "templates")) {
      dm = !strcmp(d, "full") ? D_FULL : !strcmp(d, "none") ? D_NONE : D_TEMPLATES;
      force = true;
      continue;
    }
    if (!strcmp(d, "default"))
      continue;
    fprintf(stderr, "ignoring unrecognized symbolization option: %s\n", mode);
    fprintf(stderr, "expecting -symbolize=[local|fastlocal|remote|none][:force]"
                    "[:demangle=[none|full|templates|default]\n");
  }
  free(m);
  for (size_t i = 0; i < p->nfunction; i++) {
    tp_function_t *f = p->function[i];
    if (force && *f->name && *f->system_name)
      f->name = f->system_name;
    if (*f->name && f->system_name != f->name)
      continue;
    const char *sys = f->system_name;
    char buf[4096];
    if (dm != D_NONE && (strncmp(sys, "_Z", 2) == 0 || strncmp(sys, "__Z", 3) == 0)) {
      int status = -1;
      char *dem = __cxa_demangle(sys[1] == '_' ? sys + 1 : sys, NULL, NULL, &status);
      if (dem && status == 0) {
        f->name = mem_intern_z(p->mem, dm == D_FULL ? dem : simplify(dem, dm, buf, sizeof buf));
        free(dem);
        continue;
      }
      free(dem);
    }
    const char *name = sys;
    if (dm != D_NONE && dm != D_FULL && looks_cplusplus(name))
      name = simplify(name, dm, buf, sizeof buf);
    f->name = mem_intern_z(p->mem, name);
  }
}
