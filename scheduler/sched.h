/* The policy core: admission, SLO-aware batching, routing and spill to FaaS, the
 * provisioning planner, the SLO tracker and the cost ledger.
 *
 * It is a pure function of its inputs (DESIGN.md): events come in with `now` as an
 * argument, decisions go out as sw_action_t records appended to `out`. It reads no clock,
 * does no I/O, holds no globals, starts no threads; randomness comes only from the seed
 * given at creation. `spillway simulate` and `spillway serve` drive the same object, so the
 * same events in the same order give the same decisions.
 *
 * Requests are one model's inference calls of equal work; a request's deadline is its
 * arrival plus slo.latency_ms. Worker ids are chosen by the core at LAUNCH.
 *
 * Threading: one sw_sched_t belongs to one loop; no call is thread-safe. */
#ifndef SW_SCHEDULER_SCHED_H
#define SW_SCHEDULER_SCHED_H

#include "common/backend.h"
#include "common/common.h"
#include "common/hist.h"
#include "config/config.h"
#include "predictor/predictor.h"
#include "scheduler/actions.h"
#include "scheduler/ledger.h"

typedef struct sw_sched sw_sched_t;

/* The config refuses more (check-config and simulate agree); this is a backstop. */
#define SW_SCHED_MAX_TYPES SW_CFG_MAX_INSTANCE_TYPES

/* One timeline row: what happened during [start, end). Counts are of events inside the
 * interval; VM counts and the cost are as at its end. */
typedef struct sw_sched_interval {
    sw_time_t start, end;
    uint64_t arrivals;
    uint64_t served_vm, served_faas, rejected;
    uint64_t slo_misses; /* answered late, or rejected, inside this interval */
    uint64_t faas_invocations, cold_starts, throttled;
    double forecast;           /* point forecast for this interval's arrivals (count) */
    double forecast_upper;     /* upper quantile of the same */
    double forecast_max;       /* planner input: max over the horizon (count per interval) */
    double forecast_max_upper; /* upper quantile of that max */
    double capacity_rps;       /* planned serving capacity of running + booting VMs */
    double latency_p50_ms, latency_p99_ms; /* answered requests in this interval */
    unsigned running_by_type[SW_SCHED_MAX_TYPES];
    unsigned booting_by_type[SW_SCHED_MAX_TYPES];
    unsigned draining_by_type[SW_SCHED_MAX_TYPES];
    double cum_cost_usd; /* the whole bill so far, as if every VM stopped now */
    double cum_vm_usd, cum_faas_usd;
    uint64_t launches; /* VMs launched inside this interval (churn: launches per hour) */
} sw_sched_interval_t;

typedef struct sw_sched_summary {
    const char *policy;
    uint64_t requests; /* arrivals that got their answer (served, failed or rejected) */
    uint64_t served_vm, served_faas, rejected, met_slo, spilled;
    uint64_t failed; /* answered with an error by a worker (a per-request error) */
    double slo_attainment; /* met_slo / requests; a rejection is a miss */
    const sw_hist_t *latency; /* answered requests (VM and FaaS), borrowed */
    uint64_t faas_invocations, cold_starts, throttled, faas_errors;
    uint64_t vm_launched, vm_terminated, vm_lost, peak_running;
    uint64_t vm_interrupted; /* spot interruption notices received */
    double span_s;           /* from the start of the run to `now`: vm_launched / span is churn */
    sw_cost_t cost; /* vm_by_type_usd borrowed until the next call */
} sw_sched_summary_t;

/* Creates the core for `cfg` (borrowed for the core's life) and the policy it names.
 * Returns 0, or -EINVAL with a message (e.g. an unknown predictor). */
int sw_sched_create(sw_sched_t **out, const sw_cfg_t *cfg, char *errbuf, size_t errlen)
    SW_MUST_USE;
/* The same, with a fitted forecaster for the `mark` policy (e.g. loaded from
 * predictor.model_path by the driver, since the core does no I/O). Takes ownership of
 * `pred` (NULL: built from cfg->predictor), also on failure. A policy that plans with
 * foresight (sw_sched_policy_needs_foresight) is refused here with -EINVAL: it needs the
 * future, which only a replay has. */
int sw_sched_create_with(sw_sched_t **out, const sw_cfg_t *cfg, sw_pred_t *pred, char *errbuf,
                         size_t errlen) SW_MUST_USE;
/* The same for a replay, with perfect foresight: the arrivals of each policy interval from
 * time 0, counts[0..n) (copied; n may be 0). The oracle and the clairvoyant bound read it,
 * other policies ignore it. */
