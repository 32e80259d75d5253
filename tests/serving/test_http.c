/* Tests of serving/http.c: the server runs on its own event loop thread on 127.0.0.1, port
 * 0, with a fake driver that answers at once (outputs derived from the inputs), on the next
 * loop turn, holds calls until the test answers them, or refuses. Clients are blocking raw
 * sockets (exact bytes, slow or vanishing clients) and libcurl (keep-alive, big bodies).
 * The test thread reaches the loop thread only through run_on_loop(), which runs a function
 * there and waits for it, so the fake driver needs no locks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/common.h"
#include "serving/http.h"

#define IN 3
#define OUT 2
#define MAX_BATCH 64
#define BODY_LIMIT 4096
#define INFER "/v2/models/tiny/infer"

/* ---- the server on its loop thread ---- */

typedef enum { DRV_NOW, DRV_NEXT_TURN, DRV_HOLD, DRV_REFUSE } drv_mode_t;

/* The fake driver; touched only on the loop thread once the loop runs. */
static struct {
    drv_mode_t mode;
    int refuse_status;
    unsigned retry_after_s;
    bool ready, draining, answer_when_abandoned;
    sw_srv_infer_t *held[64];
    size_t n_held;
    int calls, abandoned_cbs;
    uint64_t last_seq;
    sw_time_t last_received_at;
} drv;

static struct event_base *base;
static sw_srv_http_t *srv;
static pthread_t loop_thread;
static bool loop_running;
static int cmd_pipe[2] = {-1, -1};
static struct event *cmd_ev;
static int port;

typedef struct cmd {
    void (*fn)(void *);
    void *arg;
    sem_t *done;
} cmd_t;

static void on_cmd(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    cmd_t c;
    while (read(fd, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
        c.fn(c.arg);
        sem_post(c.done);
    }
}

/* Runs fn(arg) on the loop thread and waits for it. */
static void run_on_loop(void (*fn)(void *), void *arg)
{
    sem_t done;
    sem_init(&done, 0, 0);
    cmd_t c = {fn, arg, &done};
    cr_assert_eq(write(cmd_pipe[1], &c, sizeof(c)), (ssize_t)sizeof(c));
    while (sem_wait(&done) < 0 && errno == EINTR)
        ;
    sem_destroy(&done);
}

/* Output j of a row is twice its input j % IN, plus j: easy to check, different per row. */
static void fill_outputs(sw_srv_infer_t *inf)
{
    const float *in = sw_srv_infer_input(inf);
    float *out = sw_srv_infer_output(inf);
    for (size_t r = 0; r < sw_srv_infer_rows(inf); r++)
        for (size_t j = 0; j < OUT; j++)
            out[r * OUT + j] = in[r * IN + j % IN] * 2 + (float)j;
}

static void answer(sw_srv_infer_t *inf)
{
    fill_outputs(inf);
    sw_srv_infer_reply_ok(inf);
}

static void on_next_turn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    answer(arg);
}

static void drv_infer(void *self, sw_srv_infer_t *inf)
{
    (void)self;
    drv.calls++;
    drv.last_seq = sw_srv_infer_seq(inf);
    drv.last_received_at = sw_srv_infer_received_at(inf);
    switch (drv.mode) {
    case DRV_NOW: answer(inf); break;
    case DRV_NEXT_TURN: event_base_once(base, -1, EV_TIMEOUT, on_next_turn, inf, NULL); break;
    case DRV_HOLD: drv.held[drv.n_held++] = inf; break;
    case DRV_REFUSE:
        sw_srv_infer_reply_error(inf, drv.refuse_status, "too busy", drv.retry_after_s);
        break;
    }
}

static void drv_abandoned(void *self, sw_srv_infer_t *inf)
{
    (void)self;
    drv.abandoned_cbs++;
    if (!drv.answer_when_abandoned)
        return;
    for (size_t i = 0; i < drv.n_held; i++)
        if (drv.held[i] == inf)
            drv.held[i] = drv.held[--drv.n_held];
    sw_srv_infer_reply_error(inf, 500, "never sent", 0);
}

static bool drv_is_ready(void *self)
{
    (void)self;
    return drv.ready;
}

static bool drv_is_draining(void *self)
{
    (void)self;
    return drv.draining;
}

static void drv_metrics(void *self, struct evbuffer *out)
{
    (void)self;
    evbuffer_add_printf(out, "fake_driver_calls %d\n", drv.calls);
}

