/* `spillway simulate`: load the policy, apply command-line overrides, run the simulator
 * and print the summary an operator reads first. The files in --out hold the rest. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "cli/cli.h"
#include "cli/pred_file.h"
#include "runs/rundir.h"
#include "sim/sim.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway simulate [--config FILE] [--trace FILE] [--trace-format FORMAT]\n"
            "                         [--policy NAME] [--seed N] [--rate-scale K]\n"
            "                         [--start S] [--duration S] [--lead S]\n"
            "                         [--set KEY=VALUE]...\n"
            "                         [--decisions] [--report] [--out DIR]\n"
            "                         [--progress|--no-progress]\n\n"
            "Replays a request trace through the policy core against simulated VMs and\n"
            "functions, and reports cost and SLO attainment.\n\n"
            "  --config FILE        YAML policy (default: built-in defaults, the same as\n"
            "                       config/example.yaml)\n"
            "  --trace FILE         trace to replay (overrides trace.path; its format is\n"
            "                       detected unless --trace-format is given)\n"
            "  --trace-format F     auto, timestamps, counts-per-second, counts-per-minute\n"
            "  --policy NAME        static, reactive, faas-only, mark, oracle, clairvoyant\n"
            "  --seed N             random seed (same seed, same decisions)\n"
            "  --rate-scale K       multiply the trace's request rate by K\n"
            "  --start S            skip the first S seconds of the trace\n"
            "  --duration S         simulate only S seconds of the trace\n"
            "  --lead S             start the run S seconds (up to 3600) before the window's\n"
            "                       first second, as a live server that was up before its\n"
            "                       load came (default 0)\n"
            "  --set KEY=VALUE      override any config key, e.g. slo.latency_ms=100\n"
            "  --decisions          write DIR/decisions.jsonl, one line per decision\n"
            "  --report             also write DIR/report.html (spillway report DIR)\n"
            "  --out DIR            output folder (default: sim-out)\n"
            "  --progress           progress bar on stderr (default when it is a terminal)\n"
            "  --log-level LEVEL    error, warn, info, debug\n\n"
            "Writes DIR/summary.json and DIR/timeline.csv. Exit status: 0 done, 2 usage or\n"
            "configuration error, 1 runtime failure (e.g. a malformed trace line).\n");
}

typedef struct sim_args {
    const char *config;
    const char *out;
    bool decisions, report;
    int progress; /* -1: when stderr is a terminal */
    sw_cli_override_t sets[64];
    size_t n_sets;
    bool trace_given, format_given;
    double lead_s;
} sim_args_t;

enum { OPT_TRACE = 256, OPT_FORMAT, OPT_POLICY, OPT_SEED, OPT_RATE, OPT_START, OPT_DURATION,
       OPT_SET, OPT_DECISIONS, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_LOG, OPT_REPORT, OPT_LEAD };

/* --set and the options that are shorthands for config keys become overrides, applied in
 * order after the file is loaded, so they validate exactly like the YAML. */
static bool add_override(sim_args_t *a, const char *option, const char *text)
{
    return sw__cli_add_override("simulate", a->sets, SW_ARRAY_LEN(a->sets), &a->n_sets, option,
                                text);
}

static int parse_args(int argc, char **argv, sim_args_t *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"trace-format", required_argument, NULL, OPT_FORMAT},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"seed", required_argument, NULL, OPT_SEED},
        {"rate-scale", required_argument, NULL, OPT_RATE},
        {"start", required_argument, NULL, OPT_START},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"set", required_argument, NULL, OPT_SET},
        {"lead", required_argument, NULL, OPT_LEAD},
        {"decisions", no_argument, NULL, OPT_DECISIONS},
        {"report", no_argument, NULL, OPT_REPORT},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c, idx = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", longopts, &idx)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'o': a->out = optarg; break;
        case 'h': usage(stdout); return -1;
        case OPT_SET:
            if (!add_override(a, NULL, optarg))
                return SW_EXIT_USAGE;
            break;
        case OPT_DECISIONS: a->decisions = true; break;
        case OPT_REPORT: a->report = true; break;
        case OPT_LEAD: {
            char *end;
            errno = 0;
            a->lead_s = strtod(optarg, &end);
            if (end == optarg || *end || errno != 0 || !(a->lead_s >= 0 && a->lead_s <= 3600)) {
                fprintf(stderr, "spillway simulate: --lead %s: expected seconds in [0, 3600]\n",
                        optarg);
                return SW_EXIT_USAGE;
            }
            break;
        }
        case OPT_PROGRESS: a->progress = 1; break;
        case OPT_NO_PROGRESS: a->progress = 0; break;
        case OPT_LOG: {
            sw_log_level_t lvl;
            if (sw_log_parse_level(optarg, &lvl) < 0) {
                fprintf(stderr, "spillway simulate: --log-level %s: expected error, warn, info "
                                "or debug\n", optarg);
                return SW_EXIT_USAGE;
            }
            sw_log_set_level(lvl);
            break;
        }
        case OPT_TRACE: case OPT_FORMAT: case OPT_POLICY: case OPT_SEED: case OPT_RATE:
        case OPT_START: case OPT_DURATION: {
            a->trace_given |= c == OPT_TRACE;
            a->format_given |= c == OPT_FORMAT;
            if (!add_override(a, longopts[idx].name, optarg))
                return SW_EXIT_USAGE;
            break;
        }
        default: usage(stderr); return SW_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "spillway simulate: unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    /* Another file need not share the config's trace format: detect it unless told. */
    if (a->trace_given && !a->format_given && !add_override(a, NULL, "trace.format=auto"))
        return SW_EXIT_USAGE;
    return 0;
}

