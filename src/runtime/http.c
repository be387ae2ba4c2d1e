/*
 * http.c — the /debug/pprof HTTP server: libmicrohttpd, the listening socket, tokens, routing.
 *
 * http_start() parses the address itself ("host:port", ":port", "[v6]:port"; the host defaults to
 * 127.0.0.1), binds and listens on its own socket so that a bind failure comes back as its errno
 * (-EADDRINUSE, ...), and hands the socket to a libmicrohttpd daemon that runs in threads of its
 * own: one polling thread accepting connections and one thread per connection (poll(), not
 * select(), so descriptors above FD_SETSIZE in the host do not matter). The daemon is bounded so
 * that a hostile client cannot exhaust the host: at most HTTP_CONN_MAX connections,
 * HTTP_CONN_PER_IP from one address, HTTP_TIMEOUT_S seconds of idleness, HTTP_CONN_MEMORY bytes
 * per connection (longer request lines or headers are refused by the library with a 4xx),
 * HTTP_BODY_MAX bytes of POST body. The library's own logging is off; failures worth telling go
 * to ext_core->report.
 *
 * A request is handled on its connection's first call into http_access(): the token is checked
 * (when one is set, every request must carry "Authorization: Bearer <token>" or "?token=<token>",
 * compared in constant time), then the path is routed. Paths outside /debug/pprof/ get Go's 404
 * "404 page not found"; /debug/pprof/ is the index; /debug/pprof/<name> is a row of the endpoint
 * table in http_pprof.c, or a user-defined profile (http_endpoint_custom), or Go's 404 "Unknown
 * profile". Only GET and HEAD are accepted, plus POST
 * for endpoints that ask for it (their body is gathered over the following calls); anything else
 * is 405. Handlers run on the connection's thread and may block there (a CPU profile sleeps for
 * its duration through http_sleep(), which watches for the client leaving and for http_stop()).
 *
 * State: one daemon at a time, guarded by http_lock for start, port and stop. The token and the
 * stopping flag are read by connection threads without the lock; the token is only replaced after
 * MHD_stop_daemon() has joined every connection thread.
 */
#define _GNU_SOURCE
#include "runtime/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/ext.h"

#define HTTP_PREFIX "/debug/pprof/"
#define HTTP_CONN_MAX 32
#define HTTP_CONN_PER_IP 16
#define HTTP_TIMEOUT_S 30
#define HTTP_CONN_MEMORY (32 * 1024)
#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_SLEEP_STEP_MS 100

#define HTTP_STR_(x) #x
#define HTTP_STR(x) HTTP_STR_(x)

static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *http_daemon; /* under http_lock */
static int http_bound_port;            /* under http_lock */
static char *http_token;               /* NULL: no token; fixed while the daemon runs */
static size_t http_token_len;
static atomic_bool http_stopping;

