/*
 * cfi.c — building the unwind tables (unwind.h) from the DWARF call-frame information of every
 * loaded module. Part of the extension: it uses libdw and allocates freely, and never runs in a
 * signal handler.
 *
 * A build has three passes. First dl_iterate_phdr lists the loaded modules: name, load bias and the
 * range of their executable PT_LOAD segments (the loader's lock is held only for this copy). Then
 * each module is either taken from the old set — when its key, a hash of path, load address, inode,
 * size and mtime, matches — or read: the ELF file is opened (or, for the vdso, its in-memory
 * image), every FDE of .eh_frame (.debug_frame when there is no .eh_frame) is listed with
 * dwarf_next_cfi, and each FDE's address range is cut into rows with dwarf_cfi_addrframe, which
 * gives both the rules at an address and the range [start, end) over which they hold. Finally the
 * modules are sorted by address and copied, with their rows, into one allocation that the set owns,
 * and each module gets its page index (unwind.h) in the same allocation, after all the rows: per
 * 1 << CFI_BLOCK_SHIFT bytes of its range, the last row at or before the block, so that a lookup
 * searches only the rows of one block.
 *
 * A row is reduced to what the signal handler can use: CFA = %rsp/%rbp + offset (or the PLT's
 * expression, whose threshold byte goes into cfa_off), the save slot of %rbp, and only when the
 * return address is at CFA - 8. Anything else — expressions, signal trampolines, `undefined` return
 * addresses such as _start's — becomes UNWIND_CFA_NONE, as does every gap between FDEs, so the
 * walker falls back to the frame-pointer chain there. Rows are offsets from the load bias, sorted,
 * and no two neighbours are equal.
 */
#define _GNU_SOURCE
#include "runtime/ext.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFI_REG_RBP 6
#define CFI_REG_RSP 7
#define CFI_REG_RA 16

/* log2 of the page index's block size (unwind.h). 256-byte blocks hold ~5 of libc's rows, so a
 * lookup reads one or two cache lines of rows; the index costs 4 bytes per 256 of code (~25 KiB for
 * libc, 5% of its rows). Measured on random pcs: 59 ns a lookup, against 73 with 1 KiB blocks, 91
 * with 4 KiB and 118 without the index. */
#ifndef CFI_BLOCK_SHIFT
#define CFI_BLOCK_SHIFT 8
#endif

/* A growable array of rows. */
typedef struct cfi_rows {
  unwind_row_t *v;
  size_t n, cap;
  int err;
} cfi_rows_t;

/* A loaded module, as listed and then read. */
typedef struct cfi_module {
  char *path;        /* file to read; NULL for the vdso */
  const void *image; /* the vdso's ELF image in memory, else NULL */
  size_t image_size;
  uintptr_t start, end, base;
  uint64_t key;
  const unwind_row_t *rows; /* rows.v, or borrowed from the old set */
  size_t nrows;
  cfi_rows_t own;
} cfi_module_t;

typedef struct cfi_list {
  cfi_module_t *v;
  size_t n, cap;
  int err;
} cfi_list_t;

/* One FDE's address range, link-time addresses. */
typedef struct cfi_fde {
  uint64_t start, end;
} cfi_fde_t;

/* ---------------------------------------------------------------------------------------------
 * Listing modules
 * ------------------------------------------------------------------------------------------- */

static uint64_t cfi_hash(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 0x100000001b3ULL;
  return h;
}

/* The size of an in-memory ELF image (the vdso): up to its section headers or its last segment. */
static size_t cfi_image_size(const ElfW(Ehdr) * eh) {
  size_t size = (size_t)eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
  const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > size)
      size = ph[i].p_offset + ph[i].p_filesz;
  return size;
}

