/* `spillway profile --via-worker`: T_b as serve's driver sees it. This file starts the real
 * worker (`spillway worker`, this very executable) as a child, accepts it on the frontend's
 * own worker listener (serving/workers.h) on 127.0.0.1, and then sends batches of b
 * Fashion-MNIST test images one at a time, timing each where the live driver does: from
 * just before the Batch frame is encoded to the start of the result callback, once the
 * BatchResult is decoded. Going through the listener serve uses, rather than a socket of
 * our own, keeps every step of that path in the measurement: framing, bufferevents,
 * TCP_NODELAY, the loop iterations on both sides and the worker's compute thread hand-off.
 *
 * The worker's output goes to an unlinked temporary file, shown only when something fails,
 * so that stderr holds the profile's own summary. The child is always reaped before this
 * returns: after Stop (it drains and exits 0) when all went well, after SIGKILL otherwise. */
#include "cli/profile_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "serving/worker_listener.h"
#include "cli/cli.h"
#include "cli/fashion.h"

extern char **environ;

#define WORKER_ID 1
/* Batches of each size sent before the timed ones, so that buffers have grown to the size
 * and caches hold the weights, as in a server that has been running. */
#define WARMUP_BATCHES 10
/* A worker built with sanitizers takes about a second to load the model and dial in. */
#define HELLO_DEADLINE_MS 30000
#define RESULT_DEADLINE_MS 60000
#define EXIT_DEADLINE_MS 10000
/* How often the loop looks for a worker that died or a deadline that passed. Rare enough
 * to leave the round trips alone; serve's own tick timer wakes its loop likewise. */
#define WATCH_PERIOD_MS 100
/* Test images cycled through; more would only cost memory, as speed ignores the values. */
#define IMAGE_POOL 1024
#define LOG_TAIL_BYTES 4096

typedef enum {
    PW_WAITING,   /* the worker is starting; no Hello yet */
    PW_MEASURING, /* one batch in flight at a time */
    PW_STOPPING,  /* Stop sent; waiting for its Drain */
    PW_DONE,      /* drained: the loop ends */
    PW_FAILED,    /* why[] says what went wrong: the loop ends */
} pw_state_t;

typedef struct pw {
    const sw__profile_args_t *a;
    struct event_base *base;
    sw_srv_workers_t *ws;
    struct event *start_ev, *watch_ev;
    pw_state_t state;
    char token[33];
    char token_env[48]; /* "SW_TOKEN=<token>", until the worker is spawned */
    pid_t pid;          /* the worker, until reaped */
    int exit_status;    /* its wait status once reaped */
    FILE *log;          /* the worker's stdout and stderr */
    size_t in_n, out_n;
    float *images; /* n_images x in_n inputs */
    size_t n_images, next_image;
    Spillway__Request *reqs; /* max_batch, reused by every batch */
    Spillway__Request **req_ptrs;
    unsigned b, warm_left; /* the batch size measured, and its warm-ups still to send */
    uint64_t batch_id;
    sw_time_t sent_at, deadline;
    sw__profile_samples_t rtt, compute;
    double *p50, *p99, *compute_p50; /* the caller's, max_batch each */
    char why[512];
} pw_t;

static void fail(pw_t *pw, const char *fmt, ...) SW_PRINTF(2, 3);
static void fail(pw_t *pw, const char *fmt, ...)
{
    if (pw->state == PW_FAILED)
        return; /* the first failure is the one to report */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pw->why, sizeof(pw->why), fmt, ap);
    va_end(ap);
    pw->state = PW_FAILED;
    event_base_loopbreak(pw->base);
}

/* ---- the batches ---- */

static void send_batch(pw_t *pw)
{
    pw->sent_at = sw_clock_now(); /* as the live driver: before the batch is packed */
    pw->deadline = pw->sent_at + RESULT_DEADLINE_MS * SW_US_PER_MS;
    pw->batch_id++;
    for (unsigned i = 0; i < pw->b; i++) {
        pw->reqs[i].id = pw->batch_id * pw->a->max_batch + i;
        pw->reqs[i].input = pw->images + (pw->next_image + i) % pw->n_images * pw->in_n;
    }
    pw->next_image = (pw->next_image + pw->b) % pw->n_images;
    Spillway__Batch batch = SPILLWAY__BATCH__INIT;
    batch.batch_id = pw->batch_id;
    batch.n_requests = pw->b;
    batch.requests = pw->req_ptrs;
    int rc = sw_srv_workers_send_batch(pw->ws, WORKER_ID, &batch);
    if (rc < 0)
        fail(pw, "cannot send a batch of %u to the worker: %s", pw->b, sw_strerror(rc));
}

