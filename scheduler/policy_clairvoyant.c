/* `clairvoyant`: the second yardstick. Like the oracle it knows each interval's arrivals
 * in advance (sw_sched_create_foresight), but it pays the cloud's rules as every other
 * policy does: a VM is launched its mean boot time before the interval it serves and is
 * billed from the launch, with the billing minimum. So cost / oracle cost mixes two gaps,
 * not knowing the future and the boots and minimums, and cost / clairvoyant cost leaves
 * only the first.
 *
 * The plan is made once, at creation, by dynamic programming over the intervals. Its model
 * is fluid: in interval k the x_k arrivals are served by the VMs planned for it, each
 * carrying its planning capacity at policy.mark.target_utilization (the capacity rule mark
 * and the oracle plan with), and the rest spills at the warm function price. A plan pays
 * each VM per interval it serves, and each launch its lead (mean boot x price), or the part
 * of the billing minimum one interval does not cover when that is more. Retiring is free.
 * The state is the number of VMs of each of at most two types, so the optimum over every
 * such plan is found exactly for each pair of types (every pair is tried, each type alone
 * is a pair with none of the other) in O(intervals x states) time and memory; a pair whose
 * choice table would pass CHOICE_BUDGET bytes is skipped. The run then replays the plan:
 * launches at their lead, retirements at the boundaries, the core's spill at arrival.
 *
 * What the optimum is exact for, and what it is not: it is the cheapest plan of that model
 * (plans that change at boundaries, at most two types). It is not a proven lower bound on
 * what another policy pays in the simulation: arrivals within an interval are not fluid,
 * boots are random around their mean, the billing minimum is exact only when lead plus an
 * interval covers it, and a policy may mix more types or move between boundaries. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scheduler/sched_internal.h"

/* The choice tables of one pair may take this much; larger pairs are skipped. */
#define CHOICE_BUDGET ((size_t)256 << 20)

/* One type as the plan sees it. */
typedef struct ptype {
    int type;          /* instance type index */
    double carry;      /* requests one VM serves in an interval */
    double run_usd;    /* one VM for one interval */
    double launch_usd; /* a launch's lead (and unmet minimum), paid once */
    sw_time_t lead;    /* launched this long before the interval it serves */
    size_t first;      /* the first interval it can serve: lead <= first x interval */
    unsigned max;      /* the most of it any interval needs (or may have) */
} ptype_t;

typedef struct clair {
    unsigned n; /* types in the plan: 0 (functions only), 1 or 2 */
    ptype_t pt[2];
    uint16_t *count[2]; /* VMs of pt[i] serving each interval */
    size_t k_n;         /* intervals planned */
    double model_usd;   /* the plan's cost in its own model */
} clair_t;

static ptype_t ptype_of(const sw_sched_t *s, int t, double peak)
{
    const sw_type_info_t *ti = &s->types[t];
    double interval_s = s->cfg->policy.interval_s;
    ptype_t p = {.type = t};
    p.carry = ti->cap_rps * s->cfg->policy.mark.target_utilization * interval_s;
    p.run_usd = ti->price_per_s * interval_s;
    double lead_s = ceil(ti->boot_mean_s);
    p.launch_usd = ti->price_per_s * SW_MAX(lead_s, s->cfg->billing.vm_minimum_s - interval_s);
    p.lead = sw_s_to_time(lead_s);
    p.first = (size_t)ceil(lead_s / interval_s - 1e-9);
    double need = ceil(peak / p.carry);
    unsigned limit = s->cfg->instance_types[t].max_instances;
    p.max = (unsigned)SW_MIN(need, (double)(limit ? limit : SW_CFG_MAX_INSTANCES));
    return p;
}

/* A request no VM of the plan serves: the warm function price, or, when functions are
 * off, a price high enough that every plan serving it is cheaper. */
static double miss_usd(const sw_sched_t *s)
{
    return s->cfg->faas.enabled ? sw__sched_faas_cost_per_request(s) : 1e3;
}

/* out[i] = min over j in [0, n] of in[j] + cost x (i - j)^+, and arg[i] that j: raising the
 * count from j to i pays i - j launches, lowering it is free. A prefix minimum over j <= i
 * and a suffix minimum over j > i make it O(n). Arrays are strided. */
static void relax(const double *in, double *out, uint16_t *arg, unsigned n, size_t stride,
                  double cost)
{
    double best = INFINITY;
    unsigned at = 0;
    for (unsigned i = 0; i <= n; i++) {
        double c = in[i * stride] - cost * i;
        if (c < best) {
            best = c;
            at = i;
        }
        out[i * stride] = best + cost * i;
        arg[i * stride] = (uint16_t)at;
    }
    double suffix = INFINITY; /* min of in[j] over j > i */
    at = 0;
    for (unsigned i = n + 1; i-- > 0;) {
        if (suffix < out[i * stride]) {
            out[i * stride] = suffix;
            arg[i * stride] = (uint16_t)at;
        }
        if (in[i * stride] <= suffix) {
            suffix = in[i * stride];
            at = i;
        }
    }
}

