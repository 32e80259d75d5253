/* `spillway compare`: runs `spillway simulate` once per policy and --set grid point, each in
 * its own process so runs share nothing and use every core, then tabulates the summaries,
 * with any run directories given by --run (a live `spillway serve` run beside simulated
 * ones), as comparison.json, comparison.csv and comparison.html. Summaries are read with
 * runs/summary.h and the scatter is drawn with runs/svg.h, as `spillway report` does. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/common.h"
#include "cli/cli.h"
#include "cli/sim_runs.h"
#include "runs/report.h"
#include "runs/summary.h"
#include "runs/svg.h"

/* ERR_BUF fits a path and a message. */
enum { MAX_POLICIES = 16, MAX_SETS = 16, MAX_VALUES = 64, ERR_BUF = 8192 };
/* Runs in one comparison: every policy times every combination of --set values, which the
 * limits above would let reach 16 x 64^16. A thousand runs of a day's trace are hours on a
 * large machine. */
enum { MAX_RUNS = 1024 };
/* Run directories given with --run: each is read whole (its timeline too) for its report. */
enum { MAX_GIVEN = 64 };

typedef struct sweep {
    char *key;
    char *values[MAX_VALUES];
    size_t n_values;
} sweep_t;

typedef struct cmp_args {
    const char *config, *out;
    /* Options passed through to every simulate unchanged, as "--opt", "value" pairs. */
    const char *pass[16];
    size_t n_pass;
    char *policies[MAX_POLICIES];
    size_t n_policies;
    sweep_t sets[MAX_SETS];
    size_t n_sets;
    long jobs;
    char *policy_list; /* owns the strings policies[] points into */
    const char *given[MAX_GIVEN]; /* --run directories, tabulated as they are */
    size_t n_given;
} cmp_args_t;

/* One row of the comparison: a grid point run here, or a run directory given with --run
 * (after the grid's rows). */
typedef struct row {
    const char *given; /* the --run directory, or NULL for a grid point */
    size_t policy;
    size_t value_idx[MAX_SETS];
    size_t combo; /* index of the set values, shared by the rows of every policy */
    sw__cli_run_t *run; /* its run: status, and summary read when run->error is NULL */
    double rel_oracle, rel_clairvoyant; /* cost / each bound's of the same point */
    char *report; /* its report.html, relative to --out, once written */
} row_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: spillway compare [--config FILE] [--trace FILE] --policies P1,P2,...\n"
               "                        [--jobs N] [--set KEY=V1,V2,...]... --out DIR\n"
               "                        [--trace-format F] [--rate-scale K] [--seed N]\n"
               "                        [--start S] [--duration S] [--run RUN_DIR]...\n\n"
               "Runs `spillway simulate` for every policy and every combination of --set values,\n"
               "at most N at a time (default: one per online CPU), each into DIR/run-NNN, and\n"
               "writes DIR/comparison.json, DIR/comparison.csv and DIR/comparison.html.\n"
               "--run RUN_DIR (or --live RUN_DIR; repeatable) adds a finished run directory,\n"
               "such as a `spillway serve --out RUN_DIR` run, as a row beside them, labelled\n"
               "with its folder's name and \"live\" or \"simulated\"; with --run, --policies\n"
               "may be left out to tabulate the given runs alone.\n"
               "Exit status: 0 all runs succeeded, 1 some run failed, 2 usage or configuration\n"
               "error, or a --run directory that cannot be read (nothing was run).\n");
}

/* Splits a comma-separated list in place. An empty value (",," or a comma at an end) and
 * a value given twice are refused: each would be a typo run as something else, or the
 * same run twice under two names. */
static int split_list(char *list, char **out, size_t max, const char *what)
{
    size_t n = 0;
    for (char *tok = list, *comma; tok; tok = comma ? comma + 1 : NULL) {
        if ((comma = strchr(tok, ',')))
            *comma = '\0';
        if (!*tok) {
            fprintf(stderr, "spillway compare: %s: an empty value (two commas in a row, or "
                            "one at an end)\n", what);
            return -1;
        }
        for (size_t k = 0; k < n; k++)
            if (strcmp(out[k], tok) == 0) {
                fprintf(stderr, "spillway compare: %s: '%s' is given twice\n", what, tok);
                return -1;
            }
        if (n == max) {
            fprintf(stderr, "spillway compare: %s: more than %zu values\n", what, max);
            return -1;
        }
        out[n++] = tok;
    }
    return (int)n;
}

