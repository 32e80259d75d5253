/* "holt-winters": additive level + trend + season (params.season intervals), the classic
 * exponential smoothing for a series with a daily cycle.
 *
 * Fitting: the state starts from the first two seasons (level and trend from their means,
 * seasonal offsets from their detrended deviations), and alpha, beta, gamma in [0, 1]
 * minimise the one-step squared error over the training data: the best point of a coarse
 * grid, refined by Nelder-Mead in logit space (so the box needs no special handling). Both
 * are deterministic. A missing interval skips the update and carries the forecast: the
 * level moves on by the trend, and the season stays.
 *
 * Until it is fitted, the forecaster follows the last count. */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct hw {
    double alpha, beta, gamma;
    double level, trend;
    double *season; /* m entries; entry t % m is the offset of position t */
    bool fitted;
    double last; /* unfitted: the last count */
} hw_t;

static int hw_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    if (p->params.season < 2) {
        snprintf(errbuf, errlen, "predictor holt-winters: season must be >= 2 intervals, "
                 "got %u", p->params.season);
        return -EINVAL;
    }
    hw_t *w = sw_calloc(1, sizeof(*w));
    w->season = sw_calloc(p->params.season, sizeof(double));
    p->state = w;
    return 0;
}

/* One interval at phase `ph`; returns its squared one-step error (0 when missing). */
static inline double hw_step(hw_t *w, size_t ph, double y, bool missing)
{
    double *s = &w->season[ph];
    if (missing) {
        w->level += w->trend;
        return 0;
    }
    double err = y - (w->level + w->trend + *s);
    double level = w->alpha * (y - *s) + (1 - w->alpha) * (w->level + w->trend);
    w->trend = w->beta * (level - w->level) + (1 - w->beta) * w->trend;
    *s = w->gamma * (y - level) + (1 - w->gamma) * *s;
    w->level = level;
    return err * err;
}

/* Mean of the non-missing values of y[0..m), or NAN when there is none. */
static double season_mean(const double *y, const uint8_t *miss, size_t m)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (!miss[i]) {
            sum += y[i];
            k++;
        }
    }
    return k ? sum / (double)k : NAN;
}

/* Initial state just before position 0 from the first two seasons: with means A0 and A1
 * (centred at (m - 1) / 2 and m + (m - 1) / 2), the trend is (A1 - A0) / m and the level
 * A0 - trend (m + 1) / 2, so that level + trend + offset fits position 0. */
static int hw_init(hw_t *w, size_t m, const double *y, const uint8_t *miss, char *errbuf,
                   size_t errlen)
{
    double a0 = season_mean(y, miss, m), a1 = season_mean(y + m, miss + m, m);
    if (isnan(a0) || isnan(a1)) {
        snprintf(errbuf, errlen, "predictor holt-winters: season %d of the first two is all "
                 "missing: cannot initialise", isnan(a0) ? 1 : 2);
        return -EINVAL;
    }
    w->trend = (a1 - a0) / (double)m;
    w->level = a0 - w->trend * ((double)m + 1) / 2;
    for (size_t i = 0; i < m; i++) {
        double dev = 0, k = 0, centre = w->trend * ((double)i - ((double)m - 1) / 2);
        if (!miss[i]) {
            dev += y[i] - (a0 + centre);
            k++;
        }
        if (!miss[m + i]) {
            dev += y[m + i] - (a1 + centre);
            k++;
        }
        w->season[i] = k > 0 ? dev / k : 0;
    }
    return 0;
}

typedef struct hw_problem {
    const hw_t *init; /* the initial state */
    hw_t *work;       /* scratch of the same shape */
    size_t m, n;
    const double *y;
    const uint8_t *miss;
} hw_problem_t;

static double sigmoid(double u) { return 1 / (1 + exp(-u)); }
static double logit(double x) { return log(x / (1 - x)); }

/* One-step SSE over the series from the initial state with the given parameters. */
static double hw_sse(hw_problem_t *pb, double alpha, double beta, double gamma)
{
    hw_t *w = pb->work;
    *w = (hw_t){.alpha = alpha, .beta = beta, .gamma = gamma, .level = pb->init->level,
                .trend = pb->init->trend, .season = w->season};
    memcpy(w->season, pb->init->season, pb->m * sizeof(double));
    double sse = 0;
    for (size_t i = 0, ph = 0; i < pb->n; i++) {
        sse += hw_step(w, ph, pb->y[i], pb->miss[i]);
        if (++ph == pb->m)
            ph = 0;
    }
    return isfinite(sse) ? sse : INFINITY;
}

