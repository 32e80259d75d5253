/* Hostile and absurd inputs through the real binary (issue 10): for each kind of file a
 * command reads, and for the options that bound a run, the exit status (2 for a usage
 * error or a bad input file, 1 for a runtime failure such as a malformed trace line) and a
 * message that names the file, the line or field, and what is wrong. Nothing may crash,
 * hang, exhaust memory, or print a number computed from nonsense. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "config/config.h"
#include "model/model.h"
#include "tests/cli/cli_helpers.h"
#include "tests/tiny_model.h"

#define DAY0 SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_day00_per_second.txt"

/* Runs argv; asserts the exit status and that stderr holds each of the NULL-terminated
 * parts. */
static void expect_exit(const char *const argv[], int status, const char *const parts[])
{
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_assert_eq(rc, status, "%s %s: exit %d, want %d; stderr:\n%s", argv[1], argv[2], rc, status,
                 err);
    for (size_t i = 0; parts[i]; i++)
        cr_assert(strstr(err, parts[i]), "%s %s: stderr lacks \"%s\":\n%s", argv[1], argv[2],
                  parts[i], err);
    free(out);
    free(err);
}

/* ---- simulate: traces ---------------------------------------------------------------- */

/* The window past the end of the trace printed "0 requests, SLO 100 % met" with exit 0;
 * it is a usage error naming the span, also for the oracle, which reads the trace first. */
Test(cli_inputs, simulate_window_past_the_trace_is_a_usage_error, .timeout = 60)
{
    char *dir = cli_make_dir();
    const char *want[] = {"the window starts 90000.000 s into the trace (start_s, --start), "
                          "but the trace ends at 86400.000 s",
                          NULL};
    for (int oracle = 0; oracle < 2; oracle++)
        expect_exit((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE, "--trace",
                                          DAY0, "--start", "90000", "--policy",
                                          oracle ? "oracle" : "mark", "--no-progress", "--out", dir,
                                          NULL},
                    2, want);
    cli_rm_dir(dir);
}

/* Malformed lines stop the run with FILE:LINE (exit 1, as README says): a third column,
 * a count past the rate limit, a row past the span limit. */
Test(cli_inputs, simulate_trace_lines_past_the_limits_name_file_and_line, .timeout = 60)
{
    static const struct {
        const char *name, *text, *msg;
    } cases[] = {
        {"minutes.csv", "minute_index,requests\n0,5\n1,6,7\n",
         ":3: the row has more than 2 fields, but the header has 2"},
        {"seconds.txt", "3 1000000000000 4\n",
         ":1: count 1000000000000 (word 2) is more than "
         "the 10000000 requests a second"},
        {"dates.csv", "TIMESTAMP\n1900-01-01 00:00:00\n9999-12-31 23:59:59\n",
         ":3: TIMESTAMP: \"9999-12-31 23:59:59\" is 2958464.0 days after the first row"},
    };
    char *dir = cli_make_dir();
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        char *trace = cli_write_file(dir, cases[i].name, cases[i].text);
        char want[600];
        snprintf(want, sizeof want, "%s%s", trace, cases[i].msg);
        expect_exit((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE, "--trace",
                                          trace, "--no-progress", "--out", dir, NULL},
                    1, (const char *const[]){want, NULL});
        unlink(trace);
        free(trace);
    }
    cli_rm_dir(dir);
}

