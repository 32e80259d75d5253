/* Shared between forecaster implementations inside predictor/ only.
 *
 * predictor.c owns what every forecaster needs: argument checks, gap detection (at fit
 * and online), the held-back calibration of upper quantiles, the position counter used for
 * calendar features, export/import of the shared parts, and the registry. A forecaster
 * implements sw_pred_ops_t and sees only clean data: missing intervals are flagged, never
 * zeros it must guess about. */
#ifndef SW_PREDICTOR_PREDICTOR_INTERNAL_H
#define SW_PREDICTOR_PREDICTOR_INTERNAL_H

#include <math.h>

#include "predictor/predictor.h"

typedef struct sw_pred_ops {
    const char *name;
    /* After calibrating on the held-back tail, do not refit on the whole series: a model
     * whose refit is a different model (a network retrained from its seed on more data)
     * would not match the ratios measured on the first one. */
    bool keep_calibrated_fit;
    /* Checks params (message naming the bad one) and allocates p->state. */
    int (*create)(sw_pred_t *p, char *errbuf, size_t errlen);
    /* Fits on y[0..n) (miss[i] set: y[i] is missing, not load) and leaves the model
     * positioned after y[n-1], as if each value had been observed in order. */
    int (*fit)(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n, char *errbuf,
               size_t errlen);
    /* One more interval (missing: y is meaningless, advance the position only). */
    void (*observe)(sw_pred_t *p, double y, bool missing);
    /* Point forecasts for the next h steps into point[0..h) and of their max into
     * *max_point. Models trained on the max (lstm) fill *max_point from that head. */
    void (*predict)(const sw_pred_t *p, size_t h, double *point, double *max_point);
    /* Fitted state as tensors; import restores it into a created forecaster. */
    int (*export_state)(const sw_pred_t *p, sw_pred_blob_t *b);
    int (*import_state)(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen);
    void (*destroy)(sw_pred_t *p);
} sw_pred_ops_t;

/* Burst phase (burst.c): the last half hour's values and the last burst onset seen. */
#define SW_PRED_BURST_RING 240
#define SW_PRED_BURST_STATE (3 + SW_PRED_BURST_RING) /* exported: n, head, onset, ring */
typedef struct sw_pred_burst {
    double ring[SW_PRED_BURST_RING];
    uint32_t n, head;
    int64_t last_onset; /* position of the last onset; -1: none seen */
} sw_pred_burst_t;

void sw__pred_burst_reset(sw_pred_burst_t *b);
/* The value of interval pos, as the model sees it. */
void sw__pred_burst_observe(sw_pred_burst_t *b, const sw_pred_params_t *pp, uint64_t pos,
                            double y, bool missing);
/* Whether a forecast made at origin is in "burst due" phase. */
bool sw__pred_burst_due(const sw_pred_burst_t *b, const sw_pred_params_t *pp, uint64_t origin);
void sw__pred_burst_export(const sw_pred_burst_t *b, double out[SW_PRED_BURST_STATE]);
/* Returns 0, or -1 when the saved values are out of range. */
int sw__pred_burst_import(sw_pred_burst_t *b, const sw_pred_params_t *pp,
                          const double in[SW_PRED_BURST_STATE]);

struct sw_pred {
    const sw_pred_ops_t *ops;
    sw_pred_params_t params;
    void *state;   /* the forecaster's own */
    uint64_t pos;  /* intervals the model has been positioned past (fit + observe) */
    /* Calibration: q-quantile of actual / point per step, and of actual max / max point. */
    double *ratio_q; /* params.horizon entries; 1 until calibrated */
    double ratio_q_max;
    /* With params.calendar: the same per calendar bucket of the forecast origin
     * (SW_PRED_CAL_BUCKETS x horizon, and SW_PRED_CAL_BUCKETS), NULL otherwise. A bucket
     * is the minute of the hour, plus 60 for a burst-prone minute while a burst is due. */
    double *ratio_cal, *ratio_cal_max;
    bool burst_prone[60]; /* minutes whose own upper quantile exceeds the global one */
    sw_pred_burst_t burst;
    bool live; /* counts come from a live planner: load, never missing (no holding) */
    /* Online gap holding (see sw_pred_observe). */
    unsigned zeros_held;   /* zeros seen but not yet passed to the model */
    bool in_gap;           /* the current zero run has been called a gap */
    double *recent;        /* ring of the last params.gaps.context non-missing values */
    size_t recent_n, recent_head;
};

