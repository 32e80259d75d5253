/* /metrics in Prometheus' text format, the observed batch times against the profile, and
 * the "serve" section of summary.json. Names follow Triton's where the meaning matches
 * (nv_inference_*, labelled model and version), so dashboards built for Triton read a
 * Spillway frontend; what only Spillway knows (cost, spill, the pool by state, the
 * forecast) is spillway_*. Everything is read from counters kept on the loop thread. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include <event2/buffer.h>

#include "serving/live_internal.h"

#define SW_LOG_MODULE "serve"
#include "common/log.h"

/* Upper bounds of the call latency histogram, seconds. */
static const double latency_le_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5,
                                      0.75,  1.0,  2.5,   5.0,  10.0};

void sw__live_record_latency(sw_srv_live_t *l, sw_time_t latency)
{
    double s = sw_time_to_s(latency);
    l->latency_sum_s += s;
    for (size_t i = 0; i < SW_ARRAY_LEN(latency_le_s); i++)
        if (s <= latency_le_s[i])
            l->latency_buckets[i]++;
    l->latency_buckets[SW_ARRAY_LEN(latency_le_s)]++; /* +Inf */
}

/* Planned service time of a batch of n on type t, ms: the profile times the mean of the
 * service variation, as the core and the simulator plan it. */
static double planned_ms(const sw_cfg_t *cfg, int t, uint32_t n)
{
    const sw_cfg_instance_type_t *it = &cfg->instance_types[t];
    return it->batch_latency_ms[n - 1] * sw_cfg_dist_mean(&it->service_variation);
}

void sw__live_record_batch(sw_srv_live_t *l, const live_worker_t *w, double compute_ms,
                           double elapsed_ms)
{
    live_type_stats_t *ts = &l->type_stats[w->type];
    double plan = planned_ms(l->cfg, w->type, w->batch_n);
    ts->batches++;
    ts->observed_ms_sum += elapsed_ms;
    ts->planned_ms_sum += plan;
    ts->window_observed_ms += elapsed_ms;
    ts->window_planned_ms += plan;
    ts->window_batches++;
    if (isfinite(compute_ms) && compute_ms >= 0) {
        sw_hist_add(&ts->compute_us, (int64_t)(compute_ms * 1e3));
        sw_hist_add(&l->compute_us, (int64_t)(compute_ms * 1e3));
    }
}

/* Warns once when a type's batches take more than 25 % longer or shorter than its
 * profile over a window of at least 20 batches, and once when they are back. A drifting
 * profile makes the core admit and spill by wrong numbers, and the simulator price a
 * system that is not the one running. */
void sw__live_check_drift(sw_srv_live_t *l)
{
    for (unsigned t = 0; t < l->cfg->instance_types_count; t++) {
        live_type_stats_t *ts = &l->type_stats[t];
        if (ts->window_batches < 20)
            continue;
        double ratio = ts->window_observed_ms / ts->window_planned_ms;
        bool drift = ratio > 1.25 || ratio < 0.75;
        const char *name = l->cfg->instance_types[t].name;
        if (drift && !ts->drift_warned)
            SW_LOG_WARN("batch time drift type=%s observed_ms=%.2f planned_ms=%.2f ratio=%.2f "
                        "batches=%" PRIu64 "; the policy's batch_latency_ms is not what this "
                        "machine does: run 'spillway profile' on it and update the policy",
                        name, ts->window_observed_ms / (double)ts->window_batches,
                        ts->window_planned_ms / (double)ts->window_batches, ratio,
                        ts->window_batches);
        else if (!drift && ts->drift_warned)
            SW_LOG_INFO("batch time back within 25 %% of the profile type=%s ratio=%.2f", name,
                        ratio);
        ts->drift_warned = drift;
        ts->window_batches = 0;
        ts->window_observed_ms = ts->window_planned_ms = 0;
    }
}

static void put(struct evbuffer *out, const char *fmt, ...) SW_PRINTF(2, 3);
static void put(struct evbuffer *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
}

