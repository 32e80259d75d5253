/* Tests of backends/worker.c through the real `spillway worker` binary: a small frontend
 * stand-in (an evconnlistener on 127.0.0.1, port 0, driven step by step on the test
 * thread) speaks the frame protocol to a worker spawned with posix_spawn. The worker
 * registers with the right Hello, answers a batch with the same outputs as sw_model_infer
 * in-process, answers a wrong-sized request with an error, reconnects after the server
 * restarts on the same port or after it sends garbage, on SIGTERM with a batch in flight
 * sends the result, then Drain, then exits 0, and does the same on a Stop frame without
 * dialling in again. The token reaches Hello from --token or from SW_TOKEN.
 *
 * The be_worker_inline suite runs sw_be_worker_run in a thread of the test instead, with a
 * fake clock that the forward pass advances by a cost the test sets, so which batches run
 * inline on the worker's loop and which on its compute thread is decided deterministically,
 * and the forward pass records on which thread it ran. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "backends/frame.h"
#include "backends/worker.h"
#include "common/common.h"
#include "model/model.h"
#include "tests/tiny_model.h"

extern char **environ;

#define MAX_FRAMES 256

typedef struct srv {
    struct event_base *base;
    struct evconnlistener *lis;
    struct bufferevent *bev;
    struct event *tick;
    uint16_t port;
    int conns;
    bool closed; /* the current connection saw EOF or an error */
    Spillway__Frame *frames[MAX_FRAMES];
    size_t head, tail;
} srv_t;

static srv_t srv;
static pid_t child = -1;
static char model_path[64];


static void on_srv_read(struct bufferevent *bev, void *arg)
{
    srv_t *s = arg;
    for (;;) {
        Spillway__Frame *f = NULL;
        char err[200];
        int rc = sw_frame_read(bufferevent_get_input(bev), SW_FRAME_MAX_BYTES_DEFAULT, &f, err,
                               sizeof(err));
        cr_assert_geq(rc, 0, "worker sent a bad frame: %s", err);
        if (rc == 0)
            return;
        cr_assert_lt(s->tail - s->head, MAX_FRAMES);
        s->frames[s->tail++ % MAX_FRAMES] = f;
    }
}

static void on_srv_event(struct bufferevent *bev, short what, void *arg)
{
    srv_t *s = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        s->closed = true;
}

static void on_srv_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                          int len, void *arg)
{
    srv_t *s = arg;
    (void)lis;
    (void)sa;
    (void)len;
    if (s->bev)
        bufferevent_free(s->bev);
    s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(s->bev, on_srv_read, NULL, on_srv_event, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->closed = false;
    s->conns++;
}

static void on_srv_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void srv_run(srv_t *s, int64_t ms, const bool *flag);

/* Listens on 127.0.0.1:port (0: any free port). A fixed port can be briefly held by the
 * worker's own reconnect attempt, so that bind is retried for a while. */
static void srv_listen(srv_t *s, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sw_time_t end = sw_clock_now() + 3 * SW_US_PER_S;
    for (;;) {
        s->lis = evconnlistener_new_bind(s->base, on_srv_accept, s,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                             LEV_OPT_CLOSE_ON_EXEC,
                                         16, (struct sockaddr *)&sin, sizeof(sin));
        if (s->lis || port == 0 || errno != EADDRINUSE || sw_clock_now() > end)
            break;
        srv_run(s, 20, NULL);
    }
    cr_assert_not_null(s->lis, "bind 127.0.0.1:%u: %s", port, strerror(errno));
    struct sockaddr_in got;
    socklen_t len = sizeof(got);
    cr_assert_eq(getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&got, &len), 0);
    s->port = ntohs(got.sin_port);
}

/* Closes the connection and the listener, as a frontend that goes away. */
static void srv_close(srv_t *s)
{
    if (s->bev)
        bufferevent_free(s->bev);
    s->bev = NULL;
    if (s->lis)
        evconnlistener_free(s->lis);
    s->lis = NULL;
}

/* Runs the loop for up to ms, or until *flag (if given) becomes true. */
static void srv_run(srv_t *s, int64_t ms, const bool *flag)
{
    sw_time_t end = sw_clock_now() + ms * SW_US_PER_MS;
    while (sw_clock_now() < end && !(flag && *flag))
        event_base_loop(s->base, EVLOOP_ONCE);
}

/* Next frame of the worker other than a Heartbeat (those are freed, and the last queue
 * depth is kept in *depth when not NULL); fails the test after timeout_ms. */
