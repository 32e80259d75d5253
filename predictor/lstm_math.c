/* The numerical core of the "lstm" forecaster: forward pass and backpropagation through
 * time for a minibatch of windows, and the single-window step used to forecast.
 *
 * Everything is float32. A minibatch is processed time-major, so each step's gate
 * pre-activations for the whole batch are one cblas_sgemm, and the weight gradient of all
 * steps is one large sgemm at the end of the backward pass.
 *
 * The element-wise loops (gates, cell, their gradients, and the forecast's small
 * matrix-vector product) are most of the time that remains, so they are written to
 * vectorise: the sigmoid and tanh use our own branch-free exp rather than libm's expf and
 * tanhf (about 10,000 calls per forecast), and on x86-64 with gcc the loop functions are
 * also compiled for AVX2 and picked at load time (target_clones). The AVX2 and baseline
 * clones give the same bits: both do the same IEEE single-precision operations in the same
 * order (ISO C mode keeps gcc from contracting to FMA, and the avx2 target has none), so the
 * clone never changes a result. (OpenBLAS picks its sgemm kernel by CPU too, and those do
 * sum in different orders, so bit-identical training is promised on one machine only.)
 * Training and forecasting use the same activations, so a forecast sees the function it
 * was trained with. */
#include "predictor/lstm_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SW_LSTM_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define SW_LSTM_SIMD
#endif

/* Maps float bit patterns to int32 keys in the floats' order (and back: it is its own
 * inverse), so that clamping can use integer compares. Float compares would stop gcc from
 * vectorising the loops under the default -ftrapping-math. */
static inline int32_t order_key(int32_t bits)
{
    return bits ^ (int32_t)((uint32_t)(bits >> 31) >> 1);
}

/* exp(x), x clamped to [-87, 88] so the result stays a normal float. Cephes' expf: round
 * x / ln 2 to n with the 1.5 * 2^23 trick, reduce with ln 2 split in two parts, a degree-6
 * polynomial on |r| <= ln 2 / 2 (about 1 ulp), then scale by 2^n built in the exponent
 * bits. No branches, so loops over it vectorise (at -O3). */
