/* `oracle`: the yardstick. It knows each interval's arrivals in advance (the simulator
 * hands it the trace's counts through sw_sched_create_foresight), its VMs are ready the
 * moment they are asked for, and it pays exactly for the time they run, with no minimum
 * and no rounding. Each interval it picks the cheapest mix serving the actual load: some
 * number of the best-value type, with the remainder on one more VM or on functions,
 * whichever costs less. No policy that has to forecast, wait for boots and pay billing
 * minimums can serve the same load within the SLO for less, so cost / oracle cost measures
 * what a policy's ignorance of the future costs. */
#include <math.h>
#include <string.h>

#include "scheduler/sched_internal.h"

/* Fills target[] with the cheapest VM mix for `rps` actual requests per second over an
 * interval of `len_s` seconds; the rest is left to functions. */
static void cheapest_mix(const sw_sched_t *s, double rps, double len_s, unsigned *target)
{
    unsigned n_types = s->cfg->instance_types_count;
    double util = s->cfg->policy.mark.target_utilization;
    double faas_per_req = s->cfg->faas.enabled ? sw__sched_faas_cost_per_request(s) : INFINITY;
    double best = rps > 0 ? rps * len_s * faas_per_req : 0.0;
    memset(target, 0, n_types * sizeof(*target));
    for (unsigned b = 0; b < n_types; b++) {
        const sw_type_info_t *bulk = &s->types[b];
        if (!bulk->usable)
            continue;
        double cap = bulk->cap_rps * util;
        double full = floor(rps / cap);
        unsigned max = s->cfg->instance_types[b].max_instances;
        if (max && full > max)
            full = max; /* the rest goes to the remainder: one more VM or functions */
        double resid = rps - full * cap;
        double base = full * bulk->price_per_s * len_s;
        /* The remainder: on functions, or on the cheapest single VM that holds it. */
        double on_faas = resid * len_s * faas_per_req;
        int extra = -1;
        double on_vm = INFINITY;
        for (unsigned v = 0; v < n_types && resid > 0; v++) {
            double c = s->types[v].price_per_s * len_s;
            unsigned vmax = s->cfg->instance_types[v].max_instances;
            unsigned used = v == b ? (unsigned)full : 0;
            if ((vmax && used + 1 > vmax) || !s->types[v].usable)
                continue;
            if (s->types[v].cap_rps * util >= resid && c < on_vm) {
                on_vm = c;
                extra = (int)v;
            }
        }
        double total = base + SW_MIN(on_faas, on_vm);
        if (total < best) {
            best = total;
            memset(target, 0, n_types * sizeof(*target));
            target[b] = (unsigned)full;
            if (on_vm < on_faas && extra >= 0)
                target[extra]++;
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
    cheapest_mix(s, count / s->cfg->policy.interval_s, s->cfg->policy.interval_s, target);
    sw__sched_reconcile(s, now, target, SW_REASON_ORACLE, SW_REASON_ORACLE, true, out);
}

const sw_sched_ops_t sw__policy_oracle = {
    .name = "oracle",
    .spills = true,
    .foresight = true,
    .plan = oracle_plan,
};
