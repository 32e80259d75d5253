/* Tests of cli/pred_file.c: a saved forecaster loads back with the same parameters and
 * forecasts bit for bit as before (recent-max by hand, then every registered forecaster on
 * a synthetic three-day series), and each way a file can be wrong gives its own message
 * naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "common/file.h"
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
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    cr_assert_str_eq(err, want);
}

/* Issue 10: a path that names no regular file is refused by name, before any read (a
 * FIFO would block, /dev/zero would never end, a folder gave "Is a directory" from read). */
Test(serving_pred_file, directory_device_and_fifo_are_refused_by_name, .timeout = 10)
{
    char fifo[160];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0, "%s", strerror(errno));
    static const struct {
        const char *path;
        int rc;
        const char *msg;
    } cases[] = {
        {"/tmp", -EISDIR, "/tmp: is a directory, not a forecaster file"},
        {"/dev/zero", -EINVAL, "/dev/zero: is not a regular file (a device, FIFO or socket)"},
        {NULL, -EINVAL, "is not a regular file (a device, FIFO or socket)"},
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        sw_pred_t *p = (sw_pred_t *)1;
        const char *what = cases[i].path ? cases[i].path : fifo;
        cr_assert_eq(sw_cli_pred_load(what, &p, err, sizeof(err)), cases[i].rc, "%s: %s", what,
                     err);
        cr_assert_null(p);
        cr_assert(strstr(err, cases[i].msg), "%s: \"%s\"", what, err);
    }
    unlink(fifo);
}

/* A file past the cap is refused from its size alone: this one is sparse, so the test
 * writes nothing, and the loader must not read it either. */
Test(serving_pred_file, file_over_the_size_cap_is_refused_unread)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)SW_FILE_MAX_FORECASTER_BYTES + 1), 0);
    close(fd);
    assert_load_fails(-EFBIG, "is 268435457 bytes, more than the 268435456 allowed for a "
                              "forecaster file");
}

/* A megabyte of empty Tensor submessages (2 bytes each) would decode to about 36 MB of
 * structs; the budget stops the decoder at three. */
Test(serving_pred_file, file_that_decodes_to_far_more_than_its_size_is_refused)
{
    size_t n = 1 << 20;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i += 2) {
        buf[i] = 0x22; /* field 4 (tensors), length-delimited */
        buf[i + 1] = 0;
    }
    write_bytes(path, buf, n);
    free(buf);
    assert_load_fails(SW_EPARSE, "not a spillway forecaster file (its 1048576 bytes decode to "
                                 "more than 3145728 bytes of messages");
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

/* ---- Crafted files: every saved value is checked before it is used ------------------ */

/* Saves an unfitted forecaster `name` (params_for), then unpacks the file, lets `edit`
 * change the message and packs it back: the file a damaged disk or a hostile hand would
 * give. Unfitted forecasters export the same tensors as fitted ones, and fast. */
static void save_edited(const char *name, void (*edit)(Spillway__ForecasterState *, void *),
                        void *ctx)
{
    sw_pred_params_t pp = params_for(name);
    pp.calendar = strcmp(name, "ar") == 0 || strcmp(name, "lstm") == 0;
    sw_pred_t *p;
    cr_assert_eq(sw_pred_create(&p, &pp, err, sizeof(err)), 0, "%s: %s", name, err);
    cr_assert_eq(sw_cli_pred_save(path, p, err, sizeof(err)), 0, "%s: %s", name, err);
    sw_pred_destroy(p);
    size_t n;
    uint8_t *buf = read_bytes(path, &n);
    Spillway__ForecasterState *st = spillway__forecaster_state__unpack(NULL, n, buf);
    cr_assert_not_null(st);
    free(buf);
    edit(st, ctx);
    n = spillway__forecaster_state__get_packed_size(st);
    buf = malloc(n);
    cr_assert_eq(spillway__forecaster_state__pack(st, buf), n);
    write_bytes(path, buf, n);
    free(buf);
    spillway__forecaster_state__free_unpacked(st, NULL);
}

/* One value of one saved tensor, and the message its refusal must contain. A tensor the
 * export lacks (the calendar ones of an uncalibrated forecaster) is added, n values of 1. */
