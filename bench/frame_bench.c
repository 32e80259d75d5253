/* Protocol overhead of the worker protocol per batch (issue 4, section 6).
 *
 * Usage: frame_bench [--iters N]
 *
 * A 64-request Batch of 784-float inputs (the demo model's shape) goes from a "frontend"
 * (the main thread) to a "worker" thread over a real 127.0.0.1 TCP connection on a port
 * the bench binds itself; the worker decodes it, builds a BatchResult of 64 10-float
 * answers without computing anything, and sends it back; the frontend decodes that. The
 * round trip (encode, send, receive, decode, both ways) is timed over N iterations (10,000
 * by default) after a warm-up, and its median and p99 are printed. Then the codec alone
 * (the same four encode and decode steps through in-memory evbuffers, no socket) is timed
 * the same way; the difference of the medians is the transfer (kernel copies, wakeups).
 * Last, the same byte counts make the same round trip as plain send()/recv() with no
 * framing or protobuf at all: the floor that any wire format of this size pays here.
 *
 * Both sides receive with one recv() per reservation of the frame's size rather than
 * evbuffer_read(), whose 4 KiB per call cap would turn a 200 KB batch into ~50 syscalls;
 * a bufferevent gets the same effect from bufferevent_set_max_single_read(). */
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>

#include "backends/frame.h"
#include "common/common.h"

#define N_REQ 64
#define IN_FLOATS 784
#define OUT_FLOATS 10
#define WARMUP 200
#define READ_CHUNK (256 * 1024)

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
    fprintf(stderr, "frame_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Sends all of out on fd. */
static void send_all(struct evbuffer *out, int fd)
{
    while (evbuffer_get_length(out) > 0) {
        if (evbuffer_write(out, fd) < 0 && errno != EINTR)
            die("send");
    }
}

/* Receives on fd into in until one frame decodes; returns it, or NULL at EOF. */
static Spillway__Frame *recv_frame(struct evbuffer *in, int fd)
{
    char err[256];
    for (;;) {
        Spillway__Frame *f = NULL;
        int rc = sw_frame_read(in, SW_FRAME_MAX_BYTES_DEFAULT, &f, err, sizeof(err));
        if (rc == 1)
            return f;
        if (rc < 0) {
            fprintf(stderr, "frame_bench: %s\n", err);
            exit(1);
        }
        struct evbuffer_iovec v[2];
        int nv = evbuffer_reserve_space(in, READ_CHUNK, v, 2);
        if (nv < 1)
            die("evbuffer_reserve_space");
        ssize_t n = readv(fd, (struct iovec *)v, nv);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("recv");
        if (n == 0)
            return NULL;
        /* Trim the reservation to what arrived: the first vector fills before the second. */
        size_t got = (size_t)n;
        for (int i = 0; i < nv; i++) {
            v[i].iov_len = SW_MIN(v[i].iov_len, got);
            got -= v[i].iov_len;
        }
        evbuffer_commit_space(in, v, nv);
    }
}

/* The worker's half of one batch: a result for `batch`, answers pointing at `out`. */
typedef struct {
    Spillway__Answer ans[N_REQ];
    Spillway__Answer *ansp[N_REQ];
    float out[OUT_FLOATS];
    Spillway__BatchResult res;
    Spillway__Frame frame;
} result_t;

static void result_init(result_t *r)
{
    for (int i = 0; i < OUT_FLOATS; i++)
        r->out[i] = 0.1f * (float)i;
    for (int i = 0; i < N_REQ; i++) {
        spillway__answer__init(&r->ans[i]);
        r->ans[i].n_output = OUT_FLOATS;
        r->ans[i].output = r->out;
        r->ansp[i] = &r->ans[i];
    }
    spillway__batch_result__init(&r->res);
    r->res.answers = r->ansp;
    sw_frame_init_result(&r->frame, &r->res);
}

/* Fills r to answer batch (which must have at most N_REQ requests). */
static void result_fill(result_t *r, const Spillway__Batch *batch)
{
    r->res.batch_id = batch->batch_id;
    r->res.n_answers = batch->n_requests;
    for (size_t i = 0; i < batch->n_requests; i++)
        r->ans[i].id = batch->requests[i]->id;
}

static void *worker_main(void *arg)
{
    int fd = *(int *)arg;
    struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
    static result_t r;
    result_init(&r);
    Spillway__Frame *f;
    while ((f = recv_frame(in, fd)) != NULL) {
        if (f->body_case != SPILLWAY__FRAME__BODY_BATCH || f->batch->n_requests > N_REQ) {
            fprintf(stderr, "frame_bench: worker got an unexpected frame\n");
            exit(1);
        }
        result_fill(&r, f->batch);
        spillway__frame__free_unpacked(f, NULL);
        if (sw_frame_write(out, &r.frame) < 0)
            exit(1);
        send_all(out, fd);
    }
    evbuffer_free(in);
    evbuffer_free(out);
    close(fd);
    return NULL;
}

/* Sizes of the two frames, for the raw-bytes baseline. */
static size_t raw_batch_bytes, raw_result_bytes;

/* Reads exactly n bytes into buf; false at EOF. */
static bool recv_exact(int fd, uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t got = recv(fd, buf, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("recv");
        if (got == 0)
            return false;
        buf += got;
        n -= (size_t)got;
    }
    return true;
}

static void send_exact(int fd, const uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t put = send(fd, buf, n, 0);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            die("send");
        buf += put;
        n -= (size_t)put;
    }
}

