/* `spillway simulate`: replays a trace through the policy core against simulated VMs and
 * functions, and reports cost and SLO attainment.
 *
 * A discrete-event engine: a min-heap of backend events keyed on (time, insertion
 * counter), merged with the trace's arrival stream and the core's next wakeup. Time jumps
 * to the next event. Simulated VMs draw boot and batch service times, spot interruptions
 * (with their notice), and simulated functions draw warm latency and cold starts, all from
 * the config with seeded random streams: the same trace, config and seed give a
 * byte-identical decision log. */
#ifndef SW_SIM_SIM_H
#define SW_SIM_SIM_H

#include <stdio.h>

#include "common/common.h"
#include "common/rng.h"
#include "config/config.h"
#include "runs/trace.h"
#include "scheduler/sched.h"

typedef struct sw_sim sw_sim_t;

/* A run spans at most this many policy intervals (span / policy.interval_s): each is a
 * timeline row and, for the oracle, a slot of foresight, so the bound keeps timeline.csv
 * under about 200 MB and the oracle's memory under 8 MB whatever the trace. 400 days of
 * minutes is 576,000 intervals. */
#define SW_SIM_MAX_INTERVALS 1000000

typedef struct sw_sim_opts {
    const char *out_dir;   /* summary.json, timeline.csv (and decisions.jsonl); NULL: none */
    bool decisions;        /* write decisions.jsonl */
    bool progress;         /* progress bar on stderr */
    FILE *decisions_file;  /* instead of out_dir/decisions.jsonl (tests); borrowed */
    /* A fitted forecaster for `mark` (loaded from predictor.model_path by the caller);
     * sw_sim_create takes ownership, also on failure. NULL: built from the config. */
    sw_pred_t *predictor;
    /* The run starts this long before the window: every arrival comes `lead` later, as
     * at a live server that was up before its load came (bench/parity.sh measures it). */
    sw_time_t lead;
} sw_sim_opts_t;

typedef struct sw_sim_stats {
    uint64_t events;   /* arrivals + backend events + core wakeups processed */
    uint64_t arrivals;
    double wall_s;
    double requests_per_s; /* simulated arrivals per wall-clock second */
    sw_time_t end;         /* simulated time at the end of the run */
    double peak_rss_mb;    /* the process's peak resident set size (getrusage) */
} sw_sim_stats_t;

/* Prepares a run of `cfg` (borrowed for the run's life); opens the trace named by
 * cfg->trace. Returns 0, or a negative error with a message in errbuf. */
int sw_sim_create(sw_sim_t **out, const sw_cfg_t *cfg, const sw_sim_opts_t *opts,
                  char *errbuf, size_t errlen) SW_MUST_USE;
/* Runs to the end of the trace and until every request is answered, writing the outputs.
 * Returns 0, or a negative error with a message: SW_EPARSE a malformed trace line, -EIO an
 * unwritable output, -EFBIG a run past SW_SIM_MAX_INTERVALS, SW_ELIMIT a loop in the core
 * stopped by the progress watchdog, -EINVAL a window past the trace's end. */
int sw_sim_run(sw_sim_t *sim, char *errbuf, size_t errlen) SW_MUST_USE;
/* After a run: the core's totals, and the engine's own figures. */
void sw_sim_summary(sw_sim_t *sim, sw_sched_summary_t *out);
void sw_sim_stats(const sw_sim_t *sim, sw_sim_stats_t *out);
void sw_sim_destroy(sw_sim_t *sim);

/* The reader options a run of `cfg` replays cfg->trace.path with: the config's format,
 * window and rate scale, and the trace's own random stream of cfg->seed (the one that
 * spreads counts into arrivals). `spillway loadgen` opens its trace with them, so it sends
 * the very arrivals a simulation of the same config and seed replays. Any thread. */
void sw_sim_trace_opts(const sw_cfg_t *cfg, sw_trace_opts_t *out);

/* One draw from a configured distribution. */
double sw_sim_draw(const sw_cfg_dist_t *d, sw_rng_t *rng);

#endif