static void *loop_main(void *arg)
{
    (void)arg;
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static sw_srv_http_opts_t test_opts(void)
{
    return (sw_srv_http_opts_t){.listen = "127.0.0.1:0",
                                .model_name = "tiny",
                                .model_version = 7,
                                .input_size = IN,
                                .output_size = OUT,
                                .max_batch = MAX_BATCH,
                                .max_body_bytes = BODY_LIMIT,
                                .max_header_bytes = 1024,
                                .max_connections = 64,
                                .read_timeout_ms = 500,
                                .write_timeout_ms = 1000,
                                .idle_timeout_ms = 1000};
}

static void start(const sw_srv_http_opts_t *o)
{
    static const sw_srv_http_ops_t ops = {.is_ready = drv_is_ready,
                                          .is_draining = drv_is_draining,
                                          .infer = drv_infer,
                                          .abandoned = drv_abandoned,
                                          .metrics = drv_metrics};
    base = event_base_new();
    cr_assert_not_null(base);
    char err[256] = "";
    cr_assert_eq(sw_srv_http_create(base, o, &ops, &srv, err, sizeof(err)), 0, "%s", err);
    port = sw_srv_http_port(srv);
    cr_assert_gt(port, 0);
    cr_assert_eq(pipe(cmd_pipe), 0);
    fcntl(cmd_pipe[0], F_SETFL, O_NONBLOCK);
    cmd_ev = event_new(base, cmd_pipe[0], EV_READ | EV_PERSIST, on_cmd, NULL);
    event_add(cmd_ev, NULL);
    cr_assert_eq(pthread_create(&loop_thread, NULL, loop_main, NULL), 0);
    loop_running = true;
}

static void start_default(void)
{
    sw_srv_http_opts_t o = test_opts();
    start(&o);
}

static void do_break(void *arg)
{
    (void)arg;
    event_base_loopbreak(base);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    memset(&drv, 0, sizeof(drv));
    drv.ready = true;
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Stops the loop, then frees the server with whatever it still holds. */
static void teardown(void)
{
    if (loop_running) {
        run_on_loop(do_break, NULL);
        pthread_join(loop_thread, NULL);
        loop_running = false;
    }
    sw_srv_http_destroy(srv);
    srv = NULL;
    if (cmd_ev)
        event_free(cmd_ev);
    cmd_ev = NULL;
    for (int i = 0; i < 2; i++)
        if (cmd_pipe[i] >= 0)
            close(cmd_pipe[i]);
    cmd_pipe[0] = cmd_pipe[1] = -1;
    if (base)
        event_base_free(base);
    base = NULL;
    curl_global_cleanup();
}

TestSuite(srv_http, .init = setup, .fini = teardown, .timeout = 15);

/* ---- reading state from the loop thread ---- */

static sw_srv_http_stats_t st;

static void get_stats(void *arg)
{
    (void)arg;
    sw_srv_http_get_stats(srv, &st);
}

static sw_srv_http_stats_t stats(void)
{
    run_on_loop(get_stats, NULL);
    return st;
}

static size_t n_held_seen;

static void get_n_held(void *arg)
{
    (void)arg;
    n_held_seen = drv.n_held;
}

/* Waits up to ms for the fake driver to hold n calls. */
static bool wait_held(size_t n, int ms)
{
    for (int i = 0; i < ms; i += 5) {
        run_on_loop(get_n_held, NULL);
        if (n_held_seen >= n)
            return true;
        usleep(5000);
    }
    return false;
}

/* Waits up to ms for the counter at offset `off` of the stats to equal want. */
static bool wait_stat(size_t off, uint64_t want, int ms)
{
    for (int i = 0; i < ms; i += 5) {
        sw_srv_http_stats_t s = stats();
        uint64_t v;
        memcpy(&v, (const char *)&s + off, sizeof(v));
        if (v == want)
            return true;
        usleep(5000);
    }
    return false;
}
#define WAIT_STAT(field, want, ms) wait_stat(offsetof(sw_srv_http_stats_t, field), (want), (ms))

static void answer_held(void *arg)
{
    bool *abandoned = arg;
    for (size_t i = 0; i < drv.n_held; i++) {
        abandoned[i] = sw_srv_infer_is_abandoned(drv.held[i]);
        answer(drv.held[i]);
    }
    drv.n_held = 0;
}

static void set_mode(void *arg)
{
    drv.mode = *(drv_mode_t *)arg;
}

static void set_refusal(void *arg)
{
    const unsigned *a = arg;
    drv.refuse_status = (int)a[0];
    drv.retry_after_s = a[1];
}

static void set_flags(void *arg)
{
    const bool *f = arg;
    drv.ready = f[0];
    drv.draining = f[1];
}

/* ---- a raw client ---- */

typedef struct resp {
    int status; /* -1: the connection ended before a response */
    char head[4096];
    char *body;
    size_t len;
} resp_t;

static int cli_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Sends all of s; false when the server has closed the connection. */
static bool cli_send(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

/* The value of header name in r (case-insensitive), or "" when absent. */
static const char *hdr(const resp_t *r, const char *name)
{
    static char v[256];
    v[0] = '\0';
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        size_t n = strlen(name);
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
            const char *s = p + 3 + n + strspn(p + 3 + n, " ");
            snprintf(v, sizeof(v), "%.*s", (int)strcspn(s, "\r"), s);
            break;
        }
    }
    return v;
}

/* Reads one response, a byte at a time up to the body so that nothing of the next one
 * is consumed. */
static resp_t cli_recv(int fd)
{
    resp_t r = {.status = -1};
    size_t n = 0;
    while (n + 1 < sizeof(r.head) && (n < 4 || memcmp(r.head + n - 4, "\r\n\r\n", 4))) {
        if (recv(fd, r.head + n, 1, 0) != 1)
            return r;
        r.head[++n] = '\0';
    }
    cr_assert_eq(sscanf(r.head, "HTTP/1.1 %d ", &r.status), 1, "%s", r.head);
    r.len = strtoul(hdr(&r, "Content-Length"), NULL, 10);
    r.body = sw_calloc(1, r.len + 1);
    for (size_t got = 0; got < r.len;) {
        ssize_t k = recv(fd, r.body + got, r.len - got, 0);
        cr_assert_gt(k, 0, "body cut short");
        got += (size_t)k;
    }
    return r;
}

static void resp_free(resp_t *r)
{
    sw_free(r->body);
    r->body = NULL;
}

/* Sends one request on fd (a body adds Content-Length) and reads its response. */
static resp_t cli_request(int fd, const char *method, const char *path, const char *body)
{
    char head[512];
    int n = body ? snprintf(head, sizeof(head),
                            "%s %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            method, path, strlen(body))
                 : snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: t\r\n\r\n", method, path);
    cr_assert(cli_send(fd, head, (size_t)n));
    if (body)
        cr_assert(cli_send(fd, body, strlen(body)));
    return cli_recv(fd);
}

/* One request on a connection of its own. */
static resp_t request(const char *method, const char *path, const char *body)
{
    int fd = cli_connect();
    resp_t r = cli_request(fd, method, path, body);
    close(fd);
    return r;
}

/* Waits up to ms for the server to close fd, dropping what it sends; returns the ms it
 * took, or -1. */
static int cli_wait_closed(int fd, int ms)
{
    sw_time_t t0 = sw_clock_now();
    for (;;) {
        int left = ms - (int)((sw_clock_now() - t0) / 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        char buf[4096];
        ssize_t k = recv(fd, buf, sizeof(buf), 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return (int)((sw_clock_now() - t0) / 1000);
    }
}

/* An infer body of `rows` rows whose input k of row r is r + k / 4 (exact in binary). */
static char *infer_body(size_t rows, const char *id)
{
    char *b = sw_malloc(256 + rows * IN * 24);
    size_t n = (size_t)sprintf(b,
                               "{%s%s%s\"inputs\": [{\"name\": \"input\", \"shape\": [%zu, %d], "
                               "\"datatype\": \"FP32\", \"data\": [",
                               id ? "\"id\": \"" : "", id ? id : "", id ? "\", " : "", rows, IN);
    for (size_t i = 0; i < rows * IN; i++)
        n += (size_t)sprintf(b + n, "%s%g", i ? ", " : "", (double)(i / IN) + (i % IN) / 4.0);
    sprintf(b + n, "]}]}");
    return b;
}

/* Checks that body is the answer to infer_body(rows, id): every row, in order. */
static void expect_outputs(const char *body, size_t rows, const char *id)
{
    json_error_t jerr;
    json_t *j = json_loads(body, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", jerr.text, body);
    cr_expect_str_eq(json_string_value(json_object_get(j, "model_name")), "tiny");
    cr_expect_str_eq(json_string_value(json_object_get(j, "model_version")), "7");
    if (id)
        cr_expect_str_eq(json_string_value(json_object_get(j, "id")), id);
    json_t *o = json_array_get(json_object_get(j, "outputs"), 0);
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(o, "shape"), 0)), rows);
    json_t *data = json_object_get(o, "data");
    cr_assert_eq(json_array_size(data), rows * OUT);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < OUT; k++) {
            double want = 2 * ((double)r + (k % IN) / 4.0) + (double)k;
            cr_expect_eq(json_number_value(json_array_get(data, r * OUT + k)), want,
                         "row %zu output %zu", r, k);
        }
    json_decref(j);
}

/* The server answers GET /v2/health/live on fd. */
static void expect_live(int fd)
{
    resp_t r = cli_request(fd, "GET", "/v2/health/live", NULL);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
}

/* The server still answers on a fresh connection. */
static void expect_serving(void)
{
    int fd = cli_connect();
    expect_live(fd);
    close(fd);
}

/* Sends raw (n bytes) on a new connection and expects exactly status and body back, with
 * "Connection: close", then the connection closed, and the server still serving. */
static void expect_refused(const char *raw, size_t n, int status, const char *body)
{
    int fd = cli_connect();
    cr_assert(cli_send(fd, raw, n));
    resp_t r = cli_recv(fd);
    cr_expect_eq(r.status, status);
    cr_expect_str_eq(hdr(&r, "Content-Type"), "application/json");
    cr_expect_str_eq(hdr(&r, "Connection"), "close");
    cr_expect_str_eq(r.body, body);
    resp_free(&r);
    cr_expect_geq(cli_wait_closed(fd, 2000), 0, "closed after the answer");
    close(fd);
    expect_serving();
}

/* ---- metadata and health ---- */

Test(srv_http, server_metadata)
{
    start_default();
    resp_t r = request("GET", "/v2", NULL);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(hdr(&r, "Content-Type"), "application/json");
    cr_expect_str_eq(r.body,
                     "{\"name\":\"spillway\",\"version\":\"" SW_VERSION "\",\"extensions\":[]}");
    resp_free(&r);
}

Test(srv_http, model_metadata_with_and_without_version)
{
    start_default();
    const char *want =
        "{\"name\":\"tiny\",\"versions\":[\"7\"],\"platform\":\"spillway\","
        "\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,3]}],"
        "\"outputs\":[{\"name\":\"output\",\"datatype\":\"FP32\",\"shape\":[-1,2]}]}";
    int fd = cli_connect();
    const char *paths[] = {"/v2/models/tiny", "/v2/models/tiny/versions/7"};
    for (size_t i = 0; i < 2; i++) {
        resp_t r = cli_request(fd, "GET", paths[i], NULL);
        cr_expect_eq(r.status, 200, "%s", paths[i]);
        cr_expect_str_eq(hdr(&r, "Content-Type"), "application/json");
        cr_expect_str_eq(r.body, want, "%s", paths[i]);
        resp_free(&r);
    }
    close(fd);
}

Test(srv_http, health_live_and_ready_follow_the_driver)
{
    start_default();
    const char *ready[] = {"/v2/health/ready", "/v2/models/tiny/ready",
                           "/v2/models/tiny/versions/7/ready"};
    /* ready, not ready, ready but draining */
    const bool flags[3][2] = {{true, false}, {false, false}, {true, true}};
    const int want[3] = {200, 503, 503};
    for (size_t f = 0; f < 3; f++) {
        run_on_loop(set_flags, (void *)flags[f]);
        resp_t r = request("GET", "/v2/health/live", NULL);
        cr_expect_eq(r.status, 200);
        cr_expect_eq(r.len, 0);
        resp_free(&r);
        for (size_t i = 0; i < 3; i++) {
            r = request("GET", ready[i], NULL);
            cr_expect_eq(r.status, want[f], "%s with flags %zu", ready[i], f);
            cr_expect_eq(r.len, 0, "health bodies are empty (OIP)");
            resp_free(&r);
        }
    }
}

Test(srv_http, metrics_are_prometheus_text_with_the_driver_part)
{
    start_default();
    resp_t r = request("GET", "/v2/health/live", NULL);
    resp_free(&r);
    cr_assert(WAIT_STAT(connections_open, 0, 2000));
    r = request("GET", "/metrics", NULL);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(hdr(&r, "Content-Type"), "text/plain; version=0.0.4");
    cr_expect_not_null(strstr(r.body, "# TYPE spillway_http_requests_total counter\n"
                                      "spillway_http_requests_total 2\n"),
                       "%s", r.body);
    cr_expect_not_null(strstr(r.body, "# TYPE spillway_http_connections_open gauge\n"
                                      "spillway_http_connections_open 1\n"),
                       "%s", r.body);
    cr_expect_not_null(strstr(r.body, "\nfake_driver_calls 0\n"), "%s", r.body);
    resp_free(&r);
}

/* ---- inference ---- */

typedef struct cbuf {
    char *p;
    size_t len;
} cbuf_t;

static size_t on_curl_body(char *d, size_t size, size_t n, void *arg)
{
    cbuf_t *b = arg;
    b->p = sw_realloc(b->p, b->len + size * n + 1);
    memcpy(b->p + b->len, d, size * n);
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

/* POSTs body to path with the easy handle h (reused: keep-alive); returns the status. */
static long curl_post(CURL *h, const char *path, const char *body, bool expect_100, cbuf_t *out)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    if (!expect_100)
        l = curl_slist_append(l, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_curl_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(l);
    cr_assert_eq(cc, CURLE_OK, "%s", curl_easy_strerror(cc));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

Test(srv_http, one_row_is_answered_with_its_id)
{
    start_default();
    char *body = infer_body(1, "req-1");
    const char *paths[] = {INFER, "/v2/models/tiny/versions/7/infer"};
    for (size_t i = 0; i < 2; i++) {
        resp_t r = request("POST", paths[i], body);
        cr_expect_eq(r.status, 200, "%s", paths[i]);
        cr_expect_str_eq(hdr(&r, "Content-Type"), "application/json");
        cr_expect_str_eq(r.body,
                         "{\"model_name\":\"tiny\",\"model_version\":\"7\",\"id\":\"req-1\","
                         "\"outputs\":[{\"name\":\"output\",\"shape\":[1,2],"
                         "\"datatype\":\"FP32\",\"data\":[0,1.5]}]}");
        resp_free(&r);
    }
    sw_free(body);
    sw_srv_http_stats_t s = stats();
    cr_expect_eq(drv.last_seq, 2);
    cr_expect_gt(drv.last_received_at, 0);
    cr_expect_eq(s.infer_total, 2);
    cr_expect_eq(s.infer_rows_total, 2);
    cr_expect_eq(s.responses_2xx_total, 2);
}

Test(srv_http, sixty_four_rows_answered_later_come_back_in_order)
{
    drv.mode = DRV_NEXT_TURN;
    start_default();
    char *body = infer_body(MAX_BATCH, "big");
    CURL *h = curl_easy_init();
    cbuf_t out = {0};
    cr_expect_eq(curl_post(h, INFER, body, false, &out), 200, "%s", out.p);
    expect_outputs(out.p, MAX_BATCH, "big");
    curl_easy_cleanup(h);
    sw_free(out.p);
    sw_free(body);
}

Test(srv_http, keep_alive_reuses_one_connection)
{
    start_default();
    char *body = infer_body(2, NULL);
    CURL *h = curl_easy_init();
    for (int i = 0; i < 5; i++) {
        cbuf_t out = {0};
        cr_expect_eq(curl_post(h, INFER, body, false, &out), 200);
        expect_outputs(out.p, 2, NULL);
        long connects = -1;
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
        cr_expect_eq(connects, i == 0 ? 1 : 0, "request %d", i);
        sw_free(out.p);
    }
    curl_easy_cleanup(h);
    sw_free(body);
    cr_expect_eq(stats().connections_accepted_total, 1);
}

Test(srv_http, many_connections_at_once)
{
    enum { N = 32 };
    drv.mode = DRV_NEXT_TURN;
    start_default();
    int fds[N];
    char *bodies[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        fds[i] = cli_connect();
        bodies[i] = infer_body(1 + (size_t)i % 8, id);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            char head[256];
            int n = snprintf(head, sizeof(head),
                             "POST " INFER " HTTP/1.1\r\nHost: t\r\n"
                             "Content-Length: %zu\r\n\r\n",
                             strlen(bodies[i]));
            cr_assert(cli_send(fds[i], head, (size_t)n));
            cr_assert(cli_send(fds[i], bodies[i], strlen(bodies[i])));
        }
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof(id), "c%d", i);
            resp_t r = cli_recv(fds[i]);
            cr_assert_eq(r.status, 200, "connection %d", i);
            expect_outputs(r.body, 1 + (size_t)i % 8, id);
            resp_free(&r);
        }
    }
    for (int i = 0; i < N; i++) {
        close(fds[i]);
        sw_free(bodies[i]);
    }
    sw_srv_http_stats_t s = stats();
    cr_expect_eq(s.connections_accepted_total, N);
    cr_expect_eq(s.infer_total, 2 * N);
}

