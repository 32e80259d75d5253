/* `spillway tune`: which policy settings should I run? It searches a few numeric keys of
 * the policy on the training part of a trace, [start, --train-until), by running
 * `spillway simulate` children in parallel (cli/sim_runs.h, shared with compare); picks
 * the cheapest setting that meets the SLO there; and only then runs the defaults and the
 * choice on the held-back part, [--train-until, end), to report how the choice does on
 * load it was not chosen on. The search is given the training window alone, so it cannot
 * look at the part the report is about. tune_report.c writes the table and the files. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/tune_internal.h"
#include "runs/trace.h"
#include "sim/sim.h"

/* Runs of the whole grid at most; a larger grid is searched by coordinate descent, one
 * key at a time, in at most MAX_ROUNDS rounds. */
enum { MAX_GRID = 64, MAX_ROUNDS = 3 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway tune [--config FILE] --trace FILE --train-until S\n"
            "                     [--keys K1,K2,...|--keys K=V1,V2,...]... [--jobs N]\n"
            "                     [--out DIR] [--trace-format F] [--rate-scale K] [--seed N]\n"
            "                     [--start S0] [--duration D]\n\n"
            "Searches policy keys of the config (default: the built-in defaults, the same\n"
            "as config/example.yaml) on the training part of the trace, [S0, S), with\n"
            "`spillway simulate` runs in parallel (at most N at a time, default one per\n"
            "online CPU), chooses the cheapest setting whose SLO attainment there meets\n"
            "slo.target (ties: the fewest keys changed), then runs the defaults and the\n"
            "choice on the held-back part, [S, end), and prints both side by side. The\n"
            "search never sees the held-back part.\n\n"
            "Keys (default, for mark): policy.mark.target_utilization (the planning\n"
            "headroom; with spill off also predictor.headroom for recent-max or\n"
            "predictor.quantile for an unsaved forecaster), policy.mark.min_instances,\n"
            "the spill threshold policy.dispatch_margin_ms (a request is spilled at\n"
            "arrival when the pool would answer it later than the SLO less this margin;\n"
            "policy.max_queue_delay_ms when spill is off), and policy.interval_s (left\n"
            "out when predictor.model_path is set: a saved forecaster is fitted for one\n"
            "interval). A key's candidates are a ladder around its value, clipped to its\n"
            "range: 5 points a factor of 2 apart (x1/4 to x4), shares above 0.5 by\n"
            "their distance to 1 (0.8: 0.6 to 0.9), whole numbers -2 to +2; or the\n"
            "values given as K=V1,V2,... Keys that define what is measured (slo.*,\n"
            "trace.*, seed, billing.*, prices) cannot be tuned.\n\n"
            "Search: the whole grid when it is at most %d runs; otherwise coordinate\n"
            "descent from the defaults, one key at a time with the others fixed, at most\n"
            "%d rounds, stopping at a round that changes nothing. The number of runs is\n"
            "printed before any starts.\n\n"
            "Forecaster: a saved model (predictor.model_path) must have been fitted\n"
            "without the held-back part; tune cannot check a file's history. Forecasters\n"
            "fitted on the fly only observe each run's own window as it unfolds.\n\n"
            "Writes DIR/tuned.yaml (the changed keys, as a policy-file fragment),\n"
            "DIR/tune.json (every run and the choice) and the run directories (default\n"
            "DIR: tune-out). Apply the choice with the printed --set arguments.\n"
            "Exit status: 0 chosen setting met the SLO on the training part, 1 none did\n"
            "(the files are still written) or a run failed, 2 usage or configuration\n"
            "error (nothing was run).\n",
            MAX_GRID, MAX_ROUNDS);
}

/* ---- options --------------------------------------------------------------------- */

typedef struct tune_opts {
    char *key_args[TUNE_MAX_KEYS]; /* --keys arguments, owned copies */
    size_t n_key_args;
    const char *start, *duration;
} tune_opts_t;

