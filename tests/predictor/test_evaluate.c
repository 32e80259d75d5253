/* Forecast scoring against answers worked out by hand: a forecaster that is exactly
 * right, one that is a known factor off, missing intervals left unscored, and the split
 * checks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "predictor/evaluate.h"

static sw_pred_t *make(const char *name, unsigned horizon)
{
    sw_pred_params_t params = {.horizon = horizon, .quantile = 0.9, .interval_s = 60,
                               .season = 1440, .window = 1, .headroom = 1.0};
    snprintf(params.name, sizeof(params.name), "%s", name);
    sw_pred_t *p;
    char err[1024];
    cr_assert_eq(sw_pred_create(&p, &params, err, sizeof(err)), 0, "%s", err);
    return p;
}

Test(pred_evaluate, a_constant_series_is_forecast_exactly)
{
    double y[200];
    for (int i = 0; i < 200; i++)
        y[i] = 100;
    sw_pred_t *p = make("last", 3);
    sw_pred_eval_t e;
    char err[1024];
    cr_assert_eq(sw_pred_evaluate(p, y, NULL, 200, 100, SW_TARGET_MAX, NULL, &e, err,
                                  sizeof(err)), 0, "%s", err);
    cr_assert_eq(e.scored, 98, "positions 100..197 have 3 future intervals");
    cr_assert_float_eq(e.mape, 0, 1e-12);
    cr_assert_float_eq(e.rmse, 0, 1e-12);
    cr_assert_float_eq(e.under_rate, 0, 1e-12);
    cr_assert_float_eq(e.coverage, 1, 1e-12);
    cr_assert_float_eq(e.upper_ratio, 1, 1e-12, "uncalibrated ratio 1 on the last value");
    sw_pred_destroy(p);
}

Test(pred_evaluate, a_doubling_series_is_scored_by_hand)
{
    /* y doubles every interval; `last` forecasts y[t-1] = y[t] / 2 for the next value:
     * every forecast is 50 % low, sMAPE = 2 x 0.5 / 1.5, and a factor 2 fixes it. */
    double y[40];
    for (int i = 0; i < 40; i++)
        y[i] = ldexp(1.0, i % 20 + 1);
    uint8_t miss[40] = {0};
    sw_pred_t *p = make("last", 1);
    sw_pred_eval_t e;
    char err[1024];
    cr_assert_eq(sw_pred_evaluate(p, y, miss, 20, 10, SW_TARGET_NEXT, NULL, &e, err,
                                  sizeof(err)), 0, "%s", err);
    cr_assert_eq(e.scored, 10);
    cr_assert_float_eq(e.mape, 0.5, 1e-12);
    cr_assert_float_eq(e.smape, 2.0 * 0.5 / 1.5, 1e-12);
    cr_assert_float_eq(e.under_rate, 1.0, 1e-12);
    cr_assert_float_eq(e.scale_for_2pct, 2.0, 1e-12);
    sw_pred_destroy(p);
}

Test(pred_evaluate, missing_intervals_are_not_scored)
{
    double y[100];
    uint8_t miss[100] = {0};
    for (int i = 0; i < 100; i++)
        y[i] = 50;
    for (int i = 60; i < 70; i++)
        miss[i] = 1;
    sw_pred_t *p = make("last", 2);
    sw_pred_eval_t e;
    char err[1024];
    cr_assert_eq(sw_pred_evaluate(p, y, miss, 100, 50, SW_TARGET_MAX, NULL, &e, err,
                                  sizeof(err)), 0, "%s", err);
    /* 50 positions, the last has one future interval, and 11 windows touch 60..69. */
    cr_assert_eq(e.scored, 49 - 11);
    sw_pred_destroy(p);
}

Test(pred_evaluate, rejects_a_split_outside_the_series)
{
    double y[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    sw_pred_t *p = make("last", 1);
    sw_pred_eval_t e;
    char err[1024];
    cr_assert_eq(sw_pred_evaluate(p, y, NULL, 10, 10, SW_TARGET_NEXT, NULL, &e, err,
                                  sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "training part must end inside the series"), "%s", err);
    cr_assert_eq(sw_pred_evaluate(p, y, NULL, 10, 0, SW_TARGET_NEXT, NULL, &e, err,
                                  sizeof(err)), -EINVAL);
    sw_pred_destroy(p);
}

Test(pred_evaluate, target_names)
{
    sw_pred_target_t t;
    cr_assert_eq(sw_pred_target_from_name("max", &t), 0);
    cr_assert_eq(t, SW_TARGET_MAX);
    cr_assert_eq(sw_pred_target_from_name("next", &t), 0);
    cr_assert_eq(t, SW_TARGET_NEXT);
    cr_assert_eq(sw_pred_target_from_name("mean", &t), -EINVAL);
    cr_assert_str_eq(sw_pred_target_name(SW_TARGET_MAX), "max");
}
