/* Minibatch Adam on softmax cross-entropy for a dense ReLU network. Forward and backward
 * passes are sgemm calls over the whole minibatch; everything is allocated at create. */
#include "model/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "common/rng.h"
#include "model/model_internal.h"

#define MAX_LAYERS (SW_TRAIN_MAX_HIDDEN + 1)
#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f

const char *const sw_fashion_labels[10] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                           "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                           "Bag",         "Ankle boot"};

typedef struct param {
    float *val, *grad, *m, *v; /* Adam's first and second moments */
    size_t n;
} param_t;

struct sw_trainer {
    size_t n_layers;
    size_t dims[MAX_LAYERS + 1]; /* dims[0] inputs ... dims[n_layers] classes */
    param_t w[MAX_LAYERS], b[MAX_LAYERS];
    float *act[MAX_LAYERS + 1]; /* act[0] the input batch, act[i] layer i-1's output */
    float *delta[2];            /* dLoss/dZ, ping-pong, batch x widest layer */
    size_t batch;
    float lr;
    uint64_t step;
    sw_rng_t rng;
    size_t *order, order_n;
};

sw_train_opts_t sw_train_default_opts(void)
{
    return (sw_train_opts_t){
        .n_hidden = 2, .hidden = {256, 128}, .batch = 64, .lr = 1e-3f, .seed = 1};
}

static void param_init(param_t *p, size_t n)
{
    p->n = n;
    p->val = sw_calloc(n, sizeof(float));
    p->grad = sw_calloc(n, sizeof(float));
    p->m = sw_calloc(n, sizeof(float));
    p->v = sw_calloc(n, sizeof(float));
}

static void param_deinit(param_t *p)
{
    sw_free(p->val);
    sw_free(p->grad);
    sw_free(p->m);
    sw_free(p->v);
}

sw_trainer_t *sw_trainer_create(size_t inputs, size_t classes, const sw_train_opts_t *o)
{
    if (inputs == 0 || classes < 2 || o->n_hidden > SW_TRAIN_MAX_HIDDEN || o->batch == 0 ||
        !(o->lr > 0.0f))
        return NULL;
    for (size_t i = 0; i < o->n_hidden; i++)
        if (o->hidden[i] == 0)
            return NULL;
    sw_trainer_t *t = sw_calloc(1, sizeof(*t));
    t->n_layers = o->n_hidden + 1;
    t->batch = o->batch;
    t->lr = o->lr;
    sw_rng_init(&t->rng, o->seed);
    t->dims[0] = inputs;
    memcpy(&t->dims[1], o->hidden, o->n_hidden * sizeof(size_t));
    t->dims[t->n_layers] = classes;
    size_t widest = 0;
    t->act[0] = sw_calloc(t->batch * inputs, sizeof(float));
    for (size_t i = 0; i < t->n_layers; i++) {
        size_t in = t->dims[i], out = t->dims[i + 1];
        param_init(&t->w[i], in * out);
        param_init(&t->b[i], out);
        /* He initialisation keeps the ReLU activations' variance steady layer to layer. */
        double sd = sqrt(2.0 / (double)in);
        for (size_t k = 0; k < in * out; k++)
            t->w[i].val[k] = (float)(sw_rng_normal(&t->rng) * sd);
        t->act[i + 1] = sw_calloc(t->batch * out, sizeof(float));
        widest = SW_MAX(widest, out);
    }
    for (int k = 0; k < 2; k++)
        t->delta[k] = sw_calloc(t->batch * widest, sizeof(float));
    return t;
}

void sw_trainer_destroy(sw_trainer_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_layers; i++) {
        param_deinit(&t->w[i]);
        param_deinit(&t->b[i]);
    }
    for (size_t i = 0; i <= t->n_layers; i++)
        sw_free(t->act[i]);
    sw_free(t->delta[0]);
    sw_free(t->delta[1]);
    sw_free(t->order);
    sw_free(t);
}

static void forward(sw_trainer_t *t, size_t n)
{
    for (size_t i = 0; i < t->n_layers; i++) {
        int in = (int)t->dims[i], out = (int)t->dims[i + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, out, in, 1.0f, t->act[i], in,
                    t->w[i].val, in, 0.0f, t->act[i + 1], out);
        sw__model_bias_act(t->act[i + 1], t->b[i].val, n, (size_t)out,
                           i + 1 == t->n_layers ? SW_ACT_SOFTMAX : SW_ACT_RELU);
    }
}

