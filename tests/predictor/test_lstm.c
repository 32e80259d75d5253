/* The "lstm" forecaster: its gradients against finite differences, that training learns a
 * learnable series (and beats holding the last value on data it has not seen), saving and
 * loading, determinism per seed, a flat series, missing values, and bad parameters. The
 * gradient check and the training losses go through predictor/lstm_internal.h, the module's
 * test hook; everything else through the public API. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "predictor/lstm_internal.h"
#include "predictor/predictor.h"

static sw_pred_params_t lstm_params(unsigned horizon, unsigned window, unsigned hidden)
{
    sw_pred_params_t pp;
    memset(&pp, 0, sizeof(pp));
    snprintf(pp.name, sizeof(pp.name), "lstm");
    pp.horizon = horizon;
    pp.quantile = 0.95;
    pp.interval_s = 60;
    pp.season = 1440;
    pp.holdout_frac = 0.2;
    pp.gaps = (sw_gap_rule_t){.min_run = 20, .min_level = 10, .context = 60};
    pp.seed = 7;
    pp.lstm_hidden = hidden;
    pp.lstm_window = window;
    pp.lstm_epochs = 4;
    pp.lstm_batch = 32;
    return pp;
}

static sw_pred_t *fitted(const sw_pred_params_t *pp, const double *y, size_t n)
{
    sw_pred_t *p;
    char err[512];
    cr_assert_eq(sw_pred_create(&p, pp, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_pred_fit(p, y, NULL, n, err, sizeof(err)), 0, "%s", err);
    return p;
}

/* Per-minute load with a daily and an hourly cycle plus noise: learnable from the window,
 * and hard for `last`, which lags every slope. */
static double *cycles(size_t n, uint64_t seed)
{
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    double *y = malloc(n * sizeof(double));
    for (size_t t = 0; t < n; t++)
        y[t] = 1000 + 300 * sin(2 * M_PI * t / 1440.0) + 200 * sin(2 * M_PI * t / 60.0) +
               10 * sw_rng_normal(&rng);
    return y;
}

typedef struct forecast5 {
    double point[8], upper[8];
    sw_forecast_t fc;
} forecast5_t;

static void forecast(const sw_pred_t *p, forecast5_t *f, size_t h)
{
    memset(f, 0, sizeof(*f));
    f->fc = (sw_forecast_t){.horizon = h, .point = f->point, .upper = f->upper};
    sw_pred_forecast(p, &f->fc);
}

static const sw_pred_tensor_t *theta_of(const sw_pred_blob_t *b)
{
    for (size_t i = 0; i < b->n_tensors; i++)
        if (strcmp(b->tensors[i].name, "lstm_theta") == 0)
            return &b->tensors[i];
    cr_assert_fail("no lstm_theta tensor");
    return NULL;
}

/* Centred differences with eps = 1e-2 against backpropagation, on every parameter of a
 * tiny network (120 of them), in float. The targets are large (sd 3) so that most
 * gradients are well above the noise. Two error sources set the tolerance: the loss's float
 * rounding (~1e-6 on this loss) becomes ~5e-6 after dividing by 2 eps, covered by the
 * absolute 2e-5; the centred difference's truncation error, eps^2 / 6 times the third
 * derivative, reaches ~0.5 % on the steep cell-candidate weights (it shrinks 4x when eps
 * halves, so it is not a bug), covered by the relative 2e-2. A wrong term in the backward
 * pass (a missing gate path, a sign, a wrong time step) is off by tens of percent. */
Test(pred_lstm, gradients_match_finite_differences)
{
    const unsigned n_in = 5, hidden = 3, window = 5, n_out = 3, nb = 2;
    sw_lstm_net_t net;
    sw__lstm_net_init(&net, n_in, hidden, n_out);
    sw__lstm_net_randomize(&net, 11);
    sw_rng_t rng;
    sw_rng_init(&rng, 12);
    for (unsigned i = 0; i < 4 * hidden; i++)
        net.b[i] += (float)(0.3 * sw_rng_normal(&rng)); /* generic biases, not 0 and 1 */
    for (unsigned i = 0; i < n_out; i++)
        net.bo[i] = (float)(0.3 * sw_rng_normal(&rng));
    float x[5 * 2 * 5], tgt[2 * 3], wt[3] = {1, 1, 2};
    for (size_t i = 0; i < SW_ARRAY_LEN(x); i++)
        x[i] = (float)sw_rng_normal(&rng);
    for (size_t i = 0; i < SW_ARRAY_LEN(tgt); i++)
        tgt[i] = (float)(3 * sw_rng_normal(&rng)); /* large errors: gradients well above noise */
    sw_lstm_batch_t bt;
    sw__lstm_batch_init(&bt, &net, window, nb);
    float *grad = malloc(net.n_params * sizeof(float));
    sw__lstm_batch_loss(&net, &bt, x, tgt, wt, nb, grad);

    const float eps = 1e-2f;
    double worst = 0;
    size_t small = 0;
    for (size_t i = 0; i < net.n_params; i++) {
        float keep = net.theta[i];
        net.theta[i] = keep + eps;
        double up = sw__lstm_batch_loss(&net, &bt, x, tgt, wt, nb, NULL);
        net.theta[i] = keep - eps;
        double down = sw__lstm_batch_loss(&net, &bt, x, tgt, wt, nb, NULL);
        net.theta[i] = keep;
        double num = (up - down) / (2.0 * eps), ana = grad[i];
        double err = fabs(num - ana), tol = 2e-2 * SW_MAX(fabs(num), fabs(ana)) + 2e-5;
        cr_expect_leq(err, tol, "theta[%zu]: analytic %g, numeric %g", i, ana, num);
        worst = SW_MAX(worst, err / tol);
        small += fabs(ana) < 1e-3;
    }
    cr_log_info("gradient check: worst error %.2f of its tolerance over %zu parameters "
                "(%zu with |gradient| < 1e-3)",
                worst, net.n_params, small);
    free(grad);
    sw__lstm_batch_deinit(&bt);
    sw__lstm_net_deinit(&net);
}