static int add_sweep(cmp_args_t *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || a->n_sets == MAX_SETS) {
        fprintf(stderr, "spillway compare: --set %s: expected KEY=V1,V2,... (at most %d)\n", arg,
                MAX_SETS);
        return -1;
    }
    sweep_t *s = &a->sets[a->n_sets++];
    s->key = sw_strdup(arg);
    s->key[eq - arg] = '\0';
    char what[256];
    snprintf(what, sizeof what, "--set %.200s%s", arg, strlen(arg) > 200 ? "..." : "");
    int n = split_list(s->key + (eq - arg) + 1, s->values, MAX_VALUES, what);
    if (n < 0)
        return -1;
    s->n_values = (size_t)n;
    return 0;
}

static int parse_args(int argc, char **argv, cmp_args_t *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"policies", required_argument, NULL, 'p'},
        {"jobs", required_argument, NULL, 'j'},
        {"set", required_argument, NULL, 's'},
        {"run", required_argument, NULL, 'r'},
        {"live", required_argument, NULL, 'r'},
        {"trace", required_argument, NULL, 1},
        {"trace-format", required_argument, NULL, 1},
        {"rate-scale", required_argument, NULL, 1},
        {"seed", required_argument, NULL, 1},
        {"start", required_argument, NULL, 1},
        {"duration", required_argument, NULL, 1},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c, idx = 0;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:p:j:s:h", longopts, &idx)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'o': a->out = optarg; break;
        case 'h': usage(stdout); return -1;
        case 's':
            if (add_sweep(a, optarg) < 0)
                return SW_EXIT_USAGE;
            break;
        case 'p': {
            sw_free(a->policy_list);
            a->policy_list = sw_strdup(optarg);
            int n = split_list(a->policy_list, a->policies, MAX_POLICIES, "--policies");
            if (n < 0)
                return SW_EXIT_USAGE;
            a->n_policies = (size_t)n;
            break;
        }
        case 'r':
            if (a->n_given == MAX_GIVEN) {
                fprintf(stderr, "spillway compare: --run: more than %d run directories\n",
                        MAX_GIVEN);
                return SW_EXIT_USAGE;
            }
            a->given[a->n_given++] = optarg;
            break;
        case 'j':
            a->jobs = strtol(optarg, &end, 10);
            if (*end || end == optarg || a->jobs < 1 || a->jobs > 4096) {
                fprintf(stderr, "spillway compare: --jobs %s: expected 1 to 4096\n", optarg);
                return SW_EXIT_USAGE;
            }
            break;
        case 1:
            if (a->n_pass + 2 > SW_ARRAY_LEN(a->pass))
                return SW_EXIT_USAGE;
            a->pass[a->n_pass++] = longopts[idx].name;
            a->pass[a->n_pass++] = optarg;
            break;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
    }
    if (optind != argc || !a->out || (a->n_policies == 0 && a->n_given == 0)) {
        fprintf(stderr, "spillway compare: %s\n\n",
                optind != argc ? "unexpected argument"
                               : "--out and --policies (or --run) are required");
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    if (a->n_policies == 0 && (a->n_sets > 0 || a->n_pass > 0)) {
        fprintf(stderr, "spillway compare: --set and the trace options shape the runs of "
                        "--policies, and none was given\n");
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* The pass-through options as config overrides, so they are checked like simulate will. */
static int apply_pass(const cmp_args_t *a, sw_cfg_t *cfg)
{
    for (size_t i = 0; i < a->n_pass; i += 2) {
        sw_cli_override_t o = {.option = a->pass[i], .text = a->pass[i + 1]};
        if (sw__cli_apply_override(cfg, &o) != 0)
            return SW_EXIT_USAGE;
    }
    return 0;
}

/* The grid's size, refused past MAX_RUNS before the product can overflow. */
static int check_grid(const cmp_args_t *a)
{
    size_t n = a->n_policies;
    for (size_t s = 0; s < a->n_sets && n <= MAX_RUNS; s++)
        n = a->sets[s].n_values > MAX_RUNS / n ? MAX_RUNS + 1 : n * a->sets[s].n_values;
    if (n <= MAX_RUNS)
        return 0;
    fprintf(stderr,
            "spillway compare: %zu policies times the --set values make more than the "
            "%d runs a comparison may hold: sweep fewer values, or split it\n",
            a->n_policies, MAX_RUNS);
    return SW_EXIT_USAGE;
}

/* Every policy name and every --set value is checked against a fresh config, so a typo in
 * the last value of a sweep is reported before hours of runs rather than after. */
static int validate_grid(const cmp_args_t *a)
{
    if (check_grid(a) != 0)
        return SW_EXIT_USAGE;
    sw_policy_kind_t kind;
    for (size_t i = 0; i < a->n_policies; i++)
        if (sw_policy_from_name(a->policies[i], &kind) < 0) {
            fprintf(stderr,
                    "spillway compare: --policies: unknown policy '%s' (expected "
                    "static, reactive, faas-only, mark, oracle or clairvoyant)\n",
                    a->policies[i]);
            return SW_EXIT_USAGE;
        }
    sw_cfg_t *cfg;
    int rc = sw__cli_load_config(a->config, &cfg);
    if (rc != 0)
        return rc;
    rc = apply_pass(a, cfg);
    sw_cfg_destroy(cfg);
    char buf[4096];
    for (size_t s = 0; s < a->n_sets && rc == 0; s++)
        for (size_t v = 0; v < a->sets[s].n_values && rc == 0; v++) {
            if ((rc = sw__cli_load_config(a->config, &cfg)) != 0)
                break;
            snprintf(buf, sizeof buf, "%s=%s", a->sets[s].key, a->sets[s].values[v]);
            rc = sw__cli_apply_set(cfg, buf);
            sw_cfg_destroy(cfg);
        }
    return rc;
}

/* Whether `dir` is a folder holding a summary.json; if not, says which it is not, so that
 * a mistyped path or the wrong folder reads as such rather than as a missing file. */
static bool is_run_dir(const char *dir)
{
    char path[4200];
    struct stat st;
    int err = stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (err) {
        fprintf(stderr, "spillway compare: --run %s: %s\n", dir, strerror(err));
        return false;
    }
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if (stat(path, &st) < 0 && errno == ENOENT) {
        fprintf(stderr, "spillway compare: --run %s: not a run directory: it has no "
                        "summary.json (`spillway serve --out` and `spillway simulate --out` "
                        "write one)\n", dir);
        return false;
    }
    return true;
}

/* A --run directory is read as `spillway report` reads one, summary and timeline, before
 * anything runs: a damaged one is the caller's to fix, and named with its file and field. */
static int validate(const cmp_args_t *a)
{
    int rc = a->n_policies > 0 ? validate_grid(a) : 0;
    for (size_t i = 0; i < a->n_given && rc == 0; i++) {
        char err[ERR_BUF];
        sw_run_report_t *rep;
        if (!is_run_dir(a->given[i]))
            return SW_EXIT_USAGE;
        int load = sw_run_report_load(&rep, a->given[i], err, sizeof err);
        if (load < 0) {
            fprintf(stderr, "spillway compare: --run %s: %s\n", a->given[i], err);
            rc = sw__cli_file_status(load);
        }
        sw_run_report_destroy(rep);
    }
    return rc;
}

static size_t n_combos(const cmp_args_t *a)
{
    size_t n = 1;
    for (size_t s = 0; s < a->n_sets; s++)
        n *= a->sets[s].n_values;
    return n;
}

/* The grid's rows, every policy times every combination of --set values, then one row per
 * --run directory; *runs gets their runs in the same order (the grid's first, so they can
 * be run as one batch), which the rows point into. */
static row_t *make_rows(const cmp_args_t *a, size_t *n_grid, size_t *n_rows,
                        sw__cli_run_t **runs)
{
    size_t combos = n_combos(a);
    *n_grid = combos * a->n_policies;
    *n_rows = *n_grid + a->n_given;
    row_t *rows = sw_calloc(*n_rows, sizeof(*rows));
    *runs = sw_calloc(*n_rows, sizeof(**runs));
    char dir[4096];
    for (size_t i = 0; i < *n_rows; i++) {
        row_t *r = &rows[i];
        r->rel_oracle = r->rel_clairvoyant = NAN;
        r->run = &(*runs)[i];
        if (i >= *n_grid) {
            r->given = a->given[i - *n_grid];
            sw__cli_run_init(r->run, r->given);
            continue;
        }
        snprintf(dir, sizeof dir, "%s/run-%03zu", a->out, i);
        sw__cli_run_init(r->run, dir);
        r->policy = i / combos;
        r->combo = i % combos;
        size_t rest = r->combo;
        for (size_t s = a->n_sets; s-- > 0;) {
            r->value_idx[s] = rest % a->sets[s].n_values;
            rest /= a->sets[s].n_values;
        }
    }
    return rows;
}

/* A grid point's simulate arguments: the config, the options passed through, its policy
 * and its --set values. */
static void add_run_args(const cmp_args_t *a, row_t *r)
{
    char opt[64], set[1024];
    if (a->config) {
        sw__cli_run_arg(r->run, "--config");
        sw__cli_run_arg(r->run, a->config);
    }
    for (size_t k = 0; k < a->n_pass; k += 2) {
        snprintf(opt, sizeof opt, "--%s", a->pass[k]);
        sw__cli_run_arg(r->run, opt);
        sw__cli_run_arg(r->run, a->pass[k + 1]);
    }
    sw__cli_run_arg(r->run, "--policy");
    sw__cli_run_arg(r->run, a->policies[r->policy]);
    for (size_t s = 0; s < a->n_sets; s++) {
        snprintf(set, sizeof set, "%s=%s", a->sets[s].key, a->sets[s].values[r->value_idx[s]]);
        sw__cli_run_arg(r->run, "--set");
        sw__cli_run_arg(r->run, set);
    }
}

static const char *row_policy(const cmp_args_t *a, const row_t *r)
{
    return r->given ? r->run->sum.policy : a->policies[r->policy];
}

/* Whether two summaries are of the same trace and request count. */
static bool same_trace(const sw_run_summary_t *x, const sw_run_summary_t *y)
{
    return x->trace && y->trace && strcmp(x->trace, y->trace) == 0 && x->requests == y->requests;
}

/* The row that prices row i against `bound` (oracle or clairvoyant): that policy's run of
 * the same grid point, or, for a given run, its run of the same trace and request count
 * (as `spillway report --oracle` demands). Both know the future; the clairvoyant also
 * pays boots and minimums, so cost relative to it is the price of not knowing alone.
 * NULL when there is none. */
static const row_t *bound_of(const cmp_args_t *a, const row_t *rows, size_t n_rows, size_t i,
                             const char *bound)
{
    const row_t *r = &rows[i];
    for (size_t k = 0; k < n_rows && !r->run->error; k++) {
        const row_t *o = &rows[k];
        const char *policy = o->run->error ? NULL : row_policy(a, o);
        if (!policy || strcmp(policy, bound) != 0 || !(o->run->sum.cost_usd > 0))
            continue;
        if (!r->given && !o->given
                ? o->combo == r->combo
                : same_trace(&r->run->sum, &o->run->sum))
            return o;
    }
    return NULL;
}

/* Reads the given runs' summaries (the grid's were read as they finished) and prices
 * each row against the bounds. */
static void collect(const cmp_args_t *a, row_t *rows, size_t n_grid, size_t n_rows)
{
    for (size_t i = n_grid; i < n_rows; i++)
        if (sw__cli_run_read_summary(rows[i].run) < 0)
            rows[i].run->status = SW_EXIT_FAILURE;
    for (size_t i = 0; i < n_rows; i++) {
        const row_t *o = bound_of(a, rows, n_rows, i, "oracle");
        if (o)
            rows[i].rel_oracle = rows[i].run->sum.cost_usd / o->run->sum.cost_usd;
        const row_t *c = bound_of(a, rows, n_rows, i, "clairvoyant");
        if (c)
            rows[i].rel_clairvoyant = rows[i].run->sum.cost_usd / c->run->sum.cost_usd;
    }
}

/* Each run's own report, with its cost relative to each bound that ran: a grid
 * point's in its run folder, a given run's as DIR/given-NNN.html, since the given folder
 * is the caller's and is only read. A report that cannot be written costs its link, not
 * the comparison. */
static void write_run_reports(const cmp_args_t *a, row_t *rows, size_t n_grid, size_t n_rows)
{
    char rel[64], out[4200], err[ERR_BUF];
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].run->error)
            continue;
        const char *dir = rows[i].run->dir;
        sw_run_report_t *rep;
        if (sw_run_report_load(&rep, dir, err, sizeof err) < 0) {
            fprintf(stderr, "spillway compare: no report for %s: %s\n", dir, err);
            continue;
        }
        static const char *const bounds[] = {"oracle", "clairvoyant"};
        for (size_t b = 0; b < SW_ARRAY_LEN(bounds); b++) {
            const row_t *o = bound_of(a, rows, n_rows, i, bounds[b]);
            if (o && o != &rows[i] && sw_run_report_set_bound(rep, o->run->dir, err, sizeof err) < 0)
                fprintf(stderr, "spillway compare: %s\n", err);
        }
        if (rows[i].given)
            snprintf(rel, sizeof rel, "given-%03zu.html", i - n_grid);
        else
            snprintf(rel, sizeof rel, "run-%03zu/report.html", i);
        snprintf(out, sizeof out, "%s/%s", a->out, rel);
        if (sw_run_report_write(rep, out, err, sizeof err) < 0)
            fprintf(stderr, "spillway compare: %s\n", err);
        else
            rows[i].report = sw_strdup(rel);
        sw_run_report_destroy(rep);
    }
}

