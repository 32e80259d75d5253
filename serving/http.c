/* The KServe v2 REST frontend (see http.h) on evhttp from libevent 2.1, which lacks three
 * things this module needs, so it adds them around evhttp through public API only:
 *
 * - A connection bound and a close hook for every connection. 2.1 cannot hand an accepted
 *   socket to evhttp, but it lets us create each connection's bufferevent (evhttp_set_bevcb).
 *   That callback counts the connection; a one-shot event, run before the loop next polls,
 *   then finds evhttp's connection through the bufferevent's callback argument and sets its
 *   close callback (or closes it, over the bound).
 * - A hook before the body is read (2.1 has no evhttp_set_newreqcb, so a request's header
 *   callback cannot be set in time): a callback on the connection's input buffer sees each
 *   byte before evhttp does, starts the read deadline, and follows the framing to refuse an
 *   oversized head or body with a JSON answer of our own.
 * - Total deadlines: evhttp's timeouts reset on every byte. One timer per connection
 *   replaces them, re-armed at each state change.
 *
 * Everything per connection and per call is pooled: connection records, call objects and
 * their float buffers, and the response buffer are reused, so a request allocates only what
 * evhttp and jansson allocate inside. */
#include "serving/http.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "serving/kserve.h"

#define SW_LOG_MODULE "http"
#include "common/log.h"
#include "common/net.h"

/* After a refusal is sent, how long we drop what the client still sends before closing. */
#define LINGER_MS 1000
/* While the driver holds a call we read only to notice the client leaving; a client that
 * pipelines more than this meanwhile is simply not read further until the answer. */
#define HELD_INPUT_MAX 16384
#define MODEL_NAME_MAX 128
#define MSG_MAX 320

typedef enum {
    CONN_FREE,      /* in the pool */
    CONN_NEW,       /* accepted; evhttp's connection not found yet (on_conns_new) */
    CONN_IDLE,      /* waiting for a request */
    CONN_READING,   /* a request has begun and is not read in full */
    CONN_HELD,      /* its call is with the driver (watched for a close once ops.infer returns) */
    CONN_WRITING,   /* evhttp is sending an answer */
    CONN_REFUSING,  /* sending our own 413 or 431, with evhttp set aside */
    CONN_LINGERING, /* that answer is sent; dropping input until the client closes */
} conn_state_t;

/* Where the framing scanner is in the request (see scan_byte). */
typedef enum {
    SCAN_OFF,        /* nothing (more) to check in this request */
    SCAN_REQLINE,    /* the request line */
    SCAN_LINE_START, /* the first byte of a header line */
    SCAN_LINE_CR,    /* "\r" at the start of a line */
    SCAN_NAME,       /* a header name that may be Content-Length or Transfer-Encoding */
    SCAN_VALUE_WS,   /* spaces before that header's value */
    SCAN_CL_DIGITS,  /* Content-Length's digits */
    SCAN_TE_VALUE,   /* matching "chunked" */
    SCAN_TE_TAIL,    /* after "chunked": only spaces may follow */
    SCAN_SKIP_LINE,  /* the rest of a line that does not matter */
    SCAN_CHUNK_SIZE, /* a chunk-size line's hex digits */
    SCAN_CHUNK_EXT,  /* the rest of a chunk-size line */
    SCAN_CHUNK_DATA, /* chunk data */
} scan_state_t;

typedef enum { HDR_CL, HDR_TE } scan_hdr_t;

typedef enum { SCAN_MORE, SCAN_HEAD_TOO_BIG, SCAN_BODY_TOO_BIG } scan_result_t;

typedef struct scan {
    scan_state_t state;
    scan_hdr_t hdr; /* the header being matched in SCAN_NAME .. SCAN_TE_TAIL */
    unsigned pos;   /* bytes of its name, or of "chunked", matched so far */
    bool have_cl, have_te, chunked, digit;
    uint64_t value;      /* the number being read */
    uint64_t cl;         /* Content-Length */
    uint64_t head_bytes; /* request line and headers so far */
    uint64_t body_bytes; /* chunk sizes so far */
    uint64_t chunk_left; /* bytes of chunk data still to skip */
} scan_t;

typedef struct conn {
    sw_srv_http_t *h;
    conn_state_t state;
    bool refused; /* over max_connections: closed in on_conns_new */
    struct bufferevent *bev;
    struct evhttp_connection *evcon;
    evutil_socket_t fd;
    struct event *timer;                /* the one deadline; made once, reused */
    struct evbuffer_cb_entry *input_cb; /* on_conn_input on the bufferevent's input */
    bool input_bounded;                 /* the HELD read watermark is set */
    scan_t scan;
    sw_srv_infer_t *held; /* the call the driver holds, in CONN_HELD */
    struct conn *next;    /* the pending list, or the pool */
} conn_t;

struct sw_srv_infer {
    sw_srv_http_t *h;
    conn_t *conn;               /* NULL once abandoned */
    struct evhttp_request *req; /* NULL once abandoned */
    sw_srv_kserve_req_t in;     /* rows and id; buffers kept across calls */
    float *out;
    size_t out_cap; /* floats */
    sw_time_t received_at;
    uint64_t seq;
    void *user;
    bool held, abandoned;
    sw_srv_infer_t *next_free;
};

struct sw_srv_http {
    struct event_base *base;
    sw_srv_http_opts_t o; /* strings point into the copies below */
    sw_srv_http_ops_t ops;
    char *listen, *model_name, *platform, *input_name, *output_name;
    char version[16];
    size_t name_len, version_len;
    char *server_meta, *model_meta; /* fixed JSON bodies, built once */
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    struct event *conns_new_ev; /* runs on_conns_new */
    conn_t *pending;            /* accepted, waiting for on_conns_new */
    conn_t *free_conns;
    conn_t **conns; /* every record ever allocated, for destroy */
    size_t n_conns;
    conn_t **by_fd; /* the connection on each socket, to find it from a request */
    size_t by_fd_len;
    sw_srv_infer_t *free_infers;
    sw_srv_infer_t **infers; /* every call object ever allocated, for destroy */
    size_t n_infers;
    uint64_t seq;
    sw_srv_kserve_buf_t resp; /* the body being sent; reused */
    char *body;               /* a request body that evhttp holds in pieces; reused */
    size_t body_cap;
    bool destroying;
    bool in_request; /* inside on_request: evhttp's read path is on the stack */
    sw_srv_http_stats_t stats;
};