static Spillway__Frame *srv_next(srv_t *s, int64_t timeout_ms, bool skip_heartbeats)
{
    sw_time_t end = sw_clock_now() + timeout_ms * SW_US_PER_MS;
    for (;;) {
        while (s->head < s->tail) {
            Spillway__Frame *f = s->frames[s->head++ % MAX_FRAMES];
            if (skip_heartbeats && f->body_case == SPILLWAY__FRAME__BODY_HEARTBEAT) {
                spillway__frame__free_unpacked(f, NULL);
                continue;
            }
            return f;
        }
        cr_assert_lt(sw_clock_now(), end, "no frame from the worker in %" PRId64 " ms", timeout_ms);
        event_base_loop(s->base, EVLOOP_ONCE);
    }
}

static Spillway__Frame *srv_expect(srv_t *s, Spillway__Frame__BodyCase want, int64_t timeout_ms)
{
    Spillway__Frame *f = srv_next(s, timeout_ms, true);
    cr_assert_eq(f->body_case, want, "expected %s, got %s", sw_frame_type_name(want),
                 sw_frame_type_name(f->body_case));
    return f;
}

static void srv_send(srv_t *s, const Spillway__Frame *f)
{
    cr_assert_not_null(s->bev);
    cr_assert_eq(sw_frame_write(bufferevent_get_output(s->bev), f), 0);
}

/* Spawns the worker; token_arg, when not NULL, is passed with --token, and token_env, when
 * not NULL, is set as SW_TOKEN in the worker's environment (ours has none). */
static void spawn_worker_with_token(int64_t delay_ms, const char *token_arg,
                                    const char *token_env)
{
    char connect[64], delay[32];
    snprintf(connect, sizeof(connect), "127.0.0.1:%u", (unsigned)srv.port);
    snprintf(delay, sizeof(delay), "%" PRId64, delay_ms);
    char *argv[] = {SW_BINARY_DIR "/spillway",
                    "worker",
                    "--connect",
                    connect,
                    "--type",
                    "t.small",
                    "--model",
                    model_path,
                    "--id",
                    "w-test",
                    "--max-batch",
                    "8",
                    "--threads",
                    "1",
                    "--seed",
                    "42",
                    "--debug-compute-delay-ms",
                    delay,
                    "--max-frame-bytes",
                    "4096",
                    token_arg ? "--token" : NULL,
                    (char *)token_arg,
                    NULL};
    /* Our environment, without any SW_TOKEN the test run inherited, plus token_env. */
    char *envp[512], env_token[128];
    size_t k = 0;
    for (size_t i = 0; environ[i] && k < SW_ARRAY_LEN(envp) - 2; i++)
        if (strncmp(environ[i], "SW_TOKEN=", 9) != 0)
            envp[k++] = environ[i];
    if (token_env) {
        snprintf(env_token, sizeof(env_token), "SW_TOKEN=%s", token_env);
        envp[k++] = env_token;
    }
    envp[k] = NULL;
    int rc = posix_spawn(&child, argv[0], NULL, NULL, argv, envp);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", argv[0], strerror(rc));
}

static void spawn_worker(int64_t delay_ms)
{
    spawn_worker_with_token(delay_ms, NULL, NULL);
}

/* Waits for the child to exit (polling, with the server loop running so the worker's
 * writes never block) and returns its wait status. */
static int wait_child(int64_t timeout_ms)
{
    sw_time_t end = sw_clock_now() + timeout_ms * SW_US_PER_MS;
    for (;;) {
        int status;
        pid_t p = waitpid(child, &status, WNOHANG);
        cr_assert_geq(p, 0, "waitpid: %s", strerror(errno));
        if (p == child) {
            child = -1;
            return status;
        }
        cr_assert_lt(sw_clock_now(), end, "worker did not exit in %" PRId64 " ms", timeout_ms);
        srv_run(&srv, 20, NULL);
    }
}

static void setup(void)
{
    char err[512] = "";
    snprintf(model_path, sizeof(model_path), "/tmp/sw_worker_test.%ld.model", (long)getpid());
    cr_assert_eq(sw_model_save(model_path, &tiny, err, sizeof(err)), 0, "%s", err);
    memset(&srv, 0, sizeof(srv));
    srv.base = event_base_new();
    cr_assert_not_null(srv.base);
    /* A periodic tick so that each EVLOOP_ONCE step returns soon even when idle. */
    srv.tick = event_new(srv.base, -1, EV_PERSIST, on_srv_tick, NULL);
    struct timeval tv = {0, 20000};
    event_add(srv.tick, &tv);
    srv_listen(&srv, 0);
}

