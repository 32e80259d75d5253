/* Reading summary.json back for the tools. Each field is described once in a table (its
 * dotted path, what it must be, and where it goes in sw_run_summary_t), so the check and
 * the unpacking cannot drift apart, and report and compare, which both read through
 * here, refuse exactly the same files with the same words. */
#include "runs/summary.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/file.h"

/* What a field must be, and the C type it is stored as: F_COUNT a uint64_t, F_BOOL a
 * bool, F_STRING a char * (owned), the others a double. */
typedef enum { F_COUNT, F_NONNEG, F_POSITIVE, F_UNIT, F_BOOL, F_STRING } field_kind_t;

typedef struct field {
    const char *key; /* dotted path below the object read */
    field_kind_t kind;
    bool optional;
    size_t off; /* offset of the value in the struct filled */
} field_t;

/* One table entry per struct filled; clang-format would spread each over four lines. */
/* clang-format off */
#define TOP(key, kind, opt, member) {key, kind, opt, offsetof(sw_run_summary_t, member)}
#define SIM(key, member) {key, F_NONNEG, true, offsetof(sw_run_sim_t, member)}
#define SERVE(key, kind, member) {key, kind, false, offsetof(sw_run_serve_t, member)}
#define BATCH(key, kind, member) {key, kind, false, offsetof(sw_run_batch_time_t, member)}
/* clang-format on */

/* What report and compare read. The names and slo_met may be absent (the report shows
 * "?"; slo_met follows the writer's rule), but not of another type. */
static const field_t summary_fields[] = {
    TOP("policy", F_STRING, true, policy),
    TOP("trace", F_STRING, true, trace),
    TOP("slo_met", F_BOOL, true, slo_met),
    TOP("requests", F_COUNT, false, requests),
    TOP("served_vm", F_COUNT, true, served_vm),
    TOP("served_faas", F_COUNT, false, served_faas),
    TOP("rejected", F_COUNT, true, rejected),
    TOP("failed", F_COUNT, true, failed),
    TOP("slo_ms", F_POSITIVE, false, slo_ms),
    TOP("slo_target", F_UNIT, false, slo_target),
    TOP("slo_attainment", F_UNIT, false, slo_attainment),
    TOP("latency_ms.p50", F_NONNEG, false, latency_p50_ms),
    TOP("latency_ms.p99", F_NONNEG, false, latency_p99_ms),
    TOP("latency_ms.p999", F_NONNEG, false, latency_p999_ms),
    TOP("cost_usd.total", F_NONNEG, false, cost_usd),
    TOP("cost_usd.vm", F_NONNEG, false, vm_cost_usd),
    TOP("cost_usd.faas", F_NONNEG, false, faas_cost_usd),
    TOP("cost_usd.per_million_requests", F_NONNEG, false, cost_per_million_usd),
    TOP("vm.billed_seconds", F_NONNEG, false, vm_billed_s),
    TOP("vm.launches_per_hour", F_NONNEG, true, vm_launches_per_hour),
};

static const field_t sim_fields[] = {SIM("wall_s", wall_s), SIM("simulated_s", simulated_s)};

static const field_t serve_fields[] = {
    SERVE("wall_s", F_NONNEG, wall_s),
    SERVE("calls.accepted", F_COUNT, calls_accepted),
    SERVE("calls.ok", F_COUNT, calls_ok),
    SERVE("calls.failed", F_COUNT, calls_failed),
    SERVE("calls.timed_out", F_COUNT, calls_timed_out),
    SERVE("calls.abandoned", F_COUNT, calls_abandoned),
    SERVE("call_latency_ms.p50", F_NONNEG, call_p50_ms),
    SERVE("call_latency_ms.p99", F_NONNEG, call_p99_ms),
};

static const field_t batch_fields[] = {
    BATCH("batches", F_COUNT, batches),
    BATCH("observed_ms", F_NONNEG, observed_ms),
    BATCH("planned_ms", F_NONNEG, planned_ms),
    BATCH("compute_ms", F_NONNEG, compute_ms),
};

static const char writers[] = "spillway simulate and serve write it";
static const char serve_writes[] = "spillway serve writes it";

/* The member named by a dotted path ("cost_usd.total"), or NULL. Borrowed. */
static const json_t *get_path(const json_t *obj, const char *dotted)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", dotted);
    char *key = buf;
    for (char *dot; obj && (dot = strchr(key, '.')); key = dot + 1) {
        *dot = '\0';
        obj = json_object_get(obj, key);
    }
    return obj ? json_object_get(obj, key) : NULL;
}

/* Why v is not a field of this kind, or NULL. Counts stop at 2^53, where a double stops
 * holding every whole number. */
