/*
 * mappings.c — the executable mappings of this process, with build IDs, for a profile's Mapping[].
 *
 * The list comes from /proc/self/maps, filtered as Go's runtime/pprof does (parseProcSelfMaps):
 * only executable lines; " (deleted)" trimmed; a line with inode 0 and no name skipped (huge-page
 * text fragments) while named pseudo-files such as [vdso] are kept.
 *
 * Build IDs are found first in memory: dl_iterate_phdr gives every object the loader knows with
 * its program headers, and the PT_NOTE segments are mapped, so the NT_GNU_BUILD_ID note can be
 * read without touching the file (which also works for a file deleted since it was loaded). A
 * mapping no loaded object covers (a file mapped executable by hand) falls back to opening the
 * file with libelf and reading its notes.
 *
 * Invariant after map_list_read: v[0] is the main executable's first executable mapping when it
 * could be identified (by /proc/self/exe), and v[1..n) are sorted by start and do not overlap.
 */
#define _GNU_SOURCE
#include "runtime/mappings.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NT_GNU_BUILD_ID_TYPE 3

/* ------------------------------------------------------------------ parsing ------------------ */

int map_line_parse(const char *line, map_entry_t *e) {
  unsigned long long start, end, off, inode;
  char perms[8];
  int n = 0;
  if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %n", &start, &end, perms, &off, &inode, &n) < 5)
    return 0;
  if (strlen(perms) < 3 || perms[2] != 'x')
    return 0;
  const char *path = n > 0 ? line + n : "";
  size_t len = strcspn(path, "\n");
  static const char deleted[] = " (deleted)";
  const size_t dlen = sizeof(deleted) - 1;
  if (len >= dlen && memcmp(path + len - dlen, deleted, dlen) == 0)
    len -= dlen;
  if (inode == 0 && len == 0)
    return 0;
  memset(e, 0, sizeof(*e));
  e->start = start;
  e->limit = end;
  e->offset = off;
  e->path = strndup(path, len);
  return e->path != NULL ? 1 : -ENOMEM;
}

static void map_hex(char *out, const uint8_t *id, size_t len) {
  static const char digits[] = "0123456789abcdef";
  if (len > MAP_BUILD_ID_MAX)
    len = MAP_BUILD_ID_MAX;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[id[i] >> 4];
    out[2 * i + 1] = digits[id[i] & 15];
  }
  out[2 * len] = '\0';
}

/* Looks for the GNU build-id note in a block of notes; the hex goes to out. True when found. */
static bool map_notes_scan(const uint8_t *p, size_t size, char *out) {
  size_t pos = 0;
  while (pos + sizeof(ElfW(Nhdr)) <= size) {
    ElfW(Nhdr) nh;
    memcpy(&nh, p + pos, sizeof(nh));
    size_t name_at = pos + sizeof(nh);
    size_t desc_at = name_at + ((nh.n_namesz + 3u) & ~3u);
    size_t next = desc_at + ((nh.n_descsz + 3u) & ~3u);
    if (desc_at > size || desc_at + nh.n_descsz > size || next <= pos)
      return false;
    if (nh.n_type == NT_GNU_BUILD_ID_TYPE && nh.n_namesz == 4 &&
        memcmp(p + name_at, "GNU", 4) == 0 && nh.n_descsz > 0) {
      map_hex(out, p + desc_at, nh.n_descsz);
      return true;
    }
    pos = next;
  }
  return false;
}

/* ------------------------------------------------------------ build IDs from memory ----------- */

static int map_phdr_visit(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  map_list_t *l = arg;
  char id[2 * MAP_BUILD_ID_MAX + 1] = "";
  for (int i = 0; i < info->dlpi_phnum && id[0] == '\0'; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_NOTE)
      map_notes_scan((const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_memsz, id);
  }
  if (id[0] == '\0')
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
      continue;
    uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    for (size_t j = 0; j < l->n; j++)
      if (l->v[j].start < hi && lo < l->v[j].limit && l->v[j].build_id[0] == '\0')
        memcpy(l->v[j].build_id, id, sizeof(id));
  }
  return 0;
}

/* ------------------------------------------------------------ build IDs from files ------------ */

