/* `spillway loadgen` end to end (issue 12 §1), the real binary against a real `spillway
 * serve` (a static pool of one local worker) and against a small fake server in this
 * process that stalls, answers wrongly, answers 429 or never answers, so that what the
 * client measures can be known in advance. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

/* The harness is header-only; this file uses part of it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/serve_harness.h"
#pragma GCC diagnostic pop

#include "runs/trace.h"
#include "sim/sim.h"
#include "tests/cli/cli_helpers.h"

#define TWITTER_DAY0 SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_day00_per_second.txt"

static const char *policy = "slo: {latency_ms: 200, target: 0.9}\n"
                            "instance_types:\n"
                            "  - name: cpu\n"
                            "    price_per_hour_usd: 0.085\n"
                            "    provider: local\n"
                            "    boot_s: {dist: constant, mean: 1}\n"
                            "    max_batch: 8\n"
                            "    batch_latency_ms: [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65]\n"
                            "faas: {enabled: false}\n"
                            "policy:\n"
                            "  name: static\n"
                            "  static:\n"
                            "    pool: [{type: cpu, count: 1}]\n";

static sh_server_t srv;
static char *dir;

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srv.pid = -1;
    dir = cli_make_dir();
}

static void fake_stop(void);

static void teardown(void)
{
    fake_stop();
    sh_cleanup(&srv);
    cli_rm_dir(dir);
    curl_global_cleanup();
}

TestSuite(loadgen, .init = setup, .fini = teardown, .timeout = 120);

/* ---- Running loadgen ---- */

typedef struct lg_result {
    int status;
    char *out, *err;
    json_t *sum; /* summary.json, or NULL when none was written */
} lg_result_t;

/* Runs `spillway loadgen --out DIR/out --no-progress ARGS...` (NULL-terminated). */
static lg_result_t loadgen(const char *const *args)
{
    const char *argv[64] = {SPILLWAY, "loadgen", "--no-progress", "--out", NULL};
    char *out_dir = cli_path_in(dir, "out");
    argv[4] = out_dir;
    size_t n = 5;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    lg_result_t r = {0};
    r.status = cli_run(argv, &r.out, &r.err);
    char *path = cli_path_in(out_dir, "summary.json");
    json_error_t jerr;
    r.sum = json_load_file(path, 0, &jerr);
    unlink(path);
    free(path);
    free(out_dir);
    return r;
}

static void lg_free(lg_result_t *r)
{
    free(r->out);
    free(r->err);
    json_decref(r->sum);
}

/* A number of the summary by dotted path ("latency_ms.p50"); fails when it is missing. */
static double num(const lg_result_t *r, const char *dotted)
{
    cr_assert_not_null(r->sum, "no summary.json; stderr: %s", r->err);
    const json_t *v = r->sum;
    char key[64];
    for (const char *p = dotted; v && *p;) {
        size_t k = strcspn(p, ".");
        snprintf(key, sizeof(key), "%.*s", (int)k, p);
        v = json_object_get(v, key);
        p += k + (p[k] == '.');
    }
    cr_assert(json_is_number(v), "summary.json: %s is not a number", dotted);
    return json_number_value(v);
}

