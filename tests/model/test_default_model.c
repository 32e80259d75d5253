/* The model the build trains (fashion-mlp.pb in the build tree) against the 10,000
 * Fashion-MNIST test images: the bar is 85 %. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "model/idx.h"
#include "model/model.h"
#include "model/train.h"

#define DEFAULT_MODEL SW_BINARY_DIR "/fashion-mlp.pb"
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

Test(model_default, trained_default_model_is_at_least_85_percent_accurate, .timeout = 120)
{
    cr_assert_eq(access(DEFAULT_MODEL, R_OK), 0,
                 "%s: missing; the build's default_model target makes it", DEFAULT_MODEL);
    char err[1024];
    sw_model_t *m;
    cr_assert_eq(sw_model_load(DEFAULT_MODEL, 256, &m, err, sizeof(err)), 0, "%s", err);
    sw_idx_set_t test;
    cr_assert_eq(sw_idx_load_split(&test, FASHION_DIR, false, err, sizeof(err)), 0, "%s", err);
    double acc = sw_model_accuracy(m, &test);
    cr_log_info("default model: %.2f %% on the test set", acc * 100);
    cr_assert_geq(acc, 0.85, "accuracy %.4f", acc);
    cr_assert_str_eq(sw_model_name(m), "fashion-mlp");
    sw_idx_deinit(&test);
    sw_model_destroy(m);
}