static int cfi_list_phdr(struct dl_phdr_info *info, size_t size, void *arg) {
  cfi_list_t *list = arg;
  (void)size;
  uintptr_t start = UINTPTR_MAX, end = 0, image = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD)
      continue;
    if (ph->p_offset == 0)
      image = info->dlpi_addr + ph->p_vaddr;
    if ((ph->p_flags & PF_X) == 0)
      continue;
    if (info->dlpi_addr + ph->p_vaddr < start)
      start = info->dlpi_addr + ph->p_vaddr;
    if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > end)
      end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
  }
  if (start >= end)
    return 0;
  if (list->n == list->cap) {
    size_t cap = list->cap ? 2 * list->cap : 32;
    cfi_module_t *v = realloc(list->v, cap * sizeof(*v));
    if (v == NULL) {
      list->err = -ENOMEM;
      return 1;
    }
    list->v = v;
    list->cap = cap;
  }
  cfi_module_t *m = &list->v[list->n];
  memset(m, 0, sizeof(*m));
  m->start = start;
  m->end = end;
  m->base = info->dlpi_addr;
  if (image != 0 && image == getauxval(AT_SYSINFO_EHDR)) {
    m->image = (const void *)image;
    m->image_size = cfi_image_size((const ElfW(Ehdr) *)image);
  } else {
    const char *name = info->dlpi_name;
    if (name == NULL || name[0] == '\0')
      name = list->n == 0 ? "/proc/self/exe" : NULL;
    if (name == NULL)
      return 0;
    if ((m->path = strdup(name)) == NULL) {
      list->err = -ENOMEM;
      return 1;
    }
  }
  list->n++;
  return 0;
}

/* Sets m->key from what identifies its contents: path, addresses and the file's identity. */
static void cfi_module_key(cfi_module_t *m) {
  uint64_t h = 0xcbf29ce484222325ULL;
  uintptr_t addrs[3] = {m->start, m->end, m->base};
  h = cfi_hash(h, addrs, sizeof(addrs));
  struct stat st;
  if (m->path != NULL) {
    h = cfi_hash(h, m->path, strlen(m->path));
    if (stat(m->path, &st) == 0) {
      uint64_t id[5] = {st.st_dev, st.st_ino, (uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                        (uint64_t)st.st_mtim.tv_nsec};
      h = cfi_hash(h, id, sizeof(id));
    }
  } else {
    h = cfi_hash(h, "[vdso]", 6);
  }
  m->key = h;
}

/* ---------------------------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------------------------- */

static bool cfi_row_same(const unwind_row_t *a, const unwind_row_t *b) {
  return a->cfa_reg == b->cfa_reg && a->cfa_off == b->cfa_off && a->fp_off == b->fp_off;
}

/* Appends row r at pc, keeping rows sorted and neighbours distinct: a row at the pc of the last
 * one replaces it (an FDE starting where the previous one ended), a row equal to the last is
 * dropped, and a row before the last (overlapping FDEs) is ignored. */
static void cfi_rows_emit(cfi_rows_t *rows, uint64_t pc, unwind_row_t r) {
  if (pc > UINT32_MAX || rows->err != 0)
    return;
  r.pc_off = (uint32_t)pc;
  if (rows->n > 0) {
    unwind_row_t *last = &rows->v[rows->n - 1];
    if (last->pc_off > pc)
      return;
    if (last->pc_off == pc) {
      *last = r;
      if (rows->n > 1 && cfi_row_same(&rows->v[rows->n - 2], &r))
        rows->n--;
      return;
    }
    if (cfi_row_same(last, &r))
      return;
  } else if (r.cfa_reg == UNWIND_CFA_NONE) {
    return;
  }
  if (rows->n == rows->cap) {
    size_t cap = rows->cap ? 2 * rows->cap : 1024;
    unwind_row_t *v = realloc(rows->v, cap * sizeof(*v));
    if (v == NULL) {
      rows->err = -ENOMEM;
      return;
    }
    rows->v = v;
    rows->cap = cap;
  }
  rows->v[rows->n++] = r;
}

/* Recognises the lazy PLT's CFA expression: breg7 8; breg16 0; lit15; and; litN; ge; lit3; shl;
 * plus — that is rsp + 8 + ((rip & 15) >= N ? 8 : 0). Returns N, or -1. */
static int cfi_plt_threshold(const Dwarf_Op *ops, size_t nops) {
  static const uint8_t want[] = {DW_OP_breg7, DW_OP_breg16, DW_OP_lit15, DW_OP_and, 0,
                                 DW_OP_ge,    DW_OP_lit3,   DW_OP_shl,   DW_OP_plus};
  if (nops != sizeof(want))
    return -1;
  for (size_t i = 0; i < nops; i++)
    if (i != 4 && ops[i].atom != want[i])
      return -1;
  if (ops[0].number != 8 || ops[1].number != 0 || ops[4].atom < DW_OP_lit0 ||
      ops[4].atom > DW_OP_lit31)
    return -1;
  return ops[4].atom - DW_OP_lit0;
}

/* The offset from the CFA of a register saved by an `offset(N)` rule, in *off. False for any other
 * rule. */
static bool cfi_saved_at(Dwarf_Frame *fr, int reg, int64_t *off) {
  Dwarf_Op mem[3], *ops = NULL;
  size_t nops = 0;
  if (dwarf_frame_register(fr, reg, mem, &ops, &nops) != 0 || nops == 0 ||
      ops[0].atom != DW_OP_call_frame_cfa)
    return false;
  if (nops == 1) {
    *off = 0;
    return true;
  }
  if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
    *off = (int64_t)ops[1].number;
    return true;
  }
  return false;
}