static void map_build_id_from_file(map_entry_t *e) {
  int fd = open(e->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
  size_t nph = 0;
  if (elf != NULL && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &nph) == 0) {
    for (size_t i = 0; i < nph && e->build_id[0] == '\0'; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_NOTE)
        continue;
      Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
      if (d != NULL && d->d_buf != NULL)
        map_notes_scan(d->d_buf, d->d_size, e->build_id);
    }
  }
  if (elf != NULL)
    elf_end(elf);
  close(fd);
}

/* Fills the build IDs no loaded object supplied, reading each file once. */
static void map_build_ids_from_files(map_list_t *l) {
  elf_version(EV_CURRENT);
  for (size_t i = 0; i < l->n; i++) {
    map_entry_t *e = &l->v[i];
    if (e->build_id[0] != '\0' || e->path[0] != '/')
      continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(l->v[j].path, e->path) == 0;
    if (!seen)
      map_build_id_from_file(e);
  }
}

/* ------------------------------------------------------------------ the list ------------------ */

/* Moves the main executable's first mapping to v[0], keeping the others in order. */
static void map_main_first(map_list_t *l) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return;
  exe[n] = '\0';
  static const char deleted[] = " (deleted)";
  size_t len = (size_t)n, dlen = sizeof(deleted) - 1;
  if (len >= dlen && strcmp(exe + len - dlen, deleted) == 0)
    exe[len - dlen] = '\0';
  for (size_t i = 0; i < l->n; i++) {
    if (strcmp(l->v[i].path, exe) != 0)
      continue;
    map_entry_t main_map = l->v[i];
    memmove(&l->v[1], &l->v[0], i * sizeof(map_entry_t));
    l->v[0] = main_map;
    return;
  }
}

static int map_list_append(map_list_t *l, size_t *cap, const map_entry_t *e) {
  if (l->n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 32;
    map_entry_t *nv = realloc(l->v, ncap * sizeof(*nv));
    if (nv == NULL)
      return -ENOMEM;
    l->v = nv;
    *cap = ncap;
  }
  l->v[l->n++] = *e;
  return 0;
}

int map_list_read(map_list_t *out) {
  memset(out, 0, sizeof(*out));
  FILE *f = fopen("/proc/self/maps", "re");
  if (f == NULL)
    return -errno;
  char *line = NULL;
  size_t linecap = 0, cap = 0;
  int err = 0;
  while (err == 0 && getline(&line, &linecap, f) > 0) {
    map_entry_t e;
    int r = map_line_parse(line, &e);
    if (r < 0)
      err = r;
    else if (r > 0 && (err = map_list_append(out, &cap, &e)) < 0)
      free(e.path);
  }
  free(line);
  fclose(f);
  if (err < 0) {
    map_list_free(out);
    return err;
  }
  dl_iterate_phdr(map_phdr_visit, out);
  map_build_ids_from_files(out);
  map_main_first(out);
  return 0;
}

void map_list_free(map_list_t *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i].path);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

long map_list_find(const map_list_t *l, uint64_t addr) {
  if (l->n == 0)
    return -1;
  if (addr >= l->v[0].start && addr < l->v[0].limit)
    return 0;
  size_t lo = 1, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (addr < l->v[mid].start)
      hi = mid;
    else if (addr >= l->v[mid].limit)
      lo = mid + 1;
    else
      return (long)mid;
  }
  return -1;
}

int map_list_copy(map_list_t *dst, const map_list_t *src) {
  memset(dst, 0, sizeof(*dst));
  if (src->n == 0)
    return 0;
  dst->v = calloc(src->n, sizeof(*dst->v));
  if (dst->v == NULL)
    return -ENOMEM;
  for (; dst->n < src->n; dst->n++) {
    dst->v[dst->n] = src->v[dst->n];
    if ((dst->v[dst->n].path = strdup(src->v[dst->n].path)) == NULL) {
      map_list_free(dst);
      return -ENOMEM;
    }
  }
  return 0;
}

bool map_entry_same(const map_entry_t *a, const map_entry_t *b) {
  return a->start == b->start && a->limit == b->limit && a->offset == b->offset &&
         strcmp(a->path, b->path) == 0 && strcmp(a->build_id, b->build_id) == 0;
}

bool map_list_same(const map_list_t *a, const map_list_t *b) {
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (!map_entry_same(&a->v[i], &b->v[i]))
      return false;
  return true;
}