static void teardown(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    srv_close(&srv);
    while (srv.head < srv.tail)
        spillway__frame__free_unpacked(srv.frames[srv.head++ % MAX_FRAMES], NULL);
    if (srv.tick)
        event_free(srv.tick);
    if (srv.base)
        event_base_free(srv.base);
    unlink(model_path);
}

TestSuite(be_worker, .init = setup, .fini = teardown, .timeout = 30);

static void expect_hello_token(const char *token)
{
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_HELLO, 10000);
    Spillway__Hello *h = f->hello;
    cr_expect_str_eq(h->token, token);
    cr_expect_str_eq(h->worker_id, "w-test");
    cr_expect_str_eq(h->instance_type, "t.small");
    cr_expect_str_eq(h->model_name, "tiny");
    cr_expect_eq(h->model_version, 7);
    cr_expect_eq(h->max_batch, 8);
    cr_expect_eq(h->threads, 1);
    spillway__frame__free_unpacked(f, NULL);
}

static void expect_hello(void)
{
    expect_hello_token("");
}

/* Sends a batch of n requests of 3 floats each (request i has input x + 3i). */
static void send_batch(uint64_t batch_id, const float *x, size_t n, size_t bad_index)
{
    Spillway__Request reqs[8], *ptrs[8];
    cr_assert_leq(n, 8);
    for (size_t i = 0; i < n; i++) {
        spillway__request__init(&reqs[i]);
        reqs[i].id = 100 + i;
        reqs[i].n_input = i == bad_index ? 2 : 3;
        reqs[i].input = (float *)x + 3 * i;
        ptrs[i] = &reqs[i];
    }
    Spillway__Batch b = SPILLWAY__BATCH__INIT;
    b.batch_id = batch_id;
    b.n_requests = n;
    b.requests = ptrs;
    Spillway__Frame f;
    sw_frame_init_batch(&f, &b);
    srv_send(&srv, &f);
}

static const float inputs[] = {1, 2, 3, 2, 1, 0, 0, 0, 1, -1, 4, 2};

/* Checks that result r answers requests 0..n) of `inputs` like the model in-process. */
static void expect_answers(const Spillway__BatchResult *r, uint64_t batch_id, size_t n,
                           size_t bad_index)
{
    char err[512] = "";
    sw_model_t *m = NULL;
    cr_assert_eq(sw_model_load(model_path, 8, &m, err, sizeof(err)), 0, "%s", err);
    float want[8];
    cr_assert_eq(sw_model_infer(m, inputs, n, want), 0);
    sw_model_destroy(m);
    cr_assert_eq(r->batch_id, batch_id);
    cr_assert_eq(r->n_answers, n);
    cr_expect_geq(r->compute_ms, 0.0);
    for (size_t i = 0; i < n; i++) {
        const Spillway__Answer *a = r->answers[i];
        cr_expect_eq(a->id, 100 + i);
        if (i == bad_index) {
            cr_expect_neq(a->error[0], '\0', "answer %zu should be an error", i);
            cr_expect_eq(a->n_output, 0);
            continue;
        }
        cr_expect_str_eq(a->error, "");
        cr_assert_eq(a->n_output, 2);
        for (size_t k = 0; k < 2; k++)
            cr_expect_float_eq(a->output[k], want[2 * i + k], 1e-6, "answer %zu[%zu]", i, k);
    }
}

Test(be_worker, registers_with_hello)
{
    spawn_worker(0);
    expect_hello();
}

Test(be_worker, answers_batch_like_in_process_model)
{
    spawn_worker(0);
    expect_hello();
    send_batch(9, inputs, 3, SIZE_MAX);
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 9, 3, SIZE_MAX);
    spillway__frame__free_unpacked(f, NULL);
}

Test(be_worker, wrong_input_size_gets_error_answer)
{
    spawn_worker(0);
    expect_hello();
    send_batch(10, inputs, 4, 1);
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 10, 4, 1);
    spillway__frame__free_unpacked(f, NULL);
}

Test(be_worker, reconnects_after_server_restart)
{
    spawn_worker(0);
    expect_hello();
    uint16_t port = srv.port;
    srv_close(&srv);
    /* Stay away long enough for a few refused attempts, so the backoff path runs. */
    srv_run(&srv, 400, NULL);
    srv_listen(&srv, port);
    cr_assert_eq(srv.port, port);
    expect_hello();
    cr_expect_eq(srv.conns, 2);
    /* The new connection works: a batch is answered on it. */
    send_batch(11, inputs, 2, SIZE_MAX);
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 11, 2, SIZE_MAX);
    spillway__frame__free_unpacked(f, NULL);
}

