/* Range and cross-field checks on a loaded (or hand-modified) sw_cfg_t. Each problem is
 * reported on its own line with the key path to fix, and checking goes on after a
 * problem so that one run shows them all. Comparisons are written as !(x > 0) so that a
 * NaN fails them too. */
#include "config/config_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define P(buf, ...) (snprintf((buf), sizeof(buf), __VA_ARGS__), (buf))

static void gt0(sw__cfg_problems_t *p, const char *path, double x)
{
    if (!(x > 0))
        sw__cfg_problem(p, path, "must be > 0");
}

static void ge0(sw__cfg_problems_t *p, const char *path, double x)
{
    if (!(x >= 0))
        sw__cfg_problem(p, path, "must be >= 0");
}

/* x in an interval; `lo_open`/`hi_open` pick "(" or "[" in the message. */
static void in_range(sw__cfg_problems_t *p, const char *path, double x, double lo, bool lo_open,
                     double hi, bool hi_open)
{
    bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    if (!ok)
        sw__cfg_problem(p, path, "must be in %c%g, %g%c", lo_open ? '(' : '[', lo, hi,
                        hi_open ? ')' : ']');
}

static void at_least(sw__cfg_problems_t *p, const char *path, double x, double lo)
{
    if (!(x >= lo))
        sw__cfg_problem(p, path, "must be >= %g", lo);
}

/* Reports a required key absent from the file; returns true if it did. */
static bool missing(sw__cfg_problems_t *p, const char *path)
{
    if (!sw__cfg_is_missing(p->keys, path))
        return false;
    sw__cfg_problem(p, path, "missing: this key has no default");
    return true;
}

static void nonempty(sw__cfg_problems_t *p, const char *path, const char *s)
{
    if (!s || !*s)
        sw__cfg_problem(p, path, "must not be empty");
}

/* zero_ok: a constant 0 is allowed (an instant boot, no cold start). */
static void check_dist(sw__cfg_problems_t *p, const char *path, const sw_cfg_dist_t *d,
                       bool zero_ok)
{
    char k[SW__CFG_PATH_MAX + 8];
    switch (d->dist) {
    case SW_DIST_UNIFORM:
        ge0(p, P(k, "%s.min", path), d->min);
        if (!(d->max >= d->min))
            sw__cfg_problem(p, P(k, "%s.max", path), "must be >= min (%g)", d->min);
        else if (!zero_ok)
            gt0(p, k, d->max);
        break;
    case SW_DIST_CONSTANT:
        if (zero_ok)
            ge0(p, P(k, "%s.mean", path), d->mean);
        else
            gt0(p, P(k, "%s.mean", path), d->mean);
        break;
    case SW_DIST_EXPONENTIAL:
    case SW_DIST_LOGNORMAL: gt0(p, P(k, "%s.mean", path), d->mean); break;
    default:
        sw__cfg_problem(p, P(k, "%s.dist", path), "unknown distribution %d", (int)d->dist);
        return;
    }
    if (!(d->cv >= 0))
        sw__cfg_problem(p, P(k, "%s.cv", path), "must be >= 0");
    else if (d->dist == SW_DIST_LOGNORMAL && !(d->cv > 0))
        sw__cfg_problem(p, P(k, "%s.cv", path),
                        "lognormal needs cv > 0 (for no variation use dist: constant)");
}