/* Whether r answers the batch in flight in full; fails the profile when not. */
static bool result_is_whole(pw_t *pw, const Spillway__BatchResult *r)
{
    if (r->batch_id != pw->batch_id || r->n_answers != pw->b) {
        fail(pw,
             "the worker answered batch %" PRIu64 " with %zu answers; expected batch %" PRIu64
             " with %u",
             r->batch_id, r->n_answers, pw->batch_id, pw->b);
        return false;
    }
    for (size_t i = 0; i < r->n_answers; i++) {
        const Spillway__Answer *ans = r->answers[i];
        if (ans->error && ans->error[0]) {
            fail(pw, "the worker failed a batch of %u: %.300s", pw->b, ans->error);
            return false;
        }
        if (ans->id != pw->reqs[i].id || ans->n_output != pw->out_n) {
            fail(pw, "the worker's answer %zu to a batch of %u does not match its request", i,
                 pw->b);
            return false;
        }
    }
    return true;
}

/* One result in: a warm-up, or a sample; once a size has enough, the next size or Stop. */
static void on_worker_result(void *self, uint32_t worker_id, const Spillway__BatchResult *r)
{
    pw_t *pw = self;
    sw_time_t now = sw_clock_now();
    (void)worker_id;
    if (pw->state != PW_MEASURING || !result_is_whole(pw, r))
        return;
    if (pw->warm_left > 0) {
        pw->warm_left--;
    } else {
        sw__profile_samples_add(&pw->rtt, sw_time_to_ms(now - pw->sent_at));
        sw__profile_samples_add(&pw->compute, r->compute_ms);
        if (sw__profile_samples_enough(&pw->rtt, pw->a)) {
            unsigned i = pw->b - 1;
            sw__profile_samples_take(&pw->rtt, &pw->p50[i], &pw->p99[i]);
            sw__profile_samples_take(&pw->compute, &pw->compute_p50[i], NULL);
            pw->b++;
            pw->warm_left = WARMUP_BATCHES;
        }
    }
    if (pw->b <= pw->a->max_batch) {
        send_batch(pw);
        return;
    }
    pw->state = PW_STOPPING;
    pw->deadline = now + EXIT_DEADLINE_MS * SW_US_PER_MS;
    if (sw_srv_workers_stop(pw->ws, WORKER_ID, "profile done") < 0)
        fail(pw, "lost the worker as the profile ended");
}

/* ---- the worker's connection ---- */

static uint32_t on_worker_hello(void *self, const Spillway__Hello *h, const char *peer,
                                const char **why)
{
    pw_t *pw = self;
    (void)peer;
    if (pw->state != PW_WAITING || !h->token || strcmp(h->token, pw->token) != 0) {
        *why = "not the worker this profile started";
        return 0;
    }
    pw->state = PW_MEASURING;
    /* The listener admits the connection once this returns: the first batch goes out from
     * the next loop iteration. */
    event_active(pw->start_ev, 0, 0);
    return WORKER_ID;
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
    pw_t *pw = arg;
    (void)fd;
    (void)what;
    pw->b = 1;
    pw->warm_left = WARMUP_BATCHES;
    send_batch(pw);
}

static void on_worker_drain(void *self, uint32_t worker_id, const char *reason)
{
    pw_t *pw = self;
    (void)worker_id;
    if (pw->state != PW_STOPPING) {
        fail(pw, "the worker stopped before the profile was done: %.200s", reason);
        return;
    }
    pw->state = PW_DONE;
    event_base_loopbreak(pw->base);
}

static void on_worker_lost(void *self, uint32_t worker_id, const char *why)
{
    pw_t *pw = self;
    (void)worker_id;
    fail(pw, "lost the worker: %s", why);
}

static void describe_status(int status, char *out, size_t len)
{
    if (WIFEXITED(status))
        snprintf(out, len, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(out, len, "wait status %d", status);
}

/* Notices a worker that exited, and a deadline that passed, while the loop waits. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    pw_t *pw = arg;
    (void)fd;
    (void)what;
    int status;
    if (pw->pid > 0 && waitpid(pw->pid, &status, WNOHANG) == pw->pid) {
        pw->pid = -1;
        pw->exit_status = status;
        char how[64];
        describe_status(status, how, sizeof(how));
        if (pw->state == PW_STOPPING && status == 0)
            on_worker_drain(pw, WORKER_ID, "exited"); /* its Drain raced its exit */
        else
            fail(pw, "the worker exited (%s) %s", how,
                 pw->state == PW_WAITING ? "before it dialled in" : "during the profile");
        return;
    }
    if (sw_clock_now() < pw->deadline)
        return;
    if (pw->state == PW_WAITING)
        fail(pw, "the worker did not dial in within %d s", HELLO_DEADLINE_MS / 1000);
    else if (pw->state == PW_MEASURING)
        fail(pw, "the worker did not answer a batch of %u within %d s", pw->b,
             RESULT_DEADLINE_MS / 1000);
    else
        fail(pw, "the worker did not drain within %d s of Stop", EXIT_DEADLINE_MS / 1000);
}

