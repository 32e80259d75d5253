/* Helpers shared by the fuzz targets: the bytes as a file, a quiet log, and the trace
 * driver that the four trace-format targets share. */
#define _GNU_SOURCE /* memfd_create */
#include "tests/fuzz/fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "runs/trace.h"

void sw_fuzz_file_open(sw_fuzz_file_t *f, const uint8_t *data, size_t size)
{
    f->fd = memfd_create("sw-fuzz", MFD_CLOEXEC);
    if (f->fd < 0) {
        perror("memfd_create");
        abort();
    }
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(f->fd, data + off, size - off);
        if (n <= 0) {
            perror("write memfd");
            abort();
        }
        off += (size_t)n;
    }
    snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

void sw_fuzz_file_close(sw_fuzz_file_t *f)
{
    close(f->fd);
    f->fd = -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Warnings are the normal answer to hostile input (a bad frame closes a connection
     * with one); errors, which should not happen, still show. */
    sw_log_set_level(getenv("SW_FUZZ_LOG") ? SW_LOG_LVL_DEBUG : SW_LOG_LVL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    if (sw_fuzz_setup)
        sw_fuzz_setup();
    return 0;
}

void *sw_fuzz_exact_copy(const uint8_t *data, size_t size)
{
    void *p = sw_malloc(size ? size : 1);
    if (size)
        memcpy(p, data, size);
    return p;
}

char *sw_fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = sw_malloc(size + 1);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Runs the reader once over the file at rate_scale, taking at most max_arrivals. */
static void trace_pass(const char *path, int format, double rate_scale, int max_arrivals)
{
    sw_trace_opts_t o = {.format = (sw_trace_format_t)format, .rate_scale = rate_scale, .seed = 1};
    sw_trace_t *t = NULL;
    char err[512];
    if (sw_trace_open(&t, path, &o, err, sizeof(err)) != 0)
        return;
    sw_time_t prev = 0, at = 0;
    int rc = 0;
    for (int i = 0; i < max_arrivals && (rc = sw_trace_next(t, &at)) == 1; i++) {
        if (at < prev) /* the reader's contract: arrivals never decrease */
            abort();
        prev = at;
    }
    if (rc < 0 && sw_trace_error(t)[0] == '\0')
        abort(); /* an error always comes with its message */
    (void)sw_trace_progress(t);
    sw_trace_close(t);
}

void sw_fuzz_trace(const uint8_t *data, size_t size, int format)
{
    sw_fuzz_file_t f;
    sw_fuzz_file_open(&f, data, size);
    /* As recorded, for the arrival generation; a valid trace may ask for billions of
     * arrivals, so only the first few thousand are drawn. */
    trace_pass(f.path, format, 1.0, 2000);
    /* Scaled down a millionfold, so that few arrivals come of many lines and the parser
     * and its limits see the whole file. */
    trace_pass(f.path, format, 1e-6, 20000);
    sw_fuzz_file_close(&f);
}

/* One exchange in progress: what is left to send, where answers go. */
typedef struct exchange {
    struct event_base *base;
    struct event *ev;
    int fd;
    const uint8_t *data;
    size_t size, sent;
    struct evbuffer *answer;
    bool shut, reads_only, done;
} exchange_t;

static void on_exchange_io(evutil_socket_t fd, short what, void *arg)
{
    exchange_t *x = arg;
    if (what & EV_TIMEOUT) {
        fprintf(stderr,
                "fuzz: the server neither answered nor closed within %d ms (sent "
                "%zu of %zu bytes): a hang\n",
                SW_FUZZ_EXCHANGE_MS, x->sent, x->size);
        abort();
    }
    if ((what & EV_WRITE) && !x->shut) {
        while (x->sent < x->size) {
            ssize_t n = send(fd, x->data + x->sent, x->size - x->sent, MSG_NOSIGNAL);
            if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN))
                break;
            if (n < 0) { /* the server closed early (a refused input): nothing more to send */
                x->sent = x->size;
                break;
            }
            x->sent += (size_t)n;
        }
        if (x->sent == x->size) {
            shutdown(fd, SHUT_WR);
            x->shut = true;
        }
    }
    if (what & EV_READ) {
        for (;;) {
            char buf[16384];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n > 0) {
                if (x->answer)
                    evbuffer_add(x->answer, buf, (size_t)n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            x->done = true; /* closed, or reset */
            event_base_loopbreak(x->base);
            return;
        }
    }
    if (x->shut && !x->reads_only) {
        /* Only reads are left: stop asking for writability, which would spin. */
        x->reads_only = true;
        event_del(x->ev);
        event_assign(x->ev, x->base, fd, EV_READ | EV_PERSIST, on_exchange_io, x);
        struct timeval tv = {SW_FUZZ_EXCHANGE_MS / 1000, 0};
        event_add(x->ev, &tv);
    }
}

void sw_fuzz_exchange(struct event_base *base, int fd, const uint8_t *data, size_t size,
                      struct evbuffer *answer)
{
    exchange_t x = {.base = base, .fd = fd, .data = data, .size = size, .answer = answer};
    x.ev = event_new(base, fd, EV_READ | EV_WRITE | EV_PERSIST, on_exchange_io, &x);
    struct timeval tv = {SW_FUZZ_EXCHANGE_MS / 1000, 0};
    event_add(x.ev, &tv);
    while (!x.done)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(x.ev);
}

int sw_fuzz_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        abort();
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        perror("connect");
        abort();
    }
    return fd;
}
