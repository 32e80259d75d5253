/* Black-box tests of the `spillway` binary: each test spawns it (cli_run, in
 * cli_helpers.c) with stdout and stderr captured in temporary files, and checks the exit
 * status (0 done, 2 usage or configuration error, 1 runtime failure), the messages and
 * the files a run writes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"

#include "common/common.h"
#include "cli/cli.h"
#include "tests/cli/cli_helpers.h"

static json_t *load_summary(const char *dir)
{
    char *p = cli_path_in(dir, "summary.json");
    json_error_t jerr;
    json_t *root = json_load_file(p, 0, &jerr);
    cr_assert_not_null(root, "%s:%d: %s", p, jerr.line, jerr.text);
    cr_assert(json_is_object(root));
    free(p);
    return root;
}

/* A member of a summary.json object, named "a" or "a/b"; fails the test when absent. */
static json_t *member(json_t *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    json_t *v = json_object_get(root, buf);
    cr_assert_not_null(v, "summary.json has no \"%s\"", buf);
    if (slash) {
        v = json_object_get(v, slash + 1);
        cr_assert_not_null(v, "summary.json has no \"%s\"", path);
    }
    return v;
}

static json_int_t int_member(json_t *root, const char *path)
{
    json_t *v = member(root, path);
    cr_assert(json_is_integer(v), "summary.json: %s is not an integer", path);
    return json_integer_value(v);
}

static double num_member(json_t *root, const char *path)
{
    json_t *v = member(root, path);
    cr_assert(json_is_number(v), "summary.json: %s is not a number", path);
    return json_number_value(v);
}

/* Runs `spillway simulate --config EXAMPLE --no-progress --out DIR` plus `extra` (NULL
 * ended, at most 16) and expects exit status 0. */