/* A folder, a device or a FIFO as the trace: refused by name before the run, exit 2. */
Test(cli_inputs, simulate_trace_that_is_no_regular_file_is_a_usage_error, .timeout = 30)
{
    char *dir = cli_make_dir();
    char *fifo = cli_path_in(dir, "fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *paths[] = {dir, "/dev/zero", fifo};
    for (size_t i = 0; i < SW_ARRAY_LEN(paths); i++)
        expect_exit(
            (const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE, "--trace", paths[i],
                                  "--no-progress", "--out", dir, NULL},
            2,
            (const char *const[]){
                paths[i], i ? "is not a regular file" : "is a directory, not a trace", NULL});
    unlink(fifo);
    free(fifo);
    cli_rm_dir(dir);
}

/* ---- report and compare: run directories --------------------------------------------- */

/* A run directory whose files are damaged, missing or no files at all: exit 2, naming the
 * file and the field or line. */
Test(cli_inputs, report_of_a_bad_run_directory_is_a_usage_error)
{
    char *dir = cli_make_dir();
    const char *const missing[] = {dir, "summary.json: No such file or directory", NULL};
    expect_exit((const char *const[]){SPILLWAY, "report", dir, NULL}, 2, missing);
    char *summary = cli_write_file(dir, "summary.json", "{\"requests\": -1}");
    const char *const negative[] = {"summary.json: requests: -1 must be a whole number >= 0", NULL};
    expect_exit((const char *const[]){SPILLWAY, "report", dir, NULL}, 2, negative);
    unlink(summary);
    cr_assert_eq(mkfifo(summary, 0600), 0);
    const char *const fifo[] = {"summary.json: is not a regular file", NULL};
    expect_exit((const char *const[]){SPILLWAY, "report", dir, NULL}, 2, fifo);
    unlink(summary);
    free(summary);
    cli_rm_dir(dir);
}

/* Every policy times every combination of --set values: 64 x 64 runs is refused before
 * anything runs or is created, where the limits allowed up to 16 x 64^16 (which wrapped). */
Test(cli_inputs, compare_grid_past_its_limit_is_refused_before_running)
{
    /* The values need not be valid: the grid's size is checked first. */
    char values[2][1024];
    for (int k = 0; k < 2; k++) {
        size_t o =
            (size_t)snprintf(values[k], sizeof values[k], "%s=", k ? "seed" : "slo.latency_ms");
        for (int i = 1; i <= 64; i++)
            o += (size_t)snprintf(values[k] + o, sizeof values[k] - o, i > 1 ? ",%d" : "%d", i);
    }
    char *dir = cli_make_dir();
    char *out = cli_path_in(dir, "cmp");
    const char *const want[] = {"1 policies times the --set values make more than the 1024 "
                                "runs a comparison may hold",
                                NULL};
    expect_exit((const char *const[]){SPILLWAY, "compare", "--config", EXAMPLE, "--policies",
                                      "mark", "--set", values[0], "--set", values[1], "--out", out,
                                      NULL},
                2, want);
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "%s was created", out);
    free(out);
    cli_rm_dir(dir);
}

/* An empty value in a list (a typo) and a value given twice (the same run under two
 * names) are refused before anything runs; strtok once dropped the empty one silently. */
Test(cli_inputs, compare_lists_refuse_empty_and_repeated_values)
{
    static const char *const cases[][3] = {
        {"mark", "seed=1,,2", "--set seed=1,,2: an empty value"},
        {"mark", "seed=1,2,", "--set seed=1,2,: an empty value"},
        {"mark", "seed=", "--set seed=: an empty value"},
        {"mark", "seed=1,2,1", "--set seed=1,2,1: '1' is given twice"},
        {"mark,faas-only,mark", "seed=1", "--policies: 'mark' is given twice"},
        {",mark", "seed=1", "--policies: an empty value"},
    };
    char *dir = cli_make_dir();
    char *out = cli_path_in(dir, "cmp");
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        const char *const want[] = {cases[i][2], NULL};
        expect_exit((const char *const[]){SPILLWAY, "compare", "--config", EXAMPLE, "--policies",
                                          cases[i][0], "--set", cases[i][1], "--out", out, NULL},
                    2, want);
        struct stat st;
        cr_assert_neq(stat(out, &st), 0, "%s was created", out);
    }
    free(out);
    cli_rm_dir(dir);
}

/* ---- profile and the model commands --------------------------------------------------- */

/* Issue 10: a model served in under a microsecond (the clock's resolution) was profiled
 * as batch_latency_ms: [0, 0, ...], which check-config refuses. Values are rounded up to
 * 0.001 ms, and stay non-decreasing. */
