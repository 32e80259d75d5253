/* Missing data: sw_pred_find_gaps on the real Twitter trace (one ~29-minute gap a day and
 * nothing else), its rules on small series, and the online holding of zeros in observe():
 * a long run becomes missing exactly as if flagged, a short one reaches the model as real
 * zeros, and forecasts made while zeros are held cover the next real intervals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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
static const sw_gap_rule_t rule = {.min_run = 20, .min_level = 10, .context = 60};

static sw_pred_params_t params(const char *name)
{
    sw_pred_params_t pp = {0};
    snprintf(pp.name, sizeof(pp.name), "%s", name);
    pp.horizon = 5;
    pp.quantile = 0.9;
    pp.interval_s = 60;
    pp.season = 24;
    pp.gaps = rule;
    pp.window = 10;
    pp.headroom = 1.2;
    pp.ewma_alpha = 0.3;
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
    cr_assert_eq(sw_pred_create(&p, pp, err, sizeof(err)), 0, "create %s: %s", pp->name, err);
    return p;
}

static void fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n)
{
    char err[512] = "";
    cr_assert_eq(sw_pred_fit(p, y, miss, n, err, sizeof(err)), 0, "fit: %s", err);
}

static void forecast(const sw_pred_t *p, double *point, double *max_point)
{
    double upper[5];
    sw_forecast_t f = {.horizon = 5, .point = point, .upper = upper};
    sw_pred_forecast(p, &f);
    *max_point = f.max_point;
}

static void expect_same(const sw_pred_t *a, const sw_pred_t *b, const char *what)
{
    double pa[5], pb[5], ma, mb;
    forecast(a, pa, &ma);
    forecast(b, pb, &mb);
    cr_expect_eq(memcmp(pa, pb, sizeof(pa)), 0, "%s %s: %.17g vs %.17g", sw_pred_name(a), what,
                 pa[0], pb[0]);
    cr_expect_eq(ma, mb, "%s %s: max %.17g vs %.17g", sw_pred_name(a), what, ma, mb);
}

Test(pred_gaps, twitter_trace_has_one_gap_a_day_and_nothing_else)
{
    FILE *f = fopen(TWITTER, "r");
    cr_assert_not_null(f, "cannot open %s", TWITTER);
    static double y[21600];
    static uint8_t miss[21600];
    char line[128];
    size_t n = 0;
    cr_assert_not_null(fgets(line, sizeof(line), f));
    while (n < 21600 && fgets(line, sizeof(line), f)) {
        long idx;
        cr_assert_eq(sscanf(line, "%ld,%lf", &idx, &y[n]), 2, "line %zu: %s", n + 2, line);
        n++;
    }
    fclose(f);
    cr_assert_eq(n, 21600);
    size_t marked = sw_pred_find_gaps(y, n, &rule, miss);
    size_t runs = 0, total = 0;
    for (size_t i = 0; i < n;) {
        if (!miss[i]) {
            i++;
            continue;
        }
        /* The record stops partway through the minute before each hole: that minute
         * (1 to 12 requests against ~3,000) is part of the gap; every other one is 0. */
        cr_expect(y[i] < 20, "gap at %zu starts with %g, not a partial minute", i, y[i]);
        size_t j = i + 1;
        while (j < n && miss[j]) {
            cr_expect_eq(y[j], 0, "marked a non-zero at %zu", j);
            j++;
        }
        cr_expect(j - i >= 25 && j - i <= 35, "run of %zu at minute %zu (day %zu)", j - i, i,
                  i / 1440);
        cr_expect_eq(i / 1440, runs, "run %zu starts on day %zu", runs, i / 1440);
        total += j - i;
        runs++;
        i = j;
    }
    cr_expect(runs == 14 || runs == 15, "%zu runs", runs);
    cr_expect_eq(marked, total);
    /* The trace also holds a 2-zero dip on day 12: real, short, not marked. */
    size_t zeros = 0, partial = 0;
    for (size_t i = 0; i < n; i++) {
        zeros += y[i] == 0;
        partial += miss[i] && y[i] != 0;
    }
    cr_expect_gt(zeros, marked - partial);
    cr_expect(partial >= 13 && partial <= 15, "%zu partial minutes marked", partial);
}