static inline float sw_expf(float x)
{
    const int32_t lo = -1118699521, hi = 1118830592; /* order_key of -87.0f and 88.0f */
    int32_t xi;
    memcpy(&xi, &x, sizeof(xi));
    int32_t k = order_key(xi);
    k = k < lo ? lo : k;
    k = k > hi ? hi : k;
    xi = order_key(k);
    memcpy(&x, &xi, sizeof(x));
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    q = q * r * r + r + 1.0f;
    int32_t ti, mi;
    memcpy(&ti, &t, sizeof(ti));
    memcpy(&mi, &magic, sizeof(mi));
    int32_t bits = (ti - mi + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return q * scale;
}

static inline float sw_sigmoidf(float x)
{
    return 1.0f / (1.0f + sw_expf(-x));
}
/* tanh(x) = 2 sigmoid(2x) - 1: absolute error about 1e-7, which is all the cell needs. */
static inline float sw_tanhf(float x)
{
    return 2.0f / (1.0f + sw_expf(-2.0f * x)) - 1.0f;
}

void sw__lstm_net_init(sw_lstm_net_t *net, unsigned n_in, unsigned hidden, unsigned n_out)
{
    size_t g = 4 * (size_t)hidden;
    net->n_in = n_in;
    net->hidden = hidden;
    net->n_out = n_out;
    net->n_params = g * (n_in + hidden) + g + (size_t)n_out * hidden + n_out;
    net->theta = sw_calloc(net->n_params, sizeof(float));
    net->w = net->theta;
    net->b = net->w + g * (n_in + hidden);
    net->wo = net->b + g;
    net->bo = net->wo + (size_t)n_out * hidden;
    net->w_t = sw_calloc(g * (n_in + hidden), sizeof(float));
}

void sw__lstm_net_prepare(sw_lstm_net_t *net)
{
    size_t g = 4 * (size_t)net->hidden, nxh = net->n_in + net->hidden;
    for (size_t r = 0; r < g; r++)
        for (size_t k = 0; k < nxh; k++)
            net->w_t[k * g + r] = net->w[r * nxh + k];
}

void sw__lstm_net_deinit(sw_lstm_net_t *net)
{
    sw_free(net->theta);
    sw_free(net->w_t);
    memset(net, 0, sizeof(*net));
}

void sw__lstm_net_randomize(sw_lstm_net_t *net, uint64_t seed)
{
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    float r = 1.0f / sqrtf((float)net->hidden);
    memset(net->theta, 0, net->n_params * sizeof(float));
    size_t nw = 4 * (size_t)net->hidden * (net->n_in + net->hidden);
    for (size_t i = 0; i < nw; i++)
        net->w[i] = (float)((2.0 * sw_rng_uniform(&rng) - 1.0) * r);
    for (size_t i = 0; i < (size_t)net->n_out * net->hidden; i++)
        net->wo[i] = (float)((2.0 * sw_rng_uniform(&rng) - 1.0) * r);
    for (unsigned j = 0; j < net->hidden; j++)
        net->b[net->hidden + j] = 1.0f;
}

void sw__lstm_batch_init(sw_lstm_batch_t *bt, const sw_lstm_net_t *net, unsigned window,
                         unsigned max_batch)
{
    size_t wb = (size_t)window * max_batch, hid = net->hidden;
    bt->window = window;
    bt->max_batch = max_batch;
    bt->n_xh = net->n_in + net->hidden;
    bt->hidden = net->hidden;
    bt->n_out = net->n_out;
    bt->xh = sw_calloc(wb * bt->n_xh, sizeof(float));
    bt->act = sw_calloc(wb * 4 * hid, sizeof(float));
    /* One extra leading slice that stays zero: the cell state before the first step. */
    bt->c = sw_calloc((wb + max_batch) * hid, sizeof(float));
    bt->tc = sw_calloc(wb * hid, sizeof(float));
    bt->h = sw_calloc(max_batch * hid, sizeof(float));
    bt->out = sw_calloc((size_t)max_batch * net->n_out, sizeof(float));
    bt->dz = sw_calloc(wb * 4 * hid, sizeof(float));
    bt->dh = sw_calloc(max_batch * hid, sizeof(float));
    bt->dc = sw_calloc(max_batch * hid, sizeof(float));
}

void sw__lstm_batch_deinit(sw_lstm_batch_t *bt)
{
    sw_free(bt->xh);
    sw_free(bt->act);
    sw_free(bt->c);
    sw_free(bt->tc);
    sw_free(bt->h);
    sw_free(bt->out);
    sw_free(bt->dz);
    sw_free(bt->dh);
    sw_free(bt->dc);
    memset(bt, 0, sizeof(*bt));
}

/* Gate activations in place on one row of pre-activations [i f g o]. */
static inline void gates_forward(float *a, unsigned hid)
{
    for (unsigned j = 0; j < 2 * hid; j++)
        a[j] = sw_sigmoidf(a[j]);
    for (unsigned j = 2 * hid; j < 3 * hid; j++)
        a[j] = sw_tanhf(a[j]);
    for (unsigned j = 3 * hid; j < 4 * hid; j++)
        a[j] = sw_sigmoidf(a[j]);
}

/* c = f * cprev + i * g, tc = tanh(c), h = o * tc, for one row. */
static inline void cell_forward(const float *a, const float *cprev, float *c, float *tc, float *h,
                                unsigned hid)
{
    const float *gi = a, *gf = a + hid, *gg = a + 2 * hid, *go = a + 3 * hid;
    for (unsigned j = 0; j < hid; j++)
        c[j] = gf[j] * cprev[j] + gi[j] * gg[j];
    for (unsigned j = 0; j < hid; j++)
        tc[j] = sw_tanhf(c[j]);
    for (unsigned j = 0; j < hid; j++)
        h[j] = go[j] * tc[j];
}

/* Slices of the time-major scratch for step t of a batch of nb. */
#define XH(bt, t, nb) ((bt)->xh + (size_t)(t) * (nb) * (bt)->n_xh)
#define ACT(bt, t, nb) ((bt)->act + (size_t)(t) * (nb)*4 * (bt)->hidden)
#define CELL(bt, t, nb) ((bt)->c + (size_t)((t) + 1) * (nb) * (bt)->hidden) /* t = -1: zeros */
#define TC(bt, t, nb) ((bt)->tc + (size_t)(t) * (nb) * (bt)->hidden)
#define DZ(bt, t, nb) ((bt)->dz + (size_t)(t) * (nb)*4 * (bt)->hidden)

/* Gates and cell of step t for the batch, from the pre-activations in ACT. */
SW_LSTM_SIMD static void activate_step(sw_lstm_batch_t *bt, unsigned t, unsigned nb)
{
    unsigned hid = bt->hidden, g = 4 * hid, nxh = bt->n_xh, n_in = nxh - hid;
    bool last = t + 1 == bt->window;
    for (unsigned b = 0; b < nb; b++) {
        float *a = ACT(bt, t, nb) + (size_t)b * g;
        gates_forward(a, hid);
        /* h goes straight into the next step's input row, or to bt->h at the end. */
        float *h = last ? bt->h + (size_t)b * hid : XH(bt, t + 1, nb) + (size_t)b * nxh + n_in;
        size_t o = (size_t)b * hid;
        cell_forward(a, CELL(bt, (int)t - 1, nb) + o, CELL(bt, t, nb) + o, TC(bt, t, nb) + o, h,
                     hid);
    }
}

static void forward(const sw_lstm_net_t *net, sw_lstm_batch_t *bt, const float *x, unsigned nb)
{
    unsigned hid = net->hidden, g = 4 * hid, nxh = bt->n_xh, n_in = net->n_in;
    for (unsigned t = 0; t < bt->window; t++) {
        float *xh = XH(bt, t, nb), *a = ACT(bt, t, nb);
        for (unsigned b = 0; b < nb; b++) {
            memcpy(xh + (size_t)b * nxh, x + ((size_t)t * nb + b) * n_in, n_in * sizeof(float));
            if (t == 0)
                memset(xh + (size_t)b * nxh + n_in, 0, hid * sizeof(float));
            memcpy(a + (size_t)b * g, net->b, g * sizeof(float));
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)g, (int)nxh, 1.0f, xh,
                    (int)nxh, net->w, (int)nxh, 1.0f, a, (int)g);
        activate_step(bt, t, nb);
    }
    float *out = bt->out;
    for (unsigned b = 0; b < nb; b++)
        memcpy(out + (size_t)b * net->n_out, net->bo, net->n_out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)net->n_out, (int)hid, 1.0f,
                bt->h, (int)hid, net->wo, (int)hid, 1.0f, out, (int)net->n_out);
}

