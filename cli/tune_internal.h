/* `spillway tune`, shared between its files: cmd_tune.c (options, keys, windows, the
 * search) and tune_report.c (the table, tuned.yaml and tune.json). */
#ifndef SW_CLI_TUNE_INTERNAL_H
#define SW_CLI_TUNE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/sim_runs.h"
#include "config/config.h"

/* Keys searched at once, and candidate values per key. */
enum { TUNE_MAX_KEYS = 8, TUNE_MAX_VALUES = 16 };

/* One searched key: its candidates in ascending order, the config's own value among them. */
typedef struct tune_key {
    char *path;
    const sw_cfg_key_info_t *info;
    double def; /* the base config's value */
    double values[TUNE_MAX_VALUES];
    size_t n_values, def_idx;
    bool given; /* values named on the command line rather than derived */
} tune_key_t;

/* A part of the trace, in trace seconds: [start_s, start_s + duration_s). */
typedef struct tune_window {
    double start_s, duration_s;
} tune_window_t;

/* One simulation: a setting (an index into each key's values) on a window. */
typedef struct tune_eval {
    size_t idx[TUNE_MAX_KEYS];
    tune_window_t window;
    bool is_test; /* run on the held-back part, after the choice */
    sw__cli_run_t run;
} tune_eval_t;

typedef struct tune {
    const char *config, *trace, *out;
    /* Options every run gets unchanged, as long name ("rate-scale"), value pairs. */
    const char *pass[8];
    size_t n_pass;
    double train_until_s;
    long jobs;
    tune_key_t keys[TUNE_MAX_KEYS];
    size_t n_keys;
    bool grid; /* the whole grid; else coordinate descent */
    size_t rounds, max_runs;
    tune_window_t whole, train, test;
    char *model_path;    /* predictor.model_path of the base config, or NULL */
    tune_eval_t **evals; /* every run, in the order they ran */
    size_t n_evals, cap_evals;
    const tune_eval_t *train_def, *train_best, *test_def, *test_best;
    bool met; /* the chosen setting met the SLO on the training part */
} tune_t;

/* The value of key k in a setting, formatted as --set and YAML write it. */
void tune_value_text(const tune_key_t *k, double v, char *buf, size_t len);
/* The number of keys a setting changes from the base config. */
size_t tune_changes(const tune_t *t, const size_t *idx);
/* How many VMs the run launched, from its launch rate and span; NaN when unknown. */
double tune_launches(const sw_run_summary_t *s);

/* Prints the train and test table to stdout. */
void tune_print_table(const tune_t *t);
/* Writes DIR/tuned.yaml and DIR/tune.json, and prints the --set arguments of the
 * choice. Returns 0, or -1 after printing which file could not be written. */
int tune_write_outputs(const tune_t *t);

#endif
