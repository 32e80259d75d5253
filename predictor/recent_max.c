/* "recent-max": the maximum count of the last `window_intervals` intervals, times
 * `headroom`, held flat over the horizon. This is what MArk's released code fell back to
 * ("highest rate seen x 1.2"); it is the planner's default until a fitted forecaster is
 * configured. The point forecast is the recent max itself; the upper bound adds headroom. */
#include "predictor/predictor_internal.h"

#include <string.h>

typedef struct recent_max {
    double *ring;
    size_t cap, n, head;
} recent_max_t;

static int rm_create(sw_pred_t *p, const sw_cfg_predictor_t *cfg)
{
    recent_max_t *rm = sw_calloc(1, sizeof(*rm));
    rm->cap = cfg->window_intervals ? cfg->window_intervals : 1;
    rm->ring = sw_calloc(rm->cap, sizeof(double));
    p->state = rm;
    return 0;
}

static void rm_observe(sw_pred_t *p, double count)
{
    recent_max_t *rm = p->state;
    rm->ring[rm->head] = count;
    rm->head = (rm->head + 1) % rm->cap;
    if (rm->n < rm->cap)
        rm->n++;
}

static int rm_fit(sw_pred_t *p, const double *series, size_t n)
{
    recent_max_t *rm = p->state;
    rm->n = rm->head = 0;
    for (size_t i = n > rm->cap ? n - rm->cap : 0; i < n; i++)
        rm_observe(p, series[i]);
    return 0;
}

static void rm_forecast(const sw_pred_t *p, sw_forecast_t *out)
{
    const recent_max_t *rm = p->state;
    double max = 0;
    for (size_t i = 0; i < rm->n; i++)
        max = SW_MAX(max, rm->ring[i]);
    double upper = max * p->cfg.headroom;
    for (size_t h = 0; h < out->horizon; h++) {
        out->point[h] = max;
        out->upper[h] = upper;
    }
    out->max_point = max;
    out->max_upper = upper;
}

static void rm_destroy(sw_pred_t *p)
{
    recent_max_t *rm = p->state;
    sw_free(rm->ring);
    sw_free(rm);
}

const sw_pred_ops_t sw__pred_recent_max_ops = {
    .name = "recent-max",
    .create = rm_create,
    .fit = rm_fit,
    .observe = rm_observe,
    .forecast = rm_forecast,
    .destroy = rm_destroy,
};
