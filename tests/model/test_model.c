/* model/: the engine against a network computed by hand, batched against row-by-row, the
 * model file (round trip, truncated, foreign, wrong kind), the IDX reader's errors, and a
 * short training run on Fashion-MNIST. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "common/common.h"
#include "common/rng.h"
#include "model/idx.h"
#include "model/model.h"
#include "model/train.h"
#include "proto/model.pb-c.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sw_model_test.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* 3-2-2: W1 = [[1,-1,0.5],[0,2,-1]], b1 = [0.5,-1], ReLU; W2 = [[2,0],[1,1]], b2 = [0,0.5]. */
static const float w1[] = {1, -1, 0.5f, 0, 2, -1}, b1[] = {0.5f, -1};
static const float w2[] = {2, 0, 1, 1}, b2[] = {0, 0.5f};
static const sw_layer_desc_t tiny_layers[] = {
    {.inputs = 3, .outputs = 2, .weights = w1, .bias = b1, .act = SW_ACT_RELU},
    {.inputs = 2, .outputs = 2, .weights = w2, .bias = b2, .act = SW_ACT_SOFTMAX}};
static const char *const tiny_labels[] = {"yes", "no"};
static const sw_model_desc_t tiny = {.name = "tiny",
                                     .version = 7,
                                     .input_name = "x",
                                     .output_name = "p",
                                     .labels = tiny_labels,
                                     .n_labels = 2,
                                     .layers = tiny_layers,
                                     .n_layers = 2};

static sw_model_t *create(const sw_model_desc_t *d, unsigned max_batch)
{
    sw_model_t *m = NULL;
    char err[512] = "";
    cr_assert_eq(sw_model_create(d, max_batch, "test", &m, err, sizeof(err)), 0, "%s", err);
    return m;
}

Test(model_model, tiny_network_by_hand)
{
    sw_model_t *m = create(&tiny, 4);
    /* x1: z1 = [1, 0] -> logits [2, 1.5]; x2: h = [1.5, 1] -> logits [3, 3];
     * x3: z1 = [1, -2] -> ReLU [1, 0] -> logits [2, 1.5]. */
    const float in[] = {1, 2, 3, 2, 1, 0, 0, 0, 1};
    float out[6];
    cr_assert_eq(sw_model_infer(m, in, 3, out), 0);
    float p0 = 1.0f / (1.0f + expf(-0.5f));
    const float want[] = {p0, 1 - p0, 0.5f, 0.5f, p0, 1 - p0};
    for (int i = 0; i < 6; i++)
        cr_expect_float_eq(out[i], want[i], 1e-6, "out[%d] = %g, want %g", i, out[i], want[i]);
    cr_expect_eq(sw_model_input_size(m), 3);
    cr_expect_eq(sw_model_output_size(m), 2);
    cr_expect_str_eq(sw_model_label(m, 1), "no");
    cr_expect_null(sw_model_label(m, 2));
    cr_expect_eq(sw_model_infer(m, in, 0, out), -EINVAL);
    cr_expect_eq(sw_model_infer(m, in, 5, out), -EINVAL);
    sw_model_destroy(m);
}

/* A 784-256-128-10 network with random weights (values in the engine do not matter). */
typedef struct rand_net {
    float *w[3], *b[3];
    sw_layer_desc_t l[3];
    sw_model_desc_t d;
} rand_net_t;

static void rand_net_init(rand_net_t *n, uint64_t seed)
{
    static const size_t dims[] = {784, 256, 128, 10};
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    for (int i = 0; i < 3; i++) {
        size_t in = dims[i], out = dims[i + 1];
        n->w[i] = malloc(in * out * sizeof(float));
        n->b[i] = malloc(out * sizeof(float));
        for (size_t k = 0; k < in * out; k++)
            n->w[i][k] = (float)(sw_rng_normal(&rng) * sqrt(2.0 / (double)in));
        for (size_t k = 0; k < out; k++)
            n->b[i][k] = (float)(0.1 * sw_rng_normal(&rng));
        n->l[i] =
            (sw_layer_desc_t){in, out, n->w[i], n->b[i], i == 2 ? SW_ACT_SOFTMAX : SW_ACT_RELU};
    }
    n->d = (sw_model_desc_t){.name = "rand", .version = 3, .layers = n->l, .n_layers = 3};
}

