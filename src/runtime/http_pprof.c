/*
 * http_pprof.c — the /debug/pprof/ endpoints: one table of profiles, the index page, handlers.
 *
 * Each row of http_endpoints is what Go's net/http/pprof knows about one name: Go's description
 * for the index page, a count (NULL shows 0, as Go shows for cmdline, profile and trace) and the
 * handler that serves /debug/pprof/<name>. Adding a profile is adding a row; the index lists every
 * row not marked HTTP_EP_UNLISTED, sorted by name, in Go's exact layout (Index/indexTmplExecute),
 * so a page from here and one from a Go program differ only in their rows.
 *
 * The handlers follow Go's: cmdline writes the NUL-joined argv; profile runs a CPU profile into an
 * anonymous file for ?seconds=N (30 when absent, unparseable or <= 0), sleeping on the connection's
 * thread, and sends the file; a second concurrent profile gets Go's 500 "Could not enable CPU
 * profiling: cpu profiling already in use".
 *
 * heap and allocs (and block and mutex, over the core's contention snapshots, the same way) are
 * Go's handler.ServeHTTP for those profiles, over the core's snapshots:
 * debug=N as strconv.Atoi reads it (a bad value is 0), 0 the gzipped proto as an attachment, any
 * other value Go's text; ?seconds=N a delta, the snapshot taken after N seconds minus the one
 * taken before, with Go's 400s (not a positive integer; given with debug != 0) and its 500 "failed
 * to collect profile". Go's gc=N, which runs a collection before the heap sample, is accepted and
 * ignored: C has no collector, and the table already holds exactly the blocks not yet freed.
 *
 * The index shows the "full goroutine stack dump" link (goroutine?debug=2) only when the table
 * has a goroutine row, so that it never points at a 404.
 *
 * The count profiles — goroutine (every thread's stack; also served as threads, unlisted),
 * threadcreate and the user-defined ones — are Go's handler.ServeHTTP over the core's count
 * snapshots: debug=0 the proto as an attachment, 1 Go's count text, 2 for goroutine the per-thread
 * dump; ?seconds=N a delta for goroutine and threadcreate (Go's profileSupportsDelta), and for a
 * user-defined profile Go's 400 "seconds" parameter is not supported. A user-defined profile is
 * served under its own name, by the one row http_endpoint_custom() gives for any name the core
 * knows, and listed on the index with its count and Go's empty description.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/ext.h"
#include "runtime/http.h"

/* Whether the core's table reaches field f (an older core's is shorter) and fills it. */
#define HTTP_CORE_HAS(f)                                                                           \
  (ext_core != NULL && ext_core->size >= offsetof(core_api_t, f) + sizeof ext_core->f &&           \
   ext_core->f != NULL)

/* ------------------------------------------------------------ the index page -------------- */

#define HTTP_INDEX_MAX 256 /* rows shown: the table's and the user-defined profiles' */

static const char http_index_head[] = "<html>\n"
                                      "<head>\n"
                                      "<title>/debug/pprof/</title>\n"
                                      "<style>\n"
                                      ".profile-name{\n"
                                      "\tdisplay:inline-block;\n"
                                      "\twidth:6rem;\n"
                                      "}\n"
                                      "</style>\n"
                                      "</head>\n"
                                      "<body>\n"
                                      "/debug/pprof/\n"
                                      "<br>\n"
                                      "<p>Set debug=1 as a query parameter to export in legacy "
                                      "text format</p>\n"
                                      "<br>\n"
                                      "Types of profiles available:\n"
                                      "<table>\n"
                                      "<thead><td>Count</td><td>Profile</td></thead>\n";

static const char http_index_goroutines[] = "<a href=\"goroutine?debug=2\">full goroutine stack "
                                            "dump</a>\n";

static const char http_index_middle[] = "<br>\n"
                                        "<p>\n"
                                        "Profile Descriptions:\n"
                                        "<ul>\n";

static const char http_index_tail[] = "</ul>\n"
                                      "</p>\n"
                                      "</body>\n"
                                      "</html>";

