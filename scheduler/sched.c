/* The policy core's shared machinery: a central FIFO queue with late binding (a batch is
 * formed when a worker is free, as Clipper and Triton's dynamic batcher do, so a request is
 * never stuck behind a slow worker it was assigned to early), SLO-aware batching, routing
 * and spill at arrival, the worker life cycle, the SLO tracker and the timeline. Policies
 * (policy_*.c) plug in through sw_sched_ops_t and decide the pool size. */
#include "scheduler/sched.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scheduler/sched_internal.h"

static const sw_sched_ops_t *const policies[] = {
    [SW_POLICY_STATIC] = &sw__policy_static,
    [SW_POLICY_REACTIVE] = &sw__policy_reactive,
    [SW_POLICY_FAAS_ONLY] = &sw__policy_faas_only,
    [SW_POLICY_MARK] = &sw__policy_mark,
    [SW_POLICY_ORACLE] = &sw__policy_oracle,
    [SW_POLICY_CLAIRVOYANT] = &sw__policy_clairvoyant,
};

/* ---- per-type derived figures ---- */

/* The 99th percentile of the service-time multiplier: deadlines are planned against it so
 * that noisy batches rarely turn an on-time dispatch into a miss. */
static double variation_p99(const sw_cfg_dist_t *d)
{
    switch (d->dist) {
    case SW_DIST_EXPONENTIAL: return d->mean * log(100.0);
    case SW_DIST_LOGNORMAL: {
        double s2 = log1p(d->cv * d->cv);
        return exp(log(d->mean) - 0.5 * s2 + 2.326 * sqrt(s2));
    }
    case SW_DIST_UNIFORM: return d->min + 0.99 * (d->max - d->min);
    case SW_DIST_CONSTANT:
    default: return d->mean;
    }
}

static void type_info_init(sw_sched_t *s, int idx)
{
    const sw_cfg_instance_type_t *t = &s->cfg->instance_types[idx];
    sw_type_info_t *ti = &s->types[idx];
    double mean_factor = sw_cfg_dist_mean(&t->service_variation);
    double p99_factor = variation_p99(&t->service_variation);
    ti->t_us = sw_calloc(t->max_batch + 1, sizeof(sw_time_t));
    ti->t_safe_us = sw_calloc(t->max_batch + 1, sizeof(sw_time_t));
    ti->wait_pays = sw_calloc(t->max_batch + 1, sizeof(bool));
    ti->b_plan = 1;
    for (unsigned b = 1; b < t->max_batch; b++) {
        double per_req = t->batch_latency_ms[b - 1] / b;
        double per_req_next = t->batch_latency_ms[b] / (b + 1);
        ti->wait_pays[b] = per_req_next <= 0.95 * per_req;
    }
    for (unsigned b = 1; b <= t->max_batch; b++) {
        ti->t_us[b] = sw_ms_to_time(t->batch_latency_ms[b - 1] * mean_factor);
        ti->t_safe_us[b] = sw_ms_to_time(t->batch_latency_ms[b - 1] * p99_factor);
        /* A request that arrives just as a batch starts waits for it, then for its own:
         * the largest batch whose two back-to-back runs fit the SLO is the planning one. */
        if (2 * ti->t_safe_us[b] <= s->slo_us)
            ti->b_plan = b;
    }
    /* When even a batch of one cannot run twice within the SLO, a request can afford to
     * wait only part of a batch time, so the type must run at lower utilisation: derate
     * by the slack left after its own run, relative to that run. For MArk's c5.large
     * (T_1 = 105 ms, 200 ms SLO) this gives 4.9 rps, close to the 284 requests/minute
     * MArk profiled for it. */
    double run_s = sw_time_to_s(ti->t_safe_us[ti->b_plan]);
    double slack_s = sw_time_to_s(s->slo_us) - run_s;
    double derate = slack_s >= run_s ? 1.0 : SW_MAX(0.05, slack_s / run_s);
    ti->cap_rps = derate * (double)ti->b_plan / sw_time_to_s(ti->t_us[ti->b_plan]);
    ti->price_per_s = sw_ledger_vm_price_per_hour(s->cfg, idx) / 3600.0;
    ti->boot_mean_s = sw_cfg_dist_mean(&t->boot_s);
    /* A type whose batch of 1 alone takes the whole SLO misses every request it serves:
     * the config accepts it (a sweep over SLOs keeps one type list), planners skip it. */
    ti->usable = t->batch_latency_ms[0] < s->cfg->slo.latency_ms;
}

int sw_sched_create(sw_sched_t **out, const sw_cfg_t *cfg, char *errbuf, size_t errlen)
{
    return sw_sched_create_with(out, cfg, NULL, errbuf, errlen);
}

bool sw_sched_policy_needs_foresight(sw_policy_kind_t policy)
{
    return policies[policy]->foresight;
}

