/*
 * symbolize.c — addresses to functions, files and lines with elfutils' libdwfl and libdw, cached
 * for the life of the process.
 *
 * The shared symbolizer (sym_shared, behind sym_lock) holds:
 *
 *   a Dwfl   reporting this process (dwfl_linux_proc_report reads /proc/self/maps; PIE
 *            executables and shared objects are relocated by libdwfl's load bias). It finds the
 *            modules and their ELF files and answers from the ELF symbol tables (.symtab, else
 *            .dynsym) when there is no DWARF. When the mappings change it is reported again:
 *            libdwfl keeps the modules re-reported at the same place and drops the others (our
 *            per-module state goes with them, in sym_mod_release).
 *   per module, its DWARF (struct sym_mod, hung on the module's userdata): the debug info is
 *            opened by us rather than by libdwfl, from the module's own file when that has
 *            .debug_info (a program or library built with -g). A module whose DWARF is only in a
 *            separate debug file (the build-id tree: libc6-dbg, -dbgsym, -debuginfo packages)
 *            gets no DWARF by default: its names come from that debug file's ELF symbol table,
 *            which libdwfl reads (full names, static functions included, uncompressed and
 *            cheap), without files, lines or inlined frames. Opening the separate DWARF costs
 *            libc alone some 45 ms of CPU and 8-10 MB of RSS for the life of the process (libdw
 *            inflates every compressed debug section it knows when it opens a file), which
 *            would dominate the cost of profiling. CPROF_DEBUGINFO=full asks for it anyway; the
 *            variable is read at every sym_acquire and a change starts the symbolizer over.
 *            When the DWARF is opened, sections we never read are hidden from libdw before
 *            dwarf_begin_elf: the file is mapped copy-on-write (ELF_C_READ_MMAP_PRIVATE) and a
 *            compressed section such as .debug_loclists (location lists, 15% of libc6-dbg's) is
 *            marked SHT_NOBITS in memory only, as in a stripped file.
 *   the maps  the executable mappings (map_list_t) the Dwfl and the cache were last checked
 *            against.
 *   a cache  address -> frames (sym_entry_t, open addressing), the frames and their strings in one
 *            malloc'd block per address. An entry is kept across a change of mappings only when
 *            its address lies in a mapping identical (range, offset, path, build ID) before and
 *            after; everything is dropped when the C++ demangler came or went, or when a module
 *            came back at the same place with different contents (then the Dwfl is rebuilt too,
 *            since libdwfl would reuse the old module by name and range).
 *
 * For one address: dwarf_addrdie finds the compilation unit; a descent through the scopes whose
 * ranges hold the address (sym_scope_chain) the nesting: the DW_TAG_subprogram of the physical
 * function, then one DW_TAG_inlined_subroutine per inlined call (lexical blocks in between are
 * skipped). The innermost frame's line comes from the line table; each outer frame's line is the
 * DW_AT_call_line of the inlined scope nested in it. File names are made absolute with the unit's
 * DW_AT_comp_dir. Names, declaring files and start lines are read through DW_AT_abstract_origin /
 * DW_AT_specification (dwarf_attr_integrate). Without DWARF the name comes from
 * dwfl_module_addrinfo (the symbol table). Unmangled names are brought closer to what DWARF
 * would say, the system name keeping the symbol: a versioned one ("__libc_start_main@@GLIBC_2.34")
 * gives way to an unversioned alias at the same address ("__libc_start_main_impl") or loses its
 * version, and GCC's clone suffixes are cut ("msort_with_tmp.part.0" -> "msort_with_tmp").
 *
 * C++ linkage names are demangled with __cxa_demangle when the process has libstdc++ loaded (found
 * with dlsym, never linked), then simplified as pprof does by default: no parameters, no template
 * arguments, no return type.
 *
 * Separate debug info (its symbol table; its DWARF with CPROF_DEBUGINFO=full) is found by build
 * ID only, in /usr/lib/debug/.build-id: .gnu_debuglink files outside the build-id tree and
 * debuginfod servers are not used.
 *
 * Locking: sym_lock guards everything here; sym_acquire takes it, sym_release gives it back. A
 * child forked while another thread held it starts over with a fresh symbolizer (the old one may
 * be half-changed and is left alone).
 */