Test(be_worker, reconnects_after_garbage_frame)
{
    spawn_worker(0);
    expect_hello();
    static const uint8_t garbage[] = {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff};
    evbuffer_add(bufferevent_get_output(srv.bev), garbage, sizeof(garbage));
    srv_run(&srv, 5000, &srv.closed);
    cr_assert(srv.closed, "the worker did not close the connection");
    expect_hello();
    cr_expect_eq(srv.conns, 2);
}

Test(be_worker, a_frame_over_the_configured_size_closes_the_connection)
{
    spawn_worker(0);
    expect_hello();
    /* One request of 3,000 floats: 12 KB, over the 4096-byte limit the worker was given.
     * It must refuse it from the length prefix, close, and register again. */
    static float x[3000];
    for (size_t i = 0; i < SW_ARRAY_LEN(x); i++)
        x[i] = (float)i;
    Spillway__Request req = SPILLWAY__REQUEST__INIT, *ptr = &req;
    req.id = 1;
    req.n_input = SW_ARRAY_LEN(x);
    req.input = x;
    Spillway__Batch b = SPILLWAY__BATCH__INIT;
    b.batch_id = 7;
    b.n_requests = 1;
    b.requests = &ptr;
    Spillway__Frame f;
    sw_frame_init_batch(&f, &b);
    srv_send(&srv, &f);
    srv_run(&srv, 5000, &srv.closed);
    cr_assert(srv.closed, "the worker did not close the connection");
    expect_hello();
    cr_expect_eq(srv.conns, 2);
}

Test(be_worker, sigterm_finishes_batch_then_drains_and_exits_0)
{
    spawn_worker(2000);
    expect_hello();
    send_batch(12, inputs, 3, SIZE_MAX);
    /* A heartbeat while the batch computes shows it is in hand and the loop is free. */
    for (;;) {
        Spillway__Frame *f = srv_next(&srv, 5000, false);
        cr_assert_eq(f->body_case, SPILLWAY__FRAME__BODY_HEARTBEAT, "got %s",
                     sw_frame_type_name(f->body_case));
        uint32_t depth = f->heartbeat->queue_depth;
        spillway__frame__free_unpacked(f, NULL);
        if (depth == 1)
            break;
    }
    cr_assert_eq(kill(child, SIGTERM), 0);
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 12, 3, SIZE_MAX);
    spillway__frame__free_unpacked(f, NULL);
    f = srv_expect(&srv, SPILLWAY__FRAME__BODY_DRAIN, 10000);
    spillway__frame__free_unpacked(f, NULL);
    int status = wait_child(10000);
    cr_assert(WIFEXITED(status), "worker did not exit normally: status %d", status);
    cr_assert_eq(WEXITSTATUS(status), 0);
    srv_run(&srv, 2000, &srv.closed);
    cr_expect(srv.closed);
}

Test(be_worker, hello_carries_the_token_from_sw_token)
{
    spawn_worker_with_token(0, NULL, "tok-from-env");
    expect_hello_token("tok-from-env");
}

Test(be_worker, token_option_overrides_sw_token)
{
    spawn_worker_with_token(0, "tok-from-arg", "tok-from-env");
    expect_hello_token("tok-from-arg");
}

static void send_stop(const char *reason)
{
    Spillway__Stop st = SPILLWAY__STOP__INIT;
    st.reason = (char *)reason;
    Spillway__Frame f;
    sw_frame_init_stop(&f, &st);
    srv_send(&srv, &f);
}

/* Waits for the worker to exit 0, then runs the loop a while longer: a worker that dialled
 * in again would show up as a second connection. */
static void expect_exit_0_without_reconnect(void)
{
    int status = wait_child(10000);
    cr_assert(WIFEXITED(status), "worker did not exit normally: status %d", status);
    cr_assert_eq(WEXITSTATUS(status), 0);
    srv_run(&srv, 300, NULL);
    cr_expect(srv.closed);
    cr_expect_eq(srv.conns, 1, "the worker dialled in again after Stop");
}