/* The core for cfg; counts is NULL for a live core, which no foresight policy may drive. */
static int create(sw_sched_t **out, const sw_cfg_t *cfg, sw_pred_t *pred, const uint64_t *counts,
                  size_t n, char *errbuf, size_t errlen)
{
    const sw_sched_ops_t *ops = policies[cfg->policy.name];
    int rc = -EINVAL;
    if (cfg->instance_types_count > SW_SCHED_MAX_TYPES) {
        snprintf(errbuf, errlen, "instance_types: %u types, at most %d are supported",
                 cfg->instance_types_count, SW_SCHED_MAX_TYPES);
        goto refuse;
    }
    if (ops->foresight && !counts) {
        snprintf(errbuf, errlen,
                 "policy.name: %s plans with foresight of the whole trace and "
                 "exists only in simulate",
                 ops->name);
        goto refuse;
    }
    sw_sched_t *s = sw_calloc(1, sizeof(*s));
    s->cfg = cfg;
    s->given_pred = pred;
    s->ops = ops;
    s->slo_us = sw_ms_to_time(cfg->slo.latency_ms);
    s->margin_us = sw_ms_to_time(cfg->policy.dispatch_margin_ms);
    s->max_queue_delay_us = sw_ms_to_time(cfg->policy.max_queue_delay_ms);
    s->interval_us = sw_s_to_time(cfg->policy.interval_s);
    s->monitor_period = SW_MAX(sw_s_to_time(cfg->policy.mark.violation_window_s) /
                                   SW_MONITOR_SLOTS, 1);
    s->dispatch_timer = SW_TIME_NEVER;
    s->policy_wakeup = SW_TIME_NEVER;
    s->next_interval = SW_TIME_NEVER;
    s->next_monitor = SW_TIME_NEVER;
    s->next_worker_id = 1;
    s->foresight = sw_malloc(n * sizeof(*counts) + 1);
    if (n)
        memcpy(s->foresight, counts, n * sizeof(*counts));
    s->n_foresight = n;
    for (unsigned i = 0; i < cfg->instance_types_count; i++)
        type_info_init(s, (int)i);
    sw_hist_init(&s->hist);
    sw_hist_init(&s->cur_hist);
    sw_ledger_init(&s->ledger, cfg);
    if (s->ops->create && (rc = s->ops->create(s, errbuf, errlen)) < 0) {
        s->ops = &sw__policy_static; /* nothing of the failed policy to destroy */
        sw_sched_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
refuse:
    sw_pred_destroy(pred);
    return rc;
}

int sw_sched_create_with(sw_sched_t **out, const sw_cfg_t *cfg, sw_pred_t *pred, char *errbuf,
                         size_t errlen)
{
    return create(out, cfg, pred, NULL, 0, errbuf, errlen);
}

int sw_sched_create_foresight(sw_sched_t **out, const sw_cfg_t *cfg, sw_pred_t *pred,
                              const uint64_t *counts, size_t n, char *errbuf, size_t errlen)
{
    static const uint64_t none[1];
    return create(out, cfg, pred, counts ? counts : none, counts ? n : 0, errbuf, errlen);
}

void sw_sched_destroy(sw_sched_t *s)
{
    if (!s)
        return;
    if (s->ops->destroy)
        s->ops->destroy(s);
    sw_pred_destroy(s->given_pred); /* unused: the policy was not mark */
    for (size_t i = 0; i < s->n_active; i++) {
        sw_free(s->active[i]->batch);
        sw_free(s->active[i]);
    }
    for (unsigned i = 0; i < s->cfg->instance_types_count; i++) {
        sw_free(s->types[i].t_us);
        sw_free(s->types[i].t_safe_us);
        sw_free(s->types[i].wait_pays);
    }
    sw_free(s->active);
    sw_free(s->by_id);
    sw_qreq_ring_deinit(&s->q);
    sw_interval_ring_deinit(&s->rows);
    sw_free(s->foresight);
    sw_ledger_deinit(&s->ledger);
    sw_free(s);
}

const sw_cfg_t *sw_sched_cfg(const sw_sched_t *s) { return s->cfg; }

/* Keys read from s->cfg at each use (or derived in sw_sched_reconfigure). */
static const char *const live_keys[] = {
    "slo.target",
    "policy.max_queue_delay_ms",
    "policy.dispatch_margin_ms",
    "policy.mark.target_utilization",
    "policy.mark.violation_budget",
    "policy.mark.violation_cooldown_s",
    "policy.mark.min_instances",
    "policy.mark.spill",
    "policy.reactive.scale_out_cooldown_s",
    "policy.reactive.scale_in_cooldown_s",
    "policy.reactive.min_instances",
    "policy.reactive.max_instances",
    "instance_types[].max_instances",
    "faas.concurrency_limit",
};

bool sw_sched_key_is_live(const char *path)
{
    /* Compare with indices written as "[]". */
    char pattern[256];
    size_t n = 0;
    for (const char *c = path; *c && n + 3 < sizeof(pattern); c++) {
        pattern[n++] = *c;
        if (*c == '[') {
            while (c[1] >= '0' && c[1] <= '9')
                c++;
        }
    }
    pattern[n] = '\0';
    for (size_t i = 0; i < SW_ARRAY_LEN(live_keys); i++)
        if (strcmp(pattern, live_keys[i]) == 0)
            return true;
    return false;
}

void sw_sched_reconfigure(sw_sched_t *s, const sw_cfg_t *cfg)
{
    s->cfg = cfg;
    s->ledger.cfg = cfg;
    s->margin_us = sw_ms_to_time(cfg->policy.dispatch_margin_ms);
    s->max_queue_delay_us = sw_ms_to_time(cfg->policy.max_queue_delay_ms);
}

/* ---- the central queue ---- */

/* Inserts keeping arrival order. New arrivals land at the back in O(1); a request coming
 * back from a failed function or a lost worker is older and walks back to its place. */
static void q_insert(sw_sched_t *s, sw_qreq_t r)
{
    size_t pos = s->q.len;
    while (pos > 0 && sw_qreq_ring_at(&s->q, pos - 1)->arrival > r.arrival)
        pos--;
    sw_qreq_ring_insert_at(&s->q, pos, r);
    s->q_refused += r.faas_refused;
}

static sw_qreq_t q_pop_front(sw_sched_t *s)
{
    sw_qreq_t r = sw_qreq_ring_pop_front(&s->q);
    s->q_refused -= r.faas_refused;
    return r;
}

/* ---- workers ---- */

static void idle_push(sw_sched_t *s, sw_worker_t *w)
{
    w->idle_prev = NULL;
    w->idle_next = s->idle_head;
    if (s->idle_head)
        s->idle_head->idle_prev = w;
    s->idle_head = w;
    s->n_idle++;
}

static void idle_remove(sw_sched_t *s, sw_worker_t *w)
{
    if (w->idle_prev)
        w->idle_prev->idle_next = w->idle_next;
    else
        s->idle_head = w->idle_next;
    if (w->idle_next)
        w->idle_next->idle_prev = w->idle_prev;
    w->idle_prev = w->idle_next = NULL;
    s->n_idle--;
}

static bool is_idle(const sw_worker_t *w) { return w->state == SW_W_RUNNING && !w->busy; }

static sw_worker_t *worker_get(const sw_sched_t *s, uint32_t id)
{
    return id < s->by_id_cap ? s->by_id[id] : NULL;
}

sw_worker_t *sw__sched_launch(sw_sched_t *s, sw_time_t now, int type, sw_reason_t reason,
                              bool instant, sw_actions_t *out)
{
    const sw_cfg_instance_type_t *t = &s->cfg->instance_types[type];
    sw_worker_t *w = sw_calloc(1, sizeof(*w));
    w->id = s->next_worker_id++;
    w->type = type;
    w->state = SW_W_BOOTING;
    w->counted = true;
    w->exact_billing = instant;
    w->launched_at = now;
    w->expected_ready = now + (instant ? 0 : sw_s_to_time(s->types[type].boot_mean_s));
    w->batch = sw_malloc(t->max_batch * sizeof(*w->batch));
    if (w->id >= s->by_id_cap) {
        size_t cap = s->by_id_cap ? s->by_id_cap * 2 : 64;
        while (cap <= w->id)
            cap *= 2;
        s->by_id = sw_realloc(s->by_id, cap * sizeof(*s->by_id));
        memset(&s->by_id[s->by_id_cap], 0, (cap - s->by_id_cap) * sizeof(*s->by_id));
        s->by_id_cap = cap;
    }
    s->by_id[w->id] = w;
    s->active = sw_realloc(s->active, (s->n_active + 1) * sizeof(*s->active));
    w->active_idx = s->n_active;
    s->active[s->n_active++] = w;
    s->types[type].count++;
    s->vm_launched++;
    s->cur.launches++;

    sw_action_t *a = sw_actions_push(out, SW_ACT_LAUNCH, reason, now);
    a->worker_id = w->id;
    a->type_idx = type;
    a->instant = instant;
    return w;
}

/* `w` stops taking new batches (drains, or is gone). The sum is reset when nothing
 * serves, so float residue never leaves a phantom throughput behind. */
static void serving_remove(sw_sched_t *s, const sw_worker_t *w)
{
    s->running_rps -= s->types[w->type].cap_rps;
    if (--s->n_serving == 0)
        s->running_rps = 0;
}

/* Takes `w` out of every set it is in and bills it; the caller emits any action. */
static void worker_remove(sw_sched_t *s, sw_worker_t *w, sw_time_t now)
{
    if (is_idle(w))
        idle_remove(s, w);
    if (w->state == SW_W_RUNNING)
        serving_remove(s, w);
    if (w->counted)
        s->types[w->type].count--;
    if (w->state != SW_W_BOOTING)
        s->n_running--;
    sw_ledger_vm_close(&s->ledger, w->type, w->launched_at, now, w->exact_billing);
    sw_worker_t *last = s->active[--s->n_active];
    s->active[w->active_idx] = last;
    last->active_idx = w->active_idx;
    s->by_id[w->id] = NULL;
    sw_free(w->batch);
    sw_free(w);
}

static void terminate_now(sw_sched_t *s, sw_time_t now, sw_worker_t *w, sw_reason_t reason,
                          sw_actions_t *out)
{
    sw_action_t *a = sw_actions_push(out, SW_ACT_TERMINATE, reason, now);
    a->worker_id = w->id;
    a->type_idx = w->type;
    s->vm_terminated++;
    worker_remove(s, w, now);
}

/* Stops counting `w` as capacity for planning; it may go on serving. */
static void uncount(sw_sched_t *s, sw_worker_t *w)
{
    if (w->counted) {
        w->counted = false;
        s->types[w->type].count--;
    }
}

void sw__sched_retire(sw_sched_t *s, sw_time_t now, sw_worker_t *w, sw_reason_t reason,
                      sw_actions_t *out)
{
    if (w->state == SW_W_DRAINING)
        return;
    if (w->state == SW_W_BOOTING || !w->busy) {
        terminate_now(s, now, w, reason, out);
        return;
    }
    uncount(s, w);
    serving_remove(s, w);
    w->state = SW_W_DRAINING;
    w->retire_reason = reason;
}

double sw__sched_capacity_rps(const sw_sched_t *s)
{
    double cap = 0;
    for (unsigned i = 0; i < s->cfg->instance_types_count; i++)
        cap += s->types[i].count * s->types[i].cap_rps;
    return cap;
}

bool sw__sched_retire_is_free(const sw_sched_t *s, const sw_worker_t *w, sw_time_t now)
{
    const sw_cfg_billing_t *b = &s->cfg->billing;
    if (w->exact_billing)
        return true;
    double up = sw_time_to_s(now - w->launched_at);
    if (up < b->vm_minimum_s)
        return false;
    /* With coarse billing (hourly), the block in progress is paid: keep the VM until the
     * last interval before the block ends. */
    if (b->vm_granularity_s > s->cfg->policy.interval_s) {
        double into_block = fmod(up, b->vm_granularity_s);
        return into_block == 0.0 || b->vm_granularity_s - into_block <= s->cfg->policy.interval_s;
    }
    return true;
}

int sw__sched_cheapest_type(const sw_sched_t *s)
{
    int best = 0;
    double best_cost = INFINITY;
    for (unsigned i = 0; i < s->cfg->instance_types_count; i++) {
        if (!s->types[i].usable)
            continue;
        double c = s->types[i].price_per_s / s->types[i].cap_rps;
        if (c < best_cost) {
            best_cost = c;
            best = (int)i;
        }
    }
    return best;
}

double sw__sched_faas_cost_per_request(const sw_sched_t *s)
{
    const sw_cfg_faas_t *f = &s->cfg->faas;
    double gb_s = sw_ledger_faas_gb_s(f, sw_cfg_dist_mean(&f->warm_latency_ms), 0.0);
    return f->price_per_million_requests_usd / 1e6 + gb_s * f->price_per_gb_s_usd;
}

void sw__sched_reconcile(sw_sched_t *s, sw_time_t now, const unsigned *target, sw_reason_t up,
                         sw_reason_t down, bool instant, sw_actions_t *out)
{
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++) {
        while (s->types[t].count < target[t])
            sw__sched_launch(s, now, (int)t, up, instant, out);
        /* Retire idle workers first, then booting, then busy ones (which drain). */
        for (int pass = 0; pass < 3 && s->types[t].count > target[t]; pass++) {
            for (size_t i = s->n_active; i-- > 0 && s->types[t].count > target[t];) {
                sw_worker_t *w = s->active[i];
                if (w->type != (int)t || !w->counted)
                    continue;
                bool pick = pass == 0 ? is_idle(w) : pass == 1 ? w->state == SW_W_BOOTING : true;
                if (pick)
                    sw__sched_retire(s, now, w, down, out);
            }
        }
    }
}

