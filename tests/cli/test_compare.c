/* Black-box tests of `spillway compare`: a small policy comparison, a failing run reported
 * beside the ones that succeed, a bad sweep value rejected before anything runs, and a
 * sweep over the SLO. */
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
    double oracle_vm = json_real_value(json_object_get(cmp_row(rows, "oracle"), "vm_cost_usd"));
    cr_assert_gt(oracle_vm, 0.0);
    const char *vm_users[] = {"mark", "static"};
    for (size_t i = 0; i < 2; i++) {
        json_t *r = cmp_row(rows, vm_users[i]);
        cr_assert_eq(json_integer_value(json_object_get(r, "exit_status")), 0);
        cr_assert_lt(oracle_vm, json_real_value(json_object_get(r, "vm_cost_usd")),
                     "oracle VM cost is not below %s's", vm_users[i]);
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
