/* Actions: the policy core's decisions, as data. The core appends records to an
 * sw_actions_t; the driver (simulator or live loop) executes them through the backends
 * and writes each to the decision log. Every action carries a reason code. */
#ifndef SW_SCHEDULER_ACTIONS_H
#define SW_SCHEDULER_ACTIONS_H

#include "common/common.h"

typedef enum {
    SW_ACT_DISPATCH = 0, /* run a batch of queued requests on a worker */
    SW_ACT_INVOKE,       /* send one request to the FaaS target */
    SW_ACT_LAUNCH,       /* start a VM of a type (the core assigns its worker id) */
    SW_ACT_TERMINATE,    /* stop a VM (it is idle and has been drained) */
    SW_ACT_REJECT,       /* answer a request with an error (429/503) */
    SW_ACT__COUNT
} sw_action_kind_t;

#define SW_REASONS(X)                                                                              \
    X(BATCH_FULL, "batch_full")       /* dispatch: max batch reached */                            \
    X(SLACK_EXPIRED, "slack_expired") /* dispatch: oldest request cannot wait longer */            \
    X(LATE, "late")                   /* dispatch: already past the deadline */                    \
    X(NO_BATCH_GAIN, "no_batch_gain") /* dispatch: a bigger batch is not cheaper */                \
    X(SPILL_PREDICTED_MISS, "spill_predicted_miss") /* invoke: VM pool would miss */               \
    X(SPILL_NO_VM, "spill_no_vm")                   /* invoke: no worker running or booting */     \
    X(FAAS_ONLY, "faas_only")                       /* invoke: policy sends everything */          \
    X(REQUEUE_WORKER_LOST, "requeue_worker_lost")   /* invoke: its worker disappeared */           \
    X(STATIC_POOL, "static_pool")                   /* launch: fixed pool (re)filled */            \
    X(FORECAST, "forecast")                         /* launch: planner covers the forecast */      \
    X(MIN_INSTANCES, "min_instances")               /* launch: floor of the pool */                \
    X(VIOLATION_MONITOR, "violation_monitor")       /* launch: recent miss rate over budget */     \
    X(TARGET_TRACKING, "target_tracking")           /* launch/terminate: reactive autoscaler */    \
    X(SPOT_REPLACEMENT, "spot_replacement")         /* launch: a spot instance got its notice */   \
    X(ORACLE, "oracle")                             /* launch/terminate: perfect-foresight plan */ \
    X(CLAIRVOYANT, "clairvoyant")       /* launch/terminate: the clairvoyant bound's plan */       \
    X(SCALE_IN, "scale_in")             /* terminate: forecast needs fewer */                      \
    X(SPOT_NOTICE, "spot_notice")       /* terminate: drained after interruption notice */         \
    X(END_OF_RUN, "end_of_run")         /* terminate, reject: the run is over */                   \
    X(QUEUE_DELAY, "queue_delay")       /* reject: predicted wait over max_queue_delay */          \
    X(NO_CAPACITY, "no_capacity")       /* reject: no worker and no FaaS */                        \
    X(FAAS_THROTTLED, "faas_throttled") /* reject: function throttled, no VM to fall back */       \
    X(FAAS_ERROR, "faas_error")         /* reject: function failed, no VM to fall back */          \
    X(ADOPTED, "adopted")               /* launch: a worker started by hand joined */              \
    X(WORKER_DRAIN, "worker_drain")     /* terminate: the worker said it is going away */

typedef enum {
#define SW__REASON_ENUM(id, str) SW_REASON_##id,
    SW_REASONS(SW__REASON_ENUM)
#undef SW__REASON_ENUM
    SW_REASON__COUNT
} sw_reason_t;

typedef struct sw_action {
    sw_action_kind_t kind;
    sw_reason_t reason;
    sw_time_t time;
    int type_idx;       /* LAUNCH, DISPATCH, TERMINATE: instance type; else -1 */
    uint32_t worker_id; /* LAUNCH, DISPATCH, TERMINATE */
    bool instant;       /* LAUNCH: no boot delay (oracle) */
    uint32_t n_reqs;    /* DISPATCH: batch size */
    uint64_t batch_id;  /* DISPATCH */
    uint64_t req_id;    /* INVOKE, REJECT */
    sw_time_t arrival;  /* INVOKE, REJECT: the request's arrival */
    size_t reqs_off;    /* DISPATCH: first id in sw_actions_t.req_ids */
} sw_action_t;

/* A growable buffer of actions, owned by the driver and reused across calls. */
typedef struct sw_actions {
    sw_action_t *v;
    size_t n, cap;
    uint64_t *req_ids; /* batch members of DISPATCH actions */
    size_t n_ids, cap_ids;
} sw_actions_t;

void sw_actions_init(sw_actions_t *a);
void sw_actions_deinit(sw_actions_t *a);
/* Empties the buffer, keeping its memory. */
static inline void sw_actions_clear(sw_actions_t *a)
{
    a->n = 0;
    a->n_ids = 0;
}
/* Appends a zeroed action and returns it; valid until the next push or clear. */
sw_action_t *sw_actions_push(sw_actions_t *a, sw_action_kind_t kind, sw_reason_t reason,
                             sw_time_t now);
/* Reserves n request-id slots for a DISPATCH and returns them. */
uint64_t *sw_actions_reserve_ids(sw_actions_t *a, size_t n, size_t *off);

const char *sw_action_name(sw_action_kind_t kind);
const char *sw_reason_name(sw_reason_t reason);

#endif