/* ---- the comparison's files -------------------------------------------------------- */

/* The last component of a path, without trailing slashes: how a given run is named. */
static void base_name(const char *path, char *buf, size_t len)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(buf, len, "%.*s", (int)(end - start), path + start);
}

/* Where the run came from: a given run says so in its summary; a grid point is
 * simulated. NULL for a given run whose summary could not be read. */
static const char *row_source(const row_t *r)
{
    if (r->run->error)
        return r->given ? NULL : "simulated";
    return sw_run_source_name(r->run->sum.source);
}

/* The row's name: "run-NNN", or a given run's folder name. */
static void row_name(const row_t *rows, size_t i, char *buf, size_t len)
{
    if (rows[i].given)
        base_name(rows[i].given, buf, len);
    else
        snprintf(buf, len, "run-%03zu", i);
}

/* The row's label in the table and the scatter: the policy and its --set values, or a
 * given run's folder name with where it came from and its policy. */
static void row_label(const cmp_args_t *a, const row_t *rows, size_t i, char *buf, size_t len)
{
    const row_t *r = &rows[i];
    if (r->given) {
        char name[256];
        const char *policy = r->run->error ? NULL : r->run->sum.policy, *source = row_source(r);
        base_name(r->given, name, sizeof name);
        snprintf(buf, len, "%s (%s%s%s)", name, source ? source : "unread", policy ? ", " : "",
                 policy ? policy : "");
        return;
    }
    size_t n = (size_t)snprintf(buf, len, "%s", a->policies[r->policy]);
    for (size_t s = 0; s < a->n_sets && n < len; s++)
        n += (size_t)snprintf(buf + n, len - n, " %s=%s", a->sets[s].key,
                              a->sets[s].values[r->value_idx[s]]);
}

