/* Checks on a loaded (or hand-modified) sw_cfg_t. First the key table's own rules, for
 * every key: required keys present, numbers within their range, strings within their
 * length, lists within their entry count. Then the rules that tie keys together, which
 * stay code: a batch profile's length and shape, a distribution's parameters, names that
 * must refer to an instance type, a season that must be a whole number of intervals.
 * Each problem is reported on its own line with the key path to fix, and checking goes
 * on after a problem so that one run shows them all (one per key). Range checks are
 * written so that a NaN fails them. */
#include "config/config_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/net.h"

#define P(buf, ...) (snprintf((buf), sizeof(buf), __VA_ARGS__), (buf))

/* ---- The table's rules ---------------------------------------------------------------- */

/* Reports a required key absent from the file; returns true if it did. */
static bool missing(sw__cfg_problems_t *p, const sw__cfg_row_t *r, const char *path)
{
    if (!sw__cfg_is_missing(p->keys, r, path))
        return false;
    sw__cfg_problem(p, path, "missing: this key has no default");
    return true;
}

static void check_range(const sw__cfg_row_t *r, const void *data, const char *path,
                        sw__cfg_problems_t *p)
{
    if (!r->info.has_range || sw_cfg_key_in_range(&r->info, sw__cfg_get_number(r, data)))
        return;
    char msg[256];
    sw__cfg_range_message(r, msg, sizeof msg);
    if (r->flags & SW__CFG_DIST_MEAN) {
        /* A uniform's mean is not given but derived: say from what. */
        const sw_cfg_dist_t *d =
            (const sw_cfg_dist_t *)((const char *)data - offsetof(sw_cfg_dist_t, mean));
        if (d->dist == SW_DIST_UNIFORM) {
            sw__cfg_problem(p, path, "(min + max) / 2 = %g %s", d->mean, msg);
            return;
        }
    }
    sw__cfg_problem(p, path, "%s", msg);
}

static void check_string(const sw__cfg_row_t *r, const char *s, const char *path,
                         sw__cfg_problems_t *p)
{
    /* NULL is "unset": allowed where null is, or where the default is unset and finalize
     * resolves it from other keys (policy.reactive.instance_type). */
    if (!s && ((r->flags & SW__CFG_NULLABLE) || (!r->info.required && !r->def_str)))
        return;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 && r->info.min >= 1)
        sw__cfg_problem(p, path, "must not be empty");
    else if ((double)n > r->info.max)
        sw__cfg_problem(p, path, "must be at most %g characters", r->info.max);
}

/* Returns false for a list too long to look into. */
static bool check_count(const sw__cfg_row_t *r, unsigned n, const char *path, sw__cfg_problems_t *p)
{
    if ((double)n > r->info.max) {
        sw__cfg_problem(p, path, "has %u entries, at most %g are allowed", n, r->info.max);
        return false;
    }
    if ((double)n < r->info.min && r->info.min == 1)
        sw__cfg_problem(p, path, "must list at least one %s", r->note ? r->note : "entry");
    else if ((double)n < r->info.min)
        sw__cfg_problem(p, path, "must list at least %g entries", r->info.min);
    return true;
}

static bool check_row(const sw__cfg_row_t *r, void *data, void *base, const char *path, void *ctx)
{
    sw__cfg_problems_t *p = ctx;
    if (missing(p, r, path))
        return false;
    switch (r->info.type) {
    case SW_CFG_KEY_SECTION:
    case SW_CFG_KEY_DIST: return true;
    case SW_CFG_KEY_LIST: return check_count(r, *sw__cfg_list_count(r, base), path, p);
    case SW_CFG_KEY_NUMBER:
    case SW_CFG_KEY_UINT: check_range(r, data, path, p); break;
    case SW_CFG_KEY_STRING: check_string(r, *(char **)data, path, p); break;
    case SW_CFG_KEY_ENUM: {
        int v = sw__cfg_get_enum(r, data);
        if (strcmp(sw__cfg_enum_name(r, v), "?") == 0)
            sw__cfg_problem(p, path, "unknown value %d", v);
        break;
    }
    default: break;
    }
    return false;
}

/* ---- Rules between keys ----------------------------------------------------------------- */

/* Whether the table's check of `path` passed, so a rule building on it may run. */
static bool ok(const sw__cfg_problems_t *p, const char *path)
{
    return !sw__cfg_problem_has_path(p, path);
}

