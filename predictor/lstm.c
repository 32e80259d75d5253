/* "lstm": MArk's forecaster of the maximum load over the next minutes (USENIX ATC 2019).
 *
 * One LSTM layer reads the last W intervals as first differences of the counts, divided by
 * a scale fitted on the training data (the standard deviation of the differences), plus,
 * with params.calendar, sin/cos of minute-of-hour and hour-of-day. A dense head maps the
 * last hidden state to H + 1 values: for each step h the scaled change y[t+h] - y[t], and
 * the scaled change of the max over the horizon, max_h y[t+h] - y[t]. Differences make the
 * model indifferent to the load's level, which drifts from week to week.
 *
 * Training is backpropagation through the whole window with Adam on minibatches, on every
 * position whose window and targets have no missing interval. The loss is the squared
 * error of the H + 1 outputs, with the max output weighted H times, as much as all the
 * per-step outputs together: the max is what the planner provisions for (MArk's target),
 * and the per-step outputs mostly help shape the hidden state. Runs are deterministic for
 * a seed: seeded initialisation and shuffling, and OpenBLAS held to one thread (its
 * threaded kernels may sum in a different order from run to run). The default of 20 epochs
 * fits the budget of a minute on one core for the 15-day per-minute trace (21,600 windows
 * train in about 25 s on a shared 2-vCPU EPYC); more epochs did not forecast days 11-14 of
 * that trace better when trained on days 0-10 (bench/lstm_bench.c).
 *
 * The window of the last W + 1 values (W differences) lives in a ring with missing flags.
 * A missing value is replaced by the previous present one in the window (or, at the start
 * of the window, the next present one), so its difference is 0. A forecast runs the window
 * through the network with scratch on the stack (hidden <= 256 units), not in the state:
 * predict() allocates nothing and, taking a const forecaster, writes nothing shared. The
 * network itself is in lstm_math.c. */
#include "predictor/lstm_internal.h"
#include "predictor/predictor_internal.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"

#define LSTM_DEFAULT_HIDDEN 32u
#define LSTM_DEFAULT_WINDOW 60u
#define LSTM_DEFAULT_BATCH 64u
#define LSTM_DEFAULT_EPOCHS 20u
#define LSTM_DEFAULT_LR 0.003
#define LSTM_MAX_WINDOW 10080u /* a week of minutes */
#define LSTM_MAX_BATCH 4096u
#define LSTM_MAX_EPOCHS 1000000u
#define LSTM_MIN_WINDOWS 32u /* training windows a fit needs */
#define LSTM_CLIP_NORM 1.0   /* global gradient norm */
#define LSTM_CAL_INPUTS 4u   /* sin/cos of minute-of-hour and of hour-of-day */

typedef struct lstm {
    unsigned hidden, window, batch, epochs, horizon;
    double lr;
    sw_lstm_net_t net;
    bool fitted;
    double scale; /* differences are divided by this */
    /* The last window + 1 values; slot (head + j) % cap is the j-th oldest. */
    double *ring;
    uint8_t *ring_miss;
    size_t cap, head, n;
    double last_seen; /* the newest present value ever observed */
    bool has_seen;
    double loss_first, loss_last; /* see sw__lstm_train_losses */
} lstm_t;

static int check_range(const char *what, unsigned v, unsigned lo, unsigned hi, char *errbuf,
                       size_t errlen)
{
    if (v >= lo && v <= hi)
        return 0;
    snprintf(errbuf, errlen, "predictor lstm: %s %u must be in [%u, %u]", what, v, lo, hi);
    return -EINVAL;
}

