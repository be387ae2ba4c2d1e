/*
 * ownsigprof.c — a program that owns SIGPROF: it installs its own handler with signal() (or
 * sigaction() with argument "sigaction") and its own 100 Hz ITIMER_PROF, burns 1 s of CPU and
 * counts the signals: about 100. libcprof, started before main by CPROF_CPU, must let go of the
 * signal when the program takes it, so that no extra signals reach the program's handler: the
 * count it prints ("ticks_ok=1" for 80..120) must be what it is without the library.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t ticks;

static void on_prof(int sig) {
  (void)sig;
  ticks++;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "sigaction") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prof;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPROF, &sa, NULL);
  } else {
    signal(SIGPROF, on_prof);
  }
  struct itimerval it = {{0, 10000}, {0, 10000}};
  setitimer(ITIMER_PROF, &it, NULL);
  volatile unsigned long x = 0;
  double start = cpu_now();
  while (cpu_now() - start < 1.0)
    x += 1;
  it = (struct itimerval){{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &it, NULL);
  struct sigaction now;
  sigaction(SIGPROF, NULL, &now);
  printf("ownsigprof ticks_ok=%d handler_kept=%d\n", ticks >= 80 && ticks <= 120,
         now.sa_handler == on_prof);
  return 0;
}
