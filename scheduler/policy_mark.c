/* `mark`: MArk's proactive policy (Zhang et al., USENIX ATC 2019) with Spillway's
 * refinements. Every interval the planner asks the forecaster for the upper quantile of
 * the maximum load over its horizon and covers it greedily: it adds, one at a time, the
 * instance type with the lowest (boot overhead + span) x price per request it would serve,
 * counting only the load still uncovered, so a small remainder gets a small instance; and
 * where spilling that remainder to functions is cheaper than any VM, it spills. Scale-in is
 * billing-aware: a VM still inside its paid minimum (or paid hour) is kept. Between plans,
 * a violation monitor launches one more VM when the recent miss rate exceeds the budget,
 * at most once per cooldown, of the type cover() would pick for the capacity the pool
 * lacks. Batching and spill at arrival are the core's (sched.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched_internal.h"

typedef struct mark {
    sw_pred_t *pred;
    double *point, *upper;
    sw_time_t last_monitor_launch;
} mark_t;

/* Forecasters whose parameters come from a fit: without a saved model they would plan
 * from nothing, so mark refuses them rather than plan badly in silence. */
static bool needs_fit(const sw_cfg_predictor_t *pc)
{
    static const char *const fitted[] = {"holt-winters", "ar", "lstm"};
    for (size_t i = 0; i < SW_ARRAY_LEN(fitted); i++)
        if (strcmp(pc->name, fitted[i]) == 0)
            return true;
    return strcmp(pc->name, "ewma") == 0 && pc->ewma_alpha == 0;
}

/* A saved model must be the forecaster the policy names, for the policy's intervals. */
static int check_given(const sw_sched_t *s, const sw_pred_t *pred, char *errbuf, size_t errlen)
{
    const sw_cfg_t *cfg = s->cfg;
    const sw_pred_params_t *pp = sw_pred_params(pred);
    if (strcmp(pp->name, cfg->predictor.name) != 0)
        snprintf(errbuf, errlen, "predictor.model_path holds a %s forecaster, but predictor.name "
                 "is %s", pp->name, cfg->predictor.name);
    else if (fabs(pp->interval_s - cfg->policy.interval_s) > 1e-9)
        snprintf(errbuf, errlen, "predictor.model_path was fitted on %g s intervals, but "
                 "policy.interval_s is %g", pp->interval_s, cfg->policy.interval_s);
    else if (pp->horizon < cfg->predictor.horizon_intervals)
        snprintf(errbuf, errlen, "predictor.model_path forecasts %u intervals ahead, fewer than "
                 "predictor.horizon_intervals %u", pp->horizon, cfg->predictor.horizon_intervals);
    else
        return 0;
    return -EINVAL;
}

static int mark_create(sw_sched_t *s, char *errbuf, size_t errlen)
{
    sw_pred_t *pred = s->given_pred;
    s->given_pred = NULL;
    if (pred && check_given(s, pred, errbuf, errlen) < 0) {
        sw_pred_destroy(pred);
        return -EINVAL;
    }
    if (!pred && needs_fit(&s->cfg->predictor)) {
        snprintf(errbuf, errlen, "predictor.name: %s must be fitted before mark can plan with "
                 "it: run 'spillway predict fit --trace TRAINING_TRACE --model %s --save FILE' "
                 "and set predictor.model_path: FILE", s->cfg->predictor.name,
                 s->cfg->predictor.name);
        return -EINVAL;
    }
    if (!pred) {
        sw_pred_params_t params;
        sw_pred_params_from_cfg(&s->cfg->predictor, s->cfg->policy.interval_s, &params);
        params.seed = sw_cfg_predictor_seed(s->cfg);
        int rc = sw_pred_create(&pred, &params, errbuf, errlen);
        if (rc < 0)
            return rc;
    }
    /* The counts mark observes are live load: a quiet spell must reach the forecast (the
     * gap rule is for cleaning recorded history, not for a planner). */
    sw_pred_set_live(pred);
    mark_t *m = sw_calloc(1, sizeof(*m));
    m->pred = pred;
    m->point = sw_calloc(s->cfg->predictor.horizon_intervals, sizeof(double));
    m->upper = sw_calloc(s->cfg->predictor.horizon_intervals, sizeof(double));
    m->last_monitor_launch = INT64_MIN / 2;
    s->policy_state = m;
    return 0;
}