static int lstm_create(sw_pred_t *p, char *errbuf, size_t errlen)
{
    const sw_pred_params_t *pp = &p->params;
    unsigned hidden = pp->lstm_hidden ? pp->lstm_hidden : LSTM_DEFAULT_HIDDEN;
    unsigned window = pp->lstm_window ? pp->lstm_window : LSTM_DEFAULT_WINDOW;
    unsigned batch = pp->lstm_batch ? pp->lstm_batch : LSTM_DEFAULT_BATCH;
    double lr = pp->lstm_learning_rate != 0 ? pp->lstm_learning_rate : LSTM_DEFAULT_LR;
    int rc = check_range("lstm_hidden", hidden, 1, SW_LSTM_MAX_HIDDEN, errbuf, errlen);
    if (rc == 0)
        rc = check_range("lstm_window", window, 1, LSTM_MAX_WINDOW, errbuf, errlen);
    if (rc == 0)
        rc = check_range("lstm_batch", batch, 1, LSTM_MAX_BATCH, errbuf, errlen);
    if (rc == 0)
        rc = check_range("lstm_epochs", pp->lstm_epochs, 0, LSTM_MAX_EPOCHS, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (!(lr > 0 && lr < 1)) {
        snprintf(errbuf, errlen, "predictor lstm: lstm_learning_rate %g must be in (0, 1)", lr);
        return -EINVAL;
    }
    lstm_t *m = sw_calloc(1, sizeof(*m));
    m->hidden = hidden;
    m->window = window;
    m->batch = batch;
    m->epochs = pp->lstm_epochs ? pp->lstm_epochs : LSTM_DEFAULT_EPOCHS;
    m->horizon = pp->horizon;
    m->lr = lr;
    m->scale = 1.0;
    sw__lstm_net_init(&m->net, 1 + (pp->calendar ? LSTM_CAL_INPUTS : 0), hidden, pp->horizon + 1);
    m->cap = (size_t)window + 1;
    m->ring = sw_calloc(m->cap, sizeof(double));
    m->ring_miss = sw_calloc(m->cap, 1);
    p->state = m;
    return 0;
}

static void lstm_destroy(sw_pred_t *p)
{
    lstm_t *m = p->state;
    sw__lstm_net_deinit(&m->net);
    sw_free(m->ring);
    sw_free(m->ring_miss);
    sw_free(m);
}

static void lstm_observe(sw_pred_t *p, double y, bool missing)
{
    lstm_t *m = p->state;
    m->ring[m->head] = missing ? 0.0 : y;
    m->ring_miss[m->head] = missing;
    m->head = (m->head + 1) % m->cap;
    if (m->n < m->cap)
        m->n++;
    if (!missing) {
        m->last_seen = y;
        m->has_seen = true;
    }
}

/* Calendar inputs of interval `pos`. The hour angle includes the minutes, so the feature
 * moves smoothly through the day instead of in 24 steps. */
static void calendar_inputs(const sw_pred_t *p, uint64_t pos, float *f)
{
    unsigned minute, hour;
    sw__pred_calendar(p, pos, &minute, &hour);
    double a = 2 * M_PI * minute / 60.0, b = 2 * M_PI * (hour + minute / 60.0) / 24.0;
    f[0] = (float)sin(a);
    f[1] = (float)cos(a);
    f[2] = (float)sin(b);
    f[3] = (float)cos(b);
}

/* The standard deviation of the differences between consecutive present values. A flat
 * series gets a tiny scale relative to its level, so the untrained-looking outputs a
 * constant input leaves are multiplied by almost nothing. */
static double fit_scale(const double *y, const uint8_t *miss, size_t n)
{
    double sum = 0, sum2 = 0, level = 0;
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        level += y[i];
        if (miss[i] || miss[i - 1])
            continue;
        double d = y[i] - y[i - 1];
        sum += d;
        sum2 += d * d;
        k++;
    }
    double var = k ? SW_MAX(sum2 / k - (sum / k) * (sum / k), 0.0) : 0.0;
    double tiny = 1e-6 * (1.0 + level / (double)n);
    return SW_MAX(sqrt(var), tiny);
}

/* Inputs of every position: the scaled difference (0 next to a missing value) and the
 * calendar. Returns [n][n_in]. */
