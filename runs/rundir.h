/* The run directory that both drivers write and the tools read (DESIGN.md: "one run
 * directory"): summary.json, timeline.csv and decisions.jsonl. `spillway simulate` and
 * `spillway serve` write them through these functions, so `report` and `compare` put a
 * live run beside simulated ones and a difference between them is a finding, not a format.
 *
 * Writers take a stdio stream or a path the caller owns; any thread, one stream each. */
#ifndef SW_RUNS_RUNDIR_H
#define SW_RUNS_RUNDIR_H

#include <stdio.h>

#include <jansson.h>

#include "config/config.h"
#include "scheduler/sched.h"

/* Decision log: one JSON line per action, the format shared by live and simulated runs:
 *   {"time_us":1200000,"action":"dispatch","reason":"batch_full","worker":3,
 *    "type":"p2.xlarge","batch":17,"reqs":[40,41,42]}
 * Returns 0 or -EIO when the stream has failed. */
int sw_decision_log_write(FILE *f, const sw_cfg_t *cfg, const sw_actions_t *acts);

/* timeline.csv: the header (one column per instance type and state), then one row per
 * closed interval. Return 0 or -EIO. */
int sw_run_timeline_header(FILE *f, const sw_cfg_t *cfg);
int sw_run_timeline_row(FILE *f, const sw_cfg_t *cfg, const sw_sched_interval_t *row);

/* The summary every driver shares: policy, seed, trace, request counts, SLO attainment,
 * latency percentiles and CDF, cost by resource and type, function and VM counters. A new
 * object the caller owns (json_decref); the driver adds its own section ("sim", "serve")
 * before writing it. The tools read it back with sw_run_summary_load (runs/summary.h). */
json_t *sw_run_summary_json(const sw_cfg_t *cfg, const sw_sched_summary_t *sum);

/* A summary's latency_ms (p50, p95, p99, p999, max, mean) and latency_cdf_ms (every
 * percentile, then the tail, as [quantile, ms] pairs, so a report can draw the CDF without
 * the raw histogram), from a histogram of microseconds: new objects the caller owns. Shared
 * with `spillway loadgen`, whose summary must read as a run's. */
json_t *sw_run_latency_json(const sw_hist_t *h);
json_t *sw_run_latency_cdf_json(const sw_hist_t *h);

/* Total cost per million requests (0 with no request): the one place it is computed, for
 * summary.json and simulate's printout alike. */
double sw_run_cost_per_million(const sw_sched_summary_t *sum);

/* Writes `root` (borrowed) to `path` as indented JSON. Returns 0, or -EIO with
 * "PATH: cannot write summary" in errbuf. */
int sw_run_write_json(const char *path, const json_t *root, char *errbuf, size_t errlen)
    SW_MUST_USE;

#endif