Test(srv_http, pipelined_requests_are_answered_in_order)
{
    start_default();
    char *body = infer_body(3, "p");
    char buf[2048];
    int n = snprintf(buf, sizeof(buf),
                     "GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"
                     "POST " INFER " HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s"
                     "GET /v2/models/tiny/ready HTTP/1.1\r\nHost: t\r\n\r\n",
                     strlen(body), body);
    int fd = cli_connect();
    cr_assert(cli_send(fd, buf, (size_t)n));
    resp_t r = cli_recv(fd);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.len, 0);
    resp_free(&r);
    r = cli_recv(fd);
    cr_expect_eq(r.status, 200);
    expect_outputs(r.body, 3, "p");
    resp_free(&r);
    r = cli_recv(fd);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    close(fd);
    sw_free(body);
}

/* ---- errors ---- */

/* Sends each request on one connection and expects status and exactly body back. */
typedef struct exchange {
    const char *method, *path, *body;
    int status;
    const char *want; /* the whole body; NULL: not checked */
    const char *allow;
} exchange_t;

static void expect_exchanges(const exchange_t *x, size_t n)
{
    int fd = cli_connect();
    for (size_t i = 0; i < n; i++) {
        resp_t r = cli_request(fd, x[i].method, x[i].path, x[i].body);
        cr_expect_eq(r.status, x[i].status, "%s %s", x[i].method, x[i].path);
        cr_expect_str_eq(hdr(&r, "Content-Type"), "application/json", "%s", x[i].path);
        if (x[i].want)
            cr_expect_str_eq(r.body, x[i].want, "%s %s", x[i].method, x[i].path);
        if (x[i].allow)
            cr_expect_str_eq(hdr(&r, "Allow"), x[i].allow, "%s %s", x[i].method, x[i].path);
        resp_free(&r);
    }
    /* The same connection still serves. */
    resp_t r = cli_request(fd, "GET", "/v2", NULL);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    close(fd);
}

