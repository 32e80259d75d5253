/* `spillway predict`: fit forecasters on a trace and score them the way the planner uses
 * them, or fit one and save it for a policy file to name (predictor.model_path).
 *
 *   spillway predict eval --trace FILE --model NAME[,NAME...] [--train-until IDX |
 *       --train-frac F] [--horizon H] [--target next|max] [--quantile Q] [--json FILE]
 *   spillway predict fit --trace FILE --model NAME [--train-until IDX] --save FILE */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "predictor/evaluate.h"
#include "cli/cli.h"
#include "cli/pred_file.h"
#include "runs/trace.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway predict eval --trace FILE --model NAME[,NAME...] [options]\n"
            "       spillway predict fit  --trace FILE --model NAME --save FILE [options]\n\n"
            "eval fits each forecaster on the start of the trace and scores it on the rest,\n"
            "forecasting online as the planner does; fit trains one and saves it for\n"
            "predictor.model_path.\n\n"
            "  --trace FILE         trace to read (any simulate format)\n"
            "  --trace-format F     auto, timestamps, counts-per-second, counts-per-minute\n"
            "  --interval S         seconds per interval (default: policy.interval_s, 60)\n"
            "  --model NAMES        recent-max, last, seasonal-naive, ewma, holt-winters, ar,\n"
            "                       lstm; eval takes a comma-separated list\n"
            "  --config FILE        YAML policy whose predictor section gives the parameters\n"
            "  --set KEY=VALUE      override a config key, e.g. predictor.ar_order=30\n"
            "  --train-until IDX    train on intervals [0, IDX) (eval default: 70 %%; fit: all)\n"
            "  --train-frac F       train on the first fraction F of the intervals\n"
            "  --horizon H          intervals ahead (default: predictor.horizon_intervals)\n"
            "  --target next|max    eval: score the next interval or the max over H (max)\n"
            "  --quantile Q         upper quantile level (default: predictor.quantile)\n"
            "  --calendar           add minute-of-hour and hour-of-day features\n"
            "  --json FILE          eval: also write the results as JSON\n"
            "  --save FILE          fit: where to write the fitted forecaster\n\n"
            "Intervals that are a gap in the record (predictor.gaps) are neither learned from\n"
            "nor scored. Exit status: 0 done, 2 usage or configuration error, 1 failure.\n");
}

typedef struct predict_args {
    bool eval;
    const char *trace, *format, *config, *models, *target, *json, *save;
    double interval_s, train_frac, quantile;
    long train_until;
    int horizon;
    bool calendar;
    sw_cli_override_t sets[32];
    size_t n_sets;
} predict_args_t;

enum { OPT_TRACE = 256, OPT_FORMAT, OPT_INTERVAL, OPT_MODEL, OPT_CONFIG, OPT_SET,
       OPT_UNTIL, OPT_FRAC, OPT_HORIZON, OPT_TARGET, OPT_QUANTILE, OPT_CALENDAR, OPT_JSON,
       OPT_SAVE };

static bool parse_number(const char *opt, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "spillway predict: %s %s: expected a number in [%g, %g]\n", opt, text,
                min, max);
        return false;
    }
    *out = v;
    return true;
}

static int parse_option(predict_args_t *a, int c, const char *arg)
{
    double v;
    switch (c) {
    case OPT_TRACE: a->trace = arg; return 0;
    case OPT_FORMAT: a->format = arg; return 0;
    case OPT_MODEL: a->models = arg; return 0;
    case OPT_CONFIG: a->config = arg; return 0;
    case OPT_TARGET: a->target = arg; return 0;
    case OPT_JSON: a->json = arg; return 0;
    case OPT_SAVE: a->save = arg; return 0;
    case OPT_CALENDAR: a->calendar = true; return 0;
    case OPT_SET:
        return sw__cli_add_override("predict", a->sets, SW_ARRAY_LEN(a->sets), &a->n_sets, NULL,
                                    arg)
                   ? 0
                   : SW_EXIT_USAGE;
    case OPT_INTERVAL:
        return parse_number("--interval", arg, 1e-3, 86400, &a->interval_s) ? 0 : SW_EXIT_USAGE;
    case OPT_FRAC:
        return parse_number("--train-frac", arg, 1e-6, 1 - 1e-6, &a->train_frac)
                   ? 0 : SW_EXIT_USAGE;
    case OPT_QUANTILE:
        return parse_number("--quantile", arg, 1e-6, 1 - 1e-6, &a->quantile) ? 0 : SW_EXIT_USAGE;
    case OPT_UNTIL:
        if (!parse_number("--train-until", arg, 1, 1e12, &v))
            return SW_EXIT_USAGE;
        a->train_until = (long)v;
        return 0;
    case OPT_HORIZON:
        if (!parse_number("--horizon", arg, 1, 10000, &v))
            return SW_EXIT_USAGE;
        a->horizon = (int)v;
        return 0;
    default: return SW_EXIT_USAGE;
    }
}

