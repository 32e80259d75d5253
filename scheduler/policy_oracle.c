/* `oracle`: the yardstick. It knows each interval's arrivals in advance (the simulator
 * hands it the trace's counts through sw_sched_create_foresight), its VMs are ready the
 * moment they are asked for, and it pays exactly for the time they run, with no minimum
 * and no rounding. Each interval it picks the cheapest mix serving the actual load: VMs of
 * at most two types at their planning capacity, the rest on functions, the fluid model the
 * clairvoyant bound plans with (policy_clairvoyant.c), optimal interval by interval since
 * nothing ties one interval to the next. A policy that has to forecast, wait for boots and
 * pay billing minimums cannot plan below it in that model, so cost / oracle cost measures
 * ignorance of the future and the cloud's rules together; cost / clairvoyant cost, the
 * first alone. */
#include <math.h>
#include <string.h>

#include "scheduler/sched_internal.h"

/* One type as a mix sees it: capacity at the planning utilisation and price, per second. */
typedef struct mixtype {
    double cap, price;
    unsigned max; /* 0: no limit */
} mixtype_t;

/* The cheapest count of type b for `resid` rps left over, the rest on functions: the cost
 * nb x price + (resid - nb x cap)^+ x faas is convex in nb, so its minimum is at none or
 * at the floor or ceiling of resid / cap. Returns the cost and leaves the count in *nb. */
static double best_remainder(const mixtype_t *b, double resid, double faas, unsigned *nb)
{
    double whole = resid / b->cap;
    double tries[3] = {0, floor(whole), ceil(whole)};
    double best = INFINITY;
    for (int i = 0; i < 3; i++) {
        double n = b->max ? SW_MIN(tries[i], (double)b->max) : tries[i];
        double c = n * b->price + SW_MAX(0.0, resid - n * b->cap) * faas;
        if (c < best) {
            best = c;
            *nb = (unsigned)n;
        }
    }
    return best;
}

/* Fills target[] with the cheapest mix of at most two types for `rps` actual requests
 * per second, the rest on functions: exact for that model (every pair, every count of
 * the first, the best count of the second), the same model the clairvoyant bound plans
 * with, so the oracle is never above it in the model's terms. */
static void cheapest_mix(const sw_sched_t *s, double rps, unsigned *target)
{
    unsigned n_types = s->cfg->instance_types_count;
    double util = s->cfg->policy.mark.target_utilization;
    double faas = s->cfg->faas.enabled ? sw__sched_faas_cost_per_request(s) : 1e3;
    mixtype_t mt[SW_SCHED_MAX_TYPES];
    for (unsigned t = 0; t < n_types; t++)
        mt[t] = (mixtype_t){.cap = s->types[t].cap_rps * util,
                            .price = s->types[t].price_per_s,
                            .max = s->cfg->instance_types[t].max_instances};
    double best = rps * faas;
    memset(target, 0, n_types * sizeof(*target));
    for (unsigned a = 0; a < n_types; a++) {
        if (!s->types[a].usable)
            continue;
        double most = ceil(rps / mt[a].cap);
        if (mt[a].max)
            most = SW_MIN(most, (double)mt[a].max);
        for (unsigned b = a + 1; b <= n_types; b++) {
            bool alone = b == n_types;
            if (!alone && !s->types[b].usable)
                continue;
            for (unsigned na = 1; na <= (unsigned)most; na++) {
                double resid = SW_MAX(0.0, rps - na * mt[a].cap);
                unsigned nb = 0;
                double c = na * mt[a].price +
                           (alone ? resid * faas : best_remainder(&mt[b], resid, faas, &nb));
                if (c < best) {
                    best = c;
                    memset(target, 0, n_types * sizeof(*target));
                    target[a] = na;
                    if (!alone)
                        target[b] = nb;
                }
            }
        }
    }
}

static void oracle_plan(sw_sched_t *s, sw_time_t now, const sw_sched_interval_t *closed,
                        sw_sched_interval_t *opening, sw_actions_t *out)
{
    (void)closed;
    size_t k = (size_t)((opening->start - s->origin) / s->interval_us);
    double count = k < s->n_foresight ? (double)s->foresight[k] : 0.0;
    opening->forecast = opening->forecast_upper = count;
    opening->forecast_max = opening->forecast_max_upper = count;
    unsigned target[SW_SCHED_MAX_TYPES];
    cheapest_mix(s, count / s->cfg->policy.interval_s, target);
    sw__sched_reconcile(s, now, target, SW_REASON_ORACLE, SW_REASON_ORACLE, true, out);
}

const sw_sched_ops_t sw__policy_oracle = {
    .name = "oracle",
    .spills = true,
    .foresight = true,
    .plan = oracle_plan,
};