static void simulate_ok(const char *dir, const char *const extra[])
{
    const char *argv[32] = {SPILLWAY, "simulate", "--config", EXAMPLE, "--no-progress",
                            "--out", dir};
    size_t n = 7;
    for (size_t i = 0; extra[i]; i++) {
        cr_assert_lt(n, SW_ARRAY_LEN(argv) - 1);
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_assert_eq(rc, 0, "simulate exited %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    free(out);
    free(err);
}

/* Index of a column in a CSV header line, or -1. */
static int csv_column(const char *header, const char *name)
{
    size_t n = strlen(name);
    int idx = 0;
    for (const char *p = header;; idx++) {
        const char *end = p + strcspn(p, ",\n");
        if ((size_t)(end - p) == n && strncmp(p, name, n) == 0)
            return idx;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

/* Field `idx` of a CSV line, as a number. */
static double csv_field(const char *line, int idx)
{
    const char *p = line;
    for (int i = 0; i < idx; i++) {
        p = strchr(p, ',');
        cr_assert_not_null(p, "row has no field %d: %.80s", idx, line);
        p++;
    }
    char *end;
    double v = strtod(p, &end);
    cr_assert(end != p && (*end == ',' || *end == '\n' || *end == '\0'),
              "field %d is not a number: %.80s", idx, line);
    return v;
}

static bool files_equal(const char *dir_a, const char *dir_b, const char *name)
{
    char *pa = cli_path_in(dir_a, name), *pb = cli_path_in(dir_b, name);
    size_t la, lb;
    char *a = cli_slurp(pa, &la), *b = cli_slurp(pb, &lb);
    cr_assert(a && b, "cannot read %s or %s", pa, pb);
    cr_assert_gt(la, 0, "%s is empty", pa);
    bool same = la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    free(pa);
    free(pb);
    return same;
}

/* ---- top-level dispatch ---------------------------------------------------------------- */

/* serve (with functions) and faas-local call it before they hold a key: each test runs
 * in a process of its own, so this one may mark itself. */
Test(cli, protecting_secrets_makes_the_process_undumpable)
{
    cr_assert_neq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    sw__cli_protect_secrets();
    cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0, "no core dump, no ptrace, no /proc/mem");
}

Test(cli, help_lists_commands)
{
    char *out;
    cr_assert_eq(cli_run((const char *const[]){SPILLWAY, "--help", NULL}, &out, NULL), 0);
    cr_expect(strstr(out, "simulate") != NULL, "stdout:\n%s", out);
    cr_expect(strstr(out, "check-config") != NULL, "stdout:\n%s", out);
    free(out);
}

Test(cli, version_prints_name_and_version)
{
    char *out;
    cr_assert_eq(cli_run((const char *const[]){SPILLWAY, "--version", NULL}, &out, NULL), 0);
    cr_assert_eq(strncmp(out, "spillway ", 9), 0, "stdout: %s", out);
    cr_expect(out[9] >= '0' && out[9] <= '9', "no version number: %s", out);
    free(out);
}

Test(cli, no_arguments_is_usage_error)
{
    char *err;
    cr_assert_eq(cli_run((const char *const[]){SPILLWAY, NULL}, NULL, &err), 2);
    cr_expect(strstr(err, "usage:") != NULL, "stderr:\n%s", err);
    free(err);
}

Test(cli, unknown_command_is_usage_error)
{
    char *err;
    cr_assert_eq(cli_run((const char *const[]){SPILLWAY, "frobnicate", NULL}, NULL, &err), 2);
    cr_expect(strstr(err, "unknown command") != NULL, "stderr:\n%s", err);
    cr_expect(strstr(err, "frobnicate") != NULL, "stderr:\n%s", err);
    free(err);
}

Test(cli, subcommand_help_prints_usage)
{
    static const char *const cmds[] = {"simulate", "check-config"};
    for (size_t i = 0; i < SW_ARRAY_LEN(cmds); i++) {
        char *out;
        int rc = cli_run((const char *const[]){SPILLWAY, cmds[i], "--help", NULL}, &out, NULL);
        cr_expect_eq(rc, 0, "%s --help exited %d", cmds[i], rc);
        cr_expect(strstr(out, "usage:") != NULL, "%s --help stdout:\n%s", cmds[i], out);
        free(out);
    }
}

Test(cli, simulate_unknown_flag_is_usage_error)
{
    char *out;
    int rc = cli_run((const char *const[]){SPILLWAY, "simulate", "--bogus-flag", NULL}, &out, NULL);
    cr_assert_eq(rc, 2);
    cr_expect_eq(out[0], '\0', "a usage error ran anyway:\n%s", out);
    free(out);
}

/* ---- check-config ---------------------------------------------------------------------- */

Test(cli, check_config_prints_resolved_yaml)
{
    char *out, *err;
    int rc = cli_run((const char *const[]){SPILLWAY, "check-config", EXAMPLE, NULL}, &out, &err);
    cr_assert_eq(rc, 0, "stderr:\n%s", err);
    cr_expect(strstr(out, "instance_types:") != NULL, "stdout:\n%s", out);
    cr_expect(strstr(out, "p2.xlarge") != NULL, "stdout:\n%s", out);
    free(out);
    free(err);
}

Test(cli, check_config_unknown_key_names_file_and_line)
{
    char *dir = cli_make_dir();
    char *cfg = cli_write_file(dir, "bad.yaml", "slo:\n  latency_ms: 100\n  foo: 1\n");
    char *err;
    cr_assert_eq(cli_run((const char *const[]){SPILLWAY, "check-config", cfg, NULL}, NULL, &err),
                 2);
    char want[8192];
    snprintf(want, sizeof want, "%s:3: slo.foo: unknown key", cfg);
    cr_expect(strstr(err, want) != NULL, "want \"%s\" in stderr:\n%s", want, err);
    free(err);
    free(cfg);
    cli_rm_dir(dir);
}

Test(cli, check_config_missing_file_is_usage_error)
{
    char *dir = cli_make_dir();
    char *cfg = cli_path_in(dir, "no-such-config.yaml");
    char *err;
    cr_assert_eq(cli_run((const char *const[]){SPILLWAY, "check-config", cfg, NULL}, NULL, &err),
                 2);
    cr_expect(strstr(err, cfg) != NULL, "stderr does not name %s:\n%s", cfg, err);
    free(err);
    free(cfg);
    cli_rm_dir(dir);
}

/* ---- simulate: output files ------------------------------------------------------------ */

static void check_summary(const char *dir, json_int_t *requests)
{
    json_t *s = load_summary(dir);
    cr_expect(json_is_string(member(s, "policy")));
    static const char *const numbers[] = {
        "slo_ms", "slo_target", "slo_attainment", "latency_ms/p50", "latency_ms/p95",
        "latency_ms/p99", "latency_ms/p999", "latency_ms/max", "cost_usd/total", "cost_usd/vm",
        "cost_usd/faas", "faas/gb_s", "vm/billed_seconds", "sim/wall_s", "sim/requests_per_s",
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(numbers); i++)
        num_member(s, numbers[i]);
    static const char *const integers[] = {
        "requests", "served_vm", "served_faas", "rejected", "faas/invocations",
        "faas/cold_starts", "faas/throttled", "vm/launched", "vm/terminated",
        "vm/peak_running", "sim/events",
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(integers); i++)
        int_member(s, integers[i]);
    json_t *by_type = member(s, "cost_usd/by_type");
    static const char *const types[] = {"c5.large", "c5.xlarge", "c5.2xlarge", "c5.4xlarge",
                                        "p2.xlarge"};
    cr_expect_eq(json_object_size(by_type), SW_ARRAY_LEN(types));
    for (size_t i = 0; i < SW_ARRAY_LEN(types); i++)
        cr_expect(json_is_number(json_object_get(by_type, types[i])), "by_type has no %s",
                  types[i]);

    json_int_t req = int_member(s, "requests");
    cr_expect_gt(req, 0);
    cr_expect_eq(req, int_member(s, "served_vm") + int_member(s, "served_faas") +
                          int_member(s, "rejected"));
    double total = num_member(s, "cost_usd/total");
    cr_expect(fabs(total - num_member(s, "cost_usd/vm") - num_member(s, "cost_usd/faas")) < 1e-9,
              "cost total %.12f != vm + faas", total);
    double per_million = num_member(s, "cost_usd/per_million_requests");
    cr_expect(fabs(per_million - total / (double)req * 1e6) < 1e-6 * per_million,
              "per_million_requests %.9f is not the total per million requests", per_million);
    cr_expect_eq(num_member(s, "slo_ms"), 600.0);
    *requests = req;
    json_decref(s);
}

/* 600 s at 60 s intervals: ten full rows, then the row the run closes at its end, from
 * 600 s to the last completion, which holds no arrivals, only the drain. */
static void check_timeline(const char *dir, json_int_t requests)
{
    char *csv = cli_read_output(dir, "timeline.csv");
    static const char *const cols[] = {
        "time_s",      "arrivals",         "forecast",    "running_p2.xlarge", "booting_p2.xlarge",
        "vm_launches", "faas_invocations", "cold_starts", "slo_misses",        "cum_cost_usd"};
    for (size_t i = 0; i < SW_ARRAY_LEN(cols); i++)
        cr_expect_geq(csv_column(csv, cols[i]), 0, "timeline.csv has no column %s", cols[i]);
    int c_time = csv_column(csv, "time_s"), c_end = csv_column(csv, "end_s");
    int c_arr = csv_column(csv, "arrivals");
    cr_assert(c_time >= 0 && c_end >= 0 && c_arr >= 0);
    int rows = 0;
    double arrivals = 0, last_start = -1, last_end = 0;
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line, '\n')) {
        line++;
        double start = csv_field(line, c_time), end = csv_field(line, c_end);
        double a = csv_field(line, c_arr);
        if (rows < 10) {
            cr_expect_eq(start, 60.0 * rows, "row %d starts at %g", rows + 1, start);
            cr_expect_eq(end, 60.0 * (rows + 1), "row %d ends at %g", rows + 1, end);
        } else {
            cr_expect_eq(start, 600.0, "row %d starts at %g", rows + 1, start);
            cr_expect(end > 600.0 && end < 660.0, "drain row ends at %g", end);
            cr_expect_eq(a, 0.0, "arrivals after the 600 s window: %g", a);
        }
        arrivals += a;
        last_start = start;
        last_end = end;
        rows++;
    }
    cr_expect_eq(rows, 11, "timeline.csv has %d data rows (last %g-%g)", rows, last_start,
                 last_end);
    cr_expect_eq(arrivals, (double)requests, "timeline arrivals %.0f, summary requests %lld",
                 arrivals, (long long)requests);
    free(csv);
}

static void check_decisions(const char *dir)
{
    char *log = cli_read_output(dir, "decisions.jsonl");
    json_int_t prev = -1;
    size_t lines = 0;
    for (char *line = log, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        cr_assert_not_null(nl, "decisions.jsonl: line %zu has no newline", lines + 1);
        json_error_t jerr;
        json_t *d = json_loadb(line, (size_t)(nl - line), 0, &jerr);
        lines++;
        cr_assert_not_null(d, "decisions.jsonl:%zu: %s", lines, jerr.text);
        json_t *t = json_object_get(d, "time_us");
        cr_assert(json_is_integer(t), "decisions.jsonl:%zu: no integer time_us", lines);
        cr_assert(json_is_string(json_object_get(d, "action")), "decisions.jsonl:%zu", lines);
        cr_assert(json_is_string(json_object_get(d, "reason")), "decisions.jsonl:%zu", lines);
        cr_assert_geq(json_integer_value(t), prev, "decisions.jsonl:%zu: time_us goes back",
                      lines);
        prev = json_integer_value(t);
        json_decref(d);
    }
    cr_expect_gt(lines, 0);
    free(log);
}

Test(cli, simulate_writes_summary_timeline_and_decisions, .timeout = 120)
{
    char *dir = cli_make_dir();
    simulate_ok(dir, (const char *const[]){"--duration", "600", "--decisions", NULL});
    json_int_t requests;
    check_summary(dir, &requests);
    check_timeline(dir, requests);
    check_decisions(dir);
    cli_rm_dir(dir);
}

/* ---- simulate: overrides --------------------------------------------------------------- */

Test(cli, policy_seed_and_set_reach_the_summary, .timeout = 120)
{
    char *dir = cli_make_dir();
    simulate_ok(dir, (const char *const[]){"--duration", "600", "--policy", "oracle", "--seed",
                                           "5", "--set", "slo.latency_ms=300", NULL});
    json_t *s = load_summary(dir);
    cr_expect_str_eq(json_string_value(member(s, "policy")), "oracle");
    cr_expect_eq(int_member(s, "seed"), 5);
    cr_expect_eq(num_member(s, "slo_ms"), 300.0);
    json_decref(s);
    cli_rm_dir(dir);
}

Test(cli, rate_scale_two_doubles_requests, .timeout = 120)
{
    char *one = cli_make_dir(), *two = cli_make_dir();
    simulate_ok(one, (const char *const[]){"--duration", "600", NULL});
    simulate_ok(two, (const char *const[]){"--duration", "600", "--rate-scale", "2", NULL});
    json_t *s1 = load_summary(one), *s2 = load_summary(two);
    double r1 = (double)int_member(s1, "requests"), r2 = (double)int_member(s2, "requests");
    cr_assert_gt(r1, 0);
    /* A counts trace scales each count exactly, so this is 2 up to the window's edge. */
    cr_expect(fabs(r2 / r1 - 2.0) < 0.02, "rate 1: %.0f requests, rate 2: %.0f", r1, r2);
    json_decref(s1);
    json_decref(s2);
    cli_rm_dir(one);
    cli_rm_dir(two);
}

/* Runs simulate with one bad option and expects exit status 2 and `want` in stderr. */
static void expect_usage_error(const char *opt, const char *value, const char *want)
{
    char *dir = cli_make_dir();
    char *out, *err;
    int rc = cli_run((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE,
                                           "--no-progress", "--out", dir, opt, value, NULL},
                     &out, &err);
    cr_expect_eq(rc, 2, "%s %s exited %d; stderr:\n%s", opt, value, rc, err);
    cr_expect(strstr(err, want) != NULL, "%s %s: want \"%s\" in stderr:\n%s", opt, value, want,
              err);
    cr_expect_eq(out[0], '\0', "%s %s ran anyway:\n%s", opt, value, out);
    free(out);
    free(err);
    cli_rm_dir(dir);
}

Test(cli, set_unknown_key_is_usage_error)
{
    expect_usage_error("--set", "slo.nope=1", "slo.nope");
}

Test(cli, set_non_number_is_usage_error)
{
    expect_usage_error("--set", "slo.latency_ms=abc", "slo.latency_ms");
}

/* An option that stands for a config key is refused in the user's words: the option and
 * value typed, then the key and the reason, never a --set the user did not write. */
Test(cli, a_refused_shorthand_names_the_option_typed)
{
    /* command, an option it needs, its value, the bad option, its value, the message */
    static const char *const cases[][6] = {
        {"simulate", "--no-progress", NULL, "--rate-scale", "nan",
         "--rate-scale nan: trace.rate_scale: expected a finite"},
        {"simulate", "--no-progress", NULL, "--seed", "-1",
         "--seed -1: seed: expected a whole number"},
        {"simulate", "--no-progress", NULL, "--duration", "-3", "--duration -3: "},
        /* loadgen refuses the value before it dials the server */
        {"loadgen", "--url", "http://127.0.0.1:1", "--rate-scale", "0", "--rate-scale 0: "},
        {"loadgen", "--url", "http://127.0.0.1:1", "--slo-target", "2", "--slo-target 2: "},
        {"compare", "--policies", "mark", "--rate-scale", "nan", "--rate-scale nan: "},
        {"serve", "--listen", "127.0.0.1:0", "--worker-listen", "127.0.0.1:70000",
         "--worker-listen 127.0.0.1:70000: "},
    };
    char *dir = cli_make_dir();
    char *cmp = cli_path_in(dir, "cmp");
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        const char *argv[] = {SPILLWAY,    cases[i][0], cases[i][3], cases[i][4], "--out", cmp,
                              cases[i][1], cases[i][2], NULL};
        if (strcmp(cases[i][0], "compare") != 0) /* only compare needs --out */
            argv[4] = cases[i][1], argv[5] = cases[i][2], argv[6] = NULL;
        char *out, *err;
        int rc = cli_run(argv, &out, &err);
        cr_expect_eq(rc, 2, "%s %s %s exited %d; stderr:\n%s", cases[i][0], cases[i][3],
                     cases[i][4], rc, err);
        cr_expect(strstr(err, cases[i][5]) != NULL, "want \"%s\" in stderr:\n%s", cases[i][5],
                  err);
        cr_expect(strstr(err, "--set") == NULL, "stderr names a --set never typed:\n%s", err);
        free(out);
        free(err);
    }
    free(cmp);
    cli_rm_dir(dir);
}