/* The dynamic programme over one pair of types (b->max is 0 for a type alone). State
 * (na, nb) is index na * nb1 + nb; v holds the cheapest plan ending in each state. */
typedef struct dp {
    const sw_sched_t *s;
    const ptype_t *a, *b;
    size_t nb1, states, k_n;
    double *v, *w;
    uint16_t *ca, *cb; /* per interval: the na' reaching (na, nb'), the nb' reaching (na, nb) */
} dp_t;

/* One interval: launches of a (per nb column), then of b (per na row), then the interval's
 * own cost, with the types that cannot have booted yet held at 0. */
static void dp_step(dp_t *d, size_t k, double x, double miss)
{
    uint16_t *ca = d->ca + k * d->states, *cb = d->cb + k * d->states;
    unsigned na_max = d->a->max, nb_max = d->b->max;
    for (size_t nb = 0; nb < d->nb1; nb++)
        relax(d->v + nb, d->w + nb, ca + nb, na_max, d->nb1, d->a->launch_usd);
    for (unsigned na = 0; na <= na_max; na++)
        relax(d->w + na * d->nb1, d->v + na * d->nb1, cb + na * d->nb1, nb_max, 1,
              d->b->launch_usd);
    for (unsigned na = 0; na <= na_max; na++) {
        for (unsigned nb = 0; nb <= nb_max; nb++) {
            double *v = &d->v[na * d->nb1 + nb];
            if ((na && k < d->a->first) || (nb && k < d->b->first)) {
                *v = INFINITY;
                continue;
            }
            double served = na * d->a->carry + nb * d->b->carry;
            *v += na * d->a->run_usd + nb * d->b->run_usd + miss * SW_MAX(0.0, x - served);
        }
    }
}

/* Runs the programme over every interval; returns the optimum's cost and leaves the
 * cheapest final state in *end. */
static double dp_run(dp_t *d, size_t *end)
{
    double miss = miss_usd(d->s);
    for (size_t i = 0; i < d->states; i++)
        d->v[i] = i == 0 ? 0.0 : INFINITY; /* nothing runs before the start */
    for (size_t k = 0; k < d->k_n; k++)
        dp_step(d, k, (double)d->s->foresight[k], miss);
    *end = 0;
    for (size_t i = 1; i < d->states; i++)
        if (d->v[i] < d->v[*end])
            *end = i;
    return d->v[*end];
}

/* Walks the choices back from the final state into the plan's counts. */
static void dp_backtrack(const dp_t *d, size_t end, uint16_t *count_a, uint16_t *count_b)
{
    size_t na = end / d->nb1, nb = end % d->nb1;
    for (size_t k = d->k_n; k-- > 0;) {
        count_a[k] = (uint16_t)na;
        count_b[k] = (uint16_t)nb;
        size_t nb_prev = d->cb[k * d->states + na * d->nb1 + nb];
        na = d->ca[k * d->states + na * d->nb1 + nb_prev];
        nb = nb_prev;
    }
}

/* Plans with types a and b (b NULL: a alone) when the tables fit, and keeps the plan in c
 * if it is the cheapest so far. Returns whether it could plan. */
static bool try_pair(const sw_sched_t *s, clair_t *c, const ptype_t *a, const ptype_t *b)
{
    const ptype_t none = {.type = -1};
    dp_t d = {.s = s, .a = a, .b = b ? b : &none, .k_n = s->n_foresight};
    d.nb1 = (size_t)d.b->max + 1;
    d.states = ((size_t)a->max + 1) * d.nb1;
    if (d.states * d.k_n > CHOICE_BUDGET / (2 * sizeof(uint16_t)))
        return false;
    d.v = sw_malloc(d.states * sizeof(double));
    d.w = sw_malloc(d.states * sizeof(double));
    d.ca = sw_malloc(d.states * d.k_n * sizeof(uint16_t) + 1);
    d.cb = sw_malloc(d.states * d.k_n * sizeof(uint16_t) + 1);
    size_t end;
    double usd = dp_run(&d, &end);
    if (usd < c->model_usd) {
        c->model_usd = usd;
        c->n = b ? 2 : 1;
        c->pt[0] = *a;
        c->pt[1] = b ? *b : none;
        dp_backtrack(&d, end, c->count[0], c->count[1]);
    }
    sw_free(d.v);
    sw_free(d.w);
    sw_free(d.ca);
    sw_free(d.cb);
    return true;
}

static void clair_destroy(sw_sched_t *s)
{
    clair_t *c = s->policy_state;
    sw_free(c->count[0]);
    sw_free(c->count[1]);
    sw_free(c);
}

/* Every pair of usable types (a type alone when it is the only one); the plan starts as
 * functions only. Fails only when no pair's tables fit the budget. */
