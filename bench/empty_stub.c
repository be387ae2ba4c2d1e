/*
 * empty_stub.c — the floor of the start-up benchmark: a shared library with no dependencies beyond
 * libc and no constructor. Preloading it costs only what the dynamic loader spends on any extra
 * library (open, map, relocate one small object), which no preloadable profiler can go below.
 *
 * The one exported function is never called; it only gives the library a symbol of its own.
 */
int bench_empty_stub(void);

int bench_empty_stub(void) { return 0; }
