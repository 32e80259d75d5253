/* "last": the last non-missing count, held flat over the horizon. The persistence
 * baseline every other forecaster has to beat; 0 before any data. */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct last {
    double value;
    bool seen;
} last_t;

static int last_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    p->state = sw_calloc(1, sizeof(last_t));
    return 0;
}

static void last_observe(sw_pred_t *p, double y, bool missing)
{
    last_t *l = p->state;
    if (missing)
        return;
    l->value = y;
    l->seen = true;
}

static int last_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n,
                    char *errbuf, size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    last_t *l = p->state;
    *l = (last_t){0};
    for (size_t i = 0; i < n; i++)
        last_observe(p, y[i], miss[i]);
    return 0;
}

static void last_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const last_t *l = p->state;
    sw__pred_flat(l->value, h, point, max_point);
}

static int last_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const last_t *l = p->state;
    double v[2] = {l->value, l->seen};
    sw_pred_blob_add(b, "last", v, 2);
    return 0;
}

static int last_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    last_t *l = p->state;
    const sw_pred_tensor_t *t = sw__pred_tensor(p, b, "last", 2, SW_PRED_COUNT, errbuf, errlen);
    if (!t || !sw__pred_value_ok(p, t, 1, SW_PRED_FLAG, errbuf, errlen))
        return -EINVAL;
    l->value = t->data[0];
    l->seen = t->data[1] != 0;
    return 0;
}

static void last_destroy(sw_pred_t *p) { sw_free(p->state); }

const sw_pred_ops_t sw__pred_last_ops = {
    .name = "last",
    .create = last_create,
    .fit = last_fit,
    .observe = last_observe,
    .predict = last_predict,
    .export_state = last_export,
    .import_state = last_import,
    .destroy = last_destroy,
};
