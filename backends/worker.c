/* `spillway worker`'s logic as a library. One event_base on the calling thread owns the
 * connection to the frontend, the heartbeat and reconnect timers and the signal events; one
 * compute thread runs the long forward passes. The loop hands a decoded Batch to the
 * compute thread through a mutex-protected queue; the compute thread hands the finished job
 * back through a second list and wakes the loop by writing a byte to a pipe that the loop
 * watches. The compute thread never touches libevent, so heartbeats keep flowing while a
 * long batch runs.
 *
 * A short batch costs less than those two hand-offs (a wake-up of the compute thread, then
 * of the loop: tens of µs each on a VM), so a batch whose size class has lately taken at
 * most inline_max_ms runs on the loop instead, inside the read callback that decoded it.
 * That delays a heartbeat by at most that bound, far below any heartbeat timeout. Inline
 * runs happen only while the compute thread holds no job, so the model and the staging
 * buffers are still used by one thread at a time.
 *
 * Each connection has a generation number. When a connection drops, the generation moves
 * on, batches still queued are freed and a batch that is computing is discarded when it
 * comes back: the frontend re-routes the batches of a lost worker, so they must not be
 * answered on the next connection. */
#include "backends/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "backends/frame.h"
#include "common/rng.h"

#define SW_LOG_MODULE "worker"
#include "common/log.h"

#define BACKOFF_MIN_MS_DEFAULT 100
#define BACKOFF_MAX_MS_DEFAULT 5000
#define HEARTBEAT_MS_DEFAULT 1000
#define INLINE_MAX_MS_DEFAULT 1.0
/* Batches are timed per size class: class k holds 2^k to 2^(k+1)-1 rows. */
#define SIZE_CLASSES 32
/* Weight of the latest time in a class's estimate while it stays under the bound. */
#define CLASS_EWMA_ALPHA 0.25

/* One batch on its way through the compute thread. */
typedef struct job {
    STAILQ_ENTRY(job) link;
    uint64_t gen;           /* connection generation the batch arrived on */
    Spillway__Frame *frame; /* the unpacked Batch frame, owned */
    float *out;             /* n_requests x output_size */
    char **errs;            /* per request: NULL, or a message (owned) */
    double compute_ms;
} job_t;

/* A FIFO of jobs; callers hold the worker's lock. */
typedef STAILQ_HEAD(job_list, job) job_list_t;

typedef enum {
    CONN_BACKOFF,    /* no connection; the reconnect timer is armed */
    CONN_CONNECTING, /* connect() in progress */
    CONN_CONNECTED,  /* Hello sent; batches flow */
    CONN_DONE,       /* drained (or asked to stop while not connected): the loop is ending */
} conn_state_t;

typedef struct worker {
    const sw_be_worker_opts_t *o;
    size_t max_frame_bytes;
    int64_t backoff_min_ms, backoff_max_ms;
    char peer[300];
    struct sockaddr_storage addr;
    socklen_t addr_len;

    struct event_base *base;
    struct bufferevent *bev;      /* the live connection, or NULL */
    struct bufferevent *dead_bev; /* a retired connection, freed by on_reap_timer */
    struct evbuffer *scratch;     /* for sw_frame_send */
    struct event *reconnect_ev, *reap_ev, *heartbeat_ev, *wake_ev, *sigterm_ev, *sigint_ev;
    conn_state_t state;
    uint64_t gen;
    unsigned attempt;
    sw_rng_t rng;
    bool draining, drain_sent;
    /* Sent in Drain: what started the drain. */
    const char *drain_reason;
    uint32_t in_hand; /* batches of this connection received and not yet answered */
    uint64_t batches_done;
    double busy_ms;

    /* Inline or thread (see the top of the file); loop thread only. */
    double inline_max_ms;
    double class_ms[SIZE_CLASSES]; /* expected compute time per size class; < 0: not seen */
    uint32_t on_thread;            /* jobs queued, computing or done and not yet collected */
    double inline_spent_ms;        /* run inline since the current read callback began */

    /* Shared with the compute thread, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_list_t pending, done;
    bool stop;
    int wake_fd[2]; /* [0] read by the loop, [1] written by the compute thread */
    pthread_t thread;
    bool thread_started;

    /* Compute thread only: staging for one chunk of requests. */
    float *in_buf, *out_buf;
} worker_t;

