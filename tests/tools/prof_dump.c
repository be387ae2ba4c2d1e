/*
 * prof_dump.c — a test-only tool: reads a profile with prof_parse and prints or rewrites it.
 *
 *   prof_dump FILE              pprof's Profile.String() of it (tests/unit/profstring.h)
 *   prof_dump -frames FILE      its drop_frames and keep_frames, one line each
 *   prof_dump -proto OUT FILE   it, written to OUT as gzipped profile.proto
 *
 * tests/integration/test_legacy.py uses it to set what prof_parse reads beside what `go tool pprof`
 * reads from the same file. Not installed; not part of cprof.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/profile.h"
#include "profstring.h"
#include "readfile.h"

int main(int argc, char **argv) {
  const char *mode = argc == 2 ? "" : argv[1], *out = NULL, *path = argv[argc - 1];
  if ((argc == 3 && strcmp(mode, "-frames") != 0) || (argc == 4 && strcmp(mode, "-proto") != 0) ||
      argc < 2 || argc > 4) {
    fprintf(stderr, "usage: prof_dump [-frames | -proto OUT] FILE\n");
    return 2;
  }
  if (argc == 4)
    out = argv[2];
  size_t len = 0;
  uint8_t *data = read_file(path, &len);
  if (!data) {
    fprintf(stderr, "prof_dump: %s: %s\n", path, strerror(errno));
    return 1;
  }
  prof_t *p = NULL;
  char err[512];
  int rc = prof_parse(data, len, &p, err, sizeof err);
  free(data);
  if (rc < 0) {
    fprintf(stderr, "prof_dump: %s: %s\n", path, err);
    return 1;
  }
  if (out) {
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    rc = fd < 0 ? -errno : prof_write_gz_fd(p, fd);
    if (fd >= 0)
      close(fd);
    if (rc < 0)
      fprintf(stderr, "prof_dump: %s: %s\n", out, strerror(-rc));
  } else if (mode[0]) {
    printf("DropFrames: %s\nKeepFrames: %s\n", prof_str(p, p->drop_frames),
           prof_str(p, p->keep_frames));
  } else {
    ps_print(stdout, p);
  }
  prof_free(p);
  return rc < 0;
}
