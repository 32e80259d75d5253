/* Shared inside model/ only: the checks every model source (file, trainer, test) passes. */
#ifndef SW_MODEL_MODEL_INTERNAL_H
#define SW_MODEL_MODEL_INTERNAL_H

#include <stdarg.h>

#include "model/model.h"

/* Limits that keep a hostile file from asking for absurd allocations: 64 layers of up to
 * 2^20 units, 2^28 parameters (1 GiB of floats, more than a model file may hold), and a
 * workspace of max_batch x the widest layer of at most 2^26 floats (256 MiB) per buffer. */
#define SW__MODEL_MAX_LAYERS 64
#define SW__MODEL_MAX_WIDTH (1u << 20)
#define SW__MODEL_MAX_PARAMS (1u << 28)
#define SW__MODEL_MAX_WORK ((uint64_t)1 << 26)

/* Checks the shape chain and activations of `d`; on failure writes "<what>: <reason>". */
int sw__model_check(const sw_model_desc_t *d, const char *what, char *errbuf, size_t errlen);
void sw__model_error(char *errbuf, size_t errlen, const char *fmt, ...) SW_PRINTF(3, 4);
/* y[n x k] += b per row, then the activation in place (softmax over each row). */
void sw__model_bias_act(float *restrict y, const float *restrict b, size_t n, size_t k,
                        sw_act_t act);
/* Views a trainer's current weights as layer descriptions (ls holds n_hidden + 1 entries,
 * borrowed until the trainer's next step). Returns the layer count. */
struct sw_trainer;
size_t sw__trainer_layers(const struct sw_trainer *t, sw_layer_desc_t *ls);

#endif
