/*
 * heavy_stub.c — the comparison point of the start-up benchmark: a shared library that does nothing
 * but is linked against what a one-piece profiler would need (libdw, libelf, libmicrohttpd, zlib,
 * libunwind).
 *
 * bench/CMakeLists.txt links it with --no-as-needed, so each of those libraries (and theirs:
 * liblzma, libbz2, libzstd, libgnutls, ...) is a DT_NEEDED entry that the dynamic loader must find,
 * map and relocate in every process it is preloaded into. libcprof.so avoids that cost by keeping
 * its core libc-only and dlopening libcprof-ext.so on first use; the difference between preloading
 * this stub and preloading libcprof.so is what that split saves a process that profiles nothing.
 *
 * The one exported function is never called; it only gives the library a symbol of its own.
 */
int bench_heavy_stub(void);

int bench_heavy_stub(void) { return 0; }
