/* Load forecasters behind one interface.
 *
 * A forecaster sees a series of per-interval arrival counts: it is fitted on history, then
 * observes one interval at a time, and forecasts the next H intervals. Each forecast gives
 * a point value and an upper quantile (at params.quantile) per step, and the maximum over
 * the horizon of each: a planner that must cover the peak of the next minutes needs the
 * max, not the next value. Upper quantiles are calibrated on held-back training data
 * (empirical quantiles of the forecast's ratio to the actual), not assumed Gaussian. With
 * params.calendar they are calibrated per minute of the hour of the forecast's origin, so
 * the bound widens only where bursts recur (the Twitter trace's cluster at fixed minutes).
 *
 * Missing data: a run of exact zeros inside a busy series is a gap in the record, not zero
 * load (the Twitter trace loses ~29 minutes a day). sw_pred_find_gaps marks such runs;
 * forecasters neither learn from missing intervals nor are scored on them. Online, observe()
 * holds zeros back until the run is long enough to call, or ends.
 *
 * Pure computation: no clock, no I/O, no globals; OpenBLAS/LAPACK for the maths. Fitted
 * state leaves through sw_pred_export as named tensors (protobuf encoding lives outside this
 * folder) and comes back through sw_pred_import, forecasting exactly as before. */
#ifndef SW_PREDICTOR_PREDICTOR_H
#define SW_PREDICTOR_PREDICTOR_H

#include "common/common.h"
#include "config/config.h"

typedef struct sw_pred sw_pred_t;

/* When a run of zeros is missing data rather than load. */
typedef struct sw_gap_rule {
    unsigned min_run; /* at least this many consecutive exact zeros (default 20) */
    double min_level; /* ... after intervals whose median count is at least this (default 10) */
    unsigned context; /* intervals before the run that the median is taken over (default 60) */
} sw_gap_rule_t;

/* Upper bounds on the parameters that size a forecaster's state, so that parameters read
 * from a file cannot ask for an absurd allocation: a horizon of 10,000 intervals (a week
 * of minutes), a season or a recent-max window of 10^7 intervals (115 days of seconds, 80
 * MB of doubles). */
#define SW_PRED_MAX_HORIZON 10000u
/* The longest interval a forecaster works on: a day, as policy.interval_s allows. */
#define SW_PRED_MAX_INTERVAL_S 86400.0
#define SW_PRED_MAX_SEASON 10000000u
#define SW_PRED_MAX_WINDOW 10000000u

/* Everything a forecaster is built from. Filled from the YAML by sw_pred_params_from_cfg;
 * tests fill it by hand. A 0 means "the forecaster's default" where noted. */
typedef struct sw_pred_params {
    char name[32];         /* last, seasonal-naive, ewma, holt-winters, ar, lstm, recent-max */
    unsigned horizon;      /* H, intervals forecast (>= 1) */
    double quantile;       /* level of the upper quantile, in (0, 1) */
    double interval_s;     /* length of one interval in seconds (60 for per-minute counts) */
    unsigned season;       /* intervals per season (a day: 86400 / interval_s) */
    double holdout_frac;   /* share of the fit series held back to calibrate quantiles */
    bool calendar;         /* use minute-of-hour and hour-of-day where the model can */
    sw_gap_rule_t gaps;
    uint64_t seed;         /* for anything random (LSTM initialisation and shuffling) */
    /* recent-max */
    unsigned window;       /* intervals looked back over */
    double headroom;       /* multiply the max by this */
    /* ewma: 0 = fit alpha on the training data */
    double ewma_alpha;
    /* ar */
    unsigned ar_order;     /* p */
    /* lstm */
    unsigned lstm_hidden;  /* units (default 32) */
    unsigned lstm_window;  /* input intervals (default 60) */
    unsigned lstm_epochs;
    double lstm_learning_rate;
    unsigned lstm_batch;
} sw_pred_params_t;