/* Empties l and returns its first job; the rest follow by STAILQ_NEXT. The caller walks
 * them outside the lock. */
static job_t *list_take_all(job_list_t *l)
{
    job_t *h = STAILQ_FIRST(l);
    STAILQ_INIT(l);
    return h;
}

static void job_free(job_t *j)
{
    if (!j)
        return;
    if (j->errs) {
        for (size_t i = 0; i < j->frame->batch->n_requests; i++)
            sw_free(j->errs[i]);
        sw_free(j->errs);
    }
    spillway__frame__free_unpacked(j->frame, NULL);
    sw_free(j->out);
    sw_free(j);
}

static void job_list_free(job_t *j)
{
    while (j) {
        job_t *next = STAILQ_NEXT(j, link);
        job_free(j);
        j = next;
    }
}

/* ---- compute thread (and the loop, for inline batches) ---- */

static sw_time_t worker_now(const worker_t *w)
{
    return w->o->clock ? w->o->clock(w->o->clock_self) : sw_clock_now();
}

static void job_set_error(job_t *j, size_t i, const char *fmt, ...) SW_PRINTF(3, 4);
static void job_set_error(job_t *j, size_t i, const char *fmt, ...)
{
    if (!j->errs)
        j->errs = sw_calloc(j->frame->batch->n_requests, sizeof(char *));
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sw_free(j->errs[i]);
    j->errs[i] = sw_strdup(msg);
}

/* Runs the requests idx[0..n) (n <= max_batch) as one forward pass. */
static void run_chunk(worker_t *w, job_t *j, const size_t *idx, size_t n)
{
    const sw_be_worker_opts_t *o = w->o;
    Spillway__Request **reqs = j->frame->batch->requests;
    for (size_t k = 0; k < n; k++)
        memcpy(w->in_buf + k * o->input_size, reqs[idx[k]]->input, o->input_size * sizeof(float));
    int rc = o->infer(o->infer_self, w->in_buf, n, w->out_buf);
    for (size_t k = 0; k < n; k++) {
        if (rc < 0)
            job_set_error(j, idx[k], "inference failed: %s", sw_strerror(rc));
        else
            memcpy(j->out + idx[k] * o->output_size, w->out_buf + k * o->output_size,
                   o->output_size * sizeof(float));
    }
}

/* Runs a whole batch: requests with a wrong input size get an error answer, the rest run
 * in chunks of at most max_batch. */
static void run_job(worker_t *w, job_t *j)
{
    const sw_be_worker_opts_t *o = w->o;
    Spillway__Batch *b = j->frame->batch;
    j->out = sw_calloc(b->n_requests ? b->n_requests * o->output_size : 1, sizeof(float));
    size_t *idx = sw_malloc(o->max_batch * sizeof(size_t));
    size_t n = 0;
    sw_time_t t0 = worker_now(w);
    for (size_t i = 0; i < b->n_requests; i++) {
        if (b->requests[i]->n_input != o->input_size) {
            job_set_error(j, i, "input has %zu floats, model expects %zu", b->requests[i]->n_input,
                          o->input_size);
            continue;
        }
        idx[n++] = i;
        if (n == o->max_batch) {
            run_chunk(w, j, idx, n);
            n = 0;
        }
    }
    if (n)
        run_chunk(w, j, idx, n);
    double delay_ms = o->compute_delay_ms + o->compute_delay_per_row_ms * (double)b->n_requests;
    if (delay_ms > 0) {
        int64_t ns = (int64_t)(delay_ms * 1e6);
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    j->compute_ms = sw_time_to_ms(worker_now(w) - t0);
    sw_free(idx);
}

static void *compute_main(void *arg)
{
    worker_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stop && STAILQ_EMPTY(&w->pending))
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->stop)
            break;
        job_t *j = STAILQ_FIRST(&w->pending);
        STAILQ_REMOVE_HEAD(&w->pending, link);
        pthread_mutex_unlock(&w->lock);

        run_job(w, j);

        pthread_mutex_lock(&w->lock);
        STAILQ_INSERT_TAIL(&w->done, j, link);
        /* A full pipe already holds a wake-up, so a failed write loses nothing. */
        ssize_t wr = write(w->wake_fd[1], "x", 1);
        (void)wr;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---- loop side ---- */

