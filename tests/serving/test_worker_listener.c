/* Tests of serving/worker_listener.c, the frontend's side of the worker protocol, against the
 * real `spillway worker` process on 127.0.0.1 (port chosen by the kernel): admission at
 * Hello, a batch and its result, Stop, refusal, and a worker declared lost when its
 * connection closes or it falls silent (SIGSTOP). */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "serving/worker_listener.h"
#include "tests/tiny_model.h"

extern char **environ;

typedef struct fix {
    struct event_base *base;
    sw_srv_workers_t *w;
    char model_path[128];
    pid_t child;
    bool refuse;
    uint32_t admitted, lost, drained;
    char lost_why[160];
    Spillway__BatchResult *result; /* a copy of the last result's first answer */
    uint64_t result_batch;
    size_t result_answers;
    float first_output[2];
} fix_t;

static fix_t fx;

static uint32_t on_hello(void *self, const Spillway__Hello *h, const char *peer, const char **why)
{
    fix_t *f = self;
    (void)peer;
    cr_assert_str_eq(h->instance_type, "t.small");
    cr_assert_str_eq(h->token, "tok-1");
    if (f->refuse) {
        *why = "test refuses";
        return 0;
    }
    f->admitted = 5;
    return 5;
}

static void on_result(void *self, uint32_t id, const Spillway__BatchResult *r)
{
    fix_t *f = self;
    cr_assert_eq(id, 5);
    f->result_batch = r->batch_id;
    f->result_answers = r->n_answers;
    if (r->n_answers > 0 && r->answers[0]->n_output == 2)
        memcpy(f->first_output, r->answers[0]->output, sizeof(f->first_output));
}

static void on_drain(void *self, uint32_t id, const char *reason)
{
    fix_t *f = self;
    (void)reason;
    f->drained = id;
}

static void on_lost(void *self, uint32_t id, const char *why)
{
    fix_t *f = self;
    f->lost = id;
    snprintf(f->lost_why, sizeof(f->lost_why), "%s", why);
}

static void setup(void)
{
    memset(&fx, 0, sizeof(fx));
    char err[512];
    snprintf(fx.model_path, sizeof(fx.model_path), "/tmp/sw_workers_test.%ld.model",
             (long)getpid());
    cr_assert_eq(sw_model_save(fx.model_path, &tiny, err, sizeof(err)), 0, "%s", err);
    fx.base = event_base_new();
    sw_srv_workers_opts_t o = {.listen = "127.0.0.1:0", .heartbeat_timeout_ms = 1500};
    sw_srv_workers_events_t ev = {.self = &fx, .hello = on_hello, .result = on_result,
                                  .drain = on_drain, .lost = on_lost};
    cr_assert_eq(sw_srv_workers_create(fx.base, &o, &ev, &fx.w, err, sizeof(err)), 0, "%s", err);
    fx.child = -1;
}

static void teardown(void)
{
    if (fx.child > 0) {
        kill(fx.child, SIGKILL);
        waitpid(fx.child, NULL, 0);
    }
    sw_srv_workers_destroy(fx.w);
    event_base_free(fx.base);
    unlink(fx.model_path);
}

TestSuite(srv_workers, .init = setup, .fini = teardown, .timeout = 30);

static void spawn_worker(void)
{
    char *argv[] = {SW_BINARY_DIR "/spillway", "worker", "--connect",
                    (char *)sw_srv_workers_address(fx.w), "--type", "t.small", "--model",
                    fx.model_path, "--threads", "1", "--token", "tok-1", NULL};
    int rc = posix_spawn(&fx.child, argv[0], NULL, NULL, argv, environ);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
}

