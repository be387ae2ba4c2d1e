/*
 * symbolize.c — addresses to functions, files and lines with elfutils' libdwfl and libdw.
 *
 * A sym_t wraps one Dwfl reporting this process (dwfl_linux_proc_report reads /proc/self/maps,
 * so a sym_t made after a dlopen sees the new library; PIE executables and shared objects are
 * relocated by libdwfl's load bias). Modules' ELF files are found through /proc/self/maps, their
 * DWARF in the file itself or else in the build-id tree, lazily, on the first address in the
 * module.
 *
 * For one address: dwfl_addrmodule finds the module; dwfl_module_addrdie the compilation unit; a
 * descent through the scopes whose ranges hold the address (sym_scope_chain) the nesting: the
 * DW_TAG_subprogram of the physical function, then one DW_TAG_inlined_subroutine per inlined call
 * (lexical blocks in between are skipped). The innermost frame's line comes from the line table;
 * each outer frame's line is the DW_AT_call_line of the inlined scope nested in it. File names
 * are made absolute with the unit's DW_AT_comp_dir. Names, declaring files and start lines are
 * read through DW_AT_abstract_origin / DW_AT_specification (dwarf_attr_integrate). Without debug
 * info the name comes from the ELF symbol tables (.symtab, else .dynsym) via dwfl_module_addrinfo.
 *
 * C++ linkage names are demangled with __cxa_demangle when the process has libstdc++ loaded (found
 * with dlsym, never linked), then simplified as pprof does by default: no parameters, no template
 * arguments, no return type.
 *
 * Separate debug info is found by build ID only (see sym_find_debuginfo): .gnu_debuglink files
 * outside the build-id tree and debuginfod servers are not used.
 */
#define _GNU_SOURCE
#include "runtime/symbolize.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYM_MAX_SCRATCH 64 /* demangled strings held for the current lookup */
#define SYM_MAX_DEPTH 128  /* nested scopes followed from a unit down to a pc */

typedef char *(*sym_cxa_demangle_fn)(const char *, char *, size_t *, int *);

struct sym {
  Dwfl *dwfl;
  /* Looked up per sym_t rather than once for all: a library may be loaded or unloaded between
   * two profiles. NULL when no C++ runtime is loaded. */
  sym_cxa_demangle_fn demangle;
  char *scratch[SYM_MAX_SCRATCH]; /* malloc'd strings handed out by the current lookup */
  size_t nscratch;
};

static sym_cxa_demangle_fn sym_demangler(void);

/* ------------------------------------------------------------------ libdwfl set-up ----------- */

static char *sym_debuginfo_path = NULL; /* libdwfl's default search path */

/* Separate debug info is looked for only in the local build-id tree (/usr/lib/debug/.build-id/,
 * where Debian's -dbgsym and Fedora's -debuginfo packages put it). Not with
 * dwfl_standard_find_debuginfo: when that finds nothing it dlopens libdebuginfod, which pulls
 * some thirty libraries (libcurl, TLS, Kerberos) into the profiled process and may go to the
 * network. */
static int sym_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                              Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                              GElf_Word debuglink_crc, char **debuginfo_file_name) {
  return dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                      debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks sym_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = sym_find_debuginfo,
    .debuginfo_path = &sym_debuginfo_path,
};

sym_t *sym_new(void) {
  sym_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->dwfl = dwfl_begin(&sym_callbacks);
  if (s->dwfl == NULL) {
    free(s);
    return NULL;
  }
  dwfl_report_begin(s->dwfl);
  int r = dwfl_linux_proc_report(s->dwfl, getpid());
  if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 || r != 0) {
    dwfl_end(s->dwfl);
    free(s);
    return NULL;
  }
  s->demangle = sym_demangler();
  return s;
}

static void sym_scratch_clear(sym_t *s) {
  for (size_t i = 0; i < s->nscratch; i++)
    free(s->scratch[i]);
  s->nscratch = 0;
}

void sym_free(sym_t *s) {
  if (s == NULL)
    return;
  sym_scratch_clear(s);
  dwfl_end(s->dwfl);
  free(s);
}

