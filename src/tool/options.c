/*
 * options.c — the flag table and a parser with the rules of Go's flag package, which pprof's
 * command line goes through: flags come before the arguments, "-name", "--name", "-name=value",
 * and "-name value" for flags that are not booleans; parsing stops at the first argument that is
 * not a flag, or after "--". Errors print as Go prints them, followed by the usage.
 */
#include "tool/options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/report.h"

const command_t commands[] = {
    {"callgrind", R_CALLGRIND, false, true, "Outputs a graph in callgrind format"},
    {"comments", R_COMMENTS, false, true, "Output all profile comments"},
    {"disasm", R_DIS, true, false, "Output assembly listings annotated with samples"},
    {"dot", R_DOT, false, true, "Outputs a graph in DOT format"},
    {"eog", R_DOT, false, false, "Visualize graph through eog"},
    {"evince", R_DOT, false, false, "Visualize graph through evince"},
    {"gif", R_DOT, false, false, "Outputs a graph image in GIF format"},
    {"gv", R_DOT, false, false, "Visualize graph through gv"},
    {"kcachegrind", R_CALLGRIND, false, false, "Visualize report in KCachegrind"},
    {"list", R_LIST, true, true, "Output annotated source for functions matching regexp"},
    {"pdf", R_DOT, false, false, "Outputs a graph in PDF format"},
    {"peek", R_TREE, true, true, "Output callers/callees of functions matching regexp"},
    {"png", R_DOT, false, false, "Outputs a graph image in PNG format"},
    {"proto", R_PROTO, false, true, "Outputs the profile in compressed protobuf format"},
    {"ps", R_DOT, false, false, "Outputs a graph in PS format"},
    {"raw", R_RAW, false, true, "Outputs a text representation of the raw profile"},
    {"svg", R_DOT, false, false, "Outputs a graph in SVG format"},
    {"tags", R_TAGS, false, true, "Outputs all tags in the profile"},
    {"text", R_TEXT, false, true, "Outputs top entries in text form"},
    {"top", R_TEXT, false, true, "Outputs top entries in text form"},
    {"topproto", R_TOPPROTO, false, true, "Outputs top entries in compressed protobuf format"},
    {"traces", R_TRACES, false, true, "Outputs all profile samples in text form"},
    {"tree", R_TREE, false, true, "Outputs a text rendering of call graph"},
    {"web", R_DOT, false, false, "Visualize graph through web browser"},
    {"weblist", R_WEBLIST, true, false, "Display annotated source in a web browser"},
};
const size_t ncommands = sizeof commands / sizeof *commands;

config_t config_default(void) {
  return (config_t){
      .output = "",
      .unit = "minimum",
      .source_path = "",
      .trim_path = "",
      .sample_index = "",
      .divide_by = 1.0,
      .sort = "flat",
      .tagroot = "",
      .tagleaf = "",
      .nodecount = -1,
      .nodefraction = 0.005,
      .edgefraction = 0.001,
      .trim = true,
      .focus = "",
      .ignore = "",
      .prune_from = "",
      .hide = "",
      .show = "",
      .show_from = "",
      .tagfocus = "",
      .tagignore = "",
      .tagshow = "",
      .taghide = "",
      .granularity = "functions",
  };
}

enum kind { K_BOOL, K_INT, K_FLOAT, K_STRING, K_CHOICE, K_CMD };

typedef struct flagdef {
  const char *name;
  enum kind kind;
  size_t off;        /* offset in parsed_t */
  const char *group; /* K_CHOICE: the config field it sets */
  const char *help;
} flagdef_t;

#define C(f) offsetof(parsed_t, cfg.f)
#define S(f) offsetof(parsed_t, src.f)

