/* Scoring a forecaster on held-out data, the way the planner uses it: fit on the first
 * part of a series, then walk the rest online (forecast, then observe the actual), and
 * compare each forecast with the value it predicted. Intervals flagged missing are
 * neither forecast targets nor scored. */
#ifndef SW_PREDICTOR_EVALUATE_H
#define SW_PREDICTOR_EVALUATE_H

#include "predictor/predictor.h"

typedef enum {
    SW_TARGET_NEXT = 0, /* the next interval's count */
    SW_TARGET_MAX,      /* the max count over the next H intervals */
} sw_pred_target_t;

typedef struct sw_pred_eval {
    size_t scored;          /* forecasts compared with their actual */
    double mape;            /* mean |f - a| / a over actuals > 0 */
    double smape;           /* mean 2 |f - a| / (|f| + |a|) */
    double rmse;            /* root mean squared error, in counts per interval */
    double under_rate;      /* share of forecasts below the actual */
    double coverage;        /* share of actuals at or below the upper quantile */
    double upper_ratio;     /* mean upper / actual over actuals > 0 */
    double scale_for_2pct;  /* the factor on the point forecast that would hold
                               under-prediction to 2 % */
    double fit_s;           /* wall time of the fit (from the caller's clock, if given) */
    double forecast_us;     /* mean wall time of one forecast */
} sw_pred_eval_t;

/* Fits `p` on series[0..train_until) and scores it on [train_until, n) for `target` over
 * the forecaster's horizon. missing may be NULL (then gaps are found by the forecaster's
 * gap rule). `clock` (may be NULL) reads a monotonic clock in microseconds, for the timing
 * fields only. Returns 0, or -EINVAL with a message (bad split, failed fit, nothing
 * scored). */
int sw_pred_evaluate(sw_pred_t *p, const double *series, const uint8_t *missing, size_t n,
                     size_t train_until, sw_pred_target_t target, sw_time_t (*clock)(void),
                     sw_pred_eval_t *out, char *errbuf, size_t errlen) SW_MUST_USE;

const char *sw_pred_target_name(sw_pred_target_t t);
int sw_pred_target_from_name(const char *name, sw_pred_target_t *out);

#endif