Test(cli_inputs, profile_of_a_tiny_model_is_a_valid_config, .timeout = 60)
{
    char *dir = cli_make_dir();
    char *model = cli_path_in(dir, "tiny.pb"), *out = cli_path_in(dir, "profile.yaml");
    char err[512];
    cr_assert_eq(sw_model_save(model, &tiny, err, sizeof err), 0, "%s", err);
    const char *const argv[] = {SPILLWAY, "profile",   "--model", model,      "--max-batch",
                                "16",     "--repeats", "50",      "--min-ms", "1",
                                "--out",  out,         NULL};
    char *so, *se;
    cr_assert_eq(cli_run(argv, &so, &se), 0, "%s", se);
    sw_cfg_t *cfg = cli_load_profile(out);
    const sw_cfg_instance_type_t *t = &cfg->instance_types[0];
    cr_assert_eq(t->batch_latency_ms_count, 16);
    for (unsigned b = 0; b < 16; b++) {
        cr_assert_geq(t->batch_latency_ms[b], 0.001, "T_%u = %g", b + 1, t->batch_latency_ms[b]);
        cr_assert(b == 0 || t->batch_latency_ms[b] >= t->batch_latency_ms[b - 1]);
    }
    sw_cfg_destroy(cfg);
    free(so);
    free(se);
    free(model);
    free(out);
    cli_rm_dir(dir);
}

/* The same bad model gave 2 in profile and 1 in model eval (and was scored when its
 * weights were NaN); every command that reads a model now says 2 for it. */
