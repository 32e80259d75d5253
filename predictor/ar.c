/* "ar": autoregression of order p (params.ar_order) with an intercept,
 *     y_t = c + sum_j phi_j y_{t-j} [+ calendar terms of t],
 * fitted by least squares (LAPACKE_dgels) on the rows whose window y_{t-p..t} holds no
 * missing value, and forecast multi-step by iterating on its own (clamped) forecasts.
 *
 * With params.calendar, Fourier terms of the minute of the hour (MINUTE_HARMONICS pairs)
 * and of the time of day (DAY_HARMONICS pairs) join the regressors: the Twitter trace's
 * bursts come at fixed minutes of the hour, which lags alone cannot anticipate.
 *
 * Every coefficient but the intercept gets a tiny ridge row (weight sqrt(RIDGE) times its
 * column's norm), so a constant series, or calendar columns that coincide at coarse
 * intervals, still give a unique solution; the pull on real data is of order RIDGE.
 *
 * Online, a missing interval is replaced by the model's one-step forecast, so the lags
 * stay defined through a gap. Until it is fitted, the forecaster follows the last count.
 *
 * Saved state: "coef" = [c, phi_1 .. phi_p, calendar terms (sin, cos per harmonic, minute
 * of hour first)], "hist" = the last p values, oldest first. */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MINUTE_HARMONICS 6
#define DAY_HARMONICS 3
#define RIDGE 1e-8

typedef struct ar {
    unsigned order, ncal;
    double *coef; /* 1 + order + ncal */
    double *hist; /* order values, hist[order - 1] the latest */
    bool fitted;
    double last; /* unfitted: the last count */
} ar_t;

static size_t ar_ncoef(const ar_t *a) { return 1 + (size_t)a->order + a->ncal; }

static int ar_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    if (p->params.ar_order == 0 || p->params.ar_order > 100000) {
        snprintf(errbuf, errlen, "predictor ar: ar_order %u must be in [1, 100000]",
                 p->params.ar_order);
        return -EINVAL;
    }
    if (p->params.calendar && !(p->params.interval_s > 0)) {
        snprintf(errbuf, errlen, "predictor ar: calendar needs interval_s > 0");
        return -EINVAL;
    }
    ar_t *a = sw_calloc(1, sizeof(*a));
    a->order = p->params.ar_order;
    a->ncal = p->params.calendar ? 2 * (MINUTE_HARMONICS + DAY_HARMONICS) : 0;
    a->coef = sw_calloc(ar_ncoef(a), sizeof(double));
    a->hist = sw_calloc(a->order, sizeof(double));
    p->state = a;
    return 0;
}

/* sin and cos of k x for k = 1..K into out (pairs), by angle addition from sin x, cos x. */
static void harmonics(double x, int k_max, double *out)
{
    double s1 = sin(x), c1 = cos(x), s = s1, c = c1;
    for (int k = 0; k < k_max; k++) {
        out[2 * k] = s;
        out[2 * k + 1] = c;
        double sn = s * c1 + c * s1;
        c = c * c1 - s * s1;
        s = sn;
    }
}

/* The calendar regressors of position t into out[0..ncal). */
static void ar_calendar(const sw_pred_t *p, uint64_t t, double *out)
{
    unsigned minute, hour;
    sw__pred_calendar(p, t, &minute, &hour);
    harmonics(2 * M_PI * minute / 60.0, MINUTE_HARMONICS, out);
    harmonics(2 * M_PI * (hour * 60.0 + minute) / 1440.0, DAY_HARMONICS,
              out + 2 * MINUTE_HARMONICS);
}

/* The calendar part of the forecast of position t. */
static double ar_calendar_term(const sw_pred_t *p, const ar_t *a, uint64_t t)
{
    if (a->ncal == 0)
        return 0;
    double x[2 * (MINUTE_HARMONICS + DAY_HARMONICS)], sum = 0;
    ar_calendar(p, t, x);
    const double *beta = a->coef + 1 + a->order;
    for (unsigned k = 0; k < a->ncal; k++)
        sum += beta[k] * x[k];
    return sum;
}

/* One-step forecast, clamped, of the value after z[0..t) (lags below 0 read `fill`) at
 * position pos. */
static double ar_one_step(const sw_pred_t *p, const ar_t *a, const double *z, size_t t,
                          uint64_t pos, double fill)
{
    double v = a->coef[0] + ar_calendar_term(p, a, pos);
    for (size_t j = 1; j <= a->order; j++)
        v += a->coef[j] * (t >= j ? z[t - j] : fill);
    return v > 0 ? v : 0;
}

/* Rows t in [p, n) whose window y[t-p..t] is complete, into rows[]; returns their count. */
static size_t ar_rows(const uint8_t *miss, size_t n, size_t order, size_t *rows)
{
    size_t count = 0, missing = 0;
    for (size_t t = 0; t < n; t++) {
        missing += miss[t];
        if (t > order)
            missing -= miss[t - order - 1];
        if (t >= order && missing == 0)
            rows[count++] = t;
    }
    return count;
}

/* The least-squares problem, column-major with ld rows: the data rows, then one ridge row
 * per penalised coefficient. */
static void ar_design(const sw_pred_t *p, const ar_t *a, const double *y, const size_t *rows,
                      size_t m, size_t ld, double *A, double *B)
{
    size_t nc = ar_ncoef(a);
    double cal[2 * (MINUTE_HARMONICS + DAY_HARMONICS)];
    for (size_t r = 0; r < m; r++) {
        size_t t = rows[r];
        A[r] = 1;
        for (size_t j = 1; j <= a->order; j++)
            A[r + j * ld] = y[t - j];
        if (a->ncal)
            ar_calendar(p, t, cal);
        for (size_t k = 0; k < a->ncal; k++)
            A[r + (1 + a->order + k) * ld] = cal[k];
        B[r] = y[t];
    }
    for (size_t j = 1; j < nc; j++) {
        double norm2 = 0;
        for (size_t r = 0; r < m; r++)
            norm2 += A[r + j * ld] * A[r + j * ld];
        /* The + m keeps an all-zero column from going unpenalised. */
        A[m + j - 1 + j * ld] = sqrt(RIDGE * (norm2 + (double)m));
        B[m + j - 1] = 0;
    }
}

