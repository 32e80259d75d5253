/* `spillway profile --via-worker` through the real binary: it starts a real worker, times
 * the round trip serve's driver sees, writes a profile check-config accepts, and leaves no
 * worker behind, whether it succeeded or failed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "model/model.h"
#include "tests/cli/cli_helpers.h"
#include "tests/tiny_model.h"

#define MODEL SW_BINARY_DIR "/fashion-mlp.pb"

/* Runs profile on `model` (with --via-worker when asked) for b = 1..4 into dir/name,
 * asserting exit 0; returns the profile as check-config loads it, and stderr in *err. */
static sw_cfg_t *profile(const char *dir, const char *name, const char *model, bool via_worker,
                         char **err)
{
    char *path = cli_path_in(dir, name);
    const char *argv[] = {SPILLWAY, "profile",   "--model", model,      "--max-batch",
                          "4",      "--repeats", "100",     "--min-ms", "10",
                          "--out",  path,        NULL,      NULL};
    if (via_worker)
        argv[12] = "--via-worker";
    char *out;
    int rc = cli_run(argv, &out, err);
    cr_assert_eq(rc, 0, "exit %d\n%s", rc, *err);
    sw_cfg_t *cfg = cli_load_profile(path);
    free(out);
    free(path);
    return cfg;
}

/* How many processes have `text` in their command line, this one excepted. */
static int processes_naming(const char *text)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    struct dirent *e;
    int found = 0;
    char self[32];
    snprintf(self, sizeof self, "%d", (int)getpid());
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, self) == 0 || e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[8192];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        for (size_t i = 0; i < n; i++) /* argv is NUL-separated */
            buf[i] = buf[i] ? buf[i] : ' ';
        buf[n] = '\0';
        found += strstr(buf, text) != NULL;
    }
    closedir(d);
    return found;
}

/* A copy of the build's model in dir, so the worker's command line names a path that no
 * other process does. */
static char *copy_model(const char *dir)
{
    size_t len;
    char *bytes = cli_slurp(MODEL, &len);
    cr_assert_not_null(bytes, "%s: build the default model first", MODEL);
    char *path = cli_path_in(dir, "model.pb");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    free(bytes);
    return path;
}

Test(cli_profile_worker, writes_a_profile_check_config_accepts_and_reaps_its_worker, .timeout = 60)
{
    char *dir = cli_make_dir(), *model = copy_model(dir), *err;
    sw_cfg_t *cfg = profile(dir, "rt.yaml", model, true, &err);
    const sw_cfg_instance_type_t *t = &cfg->instance_types[0];
    cr_assert_eq(t->max_batch, 4);
    cr_assert_eq(t->batch_latency_ms_count, 4);
    for (unsigned b = 0; b < 4; b++) {
        cr_assert_geq(t->batch_latency_ms[b], 0.001, "T_%u = %g", b + 1, t->batch_latency_ms[b]);
        cr_assert(b == 0 || t->batch_latency_ms[b] >= t->batch_latency_ms[b - 1]);
    }
    char *yaml = cli_read_output(dir, "rt.yaml");
    cr_assert_not_null(strstr(yaml, "measured through a `spillway worker`"), "%s", yaml);
    cr_assert_not_null(strstr(yaml, "loopback TCP"), "%s", yaml);
    /* One summary line, and nothing else: the listener's and the worker's logs are not
     * for a profile's user. */
    cr_assert_not_null(strstr(err, "median compute (worker) vs round trip: b=1 "), "%s", err);
    cr_assert_not_null(strstr(err, ", b=4 "), "%s", err);
    cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line expected:\n%s", err);
    /* Exit 0 means the worker drained and was reaped with status 0; nothing runs on. */
    cr_assert_eq(processes_naming(model), 0, "a worker serving %s is still there", model);
    sw_cfg_destroy(cfg);
    free(yaml);
    free(err);
    free(model);
    cli_rm_dir(dir);
}

/* The point of --via-worker: the round trip holds the forward pass and the protocol, so it
 * is longer than the forward pass alone (medians of 100+ batches each, which noise does
 * not turn around: the protocol alone takes longer than the demo model's compute). */
