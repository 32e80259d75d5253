/* The HTTP/1.1 client of `spillway loadgen`: keep-alive connections on non-blocking
 * sockets, each carrying one request at a time (never pipelined: serve holds a pipelined
 * request behind the one before it, which would hide queueing inside the connection).
 * A request is written from its pre-built bytes with send(); the answer is read into the
 * connection's own buffer and parsed in place: the status line, Content-Length,
 * Connection, Transfer-Encoding and Retry-After, then the body.
 *
 * Why raw sockets on libevent events, rather than bufferevents, evhttp's client or
 * libcurl: the client's CPU per request is what a load generator must keep small, or it
 * measures itself. Measured while choosing (closed loop, 8 connections, one 4.3 KB
 * Fashion-MNIST request against `spillway serve`, Release, 2-vCPU EPYC VM, 2 x 5 s runs
 * each, user + system CPU per answer; bench/README.md has the figures of the client as
 * it is): raw sockets 10.6-14.4 µs (user 0.8-0.9), bufferevents 14.3-16.4 µs (user
 * 2.3-3.5: every request is copied into an evbuffer, and write interest is switched on and
 * off around it with two epoll_ctl calls), evhttp's client 26-30 µs (a request object,
 * header lists and buffers allocated per request), libcurl multi 30-45 µs (handle reset
 * and socket re-registration per transfer; bench/README.md has the same floor for the
 * Invoke client). The system time is loopback TCP, which any client pays. So a request
 * costs one send() and, in the common case, one recv(): no copy, no allocation, no
 * epoll_ctl, and write interest is armed only when the socket buffer is full. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/loadgen_internal.h"

/* An answer's head may be this long, and its body this long; past either the connection
 * is dropped (a transport error), so a broken server cannot make the client grow. */
#define HEAD_MAX_BYTES (64 * 1024)
#define BODY_MAX_BYTES (64 * 1024 * 1024)
#define IN_MIN_BYTES 16384

static void on_conn_readable(evutil_socket_t fd, short what, void *arg);
static void on_conn_writable(evutil_socket_t fd, short what, void *arg);

static void reset_answer(sw_lg_conn_t *c)
{
    c->_in_len = c->_scan = c->_head_len = c->_body_len = 0;
    c->_head_done = c->_to_eof = c->_close_after = false;
    c->_status = 0;
    c->_retry_after_s = -1;
}

int sw__lg_conn_open(sw_lg_conn_t *c, struct event_base *base, const struct sockaddr *addr,
                     socklen_t addr_len)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    /* A request goes in one send(); Nagle would only delay the tail of a large one. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, addr, addr_len) < 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (!c->_in) {
        c->_in_cap = IN_MIN_BYTES;
        c->_in = sw_malloc(c->_in_cap);
    }
    c->_fd = fd;
    c->_rev = event_new(base, fd, EV_READ | EV_PERSIST, on_conn_readable, c);
    c->_wev = event_new(base, fd, EV_WRITE, on_conn_writable, c);
    c->_out = NULL;
    c->_waiting = false;
    reset_answer(c);
    c->state = SW_LG_CONN_CONNECTING;
    /* Writability reports the connect's outcome, also one that completed at once. */
    event_add(c->_wev, NULL);
    return 0;
}

bool sw__lg_conn_got_nothing(const sw_lg_conn_t *c)
{
    return c->_in_len == 0;
}

void sw__lg_conn_close(sw_lg_conn_t *c)
{
    if (c->state == SW_LG_CONN_CLOSED)
        return;
    event_free(c->_rev);
    event_free(c->_wev);
    c->_rev = c->_wev = NULL;
    close(c->_fd);
    c->_fd = -1;
    c->_out = NULL;
    c->_waiting = false;
    c->state = SW_LG_CONN_CLOSED;
}

void sw__lg_conn_deinit(sw_lg_conn_t *c)
{
    sw__lg_conn_close(c);
    sw_free(c->_in);
    c->_in = NULL;
}

/* Closes c and tells the owner, naming what failed. */
static void fail(sw_lg_conn_t *c, const char *what, int err)
{
    if (err)
        snprintf(c->_why, sizeof(c->_why), "%s: %s", what, strerror(err));
    else
        snprintf(c->_why, sizeof(c->_why), "%s", what);
    sw__lg_conn_close(c);
    c->ops->failed(c->ops->self, c, c->_why);
}