static void mark_destroy(sw_sched_t *s)
{
    mark_t *m = s->policy_state;
    sw_pred_destroy(m->pred);
    sw_free(m->point);
    sw_free(m->upper);
    sw_free(m);
}

static void mark_start(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    int type = sw__sched_cheapest_type(s);
    for (unsigned i = 0; i < s->cfg->policy.mark.min_instances; i++)
        sw__sched_launch(s, now, type, SW_REASON_MIN_INSTANCES, false, out);
}

/* Whether one more VM of type t may start: its own limit, and the pool's, which bounds
 * what an absurd forecast can launch when functions are off and no type has a limit. */
static bool type_has_room(const sw_sched_t *s, unsigned t)
{
    unsigned max = s->cfg->instance_types[t].max_instances;
    unsigned pool = 0;
    for (unsigned i = 0; i < s->cfg->instance_types_count; i++)
        pool += s->types[i].count;
    return pool < SW_CFG_MAX_INSTANCES && (max == 0 || s->types[t].count < max);
}

/* USD per request spilled, or infinity when this policy may not spill. */
static double spill_price(const sw_sched_t *s)
{
    return s->cfg->faas.enabled && s->cfg->policy.mark.spill ? sw__sched_faas_cost_per_request(s)
                                                             : INFINITY;
}

static double plan_span_s(const sw_sched_t *s)
{
    return s->cfg->predictor.horizon_intervals * s->cfg->policy.interval_s;
}

/* The type that serves `residual_rps` over the planning span at the lowest price per
 * request, VM boot included, and that price; -1 if no type may start. A VM carries at
 * most its capacity, so a small residual goes to a small VM and a large one to the type
 * that is cheapest at full load. */
static int cheapest_for(const sw_sched_t *s, double residual_rps, double *usd_per_req)
{
    double span_s = plan_span_s(s);
    double util = s->cfg->policy.mark.target_utilization;
    int best = -1;
    *usd_per_req = INFINITY;
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++) {
        if (!type_has_room(s, t) || !s->types[t].usable)
            continue;
        const sw_type_info_t *ti = &s->types[t];
        double served = SW_MIN(ti->cap_rps, residual_rps) * util * span_s;
        double cost = (ti->boot_mean_s + span_s) * ti->price_per_s / served;
        if (cost < *usd_per_req) {
            *usd_per_req = cost;
            best = (int)t;
        }
    }
    return best;
}

/* Adds VMs until `need_rps` is covered or spilling the rest is cheaper. */
static void cover(sw_sched_t *s, sw_time_t now, double need_rps, sw_actions_t *out)
{
    double faas_per_req = spill_price(s);
    double residual = need_rps - sw__sched_capacity_rps(s);
    while (residual > 1e-9) {
        double cost;
        int best = cheapest_for(s, residual, &cost);
        if (best < 0 || cost >= faas_per_req)
            return;
        sw__sched_launch(s, now, best, SW_REASON_FORECAST, false, out);
        residual -= s->types[best].cap_rps;
    }
}

typedef struct candidate {
    sw_worker_t *w;
    double cost_per_cap;
} candidate_t;

/* Booting VMs go first (they serve nothing yet: retiring a running VM to wait for one
 * that is still booting leaves requests waiting), then the most expensive capacity. */
