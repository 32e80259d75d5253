/* Black-box tests of `spillway compare`: a small policy comparison, a failing run reported
 * beside the ones that succeed, a bad sweep value rejected before anything runs, a sweep
 * over the SLO, and run directories given with --run (a real `spillway serve` run and a
 * live one written here beside simulated ones, given runs alone, a damaged one or a
 * folder that is no run refused up front). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/cli/cli_helpers.h"
/* The harness is header-only and this file uses a few of its helpers: the rest are unused
 * here by design, not by mistake. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/serve_harness.h"
#pragma GCC diagnostic pop

#define CMP_SPILLWAY SW_BINARY_DIR "/spillway"
#define CMP_EXAMPLE SW_SOURCE_DIR "/config/example.yaml"
#define CMP_TRACE                                                                                  \
    SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_day00_per_second.txt"

extern char **environ;

/* Runs spillway with argv (argv[0] unused) with its output discarded, except stderr, which
 * goes to ERR_PATH. Returns the exit status, or 128 + the killing signal. */
static int cmp_run(const char *argv[], const char *err_path)
{
    argv[0] = CMP_SPILLWAY;
    posix_spawn_file_actions_t fa;
    cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", argv[0], strerror(rc));
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    cr_assert_eq(w, pid, "waitpid: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void cmp_tmpdir(char *dir, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, len, "%s/sw-cmp-XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

/* Removes the folder with `rm -rf`: the runs write nested folders. */
static void cmp_rmdir(const char *dir)
{
    const char *argv[] = {"/bin/rm", "-rf", dir, NULL};
    pid_t pid;
    int status;
    if (posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) == 0)
        waitpid(pid, &status, 0);
}

static json_t *cmp_load_rows(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/comparison.json", dir);
    json_error_t jerr;
    json_t *rows = json_load_file(path, 0, &jerr);
    cr_assert_not_null(rows, "%s: %s", path, jerr.text);
    cr_assert(json_is_array(rows));
    return rows;
}

static char *cmp_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

static json_t *cmp_row(json_t *rows, const char *policy)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) if (strcmp(json_string_value(json_object_get(row, "policy")),
                                                policy) == 0) return row;
    cr_assert_fail("no row for %s", policy);
    return NULL;
}

Test(cli_compare, policies_on_a_small_slice, .timeout = 240)
{
    char dir[4096], out[4200], err[4200], html[4300];
    cmp_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    const char *argv[] = {
        NULL,      "compare",    "--config", CMP_EXAMPLE,  "--trace",
        CMP_TRACE, "--duration", "1800",     "--policies", "mark,oracle,faas-only,static",
        "--jobs",  "2",          "--out",    out,          NULL};
    cr_assert_eq(cmp_run(argv, err), 0);
    json_t *rows = cmp_load_rows(out);
    cr_assert_eq(json_array_size(rows), 4);
    /* Total cost: where functions cost ~4x a VM's request, mark can spend less on VMs
     * than the oracle (it spills its first minutes) but not less in all. */
    json_t *oracle = cmp_row(rows, "oracle");
    cr_assert_gt(json_real_value(json_object_get(oracle, "vm_cost_usd")), 0.0);
    double oracle_cost = json_real_value(json_object_get(oracle, "cost_usd"));
    const char *vm_users[] = {"mark", "static"};
    for (size_t i = 0; i < 2; i++) {
        json_t *r = cmp_row(rows, vm_users[i]);
        cr_assert_eq(json_integer_value(json_object_get(r, "exit_status")), 0);
        cr_assert_lt(oracle_cost, json_real_value(json_object_get(r, "cost_usd")),
                     "oracle cost is not below %s's", vm_users[i]);
    }
    json_decref(rows);
    snprintf(html, sizeof html, "%s/comparison.html", out);
    char *page = cmp_slurp(html);
    cr_assert_not_null(strstr(page, "<svg"));
    cr_assert_null(strstr(page, "http"), "the page has an external reference");
    /* Each run links its own report; mark's (run-000) states its cost against the oracle's. */
    cr_assert_not_null(strstr(page, "<a href=\"run-000/report.html\">report</a>"));
    free(page);
    snprintf(html, sizeof html, "%s/run-000/report.html", out);
    page = cmp_slurp(html);
    cr_assert_not_null(strstr(page, "x (oracle $"), "mark's report knows the oracle's cost");
    free(page);
    snprintf(html, sizeof html, "%s/comparison.csv", out);
    cr_assert_eq(access(html, R_OK), 0);
    cmp_rmdir(dir);
}