/* ---- SLO tracking ---- */

static void monitor_count(sw_sched_t *s, bool miss, bool faas)
{
    s->mon_total[s->mon_slot]++;
    s->mon_miss[s->mon_slot] += miss;
    s->mon_miss_faas[s->mon_slot] += miss && faas;
    s->faas_missed += miss && faas;
}

sw_recent_t sw__sched_recent(const sw_sched_t *s)
{
    sw_recent_t r = {0};
    for (unsigned i = 0; i < SW_MONITOR_SLOTS; i++) {
        r.completions += s->mon_total[i];
        r.misses += s->mon_miss[i];
        r.faas_misses += s->mon_miss_faas[i];
    }
    return r;
}

static void record_answer(sw_sched_t *s, sw_time_t now, sw_time_t arrival, bool faas)
{
    sw_time_t lat = now - arrival;
    sw_hist_add(&s->hist, lat);
    sw_hist_add(&s->cur_hist, lat);
    bool miss = lat > s->slo_us;
    s->met_slo += !miss;
    s->cur.slo_misses += miss;
    monitor_count(s, miss, faas);
    if (faas) {
        s->served_faas++;
        s->cur.served_faas++;
    } else {
        s->served_vm++;
        s->cur.served_vm++;
    }
}

static void reject(sw_sched_t *s, sw_time_t now, uint64_t id, sw_time_t arrival,
                   sw_reason_t reason, sw_actions_t *out)
{
    s->rejected++;
    s->cur.rejected++;
    s->cur.slo_misses++;
    monitor_count(s, true, false);
    sw_action_t *a = sw_actions_push(out, SW_ACT_REJECT, reason, now);
    a->req_id = id;
    a->arrival = arrival;
}

