/*
 * http_test.c — the /debug/pprof server (http.c, http_pprof.c) against a stub core.
 *
 * The server is the subject here, not the CPU profiler: the test installs its own core_api_t whose
 * cpu_start/cpu_stop write known bytes to the descriptor they are given (and refuse a second
 * concurrent start with -EBUSY, as the real one does), then talks to the server over plain sockets
 * with a small HTTP/1.1 client of its own (one request per connection, read to EOF). It checks Go's
 * exact answers (index layout, cmdline, profile headers, serveError bodies), the limits (405, 404,
 * 401, 400), hostile input (an oversized URL, garbage, a request line without a version, bad
 * percent-escapes) after which the server must still answer, and the start/stop contract.
 *
 * The stub's heap profile numbers its snapshots (1, 2, 3, ...) and its heap_write writes what it
 * was asked for ("snap=3 base=2 debug=0 allocs=1"), so the answers to /heap and /allocs show which
 * snapshot was written minus which, in which form; a count of live snapshots shows that every one
 * is freed, also when the client of a delta goes away. The count profiles (goroutine and its
 * alias threads, threadcreate, a user-defined "myapp/conns") are stubbed the same way, and so are
 * block and mutex, with the profile's number ("which=1 snap=4 base=3 debug=0").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime/ext.h"
#include "runtime/http.h"
#include "test.h"

/* ------------------------------------------------------------ the stub core --------------- */

static const char stub_bytes[] = "\x1f\x8b\x08stub-profile\0\x01\x02\xff-end";
#define STUB_LEN (sizeof stub_bytes - 1)
static atomic_int stub_running, stub_stops;
static int stub_fd = -1;
static int stub_start_err;
static char stub_report_msg[1024];

static int stub_cpu_start(int fd) {
  int idle = 0;
  if (stub_start_err != 0)
    return stub_start_err;
  if (!atomic_compare_exchange_strong(&stub_running, &idle, 1))
    return -EBUSY;
  stub_fd = fd;
  return 0;
}

static int stub_cpu_stop(void) {
  if (!atomic_load(&stub_running))
    return -ENOENT;
  if (write(stub_fd, stub_bytes, STUB_LEN) != (ssize_t)STUB_LEN)
    return -EIO;
  stub_fd = -1;
  atomic_fetch_add(&stub_stops, 1);
  atomic_store(&stub_running, 0);
  return 0;
}

static void stub_report(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(stub_report_msg, sizeof stub_report_msg, fmt, ap);
  va_end(ap);
}

static const char stub_args[] = "prog\0-x\0arg two\0";
static const char *stub_cmdline(size_t *len) {
  *len = sizeof stub_args - 1; /* ends with a NUL, as /proc/self/cmdline does */
  return stub_args;
}

/* Snapshots are numbered; stub_heap_fail makes the next ones fail, stub_write_err the writes. */
static atomic_int stub_snaps, stub_snaps_live;
static bool stub_heap_fail;
static int stub_write_err;

static void *stub_heap_snapshot(void) {
  int *snap = stub_heap_fail ? NULL : malloc(sizeof *snap);
  if (snap == NULL)
    return NULL;
  *snap = atomic_fetch_add(&stub_snaps, 1) + 1;
  atomic_fetch_add(&stub_snaps_live, 1);
  return snap;
}

static void stub_heap_snapshot_free(void *snap) {
  free(snap);
  atomic_fetch_sub(&stub_snaps_live, 1);
}

static int stub_heap_write(int fd, const void *snap, const void *base, int debug, bool allocs) {
  char text[128];
  int n = snprintf(text, sizeof text, "snap=%d base=%d debug=%d allocs=%d", *(const int *)snap,
                   base != NULL ? *(const int *)base : 0, debug, allocs);
  if (stub_write_err != 0)
    return stub_write_err;
  return write(fd, text, (size_t)n) == n ? 0 : -EIO;
}

static long stub_heap_count(void) { return 7; }

/* The count profiles: goroutine (9 threads), threadcreate (4) and one user-defined profile,
 * "myapp/conns" (3). A snapshot is a number and the name it was taken by; count_write writes
 * "name=goroutine snap=3 base=2 debug=1". */
typedef struct stub_count {
  int n;
  char name[32];
} stub_count_t;
static atomic_int stub_counts, stub_counts_live;

static bool stub_count_known(const char *name) {
  return strcmp(name, "goroutine") == 0 || strcmp(name, "threads") == 0 ||
         strcmp(name, "threadcreate") == 0 || strcmp(name, "myapp/conns") == 0;
}

static void *stub_count_snapshot(const char *name) {
  stub_count_t *s = stub_count_known(name) ? malloc(sizeof *s) : NULL;
  if (s == NULL)
    return NULL;
  s->n = atomic_fetch_add(&stub_counts, 1) + 1;
  snprintf(s->name, sizeof s->name, "%s", name);
  atomic_fetch_add(&stub_counts_live, 1);
  return s;
}

static void stub_count_snapshot_free(void *snap) {
  free(snap);
  atomic_fetch_sub(&stub_counts_live, 1);
}

static int stub_count_write(int fd, const void *snap, const void *base, int debug) {
  const stub_count_t *s = snap, *b = base;
  char text[128];
  int n = snprintf(text, sizeof text, "name=%s snap=%d base=%d debug=%d", s->name, s->n,
                   b != NULL ? b->n : 0, debug);
  return write(fd, text, (size_t)n) == n ? 0 : -EIO;
}