Test(srv_http, unknown_model_version_or_path_is_404)
{
    start_default();
    const exchange_t x[] = {
        {"GET", "/v2/models/other", NULL, 404, "{\"error\":\"model 'other' not found\"}", NULL},
        {"POST", "/v2/models/other/infer", "{}", 404, "{\"error\":\"model 'other' not found\"}",
         NULL},
        {"GET", "/v2/models/tiny/versions/8", NULL, 404,
         "{\"error\":\"model 'tiny' has no version '8'\"}", NULL},
        {"POST", "/v2/models/tiny/versions/8/infer", "{}", 404,
         "{\"error\":\"model 'tiny' has no version '8'\"}", NULL},
        {"GET", "/v3", NULL, 404, "{\"error\":\"no such endpoint: /v3\"}", NULL},
        {"GET", "/v2/models/tiny/explain", NULL, 404,
         "{\"error\":\"no such endpoint: /v2/models/tiny/explain\"}", NULL},
    };
    expect_exchanges(x, SW_ARRAY_LEN(x));
}

Test(srv_http, wrong_method_is_405_with_allow)
{
    start_default();
    const exchange_t x[] = {
        {"POST", "/v2", "{}", 405, "{\"error\":\"method POST not allowed on /v2; use GET\"}",
         "GET"},
        {"GET", INFER, NULL, 405,
         "{\"error\":\"method GET not allowed on /v2/models/tiny/infer; use POST\"}", "POST"},
        {"PUT", INFER, "{}", 405, NULL, "POST"},
        {"DELETE", "/metrics", NULL, 405, NULL, "GET"},
        {"PATCH", "/v2/health/ready", "{}", 405, NULL, "GET"},
    };
    expect_exchanges(x, SW_ARRAY_LEN(x));
}