/* More overrides than a command holds are refused, saying where the rest belong. */
Test(cli, too_many_overrides_are_refused_with_a_way_out)
{
    const char *argv[2 + 2 * 65 + 1] = {SPILLWAY, "simulate"};
    for (size_t i = 0; i < 65; i++) {
        argv[2 + 2 * i] = "--set";
        argv[3 + 2 * i] = "seed=1";
    }
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_expect_eq(rc, 2, "65 --set exited %d; stderr:\n%s", rc, err);
    cr_expect(strstr(err, "at most 64; put the rest in the policy file") != NULL, "%s", err);
    free(out);
    free(err);
}

Test(cli, unknown_policy_lists_valid_names)
{
    static const char *const names[] = {"static", "reactive", "faas-only",
                                        "mark",   "oracle",   "clairvoyant"};
    for (size_t i = 0; i < SW_ARRAY_LEN(names); i++)
        expect_usage_error("--policy", "nonsense", names[i]);
}

/* ---- simulate: traces ------------------------------------------------------------------ */

/* The format is given: example.yaml pins trace.format to counts-per-second, and --trace
 * changes only the path. */
Test(cli, malformed_trace_line_is_runtime_failure_naming_file_and_line, .timeout = 120)
{
    char *dir = cli_make_dir();
    char *trace = cli_write_file(dir, "bad.csv", "minute_index,requests\n0,10\n1,1x\n");
    char *err;
    int rc = cli_run((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE,
                                           "--no-progress", "--out", dir, "--trace", trace,
                                           "--trace-format", "counts-per-minute", NULL},
                     NULL, &err);
    cr_expect_eq(rc, 1, "exit %d; stderr:\n%s", rc, err);
    char want[8192];
    snprintf(want, sizeof want, "%s:3: requests: \"1x\" is not a non-negative integer", trace);
    cr_expect(strstr(err, want) != NULL, "want \"%s\" in stderr:\n%s", want, err);
    free(err);
    free(trace);
    cli_rm_dir(dir);
}

