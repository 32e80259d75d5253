/* The one reader of a run's summary.json, for the tools that put runs side by side
 * (`spillway report`, `spillway compare`). Both drivers write the file through
 * sw_run_summary_json() (runs/rundir.h) and add their own section: "sim" from
 * `spillway simulate`, "serve" from `spillway serve`. The reader checks every field the
 * tools show (type, range, finiteness) and unpacks it into a typed value, so no tool
 * prints a number computed from nonsense and every tool refuses the same files with the
 * same message, "PATH: field: what is wrong". */
#ifndef SW_RUNS_SUMMARY_H
#define SW_RUNS_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Which driver wrote the run: the summary's "sim" or its "serve" section. */
typedef enum { SW_RUN_SIMULATED, SW_RUN_LIVE } sw_run_source_t;

typedef struct sw_run_type_cost {
    char *type; /* instance type name */
    double usd;
} sw_run_type_cost_t;

/* One point of the whole-run latency CDF: the share of requests answered within ms. */
typedef struct sw_run_cdf_point {
    double quantile; /* in [0, 1] */
    double ms;
} sw_run_cdf_point_t;

/* A live run's batches on one instance type: mean batch time observed at the frontend
 * against the profile's plan, and the workers' own compute time. */
typedef struct sw_run_batch_time {
    char *type;
    uint64_t batches;
    double observed_ms, planned_ms, compute_ms;
} sw_run_batch_time_t;

/* The "serve" section of a live run. */
typedef struct sw_run_serve {
    double wall_s;
    uint64_t calls_accepted, calls_ok, calls_failed, calls_timed_out, calls_abandoned;
    double call_p50_ms, call_p99_ms; /* latency of an HTTP call, end to end */
    sw_run_batch_time_t *batch_time; /* one per instance type, in file order */
    size_t n_batch_time;
} sw_run_serve_t;

/* The "sim" section of a simulated run. Every field is optional: NAN when absent. */
typedef struct sw_run_sim {
    double events, wall_s, simulated_s;
} sw_run_sim_t;

/* A summary.json, checked. Strings and arrays are owned (sw_run_summary_deinit). */
typedef struct sw_run_summary {
    char *policy, *trace; /* NULL when absent */
    sw_run_source_t source;
    uint64_t requests, served_vm, served_faas, rejected, failed; /* absent counts: 0 */
    double slo_ms, slo_target, slo_attainment;
    /* As written; when absent, the writer's rule: some request arrived and the
     * attainment reached the target. */
    bool slo_met;
    double latency_p50_ms, latency_p99_ms, latency_p999_ms;
    double cost_usd, vm_cost_usd, faas_cost_usd, cost_per_million_usd;
    sw_run_type_cost_t *cost_by_type; /* cost_usd.by_type, in file order; may be empty */
    size_t n_cost_by_type;
    double vm_billed_s;
    double vm_launches_per_hour; /* churn; NaN when absent (older run directories) */
    sw_run_cdf_point_t *cdf; /* latency_cdf_ms; empty in older run directories */
    size_t n_cdf;
    sw_run_sim_t sim;     /* source == SW_RUN_SIMULATED */
    sw_run_serve_t serve; /* source == SW_RUN_LIVE */
} sw_run_summary_t;

/* Reads and checks PATH, a summary.json: a regular file of at most
 * SW_FILE_MAX_SUMMARY_BYTES holding one JSON object with no duplicate key. The fields the
 * tools read must be there, of their type, finite and in range: counts whole and >= 0,
 * served_faas at most requests, slo_target and slo_attainment in [0, 1], slo_ms > 0,
 * latencies, costs and billed seconds >= 0; policy, trace and slo_met may be absent but
 * not of another type, and cost_usd.by_type ({type: cost}) and latency_cdf_ms
 * ([[quantile, ms], ...]) must be well formed when present. It holds exactly one driver
 * section: "sim" (an object whose events, wall_s and simulated_s, when present, are
 * >= 0) or "serve" (wall_s, calls {accepted, ok, failed, timed_out, abandoned},
 * call_latency_ms {p50, p99}, batch_time_ms {type: {batches, observed_ms, planned_ms,
 * compute_ms}}, all required). Fields the tools do not read are not checked.
 *
 * Returns 0 with *out filled (release with sw_run_summary_deinit), or a negative error
 * with *out zeroed and "PATH: field: what is wrong" (or "PATH:LINE: ..." for bad JSON) in
 * errbuf: -errno when the file cannot be opened or is no regular file, SW_EPARSE
 * otherwise. Any thread. */
int sw_run_summary_load(sw_run_summary_t *out, const char *path, char *errbuf,
                        size_t errlen) SW_MUST_USE;

/* Frees what a loaded summary owns and zeroes it; a zeroed summary is a no-op. */
void sw_run_summary_deinit(sw_run_summary_t *s);

/* "live" or "simulated". */
const char *sw_run_source_name(sw_run_source_t source);

/* The share of requests that functions served, 0 with no request. */
double sw_run_summary_spill_share(const sw_run_summary_t *s);

#endif
