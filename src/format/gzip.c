/*
 * gzip.c — gzip (RFC 1952) through zlib, and writing a finished profile to a file descriptor.
 *
 * prof_gzip deflates a whole buffer with a gzip wrapper (Go writes profiles at BestSpeed, level 1).
 * prof_gunzip inflates a gzip stream of one or more members (as `cat a.gz b.gz` makes; Go's reader
 * accepts them too) into a buffer that doubles as needed but never past max_out: a stream that
 * would inflate further is refused with -EFBIG, which is what stops a gzip bomb. Anything that is
 * not a gzip member after the first one, a truncated stream or a bad checksum is -EINVAL with a
 * reason. zlib's own allocations are the only ones besides the output buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "format/profile.h"
#include "format/wire.h"

static void set_err(char *err, size_t errlen, const char *msg, size_t at) {
  if (err && errlen)
    snprintf(err, errlen, "gzip: %s at byte %zu", msg, at);
}

int prof_gzip(const uint8_t *data, size_t len, int level, prof_buf_t *out) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (level < 0 || level > 9)
    level = Z_DEFAULT_COMPRESSION;
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -ENOMEM;
  size_t start = out->len;
  int rc = 0, zr;
  z.next_in = (Bytef *)data;
  do {
    size_t chunk = len < 65536 ? 65536 : len / 2;
    uInt in = len - (size_t)(z.next_in - data) > UINT32_MAX
                  ? UINT32_MAX
                  : (uInt)(len - (size_t)(z.next_in - data));
    z.avail_in = in;
    if (wire_reserve(out, chunk) < 0) {
      rc = -ENOMEM;
      break;
    }
    size_t room = out->cap - out->len > UINT32_MAX ? UINT32_MAX : out->cap - out->len;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)room;
    bool last = (size_t)(z.next_in - data) + in == len;
    zr = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
    out->len += room - z.avail_out;
    if (zr == Z_STREAM_ERROR) {
      rc = -EINVAL;
      break;
    }
  } while (zr != Z_STREAM_END);
  deflateEnd(&z);
  if (rc < 0)
    out->len = start;
  return rc;
}

/* Inflates one member starting at z's input into out; Z_STREAM_END, or a negative errno. */
static int gunzip_member(z_stream *z, const uint8_t *data, size_t max_out, prof_buf_t *out,
                         char *err, size_t errlen) {
  for (;;) {
    if (out->len == out->cap) {
      if (out->len >= max_out) {
        if (err && errlen)
          snprintf(err, errlen, "gzip: inflates past the limit of %zu bytes", max_out);
        return -EFBIG;
      }
      size_t want = out->cap ? out->cap : 65536;
      if (want > max_out - out->len)
        want = max_out - out->len;
      if (wire_reserve(out, want) < 0)
        return -ENOMEM;
      if (out->cap > max_out)
        out->cap = max_out; /* never fill past the limit; the extra bytes stay unused */
    }
    size_t room = out->cap - out->len > UINT32_MAX ? UINT32_MAX : out->cap - out->len;
    z->next_out = out->data + out->len;
    z->avail_out = (uInt)room;
    int zr = inflate(z, Z_NO_FLUSH);
    out->len += room - z->avail_out;
    size_t at = (size_t)(z->next_in - data);
    switch (zr) {
    case Z_STREAM_END:
      return Z_STREAM_END;
    case Z_OK:
      continue;
    case Z_BUF_ERROR:
      if (z->avail_out == 0)
        continue;
      set_err(err, errlen, "truncated stream", at);
      return -EINVAL;
    case Z_MEM_ERROR:
      return -ENOMEM;
    default:
      set_err(err, errlen, z->msg ? z->msg : "corrupt stream", at);
      return -EINVAL;
    }
  }
}

int prof_gunzip(const uint8_t *data, size_t len, size_t max_out, prof_buf_t *out, char *err,
                size_t errlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (len < 2 || data[0] != 0x1f || data[1] != 0x8b) {
    set_err(err, errlen, "not a gzip stream (bad magic)", 0);
    return -EINVAL;
  }
  if (len > UINT32_MAX) {
    set_err(err, errlen, "input too large", 0);
    return -EFBIG;
  }
  if (inflateInit2(&z, 15 + 16) != Z_OK)
    return -ENOMEM;
  size_t start = out->len;
  int rc;
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)len;
  for (;;) {
    rc = gunzip_member(&z, data, max_out + start, out, err, errlen);
    if (rc < 0)
      break;
    rc = 0;
    if (z.avail_in == 0)
      break;
    if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) {
      set_err(err, errlen, "trailing garbage after the gzip member", (size_t)(z.next_in - data));
      rc = -EINVAL;
      break;
    }
    if (inflateReset(&z) != Z_OK) {
      rc = -ENOMEM;
      break;
    }
  }
  inflateEnd(&z);
  if (rc < 0)
    out->len = start;
  return rc;
}

int prof_write_gz_fd(const prof_t *p, int fd) {
  prof_buf_t raw = {0}, gz = {0};
  int rc = prof_encode(p, &raw);
  if (rc == 0)
    rc = prof_gzip(raw.data, raw.len, 1, &gz);
  prof_buf_free(&raw);
  for (size_t off = 0; rc == 0 && off < gz.len;) {
    ssize_t n = write(fd, gz.data + off, gz.len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      rc = n < 0 ? -errno : -EIO;
    else
      off += (size_t)n;
  }
  prof_buf_free(&gz);
  return rc;
}
