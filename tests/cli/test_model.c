/* `spillway model` through the real binary: what it says when the data set is not where
 * it looks. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

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