static int simulate_missing_trace(char **err, char **trace)
{
    char *dir = cli_make_dir();
    *trace = cli_path_in(dir, "no-such-trace.txt");
    int rc = cli_run((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE,
                                           "--no-progress", "--out", dir, "--trace", *trace, NULL},
                     NULL, err);
    cli_rm_dir(dir);
    return rc;
}

Test(cli, missing_trace_fails_naming_file)
{
    char *err, *trace;
    int rc = simulate_missing_trace(&err, &trace);
    cr_expect(rc == 1 || rc == 2, "exit %d; stderr:\n%s", rc, err);
    cr_expect(strstr(err, trace) != NULL, "stderr does not name %s:\n%s", trace, err);
    free(err);
    free(trace);
}

/* The trace is named by the command line (or the config's trace.path), and a missing
 * --config file is a configuration error (2); a missing trace is the same mistake, found
 * before anything runs, not a failure of the run (1). */
Test(cli, missing_trace_is_usage_error)
{
    char *err, *trace;
    int rc = simulate_missing_trace(&err, &trace);
    cr_expect_eq(rc, 2, "exit %d; stderr:\n%s", rc, err);
    free(err);
    free(trace);
}

/* ---- simulate: determinism and progress ------------------------------------------------ */

Test(cli, decision_log_is_byte_identical_for_a_seed, .timeout = 120)
{
    char *a = cli_make_dir(), *b = cli_make_dir(), *c = cli_make_dir();
    simulate_ok(a, (const char *const[]){"--seed", "9", "--duration", "900", "--decisions", NULL});
    simulate_ok(b, (const char *const[]){"--seed", "9", "--duration", "900", "--decisions", NULL});
    simulate_ok(c, (const char *const[]){"--seed", "10", "--duration", "900", "--decisions",
                                         NULL});
    cr_expect(files_equal(a, b, "decisions.jsonl"), "seed 9 twice: decision logs differ");
    cr_expect(!files_equal(a, c, "decisions.jsonl"), "seeds 9 and 10: same decision log");
    cli_rm_dir(a);
    cli_rm_dir(b);
    cli_rm_dir(c);
}