/* A distribution's kind-specific rules; its values' ranges are the table's. */
static void check_dist(sw__cfg_problems_t *p, const char *path, const sw_cfg_dist_t *d)
{
    char k[SW__CFG_PATH_MAX + 8];
    switch (d->dist) {
    case SW_DIST_UNIFORM:
        if (!(d->max >= d->min))
            sw__cfg_problem(p, P(k, "%s.max", path), "must be >= min (%g)", d->min);
        break;
    case SW_DIST_EXPONENTIAL:
    case SW_DIST_LOGNORMAL:
        if (!(d->mean > 0))
            sw__cfg_problem(p, P(k, "%s.mean", path), "must be > 0");
        break;
    default: break;
    }
    if (d->dist == SW_DIST_LOGNORMAL && !(d->cv > 0) && ok(p, P(k, "%s.cv", path)))
        sw__cfg_problem(p, k, "lognormal needs cv > 0 (for no variation use dist: constant)");
}

static void check_batches(sw__cfg_problems_t *p, const char *prefix,
                          const sw_cfg_instance_type_t *t)
{
    char k[SW__CFG_PATH_MAX];
    if (!ok(p, P(k, "%s.max_batch", prefix)) || !ok(p, P(k, "%s.batch_latency_ms", prefix)))
        return;
    if (t->batch_latency_ms_count != t->max_batch)
        sw__cfg_problem(p, prefix,
                        "batch_latency_ms has %u entries but max_batch is %u: give T_b for "
                        "every b = 1..max_batch",
                        t->batch_latency_ms_count, t->max_batch);
    const double *tb = t->batch_latency_ms;
    for (unsigned j = 1; j < t->batch_latency_ms_count; j++) {
        if (tb[j] < tb[j - 1] && ok(p, P(k, "%s.batch_latency_ms[%u]", prefix, j)))
            sw__cfg_problem(p, k,
                            "a batch of %u takes %g ms, less than a batch of %u (%g ms): "
                            "T_b must not decrease as b grows",
                            j + 1, tb[j], j, tb[j - 1]);
    }
}

/* A type whose batch of 1 takes the whole SLO can never meet it. Planners skip such a
 * type (a sweep over SLOs keeps one list of types), so it is an error only when no type
 * can meet the SLO and the policy needs VMs; each such type is then named. */
static void check_some_type_meets_slo(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    double slo_ms = cfg->slo.latency_ms;
    if (cfg->policy.name == SW_POLICY_FAAS_ONLY || !ok(p, "slo.latency_ms"))
        return;
    for (unsigned i = 0; i < cfg->instance_types_count; i++) {
        const sw_cfg_instance_type_t *t = &cfg->instance_types[i];
        if (!t->batch_latency_ms_count || t->batch_latency_ms[0] < slo_ms)
            return;
    }
    char k[SW__CFG_PATH_MAX];
    for (unsigned i = 0; i < cfg->instance_types_count; i++) {
        double tb = cfg->instance_types[i].batch_latency_ms[0];
        if (ok(p, P(k, "instance_types[%u].batch_latency_ms[0]", i)))
            sw__cfg_problem(p, k,
                            "a batch of 1 takes %g ms, %s slo.latency_ms %g: this type can never "
                            "meet the SLO",
                            tb, tb > slo_ms ? "longer than" : "as long as", slo_ms);
    }
}

/* A fixed pool (static) or a single scaled type (reactive) that can never meet the SLO
 * would miss every request: the policy names it, so it is refused there. */
static void check_policy_type_meets_slo(const sw_cfg_t *cfg, sw__cfg_problems_t *p,
                                        const char *path, const char *name)
{
    int t = name ? sw_cfg_find_type(cfg, name) : 0;
    if (t < 0 || (unsigned)t >= cfg->instance_types_count || !ok(p, path))
        return;
    const sw_cfg_instance_type_t *it = &cfg->instance_types[t];
    if (it->batch_latency_ms_count && it->batch_latency_ms[0] >= cfg->slo.latency_ms)
        sw__cfg_problem(p, path,
                        "%s takes %g ms for a batch of 1, not less than slo.latency_ms %g: "
                        "this pool would miss every request",
                        it->name, it->batch_latency_ms[0], cfg->slo.latency_ms);
}