/* ---- the child ---- */

static int make_token(char out[33])
{
    uint8_t raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -errno;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* Our environment with SW_TOKEN set to the token: a command line is visible to every
 * user through ps, an environment is not. Free the vector, not its strings. */
static char **child_env(pw_t *pw)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = sw_calloc(n + 2, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SW_TOKEN=", 9) != 0)
            env[k++] = environ[i];
    snprintf(pw->token_env, sizeof(pw->token_env), "SW_TOKEN=%s", pw->token);
    env[k] = pw->token_env;
    return env;
}

/* Starts `EXE worker --connect ADDRESS ...` with its output going to pw->log. Returns 0
 * or a negative errno, with what failed in pw->why. */
static int spawn_worker(pw_t *pw, const char *address)
{
    char exe[4096], threads[16], max_batch[16];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len < 0) {
        snprintf(pw->why, sizeof(pw->why), "cannot find this executable to run the worker: %s",
                 strerror(errno));
        return -errno;
    }
    exe[len] = '\0';
    snprintf(threads, sizeof(threads), "%u", pw->a->threads);
    /* The worker must take each batch whole: a smaller max_batch would run it in chunks. */
    snprintf(max_batch, sizeof(max_batch), "%u", pw->a->max_batch);
    char *argv[] = {exe,       "worker",  "--connect",          (char *)address, "--type",
                    "profile", "--model", (char *)pw->a->model, "--threads",     threads,
                    "--id",    "profile", "--max-batch",        max_batch,       NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fileno(pw->log), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fileno(pw->log), STDERR_FILENO);
    char **env = child_env(pw);
    int rc = posix_spawn(&pw->pid, exe, &fa, NULL, argv, env);
    explicit_bzero(pw->token_env, sizeof(pw->token_env));
    sw_free(env);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pw->pid = -1;
        snprintf(pw->why, sizeof(pw->why), "cannot start the worker (%.300s): %s", exe,
                 strerror(rc));
        return -rc;
    }
    return 0;
}

/* Waits for the worker to exit: up to EXIT_DEADLINE_MS after a drain, at once (SIGKILL)
 * after a failure. Returns 0 when it drained and exited with status 0. */
static int reap_worker(pw_t *pw)
{
    sw_time_t end = sw_clock_now() + EXIT_DEADLINE_MS * SW_US_PER_MS;
    int status = 0;
    pid_t got = 0;
    if (pw->pid > 0 && pw->state != PW_DONE)
        kill(pw->pid, SIGKILL);
    while (pw->pid > 0 && (got = waitpid(pw->pid, &status, WNOHANG)) == 0 && sw_clock_now() < end)
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    if (pw->pid > 0 && got == 0) {
        kill(pw->pid, SIGKILL);
        fail(pw, "the worker did not exit within %d s of its drain; killed it",
             EXIT_DEADLINE_MS / 1000);
        got = waitpid(pw->pid, &status, 0);
    }
    if (pw->pid > 0) {
        pw->exit_status = got == pw->pid ? status : 0; /* ECHILD: not ours to judge */
        pw->pid = -1;
    }
    if (pw->state == PW_DONE && pw->exit_status != 0) {
        char how[64];
        describe_status(pw->exit_status, how, sizeof(how));
        fail(pw, "the worker exited with %s after its drain (it should exit 0)", how);
    }
    return pw->state == PW_DONE ? 0 : -EIO;
}

/* Prints the end of what the worker wrote, which says why it failed if it knew. */
static void show_worker_log(pw_t *pw)
{
    if (!pw->log || fseek(pw->log, 0, SEEK_END) != 0)
        return;
    long size = ftell(pw->log);
    if (size <= 0 || fseek(pw->log, size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0, SEEK_SET))
        return;
    char buf[LOG_TAIL_BYTES + 1];
    size_t got = fread(buf, 1, LOG_TAIL_BYTES, pw->log);
    buf[got] = '\0';
    fprintf(stderr, "spillway profile: the worker's last messages:\n%s%s", buf,
            got && buf[got - 1] != '\n' ? "\n" : "");
}

/* ---- setup ---- */