static void invoke(sw_sched_t *s, sw_time_t now, uint64_t id, sw_time_t arrival,
                   sw_reason_t reason, sw_actions_t *out)
{
    s->faas_inflight++;
    s->faas_invocations++;
    s->cur.faas_invocations++;
    if (reason != SW_REASON_FAAS_ONLY)
        s->spilled++;
    sw_action_t *a = sw_actions_push(out, SW_ACT_INVOKE, reason, now);
    a->req_id = id;
    a->arrival = arrival;
}

static bool can_spill(const sw_sched_t *s)
{
    if (s->cfg->policy.name == SW_POLICY_MARK && !s->cfg->policy.mark.spill)
        return false;
    return s->ops->spills && s->cfg->faas.enabled &&
           s->faas_inflight < s->cfg->faas.concurrency_limit;
}

/* ---- batching ---- */

static void dispatch(sw_sched_t *s, sw_time_t now, sw_worker_t *w, uint32_t n,
                     sw_reason_t reason, sw_actions_t *out)
{
    size_t off;
    uint64_t *ids = sw_actions_reserve_ids(out, n, &off);
    for (uint32_t i = 0; i < n; i++) {
        w->batch[i] = q_pop_front(s);
        ids[i] = w->batch[i].id;
    }
    idle_remove(s, w);
    w->busy = true;
    w->batch_n = n;
    w->batch_id = ++s->next_batch_id;
    /* The p99 end, not the mean: admitting a request on the mean would make about half of
     * those predicted to just make it late. */
    w->busy_until = now + s->types[w->type].t_safe_us[n];
    s->in_batches += n;
    sw_action_t *a = sw_actions_push(out, SW_ACT_DISPATCH, reason, now);
    a->worker_id = w->id;
    a->type_idx = w->type;
    a->batch_id = w->batch_id;
    a->n_reqs = n;
    a->reqs_off = off;
}

