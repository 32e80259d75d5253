/* Fuzz target: the worker's side of the worker protocol. The bytes are what the frontend
 * sends to a real `spillway worker` loop (backends/worker.h, sw_be_worker_run, serving the
 * 3-2-2 test model): it decodes them with sw_frame_read and acts on each frame (a Batch
 * goes to its compute thread and is answered, a Stop drains it, anything else closes the
 * connection). This process plays the frontend: the worker dials in, the input is sent
 * and our side shut, and every frame the worker sends back must decode. A worker that
 * drained on a Stop is started again for the next input. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "backends/frame.h"
#include "backends/worker.h"
#include "model/model.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/tiny_model.h"

#define MAX_FRAME_BYTES (1u << 16)

static struct event_base *base;
static int listen_fd, port;
static sw_model_t *model;
static sw_be_worker_opts_t wopts;
static pthread_t worker_thread;
static atomic_bool worker_running;

static int infer(void *self, const float *in, size_t n, float *out)
{
    return sw_model_infer(self, in, n, out);
}

static void *worker_main(void *arg)
{
    (void)arg;
    char err[256];
    if (sw_be_worker_run(&wopts, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: the worker failed: %s\n", err);
        abort();
    }
    atomic_store(&worker_running, false);
    return NULL;
}

/* How many times the worker's thread was started; bench/worker_soak.c reports it. */
unsigned long sw_fuzz_worker_starts;

static void start_worker(void)
{
    sw_fuzz_worker_starts++;
    atomic_store(&worker_running, true);
    if (pthread_create(&worker_thread, NULL, worker_main, NULL) != 0)
        abort();
}

void sw_fuzz_setup(void)
{
    char err[256];
    if (sw_model_create(&tiny, 2, "tiny", &model, err, sizeof(err)) != 0)
        abort();
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(listen_fd, 4) < 0 || getsockname(listen_fd, (struct sockaddr *)&a, &alen) < 0)
        abort();
    port = ntohs(a.sin_port);
    wopts = (sw_be_worker_opts_t){.host = "127.0.0.1",
                                  .port = (uint16_t)port,
                                  .worker_id = "fuzz",
                                  .instance_type = "t",
                                  .token = "token",
                                  .model_name = "tiny",
                                  .model_version = 7,
                                  /* 2 rows at a time, so that a longer batch is chunked */
                                  .max_batch = 2,
                                  .threads = 1,
                                  .input_size = sw_model_input_size(model),
                                  .output_size = sw_model_output_size(model),
                                  .infer = infer,
                                  .infer_self = model,
                                  .max_frame_bytes = MAX_FRAME_BYTES,
                                  .seed = 1,
                                  /* redial at once after each input's close */
                                  .redial_at_once = true};
    base = event_base_new();
    if (!base)
        abort();
    start_worker();
}

/* Waits for the worker to dial in; restarts it when the last input drained it. */
static int accept_worker(void)
{
    for (int waited_ms = 0; waited_ms < SW_FUZZ_EXCHANGE_MS; waited_ms++) {
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        if (poll(&p, 1, 1) == 1) {
            int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0)
                return fd;
        }
        if (!atomic_load(&worker_running)) {
            pthread_join(worker_thread, NULL);
            start_worker();
        }
    }
    fprintf(stderr, "fuzz: the worker did not dial in within %d ms\n", SW_FUZZ_EXCHANGE_MS);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = accept_worker();
    struct evbuffer *answer = evbuffer_new();
    sw_fuzz_exchange(base, fd, data, size, answer);
    close(fd);
    /* The worker's own frames: a Hello first, then only well-formed frames. */
    bool first = true;
    for (;;) {
        Spillway__Frame *f = NULL;
        char err[200];
        int rc = sw_frame_read(answer, MAX_FRAME_BYTES, &f, err, sizeof(err));
        if (rc == 0)
            break;
        if (rc < 0) {
            fprintf(stderr, "fuzz: the worker sent a bad frame: %s\n", err);
            abort();
        }
        if (first && f->body_case != SPILLWAY__FRAME__BODY_HELLO) {
            fprintf(stderr, "fuzz: the worker's first frame is a %s\n",
                    sw_frame_type_name(f->body_case));
            abort();
        }
        first = false;
        spillway__frame__free_unpacked(f, NULL);
    }
    /* A partial frame may be left over: a worker drops what it has not sent when it
     * closes a connection the peer shut. */
    evbuffer_free(answer);
    return 0;
}
