/*
 * mkprof.c — writes a large synthetic CPU profile for tool_bench.py: gzipped profile.proto with
 * about 50,000 functions and 1,000,000 distinct samples (stacks 8-40 frames deep drawn from a
 * random call tree, some frames inlined, a third of the samples labelled), the shape of a long
 * profile of a big C++ server. Built with the project's own encoder (src/format/).
 *
 * Usage: mkprof OUT.pb.gz [samples] [functions]
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/profile.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: mkprof OUT.pb.gz [samples] [functions]\n");
    return 2;
  }
  size_t nsamples = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
  size_t nfuncs = argc > 3 ? strtoul(argv[3], NULL, 10) : 50000;
  prof_t *p = prof_new();
  prof_add_sample_type(p, "samples", "count");
  prof_add_sample_type(p, "cpu", "nanoseconds");
  prof_set_period_type(p, "cpu", "nanoseconds");
  p->period = 10000000;
  p->time_nanos = 1700000000000000000LL;
  p->duration_nanos = 3600LL * 1000000000LL;
  prof_mapping_t *m = prof_add_mapping(p);
  m->memory_start = 0x400000;
  m->memory_limit = 0x400000 + nfuncs * 0x100 + 0x1000;
  m->filename = prof_intern(p, "/usr/local/bin/bigserver");
  m->build_id = prof_intern(p, "b16b00b5cafef00d");
  m->has_functions = m->has_filenames = m->has_line_numbers = m->has_inline_frames = true;
  char name[256], file[128];
  static const char *const ns[] = {"net", "db", "cache", "rpc", "util", "proto", "http", "log"};
  for (size_t i = 0; i < nfuncs; i++) {
    prof_function_t *f = prof_add_function(p);
    snprintf(name, sizeof name, "%s::Component%zu::Method%zu(int, std::string const&)", ns[i % 8],
             i / 64, i % 64);
    snprintf(file, sizeof file, "src/%s/component%zu.cc", ns[i % 8], i / 64);
    f->name = prof_intern(p, name);
    f->system_name = prof_intern(p, name);
    f->filename = prof_intern(p, file);
    f->start_line = (int64_t)(10 + i % 500);
  }
  /* one location per function, every eighth with an inlined callee */
  for (size_t i = 0; i < nfuncs; i++) {
    prof_location_t *l = prof_add_location(p);
    l->mapping_id = 1;
    l->address = 0x400000 + i * 0x100 + 0x10;
    if (i % 8 == 7)
      prof_location_add_line(l, (i + 1) % nfuncs + 1, (int64_t)(20 + i % 300));
    prof_location_add_line(l, i + 1, (int64_t)(12 + i % 400));
  }
  /* a random call tree: each function has a parent with a smaller index */
  uint32_t *parent = malloc(nfuncs * sizeof *parent);
  for (size_t i = 0; i < nfuncs; i++)
    parent[i] = i < 16 ? (uint32_t)i : (uint32_t)(next() % (i / 2 + 1));
  uint64_t stack[64];
  int64_t val[2];
  for (size_t s = 0; s < nsamples; s++) {
    size_t leaf = (size_t)(next() % nfuncs);
    size_t depth = 0;
    for (size_t f = leaf; depth < 40; f = parent[f]) {
      stack[depth++] = f + 1;
      if (f < 16 || parent[f] == f)
        break;
    }
    /* distinct stacks: vary the frames below the leaf's chain with a random extra caller */
    if (depth < 40)
      stack[depth++] = next() % 16 + 1;
    val[0] = 1 + (int64_t)(next() % 4);
    val[1] = val[0] * 10000000;
    prof_sample_t *x = prof_add_sample(p, stack, depth, val, 2);
    if (s % 3 == 0)
      prof_sample_add_label_str(p, x, "shard", s % 2 ? "a" : "b");
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || prof_write_gz_fd(p, fd) < 0) {
    perror(argv[1]);
    return 1;
  }
  close(fd);
  prof_free(p);
  free(parent);
  return 0;
}
