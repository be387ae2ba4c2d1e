/*
 * driver.c — the command's flow (pprof's PProf and generateRawReport): flags, sources, the
 * per-command overrides, filters, granularity, then the report, written to stdout or -output.
 */
#include "tool/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool/filter.h"
#include "tool/options.h"
#include "tool/report.h"
#include "tool/source.h"
#include "tool/tagroot.h"

static void note(const char *msg) { fprintf(stderr, "%s\n", msg); }

static int fail(const char *msg) {
  fprintf(stderr, "%s\n", msg);
  return 2;
}

static bool is_build_id(const char *s) {
  if (!*s)
    return true;
  for (; *s; s++)
    if (!strchr("0123456789abcdefABCDEF", *s))
      return false;
  return true;
}

static bool is_object_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  unsigned char m[4];
  bool elf = read(fd, m, 4) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
  close(fd);
  return elf;
}

/* pprof's applyCommandOverrides. */
static void command_overrides(const command_t *c, config_t *cfg) {
  bool trim = cfg->trim;
  const char *n = c->name;
  if (!strcmp(n, "disasm")) {
    trim = false;
    cfg->granularity = "addresses";
    cfg->noinlines = true;
  } else if (!strcmp(n, "weblist")) {
    trim = false;
    cfg->granularity = "addresses";
    cfg->noinlines = false;
  } else if (!strcmp(n, "peek")) {
    trim = false;
  } else if (!strcmp(n, "list")) {
    trim = false;
    cfg->granularity = "lines";
  } else if (!strcmp(n, "text") || !strcmp(n, "top") || !strcmp(n, "topproto")) {
    if (cfg->nodecount == -1)
      cfg->nodecount = 0;
  } else if (cfg->nodecount == -1) {
    cfg->nodecount = 80;
  }
  if (c->format == R_PROTO || c->format == R_RAW || c->format == R_CALLGRIND) {
    trim = false;
    cfg->granularity = "addresses";
    cfg->noinlines = false;
  }
  if (!trim) {
    cfg->nodecount = 0;
    cfg->nodefraction = 0;
    cfg->edgefraction = 0;
  }
}

static regex_pat_t *compile_opt(const char *name, const char *value, bool *failed, char *err,
                         size_t errlen) {
  if (*failed || !value || !*value)
    return NULL;
  char sub[512];
  regex_pat_t *r = regex_compile(value, sub, sizeof sub);
  if (!r) {
    snprintf(err, errlen, "parsing %s regexp: %s", name, sub);
    *failed = true;
  }
  return r;
}

static void warn_no(bool ok, const char *what) {
  if (!ok)
    fprintf(stderr, "%s expression matched no samples\n", what);
}

/* pprof's applyFocus. */
static int apply_focus(tprof_t *p, const num_units_t *units, const config_t *c, char *err,
                       size_t errlen) {
  bool bad = false;
  regex_pat_t *focus = compile_opt("focus", c->focus, &bad, err, errlen);
  regex_pat_t *ignore = compile_opt("ignore", c->ignore, &bad, err, errlen);
  regex_pat_t *hide = compile_opt("hide", c->hide, &bad, err, errlen);
  regex_pat_t *show = compile_opt("show", c->show, &bad, err, errlen);
  regex_pat_t *show_from = compile_opt("show_from", c->show_from, &bad, err, errlen);
  tag_filter_t *tf = NULL, *ti = NULL;
  if (!bad)
    tf = filter_tag_compile("tagfocus", c->tagfocus, units, note, err, errlen, &bad);
  if (!bad)
    ti = filter_tag_compile("tagignore", c->tagignore, units, note, err, errlen, &bad);
  regex_pat_t *prune_from = compile_opt("prune_from", c->prune_from, &bad, err, errlen);
  int rc = -1;
  if (bad)
    goto out;
  bool fm, im, hm, hnm;
  filter_by_name(p, focus, ignore, hide, show, &fm, &im, &hm, &hnm);
  warn_no(!focus || fm, "Focus");
  warn_no(!ignore || im, "Ignore");
  warn_no(!hide || hm, "Hide");
  warn_no(!show || hnm, "Show");
  bool sfm = filter_show_from(p, show_from);
  warn_no(!show_from || sfm, "ShowFrom");
  bool tfm, tim;
  filter_by_tag(p, tf, ti, &tfm, &tim);
  warn_no(!tf || tfm, "TagFocus");
  warn_no(!ti || tim, "TagIgnore");
  regex_pat_t *tagshow = compile_opt("tagshow", c->tagshow, &bad, err, errlen);
  regex_pat_t *taghide = compile_opt("taghide", c->taghide, &bad, err, errlen);
  bool tns, tnh;
  filter_tags_by_name(p, tagshow, taghide, &tns, &tnh);
  warn_no(!tagshow || tns, "TagShow");
  warn_no(!taghide || tnh, "TagHide");
  regex_free(tagshow);
  regex_free(taghide);
  if (prune_from)
    filter_prune_from(p, prune_from);
  rc = bad ? -1 : 0;
out:
  regex_free(focus);
  regex_free(ignore);
  regex_free(hide);
  regex_free(show);
  regex_free(show_from);
  regex_free(prune_from);
  filter_tag_free(tf);
  filter_tag_free(ti);
  return rc;
}

