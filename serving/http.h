/* The HTTP API of `spillway serve`: a KServe v2 / Open Inference Protocol REST frontend on
 * libevent's evhttp, for one model. This module does HTTP, routing, limits and JSON; the
 * live driver decides (admission, batching, workers, Lambda) through an ops table and
 * answers each inference call later, asynchronously, exactly once.
 *
 * Endpoints (m and v are the configured model name and version):
 *   GET  /v2                                   server metadata
 *   GET  /v2/health/live                       200, empty body
 *   GET  /v2/health/ready                      200 when ops.is_ready and not draining,
 *                                              else 503; empty body (the OIP spec)
 *   GET  /v2/models/m[/versions/v]             model metadata
 *   GET  /v2/models/m[/versions/v]/ready       as /v2/health/ready
 *   POST /v2/models/m[/versions/v]/infer       one call of N rows (N <= max_batch)
 *   GET  /metrics                              Prometheus text: this module's counters,
 *                                              then whatever ops.metrics writes
 * Errors carry KServe's body {"error": "..."}: 400 (the codec's message, naming the JSON
 * path), 404 (unknown model, version or path), 405 (with Allow), 411 (a POST with neither
 * Content-Length nor chunked encoding; the connection is closed), 413 (body over
 * max_body_bytes), 431 (head over max_header_bytes), and whatever the driver answers (429,
 * 503, 504, with Retry-After when it gives one). While ops.is_draining says so, inference
 * gets 503 and every response carries "Connection: close".
 *
 * Limits. 413 and 431 are decided from the bytes as they arrive, before evhttp reads the
 * body: a small scanner follows the head (Content-Length, Transfer-Encoding: chunked) and
 * the chunk sizes of a chunked body, so a declared length over the limit, or a chunk that
 * would take the body over it, is refused at once with a JSON body and "Connection:
 * close"; the rest of what the client sends is read and dropped until it closes or one
 * second passes, so that our answer is not lost to a reset. evhttp's own limits stay set
 * to the same values as a backstop: a request pipelined behind another (sent before the
 * previous answer) is not scanned, and over a limit gets evhttp's own 413 or 400 with an
 * HTML body. evhttp also answers, with HTML, what it cannot parse: a bad request line, or
 * a chunk extension (";..." after a chunk size), which evhttp 2.1 does not accept.
 *
 * Connections. Up to max_connections are served; one accepted over the bound is closed at
 * once without a byte. Each connection has one deadline at a time: idle_timeout_ms while
 * it waits for a request, read_timeout_ms from the first byte of a request until it is
 * read in full (a total, so a client sending a byte at a time is cut when it expires),
 * none while the driver holds its call, and write_timeout_ms to send the answer. When a
 * deadline passes the connection is closed and nothing else is lost.
 *
 * Abandoned calls. While the driver holds a call its connection is watched, so a client
 * that leaves (or shuts down its sending side, which evhttp treats alike) is noticed at
 * once: ops.abandoned runs, sw_srv_infer_is_abandoned() turns true, and the answer, when
 * the driver gives it, is dropped. Requests pipelined behind a held call wait for it.
 *
 * Threading: everything here runs on, and every function must be called from, the thread
 * that runs the event_base. The process must ignore SIGPIPE. */
#ifndef SW_SERVING_HTTP_H
#define SW_SERVING_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

struct event_base;
struct evbuffer;

typedef struct sw_srv_http sw_srv_http_t;
/* One accepted inference call: its rows, its id, and room for its outputs. */
typedef struct sw_srv_infer sw_srv_infer_t;

/* What the driver provides. Every callback runs on the loop thread. */
typedef struct sw_srv_http_ops {
    void *self;
    /* Whether the pool or FaaS can serve now (/v2/health/ready, model ready). Required. */
    bool (*is_ready)(void *self);
    /* Whether the server is draining: new inference gets 503. Required. */
    bool (*is_draining)(void *self);
    /* A new call. The driver owns inf from here until it answers with
     * sw_srv_infer_reply_ok() or sw_srv_infer_reply_error(), exactly once, now (from inside
     * this callback) or later. Required. */
    void (*infer)(void *self, sw_srv_infer_t *inf);
    /* The client of a held call has gone: the driver may drop its work. The driver still
     * owns inf and must still answer it (the answer is dropped); it may do so from inside
     * this callback. Optional (NULL): the driver then asks sw_srv_infer_is_abandoned(). */
    void (*abandoned)(void *self, sw_srv_infer_t *inf);
    /* Appends the driver's own Prometheus text to /metrics. Optional. */
    void (*metrics)(void *self, struct evbuffer *out);
} sw_srv_http_ops_t;

/* Settings. Zero (or NULL) selects the default given beside each field. */
typedef struct sw_srv_http_opts {
    const char *listen;       /* "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses); port 0
                                 picks a free one. Default "127.0.0.1:8080" */
    const char *model_name;   /* required: 1-128 bytes, no '/', '?', '#', '%' or spaces */
    uint32_t model_version;   /* the only version served; 0 is a version like any other */
    const char *platform;     /* model metadata "platform"; default "spillway" */
    const char *input_name;   /* model metadata tensor names; default "input" and */
    const char *output_name;  /* "output" (the latter also names the response tensor) */
    size_t input_size;        /* floats per row in; required */
    size_t output_size;       /* floats per row out; required */
    unsigned max_batch;       /* rows per call at most; required */
    size_t max_body_bytes;    /* default max_batch x input_size x 32 + 64 KiB */
    size_t max_header_bytes;  /* request line and headers; default 8 KiB */
    unsigned max_connections; /* open connections served at once; default 1000 */
    int64_t read_timeout_ms;  /* one request's head and body, in total; default 10 s */
    int64_t write_timeout_ms; /* one answer, in total; default 10 s */
    int64_t idle_timeout_ms;  /* waiting for the next request on a connection; default 60 s */
} sw_srv_http_opts_t;