Test(srv_http, head_request_gets_no_body_and_keeps_the_connection_usable)
{
    start_default();
    int fd = cli_connect();
    const char *req = "HEAD /v2 HTTP/1.1\r\nHost: t\r\n\r\n";
    cr_assert(cli_send(fd, req, strlen(req)));
    char head[1024] = "";
    size_t n = 0;
    while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4))
        cr_assert_eq(recv(fd, head + n++, 1, 0), 1);
    cr_expect(!strncmp(head, "HTTP/1.1 405 ", 13), "%s", head);
    resp_t r = cli_request(fd, "GET", "/v2", NULL);
    cr_expect_eq(r.status, 200, "framing kept after HEAD");
    resp_free(&r);
    close(fd);
}

Test(srv_http, malformed_bodies_are_400_naming_the_json_path)
{
    start_default();
    const exchange_t x[] = {
        {"POST", INFER, "{\"inputs\": [", 400, NULL, NULL},
        {"POST", INFER,
         "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 4], \"datatype\": \"FP32\", "
         "\"data\": [1, 2, 3, 4]}]}",
         400, "{\"error\":\"inputs[0].shape: expected [N, 3], got [1, 4]\"}", NULL},
        {"POST", INFER,
         "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 3], \"datatype\": \"FP64\", "
         "\"data\": [1, 2, 3]}]}",
         400, "{\"error\":\"inputs[0].datatype: FP64 not supported, expected FP32\"}", NULL},
        {"POST", INFER,
         "{\"inputs\": [{\"name\": \"input\", \"shape\": [65, 3], \"datatype\": \"FP32\", "
         "\"data\": []}]}",
         400,
         "{\"error\":\"inputs[0].shape: batch size 65 out of range, expected 1 to 64 (the max "
         "batch)\"}",
         NULL},
        {"POST", INFER,
         "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 3], \"datatype\": \"FP32\", "
         "\"data\": [1, \"x\", 3]}]}",
         400, "{\"error\":\"inputs[0].data[1]: not a number (got a string)\"}", NULL},
    };
    expect_exchanges(x, SW_ARRAY_LEN(x));
    resp_t r = request("POST", INFER, "{\"inputs\": [");
    cr_expect(!strncmp(r.body, "{\"error\":\"not JSON at line 1, column ", 36), "%s", r.body);
    resp_free(&r);
    cr_expect_eq(drv.calls, 0);
}