Test(pred_lstm, learns_cycles_and_beats_last_on_held_out_data, .timeout = 120)
{
    const size_t n = 3 * 1440, n_fit = 3600;
    double *y = cycles(n, 3);
    sw_pred_params_t pp = lstm_params(5, 30, 16);
    pp.lstm_epochs = 6;
    sw_pred_t *p = fitted(&pp, y, n_fit);
    double first, last;
    cr_assert_eq(sw__lstm_train_losses(p, &first, &last), 0);
    cr_log_info("training loss: first batch %.4f, last epoch %.4f", first, last);
    cr_expect_lt(last, 0.3 * first, "training loss %g -> %g", first, last);

    double se = 0, se_last = 0;
    size_t k = 0;
    for (size_t t = n_fit; t + 5 <= n; t++) {
        forecast5_t f;
        forecast(p, &f, 5);
        double mx = y[t];
        for (size_t h = 1; h < 5; h++)
            mx = SW_MAX(mx, y[t + h]);
        se += (f.fc.max_point - mx) * (f.fc.max_point - mx);
        se_last += (y[t - 1] - mx) * (y[t - 1] - mx);
        k++;
        sw_pred_observe(p, y[t]);
    }
    double rmse = sqrt(se / k), rmse_last = sqrt(se_last / k);
    cr_log_info("held-out RMSE of the 5-minute max: lstm %.1f, last %.1f", rmse, rmse_last);
    cr_expect_lt(rmse, 0.5 * rmse_last, "lstm %g vs last %g", rmse, rmse_last);
    sw_pred_destroy(p);
    free(y);
}

/* Export, import, and the two forecast the same bits, now and after the same new data
 * (a missing interval included). Calendar inputs on, so the position travels too. */
Test(pred_lstm, export_import_forecasts_bit_identically, .timeout = 60)
{
    double *y = cycles(600, 5);
    sw_pred_params_t pp = lstm_params(4, 20, 8);
    pp.calendar = true;
    pp.lstm_epochs = 2;
    sw_pred_t *p = fitted(&pp, y, 500);
    sw_pred_blob_t blob;
    cr_assert_eq(sw_pred_export(p, &blob), 0);
    sw_pred_t *q;
    char err[512];
    cr_assert_eq(sw_pred_import(&q, &blob, err, sizeof(err)), 0, "%s", err);
    for (size_t t = 500; t < 530; t++) {
        forecast5_t a, b;
        forecast(p, &a, 4);
        forecast(q, &b, 4);
        cr_assert_eq(memcmp(a.point, b.point, sizeof(a.point)), 0, "points differ at %zu", t);
        cr_assert_eq(memcmp(a.upper, b.upper, sizeof(a.upper)), 0, "uppers differ at %zu", t);
        cr_assert_eq(memcmp(&a.fc.max_point, &b.fc.max_point, sizeof(double)), 0);
        cr_assert_eq(memcmp(&a.fc.max_upper, &b.fc.max_upper, sizeof(double)), 0);
        double v = t == 510 ? NAN : y[t];
        sw_pred_observe(p, v);
        sw_pred_observe(q, v);
    }
    sw_pred_blob_free(&blob);
    sw_pred_destroy(p);
    sw_pred_destroy(q);
    free(y);
}

