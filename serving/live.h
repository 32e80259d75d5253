/* The live driver of the policy core: `spillway serve`. It drives the same sw_sched_t that
 * `spillway simulate` drives, with `now` read from the monotonic clock once per callback,
 * and executes the core's actions against the real world: DISPATCH becomes a Batch frame
 * to a connected worker, INVOKE a Lambda Invoke call, LAUNCH and TERMINATE go to the
 * instance type's VM provider, REJECT becomes an HTTP error. Completions (batch results,
 * function answers, workers joining, draining or lost) go back into the core, and the run
 * directory (summary.json, timeline.csv, decisions.jsonl) is written by the same code as
 * the simulator's.
 *
 * The unit of work. A KServe request of N rows is N requests of the core, one per row, so
 * rows of one call may run on different workers or on a function; the call is answered
 * once, when its last row is done, with every row in order. If any row failed, the call
 * is answered with the first failure's status and message (the rows that succeeded are
 * wasted: an inference call is all or nothing for its client).
 *
 * Every accepted call gets exactly one answer: its rows all end in the core (served,
 * failed or rejected), or its deadline passes first and it is answered 504 (its rows
 * still finish in the core, which keeps its counts exact), or its client leaves and the
 * answer is dropped.
 *
 * Threading: one event_base, one thread. */
#ifndef SW_SERVING_LIVE_H
#define SW_SERVING_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "backends/lambda_client.h"
#include "backends/provider.h"
#include "common/common.h"
#include "config/config.h"
#include "predictor/predictor.h"

struct event_base;
typedef struct sw_srv_live sw_srv_live_t;

/* What the frontend serves, read from the model file by the caller. */
typedef struct sw_srv_model_info {
    const char *name;
    uint32_t version;
    size_t input_size, output_size;
    unsigned max_batch; /* rows per inference call */
} sw_srv_model_info_t;

typedef struct sw_srv_live_opts {
    const sw_cfg_t *cfg;        /* the policy; borrowed for the driver's life */
    sw_srv_model_info_t model;
    const char *listen;         /* HTTP, HOST:PORT (port 0: any) */
    const char *worker_listen;  /* worker port, HOST:PORT */
    const char *out_dir;        /* run directory; NULL: none */
    bool decisions;             /* write decisions.jsonl */
    /* One provider setting per instance type (cfg->instance_types_count entries); the
     * driver fills `connect` with the worker listener's address. */
    const sw_be_provider_opts_t *providers;
    /* Lambda Invoke client settings; NULL when functions are disabled. */
    const sw_be_lambda_opts_t *lambda;
    const char *static_token;   /* admits hand-started workers of static types; NULL: none */
    int64_t request_timeout_ms; /* a call not answered by then gets 504 */
    int64_t worker_timeout_ms;  /* heartbeat silence after which a worker is lost */
    int64_t boot_timeout_ms;    /* a LAUNCH that has not dialled in by then is lost */
    int64_t drain_timeout_ms;   /* SIGTERM: how long accepted work may take to finish */
    size_t max_body_bytes;
    unsigned max_connections;
    int64_t client_timeout_ms;  /* HTTP read/write/idle timeout */
    size_t max_frame_bytes;
    sw_pred_t *predictor;       /* a fitted forecaster for mark; ownership passes */
} sw_srv_live_opts_t;

/* Sets everything up on base (borrowed): the core, the HTTP and worker listeners, the
 * providers and the Lambda client, the run directory, and starts the run (the core's
 * initial pool is launched). Returns 0, or a negative error with a message. */
int sw_srv_live_create(struct event_base *base, const sw_srv_live_opts_t *opts,
                       sw_srv_live_t **out, char *errbuf, size_t errlen) SW_MUST_USE;

/* The bound addresses, "HOST:PORT". */
const char *sw_srv_live_http_address(const sw_srv_live_t *l);
const char *sw_srv_live_worker_address(const sw_srv_live_t *l);

/* Starts a graceful stop (SIGTERM): ready goes 503, new inference gets 503, accepted
 * calls are answered, then every worker is terminated, bills close, the run directory
 * is written and the loop is asked to exit. Idempotent. */
void sw_srv_live_drain(sw_srv_live_t *l);
/* True once draining has finished and the run directory is written. */
bool sw_srv_live_is_done(const sw_srv_live_t *l);

/* Replaces the policy with `cfg` (SIGHUP), keeping the core's state: only keys that can
 * change on a running core may differ (see sw_srv_live_reload_check). Ownership of cfg
 * passes on success. Returns 0, or -EINVAL with the keys that need a restart. */
int sw_srv_live_reload(sw_srv_live_t *l, sw_cfg_t *cfg, char *errbuf, size_t errlen)
    SW_MUST_USE;

/* Frees everything; call after the loop stopped. Child processes are stopped. */
void sw_srv_live_destroy(sw_srv_live_t *l);

#endif
