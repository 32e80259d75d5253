/* A batched MLP inference engine on OpenBLAS: dense layers with ReLU and a softmax output,
 * the whole batch in one sgemm per layer, weights 64-byte aligned, no allocation per call.
 * Models are read from the protobuf model file defined in proto/model.proto.
 *
 * Threading: a sw_model_t holds its own workspace, so one model serves one thread at a
 * time; a worker with N compute threads loads N models or serialises calls. */
#ifndef SW_MODEL_MODEL_H
#define SW_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct sw_model sw_model_t;

/* Reads a model file: a regular file of at most SW_FILE_MAX_MODEL_BYTES (common/file.h).
 * Returns 0 and *out (free with sw_model_destroy), or a negative error with a message
 * naming the file: -errno when it cannot be opened or is not a regular file (-EISDIR,
 * -EINVAL for a device or FIFO, -EFBIG too large); SW_EPARSE when it is empty, truncated,
 * not a spillway model file, has inconsistent shapes or a NaN or infinite weight;
 * SW_EUNSUPPORTED for another format version; -EINVAL when max_batch rows of its widest
 * layer exceed the workspace limit. max_batch sizes the workspace (>= 1). */
int sw_model_load(const char *path, unsigned max_batch, sw_model_t **out, char *errbuf,
                  size_t errlen) SW_MUST_USE;
void sw_model_destroy(sw_model_t *m);

size_t sw_model_input_size(const sw_model_t *m);  /* floats per request (784 for the demo) */
size_t sw_model_output_size(const sw_model_t *m); /* floats per answer (10 class scores) */
unsigned sw_model_max_batch(const sw_model_t *m);
const char *sw_model_name(const sw_model_t *m);
uint32_t sw_model_version(const sw_model_t *m);
/* Class label i, or NULL. */
const char *sw_model_label(const sw_model_t *m, size_t i);

/* Runs n <= max_batch requests: in holds n x input_size floats (row-major), out receives
 * n x output_size softmax probabilities. Returns 0 or -EINVAL (n out of range). */
int sw_model_infer(sw_model_t *m, const float *in, size_t n, float *out) SW_MUST_USE;

/* Activation after a dense layer. Values match proto/model.proto's Activation. */
typedef enum { SW_ACT_NONE = 0, SW_ACT_RELU = 1, SW_ACT_SOFTMAX = 2 } sw_act_t;

/* One dense layer, y = act(x W^T + b), as a caller holds it: weights are outputs x inputs,
 * row-major (row o holds the weights into output o), bias has `outputs` floats. */
typedef struct sw_layer_desc {
    size_t inputs, outputs;
    const float *weights;
    const float *bias;
    sw_act_t act;
} sw_layer_desc_t;

/* A whole model as a caller holds it; every pointer is borrowed. Hidden layers use ReLU or
 * no activation, the last layer softmax. labels may be NULL (n_labels 0) or one per output. */
typedef struct sw_model_desc {
    const char *name;
    uint32_t version;
    const char *input_name, *output_name;
    const char *const *labels;
    size_t n_labels;
    const sw_layer_desc_t *layers;
    size_t n_layers;
} sw_model_desc_t;

/* Builds a model from an in-memory description (copies everything), with the same checks
 * as sw_model_load (shapes, finite weights, workspace); `what` names the source in error
 * messages. Returns 0 and *out, or a
 * negative error with a message in errbuf. */
int sw_model_create(const sw_model_desc_t *d, unsigned max_batch, const char *what,
                    sw_model_t **out, char *errbuf, size_t errlen) SW_MUST_USE;

/* Checks `d` and writes it as a model file at `path` (replaced atomically through a
 * temporary file). Returns 0 or a negative error with a message naming the file. */
int sw_model_save(const char *path, const sw_model_desc_t *d, char *errbuf,
                  size_t errlen) SW_MUST_USE;

/* Layer shapes, for benchmarks (FLOP counts) and tests. */
size_t sw_model_n_layers(const sw_model_t *m);
void sw_model_layer_shape(const sw_model_t *m, size_t i, size_t *inputs, size_t *outputs);

#endif