static void on_conn_read(struct bufferevent *bev, void *arg);
static void on_conn_write(struct bufferevent *bev, void *arg);
static void on_conn_event(struct bufferevent *bev, short what, void *arg);
static void conn_transition(worker_t *w, conn_state_t to, const char *reason);

static void send_frame(worker_t *w, const Spillway__Frame *f)
{
    int rc = sw_frame_send(w->bev, w->scratch, f);
    if (rc < 0)
        SW_LOG_ERROR("cannot encode frame type=%s err=%s", sw_frame_type_name(f->body_case),
                     sw_strerror(rc));
}

static void send_hello(worker_t *w)
{
    const sw_be_worker_opts_t *o = w->o;
    Spillway__Hello h = SPILLWAY__HELLO__INIT;
    h.worker_id = (char *)o->worker_id;
    h.instance_type = (char *)o->instance_type;
    h.model_name = (char *)o->model_name;
    h.model_version = o->model_version;
    h.max_batch = o->max_batch;
    h.threads = o->threads;
    h.token = o->token ? (char *)o->token : "";
    Spillway__Frame f;
    sw_frame_init_hello(&f, &h);
    send_frame(w, &f);
}

/* Sends the BatchResult of a finished job; errs may be NULL (no errors). */
static void send_result(worker_t *w, const job_t *j)
{
    const Spillway__Batch *b = j->frame->batch;
    size_t n = b->n_requests;
    Spillway__Answer *ans = sw_calloc(n ? n : 1, sizeof(*ans));
    Spillway__Answer **ptrs = sw_calloc(n ? n : 1, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        spillway__answer__init(&ans[i]);
        ans[i].id = b->requests[i]->id;
        if (j->errs && j->errs[i]) {
            ans[i].error = j->errs[i];
        } else {
            ans[i].n_output = w->o->output_size;
            ans[i].output = j->out + i * w->o->output_size;
        }
        ptrs[i] = &ans[i];
    }
    Spillway__BatchResult r = SPILLWAY__BATCH_RESULT__INIT;
    r.batch_id = b->batch_id;
    r.n_answers = n;
    r.answers = ptrs;
    r.compute_ms = j->compute_ms;
    Spillway__Frame f;
    sw_frame_init_result(&f, &r);
    send_frame(w, &f);
    sw_free(ptrs);
    sw_free(ans);
}

static void send_heartbeat(worker_t *w)
{
    Spillway__Heartbeat h = SPILLWAY__HEARTBEAT__INIT;
    h.queue_depth = w->in_hand;
    h.batches_done = w->batches_done;
    h.busy_ms = w->busy_ms;
    Spillway__Frame f;
    sw_frame_init_heartbeat(&f, &h);
    send_frame(w, &f);
}

/* Once draining and nothing is in hand, sends Drain; on_conn_write ends the loop when it is
 * flushed. */
static void maybe_send_drain(worker_t *w)
{
    if (!w->draining || w->drain_sent || w->state != CONN_CONNECTED || w->in_hand > 0)
        return;
    Spillway__Drain d = SPILLWAY__DRAIN__INIT;
    d.reason = (char *)w->drain_reason;
    Spillway__Frame f;
    sw_frame_init_drain(&f, &d);
    send_frame(w, &f);
    w->drain_sent = true;
    SW_LOG_INFO("drain sent peer=%s batches_done=%" PRIu64, w->peer, w->batches_done);
    if (evbuffer_get_length(bufferevent_get_output(w->bev)) == 0)
        conn_transition(w, CONN_DONE, "drained");
}

/* Stops taking work: the batches in hand are answered, then Drain (carrying reason) is sent,
 * and the loop ends instead of reconnecting. */