#define _GNU_SOURCE
#include "runtime/symbolize.h"

#include "runtime/demangle.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYM_MAX_SCRATCH 64 /* malloc'd strings held for the address being symbolized */
#define SYM_MAX_DEPTH 128  /* nested scopes followed from a unit down to a pc */
/* Addresses kept from one profile to the next; a larger profile keeps them for itself only. */
#define SYM_CACHE_MAX (1 << 16)
#define SYM_DEBUG_DIR "/usr/lib/debug/.build-id/"


/* One module's debug info, opened by us (see the file comment). */
typedef struct sym_mod {
  bool tried; /* looked for already: dw stays NULL when there is none */
  int fd;
  Elf *elf;
  Dwarf *dw;
  Dwarf_Addr bias; /* run-time address - DWARF address */
} sym_mod_t;

/* One cached address. */
typedef struct sym_entry {
  uint64_t addr;
  sym_frame_t *frames; /* with their strings after them; NULL when nframes == 0 */
  uint32_t nframes;
  unsigned flags;
  bool used;
} sym_entry_t;

struct sym {
  Dwfl *dwfl; /* NULL until the first refresh, and after a failed one */
  map_list_t maps;
  demangle_fn demangle; /* NULL when no C++ runtime is loaded */
  bool full_debuginfo;          /* CPROF_DEBUGINFO=full: separate DWARF read too */
  sym_entry_t *tab;             /* the cache; cap is 0 or a power of two */
  size_t cap, n;
  char *scratch[SYM_MAX_SCRATCH]; /* malloc'd strings of the address being symbolized */
  size_t nscratch;
};

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static sym_t *sym_shared; /* made on first use, never freed */
static bool sym_busy;     /* sym_lock is held (read by the fork child, which has one thread) */
static sym_stats_t sym_count;


/* ------------------------------------------------------------------ module debug info -------- */

static char *sym_debuginfo_path = NULL; /* libdwfl's default search path */

/* Separate debug info is looked for only in the local build-id tree (/usr/lib/debug/.build-id/,
 * where Debian's -dbgsym and Fedora's -debuginfo packages put it). Not with
 * dwfl_standard_find_debuginfo: when that finds nothing it dlopens libdebuginfod, which pulls
 * some thirty libraries (libcurl, TLS, Kerberos) into the profiled process and may go to the
 * network. libdwfl wants the debug file only for its symbol table; the DWARF we open ourselves. */
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

/* The section's name without a leading ".z" (GNU-style compressed sections: ".zdebug_info"). */
static const char *sym_scn_name(Elf *elf, size_t shstrndx, const GElf_Shdr *sh, bool *gnu_z) {
  const char *name = elf_strptr(elf, shstrndx, sh->sh_name);
  *gnu_z = name != NULL && strncmp(name, ".zdebug_", 8) == 0;
  return name == NULL ? "" : *gnu_z ? name + 2 : name + 1;
}

/* Whether elf carries DWARF itself (.debug_info with contents). */
static bool sym_elf_has_dwarf(Elf *elf) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0)
    return false;
  for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn != NULL; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    bool z;
    if (gelf_getshdr(scn, &sh) != NULL && sh.sh_type != SHT_NOBITS &&
        strcmp(sym_scn_name(elf, shstrndx, &sh, &z), "debug_info") == 0)
      return true;
  }
  return false;
}

/* Marks the compressed debug sections symbolization never reads SHT_NOBITS in elf's copy-on-write
 * section headers, so that dwarf_begin_elf does not inflate them. */