typedef struct bad_value {
    const char *forecaster, *tensor;
    size_t n, index;
    double value;
    const char *msg;
} bad_value_t;

static void set_value(Spillway__ForecasterState *st, void *ctx)
{
    const bad_value_t *b = ctx;
    for (size_t i = 0; i < st->n_tensors; i++) {
        if (strcmp(st->tensors[i]->name, b->tensor) == 0) {
            cr_assert_lt(b->index, st->tensors[i]->n_data, "%s has %zu values", b->tensor,
                         st->tensors[i]->n_data);
            st->tensors[i]->data[b->index] = b->value;
            return;
        }
    }
    /* Added as the unpacked message's own allocation, so free_unpacked frees it. */
    Spillway__Tensor *t = malloc(sizeof(*t));
    spillway__tensor__init(t);
    t->name = strdup(b->tensor);
    t->n_data = b->n;
    t->data = malloc(b->n * sizeof(double));
    for (size_t i = 0; i < b->n; i++)
        t->data[i] = 1;
    t->data[b->index] = b->value;
    st->tensors = realloc(st->tensors, (st->n_tensors + 1) * sizeof(*st->tensors));
    st->tensors[st->n_tensors++] = t;
}

/* The load must fail with the message; were it to succeed, observing and forecasting is
 * what would touch memory out of bounds (ASan reports it) or print a wrong number. */
static void expect_refused(const bad_value_t *b)
{
    sw_pred_t *p = NULL;
    int rc = sw_cli_pred_load(path, &p, err, sizeof(err));
    if (rc == 0) {
        for (int i = 0; i < 3; i++)
            sw_pred_observe(p, 5);
        double pt[HORIZON], up[HORIZON];
        sw_forecast_t f = {.horizon = HORIZON, .point = pt, .upper = up};
        sw_pred_forecast(p, &f);
        sw_pred_destroy(p);
        cr_assert_fail("%s %s[%zu] = %g was accepted (forecast %g, upper %g)", b->forecaster,
                       b->tensor, b->index, b->value, f.max_point, f.max_upper);
    }
    cr_assert_eq(rc, -EINVAL, "%s %s[%zu] = %g: rc %d: %s", b->forecaster, b->tensor, b->index,
                 b->value, rc, err);
    cr_assert_null(p);
    cr_assert(strstr(err, b->msg), "%s %s[%zu] = %g: message \"%s\" lacks \"%s\"", b->forecaster,
              b->tensor, b->index, b->value, err, b->msg);
}

static void expect_each_refused(const bad_value_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        save_edited(cases[i].forecaster, set_value, (void *)&cases[i]);
        expect_refused(&cases[i]);
    }
}

/* Issue 10: a ring head of -5 or NaN passed the upper-bound-only check and observe()
 * wrote before the ring's heap buffer. */
Test(serving_pred_file, lstm_negative_or_nan_ring_position_is_refused)
{
    static const bad_value_t cases[] = {
        {"lstm", "lstm_meta", 8, 1, -5,
         "saved lstm_meta[1] is -5, out of range: must be a "
         "whole number in [0, 30]"},
        {"lstm", "lstm_meta", 8, 1, NAN, "saved lstm_meta[1] is nan, out of range"},
        {"lstm", "lstm_meta", 8, 1, 2.5, "saved lstm_meta[1] is 2.5, out of range"},
        {"lstm", "lstm_meta", 8, 1, 31, "saved lstm_meta[1] is 31, out of range"},
        {"lstm", "lstm_meta", 8, 2, -1,
         "saved lstm_meta[2] is -1, out of range: must be a "
         "whole number in [0, 31]"},
        {"lstm", "lstm_meta", 8, 2, NAN, "saved lstm_meta[2] is nan, out of range"},
    };
    expect_each_refused(cases, SW_ARRAY_LEN(cases));
}

/* Every other value of every kind: non-finite, negative counts, fractions where a whole
 * number is due, and values past their range, each refused by tensor and index. */