size_t sw_cfg_notes(const sw_cfg_t *cfg, char *buf, size_t len)
{
    size_t n = 0, used = 0;
    if (len)
        buf[0] = '\0';
    for (unsigned i = 0; i < cfg->instance_types_count; i++) {
        const sw_cfg_instance_type_t *t = &cfg->instance_types[i];
        if (!t->batch_latency_ms_count || t->batch_latency_ms[0] < cfg->slo.latency_ms)
            continue;
        n++;
        int w = snprintf(buf + used, len > used ? len - used : 0,
                         "%snote: instance type %s cannot meet slo.latency_ms %g (a batch of 1 "
                         "takes %g ms): no policy will launch it",
                         n > 1 ? "\n" : "", t->name, cfg->slo.latency_ms, t->batch_latency_ms[0]);
        used = SW_MIN(len, used + (size_t)SW_MAX(w, 0));
    }
    return n;
}

static void check_instance_types(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    char k[SW__CFG_PATH_MAX];
    for (unsigned i = 0; i < cfg->instance_types_count && !p->full; i++) {
        const sw_cfg_instance_type_t *t = &cfg->instance_types[i];
        char pre[64];
        P(pre, "instance_types[%u]", i);
        for (unsigned j = 0; t->name && j < i; j++) {
            if (cfg->instance_types[j].name && !strcmp(t->name, cfg->instance_types[j].name)) {
                sw__cfg_problem(p, P(k, "%s.name", pre),
                                "duplicate name \"%s\" (also instance_types[%u])", t->name, j);
                break;
            }
        }
        check_dist(p, P(k, "%s.boot_s", pre), &t->boot_s);
        check_batches(p, pre, t);
        check_dist(p, P(k, "%s.service_variation", pre), &t->service_variation);
        if (t->provider == SW_PROVIDER_COMMAND && (!t->launch || !t->terminate))
            sw__cfg_problem(p, P(k, "%s.%s", pre, t->launch ? "terminate" : "launch"),
                            "provider command needs both launch and terminate commands");
    }
}

static void check_faas_section(const sw_cfg_faas_t *f, sw__cfg_problems_t *p)
{
    check_dist(p, "faas.warm_latency_ms", &f->warm_latency_ms);
    check_dist(p, "faas.cold_start_ms", &f->cold_start_ms);
    if (f->enabled && f->concurrency_limit < 1)
        sw__cfg_problem(p, "faas.concurrency_limit", "must be >= 1 while faas.enabled is true");
    if (f->invoke.endpoint && strncmp(f->invoke.endpoint, "http://", 7) != 0 &&
        strncmp(f->invoke.endpoint, "https://", 8) != 0 && strcmp(f->invoke.endpoint, "local"))
        sw__cfg_problem(p, "faas.invoke.endpoint",
                        "must start with http:// or https://, or be local (serve starts "
                        "faas-local) or null (AWS's endpoint)");
    const sw_cfg_faas_local_t *l = &f->local;
    for (unsigned i = 0; i < l->functions_count; i++) {
        for (unsigned j = 0; l->functions[i].name && j < i; j++) {
            if (l->functions[j].name && !strcmp(l->functions[i].name, l->functions[j].name)) {
                char k[64];
                sw__cfg_problem(p, P(k, "faas.local.functions[%u].name", i),
                                "duplicate name \"%s\" (also faas.local.functions[%u])",
                                l->functions[i].name, j);
                break;
            }
        }
    }
}

/* A pool or reactive entry names an instance type. */
static void check_type_ref(const sw_cfg_t *cfg, sw__cfg_problems_t *p, const char *path,
                           const char *name)
{
    if (!ok(p, path))
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

    if (pol->name == SW_POLICY_FAAS_ONLY && !cfg->faas.enabled)
        sw__cfg_problem(p, "policy.name",
                        "faas-only sends every request to FaaS, but faas.enabled is false");
    /* Each entry is within the limit; their sum must be too. */
    unsigned long long total = 0;
    for (unsigned i = 0; i < pol->static_pool.pool_count; i++) {
        const sw_cfg_pool_entry_t *e = &pol->static_pool.pool[i];
        check_type_ref(cfg, p, P(k, "policy.static.pool[%u].type", i), e->type);
        if (pol->name == SW_POLICY_STATIC)
            check_policy_type_meets_slo(cfg, p, k, e->type);
        total += e->count;
    }
    if (total > SW_CFG_MAX_INSTANCES)
        sw__cfg_problem(p, "policy.static.pool", "holds %llu instances, at most %u are allowed",
                        total, SW_CFG_MAX_INSTANCES);

    const sw_cfg_reactive_t *r = &pol->reactive;
    check_type_ref(cfg, p, "policy.reactive.instance_type", r->instance_type);
    if (pol->name == SW_POLICY_REACTIVE)
        check_policy_type_meets_slo(cfg, p, "policy.reactive.instance_type", r->instance_type);
    if (r->max_instances != 0 && r->max_instances < r->min_instances)
        sw__cfg_problem(p, "policy.reactive.max_instances",
                        "must be 0 (no limit) or >= min_instances (%u)", r->min_instances);
}

