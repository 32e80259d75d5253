/* Fuzz target: the `spillway serve` HTTP frontend (serving/http.h) behind evhttp, end to
 * end: the bytes are what a client sends on one connection (request line, headers, body,
 * pipelined requests, chunked framing), played over loopback to a real sw_srv_http_t on
 * this process's event_base; the input's first byte sets the driver's state (bit 0
 * draining, bit 1 not ready). A fake driver answers each inference call at once (200, or
 * 429 with Retry-After) or holds it and answers from a timer, as the live driver does
 * when a batch comes back, so that a client leaving while its call is held is exercised
 * too. Each input ends when the frontend closes the connection; one that does not within
 * SW_FUZZ_EXCHANGE_MS is reported as a hang. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "serving/http.h"
#include "tests/fuzz/fuzz_util.h"

#define INPUT_SIZE 4
#define OUTPUT_SIZE 2
#define MAX_HELD 64

static struct event_base *base;
static sw_srv_http_t *http;
static struct event *answer_ev;
static bool draining, not_ready;
static sw_srv_infer_t *held[MAX_HELD];
static size_t n_held;

static bool is_ready(void *self)
{
    (void)self;
    return !not_ready;
}

static bool is_draining(void *self)
{
    (void)self;
    return draining;
}

static void answer(sw_srv_infer_t *inf)
{
    float *out = sw_srv_infer_output(inf);
    const float *in = sw_srv_infer_input(inf);
    for (size_t r = 0; r < sw_srv_infer_rows(inf); r++)
        for (size_t k = 0; k < OUTPUT_SIZE; k++)
            out[r * OUTPUT_SIZE + k] = in[r * INPUT_SIZE + k];
    sw_srv_infer_reply_ok(inf);
}

/* The driver's choice, from the call's first value: answer now, refuse, or hold. */
static void infer(void *self, sw_srv_infer_t *inf)
{
    (void)self;
    const char *id = sw_srv_infer_id(inf);
    if (id)
        (void)strlen(id);
    float x = sw_srv_infer_input(inf)[0];
    if (x < 0) {
        sw_srv_infer_reply_error(inf, 429, "fuzz: too many requests", 1);
    } else if (x > 0 || n_held == MAX_HELD) {
        answer(inf);
    } else {
        held[n_held++] = inf;
        struct timeval tv = {0, 1000};
        event_add(answer_ev, &tv);
    }
}

static void unhold(sw_srv_infer_t *inf)
{
    for (size_t i = 0; i < n_held; i++)
        if (held[i] == inf) {
            held[i] = held[--n_held];
            return;
        }
    abort(); /* the frontend reported a call the driver does not hold */
}

static void abandoned(void *self, sw_srv_infer_t *inf)
{
    (void)self;
    if (!sw_srv_infer_is_abandoned(inf))
        abort();
    unhold(inf);
    answer(inf); /* the contract: still answered, and the answer dropped */
}

static void on_answer_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    while (n_held > 0)
        answer(held[--n_held]);
}

static void metrics(void *self, struct evbuffer *out)
{
    (void)self;
    evbuffer_add_printf(out, "fuzz_driver_held %zu\n", n_held);
}

void sw_fuzz_setup(void)
{
    base = event_base_new();
    if (!base)
        abort();
    answer_ev = evtimer_new(base, on_answer_timer, NULL);
    /* Small limits, so that short inputs reach the 413 and 431 paths. */
    sw_srv_http_opts_t o = {.listen = "127.0.0.1:0",
                            .model_name = "fashion-mlp",
                            .model_version = 1,
                            .input_size = INPUT_SIZE,
                            .output_size = OUTPUT_SIZE,
                            .max_batch = 4,
                            .max_body_bytes = 2048,
                            .max_header_bytes = 1024,
                            .read_timeout_ms = 2000,
                            .write_timeout_ms = 2000,
                            .idle_timeout_ms = 2000};
    sw_srv_http_ops_t ops = {.is_ready = is_ready,
                             .is_draining = is_draining,
                             .infer = infer,
                             .abandoned = abandoned,
                             .metrics = metrics};
    char err[256];
    if (sw_srv_http_create(base, &o, &ops, &http, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: cannot start the frontend: %s\n", err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    draining = data[0] & 1;
    not_ready = data[0] & 2;
    int fd = sw_fuzz_connect(sw_srv_http_port(http));
    struct evbuffer *ans = evbuffer_new();
    sw_fuzz_exchange(base, fd, data + 1, size - 1, ans);
    close(fd);
    /* Whatever came back is HTTP: evhttp's or ours, never raw bytes of anything else. */
    size_t n = evbuffer_get_length(ans);
    if (n > 0) {
        char head[5] = {0};
        evbuffer_copyout(ans, head, SW_MIN(n, (size_t)5));
        if (n >= 5 && memcmp(head, "HTTP/", 5) != 0) {
            fprintf(stderr, "fuzz: the frontend answered non-HTTP bytes\n");
            abort();
        }
    }
    evbuffer_free(ans);
    /* Answer what is still held, so no call leaks into the next input. */
    on_answer_timer(-1, 0, NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    return 0;
}