static void sym_elf_hide_unread(Elf *elf) {
  static const char *const unread[] = {"debug_loc",     "debug_loclists", "debug_frame",
                                       "debug_macinfo", "debug_macro",    "debug_pubnames",
                                       "debug_pubtypes"};
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0)
    return;
  for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn != NULL; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr sh;
    bool z;
    if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type == SHT_NOBITS)
      continue;
    const char *name = sym_scn_name(elf, shstrndx, &sh, &z);
    if (!z && (sh.sh_flags & SHF_COMPRESSED) == 0)
      continue;
    for (size_t i = 0; i < sizeof(unread) / sizeof(unread[0]); i++)
      if (strcmp(name, unread[i]) == 0) {
        sh.sh_type = SHT_NOBITS;
        gelf_update_shdr(scn, &sh);
      }
  }
}

/* Whether CPROF_DEBUGINFO asks for DWARF from separate debug files too. */
static bool sym_env_full_debuginfo(void) {
  const char *v = getenv("CPROF_DEBUGINFO");
  return v != NULL && strcmp(v, "full") == 0;
}

/* The file holding mod's DWARF: its own file when that has .debug_info, else, when full, the
 * build-id tree's. Writes the path to out; *id and *idlen get the build ID the file must have
 * (0: unchecked). */
static bool sym_dwarf_path(Dwfl_Module *mod, Elf *main_elf, bool full, char *out, size_t cap,
                           const unsigned char **id, int *idlen) {
  GElf_Addr vaddr;
  *idlen = dwfl_module_build_id(mod, id, &vaddr);
  if (*idlen < 0)
    *idlen = 0;
  if (sym_elf_has_dwarf(main_elf)) {
    const char *mainfile = NULL;
    dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mainfile, NULL);
    return mainfile != NULL && mainfile[0] == '/' &&
           (size_t)snprintf(out, cap, "%s", mainfile) < cap;
  }
  if (!full || *idlen < 2)
    return false;
  size_t n = (size_t)snprintf(out, cap, "%s%02x/", SYM_DEBUG_DIR, (*id)[0]);
  for (int i = 1; i < *idlen && n + 3 < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%02x", (*id)[i]);
  return (size_t)snprintf(out + n, cap - n, ".debug") < cap - n;
}

/* Opens mod's DWARF into m; leaves m->dw NULL when there is none. */
static void sym_dwarf_open(Dwfl_Module *mod, sym_mod_t *m, bool full) {
  Elf *main_elf = dwfl_module_getelf(mod, &m->bias);
  char path[4096];
  const unsigned char *id = NULL;
  int idlen = 0;
  if (main_elf == NULL || !sym_dwarf_path(mod, main_elf, full, path, sizeof(path), &id, &idlen))
    return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL);
  const void *fid = NULL;
  Dwarf *dw = NULL;
  if (elf != NULL && (idlen == 0 || (dwelf_elf_gnu_build_id(elf, &fid) == idlen &&
                                     memcmp(fid, id, (size_t)idlen) == 0))) {
    sym_elf_hide_unread(elf);
    dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
  }
  if (dw == NULL) {
    if (elf != NULL)
      elf_end(elf);
    close(fd);
    return;
  }
  m->fd = fd, m->elf = elf, m->dw = dw;
  sym_count.dwarf_opens++;
}

static void sym_mod_free(sym_mod_t *m) {
  if (m == NULL)
    return;
  if (m->dw != NULL)
    dwarf_end(m->dw);
  if (m->elf != NULL)
    elf_end(m->elf);
  if (m->fd >= 0)
    close(m->fd);
  free(m);
}

/* mod's debug info, opened on first use; NULL when it has none. */
static Dwarf *sym_mod_dwarf(Dwfl_Module *mod, bool full, Dwarf_Addr *bias) {
  void **ud = NULL;
  dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
  if (ud == NULL)
    return NULL;
  sym_mod_t *m = *ud;
  if (m == NULL) {
    if ((m = calloc(1, sizeof(*m))) == NULL)
      return NULL;
    m->fd = -1;
    *ud = m;
  }
  if (!m->tried) {
    m->tried = true;
    sym_dwarf_open(mod, m, full);
  }
  *bias = m->bias;
  return m->dw;
}