static int parse_args(int argc, char **argv, predict_args_t *a)
{
    static const struct option longopts[] = {
        {"trace", required_argument, NULL, OPT_TRACE},
        {"trace-format", required_argument, NULL, OPT_FORMAT},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"model", required_argument, NULL, OPT_MODEL},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"set", required_argument, NULL, OPT_SET},
        {"train-until", required_argument, NULL, OPT_UNTIL},
        {"train-frac", required_argument, NULL, OPT_FRAC},
        {"horizon", required_argument, NULL, OPT_HORIZON},
        {"target", required_argument, NULL, OPT_TARGET},
        {"quantile", required_argument, NULL, OPT_QUANTILE},
        {"calendar", no_argument, NULL, OPT_CALENDAR},
        {"json", required_argument, NULL, OPT_JSON},
        {"save", required_argument, NULL, OPT_SAVE},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        if (c == '?' || parse_option(a, c, optarg) != 0) {
            if (c == '?')
                usage(stderr);
            return SW_EXIT_USAGE;
        }
    }
    const char *missing = !a->trace ? "--trace" : !a->models ? "--model"
                        : (!a->eval && !a->save) ? "--save" : NULL;
    if (missing || optind != argc) {
        fprintf(stderr, "spillway predict %s: %s\n", a->eval ? "eval" : "fit",
                missing ? "missing option" : "unexpected argument");
        if (missing)
            fprintf(stderr, "  %s is required\n", missing);
        return SW_EXIT_USAGE;
    }
    if (!a->eval && strchr(a->models, ',')) {
        fprintf(stderr, "spillway predict fit: --model takes one forecaster\n");
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* The config the parameters come from, with the command line's overrides applied. */
static int load_params_config(const predict_args_t *a, sw_cfg_t **cfg)
{
    return sw__cli_load_config_sets(a->config, a->sets, a->n_sets, cfg);
}

static void params_for(const predict_args_t *a, const sw_cfg_t *cfg, const char *model,
                       double interval_s, sw_pred_params_t *p)
{
    sw_pred_params_from_cfg(&cfg->predictor, interval_s, p);
    snprintf(p->name, sizeof(p->name), "%s", model);
    if (a->horizon > 0)
        p->horizon = (unsigned)a->horizon;
    if (a->quantile > 0)
        p->quantile = a->quantile;
    if (a->calendar)
        p->calendar = true;
    p->seed = sw_cfg_predictor_seed(cfg);
}

static int read_series(const predict_args_t *a, double interval_s, double **y, size_t *n)
{
    sw_trace_opts_t o = {.rate_scale = 1.0, .seed = 1};
    if (a->format && sw_trace_format_from_name(a->format, &o.format) < 0) {
        fprintf(stderr, "spillway predict: --trace-format %s: expected auto, timestamps, "
                        "counts-per-second or counts-per-minute\n", a->format);
        return SW_EXIT_USAGE;
    }
    char err[4096];
    int rc = sw_trace_read_series(a->trace, &o, interval_s, y, n, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway predict: %s\n", err);
        return rc == -ENOENT || rc == -EINVAL || rc == -EISDIR ? SW_EXIT_USAGE : SW_EXIT_FAILURE;
    }
    return 0;
}

static size_t train_end(const predict_args_t *a, size_t n, bool eval)
{
    if (a->train_until > 0)
        return (size_t)a->train_until;
    if (a->train_frac > 0)
        return (size_t)((double)n * a->train_frac);
    return eval ? (size_t)((double)n * 0.7) : n;
}

static json_t *eval_json(const char *model, const sw_pred_eval_t *e)
{
    return json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "model", model, "scored",
                     (json_int_t)e->scored, "mape", e->mape, "smape", e->smape, "rmse", e->rmse,
                     "under_rate", e->under_rate, "coverage", e->coverage, "upper_ratio",
                     e->upper_ratio, "scale_for_2pct_under", e->scale_for_2pct, "fit_s",
                     e->fit_s, "forecast_us", e->forecast_us);
}

static void print_row(const char *model, const sw_pred_eval_t *e)
{
    printf("%-15s %7zu %7.2f %7.2f %9.1f %7.1f %9.1f %8.2f %8.2f %8.2f %9.1f\n", model,
           e->scored, e->mape * 100, e->smape * 100, e->rmse, e->under_rate * 100,
           e->coverage * 100, e->upper_ratio, e->scale_for_2pct, e->fit_s, e->forecast_us);
}

/* Evaluates one forecaster; prints its row and appends its JSON. Returns 0 or an exit
 * status (a failing forecaster does not stop the others). */