static long stub_count_of(const char *name) {
  if (strcmp(name, "goroutine") == 0 || strcmp(name, "threads") == 0)
    return 9;
  if (strcmp(name, "threadcreate") == 0)
    return 4;
  return strcmp(name, "myapp/conns") == 0 ? 3 : -ENOENT;
}

static size_t stub_count_custom(const char **names, size_t max) {
  if (max > 0)
    names[0] = "myapp/conns";
  return 1;
}

/* The contention profiles' stubs: snapshots numbered as the heap's, tagged with the profile. */
typedef struct stub_sync_snap {
  int n, which;
} stub_sync_snap_t;

static void *stub_sync_snapshot(int which) {
  stub_sync_snap_t *snap = stub_heap_fail ? NULL : malloc(sizeof *snap);
  if (snap == NULL)
    return NULL;
  snap->n = atomic_fetch_add(&stub_snaps, 1) + 1;
  snap->which = which;
  atomic_fetch_add(&stub_snaps_live, 1);
  return snap;
}

static int stub_sync_write(int fd, const void *snapv, const void *basev, int debug) {
  const stub_sync_snap_t *snap = snapv, *base = basev;
  char text[128];
  int n = snprintf(text, sizeof text, "which=%d snap=%d base=%d debug=%d", snap->which, snap->n,
                   base != NULL ? base->n : 0, debug);
  if (stub_write_err != 0)
    return stub_write_err;
  return write(fd, text, (size_t)n) == n ? 0 : -EIO;
}

static long stub_sync_count(int which) { return which == 0 ? 3 : 5; }

static const core_api_t stub_core = {
    .size = sizeof(core_api_t),
    .cpu_start = stub_cpu_start,
    .cpu_stop = stub_cpu_stop,
    .report = stub_report,
    .cmdline = stub_cmdline,
    .heap_snapshot = stub_heap_snapshot,
    .heap_snapshot_free = stub_heap_snapshot_free,
    .heap_write = stub_heap_write,
    .heap_count = stub_heap_count,
    .count_snapshot = stub_count_snapshot,
    .count_snapshot_free = stub_count_snapshot_free,
    .count_write = stub_count_write,
    .count_of = stub_count_of,
    .count_custom = stub_count_custom,
    .sync_snapshot = stub_sync_snapshot,
    .sync_snapshot_free = stub_heap_snapshot_free,
    .sync_write = stub_sync_write,
    .sync_count = stub_sync_count,
};

/* ------------------------------------------------------------ a tiny HTTP client ---------- */

typedef struct resp {
  int status; /* 0: the connection closed without a status line */
  char *raw;
  size_t len;
  const char *body;
  size_t body_len;
} resp_t;

static void resp_free(resp_t *r) {
  free(r->raw);
  memset(r, 0, sizeof *r);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tcp_connect(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval tv = {.tv_sec = 20};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends raw bytes on a fresh connection and reads the answer to EOF. */
static void exchange(int port, const void *req, size_t reqlen, resp_t *r) {
  size_t cap = 4096, off = 0;
  int fd = tcp_connect(port);
  memset(r, 0, sizeof *r);
  r->raw = calloc(1, cap + 1);
  if (fd < 0)
    return;
  while (off < reqlen) {
    ssize_t n = send(fd, (const char *)req + off, reqlen - off, MSG_NOSIGNAL);
    if (n <= 0)
      break; /* the server may hang up on a hostile request before reading it all */
    off += (size_t)n;
  }
  for (;;) {
    ssize_t n;
    if (r->len == cap) {
      cap *= 2;
      r->raw = realloc(r->raw, cap + 1);
    }
    n = recv(fd, r->raw + r->len, cap - r->len, 0);
    if (n <= 0)
      break;
    r->len += (size_t)n;
  }
  close(fd);
  r->raw[r->len] = '\0';
  if (r->len > 12 && strncmp(r->raw, "HTTP/1.", 7) == 0)
    r->status = atoi(r->raw + 9);
  const char *end = strstr(r->raw, "\r\n\r\n");
  if (end != NULL) {
    r->body = end + 4;
    r->body_len = r->len - (size_t)(r->body - r->raw);
  }
}

static void request(int port, const char *method, const char *target, const char *extra,
                    resp_t *r) {
  char *req = NULL;
  int n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
                   target, extra != NULL ? extra : "");
  exchange(port, req, (size_t)n, r);
  free(req);
}

static void get(int port, const char *target, resp_t *r) { request(port, "GET", target, NULL, r); }

/* A header's value (case-insensitive name), or "" when absent. */
static const char *header(const resp_t *r, const char *name) {
  static char value[512];
  size_t nlen = strlen(name);
  const char *p = r->raw, *end = r->body != NULL ? r->body : r->raw + r->len;
  value[0] = '\0';
  while ((p = strstr(p, "\r\n")) != NULL && p < end) {
    p += 2;
    if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      const char *v = p + nlen + 1 + strspn(p + nlen + 1, " ");
      size_t vlen = strcspn(v, "\r\n");
      if (vlen >= sizeof value)
        vlen = sizeof value - 1;
      memcpy(value, v, vlen);
      value[vlen] = '\0';
      break;
    }
  }
  return value;
}

static bool body_is(const resp_t *r, const char *s, size_t len) {
  return r->body != NULL && r->body_len == len && memcmp(r->body, s, len) == 0;
}

static bool serves_index(int port) {
  resp_t r;
  get(port, "/debug/pprof/", &r);
  bool ok = r.status == 200 && r.body_len > 100;
  resp_free(&r);
  return ok;
}