static void rand_net_deinit(rand_net_t *n)
{
    for (int i = 0; i < 3; i++) {
        free(n->w[i]);
        free(n->b[i]);
    }
}

static float *rand_inputs(size_t n, uint64_t seed)
{
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)sw_rng_uniform(&rng);
    return x;
}

Test(model_model, batched_equals_row_by_row)
{
    rand_net_t net;
    rand_net_init(&net, 11);
    sw_model_t *m = create(&net.d, 64);
    const size_t n = 37;
    float *x = rand_inputs(n * 784, 5);
    float batched[37 * 10], row[10];
    cr_assert_eq(sw_model_infer(m, x, n, batched), 0);
    for (size_t r = 0; r < n; r++) {
        cr_assert_eq(sw_model_infer(m, x + r * 784, 1, row), 0);
        float sum = 0;
        for (int j = 0; j < 10; j++) {
            cr_expect_float_eq(batched[r * 10 + j], row[j], 1e-5, "row %zu class %d", r, j);
            sum += row[j];
        }
        cr_expect_float_eq(sum, 1.0f, 1e-5);
    }
    free(x);
    sw_model_destroy(m);
    rand_net_deinit(&net);
}

Test(model_model, inconsistent_shapes_rejected)
{
    sw_layer_desc_t bad[2] = {tiny_layers[0], tiny_layers[1]};
    bad[1].inputs = 3; /* layer 0 has 2 outputs */
    sw_model_desc_t d = tiny;
    d.layers = bad;
    sw_model_t *m = (sw_model_t *)1;
    char err[512] = "";
    cr_expect_lt(sw_model_create(&d, 1, "shapes", &m, err, sizeof(err)), 0);
    cr_expect_null(m);
    cr_expect(strstr(err, "shapes: inconsistent shapes") != NULL, "%s", err);
    bad[1] = tiny_layers[1];
    bad[1].act = SW_ACT_RELU; /* no softmax at the end */
    cr_expect_lt(sw_model_create(&d, 1, "shapes", &m, err, sizeof(err)), 0);
}

