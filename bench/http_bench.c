/* Latency and throughput of the KServe HTTP frontend alone (issue 11, section 2).
 *
 * Usage: http_bench [--connections N] [--seconds S] [--rows R] [--input-size F]
 *                   [--changelist]
 *
 * The frontend (serving/http.h) runs on its own thread's event loop on 127.0.0.1, with a
 * driver that answers every call from inside ops.infer (each output copied from an input),
 * so what is timed is this module: HTTP parsing and routing through evhttp, the limits
 * scanner, the KServe JSON codec both ways, and the answer. One client thread keeps N
 * keep-alive connections (32 by default) busy, closed loop: each sends its next POST .../infer
 * of R rows (1 by default) as soon as the previous answer is in, over raw sockets and
 * poll(). After a 0.5 s warm-up it counts answers for S seconds (3 by default), then
 * prints answers per second and the median, p90 and p99 round trip. With --connections 1
 * the median is the latency the frontend adds to a request on this machine, loopback and
 * both kernels' socket work included. Rows have F floats (784 by default, the demo
 * model's). --changelist makes the event base with EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST,
 * which folds evhttp's per-request epoll_ctl calls into the next epoll_wait. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "common/common.h"
#include "serving/http.h"

#define OUT 10
#define WARMUP_S 0.5
#define RBUF (1 << 20)

typedef struct conn {
    int fd;
    sw_time_t sent_at;
    char *buf;
    size_t len;
} conn_t;

static unsigned in_size = 784; /* floats per row, the demo model's */
static struct event_base *base;
static int stop_pipe[2];

