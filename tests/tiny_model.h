/* The 3-2-2 network the worker, function and KServe tests share (tests/model/test_model.c
 * checks its arithmetic by hand): W1 = [[1,-1,0.5],[0,2,-1]], b1 = [0.5,-1], ReLU;
 * W2 = [[2,0],[1,1]], b2 = [0,0.5], softmax. Header-only: each test binary gets its own
 * copy of these constants. */
#ifndef SW_TESTS_TINY_MODEL_H
#define SW_TESTS_TINY_MODEL_H

#include "model/model.h"

static const float tiny_w1[] = {1, -1, 0.5f, 0, 2, -1}, tiny_b1[] = {0.5f, -1};
static const float tiny_w2[] = {2, 0, 1, 1}, tiny_b2[] = {0, 0.5f};
static const sw_layer_desc_t tiny_layers[] = {
    {.inputs = 3, .outputs = 2, .weights = tiny_w1, .bias = tiny_b1, .act = SW_ACT_RELU},
    {.inputs = 2, .outputs = 2, .weights = tiny_w2, .bias = tiny_b2, .act = SW_ACT_SOFTMAX}};
static const sw_model_desc_t tiny = {.name = "tiny",
                                     .version = 7,
                                     .input_name = "x",
                                     .output_name = "p",
                                     .layers = tiny_layers,
                                     .n_layers = 2};

#endif