Test(serving_pred_file, every_forecaster_refuses_each_bad_value, .timeout = 60)
{
    static const bad_value_t cases[] = {
        {"lstm", "lstm_meta", 8, 0, 0, "saved lstm_meta[0] is 0, out of range"},
        {"lstm", "lstm_meta", 8, 0, INFINITY, "saved lstm_meta[0] is inf, out of range"},
        {"lstm", "lstm_meta", 8, 3, -2, "saved lstm_meta[3] is -2, out of range"},
        {"lstm", "lstm_meta", 8, 5, 0.5, "saved lstm_meta[5] is 0.5, out of range"},
        {"lstm", "lstm_theta", 0, 7, NAN, "saved lstm_theta[7] is nan, out of range"},
        {"lstm", "lstm_theta", 0, 0, 1e300, "saved lstm_theta[0] is 1e+300, out of range"},
        {"lstm", "lstm_ring", 0, 4, -1, "saved lstm_ring[4] is -1, out of range"},
        {"lstm", "lstm_ring_miss", 0, 4, 2, "saved lstm_ring_miss[4] is 2, out of range"},
        {"ar", "coef", 0, 1, NAN, "saved coef[1] is nan, out of range"},
        {"ar", "coef_max", 0, 0, -INFINITY, "saved coef_max[0] is -inf, out of range"},
        {"ar", "hist", 0, 29, -3, "saved hist[29] is -3, out of range"},
        {"ar", "ar", 3, 1, NAN, "saved ar[1] is nan, out of range"},
        {"ar", "ar", 3, 0, 7, "saved ar[0] is 7, out of range"},
        {"holt-winters", "hw", 7, 0, 1.5, "saved hw[0] is 1.5, out of range"},
        {"holt-winters", "hw", 7, 3, NAN, "saved hw[3] is nan, out of range"},
        {"holt-winters", "hw", 7, 4, INFINITY, "saved hw[4] is inf, out of range"},
        {"holt-winters", "season", 0, 100, NAN, "saved season[100] is nan, out of range"},
        {"ewma", "ewma", 3, 0, 0, "saved ewma[0] is 0, out of range"},
        {"ewma", "ewma", 3, 1, NAN, "saved ewma[1] is nan, out of range"},
        {"ewma", "ewma", 3, 1, -4, "saved ewma[1] is -4, out of range"},
        {"last", "last", 2, 0, INFINITY, "saved last[0] is inf, out of range"},
        {"last", "last", 2, 1, -1, "saved last[1] is -1, out of range"},
        {"seasonal-naive", "slot", 0, 3, -1, "saved slot[3] is -1, out of range"},
        {"seasonal-naive", "last", 1, 0, INFINITY, "saved last[0] is inf, out of range"},
        {"recent-max", "ring", 0, 2, NAN, "saved ring[2] is nan, out of range"},
        {"recent-max", "ring_meta", 2, 0, 11, "saved ring_meta[0] is 11, out of range"},
        {"recent-max", "ring_meta", 2, 1, NAN, "saved ring_meta[1] is nan, out of range"},
        {"recent-max", "ring_meta", 2, 1, -1, "saved ring_meta[1] is -1, out of range"},
        /* The state every forecaster shares, with the calendar and burst tables. */
        {"last", "pos", 1, 0, -1, "saved pos[0] is -1, out of range"},
        {"last", "pos", 1, 0, NAN, "saved pos[0] is nan, out of range"},
        {"last", "ratio_q", 0, 2, NAN, "saved ratio_q[2] is nan, out of range"},
        {"last", "ratio_q", 0, 2, -1, "saved ratio_q[2] is -1, out of range"},
        {"last", "ratio_q_max", 1, 0, INFINITY, "saved ratio_q_max[0] is inf, out of range"},
        {"last", "hold", 4, 1, 0.5, "saved hold[1] is 0.5, out of range"},
        {"last", "hold", 4, 2, NAN, "saved hold[2] is nan, out of range"},
        {"last", "hold", 4, 3, 60, "saved hold[3] is 60, out of range"},
        {"last", "recent", 0, 59, -1, "saved recent[59] is -1, out of range"},
        {"last", "burst", 0, 0, NAN, "saved burst[0] is nan, out of range"},
        {"last", "burst", 0, 1, -1, "saved burst state is out of range"},
        {"last", "ratio_cal", 120 * HORIZON, 7, NAN, "saved ratio_cal[7] is nan, out of range"},
        {"last", "ratio_cal_max", 120, 0, 1, "saved state lacks ratio_cal (600 values)"},
        {"last", "burst_prone", 60, 0, 1, "saved state lacks ratio_cal (600 values)"},
        {"last", "ratio_cal", 121, 7, 1,
         "saved ratio_cal has 121 values, where its parameters "
         "require 600"},
    };
    expect_each_refused(cases, SW_ARRAY_LEN(cases));
}