/* The sum of a timeline.csv column over its rows; fails when the column is missing. */
static double csv_sum(const char *csv, const char *column)
{
    size_t col = 0, n = strlen(column);
    const char *p = csv;
    for (; *p != '\n'; col++) {
        cr_assert_neq(*p, '\0', "timeline.csv has no column %s", column);
        size_t k = strcspn(p, ",\n");
        if (k == n && strncmp(p, column, n) == 0)
            break;
        p += k + (p[k] == ',');
    }
    double sum = 0;
    for (p = strchr(csv, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
        const char *f = p;
        for (size_t i = 0; i < col; i++)
            f = strchr(f, ',') + 1;
        sum += strtod(f, NULL);
    }
    return sum;
}

/* Waits until serve's worker is running, so the first requests find it. */
static void start_serve(void)
{
    sh_start(&srv, policy, NULL);
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (sh_metric(&srv, "spillway_workers{type=\"cpu\",state=\"running\"}") < 1) {
        cr_assert_lt(sw_clock_now(), end, "the worker did not come up");
        usleep(50000);
    }
}

/* The arrivals simulate replays for this window of Twitter day 0, counted through the
 * trace reader with simulate's own options. */
static uint64_t simulated_arrivals(const char *rate, const char *duration, const char *seed)
{
    sw_cfg_t *cfg;
    char err[4096];
    cr_assert_eq(sw_cfg_load_string("", 0, "defaults", &cfg, err, sizeof(err)), 0, "%s", err);
    const char *sets[][2] = {{"trace.path", TWITTER_DAY0},
                             {"trace.format", "auto"},
                             {"trace.rate_scale", rate},
                             {"trace.duration_s", duration},
                             {"seed", seed}};
    for (size_t i = 0; i < SW_ARRAY_LEN(sets); i++)
        cr_assert_eq(sw_cfg_set(cfg, sets[i][0], sets[i][1], err, sizeof(err)), 0, "%s", err);
    sw_trace_opts_t o;
    sw_sim_trace_opts(cfg, &o);
    sw_trace_t *t;
    cr_assert_eq(sw_trace_open(&t, cfg->trace.path, &o, err, sizeof(err)), 0, "%s", err);
    uint64_t n = 0;
    sw_time_t at;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1)
        n++;
    cr_assert_eq(rc, 0, "%s", sw_trace_error(t));
    sw_trace_close(t);
    sw_cfg_destroy(cfg);
    return n;
}

/* ---- A fake server whose behaviour is known ---- */

typedef enum {
    FAKE_STALL,
    FAKE_WRONG,
    FAKE_429_EVERY_OTHER,
    FAKE_SILENT,
    FAKE_VARIED,
    FAKE_CLOSE_SECOND, /* answers a connection's first request, closes at its second */
    FAKE_CLOSE_ALL,    /* closes every connection at its first request */
} fake_mode_t;

#define FAKE_CLIENTS 128

typedef struct fake_client {
    int fd;
    char buf[32768];
    size_t len;
    unsigned received, answered;
} fake_client_t;

static struct {
    int lfd;
    fake_mode_t mode;
    sw_time_t stall, first_at;
    pthread_t thread;
    atomic_bool stop, running;
    atomic_uint received_total; /* requests read, for the test's thread */
    unsigned answers;
    fake_client_t c[FAKE_CLIENTS];
    size_t n;
    char url[64];
} fake;

static const char *const ok_body =
    "{\"model_name\":\"fashion-mlp\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"output\","
    "\"shape\":[1,10],\"datatype\":\"FP32\",\"data\":[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]}]}";
static const char *const wrong_body =
    "{\"model_name\":\"fashion-mlp\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"output\","
    "\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[0.2,0.3,0.5]}]}";

/* FAKE_VARIED: the ways of framing an answer, in turn; the last two the client must
 * refuse. Returns whether the server closes the connection after it. */
static bool fake_varied_answer(fake_client_t *c)
{
    char msg[1024];
    int n = 0;
    bool close_after = false;
    switch (fake.answers % 6) {
    case 0:
        n = snprintf(msg, sizeof(msg), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(ok_body), ok_body);
        break;
    case 1:
        n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 200 OK\r\nconnection: Close\r\n"
                     "content-length: %zu\r\n\r\n%s",
                     strlen(ok_body), ok_body);
        close_after = true;
        break;
    case 2:
        n = snprintf(msg, sizeof(msg), "HTTP/1.0 200 OK\r\n\r\n%s", ok_body);
        close_after = true;
        break;
    case 3:
        n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(ok_body), ok_body);
        break;
    case 4:
        n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "%zx\r\n%s\r\n0\r\n\r\n",
                     strlen(ok_body), ok_body);
        break;
    default: n = snprintf(msg, sizeof(msg), "HELLO\r\n\r\n"); break;
    }
    cr_assert_eq(send(c->fd, msg, (size_t)n, MSG_NOSIGNAL), n);
    return close_after;
}

static void fake_answer(fake_client_t *c)
{
    if (fake.mode == FAKE_VARIED) {
        bool close_after = fake_varied_answer(c);
        c->answered++;
        fake.answers++;
        if (close_after) {
            close(c->fd);
            c->fd = -1;
        }
        return;
    }
    char msg[1024];
    bool refuse = fake.mode == FAKE_429_EVERY_OTHER && fake.answers % 2 == 1;
    const char *body = refuse                    ? "{\"error\": \"too many requests\"}"
                       : fake.mode == FAKE_WRONG ? wrong_body
                                                 : ok_body;
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n"
                     "\r\n%s",
                     refuse ? "429 Too Many Requests" : "200 OK",
                     refuse ? "Retry-After: 1\r\n" : "", strlen(body), body);
    cr_assert_eq(send(c->fd, msg, (size_t)n, MSG_NOSIGNAL), n);
    c->answered++;
    fake.answers++;
}

