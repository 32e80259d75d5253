/* Fuzz target: the frontend's side of the worker protocol. The bytes are what a worker
 * sends on its connection to a real worker listener (serving/worker_listener.h): the
 * listener decodes them with sw_frame_read and acts on each frame (Hello and admission,
 * BatchResult, Drain, Heartbeat, anything unexpected) until the stream ends or breaks.
 * One listener serves every input on one event_base; each input is a new connection over
 * loopback, closed by its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/net.h"
#include "serving/worker_listener.h"
#include "tests/fuzz/fuzz_util.h"

static struct event_base *base;
static sw_srv_workers_t *workers;
static int port;

/* Admits every Hello as worker 1, so what follows a Hello is handled as an admitted
 * worker's frames; the listener refuses a second connection for an id itself. */
static uint32_t on_hello(void *self, const Spillway__Hello *h, const char *peer, const char **why)
{
    (void)self;
    (void)peer;
    (void)why;
    /* Every string of a decoded frame is NUL-terminated (or NULL): read them all. */
    size_t n = 0;
    const char *s[] = {h->worker_id, h->instance_type, h->model_name, h->token};
    for (size_t i = 0; i < SW_ARRAY_LEN(s); i++)
        n += s[i] ? strlen(s[i]) : 0;
    return n % 2 ? 1 : 2;
}

static void on_result(void *self, uint32_t id, const Spillway__BatchResult *res)
{
    (void)self;
    (void)id;
    volatile float sink = 0;
    for (size_t i = 0; i < res->n_answers; i++) {
        const Spillway__Answer *a = res->answers[i];
        for (size_t k = 0; k < a->n_output; k++)
            sink += a->output[k];
        if (a->error)
            sink += (float)strlen(a->error);
    }
    (void)sink;
}

static void on_drain(void *self, uint32_t id, const char *reason)
{
    (void)self;
    (void)id;
    (void)strlen(reason);
}

static void on_lost(void *self, uint32_t id, const char *why)
{
    (void)self;
    (void)id;
    (void)strlen(why);
}

void sw_fuzz_setup(void)
{
    base = event_base_new();
    /* A small frame limit, so that the fuzzer reaches the oversized-frame path too. */
    sw_srv_workers_opts_t o = {.listen = "127.0.0.1:0", .max_frame_bytes = 1u << 16};
    sw_srv_workers_events_t ev = {
        .hello = on_hello, .result = on_result, .drain = on_drain, .lost = on_lost};
    char err[256];
    if (!base || sw_srv_workers_create(base, &o, &ev, &workers, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: cannot start the worker listener: %s\n", err);
        abort();
    }
    char host[64];
    uint16_t p;
    if (sw_net_split_host_port(sw_srv_workers_address(workers), host, sizeof(host), &p, false) < 0)
        abort();
    port = p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = sw_fuzz_connect(port);
    sw_fuzz_exchange(base, fd, data, size, NULL);
    close(fd);
    /* Let the listener see the close of an admitted worker and report it lost. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    return 0;
}