static void head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void triton_metrics(sw_srv_live_t *l, struct evbuffer *out)
{
    char mv[256];
    snprintf(mv, sizeof(mv), "model=\"%s\",version=\"%" PRIu32 "\"", l->o.model.name,
             l->o.model.version);
    head(out, "nv_inference_request_success", "counter", "Inference calls answered 200");
    put(out, "nv_inference_request_success{%s} %" PRIu64 "\n", mv, l->c.calls_ok);
    head(out, "nv_inference_request_failure", "counter",
         "Inference calls accepted and answered with an error");
    put(out, "nv_inference_request_failure{%s} %" PRIu64 "\n", mv,
        l->c.calls_failed + l->c.calls_timed_out);
    head(out, "nv_inference_count", "counter", "Rows inferred (a call of N rows counts N)");
    put(out, "nv_inference_count{%s} %" PRIu64 "\n", mv, l->c.rows_ok);
    head(out, "nv_inference_exec_count", "counter",
         "Model executions: batches run by workers and function invocations");
    put(out, "nv_inference_exec_count{%s} %" PRIu64 "\n", mv, l->c.exec_batches + l->c.faas_calls);
    head(out, "nv_inference_request_duration_us", "counter",
         "Cumulative end-to-end time of calls answered 200, microseconds");
    put(out, "nv_inference_request_duration_us{%s} %" PRIu64 "\n", mv, l->latency_us.sum_us);
    head(out, "nv_inference_queue_duration_us", "counter",
         "Cumulative time rows waited before their batch was sent, microseconds");
    put(out, "nv_inference_queue_duration_us{%s} %" PRIu64 "\n", mv, l->queue_us.sum_us);
    head(out, "nv_inference_compute_infer_duration_us", "counter",
         "Cumulative compute time of batches as workers report it, microseconds");
    put(out, "nv_inference_compute_infer_duration_us{%s} %" PRIu64 "\n", mv,
        l->compute_us.sum_us);
    head(out, "nv_inference_pending_request_count", "gauge",
         "Inference calls accepted and not yet answered");
    put(out, "nv_inference_pending_request_count{%s} %" PRIu64 "\n", mv, l->calls_open);
}

static void cost_metrics(sw_srv_live_t *l, struct evbuffer *out, const sw_sched_summary_t *s)
{
    head(out, "spillway_cost_usd", "gauge",
         "Cost of the run so far by resource, as if every VM stopped now, USD");
    for (unsigned t = 0; t < l->cfg->instance_types_count; t++)
        put(out, "spillway_cost_usd{resource=\"vm\",type=\"%s\"} %.9g\n",
            l->cfg->instance_types[t].name, s->cost.vm_by_type_usd[t]);
    put(out, "spillway_cost_usd{resource=\"faas\",type=\"requests\"} %.9g\n",
        s->cost.faas_request_usd);
    put(out, "spillway_cost_usd{resource=\"faas\",type=\"compute\"} %.9g\n",
        s->cost.faas_compute_usd);
    head(out, "spillway_requests_total", "counter", "Rows answered by the core, by outcome");
    put(out, "spillway_requests_total{outcome=\"met\"} %" PRIu64 "\n", s->met_slo);
    put(out, "spillway_requests_total{outcome=\"missed\"} %" PRIu64 "\n",
        s->served_vm + s->served_faas - s->met_slo);
    put(out, "spillway_requests_total{outcome=\"rejected\"} %" PRIu64 "\n", s->rejected);
    put(out, "spillway_requests_total{outcome=\"failed\"} %" PRIu64 "\n", s->failed);
    head(out, "spillway_decisions_total", "counter",
         "Scheduler decisions by action and reason (spills are invoke decisions)");
    for (int k = 0; k < SW_ACT__COUNT; k++)
        for (int r = 0; r < SW_REASON__COUNT; r++)
            if (l->act_counts[k][r])
                put(out, "spillway_decisions_total{action=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                    sw_action_name((sw_action_kind_t)k), sw_reason_name((sw_reason_t)r),
                    l->act_counts[k][r]);
    head(out, "spillway_function_invocations_total", "counter", "Function invocations");
    put(out, "spillway_function_invocations_total %" PRIu64 "\n", s->faas_invocations);
    head(out, "spillway_function_cold_starts_total", "counter", "Function cold starts");
    put(out, "spillway_function_cold_starts_total %" PRIu64 "\n", s->cold_starts);
    head(out, "spillway_function_throttles_total", "counter",
         "Function invocations throttled (429, or refused by the client at once)");
    put(out, "spillway_function_throttles_total %" PRIu64 "\n", s->throttled);
    head(out, "spillway_function_errors_total", "counter", "Function invocations that failed");
    put(out, "spillway_function_errors_total %" PRIu64 "\n", s->faas_errors);
}