Test(srv_http, post_without_length_is_411_and_closes)
{
    start_default();
    const char *req = "POST " INFER " HTTP/1.1\r\nHost: t\r\n\r\n";
    expect_refused(req, strlen(req), 411,
                   "{\"error\":\"a request body needs Content-Length or Transfer-Encoding: "
                   "chunked\"}");
}

Test(srv_http, driver_refusals_carry_status_and_retry_after)
{
    drv.mode = DRV_REFUSE;
    start_default();
    char *body = infer_body(1, NULL);
    const int status[] = {429, 503, 504};
    const unsigned retry[] = {2, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        unsigned args[2] = {(unsigned)status[i], retry[i]};
        run_on_loop(set_refusal, args);
        resp_t r = request("POST", INFER, body);
        cr_expect_eq(r.status, status[i]);
        cr_expect_str_eq(r.body, "{\"error\":\"too busy\"}");
        cr_expect_str_eq(hdr(&r, "Retry-After"), i == 0 ? "2" : "");
        resp_free(&r);
    }
    sw_free(body);
    sw_srv_http_stats_t s = stats();
    cr_expect_eq(s.responses_4xx_total, 1);
    cr_expect_eq(s.responses_5xx_total, 2);
}

Test(srv_http, draining_refuses_inference_and_closes_connections)
{
    drv.draining = true;
    start_default();
    char *body = infer_body(1, NULL);
    resp_t r = request("POST", INFER, body);
    cr_expect_eq(r.status, 503);
    cr_expect_str_eq(r.body, "{\"error\":\"the server is draining\"}");
    cr_expect_str_eq(hdr(&r, "Connection"), "close");
    resp_free(&r);
    r = request("GET", "/v2", NULL);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(hdr(&r, "Connection"), "close");
    resp_free(&r);
    sw_free(body);
    stats();
    cr_expect_eq(drv.calls, 0);
}

/* ---- limits ---- */

Test(srv_http, declared_body_over_the_limit_is_413_json_before_it_is_read)
{
    start_default();
    const char *req = "POST " INFER " HTTP/1.1\r\nHost: t\r\nContent-Length: 4097\r\n\r\n";
    expect_refused(req, strlen(req), 413,
                   "{\"error\":\"request body of 4097 bytes exceeds the limit of 4096 bytes\"}");
    /* A client that sends the body anyway, or waits for 100 Continue, reads the same. */
    char *big = infer_body(400, NULL);
    for (int expect_100 = 0; expect_100 < 2; expect_100++) {
        CURL *h = curl_easy_init();
        cbuf_t out = {0};
        cr_expect_eq(curl_post(h, INFER, big, expect_100, &out), 413, "%s", out.p);
        cr_expect(out.p && !strncmp(out.p, "{\"error\":\"request body of ", 26), "%s", out.p);
        curl_easy_cleanup(h);
        sw_free(out.p);
    }
    sw_free(big);
    expect_serving();
    cr_expect_eq(drv.calls, 0);
}

Test(srv_http, chunked_body_over_the_limit_is_413_json)
{
    start_default();
    char buf[8192];
    int n = snprintf(buf, sizeof(buf),
                     "POST " INFER " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "800\r\n%02048d\r\n801\r\n",
                     0);
    expect_refused(buf, (size_t)n, 413,
                   "{\"error\":\"chunked request body exceeds the limit of 4096 bytes\"}");
}

/* Sends s in pieces of `piece` bytes, pausing gap_us between them. */
static void send_slowly(int fd, const char *s, size_t piece, int gap_us)
{
    for (size_t i = 0, n = strlen(s); i < n; i += piece) {
        if (!cli_send(fd, s + i, SW_MIN(piece, n - i))) {
            resp_t r = cli_recv(fd);
            cr_assert_fail("closed at byte %zu: %d %s", i, r.status, r.body ? r.body : "");
        }
        usleep((useconds_t)gap_us);
    }
}

Test(srv_http, bodies_in_any_pieces_are_read_exactly)
{
    sw_srv_http_opts_t o = test_opts();
    o.read_timeout_ms = 10000;
    start(&o);
    char *body = infer_body(2, "pieces");
    size_t len = strlen(body);
    char *req = sw_malloc(len + 512);
    /* Content-Length, then chunked in two chunks (evhttp 2.1 rejects chunk extensions), a
     * byte at a time. */
    for (int chunked = 0; chunked < 2; chunked++) {
        if (chunked)
            sprintf(req,
                    "POST " INFER " HTTP/1.1\r\nhost: t\r\ntransfer-encoding:  Chunked \r\n\r\n"
                    "%zx\r\n%.*s\r\n%zX\r\n%s\r\n0\r\n\r\n",
                    len / 2, (int)(len / 2), body, len - len / 2, body + len / 2);
        else
            sprintf(req, "POST " INFER " HTTP/1.1\r\nHOST: t\r\ncontent-length:%zu\r\n\r\n%s", len,
                    body);
        int fd = cli_connect();
        send_slowly(fd, req, 1, 200);
        resp_t r = cli_recv(fd);
        cr_expect_eq(r.status, 200, "chunked=%d: %s", chunked, r.body);
        if (r.status == 200)
            expect_outputs(r.body, 2, "pieces");
        resp_free(&r);
        close(fd);
    }
    sw_free(req);
    sw_free(body);
}