static int parse_double(const char *opt, const char *text, double min, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(*out) || *out < min) {
        fprintf(stderr, "spillway tune: %s %s: expected seconds >= %g\n", opt, text, min);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* An option passed to every run as given (--trace-format, --rate-scale, --seed): opt is
 * its long name, without "--". */
static int add_pass(tune_t *t, const char *opt, const char *value)
{
    if (t->n_pass + 2 > SW_ARRAY_LEN(t->pass)) {
        fprintf(stderr,
                "spillway tune: --%s: --trace-format, --rate-scale and --seed are given "
                "more than %zu times in all\n",
                opt, SW_ARRAY_LEN(t->pass) / 2);
        return SW_EXIT_USAGE;
    }
    t->pass[t->n_pass++] = opt;
    t->pass[t->n_pass++] = value;
    return 0;
}

static int parse_option(tune_t *t, tune_opts_t *o, int c, const char *name)
{
    switch (c) {
    case 'c': t->config = optarg; return 0;
    case 'o': t->out = optarg; return 0;
    case 't': t->trace = optarg; return 0;
    case 'u': return parse_double("--train-until", optarg, 0, &t->train_until_s);
    case 'j': {
        unsigned long long v;
        if (!sw__cli_parse_uint("tune", "--jobs", optarg, 1, 4096, &v))
            return SW_EXIT_USAGE;
        t->jobs = (long)v;
        return 0;
    }
    case 'k':
        if (o->n_key_args == TUNE_MAX_KEYS) {
            fprintf(stderr, "spillway tune: --keys: more than %d options\n", TUNE_MAX_KEYS);
            return SW_EXIT_USAGE;
        }
        o->key_args[o->n_key_args++] = sw_strdup(optarg);
        return 0;
    case 1:
        /* The window is tune's to split; the rest goes to every run as given. */
        if (strcmp(name, "start") == 0)
            o->start = optarg;
        else if (strcmp(name, "duration") == 0)
            o->duration = optarg;
        else
            return add_pass(t, name, optarg);
        return 0;
    default: usage(stderr); return SW_EXIT_USAGE;
    }
}

static int parse_args(int argc, char **argv, tune_t *t, tune_opts_t *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"trace", required_argument, NULL, 't'},
        {"train-until", required_argument, NULL, 'u'},
        {"keys", required_argument, NULL, 'k'},
        {"jobs", required_argument, NULL, 'j'},
        {"trace-format", required_argument, NULL, 1},
        {"rate-scale", required_argument, NULL, 1},
        {"seed", required_argument, NULL, 1},
        {"start", required_argument, NULL, 1},
        {"duration", required_argument, NULL, 1},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c, idx = 0, rc = 0;
    bool until_given = false;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "c:o:j:h", longopts, &idx)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        until_given |= c == 'u';
        rc = parse_option(t, o, c, c == 1 ? longopts[idx].name : "");
    }
    if (rc != 0)
        return rc;
    if (optind != argc || !t->trace || !until_given) {
        fprintf(stderr, "spillway tune: %s\n\n",
                optind != argc ? "unexpected argument" : "--trace and --train-until are required");
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* The base config as every run loads it: the file, then the trace options, as simulate
 * applies them (a --trace without --trace-format is detected). */
static int load_base(const tune_t *t, sw_cfg_t **cfg)
{
    sw_cli_override_t sets[2 + SW_ARRAY_LEN(t->pass) / 2];
    size_t n = 0;
    sets[n++] = (sw_cli_override_t){.option = "trace", .text = t->trace};
    sets[n++] = (sw_cli_override_t){.text = "trace.format=auto"};
    for (size_t i = 0; i < t->n_pass; i += 2)
        sets[n++] = (sw_cli_override_t){.option = t->pass[i], .text = t->pass[i + 1]};
    return sw__cli_load_config_sets(t->config, sets, n, cfg);
}

/* ---- keys and their candidates ----------------------------------------------------- */

/* Keys that say what is measured or how it is priced: tuning them would move the goal
 * posts (a lower SLO target is always cheaper to meet), not choose how to reach them. */
static bool is_measure_key(const char *path)
{
    static const char *const prefixes[] = {"slo.", "trace.", "billing."};
    for (size_t i = 0; i < SW_ARRAY_LEN(prefixes); i++)
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return strcmp(path, "seed") == 0 || strstr(path, "price") != NULL;
}

/* Rounded to 3 significant digits, so that a candidate prints as it is used. */
static double round3(double x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.3g", x);
    return strtod(buf, NULL);
}

static void add_value(tune_key_t *k, double v)
{
    for (size_t i = 0; i < k->n_values; i++)
        if (k->values[i] == v)
            return;
    if (k->n_values < TUNE_MAX_VALUES)
        k->values[k->n_values++] = v;
}

/* The ladder around the key's value (see usage): whole numbers step by one; a share
 * above one half, such as a utilisation or a quantile, moves by its distance to 1, which
 * is what matters near 1; anything else by factors of 2. Out-of-range rungs are dropped. */
static void ladder(tune_key_t *k)
{
    static const double steps[] = {-2, -1, 0, 1, 2};
    bool whole = k->info->type == SW_CFG_KEY_UINT;
    bool share = !whole && k->info->has_range && k->info->max <= 1 && k->def > 0.5;
    for (size_t i = 0; i < SW_ARRAY_LEN(steps); i++) {
        double v = whole         ? k->def + steps[i]
                   : k->def == 0 ? (double[]){0, 1, 2, 5, 10}[i]
                   : share       ? 1 - (1 - k->def) * pow(2, steps[i] / 2)
                                 : k->def * pow(2, steps[i]);
        v = whole ? v : round3(v);
        if (v >= 0 && sw_cfg_key_in_range(k->info, v))
            add_value(k, v);
    }
    add_value(k, k->def);
}

/* Parses "V1,V2,..." into the key's values. */
static int given_values(tune_key_t *k, char *list)
{
    char *save = NULL;
    k->given = true;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        double v = strtod(tok, &end);
        if (end == tok || *end || errno || !isfinite(v)) {
            fprintf(stderr, "spillway tune: --keys %s=...: '%s' is not a number\n", k->path, tok);
            return SW_EXIT_USAGE;
        }
        if (k->n_values == TUNE_MAX_VALUES) {
            fprintf(stderr, "spillway tune: --keys %s: more than %d values\n", k->path,
                    TUNE_MAX_VALUES);
            return SW_EXIT_USAGE;
        }
        add_value(k, v);
    }
    if (k->n_values == 0) {
        fprintf(stderr, "spillway tune: --keys %s=: expected V1,V2,...\n", k->path);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* Adds a key named on the command line or by default, with its base value. */
static int add_key(tune_t *t, const sw_cfg_t *cfg, const char *path, tune_key_t **out)
{
    char err[512];
    double def;
    if (t->n_keys == TUNE_MAX_KEYS) {
        fprintf(stderr, "spillway tune: --keys: more than %d keys\n", TUNE_MAX_KEYS);
        return SW_EXIT_USAGE;
    }
    for (size_t i = 0; i < t->n_keys; i++)
        if (strcmp(t->keys[i].path, path) == 0) {
            fprintf(stderr, "spillway tune: --keys: %s named twice\n", path);
            return SW_EXIT_USAGE;
        }
    if (sw_cfg_get_number(cfg, path, &def, err, sizeof err) != 0) {
        fprintf(stderr, "spillway tune: --keys: %s%s\n", err,
                strstr(err, "not a number") ? " (tune searches numeric keys only)" : "");
        return SW_EXIT_USAGE;
    }
    if (is_measure_key(path)) {
        fprintf(stderr,
                "spillway tune: --keys: %s says what is measured or what it costs, "
                "not how the policy runs; it cannot be tuned\n",
                path);
        return SW_EXIT_USAGE;
    }
    if (strcmp(path, "policy.interval_s") == 0 && cfg->predictor.model_path &&
        *cfg->predictor.model_path) {
        fprintf(stderr, "spillway tune: --keys: policy.interval_s cannot change while "
                        "predictor.model_path is set: a saved forecaster is fitted for one "
                        "interval, and mark refuses it at another\n");
        return SW_EXIT_USAGE;
    }
    tune_key_t *k = &t->keys[t->n_keys++];
    *k = (tune_key_t){.path = sw_strdup(path), .info = sw_cfg_key_find(path), .def = def};
    *out = k;
    return 0;
}

/* One --keys argument: "K1,K2,...", "K=V1,V2,..." or a mix ("K1=V1,V2,K2"): a token with
 * '=' starts a key with values, a number adds a value to it, any other token is a key
 * with the derived ladder. */
static int parse_key_arg(tune_t *t, const sw_cfg_t *cfg, char *arg)
{
    char *save = NULL, *values = NULL;
    tune_key_t *cur = NULL;
    int rc = 0;
    for (char *tok = strtok_r(arg, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        char *end, *eq = strchr(tok, '=');
        strtod(tok, &end);
        if (!eq && cur && cur->given && end != tok && !*end) {
            size_t len = strlen(values);
            values = sw_realloc(values, len + strlen(tok) + 2);
            snprintf(values + len, strlen(tok) + 2, ",%s", tok);
            continue;
        }
        if (cur && cur->given)
            rc = given_values(cur, values);
        sw_free(values);
        values = NULL;
        if (rc != 0)
            break;
        if (eq)
            *eq = '\0';
        if ((rc = add_key(t, cfg, tok, &cur)) != 0)
            break;
        cur->given = eq != NULL;
        values = eq ? sw_strdup(eq + 1) : NULL;
    }
    if (rc == 0 && cur && cur->given)
        rc = given_values(cur, values);
    sw_free(values);
    return rc;
}

/* The planning level, the minimum pool, the spill threshold and the interval, as they
 * act in the configured mark policy (see usage). */
static int default_keys(tune_t *t, const sw_cfg_t *cfg)
{
    if (cfg->policy.name != SW_POLICY_MARK) {
        fprintf(stderr,
                "spillway tune: the default keys are the mark policy's, and the "
                "config runs %s: name the keys to search with --keys\n",
                sw_policy_name(cfg->policy.name));
        return SW_EXIT_USAGE;
    }
    bool spill = cfg->faas.enabled && cfg->policy.mark.spill;
    bool saved = cfg->predictor.model_path && *cfg->predictor.model_path;
    const char *keys[6];
    size_t n = 0;
    keys[n++] = "policy.mark.target_utilization";
    if (!spill && strcmp(cfg->predictor.name, "recent-max") == 0)
        keys[n++] = "predictor.headroom";
    else if (!spill && !saved)
        keys[n++] = "predictor.quantile";
    keys[n++] = "policy.mark.min_instances";
    keys[n++] = spill ? "policy.dispatch_margin_ms" : "policy.max_queue_delay_ms";
    if (!saved)
        keys[n++] = "policy.interval_s";
    tune_key_t *k;
    for (size_t i = 0; i < n; i++)
        if (add_key(t, cfg, keys[i], &k) != 0)
            return SW_EXIT_USAGE;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Each candidate must load with the base config like the same --set would; a derived
 * rung that a cross-key rule refuses is dropped, a given value is an error. */
static int check_values(tune_t *t)
{
    char text[64], err[4096];
    for (size_t i = 0; i < t->n_keys; i++) {
        tune_key_t *k = &t->keys[i];
        if (!k->given)
            ladder(k);
        size_t kept = 0;
        for (size_t v = 0; v < k->n_values; v++) {
            sw_cfg_t *cfg;
            if (load_base(t, &cfg) != 0)
                return SW_EXIT_USAGE;
            tune_value_text(k, k->values[v], text, sizeof text);
            int rc = sw_cfg_set(cfg, k->path, text, err, sizeof err);
            sw_cfg_destroy(cfg);
            if (rc == 0)
                k->values[kept++] = k->values[v];
            else if (k->given) {
                fprintf(stderr, "spillway tune: --keys %s=%s: %s\n", k->path, text, err);
                return SW_EXIT_USAGE;
            }
        }
        k->n_values = kept;
        /* The base value is always a candidate: a search that cannot keep it may lose. */
        add_value(k, k->def);
        qsort(k->values, k->n_values, sizeof(double), cmp_double);
        for (k->def_idx = 0; k->values[k->def_idx] != k->def; k->def_idx++)
            ;
    }
    return 0;
}

void tune_value_text(const tune_key_t *k, double v, char *buf, size_t len)
{
    snprintf(buf, len, k->info->type == SW_CFG_KEY_UINT ? "%.0f" : "%.6g", v);
}

size_t tune_changes(const tune_t *t, const size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_keys; i++)
        n += idx[i] != t->keys[i].def_idx;
    return n;
}

/* ---- the windows ------------------------------------------------------------------- */

/* The whole window, [--start, --start + --duration or the trace's end), as simulate
 * would replay it: the trace is read to its end with the run's reader options. The span
 * does not depend on the rate, so a count trace is read at a rate scale that makes almost
 * no arrivals: a day of seconds then takes milliseconds, not the seconds of a replay. */
static int scan_window(const tune_t *t, tune_window_t *whole)
{
    sw_cfg_t *cfg;
    char err[4096];
    if (load_base(t, &cfg) != 0)
        return SW_EXIT_USAGE;
    sw_trace_opts_t opts;
    sw_sim_trace_opts(cfg, &opts);
    sw_cfg_destroy(cfg);
    opts.start_s = whole->start_s;
    opts.duration_s = whole->duration_s;
    sw_trace_t *tr = NULL;
    int rc = sw_trace_open(&tr, t->trace, &opts, err, sizeof err);
    if (rc == 0 && sw_trace_format(tr) != SW_TRACE_TIMESTAMPS) {
        sw_trace_close(tr);
        tr = NULL;
        opts.rate_scale = 1e-9;
        rc = sw_trace_open(&tr, t->trace, &opts, err, sizeof err);
    }
    if (rc < 0) {
        fprintf(stderr, "spillway tune: --trace: %s\n", err);
        return SW_EXIT_USAGE;
    }
    sw_time_t at;
    while ((rc = sw_trace_next(tr, &at)) == 1)
        ;
    /* Nothing has run: a trace that cannot be replayed is the caller's to fix. */
    if (rc < 0)
        fprintf(stderr, "spillway tune: --trace: %s\n", sw_trace_error(tr));
    else
        whole->duration_s = sw_time_to_s(sw_trace_covered(tr));
    sw_trace_close(tr);
    return rc < 0 ? SW_EXIT_USAGE : 0;
}

/* The training part [start, --train-until) and the held-back part [--train-until, end):
 * both must hold some of the window. */
static int split_windows(tune_t *t, const tune_opts_t *o)
{
    t->whole = (tune_window_t){0, 0};
    if ((o->start && parse_double("--start", o->start, 0, &t->whole.start_s)) ||
        (o->duration && parse_double("--duration", o->duration, 0, &t->whole.duration_s)))
        return SW_EXIT_USAGE;
    int rc = scan_window(t, &t->whole);
    if (rc != 0)
        return rc;
    double start = t->whole.start_s, end = start + t->whole.duration_s;
    if (!(t->train_until_s > start && t->train_until_s < end)) {
        fprintf(stderr,
                "spillway tune: --train-until %.10g: must fall inside the window "
                "[%.10g, %.10g) s of the trace, with some of it on each side (a training "
                "part before it and a held-back part after it)\n",
                t->train_until_s, start, end);
        return SW_EXIT_USAGE;
    }
    t->train = (tune_window_t){start, t->train_until_s - start};
    t->test = (tune_window_t){t->train_until_s, end - t->train_until_s};
    return 0;
}

/* ---- runs -------------------------------------------------------------------------- */

static tune_eval_t *new_eval(tune_t *t, const size_t *idx, tune_window_t w, const char *dir)
{
    tune_eval_t *e = sw_calloc(1, sizeof(*e));
    memcpy(e->idx, idx, sizeof e->idx);
    e->window = w;
    sw__cli_run_init(&e->run, dir);
    char buf[4200];
    const char *fixed[] = {"--config", t->config, "--trace", t->trace};
    for (size_t i = t->config ? 0 : 2; i < SW_ARRAY_LEN(fixed); i++)
        sw__cli_run_arg(&e->run, fixed[i]);
    for (size_t i = 0; i < t->n_pass; i += 2) {
        snprintf(buf, sizeof buf, "--%s", t->pass[i]);
        sw__cli_run_arg(&e->run, buf);
        sw__cli_run_arg(&e->run, t->pass[i + 1]);
    }
    sw__cli_run_arg(&e->run, "--start");
    snprintf(buf, sizeof buf, "%.17g", w.start_s);
    sw__cli_run_arg(&e->run, buf);
    sw__cli_run_arg(&e->run, "--duration");
    snprintf(buf, sizeof buf, "%.17g", w.duration_s);
    sw__cli_run_arg(&e->run, buf);
    /* Only the changed keys: the defaults' run is the base config's own. */
    for (size_t i = 0; i < t->n_keys; i++) {
        if (idx[i] == t->keys[i].def_idx)
            continue;
        size_t n = (size_t)snprintf(buf, sizeof buf, "%s=", t->keys[i].path);
        tune_value_text(&t->keys[i], t->keys[i].values[idx[i]], buf + n, sizeof buf - n);
        sw__cli_run_arg(&e->run, "--set");
        sw__cli_run_arg(&e->run, buf);
    }
    return e;
}

/* Runs the batch at once (at most --jobs at a time) and files it under t->evals. Any run
 * that failed stops the tuning: exit 1, naming its directory and what it said. */
static int run_batch(tune_t *t, tune_eval_t **batch, size_t n)
{
    sw__cli_run_t *runs = sw_calloc(n ? n : 1, sizeof(*runs));
    for (size_t i = 0; i < n; i++)
        runs[i] = batch[i]->run;
    sw__cli_run_all(runs, n, t->jobs, "tune");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        batch[i]->run = runs[i];
        if (runs[i].error) {
            fprintf(stderr, "spillway tune: run %s failed (exit %d): %s\n", runs[i].dir,
                    runs[i].status, runs[i].error);
            rc = SW_EXIT_FAILURE;
        }
        if (t->n_evals == t->cap_evals) {
            t->cap_evals = t->cap_evals ? 2 * t->cap_evals : 32;
            t->evals = sw_realloc(t->evals, t->cap_evals * sizeof(*t->evals));
        }
        t->evals[t->n_evals++] = batch[i];
    }
    sw_free(runs);
    return rc;
}

/* ---- the search, on the training window only --------------------------------------- */

/* Whether a is a better choice than b: it meets the SLO where b does not; both meeting,
 * it is cheaper; neither, its attainment is higher. Equal on those, fewer keys changed. */
static bool better(const tune_t *t, const tune_eval_t *a, const tune_eval_t *b)
{
    const sw_run_summary_t *x = &a->run.sum, *y = &b->run.sum;
    if (x->slo_met != y->slo_met)
        return x->slo_met;
    double tol = 1e-9 * SW_MAX(fabs(x->cost_usd), fabs(y->cost_usd));
    if (x->slo_met && fabs(x->cost_usd - y->cost_usd) > tol)
        return x->cost_usd < y->cost_usd;
    if (!x->slo_met && x->slo_attainment != y->slo_attainment)
        return x->slo_attainment > y->slo_attainment;
    return tune_changes(t, a->idx) < tune_changes(t, b->idx);
}

static const tune_eval_t *find_eval(const tune_t *t, const size_t *idx)
{
    for (size_t i = 0; i < t->n_evals; i++)
        if (!t->evals[i]->is_test && memcmp(t->evals[i]->idx, idx, sizeof t->evals[i]->idx) == 0)
            return t->evals[i];
    return NULL;
}

/* Adds the setting to the batch unless it has run or is in the batch already. */
static void queue_setting(tune_t *t, const size_t *idx, tune_window_t train, tune_eval_t **batch,
                          size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (memcmp(batch[i]->idx, idx, sizeof batch[i]->idx) == 0)
            return;
    if (find_eval(t, idx))
        return;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/search/run-%03zu", t->out, t->n_evals + *n);
    batch[(*n)++] = new_eval(t, idx, train, dir);
}

/* Every combination of the keys' values, as one batch. */
static int search_grid(tune_t *t, tune_window_t train)
{
    tune_eval_t **batch = sw_calloc(t->max_runs, sizeof(*batch));
    size_t n = 0, idx[TUNE_MAX_KEYS] = {0};
    for (size_t i = 0; i < t->n_keys; i++)
        idx[i] = t->keys[i].def_idx;
    queue_setting(t, idx, train, batch, &n); /* the defaults first, as run-000 */
    for (size_t combo = 0; combo < t->max_runs; combo++) {
        size_t rest = combo;
        for (size_t i = t->n_keys; i-- > 0;) {
            idx[i] = rest % t->keys[i].n_values;
            rest /= t->keys[i].n_values;
        }
        queue_setting(t, idx, train, batch, &n);
    }
    int rc = run_batch(t, batch, n);
    sw_free(batch);
    return rc;
}

/* One key at a time from the defaults, the others held at the best so far. */
static int search_descent(tune_t *t, tune_window_t train)
{
    tune_eval_t **batch = sw_calloc(TUNE_MAX_VALUES + 1, sizeof(*batch));
    size_t cur[TUNE_MAX_KEYS] = {0}, idx[TUNE_MAX_KEYS], n = 0;
    for (size_t i = 0; i < t->n_keys; i++)
        cur[i] = t->keys[i].def_idx;
    queue_setting(t, cur, train, batch, &n);
    int rc = run_batch(t, batch, n);
    for (size_t round = 0; round < t->rounds && rc == 0; round++) {
        bool moved = false;
        for (size_t k = 0; k < t->n_keys && rc == 0; k++) {
            memcpy(idx, cur, sizeof idx);
            n = 0;
            for (size_t v = 0; v < t->keys[k].n_values; v++) {
                idx[k] = v;
                queue_setting(t, idx, train, batch, &n);
            }
            if ((rc = run_batch(t, batch, n)) != 0)
                break;
            const tune_eval_t *best = find_eval(t, cur);
            for (size_t v = 0; v < t->keys[k].n_values; v++) {
                idx[k] = v;
                const tune_eval_t *e = find_eval(t, idx);
                if (better(t, e, best))
                    best = e;
            }
            moved |= best->idx[k] != cur[k];
            cur[k] = best->idx[k];
        }
        if (!moved)
            break;
    }
    sw_free(batch);
    return rc;
}

/* The search's whole input is the training window: it has no way to name another. */
static int search(tune_t *t, tune_window_t train)
{
    int rc = t->grid ? search_grid(t, train) : search_descent(t, train);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < t->n_evals; i++) {
        const tune_eval_t *e = t->evals[i];
        if (!t->train_best || better(t, e, t->train_best))
            t->train_best = e;
        if (tune_changes(t, e->idx) == 0)
            t->train_def = e;
    }
    t->met = t->train_best->run.sum.slo_met;
    return 0;
}

/* Plans the search: the grid's size, or coordinate descent's bound on its runs. */
static void plan_search(tune_t *t)
{
    size_t grid = 1, steps = 0;
    for (size_t i = 0; i < t->n_keys; i++) {
        grid = grid > MAX_GRID ? grid : grid * t->keys[i].n_values;
        steps += t->keys[i].n_values - 1;
    }
    t->grid = grid <= MAX_GRID;
    t->rounds = MAX_ROUNDS;
    t->max_runs = t->grid ? grid : 1 + MAX_ROUNDS * steps;
}

/* ---- the held-back part ------------------------------------------------------------ */

/* The defaults and the choice on the held-back part, once the choice is made. */
static int run_test(tune_t *t)
{
    tune_eval_t *batch[2];
    size_t n = 0, def[TUNE_MAX_KEYS] = {0};
    char dir[4200];
    for (size_t i = 0; i < t->n_keys; i++)
        def[i] = t->keys[i].def_idx;
    snprintf(dir, sizeof dir, "%s/test/defaults", t->out);
    batch[n++] = new_eval(t, def, t->test, dir);
    if (tune_changes(t, t->train_best->idx) > 0) {
        snprintf(dir, sizeof dir, "%s/test/chosen", t->out);
        batch[n++] = new_eval(t, t->train_best->idx, t->test, dir);
    }
    for (size_t i = 0; i < n; i++)
        batch[i]->is_test = true;
    int rc = run_batch(t, batch, n);
    t->test_def = batch[0];
    t->test_best = batch[n - 1];
    return rc;
}

/* ---- main -------------------------------------------------------------------------- */

static int make_dirs(const tune_t *t)
{
    static const char *const sub[] = {"", "/search", "/test"};
    char dir[4200];
    for (size_t i = 0; i < SW_ARRAY_LEN(sub); i++) {
        snprintf(dir, sizeof dir, "%s%s", t->out, sub[i]);
        if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
            fprintf(stderr, "spillway tune: cannot create %s: %s\n", dir, strerror(errno));
            return SW_EXIT_FAILURE;
        }
    }
    return 0;
}

