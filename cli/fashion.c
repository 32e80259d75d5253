/* Loading Fashion-MNIST for the subcommands, and turning its bytes into model inputs, in
 * one place, so that every command scales pixels as the trainer does and says the same
 * thing when the files are missing. */
#include "cli/fashion.h"

#include <errno.h>
#include <stdio.h>

#include "model/train.h"
#include "cli/cli.h"

int sw__cli_fashion_load(const char *cmd, const char *dir, bool train, sw_idx_set_t *set)
{
    char err[8192];
    int rc = sw_idx_load_split(set, dir, train, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway %s: %s\n", cmd, err);
        if (rc == -ENOENT)
            fprintf(stderr,
                    "spillway %s: --data DIR names a folder with Fashion-MNIST's "
                    "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; Debian's "
                    "dataset-fashion-mnist installs them in " SW_CLI_FASHION_DIR "\n",
                    cmd);
        return sw__cli_file_status(rc);
    }
    return 0;
}

void sw__cli_fashion_pixels(const sw_idx_set_t *s, size_t first, size_t k, float *out)
{
    size_t size = s->rows * s->cols;
    const uint8_t *px = s->pixels + first * size;
    /* The very expression the trainer and sw_model_accuracy use, so that the model sees
     * what it was trained and scored on, to the bit. */
    for (size_t i = 0; i < k * size; i++)
        out[i] = (float)px[i] * (1.0f / 255.0f);
}

const char *sw__cli_fashion_class(unsigned label)
{
    return label < SW_ARRAY_LEN(sw_fashion_labels) ? sw_fashion_labels[label] : "?";
}
