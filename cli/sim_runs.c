/* Child `spillway simulate` runs for compare and tune: spawn, at most N at a time, reap,
 * and read back each run's summary or the stderr that says why it has none. */
#include "cli/sim_runs.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"

extern char **environ;

/* MAX_ERR bytes of a run's stderr are kept; ERR_BUF also fits a path before them. */
enum { MAX_ERR = 2000, ERR_BUF = 8192 };

void sw__cli_run_init(sw__cli_run_t *r, const char *dir)
{
    *r = (sw__cli_run_t){.dir = sw_strdup(dir), .pid = -1};
}

void sw__cli_run_arg(sw__cli_run_t *r, const char *arg)
{
    if (r->n_args == r->cap_args) {
        r->cap_args = r->cap_args ? 2 * r->cap_args : 16;
        r->args = sw_realloc(r->args, r->cap_args * sizeof(*r->args));
    }
    r->args[r->n_args++] = sw_strdup(arg);
}

void sw__cli_run_deinit(sw__cli_run_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_args; i++)
        sw_free(r->args[i]);
    sw_free(r->args);
    sw_free(r->dir);
    sw_free(r->error);
    sw_run_summary_deinit(&r->sum);
    *r = (sw__cli_run_t){.pid = -1};
}

/* Starts simulate for one run with its output captured in its run folder. */
static int spawn_run(sw__cli_run_t *r, const char *cmd)
{
    char out_path[4200], err_path[4200];
    if (mkdir(r->dir, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "spillway %s: cannot create %s: %s\n", cmd, r->dir, strerror(errno));
        return -1;
    }
    const char **argv = sw_calloc(r->n_args + 7, sizeof(*argv));
    size_t n = 0;
    argv[n++] = "/proc/self/exe";
    argv[n++] = "simulate";
    for (size_t k = 0; k < r->n_args; k++)
        argv[n++] = r->args[k];
    argv[n++] = "--out";
    argv[n++] = r->dir;
    argv[n++] = "--no-progress";
    argv[n] = NULL;
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", r->dir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", r->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int rc = posix_spawn(&r->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    sw_free(argv);
    if (rc != 0) {
        fprintf(stderr, "spillway %s: cannot start %s: %s\n", cmd, r->dir, strerror(rc));
        r->pid = -1;
        return -1;
    }
    return 0;
}

/* Waits for any child and records its status; returns false when none is left. */
static bool reap_one(sw__cli_run_t *runs, size_t n)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, 0)) < 0 && errno == EINTR)
        ;
    if (pid < 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (runs[i].pid == pid) {
            runs[i].status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            runs[i].pid = 0;
        }
    return true;
}

static char *read_error(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    FILE *f = fopen(path, "r");
    char *buf = sw_calloc(1, ERR_BUF);
    size_t n = f ? fread(buf, 1, MAX_ERR, f) : 0;
    if (f)
        fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n == 0)
        snprintf(buf, ERR_BUF, "run failed with no message (see %s)", path);
    return buf;
}

/* Checked like any run directory (types, ranges), by the reader report uses: the run may
 * have been replaced or damaged between its exit, or its check, and now. */
int sw__cli_run_read_summary(sw__cli_run_t *r)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", r->dir);
    r->error = sw_malloc(ERR_BUF);
    if (sw_run_summary_load(&r->sum, path, r->error, ERR_BUF) < 0)
        return -1;
    sw_free(r->error);
    r->error = NULL;
    return 0;
}

void sw__cli_run_all(sw__cli_run_t *runs, size_t n, long jobs, const char *cmd)
{
    size_t running = 0, max = jobs < 1 ? 1 : (size_t)jobs;
    for (size_t i = 0; i < n; i++) {
        if (running == max && reap_one(runs, n))
            running--;
        if (spawn_run(&runs[i], cmd) < 0) {
            runs[i].status = 127;
            runs[i].error = sw_strdup("could not start the run");
        } else {
            running++;
        }
    }
    while (running > 0 && reap_one(runs, n))
        running--;
    for (size_t i = 0; i < n; i++) {
        if (runs[i].error)
            continue;
        if (runs[i].status != 0)
            runs[i].error = read_error(runs[i].dir);
        else if (sw__cli_run_read_summary(&runs[i]) < 0)
            runs[i].status = 1;
    }
}