static int cmp_candidates(const void *a, const void *b)
{
    const candidate_t *x = a, *y = b;
    bool xb = x->w->state == SW_W_BOOTING, yb = y->w->state == SW_W_BOOTING;
    if (xb != yb)
        return xb ? -1 : 1;
    if (x->cost_per_cap != y->cost_per_cap)
        return x->cost_per_cap < y->cost_per_cap ? 1 : -1;
    return x->w->id < y->w->id ? 1 : -1; /* newest first: deterministic */
}

/* Whether spilling what `w` would carry of `need_rps` over the planning span costs less
 * than keeping `w` for that span: the mirror image of cover()'s choice, so a VM launched
 * for a spike (or by the monitor) does not linger over a load functions serve cheaper. */
static bool cheaper_to_spill(const sw_sched_t *s, const sw_worker_t *w, double capacity,
                             double need_rps)
{
    const sw_type_info_t *ti = &s->types[w->type];
    double carried = SW_MAX(0.0, need_rps - (capacity - ti->cap_rps));
    double util = s->cfg->policy.mark.target_utilization;
    double spill_usd = SW_MIN(carried, ti->cap_rps) * util * plan_span_s(s) * spill_price(s);
    return spill_usd < ti->price_per_s * plan_span_s(s);
}

/* Retires booting VMs, then the most expensive capacity, while the rest still covers
 * `need_rps` or functions would serve its share for less; only VMs whose paid time is
 * used up. */
static void shed(sw_sched_t *s, sw_time_t now, double need_rps, sw_actions_t *out)
{
    double capacity = sw__sched_capacity_rps(s);
    double excess = capacity - need_rps;
    candidate_t *c = sw_malloc((s->n_active + 1) * sizeof(*c));
    size_t n = 0;
    for (size_t i = 0; i < s->n_active; i++) {
        sw_worker_t *w = s->active[i];
        if (w->state == SW_W_DRAINING || !w->counted || !sw__sched_retire_is_free(s, w, now))
            continue;
        const sw_type_info_t *ti = &s->types[w->type];
        c[n++] = (candidate_t){.w = w, .cost_per_cap = ti->price_per_s / ti->cap_rps};
    }
    qsort(c, n, sizeof(*c), cmp_candidates);
    unsigned pool = 0;
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++)
        pool += s->types[t].count;
    for (size_t i = 0; i < n && pool > s->cfg->policy.mark.min_instances; i++) {
        double cap = s->types[c[i].w->type].cap_rps;
        if (cap > excess && !cheaper_to_spill(s, c[i].w, capacity, need_rps))
            continue;
        excess -= cap;
        capacity -= cap;
        pool--;
        sw__sched_retire(s, now, c[i].w, SW_REASON_SCALE_IN, out);
    }
    sw_free(c);
}

/* The load (per interval) the VM pool is sized for. Where functions take what the pool
 * cannot, sizing VMs is a newsvendor problem: a VM pays for capacity whether used or not,
 * a spilled request costs more but only when it happens, so the cost-optimal level is the
 * critical fractile 1 - c_vm / c_faas of the forecast (about 0.7 with the example's
 * prices: $5.0 a million on a busy c5.large, $18.8 on Lambda), near the point forecast
 * of the max, not its 0.98 quantile, which on a bursty trace is several times higher.
 * Without spill, a miss has no cheap fallback and the pool covers the upper quantile. */
static double plan_level(const sw_sched_t *s, const sw_forecast_t *f)
{
    bool spill = s->cfg->faas.enabled && s->cfg->policy.mark.spill;
    return spill ? f->max_point : f->max_upper;
}