/* Frees a module's state: dwfl_report_end's callback for a module that is gone, and
 * dwfl_getmodules' for every module before dwfl_end. Both pass the address of the module's userdata
 * slot, although dwfl_report_end's prototype says void *. */
static int sym_mod_release(Dwfl_Module *mod, void *slot, const char *name, Dwarf_Addr base,
                           void *arg) {
  (void)mod, (void)name, (void)base, (void)arg;
  void **userdata = slot;
  sym_mod_free(*userdata);
  *userdata = NULL;
  return DWARF_CB_OK;
}

static int sym_mod_release_all(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                               void *arg) {
  return sym_mod_release(mod, userdata, name, base, arg);
}

static void sym_dwfl_end(sym_t *s) {
  if (s->dwfl == NULL)
    return;
  dwfl_getmodules(s->dwfl, sym_mod_release_all, NULL, 0);
  dwfl_end(s->dwfl);
  s->dwfl = NULL;
}

/* Reports the process's modules to s->dwfl, made when there is none. 0 or -1 (s->dwfl is then
 * gone). */
static int sym_dwfl_report(sym_t *s) {
  if (s->dwfl == NULL && (s->dwfl = dwfl_begin(&sym_callbacks)) == NULL)
    return -1;
  dwfl_report_begin(s->dwfl);
  int r = dwfl_linux_proc_report(s->dwfl, getpid());
  if (dwfl_report_end(s->dwfl, sym_mod_release, NULL) != 0 || r != 0) {
    sym_dwfl_end(s);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ one address -------------- */

/* Sets the frame's name and system name from a linkage name and/or a plain name: a mangled
 * linkage name gives a demangled name; otherwise the plain (DW_AT_name) one is preferred, since an
 * unmangled linkage name is an asm label such as glibc's __GI_qsort for qsort. */
static void sym_frame_name(sym_t *s, sym_frame_t *f, const char *linkage, const char *plain) {
  f->system_name = linkage != NULL ? linkage : plain;
  f->name = plain != NULL ? plain : linkage;
  char *d = s->nscratch < SYM_MAX_SCRATCH ? demangle_with(s->demangle, linkage) : NULL;
  if (d != NULL) {
    s->scratch[s->nscratch++] = d;
    f->name = d;
  }
}

/* An ELF symbol's name without the suffixes GCC gives the copies of a function it clones or
 * splits ("msort_with_tmp.part.0", "f.constprop.0.isra.0", "g.cold"): the name DWARF gives them.
 * name itself when it has none, or when no scratch string is left. */
static const char *sym_unclone(sym_t *s, const char *name) {
  static const char *const kinds[] = {"part", "isra", "constprop", "cold", "lto_priv", "localalias"};
  size_t len = strlen(name);
  for (bool again = true; again;) {
    again = false;
    size_t end = len; /* a trailing ".<digits>" first */
    while (end > 0 && name[end - 1] >= '0' && name[end - 1] <= '9')
      end--;
    if (end < len && end > 0 && name[end - 1] == '.')
      end--;
    else
      end = len;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
      size_t kl = strlen(kinds[i]);
      if (end > kl + 1 && name[end - kl - 1] == '.' && strncmp(name + end - kl, kinds[i], kl) == 0) {
        len = end - kl - 1, again = true;
        break;
      }
    }
  }
  char *out = NULL;
  if (len == strlen(name) || s->nscratch == SYM_MAX_SCRATCH || (out = strndup(name, len)) == NULL)
    return name;
  s->scratch[s->nscratch++] = out;
  return out;
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
  /* libdw joined the unit's directory already when that is relative itself (Debian's glibc:
   * "./stdlib" and "./stdlib/msort.c"). */
  size_t dlen = strlen(dir);
  if (strncmp(file, dir, dlen) == 0 && file[dlen] == '/')
    return file;
  while (file[0] == '.' && file[1] == '/')
    file += 2;
  char *out = NULL;
  if (asprintf(&out, "%s%s%s", dir, dir[dlen - 1] == '/' ? "" : "/", file) < 0)
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

/* The frames from debug info at pc (a DWARF address, bias removed); 0 when the address is in no
 * function the DWARF describes. */
static size_t sym_lookup_dwarf(sym_t *s, Dwarf *dw, Dwarf_Addr pc, sym_frame_t *frames,
                               size_t max) {
  Dwarf_Die cu;
  if (dwarf_addrdie(dw, pc, &cu) == NULL)
    return 0;
  Dwarf_Die scopes[SYM_MAX_DEPTH];
  int n = sym_scope_chain(&cu, pc, scopes, 0);
  if (n <= 0)
    return 0;
  int64_t line = 0;
  Dwarf_Line *dl = dwarf_getsrc_die(&cu, pc);
  int lineno = 0;
  if (dl != NULL && dwarf_lineno(dl, &lineno) == 0)
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
    const char *src = sym_abs_path(s, &cu, dwarf_linesrc(dl, NULL, NULL));
    frames[0].file = src != NULL ? src : "";
  }
  return nf;
}

/*
 * The name to show for a symbol found at entry whose name is versioned ("__libc_start_main@@GLIBC_2.34",
 * as symbol tables of separate debug files spell them): another function symbol at the same
 * address without a version, as DWARF would name it ("__libc_start_main_impl"), glibc's alias
 * names ("__GI_qsort", "__libc_start_main_alias_1") only when there is nothing else; else the name
 * with its version cut. name itself when unversioned. A scan of the symbol table, only for
 * versioned names.
 */
static const char *sym_unversion(sym_t *s, Dwfl_Module *mod, const char *name, uint64_t entry) {
  const char *at = strchr(name, '@');
  if (at == NULL || at == name)
    return name;
  const char *alias = NULL;
  int n = dwfl_module_getsymtab(mod);
  for (int i = 1; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr addr = 0;
    const char *alt = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
    if (alt == NULL || addr != entry || GELF_ST_TYPE(sym.st_info) != STT_FUNC || alt[0] == '\0' ||
        strchr(alt, '@') != NULL)
      continue;
    if (strncmp(alt, "__GI_", 5) != 0 && strstr(alt, "_alias") == NULL)
      return alt;
    alias = alias != NULL ? alias : alt;
  }
  if (alias != NULL)
    return alias;
  char *out = s->nscratch < SYM_MAX_SCRATCH ? strndup(name, (size_t)(at - name)) : NULL;
  if (out == NULL)
    return name;
  s->scratch[s->nscratch++] = out;
  return out;
}

/* Symbolizes addr afresh into frames (strings in s->scratch or libdw's memory). */
static size_t sym_resolve(sym_t *s, uint64_t addr, sym_frame_t *frames, size_t max,
                          unsigned *flags) {
  *flags = 0;
  Dwfl_Module *mod = s->dwfl != NULL ? dwfl_addrmodule(s->dwfl, addr) : NULL;
  if (mod == NULL)
    return 0;
  GElf_Off off = 0;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
  uint64_t entry = name != NULL ? addr - off : 0;
  Dwarf_Addr bias = 0;
  Dwarf *dw = sym_mod_dwarf(mod, s->full_debuginfo, &bias);
  size_t nf = dw != NULL ? sym_lookup_dwarf(s, dw, addr - bias, frames, max) : 0;
  if (nf > 0) {
    *flags |= SYM_FROM_DWARF;
  } else if (name != NULL && name[0] != '\0') {
    memset(&frames[0], 0, sizeof(frames[0]));
    sym_frame_name(s, &frames[0], name, NULL);
    if (frames[0].name == name)
      frames[0].name = sym_unclone(s, sym_unversion(s, mod, name, entry));
    frames[0].file = "";
    nf = 1;
  }
  for (size_t i = 0; i < nf; i++)
    frames[i].entry = entry;
  return nf;
}

/* ------------------------------------------------------------------ the cache ---------------- */

static void sym_scratch_clear(sym_t *s) {
  for (size_t i = 0; i < s->nscratch; i++)
    free(s->scratch[i]);
  s->nscratch = 0;
}

static sym_entry_t *sym_slot(sym_entry_t *tab, size_t cap, uint64_t addr) {
  uint64_t h = addr * 0x9e3779b97f4a7c15ull;
  size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);
  while (tab[i].used && tab[i].addr != addr)
    i = (i + 1) & (cap - 1);
  return &tab[i];
}

