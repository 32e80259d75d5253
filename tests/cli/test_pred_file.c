/* Tests of cli/pred_file.c: a saved forecaster loads back with the same parameters and
 * forecasts bit for bit as before (recent-max by hand, then every registered forecaster on
 * a synthetic three-day series), and each way a file can be wrong gives its own message
 * naming the file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "config/config.h"
#include "predictor/predictor.h"
#include "proto/forecaster.pb-c.h"
#include "cli/pred_file.h"

#define HORIZON 5

static char dir[64];
static char path[128];
static char err[1024];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sw_pred_file_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/model.pb", dir);
}

static void remove_dir(void)
{
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(path);
    unlink(tmp);
    rmdir(dir);
}

TestSuite(serving_pred_file, .init = make_dir, .fini = remove_dir);

static void write_bytes(const char *p, const void *data, size_t n)
{
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static uint8_t *read_bytes(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    cr_assert_gt(len, 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)len);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static sw_pred_params_t recent_max_params(void)
{
    sw_pred_params_t pp;
    memset(&pp, 0, sizeof(pp));
    snprintf(pp.name, sizeof(pp.name), "recent-max");
    pp.horizon = HORIZON;
    pp.quantile = 0.95;
    pp.interval_s = 60;
    pp.window = 10;
    pp.headroom = 1.2;
    return pp;
}

static sw_pred_t *fitted_recent_max(void)
{
    static const double series[] = {3, 9, 4, 12, 7, 5, 8, 15, 6, 2, 11, 4, 9, 10, 3, 7};
    sw_pred_params_t pp = recent_max_params();
    sw_pred_t *p;
    cr_assert_eq(sw_pred_create(&p, &pp, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_pred_fit(p, series, NULL, SW_ARRAY_LEN(series), err, sizeof(err)), 0, "%s",
                 err);
    return p;
}

/* Params compared field by field: the struct has padding, so no memcmp. */
static void assert_same_params(const sw_pred_params_t *a, const sw_pred_params_t *b)
{
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->horizon, b->horizon);
    cr_assert_eq(memcmp(&a->quantile, &b->quantile, sizeof(double)), 0);
    cr_assert_eq(memcmp(&a->interval_s, &b->interval_s, sizeof(double)), 0);
    cr_assert_eq(a->season, b->season);
    cr_assert_eq(memcmp(&a->holdout_frac, &b->holdout_frac, sizeof(double)), 0);
    cr_assert_eq(a->calendar, b->calendar);
    cr_assert_eq(a->gaps.min_run, b->gaps.min_run);
    cr_assert_eq(memcmp(&a->gaps.min_level, &b->gaps.min_level, sizeof(double)), 0);
    cr_assert_eq(a->gaps.context, b->gaps.context);
    cr_assert_eq(a->seed, b->seed);
    cr_assert_eq(a->window, b->window);
    cr_assert_eq(memcmp(&a->headroom, &b->headroom, sizeof(double)), 0);
    cr_assert_eq(memcmp(&a->ewma_alpha, &b->ewma_alpha, sizeof(double)), 0);
    cr_assert_eq(a->ar_order, b->ar_order);
    cr_assert_eq(a->lstm_hidden, b->lstm_hidden);
    cr_assert_eq(a->lstm_window, b->lstm_window);
    cr_assert_eq(a->lstm_epochs, b->lstm_epochs);
    cr_assert_eq(memcmp(&a->lstm_learning_rate, &b->lstm_learning_rate, sizeof(double)), 0);
    cr_assert_eq(a->lstm_batch, b->lstm_batch);
}