static double hw_objective(hw_problem_t *pb, const double *u)
{
    return hw_sse(pb, sigmoid(u[0]), sigmoid(u[1]), sigmoid(u[2]));
}

/* The best (alpha, beta, gamma) of a coarse grid, in logit space. */
static void hw_grid(hw_problem_t *pb, double *u)
{
    static const double as[] = {0.05, 0.2, 0.4, 0.6, 0.8, 0.95};
    static const double bs[] = {0.001, 0.01, 0.05, 0.2};
    static const double gs[] = {0.01, 0.1, 0.3, 0.6, 0.9};
    double best = INFINITY;
    u[0] = logit(as[1]), u[1] = logit(bs[1]), u[2] = logit(gs[1]);
    for (size_t i = 0; i < SW_ARRAY_LEN(as); i++)
        for (size_t j = 0; j < SW_ARRAY_LEN(bs); j++)
            for (size_t k = 0; k < SW_ARRAY_LEN(gs); k++) {
                double sse = hw_sse(pb, as[i], bs[j], gs[k]);
                if (sse < best) {
                    best = sse;
                    u[0] = logit(as[i]), u[1] = logit(bs[j]), u[2] = logit(gs[k]);
                }
            }
}

#define NM_DIM 3
#define NM_MAX_EVALS 400

/* v = a + t (b - a), over NM_DIM coordinates. */
static void nm_line(double *v, const double *a, const double *b, double t)
{
    for (int d = 0; d < NM_DIM; d++)
        v[d] = a[d] + t * (b[d] - a[d]);
}

/* Orders the simplex by value, best first (insertion sort of NM_DIM + 1 points). */
static void nm_sort(double x[][NM_DIM], double *f)
{
    for (int i = 1; i <= NM_DIM; i++)
        for (int j = i; j > 0 && f[j] < f[j - 1]; j--) {
            double t = f[j], tx[NM_DIM];
            f[j] = f[j - 1], f[j - 1] = t;
            memcpy(tx, x[j], sizeof(tx));
            memcpy(x[j], x[j - 1], sizeof(tx));
            memcpy(x[j - 1], tx, sizeof(tx));
        }
}

/* Nelder-Mead (reflect 1, expand 2, contract 1/2, shrink 1/2) from u with unit steps in
 * logit space; u ends at the best point. Stops when the values or the simplex collapse,
 * or after NM_MAX_EVALS evaluations. */
static void nelder_mead(hw_problem_t *pb, double *u)
{
    double x[NM_DIM + 1][NM_DIM], f[NM_DIM + 1];
    int evals = 0;
    for (int i = 0; i <= NM_DIM; i++) {
        memcpy(x[i], u, sizeof(x[i]));
        if (i > 0)
            x[i][i - 1] += 1.0;
        f[i] = hw_objective(pb, x[i]);
        evals++;
    }
    while (evals < NM_MAX_EVALS) {
        nm_sort(x, f);
        double size = 0, c[NM_DIM] = {0}, r[NM_DIM], t[NM_DIM];
        for (int i = 1; i <= NM_DIM; i++)
            for (int d = 0; d < NM_DIM; d++)
                size = SW_MAX(size, fabs(x[i][d] - x[0][d]));
        if (f[NM_DIM] - f[0] <= 1e-10 * fabs(f[0]) || size < 1e-6)
            break;
        for (int i = 0; i < NM_DIM; i++)
            for (int d = 0; d < NM_DIM; d++)
                c[d] += x[i][d] / NM_DIM;
        nm_line(r, c, x[NM_DIM], -1.0);
        double fr = hw_objective(pb, r);
        evals++;
        if (fr < f[0]) {
            nm_line(t, c, x[NM_DIM], -2.0);
            double fe = hw_objective(pb, t);
            evals++;
            bool expand = fe < fr;
            memcpy(x[NM_DIM], expand ? t : r, sizeof(t));
            f[NM_DIM] = expand ? fe : fr;
            continue;
        }
        if (fr < f[NM_DIM - 1]) {
            memcpy(x[NM_DIM], r, sizeof(r));
            f[NM_DIM] = fr;
            continue;
        }
        /* Contract outside (towards r) when r beat the worst, inside otherwise. */
        bool outside = fr < f[NM_DIM];
        nm_line(t, c, outside ? r : x[NM_DIM], 0.5);
        double fc = hw_objective(pb, t);
        evals++;
        if (fc < (outside ? fr : f[NM_DIM])) {
            memcpy(x[NM_DIM], t, sizeof(t));
            f[NM_DIM] = fc;
            continue;
        }
        for (int i = 1; i <= NM_DIM; i++) {
            nm_line(x[i], x[0], x[i], 0.5);
            f[i] = hw_objective(pb, x[i]);
            evals++;
        }
    }
    nm_sort(x, f);
    memcpy(u, x[0], sizeof(x[0]));
}