/* Largest batch of at most `limit` whose safe latency still lets the oldest request make
 * `due` (its deadline less the margin); 0 when even a batch of one is too late. */
static uint32_t fitting_batch(const sw_type_info_t *ti, sw_time_t now, sw_time_t due,
                              uint32_t limit)
{
    uint32_t n = limit;
    while (n > 0 && now + ti->t_safe_us[n] > due)
        n--;
    return n;
}

/* No worker is booting or serving new batches. */
static bool pool_is_empty(const sw_sched_t *s)
{
    if (s->n_serving > 0)
        return false;
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++)
        if (s->types[t].count > 0)
            return false;
    return true;
}

/* Requests queued for a pool that no longer has a serving VM (scaled in, lost) would wait
 * for a boot: functions answer them sooner, when the policy may spill. Those a function
 * already refused stay, in order. The walk costs O(queue) only when something is spilled:
 * a queue holding refused requests alone is skipped at once. */
static void spill_queue(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    size_t keep = 0, n = s->q.len;
    if (n == s->q_refused || !can_spill(s))
        return;
    for (size_t i = 0; i < n; i++) {
        sw_qreq_t r = sw_qreq_ring_pop_front(&s->q);
        if (r.faas_refused || !can_spill(s)) {
            sw_qreq_ring_push_back(&s->q, r);
            keep++;
        } else {
            invoke(s, now, r.id, r.arrival, SW_REASON_SPILL_NO_VM, out);
        }
    }
    SW_ASSERT(s->q.len == keep);
}

/* Forms batches while a worker is idle. MArk's rule per worker: dispatch when the batch
 * is full or when the oldest request's slack runs out; otherwise wait for more requests
 * (the timer fires at the last moment the current batch can still go). Spillway waits
 * only where waiting pays: when one more request would make the batch cheaper per request.
 * A CPU worker whose T_b grows linearly gains nothing from a bigger batch, and waiting
 * would only spend the slack that absorbs service-time noise. */
static void try_dispatch(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    s->dispatch_timer = SW_TIME_NEVER;
    if (s->n_serving == 0) {
        spill_queue(s, now, out);
        /* Nothing serves, boots or may be spilled to: what is left would wait forever. */
        while (s->q.len > 0 && pool_is_empty(s)) {
            sw_qreq_t r = q_pop_front(s);
            reject(s, now, r.id, r.arrival, SW_REASON_NO_CAPACITY, out);
        }
    }
    while (s->idle_head && s->q.len > 0) {
        sw_worker_t *w = s->idle_head;
        const sw_type_info_t *ti = &s->types[w->type];
        uint32_t max_batch = s->cfg->instance_types[w->type].max_batch;
        uint32_t avail = (uint32_t)SW_MIN(s->q.len, (size_t)max_batch);
        sw_time_t due = sw_qreq_ring_front(&s->q)->arrival + s->slo_us - s->margin_us;
        uint32_t fit = fitting_batch(ti, now, due, avail);
        if (fit == 0) {
            dispatch(s, now, w, avail, SW_REASON_LATE, out);
        } else if (s->q.len >= max_batch) {
            dispatch(s, now, w, fit, SW_REASON_BATCH_FULL, out);
        } else if (!ti->wait_pays[avail]) {
            dispatch(s, now, w, fit, SW_REASON_NO_BATCH_GAIN, out);
        } else {
            sw_time_t last_moment = due - ti->t_safe_us[avail];
            if (now >= last_moment) {
                dispatch(s, now, w, fit, SW_REASON_SLACK_EXPIRED, out);
            } else {
                s->dispatch_timer = last_moment;
                return;
            }
        }
    }
}

/* ---- arrivals: route, spill or reject ---- */

/* When a request joining the queue now would complete, by a fluid estimate: the earliest
 * worker availability, plus the queue ahead drained at the pool's planning throughput,
 * plus its own batch at the safe latency. *start_wait gets the wait before its batch.
 * A booting worker counts only when functions cannot take the request: its boot time is
 * a draw, not a promise, and a request queued for a VM that boots late waits for it. */
static sw_time_t predict_completion(const sw_sched_t *s, sw_time_t now, sw_time_t *start_wait)
{
    const sw_worker_t *first = s->idle_head;
    sw_time_t t0 = SW_TIME_NEVER;
    if (first) {
        t0 = now;
    } else {
        bool use_booting = !can_spill(s);
        for (size_t i = 0; i < s->n_active; i++) {
            const sw_worker_t *w = s->active[i];
            sw_time_t at = w->state == SW_W_RUNNING                  ? w->busy_until
                           : w->state == SW_W_BOOTING && use_booting ? w->expected_ready
                                                                     : SW_TIME_NEVER;
            if (at < t0) {
                t0 = at;
                first = w;
            }
        }
        if (!first)
            return SW_TIME_NEVER;
        t0 = SW_MAX(t0, now);
    }
    const sw_type_info_t *ti = &s->types[first->type];
    double rps = s->running_rps > 0 ? s->running_rps : ti->cap_rps;
    sw_time_t wait = t0 - now + (sw_time_t)((double)s->q.len / rps * 1e6);
    *start_wait = wait;
    uint32_t b = (uint32_t)SW_MIN(s->q.len + 1, (size_t)ti->b_plan);
    return now + wait + ti->t_safe_us[b];
}