Test(be_worker, stop_after_batch_answers_it_drains_and_exits_0)
{
    spawn_worker_with_token(500, NULL, "t");
    expect_hello_token("t");
    send_batch(13, inputs, 3, SIZE_MAX);
    send_stop("scale-in");
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 13, 3, SIZE_MAX);
    spillway__frame__free_unpacked(f, NULL);
    f = srv_expect(&srv, SPILLWAY__FRAME__BODY_DRAIN, 10000);
    cr_expect_str_eq(f->drain->reason, "stop requested");
    spillway__frame__free_unpacked(f, NULL);
    expect_exit_0_without_reconnect();
}

Test(be_worker, stop_when_idle_drains_at_once)
{
    spawn_worker(0);
    expect_hello();
    send_stop("");
    send_stop("twice is harmless");
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_DRAIN, 10000);
    spillway__frame__free_unpacked(f, NULL);
    expect_exit_0_without_reconnect();
}

Test(be_worker, batch_after_stop_gets_error_answers_before_drain)
{
    spawn_worker(500);
    expect_hello();
    send_batch(14, inputs, 2, SIZE_MAX);
    send_stop("scale-in");
    send_batch(15, inputs, 2, SIZE_MAX);
    /* Batch 15 is refused at once, while 14 is still computing. */
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    cr_assert_eq(f->result->batch_id, 15);
    cr_assert_eq(f->result->n_answers, 2);
    cr_expect_str_eq(f->result->answers[0]->error, "worker draining");
    spillway__frame__free_unpacked(f, NULL);
    f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 14, 2, SIZE_MAX);
    spillway__frame__free_unpacked(f, NULL);
    f = srv_expect(&srv, SPILLWAY__FRAME__BODY_DRAIN, 10000);
    spillway__frame__free_unpacked(f, NULL);
    expect_exit_0_without_reconnect();
}

/* ---- inline batches, with the worker in this process ---- */

#define MAX_CALLS 64
enum { RAN_NOWHERE, RAN_ON_LOOP, RAN_ON_THREAD };

typedef struct inproc {
    sw_model_t *model;
    sw_be_worker_opts_t opts;
    pthread_t thread;
    pthread_t loop; /* the thread inside sw_be_worker_run */
    atomic_llong now_us;  /* the worker's clock */
    atomic_llong cost_us; /* how far each forward pass moves that clock */
    atomic_bool hold;     /* forward passes wait while set */
    atomic_int calls;
    atomic_int ran[MAX_CALLS];
    int rc;
    char err[256];
} inproc_t;

static inproc_t ip;

static sw_time_t fake_clock(void *self)
{
    inproc_t *p = self;
    return (sw_time_t)atomic_load(&p->now_us);
}

static int inproc_infer(void *self, const float *in, size_t n, float *out)
{
    inproc_t *p = self;
    int k = atomic_fetch_add(&p->calls, 1);
    if (k < MAX_CALLS)
        atomic_store(&p->ran[k], pthread_equal(pthread_self(), p->loop) ? RAN_ON_LOOP
                                                                       : RAN_ON_THREAD);
    while (atomic_load(&p->hold)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&p->now_us, atomic_load(&p->cost_us));
    return sw_model_infer(p->model, in, n, out);
}

static void *inproc_main(void *arg)
{
    inproc_t *p = arg;
    p->loop = pthread_self();
    p->rc = sw_be_worker_run(&p->opts, p->err, sizeof(p->err));
    return NULL;
}

/* Starts the worker in a thread of ours, dialling srv, and takes its Hello. */
static void inproc_start(double inline_max_ms)
{
    char err[512] = "";
    signal(SIGPIPE, SIG_IGN); /* as `spillway worker` does */
    cr_assert_eq(sw_model_load(model_path, 8, &ip.model, err, sizeof(err)), 0, "%s", err);
    ip.opts = (sw_be_worker_opts_t){.host = "127.0.0.1",
                                    .port = srv.port,
                                    .worker_id = "w-test",
                                    .instance_type = "t.small",
                                    .model_name = "tiny",
                                    .model_version = 7,
                                    .max_batch = 8,
                                    .threads = 1,
                                    .input_size = 3,
                                    .output_size = 2,
                                    .infer = inproc_infer,
                                    .infer_self = &ip,
                                    .seed = 42,
                                    .heartbeat_ms = 20,
                                    .inline_max_ms = inline_max_ms,
                                    .clock = fake_clock,
                                    .clock_self = &ip};
    cr_assert_eq(pthread_create(&ip.thread, NULL, inproc_main, &ip), 0);
    expect_hello();
}