/* Minute of hour and hour of day of interval `pos` (position 0 starts at midnight UTC, as
 * the traces do). */
static inline void sw__pred_calendar(const sw_pred_t *p, uint64_t pos, unsigned *minute,
                                     unsigned *hour)
{
    /* Reduced modulo a day in floating point: interval_s is at most a day (check_params),
     * but pos x interval_s may still pass 2^64 s after enough intervals, and a double
     * past that converted to an integer is undefined behaviour (found by fuzz_pred_file
     * with an interval of 1e116 s, since refused on load). */
    double day_s = fmod((double)pos * p->params.interval_s, 86400.0);
    unsigned sec = (unsigned)day_s;
    *minute = (sec / 60) % 60;
    *hour = (sec / 3600) % 24;
}

/* A forecast held flat at v (clamped at 0) over h steps: last, ewma, recent-max. */
static inline void sw__pred_flat(double v, size_t h, double *point, double *max_point)
{
    v = v > 0 ? v : 0;
    for (size_t i = 0; i < h; i++)
        point[i] = v;
    *max_point = v;
}

#define SW_PRED_CAL_BUCKETS 120

/* ---- Checking saved state --------------------------------------------------------------
 * A saved forecaster comes from a file, so every value an import reads is checked before
 * it sizes, indexes or feeds anything: finite, inside its range, whole where it is a count
 * or an index, and each tensor exactly as long as the parameters make it. */

/* Where a saved value must lie. NaN passes only with nan_ok (seasonal-naive's "no value
 * yet"); infinities never do. */
typedef struct sw_pred_range {
    double lo, hi;
    bool whole; /* a count, an index or a flag */
    bool nan_ok;
} sw_pred_range_t;

/* Largest count of one interval a saved state may hold (2^53: every whole number below
 * it is a double). Forecasts are clamped to it too. */
#define SW_PRED_MAX_COUNT 0x1p53
/* A count of requests in an interval; an index or length below n; a 0/1 flag; a real
 * number of magnitude at most `max` (levels, trends, coefficients, weights). */
#define SW_PRED_COUNT ((sw_pred_range_t){0, SW_PRED_MAX_COUNT, false, false})
#define SW_PRED_FLAG ((sw_pred_range_t){0, 1, true, false})
/* A calibrated ratio of actual to forecast load. Ratios are taken against forecasts of at
 * least 1, and the trace readers refuse more than 10^7 requests a second, so no interval
 * of a day or less holds 10^12: a larger ratio was not calibrated on any trace. */
#define SW_PRED_RATIO ((sw_pred_range_t){0, 1e12, false, false})
static inline sw_pred_range_t sw__pred_index(double max)
{
    return (sw_pred_range_t){0, max, true, false};
}
static inline sw_pred_range_t sw__pred_real(double max)
{
    return (sw_pred_range_t){-max, max, false, false};
}

/* The tensor `name` with exactly n values, each inside r; or NULL, with a message naming
 * the tensor, and the first bad value with its index, its value and the range. */
const sw_pred_tensor_t *sw__pred_tensor(const sw_pred_t *p, const sw_pred_blob_t *b,
                                        const char *name, size_t n, sw_pred_range_t r, char *errbuf,
                                        size_t errlen);
/* Whether t->data[i] lies inside r; if not, the same message as sw__pred_tensor. */
bool sw__pred_value_ok(const sw_pred_t *p, const sw_pred_tensor_t *t, size_t i, sw_pred_range_t r,
                       char *errbuf, size_t errlen);

extern const sw_pred_ops_t sw__pred_recent_max_ops;
extern const sw_pred_ops_t sw__pred_last_ops;
extern const sw_pred_ops_t sw__pred_seasonal_naive_ops;
extern const sw_pred_ops_t sw__pred_ewma_ops;
extern const sw_pred_ops_t sw__pred_holt_winters_ops;
extern const sw_pred_ops_t sw__pred_ar_ops;
extern const sw_pred_ops_t sw__pred_lstm_ops;

#endif