/* ------------------------------------------------------------ pure functions -------------- */

static void test_parsers(void) {
  int64_t v = 0;
  int sec = -1;
  CHECK(http_int_parse("42", &v) == 0 && v == 42);
  CHECK(http_int_parse("+7", &v) == 0 && v == 7);
  CHECK(http_int_parse("-3", &v) == 0 && v == -3);
  CHECK(http_int_parse("9223372036854775807", &v) == 0 && v == INT64_MAX);
  CHECK(http_int_parse("9223372036854775808", &v) == -ERANGE && v == INT64_MAX);
  CHECK(http_int_parse("-9223372036854775808", &v) == 0 && v == INT64_MIN);
  CHECK(http_int_parse("-99999999999999999999999", &v) == -ERANGE && v == INT64_MIN);
  CHECK(http_int_parse("", &v) == -EINVAL);
  CHECK(http_int_parse("-", &v) == -EINVAL);
  CHECK(http_int_parse(" 5", &v) == -EINVAL);
  CHECK(http_int_parse("5 ", &v) == -EINVAL);
  CHECK(http_int_parse("1e3", &v) == -EINVAL);
  CHECK(http_int_parse("0x10", &v) == -EINVAL);
  CHECK(http_int_parse(NULL, &v) == -EINVAL);

  /* /profile: Go's default of 30 for absent, bad or non-positive values; our cap above 3600. */
  CHECK(http_seconds_default(NULL, 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("", 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("abc", 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("%zz", 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("0", 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("-5", 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("-99999999999999999999", 30, &sec) == NULL && sec == 30);
  CHECK(http_seconds_default("7", 30, &sec) == NULL && sec == 7);
  CHECK(http_seconds_default("3600", 30, &sec) == NULL && sec == 3600);
  const char *m = http_seconds_default("3601", 30, &sec);
  CHECK(m != NULL && strstr(m, "3600") != NULL);
  CHECK(http_seconds_default("99999999999999999999", 30, &sec) != NULL);

  /* Delta profiles: absent is no delta; anything but a positive integer is Go's 400. */
  static const char bad[] = "invalid value for \"seconds\" - must be a positive integer";
  CHECK(http_seconds_delta(NULL, &sec) == NULL && sec == 0);
  CHECK(http_seconds_delta("", &sec) == NULL && sec == 0);
  CHECK(http_seconds_delta("5", &sec) == NULL && sec == 5);
  m = http_seconds_delta("abc", &sec);
  CHECK(m != NULL && strcmp(m, bad) == 0);
  m = http_seconds_delta("0", &sec);
  CHECK(m != NULL && strcmp(m, bad) == 0);
  m = http_seconds_delta("-1", &sec);
  CHECK(m != NULL && strcmp(m, bad) == 0);
  m = http_seconds_delta("4000", &sec);
  CHECK(m != NULL && strcmp(m, bad) != 0);
}

/* ------------------------------------------------------------ start and stop -------------- */

static void test_addresses(void) {
  CHECK(http_port() == -ENOENT);
  CHECK(http_stop() == -ENOENT);
  CHECK(http_start(NULL, NULL) == -EINVAL);
  CHECK(http_start("nonsense", NULL) == -EINVAL);
  CHECK(strstr(stub_report_msg, "cannot serve /debug/pprof on nonsense") != NULL);
  CHECK(http_start("127.0.0.1:99999", NULL) == -EINVAL);
  CHECK(http_start("127.0.0.1:", NULL) == -EINVAL);
  CHECK(http_start("127.0.0.1:8x", NULL) == -EINVAL);
  CHECK(http_start("::1:80", NULL) == -EINVAL);
  CHECK(http_start("[::1]", NULL) == -EINVAL);
  CHECK(http_start("[nothex]:80", NULL) == -EINVAL);
  CHECK(http_port() == -ENOENT);

  CHECK(http_start("0.0.0.0:0", NULL) == -EACCES);
  CHECK(strstr(stub_report_msg, "needs a token") != NULL);
  CHECK(http_start("[::]:0", "") == -EACCES); /* an empty token is no token */
  CHECK(http_start("192.0.2.1:0", NULL) == -EACCES);
  CHECK(http_port() == -ENOENT);

  CHECK(http_start("localhost:0", NULL) == 0);
  CHECK(http_port() > 0);
  CHECK(http_stop() == 0);
  CHECK(http_start("127.0.0.2:0", NULL) == 0); /* all of 127/8 is loopback */
  CHECK(http_stop() == 0);
  int rc = http_start("[::1]:0", NULL);
  CHECK(rc == 0 || rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT); /* hosts without IPv6 */
  if (rc == 0) {
    CHECK(http_port() > 0);
    CHECK(http_stop() == 0);
  }
  CHECK(http_start("0.0.0.0:0", "tok") == 0); /* non-loopback is fine with a token */
  CHECK(http_stop() == 0);
  CHECK(http_port() == -ENOENT);
}

static void test_port_in_use(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t len = sizeof sa;
  char addr[64];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 1) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
  snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
  stub_report_msg[0] = '\0';
  CHECK(http_start(addr, NULL) == -EADDRINUSE);
  CHECK(strstr(stub_report_msg, "cannot serve /debug/pprof on 127.0.0.1:") != NULL);
  CHECK(strstr(stub_report_msg, strerror(EADDRINUSE)) != NULL);
  CHECK(http_port() == -ENOENT);
  close(fd);
}

/* ------------------------------------------------------------ endpoints ------------------- */

static const char index_head[] =
    "<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n.profile-name{\n\tdisplay:inline-block;"
    "\n\twidth:6rem;\n}\n</style>\n</head>\n<body>\n/debug/pprof/\n<br>\n<p>Set debug=1 as a query "
    "parameter to export in legacy text format</p>\n<br>\nTypes of profiles available:\n<table>\n"
    "<thead><td>Count</td><td>Profile</td></thead>\n";
static const char index_middle[] = "</table>\n<a href=\"goroutine?debug=2\">full goroutine stack "
                                   "dump</a>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n";
static const char index_tail[] = "</ul>\n</p>\n</body>\n</html>";

static void test_index(int port) {
  resp_t r;
  get(port, "/debug/pprof/", &r);
  CHECK(r.status == 200);
  CHECK(strcmp(header(&r, "Content-Type"), "text/html; charset=utf-8") == 0);
  CHECK(strcmp(header(&r, "X-Content-Type-Options"), "nosniff") == 0);
  const char *b = r.body != NULL ? r.body : "";
  CHECK(strncmp(b, index_head, strlen(index_head)) == 0);
  CHECK(r.body_len >= strlen(index_tail) &&
        strcmp(b + r.body_len - strlen(index_tail), index_tail) == 0);
  CHECK(strstr(b, index_middle) != NULL);
  CHECK(strstr(b, "<tr><td>0</td><td><a href='cmdline?debug=1'>cmdline</a></td></tr>\n") != NULL);
  CHECK(strstr(b, "<tr><td>0</td><td><a href='profile?debug=1'>profile</a></td></tr>\n") != NULL);
  CHECK(strstr(b, "<tr><td>7</td><td><a href='heap?debug=1'>heap</a></td></tr>\n") != NULL);
  CHECK(strstr(b, "<tr><td>7</td><td><a href='allocs?debug=1'>allocs</a></td></tr>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>heap: </div> A sampling of memory allocations of "
                  "live objects. You can specify the gc GET parameter to run GC before taking the "
                  "heap sample.</li>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>allocs: </div> A sampling of all past memory "
                  "allocations</li>\n") != NULL);
  CHECK(strstr(b, "<tr><td>9</td><td><a href='goroutine?debug=1'>goroutine</a></td></tr>\n") !=
        NULL);
  CHECK(
      strstr(b, "<tr><td>4</td><td><a href='threadcreate?debug=1'>threadcreate</a></td></tr>\n") !=
      NULL);
  CHECK(strstr(b, "<tr><td>3</td><td><a href='myapp/conns?debug=1'>myapp/conns</a></td></tr>\n") !=
        NULL);
  CHECK(strstr(b, "threads?debug=1") == NULL); /* the alias is not listed twice */
  CHECK(strstr(b, "<li><div class=profile-name>goroutine: </div> Stack traces of all current "
                  "goroutines. Use debug=2 as a query parameter to export in the same format as "
                  "an unrecovered panic.</li>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>threadcreate: </div> Stack traces that led to the "
                  "creation of new OS threads</li>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>myapp/conns: </div> </li>\n") != NULL);
  CHECK(strstr(b, "<tr><td>3</td><td><a href='block?debug=1'>block</a></td></tr>\n") != NULL);
  CHECK(strstr(b, "<tr><td>5</td><td><a href='mutex?debug=1'>mutex</a></td></tr>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>block: </div> Stack traces that led to blocking on "
                  "synchronization primitives</li>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>mutex: </div> Stack traces of holders of contended "
                  "mutexes</li>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>cmdline: </div> The command line invocation of the "
                  "current program</li>\n") != NULL);
  CHECK(strstr(b, "<li><div class=profile-name>profile: </div> CPU profile. You can specify the "
                  "duration in the seconds GET parameter. After you get the profile file, use the "
                  "go tool pprof command to investigate the profile.</li>\n") != NULL);
  /* Rows sorted by name, and as many descriptions as rows. */
  char prev[64] = "";
  int rows = 0, sorted = 1;
  for (const char *p = b; (p = strstr(p, "<tr><td>")) != NULL; p++) {
    const char *name = strstr(p, "'>");
    size_t n = name != NULL ? strcspn(name + 2, "<") : 0;
    char cur[64] = "";
    if (name == NULL || n >= sizeof cur)
      break;
    memcpy(cur, name + 2, n);
    sorted &= strcmp(prev, cur) < 0;
    memcpy(prev, cur, sizeof cur);
    rows++;
  }
  int descs = 0;
  for (const char *p = b; (p = strstr(p, "<li><div class=profile-name>")) != NULL; p++)
    descs++;
  CHECK(rows >= 4 && sorted && descs == rows);
  resp_free(&r);

  request(port, "HEAD", "/debug/pprof/", NULL, &r);
  CHECK(r.status == 200 && r.body_len == 0);
  resp_free(&r);

  get(port, "/debug/pprof", &r); /* Go's mux redirects to the subtree */
  CHECK(r.status == 301 && strcmp(header(&r, "Location"), "/debug/pprof/") == 0);
  resp_free(&r);
}

static void test_cmdline(int port) {
  resp_t r;
  get(port, "/debug/pprof/cmdline", &r);
  CHECK(r.status == 200);
  CHECK(strcmp(header(&r, "Content-Type"), "text/plain; charset=utf-8") == 0);
  CHECK(strcmp(header(&r, "X-Content-Type-Options"), "nosniff") == 0);
  CHECK(body_is(&r, "prog\0-x\0arg two", 15));
  resp_free(&r);
}

static void test_profile(int port) {
  resp_t r;
  double t0 = now_s();
  get(port, "/debug/pprof/profile?seconds=1", &r);
  double took = now_s() - t0;
  CHECK(r.status == 200);
  CHECK(took >= 1.0); /* it waited for the profile, not a speed limit */
  CHECK(strcmp(header(&r, "Content-Type"), "application/octet-stream") == 0);
  CHECK(strcmp(header(&r, "Content-Disposition"), "attachment; filename=\"profile\"") == 0);
  CHECK(strcmp(header(&r, "X-Content-Type-Options"), "nosniff") == 0);
  CHECK(body_is(&r, stub_bytes, STUB_LEN));
  CHECK(!atomic_load(&stub_running));
  resp_free(&r);

  /* A repeated key: the first value counts, as Go's FormValue. */
  t0 = now_s();
  get(port, "/debug/pprof/profile?seconds=1&seconds=99999", &r);
  CHECK(r.status == 200 && now_s() - t0 < 20 && body_is(&r, stub_bytes, STUB_LEN));
  resp_free(&r);

  get(port, "/debug/pprof/profile?seconds=3601", &r);
  CHECK(r.status == 400 && strcmp(header(&r, "X-Go-Pprof"), "1") == 0);
  CHECK(r.body != NULL && strstr(r.body, "3600") != NULL && r.body[r.body_len - 1] == '\n');
  CHECK(!atomic_load(&stub_running));
  resp_free(&r);

  stub_start_err = -ENOSYS;
  get(port, "/debug/pprof/profile?seconds=1", &r);
  stub_start_err = 0;
  static const char nosys[] = "Could not enable CPU profiling: Function not implemented\n";
  CHECK(r.status == 500 && body_is(&r, nosys, strlen(nosys)));
  resp_free(&r);
}

/* A request made from another thread. */
typedef struct bg_get {
  int port;
  const char *target;
  resp_t r;
  pthread_t thread;
} bg_get_t;

static void *bg_get_main(void *arg) {
  bg_get_t *g = arg;
  get(g->port, g->target, &g->r);
  return NULL;
}

static bool bg_get_start(bg_get_t *g, int port, const char *target) {
  g->port = port;
  g->target = target;
  return pthread_create(&g->thread, NULL, bg_get_main, g) == 0;
}

static void wait_running(void) {
  for (int i = 0; i < 500 && !atomic_load(&stub_running); i++)
    usleep(10000);
}

static void test_concurrent_profiles(int port) {
  static const char busy[] = "Could not enable CPU profiling: cpu profiling already in use\n";
  bg_get_t first;
  resp_t second;
  CHECK(bg_get_start(&first, port, "/debug/pprof/profile?seconds=2"));
  wait_running();
  CHECK(atomic_load(&stub_running));
  get(port, "/debug/pprof/profile?seconds=1", &second);
  CHECK(second.status == 500);
  CHECK(body_is(&second, busy, strlen(busy)));
  CHECK(strcmp(header(&second, "X-Go-Pprof"), "1") == 0);
  CHECK(strcmp(header(&second, "Content-Type"), "text/plain; charset=utf-8") == 0);
  CHECK(strcmp(header(&second, "X-Content-Type-Options"), "nosniff") == 0);
  CHECK(strcmp(header(&second, "Content-Disposition"), "") == 0);
  pthread_join(first.thread, NULL);
  CHECK(first.r.status == 200 && body_is(&first.r, stub_bytes, STUB_LEN));
  resp_free(&first.r);
  resp_free(&second);
}

/* ------------------------------------------------------------ heap and allocs ------------- */

/* GETs target; checks the status, Content-Type, Content-Disposition ("": none) and body. */
static void heap_get(int port, const char *target, int status, const char *type, const char *disp,
                     const char *body) {
  resp_t r;
  get(port, target, &r);
  bool ok = r.status == status && strcmp(header(&r, "Content-Type"), type) == 0 &&
            strcmp(header(&r, "Content-Disposition"), disp) == 0 && body_is(&r, body, strlen(body));
  CHECK(ok);
  if (!ok)
    fprintf(stderr, "  %s: %d [%s] %.*s, want %d [%s] %s\n", target, r.status,
            header(&r, "Content-Disposition"), (int)r.body_len, r.body != NULL ? r.body : "",
            status, disp, body);
  if (status != 200)
    CHECK(strcmp(header(&r, "X-Go-Pprof"), "1") == 0);
  resp_free(&r);
}

/* What the stub writes for the next request: snapshot next (minus next - 1 for a delta). */
static const char *heap_want(bool delta, int debug, bool allocs) {
  static char want[128];
  int next = atomic_load(&stub_snaps) + 1 + delta;
  snprintf(want, sizeof want, "snap=%d base=%d debug=%d allocs=%d", next, delta ? next - 1 : 0,
           debug, allocs);
  return want;
}

static void test_heap(int port) {
  static const char bin[] = "application/octet-stream", txt[] = "text/plain; charset=utf-8";
  static const char *const p = "/debug/pprof/";
  char t[128];
#define TARGET(q) (snprintf(t, sizeof t, "%s%s", p, q), t)
  heap_get(port, TARGET("heap"), 200, bin, "attachment; filename=\"heap\"", heap_want(0, 0, 0));
  heap_get(port, TARGET("allocs"), 200, bin, "attachment; filename=\"allocs\"", heap_want(0, 0, 1));
  heap_get(port, TARGET("heap?gc=1"), 200, bin, "attachment; filename=\"heap\"",
           heap_want(0, 0, 0));
  heap_get(port, TARGET("heap?debug=1"), 200, txt, "", heap_want(0, 1, 0));
  heap_get(port, TARGET("allocs?debug=2"), 200, txt, "", heap_want(0, 1, 1));
  heap_get(port, TARGET("heap?debug=-1"), 200, txt, "", heap_want(0, 1, 0));
  heap_get(port, TARGET("heap?debug=abc"), 200, bin, "attachment; filename=\"heap\"",
           heap_want(0, 0, 0));
  /* strconv.Atoi returns the clamped value with its range error, which Go ignores. */
  heap_get(port, TARGET("heap?debug=99999999999999999999"), 200, txt, "", heap_want(0, 1, 0));
  heap_get(port, TARGET("heap?seconds="), 200, bin, "attachment; filename=\"heap\"",
           heap_want(0, 0, 0));

  /* Deltas: the later snapshot minus the earlier, N seconds apart. */
  double t0 = now_s();
  heap_get(port, TARGET("heap?seconds=1"), 200, bin, "attachment; filename=\"heap-delta\"",
           heap_want(1, 0, 0));
  CHECK(now_s() - t0 >= 1.0);
  heap_get(port, TARGET("allocs?seconds=1&debug=0"), 200, bin,
           "attachment; filename=\"allocs-delta\"", heap_want(1, 0, 1));
  int before = atomic_load(&stub_snaps);
  heap_get(port, TARGET("heap?seconds=1&debug=1"), 400, txt, "",
           "seconds and debug params are incompatible\n");
  static const char positive[] = "invalid value for \"seconds\" - must be a positive integer\n";
  heap_get(port, TARGET("heap?seconds=0"), 400, txt, "", positive);
  heap_get(port, TARGET("allocs?seconds=abc&debug=1"), 400, txt, "", positive);
  heap_get(port, TARGET("allocs?seconds=-2"), 400, txt, "", positive);
  CHECK(atomic_load(&stub_snaps) == before);

  static const char collect[] = "failed to collect profile\n";
  stub_heap_fail = true;
  heap_get(port, TARGET("heap"), 500, txt, "", collect);
  heap_get(port, TARGET("allocs?seconds=1"), 500, txt, "", collect);
  stub_heap_fail = false;
  stub_write_err = -ENOMEM;
  heap_get(port, TARGET("heap"), 500, txt, "",
           "Could not write heap profile: Cannot allocate memory\n");
  heap_get(port, TARGET("heap?seconds=1"), 500, txt, "", "failed to compute delta\n");
  stub_write_err = 0;
  CHECK(atomic_load(&stub_snaps_live) == 0);

  /* A client that leaves during a delta: its first snapshot is freed and no second is taken. */
  static const char req[] = "GET /debug/pprof/heap?seconds=30 HTTP/1.1\r\nHost: x\r\n\r\n";
  before = atomic_load(&stub_snaps);
  int fd = tcp_connect(port);
  CHECK(fd >= 0 && send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1));
  for (int i = 0; i < 500 && atomic_load(&stub_snaps) == before; i++)
    usleep(10000);
  CHECK(atomic_load(&stub_snaps_live) == 1);
  close(fd);
  for (int i = 0; i < 500 && atomic_load(&stub_snaps_live) != 0; i++)
    usleep(10000);
  CHECK(atomic_load(&stub_snaps_live) == 0 && atomic_load(&stub_snaps) == before + 1);
  CHECK(serves_index(port));
#undef TARGET
}

/* What the stub writes for the next count request taken by name. */
static const char *count_want(const char *name, bool delta, int debug) {
  static char want[128];
  int next = atomic_load(&stub_counts) + 1 + delta;
  snprintf(want, sizeof want, "name=%s snap=%d base=%d debug=%d", name, next, delta ? next - 1 : 0,
           debug);
  return want;
}

static void test_counts(int port) {
  static const char bin[] = "application/octet-stream", txt[] = "text/plain; charset=utf-8";
  char t[128];
#define TARGET(q) (snprintf(t, sizeof t, "/debug/pprof/%s", q), t)
  heap_get(port, TARGET("goroutine"), 200, bin, "attachment; filename=\"goroutine\"",
           count_want("goroutine", 0, 0));
  heap_get(port, TARGET("goroutine?debug=1"), 200, txt, "", count_want("goroutine", 0, 1));
  heap_get(port, TARGET("goroutine?debug=2"), 200, txt, "", count_want("goroutine", 0, 2));
  heap_get(port, TARGET("goroutine?debug=7"), 200, txt, "", count_want("goroutine", 0, 2));
  heap_get(port, TARGET("threads?debug=2"), 200, txt, "", count_want("threads", 0, 2));
  heap_get(port, TARGET("threads"), 200, bin, "attachment; filename=\"threads\"",
           count_want("threads", 0, 0));
  heap_get(port, TARGET("threadcreate?debug=1"), 200, txt, "", count_want("threadcreate", 0, 1));
  heap_get(port, TARGET("myapp/conns"), 200, bin, "attachment; filename=\"myapp/conns\"",
           count_want("myapp/conns", 0, 0));
  heap_get(port, TARGET("myapp/conns?debug=1"), 200, txt, "", count_want("myapp/conns", 0, 1));

  /* Deltas where Go has them: goroutine and threadcreate. */
  double t0 = now_s();
  heap_get(port, TARGET("threadcreate?seconds=1"), 200, bin,
           "attachment; filename=\"threadcreate-delta\"", count_want("threadcreate", 1, 0));
  CHECK(now_s() - t0 >= 1.0);
  heap_get(port, TARGET("goroutine?seconds=1"), 200, bin,
           "attachment; filename=\"goroutine-delta\"", count_want("goroutine", 1, 0));
  int before = atomic_load(&stub_counts);
  heap_get(port, TARGET("goroutine?seconds=1&debug=2"), 400, txt, "",
           "seconds and debug params are incompatible\n");
  heap_get(port, TARGET("threadcreate?seconds=0"), 400, txt, "",
           "invalid value for \"seconds\" - must be a positive integer\n");
  heap_get(port, TARGET("myapp/conns?seconds=x"), 400, txt, "",
           "invalid value for \"seconds\" - must be a positive integer\n");
  heap_get(port, TARGET("myapp/conns?seconds=1"), 400, txt, "",
           "\"seconds\" parameter is not supported for this profile type\n");
  heap_get(port, TARGET("myapp/none"), 404, txt, "", "Unknown profile\n");
  CHECK(atomic_load(&stub_counts) == before);
  CHECK(atomic_load(&stub_counts_live) == 0);
#undef TARGET
}

/* ------------------------------------------------------------ block and mutex ------------- */

/* What the stub writes for the next request of profile which. */
static const char *sync_want(int which, bool delta, int debug) {
  static char want[128];
  int next = atomic_load(&stub_snaps) + 1 + delta;
  snprintf(want, sizeof want, "which=%d snap=%d base=%d debug=%d", which, next,
           delta ? next - 1 : 0, debug);
  return want;
}

static void test_sync(int port) {
  static const char bin[] = "application/octet-stream", txt[] = "text/plain; charset=utf-8";
  static const char *const p = "/debug/pprof/";
  char t[128];
#define TARGET(q) (snprintf(t, sizeof t, "%s%s", p, q), t)
  heap_get(port, TARGET("block"), 200, bin, "attachment; filename=\"block\"", sync_want(0, 0, 0));
  heap_get(port, TARGET("mutex"), 200, bin, "attachment; filename=\"mutex\"", sync_want(1, 0, 0));
  heap_get(port, TARGET("block?debug=1"), 200, txt, "", sync_want(0, 0, 1));
  heap_get(port, TARGET("mutex?debug=2"), 200, txt, "", sync_want(1, 0, 1));
  double t0 = now_s();
  heap_get(port, TARGET("mutex?seconds=1"), 200, bin, "attachment; filename=\"mutex-delta\"",
           sync_want(1, 1, 0));
  CHECK(now_s() - t0 >= 1.0);
  int before = atomic_load(&stub_snaps);
  heap_get(port, TARGET("block?seconds=1&debug=1"), 400, txt, "",
           "seconds and debug params are incompatible\n");
  heap_get(port, TARGET("block?seconds=0"), 400, txt, "",
           "invalid value for \"seconds\" - must be a positive integer\n");
  CHECK(atomic_load(&stub_snaps) == before);
  stub_heap_fail = true;
  heap_get(port, TARGET("block"), 500, txt, "", "failed to collect profile\n");
  stub_heap_fail = false;
  stub_write_err = -ENOMEM;
  heap_get(port, TARGET("mutex"), 500, txt, "",
           "Could not write mutex profile: Cannot allocate memory\n");
  heap_get(port, TARGET("block?seconds=1"), 500, txt, "", "failed to compute delta\n");
  stub_write_err = 0;
  CHECK(atomic_load(&stub_snaps_live) == 0);
#undef TARGET
}

static void test_errors(int port) {
  resp_t r;
  get(port, "/", &r);
  CHECK(r.status == 404 && body_is(&r, "404 page not found\n", 19));
  CHECK(strcmp(header(&r, "X-Content-Type-Options"), "nosniff") == 0);
  resp_free(&r);
  get(port, "/debug/pprofx/cmdline", &r);
  CHECK(r.status == 404);
  resp_free(&r);
  get(port, "/debug/pprof/nope", &r);
  CHECK(r.status == 404 && body_is(&r, "Unknown profile\n", 16));
  CHECK(strcmp(header(&r, "X-Go-Pprof"), "1") == 0);
  resp_free(&r);
  get(port, "/debug/pprof/cmdline/extra", &r);
  CHECK(r.status == 404 && body_is(&r, "Unknown profile\n", 16));
  resp_free(&r);

  request(port, "POST", "/debug/pprof/cmdline", "Content-Length: 1\r\n", &r);
  CHECK(r.status == 405 && strcmp(header(&r, "Allow"), "GET, HEAD") == 0);
  resp_free(&r);
  request(port, "DELETE", "/debug/pprof/", NULL, &r);
  CHECK(r.status == 405);
  resp_free(&r);
  request(port, "BREW", "/debug/pprof/profile", NULL, &r);
  CHECK(r.status == 405 && !atomic_load(&stub_running));
  resp_free(&r);
  request(port, "PUT", "/elsewhere", NULL, &r);
  CHECK(r.status == 404);
  resp_free(&r);
}

/* Sends a hostile request; wants an error status (or, want 0, hangs up without reading). */
static void hostile(int port, const void *req, size_t len, int want) {
  resp_t r;
  if (want == 0) {
    int fd = tcp_connect(port);
    CHECK(fd >= 0 && send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len);
    close(fd);
  } else {
    exchange(port, req, len, &r);
    CHECK(r.status == want);
    resp_free(&r);
  }
  CHECK(serves_index(port));
}

static void test_hostile(int port) {
  size_t n = 100 * 1024;
  char *big = malloc(n + 128);
  int len = sprintf(big, "GET /debug/pprof/");
  memset(big + len, 'a', n);
  len += (int)n;
  len += sprintf(big + len, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  hostile(port, big, (size_t)len, 414);
  /* A 100 KB header. */
  len = sprintf(big, "GET /debug/pprof/ HTTP/1.1\r\nX-Big: ");
  memset(big + len, 'b', n);
  len += (int)n;
  len += sprintf(big + len, "\r\n\r\n");
  hostile(port, big, (size_t)len, 431);
  free(big);

  static const char garbage[] = "\x01\x02\x03\xff\xfe garbage \x7f\r\n\r\n";
  hostile(port, garbage, sizeof garbage - 1, 400);
  static const char noversion[] = "GET /debug/pprof/\r\n\r\n";
  hostile(port, noversion, sizeof noversion - 1, 400);
  static const char badversion[] = "GET /debug/pprof/ HTTP/9.9\r\n\r\n";
  hostile(port, badversion, sizeof badversion - 1, 505);
  static const char nothing[] = "\r\n\r\n\r\n"; /* blank lines, then the client hangs up */
  hostile(port, nothing, sizeof nothing - 1, 0);
  static const char half[] = "GET /debug/pprof/ HT";
  hostile(port, half, sizeof half - 1, 0);

  resp_t r;
  get(port, "/debug/pprof/%zz", &r);
  CHECK(r.status == 404);
  resp_free(&r);
  get(port, "/debug/pprof/cmdline?a=%zz&seconds=%&token=%%%&=&&%00=x", &r);
  CHECK(r.status == 200 && body_is(&r, "prog\0-x\0arg two", 15));
  resp_free(&r);

  /* More idle connections than the limits allow; once they go, the server answers again. */
  int fds[40];
  for (int i = 0; i < 40; i++)
    fds[i] = tcp_connect(port);
  for (int i = 0; i < 40; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  usleep(200000);
  CHECK(serves_index(port));
}

static void test_token(void) {
  resp_t r;
  CHECK(http_start("127.0.0.1:0", "s3cret") == 0);
  int port = http_port();
  CHECK(port > 0);
  get(port, "/debug/pprof/", &r);
  CHECK(r.status == 401 && strcmp(header(&r, "Content-Type"), "text/plain; charset=utf-8") == 0);
  CHECK(r.body_len > 0 && strcmp(header(&r, "X-Content-Type-Options"), "nosniff") == 0);
  resp_free(&r);
  get(port, "/elsewhere", &r); /* every request, not only /debug/pprof/ */
  CHECK(r.status == 401);
  resp_free(&r);
  request(port, "GET", "/debug/pprof/", "Authorization: Bearer wrong\r\n", &r);
  CHECK(r.status == 401);
  resp_free(&r);
  request(port, "GET", "/debug/pprof/", "Authorization: Bearer s3cre\r\n", &r);
  CHECK(r.status == 401);
  resp_free(&r);
  request(port, "GET", "/debug/pprof/", "Authorization: Basic s3cret\r\n", &r);
  CHECK(r.status == 401);
  resp_free(&r);
  request(port, "GET", "/debug/pprof/", "Authorization: Bearer s3cret\r\n", &r);
  CHECK(r.status == 200);
  resp_free(&r);
  request(port, "GET", "/debug/pprof/cmdline", "authorization: bearer s3cret\r\n", &r);
  CHECK(r.status == 200 && body_is(&r, "prog\0-x\0arg two", 15));
  resp_free(&r);
  get(port, "/debug/pprof/?token=s3cret", &r);
  CHECK(r.status == 200);
  resp_free(&r);
  get(port, "/debug/pprof/cmdline?token=s3cret0", &r);
  CHECK(r.status == 401);
  resp_free(&r);
  get(port, "/debug/pprof/cmdline?token=", &r);
  CHECK(r.status == 401);
  resp_free(&r);
  CHECK(http_stop() == 0);
}

/* http_stop() cuts a running profile short, stops it, and returns promptly. */
static void test_stop_in_flight(int port) {
  bg_get_t g;
  int stops = atomic_load(&stub_stops);
  CHECK(bg_get_start(&g, port, "/debug/pprof/profile?seconds=abc")); /* Go's default: 30 s */
  wait_running();
  usleep(1200 * 1000);
  CHECK(atomic_load(&stub_running)); /* a bad value means 30 s, not 1 */
  double t0 = now_s();
  CHECK(http_stop() == 0);
  CHECK(now_s() - t0 < 5.0);
  CHECK(!atomic_load(&stub_running) && atomic_load(&stub_stops) == stops + 1);
  CHECK(http_port() == -ENOENT);
  pthread_join(g.thread, NULL);
  CHECK(g.r.status == 0); /* dropped, not answered */
  resp_free(&g.r);
}

int main(void) {
  ext_core = &stub_core;
  test_parsers();
  test_addresses();
  test_port_in_use();

  CHECK(http_start("127.0.0.1:0", NULL) == 0);
  int port = http_port();
  CHECK(port > 0);
  CHECK(http_start("127.0.0.1:0", NULL) == -EALREADY);
  CHECK(http_port() == port);
  test_index(port);
  test_cmdline(port);
  test_profile(port);
  test_concurrent_profiles(port);
  test_heap(port);
  test_counts(port);
  test_sync(port);
  test_errors(port);
  test_hostile(port);
  test_stop_in_flight(port);

  test_token();
  return TEST_DONE("http_test");
}
