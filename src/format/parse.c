/*
 * parse.c — prof_parse: which format a profile is in, and reading it.
 *
 * The order is pprof's (profile.ParseData and parseLegacy): inflate a gzip stream; an empty input
 * is an error; try profile.proto, and if that fails for any reason but two concatenated profiles,
 * try the legacy readers one after the other: binary CPU, heap, count, threadz, contention. A
 * reader that does not recognise the input answers LG_UNRECOGNIZED and the next one tries; a
 * reader that recognises it but finds it malformed ends the search with its reason, as pprof's do.
 * When no reader recognises it, the reason names both failures: why it is not profile.proto, and
 * the first line that made it no legacy profile.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format/legacy.h"
#include "format/profile.h"
#include "format/wire.h"

typedef int (*reader_fn)(lg_t *g, const uint8_t *data, size_t len);

static int read_cpu(lg_t *g, const uint8_t *d, size_t n) { return lg_parse_cpu(g, d, n); }
static int read_heap(lg_t *g, const uint8_t *d, size_t n) {
  return lg_parse_heap(g, (const char *)d, n);
}
static int read_count(lg_t *g, const uint8_t *d, size_t n) {
  return lg_parse_count(g, (const char *)d, n);
}
static int read_thread(lg_t *g, const uint8_t *d, size_t n) {
  return lg_parse_thread(g, (const char *)d, n);
}
static int read_contention(lg_t *g, const uint8_t *d, size_t n) {
  return lg_parse_contention(g, (const char *)d, n);
}

static const reader_fn readers[] = {read_cpu, read_heap, read_count, read_thread, read_contention};

/* The input's first line, quoted for a message: at most 40 bytes, non-printables as \xNN. */
static void first_line(const uint8_t *d, size_t n, char *out, size_t outlen) {
  size_t k = 0;
  for (size_t i = 0; i < n && i < 40 && d[i] != '\n' && k + 5 < outlen; i++) {
    if (d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\')
      out[k++] = (char)d[i];
    else
      k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", d[i]);
  }
  if (k + 4 < outlen && n > 40 && memchr(d, '\n', 40) == NULL)
    memcpy(out + k, "...", 3), k += 3;
  out[k] = '\0';
}

/* Tries the legacy readers; 0, LG_UNRECOGNIZED, or a negative errno with err set. */
static int parse_legacy(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof readers / sizeof *readers; i++) {
    lg_t g;
    lg_init(&g, err, errlen);
    int rc = readers[i](&g, data, len);
    if (rc == 0)
      rc = lg_finish(&g, out);
    lg_free(&g);
    if (rc != LG_UNRECOGNIZED)
      return rc;
  }
  return LG_UNRECOGNIZED;
}

int prof_parse(const uint8_t *data, size_t len, prof_t **out, char *err, size_t errlen) {
  prof_buf_t raw = {0};
  char perr[256] = "", line[256];
  bool concat = false;
  int rc;
  *out = NULL;
  if (err && errlen)
    err[0] = '\0';
  if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    if ((rc = prof_gunzip(data, len, WIRE_MAX_INFLATE, &raw, err, errlen)) < 0) {
      prof_buf_free(&raw);
      return rc;
    }
    data = raw.data;
    len = raw.len;
  }
  if (len == 0) {
    prof_buf_free(&raw);
    snprintf(err, errlen, "not a profile: empty input");
    return -EINVAL;
  }
  rc = prof_decode_plain(data, len, out, perr, sizeof perr, &concat);
  if (rc == 0 || rc == -ENOMEM || concat) {
    if (rc < 0)
      snprintf(err, errlen, "%s", perr);
    prof_buf_free(&raw);
    return rc;
  }
  rc = parse_legacy(data, len, out, err, errlen);
  if (rc == LG_UNRECOGNIZED) {
    const char *why = perr;
    if (strncmp(why, "not a profile: ", 15) == 0)
      why += 15;
    first_line(data, len, line, sizeof line);
    snprintf(err, errlen,
             "not a profile: not profile.proto (%s), not a legacy profile (first line \"%s\")", why,
             line);
    rc = -EINVAL;
  }
  prof_buf_free(&raw);
  return rc;
}