/* Counts the whole requests in c's buffer and drops them. */
static void fake_parse(fake_client_t *c)
{
    for (;;) {
        c->buf[c->len] = '\0';
        char *e = strstr(c->buf, "\r\n\r\n");
        char *cl = strcasestr(c->buf, "Content-Length:");
        if (!e || !cl)
            return;
        size_t need = (size_t)(e - c->buf) + 4 + strtoul(cl + 15, NULL, 10);
        if (c->len < need)
            return;
        memmove(c->buf, c->buf + need, c->len - need);
        c->len -= need;
        c->received++;
        atomic_fetch_add(&fake.received_total, 1);
        if (!fake.first_at)
            fake.first_at = sw_clock_now();
    }
}

static void fake_poll_once(void)
{
    struct pollfd p[FAKE_CLIENTS + 1] = {{.fd = fake.lfd, .events = POLLIN}};
    for (size_t i = 0; i < fake.n; i++)
        p[i + 1] = (struct pollfd){.fd = fake.c[i].fd, .events = POLLIN};
    poll(p, fake.n + 1, 5);
    if ((p[0].revents & POLLIN) && fake.n < FAKE_CLIENTS) {
        int fd = accept(fake.lfd, NULL, NULL);
        if (fd >= 0)
            fake.c[fake.n++] = (fake_client_t){.fd = fd};
    }
    for (size_t i = 0; i < fake.n; i++) {
        fake_client_t *c = &fake.c[i];
        if (c->fd < 0 || !(p[i + 1].revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
        if (got <= 0) {
            close(c->fd);
            c->fd = -1;
            continue;
        }
        c->len += (size_t)got;
        fake_parse(c);
    }
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fake.stop)) {
        fake_poll_once();
        sw_time_t now = sw_clock_now();
        bool held =
            fake.mode == FAKE_SILENT ||
            (fake.mode == FAKE_STALL && (!fake.first_at || now < fake.first_at + fake.stall));
        for (size_t i = 0; i < fake.n && !held; i++) {
            fake_client_t *c = &fake.c[i];
            unsigned close_at = fake.mode == FAKE_CLOSE_SECOND ? 2
                                : fake.mode == FAKE_CLOSE_ALL  ? 1
                                                               : UINT_MAX;
            if (c->fd >= 0 && c->received >= close_at) {
                close(c->fd); /* as a server closing an idle connection as it is reused */
                c->fd = -1;
            }
            while (c->fd >= 0 && c->answered < c->received)
                fake_answer(c);
        }
    }
    return NULL;
}

static void fake_start(fake_mode_t mode, int stall_ms)
{
    memset(&fake, 0, sizeof(fake));
    fake.mode = mode;
    fake.stall = stall_ms * SW_US_PER_MS;
    fake.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fake.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fake.lfd, 256), 0);
    socklen_t len = sizeof(a);
    getsockname(fake.lfd, (struct sockaddr *)&a, &len);
    snprintf(fake.url, sizeof(fake.url), "http://127.0.0.1:%u", ntohs(a.sin_port));
    cr_assert_eq(pthread_create(&fake.thread, NULL, fake_main, NULL), 0);
    atomic_store(&fake.running, true);
}

static void fake_stop(void)
{
    if (!atomic_load(&fake.running))
        return;
    atomic_store(&fake.stop, true);
    pthread_join(fake.thread, NULL);
    for (size_t i = 0; i < fake.n; i++)
        if (fake.c[i].fd >= 0)
            close(fake.c[i].fd);
    close(fake.lfd);
    atomic_store(&fake.running, false);
}

/* Ten requests, scheduled at 0, 0.1, ..., 0.9 s. */
static char *ten_requests(void)
{
    return cli_write_file(dir, "ten.csv",
                          "TIMESTAMP\n0\n0.1\n0.2\n0.3\n0.4\n0.5\n0.6\n0.7\n0.8\n0.9\n");
}

/* ---- Against serve ---- */