void http_report(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  if (ext_core == NULL || ext_core->report == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ext_core->report("%s", msg);
}

/* ------------------------------------------------------------ responses ------------------- */

/* Adds the headers every response has, queues it and drops our reference. */
static enum MHD_Result http_queue(http_req_t *req, unsigned status, struct MHD_Response *resp,
                                  const char *type) {
  enum MHD_Result r;
  if (resp == NULL)
    return MHD_NO;
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  if (type != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  r = MHD_queue_response(req->conn, status, resp);
  MHD_destroy_response(resp);
  return r;
}

static struct MHD_Response *http_response_copy(const void *body, size_t len) {
  return MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
}

enum MHD_Result http_reply(http_req_t *req, unsigned status, const char *type, const void *body,
                           size_t len) {
  return http_queue(req, status, http_response_copy(body, len), type);
}

/* A text/plain; charset=utf-8 reply of msg and a newline, plus one header when name is set. */
static enum MHD_Result http_reply_text(http_req_t *req, unsigned status, const char *msg,
                                       const char *name, const char *value) {
  char *text = NULL;
  struct MHD_Response *resp;
  int n = asprintf(&text, "%s\n", msg);
  if (n < 0)
    return MHD_NO;
  resp = MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(text);
    return MHD_NO;
  }
  if (name != NULL)
    MHD_add_response_header(resp, name, value);
  return http_queue(req, status, resp, "text/plain; charset=utf-8");
}

enum MHD_Result http_serve_error(http_req_t *req, unsigned status, const char *msg) {
  return http_reply_text(req, status, msg, "X-Go-Pprof", "1");
}

/* Reads the file behind a profile reply; cls is the descriptor. */
static ssize_t http_fd_read(void *cls, uint64_t pos, char *buf, size_t max) {
  int fd = (int)(intptr_t)cls;
  ssize_t n;
  do
    n = pread(fd, buf, max, (off_t)pos);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    return n;
  return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void http_fd_free(void *cls) { close((int)(intptr_t)cls); }

enum MHD_Result http_reply_fd(http_req_t *req, int fd, const char *filename) {
  struct stat st;
  struct MHD_Response *resp;
  char disposition[128];
  if (fstat(fd, &st) != 0) {
    close(fd);
    return http_serve_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed to read profile");
  }
  if (st.st_size == 0) {
    close(fd);
    resp = http_response_copy("", 0);
  } else {
    /* Read through send(), not sendfile(), so that a client that left cannot raise SIGPIPE. */
    resp = MHD_create_response_from_callback((uint64_t)st.st_size, 64 * 1024, http_fd_read,
                                             (void *)(intptr_t)fd, http_fd_free);
    if (resp == NULL)
      close(fd);
  }
  if (resp == NULL)
    return MHD_NO;
  snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
  MHD_add_response_header(resp, "Content-Disposition", disposition);
  return http_queue(req, MHD_HTTP_OK, resp, "application/octet-stream");
}

int http_memfd(void) {
  int fd = memfd_create("cprof-http", MFD_CLOEXEC);
  if (fd < 0 && errno == ENOSYS)
    fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  return fd < 0 ? -errno : fd;
}

/* ------------------------------------------------------------ requests -------------------- */

const char *http_query(http_req_t *req, const char *key) {
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

int http_int_parse(const char *s, int64_t *out) {
  const char *p = s;
  bool neg = false;
  uint64_t v = 0, limit;
  bool range = false;
  if (s == NULL)
    return -EINVAL;
  if (*p == '+' || *p == '-')
    neg = *p++ == '-';
  if (*p == '\0' || p[strspn(p, "0123456789")] != '\0')
    return -EINVAL;
  limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; *p != '\0'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (limit - d) / 10) {
      range = true;
      break;
    }
    v = v * 10 + d;
  }
  if (range) {
    *out = neg ? INT64_MIN : INT64_MAX;
    return -ERANGE;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

static const char http_seconds_too_long[] =
    "profile duration exceeds the server's limit of " HTTP_STR(HTTP_SECONDS_MAX) " seconds";

const char *http_seconds_default(const char *value, int def, int *sec) {
  int64_t v = 0;
  int rc = http_int_parse(value, &v);
  if (rc == -EINVAL || v <= 0) {
    *sec = def;
    return NULL;
  }
  if (v > HTTP_SECONDS_MAX)
    return http_seconds_too_long;
  *sec = (int)v;
  return NULL;
}

const char *http_seconds_delta(const char *value, int *sec) {
  int64_t v = 0;
  int rc;
  *sec = 0;
  if (value == NULL || value[0] == '\0')
    return NULL;
  rc = http_int_parse(value, &v);
  if (rc == -EINVAL || v <= 0)
    return "invalid value for \"seconds\" - must be a positive integer";
  if (v > HTTP_SECONDS_MAX)
    return http_seconds_too_long;
  *sec = (int)v;
  return NULL;
}

static int64_t http_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool http_sleep(http_req_t *req, int seconds) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct pollfd pfd = {.fd = ci != NULL ? ci->connect_fd : -1, .events = POLLRDHUP};
  int64_t deadline = http_now_ns() + (int64_t)seconds * 1000000000;
  bool whole = true;
  /* A profile may take longer than the idle timeout; suspend it, and restart it afterwards. */
  MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
  for (;;) {
    int64_t left = deadline - http_now_ns();
    int64_t left_ms = (left + 999999) / 1000000; /* rounded up: never wake before the deadline */
    int step = left_ms > HTTP_SLEEP_STEP_MS ? HTTP_SLEEP_STEP_MS : (int)left_ms;
    if (atomic_load(&http_stopping)) {
      whole = false;
      break;
    }
    if (left <= 0)
      break;
    pfd.revents = 0;
    if (pfd.fd < 0 || poll(&pfd, 1, step) < 0) {
      struct timespec ts = {0, (long)step * 1000000};
      nanosleep(&ts, NULL);
    } else if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
      whole = false; /* the client closed its side: nobody will read the answer */
      break;
    }
  }
  MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S);
  return whole;
}

