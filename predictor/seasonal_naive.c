/* "seasonal-naive": each step's forecast is the count one season earlier at the same phase
 * (params.season intervals, e.g. a day), or the last non-missing count where that one is
 * missing or predates the data. For a horizon longer than a season the latest observed
 * value of the phase is used, i.e. the season repeats.
 *
 * The state is one slot per phase: slot t % season holds the count at the latest observed
 * position t of that phase (NaN: missing, or never seen). */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct snaive {
    double *slot; /* season entries */
    double last;  /* last non-missing count; NaN before any */
} snaive_t;

static void sn_reset(snaive_t *s, unsigned season)
{
    for (unsigned i = 0; i < season; i++)
        s->slot[i] = NAN;
    s->last = NAN;
}

static int sn_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    if (p->params.season == 0) {
        snprintf(errbuf, errlen, "predictor seasonal-naive: season must be >= 1 interval");
        return -EINVAL;
    }
    snaive_t *s = sw_calloc(1, sizeof(*s));
    s->slot = sw_malloc(p->params.season * sizeof(double));
    sn_reset(s, p->params.season);
    p->state = s;
    return 0;
}

/* The value at position t. */
static void sn_step(snaive_t *s, unsigned season, uint64_t t, double y, bool missing)
{
    s->slot[t % season] = missing ? NAN : y;
    if (!missing)
        s->last = y;
}

static void sn_observe(sw_pred_t *p, double y, bool missing)
{
    sn_step(p->state, p->params.season, p->pos, y, missing);
}

static int sn_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n, char *errbuf,
                  size_t errlen)
{
    if (p->params.season > n) {
        snprintf(errbuf, errlen, "predictor seasonal-naive: season %u is longer than the "
                 "series (%zu intervals)", p->params.season, n);
        return -EINVAL;
    }
    snaive_t *s = p->state;
    sn_reset(s, p->params.season);
    for (size_t i = 0; i < n; i++)
        sn_step(s, p->params.season, i, y[i], miss[i]);
    return 0;
}

/* Step i targets position pos + i; every earlier position of its phase maps to the same
 * slot, which holds the latest of them. */
static void sn_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const snaive_t *s = p->state;
    unsigned season = p->params.season;
    double fallback = isnan(s->last) ? 0 : s->last, max = 0;
    for (size_t i = 0; i < h; i++) {
        double v = s->slot[(p->pos + i) % season];
        v = isnan(v) ? fallback : v;
        point[i] = v > 0 ? v : 0;
        max = SW_MAX(max, point[i]);
    }
    *max_point = max;
}

static int sn_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const snaive_t *s = p->state;
    sw_pred_blob_add(b, "slot", s->slot, p->params.season);
    sw_pred_blob_add(b, "last", &s->last, 1);
    return 0;
}

static int sn_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    snaive_t *s = p->state;
    /* NaN is a slot with no value yet, as the forecaster keeps it. */
    const sw_pred_range_t count_or_none = {0, SW_PRED_MAX_COUNT, false, true};
    const sw_pred_tensor_t *slot, *last;
    if (!(slot = sw__pred_tensor(p, b, "slot", p->params.season, count_or_none, errbuf, errlen)) ||
        !(last = sw__pred_tensor(p, b, "last", 1, count_or_none, errbuf, errlen)))
        return -EINVAL;
    memcpy(s->slot, slot->data, p->params.season * sizeof(double));
    s->last = last->data[0];
    return 0;
}

static void sn_destroy(sw_pred_t *p)
{
    snaive_t *s = p->state;
    sw_free(s->slot);
    sw_free(s);
}

const sw_pred_ops_t sw__pred_seasonal_naive_ops = {
    .name = "seasonal-naive",
    .create = sn_create,
    .fit = sn_fit,
    .observe = sn_observe,
    .predict = sn_predict,
    .export_state = sn_export,
    .import_state = sn_import,
    .destroy = sn_destroy,
};