Test(loadgen, replays_a_trace_window_open_loop_and_every_answer_is_right)
{
    start_serve();
    char *cfg = cli_write_file(dir, "policy.yaml", policy);
    const char *args[] = {
        "--url",         srv.url,  "--config", cfg, "--trace",   TWITTER_DAY0, "--duration", "20",
        "--rate-scale",  "0.1",    "--seed",   "3", "--speedup", "4",          "--images",   "64",
        "--check-model", SH_MODEL, NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
    uint64_t want = simulated_arrivals("0.1", "20", "3");
    cr_assert_gt(want, 40, "a real window");
    cr_assert_eq(num(&r, "requests"), (double)want, "the arrivals simulate replays");
    cr_assert_eq(num(&r, "sent"), (double)want);
    cr_assert_eq(num(&r, "answered_ok"), (double)want);
    cr_assert_eq(num(&r, "wrong_answers") + num(&r, "transport_errors") + num(&r, "timeouts"), 0);
    cr_assert_eq(num(&r, "slo_ms"), 200, "the SLO of the policy file");
    cr_assert_gt(num(&r, "latency_ms.p50"), 0);
    cr_assert(num(&r, "wall_s") > 4.5 && num(&r, "wall_s") < 15, "20 s at speedup 4");
    cr_assert_str_eq(json_string_value(json_object_get(r.sum, "check")), "model");
    cr_assert_not_null(strstr(r.out, "checked against"), "%s", r.out);
    /* The build's model scores ~87 % on the test split; a server answering for other
     * images, or a client mislabelling them, would score ~10 %. */
    cr_assert_gt(num(&r, "label_accuracy"), 0.6);
    cr_assert_eq(json_array_size(json_object_get(r.sum, "latency_cdf_ms")), 103,
                 "simulate's CDF, so report and compare read it");
    char *timeline = cli_read_output(dir, "out/timeline.csv");
    cr_assert(strncmp(timeline, "start_s,end_s,sent,ok,errors,", 29) == 0, "%s", timeline);
    size_t rows = 0;
    for (const char *p = timeline; (p = strchr(p, '\n')) != NULL; p++)
        rows++;
    cr_assert_geq(rows, 1 + 5, "a row per second of the 5 s run\n%s", timeline);
    cr_assert_eq(csv_sum(timeline, "sent"), (double)want, "%s", timeline);
    cr_assert_eq(csv_sum(timeline, "ok"), (double)want, "%s", timeline);
    cr_assert_eq(csv_sum(timeline, "errors"), 0, "%s", timeline);
    free(timeline);
    free(cfg);
    lg_free(&r);
}

/* A model of the same shapes whose answers differ from the one serve runs. */
static char *other_model(void)
{
    static float w[784 * 10], b[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    sw_layer_desc_t layer = {
        .inputs = 784, .outputs = 10, .weights = w, .bias = b, .act = SW_ACT_SOFTMAX};
    sw_model_desc_t d = {.name = "other",
                         .version = 1,
                         .input_name = "input",
                         .output_name = "output",
                         .layers = &layer,
                         .n_layers = 1};
    char *path = cli_path_in(dir, "other.pb");
    char err[512];
    cr_assert_eq(sw_model_save(path, &d, err, sizeof(err)), 0, "%s", err);
    return path;
}

Test(loadgen, answers_unlike_the_check_model_are_wrong_and_exit_1)
{
    start_serve();
    char *model = other_model();
    char *trace = ten_requests();
    const char *args[] = {"--url", srv.url,         "--trace", trace, "--images",
                          "16",    "--check-model", model,     NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "requests"), 10);
    cr_assert_eq(num(&r, "wrong_answers"), 10);
    cr_assert_eq(num(&r, "answered_ok"), 0);
    cr_assert_not_null(strstr(r.out, "first wrong answer: outputs[0].data["), "%s", r.out);
    free(model);
    free(trace);
    lg_free(&r);
}

Test(loadgen, closed_loop_keeps_n_in_flight_and_counts_every_answer)
{
    start_serve();
    const char *args[] = {"--url",    srv.url, "--concurrency", "4",      "--duration", "2",
                          "--images", "16",    "--check-model", SH_MODEL, NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_str_eq(json_string_value(json_object_get(r.sum, "mode")), "closed-loop");
    cr_assert_gt(num(&r, "requests"), 20);
    cr_assert_eq(num(&r, "answered_ok"), num(&r, "requests"));
    cr_assert_eq(num(&r, "sent"), num(&r, "requests"));
    cr_assert_eq(num(&r, "peak_in_flight"), 4);
    cr_assert_eq(num(&r, "connections_opened"), 4, "keep-alive: no reconnects");
    cr_assert_gt(num(&r, "client_cpu_us_per_request"), 0);
    lg_free(&r);
}

/* ---- Against the fake server ---- */

/* Ten requests at 0, 0.1, ..., 0.9 s to a server that answers nothing before 2 s after
 * the first: each one's latency runs from its scheduled time, so the tenth took ~1.1 s
 * even when it was sent on time, and every one that waited for the single connection
 * took as long (a client timing from the send would see ~0 for them). */
Test(loadgen, latency_runs_from_the_schedule_through_a_stall)
{
    fake_start(FAKE_STALL, 2000);
    char *trace = ten_requests();
    const char *on_time[] = {"--url",    fake.url, "--trace",      trace, "--images", "16",
                             "--slo-ms", "900",    "--slo-target", "0.5", NULL};
    lg_result_t r = loadgen(on_time);
    cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "answered_ok"), 10);
    cr_assert_eq(num(&r, "slo_ms"), 900, "--slo-ms");
    cr_assert_eq(num(&r, "slo_attainment"), 0, "every answer came > 1 s after its time");
    cr_assert(json_is_false(json_object_get(r.sum, "slo_met")));
    cr_assert_not_null(strstr(r.out, "target 50.00 %: MISSED"), "%s", r.out);
    /* Bounds with room for a loaded machine, yet apart from 0 (timing from the send) and
     * from 2 s (timing every request from the first). */
    cr_assert(num(&r, "latency_ms.min") > 1000 && num(&r, "latency_ms.min") < 1700,
              "the tenth: ~1.1 s, got %g ms", num(&r, "latency_ms.min"));
    cr_assert(num(&r, "latency_ms.max") > 1900 && num(&r, "latency_ms.max") < 3500,
              "the first: ~2 s, got %g ms", num(&r, "latency_ms.max"));
    cr_assert_lt(num(&r, "max_send_lateness_ms"), 500, "64 connections: sent on time");
    lg_free(&r);
    fake_stop();

    fake_start(FAKE_STALL, 2000);
    const char *one_conn[] = {
        "--url",         fake.url, "--trace",           trace, "--images",   "16",
        "--connections", "1",      "--max-connections", "1",   "--progress", NULL};
    r = loadgen(one_conn);
    cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "answered_ok"), 10);
    cr_assert_gt(num(&r, "latency_ms.min"), 1000, "queued on the client, still counted");
    cr_assert_gt(num(&r, "max_send_lateness_ms"), 1500);
    cr_assert_geq(num(&r, "late_sends"), 9, "all but the first waited for the connection");
    cr_assert_not_null(strstr(r.out, "BEHIND SCHEDULE"), "said, not hidden: %s", r.out);
    cr_assert_not_null(strstr(r.err, "BEHIND SCHEDULE"), "in the progress line too: %s", r.err);
    cr_assert_eq(num(&r, "waited_for_connection"), 9);
    cr_assert_not_null(strstr(r.out, "raise --max-connections"), "and why: %s", r.out);
    free(trace);
    lg_free(&r);
}

