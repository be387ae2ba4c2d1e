/*
 * main.c — the cprof command's entry point: `cprof [flags] [binary] source...`, go tool pprof's
 * twin for profiles written by libcprof and by Go (see driver.c).
 */
#include "tool/driver.h"

int main(int argc, char **argv) { return driver_main(argc, argv); }
