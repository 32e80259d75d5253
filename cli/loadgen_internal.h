/* `spillway loadgen`, inside cli/: the payloads (loadgen_payload.c), a small HTTP/1.1
 * client on raw sockets driven by libevent (loadgen_http.c), and the run: the open-loop
 * and closed-loop schedules, timeouts and accounting (loadgen_run.c). cmd_loadgen.c turns
 * the command line into these and prints and writes what a run measured.
 *
 * Everything runs on one thread, the one that runs the run's event_base. */
#ifndef SW_CLI_LOADGEN_INTERNAL_H
#define SW_CLI_LOADGEN_INTERNAL_H

#include <stdio.h>
#include <sys/socket.h>

#include "common/common.h"
#include "common/hist.h"
#include "model/idx.h"
#include "runs/trace.h"

struct event;
struct event_base;

/* ---- Payloads (loadgen_payload.c) ---------------------------------------------------- */

/* The requests a run sends, each a whole HTTP request (head and KServe body) built once
 * up front, and what a right answer to each is. Request number i of a run sends payload
 * i % count. */
typedef struct sw_lg_payloads {
    size_t count;       /* distinct payloads */
    size_t rows;        /* rows per request */
    size_t output_size; /* floats per answer row */
    char **req;         /* count requests */
    size_t *req_len;
    size_t body_bytes_max; /* the largest KServe body */
    /* count x rows x output_size outputs of the model given with --check-model, or NULL:
     * then an answer is checked for its shape and for finite values only. */
    float *expected;
    uint8_t *labels; /* count x rows: each row's Fashion-MNIST class */
    float *scratch;  /* rows x output_size: the answer being checked */
} sw_lg_payloads_t;

typedef struct sw_lg_payload_opts {
    const sw_idx_set_t *set; /* Fashion-MNIST's test split */
    const char *data_dir;    /* where it was read, for messages */
    size_t images;           /* the first `images` test images, in order, wrapping */
    size_t rows;             /* rows per request */
    size_t output_size;      /* expected floats per answer row, without a model */
    const char *check_model; /* NULL, or the model file the server serves */
    const char *path;        /* request target, e.g. /v2/models/fashion-mlp/infer */
    const char *host;        /* Host header value */
} sw_lg_payload_opts_t;

/* Encodes every payload from the test images and, with a check model, runs it on them.
 * Returns 0, or a negative error with a message naming the file or option: -errno or
 * SW_EPARSE for a model file that cannot be read, -EINVAL for options the data cannot
 * satisfy (more images than the split holds, a model whose input is not an image).
 * Release with sw__lg_payloads_deinit, also after a failure. */
int sw__lg_payloads_build(sw_lg_payloads_t *p, const sw_lg_payload_opts_t *o, char *errbuf,
                          size_t errlen) SW_MUST_USE;
void sw__lg_payloads_deinit(sw_lg_payloads_t *p);
/* Whether `body` (a 200 answer to payload i) is right: a KServe v2 answer of shape
 * [rows, output_size], every value finite and, with a check model, within
 * SW_LG_TOLERANCE of the model's. When right, *hits is how many of its rows rank the
 * image's label first (the model's accuracy as the client saw it: a fact about the
 * model, not an error); when not, errbuf says why. */
bool sw__lg_payloads_check(sw_lg_payloads_t *p, size_t i, const char *body, size_t len,
                           size_t *hits, char *errbuf, size_t errlen);

#define SW_LG_TOLERANCE 1e-4

/* ---- HTTP/1.1 connections (loadgen_http.c) ------------------------------------------- */

typedef enum {
    SW_LG_CONN_CLOSED = 0,
    SW_LG_CONN_CONNECTING,
    SW_LG_CONN_OPEN,
} sw_lg_conn_state_t;

/* A whole answer; body is borrowed until the callback returns. */
typedef struct sw_lg_answer {
    int status;
    const char *body;
    size_t body_len;
    int retry_after_s; /* Retry-After in seconds, or -1 */
} sw_lg_answer_t;

typedef struct sw_lg_conn sw_lg_conn_t;

/* What a connection tells its owner, from libevent callbacks only: never from inside a
 * call the owner made, so the owner never re-enters itself. */
typedef struct sw_lg_conn_ops {
    void *self;
    /* A connect completed; the connection is open. */
    void (*connected)(void *self, sw_lg_conn_t *c);
    /* The whole answer to the request sent. When the server asked to close (or answered
     * before the request was written in full), c is already closed. */
    void (*answered)(void *self, sw_lg_conn_t *c, const sw_lg_answer_t *a);
    /* c failed and is closed: why says what happened ("connect: Connection refused"),
     * or is NULL for a server closing a connection with no request outstanding. */
    void (*failed)(void *self, sw_lg_conn_t *c, const char *why);
} sw_lg_conn_ops_t;

/* One connection. The owner embeds its own per-request fields after `_`-prefixed ones;
 * the struct outlives its sockets, so its buffers are allocated once per connection slot,
 * not per connect or request. */
