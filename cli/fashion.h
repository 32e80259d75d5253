/* The Fashion-MNIST data set as the subcommands that read it see it: `model train` fits
 * on it, `model eval` scores on it, `model sample` prints requests of its test images and
 * `profile --via-worker` sends its test images to a worker. Shared by cli/ only. */
#ifndef SW_CLI_FASHION_H
#define SW_CLI_FASHION_H

#include <stdbool.h>
#include <stddef.h>

#include "model/idx.h"

/* Where Debian's dataset-fashion-mnist (scripts/install-deps.sh) puts the files. */
#define SW_CLI_FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* Loads the training (train) or test split of the IDX files in dir into set (release with
 * sw_idx_deinit). On failure prints "spillway CMD: <what failed>", and how to get the
 * files when they are missing, and returns the exit status for it (sw__cli_file_status: 2
 * for a missing or malformed file); returns 0 when loaded. */
int sw__cli_fashion_load(const char *cmd, const char *dir, bool train, sw_idx_set_t *set);

/* Writes images first..first+k-1 of s (first + k <= s->n) to out, k x (rows x cols) floats
 * row-major, each pixel scaled to [0, 1] exactly as the trainer scales it (byte x (1/255)). */
void sw__cli_fashion_pixels(const sw_idx_set_t *s, size_t first, size_t k, float *out);

/* The class name of label ("Ankle boot" for 9), or "?" for one Fashion-MNIST does not have. */
const char *sw__cli_fashion_class(unsigned label);

#endif
