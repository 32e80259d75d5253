/* The worker side of the worker protocol (issue 4, section 3): a libevent client that dials
 * the frontend ("workers dial in", DESIGN.md), registers with Hello, runs each Batch on a
 * compute thread and answers it with exactly one BatchResult, sends a Heartbeat every
 * second, reconnects with jittered exponential backoff, and on SIGTERM, or a Stop frame from
 * the frontend, finishes the batches in hand, sends Drain and returns without dialling in
 * again.
 *
 * backends/ may not depend on model/, so the forward pass comes in as a callback; the
 * `spillway worker` command (cli/cmd_worker.c) plugs sw_model_infer in.
 *
 * Batches in hand when a connection drops are discarded, not answered on the next
 * connection: the frontend re-routes every batch of a worker whose connection it lost, so
 * answering later would answer twice. */
#ifndef SW_BACKENDS_WORKER_H
#define SW_BACKENDS_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Runs n requests: in holds n x input_size floats, out receives n x output_size floats.
 * Called with n <= max_batch, one call at a time: on the compute thread, or on the thread
 * running sw_be_worker_run for a batch expected to take at most inline_max_ms. Returns 0
 * or a negative error (every request of that call then gets an error answer). */
typedef int (*sw_be_worker_infer_cb)(void *self, const float *in, size_t n, float *out);

typedef struct sw_be_worker_opts {
    const char *host; /* frontend's worker address: name or numeric */
    uint16_t port;
    const char *worker_id;     /* sent in Hello */
    const char *instance_type; /* an instance_types[].name */
    const char *token;         /* sent in Hello; NULL: none. A secret: never logged */
    const char *model_name;
    uint32_t model_version;
    unsigned max_batch;             /* >= 1; larger batches are run in chunks of this size */
    unsigned threads;               /* reported in Hello; the caller sizes its BLAS threads */
    size_t input_size, output_size; /* floats per request / per answer */
    sw_be_worker_infer_cb infer;
    void *infer_self;
    size_t max_frame_bytes;   /* 0: SW_FRAME_MAX_BYTES_DEFAULT */
    uint64_t seed;            /* backoff jitter */
    int64_t backoff_min_ms;   /* 0: 100 */
    int64_t backoff_max_ms;   /* 0: 5000 */
    /* In-process harnesses only (the frame fuzz target): redial on the next loop turn
     * instead of backing off. Its peer closes every connection by design, and a 1 ms
     * timer per input was 90 % of its time; a real worker must back off. */
    bool redial_at_once;
    int64_t heartbeat_ms;     /* 0: 1000 */
    /* Stand-in for a heavier model: a sleep on the compute thread of this much per batch
     * plus this much per row, ms (fault tests; live-against-simulated benchmarks). */
    double compute_delay_ms, compute_delay_per_row_ms;
    /* A batch whose rows' size class (1, 2-3, 4-7, ... rows) has lately computed in at most
     * this long runs on the event loop itself, sparing two thread hand-offs; a heartbeat
     * then waits at most this long. The first batch of a class, and any batch while the
     * compute thread holds one, goes to the thread. 0: 1 ms; negative: never inline. */
    double inline_max_ms;
    /* Monotonic clock that times batches (for that choice and BatchResult.compute_ms), or
     * NULL for sw_clock_now(). Called from both threads. Tests use a fake one. */
    sw_time_t (*clock)(void *self);
    void *clock_self;
} sw_be_worker_opts_t;

/* Runs the worker until SIGTERM (or SIGINT) or a Stop frame has been handled: the batches in
 * hand are answered, Drain is sent and flushed, then it returns 0. Owns its own event_base, compute
 * thread and signal events; call from one thread, which it blocks. opts and everything it
 * points to are borrowed for the call. Returns a negative error if the host cannot be
 * resolved or libevent cannot be set up (message in errbuf). */
SW_MUST_USE int sw_be_worker_run(const sw_be_worker_opts_t *opts, char *errbuf, size_t errlen);

#endif
