/* The inference engine: a chain of dense layers, each one sgemm over the whole batch, then
 * bias and activation in place. All memory is allocated at create time. */
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "model/model_internal.h"

/* Measured with bench/model_bench: gemv wins only for a single row. */
#define GEMV_MAX_ROWS 1

typedef struct layer {
    size_t in, out;
    float *w; /* out x in, row-major, 64-byte aligned */
    float *b; /* out, 64-byte aligned */
    sw_act_t act;
} layer_t;

struct sw_model {
    char *name;
    uint32_t version;
    char **labels;
    size_t n_labels;
    layer_t *layers;
    size_t n_layers;
    unsigned max_batch;
    float *work[2]; /* ping-pong activations, max_batch x widest hidden layer */
};

void sw__model_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* 64-byte alignment keeps every AVX-512 load in sgemm's packing and our loops on one line. */
static float *alloc_aligned(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        fprintf(stderr, "%s:%d: out of memory (%zu bytes)\n", __FILE__, __LINE__, bytes);
        abort();
    }
    return p;
}

/* Writes what is wrong with layer i's shape or activation into why; false if nothing.
 * *params accumulates the model's parameter count, checked before any weight is looked
 * at, so a layer that claims a billion weights is refused for that, not for its count. */
static bool layer_problem(const sw_model_desc_t *d, size_t i, size_t *params, char *why, size_t len)
{
    const sw_layer_desc_t *l = &d->layers[i];
    bool last = i + 1 == d->n_layers;
    *params += l->inputs * l->outputs + l->outputs;
    if (l->inputs == 0 || l->outputs == 0 || l->inputs > SW__MODEL_MAX_WIDTH ||
        l->outputs > SW__MODEL_MAX_WIDTH)
        snprintf(why, len, "a size is 0 or more than %u", SW__MODEL_MAX_WIDTH);
    else if (i > 0 && l->inputs != d->layers[i - 1].outputs)
        snprintf(why, len, "inputs differ from the previous layer's outputs");
    else if (*params > SW__MODEL_MAX_PARAMS)
        snprintf(why, len, "%zu parameters up to this layer, more than the %u allowed", *params,
                 SW__MODEL_MAX_PARAMS);
    else if (!l->weights || !l->bias)
        snprintf(why, len, "weight or bias count does not match the shape");
    else if (last != (l->act == SW_ACT_SOFTMAX))
        snprintf(why, len, "softmax must be the last layer's activation, and only there");
    else if (l->act != SW_ACT_NONE && l->act != SW_ACT_RELU && l->act != SW_ACT_SOFTMAX)
        snprintf(why, len, "unknown activation %d", (int)l->act);
    else
        return false;
    return true;
}

/* Index of the first NaN or infinity in v[0..n), or n. */
static size_t first_non_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return n;
}

/* A NaN or infinite weight makes every score NaN, and argmax over NaN picks a class all
 * the same: such a model would be served, and scored, as if it were sound. */
static int check_finite(const sw_model_desc_t *d, const char *what, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < d->n_layers; i++) {
        const sw_layer_desc_t *l = &d->layers[i];
        size_t k = first_non_finite(l->weights, l->inputs * l->outputs);
        size_t kb = first_non_finite(l->bias, l->outputs);
        if (k == l->inputs * l->outputs && kb == l->outputs)
            continue;
        if (k < l->inputs * l->outputs)
            sw__model_error(errbuf, errlen,
                            "%s: layer %zu: weight [%zu, %zu] is %g: a model "
                            "with non-finite weights cannot be served (retrain it)",
                            what, i, k / l->inputs, k % l->inputs, (double)l->weights[k]);
        else
            sw__model_error(errbuf, errlen,
                            "%s: layer %zu: bias [%zu] is %g: a model with "
                            "non-finite weights cannot be served (retrain it)",
                            what, i, kb, (double)l->bias[kb]);
        return SW_EPARSE;
    }
    return 0;
}

int sw__model_check(const sw_model_desc_t *d, const char *what, char *errbuf, size_t errlen)
{
    if (d->n_layers == 0 || d->n_layers > SW__MODEL_MAX_LAYERS) {
        sw__model_error(errbuf, errlen, "%s: inconsistent shapes: %zu layers (1..%d)", what,
                        d->n_layers, SW__MODEL_MAX_LAYERS);
        return SW_EPARSE;
    }
    size_t params = 0;
    char why[160];
    for (size_t i = 0; i < d->n_layers; i++) {
        if (layer_problem(d, i, &params, why, sizeof(why))) {
            sw__model_error(errbuf, errlen, "%s: inconsistent shapes: layer %zu (%zu -> %zu): %s",
                            what, i, d->layers[i].inputs, d->layers[i].outputs, why);
            return SW_EPARSE;
        }
    }
    size_t outs = d->layers[d->n_layers - 1].outputs;
    if (d->n_labels != 0 && d->n_labels != outs) {
        sw__model_error(errbuf, errlen, "%s: %zu labels for %zu outputs", what, d->n_labels, outs);
        return SW_EPARSE;
    }
    return check_finite(d, what, errbuf, errlen);
}

/* The widest of the model's inputs and layer outputs: with max_batch, what the workspace
 * and a caller's batch buffers hold per row. */
static size_t widest(const sw_model_desc_t *d)
{
    size_t w = d->layers[0].inputs;
    for (size_t i = 0; i < d->n_layers; i++)
        w = SW_MAX(w, d->layers[i].outputs);
    return w;
}