int sw_sched_create_foresight(sw_sched_t **out, const sw_cfg_t *cfg, sw_pred_t *pred,
                              const uint64_t *counts, size_t n, char *errbuf,
                              size_t errlen) SW_MUST_USE;
void sw_sched_destroy(sw_sched_t *s);

/* Whether the policy plans from the future (oracle, clairvoyant): such a policy exists
 * only in a replay, and sw_sched_create_with refuses it. */
bool sw_sched_policy_needs_foresight(sw_policy_kind_t policy);

/* Starts the run at `now` (the origin of interval 0): launches the initial pool. */
void sw_sched_start(sw_sched_t *s, sw_time_t now, sw_actions_t *out);

/* Events. Each may append actions to `out` (which it does not clear). */
void sw_sched_on_arrival(sw_sched_t *s, sw_time_t now, uint64_t req_id, sw_actions_t *out);
void sw_sched_on_worker_ready(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                              sw_actions_t *out);
void sw_sched_on_worker_notice(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                               sw_actions_t *out);
void sw_sched_on_worker_lost(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                             sw_actions_t *out);
void sw_sched_on_batch_done(sw_sched_t *s, sw_time_t now, uint32_t worker_id, uint64_t batch_id,
                            sw_actions_t *out);
/* The same, where a worker answered some requests of the batch with an error: failed[i]
 * (borrowed, one per request in dispatch order; NULL: none failed) marks those, which
 * count as answered with an error (an SLO miss) and are not retried; the rest are served.
 * A result for a batch the core no longer expects (its worker was declared lost) is
 * ignored, so a late answer is never counted twice. */
void sw_sched_on_batch_result(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                              uint64_t batch_id, const bool *failed, sw_actions_t *out);
/* A worker that was not launched by the core joined (a hand-started worker of a static
 * pool): it is RUNNING at once, counted as capacity, and billed from `now`. Returns its
 * worker id, or 0 when type_idx is out of range. */
uint32_t sw_sched_adopt_worker(sw_sched_t *s, sw_time_t now, int type_idx, sw_actions_t *out);
/* A running worker announced it is going away (Drain: an operator stopped it, or its VM
 * got an interruption notice it reports itself): it takes no new batch, finishes the one
 * in hand and is then terminated; when it was counted, a replacement is launched as for
 * a spot notice. */
void sw_sched_on_worker_draining(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                                 sw_actions_t *out);
void sw_sched_on_faas_done(sw_sched_t *s, sw_time_t now, const sw_faas_result_t *res,
                           sw_actions_t *out);
/* Time-driven work: interval roll-over and planning, batch timers, the violation monitor.
 * Call it at sw_sched_next_wakeup() (calling early or late is harmless). */
void sw_sched_on_tick(sw_sched_t *s, sw_time_t now, sw_actions_t *out);
/* When on_tick next has work; SW_TIME_NEVER when none. */
sw_time_t sw_sched_next_wakeup(const sw_sched_t *s);

/* True when no request is queued, in a batch, or at a function. */
bool sw_sched_is_idle(const sw_sched_t *s);
/* Ends the run: rejects anything still queued (no_capacity) and every request still in a
 * batch (end_of_run: the run is over before its worker answered, so it gets an error,
 * not a success), terminates every VM (bills close at `now`) and closes the last
 * interval. Function calls still in flight are the driver's: it completes or cancels them
 * (on_faas_done) before calling this. */
void sw_sched_finish(sw_sched_t *s, sw_time_t now, sw_actions_t *out);

/* Closed timeline rows, oldest first: returns one and removes it, or NULL. The pointer is
 * valid until the next call into the core. */
const sw_sched_interval_t *sw_sched_take_interval(sw_sched_t *s);
/* Totals so far (the cost as if every VM stopped at `now`). */
void sw_sched_summary(sw_sched_t *s, sw_time_t now, sw_sched_summary_t *out);

const sw_cfg_t *sw_sched_cfg(const sw_sched_t *s);

/* Whether the key at `path` (concrete, "instance_types[2].max_instances", or with "[]")
 * is one the core reads as it goes, so that it may change on a running core. Keys it
 * derives state from at creation (the SLO, batch profiles, prices, the forecaster, the
 * interval) need a new core. */
bool sw_sched_key_is_live(const char *path);
/* Swaps in cfg, borrowed from now on, on a running core (a reload). The caller has
 * checked with sw_sched_key_is_live that nothing else differs; figures derived from the
 * live keys are recomputed. */
void sw_sched_reconfigure(sw_sched_t *s, const sw_cfg_t *cfg);

#endif
