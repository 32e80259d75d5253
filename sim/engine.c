/* The simulation driver: merges three time-ordered sources (backend events from the
 * heap, the core's wakeups, and the trace's arrivals), feeds each to the policy core with
 * `now` set to its time, and executes the actions the core returns through the simulated
 * backends. At equal times, backend events go first, then the core's wakeup, then the
 * arrival: completions free capacity before new work is routed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "sim/sim_internal.h"

struct sw_sim {
    const sw_cfg_t *cfg;
    sw_sim_opts_t opts;
    sw_sched_t *sched;
    sw_trace_t *trace;
    sw_ev_heap_t heap;
    sw_sim_vms_t vms;
    sw_sim_faas_t faas;
    sw_backend_t backend;
    sw_actions_t acts;
    FILE *decisions;
    bool own_decisions;
    FILE *timeline;
    sw_sim_stats_t stats;
    uint64_t next_req_id;
    /* Loop state: simulated now, the next arrival (valid while `more` is 1; `more` is
     * sw_trace_next's last result), and when a stalled run gives up. */
    sw_time_t now, arrival, stall_limit;
    int more;
    /* Progress watchdog: events handled since simulated time last moved, arrivals aside. */
    sw_time_t still_at;
    uint64_t still_events;
    char path[4096];
};

/* Seeds of the independent random streams: adding draws to one component (say, a new
 * distribution for VMs) must not shift the numbers the trace or the functions see. */
enum { STREAM_TRACE = 1, STREAM_VM = 2, STREAM_FAAS = 3 };

static uint64_t stream_seed(uint64_t seed, uint64_t stream)
{
    return seed * 0x9e3779b97f4a7c15ULL + stream * 0xc2b2ae3d27d4eb4fULL;
}

void sw_sim_trace_opts(const sw_cfg_t *cfg, sw_trace_opts_t *out)
{
    *out = (sw_trace_opts_t){
        .format = cfg->trace.format,
        .timestamp_column = cfg->trace.timestamp_column,
        .rate_scale = cfg->trace.rate_scale,
        .start_s = cfg->trace.start_s,
        .duration_s = cfg->trace.duration_s,
        .seed = stream_seed(cfg->seed, STREAM_TRACE),
    };
}

static int open_trace(sw_trace_t **out, const sw_cfg_t *cfg, char *errbuf, size_t errlen)
{
    sw_trace_opts_t o;
    sw_sim_trace_opts(cfg, &o);
    return sw_trace_open(out, cfg->trace.path, &o, errbuf, errlen);
}

/* Foresight for the oracle and the clairvoyant bound: the arrivals per interval of the
 * very stream the run will replay (same file, same seed), counted in a first streaming
 * pass into *counts (sw_free) and *n. */
static int count_foresight(const sw_cfg_t *cfg, uint64_t **out, size_t *n_out, char *errbuf,
                           size_t errlen)
{
    sw_trace_t *t;
    int rc = open_trace(&t, cfg, errbuf, errlen);
    if (rc < 0)
        return rc;
    sw_time_t interval = sw_s_to_time(cfg->policy.interval_s);
    uint64_t *counts = NULL;
    size_t n = 0;
    sw_time_t at;
    while ((rc = sw_trace_next(t, &at)) == 1) {
        size_t k = (size_t)(at / interval);
        if (k >= SW_SIM_MAX_INTERVALS) {
            rc = -EFBIG;
            break;
        }
        if (k >= n) {
            size_t cap = SW_MAX(k + 1, n * 2);
            counts = sw_realloc(counts, cap * sizeof(*counts));
            memset(counts + n, 0, (cap - n) * sizeof(*counts));
            n = cap;
        }
        counts[k]++;
    }
    if (rc == -EFBIG)
        snprintf(errbuf, errlen,
                 "%s: the run would span more than %d intervals of "
                 "policy.interval_s (%g s): raise policy.interval_s or replay a shorter window "
                 "(--duration)",
                 cfg->trace.path, SW_SIM_MAX_INTERVALS, cfg->policy.interval_s);
    else if (rc < 0)
        snprintf(errbuf, errlen, "%s", sw_trace_error(t));
    sw_trace_close(t);
    if (rc < 0) {
        sw_free(counts);
        return rc;
    }
    *out = counts;
    *n_out = n;
    return 0;
}

/* The core, handed the trace's future when its policy plans from it. */
static int create_core(sw_sim_t *sim, sw_pred_t *pred, char *errbuf, size_t errlen)
{
    if (!sw_sched_policy_needs_foresight(sim->cfg->policy.name))
        return sw_sched_create_with(&sim->sched, sim->cfg, pred, errbuf, errlen);
    uint64_t *counts = NULL;
    size_t n = 0;
    int rc = count_foresight(sim->cfg, &counts, &n, errbuf, errlen);
    if (rc < 0) {
        sw_pred_destroy(pred);
        return rc;
    }
    rc = sw_sched_create_foresight(&sim->sched, sim->cfg, pred, counts, n, errbuf, errlen);
    sw_free(counts);
    return rc;
}

