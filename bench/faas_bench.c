/* The FaaS path end to end on loopback (issue 5, section 6): Invoke client -> faas-local
 * -> warm `spillway function` environments.
 *
 * Usage: faas_bench [--spillway PATH] [--model FILE | --tiny] [--rows N] [--envs N]
 *                   [--in-flight K] [--seconds S] [--no-log-tail]
 *
 * The bench starts `spillway faas-local` itself (port 0, credentials of its own), with
 * one function that runs `spillway function` on the model. It then
 *   1. cold: sends --envs calls at once, each of which starts an environment (process start
 *      and model load), and reports their latency and the Init Duration the service
 *      reports in the log tail;
 *   2. warm: keeps --in-flight calls outstanding for --seconds (after a 1 s warm-up) and
 *      reports invocations per second, p50/p99 latency, and this process's CPU time (user
 *      plus system, from getrusage) per call: the client's overhead, since faas-local and
 *      the functions are other processes. The client asks for the log tail (as a live
 *      driver does, to learn durations and cold starts) unless --no-log-tail.
 *   3. anchor: the same warm loop from a minimal client of the same process: plain sockets
 *      and epoll, one keep-alive HTTP/1.1 connection per call in flight, one request signed
 *      once and replayed (faas-local accepts a signature for five minutes), responses
 *      parsed only for Content-Length. Its CPU per call is what the kernel and the
 *      loopback cost any client on this machine; the Invoke client's overhead is what it
 *      spends beyond that (libcurl, libevent, signing each call, parsing the answer);
 *   4. curl floor: the same again through bare libcurl (multi handle, curl_multi_poll, the
 *      same signed request replayed, nothing parsed): the least a libcurl client pays.
 * The payload is a KServe v2 request of --rows rows; --tiny uses a 4-input model written
 * by the bench, the "small payload" of the issue, and the default is the demo
 * Fashion-MNIST model (784 floats a row). */
