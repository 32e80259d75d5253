/* Workers that die, freeze or misbehave while serve has batches in their hands (issue 13
 * §2): every call is still answered exactly once, by another worker. */
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "backends/frame.h"
#include "tests/faults/faults.h"

static sh_server_t srv;
static pid_t by_hand = -1;

static void setup(void)
{
    ft_setup();
    srv.pid = -1;
}

static void teardown(void)
{
    if (by_hand > 0 && kill(by_hand, SIGKILL) == 0)
        waitpid(by_hand, NULL, 0);
    sh_cleanup(&srv);
    ft_teardown();
}

TestSuite(faults_workers, .init = setup, .fini = teardown, .timeout = 240);

static const char *const slow150[] = {"SW_DEBUG_COMPUTE_DELAY_MS=150", NULL};

/* A static pool of two local workers at 150 ms a batch; nothing spills. */
static const char *pool_policy = "slo: {latency_ms: 5000, target: 0.5}\n" FT_CPU_TYPE(
    "local",
    "[150, 155, 160, 165]") "faas: {enabled: false}\n"
                            "policy:\n"
                            "  name: static\n"
                            "  max_queue_delay_ms: 60000\n"
                            "  static: {pool: [{type: cpu, count: 2}]}\n"
                            "serve: {request_timeout_ms: 60000, worker_timeout_ms: 1500}\n";

Test(faults_workers, workers_killed_mid_batch_again_and_again_lose_no_call)
{
    sh_start(&srv, pool_policy, slow150);
    ft_wait_running(&srv, 2);
    ft_load_t load;
    ft_load_start(&load,
                  &(ft_load_opts_t){
                      .srv = &srv, .calls = ft_scale(120), .concurrency = 8, .check_outputs = true},
                  0);
    size_t kills = 0, want = ft_scale(5);
    pid_t last = -1;
    while (kills < want) {
        usleep(400000);
        pid_t w = sh_find_child(srv.pid, "worker", last);
        if (w > 0 && kill(w, SIGKILL) == 0) {
            kills++;
            last = w;
        }
    }
    ft_load_join(&load);
    ft_check_load(&load, srv.pid);
    cr_assert_eq(load.ok, load.sent, "no call failed: %zu of %zu ok", load.ok, load.sent);
    long peak;
    json_t *sum = ft_stop_and_check(&srv, &load, 1, &peak, false);
    /* Exactly: a replacement that joined while calls waited used to be lost at once (its
     * first batch went out before its connection was registered), and its replacement
     * too, for as long as calls waited. */
    cr_assert_eq(ft_num(sum, "vm.lost"), (double)kills, "each kill is one loss, no more");
    ft_figures("worker_sigkill", &load, 1, sum, peak, "");
    json_decref(sum);
}

Test(faults_workers, a_worker_frozen_until_lost_then_thawed_answers_nothing_twice)
{
    sh_start(&srv, pool_policy, slow150);
    ft_wait_running(&srv, 2);
    ft_load_t load;
    ft_load_start(&load,
                  &(ft_load_opts_t){
                      .srv = &srv, .calls = ft_scale(60), .concurrency = 8, .check_outputs = true},
                  0);
    usleep(300000); /* both workers have a batch */
    pid_t w = sh_find_child(srv.pid, "worker", -1);
    cr_assert_gt(w, 0);
    kill(w, SIGSTOP);
    /* Silent past serve.worker_timeout_ms (1.5 s): lost, its batch given to the other. */
    ft_wait_log(&srv, "heartbeat timeout", 20);
    kill(w, SIGCONT); /* it wakes with a result for a batch serve took back */
    ft_load_join(&load);
    ft_check_load(&load, srv.pid);
    cr_assert_eq(load.ok, load.sent);
    long peak;
    json_t *sum = ft_stop_and_check(&srv, &load, 1, &peak, false);
    cr_assert_geq(ft_num(sum, "vm.lost"), 1);
    ft_figures("worker_sigstop", &load, 1, sum, peak, "");
    json_decref(sum);
}

/* ---- a fake worker that dials the worker port ---- */

typedef enum {
    FAKE_ANSWER_TWICE, /* answers each batch right, then sends the same result again */
    FAKE_GARBAGE,      /* answers its first batch with bytes that are no frame */
    FAKE_HUGE,         /* ... with a prefix claiming a frame over the limit */
    FAKE_WRONG_ANSWER, /* ... with a result for another batch size */
    FAKE_NO_HELLO,     /* sends garbage instead of a Hello */
} fake_mode_t;

typedef struct fake {
    fake_mode_t mode;
    pthread_t thread;
    int fd;
    sw_model_t *model;
    size_t batches; /* batches received */
    bool closed_by_serve;
    const char *error; /* what went wrong in the thread (asserts belong to the main one) */
} fake_t;

static int dial(const char *host_port)
{
    unsigned port;
    cr_assert_eq(sscanf(host_port, "127.0.0.1:%u", &port), 1, "%s", host_port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* serve closed it: the fake reads EOF next */
        b += k;
        n -= (size_t)k;
    }
}