static int open_output(sw_sim_t *sim, FILE **f, const char *name, char *errbuf, size_t errlen)
{
    snprintf(sim->path, sizeof(sim->path), "%s/%s", sim->opts.out_dir, name);
    *f = fopen(sim->path, "w");
    if (!*f) {
        int err = errno;
        snprintf(errbuf, errlen, "%s: cannot create: %s", sim->path, strerror(err));
        return -err;
    }
    return 0;
}

static int open_outputs(sw_sim_t *sim, char *errbuf, size_t errlen)
{
    if (sim->opts.decisions_file) {
        sim->decisions = sim->opts.decisions_file;
    } else if (sim->opts.decisions && sim->opts.out_dir) {
        int rc = open_output(sim, &sim->decisions, "decisions.jsonl", errbuf, errlen);
        if (rc < 0)
            return rc;
        sim->own_decisions = true;
    }
    if (!sim->opts.out_dir)
        return 0;
    int rc = open_output(sim, &sim->timeline, "timeline.csv", errbuf, errlen);
    if (rc < 0)
        return rc;
    return sw_run_timeline_header(sim->timeline, sim->cfg);
}

int sw_sim_create(sw_sim_t **out, const sw_cfg_t *cfg, const sw_sim_opts_t *opts, char *errbuf,
                  size_t errlen)
{
    sw_sim_t *sim = sw_calloc(1, sizeof(*sim));
    sim->cfg = cfg;
    sim->opts = *opts;
    sim->opts.predictor = NULL; /* ownership passes to the core below */
    sw_actions_init(&sim->acts);
    int rc = create_core(sim, opts->predictor, errbuf, errlen);
    if (rc < 0)
        goto fail;
    if (opts->out_dir && mkdir(opts->out_dir, 0777) < 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(errbuf, errlen, "%s: cannot create directory: %s", opts->out_dir, strerror(-rc));
        goto fail;
    }
    if ((rc = open_trace(&sim->trace, cfg, errbuf, errlen)) < 0)
        goto fail;
    if ((rc = open_outputs(sim, errbuf, errlen)) < 0)
        goto fail;
    sw__sim_vms_init(&sim->vms, cfg, &sim->heap, stream_seed(cfg->seed, STREAM_VM));
    sw__sim_faas_init(&sim->faas, cfg, &sim->heap, stream_seed(cfg->seed, STREAM_FAAS));
    sim->backend = (sw_backend_t){.vm = &sw__sim_vm_ops, .vm_self = &sim->vms,
                                  .faas = &sw__sim_faas_ops, .faas_self = &sim->faas};
    *out = sim;
    return 0;
fail:
    sw_sim_destroy(sim);
    return rc;
}

void sw_sim_destroy(sw_sim_t *sim)
{
    if (!sim)
        return;
    if (sim->own_decisions && sim->decisions)
        fclose(sim->decisions);
    if (sim->timeline)
        fclose(sim->timeline);
    sw_trace_close(sim->trace);
    sw_sched_destroy(sim->sched);
    sw__sim_vms_deinit(&sim->vms);
    sw__sim_faas_deinit(&sim->faas);
    sw_free(sim->heap.v);
    sw_actions_deinit(&sim->acts);
    sw_free(sim);
}

/* Executes the actions the core just returned, then writes them to the decision log and
 * any closed timeline rows to timeline.csv. */
static int execute(sw_sim_t *sim, sw_time_t now)
{
    sw_actions_t *a = &sim->acts;
    const sw_backend_t *be = &sim->backend;
    for (size_t i = 0; i < a->n; i++) {
        const sw_action_t *act = &a->v[i];
        switch (act->kind) {
        case SW_ACT_DISPATCH:
            be->vm->dispatch(be->vm_self, now, act->worker_id, act->batch_id,
                             &a->req_ids[act->reqs_off], act->n_reqs);
            break;
        case SW_ACT_INVOKE:
            be->faas->invoke(be->faas_self, now, act->req_id, act->arrival);
            break;
        case SW_ACT_LAUNCH:
            be->vm->launch(be->vm_self, now, act->worker_id, act->type_idx, act->instant);
            break;
        case SW_ACT_TERMINATE:
            be->vm->terminate(be->vm_self, now, act->worker_id);
            break;
        case SW_ACT_REJECT:
        default:
            break;
        }
    }
    int rc = 0;
    if (sim->decisions && a->n > 0)
        rc = sw_decision_log_write(sim->decisions, sim->cfg, a);
    sw_actions_clear(a);
    const sw_sched_interval_t *row;
    while ((row = sw_sched_take_interval(sim->sched)) != NULL)
        if (sim->timeline && rc == 0)
            rc = sw_run_timeline_row(sim->timeline, sim->cfg, row);
    return rc;
}