static void print_summary(const sw_cfg_t *cfg, const sw_sched_summary_t *s,
                          const sw_sim_stats_t *st, const char *out_dir)
{
    const sw_hist_t *h = s->latency;
    printf("spillway simulate: policy %s, seed %" PRIu64 ", trace %s\n", s->policy, cfg->seed,
           cfg->trace.path);
    printf("  requests     %" PRIu64 "  (VMs %" PRIu64 ", functions %" PRIu64
           ", rejected %" PRIu64 ")\n",
           s->requests, s->served_vm, s->served_faas, s->rejected);
    /* With no request there is no attainment to speak of, met or not. */
    if (s->requests == 0)
        printf("  SLO          none: no request arrived in the window\n");
    else
        printf("  SLO          %.3f %% within %.0f ms  (target %.2f %%: %s)\n",
               s->slo_attainment * 100.0, cfg->slo.latency_ms, cfg->slo.target * 100.0,
               s->slo_attainment >= cfg->slo.target ? "met" : "MISSED");
    printf("  latency ms   p50 %.1f  p95 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
           sw_hist_quantile_us(h, 0.5) / 1e3, sw_hist_quantile_us(h, 0.95) / 1e3,
           sw_hist_quantile_us(h, 0.99) / 1e3, sw_hist_quantile_us(h, 0.999) / 1e3,
           (double)h->max_us / 1e3);
    printf("  cost         $%.2f = VMs $%.2f + functions $%.2f  ($%.3f per million requests)\n",
           s->cost.total_usd, s->cost.vm_usd, s->cost.faas_usd,
           sw_run_cost_per_million(s));
    printf("  by type     ");
    for (unsigned t = 0; t < cfg->instance_types_count; t++)
        if (s->cost.vm_by_type_usd[t] > 0)
            printf(" %s $%.2f", cfg->instance_types[t].name, s->cost.vm_by_type_usd[t]);
    printf("\n  functions    %" PRIu64 " invocations, %" PRIu64 " cold starts, %" PRIu64
           " throttled, %.0f GB-s\n",
           s->faas_invocations, s->cold_starts, s->throttled, s->cost.faas_gb_s);
    printf("  VMs          %" PRIu64 " launched (%.1f per hour), peak %" PRIu64
           " running, %.1f billed hours\n",
           s->vm_launched, s->span_s > 0 ? (double)s->vm_launched * 3600.0 / s->span_s : 0.0,
           s->peak_running, s->cost.vm_billed_s / 3600.0);
    printf("  simulation   %.1f h simulated in %.2f s wall (%.2f M requests/s, %" PRIu64
           " events, peak RSS %.1f MB)\n",
           sw_time_to_s(st->end) / 3600.0, st->wall_s, st->requests_per_s / 1e6, st->events,
           st->peak_rss_mb);
    printf("  output       %s/summary.json, %s/timeline.csv\n", out_dir, out_dir);
}

/* The fitted forecaster named by predictor.model_path, for mark. The core does no I/O,
 * so the file is read here and the forecaster handed in. */
static int load_model(const sw_cfg_t *cfg, sw_pred_t **out)
{
    *out = NULL;
    if (!cfg->predictor.model_path || !*cfg->predictor.model_path)
        return 0;
    if (cfg->policy.name != SW_POLICY_MARK) {
        fprintf(stderr, "spillway simulate: note: predictor.model_path is used by the mark "
                        "policy only; ignored for %s\n", sw_policy_name(cfg->policy.name));
        return 0;
    }
    char err[4096];
    int rc = sw_cli_pred_load(cfg->predictor.model_path, out, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway simulate: predictor.model_path: %s\n", err);
        return sw__cli_file_status(rc);
    }
    return 0;
}

int sw_cli_cmd_simulate(int argc, char **argv)
{
    sim_args_t a = {.out = "sim-out", .progress = -1};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    sw_cfg_t *cfg;
    if ((rc = sw__cli_load_config_sets(a.config, a.sets, a.n_sets, &cfg)) != 0)
        return rc;
    sw__cli_print_notes(cfg);
    sw_sim_opts_t opts = {
        .out_dir = a.out,
        .decisions = a.decisions,
        .progress = a.progress < 0 ? isatty(STDERR_FILENO) : a.progress,
        .lead = sw_s_to_time(a.lead_s),
    };
    char err[4096];
    if ((rc = load_model(cfg, &opts.predictor)) != 0) {
        sw_cfg_destroy(cfg);
        return rc;
    }
    sw_sim_t *sim;
    if ((rc = sw_sim_create(&sim, cfg, &opts, err, sizeof(err))) < 0) {
        fprintf(stderr, "spillway simulate: %s\n", err);
        sw_cfg_destroy(cfg);
        /* A file named by the config or the command line that is not there is the
         * caller's mistake, like a bad key; a trace that cannot be parsed is not. */
        bool usage_error =
            rc == -EINVAL || rc == -ENOENT || rc == -EACCES || rc == -ENOTDIR || rc == -EISDIR ||
            rc == -EFBIG;
        return usage_error ? SW_EXIT_USAGE : SW_EXIT_FAILURE;
    }
    rc = sw_sim_run(sim, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway simulate: %s\n", err);
    } else {
        sw_sched_summary_t sum;
        sw_sim_stats_t st;
        sw_sim_summary(sim, &sum);
        sw_sim_stats(sim, &st);
        print_summary(cfg, &sum, &st, a.out);
    }
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
    /* -EINVAL: the trace, read to its end, lies wholly before the window (--start);
     * -EFBIG: the run spans more intervals than a run may. Both are the caller's to fix. */
    if (rc < 0)
        return rc == -EINVAL || rc == -EFBIG ? SW_EXIT_USAGE : SW_EXIT_FAILURE;
    return a.report ? sw__cli_write_report(a.out, NULL, NULL, 0) : SW_EXIT_OK;
}