static const char *field_problem(const json_t *v, field_kind_t kind)
{
    if (kind == F_STRING)
        return json_is_string(v) ? NULL : "must be a string";
    if (kind == F_BOOL)
        return json_is_boolean(v) ? NULL : "must be true or false";
    if (!json_is_number(v))
        return "must be a number";
    double x = json_number_value(v);
    if (!isfinite(x))
        return "must be a finite number";
    switch (kind) {
    case F_COUNT:
        return x >= 0 && x <= 0x1p53 && x == floor(x) ? NULL : "must be a whole number >= 0";
    case F_POSITIVE: return x > 0 ? NULL : "must be > 0";
    case F_UNIT: return x >= 0 && x <= 1 ? NULL : "must be in [0, 1]";
    default: return x >= 0 ? NULL : "must be >= 0";
    }
}

/* "PATH: PREFIXKEY: VALUE why", or "PATH: PREFIXKEY: missing (WRITER)" when v is NULL. */
static int bad_field(const char *path, const char *prefix, const char *key, const json_t *v,
                     const char *why, char *errbuf, size_t errlen)
{
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (text)
        snprintf(errbuf, errlen, "%s: %s%s: %.40s %s", path, prefix, key, text, why);
    else
        snprintf(errbuf, errlen, "%s: %s%s: missing (%s)", path, prefix, key, why);
    free(text); /* jansson allocates with libc malloc */
    return SW_EPARSE;
}

static void store(void *base, const field_t *f, const json_t *v)
{
    char *at = (char *)base + f->off;
    switch (f->kind) {
    case F_COUNT: *(uint64_t *)at = (uint64_t)json_number_value(v); break;
    case F_BOOL: *(bool *)at = json_is_true(v); break;
    case F_STRING: *(char **)at = sw_strdup(json_string_value(v)); break;
    default: *(double *)at = json_number_value(v); break;
    }
}

/* Checks the fields of table t below obj and stores each into base; an absent optional
 * field leaves its value as it was. Messages name the field as PREFIXKEY. */
static int read_fields(const json_t *obj, const field_t *t, size_t n, void *base,
                       const char *prefix, const char *writer, const char *path, char *errbuf,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const json_t *v = get_path(obj, t[i].key);
        if (!v && t[i].optional)
            continue;
        if (!v)
            return bad_field(path, prefix, t[i].key, NULL, writer, errbuf, errlen);
        const char *why = field_problem(v, t[i].kind);
        if (why)
            return bad_field(path, prefix, t[i].key, v, why, errbuf, errlen);
        store(base, &t[i], v);
    }
    return 0;
}

/* cost_usd.by_type: {type: cost >= 0}. */
static int read_by_type(sw_run_summary_t *s, const json_t *root, const char *path, char *errbuf,
                        size_t errlen)
{
    const json_t *by_type = get_path(root, "cost_usd.by_type");
    if (!by_type)
        return 0;
    if (!json_is_object(by_type))
        return bad_field(path, "", "cost_usd.by_type", by_type, "must be an object", errbuf,
                         errlen);
    s->cost_by_type = sw_calloc(json_object_size(by_type) + 1, sizeof(*s->cost_by_type));
    const char *type;
    json_t *v;
    json_object_foreach((json_t *)by_type, type, v)
    {
        if (field_problem(v, F_NONNEG))
            return bad_field(path, "", "cost_usd.by_type", v, "must hold costs >= 0", errbuf,
                             errlen);
        s->cost_by_type[s->n_cost_by_type++] =
            (sw_run_type_cost_t){sw_strdup(type), json_number_value(v)};
    }
    return 0;
}

/* latency_cdf_ms: [[quantile in [0, 1], ms >= 0], ...]. */
static int read_cdf(sw_run_summary_t *s, const json_t *root, const char *path, char *errbuf,
                    size_t errlen)
{
    const json_t *cdf = json_object_get(root, "latency_cdf_ms");
    if (!cdf)
        return 0;
    if (!json_is_array(cdf))
        return bad_field(path, "", "latency_cdf_ms", cdf, "must be an array", errbuf, errlen);
    s->cdf = sw_calloc(json_array_size(cdf) + 1, sizeof(*s->cdf));
    for (size_t i = 0; i < json_array_size(cdf); i++) {
        const json_t *v = json_array_get(cdf, i);
        const json_t *q = json_array_get(v, 0), *ms = json_array_get(v, 1);
        if (json_array_size(v) != 2 || field_problem(q, F_UNIT) || field_problem(ms, F_NONNEG))
            return bad_field(path, "", "latency_cdf_ms", v,
                             "must be a [quantile in [0, 1], ms >= 0] pair", errbuf, errlen);
        s->cdf[s->n_cdf++] = (sw_run_cdf_point_t){json_number_value(q), json_number_value(ms)};
    }
    return 0;
}