/* Reduces libdw's frame state to a row (pc_off is set by the caller). */
static unwind_row_t cfi_row_from_frame(Dwarf_Frame *fr, int ra_reg) {
  unwind_row_t r = {0};
  Dwarf_Op *ops = NULL;
  size_t nops = 0;
  int64_t off;
  if (ra_reg != CFI_REG_RA || dwarf_frame_cfa(fr, &ops, &nops) != 0 || nops == 0)
    return r;
  if (!cfi_saved_at(fr, CFI_REG_RA, &off) || off != -8)
    return r;
  int thr, reg = -1;
  if (nops == 1 && ops[0].atom == DW_OP_bregx) { /* libdw's form of def_cfa */
    reg = (int)ops[0].number;
    off = (int64_t)ops[0].number2;
  } else if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
    reg = ops[0].atom - DW_OP_breg0;
    off = (int64_t)ops[0].number;
  }
  if (reg == CFI_REG_RSP || reg == CFI_REG_RBP) {
    if (off < INT32_MIN || off > INT32_MAX)
      return r;
    r.cfa_reg = reg == CFI_REG_RSP ? UNWIND_CFA_SP : UNWIND_CFA_FP;
    r.cfa_off = (int32_t)off;
  } else if ((thr = cfi_plt_threshold(ops, nops)) >= 0) {
    r.cfa_reg = UNWIND_CFA_PLT;
    r.cfa_off = thr;
  } else {
    return r;
  }
  /* %rbp saved elsewhere than a CFA slot (in a register, by an expression) is rare enough to
   * treat like same-value; the walk's bounds checks catch the consequences. */
  if (cfi_saved_at(fr, CFI_REG_RBP, &off) && off != 0 && off >= INT32_MIN && off <= INT32_MAX)
    r.fp_off = (int32_t)off;
  return r;
}

/* Cuts one FDE's range into rows. */
static void cfi_fde_rows(Dwarf_CFI *cfi, const cfi_fde_t *fde, cfi_rows_t *rows) {
  uint64_t pc = fde->start;
  while (pc < fde->end) {
    Dwarf_Frame *fr = NULL;
    if (dwarf_cfi_addrframe(cfi, pc, &fr) != 0)
      break;
    Dwarf_Addr start = 0, end = 0;
    int ra = dwarf_frame_info(fr, &start, &end, NULL);
    cfi_rows_emit(rows, pc, cfi_row_from_frame(fr, ra));
    free(fr);
    if (end <= pc)
      break;
    pc = end;
  }
  cfi_rows_emit(rows, fde->end, (unwind_row_t){0});
}

/* ---------------------------------------------------------------------------------------------
 * Listing FDEs
 * ------------------------------------------------------------------------------------------- */

/* Reads a pointer encoded as enc (DW_EH_PE_*) at *p, advancing *p; where is its run-time address
 * (the base of pc-relative encodings). False for encodings the tables never use. */
