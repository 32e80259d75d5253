/* `faas.invoke.endpoint: local`: serve starts `spillway faas-local` as a child process,
 * serving this build's `spillway function` on the served model, so that spill works on a
 * laptop with no AWS account. The child gets fresh random credentials in its environment
 * (never on its command line, which `ps` shows), binds a port of the kernel's choice and
 * prints "listening on HOST:PORT", which is read here before serve goes on. */
#include "cli/serve_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#define SW_LOG_MODULE "serve"
#include "common/log.h"

extern char **environ;

static void random_hex(char *out, size_t bytes)
{
    uint8_t raw[32];
    SW_ASSERT(bytes <= sizeof(raw));
    if (getrandom(raw, bytes, 0) != (ssize_t)bytes)
        abort(); /* no entropy: refuse to make guessable credentials */
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* environ plus the two credentials, replacing any the parent had. */
static char **child_env(const serve_faas_local_t *fl)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = sw_calloc(n + 3, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "AWS_", 4) != 0)
            env[k++] = environ[i];
    env[k++] = (char *)fl->env_key;
    env[k++] = (char *)fl->env_secret;
    env[k] = NULL;
    return env;
}

/* Reads the child's first stdout line within timeout_ms. */
static int read_listen_line(int fd, char *line, size_t len, int timeout_ms)
{
    size_t used = 0;
    sw_time_t end = sw_clock_now() + (sw_time_t)timeout_ms * SW_US_PER_MS;
    while (used + 1 < len) {
        int left = (int)((end - sw_clock_now()) / SW_US_PER_MS);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -ETIMEDOUT;
        ssize_t got = read(fd, line + used, 1);
        if (got <= 0)
            return got == 0 ? -EPIPE : -errno;
        if (line[used] == '\n')
            break;
        used++;
    }
    line[used] = '\0';
    return 0;
}

int sw__serve_faas_local_start(serve_faas_local_t *fl, const char *exe, const char *model_path,
                               const sw_cfg_t *cfg)
{
    memset(fl, 0, sizeof(*fl));
    fl->pid = -1;
    fl->out_fd = -1;
    char id[17], secret[41];
    random_hex(id, 8);
    random_hex(secret, 20);
    snprintf(fl->access_key_id, sizeof(fl->access_key_id), "AKIDSERVE%s", id);
    snprintf(fl->secret, sizeof(fl->secret), "%s", secret);
    snprintf(fl->env_key, sizeof(fl->env_key), "AWS_ACCESS_KEY_ID=%s", fl->access_key_id);
    snprintf(fl->env_secret, sizeof(fl->env_secret), "AWS_SECRET_ACCESS_KEY=%s", fl->secret);

    char fn[8400], memory[32], timeout[32], conc[32], keep[32];
    snprintf(fn, sizeof(fn), "%s=%s function --model %s", cfg->faas.invoke.function_name, exe,
             model_path);
    snprintf(memory, sizeof(memory), "%u", cfg->faas.memory_mb);
    snprintf(timeout, sizeof(timeout), "%g", cfg->faas.local.timeout_s);
    snprintf(conc, sizeof(conc), "%u",
             cfg->faas.local.concurrency ? cfg->faas.local.concurrency
                                         : cfg->faas.concurrency_limit);
    snprintf(keep, sizeof(keep), "%g", SW_MAX(cfg->faas.keep_alive_s, 0.001));
    char *argv[] = {(char *)exe, "faas-local", "--listen", "127.0.0.1:0", "--function", fn,
                    "--memory-mb", memory, "--timeout-s", timeout, "--concurrency", conc,
                    "--keep-alive-s", keep, "--region", cfg->faas.invoke.region,
                    "--log-level", "warn", NULL};
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -errno;
    /* Neither end may leak into the workers and functions started later; the child's
     * stdout is a dup2'd copy, which does not inherit the flag. */
    fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    char **env = child_env(fl);
    int rc = posix_spawn(&fl->pid, exe, &fa, NULL, argv, env);
    sw_free(env);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        fl->pid = -1;
        SW_LOG_ERROR("cannot start faas-local (%s): %s", exe, strerror(rc));
        return -rc;
    }
    fl->out_fd = pipefd[0];
    char line[256], host[200];
    unsigned port;
    rc = read_listen_line(fl->out_fd, line, sizeof(line), 15000);
    if (rc < 0 || sscanf(line, "listening on %199[^:]:%u", host, &port) != 2) {
        SW_LOG_ERROR("faas-local did not say where it listens within 15 s (%s); see its "
                     "messages above", rc < 0 ? strerror(-rc) : line);
        sw__serve_faas_local_stop(fl);
        return -EIO;
    }
    snprintf(fl->endpoint, sizeof(fl->endpoint), "http://%s:%u", host, port);
    SW_LOG_INFO("faas-local started pid=%d endpoint=%s function=%s", (int)fl->pid, fl->endpoint,
                cfg->faas.invoke.function_name);
    return 0;
}

void sw__serve_faas_local_stop(serve_faas_local_t *fl)
{
    if (fl->pid > 0) {
        kill(fl->pid, SIGTERM);
        /* faas-local drains its invocations (bounded by its function timeout); give it a
         * few seconds, then make sure. */
        int status;
        sw_time_t end = sw_clock_now() + 5 * SW_US_PER_S;
        while (waitpid(fl->pid, &status, WNOHANG) == 0) {
            if (sw_clock_now() > end) {
                kill(fl->pid, SIGKILL);
                waitpid(fl->pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        fl->pid = -1;
    }
    if (fl->out_fd >= 0)
        close(fl->out_fd);
    fl->out_fd = -1;
    /* The credentials die with the child; wipe them from our memory too. */
    memset(fl->secret, 0, sizeof(fl->secret));
    memset(fl->env_secret, 0, sizeof(fl->env_secret));
}