/* The test images the batches cycle through. Returns 0 or an exit status. */
static int load_images(pw_t *pw, const sw_model_t *m)
{
    sw_idx_set_t set;
    int rc = sw__cli_fashion_load("profile", pw->a->data, false, &set);
    if (rc != 0)
        return rc;
    pw->in_n = sw_model_input_size(m);
    pw->out_n = sw_model_output_size(m);
    if (set.rows * set.cols != pw->in_n || set.n == 0) {
        fprintf(stderr,
                "spillway profile: --via-worker sends the %zu-pixel images of %s, and model %s "
                "takes %zu inputs per request; profile it without --via-worker\n",
                set.rows * set.cols, pw->a->data, pw->a->model, pw->in_n);
        sw_idx_deinit(&set);
        return SW_EXIT_USAGE;
    }
    pw->n_images = SW_MIN(set.n, SW_MAX((size_t)IMAGE_POOL, pw->a->max_batch));
    pw->images = sw_malloc(pw->n_images * pw->in_n * sizeof(float));
    sw__cli_fashion_pixels(&set, 0, pw->n_images, pw->images);
    sw_idx_deinit(&set);
    pw->reqs = sw_calloc(pw->a->max_batch, sizeof(*pw->reqs));
    pw->req_ptrs = sw_calloc(pw->a->max_batch, sizeof(*pw->req_ptrs));
    for (unsigned i = 0; i < pw->a->max_batch; i++) {
        spillway__request__init(&pw->reqs[i]);
        pw->reqs[i].n_input = pw->in_n;
        pw->req_ptrs[i] = &pw->reqs[i];
    }
    return 0;
}

/* The loop, the listener, the timers and the worker. Returns 0 or a negative error with
 * what failed in pw->why. */
static int start(pw_t *pw)
{
    int rc = make_token(pw->token);
    if (rc < 0) {
        snprintf(pw->why, sizeof(pw->why), "getrandom: %s", strerror(-rc));
        return rc;
    }
    pw->log = tmpfile();
    pw->base = event_base_new();
    if (!pw->log || !pw->base) {
        snprintf(pw->why, sizeof(pw->why), "cannot set up: %s",
                 pw->log ? "event_base_new failed" : strerror(errno));
        return -ENOMEM;
    }
    sw_srv_workers_opts_t o = {.listen = "127.0.0.1:0"};
    sw_srv_workers_events_t ev = {.self = pw,
                                  .hello = on_worker_hello,
                                  .result = on_worker_result,
                                  .drain = on_worker_drain,
                                  .lost = on_worker_lost};
    rc = sw_srv_workers_create(pw->base, &o, &ev, &pw->ws, pw->why, sizeof(pw->why));
    if (rc < 0)
        return rc;
    pw->start_ev = event_new(pw->base, -1, 0, on_start, pw);
    pw->watch_ev = event_new(pw->base, -1, EV_PERSIST, on_watch, pw);
    struct timeval period = {.tv_usec = WATCH_PERIOD_MS * 1000};
    if (!pw->start_ev || !pw->watch_ev || event_add(pw->watch_ev, &period) < 0) {
        snprintf(pw->why, sizeof(pw->why), "cannot set up libevent events");
        return -ENOMEM;
    }
    pw->deadline = sw_clock_now() + HELLO_DEADLINE_MS * SW_US_PER_MS;
    return spawn_worker(pw, sw_srv_workers_address(pw->ws));
}

static void pw_deinit(pw_t *pw)
{
    sw_srv_workers_destroy(pw->ws);
    if (pw->start_ev)
        event_free(pw->start_ev);
    if (pw->watch_ev)
        event_free(pw->watch_ev);
    if (pw->base)
        event_base_free(pw->base);
    if (pw->log)
        fclose(pw->log);
    sw_free(pw->rtt.ms);
    sw_free(pw->compute.ms);
    sw_free(pw->images);
    sw_free(pw->reqs);
    sw_free(pw->req_ptrs);
}

int sw__profile_via_worker(const sw__profile_args_t *a, const sw_model_t *m, double *p50,
                           double *p99, double *compute_p50)
{
    pw_t pw = {.a = a, .pid = -1, .p50 = p50, .p99 = p99, .compute_p50 = compute_p50};
    int rc = load_images(&pw, m);
    if (rc != 0) {
        pw_deinit(&pw);
        return rc;
    }
    /* A worker that vanishes mid-write must give EPIPE, not kill the profile. */
    signal(SIGPIPE, SIG_IGN);
    /* The listener tells of connections opening and closing at INFO, which serve's log
     * wants and a profile's user does not: stderr is for the summary and what failed. */
    sw_log_set_level(SW_LOG_LVL_WARN);
    if (start(&pw) < 0)
        pw.state = PW_FAILED; /* start said why */
    else if (event_base_dispatch(pw.base) < 0)
        fail(&pw, "the event loop failed");
    /* Closing our end first lets a worker that is still running see the connection go. */
    sw_srv_workers_destroy(pw.ws);
    pw.ws = NULL;
    rc = reap_worker(&pw);
    if (rc < 0) {
        fprintf(stderr, "spillway profile: %s\n", pw.why);
        show_worker_log(&pw);
    }
    pw_deinit(&pw);
    return rc < 0 ? SW_EXIT_FAILURE : 0;
}
