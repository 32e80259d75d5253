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
 * The max over the horizon has its own head, "coef_max", fitted to it directly, as MArk's
 * LSTM predicts the max: the max of iterated one-step forecasts is biased low (each step
 * regresses towards the mean), and the planner covers the peak. It works on log ratios to
 * the last value (see ar_solve_max).
 *
 * Saved state: "coef" = [c, phi_1 .. phi_p, calendar terms (sin, cos per harmonic, minute
 * of hour first)], "coef_max" likewise, "hist" = the last p values, oldest first. */
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
    double *coef;     /* 1 + order + ncal */
    double *coef_max; /* the direct head for the max over H, on log ratios */
    bool has_max_head; /* enough complete rows to fit it; else the iterated max */
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
    a->coef_max = sw_calloc(ar_ncoef(a), sizeof(double));
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
/* The calendar part of a prediction at position t with coefficients `coef`. */
static double ar_calendar_term_with(const sw_pred_t *p, const ar_t *a, const double *coef,
                                    uint64_t t)
{
    if (a->ncal == 0)
        return 0;
    double x[2 * (MINUTE_HARMONICS + DAY_HARMONICS)], sum = 0;
    ar_calendar(p, t, x);
    const double *beta = coef + 1 + a->order;
    for (unsigned k = 0; k < a->ncal; k++)
        sum += beta[k] * x[k];
    return sum;
}

static double ar_calendar_term(const sw_pred_t *p, const ar_t *a, uint64_t t)
{
    return ar_calendar_term_with(p, a, a->coef, t);
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
                      size_t m, size_t ld, size_t target_span, double *A, double *B)
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
        double target = y[t];
        for (size_t i = 1; i < target_span; i++)
            target = SW_MAX(target, y[t + i]);
        B[r] = target;
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

/* Least squares for one target (span 1: the next value; span H: the max over the next H)
 * over `rows`, into coef. Returns LAPACKE_dgels's info. */
static lapack_int ar_solve(const sw_pred_t *p, const ar_t *a, const double *y,
                           const size_t *rows, size_t m, size_t span, double *coef)
{
    size_t nc = ar_ncoef(a), ld = m + nc - 1;
    double *A = sw_calloc(ld * nc, sizeof(double)), *B = sw_malloc(ld * sizeof(double));
    ar_design(p, a, y, rows, m, ld, span, A, B);
    lapack_int info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)ld, (lapack_int)nc, 1, A,
                                    (lapack_int)ld, B, (lapack_int)ld);
    if (info == 0)
        memcpy(coef, B, nc * sizeof(double));
    sw_free(A);
    sw_free(B);
    return info;
}

/* Log-ratio regressors of the max head at origin t: an intercept, log(y_{t-j}+1) -
 * log(y_{t-1}+1) for j = 2..p (the recent shape relative to the last value), and the
 * calendar terms. `win` holds y_{t-p} .. y_{t-1}, oldest first (the layout of both the
 * series and the history). x has ar_ncoef entries (the j = 1 slot is always 0). */
static void ar_max_regressors(const sw_pred_t *p, const ar_t *a, const double *win, uint64_t t,
                              double *x)
{
    double base = log(win[a->order - 1] + 1);
    x[0] = 1;
    x[1] = 0;
    for (size_t j = 2; j <= a->order; j++)
        x[j] = log(win[a->order - j] + 1) - base;
    if (a->ncal)
        ar_calendar(p, t, x + 1 + a->order);
}

#define IRLS_ROUNDS 12
#define IRLS_FLOOR 1e-3 /* residuals below this (0.1 %) weigh as if this large */

/* Fits the max head on a relative scale: log((max of the next span) + 1) - log(y_{t-1} + 1)
 * regressed on ar_max_regressors, by least absolute deviations (iteratively reweighted
 * least squares through LAPACKE_dgels). Log ratios make the error relative, which is what
 * a capacity plan (and MAPE) cares about; absolute rather than squared deviations target
 * the median, so the rare bursts (a heavy right tail) do not pull every ordinary minute's
 * forecast up. The bursts are the upper quantile's job. */
static lapack_int ar_solve_max(const sw_pred_t *p, ar_t *a, const double *y,
                               const size_t *rows, size_t m, size_t span)
{
    size_t nc = ar_ncoef(a), ld = m + nc - 1;
    double *X = sw_malloc(m * nc * sizeof(double)), *z = sw_malloc(m * sizeof(double));
    double *w = sw_malloc(m * sizeof(double));
    for (size_t r = 0; r < m; r++) {
        size_t t = rows[r];
        ar_max_regressors(p, a, y + t - a->order, t, X + r * nc);
        double target = y[t];
        for (size_t i = 1; i < span; i++)
            target = SW_MAX(target, y[t + i]);
        z[r] = log(target + 1) - log(y[t - 1] + 1);
        w[r] = 1;
    }
    double *A = sw_malloc(ld * nc * sizeof(double)), *B = sw_malloc(ld * sizeof(double));
    lapack_int info = 0;
    for (int round = 0; round < IRLS_ROUNDS && info == 0; round++) {
        memset(A, 0, ld * nc * sizeof(double));
        for (size_t r = 0; r < m; r++) {
            double sw = sqrt(w[r]);
            for (size_t k = 0; k < nc; k++)
                A[r + k * ld] = sw * X[r * nc + k];
            B[r] = sw * z[r];
        }
        for (size_t j = 1; j < nc; j++) { /* ridge rows; j = 1 is a dead column (always 0) */
            A[m + j - 1 + j * ld] = sqrt(RIDGE * (double)m) + (j == 1);
            B[m + j - 1] = 0;
        }
        info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)ld, (lapack_int)nc, 1, A,
                             (lapack_int)ld, B, (lapack_int)ld);
        if (info != 0)
            break;
        memcpy(a->coef_max, B, nc * sizeof(double));
        for (size_t r = 0; r < m; r++) {
            double fit = 0;
            for (size_t k = 0; k < nc; k++)
                fit += a->coef_max[k] * X[r * nc + k];
            w[r] = 1.0 / SW_MAX(fabs(z[r] - fit), IRLS_FLOOR);
        }
    }
    sw_free(A);
    sw_free(B);
    sw_free(X);
    sw_free(z);
    sw_free(w);
    return info;
}