static bool cfi_read_ptr(uint8_t enc, const uint8_t **p, const uint8_t *end, uint64_t where,
                         uint64_t *out) {
  size_t size;
  bool sign = (enc & 0x08) != 0;
  switch (enc & 0x07) {
  case DW_EH_PE_absptr:
    size = 8;
    break;
  case DW_EH_PE_udata2:
    size = 2;
    break;
  case DW_EH_PE_udata4:
    size = 4;
    break;
  case DW_EH_PE_udata8:
    size = 8;
    break;
  default:
    return false;
  }
  if ((size_t)(end - *p) < size)
    return false;
  uint64_t v = 0;
  memcpy(&v, *p, size); /* little-endian */
  if (sign && size < 8 && (v >> (8 * size - 1)) != 0)
    v |= ~0ULL << (8 * size);
  *p += size;
  switch (enc & 0x70) {
  case DW_EH_PE_absptr:
    break;
  case DW_EH_PE_pcrel:
    v += where;
    break;
  default:
    return false;
  }
  *out = v;
  return true;
}

/* The FDE pointer encoding of a CIE (its 'R' augmentation), or -1 when it cannot be read. */
static int cfi_cie_encoding(const Dwarf_CIE *cie, bool eh) {
  if (!eh)
    return DW_EH_PE_absptr;
  const char *aug = cie->augmentation;
  if (aug == NULL || aug[0] != 'z')
    return aug != NULL && aug[0] == '\0' ? DW_EH_PE_absptr : -1;
  const uint8_t *d = cie->augmentation_data, *end = d + cie->augmentation_data_size;
  for (aug++; *aug != '\0'; aug++) {
    uint64_t skip;
    switch (*aug) {
    case 'R':
      return d < end ? *d : -1;
    case 'L':
      d++;
      break;
    case 'P':
      if (d >= end)
        return -1;
      uint8_t penc = *d++;
      if (!cfi_read_ptr(penc & 0x0f, &d, end, 0, &skip))
        return -1;
      break;
    case 'S':
    case 'B':
      break;
    default:
      return -1;
    }
  }
  return DW_EH_PE_absptr;
}

static int cfi_fde_cmp(const void *a, const void *b) {
  const cfi_fde_t *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Lists the FDEs of a CFI section (data, at link-time address sec_addr), sorted by start. */
static cfi_fde_t *cfi_list_fdes(Elf *elf, Elf_Data *data, bool eh, uint64_t sec_addr,
                                size_t *count) {
  const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
  cfi_fde_t *v = NULL;
  size_t n = 0, cap = 0;
  Dwarf_Off off = 0, next, cie_off = (Dwarf_Off)-1;
  int enc = -1;
  Dwarf_CFI_Entry e, cie;
  while (ident != NULL && off != (Dwarf_Off)-1) {
    next = off;
    int rc = dwarf_next_cfi(ident, data, eh, off, &next, &e);
    if (rc > 0 || (rc < 0 && next <= off))
      break;
    off = next;
    if (rc < 0 || dwarf_cfi_cie_p(&e))
      continue;
    if (e.fde.CIE_pointer != cie_off) {
      Dwarf_Off ignored;
      cie_off = e.fde.CIE_pointer;
      enc = -1;
      if (dwarf_next_cfi(ident, data, eh, cie_off, &ignored, &cie) == 0 && dwarf_cfi_cie_p(&cie))
        enc = cfi_cie_encoding(&cie.cie, eh);
    }
    const uint8_t *p = e.fde.start;
    uint64_t where = sec_addr + (uint64_t)(p - (const uint8_t *)data->d_buf), start, len;
    if (enc < 0 || !cfi_read_ptr((uint8_t)enc, &p, e.fde.end, where, &start) ||
        !cfi_read_ptr((uint8_t)(enc & 0x0f), &p, e.fde.end, 0, &len) || len == 0)
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      cfi_fde_t *nv = realloc(v, cap * sizeof(*nv));
      if (nv == NULL) {
        free(v);
        return NULL;
      }
      v = nv;
    }
    v[n++] = (cfi_fde_t){start, start + len};
  }
  if (v != NULL)
    qsort(v, n, sizeof(*v), cfi_fde_cmp);
  *count = n;
  return v;
}