/* One step back in time for the whole batch: from dh (d loss / d h_t) and dc (d loss /
 * d c_t through later steps), the pre-activation gradients dz_t; dc becomes d / d c_{t-1}. */
SW_LSTM_SIMD static void cell_backward(sw_lstm_batch_t *bt, unsigned t, unsigned nb)
{
    unsigned hid = bt->hidden, g = 4 * hid;
    const float *act = ACT(bt, t, nb), *tcs = TC(bt, t, nb), *cps = CELL(bt, (int)t - 1, nb);
    float *dzs = DZ(bt, t, nb);
    for (unsigned b = 0; b < nb; b++) {
        const float *a = act + (size_t)b * g, *tc = tcs + (size_t)b * hid;
        const float *cp = cps + (size_t)b * hid;
        const float *gi = a, *gf = a + hid, *gg = a + 2 * hid, *go = a + 3 * hid;
        float *dz = dzs + (size_t)b * g, *dh = bt->dh + (size_t)b * hid;
        float *dc = bt->dc + (size_t)b * hid;
        for (unsigned j = 0; j < hid; j++) {
            float dct = dc[j] + dh[j] * go[j] * (1.0f - tc[j] * tc[j]);
            dz[j] = dct * gg[j] * gi[j] * (1.0f - gi[j]);
            dz[hid + j] = dct * cp[j] * gf[j] * (1.0f - gf[j]);
            dz[2 * hid + j] = dct * gi[j] * (1.0f - gg[j] * gg[j]);
            dz[3 * hid + j] = dh[j] * tc[j] * go[j] * (1.0f - go[j]);
            dc[j] = dct * gf[j];
        }
    }
}

/* grad[j] = sum over rows of m[rows][cols], column j. */
static void column_sums(const float *m, size_t rows, unsigned cols, float *grad)
{
    memset(grad, 0, cols * sizeof(float));
    for (size_t r = 0; r < rows; r++)
        for (unsigned j = 0; j < cols; j++)
            grad[j] += m[r * cols + j];
}