static void aggregate(tprof_t *p, const config_t *c) {
  bool inl = !c->noinlines, fn = false, file = false, line = false, addr = false;
  const char *g = c->granularity;
  if (!strcmp(g, "addresses")) {
    if (inl)
      return;
    fn = file = line = addr = true;
  } else if (!strcmp(g, "lines")) {
    fn = file = line = true;
  } else if (!strcmp(g, "files")) {
    file = true;
  } else if (!strcmp(g, "functions")) {
    fn = true;
  } else if (!strcmp(g, "filefunctions")) {
    fn = file = true;
  }
  filter_aggregate(p, inl, fn, file, line, addr);
}

static int write_output(const char *path, const sbuf_t *b) {
  FILE *f = stdout;
  if (path && *path) {
    fprintf(stderr, "Generating report in %s\n", path);
    if (!(f = fopen(path, "w"))) {
      char eb[128];
      fprintf(stderr, "open %s: %s\n", path, go_strerror(errno, eb, sizeof eb));
      return 2;
    }
  }
  if (b->len && fwrite(b->s, 1, b->len, f) != b->len) {
    fprintf(stderr, "write: %s\n", strerror(errno));
    return 2;
  }
  if (f != stdout ? fclose(f) != 0 : fflush(f) != 0) {
    fprintf(stderr, "write: %s\n", strerror(errno));
    return 2;
  }
  return 0;
}

/* pprof's generateRawReport and generateReport. */
static int generate(tprof_t *p, const parsed_t *a) {
  char err[1024] = "";
  config_t cfg = a->cfg;
  const command_t *c = a->cmd;
  num_units_t units;
  filter_num_units(p, &units, note);
  command_overrides(c, &cfg);
  bool rootm, leafm;
  tagroot_add(p, cfg.tagroot, cfg.tagleaf, cfg.unit, &rootm, &leafm);
  warn_no(!*cfg.tagroot || rootm, "TagRoot");
  warn_no(!*cfg.tagleaf || leafm, "TagLeaf");
  bool relative = cfg.relative_percentages;
  if (relative && apply_focus(p, &units, &cfg, err, sizeof err) < 0)
    return fail(err);
  if (p->nsample_type == 0)
    return fail("profile has no samples");
  int si = tp_sample_index(p, cfg.sample_index, err, sizeof err);
  if (si < 0)
    return fail(err);
  if (cfg.divide_by == 0)
    return fail("zero divisor specified");
  report_opts_t ro = {
      .format = c->format,
      .cum_sort = !strcmp(cfg.sort, "cum"),
      .call_tree = cfg.call_tree,
      .drop_negative = cfg.drop_negative,
      .compact_labels = cfg.compact_labels,
      .ratio = 1 / cfg.divide_by,
      .units = &units,
      .nodecount = cfg.nodecount,
      .node_fraction = cfg.nodefraction,
      .edge_fraction = cfg.edgefraction,
      .sample_index = si,
      .mean_index = cfg.mean ? 0 : -1,
      .sample_type = cfg.mean ? mem_printf(p->mem, "mean_%s", p->sample_type[si].type)
                              : p->sample_type[si].type,
      .sample_unit = p->sample_type[si].unit,
      .output_unit = cfg.unit,
      .source_path = cfg.source_path,
      .trim_path = cfg.trim_path,
  };
  const char *filters[9];
  size_t nf = 0;
  const struct {
    const char *k, *v;
  } fl[] = {{"focus", cfg.focus},         {"ignore", cfg.ignore},       {"hide", cfg.hide},
            {"show", cfg.show},           {"show_from", cfg.show_from}, {"tagfocus", cfg.tagfocus},
            {"tagignore", cfg.tagignore}, {"tagshow", cfg.tagshow},     {"taghide", cfg.taghide}};
  for (size_t i = 0; i < 9; i++)
    if (*fl[i].v)
      filters[nf++] = mem_printf(p->mem, "%s=%s", fl[i].k, fl[i].v);
  ro.active_filters = filters;
  ro.nfilters = nf;
  if (p->nmapping > 0 && *p->mapping[0]->file) {
    char b[512];
    ro.title = mem_intern_z(p->mem, path_base(p->mapping[0]->file, b, sizeof b));
  }
  if (a->cmd_arg) {
    char sub[512];
    if (!(ro.symbol = regex_compile(a->cmd_arg, sub, sizeof sub))) {
      snprintf(err, sizeof err, "parsing argument regexp %s: %s", a->cmd_arg, sub);
      return fail(err);
    }
  }
  report_t *r = report_new(p, &ro);
  if (!relative && apply_focus(p, &units, &cfg, err, sizeof err) < 0)
    return fail(err);
  aggregate(p, &cfg);
  sbuf_t out = {0};
  if (report_generate(r, &out, err, sizeof err) < 0)
    return fail(err);
  const char *path = cfg.output;
  char tmp[64];
  if (!*path && (c->format == R_PROTO || c->format == R_TOPPROTO || c->format == R_CALLGRIND) &&
      isatty(1)) {
    /* pprof keeps binary output away from a terminal: a new file profileNNN.<ext> */
    const char *ext = c->format == R_CALLGRIND ? "callgraph.out" : "pb.gz";
    for (int i = 1; i < 10000; i++) {
      snprintf(tmp, sizeof tmp, "profile%03d.%s", i, ext);
      if (access(tmp, F_OK) != 0)
        break;
    }
    path = tmp;
  }
  int rc = write_output(path, &out);
  sb_free(&out);
  return rc;
}