static void roll(sw_sched_t *s, sw_time_t now, sw_actions_t *out);

void sw_sched_on_arrival(sw_sched_t *s, sw_time_t now, uint64_t req_id, sw_actions_t *out)
{
    roll(s, now, out);
    s->arrivals++;
    s->cur.arrivals++;
    if (s->ops->faas_only) {
        invoke(s, now, req_id, now, SW_REASON_FAAS_ONLY, out);
        return;
    }
    sw_time_t wait = 0;
    sw_time_t done = predict_completion(s, now, &wait);
    if (done <= now + s->slo_us - s->margin_us) {
        q_insert(s, (sw_qreq_t){.id = req_id, .arrival = now});
        try_dispatch(s, now, out);
    } else if (can_spill(s)) {
        invoke(s, now, req_id, now,
               done == SW_TIME_NEVER ? SW_REASON_SPILL_NO_VM : SW_REASON_SPILL_PREDICTED_MISS,
               out);
    } else if (done != SW_TIME_NEVER && wait <= s->max_queue_delay_us) {
        q_insert(s, (sw_qreq_t){.id = req_id, .arrival = now});
        try_dispatch(s, now, out);
    } else {
        reject(s, now, req_id, now,
               done == SW_TIME_NEVER ? SW_REASON_NO_CAPACITY : SW_REASON_QUEUE_DELAY, out);
    }
}

/* A request whose function failed goes to the VM pool if there is one, late but answered;
 * otherwise it is rejected, so it still gets exactly one answer. It is never sent to a
 * function again: a refusal can come back at the very instant of the call (a local
 * throttle window, a simulated throttle), and a second try at that instant would loop
 * forever without time moving (issue 10). */
static void fall_back(sw_sched_t *s, sw_time_t now, uint64_t id, sw_time_t arrival,
                      sw_reason_t reason, sw_actions_t *out)
{
    bool have_vm = false;
    for (unsigned t = 0; t < s->cfg->instance_types_count && !have_vm; t++)
        have_vm = s->types[t].count > 0;
    if (have_vm) {
        q_insert(s, (sw_qreq_t){.id = id, .arrival = arrival, .faas_refused = true});
        try_dispatch(s, now, out);
    } else {
        reject(s, now, id, arrival, reason, out);
    }
}

/* ---- backend events ---- */

void sw_sched_on_batch_done(sw_sched_t *s, sw_time_t now, uint32_t worker_id, uint64_t batch_id,
                            sw_actions_t *out)
{
    sw_sched_on_batch_result(s, now, worker_id, batch_id, NULL, out);
}

/* A request a worker answered with an error: answered, and a miss. */
static void record_failure(sw_sched_t *s)
{
    s->failed++;
    s->cur.slo_misses++;
    monitor_count(s, true, false);
}

void sw_sched_on_batch_result(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                              uint64_t batch_id, const bool *failed, sw_actions_t *out)
{
    roll(s, now, out);
    sw_worker_t *w = worker_get(s, worker_id);
    if (!w || !w->busy || w->batch_id != batch_id)
        return; /* stale: the worker was lost and its batch already re-routed */
    for (uint32_t i = 0; i < w->batch_n; i++) {
        if (failed && failed[i])
            record_failure(s);
        else
            record_answer(s, now, w->batch[i].arrival, false);
    }
    s->in_batches -= w->batch_n;
    w->busy = false;
    w->batch_n = 0;
    if (w->state == SW_W_DRAINING)
        terminate_now(s, now, w, w->retire_reason, out);
    else
        idle_push(s, w);
    try_dispatch(s, now, out);
}

void sw_sched_on_worker_ready(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                              sw_actions_t *out)
{
    roll(s, now, out);
    sw_worker_t *w = worker_get(s, worker_id);
    if (!w || w->state != SW_W_BOOTING)
        return;
    w->state = SW_W_RUNNING;
    s->running_rps += s->types[w->type].cap_rps;
    s->n_serving++;
    s->n_running++;
    s->peak_running = SW_MAX(s->peak_running, (uint64_t)s->n_running);
    idle_push(s, w);
    /* A spot instance under notice served until its replacement was ready: retire it. */
    for (size_t i = 0; i < s->n_active; i++) {
        if (s->active[i]->doomed_by == w->id) {
            sw__sched_retire(s, now, s->active[i], SW_REASON_SPOT_NOTICE, out);
            break;
        }
    }
    try_dispatch(s, now, out);
}

void sw_sched_on_worker_notice(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                               sw_actions_t *out)
{
    roll(s, now, out);
    sw_worker_t *w = worker_get(s, worker_id);
    if (!w || w->state == SW_W_DRAINING || w->doomed_by)
        return;
    s->vm_interrupted++;
    if (!w->counted) {
        sw__sched_retire(s, now, w, SW_REASON_SPOT_NOTICE, out); /* nobody planned on it */
        return;
    }
    /* Two minutes is longer than most boots: start the replacement at once and keep the
     * doomed instance serving until the replacement is ready (or the instance is gone),
     * so the notice costs no capacity. Planners already count the replacement instead. */
    sw_worker_t *r = sw__sched_launch(s, now, w->type, SW_REASON_SPOT_REPLACEMENT, false, out);
    uncount(s, w);
    w->doomed_by = r->id;
}