static json_t *json_string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *row_json(const cmp_args_t *a, const row_t *rows, size_t i)
{
    const row_t *r = &rows[i];
    const sw_run_summary_t *s = &r->run->sum;
    char name[256];
    row_name(rows, i, name, sizeof name);
    json_t *o = json_object(), *set = json_object();
    json_object_set_new(o, "policy",
                        json_string_or_null(r->run->error && r->given ? NULL : row_policy(a, r)));
    json_object_set_new(o, "run", json_string(name));
    json_object_set_new(o, "dir", json_string(r->run->dir));
    json_object_set_new(o, "source", json_string_or_null(row_source(r)));
    for (size_t k = 0; k < a->n_sets && !r->given; k++)
        json_object_set_new(set, a->sets[k].key, json_string(a->sets[k].values[r->value_idx[k]]));
    json_object_set_new(o, "set", set);
    json_object_set_new(o, "exit_status", json_integer(r->run->status));
    if (r->run->error) {
        json_object_set_new(o, "error", json_string(r->run->error));
        return o;
    }
    json_object_set_new(o, "cost_usd", json_real(s->cost_usd));
    json_object_set_new(o, "vm_cost_usd", json_real(s->vm_cost_usd));
    json_object_set_new(o, "faas_cost_usd", json_real(s->faas_cost_usd));
    json_object_set_new(o, "slo_attainment", json_real(s->slo_attainment));
    json_object_set_new(o, "slo_target", json_real(s->slo_target));
    json_object_set_new(o, "slo_met", json_boolean(s->slo_met));
    json_object_set_new(o, "p99_ms", json_real(s->latency_p99_ms));
    json_object_set_new(o, "spill_share", json_real(sw_run_summary_spill_share(s)));
    json_object_set_new(o, "vm_hours", json_real(s->vm_billed_s / 3600.0));
    json_object_set_new(o, "cost_vs_oracle",
                        isnan(r->rel_oracle) ? json_null() : json_real(r->rel_oracle));
    json_object_set_new(o, "cost_vs_clairvoyant",
                        isnan(r->rel_clairvoyant) ? json_null() : json_real(r->rel_clairvoyant));
    return o;
}