/* ---------------------------------------------------------------------------------------------
 * Reading a module
 * ------------------------------------------------------------------------------------------- */

/* Finds the section called name; its header in *sh. */
static Elf_Scn *cfi_section(Elf *elf, const char *name, GElf_Shdr *sh) {
  size_t shstrndx;
  if (elf_getshdrstrndx(elf, &shstrndx) != 0)
    return NULL;
  for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn != NULL; scn = elf_nextscn(elf, scn)) {
    const char *n;
    if (gelf_getshdr(scn, sh) != NULL && sh->sh_type != SHT_NOBITS &&
        (n = elf_strptr(elf, shstrndx, sh->sh_name)) != NULL && strcmp(n, name) == 0)
      return scn;
  }
  return NULL;
}

/* Builds the rows of one ELF: .eh_frame through dwarf_getcfi_elf, else .debug_frame. */
static __attribute__((unused)) void cfi_elf_rows(Elf *elf, cfi_rows_t *rows) {
  GElf_Shdr sh;
  bool eh = true;
  Dwarf *dw = NULL;
  Dwarf_CFI *cfi = NULL;
  Elf_Scn *scn = cfi_section(elf, ".eh_frame", &sh);
  if (scn != NULL) {
    cfi = dwarf_getcfi_elf(elf);
  } else if ((scn = cfi_section(elf, ".debug_frame", &sh)) != NULL) {
    eh = false;
    if ((dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL)) != NULL)
      cfi = dwarf_getcfi(dw);
  }
  Elf_Data *data = scn != NULL ? elf_getdata(scn, NULL) : NULL;
  if (cfi != NULL && data != NULL && data->d_buf != NULL) {
    size_t n = 0;
    cfi_fde_t *fdes = cfi_list_fdes(elf, data, eh, eh ? sh.sh_addr : 0, &n);
    if (fdes == NULL && n > 0)
      rows->err = -ENOMEM;
    for (size_t i = 0; i < n; i++)
      cfi_fde_rows(cfi, &fdes[i], rows);
    free(fdes);
  }
  if (eh && cfi != NULL)
    dwarf_cfi_end(cfi);
  if (dw != NULL)
    dwarf_end(dw);
}

/* Reads m's rows into m->own. A module that cannot be read gets no rows. */
static void cfi_module_read(cfi_module_t *m) {
#if !defined(__x86_64__)
  /* The rows describe x86_64 registers; elsewhere unwind.c walks frame records only. */
  (void)m;
  return;
#else
  int fd = -1;
  Elf *elf;
  if (m->image != NULL) {
    elf = elf_memory((char *)m->image, m->image_size);
  } else {
    if ((fd = open(m->path, O_RDONLY | O_CLOEXEC)) < 0)
      return;
    elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  }
  if (elf != NULL) {
    cfi_elf_rows(elf, &m->own);
    elf_end(elf);
  }
  if (fd >= 0)
    close(fd);
  m->rows = m->own.v;
  m->nrows = m->own.n;
#endif
}

/* Takes m's rows from old when old has a module with the same key. */
static bool cfi_module_reuse(cfi_module_t *m, const unwind_set_t *old) {
  for (size_t i = 0; old != NULL && i < old->nmodules; i++) {
    if (old->modules[i].key == m->key && old->modules[i].base == m->base) {
      m->rows = old->modules[i].rows;
      m->nrows = old->modules[i].nrows;
      return true;
    }
  }
  return false;
}

/* ---------------------------------------------------------------------------------------------
 * The set
 * ------------------------------------------------------------------------------------------- */