/* One parameter set to a value no forecaster may be built with: a uint32 or a double field
 * of ForecasterParams, or of its GapRule. */
typedef struct bad_param {
    const char *forecaster;
    bool in_gaps;
    size_t offset;
    bool is_u32;
    double value;
    const char *msg;
} bad_param_t;

#define P_U32(f) false, offsetof(Spillway__ForecasterParams, f), true
#define P_DBL(f) false, offsetof(Spillway__ForecasterParams, f), false
#define G_U32(f) true, offsetof(Spillway__GapRule, f), true
#define G_DBL(f) true, offsetof(Spillway__GapRule, f), false

static void set_param(Spillway__ForecasterState *st, void *ctx)
{
    const bad_param_t *b = ctx;
    char *base = b->in_gaps ? (char *)st->params->gaps : (char *)st->params;
    if (b->is_u32) {
        uint32_t v = (uint32_t)b->value;
        memcpy(base + b->offset, &v, sizeof v);
    } else {
        memcpy(base + b->offset, &b->value, sizeof b->value);
    }
}

/* Parameters size the state (a horizon of 2^32 - 1 asked for 32 GB per table): each is
 * refused by name before anything is allocated from it. */
Test(serving_pred_file, absurd_parameters_are_refused_before_allocating)
{
    static const bad_param_t cases[] = {
        {"last", P_U32(horizon), UINT32_MAX, "horizon 4294967295 must be in [1, 10000]"},
        {"seasonal-naive", P_U32(season), UINT32_MAX,
         "season 4294967295 must be <= 10000000 intervals"},
        {"holt-winters", P_U32(season), UINT32_MAX,
         "season 4294967295 must be <= 10000000 intervals"},
        {"recent-max", P_U32(window), UINT32_MAX,
         "window 4294967295 must be <= 10000000 intervals"},
        {"recent-max", P_DBL(headroom), NAN, "headroom nan must be in [1, 1e6]"},
        {"ewma", P_DBL(quantile), NAN, "quantile nan must be in (0, 1)"},
        {"ewma", P_DBL(interval_s), INFINITY, "interval_s inf must be in [0, 86400] s"},
        /* fuzz_pred_file: calendar terms overflowed a 64-bit count of seconds */
        {"ewma", P_DBL(interval_s), 2.07784e116, "interval_s 2.07784e+116 must be in [0, 86400] s"},
        {"ewma", P_DBL(holdout_frac), NAN, "holdout_frac nan must be in [0, 1)"},
        {"last", G_U32(context), UINT32_MAX, "gaps.context 4294967295 must be <= 1000000"},
        {"last", G_DBL(min_level), INFINITY, "gaps.min_level must be finite"},
        {"ewma", P_DBL(ewma_alpha), NAN, "ewma_alpha nan must be in (0, 1]"},
        {"ar", P_U32(ar_order), UINT32_MAX, "ar_order 4294967295 must be in [1, 100000]"},
        {"lstm", P_U32(lstm_hidden), UINT32_MAX, "lstm_hidden 4294967295 must be in [1, 256]"},
        {"lstm", P_U32(lstm_window), UINT32_MAX, "lstm_window 4294967295 must be in [1, 10080]"},
        {"lstm", P_U32(lstm_epochs), UINT32_MAX, "lstm_epochs 4294967295 must be in [0, 1000000]"},
        {"lstm", P_DBL(lstm_learning_rate), NAN, "lstm_learning_rate nan must be in (0, 1)"},
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        save_edited(cases[i].forecaster, set_param, (void *)&cases[i]);
        sw_pred_t *p = (sw_pred_t *)1;
        cr_assert_eq(sw_cli_pred_load(path, &p, err, sizeof(err)), -EINVAL, "%s: %s", cases[i].msg,
                     err);
        cr_assert_null(p);
        cr_assert(strstr(err, cases[i].msg), "message \"%s\" lacks \"%s\"", err, cases[i].msg);
    }
}