/* The baseline's worker: the same byte counts as the protocol, with no framing or codec. */
static void *raw_worker_main(void *arg)
{
    int fd = *(int *)arg;
    uint8_t *buf = sw_malloc(raw_batch_bytes + raw_result_bytes);
    while (recv_exact(fd, buf, raw_batch_bytes))
        send_exact(fd, buf, raw_result_bytes);
    sw_free(buf);
    close(fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *t, int n)
{
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    printf("%-28s median %8.2f us   p99 %8.2f us   min %8.2f us\n", what, t[n / 2],
           t[(int)((double)n * 0.99)], t[0]);
}

/* No Nagle delay on the small result, and socket buffers that hold a whole batch so that
 * one send() and few recv()s move it. */
static void tune_socket(int fd)
{
    int one = 1, bytes = 4 * 1024 * 1024;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        die("TCP_NODELAY");
    if (getenv("FRAME_BENCH_BIGBUF") &&
        (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)) < 0 ||
         setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) < 0))
        die("SO_SNDBUF/SO_RCVBUF");
}

/* Connects a TCP pair over 127.0.0.1 through a listener on an ephemeral port. */
static void tcp_pair(int *client, int *server)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("bind/listen 127.0.0.1:0");
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("connect");
    *server = accept(lfd, NULL, NULL);
    if (*server < 0)
        die("accept");
    close(lfd);
    tune_socket(*client);
    tune_socket(*server);
    printf("loopback TCP 127.0.0.1:%u\n", ntohs(a.sin_port));
}