static float *build_inputs(const sw_pred_t *p, const lstm_t *m, const double *y,
                           const uint8_t *miss, size_t n)
{
    unsigned n_in = m->net.n_in;
    float *feat = sw_calloc(n * n_in, sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float *f = feat + i * n_in;
        if (i > 0 && !miss[i] && !miss[i - 1])
            f[0] = (float)((y[i] - y[i - 1]) / m->scale);
        if (n_in > 1)
            calendar_inputs(p, i, f + 1);
    }
    return feat;
}

/* Positions t (the window's last interval) whose inputs y[t-W..t] and targets
 * y[t+1..t+H] are all present. Returns their count; *out is allocated. */
static size_t find_windows(const lstm_t *m, const uint8_t *miss, size_t n, size_t **out)
{
    size_t span = (size_t)m->window + 1 + m->horizon, run = 0, k = 0;
    size_t *idx = sw_malloc((n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        run = miss[i] ? 0 : run + 1;
        if (run >= span)
            idx[k++] = i - m->horizon; /* the window ending H before the run's end */
    }
    *out = idx;
    return k;
}

/* Scaled targets of each window: [k][H + 1], the step changes then the max change. */
static float *build_targets(const lstm_t *m, const double *y, const size_t *idx, size_t k)
{
    unsigned H = m->horizon;
    float *tgt = sw_malloc(k * (H + 1) * sizeof(float));
    for (size_t i = 0; i < k; i++) {
        size_t t = idx[i];
        float *row = tgt + i * (H + 1);
        double mx = -INFINITY;
        for (unsigned h = 1; h <= H; h++) {
            row[h - 1] = (float)((y[t + h] - y[t]) / m->scale);
            mx = SW_MAX(mx, y[t + h]);
        }
        row[H] = (float)((mx - y[t]) / m->scale);
    }
    return tgt;
}

/* One training run: what the epoch loop needs besides the network. */
typedef struct trainer {
    sw_lstm_batch_t bt;
    float *x, *tgt, *wt, *grad, *adam_m, *adam_v;
    size_t *order;
    uint64_t step;
} trainer_t;

/* Gathers minibatch windows order[0..nb) into tr->x (time-major) and tr->tgt. */
static void gather(const lstm_t *m, trainer_t *tr, const float *feat, const size_t *idx,
                   const float *tgt, const size_t *order, unsigned nb)
{
    unsigned n_in = m->net.n_in, n_out = m->net.n_out, W = m->window;
    for (unsigned b = 0; b < nb; b++) {
        size_t t = idx[order[b]];
        const float *src = feat + (t + 1 - W) * n_in;
        for (unsigned s = 0; s < W; s++)
            memcpy(tr->x + ((size_t)s * nb + b) * n_in, src + (size_t)s * n_in,
                   n_in * sizeof(float));
        memcpy(tr->tgt + (size_t)b * n_out, tgt + order[b] * n_out, n_out * sizeof(float));
    }
}

/* Clips the gradient to LSTM_CLIP_NORM, then one Adam step (beta1 .9, beta2 .999). */
static void adam_step(lstm_t *m, trainer_t *tr)
{
    size_t np = m->net.n_params;
    double norm2 = 0;
    for (size_t i = 0; i < np; i++)
        norm2 += (double)tr->grad[i] * tr->grad[i];
    float clip =
        norm2 > LSTM_CLIP_NORM * LSTM_CLIP_NORM ? (float)(LSTM_CLIP_NORM / sqrt(norm2)) : 1.0f;
    tr->step++;
    double c1 = 1.0 - pow(0.9, (double)tr->step), c2 = 1.0 - pow(0.999, (double)tr->step);
    float lr = (float)(m->lr * sqrt(c2) / c1);
    float *theta = m->net.theta;
    for (size_t i = 0; i < np; i++) {
        float g = tr->grad[i] * clip;
        tr->adam_m[i] = 0.9f * tr->adam_m[i] + 0.1f * g;
        tr->adam_v[i] = 0.999f * tr->adam_v[i] + 0.001f * g * g;
        theta[i] -= lr * tr->adam_m[i] / (sqrtf(tr->adam_v[i]) + 1e-8f);
    }
}

static void trainer_init(trainer_t *tr, const lstm_t *m, size_t k)
{
    size_t np = m->net.n_params;
    memset(tr, 0, sizeof(*tr));
    sw__lstm_batch_init(&tr->bt, &m->net, m->window, m->batch);
    tr->x = sw_malloc((size_t)m->window * m->batch * m->net.n_in * sizeof(float));
    tr->tgt = sw_malloc((size_t)m->batch * m->net.n_out * sizeof(float));
    tr->wt = sw_malloc(m->net.n_out * sizeof(float));
    for (unsigned h = 0; h < m->horizon; h++)
        tr->wt[h] = 1.0f;
    tr->wt[m->horizon] = (float)m->horizon; /* the max: see the top of the file */
    tr->grad = sw_malloc(np * sizeof(float));
    tr->adam_m = sw_calloc(np, sizeof(float));
    tr->adam_v = sw_calloc(np, sizeof(float));
    tr->order = sw_malloc(k * sizeof(size_t));
    for (size_t i = 0; i < k; i++)
        tr->order[i] = i;
}

static void trainer_deinit(trainer_t *tr)
{
    sw__lstm_batch_deinit(&tr->bt);
    sw_free(tr->x);
    sw_free(tr->tgt);
    sw_free(tr->wt);
    sw_free(tr->grad);
    sw_free(tr->adam_m);
    sw_free(tr->adam_v);
    sw_free(tr->order);
}

/* Epochs of shuffled minibatches over the k windows. */
static void train(const sw_pred_t *p, lstm_t *m, const float *feat, const size_t *idx,
                  const float *tgt, size_t k)
{
    sw_rng_t root, shuffle;
    sw_rng_init(&root, p->params.seed);
    sw_rng_fork(&shuffle, &root, 2);
    sw_rng_t init;
    sw_rng_fork(&init, &root, 1);
    sw__lstm_net_randomize(&m->net, sw_rng_u64(&init));
    /* The thread count is process-wide: put back whatever the caller had. */
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    trainer_t tr;
    trainer_init(&tr, m, k);
    for (unsigned e = 0; e < m->epochs; e++) {
        for (size_t i = k; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(sw_rng_u64(&shuffle) % i);
            size_t t = tr.order[i - 1];
            tr.order[i - 1] = tr.order[j];
            tr.order[j] = t;
        }
        double sum = 0;
        size_t batches = 0;
        for (size_t s = 0; s < k; s += m->batch) {
            unsigned nb = (unsigned)SW_MIN((size_t)m->batch, k - s);
            gather(m, &tr, feat, idx, tgt, tr.order + s, nb);
            double loss = sw__lstm_batch_loss(&m->net, &tr.bt, tr.x, tr.tgt, tr.wt, nb, tr.grad);
            if (tr.step == 0)
                m->loss_first = loss;
            adam_step(m, &tr);
            sum += loss;
            batches++;
        }
        m->loss_last = sum / (double)batches;
    }
    trainer_deinit(&tr);
    openblas_set_num_threads(threads);
}

static int lstm_fit(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n, char *errbuf,
                    size_t errlen)
{
    lstm_t *m = p->state;
    size_t need = (size_t)m->window + 1 + m->horizon + LSTM_MIN_WINDOWS - 1;
    if (n < need) {
        snprintf(errbuf, errlen,
                 "predictor lstm: %zu intervals are too few for window %u and "
                 "horizon %u: need at least %zu (window + 1 + horizon + %u, for %u training "
                 "windows)",
                 n, m->window, m->horizon, need, LSTM_MIN_WINDOWS - 1, LSTM_MIN_WINDOWS);
        return -EINVAL;
    }
    size_t *idx;
    size_t k = find_windows(m, miss, n, &idx);
    if (k < LSTM_MIN_WINDOWS) {
        snprintf(errbuf, errlen,
                 "predictor lstm: only %zu stretches of window %u + 1 + "
                 "horizon %u intervals have no missing data; need %u",
                 k, m->window, m->horizon, LSTM_MIN_WINDOWS);
        sw_free(idx);
        return -EINVAL;
    }
    m->scale = fit_scale(y, miss, n);
    float *feat = build_inputs(p, m, y, miss, n);
    float *tgt = build_targets(m, y, idx, k);
    train(p, m, feat, idx, tgt, k);
    sw__lstm_net_prepare(&m->net);
    m->fitted = true;
    sw_free(feat);
    sw_free(tgt);
    sw_free(idx);
    m->head = m->n = 0;
    m->has_seen = false;
    for (size_t i = 0; i < n; i++)
        lstm_observe(p, y[i], miss[i]);
    return 0;
}

/* Value of ring slot j (0 = oldest), or NAN if missing or not yet seen. */
static double ring_at(const lstm_t *m, size_t j)
{
    if (j < m->cap - m->n)
        return NAN;
    size_t s = (m->head + j) % m->cap;
    return m->ring_miss[s] ? NAN : m->ring[s];
}

/* Runs the window through the network; returns the newest filled value. Stack scratch
 * only (hidden <= SW_LSTM_MAX_HIDDEN), so forecasts allocate nothing, and a const
 * forecaster may be forecast from on several threads. */
static double run_window(const sw_pred_t *p, const lstm_t *m, float *h)
{
    double prev = m->last_seen; /* a window with nothing present: all differences 0 */
    for (size_t j = 0; j < m->cap; j++) {
        if (!isnan(ring_at(m, j))) {
            prev = ring_at(m, j);
            break;
        }
    }
    float c[SW_LSTM_MAX_HIDDEN] = {0}, x[SW_LSTM_MAX_INPUTS];
    memset(h, 0, m->hidden * sizeof(float));
    for (unsigned s = 0; s < m->window; s++) {
        double v = ring_at(m, s + 1);
        v = isnan(v) ? prev : v;
        x[0] = (float)((v - prev) / m->scale);
        prev = v;
        if (m->net.n_in > 1) {
            uint64_t pos = p->pos >= m->window ? p->pos - m->window + s : 0;
            calendar_inputs(p, pos, x + 1);
        }
        sw__lstm_step(&m->net, x, h, c);
    }
    return prev;
}

/* point[h] = max(0, last + out_h * scale). The max over the horizon comes from the max
 * head, but never below a step's own forecast: a max under one of its terms is
 * inconsistent, and under-provisioning is the costly error. A shorter horizon than the
 * head was trained for takes the max of its steps only. Before a fit, the forecast is the
 * last value (0 if none). */
static void lstm_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    const lstm_t *m = p->state;
    if (!m->fitted || !m->has_seen) {
        double v = m->has_seen ? m->last_seen : 0.0;
        for (size_t i = 0; i < h; i++)
            point[i] = v;
        *max_point = v;
        return;
    }
    float hs[SW_LSTM_MAX_HIDDEN];
    double last = run_window(p, m, hs);
    double mx = 0;
    for (size_t i = 0; i < h; i++) {
        point[i] = SW_MAX(0.0, last + sw__lstm_head(&m->net, hs, (unsigned)i) * m->scale);
        mx = SW_MAX(mx, point[i]);
    }
    if (h == m->horizon)
        mx = SW_MAX(mx, last + sw__lstm_head(&m->net, hs, m->horizon) * m->scale);
    *max_point = mx;
}

