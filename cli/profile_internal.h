/* Shared by cli/cmd_profile.c and cli/profile_worker.c only: the options of `spillway
 * profile` and the sampling rule both ways of measuring T_b follow, so that an in-process
 * profile and one measured through a worker differ only in what each sample includes. */
#ifndef SW_CLI_PROFILE_INTERNAL_H
#define SW_CLI_PROFILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"

typedef struct sw__profile_args {
    const char *model, *out, *data;
    unsigned max_batch, threads, repeats;
    double min_ms;
    bool via_worker;
} sw__profile_args_t;

/* The timed samples of one batch size, in ms. Zero-initialise; free ms with sw_free. */
typedef struct sw__profile_samples {
    double *ms;
    size_t n, cap;
    double spent_ms;
} sw__profile_samples_t;

void sw__profile_samples_add(sw__profile_samples_t *s, double ms);
/* True once s holds at least a->repeats samples that add up to at least a->min_ms. */
bool sw__profile_samples_enough(const sw__profile_samples_t *s, const sw__profile_args_t *a);
/* Sorts the samples (n >= 1) and stores their p50 and p99; p99 may be NULL. Then empties s
 * for the next batch size, keeping its memory. */
void sw__profile_samples_take(sw__profile_samples_t *s, double *p50, double *p99);

/* Measures T_b for b = 1..a->max_batch as the round trip through a `spillway worker` child
 * serving a->model (m is the same file, loaded here), from a Batch frame of b Fashion-MNIST
 * test images being written to its BatchResult decoded, on the frontend's own worker
 * listener (serving/workers.h). Fills p50[b-1] and p99[b-1] with the round trip and
 * compute_p50[b-1] with the worker's own compute_ms. Prints what failed to stderr. Returns
 * 0, SW_EXIT_USAGE for a missing or unfit data set, or SW_EXIT_FAILURE. Blocks; call from
 * the command's thread, with SIGCHLD at its default disposition. */
int sw__profile_via_worker(const sw__profile_args_t *a, const sw_model_t *m, double *p50,
                           double *p99, double *compute_p50);

#endif