/* The rows whose next `span` values are all present too (targets of the max head). */
static size_t ar_rows_ahead(const uint8_t *miss, size_t n, size_t span, const size_t *rows,
                            size_t m, size_t *out)
{
    size_t k = 0;
    for (size_t r = 0; r < m; r++) {
        size_t t = rows[r];
        bool ok = t + span <= n;
        for (size_t i = 0; ok && i < span; i++)
            ok = !miss[t + i];
        if (ok)
            out[k++] = t;
    }
    return k;
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
    lapack_int info = ar_solve(p, a, y, rows, m, 1, a->coef);
    /* The max head: a planner covers the peak of the next H intervals, and the max of
     * iterated one-step forecasts is biased low (every step regresses to the mean). */
    size_t span = p->params.horizon, *ahead = sw_malloc(m * sizeof(size_t) + 1);
    size_t m_max = ar_rows_ahead(miss, n, span, rows, m, ahead);
    a->has_max_head = info == 0 && m_max >= nc;
    if (a->has_max_head)
        info = ar_solve_max(p, a, y, ahead, m_max, span);
    sw_free(ahead);
    if (info == 0) {
        a->fitted = true;
        ar_replay(p, a, y, miss, n);
    } else {
        snprintf(errbuf, errlen, "predictor ar: least squares failed (LAPACKE_dgels info %d)",
                 (int)info);
    }
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
    if (a->fitted && a->has_max_head) {
        /* Regressor by regressor, so the forecast needs no scratch of size p. */
        double base = log(a->hist[a->order - 1] + 1);
        double r = a->coef_max[0];
        for (size_t j = 2; j <= a->order; j++)
            r += a->coef_max[j] * (log(a->hist[a->order - j] + 1) - base);
        r += ar_calendar_term_with(p, a, a->coef_max, p->pos);
        /* The max head is the better estimate of the peak (a median on the relative
         * scale; the iterated steps carry the bursts' pull on a level-space fit), so the
         * steps are held at or below it: a max below its own steps would contradict them. */
        max = (a->hist[a->order - 1] + 1) * exp(r) - 1;
        max = max > 0 ? max : 0;
        for (size_t i = 0; i < h; i++)
            point[i] = SW_MIN(point[i], max);
    }
    *max_point = max;
}

static int ar_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const ar_t *a = p->state;
    double meta[3] = {a->fitted, a->last, a->has_max_head};
    sw_pred_blob_add(b, "coef", a->coef, ar_ncoef(a));
    sw_pred_blob_add(b, "coef_max", a->coef_max, ar_ncoef(a));
    sw_pred_blob_add(b, "hist", a->hist, a->order);
    sw_pred_blob_add(b, "ar", meta, 3);
    return 0;
}

/* Coefficients of an AR fit on counts: lags near 1, the intercept and calendar terms of
 * the order of the load, log ratios for the max head. */
#define AR_MAX_COEF 1e12

static int ar_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    ar_t *a = p->state;
    size_t nc = ar_ncoef(a);
    const sw_pred_tensor_t *coef, *coef_max, *hist, *meta;
    if (!(coef = sw__pred_tensor(p, b, "coef", nc, sw__pred_real(AR_MAX_COEF), errbuf, errlen)) ||
        !(coef_max =
              sw__pred_tensor(p, b, "coef_max", nc, sw__pred_real(AR_MAX_COEF), errbuf, errlen)) ||
        !(hist = sw__pred_tensor(p, b, "hist", a->order, SW_PRED_COUNT, errbuf, errlen)) ||
        !(meta = sw__pred_tensor(p, b, "ar", 3, SW_PRED_COUNT, errbuf, errlen)) ||
        !sw__pred_value_ok(p, meta, 0, SW_PRED_FLAG, errbuf, errlen) ||
        !sw__pred_value_ok(p, meta, 2, SW_PRED_FLAG, errbuf, errlen))
        return -EINVAL;
    memcpy(a->coef, coef->data, nc * sizeof(double));
    memcpy(a->coef_max, coef_max->data, nc * sizeof(double));
    memcpy(a->hist, hist->data, a->order * sizeof(double));
    a->fitted = meta->data[0] != 0;
    a->last = meta->data[1];
    a->has_max_head = meta->data[2] != 0;
    return 0;
}

static void ar_destroy(sw_pred_t *p)
{
    ar_t *a = p->state;
    sw_free(a->coef);
    sw_free(a->coef_max);
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
