/* "ewma": exponentially weighted moving average of the counts, held flat over the
 * horizon. alpha is params.ewma_alpha, or, when that is 0, the value in (0, 1] that
 * minimises the one-step squared error on the training data (a 0.01 grid, then a 0.0005
 * grid around its best: deterministic, and the error curve is too cheap to bother with
 * anything cleverer). Missing intervals leave the level alone. Until it is fitted, a
 * forecaster without a given alpha follows the last count (alpha = 1). */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct ewma {
    double alpha;
    double level;
    bool seen;
} ewma_t;

static int ewma_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    double a = p->params.ewma_alpha;
    if (!(a >= 0 && a <= 1)) {
        snprintf(errbuf, errlen, "predictor ewma: ewma_alpha %g must be in (0, 1], or 0 to "
                 "fit it", a);
        return -EINVAL;
    }
    ewma_t *e = sw_calloc(1, sizeof(*e));
    e->alpha = a > 0 ? a : 1.0;
    p->state = e;
    return 0;
}

static void ewma_step(ewma_t *e, double y, bool missing)
{
    if (missing)
        return;
    e->level = e->seen ? e->level + e->alpha * (y - e->level) : y;
    e->seen = true;
}

static void ewma_observe(sw_pred_t *p, double y, bool missing)
{
    ewma_step(p->state, y, missing);
}

/* One-step squared error of alpha over the series (the first value only initialises). */
static double ewma_sse(double alpha, const double *y, const uint8_t *miss, size_t n)
{
    ewma_t e = {.alpha = alpha};
    double sse = 0;
    for (size_t i = 0; i < n; i++) {
        if (!miss[i] && e.seen)
            sse += (y[i] - e.level) * (y[i] - e.level);
        ewma_step(&e, y[i], miss[i]);
    }
    return sse;
}

/* The best alpha on a grid from lo to hi (inclusive) in `steps` steps. */
static double ewma_grid(double lo, double hi, unsigned steps, const double *y,
                        const uint8_t *miss, size_t n)
{
    double best = lo, best_sse = INFINITY;
    for (unsigned k = 0; k <= steps; k++) {
        double a = lo + (hi - lo) * k / steps;
        if (a <= 0 || a > 1)
            continue;
        double sse = ewma_sse(a, y, miss, n);
        if (sse < best_sse) {
            best_sse = sse;
            best = a;
        }
    }
    return best;
}

static int ewma_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n,
                    char *errbuf, size_t errlen)
{
    ewma_t *e = p->state;
    if (p->params.ewma_alpha == 0) {
        size_t present = 0;
        for (size_t i = 0; i < n; i++)
            present += !miss[i];
        if (present < 2) {
            snprintf(errbuf, errlen, "predictor ewma: fitting ewma_alpha needs at least 2 "
                     "non-missing intervals, got %zu", present);
            return -EINVAL;
        }
        double a = ewma_grid(0.01, 1.0, 99, y, miss, n);
        e->alpha = ewma_grid(a - 0.01, a + 0.01, 40, y, miss, n);
    }
    e->level = 0;
    e->seen = false;
    for (size_t i = 0; i < n; i++)
        ewma_step(e, y[i], miss[i]);
    return 0;
}

static void ewma_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const ewma_t *e = p->state;
    sw__pred_flat(e->level, h, point, max_point);
}

static int ewma_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const ewma_t *e = p->state;
    double v[3] = {e->alpha, e->level, e->seen};
    sw_pred_blob_add(b, "ewma", v, 3);
    return 0;
}

static int ewma_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    ewma_t *e = p->state;
    /* alpha in (0, 1]: a 0 would freeze the level, and 0 means "fit it" in the params. */
    const sw_pred_range_t alpha = {0x1p-60, 1, false, false};
    const sw_pred_tensor_t *t = sw__pred_tensor(p, b, "ewma", 3, SW_PRED_COUNT, errbuf, errlen);
    if (!t || !sw__pred_value_ok(p, t, 0, alpha, errbuf, errlen) ||
        !sw__pred_value_ok(p, t, 2, SW_PRED_FLAG, errbuf, errlen))
        return -EINVAL;
    e->alpha = t->data[0];
    e->level = t->data[1];
    e->seen = t->data[2] != 0;
    return 0;
}

static void ewma_destroy(sw_pred_t *p) { sw_free(p->state); }

const sw_pred_ops_t sw__pred_ewma_ops = {
    .name = "ewma",
    .create = ewma_create,
    .fit = ewma_fit,
    .observe = ewma_observe,
    .predict = ewma_predict,
    .export_state = ewma_export,
    .import_state = ewma_import,
    .destroy = ewma_destroy,
};
