/*
 * http.h — the inside of the /debug/pprof server: what an endpoint handler may use.
 *
 * The server (http.c) owns libmicrohttpd, the listening socket, authentication, routing and the
 * shapes of responses; the endpoints (http_pprof.c) are rows of one table, each a name, Go's
 * description, an optional count for the index page and a handler. A handler receives the request
 * after the method, the token and the path have been checked, and answers with exactly one of the
 * http_reply* / http_serve_error calls below, returning what that call returned (or MHD_NO to drop
 * the connection without an answer, when the client has gone away).
 *
 * Every response the server sends carries X-Content-Type-Options: nosniff, as Go's do.
 */
#ifndef CPROF_RUNTIME_HTTP_H
#define CPROF_RUNTIME_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The server's life (see cprof_http_start() and friends in cprof.h). */
int http_start(const char *addr, const char *token);
int http_port(void);
int http_stop(void);

/* The longest profile or delta a request may ask for, in seconds. */
#define HTTP_SECONDS_MAX 3600

/* One request, as a handler sees it. */
typedef struct http_req {
  struct MHD_Connection *conn;
  const char *method; /* "GET", "HEAD" or, for endpoints that accept it, "POST" */
  const char *name;   /* the path after /debug/pprof/ ("" for the index) */
  const char *body;   /* a POST's body (NUL-terminated), else NULL */
  size_t body_len;
} http_req_t;

/* Endpoint flags. */
#define HTTP_EP_POST 1u     /* also accepts POST, with the body gathered into req->body */
#define HTTP_EP_UNLISTED 2u /* served but not shown on the index page (Go leaves out symbol) */

/* One row of the endpoint table. */
typedef struct http_endpoint {
  const char *name;
  const char *desc;        /* Go's description, shown on the index page */
  long (*count)(void);     /* the index page's count; NULL shows 0 */
  enum MHD_Result (*serve)(http_req_t *req);
  unsigned flags;
} http_endpoint_t;

/* http_pprof.c: the table (sorted or not; the index sorts) and the index page. */
extern const http_endpoint_t http_endpoints[];
extern const size_t http_nendpoints;
enum MHD_Result http_index_serve(http_req_t *req);

/* The row that serves name when it is a user-defined profile (cprof_profile_new), else NULL. */
const http_endpoint_t *http_endpoint_custom(const char *name);

/* ------------------------------------------------------------ responses (http.c) ---------- */

/* Replies with a copy of body. type NULL sends no Content-Type. */
enum MHD_Result http_reply(http_req_t *req, unsigned status, const char *type, const void *body,
                           size_t len);

/* Go's serveError: status, text/plain; charset=utf-8, X-Go-Pprof: 1, and msg plus a newline. */
enum MHD_Result http_serve_error(http_req_t *req, unsigned status, const char *msg);

/* Replies 200 application/octet-stream, Content-Disposition: attachment; filename="<filename>",
 * with everything fd holds (from offset 0). Takes fd, closing it in every case. */
enum MHD_Result http_reply_fd(http_req_t *req, int fd, const char *filename);

/* A fresh anonymous file to write a profile into (memfd). A descriptor, or a negative errno. */
int http_memfd(void);

/* ------------------------------------------------------------ requests (http.c) ----------- */

/* The first value of a query parameter, percent-decoded, or NULL when absent. */
const char *http_query(http_req_t *req, const char *key);

/*
 * Parses a decimal integer the way Go's strconv.ParseInt(s, 10, 64) does: an optional sign, then
 * one or more digits, nothing else. 0, -EINVAL (not a number, or NULL) or -ERANGE (too large).
 */
int http_int_parse(const char *s, int64_t *out);

/*
 * The rules for a seconds parameter, as pure functions of its value (NULL when absent). Each
 * returns NULL with *sec set, or the reason for a 400 (for http_serve_error).
 *   http_seconds_default: /profile's rule — absent, unparseable or <= 0 means def; a value above
 *     HTTP_SECONDS_MAX (or too large to parse) is refused.
 *   http_seconds_delta: delta profiles' rule — absent means 0 (no delta); anything but a positive
 *     integer is refused with Go's message; above HTTP_SECONDS_MAX is refused.
 */
const char *http_seconds_default(const char *value, int def, int *sec);
const char *http_seconds_delta(const char *value, int *sec);

/*
 * Sleeps seconds, in short steps, with the connection's idle timeout suspended. Returns true when
 * the whole time passed, false when it was cut short because the client went away or the server
 * is stopping (the handler should then stop its work and return MHD_NO).
 */
bool http_sleep(http_req_t *req, int seconds);

/* ext_core->report when there is a core to report to. */
void http_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* CPROF_RUNTIME_HTTP_H */