/* Runs the loop until cond holds or timeout_ms passes. */
#define RUN_UNTIL(cond, timeout_ms)                                                           \
    do {                                                                                      \
        sw_time_t end_ = sw_clock_now() + (timeout_ms) * SW_US_PER_MS;                        \
        while (!(cond)) {                                                                     \
            cr_assert_lt(sw_clock_now(), end_, "timed out waiting for " #cond);                \
            struct timeval tv = {0, 20000};                                                   \
            event_base_loopexit(fx.base, &tv);                                                \
            event_base_dispatch(fx.base);                                                     \
        }                                                                                     \
    } while (0)

static void send_batch(uint64_t batch_id)
{
    float in[2][3] = {{1, 2, 3}, {0, 0, 0}};
    Spillway__Request reqs[2], *ptrs[2];
    for (int i = 0; i < 2; i++) {
        spillway__request__init(&reqs[i]);
        reqs[i].id = 100 + (uint64_t)i;
        reqs[i].n_input = 3;
        reqs[i].input = in[i];
        ptrs[i] = &reqs[i];
    }
    Spillway__Batch b = SPILLWAY__BATCH__INIT;
    b.batch_id = batch_id;
    b.n_requests = 2;
    b.requests = ptrs;
    cr_assert_eq(sw_srv_workers_send_batch(fx.w, 5, &b), 0);
}

Test(srv_workers, admits_runs_a_batch_and_stops_a_worker)
{
    spawn_worker();
    RUN_UNTIL(sw_srv_workers_is_connected(fx.w, 5), 10000);
    send_batch(77);
    RUN_UNTIL(fx.result_batch == 77, 10000);
    cr_assert_eq(fx.result_answers, 2);
    /* tiny([1,2,3]): h = relu([1-2+1.5+0.5, 4-3-1]) = [1, 0]; softmax([2, 1.5]). */
    cr_assert_float_eq(fx.first_output[0], 0.62245935f, 1e-5);
    cr_assert_eq(sw_srv_workers_stop(fx.w, 5, "test over"), 0);
    int status;
    sw_time_t end = sw_clock_now() + 10 * SW_US_PER_S;
    while (waitpid(fx.child, &status, WNOHANG) == 0) {
        cr_assert_lt(sw_clock_now(), end, "the worker did not exit after Stop");
        struct timeval tv = {0, 20000};
        event_base_loopexit(fx.base, &tv);
        event_base_dispatch(fx.base);
    }
    fx.child = -1;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    RUN_UNTIL(!sw_srv_workers_is_connected(fx.w, 5), 2000);
    cr_assert_eq(fx.lost, 0, "a stopped worker is not lost");
    sw_srv_workers_stats_t st;
    sw_srv_workers_get_stats(fx.w, &st);
    cr_assert_eq(st.batches_sent, 1);
    cr_assert_eq(st.results_received, 1);
}

Test(srv_workers, a_refused_worker_is_closed_and_never_admitted)
{
    fx.refuse = true;
    spawn_worker();
    sw_srv_workers_stats_t st = {0};
    RUN_UNTIL((sw_srv_workers_get_stats(fx.w, &st), st.connections_refused >= 1), 10000);
    cr_assert(!sw_srv_workers_is_connected(fx.w, 5));
    cr_assert_eq(sw_srv_workers_send_batch(fx.w, 5, &(Spillway__Batch)SPILLWAY__BATCH__INIT),
                 -ENOTCONN);
}

Test(srv_workers, a_killed_worker_is_lost)
{
    spawn_worker();
    RUN_UNTIL(sw_srv_workers_is_connected(fx.w, 5), 10000);
    kill(fx.child, SIGKILL);
    RUN_UNTIL(fx.lost == 5, 5000);
    cr_assert(strstr(fx.lost_why, "closed") || strstr(fx.lost_why, "error"), "%s", fx.lost_why);
}

Test(srv_workers, a_silent_worker_is_lost_after_the_heartbeat_timeout)
{
    spawn_worker();
    RUN_UNTIL(sw_srv_workers_is_connected(fx.w, 5), 10000);
    kill(fx.child, SIGSTOP);
    sw_time_t stopped = sw_clock_now();
    RUN_UNTIL(fx.lost == 5, 5000);
    cr_assert_geq(sw_clock_now() - stopped, 1000 * SW_US_PER_MS, "not before the timeout");
    cr_assert(strstr(fx.lost_why, "silent for"), "%s", fx.lost_why);
    kill(fx.child, SIGCONT);
}