static void conn_enter(conn_t *c, conn_state_t next);

/* ---- the framing scanner ---- */

static int lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The head is complete: decide on the declared length, or start following chunks. evhttp
 * reads a chunked body even when Content-Length is present, and so do we. */
static scan_result_t scan_head_end(scan_t *s, uint64_t max_body)
{
    if (s->chunked) {
        s->state = SCAN_CHUNK_SIZE;
        s->value = 0;
        s->digit = false;
        return SCAN_MORE;
    }
    s->state = SCAN_OFF;
    return s->have_cl && s->cl > max_body ? SCAN_BODY_TOO_BIG : SCAN_MORE;
}

/* A chunk-size line ended. Empty lines (the CRLF after chunk data) are skipped, as evhttp
 * does; the size is added before the data is read, as evhttp checks its own limit. */
static scan_result_t scan_chunk_line(scan_t *s, uint64_t max_body)
{
    if (!s->digit) {
        s->state = SCAN_CHUNK_SIZE;
        return SCAN_MORE;
    }
    if (s->value > max_body - s->body_bytes)
        return SCAN_BODY_TOO_BIG;
    s->body_bytes += s->value;
    s->chunk_left = s->value;
    s->state = s->value ? SCAN_CHUNK_DATA : SCAN_OFF; /* a zero chunk ends the body */
    s->value = 0;
    s->digit = false;
    return SCAN_MORE;
}

/* One byte of a chunked body's framing. */
static scan_result_t scan_chunk_byte(scan_t *s, unsigned char c, uint64_t max_body)
{
    if (s->state == SCAN_CHUNK_EXT)
        return c == '\n' ? scan_chunk_line(s, max_body) : SCAN_MORE;
    int v = hex_value(c);
    if (v >= 0) {
        if (s->value > (UINT64_MAX >> 4))
            return SCAN_BODY_TOO_BIG;
        s->value = s->value * 16 + (uint64_t)v;
        s->digit = true;
    } else if (c == '\n') {
        return scan_chunk_line(s, max_body);
    } else if (c == ';' || c == ' ' || c == '\t' || c == '\r') {
        s->state = SCAN_CHUNK_EXT;
    } else {
        s->state = SCAN_OFF; /* corrupt: evhttp rejects it itself */
    }
    return SCAN_MORE;
}

/* The first byte of a header line: the end of the head, or maybe a header we want. Only
 * the first Content-Length and Transfer-Encoding count, as in evhttp_find_header(). */
static void scan_line_start(scan_t *s, unsigned char c)
{
    int lc = lower(c);
    s->pos = 1;
    if (c == '\r')
        s->state = SCAN_LINE_CR;
    else if (lc == 'c' && !s->have_cl)
        s->state = SCAN_NAME, s->hdr = HDR_CL;
    else if (lc == 't' && !s->have_te)
        s->state = SCAN_NAME, s->hdr = HDR_TE;
    else
        s->state = SCAN_SKIP_LINE; /* another header, or a continuation line */
}

/* One byte inside a wanted header: its name, the spaces, then its value. */
static void scan_header_byte(scan_t *s, unsigned char c)
{
    static const char *const names[] = {"content-length", "transfer-encoding"};
    const char *name = names[s->hdr];
    switch (s->state) {
    case SCAN_NAME:
        if (!name[s->pos])
            s->state = c == ':' ? SCAN_VALUE_WS : SCAN_SKIP_LINE;
        else if (lower(c) == name[s->pos])
            s->pos++;
        else
            s->state = SCAN_SKIP_LINE;
        return;
    case SCAN_VALUE_WS:
        if (c == ' ' || c == '\t')
            return;
        if (s->hdr == HDR_CL) {
            s->have_cl = true; /* a malformed first one still hides later ones */
            s->value = 0;
            s->state = c >= '0' && c <= '9' ? SCAN_CL_DIGITS : SCAN_SKIP_LINE;
        } else {
            s->have_te = true;
            s->pos = 0;
            s->state = SCAN_TE_VALUE;
        }
        if (s->state != SCAN_SKIP_LINE)
            scan_header_byte(s, c);
        return;
    case SCAN_CL_DIGITS:
        if (c >= '0' && c <= '9') {
            s->value = s->value > UINT64_MAX / 10 - 1 ? UINT64_MAX : s->value * 10 + (c - '0');
            return;
        }
        s->cl = s->value;
        s->state = SCAN_SKIP_LINE;
        return;
    case SCAN_TE_VALUE:
        if (lower(c) == "chunked"[s->pos])
            s->state = ++s->pos == 7 ? SCAN_TE_TAIL : SCAN_TE_VALUE;
        else
            s->state = SCAN_SKIP_LINE;
        return;
    case SCAN_TE_TAIL:
        if (c == '\r' || c == '\n')
            s->chunked = true;
        else if (c != ' ' && c != '\t')
            s->state = SCAN_SKIP_LINE;
        return;
    default: return;
    }
}

/* One byte of the head. */
static scan_result_t scan_head_byte(scan_t *s, unsigned char c, size_t max_header,
                                    uint64_t max_body)
{
    if (++s->head_bytes > max_header)
        return SCAN_HEAD_TOO_BIG;
    switch (s->state) {
    case SCAN_LINE_START:
        if (c == '\n')
            return scan_head_end(s, max_body);
        scan_line_start(s, c);
        return SCAN_MORE;
    case SCAN_LINE_CR:
        if (c == '\n')
            return scan_head_end(s, max_body);
        s->state = SCAN_SKIP_LINE;
        return SCAN_MORE;
    case SCAN_REQLINE:
    case SCAN_SKIP_LINE: break;
    default: scan_header_byte(s, c); break;
    }
    if (c == '\n')
        s->state = SCAN_LINE_START;
    return SCAN_MORE;
}

