/* Starting, signalling and reaping child processes for backends/ (see proc_internal.h).
 * fork + execve rather than posix_spawn: children need a parent-death signal, every
 * descriptor above 2 closed whether or not its owner set close-on-exec, and a way to tell
 * a failed execve from a program that exited 127. Only async-signal-safe calls run in the
 * child between fork and execve, because the parent may have other threads. */
/* pipe2, so pipes are close-on-exec from birth, not after a racy fcntl. */
#define _GNU_SOURCE
#include "backends/proc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/strbuf.h"

extern char **environ;

#ifndef NSIG
#define NSIG 65
#endif

/* In the child: reports err through the exec-error pipe (if any) and exits 127, the
 * shell's status for "command not found". */
static _Noreturn void child_fail(int err_fd, int err)
{
    if (err_fd >= 0) {
        ssize_t n = write(err_fd, &err, sizeof(err));
        (void)n;
    }
    _exit(127);
}

/* In the child: closes descriptors lo..hi (inclusive), with a loop where the kernel has no
 * close_range (before Linux 5.9). */
static void child_close_range(unsigned lo, unsigned hi)
{
    if (lo > hi)
        return;
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return;
    for (unsigned fd = lo; fd <= hi && fd < 65536; fd++)
        close((int)fd);
}

/* In the child: makes 0, 1 and 2 what the spec asks. Every source is first moved above 2,
 * so setting up one standard descriptor cannot overwrite the source of another (possible
 * when our own stdio was closed and a pipe or file landed on 0-2). */
static void child_setup_stdio(const sw__proc_spec_t *s, int err_fd)
{
    int src[3] = {s->fd_in, s->fd_out, s->fd_err};
    for (int k = 0; k < 3; k++) {
        if (src[k] == SW__PROC_FD_NULL && (src[k] = open("/dev/null", O_RDWR)) < 0)
            child_fail(err_fd, errno);
        if (src[k] >= 0 && src[k] < 3 && (src[k] = fcntl(src[k], F_DUPFD, 3)) < 0)
            child_fail(err_fd, errno);
    }
    for (int k = 0; k < 3; k++)
        if (src[k] >= 0 && dup2(src[k], k) < 0)
            child_fail(err_fd, errno);
    /* err_fd is above 2 (see sw__proc_spawn) and closes itself on exec. */
    if (err_fd >= 0) {
        child_close_range(3, (unsigned)err_fd - 1);
        child_close_range((unsigned)err_fd + 1, ~0U);
    } else {
        child_close_range(3, ~0U);
    }
}

static _Noreturn void child_exec(const sw__proc_spec_t *s, pid_t parent, int err_fd)
{
    if (s->new_group)
        setpgid(0, 0);
    if (s->death_signal) {
        prctl(PR_SET_PDEATHSIG, s->death_signal);
        if (getppid() != parent) /* the parent died before prctl took effect */
            _exit(127);
    }
    child_setup_stdio(s, err_fd);
    /* Handlers are reset by execve anyway, but ignored signals (our SIGPIPE) would stay
     * ignored, and the mask is inherited: both are the program's to choose. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(s->path, s->argv, s->envp);
    child_fail(err_fd, errno);
}

int sw__proc_spawn(const sw__proc_spec_t *spec, pid_t *pid_out, int *exec_error_fd)
{
    int pfd[2] = {-1, -1};
    if (exec_error_fd) {
        if (pipe2(pfd, O_CLOEXEC) < 0)
            return -errno;
        /* Keep the write end above 2, where the child's stdio setup cannot clobber it. */
        if (pfd[1] < 3) {
            int moved = fcntl(pfd[1], F_DUPFD_CLOEXEC, 3);
            int saved = errno;
            close(pfd[1]);
            pfd[1] = moved;
            if (moved < 0) {
                close(pfd[0]);
                return -saved;
            }
        }
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(spec, parent, pfd[1]);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (pid < 0) {
        if (pfd[0] >= 0)
            close(pfd[0]);
        return -saved;
    }
    if (exec_error_fd) {
        fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
        *exec_error_fd = pfd[0];
    }
    *pid_out = pid;
    return 0;
}

int sw__proc_exec_error(int fd)
{
    int err = 0;
    ssize_t n;
    while ((n = read(fd, &err, sizeof(err))) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof(err) ? err : 0;
}

int sw__proc_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    return 0;
}

void sw__proc_signal(pid_t pid, int sig)
{
    if (pid <= 0)
        return; /* kill(0) or kill(-1) would reach far more than one child */
    /* The group when there is one, the pid alone only when there is none yet: sending to
     * both gave the child two copies, and a worker that handled the first and put back
     * the default disposition was killed by the second. */
    if (kill(-pid, sig) < 0)
        kill(pid, sig);
}

bool sw__proc_try_reap(pid_t pid, int *status)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == pid) {
        *status = st;
        return true;
    }
    if (r < 0 && errno == ECHILD) {
        *status = -1;
        return true;
    }
    return false;
}

void sw__proc_describe_status(int status, char *out, size_t len)
{
    if (status == -1) {
        snprintf(out, len, "status unknown");
        return;
    }
    if (WIFEXITED(status)) {
        snprintf(out, len, "exit status %d", WEXITSTATUS(status));
        return;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    /* The wording of Lambda's own messages (Go's os/exec). */
    switch (sig) {
    case SIGKILL: snprintf(out, len, "signal: killed"); break;
    case SIGTERM: snprintf(out, len, "signal: terminated"); break;
    case SIGSEGV: snprintf(out, len, "signal: segmentation fault"); break;
    case SIGABRT: snprintf(out, len, "signal: aborted"); break;
    default: snprintf(out, len, "signal: %d", sig); break;
    }
}

static void env_push(sw__proc_env_t *e, char *s)
{
    if (e->n + 2 > e->cap) {
        e->cap = e->cap ? 2 * e->cap : 64;
        e->v = sw_realloc(e->v, e->cap * sizeof(char *));
    }
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
}

void sw__proc_env_init(sw__proc_env_t *e, const char *const *drop, size_t n_drop)
{
    *e = (sw__proc_env_t){0};
    env_push(e, NULL);
    e->n = 0;
    for (size_t i = 0; environ[i]; i++) {
        bool skip = false;
        for (size_t d = 0; d < n_drop && !skip; d++)
            skip = !strncmp(environ[i], drop[d], strlen(drop[d]));
        if (!skip)
            env_push(e, sw_strdup(environ[i]));
    }
}

void sw__proc_env_setf(sw__proc_env_t *e, const char *fmt, ...)
{
    sw_strbuf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    sw_strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *s = sw_strbuf_take(&b);
    const char *eq = strchr(s, '=');
    size_t name_len = eq ? (size_t)(eq - s) + 1 : strlen(s);
    for (size_t i = 0; i < e->n; i++) {
        if (!strncmp(e->v[i], s, name_len)) {
            explicit_bzero(e->v[i], strlen(e->v[i]));
            sw_free(e->v[i]);
            e->v[i] = s;
            return;
        }
    }
    env_push(e, s);
}

void sw__proc_env_deinit(sw__proc_env_t *e, bool wipe)
{
    for (size_t i = 0; i < e->n; i++) {
        if (wipe)
            explicit_bzero(e->v[i], strlen(e->v[i]));
        sw_free(e->v[i]);
    }
    sw_free(e->v);
    *e = (sw__proc_env_t){0};
}