/* Options, keys, candidates and windows, all checked before anything runs. */
static int prepare(tune_t *t, tune_opts_t *o, int argc, char **argv)
{
    int rc = parse_args(argc, argv, t, o);
    if (rc != 0)
        return rc;
    sw_cfg_t *cfg;
    if ((rc = load_base(t, &cfg)) != 0)
        return rc;
    if (cfg->predictor.model_path && *cfg->predictor.model_path)
        t->model_path = sw_strdup(cfg->predictor.model_path);
    for (size_t i = 0; i < o->n_key_args && rc == 0; i++)
        rc = parse_key_arg(t, cfg, o->key_args[i]);
    if (rc == 0 && o->n_key_args == 0)
        rc = default_keys(t, cfg);
    if (rc == 0 && t->n_keys == 0) {
        fprintf(stderr, "spillway tune: --keys: no key named\n");
        rc = SW_EXIT_USAGE;
    }
    sw_cfg_destroy(cfg);
    if (rc == 0)
        rc = check_values(t);
    if (rc == 0)
        rc = split_windows(t, o);
    return rc;
}

static void free_tune(tune_t *t, tune_opts_t *o)
{
    for (size_t i = 0; i < o->n_key_args; i++)
        sw_free(o->key_args[i]);
    for (size_t i = 0; i < t->n_keys; i++)
        sw_free(t->keys[i].path);
    for (size_t i = 0; i < t->n_evals; i++) {
        sw__cli_run_deinit(&t->evals[i]->run);
        sw_free(t->evals[i]);
    }
    sw_free(t->evals);
    sw_free(t->model_path);
}