/* Feeds bytes p[0..n) of the request. Chunk data is skipped in bulk; every other byte
 * goes through the state machine once. */
static scan_result_t scan_feed(scan_t *s, const unsigned char *p, size_t n, size_t max_header,
                               uint64_t max_body)
{
    for (size_t i = 0; i < n && s->state != SCAN_OFF; i++) {
        scan_result_t r;
        if (s->state == SCAN_CHUNK_DATA) {
            uint64_t take = SW_MIN(s->chunk_left, (uint64_t)(n - i));
            s->chunk_left -= take;
            i += (size_t)take - 1;
            if (!s->chunk_left)
                s->state = SCAN_CHUNK_SIZE;
            continue;
        }
        if (s->state >= SCAN_CHUNK_SIZE)
            r = scan_chunk_byte(s, p[i], max_body);
        else
            r = scan_head_byte(s, p[i], max_header, max_body);
        if (r != SCAN_MORE)
            return r;
    }
    return SCAN_MORE;
}

/* ---- small helpers ---- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "?";
}

static void count_status(sw_srv_http_t *h, int status, size_t body_bytes)
{
    h->stats.response_body_bytes_total += body_bytes;
    if (status < 300)
        h->stats.responses_2xx_total++;
    else if (status < 500)
        h->stats.responses_4xx_total++;
    else
        h->stats.responses_5xx_total++;
}

/* ---- the connection state machine ---- */

static void arm(conn_t *c, int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000 * 1000)};
    evtimer_add(c->timer, &tv);
}

/* While the driver holds a call, evhttp has stopped reading the connection, so a client
 * that leaves would go unnoticed until the answer. Reading again with no read callback
 * (what evhttp itself does while it writes) lets a close reach evhttp's event callback,
 * which detaches the request and frees the connection, so its close callback tells us. */
static void watch_for_close(conn_t *c)
{
    bufferevent_data_cb wcb;
    bufferevent_event_cb ecb;
    void *arg;
    bufferevent_getcb(c->bev, NULL, &wcb, &ecb, &arg);
    bufferevent_setcb(c->bev, NULL, wcb, ecb, arg);
    bufferevent_setwatermark(c->bev, EV_READ, 0, HELD_INPUT_MAX);
    c->input_bounded = true;
    bufferevent_enable(c->bev, EV_READ);
}

/* Every transition of a connection goes through here; each state has one deadline. */
static void conn_enter(conn_t *c, conn_state_t next)
{
    const sw_srv_http_opts_t *o = &c->h->o;
    c->state = next;
    switch (next) {
    case CONN_IDLE:
        if (c->input_bounded) {
            bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
            c->input_bounded = false;
        }
        arm(c, o->idle_timeout_ms);
        break;
    case CONN_READING:
        c->scan = (scan_t){.state = SCAN_REQLINE};
        arm(c, o->read_timeout_ms);
        break;
    case CONN_HELD: evtimer_del(c->timer); break;
    case CONN_WRITING:
    case CONN_REFUSING: arm(c, o->write_timeout_ms); break;
    case CONN_LINGERING: arm(c, SW_MIN(o->write_timeout_ms, LINGER_MS)); break;
    case CONN_FREE:
    case CONN_NEW: evtimer_del(c->timer); break;
    }
}

static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    (void)fd;
    (void)what;
    if (c->state != CONN_LINGERING)
        c->h->stats.connections_timed_out_total++;
    SW_LOG_DEBUG("closing connection fd=%d state=%d", (int)c->fd, (int)c->state);
    evhttp_connection_free(c->evcon); /* calls on_conn_close */
}

static conn_t *conn_get(sw_srv_http_t *h)
{
    conn_t *c = h->free_conns;
    if (c) {
        h->free_conns = c->next;
    } else {
        c = sw_calloc(1, sizeof(*c));
        c->h = h;
        c->timer = evtimer_new(h->base, on_conn_timer, c);
        SW_ASSERT(c->timer); /* out of memory */
        h->conns = sw_realloc(h->conns, (h->n_conns + 1) * sizeof(*h->conns));
        h->conns[h->n_conns++] = c;
    }
    c->next = NULL;
    c->held = NULL;
    c->refused = false;
    c->evcon = NULL;
    c->fd = -1;
    c->input_cb = NULL;
    c->input_bounded = false;
    return c;
}

static void conn_put(sw_srv_http_t *h, conn_t *c)
{
    conn_enter(c, CONN_FREE);
    c->bev = NULL;
    c->evcon = NULL;
    c->next = h->free_conns;
    h->free_conns = c;
}

static conn_t *conn_of(const sw_srv_http_t *h, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    conn_t *c = fd >= 0 && (size_t)fd < h->by_fd_len ? h->by_fd[fd] : NULL;
    return c && c->evcon == evcon ? c : NULL;
}

static void infer_abandon(sw_srv_infer_t *inf);

/* evhttp is freeing the connection: the client left, a deadline passed, an answer asked
 * for "Connection: close", or the server is going. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    conn_t *c = arg;
    sw_srv_http_t *h = c->h;
    (void)evcon;
    if (c->held)
        infer_abandon(c->held);
    c->held = NULL;
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    if ((size_t)c->fd < h->by_fd_len)
        h->by_fd[c->fd] = NULL;
    h->stats.connections_open--;
    conn_put(h, c);
}

/* ---- refusing a request before evhttp reads it ---- */

static void on_refuse_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    (void)arg;
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* The answer is out: end our side, then wait for the client to close (LINGERING), so that
 * closing with its unread body in our socket does not reset the connection first. */
static void on_refuse_written(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    (void)bev;
    if (c->state != CONN_REFUSING)
        return;
    shutdown(c->fd, SHUT_WR);
    conn_enter(c, CONN_LINGERING);
}

static void on_refuse_event(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;
    (void)bev;
    (void)what;
    evhttp_connection_free(c->evcon); /* calls on_conn_close */
}

