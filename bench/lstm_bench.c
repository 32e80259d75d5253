/* Training time and forecast latency of the "lstm" forecaster on the Twitter trace.
 *
 * Usage: lstm_bench [trace.csv] [--calendar] [--epochs N] [--minutes N] [--holdout F]
 *
 * Reads the 15-day per-minute trace (minute_index,requests), fits lstm with the default
 * parameters (horizon 5, quantile 0.98, 60 s intervals, a 1440-interval season, holdout
 * 0.2) on days 0-10 (or the first --minutes), and prints the fit's wall time (training,
 * then calibration on the held-back 20 %) and the time per forecast over 10,000 forecasts.
 * It then walks the rest of the trace online and prints the errors of the max-over-horizon
 * forecast beside those of the `last` baseline (the last count held flat), as a sanity
 * check that the time bought something. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/predictor.h"

#define DEFAULT_TRACE                                                                              \
    SW_SOURCE_DIR "/data/traces/twitter-2021-08/"                                        \
                  "twitter_per_minute_days00-14.csv"
#define FIT_MINUTES 15840 /* days 0-10 */
#define N_FORECASTS 10000

/* Reads the "minute_index,requests" CSV. Returns the count of values; *out is allocated. */
static size_t read_trace(const char *path, double **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "lstm_bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t n = 0, cap = 1024;
    double *v = malloc(cap * sizeof(double));
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        long idx;
        double count;
        if (sscanf(line, "%ld,%lf", &idx, &count) != 2)
            continue; /* the header */
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof(double));
        v[n++] = count;
    }
    fclose(f);
    *out = v;
    return n;
}

static void default_params(sw_pred_params_t *pp, bool calendar, unsigned epochs, double holdout)
{
    memset(pp, 0, sizeof(*pp));
    snprintf(pp->name, sizeof(pp->name), "lstm");
    pp->horizon = 5;
    pp->quantile = 0.98;
    pp->interval_s = 60;
    pp->season = 1440;
    pp->holdout_frac = holdout;
    pp->calendar = calendar;
    pp->gaps = (sw_gap_rule_t){.min_run = 20, .min_level = 10, .context = 60};
    pp->seed = 1;
    pp->lstm_epochs = epochs;
}

/* Errors of the max forecast and of `last` over the rest of the series. */
static void evaluate(sw_pred_t *p, const double *y, size_t from, size_t n)
{
    double point[5], upper[5], err = 0, err_last = 0, sq = 0, sq_last = 0;
    size_t k = 0;
    for (size_t t = from; t + 5 < n; t++) {
        sw_forecast_t fc = {.horizon = 5, .point = point, .upper = upper};
        sw_pred_forecast(p, &fc);
        double mx = 0;
        for (size_t h = 1; h <= 5; h++)
            mx = y[t + h - 1] > mx ? y[t + h - 1] : mx;
        if (mx > 0 && y[t - 1] > 0) { /* skip the trace's gaps */
            err += fabs(fc.max_point - mx);
            err_last += fabs(y[t - 1] - mx);
            sq += (fc.max_point - mx) * (fc.max_point - mx);
            sq_last += (y[t - 1] - mx) * (y[t - 1] - mx);
            k++;
        }
        sw_pred_observe(p, y[t]);
    }
    if (k == 0)
        return;
    printf("after the fit, max over 5 min (%zu forecasts): MAE lstm %.1f, last %.1f; "
           "RMSE lstm %.1f, last %.1f\n",
           k, err / (double)k, err_last / (double)k, sqrt(sq / (double)k),
           sqrt(sq_last / (double)k));
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_TRACE;
    bool calendar = false;
    unsigned epochs = 0;
    size_t fit_n = FIT_MINUTES;
    double holdout = 0.2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--calendar") == 0)
            calendar = true;
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc)
            epochs = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--minutes") == 0 && i + 1 < argc)
            fit_n = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--holdout") == 0 && i + 1 < argc)
            holdout = atof(argv[++i]);
        else
            path = argv[i];
    }
    double *y;
    size_t n = read_trace(path, &y);
    if (n < fit_n) {
        fprintf(stderr, "lstm_bench: %s has %zu values, need %zu\n", path, n, fit_n);
        return 1;
    }
    sw_pred_params_t pp;
    default_params(&pp, calendar, epochs, holdout);
    sw_pred_t *p;
    char err[512];
    if (sw_pred_create(&p, &pp, err, sizeof(err)) < 0) {
        fprintf(stderr, "lstm_bench: %s\n", err);
        return 1;
    }
    sw_time_t t0 = sw_clock_now();
    if (sw_pred_fit(p, y, NULL, fit_n, err, sizeof(err)) < 0) {
        fprintf(stderr, "lstm_bench: %s\n", err);
        return 1;
    }
    sw_time_t t1 = sw_clock_now();
    printf("fit: %zu minutes (%zu trained on), calendar %s: %.2f s wall\n", fit_n,
           fit_n - (size_t)(pp.holdout_frac * (double)fit_n), calendar ? "on" : "off",
           sw_time_to_s(t1 - t0));

    double point[5], upper[5], sum = 0;
    sw_time_t t2 = sw_clock_now();
    for (int i = 0; i < N_FORECASTS; i++) {
        sw_forecast_t fc = {.horizon = 5, .point = point, .upper = upper};
        sw_pred_forecast(p, &fc);
        sum += fc.max_point;
    }
    sw_time_t t3 = sw_clock_now();
    printf("forecast: %.2f us each over %d (max_point %.1f)\n", (double)(t3 - t2) / N_FORECASTS,
           N_FORECASTS, sum / N_FORECASTS);
    evaluate(p, y, fit_n, n);
    sw_pred_destroy(p);
    free(y);
    return 0;
}