static void deliver(sw_sim_t *sim, const sw_ev_t *ev)
{
    sw_sched_t *s = sim->sched;
    sw_actions_t *out = &sim->acts;
    if (ev->kind == SW_EV_FAAS_DONE) {
        sw_faas_result_t r = sw__sim_faas_complete(&sim->faas, ev->t, ev->data);
        sw_sched_on_faas_done(s, ev->t, &r, out);
        return;
    }
    if (!sw__sim_vms_event_valid(&sim->vms, ev))
        return; /* the VM was terminated: its pending events died with it */
    switch (ev->kind) {
    case SW_EV_WORKER_READY: sw_sched_on_worker_ready(s, ev->t, ev->worker, out); break;
    case SW_EV_BATCH_DONE: sw_sched_on_batch_done(s, ev->t, ev->worker, ev->data, out); break;
    case SW_EV_SPOT_NOTICE: sw_sched_on_worker_notice(s, ev->t, ev->worker, out); break;
    case SW_EV_WORKER_LOST:
        sim->vms.vm[ev->worker].alive = false;
        sw_sched_on_worker_lost(s, ev->t, ev->worker, out);
        break;
    default: break;
    }
}

static void progress(sw_sim_t *sim, sw_time_t sim_now, sw_time_t started, bool last)
{
    double frac = last ? 1.0 : sw_trace_progress(sim->trace);
    int filled = (int)(frac * 30);
    double wall = sw_time_to_s(sw_clock_now() - started);
    fprintf(stderr, "\r[%-30.*s] %3.0f%%  %.1f M requests  sim %.1f h  %.1f M req/s%s",
            filled, "##############################", frac * 100.0,
            (double)sim->stats.arrivals / 1e6, sw_time_to_s(sim_now) / 3600.0,
            wall > 0 ? (double)sim->stats.arrivals / wall / 1e6 : 0.0, last ? "\n" : "");
}

/* Backend events and wakeups at one instant are bounded by the work in the system: each
 * request is refused by a function at most once and each worker event happens once. A
 * run that handles this many of them without simulated time moving is a loop in the core
 * (issue 10 found one), and it is stopped with an error instead of hanging. */
#define SW_SIM_MAX_EVENTS_WITHOUT_PROGRESS 10000000u

static void watch_progress(sw_sim_t *sim)
{
    if (sim->now != sim->still_at) {
        sim->still_at = sim->now;
        sim->still_events = 0;
    }
    sim->still_events++;
}

/* The next arrival of the trace, shifted by the lead; sets `more` as sw_trace_next. */
static void next_arrival(sw_sim_t *sim)
{
    sim->more = sw_trace_next(sim->trace, &sim->arrival);
    sim->arrival += sim->opts.lead;
}

/* Feeds the earliest of the three sources to the core. Returns false when the run is
 * over: the trace is exhausted and every request answered, or nothing is left that could
 * answer what remains. */
static bool step(sw_sim_t *sim)
{
    sw_sched_t *s = sim->sched;
    sw_time_t t_ev = sim->heap.n ? sim->heap.v[0].t : SW_TIME_NEVER;
    sw_time_t t_wake = sw_sched_next_wakeup(s);
    sw_time_t t_arr = sim->more ? sim->arrival : SW_TIME_NEVER;
    if (!sim->more && sw_sched_is_idle(s))
        return false;
    if (!sim->more && sim->heap.n == 0) {
        /* Work is left but nothing can finish it unless the policy launches a VM on a
         * later tick; give it two intervals, then end (finish rejects the rest). */
        if (sim->stall_limit == SW_TIME_NEVER)
            sim->stall_limit = sim->now + 2 * sw_s_to_time(sim->cfg->policy.interval_s);
        if (t_wake > sim->stall_limit)
            return false;
    } else {
        sim->stall_limit = SW_TIME_NEVER;
    }
    if (t_ev <= t_wake && t_ev <= t_arr && t_ev != SW_TIME_NEVER) {
        sw_ev_t ev = sw__ev_pop(&sim->heap);
        sim->now = ev.t;
        watch_progress(sim);
        deliver(sim, &ev);
    } else if (t_wake <= t_arr && t_wake != SW_TIME_NEVER) {
        sim->now = t_wake;
        watch_progress(sim);
        sw_sched_on_tick(s, sim->now, &sim->acts);
    } else if (t_arr != SW_TIME_NEVER) {
        sim->now = sim->arrival;
        sim->stats.arrivals++;
        sw_sched_on_arrival(s, sim->now, sim->next_req_id++, &sim->acts);
        next_arrival(sim);
    } else {
        return false;
    }
    sim->stats.events++;
    return true;
}

