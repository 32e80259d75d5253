/* Shared inside serving/ by the live driver's files only: live.c (set-up, events, the
 * loop's glue), live_exec.c (executing the core's actions and feeding completions back),
 * live_calls.c (inference calls and their rows), live_metrics.c (/metrics and the
 * observed batch times). */
#ifndef SW_SERVING_LIVE_INTERNAL_H
#define SW_SERVING_LIVE_INTERNAL_H

#include <stdio.h>
#include <sys/queue.h>

#include <jansson.h>

#include "common/hist.h"
#include "common/strbuf.h"
#include "runs/rundir.h"
#include "scheduler/sched.h"
#include "serving/http.h"
#include "serving/kserve.h"
#include "serving/live.h"
#include "serving/worker_listener.h"

/* ---- inference calls and their rows (live_calls.c) ---- */

/* Request ids the core sees: generation (24 bits) | call slot (24 bits) | row (16 bits).
 * The generation tells a stale id (a call long gone) from the slot's current call. */
#define SW_LIVE_ROW_BITS 16
#define SW_LIVE_SLOT_BITS 24
#define SW_LIVE_MAX_ROWS (1u << SW_LIVE_ROW_BITS)
#define SW_LIVE_MAX_CALLS (1u << SW_LIVE_SLOT_BITS)

typedef enum { ROW_IN_CORE = 0, ROW_OK, ROW_FAILED } row_state_t;

typedef struct live_call {
    TAILQ_ENTRY(live_call) by_deadline; /* while not answered */
    sw_srv_infer_t *inf;  /* NULL once answered (or given back after a 504) */
    float *input_copy;    /* rows x input_size, kept when answered before its rows ended */
    uint32_t slot, gen;
    uint32_t rows, rows_open;
    sw_time_t received;   /* core time */
    sw_time_t deadline;   /* core time */
    int fail_status;      /* first failure: HTTP status, 0 when none */
    unsigned fail_retry_after_s;
    char fail_msg[160];
    struct live_call *next_free; /* on the driver's free list */
    uint8_t row_state[];  /* model.max_batch entries, the first `rows` in use */
} live_call_t;

TAILQ_HEAD(live_call_list, live_call);

/* ---- workers as the driver sees them ---- */

typedef enum { LW_LAUNCHING = 0, LW_CONNECTED, LW_STOPPING } live_wstate_t;

typedef struct live_worker {
    uint32_t id;
    int type;
    live_wstate_t state;
    bool launched;        /* by a provider (else adopted) */
    bool launch_failed;   /* the provider refused at once: lost at the next sweep */
    char token[33];       /* 128 random bits, hex; empty for adopted workers */
    sw_time_t launched_at, ready_at;
    /* The batch in hand, as dispatched, to check the result against. */
    uint64_t batch_id;
    uint32_t batch_n;
    uint64_t *batch_ids;  /* max_batch of the type */
    sw_time_t batch_sent; /* core time */
} live_worker_t;

/* Per instance type: observed batch service time against the profile's. */
typedef struct live_type_stats {
    uint64_t batches;
    double observed_ms_sum, planned_ms_sum; /* since start */
    double window_observed_ms, window_planned_ms; /* since the last drift check */
    uint64_t window_batches;
    bool drift_warned;
    sw_hist_t compute_us; /* worker-reported compute time per batch */
} live_type_stats_t;

/* Completions found while executing actions (a send that failed, a local throttle) are
 * fed back after the action list is done, never while iterating it. */
typedef enum { FB_WORKER_LOST = 0, FB_FAAS_DONE } feedback_kind_t;

typedef struct feedback {
    feedback_kind_t kind;
    uint32_t worker_id;
    sw_faas_result_t faas;
} feedback_t;

/* Counters for /metrics, as an X-macro list: name, Prometheus help. */
#define SW_LIVE_COUNTERS(X)                                                                   \
    X(calls_accepted, "inference calls accepted")                                            \
    X(calls_ok, "inference calls answered 200")                                             \
    X(calls_failed, "inference calls answered with an error after acceptance")              \
    X(calls_timed_out, "inference calls answered 504")                                       \
    X(calls_abandoned, "inference calls whose client left before the answer")               \
    X(rows_ok, "rows answered with an output")                                               \
    X(exec_batches, "batches sent to workers")                                               \
    X(faas_calls, "function invocations started")                                           \
    X(faas_local_refusals, "function invocations refused by the client at once")            \
    X(late_results, "batch results ignored because their worker was already lost")          \
    X(bad_results, "batch results that did not match their batch (worker dropped)")

typedef struct live_counters {
#define SW__X(name, help) uint64_t name;
    SW_LIVE_COUNTERS(SW__X)
#undef SW__X
} live_counters_t;

struct sw_srv_live {
    struct event_base *base;
    sw_srv_live_opts_t o;
    const sw_cfg_t *cfg;
    sw_cfg_t *owned_cfg; /* after a reload */
    sw_sched_t *sched;
    sw_actions_t acts;
    sw_time_t origin;    /* monotonic clock at core time 0 */
    sw_time_t now;       /* core time of the callback being handled */