static int write_json(const cmp_args_t *a, const row_t *rows, size_t n_rows)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/comparison.json", a->out);
    json_t *arr = json_array();
    for (size_t i = 0; i < n_rows; i++)
        json_array_append_new(arr, row_json(a, rows, i));
    int rc = json_dump_file(arr, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(arr);
    if (rc != 0)
        fprintf(stderr, "spillway compare: cannot write %s\n", path);
    return rc;
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fputs(*s == '"' ? "\"\"" : (char[]){*s, 0}, f);
    fputc('"', f);
}

static void csv_row(FILE *f, const cmp_args_t *a, const row_t *rows, size_t i)
{
    const row_t *r = &rows[i];
    const sw_run_summary_t *s = &r->run->sum;
    const char *policy = r->run->error && r->given ? NULL : row_policy(a, r), *source = row_source(r);
    char name[256];
    row_name(rows, i, name, sizeof name);
    csv_field(f, policy ? policy : "");
    for (size_t k = 0; k < a->n_sets; k++)
        fprintf(f, ",%s", r->given ? "" : a->sets[k].values[r->value_idx[k]]);
    fputc(',', f);
    csv_field(f, name);
    fprintf(f, ",%s,%d", source ? source : "", r->run->status);
    if (r->run->error)
        fputs(",,,,,,,,,,,", f); /* the eleven metric columns */
    else
        fprintf(f, ",%.6f,%.6f,%.6f,%.6f,%.6f,%s,%.3f,%.6f,%.4f,", s->cost_usd, s->vm_cost_usd,
                s->faas_cost_usd, s->slo_attainment, s->slo_target, s->slo_met ? "true" : "false",
                s->latency_p99_ms, sw_run_summary_spill_share(s), s->vm_billed_s / 3600.0);
    if (!r->run->error && !isnan(r->rel_oracle))
        fprintf(f, "%.4f", r->rel_oracle);
    fputc(',', f);
    if (!r->run->error && !isnan(r->rel_clairvoyant))
        fprintf(f, "%.4f", r->rel_clairvoyant);
    fputc(',', f);
    csv_field(f, r->run->error ? r->run->error : "");
    fputc('\n', f);
}

