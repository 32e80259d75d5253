/* The core's state, shared by sched.c and the policy files (policy_*.c) only. Policies
 * decide when to launch or retire VMs and whether to spill; sched.c owns the request
 * queue, batching, workers, the SLO tracker and the ledger. */
#ifndef SW_SCHEDULER_SCHED_INTERNAL_H
#define SW_SCHEDULER_SCHED_INTERNAL_H

#include "common/ring.h"
#include "predictor/predictor.h"
#include "scheduler/sched.h"

typedef enum { SW_W_BOOTING = 0, SW_W_RUNNING, SW_W_DRAINING } sw_wstate_t;

typedef struct sw_qreq {
    uint64_t id;
    sw_time_t arrival;
    /* A function already refused or failed this request: it waits for a VM (or is
     * rejected) and is never spilled again. Without this, a throttle answered at the
     * same instant would send it back to the function without end (issue 10). */
    bool faas_refused;
} sw_qreq_t;

SW_RING_DEFINE(sw_qreq_ring, sw_qreq_t)
SW_RING_DEFINE(sw_interval_ring, sw_sched_interval_t)

typedef struct sw_worker {
    uint32_t id;
    int type;
    sw_wstate_t state;
    bool busy;
    bool counted;       /* in types[].count: planners see it as capacity */
    bool exact_billing; /* oracle: no minimum, no rounding */
    uint32_t doomed_by; /* spot notice: the replacement it serves until; 0 when none */
    sw_reason_t retire_reason;
    sw_time_t launched_at;
    sw_time_t expected_ready; /* launch + mean boot, until ready */
    sw_time_t busy_until;     /* end of the batch in hand, at the p99 service time */
    uint64_t batch_id;
    uint32_t batch_n;
    sw_qreq_t *batch; /* max_batch slots */
    size_t active_idx;
    struct sw_worker *idle_prev, *idle_next;
} sw_worker_t;

/* Per instance type, derived once from the config. */
typedef struct sw_type_info {
    sw_time_t *t_us;      /* mean T_b, index b (1..max_batch) */
    sw_time_t *t_safe_us; /* T_b x the p99 of the service variation: for deadlines */
    unsigned b_plan;      /* largest b with T_safe_b <= SLO/2 (at least 1) */
    bool *wait_pays;      /* index b: a batch of b+1 is >= 5 % cheaper per request */
    double cap_rps;       /* planning capacity: b_plan / T_b_plan, derated when slack is short */
    double price_per_s;   /* as billed (spot factor applied) */
    double boot_mean_s;
    unsigned count;       /* counted workers: booting or running, not draining or doomed */
    bool usable;          /* a batch of 1 fits the SLO: planners may launch it */
} sw_type_info_t;

typedef struct sw_sched_policy sw_sched_policy_t;

/* A policy. Hooks may be NULL. State lives behind `state`. */
typedef struct sw_sched_ops {
    const char *name;
    bool spills;    /* sends predicted misses to FaaS */
    bool faas_only; /* sends everything to FaaS */
    bool foresight; /* plans from the future: created only with sw_sched_create_foresight */
    int (*create)(sw_sched_t *s, char *errbuf, size_t errlen);
    void (*destroy)(sw_sched_t *s);
    void (*start)(sw_sched_t *s, sw_time_t now, sw_actions_t *out);
    /* Called at each interval boundary with the interval that just closed (NULL at the
     * start) and the row of the one that begins, to fill its forecast fields. */
    void (*plan)(sw_sched_t *s, sw_time_t now, const sw_sched_interval_t *closed,
                 sw_sched_interval_t *opening, sw_actions_t *out);
    /* Every monitor period (a sixth of mark.violation_window_s). */
    void (*monitor)(sw_sched_t *s, sw_time_t now, sw_actions_t *out);
    void (*worker_lost)(sw_sched_t *s, sw_time_t now, int type, sw_actions_t *out);
    /* At s->policy_wakeup, when the policy has set it: work due between interval
     * boundaries (a launch timed to finish its boot by a boundary). It sets the next. */
    void (*wake)(sw_sched_t *s, sw_time_t now, sw_actions_t *out);
} sw_sched_ops_t;

#define SW_MONITOR_SLOTS 6

struct sw_sched {
    const sw_cfg_t *cfg;
    const sw_sched_ops_t *ops;
    void *policy_state;
    sw_time_t slo_us;
    sw_time_t margin_us;
    sw_time_t max_queue_delay_us;
    sw_time_t interval_us;
    sw_time_t origin;
    bool started, finished;

    sw_type_info_t types[SW_SCHED_MAX_TYPES];