    sw_srv_http_t *http;
    char http_address[300];
    sw_srv_workers_t *workers;
    sw_be_provider_t **providers; /* per type */
    sw_be_provider_events_t provider_events;
    sw_be_lambda_t *lambda;

    /* Calls: a slab indexed by slot, with a free list, and a FIFO by deadline. */
    live_call_t **calls;
    uint32_t n_slots, *free_slots, n_free;
    struct live_call_list pending;
    uint64_t calls_open; /* accepted, not yet freed */
    live_call_t *free_calls; /* freed calls kept for reuse: no allocation per call */
    uint32_t next_gen;

    live_worker_t **wk;  /* by worker id */
    size_t wk_cap;
    size_t n_workers;

    feedback_t *fb;
    size_t n_fb, fb_cap;

    /* Timers. */
    struct event *wake_ev;     /* the core's next wakeup */
    sw_time_t wake_armed;
    struct event *deadline_ev; /* the oldest unanswered call's deadline */
    struct event *sweep_ev;    /* boot timeouts, drift checks, drain progress */
    struct event *flush_ev;    /* the core's actions on a Hello, once it is registered */

    /* Scratch reused across calls: no allocation per batch or per function call. */
    Spillway__Request *batch_reqs;
    Spillway__Request **batch_req_ptrs;
    size_t batch_cap;
    sw_srv_kserve_buf_t payload;
    float *faas_out; /* scratch output row for answers nobody waits for */
    struct faas_ctx *faas_free;
    bool *failed_mask; /* the largest max_batch of any type */

    /* Run directory. */
    FILE *decisions_f, *timeline_f;
    char path[4096];

    bool draining, drained, finished;
    bool tearing_down; /* destroy is running: late callbacks only release their context */
    sw_sched_interval_t last_row; /* the last closed interval, for /metrics */
    uint64_t act_counts[SW_ACT__COUNT][SW_REASON__COUNT];
    uint64_t latency_buckets[16]; /* answered calls, Prometheus buckets (live_metrics.c) */
    double latency_sum_s;
    sw_time_t drain_deadline;
    sw_time_t exit_deadline; /* after the drain: workers have until then to take Stop */

    live_counters_t c;
    sw_hist_t latency_us;       /* answered calls, end to end */
    sw_hist_t queue_us;         /* rows: arrival to dispatch */
    sw_hist_t compute_us;       /* rows' batch compute time, as workers report it */
    live_type_stats_t *type_stats;
};

/* live_calls.c */
void sw__live_calls_init(sw_srv_live_t *l);
void sw__live_calls_deinit(sw_srv_live_t *l);
/* A new call for an accepted inference; feeds its rows to the core. */
void sw__live_call_accept(sw_srv_live_t *l, sw_srv_infer_t *inf);
/* The call and row a core request id names, or NULL when stale. */
live_call_t *sw__live_call_of(sw_srv_live_t *l, uint64_t req_id, uint32_t *row);
const float *sw__live_row_input(const sw_srv_live_t *l, const live_call_t *c, uint32_t row);
float *sw__live_row_output(sw_srv_live_t *l, live_call_t *c, uint32_t row);
/* A row ended: ok, or failed with an HTTP status and message. */
void sw__live_row_done(sw_srv_live_t *l, live_call_t *c, uint32_t row, int status,
                       const char *msg, unsigned retry_after_s);
/* Answers calls whose deadline passed (504) and re-arms the deadline timer. */
void sw__live_calls_expire(sw_srv_live_t *l);
void sw__live_calls_arm(sw_srv_live_t *l);

/* live_exec.c */
/* Executes l->acts (then clears it), feeds back what came of it, writes the decision log
 * and timeline rows, and re-arms the core's timer. Call after every core call. */
void sw__live_flush(sw_srv_live_t *l);
void sw__live_faas_result(sw_srv_live_t *l, const sw_faas_result_t *r);
live_worker_t *sw__live_worker(const sw_srv_live_t *l, uint32_t id);
live_worker_t *sw__live_worker_add(sw_srv_live_t *l, uint32_t id, int type);
void sw__live_faas_ctx_free_all(sw_srv_live_t *l);
void sw__live_worker_forget(sw_srv_live_t *l, uint32_t id);
/* Reads the clock into l->now (core time). */
sw_time_t sw__live_tick(sw_srv_live_t *l);

/* live_metrics.c */
void sw__live_metrics(sw_srv_live_t *l, struct evbuffer *out);
void sw__live_record_batch(sw_srv_live_t *l, const live_worker_t *w, double compute_ms,
                           double elapsed_ms);
void sw__live_check_drift(sw_srv_live_t *l);
void sw__live_record_latency(sw_srv_live_t *l, sw_time_t latency);
json_t *sw__live_summary_section(const sw_srv_live_t *l);

#endif