/* ------------------------------------------------------------ tokens ---------------------- */

/* Compares given with the token in time that depends only on the token's length. */
static bool http_token_equal(const char *given, size_t glen) {
  unsigned diff = glen != http_token_len;
  for (size_t i = 0; i < http_token_len; i++)
    diff |= (unsigned char)http_token[i] ^ (unsigned char)(i < glen ? given[i] : 0);
  return diff == 0;
}

static bool http_authorized(http_req_t *req) {
  const char *auth, *q;
  if (http_token == NULL)
    return true;
  auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (auth != NULL) {
    auth += strspn(auth, " \t");
    if (strncasecmp(auth, "Bearer", 6) == 0 && (auth[6] == ' ' || auth[6] == '\t')) {
      size_t len;
      auth += 6 + strspn(auth + 6, " \t");
      len = strlen(auth);
      while (len > 0 && (auth[len - 1] == ' ' || auth[len - 1] == '\t'))
        len--;
      if (http_token_equal(auth, len))
        return true;
    }
  }
  q = http_query(req, "token");
  return q != NULL && http_token_equal(q, strlen(q));
}

/* ------------------------------------------------------------ routing --------------------- */

static const http_endpoint_t *http_endpoint_find(const char *name) {
  for (size_t i = 0; i < http_nendpoints; i++)
    if (strcmp(http_endpoints[i].name, name) == 0)
      return &http_endpoints[i];
  return http_endpoint_custom(name);
}

/*
 * Checks the token, the path and the method. Returns true when the request has been answered
 * already (*r says how); false with req->name and *ep set (ep NULL for the index) otherwise.
 */
static bool http_route(http_req_t *req, const char *url, const http_endpoint_t **ep,
                       enum MHD_Result *r) {
  bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  const char *name;
  *ep = NULL;
  if (!http_authorized(req)) {
    *r = http_reply_text(req, MHD_HTTP_UNAUTHORIZED,
                         "Unauthorized: this server wants a token, as \"Authorization: Bearer "
                         "<token>\" or \"?token=<token>\"",
                         MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"cprof\"");
    return true;
  }
  if (strcmp(url, "/debug/pprof") == 0) { /* Go's mux redirects to the subtree */
    *r = http_reply_text(req, MHD_HTTP_MOVED_PERMANENTLY, "Moved Permanently",
                         MHD_HTTP_HEADER_LOCATION, HTTP_PREFIX);
    return true;
  }
  if (strncmp(url, HTTP_PREFIX, strlen(HTTP_PREFIX)) != 0) {
    *r = http_reply_text(req, MHD_HTTP_NOT_FOUND, "404 page not found", NULL, NULL);
    return true;
  }
  name = url + strlen(HTTP_PREFIX);
  if (name[0] != '\0')
    *ep = http_endpoint_find(name);
  if (!get && !(*ep != NULL && ((*ep)->flags & HTTP_EP_POST) && strcmp(req->method, "POST") == 0)) {
    bool post = *ep != NULL && ((*ep)->flags & HTTP_EP_POST);
    *r = http_reply_text(req, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                         MHD_HTTP_HEADER_ALLOW, post ? "GET, HEAD, POST" : "GET, HEAD");
    return true;
  }
  if (name[0] != '\0' && *ep == NULL) {
    *r = http_serve_error(req, MHD_HTTP_NOT_FOUND, "Unknown profile");
    return true;
  }
  req->name = name;
  return false;
}