/* serve.batch_time_ms: {type: {batches, observed_ms, planned_ms, compute_ms}}. */
static int read_batch_times(sw_run_serve_t *sv, const json_t *serve, const char *path, char *errbuf,
                            size_t errlen)
{
    const json_t *bt = json_object_get(serve, "batch_time_ms");
    if (!bt)
        return bad_field(path, "serve.", "batch_time_ms", NULL, serve_writes, errbuf, errlen);
    if (!json_is_object(bt))
        return bad_field(path, "serve.", "batch_time_ms", bt, "must be an object", errbuf, errlen);
    sv->batch_time = sw_calloc(json_object_size(bt) + 1, sizeof(*sv->batch_time));
    const char *type;
    json_t *v;
    json_object_foreach((json_t *)bt, type, v)
    {
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "serve.batch_time_ms.%.64s", type);
        if (!json_is_object(v))
            return bad_field(path, prefix, "", v, "must be an object", errbuf, errlen);
        size_t len = strlen(prefix);
        snprintf(prefix + len, sizeof(prefix) - len, ".");
        sw_run_batch_time_t *b = &sv->batch_time[sv->n_batch_time++];
        b->type = sw_strdup(type);
        int rc = read_fields(v, batch_fields, SW_ARRAY_LEN(batch_fields), b, prefix, serve_writes,
                             path, errbuf, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Exactly one driver section: a run is simulated or live, and the tools label it so. */
static int read_section(sw_run_summary_t *s, const json_t *root, const char *path, char *errbuf,
                        size_t errlen)
{
    const json_t *sim = json_object_get(root, "sim"), *serve = json_object_get(root, "serve");
    if (sim && serve) {
        snprintf(errbuf, errlen,
                 "%s: sim, serve: both sections, but a run is either simulated or live", path);
        return SW_EPARSE;
    }
    if (!sim && !serve) {
        snprintf(errbuf, errlen,
                 "%s: sim: missing, and no serve section either: spillway simulate writes "
                 "a \"sim\" section, spillway serve a \"serve\" section",
                 path);
        return SW_EPARSE;
    }
    const json_t *sec = sim ? sim : serve;
    if (!json_is_object(sec))
        return bad_field(path, "", sim ? "sim" : "serve", sec, "must be an object", errbuf, errlen);
    s->source = sim ? SW_RUN_SIMULATED : SW_RUN_LIVE;
    if (sim)
        return read_fields(sim, sim_fields, SW_ARRAY_LEN(sim_fields), &s->sim, "sim.", writers,
                           path, errbuf, errlen);
    int rc = read_fields(serve, serve_fields, SW_ARRAY_LEN(serve_fields), &s->serve, "serve.",
                         serve_writes, path, errbuf, errlen);
    return rc < 0 ? rc : read_batch_times(&s->serve, serve, path, errbuf, errlen);
}

static int read_summary(sw_run_summary_t *s, const json_t *root, const char *path, char *errbuf,
                        size_t errlen)
{
    if (!json_is_object(root)) {
        snprintf(errbuf, errlen, "%s: not a JSON object, so not a summary.json", path);
        return SW_EPARSE;
    }
    s->sim = (sw_run_sim_t){NAN, NAN};
    int rc = read_fields(root, summary_fields, SW_ARRAY_LEN(summary_fields), s, "", writers, path,
                         errbuf, errlen);
    if (rc < 0)
        return rc;
    if (s->served_faas > s->requests) {
        snprintf(errbuf, errlen, "%s: served_faas: %" PRIu64 " is more than requests %" PRIu64,
                 path, s->served_faas, s->requests);
        return SW_EPARSE;
    }
    if (!json_object_get(root, "slo_met"))
        s->slo_met = s->requests > 0 && s->slo_attainment >= s->slo_target;
    if ((rc = read_by_type(s, root, path, errbuf, errlen)) < 0 ||
        (rc = read_cdf(s, root, path, errbuf, errlen)) < 0)
        return rc;
    return read_section(s, root, path, errbuf, errlen);
}

int sw_run_summary_load(sw_run_summary_t *out, const char *path, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->vm_launches_per_hour = NAN; /* absent in run directories older than the field */
    char *data;
    size_t len;
    int rc = sw_file_read_all(path, SW_FILE_MAX_SUMMARY_BYTES, "summary.json", &data, &len, errbuf,
                              errlen);
    if (rc < 0)
        return rc;
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    sw_free(data);
    if (!root) {
        snprintf(errbuf, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return SW_EPARSE;
    }
    rc = read_summary(out, root, path, errbuf, errlen);
    json_decref(root);
    if (rc < 0)
        sw_run_summary_deinit(out);
    return rc;
}

void sw_run_summary_deinit(sw_run_summary_t *s)
{
    sw_free(s->policy);
    sw_free(s->trace);
    for (size_t i = 0; i < s->n_cost_by_type; i++)
        sw_free(s->cost_by_type[i].type);
    sw_free(s->cost_by_type);
    sw_free(s->cdf);
    for (size_t i = 0; i < s->serve.n_batch_time; i++)
        sw_free(s->serve.batch_time[i].type);
    sw_free(s->serve.batch_time);
    memset(s, 0, sizeof(*s));
}

const char *sw_run_source_name(sw_run_source_t source)
{
    return source == SW_RUN_LIVE ? "live" : "simulated";
}

double sw_run_summary_spill_share(const sw_run_summary_t *s)
{
    return s->requests > 0 ? (double)s->served_faas / (double)s->requests : 0.0;
}