static void start_drain(worker_t *w, const char *reason)
{
    w->draining = true;
    w->drain_reason = reason;
    if (w->state != CONN_CONNECTED)
        conn_transition(w, CONN_DONE, "drain while not connected");
    else
        maybe_send_drain(w);
}

static unsigned size_class(size_t rows)
{
    unsigned k = 0;
    while (rows > 1 && k < SIZE_CLASSES - 1) {
        rows >>= 1;
        k++;
    }
    return k;
}

/* Whether a batch of this many rows may run on the loop: the compute thread holds nothing
 * (so the model is free), its class has been timed, and its expected time, added to what
 * this read callback already ran inline, stays within the bound. */
static bool should_inline(const worker_t *w, size_t rows)
{
    double ms = w->class_ms[size_class(rows)];
    return w->on_thread == 0 && ms >= 0 && ms + w->inline_spent_ms <= w->inline_max_ms;
}

/* Folds a finished batch's time into its class. A time over the bound counts in full at
 * once, so one slow batch sends the next of its class to the thread; times under it are
 * smoothed, so a class comes back to the loop only after a run of short batches. */
static void learn_class(worker_t *w, size_t rows, double ms)
{
    double *c = &w->class_ms[size_class(rows)];
    if (*c < 0 || ms > w->inline_max_ms)
        *c = ms;
    else
        *c += CLASS_EWMA_ALPHA * (ms - *c);
}

/* Accounts a computed job, answers it if its connection is still the live one, frees it. */
static void finish_job(worker_t *w, job_t *j)
{
    w->batches_done++;
    w->busy_ms += j->compute_ms;
    learn_class(w, j->frame->batch->n_requests, j->compute_ms);
    if (j->gen == w->gen && w->state == CONN_CONNECTED) {
        send_result(w, j);
        w->in_hand--;
    }
    job_free(j);
}

/* Takes ownership of f, a Batch frame. */
static void handle_batch(worker_t *w, Spillway__Frame *f)
{
    job_t *j = sw_calloc(1, sizeof(*j));
    j->frame = f;
    j->gen = w->gen;
    size_t n = f->batch->n_requests;
    SW_LOG_DEBUG("batch received batch_id=%" PRIu64 " requests=%zu", f->batch->batch_id, n);
    if (w->draining) {
        /* No new work while draining, but every batch is still answered exactly once. */
        j->out = sw_calloc(1, sizeof(float));
        for (size_t i = 0; i < n; i++)
            job_set_error(j, i, "worker draining");
        send_result(w, j);
        job_free(j);
        return;
    }
    w->in_hand++;
    if (should_inline(w, n)) {
        run_job(w, j);
        w->inline_spent_ms += j->compute_ms;
        finish_job(w, j);
        return;
    }
    w->on_thread++;
    pthread_mutex_lock(&w->lock);
    STAILQ_INSERT_TAIL(&w->pending, j, link);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
    worker_t *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    w->inline_spent_ms = 0;
    for (;;) {
        Spillway__Frame *f = NULL;
        char err[200];
        int rc = sw_frame_read(in, w->max_frame_bytes, &f, err, sizeof(err));
        if (rc == 0)
            return;
        if (rc < 0) {
            SW_LOG_WARN("closing connection peer=%s reason=\"%s\"", w->peer, err);
            conn_transition(w, w->draining ? CONN_DONE : CONN_BACKOFF, "bad frame");
            return;
        }
        if (f->body_case == SPILLWAY__FRAME__BODY_STOP) {
            /* The reason is the frontend's text: bounded in the log, never echoed back. */
            SW_LOG_INFO("stop received, draining peer=%s reason=\"%.200s\" in_hand=%" PRIu32,
                        w->peer, f->stop->reason, w->in_hand);
            bool first = !w->draining;
            spillway__frame__free_unpacked(f, NULL);
            if (first)
                start_drain(w, "stop requested");
            if (w->bev != bev)
                return; /* the drain finished at once and retired this connection */
            continue;
        }
        if (f->body_case != SPILLWAY__FRAME__BODY_BATCH) {
            SW_LOG_WARN("closing connection peer=%s reason=\"unexpected frame type %s\"", w->peer,
                        sw_frame_type_name(f->body_case));
            spillway__frame__free_unpacked(f, NULL);
            conn_transition(w, w->draining ? CONN_DONE : CONN_BACKOFF, "unexpected frame");
            return;
        }
        handle_batch(w, f);
    }
}