Test(cli_compare, bad_sweep_value_rejected_before_any_run, .timeout = 240)
{
    char dir[4096], out[4200], err[4200], run0[4300];
    cmp_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    const char *argv[] = {NULL,         "compare", "--config",   CMP_EXAMPLE,
                          "--trace",    CMP_TRACE, "--duration", "1800",
                          "--policies", "oracle",  "--set",      "slo.latency_ms=200,abc",
                          "--out",      out,       NULL};
    cr_assert_eq(cmp_run(argv, err), 2);
    char *msg = cmp_slurp(err);
    cr_assert_not_null(strstr(msg, "slo.latency_ms"), "%s", msg);
    cr_assert_not_null(strstr(msg, "abc"), "%s", msg);
    free(msg);
    snprintf(run0, sizeof run0, "%s/run-000", out);
    struct stat st;
    cr_assert_neq(stat(run0, &st), 0, "a run started despite the bad value");
    cmp_rmdir(dir);
}

Test(cli_compare, failed_run_reported_beside_the_others, .timeout = 240)
{
    char dir[4096], out[4200], err[4200];
    cmp_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    /* ar must be fitted before mark can use it, which only the run finds out. */
    const char *argv[] = {NULL,      "compare",           "--config", CMP_EXAMPLE,  "--trace",
                          CMP_TRACE, "--duration",        "1800",     "--policies", "mark,oracle",
                          "--set",   "predictor.name=ar", "--out",    out,          NULL};
    cr_assert_eq(cmp_run(argv, err), 1);
    json_t *rows = cmp_load_rows(out);
    cr_assert_eq(json_array_size(rows), 2);
    json_t *mark = cmp_row(rows, "mark"), *oracle = cmp_row(rows, "oracle");
    cr_assert_neq(json_integer_value(json_object_get(mark, "exit_status")), 0);
    const char *e = json_string_value(json_object_get(mark, "error"));
    cr_assert(e && strstr(e, "fitted"), "mark's error: %s", e ? e : "(none)");
    cr_assert_eq(json_integer_value(json_object_get(oracle, "exit_status")), 0);
    cr_assert_null(json_object_get(oracle, "error"));
    cr_assert_gt(json_real_value(json_object_get(oracle, "cost_usd")), 0.0);
    json_decref(rows);
    cmp_rmdir(dir);
}

Test(cli_compare, slo_sweep, .timeout = 240)
{
    char dir[4096], out[4200], err[4200];
    cmp_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/stderr.txt", dir);
    const char *argv[] = {NULL,         "compare", "--config",   CMP_EXAMPLE,
                          "--trace",    CMP_TRACE, "--duration", "1800",
                          "--policies", "oracle",  "--set",      "slo.latency_ms=150,300",
                          "--out",      out,       NULL};
    cr_assert_eq(cmp_run(argv, err), 0);
    json_t *rows = cmp_load_rows(out);
    cr_assert_eq(json_array_size(rows), 2);
    const char *v[2];
    for (size_t i = 0; i < 2; i++) {
        json_t *r = json_array_get(rows, i);
        cr_assert_eq(json_integer_value(json_object_get(r, "exit_status")), 0);
        v[i] = json_string_value(json_object_get(json_object_get(r, "set"), "slo.latency_ms"));
        cr_assert_not_null(v[i]);
    }
    cr_assert_str_neq(v[0], v[1]);
    cr_assert_neq(json_real_value(json_object_get(json_array_get(rows, 0), "p99_ms")),
                  json_real_value(json_object_get(json_array_get(rows, 1), "p99_ms")));
    json_decref(rows);
    cmp_rmdir(dir);
}

/* ---- run directories given with --run (issue 12) -------------------------------------- */

#define GIVEN_TIMELINE                                                                             \
    "time_s,end_s,arrivals,forecast,capacity_rps,running_c5.large,faas_invocations,"               \
    "cold_starts,throttled,latency_p50_ms,latency_p99_ms,cum_cost_usd,cum_vm_usd,"                 \
    "cum_faas_usd\n0,60,150,150,5,1,10,1,0,100,150,0.7,0.6,0.1\n"                                  \
    "60,120,150,150,5,1,10,0,0,100,150,1.5,1.2,0.3\n"

/* The summary of a run of `trace` by `policy` costing `cost`, with `section` (sim's or
 * serve's) as the driver wrote it. */