static void mark_plan(sw_sched_t *s, sw_time_t now, const sw_sched_interval_t *closed,
                      sw_sched_interval_t *opening, sw_actions_t *out)
{
    mark_t *m = s->policy_state;
    if (closed)
        sw_pred_observe(m->pred, (double)closed->arrivals);
    sw_forecast_t f = {.horizon = s->cfg->predictor.horizon_intervals,
                       .point = m->point,
                       .upper = m->upper};
    sw_pred_forecast(m->pred, &f);
    opening->forecast = m->point[0];
    opening->forecast_upper = m->upper[0];
    opening->forecast_max = f.max_point;
    opening->forecast_max_upper = f.max_upper;
    if (!closed)
        return; /* no history yet: the monitor and spill carry the first interval */
    double need_rps = plan_level(s, &f) / s->cfg->policy.interval_s /
                      s->cfg->policy.mark.target_utilization;
    cover(s, now, need_rps, out);
    shed(s, now, need_rps, out);
}

/* Whether `misses` of `n` answers pass a miss budget `p` by more than chance: by two
 * standard deviations of a binomial count at rate p (one-sided, about 98 %). One chance
 * miss in a window of 30 is already over a 2 % budget; in a busy window of thousands the
 * margin is a fraction of a percent. */
static bool over_budget(double misses, double n, double p)
{
    return misses > n * p + 2.0 * sqrt(n * p * (1.0 - p));
}

/* Whether the recent misses call for one more VM. A handful of completions is no
 * evidence of anything. Misses of function answers (cold starts, a slow tail) count only
 * while functions miss more than the budget over the whole run, judged once the run has
 * enough function answers for the test to hold (n p >= 5; the first answers are the
 * cold starts of a fresh pool of containers): below it they are the
 * price of spilling, which the planner already weighs against a VM's cost, and a VM
 * launched for each of them at a light load is bought for nothing and retired after its
 * minimum, all day long. */
static bool monitor_has_evidence(const sw_sched_t *s, sw_recent_t r)
{
    double p = s->cfg->policy.mark.violation_budget;
    if (r.completions < 20)
        return false;
    bool faas_over = (double)s->served_faas * p >= 5.0 && /* where the test is valid */
                     over_budget((double)s->faas_missed, (double)s->served_faas, p);
    uint64_t misses = r.misses - (faas_over ? 0 : r.faas_misses);
    return over_budget((double)misses, (double)r.completions, p);
}

/* The capacity the pool lacks for the load it answered over the monitor's window, at
 * least 1 request/s. Misses with the load under the pool's capacity are the pool running
 * too full, and one small VM fixes them: launching the type that is cheapest at full
 * load there (a GPU) to cure a few misses, and then shedding small VMs to pay for it,
 * made a flat load cost 13 % more than a fixed pool. A pool far short of its load (the
 * first seconds, a spike) gets a big VM as before. */
static double monitor_shortfall_rps(const sw_sched_t *s, sw_time_t now, sw_recent_t r)
{
    /* The slot being filled was just emptied: the others cover the window. */
    sw_time_t span = SW_MIN(now - s->origin, (SW_MONITOR_SLOTS - 1) * s->monitor_period);
    double answered_rps = span > 0 ? (double)r.completions / sw_time_to_s(span) : 0.0;
    double need = answered_rps / s->cfg->policy.mark.target_utilization;
    return SW_MAX(1.0, need - sw__sched_capacity_rps(s));
}

static void mark_monitor(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    const sw_cfg_mark_t *mc = &s->cfg->policy.mark;
    mark_t *m = s->policy_state;
    if (!monitor_has_evidence(s, sw__sched_recent(s)))
        return;
    if (now - m->last_monitor_launch < sw_s_to_time(mc->violation_cooldown_s))
        return;
    double cost;
    int type = cheapest_for(s, monitor_shortfall_rps(s, now, sw__sched_recent(s)), &cost);
    if (type < 0)
        return;
    m->last_monitor_launch = now;
    sw__sched_launch(s, now, type, SW_REASON_VIOLATION_MONITOR, false, out);
}

const sw_sched_ops_t sw__policy_mark = {
    .name = "mark",
    .spills = true,
    .create = mark_create,
    .destroy = mark_destroy,
    .start = mark_start,
    .plan = mark_plan,
    .monitor = mark_monitor,
};