/* Replays the series with the fitted coefficients to fill the lag history, replacing
 * missing values by one-step forecasts as observe() does (before the series: its mean). */
static void ar_replay(const sw_pred_t *p, ar_t *a, const double *y, const uint8_t *miss,
                      size_t n)
{
    double sum = 0, k = 0;
    for (size_t t = 0; t < n; t++)
        if (!miss[t])
            sum += y[t], k++;
    double mean = k > 0 ? sum / k : 0;
    double *z = sw_malloc(n * sizeof(double));
    for (size_t t = 0; t < n; t++)
        z[t] = miss[t] ? ar_one_step(p, a, z, t, t, mean) : y[t];
    memcpy(a->hist, z + n - a->order, a->order * sizeof(double));
    sw_free(z);
}

static int ar_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n, char *errbuf,
                  size_t errlen)
{
    ar_t *a = p->state;
    size_t nc = ar_ncoef(a);
    if (a->order >= n) {
        snprintf(errbuf, errlen, "predictor ar: ar_order %u is not shorter than the series "
                 "(%zu intervals)", a->order, n);
        return -EINVAL;
    }
    size_t *rows = sw_malloc(n * sizeof(size_t));
    size_t m = ar_rows(miss, n, a->order, rows);
    if (m < nc) {
        snprintf(errbuf, errlen, "predictor ar: only %zu windows of ar_order + 1 = %u intervals "
                 "without a missing value; %zu coefficients need at least as many", m,
                 a->order + 1, nc);
        sw_free(rows);
        return -EINVAL;
    }
    size_t ld = m + nc - 1;
    double *A = sw_calloc(ld * nc, sizeof(double)), *B = sw_malloc(ld * sizeof(double));
    ar_design(p, a, y, rows, m, ld, A, B);
    lapack_int info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)ld, (lapack_int)nc, 1, A,
                                    (lapack_int)ld, B, (lapack_int)ld);
    if (info == 0) {
        memcpy(a->coef, B, nc * sizeof(double));
        a->fitted = true;
        ar_replay(p, a, y, miss, n);
    } else {
        snprintf(errbuf, errlen, "predictor ar: least squares failed (LAPACKE_dgels info %d)",
                 (int)info);
    }
    sw_free(A);
    sw_free(B);
    sw_free(rows);
    return info == 0 ? 0 : -EINVAL;
}

static void ar_observe(sw_pred_t *p, double y, bool missing)
{
    ar_t *a = p->state;
    if (!a->fitted) {
        if (!missing)
            a->last = y;
        return;
    }
    if (missing) {
        y = ar_one_step(p, a, a->hist, a->order, p->pos, 0);
    }
    memmove(a->hist, a->hist + 1, (a->order - 1) * sizeof(double));
    a->hist[a->order - 1] = y;
}

/* Step i targets position pos + i; its lag j is an earlier step's forecast when i >= j,
 * the history otherwise. */
static void ar_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const ar_t *a = p->state;
    double max = 0;
    for (size_t i = 0; i < h; i++) {
        double v;
        if (a->fitted) {
            v = a->coef[0] + ar_calendar_term(p, a, p->pos + i);
            for (size_t j = 1; j <= a->order; j++)
                v += a->coef[j] * (i >= j ? point[i - j] : a->hist[a->order + i - j]);
        } else {
            v = a->last;
        }
        point[i] = v > 0 ? v : 0;
        max = SW_MAX(max, point[i]);
    }
    *max_point = max;
}

static int ar_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const ar_t *a = p->state;
    double meta[2] = {a->fitted, a->last};
    sw_pred_blob_add(b, "coef", a->coef, ar_ncoef(a));
    sw_pred_blob_add(b, "hist", a->hist, a->order);
    sw_pred_blob_add(b, "ar", meta, 2);
    return 0;
}

static int ar_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    ar_t *a = p->state;
    const sw_pred_tensor_t *coef = sw_pred_blob_find(b, "coef", ar_ncoef(a));
    const sw_pred_tensor_t *hist = sw_pred_blob_find(b, "hist", a->order);
    const sw_pred_tensor_t *meta = sw_pred_blob_find(b, "ar", 2);
    if (!coef || !hist || !meta) {
        snprintf(errbuf, errlen, "predictor ar: saved state lacks coef (%zu values for order "
                 "%u%s), hist or ar", ar_ncoef(a), a->order,
                 a->ncal ? " with calendar" : "");
        return -EINVAL;
    }
    memcpy(a->coef, coef->data, ar_ncoef(a) * sizeof(double));
    memcpy(a->hist, hist->data, a->order * sizeof(double));
    a->fitted = meta->data[0] != 0;
    a->last = meta->data[1];
    return 0;
}

static void ar_destroy(sw_pred_t *p)
{
    ar_t *a = p->state;
    sw_free(a->coef);
    sw_free(a->hist);
    sw_free(a);
}

const sw_pred_ops_t sw__pred_ar_ops = {
    .name = "ar",
    .create = ar_create,
    .fit = ar_fit,
    .observe = ar_observe,
    .predict = ar_predict,
    .export_state = ar_export,
    .import_state = ar_import,
    .destroy = ar_destroy,
};
