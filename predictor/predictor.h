/* Load forecasters behind one interface. A forecaster sees a series of per-interval
 * arrival counts (fit on history, then observe one interval at a time) and forecasts the
 * next H intervals: a point forecast and an upper quantile per step, and the maximum over
 * the horizon of each (what a planner that must cover the peak needs). Pure computation:
 * no clock, no I/O. */
#ifndef SW_PREDICTOR_PREDICTOR_H
#define SW_PREDICTOR_PREDICTOR_H

#include "common/common.h"
#include "config/config.h"

typedef struct sw_pred sw_pred_t;

typedef struct sw_forecast {
    size_t horizon;
    double *point;    /* caller's array of `horizon` values: expected count per step */
    double *upper;    /* caller's array: upper quantile per step */
    double max_point; /* max over the horizon of the point forecast */
    double max_upper; /* upper quantile of the max over the horizon */
} sw_forecast_t;

typedef struct sw_pred_ops {
    const char *name;
    int (*create)(sw_pred_t *p, const sw_cfg_predictor_t *cfg);
    int (*fit)(sw_pred_t *p, const double *series, size_t n);
    void (*observe)(sw_pred_t *p, double count);
    void (*forecast)(const sw_pred_t *p, sw_forecast_t *out);
    void (*destroy)(sw_pred_t *p);
} sw_pred_ops_t;

/* Creates the forecaster named cfg->name. Returns 0 and *out, or -EINVAL with a message
 * listing the known names. Free with sw_pred_destroy(). */
int sw_pred_create(sw_pred_t **out, const sw_cfg_predictor_t *cfg, char *errbuf,
                   size_t errlen) SW_MUST_USE;
void sw_pred_destroy(sw_pred_t *p);
/* Fits on a history of counts (replacing what was observed). -EINVAL on an empty series,
 * a NaN or a negative count. */
int sw_pred_fit(sw_pred_t *p, const double *series, size_t n) SW_MUST_USE;
/* Appends one interval's count (negative or NaN values are ignored as missing). */
void sw_pred_observe(sw_pred_t *p, double count);
/* Fills out->point/upper (out->horizon entries, caller-owned) and the maxima. */
void sw_pred_forecast(const sw_pred_t *p, sw_forecast_t *out);
const char *sw_pred_name(const sw_pred_t *p);
/* Comma-separated known names, for messages and --help. */
const char *sw_pred_known_names(void);

#endif
