/* The classical forecasters against known answers: a pure daily sine (seasonal-naive and
 * Holt-Winters forecast it almost exactly), an AR(2) process from a seeded RNG (the fitted
 * coefficients come back within 5 %), a constant series (every forecaster returns it),
 * export/import (bit-identical forecasts), bad input (clear messages), and speed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"
#include "predictor/predictor.h"

#define TWITTER                                                                             \
    SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_per_minute_days00-14.csv"

static const char *const classical[] = {"recent-max", "last", "seasonal-naive", "ewma",
                                        "holt-winters", "ar"};

/* Every registered forecaster: the classical ones, and lstm once it is registered. */
static size_t all_names(const char **out)
{
    size_t n = 0;
    for (size_t i = 0; i < SW_ARRAY_LEN(classical); i++)
        out[n++] = classical[i];
    if (strstr(sw_pred_known_names(), "lstm"))
        out[n++] = "lstm";
    return n;
}

static sw_pred_params_t params(const char *name, unsigned season)
{
    sw_pred_params_t pp = {0};
    snprintf(pp.name, sizeof(pp.name), "%s", name);
    pp.horizon = 5;
    pp.quantile = 0.9;
    pp.interval_s = 60;
    pp.season = season;
    pp.gaps = (sw_gap_rule_t){.min_run = 20, .min_level = 10, .context = 60};
    pp.window = 10;
    pp.headroom = 1.2;
    pp.ar_order = 3;
    pp.lstm_hidden = 8; /* small and quick: these tests are about the machinery */
    pp.lstm_window = 12;
    pp.lstm_epochs = 2;
    pp.lstm_batch = 16;
    return pp;
}

static sw_pred_t *make(const sw_pred_params_t *pp)
{
    sw_pred_t *p = NULL;
    char err[512] = "";
    int rc = sw_pred_create(&p, pp, err, sizeof(err));
    cr_assert_eq(rc, 0, "create %s: %s", pp->name, err);
    return p;
}

static void fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n)
{
    char err[512] = "";
    int rc = sw_pred_fit(p, y, miss, n, err, sizeof(err));
    cr_assert_eq(rc, 0, "fit %s: %s", sw_pred_name(p), err);
}

static double sine_day(size_t t) { return 1000 + 400 * sin(2 * M_PI * (double)t / 1440); }

/* Fits on the first 5 days of a 6-day sine and walks the 6th: MAPE over every step of every
 * forecast whose horizon lies inside the day. */
static double sine_mape(const char *name)
{
    size_t day = 1440, n = 6 * day;
    double *y = malloc(n * sizeof(double));
    for (size_t t = 0; t < n; t++)
        y[t] = sine_day(t);
    sw_pred_params_t pp = params(name, 1440);
    sw_pred_t *p = make(&pp);
    fit(p, y, NULL, 5 * day);
    double point[5], upper[5], ape = 0;
    size_t k = 0;
    for (size_t t = 5 * day; t + 5 <= n; t++) {
        sw_forecast_t f = {.horizon = 5, .point = point, .upper = upper};
        sw_pred_forecast(p, &f);
        for (size_t h = 0; h < 5; h++, k++)
            ape += fabs(point[h] - y[t + h]) / y[t + h];
        sw_pred_observe(p, y[t]);
    }
    sw_pred_destroy(p);
    free(y);
    return ape / (double)k;
}

Test(pred_seasonal_naive, forecasts_a_daily_sine_almost_exactly)
{
    double mape = sine_mape("seasonal-naive");
    cr_assert_lt(mape, 1e-6, "MAPE %g", mape);
}

Test(pred_holt_winters, forecasts_a_daily_sine_almost_exactly, .timeout = 60)
{
    double mape = sine_mape("holt-winters");
    cr_assert_lt(mape, 1e-4, "MAPE %g", mape);
}