static void check_batches(sw__cfg_problems_t *p, const char *prefix,
                          const sw_cfg_instance_type_t *t, double slo_ms)
{
    char k[SW__CFG_PATH_MAX];
    if (!missing(p, P(k, "%s.max_batch", prefix)) && t->max_batch < 1)
        sw__cfg_problem(p, k, "must be >= 1");
    if (missing(p, P(k, "%s.batch_latency_ms", prefix)))
        return;
    if (t->max_batch >= 1 && t->batch_latency_ms_count != t->max_batch)
        sw__cfg_problem(p, prefix,
                        "batch_latency_ms has %u entries but max_batch is %u: give T_b for "
                        "every b = 1..max_batch",
                        t->batch_latency_ms_count, t->max_batch);
    const double *tb = t->batch_latency_ms;
    for (unsigned j = 0; j < t->batch_latency_ms_count; j++) {
        P(k, "%s.batch_latency_ms[%u]", prefix, j);
        if (!(tb[j] > 0))
            sw__cfg_problem(p, k, "must be > 0");
        else if (j > 0 && tb[j] < tb[j - 1])
            sw__cfg_problem(p, k,
                            "a batch of %u takes %g ms, less than a batch of %u (%g ms): "
                            "T_b must not decrease as b grows",
                            j + 1, tb[j], j, tb[j - 1]);
    }
    if (t->batch_latency_ms_count && tb[0] > 0 && slo_ms > 0 && tb[0] >= slo_ms)
        sw__cfg_problem(p, P(k, "%s.batch_latency_ms[0]", prefix),
                        "a batch of 1 takes %g ms, %s slo.latency_ms %g: this type can never "
                        "meet the SLO",
                        tb[0], tb[0] > slo_ms ? "longer than" : "as long as", slo_ms);
}

static void check_instance_types(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    char k[SW__CFG_PATH_MAX];
    if (cfg->instance_types_count == 0) {
        sw__cfg_problem(p, "instance_types", "must list at least one instance type");
        return;
    }
    for (unsigned i = 0; i < cfg->instance_types_count; i++) {
        const sw_cfg_instance_type_t *t = &cfg->instance_types[i];
        char pre[64];
        P(pre, "instance_types[%u]", i);

        if (!missing(p, P(k, "%s.name", pre))) {
            nonempty(p, k, t->name);
            for (unsigned j = 0; t->name && j < i; j++) {
                if (cfg->instance_types[j].name && !strcmp(t->name, cfg->instance_types[j].name)) {
                    sw__cfg_problem(p, k, "duplicate name \"%s\" (also instance_types[%u])",
                                    t->name, j);
                    break;
                }
            }
        }
        if (!missing(p, P(k, "%s.price_per_hour_usd", pre)))
            gt0(p, k, t->price_per_hour_usd);
        check_dist(p, P(k, "%s.boot_s", pre), &t->boot_s, true);
        check_batches(p, pre, t, cfg->slo.latency_ms);
        check_dist(p, P(k, "%s.service_variation", pre), &t->service_variation, false);
        in_range(p, P(k, "%s.spot.price_factor", pre), t->spot.price_factor, 0, true, 1, false);
        ge0(p, P(k, "%s.spot.interruptions_per_hour", pre), t->spot.interruptions_per_hour);
        ge0(p, P(k, "%s.spot.notice_s", pre), t->spot.notice_s);
    }
}

static void check_faas_section(const sw_cfg_faas_t *f, sw__cfg_problems_t *p)
{
    if (!(f->memory_mb >= 128 && f->memory_mb <= 10240))
        sw__cfg_problem(p, "faas.memory_mb", "must be in [128, 10240] (AWS Lambda's range)");
    ge0(p, "faas.price_per_gb_s_usd", f->price_per_gb_s_usd);
    ge0(p, "faas.price_per_million_requests_usd", f->price_per_million_requests_usd);
    gt0(p, "faas.billing_granularity_ms", f->billing_granularity_ms);
    check_dist(p, "faas.warm_latency_ms", &f->warm_latency_ms, false);
    check_dist(p, "faas.cold_start_ms", &f->cold_start_ms, true);
    ge0(p, "faas.keep_alive_s", f->keep_alive_s);
    if (f->enabled && f->concurrency_limit < 1)
        sw__cfg_problem(p, "faas.concurrency_limit", "must be >= 1 while faas.enabled is true");
    gt0(p, "faas.scale_out_per_minute", f->scale_out_per_minute);
    ge0(p, "faas.free_tier.requests", f->free_tier.requests);
    ge0(p, "faas.free_tier.gb_s", f->free_tier.gb_s);
    nonempty(p, "faas.invoke.region", f->invoke.region);
    nonempty(p, "faas.invoke.function_name", f->invoke.function_name);
    if (f->invoke.endpoint && strncmp(f->invoke.endpoint, "http://", 7) != 0 &&
        strncmp(f->invoke.endpoint, "https://", 8) != 0)
        sw__cfg_problem(p, "faas.invoke.endpoint",
                        "must start with http:// or https:// (or be null for AWS's endpoint)");
    gt0(p, "faas.invoke.timeout_ms", f->invoke.timeout_ms);
    if (f->invoke.max_in_flight < 1)
        sw__cfg_problem(p, "faas.invoke.max_in_flight", "must be >= 1");
    ge0(p, "faas.invoke.retry_base_ms", f->invoke.retry_base_ms);
    nonempty(p, "faas.local.listen", f->local.listen);
    gt0(p, "faas.local.timeout_s", f->local.timeout_s);
    char k[64];
    for (unsigned i = 0; i < f->local.functions_count; i++) {
        if (!missing(p, P(k, "faas.local.functions[%u].name", i)))
            nonempty(p, k, f->local.functions[i].name);
        if (!missing(p, P(k, "faas.local.functions[%u].command", i)))
            nonempty(p, k, f->local.functions[i].command);
    }
}