/* A POST in progress: its endpoint and the body gathered so far. */
typedef struct http_post {
  const http_endpoint_t *ep;
  char *data;
  size_t len;
  bool too_big;
} http_post_t;

static void http_post_append(http_post_t *post, const char *data, size_t len) {
  char *grown;
  if (post->too_big || len > HTTP_BODY_MAX - post->len) {
    post->too_big = true;
    return;
  }
  grown = realloc(post->data, post->len + len + 1);
  if (grown == NULL) {
    post->too_big = true;
    return;
  }
  memcpy(grown + post->len, data, len);
  post->data = grown;
  post->len += len;
  post->data[post->len] = '\0';
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **req_cls) {
  http_req_t req = {.conn = conn, .method = method};
  http_post_t *post = *req_cls;
  const http_endpoint_t *ep;
  enum MHD_Result r;
  (void)cls;
  (void)version;
  if (post == NULL) { /* the first call: headers are in, the body (if any) is not */
    if (http_route(&req, url, &ep, &r))
      return r;
    if (strcmp(method, "POST") != 0)
      return ep != NULL ? ep->serve(&req) : http_index_serve(&req);
    post = calloc(1, sizeof *post);
    if (post == NULL)
      return MHD_NO;
    post->ep = ep;
    *req_cls = post;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    http_post_append(post, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (post->too_big)
    return http_reply_text(&req, 413 /* Content Too Large */, "request body too large", NULL, NULL);
  req.name = post->ep->name;
  req.body = post->data != NULL ? post->data : "";
  req.body_len = post->len;
  return post->ep->serve(&req);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe) {
  http_post_t *post = *req_cls;
  (void)cls;
  (void)conn;
  (void)toe;
  if (post != NULL) {
    free(post->data);
    free(post);
    *req_cls = NULL;
  }
}

/* ------------------------------------------------------------ addresses ------------------- */

static bool http_addr_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  }
  return false;
}

/* Resolves host (without brackets; "" is 127.0.0.1) into ss with port. 0 or -EINVAL. A name
 * other than localhost goes through getaddrinfo(), which may block on DNS; numbers never do. */
static int http_host_resolve(const char *host, bool bracketed, int port,
                             struct sockaddr_storage *ss, socklen_t *len) {
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  memset(ss, 0, sizeof *ss);
  if (!bracketed && (host[0] == '\0' || strcasecmp(host, "localhost") == 0))
    host = "127.0.0.1";
  if (!bracketed && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *len = sizeof *in;
    return 0;
  }
  if (bracketed) {
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
      return -EINVAL;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return 0;
  }
  /* A host name: the first address it resolves to. */
  if (strlen(host) > 253 || getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
    return -EINVAL;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  if (ss->ss_family == AF_INET)
    in->sin_port = htons((uint16_t)port);
  else if (ss->ss_family == AF_INET6)
    in6->sin6_port = htons((uint16_t)port);
  else
    return -EINVAL;
  return 0;
}

/* Parses "host:port", ":port" or "[v6]:port". 0 or -EINVAL. */
static int http_addr_parse(const char *addr, struct sockaddr_storage *ss, socklen_t *len) {
  char host[256];
  const char *colon, *hstart = addr, *hend;
  bool bracketed = false;
  int64_t port;
  if (addr == NULL)
    return -EINVAL;
  if (addr[0] == '[') {
    hstart = addr + 1;
    hend = strchr(hstart, ']');
    if (hend == NULL || hend[1] != ':')
      return -EINVAL;
    colon = hend + 1;
    bracketed = true;
  } else {
    colon = strrchr(addr, ':');
    if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
      return -EINVAL; /* no port, or a bare IPv6 address */
    hend = colon;
  }
  if ((size_t)(hend - hstart) >= sizeof host || strlen(colon + 1) > 5 ||
      colon[1 + strspn(colon + 1, "0123456789")] != '\0' ||
      http_int_parse(colon + 1, &port) != 0 || port > 65535)
    return -EINVAL;
  memcpy(host, hstart, (size_t)(hend - hstart));
  host[hend - hstart] = '\0';
  return http_host_resolve(host, bracketed, (int)port, ss, len);
}

/* Opens a listening socket on ss. A descriptor or a negative errno. */
static int http_listen(const struct sockaddr_storage *ss, socklen_t len) {
  int one = 1, err;
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -errno;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 64) != 0) {
    err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

/* ------------------------------------------------------------ the server ------------------ */

/* Starts the daemon on the listening socket fd, which it takes. NULL on failure (fd closed). */
static struct MHD_Daemon *http_daemon_start(int fd) {
  struct stat before, after;
  struct MHD_Daemon *d;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                   MHD_USE_ITC;
  fstat(fd, &before);
  d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                       MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
                       MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_CONN_PER_IP,
                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
                       MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL, MHD_OPTION_END);
  /* On some of its failure paths the library closes the socket and on others not; close it only
   * if the descriptor still names the same socket (another thread may have reused the number). */
  if (d == NULL && fstat(fd, &after) == 0 && after.st_ino == before.st_ino &&
      after.st_dev == before.st_dev)
    close(fd);
  return d;
}