Test(cli_profile_worker, round_trip_exceeds_the_forward_pass_alone, .timeout = 60)
{
    char *dir = cli_make_dir(), *e1, *e2;
    sw_cfg_t *rt = profile(dir, "rt.yaml", MODEL, true, &e1);
    sw_cfg_t *fp = profile(dir, "fp.yaml", MODEL, false, &e2);
    double t_rt = rt->instance_types[0].batch_latency_ms[0];
    double t_fp = fp->instance_types[0].batch_latency_ms[0];
    cr_assert_gt(t_rt, t_fp, "T_1 through a worker %g ms, in-process %g ms", t_rt, t_fp);
    char *yaml = cli_read_output(dir, "fp.yaml");
    cr_assert_not_null(strstr(yaml, "forward pass alone"), "%s", yaml);
    cr_assert_eq(strlen(e2), 0, "the in-process profile prints nothing: %s", e2);
    sw_cfg_destroy(rt);
    sw_cfg_destroy(fp);
    free(yaml);
    free(e1);
    free(e2);
    cli_rm_dir(dir);
}

/* A worker that cannot start is reported with what it said, and reaped. */
Test(cli_profile_worker, a_worker_that_fails_to_start_is_reported_with_its_messages, .timeout = 60)
{
    /* The worker refuses a malformed testing knob before it dials in; profile does not
     * read it. Criterion runs each test in its own process, so this stays here. */
    cr_assert_eq(setenv("SW_DEBUG_COMPUTE_DELAY_MS", "soon", 1), 0);
    char *dir = cli_make_dir(), *model = copy_model(dir);
    const char *argv[] = {SPILLWAY,      "profile", "--via-worker", "--model", model,
                          "--max-batch", "2",       "--out",        "-",       NULL};
    char *out, *err;
    cr_assert_eq(cli_run(argv, &out, &err), 1, "%s", err);
    cr_assert_not_null(strstr(err, "the worker exited (exit status 2) before it dialled in"), "%s",
                       err);
    cr_assert_not_null(strstr(err, "the worker's last messages:"), "%s", err);
    cr_assert_not_null(strstr(err, "SW_DEBUG_COMPUTE_DELAY_MS soon"), "%s", err);
    cr_assert_eq(strlen(out), 0, "no profile is written: %s", out);
    cr_assert_eq(processes_naming(model), 0);
    free(out);
    free(err);
    free(model);
    cli_rm_dir(dir);
}

/* Runs argv; asserts exit 2 and that stderr holds `part`. */
static void expect_usage_error(const char *const argv[], const char *part)
{
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_assert_eq(rc, 2, "exit %d, want 2:\n%s", rc, err);
    cr_assert_not_null(strstr(err, part), "stderr lacks \"%s\":\n%s", part, err);
    free(out);
    free(err);
}

Test(cli_profile_worker, missing_data_is_a_usage_error_that_says_where_to_get_it, .timeout = 30)
{
    const char *argv[] = {SPILLWAY, "profile",      "--via-worker", "--model", MODEL,
                          "--data", "/nonexistent", "--out",        "-",       NULL};
    expect_usage_error(argv, "/nonexistent/t10k-images-idx3-ubyte.gz");
    expect_usage_error(argv, "dataset-fashion-mnist");
    const char *in_process[] = {SPILLWAY, "profile", "--model", MODEL, "--data",
                                "/tmp",   "--out",   "-",       NULL};
    expect_usage_error(in_process, "--data is read only with --via-worker");
}

Test(cli_profile_worker, a_model_the_images_do_not_fit_is_a_usage_error, .timeout = 30)
{
    char *dir = cli_make_dir(), *model = cli_path_in(dir, "tiny.pb");
    char err[512];
    cr_assert_eq(sw_model_save(model, &tiny, err, sizeof err), 0, "%s", err);
    const char *argv[] = {SPILLWAY, "profile", "--via-worker", "--model", model, "--out",
                          "-",      NULL};
    expect_usage_error(argv, "takes 3 inputs per request; profile it without --via-worker");
    free(model);
    cli_rm_dir(dir);
}