Test(pred_seasonal_naive, falls_back_to_last_before_a_season_and_when_missing)
{
    sw_pred_params_t pp = params("seasonal-naive", 4);
    pp.horizon = 4;
    sw_pred_t *p = make(&pp);
    double y[6] = {10, 20, 30, 40, 50, 60};
    uint8_t miss[6] = {0, 0, 0, 1, 0, 0};
    fit(p, y, miss, 6); /* phases 2, 3, 0, 1 next: 30, missing (-> last 60), 50, 60 */
    double point[4], upper[4];
    sw_forecast_t f = {.horizon = 4, .point = point, .upper = upper};
    sw_pred_forecast(p, &f);
    cr_assert_eq(point[0], 30);
    cr_assert_eq(point[1], 60);
    cr_assert_eq(point[2], 50);
    cr_assert_eq(point[3], 60);
    cr_assert_eq(f.max_point, 60);
    sw_pred_destroy(p);
}

/* y_t = 50 + 0.6 y_{t-1} - 0.3 y_{t-2} + N(0, 5^2), 100,000 steps after a burn-in. */
Test(pred_ar, recovers_ar2_coefficients_within_5_percent, .timeout = 60)
{
    const uint64_t seed = 20240611;
    size_t n = 100000, burn = 1000;
    double *y = malloc((n + burn) * sizeof(double));
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    y[0] = y[1] = 71.4;
    for (size_t t = 2; t < n + burn; t++)
        y[t] = 50 + 0.6 * y[t - 1] - 0.3 * y[t - 2] + 5 * sw_rng_normal(&rng);
    sw_pred_params_t pp = params("ar", 0);
    pp.ar_order = 2;
    sw_pred_t *p = make(&pp);
    fit(p, y + burn, NULL, n);
    sw_pred_blob_t b;
    cr_assert_eq(sw_pred_export(p, &b), 0);
    const sw_pred_tensor_t *coef = sw_pred_blob_find(&b, "coef", 3);
    cr_assert_not_null(coef);
    const double truth[3] = {50, 0.6, -0.3};
    for (int i = 0; i < 3; i++)
        cr_expect_lt(fabs(coef->data[i] - truth[i]), 0.05 * fabs(truth[i]),
                     "seed %llu: coef[%d] = %g, truth %g", (unsigned long long)seed, i,
                     coef->data[i], truth[i]);
    sw_pred_blob_free(&b);
    sw_pred_destroy(p);
    free(y);
}

/* Bursts of +300 at minutes 30..34 of every hour on a flat 1000: lags cannot see a burst
 * coming, the minute-of-hour terms can. */
Test(pred_ar, calendar_terms_anticipate_bursts_at_fixed_minutes, .timeout = 60)
{
    size_t n = 4 * 1440;
    double *y = malloc(n * sizeof(double));
    sw_rng_t rng;
    sw_rng_init(&rng, 7);
    for (size_t t = 0; t < n; t++)
        y[t] = 1000 + (t % 60 >= 30 && t % 60 < 35 ? 300 : 0) + 10 * sw_rng_normal(&rng);
    double err[2];
    for (int cal = 0; cal < 2; cal++) {
        sw_pred_params_t pp = params("ar", 0);
        pp.calendar = cal;
        sw_pred_t *p = make(&pp);
        fit(p, y, NULL, 3 * 1440);
        double point[5], upper[5], se = 0;
        for (size_t t = 3 * 1440; t + 5 <= n; t++) {
            sw_forecast_t f = {.horizon = 5, .point = point, .upper = upper};
            sw_pred_forecast(p, &f);
            se += (point[4] - y[t + 4]) * (point[4] - y[t + 4]);
            sw_pred_observe(p, y[t]);
        }
        err[cal] = sqrt(se / 1436);
        sw_pred_destroy(p);
    }
    cr_assert_lt(err[1], 0.6 * err[0], "RMSE 5 steps ahead: %g with calendar, %g without",
                 err[1], err[0]);
    free(y);
}

Test(pred_ewma, fitted_alpha_follows_a_random_walk)
{
    size_t n = 3000;
    double *y = malloc(n * sizeof(double));
    sw_rng_t rng;
    sw_rng_init(&rng, 11);
    y[0] = 5000;
    for (size_t t = 1; t < n; t++)
        y[t] = y[t - 1] + 20 * sw_rng_normal(&rng);
    sw_pred_params_t pp = params("ewma", 0);
    sw_pred_t *p = make(&pp);
    fit(p, y, NULL, n);
    sw_pred_blob_t b;
    cr_assert_eq(sw_pred_export(p, &b), 0);
    const sw_pred_tensor_t *e = sw_pred_blob_find(&b, "ewma", 3);
    cr_assert_not_null(e);
    cr_assert_gt(e->data[0], 0.9, "alpha %g: a random walk is best followed closely",
                 e->data[0]);
    sw_pred_blob_free(&b);
    sw_pred_destroy(p);
    free(y);
}