/* Writes s escaped as Go's html.EscapeString does. */
static void http_html_escape(FILE *f, const char *s) {
  for (; *s != '\0'; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '\'': fputs("&#39;", f); break;
    case '"': fputs("&#34;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* One row of the index page. */
typedef struct http_index_row {
  const char *name, *desc;
  long count;
} http_index_row_t;

static int http_index_row_cmp(const void *a, const void *b) {
  return strcmp(((const http_index_row_t *)a)->name, ((const http_index_row_t *)b)->name);
}

/* The user-defined profiles' rows (Go describes them with ""), after the n rows there are. */
static size_t http_index_custom(http_index_row_t *rows, size_t n) {
  const char *names[HTTP_INDEX_MAX];
  if (!HTTP_CORE_HAS(count_custom) || !HTTP_CORE_HAS(count_of))
    return n;
  size_t got = ext_core->count_custom(names, HTTP_INDEX_MAX);
  for (size_t i = 0; i < got && i < HTTP_INDEX_MAX && n < HTTP_INDEX_MAX; i++) {
    long count = ext_core->count_of(names[i]);
    rows[n++] = (http_index_row_t){names[i], "", count > 0 ? count : 0};
  }
  return n;
}

enum MHD_Result http_index_serve(http_req_t *req) {
  http_index_row_t rows[HTTP_INDEX_MAX];
  size_t n = 0, len = 0;
  bool goroutines = false;
  char *page = NULL;
  enum MHD_Result r;
  FILE *f;
  for (size_t i = 0; i < http_nendpoints && n < HTTP_INDEX_MAX; i++) {
    const http_endpoint_t *ep = &http_endpoints[i];
    if (!(ep->flags & HTTP_EP_UNLISTED))
      rows[n++] = (http_index_row_t){ep->name, ep->desc, ep->count ? ep->count() : 0L};
    goroutines |= strcmp(ep->name, "goroutine") == 0;
  }
  n = http_index_custom(rows, n);
  qsort(rows, n, sizeof rows[0], http_index_row_cmp);
  f = open_memstream(&page, &len);
  if (f == NULL)
    return MHD_NO;
  fputs(http_index_head, f);
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "<tr><td>%ld</td><td><a href='", rows[i].count);
    http_html_escape(f, rows[i].name);
    fputs("?debug=1'>", f);
    http_html_escape(f, rows[i].name);
    fputs("</a></td></tr>\n", f);
  }
  fputs("</table>\n", f);
  if (goroutines)
    fputs(http_index_goroutines, f);
  fputs(http_index_middle, f);
  for (size_t i = 0; i < n; i++) {
    fputs("<li><div class=profile-name>", f);
    http_html_escape(f, rows[i].name);
    fputs(": </div> ", f);
    http_html_escape(f, rows[i].desc);
    fputs("</li>\n", f);
  }
  fputs(http_index_tail, f);
  if (fclose(f) != 0) {
    free(page);
    return MHD_NO;
  }
  r = http_reply(req, MHD_HTTP_OK, "text/html; charset=utf-8", page, len);
  free(page);
  return r;
}

/* ------------------------------------------------------------ cmdline --------------------- */

static enum MHD_Result http_cmdline_serve(http_req_t *req) {
  size_t len = 0;
  const char *args = NULL;
  if (ext_core != NULL && ext_core->cmdline != NULL)
    args = ext_core->cmdline(&len);
  if (args == NULL)
    len = 0;
  /* Go joins os.Args with NUL; /proc/self/cmdline also ends with one, which Go does not send. */
  if (len > 0 && args[len - 1] == '\0')
    len--;
  return http_reply(req, MHD_HTTP_OK, "text/plain; charset=utf-8", args != NULL ? args : "", len);
}

/* ------------------------------------------------------------ profile (CPU) --------------- */

static enum MHD_Result http_profile_error(http_req_t *req, const char *what, int err) {
  char msg[160], buf[96];
  const char *why =
      err == -EBUSY ? "cpu profiling already in use" : strerror_r(-err, buf, sizeof buf);
  snprintf(msg, sizeof msg, "%s: %s", what, why);
  return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
}

static enum MHD_Result http_profile_serve(http_req_t *req) {
  static const char start_failed[] = "Could not enable CPU profiling";
  int sec, fd, rc;
  bool whole;
  const char *bad = http_seconds_default(http_query(req, "seconds"), 30, &sec);
  if (bad != NULL)
    return http_serve_error(req, MHD_HTTP_BAD_REQUEST, bad);
  if (ext_core == NULL || ext_core->cpu_start == NULL || ext_core->cpu_stop == NULL)
    return http_profile_error(req, start_failed, -ENOSYS);
  fd = http_memfd();
  if (fd < 0)
    return http_profile_error(req, start_failed, fd);
  rc = ext_core->cpu_start(fd);
  if (rc < 0) {
    close(fd);
    return http_profile_error(req, start_failed, rc);
  }
  whole = http_sleep(req, sec);
  rc = ext_core->cpu_stop();
  /* -ENOENT: someone else stopped our profile, and that stop wrote it to our file. */
  if (!whole || (rc < 0 && rc != -ENOENT)) {
    close(fd);
    return whole ? http_profile_error(req, "Could not write CPU profile", rc) : MHD_NO;
  }
  return http_reply_fd(req, fd, "profile");
}

/* ------------------------------------------------------------ heap and allocs ------------- */

static long http_heap_count(void) { return HTTP_CORE_HAS(heap_count) ? ext_core->heap_count() : 0; }

/* strconv.Atoi with its error ignored, as net/http/pprof reads debug: unparseable is 0, out of
 * range the nearest limit (Atoi returns it along with the error). */
static int64_t http_atoi(const char *s) {
  int64_t v = 0;
  int rc = http_int_parse(s, &v);
  return rc == 0 || rc == -ERANGE ? v : 0;
}

/* Replies 200 text/plain; charset=utf-8 with everything fd holds. Takes fd. */
static enum MHD_Result http_reply_text_fd(http_req_t *req, int fd) {
  struct stat st;
  char *buf = NULL;
  size_t len = 0;
  enum MHD_Result r = MHD_NO;
  if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1)) != NULL) {
    while (len < (size_t)st.st_size) {
      ssize_t got = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      len += (size_t)got;
    }
    r = http_reply(req, MHD_HTTP_OK, "text/plain; charset=utf-8", buf, len);
  }
  free(buf);
  close(fd);
  return r;
}