/* Bit-identical forecasts: the same doubles, not merely close ones. */
static void assert_same_forecast(const sw_pred_t *a, const sw_pred_t *b, const char *what)
{
    double pa[HORIZON], ua[HORIZON], pb[HORIZON], ub[HORIZON];
    sw_forecast_t fa = {.horizon = HORIZON, .point = pa, .upper = ua};
    sw_forecast_t fb = {.horizon = HORIZON, .point = pb, .upper = ub};
    sw_pred_forecast(a, &fa);
    sw_pred_forecast(b, &fb);
    cr_assert_eq(memcmp(pa, pb, sizeof(pa)), 0, "%s: point forecasts differ (%.17g vs %.17g)", what,
                 pa[0], pb[0]);
    cr_assert_eq(memcmp(ua, ub, sizeof(ua)), 0, "%s: upper forecasts differ", what);
    cr_assert_eq(memcmp(&fa.max_point, &fb.max_point, sizeof(double)), 0,
                 "%s: max point differs (%.17g vs %.17g)", what, fa.max_point, fb.max_point);
    cr_assert_eq(memcmp(&fa.max_upper, &fb.max_upper, sizeof(double)), 0, "%s: max upper differs",
                 what);
}

/* Asserts that loading `path` fails with rc and a message that starts with the path and
 * then `msg` (a prefix of what follows ": "). */
static void assert_load_fails(int want_rc, const char *msg)
{
    sw_pred_t *p = (sw_pred_t *)1;
    int rc = sw_cli_pred_load(path, &p, err, sizeof(err));
    cr_assert_eq(rc, want_rc, "rc %d, want %d: %s", rc, want_rc, err);
    cr_assert_null(p);
    char want[512];
    snprintf(want, sizeof(want), "%s: %s", path, msg);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "message \"%s\", want \"%s...\"", err, want);
}

/* ---- Round trips ---------------------------------------------------------------------- */