Test(loadgen, statuses_are_counted_by_code_and_exit_1)
{
    fake_start(FAKE_429_EVERY_OTHER, 0);
    char *trace = ten_requests();
    const char *args[] = {"--url", fake.url,        "--trace", trace, "--images",
                          "16",    "--connections", "1",       NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "answered_ok"), 5);
    cr_assert_eq(num(&r, "errors_by_status.429"), 5);
    cr_assert_eq(num(&r, "retry_after_max_s"), 1);
    cr_assert_eq(num(&r, "slo_attainment"), 0.5, "a refusal misses the SLO");
    cr_assert_not_null(strstr(r.out, "HTTP 429 x 5"), "%s", r.out);
    char *timeline = cli_read_output(dir, "out/timeline.csv");
    cr_assert_eq(csv_sum(timeline, "sent"), 10, "%s", timeline);
    cr_assert_eq(csv_sum(timeline, "ok"), 5, "%s", timeline);
    cr_assert_eq(csv_sum(timeline, "errors"), 5, "%s", timeline);
    free(timeline);
    free(trace);
    lg_free(&r);
}

Test(loadgen, wrong_shapes_are_wrong_answers)
{
    fake_start(FAKE_WRONG, 0);
    char *trace = ten_requests();
    const char *args[] = {"--url", fake.url, "--trace", trace, "--images", "16", NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "wrong_answers"), 10);
    cr_assert_str_eq(json_string_value(json_object_get(r.sum, "check")), "shape-and-finite");
    cr_assert_not_null(strstr(r.out, "expected [1, 10]"), "%s", r.out);
    free(trace);
    lg_free(&r);
}