/* ------------------------------------------------------------------ demangling --------------- */

/* Length of the operator spelled at p (just after "operator"), so that its '<', '(' or '>' are
 * not taken for brackets: "()", "<<=", "->*", " new[]" and so on. */
static size_t sym_operator_len(const char *p) {
  static const char *const ops[] = {"()", "[]", "<=>", "<<=", ">>=", "->*", "<<",
                                    ">>", "<=", ">=",  "->",  "<",   ">"};
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (strncmp(p, ops[i], strlen(ops[i])) == 0)
      return strlen(ops[i]);
  return 0;
}

/* Drops parameter lists, template arguments, trailing qualifiers and the return type from a
 * demangled name, in place: "int ns::f<int>(int) const" -> "ns::f". */
static void sym_simplify(char *s) {
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
      size_t n = 8 + sym_operator_len(p + 8);
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

static sym_cxa_demangle_fn sym_demangler(void) {
  sym_cxa_demangle_fn fn;
  void *sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
  memcpy(&fn, &sym, sizeof(fn));
  return fn;
}

static char *sym_demangle_with(sym_cxa_demangle_fn fn, const char *name) {
  if (fn == NULL || name == NULL || strncmp(name, "_Z", 2) != 0)
    return NULL;
  int status = -1;
  char *out = fn(name, NULL, NULL, &status);
  if (status != 0 || out == NULL) {
    free(out);
    return NULL;
  }
  sym_simplify(out);
  return out;
}

char *sym_demangle(const char *name) { return sym_demangle_with(sym_demangler(), name); }

/* ------------------------------------------------------------------ one address -------------- */

/* Sets the frame's name and system name from a linkage name and/or a plain name: a mangled
 * linkage name gives a demangled name; otherwise the plain (DW_AT_name) one is preferred, since an
 * unmangled linkage name is an asm label such as glibc's __GI_qsort for qsort. */
static void sym_frame_name(sym_t *s, sym_frame_t *f, const char *linkage, const char *plain) {
  f->system_name = linkage != NULL ? linkage : plain;
  f->name = plain != NULL ? plain : linkage;
  char *d = s->nscratch < SYM_MAX_SCRATCH ? sym_demangle_with(s->demangle, linkage) : NULL;
  if (d != NULL) {
    s->scratch[s->nscratch++] = d;
    f->name = d;
  }
}

static const char *sym_die_string(Dwarf_Die *die, unsigned attr) {
  Dwarf_Attribute mem;
  return dwarf_formstring(dwarf_attr_integrate(die, attr, &mem));
}

/* The file name made absolute with the compilation directory of die's unit, as the compiler saw
 * it; relative names (DWARF 5 line tables keep them so) would not let pprof's list find the file.
 * NULL stays NULL. */
static const char *sym_abs_path(sym_t *s, Dwarf_Die *die, const char *file) {
  if (file == NULL || file[0] == '/' || s->nscratch == SYM_MAX_SCRATCH)
    return file;
  Dwarf_Die cu;
  Dwarf_Attribute mem;
  const char *dir = dwarf_diecu(die, &cu, NULL, NULL) != NULL
                        ? dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &mem))
                        : NULL;
  if (dir == NULL || dir[0] == '\0')
    return file;
  while (file[0] == '.' && file[1] == '/')
    file += 2;
  char *out = NULL;
  if (asprintf(&out, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file) < 0)
    return file;
  s->scratch[s->nscratch++] = out;
  return out;
}

/* Fills a frame from a subprogram or inlined-subroutine DIE. */
static void sym_frame_from_die(sym_t *s, sym_frame_t *f, Dwarf_Die *die, int64_t line) {
  const char *linkage = sym_die_string(die, DW_AT_linkage_name);
  if (linkage == NULL)
    linkage = sym_die_string(die, DW_AT_MIPS_linkage_name);
  sym_frame_name(s, f, linkage, sym_die_string(die, DW_AT_name));
  const char *file = sym_abs_path(s, die, dwarf_decl_file(die));
  f->file = file != NULL ? file : "";
  int decl = 0;
  f->start_line = dwarf_decl_line(die, &decl) == 0 ? decl : 0;
  f->line = line;
}