Test(cli, no_progress_writes_no_carriage_return, .timeout = 120)
{
    char *dir = cli_make_dir();
    char *err;
    int rc = cli_run((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE, "--duration",
                                           "600", "--out", dir, "--no-progress", NULL},
                     NULL, &err);
    cr_expect_eq(rc, 0, "stderr:\n%s", err);
    cr_expect_null(strchr(err, '\r'), "stderr:\n%s", err);
    free(err);
    cli_rm_dir(dir);
}

Test(cli, progress_prints_a_percentage, .timeout = 120)
{
    char *dir = cli_make_dir();
    char *err;
    int rc = cli_run((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE, "--duration",
                                           "600", "--out", dir, "--progress", NULL},
                     NULL, &err);
    cr_expect_eq(rc, 0, "stderr:\n%s", err);
    cr_expect_not_null(strchr(err, '\r'), "no progress line on stderr:\n%s", err);
    cr_expect_not_null(strstr(err, "100%"), "no final 100%% on stderr:\n%s", err);
    free(err);
    cli_rm_dir(dir);
}

/* ---- spillway predict ---- */

#define TWITTER_MINUTES SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_per_minute_days00-14.csv"

Test(cli, predict_eval_scores_forecasters_and_writes_json, .timeout = 120)
{
    char *dir = cli_make_dir();
    char *json_path = cli_path_in(dir, "eval.json");
    const char *argv[] = {SPILLWAY, "predict", "eval", "--trace", TWITTER_MINUTES, "--model",
                          "last,seasonal-naive,holt-winters", "--train-until", "15840",
                          "--horizon", "5", "--target", "max", "--quantile", "0.98", "--json",
                          json_path, NULL};
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    cr_assert_not_null(strstr(out, "holt-winters"), "%s", out);
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    cr_assert_not_null(root, "%s", jerr.text);
    json_t *results = json_object_get(root, "results");
    cr_assert_eq(json_array_size(results), 3);
    cr_assert_str_eq(json_string_value(json_object_get(root, "target")), "max");
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(results, i);
        static const char *const keys[] = {"model", "scored", "mape", "smape", "rmse",
                                           "under_rate", "coverage", "upper_ratio"};
        for (size_t k = 0; k < SW_ARRAY_LEN(keys); k++)
            cr_assert_not_null(json_object_get(r, keys[k]), "result %zu lacks %s", i, keys[k]);
        cr_assert_gt(json_integer_value(json_object_get(r, "scored")), 5000,
                     "four test days less the gaps");
    }
    /* The `last` value's MAPE on this split, as an independent evaluation found (9.1 %). */
    double mape_last = json_real_value(json_object_get(json_array_get(results, 0), "mape"));
    cr_assert(mape_last > 0.085 && mape_last < 0.097, "last MAPE %.4f", mape_last);
    json_decref(root);
    free(out);
    free(err);
    free(json_path);
    cli_rm_dir(dir);
}