    /* Central FIFO queue in arrival order (late binding: a batch is formed when a worker
     * is free). */
    sw_qreq_ring_t q;

    /* Workers: by id (ids are never reused) and the compact active set. */
    sw_worker_t **by_id;
    size_t by_id_cap;
    uint32_t next_worker_id;
    sw_worker_t **active;
    size_t n_active;
    sw_worker_t *idle_head; /* running, not busy */
    size_t n_idle;
    double running_rps; /* sum of cap_rps over running, not draining */
    size_t n_serving;   /* running, not draining: taking new batches */
    size_t n_running;   /* running + draining (up and serving) */
    uint64_t next_batch_id;
    sw_time_t dispatch_timer; /* when a partial batch must go; NEVER when none */
    sw_time_t policy_wakeup;  /* when ops->wake runs next; NEVER when none */

    uint64_t faas_inflight;
    uint64_t in_batches;    /* requests inside dispatched batches */
    uint64_t q_refused;     /* queued requests with faas_refused set */

    /* Interval bookkeeping. */
    uint64_t interval_idx;
    sw_time_t next_interval;
    sw_sched_interval_t cur;
    sw_hist_t cur_hist;
    sw_interval_ring_t rows; /* closed, not yet taken by the driver */
    sw_sched_interval_t taken;

    /* Violation monitor: completions and misses in SW_MONITOR_SLOTS sub-windows, the
     * misses of function answers apart, and the whole run's function misses. */
    sw_time_t monitor_period;
    sw_time_t next_monitor;
    uint64_t mon_total[SW_MONITOR_SLOTS], mon_miss[SW_MONITOR_SLOTS];
    uint64_t mon_miss_faas[SW_MONITOR_SLOTS];
    unsigned mon_slot;
    uint64_t faas_missed;

    /* A fitted forecaster handed in by the driver (sw_sched_create_with), for mark. */
    sw_pred_t *given_pred;

    /* Foresight (oracle, clairvoyant): arrivals per interval from the origin. */
    uint64_t *foresight;
    size_t n_foresight;

    /* Totals. */
    uint64_t arrivals, served_vm, served_faas, rejected, met_slo, spilled, failed;
    uint64_t faas_invocations, cold_starts, throttled, faas_errors;
    uint64_t vm_launched, vm_terminated, vm_lost, vm_interrupted, peak_running;
    sw_hist_t hist;
    sw_ledger_t ledger;
    double cost_scratch[SW_SCHED_MAX_TYPES];
    double open_scratch[SW_SCHED_MAX_TYPES];
};

/* Launches one VM of `type`; returns its worker (BOOTING). */
sw_worker_t *sw__sched_launch(sw_sched_t *s, sw_time_t now, int type, sw_reason_t reason,
                              bool instant, sw_actions_t *out);
/* Stops taking work on `w`: terminated now if idle or booting, else after its batch. */
void sw__sched_retire(sw_sched_t *s, sw_time_t now, sw_worker_t *w, sw_reason_t reason,
                      sw_actions_t *out);
/* Miss rate over the monitor window (0 when nothing completed). */
/* The monitor's window: completions, misses, and the misses of function answers. */
typedef struct sw_recent {
    uint64_t completions, misses, faas_misses;
} sw_recent_t;
sw_recent_t sw__sched_recent(const sw_sched_t *s);
/* Planned capacity (rps) of booting + running workers that are not draining. */
double sw__sched_capacity_rps(const sw_sched_t *s);
/* Whether retiring `w` now wastes no paid time: it is past the billing minimum and, with
 * coarse billing, inside the last policy interval of its paid block. */
bool sw__sched_retire_is_free(const sw_sched_t *s, const sw_worker_t *w, sw_time_t now);
/* Type with the lowest price per request served at full planning capacity. */
int sw__sched_cheapest_type(const sw_sched_t *s);
/* USD per request of a warm FaaS call (fee + billed duration at the mean latency). */
double sw__sched_faas_cost_per_request(const sw_sched_t *s);
/* Moves the pool to exactly `target[type]` workers (launching or retiring). */
void sw__sched_reconcile(sw_sched_t *s, sw_time_t now, const unsigned *target, sw_reason_t up,
                         sw_reason_t down, bool instant, sw_actions_t *out);

extern const sw_sched_ops_t sw__policy_static;
extern const sw_sched_ops_t sw__policy_reactive;
extern const sw_sched_ops_t sw__policy_faas_only;
extern const sw_sched_ops_t sw__policy_mark;
extern const sw_sched_ops_t sw__policy_oracle;
extern const sw_sched_ops_t sw__policy_clairvoyant;

#endif
