/*
 * source.c — reading and combining the command's sources (see source.h).
 *
 * The order of operations is pprof's: each source is read and given a mapping if it has none
 * (and the binary named on the command line); the sources are brought to common units and
 * merged; so are the bases; a diff base gets the pprof::base label, a normalized source is
 * scaled to the base's totals, the base is negated and merged in; then drop_frames applies and
 * -add_comment is appended.
 */
#include "tool/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool/filter.h"
#include "tool/merge.h"
#include "tool/symbolize.h"
#include "tool/util.h"

int tool_read_profile(const char *path, prof_t **out, char *err, size_t errlen) {
  char eb[128];
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "open %s: %s", path, go_strerror(errno, eb, sizeof eb));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "read %s: %s", path,
             S_ISDIR(st.st_mode) ? "is a directory" : go_strerror(errno, eb, sizeof eb));
    close(fd);
    return -1;
  }
  size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, len = 0;
  uint8_t *buf = xmalloc(cap);
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, errlen, "read %s: %s", path, go_strerror(errno, eb, sizeof eb));
      free(buf);
      close(fd);
      return -1;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  close(fd);
  if (len == 0) {
    free(buf);
    snprintf(err, errlen, "parsing profile: empty input file");
    return -1;
  }
  char why[512];
  int rc = prof_parse(buf, len, out, why, sizeof why);
  free(buf);
  if (rc < 0) {
    if (rc == -ENOMEM)
      mem_oom();
    snprintf(err, errlen, "parsing profile: %s", why);
    return -1;
  }
  return 0;
}

/* pprof's grabProfile for a local file, with locateBinaries' fallbacks. */
static tprof_t *grab(const char *path, const fetch_opts_t *o, char *err, size_t errlen) {
  prof_t *raw;
  if (tool_read_profile(path, &raw, err, errlen) < 0)
    return NULL;
  tprof_t *p = tp_from_prof(raw);
  prof_free(raw);
  mem_t *m = p->mem;
  if (p->nmapping == 0) {
    tp_mapping_t *mp = mem_zalloc(m, sizeof *mp);
    mp->id = 1;
    mp->file = mp->build_id = mem_empty;
    p->mapping = mem_alloc(m, 2 * sizeof *p->mapping);
    p->mapping[0] = mp;
    p->nmapping = 1;
    for (size_t i = 0; i < p->nlocation; i++)
      p->location[i]->mapping = mp;
  }
  if (o->exec_name && *o->exec_name)
    p->mapping[0]->file = mem_intern_z(m, o->exec_name);
  if (o->build_id && *o->build_id)
    p->mapping[0]->build_id = mem_intern_z(m, o->build_id);
  return p;
}

static bool is_url(const char *s) {
  const char *c = strstr(s, "://");
  if (!c || c == s)
    return false;
  for (const char *p = s; p < c; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '+' || *p == '-' ||
          *p == '.'))
      return false;
  return true;
}

/* Reads and merges a list of sources; *count is how many could be read. */
static tprof_t *grab_all(char **paths, int n, const fetch_opts_t *o, int *count, char *err,
                         size_t errlen) {
  tprof_t **ps = xmalloc(((size_t)n + 1) * sizeof *ps);
  int k = 0;
  *count = 0;
  for (int i = 0; i < n; i++) {
    char why[1024];
    if (is_url(paths[i])) {
      fprintf(stderr, "%s: fetching profiles over HTTP is not supported by cprof yet\n", paths[i]);
      continue;
    }
    tprof_t *p = grab(paths[i], o, why, sizeof why);
    if (!p) {
      fprintf(stderr, "%s: %s\n", paths[i], why);
      continue;
    }
    ps[k++] = p;
  }
  *count = k;
  if (k == 0) {
    free(ps);
    return NULL;
  }
  tprof_t *p = NULL;
  if (merge_scale_units(ps, (size_t)k, err, errlen) == 0)
    p = merge_profiles(ps, (size_t)k, err, errlen);
  free(ps);
  return p;
}

tprof_t *fetch_profiles(const fetch_opts_t *o, char *err, size_t errlen) {
  char sub[1024] = "";
  int count, bcount = 0;
  tprof_t *p = grab_all(o->sources, o->nsources, o, &count, sub, sizeof sub);
  if (!p && count > 0) {
    snprintf(err, errlen, "problem fetching source profiles: %s", sub);
    return NULL;
  }
  tprof_t *base = NULL;
  char *bases[1] = {(char *)o->base};
  bool want_base = o->base && *o->base;
  if (want_base) {
    base = grab_all(bases, 1, o, &bcount, sub, sizeof sub);
    if (!base && bcount > 0) {
      snprintf(err, errlen, "problem fetching base profiles: %s,", sub);
      return NULL;
    }
  }
  if (count == 0) {
    snprintf(err, errlen, "failed to fetch any source profiles");
    return NULL;
  }
  if (want_base && bcount == 0) {
    snprintf(err, errlen, "failed to fetch any base profiles");
    return NULL;
  }
  if (count != o->nsources)
    fprintf(stderr, "Fetched %d source profiles out of %d\n", count, o->nsources);
  if (base) {
    if (o->diff_base)
      tp_set_label(base, "pprof::base", "true");
    if (o->normalize && merge_normalize(p, base, err, errlen) < 0)
      return NULL;
    merge_scale(base, -1);
    tprof_t *two[2] = {p, base};
    if (merge_scale_units(two, 2, err, errlen) < 0 || !(p = merge_profiles(two, 2, err, errlen)))
      return NULL;
  }
  symbolize_profile(p, o->symbolize);
  if (o->all_frames) {
    p->drop_frames = p->keep_frames = mem_empty;
  } else {
    char ignored[256]; /* pprof ignores a drop_frames that does not compile */
    filter_drop_frames(p, ignored, sizeof ignored);
  }
  for (size_t i = 0; i < p->nmapping; i++)
    if (!*p->mapping[i]->build_id && is_url(p->mapping[i]->file))
      p->mapping[i]->file = mem_empty;
  if (o->comment && *o->comment) {
    const char **c = mem_alloc(p->mem, (p->ncomment + 2) * sizeof *c);
    memcpy(c, p->comment, p->ncomment * sizeof *c);
    c[p->ncomment++] = mem_intern_z(p->mem, o->comment);
    p->comment = c;
  }
  return p;
}