Test(cli, predict_fit_saves_a_model_that_simulate_plans_with, .timeout = 120)
{
    char *dir = cli_make_dir();
    char *model = cli_path_in(dir, "hw.pb");
    const char *fit[] = {SPILLWAY, "predict", "fit", "--trace", TWITTER_MINUTES, "--model",
                         "holt-winters", "--train-until", "15840", "--save", model, NULL};
    char *out, *err;
    int rc = cli_run(fit, &out, &err);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    free(out);
    free(err);
    char set_model[4200];
    snprintf(set_model, sizeof(set_model), "predictor.model_path=%s", model);
    const char *extra[] = {"--trace", TWITTER_MINUTES, "--start", "950400", "--duration",
                           "7200", "--set", "predictor.name=holt-winters", "--set", set_model,
                           NULL};
    simulate_ok(dir, extra);
    json_t *summary = load_summary(dir);
    cr_assert_gt(int_member(summary, "requests"), 0);
    json_decref(summary);
    free(model);
    cli_rm_dir(dir);
}

Test(cli, predict_rejects_bad_usage)
{
    const char *no_trace[] = {SPILLWAY, "predict", "eval", "--model", "last", NULL};
    const char *no_save[] = {SPILLWAY, "predict", "fit", "--trace", TWITTER_MINUTES, "--model",
                             "last", NULL};
    const char *bad_target[] = {SPILLWAY, "predict", "eval", "--trace", TWITTER_MINUTES,
                                "--model", "last", "--target", "mean", NULL};
    const char *no_verb[] = {SPILLWAY, "predict", NULL};
    const char *const *cases[] = {no_trace, no_save, bad_target, no_verb};
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        char *out, *err;
        cr_assert_eq(cli_run(cases[i], &out, &err), 2, "case %zu: %s", i, err);
        free(out);
        free(err);
    }
}

