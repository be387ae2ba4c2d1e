/*
 * cpu.h — the CPU profile: start, drain, stop and write.
 */
#ifndef CPROF_RUNTIME_CPU_H
#define CPROF_RUNTIME_CPU_H

#include "runtime/cputimer.h"

int cpu_start(int fd);
int cpu_stop(void);
int cpu_running(void);

/* Stops the profile and writes it to fd instead of the fd given at start (-1: to none). */
int cpu_stop_into(int fd);

/* Forces a timer kind (CPROF_TIMER, for tests of the fallbacks). */
void cpu_set_timer_kind(cputimer_kind_t k);

/* In a fork child: the profile stops without being written; timers and threads are forgotten. */
void cpu_after_fork_child(void);

#endif /* CPROF_RUNTIME_CPU_H */