/* Closes the run at the current time: the core rejects what is left and stops every VM,
 * then the figures and files are completed. */
static int finish_run(sw_sim_t *sim, sw_time_t started, char *errbuf, size_t errlen)
{
    /* The run covers the whole window even when its last requests came early (or none
     * came at all): the pool is paid until the window closes. */
    sim->now = SW_MAX(sim->now, sim->opts.lead + sw_trace_covered(sim->trace));
    sw_sched_finish(sim->sched, sim->now, &sim->acts);
    int rc = execute(sim, sim->now);
    sim->stats.end = sim->now;
    sim->stats.wall_s = sw_time_to_s(sw_clock_now() - started);
    sim->stats.requests_per_s =
        sim->stats.wall_s > 0 ? (double)sim->stats.arrivals / sim->stats.wall_s : 0;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        sim->stats.peak_rss_mb = (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
    if (sim->opts.progress)
        progress(sim, sim->now, started, true);
    if (rc == 0 && sim->timeline && fflush(sim->timeline) != 0)
        rc = -errno;
    if (rc == 0 && sim->decisions && fflush(sim->decisions) != 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(errbuf, errlen, "cannot write output: %s", sw_strerror(rc));
        return rc;
    }
    if (!sim->opts.out_dir)
        return 0;
    sw_sched_summary_t sum;
    sw_sim_summary(sim, &sum);
    snprintf(sim->path, sizeof(sim->path), "%s/summary.json", sim->opts.out_dir);
    json_t *root = sw_run_summary_json(sim->cfg, &sum);
    const sw_sim_stats_t *st = &sim->stats;
    json_object_set_new(root, "sim",
                        json_pack("{s:I,s:f,s:f,s:f,s:f}", "events", (json_int_t)st->events,
                                  "wall_s", st->wall_s, "requests_per_s", st->requests_per_s,
                                  "simulated_s", sw_time_to_s(st->end), "peak_rss_mb",
                                  st->peak_rss_mb));
    rc = sw_run_write_json(sim->path, root, errbuf, errlen);
    json_decref(root);
    return rc;
}

int sw_sim_run(sw_sim_t *sim, char *errbuf, size_t errlen)
{
    sw_time_t started = sw_clock_now(), last_progress = started;
    sim->now = 0;
    sim->stall_limit = SW_TIME_NEVER;
    sw_sched_start(sim->sched, 0, &sim->acts);
    int rc = execute(sim, 0);
    if (rc < 0)
        sim->more = rc;
    else
        next_arrival(sim);
    sim->still_at = 0;
    sim->still_events = 0;
    while (sim->more >= 0 && rc == 0 && step(sim)) {
        if (SW_UNLIKELY(sim->now / sw_s_to_time(sim->cfg->policy.interval_s) >=
                        SW_SIM_MAX_INTERVALS)) {
            snprintf(errbuf, errlen, "%s: the run spans more than %d intervals of "
                     "policy.interval_s (%g s): raise policy.interval_s or replay a shorter "
                     "window (--duration)", sim->cfg->trace.path, SW_SIM_MAX_INTERVALS,
                     sim->cfg->policy.interval_s);
            return -EFBIG;
        }
        if (SW_UNLIKELY(sim->still_events > SW_SIM_MAX_EVENTS_WITHOUT_PROGRESS)) {
            snprintf(errbuf, errlen, "simulated time stopped at %.6f s: %u events without "
                     "progress, a loop in the policy core (a bug: please report it with this "
                     "config and seed)", sw_time_to_s(sim->now),
                     SW_SIM_MAX_EVENTS_WITHOUT_PROGRESS);
            return SW_ELIMIT;
        }
        /* Timeline rows are collected at least every 64 events even without actions. */
        if (sim->acts.n > 0 || (sim->stats.events & 63) == 0)
            rc = execute(sim, sim->now);
        if (sim->opts.progress && (sim->stats.events & 0xffff) == 0) {
            sw_time_t wall = sw_clock_now();
            if (wall - last_progress > 200 * SW_US_PER_MS) {
                last_progress = wall;
                progress(sim, sim->now, started, false);
            }
        }
    }
    if (sim->more < 0) {
        snprintf(errbuf, errlen, "%s", sw_trace_error(sim->trace));
        return sim->more;
    }
    if (rc < 0) {
        snprintf(errbuf, errlen, "cannot write output: %s", sw_strerror(rc));
        return rc;
    }
    return finish_run(sim, started, errbuf, errlen);
}

void sw_sim_summary(sw_sim_t *sim, sw_sched_summary_t *out)
{
    sw_sched_summary(sim->sched, sim->stats.end, out);
}

void sw_sim_stats(const sw_sim_t *sim, sw_sim_stats_t *out) { *out = sim->stats; }
