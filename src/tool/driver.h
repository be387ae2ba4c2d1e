/*
 * driver.h — the cprof command: parse the flags, fetch the profiles, prepare the profile as the
 * options say, and generate the one report asked for (pprof's internal/driver).
 */
#ifndef CPROF_TOOL_DRIVER_H
#define CPROF_TOOL_DRIVER_H

/* Runs the command; the process exit code. */
int driver_main(int argc, char **argv);

#endif /* CPROF_TOOL_DRIVER_H */