/* A pool or reactive entry names an instance type. */
static void check_type_ref(const sw_cfg_t *cfg, sw__cfg_problems_t *p, const char *path,
                           const char *name)
{
    if (missing(p, path))
        return;
    if (!name) {
        /* Unset and unresolved: only when the first type has no name, reported there. */
        if (cfg->instance_types_count == 0 || !cfg->instance_types[0].name)
            return;
        sw__cfg_problem(p, path, "must name an instance type");
        return;
    }
    if (sw_cfg_find_type(cfg, name) < 0)
        sw__cfg_problem(p, path, "no instance type named \"%s\"", name);
}

static void check_policy(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    const sw_cfg_policy_t *pol = &cfg->policy;
    char k[SW__CFG_PATH_MAX];

    if (pol->name < SW_POLICY_STATIC || pol->name > SW_POLICY_ORACLE)
        sw__cfg_problem(p, "policy.name", "unknown policy %d", (int)pol->name);
    if (pol->name == SW_POLICY_FAAS_ONLY && !cfg->faas.enabled)
        sw__cfg_problem(p, "policy.name",
                        "faas-only sends every request to FaaS, but faas.enabled is false");
    gt0(p, "policy.interval_s", pol->interval_s);
    ge0(p, "policy.max_queue_delay_ms", pol->max_queue_delay_ms);
    ge0(p, "policy.dispatch_margin_ms", pol->dispatch_margin_ms);

    for (unsigned i = 0; i < pol->static_pool.pool_count; i++) {
        const sw_cfg_pool_entry_t *e = &pol->static_pool.pool[i];
        check_type_ref(cfg, p, P(k, "policy.static.pool[%u].type", i), e->type);
        if (!missing(p, P(k, "policy.static.pool[%u].count", i)) && e->count < 1)
            sw__cfg_problem(p, k, "must be >= 1");
    }

    const sw_cfg_reactive_t *r = &pol->reactive;
    check_type_ref(cfg, p, "policy.reactive.instance_type", r->instance_type);
    ge0(p, "policy.reactive.target_invocations_per_instance_per_minute",
        r->target_invocations_per_instance_per_minute);
    ge0(p, "policy.reactive.scale_out_cooldown_s", r->scale_out_cooldown_s);
    ge0(p, "policy.reactive.scale_in_cooldown_s", r->scale_in_cooldown_s);
    if (r->max_instances != 0 && r->max_instances < r->min_instances)
        sw__cfg_problem(p, "policy.reactive.max_instances",
                        "must be 0 (no limit) or >= min_instances (%u)", r->min_instances);

    const sw_cfg_mark_t *m = &pol->mark;
    at_least(p, "policy.mark.horizon_intervals", m->horizon_intervals, 1);
    in_range(p, "policy.mark.target_utilization", m->target_utilization, 0, true, 1, false);
    in_range(p, "policy.mark.violation_budget", m->violation_budget, 0, false, 1, true);
    gt0(p, "policy.mark.violation_window_s", m->violation_window_s);
    ge0(p, "policy.mark.violation_cooldown_s", m->violation_cooldown_s);
}