/* strcasestr, for the anchor's header scan. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "backends/aws_creds.h"
#include "backends/lambda_client.h"
#include "backends/sigv4.h"
#include "common/common.h"
#include "model/model.h"

extern char **environ;

typedef struct bench {
    struct event_base *base;
    sw_be_lambda_t *client;
    char *payload;
    size_t payload_len;
    bool measuring, stopping;
    double *lat_ms;
    size_t n_lat, cap_lat;
    uint64_t done, errors;
    double init_ms_sum;
    uint64_t colds;
    char first_error[256];
} bench_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time, user and system, seconds. */
static void cpu_s(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static pid_t service_pid = -1;

/* A bench that stops early (die) must not leave the service and its functions running. */
static void stop_service(void)
{
    if (service_pid > 0) {
        kill(service_pid, SIGTERM);
        waitpid(service_pid, NULL, 0);
        service_pid = -1;
    }
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "faas_bench: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

/* Starts faas-local and returns its port, read from its "listening on HOST:PORT" line. */
static int start_service(const char *spillway, const char *model, unsigned envs, pid_t *pid)
{
    char fn[4200], conc[32];
    snprintf(fn, sizeof fn, "bench=%s function --model %s", spillway, model);
    snprintf(conc, sizeof conc, "%u", envs);
    char *argv[] = {(char *)spillway, "faas-local", "--listen", "127.0.0.1:0", "--function", fn,
                    "--concurrency", conc, "--memory-mb", "1769", "--timeout-s", "10",
                    "--log-level", "warn", NULL};
    int out[2];
    if (pipe(out) < 0)
        die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    /* The service's REPORT lines would cost this terminal more than the bench. */
    posix_spawn_file_actions_addopen(&fa, 2, "/tmp/faas_bench_service.log",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(pid, spillway, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0)
        die("cannot start faas-local: %s", strerror(rc));
    service_pid = *pid;
    atexit(stop_service);
    FILE *f = fdopen(out[0], "r");
    char line[256];
    int port = 0;
    if (!fgets(line, sizeof line, f) || sscanf(line, "listening on 127.0.0.1:%d", &port) != 1)
        die("faas-local did not say where it listens (see %s)", "/tmp/faas_bench_service.log");
    fclose(f);
    return port;
}

static void record(bench_t *b, const sw_be_lambda_result_t *r)
{
    if (r->status != SW_FAAS_OK) {
        if (!b->errors++)
            snprintf(b->first_error, sizeof b->first_error, "status %d http %d: %s",
                     (int)r->status, r->http_status, r->error ? r->error : r->body);
        return;
    }
    if (r->cold_start) {
        b->colds++;
        b->init_ms_sum += r->init_ms;
    }
    if (!b->measuring)
        return;
    b->done++;
    if (b->n_lat == b->cap_lat) {
        b->cap_lat = b->cap_lat ? 2 * b->cap_lat : 65536;
        b->lat_ms = sw_realloc(b->lat_ms, b->cap_lat * sizeof(double));
    }
    b->lat_ms[b->n_lat++] = sw_time_to_ms(r->latency);
}

static void on_done(void *arg, const sw_be_lambda_result_t *r)
{
    bench_t *b = arg;
    record(b, r);
    if (!b->stopping &&
        sw_be_lambda_invoke(b->client, b->payload, b->payload_len, on_done, b) != 0)
        b->errors++;
}

static void on_cold_done(void *arg, const sw_be_lambda_result_t *r)
{
    bench_t *b = arg;
    record(b, r);
    if (b->measuring)
        return;
    b->lat_ms = b->lat_ms ? b->lat_ms : sw_malloc(256 * sizeof(double));
    if (b->n_lat < 256)
        b->lat_ms[b->n_lat++] = sw_time_to_ms(r->latency);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i];
}

static void run_for(bench_t *b, double seconds)
{
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    event_base_loopexit(b->base, &tv);
    event_base_dispatch(b->base);
}

/* A KServe v2 request of `rows` rows of `cols` floats. */
static char *make_payload(size_t rows, size_t cols, size_t *len)
{
    size_t cap = 128 + rows * cols * 12;
    char *p = sw_malloc(cap);
    size_t n = (size_t)snprintf(p, cap,
                                "{\"inputs\":[{\"name\":\"input\",\"shape\":[%zu,%zu],"
                                "\"datatype\":\"FP32\",\"data\":[",
                                rows, cols);
    for (size_t i = 0; i < rows * cols; i++)
        n += (size_t)snprintf(p + n, cap - n, "%s%.3f", i ? "," : "",
                              (double)((i * 37) % 256) / 255.0);
    n += (size_t)snprintf(p + n, cap - n, "]}]}");
    *len = n;
    return p;
}

static const char *write_tiny_model(void)
{
    static const float w1[] = {1, -1, 0.5f, 0, 2, -1, 0.5f, 1}, b1[] = {0.5f, -1};
    static const float w2[] = {2, 0, 1, 1}, b2[] = {0, 0.5f};
    static const sw_layer_desc_t layers[] = {
        {.inputs = 4, .outputs = 2, .weights = w1, .bias = b1, .act = SW_ACT_RELU},
        {.inputs = 2, .outputs = 2, .weights = w2, .bias = b2, .act = SW_ACT_SOFTMAX}};
    static const sw_model_desc_t tiny = {.name = "tiny",
                                         .version = 1,
                                         .input_name = "input",
                                         .output_name = "output",
                                         .layers = layers,
                                         .n_layers = 2};
    static const char path[] = "/tmp/faas_bench_tiny.pb";
    char err[256];
    if (sw_model_save(path, &tiny, err, sizeof err) < 0)
        die("%s", err);
    return path;
}

typedef struct args {
    const char *spillway, *model;
    unsigned long rows, envs, in_flight;
    double seconds;
    bool no_log_tail;
} args_t;

static void parse_args(int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {{"spillway", required_argument, NULL, 's'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"tiny", no_argument, NULL, 't'},
                                         {"rows", required_argument, NULL, 'r'},
                                         {"envs", required_argument, NULL, 'e'},
                                         {"in-flight", required_argument, NULL, 'k'},
                                         {"seconds", required_argument, NULL, 'S'},
                                         {"no-log-tail", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': a->spillway = optarg; break;
        case 'm': a->model = optarg; break;
        case 't': a->model = write_tiny_model(); break;
        case 'r': a->rows = strtoul(optarg, NULL, 10); break;
        case 'e': a->envs = strtoul(optarg, NULL, 10); break;
        case 'k': a->in_flight = strtoul(optarg, NULL, 10); break;
        case 'S': a->seconds = strtod(optarg, NULL); break;
        case 'n': a->no_log_tail = true; break;
        default: die("%s", "usage: see the comment at the top of bench/faas_bench.c");
        }
    }
    if (a->rows < 1 || a->envs < 1 || a->in_flight < 1 || !(a->seconds > 0))
        die("%s", "--rows, --envs, --in-flight and --seconds must be positive");
}

static void cold_phase(bench_t *b, const args_t *a)
{
    for (unsigned long i = 0; i < a->envs; i++)
        if (sw_be_lambda_invoke(b->client, b->payload, b->payload_len, on_cold_done, b) != 0)
            die("%s", "a cold invoke was refused");
    while (sw_be_lambda_in_flight(b->client) > 0)
        event_base_loop(b->base, EVLOOP_ONCE);
    printf("cold: %lu environments started at once: latency p50 %.1f ms, max %.1f ms; mean "
           "Init Duration %.1f ms\n",
           a->envs, pct(b->lat_ms, b->n_lat, 0.5), pct(b->lat_ms, b->n_lat, 1.0),
           b->colds ? b->init_ms_sum / (double)b->colds : 0.0);
    b->n_lat = 0;
}

static void warm_phase(bench_t *b, const args_t *a)
{
    for (unsigned long i = 0; i < a->in_flight; i++)
        if (sw_be_lambda_invoke(b->client, b->payload, b->payload_len, on_done, b) != 0)
            die("%s", "a warm invoke was refused");
    run_for(b, 1.0); /* warm-up: connections, caches */
    b->measuring = true;
    double t0 = now_s(), u0, s0, u1, s1;
    cpu_s(&u0, &s0);
    run_for(b, a->seconds);
    cpu_s(&u1, &s1);
    double wall = now_s() - t0, user = u1 - u0, sys = s1 - s0, per = 1e6 / (double)b->done;
    b->measuring = false;
    b->stopping = true;
    while (sw_be_lambda_in_flight(b->client) > 0)
        event_base_loop(b->base, EVLOOP_ONCE);
    printf("warm: %lu in flight over %lu environments, payload %zu bytes: %.0f invocations/s, "
           "latency p50 %.3f ms, p99 %.3f ms\n"
           "client CPU per call: %.1f us user + %.1f us system = %.1f us (%.0f%% of a core)\n",
           a->in_flight, a->envs, b->payload_len, (double)b->done / wall,
           pct(b->lat_ms, b->n_lat, 0.5), pct(b->lat_ms, b->n_lat, 0.99), user * per,
           sys * per, (user + sys) * per, 100 * (user + sys) / wall);
}

/* ---- anchor: the floor any client pays here --------------------------------------- */

typedef struct anchor_conn {
    int fd;
    char buf[65536];
    size_t have;
    double sent_at;
} anchor_conn_t;

/* Signs one Invoke request for replay: its date and Authorization value. */
static char *sign_once(int port, const char *payload, size_t len, char date[17])
{
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, 17, "%Y%m%dT%H%M%SZ", &tm);
    sw_be_sigv4_header_t h[] = {{"Host", host},
                                {"X-Amz-Date", date},
                                {"Content-Type", "application/json"},
                                {"X-Amz-Invocation-Type", "RequestResponse"}};
    sw_be_sigv4_req_t req = {"POST", "/2015-03-31/functions/bench/invocations", NULL, h, 4,
                             payload, len};
    sw_be_sigv4_creds_t cr = {getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), NULL};
    sw_be_sigv4_scope_t scope = {"us-east-1", "lambda", date};
    char *auth, err[256];
    if (sw_be_sigv4_authorization(&req, &cr, &scope, &auth, err, sizeof err) < 0)
        die("%s", err);
    return auth;
}