Test(cli_inputs, same_bad_model_same_status_everywhere, .timeout = 60)
{
    char *dir = cli_make_dir();
    char *model = cli_path_in(dir, "nan.pb");
    /* sw_model_save refuses a NaN weight, so the file is damaged after it is written, as
     * a disk would: the float 0.5 of W1[0][2] becomes NaN in place. */
    char err[512];
    cr_assert_eq(sw_model_save(model, &tiny, err, sizeof err), 0, "%s", err);
    size_t len;
    char *bytes = cli_slurp(model, &len);
    float good = tiny_w1[2], nan = NAN;
    size_t at = 0;
    while (at + sizeof good <= len && memcmp(bytes + at, &good, sizeof good) != 0)
        at++;
    cr_assert_leq(at + sizeof good, len, "0.5 not found in the model file");
    memcpy(bytes + at, &nan, sizeof nan);
    FILE *f = fopen(model, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    free(bytes);
    const char *const want[] = {model, "layer 0: weight [0, 2] is nan", NULL};
    expect_exit((const char *const[]){SPILLWAY, "profile", "--model", model, "--out", "-", NULL}, 2,
                want);
    expect_exit((const char *const[]){SPILLWAY, "model", "eval", "--model", model, NULL}, 2, want);
    expect_exit((const char *const[]){SPILLWAY, "worker", "--connect", "127.0.0.1:1", "--type", "t",
                                      "--model", model, NULL},
                2, want);
    free(model);
    cli_rm_dir(dir);
}

/* ---- invoke's payload and faas-local's secret key ---------------------------------- */

/* A FIFO as --payload blocked the command for good, /dev/zero grew its buffer without
 * end, and a NUL byte or an overlong first line in the secret key file cut the secret
 * short, failing every signature later with no clue why. Each is refused at once (the
 * suite's timeout would catch a hang). */
Test(cli_inputs, payload_and_secret_files_are_checked_before_use, .timeout = 60)
{
    char *dir = cli_make_dir();
    char *fifo = cli_path_in(dir, "fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    const char *const not_regular[] = {"--payload ", "is not a regular file", NULL};
    const char *paths[] = {fifo, "/dev/zero"};
    for (size_t i = 0; i < SW_ARRAY_LEN(paths); i++)
        expect_exit((const char *const[]){SPILLWAY, "invoke", "--payload", paths[i], NULL}, 2,
                    not_regular);
    char *secret = cli_path_in(dir, "secret");
    FILE *f = fopen(secret, "wb");
    fwrite("ab\0cd\n", 1, 6, f);
    fclose(f);
    const char *const nul[] = {"--secret-access-key-file ", "a NUL byte in its first line", NULL};
    expect_exit((const char *const[]){SPILLWAY, "faas-local", "--access-key-id", "A",
                                      "--secret-access-key-file", secret, NULL},
                2, nul);
    const char *const fifo_secret[] = {"is not a regular file", NULL};
    expect_exit((const char *const[]){SPILLWAY, "faas-local", "--access-key-id", "A",
                                      "--secret-access-key-file", fifo, NULL},
                2, fifo_secret);
    unlink(secret);
    unlink(fifo);
    free(secret);
    free(fifo);
    cli_rm_dir(dir);
}

/* A training split past the end of the series printed "train [0, 99999999), test
 * [99999999, 21572)" before failing with exit 1; it is a usage error, said first. */
Test(cli_inputs, predict_eval_split_past_the_series_is_a_usage_error, .timeout = 60)
{
    const char *const want[] = {"training on intervals [0, 99999999) leaves nothing to score "
                                "in the trace's 21572 intervals: give --train-until below 21572",
                                NULL};
    expect_exit((const char *const[]){SPILLWAY, "predict", "eval", "--trace",
                                      SW_SOURCE_DIR "/data/traces/twitter-2021-08/"
                                                    "twitter_per_minute_days00-14.csv",
                                      "--model", "last", "--train-until", "99999999", NULL},
                2, want);
}

/* The Twitter day ends in its 29-minute hole: a window there holds no request. The run is
 * real, but it met no SLO, and says so instead of "100 % met". */
Test(cli_inputs, simulate_window_without_requests_claims_no_attainment, .timeout = 60)
{
    char *dir = cli_make_dir();
    char *so, *se;
    int rc =
        cli_run((const char *const[]){SPILLWAY, "simulate", "--config", EXAMPLE, "--trace", DAY0,
                                      "--start", "86000", "--no-progress", "--out", dir, NULL},
                &so, &se);
    cr_assert_eq(rc, 0, "%s", se);
    cr_assert(strstr(so, "SLO          none: no request arrived in the window"), "%s", so);
    char *summary = cli_read_output(dir, "summary.json");
    cr_assert(strstr(summary, "\"slo_met\": false"), "%s", summary);
    free(summary);
    free(so);
    free(se);
    cli_rm_dir(dir);
}

/* ---- HOST:PORT addresses ------------------------------------------------------------- */

/* worker --connect and faas-local --listen read addresses with the one parser the
 * frontend and the providers use (common/net.h): a signed, empty or out-of-range port
 * and a missing host are refused the same way by both, before anything starts. */
Test(cli_inputs, addresses_are_read_by_the_common_parser, .timeout = 60)
{
    const char *bad[] = {"127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:", ":80", "[]:80",
                         "127.0.0.1:65536", "localhost"};
    for (size_t i = 0; i < SW_ARRAY_LEN(bad); i++) {
        char want[64];
        snprintf(want, sizeof want, "--connect %s: expected HOST:PORT", bad[i]);
        expect_exit((const char *const[]){SPILLWAY, "worker", "--connect", bad[i], "--type", "t",
                                          "--model", "/nonexistent", NULL},
                    2, (const char *const[]){want, NULL});
        snprintf(want, sizeof want, "--listen %s: expected HOST:PORT", bad[i]);
        expect_exit((const char *const[]){SPILLWAY, "faas-local", "--listen", bad[i], NULL}, 2,
                    (const char *const[]){want, NULL});
    }
    /* A worker dials a port; port 0 is only for a listener asking for a free one. */
    expect_exit((const char *const[]){SPILLWAY, "worker", "--connect", "127.0.0.1:0", "--type",
                                      "t", "--model", "/nonexistent", NULL},
                2, (const char *const[]){"expected HOST:PORT", NULL});
}