static void copy_layers(sw_model_t *m, const sw_model_desc_t *d)
{
    size_t widest = 1;
    m->n_layers = d->n_layers;
    m->layers = sw_calloc(d->n_layers, sizeof(*m->layers));
    for (size_t i = 0; i < d->n_layers; i++) {
        const sw_layer_desc_t *s = &d->layers[i];
        layer_t *l = &m->layers[i];
        l->in = s->inputs;
        l->out = s->outputs;
        l->act = s->act;
        l->w = alloc_aligned(l->in * l->out);
        l->b = alloc_aligned(l->out);
        memcpy(l->w, s->weights, l->in * l->out * sizeof(float));
        memcpy(l->b, s->bias, l->out * sizeof(float));
        if (i + 1 < d->n_layers)
            widest = SW_MAX(widest, l->out);
    }
    for (int k = 0; k < 2; k++)
        m->work[k] = alloc_aligned((size_t)m->max_batch * widest);
}

int sw_model_create(const sw_model_desc_t *d, unsigned max_batch, const char *what,
                    sw_model_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (max_batch == 0) {
        sw__model_error(errbuf, errlen, "%s: max_batch must be >= 1", what);
        return -EINVAL;
    }
    int rc = sw__model_check(d, what, errbuf, errlen);
    if (rc < 0)
        return rc;
    if ((uint64_t)max_batch * widest(d) > SW__MODEL_MAX_WORK) {
        sw__model_error(errbuf, errlen,
                        "%s: a batch of %u rows of %zu values (its widest "
                        "layer) needs more than the %llu values of workspace allowed: use a "
                        "smaller max batch",
                        what, max_batch, widest(d), (unsigned long long)SW__MODEL_MAX_WORK);
        return -EINVAL;
    }
    sw_model_t *m = sw_calloc(1, sizeof(*m));
    m->name = sw_strdup(d->name ? d->name : "");
    m->version = d->version;
    m->max_batch = max_batch;
    m->n_labels = d->n_labels;
    m->labels = sw_calloc(d->n_labels ? d->n_labels : 1, sizeof(char *));
    for (size_t i = 0; i < d->n_labels; i++)
        m->labels[i] = sw_strdup(d->labels[i] ? d->labels[i] : "");
    copy_layers(m, d);
    *out = m;
    return 0;
}

void sw_model_destroy(sw_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_layers; i++) {
        free(m->layers[i].w);
        free(m->layers[i].b);
    }
    for (size_t i = 0; i < m->n_labels; i++)
        sw_free(m->labels[i]);
    free(m->work[0]);
    free(m->work[1]);
    sw_free(m->layers);
    sw_free(m->labels);
    sw_free(m->name);
    sw_free(m);
}

size_t sw_model_input_size(const sw_model_t *m)
{
    return m->layers[0].in;
}
size_t sw_model_output_size(const sw_model_t *m)
{
    return m->layers[m->n_layers - 1].out;
}
unsigned sw_model_max_batch(const sw_model_t *m)
{
    return m->max_batch;
}
const char *sw_model_name(const sw_model_t *m)
{
    return m->name;
}
uint32_t sw_model_version(const sw_model_t *m)
{
    return m->version;
}
size_t sw_model_n_layers(const sw_model_t *m)
{
    return m->n_layers;
}

const char *sw_model_label(const sw_model_t *m, size_t i)
{
    return i < m->n_labels ? m->labels[i] : NULL;
}

void sw_model_layer_shape(const sw_model_t *m, size_t i, size_t *inputs, size_t *outputs)
{
    *inputs = i < m->n_layers ? m->layers[i].in : 0;
    *outputs = i < m->n_layers ? m->layers[i].out : 0;
}

/* Subtracting the row max before exp keeps every exponent <= 0, so nothing overflows. */
static void softmax_rows(float *y, size_t n, size_t k)
{
    for (size_t r = 0; r < n; r++) {
        float *row = y + r * k;
        float mx = row[0];
        for (size_t j = 1; j < k; j++)
            mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        for (size_t j = 0; j < k; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < k; j++)
            row[j] *= inv;
    }
}

void sw__model_bias_act(float *restrict y, const float *restrict b, size_t n, size_t k,
                        sw_act_t act)
{
    for (size_t r = 0; r < n; r++) {
        float *restrict row = y + r * k;
        if (act == SW_ACT_RELU) {
            for (size_t j = 0; j < k; j++) {
                float v = row[j] + b[j];
                row[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (size_t j = 0; j < k; j++)
                row[j] += b[j];
        }
    }
    if (act == SW_ACT_SOFTMAX)
        softmax_rows(y, n, k);
}

int sw_model_infer(sw_model_t *m, const float *in, size_t n, float *out)
{
    if (n == 0 || n > m->max_batch)
        return -EINVAL;
    const float *x = in;
    for (size_t i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layers[i];
        float *y = i + 1 == m->n_layers ? out : m->work[i % 2];
        /* Small batches as matrix-vector products: sgemm repacks the whole weight matrix
         * on every call, which costs more than the arithmetic for a single row. */
        if (n <= GEMV_MAX_ROWS) {
            for (size_t r = 0; r < n; r++)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)l->out, (int)l->in, 1.0f, l->w,
                            (int)l->in, x + r * l->in, 1, 0.0f, y + r * l->out, 1);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)l->out, (int)l->in,
                        1.0f, x, (int)l->in, l->w, (int)l->in, 0.0f, y, (int)l->out);
        }
        sw__model_bias_act(y, l->b, n, l->out, l->act);
        x = y;
    }
    return 0;
}