/* Stops the worker with a Stop frame, as the frontend does, and joins its thread. */
static void inproc_stop(void)
{
    send_stop("test over");
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_DRAIN, 10000);
    spillway__frame__free_unpacked(f, NULL);
    pthread_join(ip.thread, NULL);
    cr_expect_eq(ip.rc, 0, "%s", ip.err);
    sw_model_destroy(ip.model);
}

/* Sends batch_id of n rows at the current cost and returns where its forward pass ran;
 * the result must answer like the model in-process. */
static int run_batch(uint64_t batch_id, size_t n, int64_t cost_us)
{
    atomic_store(&ip.cost_us, cost_us);
    int k = atomic_load(&ip.calls);
    send_batch(batch_id, inputs, n, SIZE_MAX);
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, batch_id, n, SIZE_MAX);
    cr_expect_float_eq(f->result->compute_ms, (double)cost_us / 1000.0, 1e-9);
    spillway__frame__free_unpacked(f, NULL);
    cr_assert_eq(atomic_load(&ip.calls), k + 1, "one forward pass per batch of <= max_batch");
    return atomic_load(&ip.ran[k]);
}

TestSuite(be_worker_inline, .init = setup, .fini = teardown, .timeout = 30);

Test(be_worker_inline, a_short_batch_runs_on_the_loop_and_answers_as_on_the_thread)
{
    inproc_start(0);
    /* The first batch of a size class is timed on the thread; the next, known to be short,
     * runs on the loop and must answer the same. */
    cr_expect_eq(run_batch(1, 3, 10), RAN_ON_THREAD);
    cr_expect_eq(run_batch(2, 3, 10), RAN_ON_LOOP);
    /* 1 row is another class: timed on the thread first again. */
    cr_expect_eq(run_batch(3, 1, 10), RAN_ON_THREAD);
    cr_expect_eq(run_batch(4, 1, 10), RAN_ON_LOOP);
    inproc_stop();
}

Test(be_worker_inline, a_long_batch_runs_on_the_thread_while_heartbeats_flow)
{
    inproc_start(0);
    cr_expect_eq(run_batch(1, 2, 5000), RAN_ON_THREAD); /* 5 ms: over the 1 ms bound */
    /* The next one is held inside its forward pass until two heartbeats have come that
     * count it in hand: on the loop, it would hold them back and this would time out. */
    atomic_store(&ip.hold, true);
    send_batch(2, inputs, 2, SIZE_MAX);
    for (int beats = 0; beats < 2;) {
        Spillway__Frame *f = srv_next(&srv, 5000, false);
        cr_assert_eq(f->body_case, SPILLWAY__FRAME__BODY_HEARTBEAT, "got %s",
                     sw_frame_type_name(f->body_case));
        beats += f->heartbeat->queue_depth == 1;
        spillway__frame__free_unpacked(f, NULL);
    }
    cr_expect_eq(atomic_load(&ip.ran[1]), RAN_ON_THREAD);
    atomic_store(&ip.hold, false);
    Spillway__Frame *f = srv_expect(&srv, SPILLWAY__FRAME__BODY_RESULT, 10000);
    expect_answers(f->result, 2, 2, SIZE_MAX);
    spillway__frame__free_unpacked(f, NULL);
    inproc_stop();
}

Test(be_worker_inline, a_class_that_turns_slow_moves_to_the_thread_and_back)
{
    inproc_start(0);
    uint64_t id = 1;
    cr_expect_eq(run_batch(id++, 1, 10), RAN_ON_THREAD);
    cr_expect_eq(run_batch(id++, 1, 10), RAN_ON_LOOP);
    /* This one turns out long: one such time sends the class to the thread at once. */
    cr_expect_eq(run_batch(id++, 1, 50000), RAN_ON_LOOP);
    cr_expect_eq(run_batch(id++, 1, 10), RAN_ON_THREAD);
    /* Short again: after enough short times the estimate is back under the bound. */
    int back = 0;
    while (back < 30 && run_batch(id++, 1, 10) == RAN_ON_THREAD)
        back++;
    cr_expect_lt(back, 30, "the class never came back to the loop");
    cr_expect_gt(back, 0, "one short time after a long one should not be trusted yet");
    cr_expect_eq(run_batch(id++, 1, 10), RAN_ON_LOOP);
    inproc_stop();
}

Test(be_worker_inline, a_negative_bound_keeps_every_batch_on_the_thread)
{
    inproc_start(-1);
    for (uint64_t id = 1; id <= 3; id++)
        cr_expect_eq(run_batch(id, 2, 10), RAN_ON_THREAD);
    inproc_stop();
}
