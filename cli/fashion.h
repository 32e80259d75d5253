/* The Fashion-MNIST data set as the subcommands that read it see it: `model train` fits
 * on it and `model eval` scores on it. Shared by cli/ only. */
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

#endif
