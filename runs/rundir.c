/* Writing the run's files: summary.json (jansson), timeline.csv (one row per policy
 * interval) and decisions.jsonl, for both drivers; runs/summary.c reads the summary back.
 * The decision log is hand-formatted: it is written once per action and must stay cheap
 * and byte-stable, and its records are flat. */
#include "runs/rundir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

int sw_decision_log_write(FILE *f, const sw_cfg_t *cfg, const sw_actions_t *acts)
{
    for (size_t i = 0; i < acts->n; i++) {
        const sw_action_t *a = &acts->v[i];
        fprintf(f, "{\"time_us\":%" PRId64 ",\"action\":\"%s\",\"reason\":\"%s\"", a->time,
                sw_action_name(a->kind), sw_reason_name(a->reason));
        switch (a->kind) {
        case SW_ACT_DISPATCH:
            fprintf(f, ",\"worker\":%" PRIu32 ",\"type\":\"%s\",\"batch\":%" PRIu64 ",\"reqs\":[",
                    a->worker_id, cfg->instance_types[a->type_idx].name, a->batch_id);
            for (uint32_t k = 0; k < a->n_reqs; k++)
                fprintf(f, k ? ",%" PRIu64 : "%" PRIu64, acts->req_ids[a->reqs_off + k]);
            fputs("]}\n", f);
            break;
        case SW_ACT_LAUNCH:
        case SW_ACT_TERMINATE:
            fprintf(f, ",\"worker\":%" PRIu32 ",\"type\":\"%s\"%s}\n", a->worker_id,
                    cfg->instance_types[a->type_idx].name,
                    a->kind == SW_ACT_LAUNCH && a->instant ? ",\"instant\":true" : "");
            break;
        case SW_ACT_INVOKE:
        case SW_ACT_REJECT:
        default:
            fprintf(f, ",\"req\":%" PRIu64 ",\"arrival_us\":%" PRId64 "}\n", a->req_id,
                    a->arrival);
            break;
        }
    }
    return ferror(f) ? -EIO : 0;
}

int sw_run_timeline_header(FILE *f, const sw_cfg_t *cfg)
{
    fputs("time_s,end_s,arrivals,forecast,forecast_upper,forecast_max,forecast_max_upper,"
          "capacity_rps",
          f);
    static const char *const states[] = {"running", "booting", "draining"};
    for (size_t s = 0; s < SW_ARRAY_LEN(states); s++)
        for (unsigned t = 0; t < cfg->instance_types_count; t++)
            fprintf(f, ",%s_%s", states[s], cfg->instance_types[t].name);
    fputs(",vm_launches,faas_invocations,cold_starts,throttled,served_vm,served_faas,rejected,"
          "slo_misses,latency_p50_ms,latency_p99_ms,cum_cost_usd,cum_vm_usd,cum_faas_usd\n",
          f);
    return ferror(f) ? -EIO : 0;
}

int sw_run_timeline_row(FILE *f, const sw_cfg_t *cfg, const sw_sched_interval_t *r)
{
    fprintf(f, "%.3f,%.3f,%" PRIu64 ",%.2f,%.2f,%.2f,%.2f,%.3f", sw_time_to_s(r->start),
            sw_time_to_s(r->end), r->arrivals, r->forecast, r->forecast_upper, r->forecast_max,
            r->forecast_max_upper, r->capacity_rps);
    const unsigned *by_state[] = {r->running_by_type, r->booting_by_type, r->draining_by_type};
    for (size_t s = 0; s < SW_ARRAY_LEN(by_state); s++)
        for (unsigned t = 0; t < cfg->instance_types_count; t++)
            fprintf(f, ",%u", by_state[s][t]);
    fprintf(f, ",%" PRIu64, r->launches); /* churn: VMs launched in the interval */
    fprintf(f,
            ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
            ",%.3f,%.3f,%.6f,%.6f,%.6f\n",
            r->faas_invocations, r->cold_starts, r->throttled, r->served_vm, r->served_faas,
            r->rejected, r->slo_misses, r->latency_p50_ms, r->latency_p99_ms, r->cum_cost_usd,
            r->cum_vm_usd, r->cum_faas_usd);
    return ferror(f) ? -EIO : 0;
}

json_t *sw_run_latency_json(const sw_hist_t *h)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "p50", sw_hist_quantile_us(h, 0.50) / 1e3,
                     "p95", sw_hist_quantile_us(h, 0.95) / 1e3, "p99",
                     sw_hist_quantile_us(h, 0.99) / 1e3, "p999",
                     sw_hist_quantile_us(h, 0.999) / 1e3, "max", (double)h->max_us / 1e3,
                     "mean", sw_hist_mean_us(h) / 1e3);
}