uint32_t sw_sched_adopt_worker(sw_sched_t *s, sw_time_t now, int type_idx, sw_actions_t *out)
{
    if (type_idx < 0 || (unsigned)type_idx >= s->cfg->instance_types_count)
        return 0;
    roll(s, now, out);
    /* The LAUNCH record says who joined, for the decision log; the driver launches nothing
     * for it. Billed like any VM from now on (the minimum included): the operator pays for
     * it whether or not we launched it. */
    sw_worker_t *w = sw__sched_launch(s, now, type_idx, SW_REASON_ADOPTED, false, out);
    w->expected_ready = now;
    uint32_t id = w->id;
    sw_sched_on_worker_ready(s, now, id, out);
    return id;
}

void sw_sched_on_worker_draining(sw_sched_t *s, sw_time_t now, uint32_t worker_id,
                                 sw_actions_t *out)
{
    roll(s, now, out);
    sw_worker_t *w = worker_get(s, worker_id);
    if (!w || w->state == SW_W_DRAINING)
        return;
    if (w->counted)
        sw__sched_launch(s, now, w->type, SW_REASON_SPOT_REPLACEMENT, false, out);
    w->doomed_by = 0;
    sw__sched_retire(s, now, w, SW_REASON_WORKER_DRAIN, out);
    try_dispatch(s, now, out);
}

void sw_sched_on_worker_lost(sw_sched_t *s, sw_time_t now, uint32_t worker_id, sw_actions_t *out)
{
    roll(s, now, out);
    sw_worker_t *w = worker_get(s, worker_id);
    if (!w)
        return;
    int type = w->type;
    bool was_counted = w->counted;
    uint32_t n = w->busy ? w->batch_n : 0;
    sw_qreq_t lost[n ? n : 1];
    memcpy(lost, w->batch, n * sizeof(*lost));
    s->in_batches -= n;
    s->vm_lost++;
    worker_remove(s, w, now);
    for (uint32_t i = 0; i < n; i++) {
        if (can_spill(s) && !lost[i].faas_refused)
            invoke(s, now, lost[i].id, lost[i].arrival, SW_REASON_REQUEUE_WORKER_LOST, out);
        else
            q_insert(s, lost[i]);
    }
    if (was_counted && s->ops->worker_lost)
        s->ops->worker_lost(s, now, type, out);
    try_dispatch(s, now, out);
}

void sw_sched_on_faas_done(sw_sched_t *s, sw_time_t now, const sw_faas_result_t *res,
                           sw_actions_t *out)
{
    roll(s, now, out);
    SW_ASSERT(s->faas_inflight > 0);
    s->faas_inflight--;
    switch (res->status) {
    case SW_FAAS_OK:
        s->cold_starts += res->cold_start;
        s->cur.cold_starts += res->cold_start;
        sw_ledger_faas(&s->ledger, now, res->duration_ms, res->init_ms);
        record_answer(s, now, res->arrival, true);
        break;
    case SW_FAAS_THROTTLED:
        s->throttled++;
        s->cur.throttled++;
        fall_back(s, now, res->req_id, res->arrival, SW_REASON_FAAS_THROTTLED, out);
        break;
    case SW_FAAS_FUNCTION_ERROR:
        sw_ledger_faas(&s->ledger, now, res->duration_ms, res->init_ms);
        /* fall through */
    case SW_FAAS_FAILED:
    default:
        s->faas_errors++;
        fall_back(s, now, res->req_id, res->arrival, SW_REASON_FAAS_ERROR, out);
        break;
    }
}

/* ---- intervals, ticks and the end of a run ---- */

static void open_vm_costs(sw_sched_t *s, sw_time_t now, double *by_type, double *billed_s)
{
    memset(by_type, 0, s->cfg->instance_types_count * sizeof(double));
    *billed_s = 0;
    for (size_t i = 0; i < s->n_active; i++) {
        const sw_worker_t *w = s->active[i];
        by_type[w->type] += sw_ledger_vm_cost(s->cfg, w->type, w->launched_at, now,
                                              w->exact_billing);
        *billed_s += sw_ledger_vm_billed_s(&s->cfg->billing, sw_time_to_s(now - w->launched_at),
                                           w->exact_billing);
    }
}

static void close_interval(sw_sched_t *s, sw_time_t end)
{
    sw_sched_interval_t *row = &s->cur;
    row->end = end;
    row->capacity_rps = sw__sched_capacity_rps(s);
    row->latency_p50_ms = sw_hist_quantile_us(&s->cur_hist, 0.50) / 1000.0;
    row->latency_p99_ms = sw_hist_quantile_us(&s->cur_hist, 0.99) / 1000.0;
    memset(row->running_by_type, 0, sizeof(row->running_by_type));
    memset(row->booting_by_type, 0, sizeof(row->booting_by_type));
    memset(row->draining_by_type, 0, sizeof(row->draining_by_type));
    for (size_t i = 0; i < s->n_active; i++) {
        const sw_worker_t *w = s->active[i];
        unsigned *slot = w->state == SW_W_BOOTING   ? row->booting_by_type
                         : w->state == SW_W_RUNNING ? row->running_by_type
                                                    : row->draining_by_type;
        slot[w->type]++;
    }
    double billed;
    open_vm_costs(s, end, s->open_scratch, &billed);
    sw_cost_t cost;
    sw_ledger_totals(&s->ledger, s->open_scratch, billed, s->cost_scratch, &cost);
    row->cum_cost_usd = cost.total_usd;
    row->cum_vm_usd = cost.vm_usd;
    row->cum_faas_usd = cost.faas_usd;

    sw_interval_ring_push_back(&s->rows, *row);
}