Test(model_file, round_trip, .init = make_tmpdir, .fini = remove_tmpdir)
{
    rand_net_t net;
    rand_net_init(&net, 12);
    char path[128], err[512] = "";
    tmp_path(path, sizeof(path), "rand.model");
    cr_assert_eq(sw_model_save(path, &net.d, err, sizeof(err)), 0, "%s", err);
    sw_model_t *a = create(&net.d, 8), *b = NULL;
    cr_assert_eq(sw_model_load(path, 8, &b, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(sw_model_name(b), "rand");
    cr_expect_eq(sw_model_version(b), 3);
    float *x = rand_inputs(8 * 784, 6);
    float ya[80], yb[80];
    cr_assert_eq(sw_model_infer(a, x, 8, ya), 0);
    cr_assert_eq(sw_model_infer(b, x, 8, yb), 0);
    cr_expect_arr_eq(ya, yb, sizeof(ya));
    free(x);
    sw_model_destroy(a);
    sw_model_destroy(b);
    rand_net_deinit(&net);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    void *buf = malloc(*len);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void expect_load_error(const char *path, const char *needle)
{
    sw_model_t *m = (sw_model_t *)1;
    char err[512] = "";
    cr_expect_lt(sw_model_load(path, 4, &m, err, sizeof(err)), 0, "%s loaded", path);
    cr_expect_null(m);
    cr_expect(strstr(err, path) == err, "error does not start with the file name: %s", err);
    cr_expect(strstr(err, needle) != NULL, "want '%s' in: %s", needle, err);
}

Test(model_file, truncated_file, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128], cut[128], err[512] = "";
    tmp_path(path, sizeof(path), "tiny.model");
    tmp_path(cut, sizeof(cut), "cut.model");
    cr_assert_eq(sw_model_save(path, &tiny, err, sizeof(err)), 0, "%s", err);
    size_t len;
    uint8_t *buf = read_bytes(path, &len);
    /* Every proper prefix must fail cleanly, whichever field it cuts through. */
    for (size_t n = 1; n < len; n++) {
        write_bytes(cut, buf, n);
        expect_load_error(cut, "");
    }
    write_bytes(cut, buf, len / 2);
    expect_load_error(cut, "truncated");
    write_bytes(cut, buf, 0);
    expect_load_error(cut, "empty");
    free(buf);
}

Test(model_file, foreign_and_missing, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    tmp_path(path, sizeof(path), "random.bin");
    uint8_t junk[4096];
    sw_rng_t rng;
    sw_rng_init(&rng, 99);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)sw_rng_u64(&rng);
    write_bytes(path, junk, sizeof(junk));
    expect_load_error(path, "not a spillway model file");
    tmp_path(path, sizeof(path), "missing.model");
    expect_load_error(path, "No such file or directory");
}

static void write_msg(const char *path, const Spillway__ModelFile *mf)
{
    size_t len = spillway__model_file__get_packed_size(mf);
    uint8_t *buf = malloc(len + 1);
    spillway__model_file__pack(mf, buf);
    write_bytes(path, buf, len);
    free(buf);
}

Test(model_file, wrong_kind_and_version, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    tmp_path(path, sizeof(path), "kind.model");
    Spillway__ModelFile mf = SPILLWAY__MODEL_FILE__INIT;
    mf.kind = "spillway.forecaster";
    mf.format_version = 1;
    write_msg(path, &mf);
    expect_load_error(path, "not a spillway model file (kind 'spillway.forecaster')");
    mf.kind = "spillway.model";
    mf.format_version = 99;
    write_msg(path, &mf);
    expect_load_error(path, "unsupported model format_version 99");
    mf.format_version = 1;
    write_msg(path, &mf); /* no layers */
    expect_load_error(path, "inconsistent shapes");
}

Test(model_file, weight_count_mismatch, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    tmp_path(path, sizeof(path), "count.model");
    float w[5] = {0}, b[2] = {0};
    Spillway__Layer l = SPILLWAY__LAYER__INIT, *lp = &l;
    l.inputs = 3;
    l.outputs = 2;
    l.n_weights = 5; /* 3 x 2 expected */
    l.weights = w;
    l.n_bias = 2;
    l.bias = b;
    l.activation = SPILLWAY__ACTIVATION__ACTIVATION_SOFTMAX;
    Spillway__ModelFile mf = SPILLWAY__MODEL_FILE__INIT;
    mf.kind = "spillway.model";
    mf.format_version = 1;
    mf.n_layers = 1;
    mf.layers = &lp;
    write_msg(path, &mf);
    expect_load_error(path, "layer 0 (3 -> 2) has 5 weights and 2 biases, where its shape "
                            "needs 6 and 2");
}

/* tiny, with layers (copied) that the caller may spoil, as a message. */
typedef struct tiny_msg {
    float w[2][6], b[2][2];
    Spillway__Layer l[2], *lp[2];
    Spillway__ModelFile mf;
} tiny_msg_t;

static void tiny_msg_init(tiny_msg_t *t)
{
    t->mf = (Spillway__ModelFile)SPILLWAY__MODEL_FILE__INIT;
    t->mf.kind = "spillway.model";
    t->mf.format_version = 1;
    t->mf.n_layers = 2;
    t->mf.layers = t->lp;
    for (int i = 0; i < 2; i++) {
        const sw_layer_desc_t *d = &tiny_layers[i];
        spillway__layer__init(&t->l[i]);
        memcpy(t->w[i], d->weights, d->inputs * d->outputs * sizeof(float));
        memcpy(t->b[i], d->bias, d->outputs * sizeof(float));
        t->l[i].inputs = (uint32_t)d->inputs;
        t->l[i].outputs = (uint32_t)d->outputs;
        t->l[i].n_weights = d->inputs * d->outputs;
        t->l[i].weights = t->w[i];
        t->l[i].n_bias = d->outputs;
        t->l[i].bias = t->b[i];
        t->l[i].activation = (Spillway__Activation)d->act;
        t->lp[i] = &t->l[i];
    }
}

/* Issue 10: a model with NaN or infinite weights loaded, and `model eval` scored it (every
 * score NaN, argmax a fixed class) as if it were sound. Refused by layer and position. */
Test(model_file, non_finite_weights_are_refused_by_name, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128];
    tmp_path(path, sizeof(path), "nan.model");
    tiny_msg_t t;
    tiny_msg_init(&t);
    t.w[0][4] = NAN;
    write_msg(path, &t.mf);
    expect_load_error(path, "layer 0: weight [1, 1] is nan: a model with non-finite weights "
                            "cannot be served");
    tiny_msg_init(&t);
    t.b[1][1] = -INFINITY;
    write_msg(path, &t.mf);
    expect_load_error(path, "layer 1: bias [1] is -inf");
    /* The trainer's path checks the same, so no such file is ever written. */
    sw_layer_desc_t ls[2] = {tiny_layers[0], tiny_layers[1]};
    float w[6];
    memcpy(w, w1, sizeof(w));
    w[0] = INFINITY;
    ls[0].weights = w;
    sw_model_desc_t d = tiny;
    d.layers = ls;
    char err[512] = "";
    cr_expect_eq(sw_model_save(path, &d, err, sizeof(err)), SW_EPARSE);
    cr_expect(strstr(err, "layer 0: weight [0, 0] is inf"), "%s", err);
}

