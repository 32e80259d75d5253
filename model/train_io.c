/* Turning a trainer's weights into a model file or engine, and scoring an engine on a set. */
#include "model/train.h"

#include <stdlib.h>

#include "model/model_internal.h"

static sw_model_desc_t describe(const sw_trainer_t *t, sw_layer_desc_t *ls, const char *name,
                                uint32_t version, const char *const *labels, size_t n_labels)
{
    return (sw_model_desc_t){.name = name,
                             .version = version,
                             .input_name = "pixels",
                             .output_name = "probabilities",
                             .labels = labels,
                             .n_labels = n_labels,
                             .layers = ls,
                             .n_layers = sw__trainer_layers(t, ls)};
}

int sw_trainer_save(const sw_trainer_t *t, const char *path, const char *name, uint32_t version,
                    const char *const *labels, size_t n_labels, char *errbuf, size_t errlen)
{
    sw_layer_desc_t ls[SW_TRAIN_MAX_HIDDEN + 1];
    sw_model_desc_t d = describe(t, ls, name, version, labels, n_labels);
    return sw_model_save(path, &d, errbuf, errlen);
}

int sw_trainer_to_model(const sw_trainer_t *t, unsigned max_batch, sw_model_t **out, char *errbuf,
                        size_t errlen)
{
    sw_layer_desc_t ls[SW_TRAIN_MAX_HIDDEN + 1];
    sw_model_desc_t d = describe(t, ls, "trainer", 0, NULL, 0);
    return sw_model_create(&d, max_batch, "trainer", out, errbuf, errlen);
}

double sw_model_accuracy(sw_model_t *m, const sw_idx_set_t *set)
{
    size_t in = sw_model_input_size(m), k = sw_model_output_size(m);
    size_t mb = sw_model_max_batch(m);
    if (set->rows * set->cols != in)
        return -1.0;
    if (set->n == 0)
        return 0.0;
    float *x = sw_malloc(mb * in * sizeof(float));
    float *y = sw_malloc(mb * k * sizeof(float));
    size_t correct = 0;
    for (size_t start = 0; start < set->n; start += mb) {
        size_t b = SW_MIN(mb, set->n - start);
        const uint8_t *px = set->pixels + start * in;
        for (size_t i = 0; i < b * in; i++)
            x[i] = (float)px[i] * (1.0f / 255.0f);
        if (sw_model_infer(m, x, b, y) < 0)
            abort(); /* b is within max_batch by construction */
        for (size_t r = 0; r < b; r++) {
            size_t best = 0;
            for (size_t j = 1; j < k; j++)
                best = y[r * k + j] > y[r * k + best] ? j : best;
            correct += best == set->labels[start + r];
        }
    }
    sw_free(x);
    sw_free(y);
    return (double)correct / (double)set->n;
}