Test(pred_gaps, find_gaps_rules_on_small_series)
{
    double y[200];
    uint8_t miss[200];
    for (int i = 0; i < 200; i++)
        y[i] = 100;
    for (int i = 0; i < 5; i++) /* at the very start: no context, real */
        y[i] = 0;
    for (int i = 50; i < 69; i++) /* 19 < min_run: real */
        y[i] = 0;
    for (int i = 100; i < 120; i++) /* exactly min_run after a busy context: a gap */
        y[i] = 0;
    for (int i = 180; i < 200; i++) /* a gap running to the end */
        y[i] = 0;
    cr_expect_eq(sw_pred_find_gaps(y, 200, &rule, miss), 40);
    for (int i = 0; i < 200; i++)
        cr_expect_eq(miss[i], (i >= 100 && i < 120) || i >= 180, "interval %d", i);
    /* A quiet series (median 3 < min_level 10): zeros are load, however long the run. */
    for (int i = 0; i < 200; i++)
        y[i] = i >= 60 && i < 150 ? 0 : 3;
    cr_expect_eq(sw_pred_find_gaps(y, 200, &rule, miss), 0);
    /* min_run 0 turns detection off. */
    sw_gap_rule_t off = rule;
    off.min_run = 0;
    y[10] = 0;
    cr_expect_eq(sw_pred_find_gaps(y, 200, &off, miss), 0);
}

/* The median is over the context before the run: 31 of 60 values at 5 and 29 at 500 is a
 * median of 5, below min_level; one more at 500 lifts the even-sized median to 252.5. */
Test(pred_gaps, median_threshold_is_over_the_context_before_the_run)
{
    double y[100];
    uint8_t miss[100];
    for (int variant = 0; variant < 2; variant++) {
        for (int i = 0; i < 60; i++)
            y[i] = i < 31 - variant ? 5 : 500;
        for (int i = 60; i < 100; i++)
            y[i] = 0;
        size_t marked = sw_pred_find_gaps(y, 100, &rule, miss);
        cr_expect_eq(marked, variant ? 40u : 0u, "variant %d", variant);
    }
}

/* A 25-zero gap online gives the same forecasts after it (and at its end) as the same
 * intervals observed as missing, and as a fit with them flagged. */
Test(pred_gaps, online_gap_forecasts_as_if_flagged_missing, .timeout = 60)
{
    size_t n = 24 * 12, gap_at = 24 * 10, gap_len = 25;
    double y[24 * 12];
    uint8_t miss[24 * 12] = {0};
    for (size_t t = 0; t < n; t++)
        y[t] = 400 + 200 * sin(2 * M_PI * (double)t / 24) + (double)(t % 5);
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        sw_pred_params_t pp = params(names[i]);
        sw_pred_t *a = make(&pp), *b = make(&pp);
        fit(a, y, NULL, gap_at);
        fit(b, y, NULL, gap_at);
        for (size_t k = 0; k < gap_len; k++) {
            sw_pred_observe(a, 0);
            sw_pred_observe(b, NAN);
        }
        expect_same(a, b, "at the end of the gap");
        for (size_t t = gap_at + gap_len; t < n; t++) {
            sw_pred_observe(a, y[t]);
            sw_pred_observe(b, y[t]);
            expect_same(a, b, "after the gap");
        }
        /* Offline: the raw zeros, and the same intervals flagged missing. */
        double z[24 * 12];
        memcpy(z, y, sizeof(z));
        for (size_t k = 0; k < gap_len; k++) {
            z[gap_at + k] = 0;
            miss[gap_at + k] = 1;
        }
        sw_pred_t *c = make(&pp), *d = make(&pp);
        fit(c, z, NULL, n);
        fit(d, y, miss, n);
        expect_same(c, d, "fitted across the gap");
        /* Forecasters without fitted parameters also match the online walk. */
        if (strcmp(names[i], "holt-winters") != 0 && strcmp(names[i], "ar") != 0 &&
            strcmp(names[i], "lstm") != 0)
            expect_same(a, c, "online vs fitted");
        memset(miss, 0, sizeof(miss));
        sw_pred_destroy(a);
        sw_pred_destroy(b);
        sw_pred_destroy(c);
        sw_pred_destroy(d);
    }
}