/* Sizes that would ask for gigabytes are refused from the header fields, before any array
 * is allocated or indexed. */
Test(model_file, absurd_sizes_are_refused_before_allocating, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    char path[128];
    tmp_path(path, sizeof(path), "big.model");
    tiny_msg_t t;
    tiny_msg_init(&t);
    t.l[0].inputs = 1u << 20; /* a billion weights claimed, none given */
    t.l[0].outputs = 1u << 10;
    t.l[1].inputs = 1u << 10;
    write_msg(path, &t.mf);
    expect_load_error(path, "layer 0 (1048576 -> 1024): 1073742848 parameters up to this "
                            "layer, more than the 268435456 allowed");
    tiny_msg_init(&t);
    t.l[1].outputs = UINT32_MAX;
    write_msg(path, &t.mf);
    expect_load_error(path, "layer 1 (2 -> 4294967295): a size is 0 or more than 1048576");
    tiny_msg_init(&t);
    t.l[1].activation = (Spillway__Activation)77;
    write_msg(path, &t.mf);
    expect_load_error(path, "softmax must be the last layer's activation");
}

/* A folder, a device or a FIFO is refused by what it is (a folder used to fail as an
 * "Input/output error"), and a FIFO without blocking. */
Test(model_file, paths_that_are_not_regular_files, .init = make_tmpdir, .fini = remove_tmpdir,
     .timeout = 10)
{
    char fifo[128];
    tmp_path(fifo, sizeof(fifo), "fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_load_error(tmpdir, "is a directory, not a model file");
    expect_load_error("/dev/zero", "is not a regular file (a device, FIFO or socket)");
    expect_load_error(fifo, "is not a regular file (a device, FIFO or socket)");
}

/* A megabyte of empty Layer submessages decodes to about 48 megabytes of structs
 * before the layer count can be checked; the decode budget stops it. */
Test(model_file, file_that_decodes_to_far_more_than_its_size, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    char path[128];
    tmp_path(path, sizeof(path), "flood.model");
    size_t n = 1 << 20;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i += 2) {
        buf[i] = 0x42; /* field 8 (layers), length-delimited */
        buf[i + 1] = 0;
    }
    write_bytes(path, buf, n);
    free(buf);
    expect_load_error(path, "its 1048576 bytes decode to more than 3145728 bytes of messages");
}