/* Writes as much of the request as the socket takes. Returns 0 or a negative errno. */
static int write_some(sw_lg_conn_t *c)
{
    while (c->_out_off < c->_out_len) {
        ssize_t n = send(c->_fd, c->_out + c->_out_off, c->_out_len - c->_out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                event_add(c->_wev, NULL);
                return 0;
            }
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c->_out_off += (size_t)n;
    }
    return 0;
}

int sw__lg_conn_send(sw_lg_conn_t *c, const char *req, size_t len)
{
    SW_ASSERT(c->state == SW_LG_CONN_OPEN && !c->_waiting);
    c->_out = req;
    c->_out_len = len;
    c->_out_off = 0;
    c->_waiting = true;
    reset_answer(c);
    int rc = write_some(c);
    if (rc < 0)
        sw__lg_conn_close(c);
    return rc;
}

static void on_conn_writable(evutil_socket_t fd, short what, void *arg)
{
    sw_lg_conn_t *c = arg;
    (void)what;
    if (c->state == SW_LG_CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            fail(c, "connect", err);
            return;
        }
        c->state = SW_LG_CONN_OPEN;
        event_add(c->_rev, NULL);
        c->ops->connected(c->ops->self, c);
        return;
    }
    if (c->_waiting) {
        int rc = write_some(c);
        if (rc < 0)
            fail(c, "send", -rc);
    }
}

/* ---- Reading the answer ---- */

/* Whether the header line [p, end) is `name: ...`; sets *value to its trimmed value. */
static bool header_is(const char *p, const char *end, const char *name, const char **value,
                      size_t *value_len)
{
    size_t n = strlen(name);
    if ((size_t)(end - p) <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
        return false;
    const char *v = p + n + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *e = end;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *value = v;
    *value_len = (size_t)(e - v);
    return true;
}

/* A whole number in [v, v + len); -1 when it is none or past max. */
static long long parse_count(const char *v, size_t len, long long max)
{
    long long x = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9' || x > max / 10)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x <= max ? x : -1;
}

static bool has_token(const char *v, size_t len, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(v + i, token, n) == 0)
            return true;
    return false;
}

/* One header line of the answer. Returns NULL, or what is wrong with it. */
static const char *parse_header(sw_lg_conn_t *c, const char *p, const char *end, bool *has_len)
{
    const char *v;
    size_t n;
    if (header_is(p, end, "Content-Length", &v, &n)) {
        long long len = parse_count(v, n, BODY_MAX_BYTES);
        if (len < 0 || (*has_len && (size_t)len != c->_body_len))
            return "the answer's Content-Length is malformed, repeated or over 64 MiB";
        c->_body_len = (size_t)len;
        *has_len = true;
    } else if (header_is(p, end, "Transfer-Encoding", &v, &n)) {
        if (!(n == 8 && strncasecmp(v, "identity", 8) == 0))
            return "the answer is chunked (Transfer-Encoding), which loadgen does not read";
    } else if (header_is(p, end, "Connection", &v, &n)) {
        if (has_token(v, n, "close"))
            c->_close_after = true;
        else if (has_token(v, n, "keep-alive"))
            c->_close_after = false;
    } else if (header_is(p, end, "Retry-After", &v, &n)) {
        c->_retry_after_s = (int)parse_count(v, n, 86400);
    }
    return NULL;
}

/* Parses the head in c->_in[0, head_len). Returns NULL or what is wrong. */
static const char *parse_head(sw_lg_conn_t *c, size_t head_len)
{
    const char *p = c->_in, *end = c->_in + head_len - 2; /* before the blank line */
    const char *eol = memchr(p, '\n', (size_t)(end - p + 1));
    if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return "the answer does not start with an HTTP/1.x status line";
    long long status = parse_count(p + 9, 3, 599);
    if (status < 100 || (p[12] != ' ' && p[12] != '\r'))
        return "the answer's status line has no valid status";
    c->_status = (int)status;
    c->_close_after = p[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
    bool has_len = false;
    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        const char *bad = parse_header(c, p, line_end, &has_len);
        if (bad)
            return bad;
    }
    if (status < 200)
        return NULL; /* an interim head frames no body */
    if (status == 204 || status == 304) {
        c->_body_len = 0;
    } else if (!has_len) {
        c->_to_eof = true; /* the body ends when the server closes */
        c->_close_after = true;
    }
    return NULL;
}