static void on_conn_write(struct bufferevent *bev, void *arg)
{
    worker_t *w = arg;
    if (w->drain_sent && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_transition(w, CONN_DONE, "drained");
}

/* True when a connect to a local port with no listener has connected the socket to itself
 * (TCP simultaneous open: the kernel picked the destination port as the source port). */
static bool is_self_connected(evutil_socket_t fd)
{
    struct sockaddr_storage a, b;
    socklen_t la = sizeof(a), lb = sizeof(b);
    if (getsockname(fd, (struct sockaddr *)&a, &la) < 0 ||
        getpeername(fd, (struct sockaddr *)&b, &lb) < 0)
        return false;
    return la == lb && memcmp(&a, &b, la) == 0;
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    worker_t *w = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (is_self_connected(bufferevent_getfd(bev))) {
            SW_LOG_INFO("connect failed peer=%s reason=\"connected to itself\"", w->peer);
            conn_transition(w, CONN_BACKOFF, "self-connect");
            return;
        }
        /* Without it, a BatchResult written while a heartbeat is unacknowledged waits for
         * the frontend's delayed ACK (up to 40 ms on Linux) under Nagle's algorithm. */
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_transition(w, CONN_CONNECTED, "connected");
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        int err = EVUTIL_SOCKET_ERROR();
        const char *why =
            (what & BEV_EVENT_EOF) ? "closed by peer" : evutil_socket_error_to_string(err);
        if (w->state == CONN_CONNECTING)
            SW_LOG_INFO("connect failed peer=%s reason=\"%s\"", w->peer, why);
        else
            SW_LOG_WARN("connection lost peer=%s reason=\"%s\"", w->peer, why);
        conn_transition(w, w->draining ? CONN_DONE : CONN_BACKOFF, why);
    }
}

/* Detaches the live connection; its bufferevent (and socket) is freed on the next loop
 * iteration, outside any of its own callbacks. Batches in hand are dropped. */