/* max_batch rows of the widest layer: 128 x 2^20 floats would be 512 MiB per buffer. */
Test(model_model, workspace_beyond_the_limit_is_refused)
{
    size_t wide = 1u << 20;
    float *w = calloc(wide * 2, sizeof(float)), b[2] = {0, 0};
    sw_layer_desc_t l = {
        .inputs = wide, .outputs = 2, .weights = w, .bias = b, .act = SW_ACT_SOFTMAX};
    sw_model_desc_t d = {.name = "wide", .layers = &l, .n_layers = 1};
    sw_model_t *m = (sw_model_t *)1;
    char err[512] = "";
    cr_expect_eq(sw_model_create(&d, 128, "wide", &m, err, sizeof(err)), -EINVAL);
    cr_expect_null(m);
    cr_expect(strstr(err, "wide: a batch of 128 rows of 1048576 values (its widest layer) "
                          "needs more than the 67108864 values of workspace allowed"),
              "%s", err);
    cr_expect_eq(sw_model_create(&d, 16, "wide", &m, err, sizeof(err)), 0, "%s", err);
    sw_model_destroy(m);
    free(w);
}

/* Writes a gzip IDX file: magic, dims, then `len` bytes of payload (which may be short). */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndims,
                      const uint8_t *payload, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    uint8_t hdr[16];
    uint32_t words[4] = {magic};
    for (int i = 0; i < ndims; i++)
        words[i + 1] = dims[i];
    for (int i = 0; i <= ndims; i++)
        for (int k = 0; k < 4; k++)
            hdr[4 * i + k] = (uint8_t)(words[i] >> (24 - 8 * k));
    cr_assert_eq(gzwrite(gz, hdr, 4u * (unsigned)(ndims + 1)), 4 * (ndims + 1));
    if (len)
        cr_assert_eq(gzwrite(gz, payload, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(gz), Z_OK);
}

static uint8_t pixels[5 * 2 * 3], labels[5] = {0, 1, 2, 1, 0};

static void write_pair(const char *img, const char *lab, uint32_t n_img, size_t img_bytes,
                       uint32_t n_lab)
{
    const uint32_t d3[] = {n_img, 2, 3}, d1[] = {n_lab};
    for (size_t i = 0; i < sizeof(pixels); i++)
        pixels[i] = (uint8_t)(i * 7);
    write_idx(img, 0x803, d3, 3, pixels, img_bytes);
    write_idx(lab, 0x801, d1, 1, labels, n_lab);
}

static void expect_idx_error(const char *img, const char *lab, const char *named,
                             const char *needle)
{
    sw_idx_set_t set;
    char err[1024] = "";
    cr_expect_lt(sw_idx_load(&set, img, lab, err, sizeof(err)), 0);
    cr_expect(strstr(err, named) == err, "error does not start with %s: %s", named, err);
    cr_expect(strstr(err, needle) != NULL, "want '%s' in: %s", needle, err);
    cr_expect_null(set.pixels);
}