/* Keep-alive, Connection: close, an HTTP/1.0 body ended by the close, and an interim 100
 * are all read; a chunked answer and one that is not HTTP are transport errors, each
 * losing only its own request. */
Test(loadgen, reads_every_framing_and_refuses_what_it_cannot)
{
    fake_start(FAKE_VARIED, 0);
    char *trace = ten_requests();
    const char *args[] = {"--url", fake.url, "--trace", trace, "--images", "16", NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "answered_ok"), 8, "%s", r.out);
    cr_assert_eq(num(&r, "transport_errors"), 2, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "chunked"), "%s", r.out);
    free(trace);
    lg_free(&r);
}

/* A reused connection that closes without a byte of answer lost nothing the server took:
 * its request goes out again, once, on a new connection. A request that fails so on a
 * fresh connection is an error, not retried. */
Test(loadgen, a_request_on_a_connection_closed_as_idle_is_sent_again)
{
    fake_start(FAKE_CLOSE_SECOND, 0);
    char *trace = ten_requests();
    const char *args[] = {"--url", fake.url,        "--trace", trace, "--images",
                          "16",    "--connections", "1",       NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 0, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "answered_ok"), 10);
    cr_assert_eq(num(&r, "retried"), 9, "each connection closes at its second request");
    cr_assert_eq(num(&r, "sent"), 19);
    cr_assert_eq(num(&r, "connections_opened"), 10);
    cr_assert_not_null(strstr(r.out, "9 sent again"), "%s", r.out);
    lg_free(&r);
    fake_stop();

    fake_start(FAKE_CLOSE_ALL, 0);
    const char *fresh[] = {"--url", fake.url, "--trace", trace, "--images", "16", NULL};
    r = loadgen(fresh);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "transport_errors"), 10);
    cr_assert_eq(num(&r, "retried"), 0);
    cr_assert_not_null(strstr(r.out, "closed the connection without answering"), "%s", r.out);
    free(trace);
    lg_free(&r);
}

Test(loadgen, unanswered_requests_time_out_and_exit_1)
{
    fake_start(FAKE_SILENT, 0);
    char *trace = ten_requests();
    const char *args[] = {"--url",
                          fake.url,
                          "--trace",
                          trace,
                          "--images",
                          "16",
                          "--timeout-ms",
                          "300",
                          "--connections",
                          "2",
                          "--max-connections",
                          "4",
                          NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_eq(num(&r, "timeouts"), 10);
    cr_assert_eq(num(&r, "answered_ok"), 0);
    cr_assert_lt(num(&r, "wall_s"), 3, "each gave up 0.3 s after its time");
    free(trace);
    lg_free(&r);
}

Test(loadgen, a_server_that_is_not_there_exits_1)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd); /* bound once, listened never: nothing answers there */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(a.sin_port));
    char *trace = ten_requests();
    const char *args[] = {"--url", url, "--trace", trace, "--images", "4", NULL};
    lg_result_t r = loadgen(args);
    cr_assert_eq(r.status, 1, "exit %d\n%s\n%s", r.status, r.out, r.err);
    cr_assert_not_null(strstr(r.err, "cannot connect to"), "%s", r.err);
    free(trace);
    lg_free(&r);
}

/* ---- Signals ---- */

/* Starts `spillway loadgen --no-progress --out DIR/out ARGS...` with stdout and stderr in
 * DIR/lg.out and DIR/lg.err; returns its pid. */