/* Answers status with {"error": msg} on the raw connection and sets evhttp aside for the
 * rest of it: evhttp has not read this request's head to its end, and never will. */
static void conn_refuse(conn_t *c, int status, const char *msg)
{
    sw_srv_http_t *h = c->h;
    sw_srv_kserve_format_error(msg, &h->resp);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        status, reason_phrase(status), date, h->resp.len);
    evbuffer_add(out, h->resp.data, h->resp.len);
    h->stats.requests_total++;
    count_status(h, status, h->resp.len);
    bufferevent_setcb(c->bev, on_refuse_read, on_refuse_written, on_refuse_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    conn_enter(c, CONN_REFUSING);
}

static void scan_refuse(conn_t *c, scan_result_t r)
{
    const sw_srv_http_opts_t *o = &c->h->o;
    char msg[MSG_MAX];
    if (r == SCAN_HEAD_TOO_BIG) {
        snprintf(msg, sizeof(msg), "request line and headers exceed the limit of %zu bytes",
                 o->max_header_bytes);
        conn_refuse(c, 431, msg);
    } else if (c->scan.chunked) {
        snprintf(msg, sizeof(msg), "chunked request body exceeds the limit of %zu bytes",
                 o->max_body_bytes);
        conn_refuse(c, 413, msg);
    } else {
        snprintf(msg, sizeof(msg),
                 "request body of %" PRIu64 " bytes exceeds the limit of %zu bytes", c->scan.cl,
                 o->max_body_bytes);
        conn_refuse(c, 413, msg);
    }
}

/* Runs on every change of the connection's input buffer, before evhttp's read callback
 * sees new bytes: starts the read deadline at a request's first byte and feeds the scanner. */
static void on_conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn_t *c = arg;
    if (!info->n_added)
        return;
    if (c->state == CONN_IDLE)
        conn_enter(c, CONN_READING);
    if (c->state != CONN_READING || c->scan.state == SCAN_OFF)
        return;
    /* The new bytes are the last n_added: evbuffer_read() only appends. */
    size_t len = evbuffer_get_length(buf), added = SW_MIN(info->n_added, len), done = 0;
    struct evbuffer_ptr at;
    evbuffer_ptr_set(buf, &at, len - added, EVBUFFER_PTR_SET);
    while (done < added) {
        struct evbuffer_iovec v[4];
        int n = evbuffer_peek(buf, (ev_ssize_t)(added - done), &at, v, 4);
        for (int i = 0; i < SW_MIN(n, 4); i++) {
            size_t take = SW_MIN(v[i].iov_len, added - done);
            scan_result_t r = scan_feed(&c->scan, v[i].iov_base, take, c->h->o.max_header_bytes,
                                        c->h->o.max_body_bytes);
            if (r != SCAN_MORE) {
                scan_refuse(c, r);
                return;
            }
            done += take;
        }
        if (n <= 4 || c->scan.state == SCAN_OFF)
            break;
        evbuffer_ptr_set(buf, &at, len - added + done, EVBUFFER_PTR_SET);
    }
}

/* ---- accepting connections ---- */

static void conn_bind(sw_srv_http_t *h, conn_t *c, struct evhttp_connection *evcon)
{
    c->evcon = evcon;
    c->fd = bufferevent_getfd(c->bev);
    if ((size_t)c->fd >= h->by_fd_len) {
        size_t len = SW_MAX((size_t)c->fd + 1, h->by_fd_len * 2);
        h->by_fd = sw_realloc(h->by_fd, len * sizeof(*h->by_fd));
        memset(h->by_fd + h->by_fd_len, 0, (len - h->by_fd_len) * sizeof(*h->by_fd));
        h->by_fd_len = len;
    }
    h->by_fd[c->fd] = c;
    evhttp_connection_set_closecb(evcon, on_conn_close, c);
    c->input_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), on_conn_input, c);
    /* Answers go out in one write; without this, Nagle's wait for the previous segment's
     * ACK can add a delayed-ACK interval to a keep-alive answer. */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_enter(c, CONN_IDLE);
}

/* Runs before the loop polls again after accepting, so before any byte of these
 * connections is read. evhttp has made its connection object by now and set it as the
 * bufferevent's callback argument; a NULL there means evhttp freed it while setting up. */
static void on_conns_new(evutil_socket_t fd, short what, void *arg)
{
    sw_srv_http_t *h = arg;
    (void)fd;
    (void)what;
    while (h->pending) {
        conn_t *c = h->pending;
        h->pending = c->next;
        struct bufferevent *bev = c->bev;
        void *evcon = NULL;
        bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
        if (evcon && !c->refused) {
            conn_bind(h, c, evcon);
        } else {
            if (c->refused) {
                h->stats.connections_refused_total++;
                SW_LOG_DEBUG("connection refused open=%" PRIu64, h->stats.connections_open);
            } else {
                h->stats.connections_open--;
            }
            if (evcon)
                evhttp_connection_free(evcon);
            conn_put(h, c);
        }
        bufferevent_decref(bev);
    }
}

/* evhttp's bufferevent factory, called once per accepted socket, before evhttp makes the
 * connection. The extra reference keeps the bufferevent valid until on_conns_new even if
 * evhttp frees it on an error in between. */
static struct bufferevent *on_conn_accept(struct event_base *base, void *arg)
{
    sw_srv_http_t *h = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
    SW_ASSERT(bev); /* out of memory */
    bufferevent_incref(bev);
    conn_t *c = conn_get(h);
    c->bev = bev;
    c->state = CONN_NEW;
    c->refused = h->stats.connections_open >= h->o.max_connections;
    if (!c->refused) {
        h->stats.connections_open++;
        h->stats.connections_accepted_total++;
    }
    c->next = h->pending;
    h->pending = c;
    event_active(h->conns_new_ev, EV_TIMEOUT, 0);
    return bev;
}