static int lstm_export(const sw_pred_t *p, sw_pred_blob_t *b)
{
    const lstm_t *m = p->state;
    size_t np = m->net.n_params;
    double *tmp = sw_malloc(SW_MAX(np, m->cap) * sizeof(double));
    for (size_t i = 0; i < np; i++)
        tmp[i] = m->net.theta[i];
    sw_pred_blob_add(b, "lstm_theta", tmp, np);
    for (size_t i = 0; i < m->cap; i++)
        tmp[i] = m->ring_miss[i];
    sw_pred_blob_add(b, "lstm_ring_miss", tmp, m->cap);
    sw_free(tmp);
    sw_pred_blob_add(b, "lstm_ring", m->ring, m->cap);
    double meta[8] = {m->scale,    (double)m->head, (double)m->n,  m->last_seen,
                      m->has_seen, m->fitted,       m->loss_first, m->loss_last};
    sw_pred_blob_add(b, "lstm_meta", meta, SW_ARRAY_LEN(meta));
    return 0;
}

/* Trained weights stay small (gradients are clipped, the learning rate is below 1), and
 * a bound keeps every one convertible to float and every product finite. */
#define LSTM_MAX_WEIGHT 1e6

/* lstm_meta: scale, ring head, ring fill, last value seen, has_seen, fitted, the two
 * training losses. */