Test(cli, mark_refuses_an_unfitted_forecaster_with_a_way_out)
{
    const char *argv[] = {SPILLWAY, "simulate", "--config", EXAMPLE, "--set", "predictor.name=ar",
                          "--no-progress", "--out", "/tmp", NULL};
    char *out, *err;
    cr_assert_eq(cli_run(argv, &out, &err), 2);
    cr_assert_not_null(strstr(err, "spillway predict fit"), "%s", err);
    cr_assert_not_null(strstr(err, "predictor.model_path"), "%s", err);
    free(out);
    free(err);
}

/* ---- spillway profile ---- */

Test(cli, profile_writes_a_batch_profile_that_drops_into_a_config, .timeout = 120)
{
    char *dir = cli_make_dir();
    char *out_path = cli_path_in(dir, "profile.yaml");
    const char *argv[] = {SPILLWAY, "profile", "--model", SW_BINARY_DIR "/fashion-mlp.pb",
                          "--max-batch", "4", "--repeats", "5", "--min-ms", "1", "--out",
                          out_path, NULL};
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_assert_eq(rc, 0, "exit %d\n%s", rc, err);
    /* Indented under an instance type, unchanged, it must be a valid profile. */
    sw_cfg_t *cfg = cli_load_profile(out_path);
    cr_assert_eq(cfg->instance_types[0].max_batch, 4);
    cr_assert_eq(cfg->instance_types[0].batch_latency_ms_count, 4);
    for (unsigned b = 1; b < 4; b++)
        cr_assert_geq(cfg->instance_types[0].batch_latency_ms[b],
                      cfg->instance_types[0].batch_latency_ms[b - 1]);
    sw_cfg_destroy(cfg);
    free(out);
    free(err);
    free(out_path);
    cli_rm_dir(dir);
}

Test(cli, profile_of_a_missing_model_is_a_usage_error)
{
    const char *argv[] = {SPILLWAY, "profile", "--model", "/nonexistent/m.pb", "--out", "-",
                          NULL};
    char *out, *err;
    cr_assert_eq(cli_run(argv, &out, &err), 2);
    cr_assert_not_null(strstr(err, "/nonexistent/m.pb"), "%s", err);
    free(out);
    free(err);
}

Test(cli, simulate_report_writes_a_self_contained_page, .timeout = 120)
{
    char *dir = cli_make_dir();
    const char *extra[] = {"--duration", "1800", "--report", NULL};
    simulate_ok(dir, extra);
    char *html = cli_read_output(dir, "report.html");
    static const char *const charts[] = {"chart-arrivals", "chart-vms", "chart-faas",
                                         "chart-cost", "chart-latency", "chart-latency-cdf"};
    for (size_t i = 0; i < SW_ARRAY_LEN(charts); i++)
        cr_assert_not_null(strstr(html, charts[i]), "no %s", charts[i]);
    cr_assert_not_null(strstr(html, "VM launches per hour"), "the churn is in the table");
    cr_assert_null(strstr(html, "http://"));
    cr_assert_null(strstr(html, "https://"));
    free(html);
    cli_rm_dir(dir);
}

/* ---- the report in a real browser (headless Chromium) ---- */

#define CHROMIUM "/usr/bin/chromium"

/* Runs headless Chromium on `url` with `extra` flags (NULL-terminated); returns its exit
 * status with stdout and stderr. The flags keep it off the network: background services
 * off, and every host name unresolvable, so any external reference would fail loudly. */