/* evhttp has sent an answer in full; it reads the next request (or closes) next. */
static void on_answer_sent(struct evhttp_request *req, void *arg)
{
    conn_t *c = arg;
    (void)req;
    /* Bytes already here belong to a request pipelined behind this one: evhttp parses them
     * without new input, so the scanner never sees their start (see http.h). */
    bool pipelined = evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
    conn_enter(c, CONN_IDLE);
    if (pipelined) {
        conn_enter(c, CONN_READING);
        c->scan.state = SCAN_OFF;
    }
}

/* ---- answering ---- */

/* Sends req's answer, whose body is already in its output buffer. */
static void respond(sw_srv_http_t *h, conn_t *c, struct evhttp_request *req, int status)
{
    struct evbuffer *body = evhttp_request_get_output_buffer(req);
    if (h->ops.is_draining(h->ops.self))
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    /* evhttp 2.1 would send a body after the head of an answer to HEAD. */
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
        evbuffer_drain(body, evbuffer_get_length(body));
    count_status(h, status, evbuffer_get_length(body));
    if (c) {
        conn_enter(c, CONN_WRITING);
        evhttp_request_set_on_complete_cb(req, on_answer_sent, c);
    }
    evhttp_send_reply(req, status, reason_phrase(status), NULL);
}

static void respond_body(sw_srv_http_t *h, conn_t *c, struct evhttp_request *req, int status,
                         const char *body, size_t len)
{
    evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    respond(h, c, req, status);
}

static void respond_error(sw_srv_http_t *h, conn_t *c, struct evhttp_request *req, int status,
                          const char *msg)
{
    sw_srv_kserve_format_error(msg, &h->resp);
    respond_body(h, c, req, status, h->resp.data, h->resp.len);
}

/* ---- inference calls ---- */

static sw_srv_infer_t *infer_get(sw_srv_http_t *h)
{
    sw_srv_infer_t *inf = h->free_infers;
    if (inf) {
        h->free_infers = inf->next_free;
    } else {
        inf = sw_calloc(1, sizeof(*inf));
        inf->h = h;
        sw_srv_kserve_req_init(&inf->in);
        h->infers = sw_realloc(h->infers, (h->n_infers + 1) * sizeof(*h->infers));
        h->infers[h->n_infers++] = inf;
    }
    return inf;
}

static void infer_put(sw_srv_http_t *h, sw_srv_infer_t *inf)
{
    inf->held = inf->abandoned = false;
    inf->conn = NULL;
    inf->req = NULL;
    inf->user = NULL;
    inf->next_free = h->free_infers;
    h->free_infers = inf;
}

/* The held call's client has gone (from on_conn_close). When the client closed or reset,
 * evhttp detached the request from the connection and no longer owns it, so it is freed
 * here; when the connection goes for another reason (destroy), evhttp frees the request
 * itself right after this. Either way nothing of evhttp's is touched again. */
static void infer_abandon(sw_srv_infer_t *inf)
{
    sw_srv_http_t *h = inf->h;
    if (!evhttp_request_get_connection(inf->req))
        evhttp_request_free(inf->req);
    inf->req = NULL;
    inf->conn = NULL;
    inf->abandoned = true;
    h->stats.infer_abandoned_total++;
    SW_LOG_DEBUG("client left before its answer seq=%" PRIu64, inf->seq);
    if (h->ops.abandoned && !h->destroying)
        h->ops.abandoned(h->ops.self, inf);
}

/* The body as one piece: evhttp's buffer itself when it is one chunk, else a copy. */
static const char *body_bytes(sw_srv_http_t *h, struct evbuffer *body, size_t len)
{
    if ((size_t)evbuffer_get_contiguous_space(body) >= len)
        return len ? (const char *)evbuffer_pullup(body, (ev_ssize_t)len) : "";
    if (len > h->body_cap) {
        h->body = sw_realloc(h->body, len);
        h->body_cap = len;
    }
    evbuffer_copyout(body, h->body, len);
    return h->body;
}

static bool has_framing(struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *te = evhttp_find_header(in, "Transfer-Encoding");
    return evhttp_find_header(in, "Content-Length") || (te && !strcasecmp(te, "chunked"));
}