Test(srv_http, head_over_the_limit_is_431_json)
{
    start_default();
    char buf[2048];
    int n = snprintf(buf, sizeof(buf), "GET /v2 HTTP/1.1\r\nHost: t\r\nX-Pad: %01100d\r\n\r\n", 0);
    expect_refused(buf, (size_t)n, 431,
                   "{\"error\":\"request line and headers exceed the limit of 1024 bytes\"}");
}

/* ---- connections ---- */

Test(srv_http, connections_over_the_bound_are_closed_at_once)
{
    sw_srv_http_opts_t o = test_opts();
    o.max_connections = 2;
    start(&o);
    int a = cli_connect(), b = cli_connect();
    expect_live(a);
    expect_live(b);
    int c = cli_connect();
    char byte;
    cr_expect_eq(recv(c, &byte, 1, 0), 0, "closed without a byte");
    close(c);
    sw_srv_http_stats_t s = stats();
    cr_expect_eq(s.connections_refused_total, 1);
    cr_expect_eq(s.connections_open, 2);
    close(a);
    cr_assert(WAIT_STAT(connections_open, 1, 2000));
    expect_serving(); /* in the slot a freed */
    close(b);
    cr_expect_eq(stats().connections_accepted_total, 3);
}

Test(srv_http, slow_client_is_cut_at_the_read_deadline_while_others_are_served)
{
    start_default(); /* read deadline 500 ms */
    int slow = cli_connect(), fast = cli_connect();
    const char *req = "POST " INFER " HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789";
    sw_time_t t0 = sw_clock_now();
    int cut_ms = -1;
    for (size_t i = 0; i < strlen(req) && cut_ms < 0; i++) {
        struct pollfd p = {.fd = slow, .events = POLLIN};
        if (!cli_send(slow, req + i, 1) || poll(&p, 1, 0) > 0) {
            cut_ms = (int)((sw_clock_now() - t0) / 1000);
            break;
        }
        sw_time_t f0 = sw_clock_now();
        resp_t r = cli_request(fast, "GET", "/v2/health/live", NULL);
        cr_assert_eq(r.status, 200, "the other client is served");
        cr_expect_lt(sw_clock_now() - f0, 100 * SW_US_PER_MS);
        resp_free(&r);
        usleep(100000);
    }
    cr_expect(cut_ms >= 450 && cut_ms < 1200, "cut after %d ms", cut_ms);
    char byte;
    cr_expect_leq(recv(slow, &byte, 1, 0), 0, "closed without an answer");
    close(slow);
    close(fast);
    cr_expect_eq(stats().connections_timed_out_total, 1);
}

Test(srv_http, idle_connections_are_closed_at_the_idle_deadline)
{
    sw_srv_http_opts_t o = test_opts();
    o.idle_timeout_ms = 300;
    start(&o);
    int quiet = cli_connect(), used = cli_connect();
    expect_live(used);
    int ms = cli_wait_closed(quiet, 2000);
    cr_expect(ms >= 200 && ms < 1000, "closed after %d ms", ms);
    ms = cli_wait_closed(used, 2000);
    cr_expect(ms >= 0 && ms < 1000, "closed after %d ms", ms);
    close(quiet);
    close(used);
    cr_expect_eq(stats().connections_timed_out_total, 2);
}

Test(srv_http, stop_accepting_keeps_open_connections)
{
    start_default();
    int fd = cli_connect();
    resp_t r = cli_request(fd, "GET", "/v2", NULL);
    cr_expect_eq(r.status, 200);
    resp_free(&r);
    int old_port = port;
    run_on_loop((void (*)(void *))sw_srv_http_stop_accepting, srv);
    cr_expect_eq(sw_srv_http_port(srv), 0);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)old_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_expect_neq(connect(s, (struct sockaddr *)&a, sizeof(a)), 0, "no longer listening");
    close(s);
    r = cli_request(fd, "GET", "/v2", NULL);
    cr_expect_eq(r.status, 200, "the open connection is still served");
    resp_free(&r);
    close(fd);
}

/* ---- calls the driver holds ---- */

