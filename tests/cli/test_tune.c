/* Black-box tests of `spillway tune`: on a trace whose training part wants another
 * setting than the base config's it chooses a cheaper one that meets the SLO, and its
 * fragment and --set arguments reproduce the training figures; the search never runs on
 * the held-back part, even where that part would choose otherwise; bad input is refused
 * before anything runs, and a run that fails is named with what it said. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "tests/cli/cli_helpers.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes a test's folder with the run directories tune wrote below it. */
static void rm_tree(char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* A counts-per-second trace: `low` requests a second for `low_s` seconds, then `high`
 * for `high_s`. */
static char *write_trace(const char *dir, unsigned low, unsigned low_s, unsigned high,
                         unsigned high_s)
{
    char *path = cli_path_in(dir, "trace.txt");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    for (unsigned s = 0; s < low_s + high_s; s++)
        fprintf(f, "%u\n", s < low_s ? low : high);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* A policy that keeps 4 VMs up whatever the load: on a light load, functions alone meet
 * the SLO for less, so a good tuner lowers the minimum pool. */
static const char base_policy[] = "policy:\n  mark:\n    min_instances: 4\n";

static json_t *load_json(const char *dir, const char *name)
{
    char *p = cli_path_in(dir, name);
    json_error_t jerr;
    json_t *root = json_load_file(p, 0, &jerr);
    cr_assert_not_null(root, "%s:%d: %s", p, jerr.line, jerr.text);
    free(p);
    return root;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "no number %s", key);
    return json_number_value(v);
}

/* The `--set K=V` arguments tune printed on its "apply:" line, split into argv[n..]. */
static size_t apply_args(char *out, const char **argv, size_t n, size_t max)
{
    char *line = strstr(out, "apply: ");
    cr_assert_not_null(line, "no apply line in:\n%s", out);
    line += strlen("apply: ");
    line[strcspn(line, "\n")] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        cr_assert_lt(n, max);
        argv[n++] = tok;
    }
    return n;
}

/* Tunes `trace` from the policy `base` over `keys`, training on its first hour, into
 * dir/name; expects success and returns tune.json, and tune's stdout in *so when so is
 * not NULL. */
static json_t *tune_into(const char *dir, const char *name, const char *trace, const char *base,
                         const char *keys, char **so)
{
    char *out = cli_path_in(dir, name), *o, *e;
    const char *argv[] = {SPILLWAY,        "tune", "--config", base, "--trace", trace,
                          "--train-until", "3600", "--keys",   keys, "--jobs",  "2",
                          "--out",         out,    NULL};
    int rc = cli_run(argv, &o, &e);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, o, e);
    json_t *root = load_json(out, "tune.json");
    if (so)
        *so = o;
    else
        free(o);
    free(out), free(e);
    return root;
}

Test(cli_tune, chooses_a_cheaper_setting_whose_fragment_reproduces_it, .timeout = 300)
{
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out"), *so;
    char *trace = write_trace(dir, 2, 3600, 2, 1800);
    char *base = cli_write_file(dir, "base.yaml", base_policy);
    json_t *root = tune_into(dir, "out", trace, base, "policy.mark.min_instances", &so);
    cr_assert_not_null(strstr(so, "the whole grid"), "%s", so);

    json_t *choice = json_object_get(root, "choice");
    json_t *set = json_object_get(choice, "settings");
    double chosen = num(set, "policy.mark.min_instances");
    cr_assert_lt(chosen, 4, "kept a pool the light load does not need");
    json_t *td = json_object_get(choice, "train_defaults"),
           *tc = json_object_get(choice, "train_chosen");
    cr_assert_lt(num(tc, "cost_usd"), num(td, "cost_usd"));
    cr_assert(json_is_true(json_object_get(tc, "slo_met")));
    cr_assert(json_is_true(json_object_get(choice, "slo_met_on_train")));

    /* The fragment loads as a policy file and holds the choice, and nothing else. */
    char *frag = cli_path_in(out, "tuned.yaml");
    const char *check[] = {SPILLWAY, "check-config", frag, NULL};
    char *co, *ce;
    cr_assert_eq(cli_run(check, &co, &ce), 0, "%s", ce);
    sw_cfg_t *cfg;
    char err[4096];
    cr_assert_eq(sw_cfg_load(frag, &cfg, err, sizeof err), 0, "%s", err);
    double v;
    cr_assert_eq(sw_cfg_get_number(cfg, "policy.mark.min_instances", &v, err, sizeof err), 0);
    cr_assert_eq(v, chosen);
    sw_cfg_destroy(cfg);
    char *text = cli_read_output(out, "tuned.yaml");
    cr_assert_not_null(strstr(text, "# spillway tune"), "%s", text);
    cr_assert_eq(json_object_size(set), 1);

    /* Applied to the base with the printed arguments, it gives the training figures. */
    char *run = cli_path_in(dir, "again");
    const char *sim[32] = {SPILLWAY,        "simulate", "--config", base,         "--trace",
                           trace,           "--start",  "0",        "--duration", "3600",
                           "--no-progress", "--out",    run};
    size_t n = apply_args(so, sim, 13, 31);
    sim[n] = NULL;
    char *sso, *sse;
    cr_assert_eq(cli_run(sim, &sso, &sse), 0, "%s", sse);
    json_t *sum = load_json(run, "summary.json");
    double cost = num(json_object_get(sum, "cost_usd"), "total");
    cr_assert(fabs(cost - num(tc, "cost_usd")) <= 1e-9 * cost, "%.10f vs %.10f", cost,
              num(tc, "cost_usd"));
    cr_assert_eq(num(sum, "slo_attainment"), num(tc, "slo_attainment"));

    json_decref(sum);
    json_decref(root);
    free(text), free(frag), free(run), free(trace), free(base), free(out);
    free(so), free(co), free(ce), free(sso), free(sse);
    rm_tree(dir);
}