static void handle_infer(sw_srv_http_t *h, conn_t *c, struct evhttp_request *req, sw_time_t now)
{
    if (h->ops.is_draining(h->ops.self)) {
        respond_error(h, c, req, 503, "the server is draining");
        return;
    }
    if (!has_framing(req)) {
        /* Where a body without either would end is unknowable: close after answering. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        respond_error(h, c, req, 411,
                      "a request body needs Content-Length or Transfer-Encoding: chunked");
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    h->stats.request_body_bytes_total += len;
    sw_srv_infer_t *inf = infer_get(h);
    char err[MSG_MAX];
    if (sw_srv_kserve_parse_request(body_bytes(h, body, len), len, h->o.input_size, h->o.max_batch,
                                    &inf->in, err, sizeof(err)) < 0) {
        infer_put(h, inf);
        respond_error(h, c, req, 400, err);
        return;
    }
    size_t need = inf->in.n * h->o.output_size;
    if (need > inf->out_cap) {
        sw_free(inf->out);
        inf->out = sw_malloc(need * sizeof(float));
        inf->out_cap = need;
    }
    inf->conn = c;
    inf->req = req;
    inf->received_at = now;
    inf->seq = ++h->seq;
    inf->held = true;
    h->stats.infer_total++;
    h->stats.infer_rows_total += inf->in.n;
    if (c) {
        c->held = inf;
        conn_enter(c, CONN_HELD);
    }
    h->ops.infer(h->ops.self, inf);
    /* Watching for the client to leave costs a system call or two; a call answered inside
     * ops.infer (a refusal, say) does without. */
    if (c && c->held == inf)
        watch_for_close(c);
}

/* Writes an answer evhttp has just queued on c now rather than on the next loop iteration,
 * and runs evhttp's write callback, as the bufferevent would once its output drained, so
 * evhttp finishes the exchange (and starts reading the next request) in this iteration. The
 * write event evhttp armed is disarmed again before the loop polls, and the loop's epoll
 * changelist cancels the two: one epoll_wait and two epoll_ctl fewer a call. A short write
 * leaves the rest to the bufferevent, as before. Only for answers given outside evhttp's own
 * callbacks: inside them evhttp still uses the request after we return. */
static void write_through(conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    /* A socket bufferevent freezes its output's front so that only it drains it; this is
     * the drain it would do. */
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write(out, c->fd);
    evbuffer_freeze(out, 1);
    if (n > 0 && evbuffer_get_length(out) == 0)
        bufferevent_trigger(c->bev, EV_WRITE, 0); /* may free evhttp's connection */
}

/* Sends the body in h->resp as inf's answer. */
static void infer_send(sw_srv_infer_t *inf, int status, unsigned retry_after_s)
{
    sw_srv_http_t *h = inf->h;
    conn_t *c = inf->conn;
    struct evhttp_request *req = inf->req;
    if (c)
        c->held = NULL;
    if (retry_after_s) {
        char v[16];
        snprintf(v, sizeof(v), "%u", retry_after_s);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
    }
    respond_body(h, c, req, status, h->resp.data, h->resp.len);
    if (c && !h->in_request)
        write_through(c);
}

size_t sw_srv_infer_rows(const sw_srv_infer_t *inf)
{
    return inf->in.n;
}

const float *sw_srv_infer_input(const sw_srv_infer_t *inf)
{
    return inf->in.data;
}

const char *sw_srv_infer_id(const sw_srv_infer_t *inf)
{
    return inf->in.id;
}

sw_time_t sw_srv_infer_received_at(const sw_srv_infer_t *inf)
{
    return inf->received_at;
}

uint64_t sw_srv_infer_seq(const sw_srv_infer_t *inf)
{
    return inf->seq;
}

bool sw_srv_infer_is_abandoned(const sw_srv_infer_t *inf)
{
    return inf->abandoned;
}

float *sw_srv_infer_output(sw_srv_infer_t *inf)
{
    return inf->out;
}

void sw_srv_infer_set_user(sw_srv_infer_t *inf, void *user)
{
    inf->user = user;
}

void *sw_srv_infer_user(const sw_srv_infer_t *inf)
{
    return inf->user;
}

void sw_srv_infer_reply_ok(sw_srv_infer_t *inf)
{
    sw_srv_http_t *h = inf->h;
    SW_ASSERT(inf->held);
    if (!inf->abandoned) {
        sw_srv_kserve_reply_t r = {.model_name = h->model_name,
                                   .model_version = h->o.model_version,
                                   .id = inf->in.id,
                                   .output_name = h->output_name,
                                   .n = inf->in.n,
                                   .output_size = h->o.output_size,
                                   .data = inf->out};
        sw_srv_kserve_format_response(&r, &h->resp);
        infer_send(inf, 200, 0);
    }
    infer_put(h, inf);
}

void sw_srv_infer_reply_error(sw_srv_infer_t *inf, int status, const char *msg,
                              unsigned retry_after_s)
{
    sw_srv_http_t *h = inf->h;
    SW_ASSERT(inf->held);
    SW_ASSERT(status >= 400 && status <= 599);
    if (!inf->abandoned) {
        sw_srv_kserve_format_error(msg, &h->resp);
        infer_send(inf, status, retry_after_s);
    }
    infer_put(h, inf);
}

/* ---- routing ---- */

typedef enum {
    ROUTE_NONE,       /* 404: no such endpoint */
    ROUTE_NO_MODEL,   /* 404: another model's path */
    ROUTE_NO_VERSION, /* 404: another version's path */
    ROUTE_SERVER_META,
    ROUTE_LIVE,
    ROUTE_READY,
    ROUTE_METRICS,
    ROUTE_MODEL_META,
    ROUTE_MODEL_READY,
    ROUTE_INFER,
} route_t;

/* Maps a path to an endpoint by comparing it with the one model's name and version. The
 * path is matched as sent, without percent-decoding (model names cannot hold '%'). For
 * ROUTE_NO_MODEL and ROUTE_NO_VERSION, *seg and *seg_len give the unknown name. */
static route_t route(const sw_srv_http_t *h, const char *path, const char **seg, size_t *seg_len)
{
    static const char models[] = "/v2/models/", versions[] = "/versions/";
    if (strncmp(path, models, sizeof(models) - 1)) {
        if (!strcmp(path, "/v2"))
            return ROUTE_SERVER_META;
        if (!strcmp(path, "/v2/health/live"))
            return ROUTE_LIVE;
        if (!strcmp(path, "/v2/health/ready"))
            return ROUTE_READY;
        return strcmp(path, "/metrics") ? ROUTE_NONE : ROUTE_METRICS;
    }
    const char *name = path + sizeof(models) - 1;
    *seg = name;
    *seg_len = strcspn(name, "/");
    if (*seg_len != h->name_len || memcmp(name, h->model_name, h->name_len))
        return ROUTE_NO_MODEL;
    const char *rest = name + *seg_len;
    if (!strncmp(rest, versions, sizeof(versions) - 1)) {
        *seg = rest + sizeof(versions) - 1;
        *seg_len = strcspn(*seg, "/");
        if (*seg_len != h->version_len || memcmp(*seg, h->version, h->version_len))
            return ROUTE_NO_VERSION;
        rest = *seg + *seg_len;
    }
    if (!*rest)
        return ROUTE_MODEL_META;
    if (!strcmp(rest, "/ready"))
        return ROUTE_MODEL_READY;
    return strcmp(rest, "/infer") ? ROUTE_NONE : ROUTE_INFER;
}

/* Answers the 404s; returns false for a known endpoint. */
static bool respond_not_found(sw_srv_http_t *h, conn_t *c, struct evhttp_request *req, route_t r,
                              const char *path, const char *seg, size_t seg_len)
{
    char msg[MSG_MAX];
    int n = (int)SW_MIN(seg_len, 128);
    if (r == ROUTE_NONE)
        snprintf(msg, sizeof(msg), "no such endpoint: %.200s", path);
    else if (r == ROUTE_NO_MODEL)
        snprintf(msg, sizeof(msg), "model '%.*s' not found", n, seg);
    else if (r == ROUTE_NO_VERSION)
        snprintf(msg, sizeof(msg), "model '%s' has no version '%.*s'", h->model_name, n, seg);
    else
        return false;
    respond_error(h, c, req, 404, msg);
    return true;
}

static void stats_format(const sw_srv_http_t *h, struct evbuffer *out)
{
#define SW__X(name, type, help)                                                                    \
    evbuffer_add_printf(out,                                                                       \
                        "# HELP spillway_http_" #name " " help "\n# TYPE spillway_http_" #name       \
                        " " #type "\nspillway_http_" #name " %" PRIu64 "\n",                       \
                        h->stats.name);
    SW_SRV_HTTP_STATS(SW__X)
#undef SW__X
}

static void handle_get(sw_srv_http_t *h, conn_t *c, struct evhttp_request *req, route_t r)
{
    void *self = h->ops.self;
    switch (r) {
    case ROUTE_SERVER_META:
        respond_body(h, c, req, 200, h->server_meta, strlen(h->server_meta));
        return;
    case ROUTE_MODEL_META:
        respond_body(h, c, req, 200, h->model_meta, strlen(h->model_meta));
        return;
    case ROUTE_LIVE: respond(h, c, req, 200); return;
    case ROUTE_READY:
    case ROUTE_MODEL_READY:
        respond(h, c, req, h->ops.is_ready(self) && !h->ops.is_draining(self) ? 200 : 503);
        return;
    case ROUTE_METRICS:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          "text/plain; version=0.0.4");
        stats_format(h, evhttp_request_get_output_buffer(req));
        if (h->ops.metrics)
            h->ops.metrics(self, evhttp_request_get_output_buffer(req));
        respond(h, c, req, 200);
        return;
    default: return;
    }
}