Test(serving_pred_file, recent_max_round_trip_is_exact)
{
    sw_pred_t *a = fitted_recent_max();
    cr_assert_eq(sw_cli_pred_save(path, a, err, sizeof(err)), 0, "%s", err);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file was left behind");

    sw_pred_t *b = NULL;
    cr_assert_eq(sw_cli_pred_load(path, &b, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(sw_pred_name(b), "recent-max");
    sw_pred_params_t want = recent_max_params();
    assert_same_params(sw_pred_params(a), sw_pred_params(b));
    assert_same_params(&want, sw_pred_params(b));
    assert_same_forecast(a, b, "after load");

    /* The ring position came back too: the same new counts move both alike. */
    static const double more[] = {20, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 30};
    for (size_t i = 0; i < SW_ARRAY_LEN(more); i++) {
        sw_pred_observe(a, more[i]);
        sw_pred_observe(b, more[i]);
        assert_same_forecast(a, b, "after observe");
    }

    /* Saving over an existing file replaces it. */
    cr_assert_eq(sw_cli_pred_save(path, b, err, sizeof(err)), 0, "%s", err);
    sw_pred_t *c = NULL;
    cr_assert_eq(sw_cli_pred_load(path, &c, err, sizeof(err)), 0, "%s", err);
    assert_same_forecast(b, c, "after a second save");
    sw_pred_destroy(a);
    sw_pred_destroy(b);
    sw_pred_destroy(c);
}

/* Three days per minute with a daily cycle, a faster wobble and deterministic noise. */
static double *synthetic_series(size_t n)
{
    double *y = malloc(n * sizeof(double));
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double noise = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        double day = sin(2 * M_PI * (double)(i % 1440) / 1440.0);
        double hour = sin(2 * M_PI * (double)(i % 60) / 60.0);
        y[i] = round(200 + 120 * day + 15 * hour + 30 * noise);
    }
    return y;
}

static sw_pred_params_t params_for(const char *name)
{
    sw_pred_params_t pp;
    memset(&pp, 0, sizeof(pp));
    snprintf(pp.name, sizeof(pp.name), "%s", name);
    pp.horizon = HORIZON;
    pp.quantile = 0.9;
    pp.interval_s = 60;
    pp.season = 1440;
    pp.holdout_frac = 0.2;
    pp.gaps = (sw_gap_rule_t){.min_run = 20, .min_level = 10, .context = 60};
    pp.seed = 7;
    pp.window = 10;
    pp.headroom = 1.2;
    pp.ar_order = 30;
    pp.lstm_hidden = 8;
    pp.lstm_window = 30;
    pp.lstm_epochs = 1; /* the round trip, not the fit, is under test */
    pp.lstm_learning_rate = 0.003;
    pp.lstm_batch = 64;
    return pp;
}

/* Returns 1 if `name` round-tripped, 0 if it was skipped because it cannot be fitted. */
static int round_trip(const char *name, const double *y, size_t n)
{
    sw_pred_params_t pp = params_for(name);
    sw_pred_t *a;
    if (sw_pred_create(&a, &pp, err, sizeof(err)) != 0) {
        cr_log_warn("skipping %s: create failed: %s", name, err);
        return 0;
    }
    if (sw_pred_fit(a, y, NULL, n, err, sizeof(err)) != 0) {
        cr_log_warn("skipping %s: fit failed: %s", name, err);
        sw_pred_destroy(a);
        return 0;
    }
    /* Saved in the middle of a run of zeros, so the online gap holding is saved too. */
    for (size_t i = 0; i < 5; i++)
        sw_pred_observe(a, 0);
    cr_assert_eq(sw_cli_pred_save(path, a, err, sizeof(err)), 0, "%s: %s", name, err);
    sw_pred_t *b = NULL;
    cr_assert_eq(sw_cli_pred_load(path, &b, err, sizeof(err)), 0, "%s: %s", name, err);
    cr_assert_str_eq(sw_pred_name(b), name);
    assert_same_params(sw_pred_params(a), sw_pred_params(b));
    assert_same_forecast(a, b, name);
    /* The run grows into a gap, then load resumes: both move alike at every step. */
    for (size_t i = 0; i < 60; i++) {
        double v = i < 25 ? 0 : y[i];
        sw_pred_observe(a, v);
        sw_pred_observe(b, v);
        assert_same_forecast(a, b, name);
    }
    sw_pred_destroy(a);
    sw_pred_destroy(b);
    return 1;
}

Test(serving_pred_file, every_registered_forecaster_round_trips, .timeout = 300)
{
    size_t n = 3 * 1440;
    double *y = synthetic_series(n);
    char *names = strdup(sw_pred_known_names());
    int done = 0, known = 0;
    char *save = NULL;
    for (char *tok = strtok_r(names, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        known++;
        done += round_trip(tok, y, n);
    }
    cr_log_info("%d of %d forecasters round-tripped (%s)", done, known, sw_pred_known_names());
    cr_assert_geq(done, 1, "no forecaster could be fitted");
    free(names);
    free(y);
}

Test(serving_pred_file, config_accepts_every_registered_name)
{
    /* config/ keeps its own list of names (it may not depend on predictor/): every name
     * predictor/ knows must load. */
    char *names = strdup(sw_pred_known_names());
    char *save = NULL;
    for (char *tok = strtok_r(names, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "predictor: {name: %s}\n", tok);
        sw_cfg_t *cfg = NULL;
        cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, err, sizeof(err)), 0,
                     "%s", err);
        sw_cfg_destroy(cfg);
    }
    free(names);
}

/* ---- Bad files ------------------------------------------------------------------------ */

Test(serving_pred_file, missing_file_is_enoent_naming_the_path)
{
    sw_pred_t *p = (sw_pred_t *)1;
    cr_assert_eq(sw_cli_pred_load(path, &p, err, sizeof(err)), -ENOENT);
    cr_assert_null(p);
    char want[256];
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    cr_assert_str_eq(err, want);
}