static void write_given(const char *dir, const char *name, const char *policy, const char *trace,
                        double cost, const char *section)
{
    char *run = cli_path_in(dir, name), json[2048];
    cr_assert_eq(mkdir(run, 0700), 0, "%s", run);
    snprintf(json, sizeof json,
             "{\"policy\":\"%s\",\"trace\":\"%s\",\"requests\":300,\"served_vm\":280,"
             "\"served_faas\":20,\"rejected\":0,\"failed\":0,\"slo_ms\":200,\"slo_target\":0.98,"
             "\"slo_attainment\":0.97,\"latency_ms\":{\"p50\":100,\"p99\":150,\"p999\":180},"
             "\"cost_usd\":{\"total\":%g,\"vm\":%g,\"faas\":0,\"per_million_requests\":5000},"
             "\"vm\":{\"billed_seconds\":7200},%s}",
             policy, trace, cost, cost, section);
    free(cli_write_file(run, "summary.json", json));
    free(cli_write_file(run, "timeline.csv", GIVEN_TIMELINE));
    free(run);
}

#define SERVE_SECTION                                                                              \
    "\"serve\":{\"wall_s\":120,\"calls\":{\"accepted\":300,\"ok\":297,\"failed\":1,"               \
    "\"timed_out\":2,\"abandoned\":0},\"call_latency_ms\":{\"p50\":101,\"p99\":152},"              \
    "\"batch_time_ms\":{\"c5.large\":{\"batches\":30,\"observed_ms\":62,\"planned_ms\":60,"        \
    "\"compute_ms\":55}}}"

static json_t *row_named(json_t *rows, const char *run)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "run")), run) == 0)
            return row;
    }
    cr_assert_fail("no row for run %s", run);
    return NULL;
}

/* A live run of another trace beside a simulated oracle: its own row, labelled with its
 * folder's name and "live", a point of its own colour in the scatter, and its own report;
 * no cost against the oracle, which replayed something else. */
Test(cli_compare, live_run_beside_simulated_ones, .timeout = 240)
{
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out"), *live = cli_path_in(dir, "serve-1");
    write_given(dir, "serve-1", "mark", "live http://127.0.0.1:8080", 1.5, SERVE_SECTION);
    const char *argv[] = {SPILLWAY,  "compare",    "--config", EXAMPLE,      "--trace",
                          CMP_TRACE, "--duration", "1800",     "--policies", "oracle",
                          "--live",  live,         "--out",    out,          NULL};
    char *so, *se;
    cr_assert_eq(cli_run(argv, &so, &se), 0, "%s", se);
    free(so);
    free(se);
    json_t *rows = cmp_load_rows(out);
    cr_assert_eq(json_array_size(rows), 2);
    json_t *sim = row_named(rows, "run-000"), *given = row_named(rows, "serve-1");
    cr_assert_str_eq(json_string_value(json_object_get(sim, "source")), "simulated");
    cr_assert_str_eq(json_string_value(json_object_get(given, "source")), "live");
    cr_assert_str_eq(json_string_value(json_object_get(given, "policy")), "mark");
    cr_assert_str_eq(json_string_value(json_object_get(given, "dir")), live);
    cr_assert_float_eq(json_real_value(json_object_get(given, "cost_usd")), 1.5, 1e-9);
    cr_assert(json_is_null(json_object_get(given, "cost_vs_oracle")), "not the same trace");
    cr_assert_eq(json_integer_value(json_object_get(given, "exit_status")), 0);
    json_decref(rows);
    char *csv = cli_read_output(out, "comparison.csv");
    cr_assert_not_null(strstr(csv, "policy,run,source,exit_status,cost_usd,"), "%s", csv);
    cr_assert_not_null(strstr(csv, "\"mark\",\"serve-1\",live,0,1.500000,"), "%s", csv);
    free(csv);
    char *html = cli_read_output(out, "comparison.html");
    cr_assert_not_null(strstr(html, "<td>serve-1 (live, mark)</td>"));
    cr_assert_not_null(strstr(html, "<circle data-series=\"live\""), "a live point");
    cr_assert_not_null(strstr(html, "<circle data-series=\"simulated\""));
    cr_assert_not_null(strstr(html, ">live</text>"), "a legend tells the colours apart");
    cr_assert_not_null(strstr(html, "<a href=\"given-000.html\">report</a>"));
    cr_assert_null(strstr(html, "<script"));
    free(html);
    char *report = cli_read_output(out, "given-000.html");
    cr_assert_not_null(strstr(report, "297 ok, 1 failed, 2 timed out"), "the live report");
    free(report);
    free(live);
    free(out);
    cli_rm_dir(dir);
}