static const flagdef_t flags[] = {
    /* config options */
    {"output", K_STRING, C(output), NULL, "Output filename for file-based outputs"},
    {"call_tree", K_BOOL, C(call_tree), NULL, "Create a context-sensitive call tree"},
    {"relative_percentages", K_BOOL, C(relative_percentages), NULL,
     "Show percentages relative to focused subgraph"},
    {"unit", K_STRING, C(unit), NULL, "Measurement units to display"},
    {"compact_labels", K_BOOL, C(compact_labels), NULL, "Show minimal headers"},
    {"source_path", K_STRING, C(source_path), NULL, "Search path for source files"},
    {"trim_path", K_STRING, C(trim_path), NULL, "Path to trim from source paths before search"},
    {"intel_syntax", K_BOOL, C(intel_syntax), NULL, "Show assembly in Intel syntax"},
    {"mean", K_BOOL, C(mean), NULL, "Average sample value over first value (count)"},
    {"sample_index", K_STRING, C(sample_index), NULL,
     "Sample value to report (0-based index or name)"},
    {"divide_by", K_FLOAT, C(divide_by), NULL, "Ratio to divide all samples before visualization"},
    {"normalize", K_BOOL, C(normalize), NULL, "Scales profile based on the base profile."},
    {"cum", K_CHOICE, C(sort), "sort", "Sort entries based on cumulative weight"},
    {"flat", K_CHOICE, C(sort), "sort", "Sort entries based on own weight"},
    {"tagroot", K_STRING, C(tagroot), NULL,
     "Adds pseudo stack frames for labels key/value pairs at the callstack root."},
    {"tagleaf", K_STRING, C(tagleaf), NULL,
     "Adds pseudo stack frames for labels key/value pairs at the callstack leaf."},
    {"drop_negative", K_BOOL, C(drop_negative), NULL, "Ignore negative differences"},
    {"nodecount", K_INT, C(nodecount), NULL, "Max number of nodes to show"},
    {"nodefraction", K_FLOAT, C(nodefraction), NULL, "Hide nodes below <f>*total"},
    {"edgefraction", K_FLOAT, C(edgefraction), NULL, "Hide edges below <f>*total"},
    {"trim", K_BOOL, C(trim), NULL, "Honor nodefraction/edgefraction/nodecount defaults"},
    {"focus", K_STRING, C(focus), NULL,
     "Restricts to samples going through a node matching regexp"},
    {"ignore", K_STRING, C(ignore), NULL, "Skips paths going through any nodes matching regexp"},
    {"prune_from", K_STRING, C(prune_from), NULL, "Drops any functions below the matched frame."},
    {"hide", K_STRING, C(hide), NULL, "Skips nodes matching regexp"},
    {"show", K_STRING, C(show), NULL, "Only show nodes matching regexp"},
    {"show_from", K_STRING, C(show_from), NULL, "Drops functions above the highest matched frame."},
    {"tagfocus", K_STRING, C(tagfocus), NULL,
     "Restricts to samples with tags in range or matched by regexp"},
    {"tagignore", K_STRING, C(tagignore), NULL,
     "Discard samples with tags in range or matched by regexp"},
    {"tagshow", K_STRING, C(tagshow), NULL, "Only consider tags matching this regexp"},
    {"taghide", K_STRING, C(taghide), NULL, "Skip tags matching this regexp"},
    {"noinlines", K_BOOL, C(noinlines), NULL, "Ignore inlines."},
    {"functions", K_CHOICE, C(granularity), "granularity", "Aggregate at the function level."},
    {"filefunctions", K_CHOICE, C(granularity), "granularity", "Aggregate at the function level."},
    {"files", K_CHOICE, C(granularity), "granularity", "Aggregate at the file level."},
    {"lines", K_CHOICE, C(granularity), "granularity", "Aggregate at the source code line level."},
    {"addresses", K_CHOICE, C(granularity), "granularity", "Aggregate at the address level."},
    /* source options */
    {"diff_base", K_STRING, S(diff_base), NULL, "Source of base profile for comparison"},
    {"base", K_STRING, S(base), NULL, "Source of base profile for profile subtraction"},
    {"symbolize", K_STRING, S(symbolize), NULL, "Options for profile symbolization"},
    {"buildid", K_STRING, S(buildid), NULL, "Override build id for first mapping"},
    {"timeout", K_INT, S(timeout), NULL, "Timeout in seconds for fetching a profile"},
    {"add_comment", K_STRING, S(add_comment), NULL, "Annotation string to record in the profile"},
    {"seconds", K_INT, S(seconds), NULL, "Length of time for dynamic profiles"},
    {"inuse_space", K_BOOL, S(inuse_space), NULL, "Display in-use memory size"},
    {"inuse_objects", K_BOOL, S(inuse_objects), NULL, "Display in-use object counts"},
    {"alloc_space", K_BOOL, S(alloc_space), NULL, "Display allocated memory size"},
    {"alloc_objects", K_BOOL, S(alloc_objects), NULL, "Display allocated object counts"},
    {"total_delay", K_BOOL, S(total_delay), NULL, "Display total delay at each region"},
    {"contentions", K_BOOL, S(contentions), NULL, "Display number of delays at each region"},
    {"mean_delay", K_BOOL, S(mean_delay), NULL, "Display mean delay at each region"},
    {"tools", K_STRING, S(tools), NULL, "Path for object tool pathnames"},
    {"http", K_STRING, S(http), NULL, "Present interactive web UI at the specified http host:port"},
    {"no_browser", K_BOOL, S(no_browser), NULL,
     "Skip opening a browser for the interactive web UI"},
    {"all_frames", K_BOOL, S(all_frames), NULL, "Ignore drop_frames and keep_frames regexps"},
};
#define NFLAGS (sizeof flags / sizeof *flags)

