/* Burst phase, for the calendar's upper quantiles.
 *
 * The Twitter trace bursts to 3-5x its level about eleven times a day, always at the same
 * minutes of the hour but not in the same hours; no forecaster here predicts the onsets,
 * so the upper bound of a burst-prone minute had to stretch in every hour. Onsets are
 * spaced, though: of 162 gaps between onsets in the 15 days, 62 are 120 minutes, 28 are
 * 150, 23 are 90, 16 are 60 and 2 are 30. So the time since the last onset says whether
 * the next slot is likely to burst, and a burst-prone minute is calibrated separately for
 * "a burst is due" (long since the last onset) and "one just passed".
 *
 * An onset is an interval above twice the median of the last half hour, at least a
 * quarter of an hour after the previous onset. "Due" is 100 minutes or more since the
 * last onset (or none seen). The 100 was chosen by calibrating on days 4.8-8 and scoring
 * days 8-11 of the trace, both inside bench/predict_eval.sh's training days; the test
 * days played no part. */
#include "predictor/predictor_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ONSET_FACTOR 2.0
#define MEDIAN_WINDOW_S 1800.0
#define MIN_SPACING_S 900.0
#define DUE_AFTER_S 6000.0

/* Intervals in the median window: half an hour, within the ring's bounds. */
static uint32_t window_len(const sw_pred_params_t *pp)
{
    if (!(pp->interval_s > 0))
        return 30;
    double w = round(MEDIAN_WINDOW_S / pp->interval_s);
    return (uint32_t)fmin(fmax(w, 10), SW_PRED_BURST_RING);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double ring_median(const sw_pred_burst_t *b)
{
    double tmp[SW_PRED_BURST_RING];
    memcpy(tmp, b->ring, b->n * sizeof(double));
    qsort(tmp, b->n, sizeof(double), cmp_double);
    return b->n % 2 ? tmp[b->n / 2] : 0.5 * (tmp[b->n / 2 - 1] + tmp[b->n / 2]);
}

/* Seconds from interval a to interval b (b >= a). */
static double span_s(const sw_pred_params_t *pp, int64_t a, uint64_t b)
{
    double dt = pp->interval_s > 0 ? pp->interval_s : 60.0;
    return (double)((int64_t)b - a) * dt;
}

void sw__pred_burst_reset(sw_pred_burst_t *b)
{
    memset(b, 0, sizeof(*b));
    b->last_onset = -1;
}

void sw__pred_burst_observe(sw_pred_burst_t *b, const sw_pred_params_t *pp, uint64_t pos,
                            double y, bool missing)
{
    if (missing)
        return;
    uint32_t w = window_len(pp);
    bool spaced = b->last_onset < 0 || span_s(pp, b->last_onset, pos) >= MIN_SPACING_S;
    if (b->n >= SW_MIN(w, 10u) && spaced) {
        double med = ring_median(b);
        if (med > 0 && y > ONSET_FACTOR * med)
            b->last_onset = (int64_t)pos;
    }
    if (b->n < w) {
        b->ring[(b->head + b->n++) % w] = y;
    } else {
        b->ring[b->head] = y;
        b->head = (b->head + 1) % w;
    }
}

bool sw__pred_burst_due(const sw_pred_burst_t *b, const sw_pred_params_t *pp, uint64_t origin)
{
    return b->last_onset < 0 || span_s(pp, b->last_onset, origin) >= DUE_AFTER_S;
}

void sw__pred_burst_export(const sw_pred_burst_t *b, double out[SW_PRED_BURST_STATE])
{
    out[0] = b->n;
    out[1] = b->head;
    out[2] = (double)b->last_onset;
    memcpy(out + 3, b->ring, SW_PRED_BURST_RING * sizeof(double));
}

int sw__pred_burst_import(sw_pred_burst_t *b, const sw_pred_params_t *pp,
                          const double in[SW_PRED_BURST_STATE])
{
    uint32_t w = window_len(pp);
    if (!(in[0] >= 0 && in[0] <= w && in[0] == floor(in[0])) ||
        !(in[1] >= 0 && in[1] < w && in[1] == floor(in[1])) ||
        !(in[2] >= -1 && in[2] < 0x1p53 && in[2] == floor(in[2])))
        return -1;
    for (size_t i = 0; i < SW_PRED_BURST_RING; i++)
        if (!(isfinite(in[3 + i]) && in[3 + i] >= 0))
            return -1;
    b->n = (uint32_t)in[0];
    b->head = (uint32_t)in[1];
    b->last_onset = (int64_t)in[2];
    memcpy(b->ring, in + 3, SW_PRED_BURST_RING * sizeof(double));
    return 0;
}