Test(serving_pred_file, truncated_file_is_refused)
{
    sw_pred_t *a = fitted_recent_max();
    cr_assert_eq(sw_cli_pred_save(path, a, err, sizeof(err)), 0, "%s", err);
    sw_pred_destroy(a);
    size_t n;
    uint8_t *bytes = read_bytes(path, &n);
    write_bytes(path, bytes, n / 2);
    free(bytes);
    sw_pred_t *p = (sw_pred_t *)1;
    int rc = sw_cli_pred_load(path, &p, err, sizeof(err));
    cr_assert_lt(rc, 0);
    cr_assert_null(p);
    cr_assert_eq(strncmp(err, path, strlen(path)), 0, "message does not name the file: %s", err);
    cr_log_info("truncated: %s", err);
}

Test(serving_pred_file, empty_file_is_refused)
{
    write_bytes(path, "", 0);
    assert_load_fails(SW_EPARSE, "empty file");
}

Test(serving_pred_file, garbage_is_not_a_forecaster_file)
{
    static const char junk[] = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff this is no protobuf";
    write_bytes(path, junk, sizeof(junk) - 1);
    assert_load_fails(SW_EPARSE, "not a spillway forecaster file");
    static const char text[] = "# Spillway configuration\nseed: 1\n";
    write_bytes(path, text, sizeof(text) - 1);
    assert_load_fails(SW_EPARSE, "not a spillway forecaster file");
}

static void write_state(const char *kind, uint32_t version)
{
    Spillway__ForecasterParams params = SPILLWAY__FORECASTER_PARAMS__INIT;
    params.name = "recent-max";
    params.horizon = HORIZON;
    params.quantile = 0.95;
    params.window = 10;
    params.headroom = 1.2;
    Spillway__ForecasterState st = SPILLWAY__FORECASTER_STATE__INIT;
    st.kind = (char *)kind;
    st.format_version = version;
    st.params = &params;
    size_t n = spillway__forecaster_state__get_packed_size(&st);
    uint8_t *buf = malloc(n);
    cr_assert_eq(spillway__forecaster_state__pack(&st, buf), n);
    write_bytes(path, buf, n);
    free(buf);
}

Test(serving_pred_file, another_protobuf_is_not_a_forecaster_file)
{
    write_state("spillway.decisions", 1);
    assert_load_fails(SW_EPARSE, "not a spillway forecaster file (kind \"spillway.decisions\", "
                                 "not \"spillway.forecaster\")");
    /* A different message type whose field 1 is also a string. */
    Spillway__Tensor t = SPILLWAY__TENSOR__INIT;
    double d[2] = {1, 2};
    t.name = "ring";
    t.n_data = 2;
    t.data = d;
    uint8_t buf[64];
    size_t n = spillway__tensor__pack(&t, buf);
    write_bytes(path, buf, n);
    assert_load_fails(SW_EPARSE, "not a spillway forecaster file");
}

Test(serving_pred_file, other_format_version_is_unsupported)
{
    write_state("spillway.forecaster", 2);
    assert_load_fails(SW_EUNSUPPORTED, "unsupported format version 2 (this build reads 1)");
}

Test(serving_pred_file, import_error_is_passed_on_with_the_path)
{
    /* Our kind and version, but no fitted state: predictor/ refuses it. */
    write_state("spillway.forecaster", 1);
    sw_pred_t *p = (sw_pred_t *)1;
    int rc = sw_cli_pred_load(path, &p, err, sizeof(err));
    cr_assert_eq(rc, -EINVAL, "%s", err);
    cr_assert_null(p);
    char want[256];
    snprintf(want, sizeof(want), "%s: predictor", path);
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
}

Test(serving_pred_file, save_into_a_missing_folder_fails_cleanly)
{
    sw_pred_t *a = fitted_recent_max();
    char bad[192];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/model.pb", dir);
    int rc = sw_cli_pred_save(bad, a, err, sizeof(err));
    cr_assert_eq(rc, -ENOENT, "%s", err);
    char want[512];
    snprintf(want, sizeof(want), "%s: cannot create (%s.tmp): No such file or directory", bad, bad);
    cr_assert_str_eq(err, want);
    sw_pred_destroy(a);
}