int driver_main(int argc, char **argv) {
  parsed_t a;
  char err[1024] = "";
  int rc = options_parse(argc, argv, &a, err, sizeof err);
  if (rc == 1)
    return 0;
  if (rc == -1)
    return 2;
  if (rc < 0)
    return fail(err);
  if (a.cmd && *a.src.http)
    return fail("-http is not compatible with an output format on the command line");
  if (a.src.no_browser && !*a.src.http)
    return fail("-no_browser only makes sense with -http");
  const char *exec = NULL, *buildid = a.src.buildid;
  if (a.nargs > 1) {
    if (is_object_file(a.args[0])) {
      exec = a.args[0];
      a.args++;
      a.nargs--;
    } else if (!*buildid && is_build_id(a.args[0])) {
      buildid = a.args[0];
      a.args++;
      a.nargs--;
    }
  }
  /* the legacy sample index flags */
  const struct {
    bool set;
    const char *si, *flag;
  } legacy[] = {{a.src.total_delay, "delay", "-total_delay"},
                {a.src.mean_delay, "delay", "-mean_delay"},
                {a.src.contentions, "contentions", "-contentions"},
                {a.src.inuse_space, "inuse_space", "-inuse_space"},
                {a.src.inuse_objects, "inuse_objects", "-inuse_objects"},
                {a.src.alloc_space, "alloc_space", "-alloc_space"},
                {a.src.alloc_objects, "alloc_objects", "-alloc_objects"}};
  for (size_t i = 0; i < sizeof legacy / sizeof *legacy; i++) {
    if (!legacy[i].set)
      continue;
    if (!*a.cfg.sample_index)
      a.cfg.sample_index = legacy[i].si;
    else
      fprintf(stderr, "Multiple value selections, ignoring %s\n", legacy[i].flag);
  }
  if (a.src.mean_delay)
    a.cfg.mean = true;
  bool have_base = *a.src.base, have_diff = *a.src.diff_base;
  if (have_base && have_diff)
    return fail("-base and -diff_base flags cannot both be specified");
  if (a.cfg.normalize && !have_base && !have_diff)
    return fail("must have base profile to normalize by");
  if (a.cmd && !a.cmd->supported) {
    snprintf(err, sizeof err, "cprof: -%s is not available yet", a.cmd->name);
    return fail(err);
  }
  fetch_opts_t fo = {
      .sources = a.args,
      .nsources = a.nargs,
      .base = have_diff ? a.src.diff_base : a.src.base,
      .diff_base = have_diff,
      .normalize = a.cfg.normalize,
      .all_frames = a.src.all_frames,
      .exec_name = exec,
      .build_id = buildid,
      .comment = a.src.add_comment,
      .symbolize = a.src.symbolize,
  };
  tprof_t *p = fetch_profiles(&fo, err, sizeof err);
  if (!p)
    return fail(err);
  if (!a.cmd) {
    if (*a.src.http)
      return fail("cprof: the web UI (-http) is not available yet; use a report flag such as "
                  "-top, -tree or -list=regexp");
    return fail("cprof: the interactive shell is not available yet; use a report flag such as "
                "-top, -tree, -peek=regexp or -list=regexp (see cprof -h)");
  }
  return generate(p, &a);
}