static void send_frame(fake_t *k, const Spillway__Frame *f)
{
    uint8_t buf[64 * 1024];
    size_t n;
    if (sw_frame_encode(f, buf, sizeof(buf), &n) != 0)
        k->error = "a frame did not encode";
    else
        send_all(k->fd, buf, n);
}

/* Reads one frame, sending a Heartbeat each half second of waiting; NULL at EOF. */
static Spillway__Frame *read_frame(fake_t *k, struct evbuffer *in)
{
    Spillway__Frame *f = NULL;
    while (!f) {
        int rc = sw_frame_read(in, SW_FRAME_MAX_BYTES_DEFAULT, &f, NULL, 0);
        if (rc < 0)
            k->error = "serve sent a frame that does not decode";
        if (rc != 0)
            break;
        struct pollfd p = {.fd = k->fd, .events = POLLIN};
        if (poll(&p, 1, 500) == 0) {
            Spillway__Heartbeat hb = SPILLWAY__HEARTBEAT__INIT;
            Spillway__Frame hf = SPILLWAY__FRAME__INIT;
            hf.body_case = SPILLWAY__FRAME__BODY_HEARTBEAT;
            hf.heartbeat = &hb;
            send_frame(k, &hf);
            continue;
        }
        char buf[8192];
        ssize_t n = recv(k->fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        evbuffer_add(in, buf, (size_t)n);
    }
    return f;
}

static void send_hello(fake_t *k)
{
    Spillway__Hello h = SPILLWAY__HELLO__INIT;
    h.worker_id = "fake";
    h.instance_type = "cpu";
    h.model_name = "fashion-mlp";
    h.model_version = 1;
    h.max_batch = 4;
    h.threads = 1;
    h.token = "fault-token";
    Spillway__Frame f;
    sw_frame_init_hello(&f, &h);
    send_frame(k, &f);
}

/* The real model's answers to a batch, all but the last `drop` of them. */
static void answer(fake_t *k, const Spillway__Batch *b, size_t drop)
{
    enum { MAX = 8 };
    Spillway__BatchResult r = SPILLWAY__BATCH_RESULT__INIT;
    Spillway__Answer ans[MAX], *ap[MAX];
    float out[MAX][10];
    size_t n = SW_MIN(b->n_requests, (size_t)MAX);
    r.batch_id = b->batch_id;
    r.n_answers = n - SW_MIN(drop, n);
    r.answers = ap;
    for (size_t i = 0; i < n; i++) {
        spillway__answer__init(&ans[i]);
        if (b->requests[i]->n_input != 784 ||
            sw_model_infer(k->model, b->requests[i]->input, 1, out[i]) != 0)
            k->error = "a request the model cannot run";
        ans[i].id = b->requests[i]->id;
        ans[i].n_output = 10;
        ans[i].output = out[i];
        ap[i] = &ans[i];
    }
    Spillway__Frame f;
    sw_frame_init_result(&f, &r);
    send_frame(k, &f);
}

static void misbehave(fake_t *k, const Spillway__Batch *b)
{
    static const uint8_t garbage[] = {0,    0,    0,    12,   0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xf0, 1, 2, 3};
    switch (k->mode) {
    case FAKE_ANSWER_TWICE:
        answer(k, b, 0);
        answer(k, b, 0); /* late: the batch is no longer in hand */
        break;
    case FAKE_GARBAGE: send_all(k->fd, garbage, sizeof(garbage)); break;
    case FAKE_HUGE: send_all(k->fd, huge, sizeof(huge)); break;
    case FAKE_WRONG_ANSWER: answer(k, b, 1); break;
    case FAKE_NO_HELLO: break;
    }
}

static void *fake_main(void *arg)
{
    fake_t *k = arg;
    if (k->mode == FAKE_NO_HELLO)
        send_all(k->fd, "GET / HTTP/1.1\r\n\r\n", 18);
    else
        send_hello(k);
    struct evbuffer *in = evbuffer_new();
    Spillway__Frame *f;
    bool stop = false;
    while (!stop && (f = read_frame(k, in)) != NULL) {
        if (f->body_case == SPILLWAY__FRAME__BODY_BATCH) {
            k->batches++;
            misbehave(k, f->batch);
        }
        stop = f->body_case == SPILLWAY__FRAME__BODY_STOP;
        spillway__frame__free_unpacked(f, NULL);
    }
    k->closed_by_serve = !stop;
    evbuffer_free(in);
    return NULL;
}

static void start_worker_by_hand(void)
{
    /* clang-format off */
    char *argv[] = {SW_BINARY_DIR "/spillway", "worker", "--connect", srv.workers, "--type",
                    "cpu", "--model", SH_MODEL, "--token", "fault-token", NULL};
    /* clang-format on */
    char log[128];
    sh_path(&srv, "worker.log", log, sizeof(log));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    char *env[] = {"SW_DEBUG_COMPUTE_DELAY_MS=100", NULL};
    cr_assert_eq(posix_spawn(&by_hand, argv[0], &fa, NULL, argv, env), 0);
    posix_spawn_file_actions_destroy(&fa);
}

Test(faults_workers, workers_that_send_garbage_huge_or_wrong_frames_are_dropped_and_nothing_is_lost)
{
    sh_prepare(&srv);
    char token[128];
    sh_path(&srv, "token.txt", token, sizeof(token));
    sh_write(token, "fault-token\n");
    sh_start(&srv,
             "slo: {latency_ms: 5000, target: 0.5}\n" FT_CPU_TYPE(
                 "static", "[100, 105, 110, 115]") "faas: {enabled: false}\n"
                                                   "policy: {name: static, max_queue_delay_ms: "
                                                   "60000, static: {pool: []}}\n"
                                                   "serve: {static_token_file: token.txt, "
                                                   "request_timeout_ms: 60000}\n",
             NULL);
    start_worker_by_hand(); /* a real worker, 100 ms a batch, to take over */
    ft_wait_running(&srv, 1);
    fake_t fakes[] = {{.mode = FAKE_ANSWER_TWICE},
                      {.mode = FAKE_GARBAGE},
                      {.mode = FAKE_HUGE},
                      {.mode = FAKE_WRONG_ANSWER},
                      {.mode = FAKE_NO_HELLO}};
    char err[256];
    for (size_t i = 0; i < SW_ARRAY_LEN(fakes); i++) {
        cr_assert_eq(sw_model_load(SH_MODEL, 8, &fakes[i].model, err, sizeof(err)), 0, "%s", err);
        fakes[i].fd = dial(srv.workers);
        pthread_create(&fakes[i].thread, NULL, fake_main, &fakes[i]);
    }
    ft_wait_running(&srv, 5);
    ft_wait_log(&srv, "worker connection closed before Hello", 20);
    /* Rounds of load until each bad fake has had a batch and been dropped. */
    ft_load_t loads[5];
    size_t rounds = 0;
    do {
        ft_load_start(
            &loads[rounds],
            &(ft_load_opts_t){
                .srv = &srv, .calls = ft_scale(40), .concurrency = 10, .check_outputs = true},
            0);
        ft_load_join(&loads[rounds]);
        ft_check_load(&loads[rounds], srv.pid);
        cr_assert_eq(loads[rounds].ok, loads[rounds].sent);
    } while (++rounds < SW_ARRAY_LEN(loads) &&
             !(fakes[1].closed_by_serve && fakes[2].closed_by_serve && fakes[3].closed_by_serve &&
               fakes[0].batches > 0));
    cr_assert(fakes[1].closed_by_serve && fakes[2].closed_by_serve && fakes[3].closed_by_serve,
              "each bad worker got a batch and was dropped (%zu rounds)", rounds);
    cr_assert_gt(fakes[0].batches, 0);
    cr_assert(!fakes[0].closed_by_serve, "a late duplicate result is ignored, not fatal");
    cr_assert(fakes[4].closed_by_serve, "a peer that sends no Hello is shown the door");
    double late = sh_metric(&srv, "spillway_late_results_total");
    cr_assert_geq(late, (double)fakes[0].batches, "every duplicate was counted late");
    cr_assert_eq(sh_metric(&srv, "spillway_bad_results_total"), 1);
    cr_assert(ft_log_has(&srv, "exceeds the maximum"), "the huge frame was named");
    cr_assert(!ft_log_has(&srv, "launch failed"), "a lost hand-started worker is not replaced");
    long peak;
    json_t *sum = ft_stop_and_check(&srv, loads, rounds, &peak, false);
    char extra[96];
    snprintf(extra, sizeof(extra), "rounds=%zu late_results=%.0f", rounds, late);
    ft_figures("fake_workers", loads, rounds, sum, peak, extra);
    json_decref(sum);
    for (size_t i = 0; i < SW_ARRAY_LEN(fakes); i++) {
        shutdown(fakes[i].fd, SHUT_RDWR);
        pthread_join(fakes[i].thread, NULL);
        close(fakes[i].fd);
        sw_model_destroy(fakes[i].model);
        cr_assert_null(fakes[i].error, "fake %zu: %s", i, fakes[i].error);
    }
}

/* A provider that refuses every launch (here: a static pool of a type whose provider
 * cannot launch) used to hold serve in one endless flush, logging without end; now each
 * refusal is a loss at the next sweep, four a second, and serve keeps answering. */
Test(faults_workers, a_provider_that_refuses_every_launch_does_not_hang_serve)
{
    sh_start(
        &srv,
        "slo: {latency_ms: 300, target: 0.5}\n" FT_CPU_TYPE(
            "static",
            "[1, 2, 3, 4]") "faas: {enabled: false}\n"
                            "policy: {name: static, static: {pool: [{type: cpu, count: 1}]}}\n",
        NULL);
    sleep(1);
    sh_resp_t r;
    sh_http(&srv, NULL, "/v2/health/live", NULL, &r);
    cr_assert_eq(r.status, 200);
    sw_free(r.body);
    size_t failed = ft_log_count(&srv, "launch failed");
    cr_assert_geq(failed, 1);
    cr_assert_leq(failed, 40, "%zu launches in about a second", failed);
    long peak;
    json_t *sum = ft_stop_and_check(&srv, NULL, 0, &peak, false);
    json_decref(sum);
}
