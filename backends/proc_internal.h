/* Child processes for backends/: faas-local's execution environments, the local provider's
 * workers and the command provider's launch and terminate hooks all start, signal and reap
 * children the same way, so that way lives here once. Not for use outside backends/.
 *
 * Every function is called on the owning loop's thread. None of them installs a SIGCHLD
 * handler or calls waitpid(-1): the process may run several owners of children at once
 * (faas-local, one provider per instance type), and each reaps only the pids it started. */
#ifndef SW_BACKENDS_PROC_INTERNAL_H
#define SW_BACKENDS_PROC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

/* What one of the child's standard descriptors becomes, besides an open descriptor of ours
 * (which the child gets a copy of; ours stays open). */
#define SW__PROC_FD_INHERIT (-1) /* the same file as ours */
#define SW__PROC_FD_NULL (-2)    /* /dev/null */

typedef struct sw__proc_spec {
    const char *path;          /* run with execve: no PATH search */
    char *const *argv;         /* NULL-terminated, argv[0] included */
    char *const *envp;         /* NULL-terminated */
    int fd_in, fd_out, fd_err; /* an open descriptor, or SW__PROC_FD_* */
    bool new_group;            /* the child leads a new process group (see sw__proc_signal) */
    int death_signal;          /* sent to the child if the forking thread dies; 0: none */
} sw__proc_spec_t;

/* Starts a child with fork and execve. The child gets exactly the three standard
 * descriptors the spec names (every other one is closed, close-on-exec or not), default
 * signal dispositions and an empty signal mask. Signals are blocked across the fork, so a
 * signal sent to the new pid before it execs cannot run our handlers in the child.
 *
 * Returns 0 and stores the pid, or -errno when no child could be created. When
 * exec_error_fd is not NULL it receives the non-blocking read end of a close-on-exec pipe,
 * owned by the caller, that sw__proc_exec_error() reads once the child has been reaped: an
 * execve that fails (a missing executable) is then told apart from a program that ran and
 * exited 127. spec and everything it points to are borrowed for the call. */
SW_MUST_USE int sw__proc_spawn(const sw__proc_spec_t *spec, pid_t *pid_out, int *exec_error_fd);

/* After the child of exec_error_fd was reaped: the errno its execve failed with, or 0 when
 * it ran. Does not close fd. */
int sw__proc_exec_error(int fd);

/* A pipe for reading a child's output: fds[0], ours, is non-blocking; both ends are
 * close-on-exec (the child gets its end through the spec's fd_out or fd_err). Returns 0 or
 * -errno. */
SW_MUST_USE int sw__proc_pipe(int fds[2]);

/* Sends sig once: to pid's process group when pid leads one, else (a child that has not
 * reached setpgid yet, or one started without new_group) to pid itself. Only for pids not
 * yet reaped, so never a reused one. */
void sw__proc_signal(pid_t pid, int sig);

/* Non-blocking reap of one child of ours. Returns true when it is gone: *status is its wait
 * status, or -1 when someone else reaped it (waitpid says ECHILD). */
bool sw__proc_try_reap(pid_t pid, int *status);

/* Describes a wait status for logs and error messages ("exit status 3", "signal: killed";
 * Lambda's wording, which faas-local must match). -1 reads "status unknown". */
void sw__proc_describe_status(int status, char *out, size_t len);

/* A child's environment: a NULL-terminated vector of owned "NAME=value" strings. */
typedef struct sw__proc_env {
    char **v; /* always NULL-terminated once initialised */
    size_t n, cap;
} sw__proc_env_t;

/* Copies our environment into e, without the variables that start with any of the
 * n_drop prefixes (a prefix "AWS_LAMBDA_" drops a family, "AWS_REGION=" one variable). */
void sw__proc_env_init(sw__proc_env_t *e, const char *const *drop, size_t n_drop);
/* Sets "NAME=value", formatted, replacing any variable of that name already in e. */
void sw__proc_env_setf(sw__proc_env_t *e, const char *fmt, ...) SW_PRINTF(2, 3);
/* Frees the strings and the vector; with wipe, their bytes are cleared first (secrets). */
void sw__proc_env_deinit(sw__proc_env_t *e, bool wipe);

#endif