struct sw_lg_conn {
    sw_lg_conn_state_t state;
    const sw_lg_conn_ops_t *ops;
    /* transport, private to loadgen_http.c */
    int _fd;
    struct event *_rev, *_wev;
    const char *_out; /* the request being written, borrowed */
    size_t _out_len, _out_off;
    bool _waiting; /* a request was sent and its answer is not complete */
    char *_in;     /* answer bytes */
    size_t _in_len, _in_cap, _scan, _head_len, _body_len;
    bool _head_done, _to_eof, _close_after;
    int _status, _retry_after_s;
    char _why[160];
    /* the run's, loadgen_run.c */
    uint32_t id;
    int where;                 /* which of the run's lists holds it */
    sw_lg_conn_t *prev, *next; /* that list's links */
    bool has_req;              /* a request is attached */
    bool retried;              /* it was sent once already, on a connection that closed */
    unsigned answers;          /* answers read on this socket */
    sw_time_t due, sent_at;    /* the request's scheduled and actual send time */
    uint64_t seq;              /* the request's number */
    struct event *pause;       /* closed loop: the wait after a failure */
};

/* Starts connecting c (closed) to addr on base. Returns 0 (c connecting; ops->connected
 * or ops->failed follows) or a negative errno when the socket cannot even be made or the
 * connect is refused at once (c stays closed). */
int sw__lg_conn_open(sw_lg_conn_t *c, struct event_base *base, const struct sockaddr *addr,
                     socklen_t addr_len) SW_MUST_USE;
/* Sends req (len bytes, borrowed until the answer) on an open connection with no request
 * outstanding, as far as the socket takes it now; the rest follows as it drains. Returns
 * 0, or a negative errno when the socket has failed: c is then closed, and the owner, not
 * ops->failed, accounts for it. */
int sw__lg_conn_send(sw_lg_conn_t *c, const char *req, size_t len) SW_MUST_USE;
/* Whether no byte of an answer to the request sent on c has come (also once c closed). */
bool sw__lg_conn_got_nothing(const sw_lg_conn_t *c);
/* Closes c's socket (any state); the buffers stay for the next connect. No callback. */
void sw__lg_conn_close(sw_lg_conn_t *c);
/* Frees c's buffers (c closed). */
void sw__lg_conn_deinit(sw_lg_conn_t *c);

/* ---- The run (loadgen_run.c) ---------------------------------------------------------- */

/* A send later than this after its scheduled time counts as late (README). */
#define SW_LG_LATE_US (10 * SW_US_PER_MS)

typedef struct sw_lg_run_opts {
    struct sockaddr_storage addr; /* the server */
    socklen_t addr_len;
    const char *url; /* for messages */
    sw_lg_payloads_t *payloads;
    /* open loop: the trace and how to replay it */
    const char *trace_path;
    sw_trace_opts_t trace_opts;
    double speedup; /* arrival times are divided by this */
    /* closed loop when concurrency > 0: that many connections for duration_s */
    unsigned concurrency;
    double duration_s;
    unsigned connections, max_connections; /* open loop: initial and most */
    sw_time_t timeout;                     /* per request, from its scheduled time */
    sw_time_t interval;                    /* timeline rows */
    double slo_ms;
    FILE *timeline; /* borrowed; the header is written by the run */
    bool progress, progress_tty;
} sw_lg_run_opts_t;

/* What a run measured. Every request the schedule made is counted exactly once in ok,
 * wrong, by_status, transport or timeouts. */
typedef struct sw_lg_stats {
    uint64_t requests; /* scheduled */
    uint64_t sent;     /* written to a connection */
    uint64_t retries;  /* sent again after a reused connection closed unanswered */
    uint64_t ok, wrong, transport, timeouts, failed_status;
    uint64_t by_status[600];  /* answers other than 200, by status */
    uint64_t slo_met;         /* answered right within slo_ms of the schedule */
    uint64_t late_sends;      /* sent more than SW_LG_LATE_US after their time */
    uint64_t waited_for_conn; /* due while every connection allowed was busy */
    sw_time_t max_lateness;
    sw_hist_t latency;               /* of right answers, from the scheduled time */
    uint64_t label_rows, label_hits; /* rows of right answers; those topped by the label */
    uint64_t connects;
    unsigned peak_open, peak_in_flight;
    int retry_after_max_s; /* -1: no answer had one */
    double wall_s;         /* from the schedule's start to the last answer */
    double schedule_s;     /* the schedule's length (trace window / speedup, or duration) */
    double cpu_us;         /* user + system over the run */
    bool interrupted;      /* SIGINT or SIGTERM stopped the schedule */
    /* The first of each kind, for the operator. */
    char first_transport[192], first_wrong[256], first_status[256];
} sw_lg_stats_t;

/* Runs the whole schedule and waits for every answer or timeout. Returns 0 (whatever the
 * answers were), or a negative error with a message: the trace's SW_EPARSE or -EINVAL
 * (window past its end), -ECONNREFUSED and the like when not one connection could be
 * made at the start, -EINTR when a second signal stopped it. *st is filled either way,
 * as far as the run went. */
int sw__lg_run(const sw_lg_run_opts_t *o, sw_lg_stats_t *st, char *errbuf,
               size_t errlen) SW_MUST_USE;

#endif