/*
 * A profile served from the core's snapshots: heap and allocs, block and mutex. Go's
 * handler.ServeHTTP for them: debug=N (0 the gzipped proto as an attachment, else Go's text),
 * seconds=N a delta (the snapshot taken after N seconds minus the one taken before), with Go's
 * 400s and 500s. The core's calls differ by kind only in their arguments, which arg carries.
 */
typedef struct http_snap_kind {
  const char *name; /* the attachment's name */
  const char *what; /* "Could not write <what> profile" */
  int arg;          /* allocs (heap), which (sync) */
  bool (*ready)(void);
  void *(*take)(int arg);
  void (*release)(void *snap);
  int (*write)(int fd, const void *snap, const void *base, int debug, int arg);
} http_snap_kind_t;

/* Writes snap (minus base when set) to a fresh file and answers with it; frees both snapshots. */
static enum MHD_Result http_snap_send(http_req_t *req, const http_snap_kind_t *k, void *snap,
                                      void *base, int64_t debug) {
  char msg[160], buf[96], filename[32];
  int fd = http_memfd();
  int rc = fd < 0 ? fd : k->write(fd, snap, base, debug != 0 ? 1 : 0, k->arg);
  k->release(snap);
  if (base != NULL)
    k->release(base);
  if (rc < 0) {
    if (fd >= 0)
      close(fd);
    if (base != NULL) /* Go's words when its Merge fails */
      return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed to compute delta");
    snprintf(msg, sizeof msg, "Could not write %s profile: %s", k->what,
             strerror_r(-rc, buf, sizeof buf));
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
  }
  if (debug != 0)
    return http_reply_text_fd(req, fd);
  snprintf(filename, sizeof filename, "%s%s", k->name, base != NULL ? "-delta" : "");
  return http_reply_fd(req, fd, filename);
}

static enum MHD_Result http_snap_serve(http_req_t *req, const http_snap_kind_t *k) {
  static const char failed[] = "failed to collect profile";
  void *base = NULL, *snap;
  int sec;
  const char *bad = http_seconds_delta(http_query(req, "seconds"), &sec);
  int64_t debug = http_atoi(http_query(req, "debug"));
  if (bad != NULL)
    return http_serve_error(req, MHD_HTTP_BAD_REQUEST, bad);
  if (sec > 0 && debug != 0)
    return http_serve_error(req, MHD_HTTP_BAD_REQUEST, "seconds and debug params are incompatible");
  if (!k->ready())
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, failed);
  if (sec > 0) {
    if ((base = k->take(k->arg)) == NULL)
      return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, failed);
    if (!http_sleep(req, sec)) {
      k->release(base);
      return MHD_NO;
    }
  }
  if ((snap = k->take(k->arg)) == NULL) {
    if (base != NULL)
      k->release(base);
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, failed);
  }
  return http_snap_send(req, k, snap, base, debug);
}

