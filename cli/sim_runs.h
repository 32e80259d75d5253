/* Child `spillway simulate` runs, in parallel, for the commands that price many settings
 * (`spillway compare`, `spillway tune`). Each run is its own process, so runs share
 * nothing and use every core; each writes its run directory, with its stdout and stderr
 * captured there, and its summary.json is read back with runs/summary.h. */
#ifndef SW_CLI_SIM_RUNS_H
#define SW_CLI_SIM_RUNS_H

#include <stddef.h>
#include <sys/types.h>

#include "runs/summary.h"

/* One simulate run: its directory and arguments in, its exit status and summary (or the
 * reason it has none) out. Every pointer is owned (sw__cli_run_deinit). */
typedef struct sw__cli_run {
    char *dir;    /* the run directory, passed as --out */
    char **args;  /* simulate's arguments (after "simulate", without --out) */
    size_t n_args, cap_args;
    pid_t pid;    /* while it runs */
    int status;   /* exit status, or 128 + the signal, 127 when it could not start */
    char *error;  /* NULL when sum holds the run's summary; else why not */
    sw_run_summary_t sum;
} sw__cli_run_t;

/* Zeroes *r and sets its directory (copied). */
void sw__cli_run_init(sw__cli_run_t *r, const char *dir);
/* Appends one argument (copied). */
void sw__cli_run_arg(sw__cli_run_t *r, const char *arg);
/* Frees what *r owns and zeroes it. */
void sw__cli_run_deinit(sw__cli_run_t *r);

/* Runs each of runs[0..n) as `spillway simulate ARGS --out DIR --no-progress`, with the
 * directory created and stdout.txt and stderr.txt captured in it, at most `jobs` at a
 * time. Then each run has a status, and either its summary read and checked (error
 * NULL) or error set: the first 2,000 bytes of its stderr when it failed, or what is
 * wrong with its summary. `cmd` names the caller in messages ("compare"). Main thread;
 * it waits for any child of the process, so the caller must have none of its own. */
void sw__cli_run_all(sw__cli_run_t *runs, size_t n, long jobs, const char *cmd);

/* Reads r->dir/summary.json into r->sum; on failure sets r->error (owned) and returns -1.
 * For a finished run directory given by the user. */
int sw__cli_run_read_summary(sw__cli_run_t *r);

#endif