#define SW_SRV_HTTP_LISTEN_DEFAULT "127.0.0.1:8080"
#define SW_SRV_HTTP_PLATFORM_DEFAULT "spillway"
#define SW_SRV_HTTP_MAX_HEADER_BYTES_DEFAULT 8192
#define SW_SRV_HTTP_MAX_CONNECTIONS_DEFAULT 1000
#define SW_SRV_HTTP_READ_TIMEOUT_MS_DEFAULT 10000
#define SW_SRV_HTTP_WRITE_TIMEOUT_MS_DEFAULT 10000
#define SW_SRV_HTTP_IDLE_TIMEOUT_MS_DEFAULT 60000

/* Counters, as an X-macro list: Prometheus name (spillway_http_ prefixed on /metrics),
 * type, then meaning. Responses that evhttp writes itself (HTML, see above) are not
 * counted. */
#define SW_SRV_HTTP_STATS(X)                                                                       \
    X(requests_total, counter, "HTTP requests routed, or refused before their body")             \
    X(responses_2xx_total, counter, "HTTP answers sent with a 2xx status")                        \
    X(responses_4xx_total, counter, "HTTP answers sent with a 4xx status")                        \
    X(responses_5xx_total, counter, "HTTP answers sent with a 5xx status")                        \
    X(infer_total, counter, "inference calls handed to the driver")                              \
    X(infer_rows_total, counter, "rows in the inference calls handed to the driver")             \
    X(infer_abandoned_total, counter, "inference calls whose client left before the answer")    \
    X(connections_accepted_total, counter, "client connections served")                          \
    X(connections_refused_total, counter, "client connections closed at once over the limit")    \
    X(connections_timed_out_total, counter, "client connections closed by a deadline")           \
    X(connections_open, gauge, "client connections open now")                                   \
    X(request_body_bytes_total, counter, "bytes of request bodies routed")                       \
    X(response_body_bytes_total, counter, "bytes of answer bodies sent")

typedef struct sw_srv_http_stats {
#define SW__X(name, type, help) uint64_t name;
    SW_SRV_HTTP_STATS(SW__X)
#undef SW__X
} sw_srv_http_stats_t;

/* Starts listening on o->listen, serving on base (borrowed; it must outlive the server).
 * opts and ops are copied, strings included. Returns 0, or -EINVAL (bad options) or a
 * negative errno from bind/listen, with a message in errbuf. */
int sw_srv_http_create(struct event_base *base, const sw_srv_http_opts_t *o,
                       const sw_srv_http_ops_t *ops, sw_srv_http_t **out, char *errbuf,
                       size_t errlen) SW_MUST_USE;

/* The bound port (useful with port 0), or 0 after sw_srv_http_stop_accepting(). */
int sw_srv_http_port(const sw_srv_http_t *h);

/* For a drain: closes the listening socket; open connections are still served. */
void sw_srv_http_stop_accepting(sw_srv_http_t *h);

/* Copies the counters. */
void sw_srv_http_get_stats(const sw_srv_http_t *h, sw_srv_http_stats_t *out);

/* Closes every connection and frees everything, without answering and without calling
 * ops. Calls the driver still holds are freed too: call it after the driver has answered
 * every call it was given, or at least never touch one again. NULL does nothing. Must not
 * be called from inside one of this server's callbacks. */
void sw_srv_http_destroy(sw_srv_http_t *h);

/* ---- an inference call, owned by the driver between ops.infer and its answer ---- */

/* Rows in the call, 1..max_batch. */
size_t sw_srv_infer_rows(const sw_srv_infer_t *inf);
/* rows x input_size floats, row-major; borrowed until the answer. */
const float *sw_srv_infer_input(const sw_srv_infer_t *inf);
/* The request's "id", or NULL when it had none; borrowed until the answer. */
const char *sw_srv_infer_id(const sw_srv_infer_t *inf);
/* When the request had been read in full (sw_clock_now() then), for latency. */
sw_time_t sw_srv_infer_received_at(const sw_srv_infer_t *inf);
/* A number unique to this call within the server, counting from 1. */
uint64_t sw_srv_infer_seq(const sw_srv_infer_t *inf);
/* True once the client has gone: the answer will be dropped, so work can be skipped. */
bool sw_srv_infer_is_abandoned(const sw_srv_infer_t *inf);
/* rows x output_size floats that the driver fills, row by row, in any order, before
 * answering; borrowed until the answer. Their initial contents are unspecified. */
float *sw_srv_infer_output(sw_srv_infer_t *inf);
/* One pointer of the driver's own, NULL at first. */
void sw_srv_infer_set_user(sw_srv_infer_t *inf, void *user);
void *sw_srv_infer_user(const sw_srv_infer_t *inf);

/* Answers 200 with the outputs as a KServe response (all rows, in order, with the
 * request's id). inf is recycled: the driver must not use it again. */
void sw_srv_infer_reply_ok(sw_srv_infer_t *inf);
/* Answers status (400..599) with {"error": msg} (msg borrowed), and "Retry-After:
 * retry_after_s" when that is not 0. inf is recycled, as above. */
void sw_srv_infer_reply_error(sw_srv_infer_t *inf, int status, const char *msg,
                              unsigned retry_after_s);

#endif
