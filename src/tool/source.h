/*
 * source.h — getting the profiles named on the command line: reading each file and decoding it
 * (tool_read_profile is the one place that knows how), then merging sources and bases as pprof's
 * fetchProfiles does.
 */
#ifndef CPROF_TOOL_SOURCE_H
#define CPROF_TOOL_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "format/profile.h"
#include "tool/model.h"

/*
 * Reads the file at path and decodes it. Returns 0 and the profile, or -1 with the reason in err
 * (without the path), e.g. "open x: no such file or directory" or "parsing profile: ...".
 */
int tool_read_profile(const char *path, prof_t **out, char *err, size_t errlen);

typedef struct fetch_opts {
  char **sources;
  int nsources;
  const char *base; /* "" for none */
  bool diff_base, normalize, all_frames;
  const char *exec_name, *build_id, *comment;
  const char *symbolize; /* -symbolize's value */
} fetch_opts_t;

/* pprof's fetchProfiles: NULL with the message in err (notes about single sources go to stderr). */
tprof_t *fetch_profiles(const fetch_opts_t *o, char *err, size_t errlen);

#endif /* CPROF_TOOL_SOURCE_H */