void options_usage(void *fp) {
  FILE *f = fp;
  fputs("usage:\n\n"
        "Produce output in the specified format.\n\n"
        "   cprof <format> [options] [binary] <source> ...\n\n"
        "Omit the format to get an interactive shell (not available yet in cprof).\n\n"
        "Details:\n"
        "  Output formats (select at most one):\n",
        f);
  for (size_t i = 0; i < ncommands; i++)
    fprintf(f, "    -%-15s %s%s\n", commands[i].name, commands[i].description,
            commands[i].supported ? "" : " (not available yet)");
  fputs("\n  Options:\n", f);
  for (size_t i = 0; i < NFLAGS; i++)
    if (flags[i].off < offsetof(parsed_t, src) && flags[i].kind != K_CHOICE)
      fprintf(f, "    -%-15s %s\n", flags[i].name, flags[i].help);
  fputs("\n  Option groups (only set one per group):\n", f);
  const char *group = "";
  for (size_t i = 0; i < NFLAGS; i++)
    if (flags[i].kind == K_CHOICE) {
      if (strcmp(group, flags[i].group) != 0)
        fprintf(f, "    %s\n", group = flags[i].group);
      fprintf(f, "      -%-13s %s\n", flags[i].name, flags[i].help);
    }
  fputs("\n  Source options:\n"
        "    -seconds              Duration for time-based profile collection\n"
        "    -timeout              Timeout in seconds for profile collection\n"
        "    -buildid              Override build id for main binary\n"
        "    -add_comment          Free-form annotation to add to the profile\n"
        "                          Displayed on some reports or with pprof -comments\n"
        "    -diff_base source     Source of base profile for comparison\n"
        "    -base source          Source of base profile for profile subtraction\n"
        "    -all_frames           Ignore drop_frames and keep_frames regexps in the profile\n"
        "    profile.pb.gz         Profile in compressed protobuf format\n"
        "    legacy_profile        Profile in legacy pprof format\n"
        "    -symbolize=           Controls source of symbol information\n"
        "      none                  Do not attempt symbolization (profiles written by\n"
        "                            libcprof and Go are already symbolized)\n"
        "    Binary                  Local path or build id of binary for symbolization\n"
        "\n  Legacy convenience options:\n"
        "   -inuse_space           Same as -sample_index=inuse_space\n"
        "   -inuse_objects         Same as -sample_index=inuse_objects\n"
        "   -alloc_space           Same as -sample_index=alloc_space\n"
        "   -alloc_objects         Same as -sample_index=alloc_objects\n"
        "   -total_delay           Same as -sample_index=delay\n"
        "   -contentions           Same as -sample_index=contentions\n"
        "   -mean_delay            Same as -mean -sample_index=delay\n"
        "\n  Not available yet: the interactive shell, the web UI (-http), URLs as sources,\n"
        "  symbolization from binaries, disasm and weblist, and graphics formats that need\n"
        "  Graphviz (svg, png, pdf, ...; -dot writes the graph's source).\n",
        f);
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *v) {
  static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (int i = 0; i < 6; i++) {
    if (!strcmp(s, t[i]))
      return *v = true, 0;
    if (!strcmp(s, f[i]))
      return *v = false, 0;
  }
  return -1;
}