/* Three zeros in a busy series are held, then reach the model as real zeros: the result
 * equals a forecaster that holds nothing (min_run 0). */
Test(pred_gaps, short_zero_run_reaches_the_model_as_real_zeros)
{
    double y[200];
    for (int t = 0; t < 200; t++)
        y[t] = 100 + t % 7;
    const double tail[] = {0, 0, 0, 120, 130};
    const char *names[8];
    size_t n_names = all_names(names);
    for (size_t i = 0; i < n_names; i++) {
        sw_pred_params_t pp = params(names[i]);
        sw_pred_t *a = make(&pp);
        pp.gaps.min_run = 0;
        sw_pred_t *b = make(&pp);
        fit(a, y, NULL, 200);
        fit(b, y, NULL, 200);
        for (size_t k = 0; k < SW_ARRAY_LEN(tail); k++) {
            sw_pred_observe(a, tail[k]);
            sw_pred_observe(b, tail[k]);
        }
        expect_same(a, b, "after 3 zeros");
        sw_pred_destroy(a);
        sw_pred_destroy(b);
    }
    /* With ewma the zeros visibly pull the level down. */
    sw_pred_params_t pp = params("ewma");
    sw_pred_t *p = make(&pp);
    double flat[50];
    for (int t = 0; t < 50; t++)
        flat[t] = 100;
    fit(p, flat, NULL, 50);
    for (int k = 0; k < 3; k++)
        sw_pred_observe(p, 0);
    double point[5], max;
    forecast(p, point, &max);
    cr_expect_eq(point[0], 100, "held zeros are not seen yet");
    sw_pred_observe(p, 100);
    forecast(p, point, &max);
    double level = 100 * pow(0.7, 3) * 0.7 + 30; /* three zeros, then 100, alpha 0.3 */
    cr_expect_float_eq(point[0], level, 1e-9);
    sw_pred_destroy(p);
}

/* While zeros are held, the forecast covers the next real intervals: the model predicts
 * zeros_held + H steps and drops the first zeros_held. */
Test(pred_gaps, forecast_while_holding_skips_the_held_intervals)
{
    double y[24 * 6];
    for (size_t t = 0; t < SW_ARRAY_LEN(y); t++)
        y[t] = 300 + 100 * (double)(t % 24);
    sw_pred_params_t pp = params("seasonal-naive");
    sw_pred_t *p = make(&pp);
    fit(p, y, NULL, SW_ARRAY_LEN(y)); /* positioned at phase 0 */
    for (int k = 0; k < 4; k++)
        sw_pred_observe(p, 0);
    double point[5], max;
    forecast(p, point, &max);
    for (int h = 0; h < 5; h++)
        cr_expect_eq(point[h], 300 + 100 * (4 + h), "step %d", h);
    cr_expect_eq(max, 300 + 100 * 8);
    sw_pred_destroy(p);
}

/* Fitting a series at once equals fitting its start and observing the rest, including a
 * run of zeros still held at the end. */
Test(pred_gaps, fit_equals_fit_then_observe)
{
    double y[300];
    for (int t = 0; t < 300; t++)
        y[t] = t >= 290 ? 0 : 200 + 50 * sin(t / 3.0);
    const char *names[] = {"last", "seasonal-naive", "ewma", "recent-max"};
    for (size_t i = 0; i < SW_ARRAY_LEN(names); i++) {
        sw_pred_params_t pp = params(names[i]);
        sw_pred_t *a = make(&pp), *b = make(&pp);
        fit(a, y, NULL, 300);
        fit(b, y, NULL, 250);
        for (int t = 250; t < 300; t++)
            sw_pred_observe(b, y[t]);
        expect_same(a, b, "10 zeros held at the end");
        for (int k = 0; k < 15; k++) {
            sw_pred_observe(a, 0);
            sw_pred_observe(b, 0);
        }
        expect_same(a, b, "inside the gap");
        sw_pred_destroy(a);
        sw_pred_destroy(b);
    }
}