/* evhttp's one request callback: every request read in full arrives here. */
static void handle_request(sw_srv_http_t *h, struct evhttp_request *req)
{
    sw_time_t now = sw_clock_now();
    conn_t *c = conn_of(h, req);
    h->stats.requests_total++;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri && evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "";
    const char *seg = NULL;
    size_t seg_len = 0;
    route_t r = route(h, path, &seg, &seg_len);
    if (respond_not_found(h, c, req, r, path, seg, seg_len))
        return;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    enum evhttp_cmd_type want = r == ROUTE_INFER ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
    if (cmd != want) {
        char msg[MSG_MAX];
        snprintf(msg, sizeof(msg), "method %s not allowed on %.200s; use %s", method_name(cmd),
                 path, method_name(want));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", method_name(want));
        respond_error(h, c, req, 405, msg);
        return;
    }
    if (r == ROUTE_INFER)
        handle_infer(h, c, req, now);
    else
        handle_get(h, c, req, r);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    sw_srv_http_t *h = arg;
    h->in_request = true;
    handle_request(h, req);
    h->in_request = false;
}

/* ---- lifecycle ---- */

static bool model_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MODEL_NAME_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("/?#%", *p))
            return false;
    return true;
}

static int check_opts(const sw_srv_http_opts_t *o, const sw_srv_http_ops_t *ops, char *errbuf,
                      size_t errlen)
{
    char host[256];
    uint16_t port;
    if (!ops->is_ready || !ops->is_draining || !ops->infer)
        sw_set_error(errbuf, errlen, "ops: is_ready, is_draining and infer are required");
    else if (!model_name_ok(o->model_name))
        sw_set_error(errbuf, errlen,
                     "model_name: expected 1 to %d bytes without '/', '?', '#', '%%' or spaces",
                     MODEL_NAME_MAX);
    else if (!o->input_size || !o->output_size || !o->max_batch)
        sw_set_error(errbuf, errlen, "input_size, output_size and max_batch must be > 0");
    else if (o->read_timeout_ms < 0 || o->write_timeout_ms < 0 || o->idle_timeout_ms < 0)
        sw_set_error(errbuf, errlen, "timeouts must be >= 0");
    else if (o->listen && sw_net_split_listen(o->listen, host, sizeof(host), &port) < 0)
        sw_set_error(errbuf, errlen, "listen: expected HOST:PORT, got '%s'", o->listen);
    else
        return 0;
    return -EINVAL;
}

/* The defaults (see http.h), in one place. */
static void opts_finalize(sw_srv_http_opts_t *o)
{
    if (!o->max_body_bytes)
        o->max_body_bytes = (size_t)o->max_batch * o->input_size * 32 + 65536;
    if (!o->max_header_bytes)
        o->max_header_bytes = SW_SRV_HTTP_MAX_HEADER_BYTES_DEFAULT;
    if (!o->max_connections)
        o->max_connections = SW_SRV_HTTP_MAX_CONNECTIONS_DEFAULT;
    if (!o->read_timeout_ms)
        o->read_timeout_ms = SW_SRV_HTTP_READ_TIMEOUT_MS_DEFAULT;
    if (!o->write_timeout_ms)
        o->write_timeout_ms = SW_SRV_HTTP_WRITE_TIMEOUT_MS_DEFAULT;
    if (!o->idle_timeout_ms)
        o->idle_timeout_ms = SW_SRV_HTTP_IDLE_TIMEOUT_MS_DEFAULT;
}

static char *dump_compact(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    SW_ASSERT(text); /* out of memory */
    char *copy = sw_strdup(text);
    free(text);
    json_decref(j);
    return copy;
}

/* The metadata bodies never change, so they are written once. */
static void build_metadata(sw_srv_http_t *h)
{
    h->server_meta = dump_compact(
        json_pack("{s:s, s:s, s:[]}", "name", "spillway", "version", SW_VERSION, "extensions"));
    h->model_meta = dump_compact(
        json_pack("{s:s, s:[s], s:s, s:[{s:s, s:s, s:[I, I]}], s:[{s:s, s:s, s:[I, I]}]}", "name",
                  h->model_name, "versions", h->version, "platform", h->platform, "inputs", "name",
                  h->input_name, "datatype", "FP32", "shape", (json_int_t)-1,
                  (json_int_t)h->o.input_size, "outputs", "name", h->output_name, "datatype",
                  "FP32", "shape", (json_int_t)-1, (json_int_t)h->o.output_size));
}