static int plan_all(sw_sched_t *s, clair_t *c, char *errbuf, size_t errlen)
{
    double peak = 0;
    c->model_usd = 0;
    for (size_t k = 0; k < c->k_n; k++) {
        peak = SW_MAX(peak, (double)s->foresight[k]);
        c->model_usd += miss_usd(s) * (double)s->foresight[k];
    }
    ptype_t pt[SW_SCHED_MAX_TYPES];
    unsigned n = 0;
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++)
        if (s->types[t].usable)
            pt[n++] = ptype_of(s, (int)t, peak);
    bool planned = n == 0;
    for (unsigned i = 0; i < n; i++) {
        if (n == 1)
            planned |= try_pair(s, c, &pt[i], NULL);
        for (unsigned j = i + 1; j < n; j++)
            planned |= try_pair(s, c, &pt[i], &pt[j]);
    }
    if (planned)
        return 0;
    snprintf(errbuf, errlen,
             "policy.name: clairvoyant: the plan of %zu intervals needs more "
             "than %zu MB for any pair of instance types; replay a shorter window (--duration) "
             "or raise policy.interval_s",
             c->k_n, CHOICE_BUDGET >> 20);
    return -EFBIG;
}

static int clair_create(sw_sched_t *s, char *errbuf, size_t errlen)
{
    clair_t *c = sw_calloc(1, sizeof(*c));
    c->k_n = s->n_foresight;
    c->count[0] = sw_calloc(c->k_n + 1, sizeof(uint16_t));
    c->count[1] = sw_calloc(c->k_n + 1, sizeof(uint16_t));
    s->policy_state = c;
    int rc = plan_all(s, c, errbuf, errlen);
    if (rc < 0) {
        clair_destroy(s); /* the core does not destroy a policy whose create failed */
        s->policy_state = NULL;
    }
    return rc;
}

/* ---- replaying the plan ---- */

static size_t interval_at(const sw_sched_t *s, sw_time_t now)
{
    return (size_t)((now - s->origin) / s->interval_us);
}

/* VMs of plan type i wanted at `now`: those serving the current interval, and those
 * launched already for a later one (their launch moment, the interval's start less the
 * lead, has come). */
static unsigned wanted(const sw_sched_t *s, const clair_t *c, unsigned i, sw_time_t now)
{
    const ptype_t *p = &c->pt[i];
    size_t k = interval_at(s, now);
    unsigned n = k < c->k_n ? c->count[i][k] : 0;
    for (size_t j = k + 1; j < c->k_n; j++) {
        if (s->origin + (sw_time_t)j * s->interval_us - p->lead > now)
            break;
        n = SW_MAX(n, c->count[i][j]);
    }
    return n;
}

/* The next launch moment after `now` of any plan type: the start of an interval less the
 * type's lead. */
static sw_time_t next_launch_moment(const sw_sched_t *s, const clair_t *c, sw_time_t now)
{
    sw_time_t next = SW_TIME_NEVER;
    for (unsigned i = 0; i < c->n; i++) {
        sw_time_t lead = c->pt[i].lead;
        sw_time_t j = (now - s->origin + lead) / s->interval_us + 1;
        if ((size_t)j < c->k_n)
            next = SW_MIN(next, s->origin + j * s->interval_us - lead);
    }
    return next;
}

static void follow(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    clair_t *c = s->policy_state;
    unsigned target[SW_SCHED_MAX_TYPES];
    for (unsigned t = 0; t < s->cfg->instance_types_count; t++)
        target[t] = 0;
    for (unsigned i = 0; i < c->n; i++)
        target[c->pt[i].type] = wanted(s, c, i, now);
    sw__sched_reconcile(s, now, target, SW_REASON_CLAIRVOYANT, SW_REASON_CLAIRVOYANT, false, out);
    s->policy_wakeup = next_launch_moment(s, c, now);
}

static void clair_plan(sw_sched_t *s, sw_time_t now, const sw_sched_interval_t *closed,
                       sw_sched_interval_t *opening, sw_actions_t *out)
{
    (void)closed;
    size_t k = interval_at(s, opening->start);
    double count = k < s->n_foresight ? (double)s->foresight[k] : 0.0;
    opening->forecast = opening->forecast_upper = count;
    opening->forecast_max = opening->forecast_max_upper = count;
    follow(s, now, out);
}

static void clair_wake(sw_sched_t *s, sw_time_t now, sw_actions_t *out)
{
    follow(s, now, out);
}

static void clair_worker_lost(sw_sched_t *s, sw_time_t now, int type, sw_actions_t *out)
{
    (void)type;
    follow(s, now, out);
}

const sw_sched_ops_t sw__policy_clairvoyant = {
    .name = "clairvoyant",
    .spills = true,
    .foresight = true,
    .create = clair_create,
    .destroy = clair_destroy,
    .plan = clair_plan,
    .wake = clair_wake,
    .worker_lost = clair_worker_lost,
};