static void die(const char *what)
{
    fprintf(stderr, "http_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static bool yes(void *self)
{
    (void)self;
    return true;
}

static bool no(void *self)
{
    (void)self;
    return false;
}

static void answer(void *self, sw_srv_infer_t *inf)
{
    (void)self;
    const float *in = sw_srv_infer_input(inf);
    float *out = sw_srv_infer_output(inf);
    for (size_t r = 0; r < sw_srv_infer_rows(inf); r++)
        memcpy(out + r * OUT, in + r * in_size, SW_MIN(OUT, in_size) * sizeof(float));
    sw_srv_infer_reply_ok(inf);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(base);
}

static void *server_main(void *arg)
{
    (void)arg;
    event_base_dispatch(base);
    return NULL;
}

/* A request of `rows` rows of in_size floats, values like the demo model's pixels. */
static char *make_request(unsigned rows, size_t *len)
{
    size_t cap = 512 + (size_t)rows * in_size * 8;
    char *body = sw_malloc(cap), *req = sw_malloc(cap + 256);
    size_t n = (size_t)snprintf(body, cap,
                                "{\"inputs\":[{\"name\":\"input\",\"shape\":[%u,%u],"
                                "\"datatype\":\"FP32\",\"data\":[",
                                rows, in_size);
    for (size_t i = 0; i < (size_t)rows * in_size; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s%.3g", i ? "," : "", (double)(i % 255) / 255);
    n += (size_t)snprintf(body + n, cap - n, "]}]}");
    *len = (size_t)snprintf(req, cap + 256,
                            "POST /v2/models/bench/infer HTTP/1.1\r\nHost: bench\r\n"
                            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                            n, body);
    sw_free(body);
    return req;
}

static void send_request(conn_t *c, const char *req, size_t len)
{
    c->sent_at = sw_clock_now();
    for (size_t off = 0; off < len;) {
        ssize_t k = send(c->fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            die("send");
        off += (size_t)k;
    }
}

/* Returns the length of the first complete answer in c->buf, or 0. */
static size_t answer_length(const conn_t *c)
{
    const char *end = strstr(c->buf, "\r\n\r\n"); /* buf is NUL-terminated */
    if (!end)
        return 0;
    const char *cl = strstr(c->buf, "Content-Length: ");
    if (!cl || cl > end || strncmp(c->buf, "HTTP/1.1 200", 12)) {
        fprintf(stderr, "http_bench: unexpected answer: %.200s\n", c->buf);
        exit(1);
    }
    size_t total = (size_t)(end + 4 - c->buf) + strtoul(cl + 16, NULL, 10);
    return c->len >= total ? total : 0;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int cmp_time(const void *a, const void *b)
{
    sw_time_t x = *(const sw_time_t *)a, y = *(const sw_time_t *)b;
    return (x > y) - (x < y);
}

/* Runs the closed loop; fills lat (round trips after the warm-up) and returns their count. */
static size_t run_clients(conn_t *cs, unsigned n, const char *req, size_t req_len, double seconds,
                          sw_time_t **lat)
{
    struct pollfd *p = sw_calloc(n, sizeof(*p));
    size_t count = 0, cap = 1 << 16;
    *lat = sw_malloc(cap * sizeof(**lat));
    sw_time_t start = sw_clock_now(), from = start + sw_s_to_time(WARMUP_S);
    sw_time_t until = from + sw_s_to_time(seconds);
    for (unsigned i = 0; i < n; i++) {
        p[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
        send_request(&cs[i], req, req_len);
    }
    while (sw_clock_now() < until) {
        if (poll(p, n, 1000) < 0 && errno != EINTR)
            die("poll");
        for (unsigned i = 0; i < n; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            conn_t *c = &cs[i];
            ssize_t k = recv(c->fd, c->buf + c->len, RBUF - c->len, 0);
            if (k <= 0)
                die("recv");
            c->len += (size_t)k;
            c->buf[c->len] = '\0';
            size_t done = answer_length(c);
            if (!done)
                continue;
            sw_time_t now = sw_clock_now();
            if (now >= from && now < until) {
                if (count == cap)
                    *lat = sw_realloc(*lat, (cap *= 2) * sizeof(**lat));
                (*lat)[count++] = now - c->sent_at;
            }
            memmove(c->buf, c->buf + done, c->len - done + 1);
            c->len -= done;
            send_request(c, req, req_len);
        }
    }
    sw_free(p);
    return count;
}

int main(int argc, char **argv)
{
    unsigned n = 32, rows = 1;
    double seconds = 3;
    bool changelist = false, bad = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--changelist")) {
            changelist = true;
            continue;
        }
        if (i + 1 == argc) {
            bad = true;
            break;
        }
        if (!strcmp(argv[i], "--connections"))
            n = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rows"))
            rows = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--input-size"))
            in_size = (unsigned)atoi(argv[i + 1]);
        else
            bad = true;
        i++;
    }
    if (bad || !n || !rows || rows > 64 || !in_size || seconds <= 0) {
        fprintf(stderr, "usage: http_bench [--connections N] [--seconds S] [--rows 1..64] "
                        "[--input-size F] [--changelist]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_config *cfg = event_config_new();
    if (changelist)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = cfg ? event_base_new_with_config(cfg) : NULL;
    event_config_free(cfg);
    sw_srv_http_opts_t o = {.listen = "127.0.0.1:0",
                            .model_name = "bench",
                            .model_version = 1,
                            .input_size = in_size,
                            .output_size = OUT,
                            .max_batch = 64,
                            .max_connections = n + 8};
    sw_srv_http_ops_t ops = {.is_ready = yes, .is_draining = no, .infer = answer};
    sw_srv_http_t *h = NULL;
    char err[256];
    if (!base || sw_srv_http_create(base, &o, &ops, &h, err, sizeof(err)) < 0) {
        fprintf(stderr, "http_bench: %s\n", err);
        return 1;
    }
    if (pipe(stop_pipe) < 0)
        die("pipe");
    struct event *stop = event_new(base, stop_pipe[0], EV_READ, on_stop, NULL);
    event_add(stop, NULL);
    pthread_t server;
    pthread_create(&server, NULL, server_main, NULL);

    size_t req_len;
    char *req = make_request(rows, &req_len);
    conn_t *cs = sw_calloc(n, sizeof(*cs));
    for (unsigned i = 0; i < n; i++) {
        cs[i].fd = connect_to(sw_srv_http_port(h));
        cs[i].buf = sw_malloc(RBUF + 1);
    }
    sw_time_t *lat;
    size_t count = run_clients(cs, n, req, req_len, seconds, &lat);
    qsort(lat, count, sizeof(*lat), cmp_time);
    if (count)
        printf("connections=%u rows=%u input_size=%u changelist=%d request_bytes=%zu "
               "answers_per_s=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f\n",
               n, rows, in_size, changelist, req_len, (double)count / seconds,
               (double)lat[count / 2], (double)lat[count * 9 / 10], (double)lat[count * 99 / 100]);

    for (unsigned i = 0; i < n; i++) {
        close(cs[i].fd);
        sw_free(cs[i].buf);
    }
    if (write(stop_pipe[1], "x", 1) != 1)
        die("write");
    pthread_join(server, NULL);
    sw_srv_http_destroy(h);
    event_free(stop);
    event_base_free(base);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    sw_free(cs);
    sw_free(lat);
    sw_free(req);
    return count ? 0 : 1;
}