static void pool_metrics(sw_srv_live_t *l, struct evbuffer *out)
{
    static const char *const states[] = {"launching", "running", "stopping"};
    unsigned n_types = l->cfg->instance_types_count;
    head(out, "spillway_workers", "gauge", "Workers by instance type and state");
    for (unsigned t = 0; t < n_types; t++) {
        unsigned n[3] = {0, 0, 0};
        for (size_t i = 0; i < l->wk_cap; i++)
            if (l->wk[i] && l->wk[i]->type == (int)t)
                n[l->wk[i]->state]++;
        for (int s = 0; s < 3; s++)
            put(out, "spillway_workers{type=\"%s\",state=\"%s\"} %u\n",
                l->cfg->instance_types[t].name, states[s], n[s]);
    }
    head(out, "spillway_forecast_requests", "gauge",
         "The last closed interval's forecast of arrivals (point and upper quantile)");
    put(out, "spillway_forecast_requests{bound=\"point\"} %.9g\n", l->last_row.forecast);
    put(out, "spillway_forecast_requests{bound=\"upper\"} %.9g\n", l->last_row.forecast_upper);
    head(out, "spillway_planned_capacity_rps", "gauge",
         "Planned serving capacity of running and booting VMs at the last interval's end");
    put(out, "spillway_planned_capacity_rps %.9g\n", l->last_row.capacity_rps);
    head(out, "spillway_batch_time_seconds", "gauge",
         "Mean batch service time by type: observed (dispatch to result) and planned");
    for (unsigned t = 0; t < n_types; t++) {
        const live_type_stats_t *ts = &l->type_stats[t];
        double k = ts->batches ? 1e-3 / (double)ts->batches : 0.0;
        put(out, "spillway_batch_time_seconds{type=\"%s\",kind=\"observed\"} %.9g\n",
            l->cfg->instance_types[t].name, ts->observed_ms_sum * k);
        put(out, "spillway_batch_time_seconds{type=\"%s\",kind=\"planned\"} %.9g\n",
            l->cfg->instance_types[t].name, ts->planned_ms_sum * k);
    }
}

static void latency_histogram(sw_srv_live_t *l, struct evbuffer *out)
{
    head(out, "spillway_request_latency_seconds", "histogram",
         "End-to-end latency of inference calls answered 200");
    for (size_t i = 0; i < SW_ARRAY_LEN(latency_le_s); i++)
        put(out, "spillway_request_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
            latency_le_s[i], l->latency_buckets[i]);
    uint64_t n = l->latency_buckets[SW_ARRAY_LEN(latency_le_s)];
    put(out, "spillway_request_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", n);
    put(out, "spillway_request_latency_seconds_sum %.9g\n", l->latency_sum_s);
    put(out, "spillway_request_latency_seconds_count %" PRIu64 "\n", n);
}

static void frontend_counters(sw_srv_live_t *l, struct evbuffer *out)
{
#define SW__X(name, help)                                                                     \
    head(out, "spillway_" #name "_total", "counter", help);                                  \
    put(out, "spillway_" #name "_total %" PRIu64 "\n", l->c.name);
    SW_LIVE_COUNTERS(SW__X)
#undef SW__X
}

void sw__live_metrics(sw_srv_live_t *l, struct evbuffer *out)
{
    sw_sched_summary_t s;
    sw_sched_summary(l->sched, l->now, &s);
    triton_metrics(l, out);
    cost_metrics(l, out, &s);
    pool_metrics(l, out);
    latency_histogram(l, out);
    frontend_counters(l, out);
}

json_t *sw__live_summary_section(const sw_srv_live_t *l)
{
    json_t *types = json_object();
    for (unsigned t = 0; t < l->cfg->instance_types_count; t++) {
        const live_type_stats_t *ts = &l->type_stats[t];
        double k = ts->batches ? 1.0 / (double)ts->batches : 0.0;
        json_object_set_new(types, l->cfg->instance_types[t].name,
                            json_pack("{s:I,s:f,s:f,s:f}", "batches", (json_int_t)ts->batches,
                                      "observed_ms", ts->observed_ms_sum * k, "planned_ms",
                                      ts->planned_ms_sum * k, "compute_ms",
                                      sw_hist_mean_us(&ts->compute_us) / 1e3));
    }
    json_t *calls = json_pack(
        "{s:I,s:I,s:I,s:I,s:I}", "accepted", (json_int_t)l->c.calls_accepted, "ok",
        (json_int_t)l->c.calls_ok, "failed", (json_int_t)l->c.calls_failed, "timed_out",
        (json_int_t)l->c.calls_timed_out, "abandoned", (json_int_t)l->c.calls_abandoned);
    return json_pack("{s:f,s:o,s:{s:f,s:f},s:o}", "wall_s", sw_time_to_s(l->now), "calls", calls,
                     "call_latency_ms", "p50", sw_hist_quantile_us(&l->latency_us, 0.5) / 1e3,
                     "p99", sw_hist_quantile_us(&l->latency_us, 0.99) / 1e3, "batch_time_ms",
                     types);
}