static pid_t loadgen_spawn(const char *const *args)
{
    const char *argv[64] = {SPILLWAY, "loadgen", "--no-progress", "--out", NULL};
    char *out_dir = cli_path_in(dir, "out");
    argv[4] = out_dir;
    size_t n = 5;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *out = cli_path_in(dir, "lg.out"), *err = cli_path_in(dir, "lg.err");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, SPILLWAY, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    free(out);
    free(err);
    free(out_dir);
    return pid;
}

/* Waits for `count` requests to reach the fake server, then sends sig to pid. */
static void signal_after(pid_t pid, unsigned count, int sig)
{
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (atomic_load(&fake.received_total) < count) {
        cr_assert_lt(sw_clock_now(), end, "loadgen sent %u requests, not %u",
                     atomic_load(&fake.received_total), count);
        usleep(10000);
    }
    cr_assert_eq(kill(pid, sig), 0);
}

/* Waits for pid to exit (failing the test when it does not within 60 s); returns what
 * it printed and its summary, as loadgen() does. */
static lg_result_t loadgen_reap(pid_t pid)
{
    lg_result_t r = {0};
    int ws = 0;
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (waitpid(pid, &ws, WNOHANG) == 0) {
        if (sw_clock_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            cr_assert_fail("loadgen did not exit after the signal");
        }
        usleep(10000);
    }
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    r.out = cli_read_output(dir, "lg.out");
    r.err = cli_read_output(dir, "lg.err");
    char *path = cli_path_in(dir, "out/summary.json");
    r.sum = json_load_file(path, 0, NULL);
    free(path);
    return r;
}

/* Waits until loadgen's stderr holds `text`. */
static void wait_for_err(const char *text)
{
    char *path = cli_path_in(dir, "lg.err");
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    for (;;) {
        char *err = cli_slurp(path, NULL);
        bool found = err && strstr(err, text);
        free(err);
        if (found)
            break;
        cr_assert_lt(sw_clock_now(), end, "stderr never said '%s'", text);
        usleep(10000);
    }
    free(path);
}

/* A request every 0.1 s for 100 s. */
static char *long_trace(void)
{
    char *text = malloc(16 * 1024);
    size_t n = (size_t)sprintf(text, "TIMESTAMP\n");
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(text + n, "%d.%d\n", i / 10, i % 10);
    char *path = cli_write_file(dir, "long.csv", text);
    free(text);
    return path;
}

Test(loadgen, sigint_stops_the_schedule_and_waits_for_the_answers_due)
{
    fake_start(FAKE_STALL, 0);
    char *trace = long_trace();
    const char *args[] = {"--url", fake.url, "--trace", trace, "--images", "16", NULL};
    pid_t pid = loadgen_spawn(args);
    signal_after(pid, 5, SIGINT);
    lg_result_t r = loadgen_reap(pid);
    cr_assert_eq(r.status, 0, "every request scheduled was answered\n%s\n%s", r.out, r.err);
    cr_assert(json_is_true(json_object_get(r.sum, "interrupted")), "%s", r.out);
    cr_assert(num(&r, "requests") >= 5 && num(&r, "requests") < 1000, "%g", num(&r, "requests"));
    cr_assert_eq(num(&r, "answered_ok"), num(&r, "requests"));
    cr_assert_not_null(strstr(r.out, "INTERRUPTED"), "%s", r.out);
    cr_assert_not_null(strstr(r.err, "stopping; waiting for"), "%s", r.err);
    free(trace);
    lg_free(&r);
}

Test(loadgen, a_second_signal_gives_up_on_the_answers_and_exits_1)
{
    fake_start(FAKE_SILENT, 0);
    char *trace = long_trace();
    const char *args[] = {"--url", fake.url, "--trace", trace, "--images", "16", NULL};
    pid_t pid = loadgen_spawn(args);
    signal_after(pid, 5, SIGTERM);
    wait_for_err("stopping; waiting for"); /* the first is handled before the second */
    cr_assert_eq(kill(pid, SIGTERM), 0);
    lg_result_t r = loadgen_reap(pid);
    cr_assert_eq(r.status, 1, "%s\n%s", r.out, r.err);
    cr_assert_not_null(strstr(r.err, "stopped by a second signal"), "%s", r.err);
    cr_assert(json_is_true(json_object_get(r.sum, "interrupted")), "a summary of what was seen");
    cr_assert_eq(num(&r, "answered_ok"), 0);
    free(trace);
    lg_free(&r);
}

/* ---- Options ---- */