static int chromium(const char *url, const char *const extra[], char **out, char **err)
{
    char profile[] = "/tmp/sw-chromium-XXXXXX";
    cr_assert_not_null(mkdtemp(profile));
    char user_dir[64];
    snprintf(user_dir, sizeof(user_dir), "--user-data-dir=%s", profile);
    const char *argv[32] = {CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-quic", "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr",
                            "--v=0", user_dir};
    size_t n = 13;
    for (size_t i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n++] = url;
    argv[n] = NULL;
    int rc = cli_run(argv, out, err);
    const char *rm[] = {"/bin/rm", "-rf", profile, NULL}; /* the profile is a whole tree */
    char *rm_out, *rm_err;
    cli_run(rm, &rm_out, &rm_err);
    free(rm_out);
    free(rm_err);
    return rc;
}

Test(cli, report_renders_in_headless_chromium, .timeout = 180)
{
    cr_assert_eq(access(CHROMIUM, X_OK), 0,
                 "%s is missing: scripts/install-deps.sh installs Debian's chromium", CHROMIUM);
    char *dir = cli_make_dir();
    const char *extra[] = {"--duration", "3600", "--report", NULL};
    simulate_ok(dir, extra);
    char *html = cli_read_output(dir, "report.html");
    /* A copy of the report with a probe at the end of the body: the page itself has no
     * script. The probe writes each SVG's laid-out size where --dump-dom shows it. */
    static const char probe[] =
        "<pre id=\"sw-ext\"></pre><pre id=\"sw-boxes\"></pre><script>"
        "document.getElementById('sw-ext').textContent = 'ext=' + Array.from("
        "document.querySelectorAll('[src],[href]')).filter(function (e) {"
        "var u = e.src || (e.href && (e.href.baseVal || e.href)) || '';"
        "return u && new URL(u, document.baseURI).protocol !== 'file:'; }).length;"
        "document.getElementById('sw-boxes').textContent = Array.from("
        "document.querySelectorAll('svg')).map(function (s) {"
        "var r = s.getBoundingClientRect(); return Math.round(r.width) + 'x' +"
        "Math.round(r.height); }).join(' ');</script>";
    char *body_end = strstr(html, "</body>");
    cr_assert_not_null(body_end, "the report has no </body>");
    size_t head_len = (size_t)(body_end - html);
    char *probed = malloc(strlen(html) + sizeof(probe) + 1);
    memcpy(probed, html, head_len);
    strcpy(probed + head_len, probe);
    strcat(probed, body_end);
    char *check = cli_write_file(dir, "check.html", probed);
    char url[4200];
    snprintf(url, sizeof(url), "file://%s", check);

    char *out, *err;
    const char *dump[] = {"--dump-dom", NULL};
    cr_assert_eq(chromium(url, dump, &out, &err), 0, "chromium failed:\n%s", err);
    /* Every src or href on the rendered page, resolved by the browser, stays on disk. */
    cr_assert_not_null(strstr(out, "id=\"sw-ext\">ext=0<"), "external references:\n%.3000s",
                       strstr(out, "sw-ext") ? strstr(out, "sw-ext") : out);
    char *boxes = strstr(out, "id=\"sw-boxes\">");
    cr_assert_not_null(boxes, "the probe did not run:\n%.2000s", out);
    boxes += strlen("id=\"sw-boxes\">");
    int svgs = 0, w, h, used;
    while (sscanf(boxes, "%dx%d%n", &w, &h, &used) == 2) {
        cr_assert(w > 0 && h > 0, "SVG %d has an empty box %dx%d", svgs, w, h);
        svgs++;
        boxes += used;
        while (*boxes == ' ')
            boxes++;
    }
    cr_assert_geq(svgs, 5, "only %d charts laid out", svgs);
    /* The page runs no script of its own: the console must report no error (an uncaught
     * exception, for one, is logged as a CONSOLE line). */
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
        cr_assert(!(strstr(line, "CONSOLE") &&
                    (strstr(line, "rror") || strstr(line, "Uncaught") || strstr(line, "Failed"))),
                  "console: %s", line);
    free(out);
    free(err);

    /* A screenshot for people, next to the build's other outputs. */
    const char *shot[] = {"--window-size=1200,2600",
                          "--screenshot=" SW_BINARY_DIR "/report-screenshot.png", NULL};
    snprintf(url, sizeof(url), "file://%s/report.html", dir);
    cr_assert_eq(chromium(url, shot, &out, &err), 0, "chromium screenshot failed:\n%s", err);
    struct stat st;
    cr_assert_eq(stat(SW_BINARY_DIR "/report-screenshot.png", &st), 0);
    cr_assert_gt(st.st_size, 10000, "a %lld-byte screenshot is blank", (long long)st.st_size);
    free(out);
    free(err);
    free(check);
    free(probed);
    free(html);
    cli_rm_dir(dir);
}