Test(pred_forecasters, constant_series_forecasts_the_constant, .timeout = 60)
{
    size_t n = 300;
    double y[300];
    for (size_t t = 0; t < n; t++)
        y[t] = 500;
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        sw_pred_params_t pp = params(names[i], 24);
        pp.holdout_frac = 0.2;
        sw_pred_t *p = make(&pp);
        fit(p, y, NULL, n);
        for (int round = 0; round < 2; round++) {
            double point[5], upper[5];
            sw_forecast_t f = {.horizon = 5, .point = point, .upper = upper};
            sw_pred_forecast(p, &f);
            for (int h = 0; h < 5; h++) {
                cr_expect_lt(fabs(point[h] - 500), 1e-6, "%s step %d: %.12g", names[i], h,
                             point[h]);
                cr_expect_lt(fabs(upper[h] - 500), 1e-6, "%s upper %d: %.12g", names[i],
                             h, upper[h]);
            }
            cr_expect_lt(fabs(f.max_point - 500), 1e-6, "%s max %.12g", names[i],
                         f.max_point);
            cr_expect_lt(fabs(f.max_upper - 500), 1e-6, "%s max upper %.12g", names[i],
                         f.max_upper);
            sw_pred_observe(p, 500);
        }
        sw_pred_destroy(p);
    }
}

Test(pred_forecasters, max_point_is_the_max_of_the_steps)
{
    size_t n = 24 * 12;
    double *y = malloc(n * sizeof(double));
    for (size_t t = 0; t < n; t++)
        y[t] = 200 + 100 * sin(2 * M_PI * (double)t / 24) + (double)(t % 7);
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        sw_pred_params_t pp = params(names[i], 24);
        pp.ar_order = 4;
        sw_pred_t *p = make(&pp);
        fit(p, y, NULL, n);
        double point[5], upper[5], max = 0;
        sw_forecast_t f = {.horizon = 5, .point = point, .upper = upper};
        sw_pred_forecast(p, &f);
        for (int h = 0; h < 5; h++) {
            cr_expect_geq(point[h], 0);
            max = fmax(max, point[h]);
        }
        /* A direct max head (ar, lstm) may exceed every step; it never falls below one. */
        bool direct = strcmp(names[i], "ar") == 0 || strcmp(names[i], "lstm") == 0;
        if (direct)
            cr_expect_geq(f.max_point, max, "%s", names[i]);
        else
            cr_expect_eq(f.max_point, max, "%s", names[i]);
        sw_pred_destroy(p);
    }
    free(y);
}

/* A daily-ish series with noise and a gap, season 24. */
static double *noisy_series(size_t n, uint64_t seed)
{
    double *y = malloc(n * sizeof(double));
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    for (size_t t = 0; t < n; t++)
        y[t] = 300 + 150 * sin(2 * M_PI * (double)t / 24) + 20 * sw_rng_normal(&rng);
    for (size_t t = 200; t < 230; t++)
        y[t] = 0;
    return y;
}

static void expect_same_forecast(const sw_pred_t *a, const sw_pred_t *b, const char *what)
{
    double pa[5], ua[5], pb[5], ub[5];
    sw_forecast_t fa = {.horizon = 5, .point = pa, .upper = ua};
    sw_forecast_t fb = {.horizon = 5, .point = pb, .upper = ub};
    sw_pred_forecast(a, &fa);
    sw_pred_forecast(b, &fb);
    cr_expect_eq(memcmp(pa, pb, sizeof(pa)), 0, "%s %s: points differ (%.17g vs %.17g)",
                 sw_pred_name(a), what, pa[0], pb[0]);
    cr_expect_eq(memcmp(ua, ub, sizeof(ua)), 0, "%s %s: uppers differ", sw_pred_name(a), what);
    cr_expect_eq(memcmp(&fa.max_point, &fb.max_point, sizeof(double)), 0, "%s %s: max",
                 sw_pred_name(a), what);
    cr_expect_eq(memcmp(&fa.max_upper, &fb.max_upper, sizeof(double)), 0, "%s %s: max upper",
                 sw_pred_name(a), what);
}