/* The forecasters predictor/ implements. Kept here rather than asked of predictor/,
 * which depends on config/ and not the other way round; keep it in step with
 * sw_pred_known_names() (tests/serving checks that every name there loads). */
static const char *const predictor_names[] = {
    "recent-max", "last", "seasonal-naive", "ewma", "holt-winters", "ar", "lstm",
};

static void check_predictor_name(sw__cfg_problems_t *p, const char *name)
{
    if (!ok(p, "predictor.name"))
        return;
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

/* The seasonal forecasters hold one value per interval of a season, so its length in
 * intervals is bounded as well as its length in seconds. */
#define MAX_SEASON_INTERVALS 1000000.0

static void check_season(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    const sw_cfg_predictor_t *pr = &cfg->predictor;
    double iv = cfg->policy.interval_s;
    if (!ok(p, "predictor.season_s") || !ok(p, "policy.interval_s"))
        return;
    /* Seasonal models index the series by season / interval, so a season that is not a
     * whole number of intervals would silently be rounded to another length. */
    double k = pr->season_s / iv;
    if (!(k >= 1) || fabs(k - round(k)) > 1e-9 * k)
        sw__cfg_problem(p, "predictor.season_s", "must be a multiple of policy.interval_s (%g)",
                        iv);
    else if (k > MAX_SEASON_INTERVALS)
        sw__cfg_problem(p, "predictor.season_s",
                        "is %g intervals of policy.interval_s (%g), more than the %g allowed",
                        round(k), iv, MAX_SEASON_INTERVALS);
    else if (pr->name && strcmp(pr->name, "holt-winters") == 0 && k < 2)
        sw__cfg_problem(p, "predictor.season_s",
                        "holt-winters needs a season of at least 2 intervals of "
                        "policy.interval_s (%g)",
                        iv);
}

/* A listener's address is checked with the policy, so that check-config, --set and a
 * SIGHUP refuse a bad one by its key and line, rather than serve or faas-local failing
 * when it binds. Each is split by the parser its listener uses: port 0 asks the kernel
 * for a free port (the tests' way); serve.listen alone also takes ":PORT" for every
 * address, as the HTTP frontend does. */
static void check_listen_address(sw__cfg_problems_t *p, const char *key, const char *addr,
                                 bool colon_port_form)
{
    char host[257];
    uint16_t port;
    if (!addr)
        return; /* a missing key is reported by the key table's rules */
    if ((colon_port_form ? sw_net_split_listen(addr, host, sizeof host, &port)
                         : sw_net_split_host_port(addr, host, sizeof host, &port, true)) < 0)
        sw__cfg_problem(p, key,
                        "\"%.64s%s\" is not HOST:PORT with a port in [0, 65535] (0: any free "
                        "port), e.g. 127.0.0.1:8080 or [::1]:8080%s",
                        addr, strlen(addr) > 64 ? "..." : "",
                        colon_port_form ? ", or :PORT for every address" : "");
}

void sw__cfg_check(const sw_cfg_t *cfg, sw__cfg_problems_t *p)
{
    /* The walk only reads; sw__cfg_walk takes the config as writable for finalize. */
    sw__cfg_walk((sw_cfg_t *)cfg, check_row, p);
    if (cfg->instance_types_count > SW_CFG_MAX_INSTANCE_TYPES)
        return; /* reported; a list that long is not worth checking entry by entry */
    check_instance_types(cfg, p);
    check_some_type_meets_slo(cfg, p);
    check_faas_section(&cfg->faas, p);
    check_policy(cfg, p);
    check_predictor_name(p, cfg->predictor.name);
    check_season(cfg, p);
    check_listen_address(p, "serve.listen", cfg->serve.listen, true);
    check_listen_address(p, "serve.worker_listen", cfg->serve.worker_listen, false);
    check_listen_address(p, "faas.local.listen", cfg->faas.local.listen, false);
}