/*
 * Fills chain[depth..] with the scopes containing pc below parent, outermost first, and returns the
 * new depth (depth when no child contains pc). A pc-pruned descent: only scopes whose ranges hold
 * pc are entered, plus namespaces and the like, which have no ranges but hold functions. Cheaper
 * than dwarf_getscopes + dwarf_getscopes_die, which walk the unit twice, and it yields the
 * concrete nesting (dwarf_getscopes continues into an inlined function's abstract origin).
 */
static int sym_scope_chain(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *chain, int depth) {
  Dwarf_Die child;
  if (depth >= SYM_MAX_DEPTH || dwarf_child(parent, &child) != 0)
    return depth;
  do {
    switch (dwarf_tag(&child)) {
    case DW_TAG_subprogram:
    case DW_TAG_inlined_subroutine:
    case DW_TAG_lexical_block:
    case DW_TAG_try_block:
    case DW_TAG_catch_block:
    case DW_TAG_entry_point:
      if (dwarf_haspc(&child, pc) == 1) {
        chain[depth] = child;
        return sym_scope_chain(&chain[depth], pc, chain, depth + 1);
      }
      break;
    case DW_TAG_namespace:
    case DW_TAG_module:
    case DW_TAG_class_type:
    case DW_TAG_structure_type:
    case DW_TAG_union_type: {
      int d = sym_scope_chain(&child, pc, chain, depth);
      if (d > depth)
        return d;
      break;
    }
    default:
      break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
  return depth;
}

/* The frames from debug info; 0 when the address is in no function the DWARF describes. */
static size_t sym_lookup_dwarf(sym_t *s, Dwfl_Module *mod, uint64_t addr, sym_frame_t *frames,
                               size_t max) {
  Dwarf_Addr bias = 0;
  Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
  if (cu == NULL)
    return 0;
  Dwarf_Die scopes[SYM_MAX_DEPTH];
  int n = sym_scope_chain(cu, addr - bias, scopes, 0);
  if (n <= 0)
    return 0;
  int64_t line = 0;
  Dwfl_Line *dl = dwfl_module_getsrc(mod, addr);
  int lineno = 0;
  if (dl != NULL && dwfl_lineinfo(dl, NULL, &lineno, NULL, NULL, NULL) != NULL)
    line = lineno;
  size_t nf = 0;
  for (int i = n - 1; i >= 0 && nf < max; i--) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
      continue;
    sym_frame_from_die(s, &frames[nf++], &scopes[i], line);
    if (tag == DW_TAG_subprogram)
      break;
    Dwarf_Attribute mem;
    Dwarf_Word call_line = 0;
    line = dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &mem), &call_line) == 0
               ? (int64_t)call_line
               : 0;
  }
  /* A frame without a name is no use; an unnamed physical function may still have an ELF
   * symbol, so let the caller fall back. */
  if (nf > 0 && frames[nf - 1].name == NULL)
    return 0;
  for (size_t i = 0; i < nf; i++)
    if (frames[i].name == NULL)
      frames[i].name = frames[i].system_name = "??";
  if (nf > 0 && frames[0].file[0] == '\0' && dl != NULL) {
    const char *src = sym_abs_path(s, cu, dwfl_lineinfo(dl, NULL, NULL, NULL, NULL, NULL));
    frames[0].file = src != NULL ? src : "";
  }
  return nf;
}

size_t sym_lookup(sym_t *s, uint64_t addr, sym_frame_t *frames, size_t max, unsigned *flags) {
  *flags = 0;
  sym_scratch_clear(s);
  if (max == 0)
    return 0;
  Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
  if (mod == NULL)
    return 0;
  size_t nf = sym_lookup_dwarf(s, mod, addr, frames, max);
  if (nf > 0) {
    *flags |= SYM_FROM_DWARF;
    return nf;
  }
  GElf_Off off = 0;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
  if (name == NULL || name[0] == '\0')
    return 0;
  memset(&frames[0], 0, sizeof(frames[0]));
  sym_frame_name(s, &frames[0], name, NULL);
  frames[0].file = "";
  return 1;
}