/* The forecasters predictor/ implements. Kept here rather than asked of predictor/,
 * which depends on config/ and not the other way round; keep it in step with
 * sw_pred_known_names() (tests/serving checks that every name there loads). */
static const char *const predictor_names[] = {
    "recent-max", "last", "seasonal-naive", "ewma", "holt-winters", "ar", "lstm",
};

static void check_predictor_name(sw__cfg_problems_t *p, const char *name)
{
    if (!name || !*name) {
        sw__cfg_problem(p, "predictor.name", "must not be empty");
        return;
    }
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < SW_ARRAY_LEN(predictor_names); i++) {
        if (strcmp(name, predictor_names[i]) == 0)
            return;
        int n =
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", predictor_names[i]);
        used = SW_MIN(used + (size_t)SW_MAX(n, 0), sizeof list - 1);
    }
    sw__cfg_problem(p, "predictor.name", "unknown forecaster \"%s\": expected one of %s", name,
                    list);
}

static void check_predictor(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    const sw_cfg_predictor_t *pr = &cfg->predictor;
    check_predictor_name(p, pr->name);
    at_least(p, "predictor.horizon_intervals", pr->horizon_intervals, 1);
    at_least(p, "predictor.window_intervals", pr->window_intervals, 1);
    at_least(p, "predictor.headroom", pr->headroom, 1);
    in_range(p, "predictor.quantile", pr->quantile, 0, true, 1, true);

    /* Seasonal models index the series by season / interval, so a season that is not a
     * whole number of intervals would silently be rounded to another length. */
    double iv = cfg->policy.interval_s;
    if (!(pr->season_s > 0)) {
        sw__cfg_problem(p, "predictor.season_s", "must be > 0");
    } else if (iv > 0) {
        double k = pr->season_s / iv;
        if (!(k >= 1) || fabs(k - round(k)) > 1e-9 * k)
            sw__cfg_problem(p, "predictor.season_s", "must be a multiple of policy.interval_s (%g)",
                            iv);
    }
    /* At most 0.9: the model itself must be fitted on something. */
    in_range(p, "predictor.holdout_frac", pr->holdout_frac, 0, false, 0.9, false);
    if (!(pr->ewma_alpha == 0 || (pr->ewma_alpha > 0 && pr->ewma_alpha < 1)))
        sw__cfg_problem(p, "predictor.ewma_alpha", "must be 0 (fitted) or in (0, 1)");
    at_least(p, "predictor.ar_order", pr->ar_order, 1);
    ge0(p, "predictor.gaps.min_level", pr->gaps.min_level);
    at_least(p, "predictor.gaps.context", pr->gaps.context, 1);

    const sw_cfg_lstm_t *l = &pr->lstm;
    in_range(p, "predictor.lstm.hidden", l->hidden, 1, false, 256, false);
    at_least(p, "predictor.lstm.window", l->window, 2);
    gt0(p, "predictor.lstm.learning_rate", l->learning_rate);
    at_least(p, "predictor.lstm.batch", l->batch, 1);
}

void sw__cfg_check(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    gt0(p, "slo.latency_ms", cfg->slo.latency_ms);
    in_range(p, "slo.target", cfg->slo.target, 0, true, 1, false);

    check_instance_types(cfg, p);
    check_faas_section(&cfg->faas, p);

    gt0(p, "billing.vm_granularity_s", cfg->billing.vm_granularity_s);
    ge0(p, "billing.vm_minimum_s", cfg->billing.vm_minimum_s);

    check_policy(cfg, p);

    check_predictor(cfg, p);

    const sw_cfg_trace_t *t = &cfg->trace;
    nonempty(p, "trace.path", t->path);
    if (t->format < SW_TRACE_AUTO || t->format > SW_TRACE_COUNTS_PER_MINUTE)
        sw__cfg_problem(p, "trace.format", "unknown trace format %d", (int)t->format);
    nonempty(p, "trace.timestamp_column", t->timestamp_column);
    gt0(p, "trace.rate_scale", t->rate_scale);
    ge0(p, "trace.start_s", t->start_s);
    ge0(p, "trace.duration_s", t->duration_s);
}