int main(int argc, char **argv)
{
    int iters = 10000, in_floats = IN_FLOATS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--floats") == 0 && i + 1 < argc) {
            /* Smaller inputs separate the protocol's fixed cost from the payload's. */
            in_floats = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: frame_bench [--iters N] [--floats N (1..%d)]\n", IN_FLOATS);
            return 2;
        }
    }
    if (in_floats < 1 || in_floats > IN_FLOATS) {
        fprintf(stderr, "frame_bench: --floats must be in [1, %d]\n", IN_FLOATS);
        return 2;
    }
    if (iters < 100) {
        fprintf(stderr, "frame_bench: --iters must be >= 100\n");
        return 2;
    }

    /* The batch the frontend sends: 64 requests of 784 floats. */
    static float inputs[N_REQ][IN_FLOATS];
    static Spillway__Request reqs[N_REQ];
    static Spillway__Request *reqp[N_REQ];
    for (int i = 0; i < N_REQ; i++) {
        for (int j = 0; j < IN_FLOATS; j++)
            inputs[i][j] = (float)((i * 31 + j) % 256) / 255.0f;
        spillway__request__init(&reqs[i]);
        reqs[i].id = 1000 + (uint64_t)i;
        reqs[i].n_input = (size_t)in_floats;
        reqs[i].input = inputs[i];
        reqp[i] = &reqs[i];
    }
    Spillway__Batch batch = SPILLWAY__BATCH__INIT;
    batch.n_requests = N_REQ;
    batch.requests = reqp;
    Spillway__Frame bframe;
    sw_frame_init_batch(&bframe, &batch);
    static result_t res;
    result_init(&res);
    result_fill(&res, &batch);
    printf("batch frame %zu bytes, result frame %zu bytes, %d iterations\n",
           sw_frame_encoded_bytes(&bframe), sw_frame_encoded_bytes(&res.frame), iters);

    double *rt = sw_malloc(sizeof(double) * (size_t)iters);
    double *codec = sw_malloc(sizeof(double) * (size_t)iters);
    double *enc_b = sw_malloc(sizeof(double) * (size_t)iters);
    double *dec_b = sw_malloc(sizeof(double) * (size_t)iters);

    /* Codec alone, in memory: the same four steps a round trip does. */
    struct evbuffer *mem = evbuffer_new();
    for (int it = -WARMUP; it < iters; it++) {
        char err[256];
        Spillway__Frame *f = NULL;
        batch.batch_id = (uint64_t)(it + WARMUP);
        double t0 = now_us();
        if (sw_frame_write(mem, &bframe) < 0)
            return 1;
        double t1 = now_us();
        if (sw_frame_read(mem, SW_FRAME_MAX_BYTES_DEFAULT, &f, err, sizeof(err)) != 1)
            return 1;
        double t2 = now_us();
        result_fill(&res, f->batch);
        spillway__frame__free_unpacked(f, NULL);
        if (sw_frame_write(mem, &res.frame) < 0 ||
            sw_frame_read(mem, SW_FRAME_MAX_BYTES_DEFAULT, &f, err, sizeof(err)) != 1)
            return 1;
        spillway__frame__free_unpacked(f, NULL);
        double t3 = now_us();
        if (it >= 0) {
            codec[it] = t3 - t0;
            enc_b[it] = t1 - t0;
            dec_b[it] = t2 - t1;
        }
    }
    evbuffer_free(mem);

    int cfd, sfd;
    tcp_pair(&cfd, &sfd);
    pthread_t th;
    if (pthread_create(&th, NULL, worker_main, &sfd) != 0)
        die("pthread_create");
    struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
    for (int it = -WARMUP; it < iters; it++) {
        batch.batch_id = (uint64_t)(it + WARMUP);
        double t0 = now_us();
        if (sw_frame_write(out, &bframe) < 0)
            return 1;
        send_all(out, cfd);
        Spillway__Frame *f = recv_frame(in, cfd);
        if (!f || f->body_case != SPILLWAY__FRAME__BODY_RESULT ||
            f->result->batch_id != batch.batch_id || f->result->n_answers != N_REQ) {
            fprintf(stderr, "frame_bench: bad or missing result\n");
            return 1;
        }
        spillway__frame__free_unpacked(f, NULL);
        double t1 = now_us();
        if (it >= 0)
            rt[it] = t1 - t0;
    }
    shutdown(cfd, SHUT_WR);
    pthread_join(th, NULL);
    close(cfd);
    evbuffer_free(in);
    evbuffer_free(out);

    /* Baseline: the same bytes each way over a fresh connection, as plain send/recv. */
    raw_batch_bytes = sw_frame_encoded_bytes(&bframe);
    raw_result_bytes = sw_frame_encoded_bytes(&res.frame);
    double *raw = sw_malloc(sizeof(double) * (size_t)iters);
    uint8_t *rbuf = sw_calloc(1, raw_batch_bytes);
    tcp_pair(&cfd, &sfd);
    if (pthread_create(&th, NULL, raw_worker_main, &sfd) != 0)
        die("pthread_create");
    for (int it = -WARMUP; it < iters; it++) {
        double t0 = now_us();
        send_exact(cfd, rbuf, raw_batch_bytes);
        if (!recv_exact(cfd, rbuf, raw_result_bytes))
            return 1;
        double t1 = now_us();
        if (it >= 0)
            raw[it] = t1 - t0;
    }
    shutdown(cfd, SHUT_WR);
    pthread_join(th, NULL);
    close(cfd);
    sw_free(rbuf);

    report("round trip over TCP", rt, iters);
    report("raw bytes, same sizes", raw, iters);
    report("codec only (4 steps)", codec, iters);
    report("  encode Batch", enc_b, iters);
    report("  decode Batch", dec_b, iters);
    printf("transfer (median difference)  %8.2f us\n", rt[iters / 2] - codec[iters / 2]);
    printf("protocol over raw (median)    %8.2f us\n", rt[iters / 2] - raw[iters / 2]);
    sw_free(raw);
    sw_free(rt);
    sw_free(codec);
    sw_free(enc_b);
    sw_free(dec_b);
    return 0;
}