/* Softmax plus cross-entropy has the simple gradient (p - onehot) / n at the logits. */
static double output_delta(sw_trainer_t *t, const uint8_t *labels, size_t n)
{
    size_t k = t->dims[t->n_layers];
    const float *p = t->act[t->n_layers];
    float *d = t->delta[0];
    double loss = 0.0;
    float inv_n = 1.0f / (float)n;
    for (size_t r = 0; r < n; r++) {
        loss -= log((double)p[r * k + labels[r]] + 1e-12);
        for (size_t j = 0; j < k; j++)
            d[r * k + j] = (p[r * k + j] - (j == labels[r] ? 1.0f : 0.0f)) * inv_n;
    }
    return loss / (double)n;
}

static void backward(sw_trainer_t *t, size_t n)
{
    float *d = t->delta[0], *dn = t->delta[1];
    for (size_t i = t->n_layers; i-- > 0;) {
        int in = (int)t->dims[i], out = (int)t->dims[i + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, (int)n, 1.0f, d, out,
                    t->act[i], in, 0.0f, t->w[i].grad, in);
        float *gb = t->b[i].grad;
        memset(gb, 0, (size_t)out * sizeof(float));
        for (size_t r = 0; r < n; r++)
            for (int j = 0; j < out; j++)
                gb[j] += d[r * (size_t)out + (size_t)j];
        if (i == 0)
            break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, in, out, 1.0f, d, out,
                    t->w[i].val, in, 0.0f, dn, in);
        /* ReLU passes gradient only where its output was positive. */
        const float *a = t->act[i];
        for (size_t k = 0; k < n * (size_t)in; k++)
            dn[k] = a[k] > 0.0f ? dn[k] : 0.0f;
        float *tmp = d;
        d = dn;
        dn = tmp;
    }
}

static void adam(param_t *p, float step_size)
{
    float *restrict val = p->val, *restrict m = p->m, *restrict v = p->v;
    const float *restrict g = p->grad;
    for (size_t k = 0; k < p->n; k++) {
        m[k] = ADAM_B1 * m[k] + (1.0f - ADAM_B1) * g[k];
        v[k] = ADAM_B2 * v[k] + (1.0f - ADAM_B2) * g[k] * g[k];
        val[k] -= step_size * m[k] / (sqrtf(v[k]) + ADAM_EPS);
    }
}

static void update(sw_trainer_t *t)
{
    t->step++;
    /* Bias correction folded into the step size, as in Kingma & Ba section 2. */
    double c1 = 1.0 - pow(ADAM_B1, (double)t->step), c2 = 1.0 - pow(ADAM_B2, (double)t->step);
    float step_size = (float)(t->lr * sqrt(c2) / c1);
    for (size_t i = 0; i < t->n_layers; i++) {
        adam(&t->w[i], step_size);
        adam(&t->b[i], step_size);
    }
}

static void shuffle(sw_trainer_t *t, size_t n)
{
    if (t->order_n < n) {
        t->order = sw_realloc(t->order, n * sizeof(size_t));
        t->order_n = n;
    }
    for (size_t i = 0; i < n; i++)
        t->order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(sw_rng_u64(&t->rng) % i);
        size_t tmp = t->order[i - 1];
        t->order[i - 1] = t->order[j];
        t->order[j] = tmp;
    }
}

double sw_trainer_epoch(sw_trainer_t *t, const sw_idx_set_t *set, size_t limit)
{
    size_t in = t->dims[0];
    if (set->rows * set->cols != in || set->n_classes > t->dims[t->n_layers])
        return -1.0;
    size_t n = limit && limit < set->n ? limit : set->n;
    shuffle(t, n);
    uint8_t labels[4096];
    uint8_t *lab = t->batch <= sizeof(labels) ? labels : sw_malloc(t->batch);
    double loss = 0.0;
    size_t batches = 0;
    for (size_t start = 0; start < n; start += t->batch, batches++) {
        size_t b = SW_MIN(t->batch, n - start);
        for (size_t r = 0; r < b; r++) {
            size_t idx = t->order[start + r];
            const uint8_t *px = set->pixels + idx * in;
            float *x = t->act[0] + r * in;
            for (size_t k = 0; k < in; k++)
                x[k] = (float)px[k] * (1.0f / 255.0f);
            lab[r] = set->labels[idx];
        }
        forward(t, b);
        loss += output_delta(t, lab, b);
        backward(t, b);
        update(t);
    }
    if (lab != labels)
        sw_free(lab);
    return batches ? loss / (double)batches : 0.0;
}

size_t sw__trainer_layers(const sw_trainer_t *t, sw_layer_desc_t *ls)
{
    for (size_t i = 0; i < t->n_layers; i++)
        ls[i] = (sw_layer_desc_t){.inputs = t->dims[i],
                                  .outputs = t->dims[i + 1],
                                  .weights = t->w[i].val,
                                  .bias = t->b[i].val,
                                  .act = i + 1 == t->n_layers ? SW_ACT_SOFTMAX : SW_ACT_RELU};
    return t->n_layers;
}