static void print_plan(const tune_t *t)
{
    printf("spillway tune: %zu key%s on [%.10g, %.10g) s, reported on [%.10g, %.10g) s\n",
           t->n_keys, t->n_keys == 1 ? "" : "s", t->train.start_s, t->train_until_s,
           t->test.start_s, t->test.start_s + t->test.duration_s);
    for (size_t i = 0; i < t->n_keys; i++) {
        const tune_key_t *k = &t->keys[i];
        char v[64];
        printf("  %-34s", k->path);
        for (size_t j = 0; j < k->n_values; j++) {
            tune_value_text(k, k->values[j], v, sizeof v);
            printf(j == k->def_idx ? " [%s]" : " %s", v);
        }
        printf("%s\n", k->given ? "" : "  (derived)");
    }
    printf("  search: %s, %s%zu runs, %ld at a time, then 1 or 2 on the held-back part\n",
           t->grid ? "the whole grid" : "coordinate descent", t->grid ? "" : "at most ",
           t->max_runs, t->jobs);
    if (t->model_path)
        printf("  note: predictor.model_path %s must have been fitted without [%.10g, %.10g) s; "
               "tune cannot check it\n",
               t->model_path, t->test.start_s, t->test.start_s + t->test.duration_s);
    fflush(stdout);
}

int sw_cli_cmd_tune(int argc, char **argv)
{
    tune_t t = {.out = "tune-out", .jobs = sysconf(_SC_NPROCESSORS_ONLN)};
    tune_opts_t o = {0};
    int rc = prepare(&t, &o, argc, argv);
    if (rc == 0)
        rc = make_dirs(&t);
    if (rc != 0) {
        free_tune(&t, &o);
        return rc < 0 ? SW_EXIT_OK : rc;
    }
    if (t.jobs < 1)
        t.jobs = 1;
    plan_search(&t);
    print_plan(&t);
    rc = search(&t, t.train);
    if (rc == 0)
        rc = run_test(&t);
    if (rc == 0) {
        tune_print_table(&t);
        rc = tune_write_outputs(&t) != 0 || !t.met ? SW_EXIT_FAILURE : SW_EXIT_OK;
    }
    free_tune(&t, &o);
    return rc;
}