static void retire_conn(worker_t *w)
{
    if (!w->bev)
        return;
    bufferevent_disable(w->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(w->bev, NULL, NULL, NULL, NULL);
    if (w->dead_bev)
        bufferevent_free(w->dead_bev); /* retired earlier: no callback of its can be running */
    w->dead_bev = w->bev;
    w->bev = NULL;
    struct timeval now_tv = {0, 0};
    event_add(w->reap_ev, &now_tv);

    w->gen++;
    if (w->in_hand)
        SW_LOG_INFO("discarding batches in hand count=%" PRIu32, w->in_hand);
    w->in_hand = 0;
    pthread_mutex_lock(&w->lock);
    job_t *pending = list_take_all(&w->pending);
    pthread_mutex_unlock(&w->lock);
    for (job_t *j = pending; j; j = STAILQ_NEXT(j, link))
        w->on_thread--;
    job_list_free(pending);
}

static int64_t next_backoff_ms(worker_t *w)
{
    unsigned shift = SW_MIN(w->attempt, 20u);
    int64_t base = SW_MIN(w->backoff_max_ms, w->backoff_min_ms << shift);
    w->attempt++;
    /* +-50 % jitter, so a fleet of workers does not reconnect in lockstep. */
    int64_t ms = (int64_t)((double)base * (0.5 + sw_rng_uniform(&w->rng)));
    return SW_MAX(ms, 1);
}

static void start_connect(worker_t *w)
{
    w->bev = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!w->bev) {
        SW_LOG_ERROR("cannot create bufferevent peer=%s", w->peer);
        conn_transition(w, CONN_BACKOFF, "bufferevent_socket_new failed");
        return;
    }
    bufferevent_setcb(w->bev, on_conn_read, on_conn_write, on_conn_event, w);
    if (bufferevent_socket_connect(w->bev, (struct sockaddr *)&w->addr, (int)w->addr_len) < 0) {
        SW_LOG_INFO("connect failed peer=%s reason=\"%s\"", w->peer,
                    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        conn_transition(w, CONN_BACKOFF, "connect failed");
    }
}

/* Every connection state change goes through here. */
static void conn_transition(worker_t *w, conn_state_t to, const char *reason)
{
    conn_state_t from = w->state;
    w->state = to;
    SW_LOG_DEBUG("connection state from=%d to=%d reason=\"%s\"", (int)from, (int)to, reason);
    switch (to) {
    case CONN_BACKOFF: {
        retire_conn(w);
        int64_t ms = w->o->redial_at_once ? 0 : next_backoff_ms(w);
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        event_add(w->reconnect_ev, &tv);
        SW_LOG_DEBUG("reconnecting peer=%s in_ms=%" PRId64, w->peer, ms);
        break;
    }
    case CONN_CONNECTING: start_connect(w); break;
    case CONN_CONNECTED:
        w->attempt = 0;
        bufferevent_enable(w->bev, EV_READ | EV_WRITE);
        send_hello(w);
        SW_LOG_INFO("registered peer=%s worker_id=%s type=%s", w->peer, w->o->worker_id,
                    w->o->instance_type);
        maybe_send_drain(w);
        break;
    case CONN_DONE:
        retire_conn(w);
        event_del(w->reconnect_ev);
        event_base_loopbreak(w->base);
        break;
    }
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;
    conn_transition(w, CONN_CONNECTING, "backoff elapsed");
}

static void on_reap_timer(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;
    if (w->dead_bev)
        bufferevent_free(w->dead_bev);
    w->dead_bev = NULL;
}

static void on_heartbeat_timer(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;
    if (w->state == CONN_CONNECTED && !w->drain_sent)
        send_heartbeat(w);
}

static void on_compute_wake(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)what;
    char drain[64];
    while (read(fd, drain, sizeof(drain)) > 0)
        ;
    pthread_mutex_lock(&w->lock);
    job_t *j = list_take_all(&w->done);
    pthread_mutex_unlock(&w->lock);
    while (j) {
        job_t *next = STAILQ_NEXT(j, link);
        w->on_thread--;
        finish_job(w, j);
        j = next;
    }
    maybe_send_drain(w);
}

static void on_signal_term(evutil_socket_t sig, short what, void *arg)
{
    worker_t *w = arg;
    (void)what;
    if (w->draining)
        return;
    SW_LOG_INFO("signal received, draining signal=%d in_hand=%" PRIu32, (int)sig, w->in_hand);
    start_drain(w, "SIGTERM");
}