static int sym_cache_grow(sym_t *s) {
  size_t ncap = s->cap ? s->cap * 2 : 1024;
  sym_entry_t *tab = calloc(ncap, sizeof(*tab));
  if (tab == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < s->cap; i++)
    if (s->tab[i].used)
      *sym_slot(tab, ncap, s->tab[i].addr) = s->tab[i];
  free(s->tab);
  s->tab = tab;
  s->cap = ncap;
  return 0;
}

static char *sym_put(char **p, const char *str) {
  if (str == NULL)
    return NULL;
  size_t len = strlen(str) + 1;
  char *at = memcpy(*p, str, len);
  *p += len;
  return at;
}

/* The frames and their strings copied into one malloc'd block; NULL when out of memory. */
static sym_frame_t *sym_frames_copy(const sym_frame_t *f, size_t n) {
  size_t bytes = n * sizeof(*f);
  for (size_t i = 0; i < n; i++) {
    bytes += (f[i].name ? strlen(f[i].name) + 1 : 0) + strlen(f[i].file) + 1;
    if (f[i].system_name != f[i].name && f[i].system_name != NULL)
      bytes += strlen(f[i].system_name) + 1;
  }
  sym_frame_t *out = malloc(bytes);
  if (out == NULL)
    return NULL;
  char *p = (char *)(out + n);
  for (size_t i = 0; i < n; i++) {
    out[i] = f[i];
    out[i].name = sym_put(&p, f[i].name);
    out[i].system_name =
        f[i].system_name == f[i].name ? out[i].name : sym_put(&p, f[i].system_name);
    out[i].file = sym_put(&p, f[i].file);
  }
  return out;
}