/* Checks the runs' windows: the search's within the first hour, then the defaults and
 * the choice on the rest. Returns the training runs' figures, in order, as a string. */
static char *check_windows(json_t *root)
{
    json_t *runs = json_object_get(root, "runs"), *r;
    size_t i, train = 0, test = 0;
    char *figures = calloc(1, 4096);
    cr_assert_not_null(figures);
    json_array_foreach(runs, i, r)
    {
        json_t *w = json_object_get(r, "window");
        bool is_train = strcmp(json_string_value(json_object_get(r, "part")), "train") == 0;
        cr_assert(!is_train || test == 0, "a search run after the held-back runs");
        train += is_train;
        test += !is_train;
        if (!is_train) {
            cr_assert(num(w, "start_s") == 3600 && num(w, "end_s") == 5400);
            continue;
        }
        cr_assert(num(w, "start_s") == 0 && num(w, "end_s") <= 3600, "a search run on [%g, %g)",
                  num(w, "start_s"), num(w, "end_s"));
        char *set = json_dumps(json_object_get(r, "settings"), JSON_SORT_KEYS);
        size_t n = strlen(figures);
        snprintf(figures + n, 4096 - n, "%s %.10f %.10f\n", set, num(r, "cost_usd"),
                 num(r, "slo_attainment"));
        free(set);
    }
    cr_assert_eq(train, 3);
    cr_assert_eq(test, 2, "defaults and the choice, once each, after the search");
    return figures;
}

Test(cli_tune, never_searches_on_the_held_back_part, .timeout = 300)
{
    /* Two traces with the same first hour and different second parts, one 100 times
     * heavier: if the search saw any of the second part, its figures would differ. */
    char *dir = cli_make_dir(), *light = cli_make_dir(), *heavy = cli_make_dir();
    char *trace_l = write_trace(light, 1, 3600, 1, 1800);
    char *trace_h = write_trace(heavy, 1, 3600, 100, 1800);
    char *base = cli_write_file(dir, "base.yaml", base_policy);
    const char *keys = "policy.mark.min_instances=0,4,8";
    json_t *a = tune_into(dir, "light", trace_l, base, keys, NULL);
    json_t *b = tune_into(dir, "heavy", trace_h, base, keys, NULL);
    char *fa = check_windows(a), *fb = check_windows(b);
    cr_assert_str_eq(fa, fb, "the search's runs differ with the held-back part");
    json_t *ca = json_object_get(a, "choice"), *cb = json_object_get(b, "choice");
    cr_assert(json_equal(json_object_get(ca, "settings"), json_object_get(cb, "settings")));
    cr_assert_neq(num(json_object_get(ca, "test_defaults"), "cost_usd"),
                  num(json_object_get(cb, "test_defaults"), "cost_usd"));
    json_decref(a);
    json_decref(b);
    free(fa), free(fb), free(trace_l), free(trace_h), free(base);
    rm_tree(light);
    rm_tree(heavy);
    rm_tree(dir);
}

/* Runs tune with args (after "tune"; "TRACE" stands for a 20-minute trace, "BASE" for a
 * policy file holding base_yaml) and expects exit status want_rc and a message on stderr
 * holding `want`. A refusal (2) must come before anything ran: no output folder. */
static void tune_fails(const char *const *args, const char *base_yaml, int want_rc,
                       const char *want)
{
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out");
    char *trace = write_trace(dir, 2, 600, 2, 600);
    char *base = cli_write_file(dir, "base.yaml", base_yaml ? base_yaml : "");
    const char *argv[32] = {SPILLWAY, "tune", "--out", out};
    size_t n = 4;
    for (; *args; args++)
        argv[n++] = strcmp(*args, "TRACE") == 0 ? trace : strcmp(*args, "BASE") == 0 ? base : *args;
    argv[n] = NULL;
    char *so, *se;
    int rc = cli_run(argv, &so, &se);
    cr_assert_eq(rc, want_rc, "exit %d for %s\n%s", rc, want, se);
    cr_assert_not_null(strstr(se, want), "wanted '%s' in:\n%s", want, se);
    if (want_rc == 2)
        cr_assert_neq(access(out, F_OK), 0, "ran something before refusing");
    free(trace), free(base), free(out), free(so), free(se);
    rm_tree(dir);
}

