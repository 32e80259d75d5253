/* The worker listener: the frontend's side of the worker protocol (proto/worker.proto).
 * Workers dial in (DESIGN.md); the worker process, `spillway worker`, is the other side
 * (backends/worker.c), and VM providers (backends/provider.h) start and stop it.
 *
 * It accepts TCP connections, reads length-prefixed frames (backends/frame.h), asks its
 * owner whom a Hello belongs to (the token issued at LAUNCH, or a static pool's shared
 * token), sends Batch and Stop frames, and reports BatchResult, Drain and the loss of a
 * worker: its connection closed or broke, it sent a malformed or oversized frame, or it
 * was silent for longer than the heartbeat timeout. A lost worker's connection is closed,
 * so nothing it sends later can reach the owner.
 *
 * Threading: everything runs on the event_base given at creation; callbacks are called
 * from its loop, never from inside a call into this module, so they may call back in. */
#ifndef SW_SERVING_WORKER_LISTENER_H
#define SW_SERVING_WORKER_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "proto/worker.pb-c.h"

struct event_base;
typedef struct sw_srv_workers sw_srv_workers_t;

typedef struct sw_srv_workers_events {
    void *self;
    /* A connection said Hello (borrowed for the call). Returns the worker id it is
     * admitted as (> 0), or 0 to refuse it with *why (static text) logged and the
     * connection closed. An id already connected is refused by the listener itself. */
    uint32_t (*hello)(void *self, const Spillway__Hello *hello, const char *peer,
                      const char **why);
    /* A BatchResult from an admitted worker; `res` is borrowed for the call. */
    void (*result)(void *self, uint32_t worker_id, const Spillway__BatchResult *res);
    /* The worker announced it is finishing its batches in hand and closing. */
    void (*drain)(void *self, uint32_t worker_id, const char *reason);
    /* An admitted worker's connection is gone without a Stop from us; `why` says how. */
    void (*lost)(void *self, uint32_t worker_id, const char *why);
} sw_srv_workers_events_t;

typedef struct sw_srv_workers_opts {
    const char *listen;             /* HOST:PORT; port 0 lets the kernel choose */
    size_t max_frame_bytes;         /* 0: SW_FRAME_MAX_BYTES_DEFAULT */
    int64_t heartbeat_timeout_ms;   /* silence after which a worker is lost; 0: 5000 */
    int64_t hello_timeout_ms;       /* a connection must say Hello within; 0: 5000 */
    unsigned max_connections;       /* 0: 4096 */
} sw_srv_workers_opts_t;

/* Counters, for /metrics: name, then meaning. */
#define SW_SRV_WORKERS_STATS(X)                                                             \
    X(connections_accepted) /* TCP connections accepted */                                 \
    X(connections_refused)  /* over max_connections, or refused at Hello */               \
    X(workers_admitted)     /* Hellos admitted */                                          \
    X(workers_lost)         /* admitted workers whose connection went without a Stop */    \
    X(bad_frames)           /* malformed, oversized or unexpected frames (closes) */       \
    X(batches_sent)         /* Batch frames written */                                     \
    X(results_received)     /* BatchResult frames read */

typedef struct sw_srv_workers_stats {
#define SW__X(name) uint64_t name;
    SW_SRV_WORKERS_STATS(SW__X)
#undef SW__X
    unsigned connections_open;
} sw_srv_workers_stats_t;

/* Binds the listener on base (borrowed). opts and events are copied. Returns 0, or a
 * negative error with a message naming the address in errbuf. */
int sw_srv_workers_create(struct event_base *base, const sw_srv_workers_opts_t *opts,
                          const sw_srv_workers_events_t *events, sw_srv_workers_t **out,
                          char *errbuf, size_t errlen) SW_MUST_USE;
/* The bound address workers should dial, "HOST:PORT" (the chosen port for port 0). */
const char *sw_srv_workers_address(const sw_srv_workers_t *w);

/* Writes a Batch frame (borrowed) to an admitted worker. Returns 0, -ENOTCONN when the
 * worker is not connected, or -EMSGSIZE / -EINVAL when the frame cannot be encoded
 * within max_frame_bytes (the caller must answer those requests itself). */
int sw_srv_workers_send_batch(sw_srv_workers_t *w, uint32_t worker_id,
                              const Spillway__Batch *batch) SW_MUST_USE;
/* Sends Stop: the worker answers what it holds, sends Drain and closes. Results keep
 * being reported until then; the close is not a loss. Returns 0 or -ENOTCONN. */
int sw_srv_workers_stop(sw_srv_workers_t *w, uint32_t worker_id, const char *reason);
/* Closes an admitted worker's connection now, reporting nothing (the owner already
 * counts it lost or gone). Unknown ids are ignored. */
void sw_srv_workers_forget(sw_srv_workers_t *w, uint32_t worker_id);
/* Whether worker_id is admitted and connected. */
bool sw_srv_workers_is_connected(const sw_srv_workers_t *w, uint32_t worker_id);

void sw_srv_workers_get_stats(const sw_srv_workers_t *w, sw_srv_workers_stats_t *out);
/* Admitted workers still connected (those sent Stop included). */
size_t sw_srv_workers_admitted(const sw_srv_workers_t *w);

/* Closes the listener and every connection without callbacks. NULL does nothing. */
void sw_srv_workers_destroy(sw_srv_workers_t *w);

#endif