/* Go's strconv.ParseInt(s, 0, 64) for an int flag; the error text Go's flag prints. */
static const char *parse_int(const char *s, int *v) {
  const char *p = s;
  bool neg = false;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    base = 16, p += 2;
  else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
    base = 2, p += 2;
  else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
    base = 8, p += 2;
  else if (p[0] == '0' && p[1])
    base = 8, p += 1;
  if (!*p)
    return "parse error";
  unsigned long long acc = 0;
  bool range = false;
  for (; *p; p++) {
    if (*p == '_')
      continue;
    int d = *p >= '0' && *p <= '9'   ? *p - '0'
            : *p >= 'a' && *p <= 'z' ? *p - 'a' + 10
            : *p >= 'A' && *p <= 'Z' ? *p - 'A' + 10
                                     : 99;
    if (d >= base)
      return "parse error";
    if (acc > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
      range = true;
    else
      acc = acc * (unsigned)base + (unsigned)d;
  }
  if (range || acc > (unsigned long long)INT64_MAX + neg)
    return "value out of range";
  long long x = neg ? -(long long)acc : (long long)acc;
  if (x > INT32_MAX || x < INT32_MIN) /* cprof keeps ints in C ints */
    return "value out of range";
  *v = (int)x;
  return NULL;
}

static const char *parse_float(const char *s, double *v) {
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (!*s || *end || isspace((unsigned char)*s))
    return "parse error";
  if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
    return "value out of range";
  *v = d;
  return NULL;
}

static int flag_fail(const char *fmt, const char *a, const char *b, const char *c) {
  fprintf(stderr, fmt, a, b, c);
  fputc('\n', stderr);
  options_usage(stderr);
  return -1;
}

static int set_flag(parsed_t *o, const flagdef_t *f, const char *name, const char *val,
                    bool *choice_set) {
  char *base = (char *)o;
  const char *e;
  switch (f->kind) {
  case K_INT:
    if ((e = parse_int(val, (int *)(base + f->off))))
      return flag_fail("invalid value \"%s\" for flag -%s: %s", val, name, e);
    return 0;
  case K_FLOAT:
    if ((e = parse_float(val, (double *)(base + f->off))))
      return flag_fail("invalid value \"%s\" for flag -%s: %s", val, name, e);
    return 0;
  case K_STRING:
    *(const char **)(base + f->off) = val;
    return 0;
  default: {
    bool b;
    if (parse_bool(val, &b) < 0)
      return flag_fail("invalid boolean value \"%s\" for -%s: %s", val, name, "parse error");
    if (f->kind == K_BOOL)
      *(bool *)(base + f->off) = b;
    else
      *choice_set = b;
    return 0;
  }
  }
}

int options_parse(int argc, char **argv, parsed_t *o, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  o->cfg = config_default();
  o->src.timeout = o->src.seconds = -1;
  o->src.diff_base = o->src.base = o->src.symbolize = o->src.buildid = o->src.add_comment = "";
  o->src.tools = getenv("PPROF_TOOLS") ? getenv("PPROF_TOOLS") : "";
  o->src.http = "";
  bool choice[NFLAGS] = {0};
  bool cmdset[64] = {0};
  const char *cmdarg[64] = {0};
  int i = 1;
  for (; i < argc; i++) {
    const char *s = argv[i];
    if (strlen(s) < 2 || s[0] != '-')
      break;
    int minus = 1;
    if (s[1] == '-') {
      minus = 2;
      if (s[2] == '\0') {
        i++;
        break;
      }
    }
    const char *name = s + minus;
    if (!*name || *name == '-' || *name == '=')
      return flag_fail("bad flag syntax: %s", s, "", "");
    char nbuf[256];
    const char *eq = strchr(name, '=');
    const char *val = NULL;
    if (eq) {
      snprintf(nbuf, sizeof nbuf, "%.*s", (int)(eq - name), name);
      name = nbuf;
      val = eq + 1;
    }
    const flagdef_t *f = NULL;
    size_t fi = 0;
    for (size_t k = 0; k < NFLAGS && !f; k++)
      if (!strcmp(flags[k].name, name))
        f = &flags[k], fi = k;
    if (!f) {
      size_t c;
      for (c = 0; c < ncommands; c++)
        if (!strcmp(commands[c].name, name))
          break;
      if (c == ncommands) {
        if (!strcmp(name, "h") || !strcmp(name, "help")) {
          options_usage(stderr);
          return 1;
        }
        return flag_fail("flag provided but not defined: -%s", name, "", "");
      }
      if (commands[c].has_param) {
        if (!val) {
          if (i + 1 >= argc)
            return flag_fail("flag needs an argument: -%s", name, "", "");
          val = argv[++i];
        }
        cmdarg[c] = val;
      } else {
        bool b = true;
        if (val && parse_bool(val, &b) < 0)
          return flag_fail("invalid boolean value \"%s\" for -%s: %s", val, name, "parse error");
        cmdset[c] = b;
      }
      continue;
    }
    if (f->kind == K_BOOL || f->kind == K_CHOICE) {
      if (set_flag(o, f, name, val ? val : "true", &choice[fi]) < 0)
        return -1;
      continue;
    }
    if (!val) {
      if (i + 1 >= argc)
        return flag_fail("flag needs an argument: -%s", name, "", "");
      val = argv[++i];
    }
    if (set_flag(o, f, name, val, NULL) < 0)
      return -1;
  }
  o->args = argv + i;
  o->nargs = argc - i;
  if (o->nargs == 0) {
    options_usage(stderr);
    snprintf(err, errlen, "no profile source specified");
    return -2;
  }
  /* choice groups */
  for (size_t k = 0; k < NFLAGS; k++) {
    if (flags[k].kind != K_CHOICE || !choice[k])
      continue;
    for (size_t j = k + 1; j < NFLAGS; j++)
      if (flags[j].kind == K_CHOICE && choice[j] && !strcmp(flags[j].group, flags[k].group)) {
        snprintf(err, errlen, "conflicting options set: [%s %s]", flags[k].name, flags[j].name);
        return -2;
      }
    *(const char **)((char *)o + flags[k].off) = flags[k].name;
  }
  for (size_t c = 0; c < ncommands; c++) {
    if (!cmdset[c] && !(cmdarg[c] && *cmdarg[c]))
      continue;
    if (o->cmd) {
      snprintf(err, errlen, "must set at most one output format");
      return -2;
    }
    o->cmd = &commands[c];
    o->cmd_arg = cmdarg[c];
  }
  return 0;
}