Test(model_idx, reads_a_pair, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char img[128], lab[128], err[512] = "";
    tmp_path(img, sizeof(img), "img.gz");
    tmp_path(lab, sizeof(lab), "lab.gz");
    write_pair(img, lab, 5, sizeof(pixels), 5);
    sw_idx_set_t set;
    cr_assert_eq(sw_idx_load(&set, img, lab, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(set.n, 5);
    cr_expect_eq(set.rows, 2);
    cr_expect_eq(set.cols, 3);
    cr_expect_eq(set.n_classes, 3);
    cr_expect_arr_eq(set.pixels, pixels, sizeof(pixels));
    cr_expect_arr_eq(set.labels, labels, sizeof(labels));
    sw_idx_deinit(&set);
}

Test(model_idx, wrong_magic, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char img[128], lab[128];
    tmp_path(img, sizeof(img), "img.gz");
    tmp_path(lab, sizeof(lab), "lab.gz");
    write_pair(img, lab, 5, sizeof(pixels), 5);
    expect_idx_error(lab, img, lab, "wrong IDX magic 0x00000801"); /* swapped */
}

Test(model_idx, truncated, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char img[128], lab[128];
    tmp_path(img, sizeof(img), "img.gz");
    tmp_path(lab, sizeof(lab), "lab.gz");
    write_pair(img, lab, 5, sizeof(pixels) - 4, 5);
    expect_idx_error(img, lab, img, "truncated");
    write_idx(img, 0x803, NULL, 0, NULL, 0); /* magic only, no dimensions */
    expect_idx_error(img, lab, img, "truncated IDX header");
}

Test(model_idx, mismatched_counts, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char img[128], lab[128];
    tmp_path(img, sizeof(img), "img.gz");
    tmp_path(lab, sizeof(lab), "lab.gz");
    write_pair(img, lab, 5, sizeof(pixels), 4);
    expect_idx_error(img, lab, lab, "4 labels, but");
}

/* A header that promises 784 MB (the 30 bytes that follow are all there is) fails as
 * truncated, having allocated as the data arrived rather than what was promised; one
 * whose dimensions multiply past 2^64 is refused from the header alone. */
Test(model_idx, header_promises_are_not_allocated, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char img[128], lab[128];
    tmp_path(img, sizeof(img), "img.gz");
    tmp_path(lab, sizeof(lab), "lab.gz");
    write_pair(img, lab, 5, sizeof(pixels), 5);
    const uint32_t big[] = {1000000, 28, 28}, huge[] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
    write_idx(img, 0x803, big, 3, pixels, sizeof(pixels));
    expect_idx_error(img, lab, img, "truncated: header promises 784000000 data bytes");
    write_idx(img, 0x803, huge, 3, pixels, sizeof(pixels));
    expect_idx_error(img, lab, img, "implausible IDX dimensions: more than 1073741824 bytes");
}

/* The data folder's files must be regular files: a folder in their place used to read as
 * "truncated IDX header (empty or not IDX)", and a FIFO blocked. */
Test(model_idx, paths_that_are_not_regular_files, .init = make_tmpdir, .fini = remove_tmpdir,
     .timeout = 10)
{
    char img[128], lab[128], fifo[128];
    tmp_path(img, sizeof(img), "img.gz");
    tmp_path(lab, sizeof(lab), "lab.gz");
    tmp_path(fifo, sizeof(fifo), "fifo");
    write_pair(img, lab, 5, sizeof(pixels), 5);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_idx_error(tmpdir, lab, tmpdir, "is a directory, not a gzip IDX file");
    expect_idx_error(img, fifo, fifo, "is not a regular file (a device, FIFO or socket)");
    expect_idx_error(img, "/dev/zero", "/dev/zero", "is not a regular file");
}

/* One epoch on the first 10,000 training images: a smoke test that the gradients are right
 * (a wrong sign or transpose stays near 10 %). The full run's figure is in bench/README.md. */
Test(model_train, short_run_learns, .timeout = 120)
{
    /* Fails rather than skips: a suite that passes without its data proves nothing. */
    cr_assert_eq(access(FASHION_DIR "/train-images-idx3-ubyte.gz", R_OK), 0,
                 "%s/train-images-idx3-ubyte.gz is missing: scripts/install-deps.sh installs "
                 "Debian's dataset-fashion-mnist",
                 FASHION_DIR);
    sw_idx_set_t train, test;
    char err[1024] = "";
    cr_assert_eq(sw_idx_load_split(&train, FASHION_DIR, true, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_idx_load_split(&test, FASHION_DIR, false, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(train.n, 60000);
    cr_assert_eq(test.n, 10000);
    sw_train_opts_t o = sw_train_default_opts();
    sw_trainer_t *t = sw_trainer_create(784, 10, &o);
    cr_assert_not_null(t);
    double loss = sw_trainer_epoch(t, &train, 10000);
    cr_expect(loss > 0 && loss < 1.0, "loss %g", loss);
    sw_model_t *m;
    cr_assert_eq(sw_trainer_to_model(t, 128, &m, err, sizeof(err)), 0, "%s", err);
    double acc = sw_model_accuracy(m, &test);
    cr_log_info("1 epoch on 10k images: loss %.4f test accuracy %.2f %%", loss, 100 * acc);
    cr_expect_gt(acc, 0.75, "accuracy %g", acc);
    sw_model_destroy(m);
    sw_trainer_destroy(t);
    sw_idx_deinit(&train);
    sw_idx_deinit(&test);
}