/* Copies the options and their strings, applying defaults. */
static void copy_opts(sw_srv_http_t *h, const sw_srv_http_opts_t *o)
{
    h->o = *o;
    opts_finalize(&h->o);
    h->listen = sw_strdup(o->listen ? o->listen : SW_SRV_HTTP_LISTEN_DEFAULT);
    h->model_name = sw_strdup(o->model_name);
    h->platform = sw_strdup(o->platform ? o->platform : SW_SRV_HTTP_PLATFORM_DEFAULT);
    h->input_name = sw_strdup(o->input_name ? o->input_name : "input");
    h->output_name = sw_strdup(o->output_name ? o->output_name : "output");
    h->o.listen = h->listen;
    h->o.model_name = h->model_name;
    h->o.platform = h->platform;
    h->o.input_name = h->input_name;
    h->o.output_name = h->output_name;
    h->name_len = strlen(h->model_name);
    snprintf(h->version, sizeof(h->version), "%" PRIu32, o->model_version);
    h->version_len = strlen(h->version);
}

static int bind_listener(sw_srv_http_t *h, char *errbuf, size_t errlen)
{
    char host[256];
    uint16_t port = 0;
    if (sw_net_split_listen(h->listen, host, sizeof(host), &port) < 0) { /* check_opts did */
        sw_set_error(errbuf, errlen, "listen: expected HOST:PORT, got '%s'", h->listen);
        return -EINVAL;
    }
    errno = 0;
    h->sock = evhttp_bind_socket_with_handle(h->http, host, port);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!h->sock ||
        getsockname(evhttp_bound_socket_get_fd(h->sock), (struct sockaddr *)&ss, &sl) < 0) {
        int rc = errno ? -errno : -EADDRNOTAVAIL;
        sw_set_error(errbuf, errlen, "cannot listen on %s: %s", h->listen, strerror(-rc));
        return rc;
    }
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    /* evhttp listens with a backlog of 128: a burst of new connections larger than that,
     * arriving faster than the loop accepts them, has its SYNs dropped and each client
     * waits a 1 s retransmission. Listening again sets the system's maximum instead
     * (the kernel caps it at net.core.somaxconn; glibc's SOMAXCONN is only 128). */
    (void)listen(evhttp_bound_socket_get_fd(h->sock), 65535);
    return 0;
}

int sw_srv_http_create(struct event_base *base, const sw_srv_http_opts_t *o,
                       const sw_srv_http_ops_t *ops, sw_srv_http_t **out, char *errbuf,
                       size_t errlen)
{
    *out = NULL;
    int rc = check_opts(o, ops, errbuf, errlen);
    if (rc < 0)
        return rc;
    sw_srv_http_t *h = sw_calloc(1, sizeof(*h));
    h->base = base;
    h->ops = *ops;
    copy_opts(h, o);
    build_metadata(h);
    sw_srv_kserve_buf_init(&h->resp);
    h->conns_new_ev = event_new(base, -1, 0, on_conns_new, h);
    event_priority_set(h->conns_new_ev, 0); /* before the reads of the new connections */
    h->http = evhttp_new(base);
    SW_ASSERT(h->conns_new_ev && h->http); /* out of memory */
    evhttp_set_gencb(h->http, on_request, h);
    evhttp_set_bevcb(h->http, on_conn_accept, h);
    /* Every method reaches on_request, which answers 405 with Allow (evhttp: 501). */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    /* The backstops behind the scanner (see http.h). */
    evhttp_set_max_body_size(h->http, (ev_ssize_t)h->o.max_body_bytes);
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)h->o.max_header_bytes);
    evhttp_set_default_content_type(h->http, "application/json");
    if ((rc = bind_listener(h, errbuf, errlen)) < 0) {
        sw_srv_http_destroy(h);
        return rc;
    }
    SW_LOG_INFO("listening on %s port=%d model=%s version=%s", h->listen, h->port, h->model_name,
                h->version);
    *out = h;
    return 0;
}

int sw_srv_http_port(const sw_srv_http_t *h)
{
    return h->port;
}

void sw_srv_http_stop_accepting(sw_srv_http_t *h)
{
    if (!h->sock)
        return;
    evhttp_del_accept_socket(h->http, h->sock);
    h->sock = NULL;
    h->port = 0;
}

void sw_srv_http_get_stats(const sw_srv_http_t *h, sw_srv_http_stats_t *out)
{
    *out = h->stats;
}

void sw_srv_http_destroy(sw_srv_http_t *h)
{
    if (!h)
        return;
    h->destroying = true;
    if (h->http)
        evhttp_free(h->http); /* on_conn_close for every connection on_conns_new bound */
    while (h->pending) {
        conn_t *c = h->pending;
        h->pending = c->next;
        bufferevent_decref(c->bev); /* evhttp_free freed its connection */
    }
    if (h->conns_new_ev)
        event_free(h->conns_new_ev);
    for (size_t i = 0; i < h->n_conns; i++) {
        event_free(h->conns[i]->timer);
        sw_free(h->conns[i]);
    }
    for (size_t i = 0; i < h->n_infers; i++) {
        sw_srv_kserve_req_deinit(&h->infers[i]->in);
        sw_free(h->infers[i]->out);
        sw_free(h->infers[i]);
    }
    sw_free(h->conns);
    sw_free(h->infers);
    sw_free(h->by_fd);
    sw_free(h->body);
    sw_srv_kserve_buf_deinit(&h->resp);
    sw_free(h->server_meta);
    sw_free(h->model_meta);
    sw_free(h->listen);
    sw_free(h->model_name);
    sw_free(h->platform);
    sw_free(h->input_name);
    sw_free(h->output_name);
    sw_free(h);
}