static sw_pred_t *round_trip(const sw_pred_t *p)
{
    sw_pred_blob_t b;
    cr_assert_eq(sw_pred_export(p, &b), 0);
    sw_pred_t *q = NULL;
    char err[512] = "";
    cr_assert_eq(sw_pred_import(&q, &b, err, sizeof(err)), 0, "import: %s", err);
    sw_pred_blob_free(&b);
    return q;
}

static void observe_both(sw_pred_t *a, sw_pred_t *b, double y)
{
    sw_pred_observe(a, y);
    sw_pred_observe(b, y);
}

Test(pred_forecasters, export_import_forecasts_bit_identically, .timeout = 60)
{
    size_t n = 24 * 20;
    double *y = noisy_series(n, 3);
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        for (int calendar = 0; calendar < 2; calendar++) {
            sw_pred_params_t pp = params(names[i], 24);
            pp.holdout_frac = 0.25;
            pp.calendar = calendar;
            sw_pred_t *p = make(&pp);
            fit(p, y, NULL, n);
            sw_pred_t *q = round_trip(p);
            expect_same_forecast(p, q, "after fit");
            for (int k = 0; k < 30; k++)
                observe_both(p, q, 250 + k);
            expect_same_forecast(p, q, "after observing");
            sw_pred_destroy(q);
            /* Mid-run: 5 zeros held, not yet called a gap. */
            for (int k = 0; k < 5; k++)
                sw_pred_observe(p, 0);
            q = round_trip(p);
            expect_same_forecast(p, q, "with zeros held");
            for (int k = 0; k < 20; k++)
                observe_both(p, q, 0);
            expect_same_forecast(p, q, "inside a gap");
            sw_pred_destroy(q);
            q = round_trip(p);
            expect_same_forecast(p, q, "inside a gap, reloaded");
            for (int k = 0; k < 10; k++)
                observe_both(p, q, 280 + k);
            expect_same_forecast(p, q, "after the gap");
            sw_pred_destroy(q);
            sw_pred_destroy(p);
        }
    }
    free(y);
}

Test(pred_forecasters, import_rejects_a_damaged_blob)
{
    double y[100];
    for (int t = 0; t < 100; t++)
        y[t] = 50 + t % 5;
    sw_pred_params_t pp = params("ar", 0);
    sw_pred_t *p = make(&pp);
    fit(p, y, NULL, 100);
    sw_pred_blob_t b;
    cr_assert_eq(sw_pred_export(p, &b), 0);
    char err[512] = "";
    sw_pred_t *q = NULL;
    for (size_t i = 0; i < b.n_tensors; i++) {
        if (strcmp(b.tensors[i].name, "hold") == 0)
            b.tensors[i].data[0] = 1e6; /* more zeros held than min_run allows */
    }
    cr_assert_eq(sw_pred_import(&q, &b, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "out of range"), "%s", err);
    snprintf(b.tensors[b.n_tensors - 1].name, 32, "renamed");
    for (size_t i = 0; i < b.n_tensors; i++)
        if (strcmp(b.tensors[i].name, "hold") == 0)
            b.tensors[i].data[0] = 0;
    cr_assert_eq(sw_pred_import(&q, &b, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "ar") && strstr(err, "lacks"), "%s", err);
    sw_pred_blob_free(&b);
    sw_pred_destroy(p);
}

/* ---- Bad input ---------------------------------------------------------------------------- */

static int try_fit(const sw_pred_params_t *pp, const double *y, size_t n, char *err,
                   size_t errlen)
{
    sw_pred_t *p = make(pp);
    int rc = sw_pred_fit(p, y, NULL, n, err, errlen);
    sw_pred_destroy(p);
    return rc;
}

#define EXPECT_WORDS(err, a, b)                                                             \
    cr_expect(strstr(err, a) && strstr(err, b), "message \"%s\" lacks \"%s\"/\"%s\"", err, a, b)

