/* Forecast evaluation. The walk is the planner's: at each test position the forecaster
 * has seen exactly the past, forecasts, and only then observes the actual. The clock is
 * injected so this stays free of I/O and time reading; only the timing fields use it. */
#include "predictor/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sw_pred_target_name(sw_pred_target_t t) { return t == SW_TARGET_MAX ? "max" : "next"; }

int sw_pred_target_from_name(const char *name, sw_pred_target_t *out)
{
    if (strcmp(name, "next") == 0)
        *out = SW_TARGET_NEXT;
    else if (strcmp(name, "max") == 0)
        *out = SW_TARGET_MAX;
    else
        return -EINVAL;
    return 0;
}

/* The actual the forecast at t is judged against; false when any interval involved is
 * missing or beyond the series. */
static bool actual_at(const double *y, const uint8_t *miss, size_t n, size_t t, size_t h,
                      sw_pred_target_t target, double *out)
{
    size_t span = target == SW_TARGET_MAX ? h : 1;
    if (t + span > n)
        return false;
    double a = 0;
    for (size_t i = t; i < t + span; i++) {
        if (miss[i])
            return false;
        a = SW_MAX(a, y[i]);
    }
    *out = a;
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct sums {
    double ape, sape, se, under, covered, ratio;
    size_t n, n_pos;
} sums_t;

static void score(sums_t *s, double f, double upper, double a, double *need_scale)
{
    s->n++;
    s->se += (f - a) * (f - a);
    s->under += f < a;
    s->covered += a <= upper;
    if (f + a > 0)
        s->sape += 2.0 * fabs(f - a) / (fabs(f) + fabs(a));
    if (a > 0) {
        s->n_pos++;
        s->ape += fabs(f - a) / a;
        s->ratio += upper / a;
        need_scale[s->n_pos - 1] = f > 0 ? a / f : INFINITY;
    }
}

int sw_pred_evaluate(sw_pred_t *p, const double *series, const uint8_t *missing, size_t n,
                     size_t train_until, sw_pred_target_t target, sw_time_t (*clock)(void),
                     sw_pred_eval_t *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t h = sw_pred_params(p)->horizon;
    if (train_until == 0 || train_until >= n) {
        snprintf(errbuf, errlen, "evaluation: the training part must end inside the series "
                 "(at %zu of %zu intervals)", train_until, n);
        return -EINVAL;
    }
    uint8_t *miss = sw_calloc(n, 1);
    if (missing)
        memcpy(miss, missing, n);
    else
        sw_pred_find_gaps(series, n, &sw_pred_params(p)->gaps, miss);
    sw_time_t t0 = clock ? clock() : 0;
    int rc = sw_pred_fit(p, series, miss, train_until, errbuf, errlen);
    out->fit_s = clock ? sw_time_to_s(clock() - t0) : 0;
    if (rc < 0) {
        sw_free(miss);
        return rc;
    }
    double *point = sw_malloc(h * sizeof(double)), *upper = sw_malloc(h * sizeof(double));
    double *need = sw_malloc((n - train_until) * sizeof(double) + 1);
    sums_t s = {0};
    sw_time_t spent = 0;
    for (size_t t = train_until; t < n; t++) {
        sw_forecast_t f = {.horizon = h, .point = point, .upper = upper};
        sw_time_t a0 = clock ? clock() : 0;
        sw_pred_forecast(p, &f);
        spent += clock ? clock() - a0 : 0;
        double actual;
        if (actual_at(series, miss, n, t, h, target, &actual)) {
            bool max = target == SW_TARGET_MAX;
            score(&s, max ? f.max_point : point[0], max ? f.max_upper : upper[0], actual, need);
        }
        /* Online, the forecaster sees the raw count; its own gap rule holds zeros back. */
        sw_pred_observe(p, series[t]);
    }
    if (s.n == 0) {
        snprintf(errbuf, errlen, "evaluation: no interval to score after %zu (all missing, or "
                 "the test part is shorter than the horizon %zu)", train_until, h);
        rc = -EINVAL;
    } else {
        out->scored = s.n;
        out->mape = s.n_pos ? s.ape / (double)s.n_pos : 0;
        out->smape = s.sape / (double)s.n;
        out->rmse = sqrt(s.se / (double)s.n);
        out->under_rate = s.under / (double)s.n;
        out->coverage = s.covered / (double)s.n;
        out->upper_ratio = s.n_pos ? s.ratio / (double)s.n_pos : 0;
        out->forecast_us = (double)spent / (double)(n - train_until);
        if (s.n_pos > 0) {
            qsort(need, s.n_pos, sizeof(double), cmp_double);
            size_t k = (size_t)ceil(0.98 * (double)s.n_pos);
            out->scale_for_2pct = need[(k ? k : 1) - 1];
        }
    }
    sw_free(point);
    sw_free(upper);
    sw_free(need);
    sw_free(miss);
    return rc;
}