/* One signed Invoke request, as bytes to replay. */
static char *signed_request(int port, const char *payload, size_t len, size_t *out_len)
{
    char date[17], host[64];
    char *auth = sign_once(port, payload, len, date);
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    size_t cap = len + 2048;
    char *r = sw_malloc(cap);
    *out_len = (size_t)snprintf(r, cap,
                                "POST /2015-03-31/functions/bench/invocations HTTP/1.1\r\n"
                                "Host: %s\r\nX-Amz-Date: %s\r\nContent-Type: application/json\r\n"
                                "X-Amz-Invocation-Type: RequestResponse\r\nAuthorization: %s\r\n"
                                "Content-Length: %zu\r\n\r\n%.*s",
                                host, date, auth, len, (int)len, payload);
    sw_free(auth);
    return r;
}

/* A whole response in c->buf? Returns its length, or 0. */
static size_t response_complete(anchor_conn_t *c)
{
    c->buf[c->have] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return 0;
    char *cl = strcasestr(c->buf, "\r\nContent-Length:");
    size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    size_t total = (size_t)(end + 4 - c->buf) + body;
    return c->have >= total ? total : 0;
}

static void anchor_send(anchor_conn_t *c, const char *req, size_t len)
{
    c->sent_at = now_s();
    if (send(c->fd, req, len, 0) != (ssize_t)len)
        die("anchor send: %s", strerror(errno));
}

