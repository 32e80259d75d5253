/* Inference engine throughput: GFLOP/s of sw_model_infer on a 784-256-128-10 MLP at batch
 * 1..128, beside single-threaded OpenBLAS sgemm measured in the same run (a large square
 * product as the machine's peak, and the first layer's own shape at batch 64).
 *
 *   model_bench [--model FILE] [--threads N]
 *
 * Without --model it builds the network from random weights: the arithmetic does not
 * depend on the values. FLOPs count 2 * in * out per layer per row; bias, ReLU and softmax
 * are done but not counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "common/rng.h"
#include "model/model.h"

void openblas_set_num_threads(int num_threads);

#define MIN_SECONDS 0.3

static float *rand_floats(sw_rng_t *rng, size_t n, double scale)
{
    float *x = sw_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((sw_rng_uniform(rng) - 0.5) * scale);
    return x;
}

static sw_model_t *random_model(sw_rng_t *rng, unsigned max_batch)
{
    static const size_t dims[] = {784, 256, 128, 10};
    sw_layer_desc_t l[3];
    float *w[3], *b[3];
    for (int i = 0; i < 3; i++) {
        w[i] = rand_floats(rng, dims[i] * dims[i + 1], 0.1);
        b[i] = rand_floats(rng, dims[i + 1], 0.1);
        l[i] = (sw_layer_desc_t){dims[i], dims[i + 1], w[i], b[i],
                                 i == 2 ? SW_ACT_SOFTMAX : SW_ACT_RELU};
    }
    sw_model_desc_t d = {.name = "bench", .layers = l, .n_layers = 3};
    sw_model_t *m = NULL;
    char err[256];
    if (sw_model_create(&d, max_batch, "bench", &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "model_bench: %s\n", err);
        exit(1);
    }
    for (int i = 0; i < 3; i++) {
        sw_free(w[i]);
        sw_free(b[i]);
    }
    return m;
}

/* C[m x n] = A[m x k] * B[n x k]^T, the engine's layout; returns GFLOP/s (best of runs). */
static double sgemm_gflops(sw_rng_t *rng, int m, int n, int k)
{
    float *a = rand_floats(rng, (size_t)m * k, 1), *b = rand_floats(rng, (size_t)n * k, 1);
    float *c = sw_calloc((size_t)m * n, sizeof(float));
    double best = 1e30, spent = 0;
    long reps = 0;
    while (spent < MIN_SECONDS || reps < 3) {
        sw_time_t t0 = sw_clock_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
        double s = sw_time_to_s(sw_clock_now() - t0);
        best = s < best ? s : best;
        spent += s;
        reps++;
    }
    sw_free(a);
    sw_free(b);
    sw_free(c);
    return 2.0 * m * n * (double)k / best / 1e9;
}

/* Mean time per call over batches of calls, the best of several batches. */
static double infer_seconds(sw_model_t *m, const float *in, float *out, size_t batch)
{
    double best = 1e30, spent = 0;
    int rounds = 0;
    while (spent < MIN_SECONDS || rounds < 5) {
        const int calls = 20;
        sw_time_t t0 = sw_clock_now();
        for (int i = 0; i < calls; i++)
            if (sw_model_infer(m, in, batch, out) < 0)
                exit(1);
        double s = sw_time_to_s(sw_clock_now() - t0);
        best = s / calls < best ? s / calls : best;
        spent += s;
        rounds++;
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--model") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
    }
    openblas_set_num_threads(threads);
    sw_rng_t rng;
    sw_rng_init(&rng, 42);
    const unsigned max_batch = 128;
    sw_model_t *m = NULL;
    char err[1024];
    if (path && sw_model_load(path, max_batch, &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "model_bench: %s\n", err);
        return 1;
    }
    if (!m)
        m = random_model(&rng, max_batch);
    double flops_row = 0;
    size_t in0 = 0, out0 = 0;
    for (size_t i = 0; i < sw_model_n_layers(m); i++) {
        size_t in, out;
        sw_model_layer_shape(m, i, &in, &out);
        flops_row += 2.0 * (double)in * (double)out;
        if (i == 0) {
            in0 = in;
            out0 = out;
        }
    }
    double peak = sgemm_gflops(&rng, 1024, 1024, 1024);
    double layer1 = sgemm_gflops(&rng, 64, (int)out0, (int)in0);
    printf("OpenBLAS threads: %d\n", threads);
    printf("sgemm 1024x1024x1024 (peak):        %7.1f GFLOP/s\n", peak);
    printf("sgemm 64x%zux%zu (layer 1, b=64):  %7.1f GFLOP/s  %5.1f %% of peak\n\n", out0, in0,
           layer1, 100 * layer1 / peak);
    printf("%6s %12s %10s %10s %12s\n", "batch", "latency_us", "GFLOP/s", "%peak", "rows/s");
    float *in = rand_floats(&rng, (size_t)max_batch * sw_model_input_size(m), 2);
    float *out = sw_malloc((size_t)max_batch * sw_model_output_size(m) * sizeof(float));
    static const size_t batches[] = {1, 8, 32, 64, 128};
    for (size_t i = 0; i < SW_ARRAY_LEN(batches); i++) {
        size_t b = batches[i];
        double s = infer_seconds(m, in, out, b);
        double gf = flops_row * (double)b / s / 1e9;
        printf("%6zu %12.1f %10.1f %9.1f%% %12.0f\n", b, s * 1e6, gf, 100 * gf / peak,
               (double)b / s);
    }
    sw_free(in);
    sw_free(out);
    sw_model_destroy(m);
    return 0;
}
