/*
 * options.h — the command's flags: pprof's configuration options, its source flags, and its
 * report commands, each a row of one table, parsed as Go's flag package parses.
 */
#ifndef CPROF_TOOL_OPTIONS_H
#define CPROF_TOOL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* pprof's config: the options settable as -name=value. */
typedef struct config {
  const char *output;
  bool call_tree, relative_percentages;
  const char *unit;
  bool compact_labels;
  const char *source_path, *trim_path;
  bool intel_syntax, mean;
  const char *sample_index;
  double divide_by;
  bool normalize;
  const char *sort;
  const char *tagroot, *tagleaf;
  bool drop_negative;
  int nodecount;
  double nodefraction, edgefraction;
  bool trim;
  const char *focus, *ignore, *prune_from, *hide, *show, *show_from;
  const char *tagfocus, *tagignore, *tagshow, *taghide;
  bool noinlines;
  const char *granularity;
} config_t;

/* The flags that are not config options. */
typedef struct source_flags {
  const char *diff_base, *base, *symbolize, *buildid, *add_comment, *tools, *http;
  int timeout, seconds;
  bool inuse_space, inuse_objects, alloc_space, alloc_objects, total_delay, contentions, mean_delay,
      no_browser, all_frames;
} source_flags_t;

/* A report command: -name or -name=regexp. */
typedef struct command {
  const char *name;
  int format;     /* enum report_format */
  bool has_param; /* takes a regexp */
  bool supported; /* implemented by cprof */
  const char *description;
} command_t;

extern const command_t commands[];
extern const size_t ncommands;

typedef struct parsed {
  config_t cfg;
  source_flags_t src;
  const command_t *cmd; /* NULL: no report flag */
  const char *cmd_arg;  /* the regexp of -list=, -peek= ... */
  char **args;          /* the positional arguments */
  int nargs;
} parsed_t;

/* pprof's default configuration. */
config_t config_default(void);

/*
 * Parses argv as pprof's command line. Returns 0, or 1 when -h/-help printed the usage (exit 0),
 * or -1 after printing Go flag's error and the usage to stderr (exit 2), or -2 with a pprof
 * error message in err (exit 2, the caller prints it).
 */
int options_parse(int argc, char **argv, parsed_t *out, char *err, size_t errlen);

/* Prints the usage text to f. */
void options_usage(void *f);

#endif /* CPROF_TOOL_OPTIONS_H */