Test(pred_lstm, same_seed_same_model_other_seed_other_weights, .timeout = 60)
{
    double *y = cycles(600, 9);
    sw_pred_params_t pp = lstm_params(3, 20, 8);
    sw_pred_t *a = fitted(&pp, y, 600), *b = fitted(&pp, y, 600);
    pp.seed = 8;
    sw_pred_t *c = fitted(&pp, y, 600);
    sw_pred_blob_t ba, bb, bc;
    cr_assert_eq(sw_pred_export(a, &ba), 0);
    cr_assert_eq(sw_pred_export(b, &bb), 0);
    cr_assert_eq(sw_pred_export(c, &bc), 0);
    const sw_pred_tensor_t *ta = theta_of(&ba), *tb = theta_of(&bb), *tc = theta_of(&bc);
    cr_assert_eq(memcmp(ta->data, tb->data, ta->n * sizeof(double)), 0, "same seed, new weights");
    cr_assert_neq(memcmp(ta->data, tc->data, ta->n * sizeof(double)), 0, "seed ignored");
    forecast5_t fa, fb;
    forecast(a, &fa, 3);
    forecast(b, &fb, 3);
    cr_assert_eq(memcmp(fa.point, fb.point, sizeof(fa.point)), 0);
    cr_assert_eq(memcmp(&fa.fc.max_point, &fb.fc.max_point, sizeof(double)), 0);
    sw_pred_blob_free(&ba);
    sw_pred_blob_free(&bb);
    sw_pred_blob_free(&bc);
    sw_pred_destroy(a);
    sw_pred_destroy(b);
    sw_pred_destroy(c);
    free(y);
}

Test(pred_lstm, flat_series_forecasts_its_level, .timeout = 60)
{
    double y[400];
    for (size_t i = 0; i < SW_ARRAY_LEN(y); i++)
        y[i] = 250;
    sw_pred_params_t pp = lstm_params(5, 20, 8);
    sw_pred_t *p = fitted(&pp, y, SW_ARRAY_LEN(y));
    forecast5_t f;
    forecast(p, &f, 5);
    for (size_t h = 0; h < 5; h++)
        cr_expect_leq(fabs(f.point[h] - 250), 2.5, "step %zu: %g", h, f.point[h]);
    cr_expect_leq(fabs(f.fc.max_point - 250), 2.5, "max %g", f.fc.max_point);
    sw_pred_destroy(p);
}

/* A missing interval counts as a repeat of the previous value: its difference is 0. */
Test(pred_lstm, missing_interval_holds_the_previous_value, .timeout = 60)
{
    double *y = cycles(500, 4);
    sw_pred_params_t pp = lstm_params(3, 20, 8);
    sw_pred_t *a = fitted(&pp, y, 500), *b = fitted(&pp, y, 500);
    sw_pred_observe(a, NAN);
    sw_pred_observe(b, y[499]);
    forecast5_t fa, fb;
    forecast(a, &fa, 3);
    forecast(b, &fb, 3);
    cr_assert_eq(memcmp(fa.point, fb.point, sizeof(fa.point)), 0);
    for (size_t h = 0; h < 3; h++)
        cr_assert(isfinite(fa.point[h]) && fa.point[h] >= 0);
    sw_pred_destroy(a);
    sw_pred_destroy(b);
    free(y);
}

Test(pred_lstm, unfitted_forecasts_zero)
{
    sw_pred_params_t pp = lstm_params(3, 20, 8);
    sw_pred_t *p;
    char err[256];
    cr_assert_eq(sw_pred_create(&p, &pp, err, sizeof(err)), 0, "%s", err);
    forecast5_t f;
    forecast(p, &f, 3);
    cr_assert(f.point[0] == 0 && f.point[2] == 0 && f.fc.max_point == 0);
    sw_pred_destroy(p);
}

Test(pred_lstm, series_shorter_than_window_is_an_error)
{
    double y[50];
    for (size_t i = 0; i < SW_ARRAY_LEN(y); i++)
        y[i] = 100 + (double)i;
    sw_pred_params_t pp = lstm_params(5, 60, 8);
    sw_pred_t *p;
    char err[256] = "";
    cr_assert_eq(sw_pred_create(&p, &pp, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_pred_fit(p, y, NULL, SW_ARRAY_LEN(y), err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "lstm") && strstr(err, "window 60"), "message: %s", err);
    sw_pred_destroy(p);
}

Test(pred_lstm, out_of_range_parameters_are_errors)
{
    struct {
        unsigned hidden, window, batch;
        const char *key;
    } bad[] = {{300, 60, 64, "lstm_hidden"},
               {32, 20000, 64, "lstm_window"},
               {32, 60, 100000, "lstm_batch"}};
    for (size_t i = 0; i < SW_ARRAY_LEN(bad); i++) {
        sw_pred_params_t pp = lstm_params(5, bad[i].window, bad[i].hidden);
        pp.lstm_batch = bad[i].batch;
        sw_pred_t *p = NULL;
        char err[256] = "";
        cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL, "%s", bad[i].key);
        cr_expect(strstr(err, bad[i].key), "message: %s", err);
    }
    sw_pred_params_t pp = lstm_params(5, 60, 8);
    pp.lstm_learning_rate = -1;
    sw_pred_t *p = NULL;
    char err[256] = "";
    cr_expect_eq(sw_pred_create(&p, &pp, err, sizeof(err)), -EINVAL);
    cr_expect(strstr(err, "lstm_learning_rate"), "message: %s", err);
}