static int hw_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n, char *errbuf,
                  size_t errlen)
{
    hw_t *w = p->state;
    size_t m = p->params.season;
    if (n < 2 * m) {
        snprintf(errbuf, errlen, "predictor holt-winters: needs at least 2 seasons (2 x season "
                 "%zu = %zu intervals), got %zu", m, 2 * m, n);
        return -EINVAL;
    }
    hw_t init = {.season = sw_malloc(m * sizeof(double))};
    int rc = hw_init(&init, m, y, miss, errbuf, errlen);
    if (rc < 0) {
        sw_free(init.season);
        return rc;
    }
    hw_t work = {.season = sw_malloc(m * sizeof(double))};
    hw_problem_t pb = {.init = &init, .work = &work, .m = m, .n = n, .y = y, .miss = miss};
    double u[NM_DIM];
    hw_grid(&pb, u);
    nelder_mead(&pb, u);
    /* Replay with the chosen parameters to leave the state after y[n - 1]. */
    hw_sse(&pb, sigmoid(u[0]), sigmoid(u[1]), sigmoid(u[2]));
    memcpy(w->season, work.season, m * sizeof(double));
    w->alpha = work.alpha, w->beta = work.beta, w->gamma = work.gamma;
    w->level = work.level, w->trend = work.trend;
    w->fitted = true;
    sw_free(init.season);
    sw_free(work.season);
    return 0;
}

static void hw_observe(sw_pred_t *p, double y, bool missing)
{
    hw_t *w = p->state;
    if (w->fitted)
        hw_step(w, p->pos % p->params.season, y, missing);
    else if (!missing)
        w->last = y;
}

/* Step i targets position pos + i: level + (i + 1) trend + that phase's offset. */
static void hw_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const hw_t *w = p->state;
    size_t m = p->params.season, ph = p->pos % m;
    double max = 0;
    for (size_t i = 0; i < h; i++) {
        double v = w->fitted ? w->level + (double)(i + 1) * w->trend + w->season[ph] : w->last;
        point[i] = v > 0 ? v : 0;
        max = SW_MAX(max, point[i]);
        if (++ph == m)
            ph = 0;
    }
    *max_point = max;
}

static int hw_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const hw_t *w = p->state;
    double v[7] = {w->alpha, w->beta, w->gamma, w->level, w->trend, w->fitted, w->last};
    sw_pred_blob_add(b, "hw", v, 7);
    sw_pred_blob_add(b, "season", w->season, p->params.season);
    return 0;
}

/* Level, trend and seasonal offsets are in units of counts, and may be negative. */
#define HW_MAX_LEVEL 1e15

static int hw_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    hw_t *w = p->state;
    const sw_pred_range_t unit = {0, 1, false, false};
    const sw_pred_tensor_t *t, *s;
    if (!(t = sw__pred_tensor(p, b, "hw", 7, sw__pred_real(HW_MAX_LEVEL), errbuf, errlen)) ||
        !sw__pred_value_ok(p, t, 0, unit, errbuf, errlen) ||
        !sw__pred_value_ok(p, t, 1, unit, errbuf, errlen) ||
        !sw__pred_value_ok(p, t, 2, unit, errbuf, errlen) ||
        !sw__pred_value_ok(p, t, 5, SW_PRED_FLAG, errbuf, errlen) ||
        !sw__pred_value_ok(p, t, 6, SW_PRED_COUNT, errbuf, errlen) ||
        !(s = sw__pred_tensor(p, b, "season", p->params.season, sw__pred_real(HW_MAX_LEVEL), errbuf,
                              errlen)))
        return -EINVAL;
    w->alpha = t->data[0], w->beta = t->data[1], w->gamma = t->data[2];
    w->level = t->data[3], w->trend = t->data[4];
    w->fitted = t->data[5] != 0;
    w->last = t->data[6];
    memcpy(w->season, s->data, p->params.season * sizeof(double));
    return 0;
}

static void hw_destroy(sw_pred_t *p)
{
    hw_t *w = p->state;
    sw_free(w->season);
    sw_free(w);
}

const sw_pred_ops_t sw__pred_holt_winters_ops = {
    .name = "holt-winters",
    .create = hw_create,
    .fit = hw_fit,
    .observe = hw_observe,
    .predict = hw_predict,
    .export_state = hw_export,
    .import_state = hw_import,
    .destroy = hw_destroy,
};