/* With --run and no --policies nothing is simulated: the given runs are tabulated, and a
 * given oracle run and a given clairvoyant run each price the given runs of its trace. */
Test(cli_compare, given_runs_alone_are_tabulated, .timeout = 60)
{
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out");
    write_given(dir, "oracle-run", "oracle", "t.txt", 1.2, "\"sim\":{}");
    write_given(dir, "mark-run", "mark", "t.txt", 1.5, "\"sim\":{\"wall_s\":1}");
    write_given(dir, "live-run", "mark", "live http://[::1]:80", 1.4, SERVE_SECTION);
    write_given(dir, "clair-run", "clairvoyant", "t.txt", 1.25, "\"sim\":{}");
    char *paths[4] = {cli_path_in(dir, "oracle-run/"), cli_path_in(dir, "mark-run"),
                      cli_path_in(dir, "live-run"), cli_path_in(dir, "clair-run")};
    const char *argv[] = {SPILLWAY, "compare", "--run",  paths[0], "--run", paths[1], "--live",
                          paths[2], "--run",   paths[3], "--out",  out,     NULL};
    char *so, *se;
    cr_assert_eq(cli_run(argv, &so, &se), 0, "%s", se);
    cr_assert_not_null(strstr(so, "4 runs, 0 failed"), "%s", so);
    free(so);
    free(se);
    json_t *rows = cmp_load_rows(out);
    cr_assert_eq(json_array_size(rows), 4);
    json_t *mark = row_named(rows, "mark-run");
    cr_assert_str_eq(json_string_value(json_object_get(mark, "source")), "simulated");
    cr_assert_float_eq(json_real_value(json_object_get(mark, "cost_vs_oracle")), 1.25, 1e-9);
    cr_assert_float_eq(
        json_real_value(json_object_get(row_named(rows, "oracle-run"), "cost_vs_oracle")), 1.0,
        1e-9, "a trailing slash does not hide the folder's name");
    cr_assert(json_is_null(json_object_get(row_named(rows, "live-run"), "cost_vs_oracle")));
    cr_assert_float_eq(json_real_value(json_object_get(mark, "cost_vs_clairvoyant")), 1.2, 1e-9);
    cr_assert_float_eq(
        json_real_value(json_object_get(row_named(rows, "oracle-run"), "cost_vs_clairvoyant")),
        0.96, 1e-9, "the oracle is below the clairvoyant bound");
    cr_assert(json_is_null(json_object_get(row_named(rows, "live-run"), "cost_vs_clairvoyant")));
    json_decref(rows);
    char *run0 = cli_path_in(out, "run-000");
    struct stat st;
    cr_assert_neq(stat(run0, &st), 0, "nothing was simulated");
    free(run0);
    char *report = cli_read_output(out, "given-001.html");
    cr_assert_not_null(strstr(report, "1.25x (oracle $1.20"), "mark-run's report is priced");
    free(report);
    for (int i = 0; i < 4; i++)
        free(paths[i]);
    free(out);
    cli_rm_dir(dir);
}

/* A damaged --run directory is named, with its file and field, before anything runs, as
 * `spillway report` would name it; so are options that only shape simulated runs. */
Test(cli_compare, bad_given_run_is_refused_before_anything_runs, .timeout = 60)
{
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out"), *bad = cli_path_in(dir, "bad");
    write_given(dir, "bad", "mark", "live", 1, "\"serve\":{\"wall_s\":1}");
    const char *argv[] = {SPILLWAY, "compare", "--config", EXAMPLE, "--policies", "oracle",
                          "--run",  bad,       "--out",    out,     NULL};
    char *so, *se, want[4300];
    cr_assert_eq(cli_run(argv, &so, &se), 2, "%s", se);
    snprintf(want, sizeof want, "--run %s: %s/summary.json: serve.calls.accepted: missing", bad,
             bad);
    cr_assert_not_null(strstr(se, want), "%s", se);
    free(so);
    free(se);
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "%s was created", out);
    const char *sets[] = {SPILLWAY,   "compare", "--run", bad, "--set",
                          "seed=1,2", "--out",   out,     NULL};
    cr_assert_eq(cli_run(sets, &so, &se), 2);
    cr_assert_not_null(strstr(se, "--set and the trace options shape the runs of --policies"), "%s",
                       se);
    free(so);
    free(se);
    char *missing = cli_path_in(dir, "nowhere");
    const char *gone[] = {SPILLWAY, "compare", "--live", missing, "--out", out, NULL};
    cr_assert_eq(cli_run(gone, &so, &se), 2);
    snprintf(want, sizeof want, "--run %s: No such file or directory", missing);
    cr_assert_not_null(strstr(se, want), "%s", se);
    free(so);
    free(se);
    free(missing);
    /* A folder, but not a run's: said so, rather than as a missing file. */
    const char *no_run[] = {SPILLWAY, "compare", "--run", dir, "--out", out, NULL};
    cr_assert_eq(cli_run(no_run, &so, &se), 2);
    snprintf(want, sizeof want, "--run %s: not a run directory: it has no summary.json", dir);
    cr_assert_not_null(strstr(se, want), "%s", se);
    free(so);
    free(se);
    free(bad);
    free(out);
    cli_rm_dir(dir);
}