static int resolve(worker_t *w, char *errbuf, size_t errlen)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)w->o->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(w->o->host, port, &hints, &res);
    if (rc != 0 || !res) {
        sw_set_error(errbuf, errlen, "cannot resolve %s: %s", w->peer, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    memcpy(&w->addr, res->ai_addr, res->ai_addrlen);
    w->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void worker_deinit(worker_t *w)
{
    if (w->thread_started) {
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    }
    job_list_free(list_take_all(&w->pending));
    job_list_free(list_take_all(&w->done));
    struct event *evs[] = {w->reconnect_ev, w->reap_ev,    w->heartbeat_ev,
                           w->wake_ev,      w->sigterm_ev, w->sigint_ev};
    for (size_t i = 0; i < SW_ARRAY_LEN(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    if (w->bev)
        bufferevent_free(w->bev);
    if (w->dead_bev)
        bufferevent_free(w->dead_bev);
    for (int i = 0; i < 2; i++)
        if (w->wake_fd[i] >= 0)
            close(w->wake_fd[i]);
    if (w->scratch)
        evbuffer_free(w->scratch);
    if (w->base)
        event_base_free(w->base);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    sw_free(w->in_buf);
    sw_free(w->out_buf);
}

static int worker_init(worker_t *w, const sw_be_worker_opts_t *o, char *errbuf, size_t errlen)
{
    w->o = o;
    w->wake_fd[0] = w->wake_fd[1] = -1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    STAILQ_INIT(&w->pending);
    STAILQ_INIT(&w->done);
    w->max_frame_bytes = o->max_frame_bytes ? o->max_frame_bytes : SW_FRAME_MAX_BYTES_DEFAULT;
    w->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms : BACKOFF_MIN_MS_DEFAULT;
    w->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : BACKOFF_MAX_MS_DEFAULT;
    snprintf(w->peer, sizeof(w->peer), "%s:%u", o->host, (unsigned)o->port);
    w->inline_max_ms = o->inline_max_ms != 0 ? o->inline_max_ms : INLINE_MAX_MS_DEFAULT;
    for (size_t i = 0; i < SIZE_CLASSES; i++)
        w->class_ms[i] = -1;
    sw_rng_init(&w->rng, o->seed);
    w->in_buf = sw_malloc((size_t)o->max_batch * o->input_size * sizeof(float) + 1);
    w->out_buf = sw_malloc((size_t)o->max_batch * o->output_size * sizeof(float) + 1);
    int rc = resolve(w, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (pipe(w->wake_fd) < 0) {
        rc = -errno;
        sw_set_error(errbuf, errlen, "pipe: %s", strerror(-rc));
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(w->wake_fd[i], F_SETFL, fcntl(w->wake_fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(w->wake_fd[i], F_SETFD, FD_CLOEXEC);
    }
    w->base = event_base_new();
    w->scratch = evbuffer_new();
    if (!w->base || !w->scratch) {
        sw_set_error(errbuf, errlen, "event_base_new failed");
        return -ENOMEM;
    }
    int64_t hb_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : HEARTBEAT_MS_DEFAULT;
    struct timeval hb = {.tv_sec = hb_ms / 1000, .tv_usec = (hb_ms % 1000) * 1000};
    w->reconnect_ev = evtimer_new(w->base, on_reconnect_timer, w);
    w->reap_ev = evtimer_new(w->base, on_reap_timer, w);
    w->heartbeat_ev = event_new(w->base, -1, EV_PERSIST, on_heartbeat_timer, w);
    w->wake_ev = event_new(w->base, w->wake_fd[0], EV_READ | EV_PERSIST, on_compute_wake, w);
    w->sigterm_ev = evsignal_new(w->base, SIGTERM, on_signal_term, w);
    w->sigint_ev = evsignal_new(w->base, SIGINT, on_signal_term, w);
    if (!w->reconnect_ev || !w->reap_ev || !w->heartbeat_ev || !w->wake_ev || !w->sigterm_ev ||
        !w->sigint_ev || event_add(w->heartbeat_ev, &hb) < 0 || event_add(w->wake_ev, NULL) < 0 ||
        event_add(w->sigterm_ev, NULL) < 0 || event_add(w->sigint_ev, NULL) < 0) {
        sw_set_error(errbuf, errlen, "cannot set up libevent events");
        return -ENOMEM;
    }
    rc = pthread_create(&w->thread, NULL, compute_main, w);
    if (rc != 0) {
        sw_set_error(errbuf, errlen, "pthread_create: %s", strerror(rc));
        return -rc;
    }
    w->thread_started = true;
    return 0;
}

int sw_be_worker_run(const sw_be_worker_opts_t *o, char *errbuf, size_t errlen)
{
    if (!o || !o->host || !o->infer || o->max_batch == 0 || o->input_size == 0 ||
        o->output_size == 0) {
        sw_set_error(errbuf, errlen, "worker: invalid options");
        return -EINVAL;
    }
    worker_t w = {0};
    int rc = worker_init(&w, o, errbuf, errlen);
    if (rc == 0) {
        SW_LOG_INFO("worker starting peer=%s worker_id=%s max_batch=%u", w.peer, o->worker_id,
                    o->max_batch);
        w.state = CONN_CONNECTING;
        start_connect(&w);
        if (event_base_dispatch(w.base) < 0) {
            sw_set_error(errbuf, errlen, "event loop failed");
            rc = -EIO;
        } else {
            SW_LOG_INFO("worker stopped batches_done=%" PRIu64 " busy_ms=%.1f", w.batches_done,
                        w.busy_ms);
        }
    }
    worker_deinit(&w);
    return rc;
}