static void open_interval(sw_sched_t *s, sw_time_t start)
{
    memset(&s->cur, 0, sizeof(s->cur));
    s->cur.start = start;
    s->cur.end = start + s->interval_us;
    sw_hist_init(&s->cur_hist);
}

/* Closes the interval ending at the next boundary and plans the one it opens. */
static void cross_boundary(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    sw_time_t boundary = s->next_interval;
    close_interval(s, boundary);
    sw_sched_interval_t closed = *sw_interval_ring_at(&s->rows, s->rows.len - 1);
    s->interval_idx++;
    s->next_interval = boundary + s->interval_us;
    open_interval(s, boundary);
    if (s->ops->plan)
        s->ops->plan(s, now, &closed, &s->cur, out);
}

/* Brings time-driven state up to `now`: every interval boundary passed is closed and
 * planned, the policy's own timer runs (in time order with the boundaries, a boundary
 * first at a tie, so the plan made there is already in place), and the monitor window
 * slides. Every entry point calls it first, so a driver that calls late still sees
 * intervals in order. */
static void roll(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    while (now >= s->next_interval || now >= s->policy_wakeup) {
        if (s->next_interval <= s->policy_wakeup) {
            cross_boundary(s, now, out);
        } else {
            sw_time_t due = s->policy_wakeup;
            s->ops->wake(s, now, out);
            SW_ASSERT(s->policy_wakeup > due);
        }
    }
    while (now >= s->next_monitor) {
        s->next_monitor += s->monitor_period;
        s->mon_slot = (s->mon_slot + 1) % SW_MONITOR_SLOTS;
        s->mon_total[s->mon_slot] = 0;
        s->mon_miss[s->mon_slot] = 0;
        s->mon_miss_faas[s->mon_slot] = 0;
        if (s->ops->monitor)
            s->ops->monitor(s, now, out);
    }
}

void sw_sched_start(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    SW_ASSERT(!s->started);
    s->started = true;
    s->origin = now;
    s->next_interval = now + s->interval_us;
    s->next_monitor = s->ops->monitor ? now + s->monitor_period : SW_TIME_NEVER;
    open_interval(s, now);
    if (s->ops->start)
        s->ops->start(s, now, out);
    if (s->ops->plan)
        s->ops->plan(s, now, NULL, &s->cur, out);
}

void sw_sched_on_tick(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    if (s->finished)
        return;
    roll(s, now, out);
    try_dispatch(s, now, out);
}

sw_time_t sw_sched_next_wakeup(const sw_sched_t *s)
{
    if (s->finished || !s->started)
        return SW_TIME_NEVER;
    sw_time_t t = SW_MIN(s->next_interval, s->dispatch_timer);
    return SW_MIN(SW_MIN(t, s->next_monitor), s->policy_wakeup);
}

bool sw_sched_is_idle(const sw_sched_t *s)
{
    return s->q.len == 0 && s->in_batches == 0 && s->faas_inflight == 0;
}

void sw_sched_finish(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    if (s->finished)
        return;
    roll(s, now, out);
    while (s->q.len > 0) {
        sw_qreq_t r = q_pop_front(s);
        reject(s, now, r.id, r.arrival, SW_REASON_NO_CAPACITY, out);
    }
    while (s->n_active > 0) {
        sw_worker_t *w = s->active[s->n_active - 1];
        /* A batch still in hand at the end gets an error answer: its worker never said it
         * was done, so counting it served would claim work nobody saw finish. */
        for (uint32_t i = 0; w->busy && i < w->batch_n; i++)
            reject(s, now, w->batch[i].id, w->batch[i].arrival, SW_REASON_END_OF_RUN, out);
        s->in_batches -= w->busy ? w->batch_n : 0;
        if (w->busy) {
            w->busy = false;
            if (w->state == SW_W_RUNNING)
                idle_push(s, w); /* worker_remove expects idle running workers listed */
        }
        terminate_now(s, now, w, SW_REASON_END_OF_RUN, out);
    }
    if (now > s->cur.start || s->cur.arrivals > 0)
        close_interval(s, now);
    s->finished = true;
}

const sw_sched_interval_t *sw_sched_take_interval(sw_sched_t *s)
{
    if (s->rows.len == 0)
        return NULL;
    s->taken = sw_interval_ring_pop_front(&s->rows);
    return &s->taken;
}

void sw_sched_summary(sw_sched_t *s, sw_time_t now, sw_sched_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    out->policy = sw_policy_name(s->cfg->policy.name);
    out->served_vm = s->served_vm;
    out->served_faas = s->served_faas;
    out->rejected = s->rejected;
    out->failed = s->failed;
    out->requests = s->served_vm + s->served_faas + s->rejected + s->failed;
    out->met_slo = s->met_slo;
    out->spilled = s->spilled;
    out->slo_attainment = out->requests ? (double)s->met_slo / (double)out->requests : 1.0;
    out->latency = &s->hist;
    out->faas_invocations = s->faas_invocations;
    out->cold_starts = s->cold_starts;
    out->throttled = s->throttled;
    out->faas_errors = s->faas_errors;
    out->vm_launched = s->vm_launched;
    out->vm_terminated = s->vm_terminated;
    out->vm_lost = s->vm_lost;
    out->vm_interrupted = s->vm_interrupted;
    out->peak_running = s->peak_running;
    out->span_s = s->started ? sw_time_to_s(now - s->origin) : 0.0;
    double billed;
    open_vm_costs(s, now, s->open_scratch, &billed);
    sw_ledger_totals(&s->ledger, s->open_scratch, billed, s->cost_scratch, &out->cost);
}