static void refused(const char *const *args, const char *want)
{
    tune_fails(args, NULL, 2, want);
}

Test(cli_tune, bad_input_is_refused_before_anything_runs, .timeout = 120)
{
    const char *at_end[] = {"--trace", "TRACE", "--train-until", "1200", NULL};
    refused(at_end, "--train-until 1200: must fall inside the window [0, 1200)");
    const char *past_end[] = {"--trace", "TRACE", "--train-until", "5000", NULL};
    refused(past_end, "--train-until 5000");
    const char *before[] = {"--trace", "TRACE", "--start", "700", "--train-until", "600", NULL};
    refused(before, "--train-until 600: must fall inside the window [700, 1200)");
    const char *unknown[] = {"--trace",          "TRACE", "--train-until", "600", "--keys",
                             "policy.mark.nope", NULL};
    refused(unknown, "policy.mark.nope: unknown key");
    const char *not_num[] = {"--trace",        "TRACE", "--train-until", "600", "--keys",
                             "predictor.name", NULL};
    refused(not_num, "predictor.name: not a number");
    const char *range[] = {"--trace", "TRACE",  "--train-until",
                           "600",     "--keys", "policy.mark.target_utilization=0.8,1.5",
                           NULL};
    refused(range, "policy.mark.target_utilization=1.5");
    const char *goal[] = {"--trace", "TRACE", "--train-until", "600", "--keys", "slo.target", NULL};
    refused(goal, "slo.target says what is measured");
    const char *no_trace[] = {"--train-until", "600", NULL};
    refused(no_trace, "--trace and --train-until are required");
    const char *missing[] = {"--trace", "/nonexistent/trace.txt", "--train-until", "600", NULL};
    refused(missing, "/nonexistent/trace.txt");
    const char *twice[] = {"--trace", "TRACE",  "--train-until",
                           "600",     "--keys", "policy.interval_s,policy.interval_s=30",
                           NULL};
    refused(twice, "policy.interval_s named twice");
    const char *none[] = {"--trace", "TRACE", "--train-until", "600", "--keys", ",", NULL};
    refused(none, "--keys: no key named");
    const char *bool_key[] = {"--trace",           "TRACE", "--train-until", "600", "--keys",
                              "policy.mark.spill", NULL};
    refused(bool_key, "policy.mark.spill: not a number");
}

Test(cli_tune, interval_of_a_saved_forecaster_is_refused, .timeout = 60)
{
    const char *args[] = {"--config", "BASE",   "--trace",           "TRACE", "--train-until",
                          "600",      "--keys", "policy.interval_s", NULL};
    tune_fails(args, "predictor: {name: last, model_path: /nonexistent/last.pb}\n", 2,
               "policy.interval_s cannot change while predictor.model_path is set");
}

Test(cli_tune, failed_run_is_named_with_its_stderr, .timeout = 120)
{
    /* The config loads, but the forecaster file is only read by each run. */
    const char *args[] = {"--config",
                          "BASE",
                          "--trace",
                          "TRACE",
                          "--train-until",
                          "600",
                          "--keys",
                          "policy.mark.min_instances=0,1",
                          NULL};
    tune_fails(args, "predictor:\n  name: ar\n  model_path: /nonexistent/ar.pb\n", 1,
               "/search/run-000 failed (exit 2): spillway simulate: predictor.model_path: "
               "/nonexistent/ar.pb");
}

Test(cli_tune, no_setting_meeting_the_slo_picks_the_highest_attainment, .timeout = 300)
{
    /* A target no setting reaches on this load: functions' cold starts alone miss it. */
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out");
    char *trace = write_trace(dir, 2, 1800, 2, 600);
    char *base = cli_write_file(dir, "base.yaml", "slo: {target: 0.99999}\n");
    const char *argv[] = {SPILLWAY,
                          "tune",
                          "--config",
                          base,
                          "--trace",
                          trace,
                          "--train-until",
                          "1800",
                          "--keys",
                          "policy.mark.min_instances=0,1,2",
                          "--out",
                          out,
                          NULL};
    char *so, *se;
    int rc = cli_run(argv, &so, &se);
    cr_assert_eq(rc, 1, "exit %d\n%s\n%s", rc, so, se);
    cr_assert_not_null(strstr(so, "NO setting met the SLO"), "%s", so);
    json_t *root = load_json(out, "tune.json"), *choice = json_object_get(root, "choice");
    cr_assert(json_is_false(json_object_get(choice, "slo_met_on_train")));
    double best = num(json_object_get(choice, "train_chosen"), "slo_attainment");
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(root, "runs"), i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "part")), "train") == 0)
            cr_assert_leq(num(r, "slo_attainment"), best);
    }
    char *text = cli_read_output(out, "tuned.yaml");
    cr_assert_not_null(strstr(text, "NO setting met the SLO"), "%s", text);
    json_decref(root);
    free(text), free(trace), free(base), free(out), free(so), free(se);
    rm_tree(dir);
}