const sym_frame_t *sym_lookup(sym_t *s, uint64_t addr, size_t *n, unsigned *flags) {
  *n = 0;
  *flags = 0;
  sym_count.lookups++;
  if ((s->n + 1) * 2 > s->cap && sym_cache_grow(s) < 0)
    return NULL;
  sym_entry_t *e = sym_slot(s->tab, s->cap, addr);
  if (!e->used) {
    sym_frame_t frames[SYM_MAX_FRAMES];
    unsigned fl = 0;
    size_t nf = sym_resolve(s, addr, frames, SYM_MAX_FRAMES, &fl);
    sym_frame_t *copy = nf > 0 ? sym_frames_copy(frames, nf) : NULL;
    sym_scratch_clear(s);
    if (nf > 0 && copy == NULL)
      return NULL;
    *e = (sym_entry_t){
        .addr = addr, .frames = copy, .nframes = (uint32_t)nf, .flags = fl, .used = true};
    s->n++;
    sym_count.misses++;
  }
  *n = e->nframes;
  *flags = e->flags;
  return e->frames;
}

/* Keeps the cached addresses that lie in a mapping of s->maps identical in now, when keep; drops
 * the rest (all of them when !keep). */
static void sym_cache_retain(sym_t *s, const map_list_t *now, bool keep) {
  sym_entry_t *old = s->tab, *tab = keep && s->cap > 0 ? calloc(s->cap, sizeof(*tab)) : NULL;
  size_t cap = s->cap;
  s->n = 0;
  for (size_t i = 0; i < cap; i++) {
    if (!old[i].used)
      continue;
    long a = map_list_find(&s->maps, old[i].addr);
    long b = tab != NULL ? map_list_find(now, old[i].addr) : -1;
    if (a >= 0 && b >= 0 && map_entry_same(&s->maps.v[a], &now->v[b])) {
      *sym_slot(tab, cap, old[i].addr) = old[i];
      s->n++;
    } else {
      free(old[i].frames);
    }
  }
  free(old);
  s->tab = tab;
  s->cap = tab != NULL ? cap : 0;
}

