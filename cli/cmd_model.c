/* `spillway model`: train the demo Fashion-MNIST classifier, score a model file on the
 * 10,000 test images, or print test images as a KServe v2 request to send to serve.
 *
 *   spillway model train --data DIR --out FILE [--seed N] [--epochs N] [--limit N]
 *   spillway model eval  --model FILE --data DIR
 *   spillway model sample [--data DIR] [--index N] [--rows K] */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/idx.h"
#include "model/model.h"
#include "model/train.h"
#include "serving/kserve.h"
#include "cli/cli.h"
#include "cli/fashion.h"

#define DEFAULT_EPOCHS 10
/* A sample is for trying serve by hand; a larger one is a load test (spillway loadgen). */
#define SAMPLE_MAX_ROWS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway model train [--data DIR] --out FILE [--seed N] [--epochs N]\n"
            "       spillway model eval  --model FILE [--data DIR]\n"
            "       spillway model sample [--data DIR] [--index N] [--rows K]\n\n"
            "train fits a 784-256-128-10 MLP with Adam on Fashion-MNIST and writes a model\n"
            "file; eval prints a model's accuracy on the 10,000 test images; sample prints\n"
            "test images N..N+K-1 as a KServe v2 inference request body (pixels / 255,\n"
            "FP32, shape [K, 784]) to stdout, and their labels to stderr.\n\n"
            "  --data DIR     folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz\n"
            "                 (default: " SW_CLI_FASHION_DIR ")\n"
            "  --out FILE     train: where to write the model file\n"
            "  --model FILE   eval: the model file to score\n"
            "  --seed N       train: initialisation and shuffling seed (default 1)\n"
            "  --epochs N     train: passes over the training set (default %d)\n"
            "  --limit N      train: use only the first N training images\n"
            "  --index N      sample: the first test image (default 0)\n"
            "  --rows K       sample: how many images, 1 to %d (default 1)\n\n"
            "Exit status: 0 done, 2 usage error or a bad model or data file, 1 failure.\n",
            DEFAULT_EPOCHS, SAMPLE_MAX_ROWS);
}

typedef struct model_args {
    const char *data, *out, *model;
    unsigned long long seed, epochs, limit, index, rows;
} model_args_t;