static int cfi_module_cmp(const void *a, const void *b) {
  const cfi_module_t *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* The number of page-index blocks of m (unwind.h). */
static size_t cfi_nblocks(const cfi_module_t *m) {
  return m->end > m->start ? ((m->end - m->start - 1) >> CFI_BLOCK_SHIFT) + 1 : 0;
}

/* Fills um's page index, nblocks + 1 entries at idx: for each block, the last row at or before the
 * block's first byte (0 when none is), then nrows - 1. One pass over blocks and rows together. */
static void cfi_index_build(unwind_module_t *um, uint32_t *idx, size_t nblocks) {
  size_t j = 0;
  for (size_t b = 0; b < nblocks; b++) {
    uintptr_t pc = um->start + ((uintptr_t)b << CFI_BLOCK_SHIFT);
    if (pc >= um->base) {
      uintptr_t off = pc - um->base;
      while (j + 1 < um->nrows && (off > UINT32_MAX || um->rows[j + 1].pc_off <= off))
        j++;
    }
    idx[b] = (uint32_t)j;
  }
  idx[nblocks] = (uint32_t)(um->nrows - 1);
  um->block_first = idx;
  um->nblocks = nblocks;
  um->block_shift = CFI_BLOCK_SHIFT;
}

/* Copies the modules that have rows, sorted and non-overlapping, into one allocation, each with
 * its page index after all the rows. */
static unwind_set_t *cfi_set_assemble(cfi_list_t *list) {
  qsort(list->v, list->n, sizeof(cfi_module_t), cfi_module_cmp);
  size_t nmod = 0, nrows = 0, nidx = 0;
  uintptr_t prev_end = 0;
  for (size_t i = 0; i < list->n; i++) {
    cfi_module_t *m = &list->v[i];
    if (m->nrows == 0 || m->nrows > UINT32_MAX || m->start < prev_end) {
      m->nrows = 0; /* overlaps should not exist (keep the first); rows must fit the index */
      continue;
    }
    prev_end = m->end;
    nmod++;
    nrows += m->nrows;
    nidx += cfi_nblocks(m) + 1;
  }
  size_t size = sizeof(unwind_set_t) + nmod * sizeof(unwind_module_t) +
                nrows * sizeof(unwind_row_t) + nidx * sizeof(uint32_t);
  unwind_set_t *set = malloc(size);
  if (set == NULL)
    return NULL;
  unwind_module_t *mods = (unwind_module_t *)(set + 1);
  unwind_row_t *rows = (unwind_row_t *)(mods + nmod);
  uint32_t *idx = (uint32_t *)(rows + nrows);
  static uint64_t last_id; /* (builds are serialized by tables.c) */
  *set = (unwind_set_t){.nmodules = nmod, .modules = mods, .priv = set, .id = ++last_id};
  size_t k = 0;
  for (size_t i = 0; i < list->n; i++) {
    const cfi_module_t *m = &list->v[i];
    if (m->nrows == 0)
      continue;
    memcpy(rows, m->rows, m->nrows * sizeof(unwind_row_t));
    mods[k] = (unwind_module_t){.start = m->start,
                                .end = m->end,
                                .base = m->base,
                                .rows = rows,
                                .nrows = m->nrows,
                                .key = m->key};
    cfi_index_build(&mods[k++], idx, cfi_nblocks(m));
    idx += cfi_nblocks(m) + 1;
    rows += m->nrows;
  }
  return set;
}

/* Builds tables for every module loaded now, reusing old's where the module is unchanged. NULL
 * when out of memory; modules that cannot be read are left out (the walk falls back to frame
 * pointers in them). */
unwind_set_t *cfi_build(const unwind_set_t *old) {
  cfi_list_t list = {0};
  elf_version(EV_CURRENT);
  dl_iterate_phdr(cfi_list_phdr, &list);
  int err = list.err;
  for (size_t i = 0; i < list.n && err == 0; i++) {
    cfi_module_t *m = &list.v[i];
    if (ext_core != NULL && ext_core->ext_module(m->base))
      continue; /* the extension's own libraries: no tables, nothing of the program runs there */
    cfi_module_key(m);
    if (!cfi_module_reuse(m, old))
      cfi_module_read(m);
    err = m->own.err;
  }
  unwind_set_t *set = err == 0 ? cfi_set_assemble(&list) : NULL;
  for (size_t i = 0; i < list.n; i++) {
    free(list.v[i].path);
    free(list.v[i].own.v);
  }
  free(list.v);
  return set;
}

/* Frees a set made by cfi_build. */
void cfi_free(unwind_set_t *set) {
  if (set != NULL)
    free(set->priv);
}