typedef struct sw_forecast {
    size_t horizon;
    double *point;    /* caller's array of `horizon` values: expected count per step */
    double *upper;    /* caller's array: upper quantile per step */
    double max_point; /* point forecast of the max over the horizon */
    double max_upper; /* upper quantile of that max */
} sw_forecast_t;

/* A fitted state as plain data: named double tensors. */
typedef struct sw_pred_tensor {
    char name[32];
    double *data; /* owned by the blob */
    size_t n;
} sw_pred_tensor_t;

typedef struct sw_pred_blob {
    sw_pred_params_t params;
    sw_pred_tensor_t *tensors;
    size_t n_tensors;
} sw_pred_blob_t;

/* Fills params from the YAML's predictor section for intervals of interval_s seconds. */
void sw_pred_params_from_cfg(const sw_cfg_predictor_t *cfg, double interval_s,
                             sw_pred_params_t *out);

/* Creates an unfitted forecaster. Returns 0 and *out, or -EINVAL with a message (an
 * unknown name lists the known ones; a bad parameter is named). Free with
 * sw_pred_destroy(). A forecaster that has seen no data forecasts 0. */
int sw_pred_create(sw_pred_t **out, const sw_pred_params_t *params, char *errbuf,
                   size_t errlen) SW_MUST_USE;
void sw_pred_destroy(sw_pred_t *p);

/* Fits on a history of n counts; missing may be NULL or n flags (1 = missing). Replaces
 * whatever was fitted or observed. Afterwards the forecaster is positioned after the last
 * interval. Returns 0, or -EINVAL with a message for an empty series, a NaN or infinite
 * value, a negative count, or a series too short for the model (e.g. shorter than its
 * window, or than two seasons for Holt-Winters). */
int sw_pred_fit(sw_pred_t *p, const double *series, const uint8_t *missing, size_t n,
                char *errbuf, size_t errlen) SW_MUST_USE;
/* Appends one interval's count online (a NaN or negative value is recorded as missing).
 * Cheap: no refit. */
void sw_pred_observe(sw_pred_t *p, double count);
/* Forecasts from the current position: fills out->point/upper (out->horizon entries,
 * caller-owned, out->horizon <= params.horizon) and the maxima over out->horizon. */
void sw_pred_forecast(const sw_pred_t *p, sw_forecast_t *out);

/* For a planner fed live arrival counts: every count observed from now on is load, so
 * no zeros are held back as a possible gap (a service whose load stops must see it stop).
 * Fitting and scoring on recorded traces keep the gap rule. */
void sw_pred_set_live(sw_pred_t *p);

const char *sw_pred_name(const sw_pred_t *p);
const sw_pred_params_t *sw_pred_params(const sw_pred_t *p);
/* Comma-separated known names, for messages and --help. */
const char *sw_pred_known_names(void);

/* Marks missing intervals by `rule` (see sw_gap_rule_t). missing has n entries. Returns
 * the number marked. */
size_t sw_pred_find_gaps(const double *series, size_t n, const sw_gap_rule_t *rule,
                         uint8_t *missing);

/* Fitted state out and back in. Export fills *out (free with sw_pred_blob_free); import
 * builds a forecaster that forecasts exactly as the exported one did at export time. */
int sw_pred_export(const sw_pred_t *p, sw_pred_blob_t *out) SW_MUST_USE;
int sw_pred_import(sw_pred_t **out, const sw_pred_blob_t *blob, char *errbuf, size_t errlen)
    SW_MUST_USE;
void sw_pred_blob_free(sw_pred_blob_t *b);
/* Adds a tensor (copying data) to a blob; for forecasters' export functions. */
void sw_pred_blob_add(sw_pred_blob_t *b, const char *name, const double *data, size_t n);
/* The tensor named `name` with exactly n values, or NULL; for import functions. */
const sw_pred_tensor_t *sw_pred_blob_find(const sw_pred_blob_t *b, const char *name, size_t n);

#endif