Test(loadgen, bad_options_exit_2_naming_the_option)
{
    static const struct {
        const char *args[12];
        const char *says;
    } cases[] = {
        {{"--trace", "x", NULL}, "--url is required"},
        {{"--url", "ftp://127.0.0.1:1", NULL}, "expected http://"},
        {{"--url", "http://", NULL}, "expected http://"},
        {{"--url", "http://127.0.0.1:99999", NULL}, "port"},
        {{"--url", "http://[::1", NULL}, "an IPv6 address is written in brackets"},
        {{"--url", "http://::1]:80", NULL}, "an IPv6 address is written in brackets"},
        {{"--url", "http://[::1]x:80", NULL}, "an IPv6 address is written in brackets"},
        {{"--url", "http://127.0.0.1:1", "--rows", "0", NULL}, "--rows"},
        {{"--url", "http://127.0.0.1:1", "--rows", "65", NULL}, "--rows"},
        {{"--url", "http://127.0.0.1:1", "--speedup", "0", NULL}, "--speedup 0: expected"},
        {{"--url", "http://127.0.0.1:1", "--speedup", "-2", NULL}, "--speedup -2: expected"},
        {{"--url", "http://127.0.0.1:1", "--speedup", "nan", NULL}, "--speedup nan: expected"},
        {{"--url", "http://127.0.0.1:1", "--speedup", "inf", NULL}, "--speedup inf: expected"},
        {{"--url", "http://127.0.0.1:1", "--speedup", "1e9", NULL}, "--speedup 1e9: expected"},
        {{"--url", "http://127.0.0.1:1", "--speedup", "4x", NULL}, "--speedup 4x: expected"},
        {{"--url", "http://127.0.0.1:1", "--concurrency", "0", "--duration", "1", NULL},
         "--concurrency 0: expected"},
        {{"--url", "http://127.0.0.1:1", "--concurrency", "-1", "--duration", "1", NULL},
         "--concurrency -1: expected"},
        {{"--url", "http://127.0.0.1:1", "--concurrency", "2", "--duration", "-1", NULL},
         "--duration -1: expected"},
        {{"--url", "http://127.0.0.1:1", "--duration", "-1", NULL}, "trace.duration_s"},
        {{"--url", "127.0.0.1:8080", NULL}, "expected http://"},
        {{"--url", "http://127.0.0.1:8080/x?y=1", NULL}, "no query"},
        {{"--url", "http://no-such-host.invalid:8080", NULL}, "cannot resolve"},
        {{"--url", "http://127.0.0.1:1", "--timeout-ms", "0", NULL}, "--timeout-ms"},
        {{"--url", "http://127.0.0.1:1", "--interval", "-1", NULL}, "--interval"},
        {{"--url", "http://127.0.0.1:1", "--concurrency", "2", NULL}, "needs --duration"},
        {{"--url", "http://127.0.0.1:1", "--concurrency", "2", "--duration", "1", "--speedup", "2",
          NULL},
         "closed loop"},
        {{"--url", "http://127.0.0.1:1", "--connections", "9", "--max-connections", "4", NULL},
         "--max-connections"},
        {{"--url", "http://127.0.0.1:1", "--slo-target", "2", NULL}, "slo.target"},
        {{"--url", "http://127.0.0.1:1", "--model-name", "a/b", NULL}, "--model-name"},
        {{"--url", "http://127.0.0.1:1", "--config", "/nonexistent.yaml", NULL}, "nonexistent"},
        {{"--url", "http://127.0.0.1:1", "--images", "4", "--trace", "/nonexistent.txt", NULL},
         "nonexistent.txt"},
        {{"--url", "http://127.0.0.1:1", "--images", "4", "--check-model", "/nonexistent.pb", NULL},
         "--check-model"},
        {{"--url", "http://127.0.0.1:1", "--images", "20000", NULL}, "--images 20000"},
        {{"--url", "http://127.0.0.1:1", "stray", NULL}, "unexpected argument"},
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        lg_result_t r = loadgen(cases[i].args);
        cr_assert_eq(r.status, 2, "case %zu: exit %d\n%s", i, r.status, r.err);
        cr_assert_not_null(strstr(r.err, cases[i].says), "case %zu: %s", i, r.err);
        cr_assert_null(r.sum, "case %zu: no summary for a run that did not start", i);
        lg_free(&r);
    }
}
