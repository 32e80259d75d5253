/* "recent-max": the maximum count of the last `window` intervals, held flat over the
 * horizon, with `headroom` x that max as its upper bound. This is what MArk's released
 * code fell back to ("highest rate seen x 1.2"). */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct recent_max {
    double *ring;
    size_t cap, n, head;
} recent_max_t;

static int rm_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    if (!(p->params.headroom >= 1.0 && p->params.headroom <= 1e6)) {
        snprintf(errbuf, errlen, "predictor recent-max: headroom %g must be in [1, 1e6]",
                 p->params.headroom);
        return -EINVAL;
    }
    if (p->params.window > SW_PRED_MAX_WINDOW) {
        snprintf(errbuf, errlen, "predictor recent-max: window %u must be <= %u intervals",
                 p->params.window, SW_PRED_MAX_WINDOW);
        return -EINVAL;
    }
    recent_max_t *rm = sw_calloc(1, sizeof(*rm));
    rm->cap = p->params.window ? p->params.window : 10;
    rm->ring = sw_calloc(rm->cap, sizeof(double));
    p->state = rm;
    return 0;
}

static void rm_observe(sw_pred_t *p, double count, bool missing)
{
    if (missing)
        return;
    recent_max_t *rm = p->state;
    rm->ring[rm->head] = count;
    rm->head = (rm->head + 1) % rm->cap;
    if (rm->n < rm->cap)
        rm->n++;
}

static int rm_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n, char *errbuf,
                  size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    recent_max_t *rm = p->state;
    rm->n = rm->head = 0;
    for (size_t i = 0; i < n; i++)
        rm_observe(p, y[i], miss[i]);
    return 0;
}

static void rm_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const recent_max_t *rm = p->state;
    double max = 0;
    for (size_t i = 0; i < rm->n; i++)
        max = SW_MAX(max, rm->ring[i]);
    sw__pred_flat(max, h, point, max_point);
}

static int rm_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const recent_max_t *rm = p->state;
    double meta[2] = {(double)rm->n, (double)rm->head};
    sw_pred_blob_add(b, "ring", rm->ring, rm->cap);
    sw_pred_blob_add(b, "ring_meta", meta, 2);
    return 0;
}

static int rm_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    recent_max_t *rm = p->state;
    const sw_pred_tensor_t *ring, *meta;
    if (!(ring = sw__pred_tensor(p, b, "ring", rm->cap, SW_PRED_COUNT, errbuf, errlen)) ||
        !(meta = sw__pred_tensor(p, b, "ring_meta", 2, SW_PRED_COUNT, errbuf, errlen)) ||
        !sw__pred_value_ok(p, meta, 0, sw__pred_index((double)rm->cap), errbuf, errlen) ||
        !sw__pred_value_ok(p, meta, 1, sw__pred_index((double)rm->cap - 1), errbuf, errlen))
        return -EINVAL;
    memcpy(rm->ring, ring->data, rm->cap * sizeof(double));
    rm->n = (size_t)meta->data[0];
    rm->head = (size_t)meta->data[1];
    return 0;
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
    .predict = rm_predict,
    .export_state = rm_export,
    .import_state = rm_import,
    .destroy = rm_destroy,
};