int http_start(const char *addr, const char *token) {
  struct sockaddr_storage ss;
  socklen_t len = 0;
  const union MHD_DaemonInfo *info;
  int fd, rc = http_addr_parse(addr, &ss, &len);
  const char *shown = addr != NULL ? addr : "(null)";
  if (token != NULL && token[0] == '\0')
    token = NULL;
  if (rc != 0) {
    http_report("cannot serve /debug/pprof on %s: bad address (want host:port, :port or "
                "[ipv6]:port)", shown);
    return rc;
  }
  if (token == NULL && !http_addr_loopback(&ss)) {
    http_report("cannot serve /debug/pprof on %s: a non-loopback address needs a token "
                "(CPROF_HTTP_TOKEN)", shown);
    return -EACCES;
  }
  pthread_mutex_lock(&http_lock);
  if (http_daemon != NULL) {
    pthread_mutex_unlock(&http_lock);
    return -EALREADY;
  }
  rc = 0;
  http_token = token != NULL ? strdup(token) : NULL;
  http_token_len = token != NULL ? strlen(token) : 0;
  if (token != NULL && http_token == NULL)
    rc = -ENOMEM;
  fd = rc == 0 ? http_listen(&ss, len) : rc;
  if (fd < 0) {
    rc = fd;
  } else {
    atomic_store(&http_stopping, false);
    http_daemon = http_daemon_start(fd);
    if (http_daemon == NULL)
      rc = -ENOMEM; /* threads or memory: the library does not say which */
  }
  if (rc != 0) {
    free(http_token);
    http_token = NULL;
    http_token_len = 0;
    pthread_mutex_unlock(&http_lock);
    http_report("cannot serve /debug/pprof on %s: %s", shown, strerror(-rc));
    return rc;
  }
  info = MHD_get_daemon_info(http_daemon, MHD_DAEMON_INFO_BIND_PORT);
  http_bound_port = info != NULL ? info->port : 0;
  pthread_mutex_unlock(&http_lock);
  return 0;
}

int http_port(void) {
  int port;
  pthread_mutex_lock(&http_lock);
  port = http_daemon != NULL ? http_bound_port : -ENOENT;
  pthread_mutex_unlock(&http_lock);
  return port;
}

int http_stop(void) {
  pthread_mutex_lock(&http_lock);
  if (http_daemon == NULL) {
    pthread_mutex_unlock(&http_lock);
    return -ENOENT;
  }
  /* Handlers asleep in http_sleep() see this within a step; MHD_stop_daemon joins them all. */
  atomic_store(&http_stopping, true);
  MHD_stop_daemon(http_daemon);
  http_daemon = NULL;
  http_bound_port = 0;
  free(http_token);
  http_token = NULL;
  http_token_len = 0;
  pthread_mutex_unlock(&http_lock);
  return 0;
}
