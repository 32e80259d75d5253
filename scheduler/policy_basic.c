/* The baselines every run can be compared with: `static` (a fixed pool, refilled when a
 * VM is lost), `faas-only` (every request to functions) and `reactive` (target tracking on
 * invocations per instance per minute with scale-out and scale-in cooldowns, the way
 * managed autoscalers such as SageMaker's and EC2 Auto Scaling's target tracking work). */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "scheduler/sched_internal.h"

/* ---- static ---- */

static void static_start(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    const sw_cfg_static_t *st = &s->cfg->policy.static_pool;
    for (unsigned i = 0; i < st->pool_count; i++) {
        int type = sw_cfg_find_type(s->cfg, st->pool[i].type);
        for (unsigned k = 0; k < st->pool[i].count; k++)
            sw__sched_launch(s, now, type, SW_REASON_STATIC_POOL, false, out);
    }
}

/* Refills the pool to its configured size, and no further: a worker the operator
 * started (adopted) is not the policy's to replace, and launching one for a static
 * provider, which cannot launch, only fails. */
static void static_worker_lost(sw_sched_t *s, sw_time_t now, int type, sw_actions_t *out)
{
    const sw_cfg_static_t *st = &s->cfg->policy.static_pool;
    unsigned want = 0;
    for (unsigned i = 0; i < st->pool_count; i++)
        if (sw_cfg_find_type(s->cfg, st->pool[i].type) == type)
            want += st->pool[i].count;
    if (s->types[type].count < want)
        sw__sched_launch(s, now, type, SW_REASON_STATIC_POOL, false, out);
}

const sw_sched_ops_t sw__policy_static = {
    .name = "static",
    .start = static_start,
    .worker_lost = static_worker_lost,
};

/* ---- faas-only ---- */

const sw_sched_ops_t sw__policy_faas_only = {
    .name = "faas-only",
    .spills = true,
    .faas_only = true,
};

/* ---- reactive ---- */

typedef struct reactive {
    int type;
    double target_per_min;
    sw_time_t last_out, last_in;
} reactive_t;

static int reactive_create(sw_sched_t *s, char *errbuf, size_t errlen)
{
    const sw_cfg_reactive_t *rc = &s->cfg->policy.reactive;
    int type = sw_cfg_find_type(s->cfg, rc->instance_type);
    if (type < 0) {
        snprintf(errbuf, errlen, "policy.reactive.instance_type: no instance type named \"%s\"",
                 rc->instance_type);
        return -EINVAL;
    }
    reactive_t *r = sw_calloc(1, sizeof(*r));
    r->type = type;
    /* 70 % of what one instance serves within the SLO: the usual target-tracking setting,
     * leaving room for the spikes a minute-level metric cannot see. */
    r->target_per_min = rc->target_invocations_per_instance_per_minute > 0
                            ? rc->target_invocations_per_instance_per_minute
                            : 0.7 * s->types[type].cap_rps * 60.0;
    r->last_out = r->last_in = INT64_MIN / 2;
    s->policy_state = r;
    return 0;
}

static void reactive_destroy(sw_sched_t *s) { sw_free(s->policy_state); }

static void reactive_start(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    reactive_t *r = s->policy_state;
    for (unsigned i = 0; i < s->cfg->policy.reactive.min_instances; i++)
        sw__sched_launch(s, now, r->type, SW_REASON_MIN_INSTANCES, false, out);
}

static void reactive_plan(sw_sched_t *s, sw_time_t now, const sw_sched_interval_t *closed,
                          sw_sched_interval_t *opening, sw_actions_t *out)
{
    (void)opening;
    if (!closed)
        return;
    const sw_cfg_reactive_t *rc = &s->cfg->policy.reactive;
    reactive_t *r = s->policy_state;
    double per_min = (double)closed->arrivals * 60.0 / sw_time_to_s(closed->end - closed->start);
    /* Clamped before the cast: a burst over a tiny target must not overflow unsigned. */
    unsigned desired = (unsigned)SW_MIN(ceil(per_min / r->target_per_min),
                                        (double)SW_CFG_MAX_INSTANCES);
    desired = SW_MAX(desired, rc->min_instances);
    if (rc->max_instances)
        desired = SW_MIN(desired, rc->max_instances);
    unsigned current = s->types[r->type].count;
    unsigned target[SW_SCHED_MAX_TYPES] = {0};
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++)
        target[t] = s->types[t].count;
    if (desired > current && now - r->last_out >= sw_s_to_time(rc->scale_out_cooldown_s)) {
        target[r->type] = desired;
        r->last_out = now;
    } else if (desired < current && now - r->last_in >= sw_s_to_time(rc->scale_in_cooldown_s) &&
               now - r->last_out >= sw_s_to_time(rc->scale_in_cooldown_s)) {
        target[r->type] = desired;
        r->last_in = now;
    } else {
        return;
    }
    sw__sched_reconcile(s, now, target, SW_REASON_TARGET_TRACKING, SW_REASON_TARGET_TRACKING,
                        false, out);
}

const sw_sched_ops_t sw__policy_reactive = {
    .name = "reactive",
    .create = reactive_create,
    .destroy = reactive_destroy,
    .start = reactive_start,
    .plan = reactive_plan,
};
