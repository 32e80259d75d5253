/* `spillway model` through the real binary: what it says when the data set is not where
 * it looks, and `model sample`, whose request body the frontend's KServe parser takes,
 * holds the test images' pixels as the trainer scaled them, and comes with their labels. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/idx.h"
#include "model/train.h"
#include "serving/kserve.h"
#include "cli/fashion.h"
#include "tests/cli/cli_helpers.h"

Test(cli_model, missing_data_says_where_to_get_it, .timeout = 30)
{
    const char *argv[] = {
        SPILLWAY, "model",        "eval", "--model", SW_BINARY_DIR "/fashion-mlp.pb",
        "--data", "/nonexistent", NULL};
    char *out, *err;
    cr_assert_eq(cli_run(argv, &out, &err), 2, "%s", err);
    cr_assert_not_null(strstr(err, "spillway model: /nonexistent/t10k-images-idx3-ubyte.gz: No "
                                   "such file or directory\n"),
                       "%s", err);
    cr_assert_not_null(strstr(err, "Debian's dataset-fashion-mnist installs them in "
                                   "/usr/share/datasets/fashion-mnist"),
                       "%s", err);
    free(out);
    free(err);
}

/* ---- model sample ---- */

/* Runs `model sample` with argv[3..] = args (at most 4, NULL-terminated) and checks that
 * it printed test images first..first+k-1 and their labels. */
static void expect_sample(const char *const args[], size_t first, size_t k)
{
    const char *argv[8] = {SPILLWAY, "model", "sample"};
    for (size_t i = 0; args[i]; i++)
        argv[3 + i] = args[i];
    char *out, *err;
    int rc = cli_run(argv, &out, &err);
    cr_assert_eq(rc, 0, "exit %d\n%s", rc, err);

    sw_srv_kserve_req_t req;
    sw_srv_kserve_req_init(&req);
    char msg[512];
    cr_assert_eq(sw_srv_kserve_parse_request(out, strlen(out), 784, 64, &req, msg, sizeof msg), 0,
                 "%s", msg);
    cr_assert_eq(req.n, k);
    char id[64];
    snprintf(id, sizeof id, "fashion-mnist-test-%zu", first);
    cr_assert_str_eq(req.id, id);

    sw_idx_set_t test;
    cr_assert_eq(sw_idx_load_split(&test, SW_CLI_FASHION_DIR, false, msg, sizeof msg), 0, "%s",
                 msg);
    for (size_t i = 0; i < k * 784; i++) {
        float want = (float)test.pixels[first * 784 + i] * (1.0f / 255.0f);
        cr_assert_eq(req.data[i], want, "pixel %zu: %.9g, want %.9g", i, req.data[i], want);
    }
    char labels[1024] = "labels:";
    for (size_t i = 0; i < k; i++) {
        size_t used = strlen(labels);
        unsigned l = test.labels[first + i];
        snprintf(labels + used, sizeof labels - used, "%s %u %s", i ? "," : "", l,
                 sw_fashion_labels[l]);
    }
    strcat(labels, "\n");
    cr_assert_str_eq(err, labels);
    sw_idx_deinit(&test);
    sw_srv_kserve_req_deinit(&req);
    free(out);
    free(err);
}

Test(cli_model, sample_prints_a_kserve_request_of_the_test_images, .timeout = 30)
{
    expect_sample((const char *[]){"--index", "5", "--rows", "3", NULL}, 5, 3);
}

Test(cli_model, sample_the_last_image_is_in_range, .timeout = 30)
{
    expect_sample((const char *[]){"--index", "9999", NULL}, 9999, 1);
}

Test(cli_model, sample_defaults_to_the_first_test_image, .timeout = 30)
{
    expect_sample((const char *[]){NULL}, 0, 1);
    /* Fashion-MNIST's first test image is an ankle boot, as README says. */
    const char *argv[] = {SPILLWAY, "model", "sample", NULL};
    char *out, *err;
    cr_assert_eq(cli_run(argv, &out, &err), 0, "%s", err);
    cr_assert_str_eq(err, "labels: 9 Ankle boot\n");
    free(out);
    free(err);
}

Test(cli_model, sample_an_index_or_row_count_out_of_range_is_a_usage_error, .timeout = 30)
{
    static const struct {
        const char *index, *rows, *says;
    } bad[] = {
        {"10000", "1", "--index 10000 --rows 1: the test set has 10000 images, 0 to 9999"},
        {"9999", "2", "--index 9999 --rows 2: the test set has 10000 images, 0 to 9999"},
        {"-1", "1", "--index -1: expected a whole number"},
        {"0", "0", "--rows 0: expected a whole number in [1, 64]"},
        {"0", "65", "--rows 65: expected a whole number in [1, 64]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {SPILLWAY,     "model",  "sample",    "--index",
                              bad[i].index, "--rows", bad[i].rows, NULL};
        char *out, *err;
        int rc = cli_run(argv, &out, &err);
        cr_assert_eq(rc, 2, "--index %s --rows %s: exit %d\n%s", bad[i].index, bad[i].rows, rc,
                     err);
        cr_assert_not_null(strstr(err, bad[i].says), "%s", err);
        cr_assert_eq(strlen(out), 0, "nothing on stdout: %s", out);
        free(out);
        free(err);
    }
}