/* Finds and parses the head once it is in. Returns 1 when parsed, 0 when more bytes are
 * needed, or -1 after failing the connection. */
static int read_head(sw_lg_conn_t *c)
{
    for (;;) {
        size_t from = c->_scan > 3 ? c->_scan - 3 : 0;
        const char *e =
            c->_in_len > from ? memmem(c->_in + from, c->_in_len - from, "\r\n\r\n", 4) : NULL;
        if (!e) {
            c->_scan = c->_in_len;
            if (c->_in_len <= HEAD_MAX_BYTES)
                return 0;
            fail(c, "the answer's head is over 64 KiB", 0);
            return -1;
        }
        size_t head_len = (size_t)(e - c->_in) + 4;
        const char *bad = parse_head(c, head_len);
        if (bad) {
            fail(c, bad, 0);
            return -1;
        }
        if (c->_status >= 200) {
            c->_head_len = head_len;
            c->_head_done = true;
            return 1;
        }
        /* An interim answer (100 Continue and the like): the real one follows. */
        memmove(c->_in, c->_in + head_len, c->_in_len - head_len);
        c->_in_len -= head_len;
        c->_scan = c->_body_len = 0;
        c->_close_after = false;
    }
}

/* Hands the whole answer to the owner. */
static void deliver(sw_lg_conn_t *c)
{
    sw_lg_answer_t a = {
        .status = c->_status,
        .body = c->_in + c->_head_len,
        .body_len = c->_to_eof ? c->_in_len - c->_head_len : c->_body_len,
        .retry_after_s = c->_retry_after_s,
    };
    c->_waiting = false;
    /* An answer that came before the whole request was written ends the exchange: the
     * server will not read the rest as a request of its own. */
    if (c->_close_after || c->_out_off < c->_out_len)
        sw__lg_conn_close(c);
    c->ops->answered(c->ops->self, c, &a);
}

/* After new bytes: delivers the answer when it is complete. */
static void parse(sw_lg_conn_t *c)
{
    if (!c->_waiting) {
        fail(c, "the server sent bytes with no request outstanding", 0);
        return;
    }
    if (!c->_head_done && read_head(c) <= 0)
        return;
    if (c->_to_eof)
        return;
    size_t need = c->_head_len + c->_body_len;
    if (c->_in_len < need)
        return;
    if (c->_in_len > need) {
        fail(c, "the server sent more bytes than its answer's Content-Length", 0);
        return;
    }
    deliver(c);
}

/* Room for what the answer still needs (its declared length, or more of a head). */
static void make_room(sw_lg_conn_t *c)
{
    size_t want = c->_in_len + 4096;
    if (c->_head_done && !c->_to_eof)
        want = SW_MAX(want, c->_head_len + c->_body_len + 1);
    if (want <= c->_in_cap)
        return;
    size_t cap = c->_in_cap;
    while (cap < want)
        cap *= 2;
    c->_in = sw_realloc(c->_in, cap);
    c->_in_cap = cap;
}

static void on_eof(sw_lg_conn_t *c)
{
    if (!c->_waiting) {
        sw__lg_conn_close(c);
        c->ops->failed(c->ops->self, c, NULL); /* an idle connection the server closed */
    } else if (c->_head_done && c->_to_eof) {
        deliver(c);
    } else {
        fail(c,
             c->_in_len ? "the server closed the connection in the middle of its answer"
                        : "the server closed the connection without answering",
             0);
    }
}

static void on_conn_readable(evutil_socket_t fd, short what, void *arg)
{
    sw_lg_conn_t *c = arg;
    (void)what;
    if (c->_in_len > (size_t)HEAD_MAX_BYTES + BODY_MAX_BYTES) {
        fail(c, "the answer is over its size limit", 0);
        return;
    }
    make_room(c);
    ssize_t n = recv(fd, c->_in + c->_in_len, c->_in_cap - c->_in_len, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            fail(c, "recv", errno);
        return;
    }
    if (n == 0) {
        on_eof(c);
        return;
    }
    c->_in_len += (size_t)n;
    parse(c);
}
