/*
 * report.h — how the runtime tells the user something went wrong.
 *
 * The runtime never aborts its host; what it cannot do it says once on stderr, prefixed "cprof: ",
 * and keeps the last message for cprof_last_error(). Not async-signal-safe.
 */
#ifndef CPROF_RUNTIME_REPORT_H
#define CPROF_RUNTIME_REPORT_H

void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* CPROF_RUNTIME_REPORT_H */