/* A real `spillway serve` run (one static worker, calls with Fashion-MNIST rows, drained
 * by SIGTERM) beside a simulated one: compare reads what serve wrote, not a copy of it
 * made by hand, so a change on either side that parts them fails here. */
static const char *live_policy =
    "slo: {latency_ms: 300, target: 0.9}\n"
    "instance_types:\n"
    "  - name: cpu\n"
    "    price_per_hour_usd: 0.085\n"
    "    provider: local\n"
    "    boot_s: {dist: constant, mean: 1}\n"
    "    max_batch: 4\n"
    "    batch_latency_ms: [1, 1.5, 2, 2.5]\n"
    "faas: {enabled: false}\n"
    "policy:\n"
    "  name: static\n"
    "  static: {pool: [{type: cpu, count: 1}]}\n";

/* Serves `calls` calls of 3 rows each and drains; the run directory is srv->dir/out. */
static void serve_some(sh_server_t *srv, size_t calls)
{
    float *x = sh_images(3, NULL), *want = sh_expected(x, 3);
    sh_start(srv, live_policy, NULL);
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (sh_metric(srv, "spillway_workers{type=\"cpu\",state=\"running\"}") < 1) {
        cr_assert_lt(sw_clock_now(), end, "the worker did not come up");
        usleep(100000);
    }
    char *body = sh_infer_body(x, 0, 3);
    for (size_t i = 0; i < calls; i++) {
        sh_resp_t r;
        sh_http(srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
        sh_check_outputs(&r, want, 3);
        sw_free(r.body);
    }
    sw_free(body);
    sw_free(x);
    sw_free(want);
    int status = sh_stop(srv, SIGTERM, 60);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "serve exit status %d", status);
}

Test(cli_compare, real_serve_run_beside_a_simulated_one, .timeout = 240)
{
    sh_server_t srv;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sh_prepare(&srv);
    serve_some(&srv, 5);
    char *dir = cli_make_dir(), *out = cli_path_in(dir, "out"), *live = cli_path_in(srv.dir, "out");
    const char *argv[] = {SPILLWAY,  "compare",    "--config", EXAMPLE,      "--trace",
                          CMP_TRACE, "--duration", "600",      "--policies", "mark",
                          "--live",  live,         "--out",    out,          NULL};
    char *so, *se;
    int rc = cli_run(argv, &so, &se);
    cr_assert_eq(rc, 0, "%s", se);
    cr_assert_not_null(strstr(so, "2 runs, 0 failed"), "%s", so);
    free(so);
    free(se);
    json_t *rows = cmp_load_rows(out), *given = row_named(rows, "out");
    cr_assert_str_eq(json_string_value(json_object_get(row_named(rows, "run-000"), "source")),
                     "simulated");
    cr_assert_str_eq(json_string_value(json_object_get(given, "source")), "live");
    cr_assert_str_eq(json_string_value(json_object_get(given, "policy")), "static");
    cr_assert_eq(json_integer_value(json_object_get(given, "exit_status")), 0);
    cr_assert_float_eq(json_real_value(json_object_get(given, "spill_share")), 0, 1e-12,
                       "functions are off: every row was served by the worker");
    cr_assert_gt(json_real_value(json_object_get(given, "cost_usd")), 0, "the worker is billed");
    json_decref(rows);
    char *html = cli_read_output(out, "comparison.html");
    cr_assert_not_null(strstr(html, "<td>out (live, static)</td>"), "labelled");
    cr_assert_not_null(strstr(html, "<circle data-series=\"live\""), "a live point");
    free(html);
    char *report = cli_read_output(out, "given-000.html");
    cr_assert_not_null(strstr(report, "5 ok, 0 failed"), "the report shows serve's calls");
    free(report);
    free(live);
    free(out);
    cli_rm_dir(dir);
    sh_cleanup(&srv);
    curl_global_cleanup();
}
