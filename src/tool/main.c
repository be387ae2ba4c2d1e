/*
 * main.c — the cprof command's entry point.
 *
 * cprof will be `go tool pprof` for profiles written by libcprof (and by Go): reports, graphs, an
 * interactive shell and a web UI. This first slice only recognises its arguments and says so; the
 * reports arrive with the tool issue. Until then, read profiles with `go tool pprof`.
 */
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: cprof [flags] [binary] source...\n"
    "\n"
    "cprof reads CPU, heap and other profiles in Go's profile.proto format, as written by\n"
    "libcprof (CPROF_CPU=file, /debug/pprof/profile) and by Go programs.\n"
    "\n"
    "The reports (-top, -list, -peek, -traces, ...) are not implemented yet. For now, read\n"
    "profiles with:  go tool pprof -top <profile>\n";

int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 ||
                   strcmp(argv[1], "--help") == 0)) {
    fputs(usage, stdout);
    return 2;
  }
  fputs(usage, stderr);
  return 2;
}