static int eval_one(const predict_args_t *a, const sw_cfg_t *cfg, const char *model,
                    const double *y, size_t n, size_t until, sw_pred_target_t target,
                    json_t *results)
{
    sw_pred_params_t params;
    params_for(a, cfg, model, a->interval_s, &params);
    char err[4096];
    sw_pred_t *p;
    if (sw_pred_create(&p, &params, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway predict eval: %s\n", err);
        return SW_EXIT_USAGE;
    }
    sw_pred_eval_t e;
    int rc = sw_pred_evaluate(p, y, NULL, n, until, target, sw_clock_now, &e, err, sizeof(err));
    sw_pred_destroy(p);
    if (rc < 0) {
        fprintf(stderr, "spillway predict eval: %s: %s\n", model, err);
        json_array_append_new(results, json_pack("{s:s,s:s}", "model", model, "error", err));
        return SW_EXIT_FAILURE;
    }
    print_row(model, &e);
    json_array_append_new(results, eval_json(model, &e));
    return 0;
}

static int run_eval(const predict_args_t *a, const sw_cfg_t *cfg, const double *y, size_t n)
{
    sw_pred_target_t target = SW_TARGET_MAX;
    if (a->target && sw_pred_target_from_name(a->target, &target) < 0) {
        fprintf(stderr, "spillway predict eval: --target %s: expected next or max\n", a->target);
        return SW_EXIT_USAGE;
    }
    size_t until = train_end(a, n, true);
    if (until == 0 || until >= n) {
        /* Checked before the table's header, which would print the impossible split. */
        fprintf(stderr,
                "spillway predict eval: training on intervals [0, %zu) leaves nothing "
                "to score in the trace's %zu intervals: give --train-until below %zu\n",
                until, n, n);
        return SW_EXIT_USAGE;
    }
    unsigned horizon = a->horizon > 0 ? (unsigned)a->horizon : cfg->predictor.horizon_intervals;
    double q = a->quantile > 0 ? a->quantile : cfg->predictor.quantile;
    printf("trace %s: %zu intervals of %g s; train [0, %zu), test [%zu, %zu); target %s over "
           "H = %u; upper quantile %.3g\n",
           a->trace, n, a->interval_s, until, until, n, sw_pred_target_name(target), horizon, q);
    printf("%-15s %7s %7s %7s %9s %7s %9s %8s %8s %8s %9s\n", "forecaster", "scored", "MAPE%",
           "sMAPE%", "RMSE", "under%", "covered%", "up/act", "x@2%", "fit s", "fcast us");
    json_t *results = json_array();
    char *list = sw_strdup(a->models), *save = NULL;
    int worst = 0;
    for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        int rc = eval_one(a, cfg, m, y, n, until, target, results);
        worst = SW_MAX(worst, rc);
    }
    sw_free(list);
    int rc = worst;
    if (a->json) {
        json_t *root = json_pack("{s:s,s:f,s:I,s:I,s:s,s:I,s:f,s:o}", "trace", a->trace,
                                 "interval_s", a->interval_s, "intervals", (json_int_t)n,
                                 "train_until", (json_int_t)until, "target",
                                 sw_pred_target_name(target), "horizon", (json_int_t)horizon,
                                 "quantile", q, "results", results);
        if (json_dump_file(root, a->json, JSON_INDENT(2) | JSON_REAL_PRECISION(8)) != 0) {
            fprintf(stderr, "spillway predict eval: %s: cannot write\n", a->json);
            rc = SW_EXIT_FAILURE;
        }
        json_decref(root);
    } else {
        json_decref(results);
    }
    return rc;
}

static int run_fit(const predict_args_t *a, const sw_cfg_t *cfg, const double *y, size_t n)
{
    sw_pred_params_t params;
    params_for(a, cfg, a->models, a->interval_s, &params);
    size_t until = SW_MIN(train_end(a, n, false), n);
    char err[4096];
    sw_pred_t *p;
    if (sw_pred_create(&p, &params, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway predict fit: %s\n", err);
        return SW_EXIT_USAGE;
    }
    sw_time_t t0 = sw_clock_now();
    int rc = sw_pred_fit(p, y, NULL, until, err, sizeof(err));
    double fit_s = sw_time_to_s(sw_clock_now() - t0);
    if (rc == 0)
        rc = sw_cli_pred_save(a->save, p, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway predict fit: %s\n", err);
        rc = SW_EXIT_FAILURE;
    } else {
        printf("fitted %s on intervals [0, %zu) of %s in %.2f s; saved to %s\n", a->models,
               until, a->trace, fit_s, a->save);
    }
    sw_pred_destroy(p);
    return rc;
}

int sw_cli_cmd_predict(int argc, char **argv)
{
    predict_args_t a = {0};
    if (argc < 2 || (strcmp(argv[1], "eval") != 0 && strcmp(argv[1], "fit") != 0)) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        usage(help ? stdout : stderr);
        return help ? SW_EXIT_OK : SW_EXIT_USAGE;
    }
    a.eval = strcmp(argv[1], "eval") == 0;
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    sw_cfg_t *cfg = NULL;
    if ((rc = load_params_config(&a, &cfg)) != 0)
        return rc;
    if (a.interval_s == 0)
        a.interval_s = cfg->policy.interval_s;
    double *y = NULL;
    size_t n = 0;
    if ((rc = read_series(&a, a.interval_s, &y, &n)) == 0)
        rc = a.eval ? run_eval(&a, cfg, y, n) : run_fit(&a, cfg, y, n);
    sw_free(y);
    sw_cfg_destroy(cfg);
    return rc;
}