static bool meta_ok(const sw_pred_t *p, const lstm_t *m, const sw_pred_tensor_t *meta, char *errbuf,
                    size_t errlen)
{
    const sw_pred_range_t scale = {1e-300, 1e15, false, false};
    const sw_pred_range_t loss = {0, 1e300, false, false};
    return sw__pred_value_ok(p, meta, 0, scale, errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 1, sw__pred_index((double)m->cap - 1), errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 2, sw__pred_index((double)m->cap), errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 3, SW_PRED_COUNT, errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 4, SW_PRED_FLAG, errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 5, SW_PRED_FLAG, errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 6, loss, errbuf, errlen) &&
           sw__pred_value_ok(p, meta, 7, loss, errbuf, errlen);
}

static int lstm_import(sw_pred_t *p, const sw_pred_blob_t *b, char *errbuf, size_t errlen)
{
    lstm_t *m = p->state;
    const sw_pred_tensor_t *theta, *ring, *miss, *meta;
    if (!(theta = sw__pred_tensor(p, b, "lstm_theta", m->net.n_params,
                                  sw__pred_real(LSTM_MAX_WEIGHT), errbuf, errlen)) ||
        !(ring = sw__pred_tensor(p, b, "lstm_ring", m->cap, SW_PRED_COUNT, errbuf, errlen)) ||
        !(miss = sw__pred_tensor(p, b, "lstm_ring_miss", m->cap, SW_PRED_FLAG, errbuf, errlen)) ||
        !(meta = sw__pred_tensor(p, b, "lstm_meta", 8, sw__pred_real(1e300), errbuf, errlen)) ||
        !meta_ok(p, m, meta, errbuf, errlen))
        return -EINVAL;
    for (size_t i = 0; i < m->net.n_params; i++)
        m->net.theta[i] = (float)theta->data[i];
    sw__lstm_net_prepare(&m->net);
    memcpy(m->ring, ring->data, m->cap * sizeof(double));
    for (size_t i = 0; i < m->cap; i++)
        m->ring_miss[i] = miss->data[i] != 0;
    m->scale = meta->data[0];
    m->head = (size_t)meta->data[1];
    m->n = (size_t)meta->data[2];
    m->last_seen = meta->data[3];
    m->has_seen = meta->data[4] != 0;
    m->fitted = meta->data[5] != 0;
    m->loss_first = meta->data[6];
    m->loss_last = meta->data[7];
    return 0;
}

int sw__lstm_train_losses(const sw_pred_t *p, double *first, double *last)
{
    if (p->ops != &sw__pred_lstm_ops || !((const lstm_t *)p->state)->fitted)
        return -EINVAL;
    const lstm_t *m = p->state;
    *first = m->loss_first;
    *last = m->loss_last;
    return 0;
}

const sw_pred_ops_t sw__pred_lstm_ops = {
    .name = "lstm",
    .keep_calibrated_fit = true,
    .create = lstm_create,
    .fit = lstm_fit,
    .observe = lstm_observe,
    .predict = lstm_predict,
    .export_state = lstm_export,
    .import_state = lstm_import,
    .destroy = lstm_destroy,
};