static int write_csv(const cmp_args_t *a, const row_t *rows, size_t n_rows)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/comparison.csv", a->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "spillway compare: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs("policy", f);
    for (size_t s = 0; s < a->n_sets; s++)
        fprintf(f, ",%s", a->sets[s].key);
    fputs(",run,source,exit_status,cost_usd,vm_cost_usd,faas_cost_usd,slo_attainment,"
          "slo_target,slo_met,p99_ms,spill_share,vm_hours,cost_vs_oracle,cost_vs_clairvoyant,"
          "error\n",
          f);
    for (size_t i = 0; i < n_rows; i++)
        csv_row(f, a, rows, i);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, "spillway compare: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static void html_table(FILE *f, const cmp_args_t *a, const row_t *rows, size_t n_rows)
{
    fputs("<table><tr><th>run</th><th>cost (USD)</th><th>VM cost (USD)</th>"
          "<th>SLO attainment</th><th>SLO met</th><th>p99 (ms)</th><th>spill share</th>"
          "<th>VM-hours</th><th>cost vs oracle</th><th>cost vs clairvoyant</th>"
          "<th>status</th></tr>\n",
          f);
    for (size_t i = 0; i < n_rows; i++) {
        const row_t *r = &rows[i];
        const sw_run_summary_t *s = &r->run->sum;
        char label[512];
        row_label(a, rows, i, label, sizeof label);
        fputs("<tr><td>", f);
        sw_svg_escaped(f, label);
        if (r->run->error) {
            fprintf(f, "</td><td colspan=9></td><td class=err>exit %d: ", r->run->status);
            sw_svg_escaped(f, r->run->error);
            fputs("</td></tr>\n", f);
            continue;
        }
        fprintf(f,
                "</td><td>%.2f</td><td>%.2f</td><td>%.3f %%</td><td>%s</td><td>%.1f</td>"
                "<td>%.2f %%</td><td>%.1f</td><td>",
                s->cost_usd, s->vm_cost_usd, s->slo_attainment * 100, s->slo_met ? "yes" : "no",
                s->latency_p99_ms, sw_run_summary_spill_share(s) * 100, s->vm_billed_s / 3600.0);
        if (!isnan(r->rel_oracle))
            fprintf(f, "%.2f&times;", r->rel_oracle);
        fputs("</td><td>", f);
        if (!isnan(r->rel_clairvoyant))
            fprintf(f, "%.2f&times;", r->rel_clairvoyant);
        fputs("</td><td>ok", f);
        if (r->report) {
            fputs(", <a href=\"", f);
            sw_svg_escaped(f, r->report);
            fputs("\">report</a>", f);
        }
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* The scatter: 720 x 440 px, its plot area 80 px from the left and 20 from the top. */
enum { SCATTER_W = 720, SCATTER_H = 440, SCATTER_L = 80, SCATTER_T = 20 };
enum { SCATTER_PLOT_W = 610, SCATTER_PLOT_H = 360 };

static const char sim_color[] = "steelblue", live_color[] = "#d95f02";

/* Cost from 0 to a round number past the dearest run; attainment from a round number
 * below the worst run (or target) up to 100 %. The steps are the ticks'. */
static sw_svg_plot_t scatter_plot(FILE *f, const row_t *rows, size_t n_rows, double *xstep,
                                  double *ystep)
{
    double cost_max = 0, att_min = 1;
    for (size_t i = 0; i < n_rows; i++) {
        const sw_run_summary_t *s = &rows[i].run->sum;
        if (rows[i].run->error)
            continue;
        cost_max = SW_MAX(cost_max, s->cost_usd);
        att_min = SW_MIN(att_min, SW_MIN(s->slo_attainment, s->slo_target));
    }
    sw_svg_plot_t p = {.f = f,
                       .left = SCATTER_L,
                       .top = SCATTER_T,
                       .width = SCATTER_PLOT_W,
                       .height = SCATTER_PLOT_H,
                       .y1 = 1.0};
    double xspan = cost_max > 0 ? cost_max * 1.08 : 1.0;
    *xstep = sw_svg_nice_step(xspan, 6);
    p.x1 = *xstep * ceil(xspan / *xstep);
    /* Attainment sits near 100 %: zoom to the worst point with a margin, not to 0. */
    double span = SW_MAX(1.0 - att_min, 0.001) * 1.15;
    *ystep = sw_svg_nice_step(span, 6);
    p.y0 = SW_MAX(0.0, 1.0 - *ystep * ceil(span / *ystep));
    return p;
}

/* One dashed line per distinct SLO target among the runs. */
static void scatter_targets(const sw_svg_plot_t *p, const row_t *rows, size_t n_rows)
{
    for (size_t i = 0; i < n_rows; i++) {
        bool seen = rows[i].run->error != NULL;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !rows[k].run->error && rows[k].run->sum.slo_target == rows[i].run->sum.slo_target;
        if (seen)
            continue;
        char label[64];
        snprintf(label, sizeof label, "SLO target %.2f %%", rows[i].run->sum.slo_target * 100);
        sw_svg_hline(p, rows[i].run->sum.slo_target, "slo-target", label);
    }
}

/* Cost against attainment, a point per run that produced a summary; live runs in their
 * own colour, with a legend when there is one. */
static void html_scatter(FILE *f, const cmp_args_t *a, const row_t *rows, size_t n_rows)
{
    double xstep, ystep;
    sw_svg_plot_t p = scatter_plot(f, rows, n_rows, &xstep, &ystep);
    sw_svg_point_t *pts = sw_calloc(n_rows + 1, sizeof(*pts));
    char(*labels)[512] = sw_calloc(n_rows + 1, sizeof(*labels));
    size_t n = 0, live = 0;
    for (size_t i = 0; i < n_rows; i++) {
        const row_t *r = &rows[i];
        if (r->run->error)
            continue;
        bool is_live = r->run->sum.source == SW_RUN_LIVE;
        row_label(a, rows, i, labels[n], sizeof labels[n]);
        pts[n] =
            (sw_svg_point_t){r->run->sum.cost_usd, r->run->sum.slo_attainment, labels[n],
                             sw_run_source_name(r->run->sum.source), is_live ? live_color : sim_color};
        live += is_live;
        n++;
    }
    const sw_svg_key_t keys[] = {{"simulated", sim_color, 1}, {"live", live_color, 1}};
    sw_svg_begin(&p, "chart-cost-attainment", SCATTER_W, SCATTER_H, "Cost vs SLO attainment", NULL,
                 keys, live ? SW_ARRAY_LEN(keys) : 0);
    sw_svg_ticks_t xt = sw_svg_ticks_stepped(p.x0, p.x1, xstep, 1);
    sw_svg_ticks_t yt = sw_svg_ticks_stepped(p.y0, p.y1, ystep, 100);
    sw_svg_axes(&p, &xt, &yt, "cost (USD)", "SLO attainment (%)");
    scatter_targets(&p, rows, n_rows);
    sw_svg_scatter(&p, pts, n);
    sw_svg_end(&p);
    sw_free(pts);
    sw_free(labels);
}

static int write_html(const cmp_args_t *a, const row_t *rows, size_t n_rows)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/comparison.html", a->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "spillway compare: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "<!DOCTYPE html><html><head><meta charset=utf-8><title>spillway compare</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}.err{color:#b00}%s</style></head>"
            "<body><h1>Policy comparison</h1>\n",
            sw_svg_style);
    html_table(f, a, rows, n_rows);
    fputs("<h2>Cost vs SLO attainment</h2>\n", f);
    html_scatter(f, a, rows, n_rows);
    fputs("</body></html>\n", f);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, "spillway compare: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static void free_args(cmp_args_t *a)
{
    sw_free(a->policy_list);
    for (size_t s = 0; s < a->n_sets; s++)
        sw_free(a->sets[s].key);
}

static void free_rows(row_t *rows, sw__cli_run_t *runs, size_t n_rows)
{
    for (size_t i = 0; i < n_rows; i++) {
        sw_free(rows[i].report);
        sw__cli_run_deinit(&runs[i]);
    }
    sw_free(runs);
    sw_free(rows);
}

int sw_cli_cmd_compare(int argc, char **argv)
{
    cmp_args_t a = {.jobs = sysconf(_SC_NPROCESSORS_ONLN)};
    int rc = parse_args(argc, argv, &a);
    if (rc == 0)
        rc = validate(&a);
    if (rc == 0 && mkdir(a.out, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "spillway compare: cannot create %s: %s\n", a.out, strerror(errno));
        rc = SW_EXIT_FAILURE;
    }
    if (rc != 0) {
        free_args(&a);
        return rc < 0 ? SW_EXIT_OK : rc;
    }
    if (a.jobs < 1)
        a.jobs = 1;
    size_t n_grid, n_rows;
    sw__cli_run_t *runs;
    row_t *rows = make_rows(&a, &n_grid, &n_rows, &runs);
    for (size_t i = 0; i < n_grid; i++)
        add_run_args(&a, &rows[i]);
    sw__cli_run_all(runs, n_grid, a.jobs, "compare");
    collect(&a, rows, n_grid, n_rows);
    write_run_reports(&a, rows, n_grid, n_rows);
    int failed = 0;
    for (size_t i = 0; i < n_rows; i++)
        failed += rows[i].run->error != NULL;
    if (write_json(&a, rows, n_rows) != 0 || write_csv(&a, rows, n_rows) != 0 ||
        write_html(&a, rows, n_rows) != 0)
        failed++;
    printf("spillway compare: %zu runs, %d failed; %s/comparison.{json,csv,html}\n", n_rows, failed,
           a.out);
    free_rows(rows, runs, n_rows);
    free_args(&a);
    return failed ? SW_EXIT_FAILURE : SW_EXIT_OK;
}