/* ------------------------------------------------------------------ the shared symbolizer ----- */

/* Whether a file mapped before is mapped now differently (reloaded, maybe changed on disk): libdwfl
 * would reuse its old module if the new one came at the same place, so everything starts over. */
static bool sym_maps_conflict(const map_list_t *old, const map_list_t *now) {
  for (size_t i = 0; i < old->n; i++) {
    long j = map_list_find(now, old->v[i].start);
    if (j >= 0 && map_entry_same(&old->v[i], &now->v[j]))
      continue;
    for (size_t k = 0; k < now->n; k++)
      if (strcmp(now->v[k].path, old->v[i].path) == 0)
        return true;
  }
  return false;
}

/* Brings s up to date with maps and the process's demangler. 0, or -1 when libdw cannot be set
 * up (s then holds nothing). */
static int sym_refresh(sym_t *s, const map_list_t *maps) {
  demangle_fn dm = demangle_find();
  bool full = sym_env_full_debuginfo();
  if (s->dwfl != NULL && dm == s->demangle && full == s->full_debuginfo &&
      map_list_same(&s->maps, maps)) {
    if (s->n > SYM_CACHE_MAX)
      sym_cache_retain(s, maps, false);
    return 0;
  }
  bool rebuild =
      s->dwfl == NULL || full != s->full_debuginfo || sym_maps_conflict(&s->maps, maps);
  sym_cache_retain(s, maps, !rebuild && dm == s->demangle && s->n <= SYM_CACHE_MAX);
  s->demangle = dm;
  s->full_debuginfo = full;
  if (rebuild) {
    sym_dwfl_end(s);
    sym_count.rebuilds++;
  }
  sym_count.refreshes++;
  map_list_free(&s->maps);
  if (sym_dwfl_report(s) < 0 || map_list_copy(&s->maps, maps) < 0) {
    sym_dwfl_end(s);
    sym_cache_retain(s, maps, false);
    return -1;
  }
  return 0;
}

/* In a child forked while another thread was inside the symbolizer: its state may be half-changed,
 * so it is left as it is (leaked) and the child starts over. */
static void sym_after_fork_child(void) {
  if (sym_busy)
    sym_shared = NULL;
  sym_busy = false;
  pthread_mutex_init(&sym_lock, NULL);
}

static void sym_register_atfork(void) { pthread_atfork(NULL, NULL, sym_after_fork_child); }

sym_t *sym_acquire(const map_list_t *maps) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, sym_register_atfork);
  pthread_mutex_lock(&sym_lock);
  sym_busy = true;
  if (sym_shared == NULL)
    sym_shared = calloc(1, sizeof(*sym_shared));
  if (sym_shared != NULL && sym_refresh(sym_shared, maps) == 0)
    return sym_shared;
  sym_busy = false;
  pthread_mutex_unlock(&sym_lock);
  return NULL;
}

void sym_release(sym_t *s) {
  (void)s;
  sym_busy = false;
  pthread_mutex_unlock(&sym_lock);
}

void sym_stats(sym_stats_t *out) {
  pthread_mutex_lock(&sym_lock);
  *out = sym_count;
  out->cached = sym_shared != NULL ? sym_shared->n : 0;
  pthread_mutex_unlock(&sym_lock);
}