/* Backpropagation through time; bt->out holds d loss / d out on entry. */
static void backward(const sw_lstm_net_t *net, sw_lstm_batch_t *bt, unsigned nb, float *grad)
{
    unsigned hid = net->hidden, g = 4 * hid, nxh = bt->n_xh, n_out = net->n_out;
    float *gw = grad, *gb = gw + (size_t)g * nxh, *gwo = gb + g, *gbo = gwo + (size_t)n_out * hid;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_out, (int)hid, (int)nb, 1.0f,
                bt->out, (int)n_out, bt->h, (int)hid, 0.0f, gwo, (int)hid);
    column_sums(bt->out, nb, n_out, gbo);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)hid, (int)n_out, 1.0f,
                bt->out, (int)n_out, net->wo, (int)hid, 0.0f, bt->dh, (int)hid);
    memset(bt->dc, 0, (size_t)nb * hid * sizeof(float));
    for (unsigned t = bt->window; t-- > 0;) {
        cell_backward(bt, t, nb);
        if (t == 0)
            break;
        /* d loss / d h_{t-1}: the hidden-state columns of w, through this step's gates. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)hid, (int)g, 1.0f,
                    DZ(bt, t, nb), (int)g, net->w + net->n_in, (int)nxh, 0.0f, bt->dh, (int)hid);
    }
    /* All steps share w, so its gradient is one product over the stacked steps. */
    size_t rows = (size_t)bt->window * nb;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g, (int)nxh, (int)rows, 1.0f, bt->dz,
                (int)g, bt->xh, (int)nxh, 0.0f, gw, (int)nxh);
    column_sums(bt->dz, rows, g, gb);
}

double sw__lstm_batch_loss(const sw_lstm_net_t *net, sw_lstm_batch_t *bt, const float *x,
                           const float *tgt, const float *wt, unsigned nb, float *grad)
{
    forward(net, bt, x, nb);
    unsigned n_out = net->n_out;
    double wsum = 0, loss = 0;
    for (unsigned k = 0; k < n_out; k++)
        wsum += wt[k];
    double norm = (double)nb * wsum;
    for (size_t i = 0; i < (size_t)nb * n_out; i++) {
        double e = (double)bt->out[i] - tgt[i];
        loss += wt[i % n_out] * e * e;
        bt->out[i] = (float)(2.0 * wt[i % n_out] * e / norm); /* now d loss / d out */
    }
    if (grad)
        backward(net, bt, nb, grad);
    return loss / norm;
}

/* The product runs over w_t, w transposed, so each input scales one contiguous row into
 * the pre-activations: an axpy that vectorises, where the dot products over w's rows would
 * be reductions gcc may not reorder. At these sizes (128 x 37) it beats a cblas_sgemv call,
 * whose fixed cost is paid 60 times per forecast. */
SW_LSTM_SIMD void sw__lstm_step(const sw_lstm_net_t *net, const float *x, float *h, float *c)
{
    float xh[SW_LSTM_MAX_INPUTS + SW_LSTM_MAX_HIDDEN], a[4 * SW_LSTM_MAX_HIDDEN];
    float tc[SW_LSTM_MAX_HIDDEN];
    unsigned hid = net->hidden, g = 4 * hid, nxh = net->n_in + hid;
    memcpy(xh, x, net->n_in * sizeof(float));
    memcpy(xh + net->n_in, h, hid * sizeof(float));
    memcpy(a, net->b, g * sizeof(float));
    /* Four rows per pass keep a[] in registers longer; the additions into a[j] happen in
     * the same order as one row at a time, so the result is the same. */
    unsigned k = 0;
    for (; k + 4 <= nxh; k += 4) {
        const float *r0 = net->w_t + (size_t)k * g, *r1 = r0 + g, *r2 = r1 + g, *r3 = r2 + g;
        float v0 = xh[k], v1 = xh[k + 1], v2 = xh[k + 2], v3 = xh[k + 3];
        for (unsigned j = 0; j < g; j++)
            a[j] = a[j] + v0 * r0[j] + v1 * r1[j] + v2 * r2[j] + v3 * r3[j];
    }
    for (; k < nxh; k++) {
        const float *row = net->w_t + (size_t)k * g;
        for (unsigned j = 0; j < g; j++)
            a[j] += xh[k] * row[j];
    }
    gates_forward(a, hid);
    cell_forward(a, c, c, tc, h, hid);
}

double sw__lstm_head(const sw_lstm_net_t *net, const float *h, unsigned k)
{
    const float *row = net->wo + (size_t)k * net->hidden;
    double s = net->bo[k];
    for (unsigned j = 0; j < net->hidden; j++)
        s += (double)row[j] * h[j];
    return s;
}