static int anchor_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("anchor connect: %s", strerror(errno));
    return fd;
}

/* Reads what is there; on a whole response records it and sends the next request
 * (none once the bench is stopping). Returns true when a response completed. */
static bool anchor_on_readable(bench_t *b, anchor_conn_t *c, const char *req, size_t len)
{
    ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - 1 - c->have, 0);
    if (n <= 0)
        die("anchor recv: %s", n == 0 ? "connection closed" : strerror(errno));
    c->have += (size_t)n;
    size_t whole = response_complete(c);
    if (!whole)
        return false;
    if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0)
        die("anchor: %.60s", c->buf);
    memmove(c->buf, c->buf + whole, c->have - whole);
    c->have -= whole;
    if (b->measuring) {
        sw_be_lambda_result_t r = {.status = SW_FAAS_OK,
                                   .latency = sw_s_to_time(now_s() - c->sent_at)};
        record(b, &r);
    }
    if (!b->stopping)
        anchor_send(c, req, len);
    return true;
}

static void anchor_phase(bench_t *b, const args_t *a, int port)
{
    size_t len;
    char *req = signed_request(port, b->payload, b->payload_len, &len);
    int ep = epoll_create1(0);
    anchor_conn_t *conns = sw_calloc(a->in_flight, sizeof *conns);
    for (unsigned long i = 0; i < a->in_flight; i++) {
        conns[i].fd = anchor_connect(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        anchor_send(&conns[i], req, len);
    }
    b->n_lat = 0;
    b->done = 0;
    b->stopping = false;
    double t0 = 0, u0 = 0, s0 = 0, start = now_s();
    for (;;) {
        double t = now_s();
        if (!b->measuring && t - start >= 1.0) { /* warm-up over */
            b->measuring = true;
            t0 = t;
            cpu_s(&u0, &s0);
        }
        if (b->measuring && t - t0 >= a->seconds)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++)
            anchor_on_readable(b, evs[i].data.ptr, req, len);
    }
    double u1, s1;
    cpu_s(&u1, &s1);
    double wall = now_s() - t0, per = 1e6 / (double)b->done;
    b->measuring = false;
    /* Collect the answers still due: an environment is busy until it has answered. */
    b->stopping = true;
    for (unsigned long due = a->in_flight; due > 0;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 1000);
        if (n <= 0)
            die("%s", "anchor: answers still due did not arrive");
        for (int i = 0; i < n; i++)
            due -= anchor_on_readable(b, evs[i].data.ptr, req, len);
    }
    printf("anchor: %lu in flight, raw sockets, one signed request replayed: %.0f invocations/s, "
           "latency p50 %.3f ms, p99 %.3f ms\n"
           "anchor CPU per call: %.1f us user + %.1f us system = %.1f us\n",
           a->in_flight, (double)b->done / wall, pct(b->lat_ms, b->n_lat, 0.5),
           pct(b->lat_ms, b->n_lat, 0.99), (u1 - u0) * per, (s1 - s0) * per,
           (u1 - u0 + s1 - s0) * per);
    for (unsigned long i = 0; i < a->in_flight; i++)
        close(conns[i].fd);
    close(ep);
    sw_free(conns);
    sw_free(req);
}

/* ---- curl floor: libcurl alone, replaying the signed request ---------------------- */

static size_t curl_sink(char *buf, size_t size, size_t n, void *arg)
{
    (void)buf;
    (void)arg;
    return size * n;
}

/* The least any libcurl multi client does per call: handles set up once, the same signed
 * headers replayed, curl_multi_poll instead of an event loop, the body discarded. */