/* The heap's calls, in the shape of http_snap_kind_t. */
static bool http_heap_ready(void) {
  return HTTP_CORE_HAS(heap_snapshot) && HTTP_CORE_HAS(heap_snapshot_free) &&
         HTTP_CORE_HAS(heap_write);
}
static void *http_heap_take(int arg) {
  (void)arg;
  return ext_core->heap_snapshot();
}
static void http_heap_release(void *snap) { ext_core->heap_snapshot_free(snap); }
static int http_heap_write(int fd, const void *snap, const void *base, int debug, int allocs) {
  return ext_core->heap_write(fd, snap, base, debug, allocs != 0);
}

static enum MHD_Result http_heap_serve(http_req_t *req) {
  static const http_snap_kind_t k = {
      "heap", "heap", 0, http_heap_ready, http_heap_take, http_heap_release, http_heap_write};
  return http_snap_serve(req, &k);
}

static enum MHD_Result http_allocs_serve(http_req_t *req) {
  static const http_snap_kind_t k = {
      "allocs", "heap", 1, http_heap_ready, http_heap_take, http_heap_release, http_heap_write};
  return http_snap_serve(req, &k);
}

/* ------------------------------------------------------------ count profiles -------------- */

/* Writes snap (minus base when set) to a fresh file and answers with it; frees both. */
static enum MHD_Result http_count_send(http_req_t *req, void *snap, void *base, int64_t debug) {
  char msg[160], buf[96], filename[160];
  int fd = http_memfd();
  int dbg = debug < 0 ? 1 : debug > 2 ? 2 : (int)debug; /* Go: any other value acts as 1 or 2 */
  int rc = fd < 0 ? fd : ext_core->count_write(fd, snap, base, dbg);
  ext_core->count_snapshot_free(snap);
  if (base != NULL)
    ext_core->count_snapshot_free(base);
  if (rc < 0) {
    if (fd >= 0)
      close(fd);
    if (base != NULL)
      return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed to compute delta");
    snprintf(msg, sizeof msg, "Could not write %s profile: %s", req->name,
             strerror_r(-rc, buf, sizeof buf));
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
  }
  if (debug != 0)
    return http_reply_text_fd(req, fd);
  snprintf(filename, sizeof filename, "%s%s", req->name, base != NULL ? "-delta" : "");
  return http_reply_fd(req, fd, filename);
}

/* Go's handler.ServeHTTP for a count profile: debug=N, and ?seconds=N (a delta) where Go has it
 * (goroutine, threadcreate; not the user-defined profiles). */
static enum MHD_Result http_count_serve_as(http_req_t *req, bool delta_ok) {
  static const char failed[] = "failed to collect profile";
  const char *seconds = http_query(req, "seconds");
  void *base = NULL, *snap;
  int sec = 0;
  int64_t debug = http_atoi(http_query(req, "debug"));
  if (seconds != NULL) {
    const char *bad = http_seconds_delta(seconds, &sec);
    if (bad != NULL)
      return http_serve_error(req, MHD_HTTP_BAD_REQUEST, bad);
    if (!delta_ok)
      return http_serve_error(req, MHD_HTTP_BAD_REQUEST,
                              "\"seconds\" parameter is not supported for this profile type");
    if (debug != 0)
      return http_serve_error(req, MHD_HTTP_BAD_REQUEST,
                              "seconds and debug params are incompatible");
  }
  if (!HTTP_CORE_HAS(count_snapshot) || !HTTP_CORE_HAS(count_snapshot_free) ||
      !HTTP_CORE_HAS(count_write))
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, failed);
  if (sec > 0) {
    if ((base = ext_core->count_snapshot(req->name)) == NULL)
      return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, failed);
    if (!http_sleep(req, sec)) {
      ext_core->count_snapshot_free(base);
      return MHD_NO;
    }
  }
  if ((snap = ext_core->count_snapshot(req->name)) == NULL) {
    if (base != NULL)
      ext_core->count_snapshot_free(base);
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, failed);
  }
  return http_count_send(req, snap, base, debug);
}