Test(pred_bad_input, empty_nan_and_negative_series)
{
    char err[512];
    double y[4] = {1, 2, NAN, 4};
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        sw_pred_params_t pp = params(names[i], 2);
        cr_expect_eq(try_fit(&pp, y, 0, err, sizeof(err)), -EINVAL);
        EXPECT_WORDS(err, names[i], "empty series");
        cr_expect_eq(try_fit(&pp, y, 4, err, sizeof(err)), -EINVAL);
        EXPECT_WORDS(err, "value 2", "finite");
        y[2] = -1;
        cr_expect_eq(try_fit(&pp, y, 4, err, sizeof(err)), -EINVAL);
        EXPECT_WORDS(err, "value 2 is -1", ">= 0");
        y[2] = INFINITY;
        cr_expect_eq(try_fit(&pp, y, 4, err, sizeof(err)), -EINVAL);
        EXPECT_WORDS(err, "value 2 is inf", "finite");
        y[2] = NAN;
    }
}

Test(pred_bad_input, order_and_season_longer_than_the_series)
{
    char err[512];
    double y[30];
    for (int t = 0; t < 30; t++)
        y[t] = 10 + t;
    sw_pred_params_t pp = params("ar", 0);
    pp.ar_order = 40;
    cr_expect_eq(try_fit(&pp, y, 30, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor ar", "ar_order 40 is not shorter than the series (30");
    pp = params("seasonal-naive", 48);
    cr_expect_eq(try_fit(&pp, y, 30, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor seasonal-naive", "season 48 is longer than the series");
    pp = params("holt-winters", 20);
    cr_expect_eq(try_fit(&pp, y, 30, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor holt-winters", "needs at least 2 seasons");
    /* Enough for 2 seasons, but not once a quarter is held back: the message says so. */
    pp = params("holt-winters", 12);
    pp.horizon = 1;
    pp.holdout_frac = 0.4;
    cr_expect_eq(try_fit(&pp, y, 30, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "2 seasons", "held back by holdout_frac");
}

Test(pred_bad_input, bad_parameters_and_unknown_name)
{
    char err[512];
    sw_pred_t *p = NULL;
    sw_pred_params_t pp = params("prophet", 24);
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "unknown forecaster \"prophet\"", "holt-winters");
    pp = params("ewma", 24);
    pp.ewma_alpha = 1.5;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor ewma", "ewma_alpha 1.5");
    pp = params("ar", 24);
    pp.ar_order = 0;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor ar", "ar_order 0");
    pp = params("holt-winters", 1);
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor holt-winters", "season");
    pp = params("seasonal-naive", 0);
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor seasonal-naive", "season");
    pp = params("last", 0);
    pp.quantile = 1;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor last", "quantile 1");
    /* Found by fuzz_pred_file: a saved ar forecaster with an interval of 1e116 s loaded,
     * and its calendar terms then overflowed a 64-bit count of seconds. */
    pp = params("ar", 24);
    pp.interval_s = 2.07784e116;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor ar", "interval_s 2.07784e+116 must be in [0, 86400] s");
    pp.interval_s = 86400.5;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    pp = params("last", 0);
    pp.holdout_frac = -0.1;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor last", "holdout_frac");
    pp = params("last", 0);
    pp.horizon = 0;
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    EXPECT_WORDS(err, "predictor last", "horizon");
}

Test(pred_forecasters, unfitted_forecasts_zero_then_follows_counts)
{
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        sw_pred_params_t pp = params(names[i], 24);
        sw_pred_t *p = make(&pp);
        double point[5], upper[5];
        sw_forecast_t f = {.horizon = 5, .point = point, .upper = upper};
        sw_pred_forecast(p, &f);
        cr_expect_eq(point[0], 0, "%s", names[i]);
        cr_expect_eq(f.max_upper, 0, "%s", names[i]);
        sw_pred_observe(p, 42);
        sw_pred_forecast(p, &f);
        cr_expect_eq(point[0], 42, "%s follows the count before any fit", names[i]);
        sw_pred_destroy(p);
    }
}

/* ---- Speed --------------------------------------------------------------------------------- */