static void curl_floor_phase(bench_t *b, const args_t *a, int port)
{
    char date[17], url[128], line[2048];
    char *auth = sign_once(port, b->payload, b->payload_len, date);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/2015-03-31/functions/bench/invocations", port);
    struct curl_slist *h = NULL;
    snprintf(line, sizeof line, "X-Amz-Date: %s", date);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "X-Amz-Invocation-Type: RequestResponse");
    snprintf(line, sizeof line, "Authorization: %s", auth);
    h = curl_slist_append(h, line);
    h = curl_slist_append(h, "Expect:");
    CURLM *m = curl_multi_init();
    CURL **e = sw_calloc(a->in_flight, sizeof *e);
    for (unsigned long i = 0; i < a->in_flight; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, b->payload);
        curl_easy_setopt(e[i], CURLOPT_POSTFIELDSIZE, (long)b->payload_len);
        curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, curl_sink);
        curl_multi_add_handle(m, e[i]);
    }
    uint64_t done = 0;
    double t0 = 0, u0 = 0, s0 = 0, start = now_s();
    bool measuring = false;
    for (;;) {
        int running, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (code != 200)
                die("curl floor: HTTP status %s (see /tmp/faas_bench_service.log)",
                    code == 0 ? "none" : code == 403 ? "403" : code == 429 ? "429" : "other");
            done += measuring;
            CURL *x = msg->easy_handle;
            curl_multi_remove_handle(m, x);
            curl_multi_add_handle(m, x);
        }
        double t = now_s();
        if (!measuring && t - start >= 1.0) {
            measuring = true;
            t0 = t;
            cpu_s(&u0, &s0);
        }
        if (measuring && t - t0 >= a->seconds)
            break;
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double u1, s1;
    cpu_s(&u1, &s1);
    double wall = now_s() - t0, per = 1e6 / (double)done;
    printf("curl floor: %lu in flight, bare libcurl multi, one signed request replayed: "
           "%.0f invocations/s\n"
           "curl floor CPU per call: %.1f us user + %.1f us system = %.1f us\n",
           a->in_flight, (double)done / wall, (u1 - u0) * per, (s1 - s0) * per,
           (u1 - u0 + s1 - s0) * per);
    for (unsigned long i = 0; i < a->in_flight; i++) {
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    sw_free(e);
    sw_free(auth);
}

int main(int argc, char **argv)
{
    args_t a = {.spillway = "build/spillway",
                .model = "build/fashion-mlp.pb",
                .rows = 1,
                .envs = 4,
                .in_flight = 4,
                .seconds = 5};
    parse_args(argc, argv, &a);
    signal(SIGPIPE, SIG_IGN);
    setenv("AWS_ACCESS_KEY_ID", "AKIDFAASBENCH", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "faas-bench-secret-not-a-real-key", 1);
    unsetenv("AWS_SESSION_TOKEN");
    sw_model_t *m;
    char err[512];
    if (sw_model_load(a.model, 1, &m, err, sizeof err) < 0)
        die("%s", err);
    bench_t b = {.base = event_base_new()};
    b.payload = make_payload(a.rows, sw_model_input_size(m), &b.payload_len);
    sw_model_destroy(m);
    pid_t pid;
    int port = start_service(a.spillway, a.model, (unsigned)a.envs, &pid);
    sw_be_aws_creds_t creds;
    if (sw_be_aws_creds_load(NULL, &creds, err, sizeof err) < 0)
        die("%s", err);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    sw_be_lambda_opts_t o = {.endpoint = endpoint,
                             .region = "us-east-1",
                             .function_name = "bench",
                             .creds = &creds,
                             .timeout_ms = 20000,
                             .max_in_flight = (uint32_t)(a.envs + a.in_flight),
                             .log_tail = !a.no_log_tail};
    if (sw_be_lambda_create(b.base, &o, &b.client, err, sizeof err) < 0)
        die("%s", err);
    cold_phase(&b, &a);
    warm_phase(&b, &a);
    anchor_phase(&b, &a, port);
    curl_floor_phase(&b, &a, port);
    if (b.errors)
        printf("errors: %llu (first: %s)\n", (unsigned long long)b.errors, b.first_error);
    sw_be_lambda_destroy(b.client);
    sw_be_aws_creds_deinit(&creds);
    stop_service();
    event_base_free(b.base);
    sw_free(b.payload);
    sw_free(b.lat_ms);
    return b.errors ? 1 : 0;
}