static enum MHD_Result http_count_serve(http_req_t *req) { return http_count_serve_as(req, true); }

static enum MHD_Result http_custom_serve(http_req_t *req) {
  return http_count_serve_as(req, false);
}

static long http_count_of(const char *name) {
  long n = HTTP_CORE_HAS(count_of) ? ext_core->count_of(name) : 0;
  return n > 0 ? n : 0;
}

static long http_threads_count(void) { return http_count_of("goroutine"); }
static long http_threadcreate_count(void) { return http_count_of("threadcreate"); }

/* The row that serves every user-defined profile (its name is the request's). */
static const http_endpoint_t http_custom_endpoint = {"", "", NULL, http_custom_serve, 0};

const http_endpoint_t *http_endpoint_custom(const char *name) {
  return HTTP_CORE_HAS(count_of) && ext_core->count_of(name) >= 0 ? &http_custom_endpoint : NULL;
}

/* ------------------------------------------------------------ block and mutex ------------- */

/* The core's numbering of the two contention profiles (sync.h). */
enum { HTTP_SYNC_BLOCK = 0, HTTP_SYNC_MUTEX = 1 };

static long http_sync_count(int which) {
  return HTTP_CORE_HAS(sync_count) ? ext_core->sync_count(which) : 0;
}

static long http_block_count(void) { return http_sync_count(HTTP_SYNC_BLOCK); }
static long http_mutex_count(void) { return http_sync_count(HTTP_SYNC_MUTEX); }

/* The contention profiles' calls, in the shape of http_snap_kind_t. */
static bool http_sync_ready(void) {
  return HTTP_CORE_HAS(sync_snapshot) && HTTP_CORE_HAS(sync_snapshot_free) &&
         HTTP_CORE_HAS(sync_write);
}
static void *http_sync_take(int which) { return ext_core->sync_snapshot(which); }
static void http_sync_release(void *snap) { ext_core->sync_snapshot_free(snap); }
static int http_sync_write(int fd, const void *snap, const void *base, int debug, int which) {
  (void)which;
  return ext_core->sync_write(fd, snap, base, debug);
}

static enum MHD_Result http_block_serve(http_req_t *req) {
  static const http_snap_kind_t k = {"block",         "block",        HTTP_SYNC_BLOCK,
                                     http_sync_ready, http_sync_take, http_sync_release,
                                     http_sync_write};
  return http_snap_serve(req, &k);
}

static enum MHD_Result http_mutex_serve(http_req_t *req) {
  static const http_snap_kind_t k = {"mutex",         "mutex",        HTTP_SYNC_MUTEX,
                                     http_sync_ready, http_sync_take, http_sync_release,
                                     http_sync_write};
  return http_snap_serve(req, &k);
}

/* ------------------------------------------------------------ the table ------------------- */

const http_endpoint_t http_endpoints[] = {
    {"allocs", "A sampling of all past memory allocations", http_heap_count, http_allocs_serve, 0},
    {"block", "Stack traces that led to blocking on synchronization primitives", http_block_count,
     http_block_serve, 0},
    {"cmdline", "The command line invocation of the current program", NULL, http_cmdline_serve, 0},
    {"profile",
     "CPU profile. You can specify the duration in the seconds GET parameter. After you get the "
     "profile file, use the go tool pprof command to investigate the profile.",
     NULL, http_profile_serve, 0},
    {"heap",
     "A sampling of memory allocations of live objects. You can specify the gc GET parameter to "
     "run GC before taking the heap sample.",
     http_heap_count, http_heap_serve, 0},
    {"mutex", "Stack traces of holders of contended mutexes", http_mutex_count, http_mutex_serve,
     0},
    {"goroutine",
     "Stack traces of all current goroutines. Use debug=2 as a query parameter to export in the "
     "same format as an unrecovered panic.",
     http_threads_count, http_count_serve, 0},
    {"threadcreate", "Stack traces that led to the creation of new OS threads",
     http_threadcreate_count, http_count_serve, 0},
    /* goroutine under its C name: the same profile, not listed twice. */
    {"threads", "Stack traces of all current threads", http_threads_count, http_count_serve,
     HTTP_EP_UNLISTED},
};

const size_t http_nendpoints = sizeof http_endpoints / sizeof http_endpoints[0];
