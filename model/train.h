/* Trains the demo classifier: an MLP (dense + ReLU hidden layers, softmax output) with
 * minibatch Adam on softmax cross-entropy, every matrix product an OpenBLAS sgemm. Runs
 * are a function of the seed: He initialisation and per-epoch shuffling draw from an
 * sw_rng_t seeded from it (OpenBLAS's threaded sgemm may still differ in the last bits). */
#ifndef SW_MODEL_TRAIN_H
#define SW_MODEL_TRAIN_H

#include "model/idx.h"
#include "model/model.h"

#define SW_TRAIN_MAX_HIDDEN 4

typedef struct sw_train_opts {
    size_t n_hidden;                    /* hidden layers (0..SW_TRAIN_MAX_HIDDEN) */
    size_t hidden[SW_TRAIN_MAX_HIDDEN]; /* their widths */
    size_t batch;                       /* minibatch size */
    float lr;                           /* Adam step size */
    uint64_t seed;
} sw_train_opts_t;

/* The demo network: 784-256-128-10 shape (hidden 256, 128), batch 64, lr 1e-3, seed 1. */
sw_train_opts_t sw_train_default_opts(void);

typedef struct sw_trainer sw_trainer_t;

/* A trainer for `inputs` features and `classes` classes with freshly initialised weights.
 * Returns NULL if the options are out of range. Free with sw_trainer_destroy. One thread. */
sw_trainer_t *sw_trainer_create(size_t inputs, size_t classes, const sw_train_opts_t *o);
void sw_trainer_destroy(sw_trainer_t *t);

/* One pass over the first `limit` examples of `set` (0: all) in a fresh shuffled order.
 * Pixels are scaled to [0, 1]. Returns the mean cross-entropy loss, or -1 if the set does
 * not fit the trainer (image size, a label >= classes). */
double sw_trainer_epoch(sw_trainer_t *t, const sw_idx_set_t *set, size_t limit);

/* Writes the current weights as a model file (see sw_model_save). */
int sw_trainer_save(const sw_trainer_t *t, const char *path, const char *name, uint32_t version,
                    const char *const *labels, size_t n_labels, char *errbuf,
                    size_t errlen) SW_MUST_USE;
/* Builds an inference model from the current weights. */
int sw_trainer_to_model(const sw_trainer_t *t, unsigned max_batch, sw_model_t **out, char *errbuf,
                        size_t errlen) SW_MUST_USE;

/* Fraction of `set` that `m` classifies correctly (argmax), pixels scaled to [0, 1];
 * -1 if the image size does not match the model's input. */
double sw_model_accuracy(sw_model_t *m, const sw_idx_set_t *set);

/* Fashion-MNIST's ten class names, in label order. */
extern const char *const sw_fashion_labels[10];

#endif