static int parse_args(int argc, char **argv, model_args_t *a)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},   {"out", required_argument, NULL, 'o'},
        {"model", required_argument, NULL, 'm'},  {"seed", required_argument, NULL, 's'},
        {"epochs", required_argument, NULL, 'e'}, {"limit", required_argument, NULL, 'l'},
        {"index", required_argument, NULL, 'i'},  {"rows", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    *a = (model_args_t){.data = SW_CLI_FASHION_DIR, .seed = 1, .epochs = DEFAULT_EPOCHS, .rows = 1};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->out = optarg; break;
        case 'm': a->model = optarg; break;
        case 's': ok = sw__cli_parse_uint("model", "--seed", optarg, 0, UINT64_MAX, &a->seed); break;
        case 'e': ok = sw__cli_parse_uint("model", "--epochs", optarg, 0, 10000, &a->epochs); break;
        case 'l': ok = sw__cli_parse_uint("model", "--limit", optarg, 0, SIZE_MAX, &a->limit); break;
        case 'i':
            ok = sw__cli_parse_uint("model", "--index", optarg, 0, SIZE_MAX, &a->index);
            break;
        case 'r':
            ok = sw__cli_parse_uint("model", "--rows", optarg, 1, SAMPLE_MAX_ROWS, &a->rows);
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "spillway model: unexpected argument '%s'\n", argv[optind]);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* Test accuracy of the trainer's current weights, through the inference engine. */
static double test_accuracy(const sw_trainer_t *t, const sw_idx_set_t *test)
{
    sw_model_t *m;
    char err[512];
    if (sw_trainer_to_model(t, 256, &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway model: %s\n", err);
        return -1.0;
    }
    double acc = sw_model_accuracy(m, test);
    sw_model_destroy(m);
    return acc;
}

static int run_epochs(sw_trainer_t *t, const model_args_t *a, const sw_idx_set_t *train,
                      const sw_idx_set_t *test)
{
    sw_time_t start = sw_clock_now();
    for (unsigned long long e = 1; e <= a->epochs; e++) {
        double loss = sw_trainer_epoch(t, train, (size_t)a->limit);
        double acc = test_accuracy(t, test);
        if (loss < 0 || acc < 0) {
            fprintf(stderr, "spillway model: the data does not fit a 784-input 10-class "
                            "model\n");
            return SW_EXIT_FAILURE;
        }
        printf("epoch %llu  loss %.4f  test_accuracy %.2f %%  elapsed %.1f s\n", e, loss,
               100.0 * acc, sw_time_to_s(sw_clock_now() - start));
        fflush(stdout);
    }
    return 0;
}

static int cmd_train(const model_args_t *a)
{
    if (!a->out) {
        fprintf(stderr, "spillway model train: --out FILE is required\n");
        return SW_EXIT_USAGE;
    }
    sw_idx_set_t train, test;
    int rc = sw__cli_fashion_load("model", a->data, true, &train);
    if (rc != 0)
        return rc;
    if ((rc = sw__cli_fashion_load("model", a->data, false, &test)) != 0)
        goto out_train;
    rc = SW_EXIT_FAILURE;
    sw_train_opts_t o = sw_train_default_opts();
    o.seed = a->seed;
    sw_trainer_t *t = sw_trainer_create(train.rows * train.cols, 10, &o);
    if (!t || train.n_classes > 10 || test.n_classes > 10) {
        fprintf(stderr, "spillway model: %s: not a 10-class image set\n", a->data);
        goto out_t;
    }
    rc = run_epochs(t, a, &train, &test);
    char err[8192];
    if (rc == 0 &&
        sw_trainer_save(t, a->out, "fashion-mlp", 1, sw_fashion_labels, 10, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway model: %s\n", err);
        rc = SW_EXIT_FAILURE;
    } else if (rc == 0) {
        printf("wrote %s\n", a->out);
    }
out_t:
    sw_trainer_destroy(t);
    sw_idx_deinit(&test);
out_train:
    sw_idx_deinit(&train);
    return rc;
}

static int cmd_eval(const model_args_t *a)
{
    if (!a->model) {
        fprintf(stderr, "spillway model eval: --model FILE is required\n");
        return SW_EXIT_USAGE;
    }
    char err[8192];
    sw_model_t *m;
    int rc = sw_model_load(a->model, 256, &m, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway model: %s\n", err);
        return sw__cli_file_status(rc); /* as profile and worker say of the same file */
    }
    sw_idx_set_t test;
    if ((rc = sw__cli_fashion_load("model", a->data, false, &test)) != 0)
        goto out;
    rc = SW_EXIT_FAILURE;
    double acc = sw_model_accuracy(m, &test);
    if (acc < 0) {
        fprintf(stderr, "spillway model: %s takes %zu inputs, the images have %zu\n", a->model,
                sw_model_input_size(m), test.rows * test.cols);
    } else {
        printf("model %s version %u: accuracy %.2f %% on %zu test images\n", sw_model_name(m),
               (unsigned)sw_model_version(m), 100.0 * acc, test.n);
        rc = SW_EXIT_OK;
    }
    sw_idx_deinit(&test);
out:
    sw_model_destroy(m);
    return rc;
}

/* Prints the request body: serving/kserve.h's, with the images' "id" in front, so that
 * serve echoes it and a reply can be told from another. */
static void print_sample(const model_args_t *a, const sw_idx_set_t *test)
{
    size_t in_n = test->rows * test->cols, k = (size_t)a->rows;
    float *rows = sw_malloc(k * in_n * sizeof(float));
    sw__cli_fashion_pixels(test, (size_t)a->index, k, rows);
    sw_srv_kserve_buf_t body;
    sw_srv_kserve_buf_init(&body);
    sw_srv_kserve_format_request(rows, k, in_n, &body);
    assert(body.len > 0 && body.data[0] == '{');
    printf("{\"id\":\"fashion-mnist-test-%llu\",%s\n", a->index, body.data + 1);
    sw_srv_kserve_buf_deinit(&body);
    sw_free(rows);
    fprintf(stderr, "labels:");
    for (size_t i = 0; i < k; i++) {
        unsigned label = test->labels[a->index + i];
        fprintf(stderr, "%s %u %s", i ? "," : "", label, sw__cli_fashion_class(label));
    }
    fprintf(stderr, "\n");
}

static int cmd_sample(const model_args_t *a)
{
    sw_idx_set_t test;
    int rc = sw__cli_fashion_load("model", a->data, false, &test);
    if (rc != 0)
        return rc;
    if (a->index >= test.n || a->rows > test.n - a->index) {
        fprintf(stderr,
                "spillway model sample: --index %llu --rows %llu: the test set has %zu images, "
                "0 to %zu\n",
                a->index, a->rows, test.n, test.n ? test.n - 1 : 0);
        rc = SW_EXIT_USAGE;
    } else {
        print_sample(a, &test);
        rc = fflush(stdout) == 0 && !ferror(stdout) ? SW_EXIT_OK : SW_EXIT_FAILURE;
        if (rc != SW_EXIT_OK)
            fprintf(stderr, "spillway model sample: cannot write the request to stdout\n");
    }
    sw_idx_deinit(&test);
    return rc;
}

int sw_cli_cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SW_EXIT_USAGE : SW_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(const model_args_t *a);
    } subs[] = {{"train", cmd_train}, {"eval", cmd_eval}, {"sample", cmd_sample}};
    size_t i = 0;
    while (i < SW_ARRAY_LEN(subs) && strcmp(argv[1], subs[i].name) != 0)
        i++;
    if (i == SW_ARRAY_LEN(subs)) {
        fprintf(stderr, "spillway model: unknown subcommand '%s'\n\n", argv[1]);
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    model_args_t a;
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    return subs[i].run(&a);
}
