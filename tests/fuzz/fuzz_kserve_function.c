/* Fuzz target: an invocation of the function runtime (`spillway function`,
 * cli/cmd_function.c), whose event is a KServe v2 request body. The runtime collects the
 * Runtime API's answer into a NUL-terminated buffer and parses it for its model (784
 * inputs, --max-batch 64), runs the model and formats the KServe response, or formats an
 * error body; this does the same with a 784-10 model. The response it formats must read
 * back, through the client's parser, as the outputs it holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "serving/kserve.h"
#include "tests/fuzz/fuzz_util.h"

#define INPUTS 784
#define OUTPUTS 10
#define MAX_BATCH 64

static sw_model_t *model;
static sw_srv_kserve_req_t req;
static sw_srv_kserve_buf_t resp;
static float out[MAX_BATCH * OUTPUTS], back[MAX_BATCH * OUTPUTS];

void sw_fuzz_setup(void)
{
    /* One softmax layer with small distinct weights: cheap, and every output depends on
     * every input. */
    static float w[OUTPUTS * INPUTS], b[OUTPUTS];
    for (size_t i = 0; i < SW_ARRAY_LEN(w); i++)
        w[i] = (float)((int)(i % 7) - 3) / 64.0f;
    sw_layer_desc_t layer = {
        .inputs = INPUTS, .outputs = OUTPUTS, .weights = w, .bias = b, .act = SW_ACT_SOFTMAX};
    sw_model_desc_t d = {.name = "fashion-mlp",
                         .version = 1,
                         .input_name = "input",
                         .output_name = "output",
                         .layers = &layer,
                         .n_layers = 1};
    char err[256];
    if (sw_model_create(&d, MAX_BATCH, "fuzz", &model, err, sizeof(err)) != 0)
        abort();
    sw_srv_kserve_req_init(&req);
    sw_srv_kserve_buf_init(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = sw_fuzz_strndup(data, size);
    char err[512];
    int rc = sw_srv_kserve_parse_request(body, size, INPUTS, MAX_BATCH, &req, err, sizeof(err));
    if (rc != 0) {
        sw_srv_kserve_format_error(err, &resp);
        sw_free(body);
        return 0;
    }
    if (sw_model_infer(model, req.data, req.n, out) != 0)
        abort();
    sw_srv_kserve_reply_t reply = {.model_name = sw_model_name(model),
                                   .model_version = sw_model_version(model),
                                   .id = req.id,
                                   .n = req.n,
                                   .output_size = OUTPUTS,
                                   .data = out};
    sw_srv_kserve_format_response(&reply, &resp);
    if (sw_srv_kserve_parse_response(resp.data, resp.len, OUTPUTS, req.n, back, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "fuzz: our own response does not parse: %s\n%s\n", err, resp.data);
        abort();
    }
    for (size_t i = 0; i < req.n * OUTPUTS; i++) {
        /* %.9g reads back as the same float; a NaN (non-finite input) is written null. */
        if (isfinite(out[i]) && back[i] != out[i]) {
            fprintf(stderr, "fuzz: output %zu was %.9g, reads back as %.9g\n", i, out[i], back[i]);
            abort();
        }
    }
    sw_free(body);
    return 0;
}