json_t *sw_run_latency_cdf_json(const sw_hist_t *h)
{
    json_t *a = json_array();
    static const double tail[] = {0.995, 0.999, 0.9999, 1.0};
    for (int i = 1; i <= 99 + (int)SW_ARRAY_LEN(tail); i++) {
        double q = i <= 99 ? i / 100.0 : tail[i - 100];
        json_array_append_new(a, json_pack("[f,f]", q, sw_hist_quantile_us(h, q) / 1e3));
    }
    return a;
}

double sw_run_cost_per_million(const sw_sched_summary_t *s)
{
    return s->requests ? s->cost.total_usd / (double)s->requests * 1e6 : 0.0;
}

static json_t *cost_json(const sw_cfg_t *cfg, const sw_sched_summary_t *s)
{
    json_t *by_type = json_object();
    for (unsigned t = 0; t < cfg->instance_types_count; t++)
        json_object_set_new(by_type, cfg->instance_types[t].name,
                            json_real(s->cost.vm_by_type_usd[t]));
    return json_pack("{s:f,s:f,s:f,s:o,s:f,s:f,s:f}", "total", s->cost.total_usd, "vm",
                     s->cost.vm_usd, "faas", s->cost.faas_usd, "by_type", by_type,
                     "faas_requests", s->cost.faas_request_usd, "faas_compute",
                     s->cost.faas_compute_usd, "per_million_requests", sw_run_cost_per_million(s));
}

json_t *sw_run_summary_json(const sw_cfg_t *cfg, const sw_sched_summary_t *s)
{
    json_t *root = json_object();
    json_object_set_new(root, "policy", json_string(s->policy));
    json_object_set_new(root, "seed", json_integer((json_int_t)cfg->seed));
    json_object_set_new(root, "trace", json_string(cfg->trace.path));
    json_object_set_new(root, "requests", json_integer((json_int_t)s->requests));
    json_object_set_new(root, "served_vm", json_integer((json_int_t)s->served_vm));
    json_object_set_new(root, "served_faas", json_integer((json_int_t)s->served_faas));
    json_object_set_new(root, "rejected", json_integer((json_int_t)s->rejected));
    json_object_set_new(root, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(root, "spilled", json_integer((json_int_t)s->spilled));
    json_object_set_new(root, "slo_ms", json_real(cfg->slo.latency_ms));
    json_object_set_new(root, "slo_target", json_real(cfg->slo.target));
    json_object_set_new(root, "slo_attainment", json_real(s->slo_attainment));
    /* A run without a request met no SLO: compare and report must not count it as met. */
    json_object_set_new(root, "slo_met",
                        json_boolean(s->requests > 0 && s->slo_attainment >= cfg->slo.target));
    json_object_set_new(root, "latency_ms", sw_run_latency_json(s->latency));
    json_object_set_new(root, "latency_cdf_ms", sw_run_latency_cdf_json(s->latency));
    json_object_set_new(root, "cost_usd", cost_json(cfg, s));
    json_object_set_new(root, "faas",
                        json_pack("{s:I,s:I,s:I,s:I,s:f}", "invocations",
                                  (json_int_t)s->faas_invocations, "cold_starts",
                                  (json_int_t)s->cold_starts, "throttled",
                                  (json_int_t)s->throttled, "errors",
                                  (json_int_t)s->faas_errors, "gb_s", s->cost.faas_gb_s));
    /* Churn: launches per hour of the run, which a policy pays in boots and minimums. */
    double per_hour = s->span_s > 0 ? (double)s->vm_launched * 3600.0 / s->span_s : 0.0;
    json_object_set_new(root, "vm",
                        json_pack("{s:I,s:I,s:I,s:I,s:f,s:I,s:f}", "launched",
                                  (json_int_t)s->vm_launched, "terminated",
                                  (json_int_t)s->vm_terminated, "lost", (json_int_t)s->vm_lost,
                                  "interrupted", (json_int_t)s->vm_interrupted,
                                  "billed_seconds", s->cost.vm_billed_s, "peak_running",
                                  (json_int_t)s->peak_running, "launches_per_hour", per_hour));
    return root;
}

int sw_run_write_json(const char *path, const json_t *root, char *errbuf, size_t errlen)
{
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        snprintf(errbuf, errlen, "%s: cannot write summary", path);
        return -EIO;
    }
    return 0;
}