static int send_infer(size_t rows)
{
    int fd = cli_connect();
    char *body = infer_body(rows, "held");
    char head[256];
    int n =
        snprintf(head, sizeof(head),
                 "POST " INFER " HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    cr_assert(cli_send(fd, head, (size_t)n));
    cr_assert(cli_send(fd, body, strlen(body)));
    sw_free(body);
    return fd;
}

/* Has the driver answer the one call it holds (from send_infer(rows) on fd), and expects
 * that answer on fd, with want in its head when want is not NULL. */
static void answer_and_expect_head(int fd, size_t rows, const char *want)
{
    bool abandoned[64];
    run_on_loop(answer_held, abandoned);
    cr_expect(!abandoned[0]);
    resp_t r = cli_recv(fd);
    cr_expect_eq(r.status, 200);
    if (want)
        cr_expect(strstr(r.head, want), "no %s in:\n%s", want, r.head);
    expect_outputs(r.body, rows, "held");
    resp_free(&r);
}

static void answer_and_expect(int fd, size_t rows)
{
    answer_and_expect_head(fd, rows, NULL);
}

Test(srv_http, a_held_call_has_no_deadline)
{
    drv.mode = DRV_HOLD;
    start_default(); /* read deadline 500 ms, idle 1000 ms */
    int fd = send_infer(2);
    cr_assert(wait_held(1, 2000));
    usleep(1200000);
    answer_and_expect(fd, 2);
    close(fd);
}

Test(srv_http, requests_pipelined_behind_a_held_call_wait_their_turn)
{
    drv.mode = DRV_HOLD;
    start_default();
    int fd = send_infer(2);
    const char *more = "GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n";
    cr_assert(cli_send(fd, more, strlen(more)));
    cr_assert(wait_held(1, 2000));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_expect_eq(poll(&p, 1, 100), 0, "nothing is answered before the held call");
    answer_and_expect(fd, 2);
    resp_t r = cli_recv(fd);
    cr_expect_eq(r.status, 200, "then the pipelined request");
    cr_expect_eq(r.len, 0);
    resp_free(&r);
    close(fd);
}

/* The answer of a held call is written from outside evhttp's callbacks, and evhttp then
 * finishes the exchange at once (http.c, write_through); when that answer closes the
 * connection, evhttp frees it from inside that path. */
Test(srv_http, a_held_call_answered_while_draining_carries_close_then_closes)
{
    drv.mode = DRV_HOLD;
    start_default();
    int fd = send_infer(3);
    cr_assert(wait_held(1, 2000));
    bool flags[2] = {true, true}; /* ready, draining */
    run_on_loop(set_flags, flags);
    answer_and_expect_head(fd, 3, "Connection: close");
    char byte;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_expect_eq(poll(&p, 1, 2000), 1);
    cr_expect_eq(recv(fd, &byte, 1, 0), 0, "closed after the answer");
    close(fd);
    cr_assert(WAIT_STAT(connections_open, 0, 2000));
    cr_expect_eq(stats().responses_2xx_total, 1);
    expect_serving();
}

Test(srv_http, client_that_leaves_a_held_call_is_noticed_and_its_answer_dropped)
{
    drv.mode = DRV_HOLD;
    start_default();
    int fd = send_infer(4);
    cr_assert(wait_held(1, 2000));
    close(fd);
    /* Noticed while the driver still holds the call, not when it answers. */
    cr_assert(WAIT_STAT(infer_abandoned_total, 1, 2000));
    cr_assert(WAIT_STAT(connections_open, 0, 2000));
    bool abandoned[64];
    run_on_loop(answer_held, abandoned); /* the answer goes nowhere, touching nothing freed */
    cr_expect(abandoned[0]);
    cr_expect_eq(drv.abandoned_cbs, 1);
    sw_srv_http_stats_t s = stats();
    cr_expect_eq(s.responses_2xx_total, 0);
    drv_mode_t now = DRV_NOW;
    run_on_loop(set_mode, &now);
    char *body = infer_body(1, NULL);
    resp_t r = request("POST", INFER, body);
    cr_expect_eq(r.status, 200, "the recycled call object serves again");
    resp_free(&r);
    sw_free(body);
}

Test(srv_http, driver_may_answer_from_the_abandoned_callback)
{
    drv.mode = DRV_HOLD;
    drv.answer_when_abandoned = true;
    start_default();
    int fd = send_infer(1);
    cr_assert(wait_held(1, 2000));
    close(fd);
    cr_assert(WAIT_STAT(infer_abandoned_total, 1, 2000));
    run_on_loop(get_n_held, NULL);
    cr_expect_eq(n_held_seen, 0);
    sw_srv_http_stats_t s = stats();
    cr_expect_eq(s.responses_5xx_total, 0, "the answer was dropped");
    expect_serving();
}

Test(srv_http, destroy_frees_calls_still_held)
{
    drv.mode = DRV_HOLD;
    start_default();
    int a = send_infer(1), b = send_infer(3);
    cr_assert(wait_held(2, 2000));
    close(a);
    cr_assert(WAIT_STAT(infer_abandoned_total, 1, 2000));
    /* teardown destroys the server with one abandoned and one live call held: the leak
     * checker and ASan see the rest. */
    (void)b;
}

/* ---- options ---- */

Test(srv_http, rejects_bad_options)
{
    base = event_base_new();
    static const sw_srv_http_ops_t ops = {
        .is_ready = drv_is_ready, .is_draining = drv_is_draining, .infer = drv_infer};
    char err[256];
    sw_srv_http_opts_t o = test_opts();
    o.model_name = "a/b";
    cr_expect_eq(sw_srv_http_create(base, &o, &ops, &srv, err, sizeof(err)), -EINVAL);
    cr_expect_null(srv);
    cr_expect(strstr(err, "model_name") != NULL, "%s", err);
    o = test_opts();
    o.listen = "localhost";
    cr_expect_eq(sw_srv_http_create(base, &o, &ops, &srv, err, sizeof(err)), -EINVAL);
    cr_expect(strstr(err, "listen") != NULL, "%s", err);
    o = test_opts();
    o.max_batch = 0;
    cr_expect_eq(sw_srv_http_create(base, &o, &ops, &srv, err, sizeof(err)), -EINVAL);
    o = test_opts();
    sw_srv_http_t *first = NULL;
    cr_assert_eq(sw_srv_http_create(base, &o, &ops, &first, err, sizeof(err)), 0, "%s", err);
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", sw_srv_http_port(first));
    o.listen = listen;
    cr_expect_lt(sw_srv_http_create(base, &o, &ops, &srv, err, sizeof(err)), 0, "port in use");
    cr_expect(strstr(err, "cannot listen on") != NULL, "%s", err);
    sw_srv_http_destroy(first);
}
