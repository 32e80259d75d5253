/* The run of `spillway loadgen`: when each request is sent, on which connection, and what
 * its outcome counts as.
 *
 * Open loop. The trace reader (the same stream simulate replays) gives each request a
 * scheduled time, t0 + arrival / speedup. One timer is armed for the next scheduled
 * time; when it fires, every request now due is handed to an idle connection, or to a
 * new one while fewer than max_connections are open, or else waits in a FIFO for the
 * first connection to come free. Whatever happens, a request's latency runs from its
 * scheduled time, never from when it was written: a server that stalls makes requests
 * wait on the client's side too, and that wait is part of what its users would see
 * (coordinated omission, the flaw of a client that only sends when answered). How late
 * each send was is recorded, so a client that cannot keep up says so.
 *
 * Closed loop. `concurrency` connections each send their next request when the previous
 * answer is in, for duration_s; latency runs from the send, which is then the schedule.
 *
 * Timeouts. Requests are attached to connections in the order of their scheduled times,
 * so their deadlines (scheduled time + timeout) come in the same order: one list in
 * attachment order and the FIFO of waiting requests are both sorted by deadline, and one
 * timer, armed for the earliest, expires them. A request that times out on a connection
 * closes it, as HTTP/1.1 has no other way to abandon a request.
 *
 * Steady state allocates nothing here: connection slots and their buffers are made once
 * and reused, and the waiting FIFO only grows. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "cli/loadgen_internal.h"
#include "common/ring.h"

/* Requests sent in one timer callback before the loop reads sockets again. */
#define SEND_BATCH 256
/* A connection that fails in closed loop waits this long before its next request, so a
 * server that is down is not hammered in a busy loop. */
#define CLOSED_LOOP_PAUSE_US (100 * SW_US_PER_MS)
/* The first connections must be made within this, or the run does not start. */
#define CONNECT_WAIT_US (10 * SW_US_PER_S)

typedef struct lg_pending {
    sw_time_t due;
    uint64_t seq;
    bool retried;
} lg_pending_t;

SW_RING_DEFINE(lg_pending_ring, lg_pending_t)

/* Where a connection slot is: at most one list at a time. */
enum { WHERE_NONE = 0, WHERE_IDLE, WHERE_FLIGHT, WHERE_CLOSED, WHERE_COUNT };

typedef struct lg_list {
    sw_lg_conn_t *head, *tail;
    size_t len;
} lg_list_t;

typedef enum { OUT_OK, OUT_WRONG, OUT_STATUS, OUT_TRANSPORT, OUT_TIMEOUT } lg_outcome_t;

/* One timeline row's counts. */
typedef struct lg_interval {
    uint64_t index, sent, ok, errors, met, done;
    sw_time_t max_late;
    sw_hist_t latency;
} lg_interval_t;

typedef struct lg_run {
    const sw_lg_run_opts_t *o;
    sw_lg_stats_t *st;
    struct event_base *base;
    struct event *send_ev, *timeout_ev, *tick_ev, *progress_ev, *start_ev, *sig_ev[2];
    sw_lg_conn_ops_t ops;
    sw_lg_conn_t **conns; /* slots made so far, at most max_conns */
    unsigned n_conns, max_conns, n_open, connecting_at_start;
    lg_list_t lists[WHERE_COUNT];
    lg_pending_ring_t pending;
    sw_trace_t *trace;
    sw_time_t next_at; /* the next arrival while more == 1 */
    int more;
    bool running, schedule_done;
    sw_time_t t0, end, stopped_at;
    uint64_t seq;
    unsigned signals;
    struct rusage ru0;
    lg_interval_t iv;
    uint64_t progress_sent;
    sw_time_t progress_at, progress_late;
    int rc;
    char *errbuf;
    size_t errlen;
} lg_run_t;

/* ---- Lists ---- */

static void list_remove(lg_run_t *r, sw_lg_conn_t *c)
{
    if (c->where == WHERE_NONE)
        return;
    lg_list_t *l = &r->lists[c->where];
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    l->len--;
    c->prev = c->next = NULL;
    c->where = WHERE_NONE;
}

/* Moves c to list `where`: at the back of the in-flight list (deadline order), at the
 * front of the others (the idle connection used last is used next, its buffers warm). */
static void move_to(lg_run_t *r, sw_lg_conn_t *c, int where)
{
    list_remove(r, c);
    if (where == WHERE_NONE)
        return;
    lg_list_t *l = &r->lists[where];
    if (where == WHERE_FLIGHT) {
        c->prev = l->tail;
        if (l->tail)
            l->tail->next = c;
        else
            l->head = c;
        l->tail = c;
    } else {
        c->next = l->head;
        if (l->head)
            l->head->prev = c;
        else
            l->tail = c;
        l->head = c;
    }
    l->len++;
    c->where = where;
}

/* ---- Accounting ---- */

/* Keeps the first message of a kind (cut to fit). */
static void copy_first(char *dst, size_t len, const char *why)
{
    if (dst[0] || !why)
        return;
    size_t n = strnlen(why, len - 1);
    memcpy(dst, why, n);
    dst[n] = '\0';
}

static void note_late(lg_run_t *r, sw_time_t late)
{
    sw_lg_stats_t *st = r->st;
    st->max_lateness = SW_MAX(st->max_lateness, late);
    r->iv.max_late = SW_MAX(r->iv.max_late, late);
    r->progress_late = SW_MAX(r->progress_late, late);
    st->late_sends += late > SW_LG_LATE_US;
}

/* Counts the end of the request scheduled at `due`. */
static void account(lg_run_t *r, sw_time_t due, lg_outcome_t out, int status, const char *why,
                    sw_time_t now)
{
    sw_lg_stats_t *st = r->st;
    sw_time_t latency = now - due;
    switch (out) {
    case OUT_OK:
        st->ok++;
        r->iv.ok++;
        sw_hist_add(&st->latency, latency);
        sw_hist_add(&r->iv.latency, latency);
        if (latency <= sw_ms_to_time(r->o->slo_ms)) {
            st->slo_met++;
            r->iv.met++;
        }
        break;
    case OUT_WRONG:
        st->wrong++;
        copy_first(st->first_wrong, sizeof(st->first_wrong), why);
        break;
    case OUT_STATUS:
        st->failed_status++;
        st->by_status[status]++;
        copy_first(st->first_status, sizeof(st->first_status), why);
        break;
    case OUT_TRANSPORT:
        st->transport++;
        copy_first(st->first_transport, sizeof(st->first_transport), why);
        break;
    case OUT_TIMEOUT: st->timeouts++; break;
    }
    r->iv.errors += out != OUT_OK;
    r->iv.done++;
}

/* Detaches c's request and counts its outcome. */
static void finish(lg_run_t *r, sw_lg_conn_t *c, lg_outcome_t out, int status, const char *why,
                   sw_time_t now)
{
    c->has_req = false;
    list_remove(r, c);
    account(r, c->due, out, status, why, now);
}

/* ---- Connections ---- */

static void note_closed(lg_run_t *r, sw_lg_conn_t *c)
{
    SW_ASSERT(c->state == SW_LG_CONN_CLOSED && r->n_open > 0);
    r->n_open--;
}

static int open_conn(lg_run_t *r, sw_lg_conn_t *c)
{
    int rc = sw__lg_conn_open(c, r->base, (const struct sockaddr *)&r->o->addr, r->o->addr_len);
    if (rc < 0)
        return rc;
    c->answers = 0;
    r->n_open++;
    r->st->connects++;
    r->st->peak_open = SW_MAX(r->st->peak_open, r->n_open);
    return 0;
}

static void on_pause_over(evutil_socket_t fd, short what, void *arg);

static sw_lg_conn_t *new_slot(lg_run_t *r)
{
    sw_lg_conn_t *c = sw_calloc(1, sizeof(*c));
    c->_fd = -1;
    c->ops = &r->ops;
    c->id = r->n_conns;
    if (r->o->concurrency)
        c->pause = evtimer_new(r->base, on_pause_over, c);
    r->conns[r->n_conns++] = c;
    return c;
}

/* A connection for the next waiting request: an idle one, else a new one while fewer
 * than the most are open. NULL when none can be had now; *err is then the reason a new
 * one could not be made, or 0 when the pool is simply at its bound. */
static sw_lg_conn_t *take_conn(lg_run_t *r, int *err)
{
    *err = 0;
    sw_lg_conn_t *c = r->lists[WHERE_IDLE].head;
    if (c)
        return c;
    if (r->n_open >= r->max_conns)
        return NULL;
    c = r->lists[WHERE_CLOSED].head;
    if (!c)
        c = new_slot(r);
    *err = open_conn(r, c);
    if (*err < 0) {
        move_to(r, c, WHERE_CLOSED);
        return NULL;
    }
    list_remove(r, c);
    return c;
}

/* ---- Sending ---- */

static void arm_in(struct event *ev, sw_time_t delay)
{
    delay = SW_MAX(delay, 0);
    struct timeval tv = {.tv_sec = delay / SW_US_PER_S, .tv_usec = delay % SW_US_PER_S};
    event_add(ev, &tv);
}

/* Arms the timeout timer for a deadline just queued, unless it is armed already: every
 * queued deadline is at or after the armed one (see the file's comment). */
static void arm_timeout(lg_run_t *r, sw_time_t deadline, sw_time_t now)
{
    if (!evtimer_pending(r->timeout_ev, NULL))
        arm_in(r->timeout_ev, deadline - now);
}

/* Open loop: a keep-alive connection that served answers before may be closed by the
 * server as idle just as a request goes out on it; then nothing of an answer comes, and
 * the server never took the request. Such a request goes back to the front of the
 * waiting FIFO (its deadline is the earliest there) and is sent again, once, on another
 * connection, still timed from its schedule, as HTTP clients do. Returns whether c's
 * request was requeued (and detached from c). */
static bool requeue_unanswered(lg_run_t *r, sw_lg_conn_t *c)
{
    if (r->o->concurrency || c->retried || c->answers == 0 || !sw__lg_conn_got_nothing(c))
        return false;
    r->st->retries++;
    lg_pending_ring_insert_at(&r->pending, 0, (lg_pending_t){c->due, c->seq, true});
    c->has_req = false;
    list_remove(r, c);
    return true;
}

static void send_req(lg_run_t *r, sw_lg_conn_t *c, sw_time_t now)
{
    note_late(r, now - c->due);
    r->st->sent++;
    r->iv.sent++;
    c->sent_at = now;
    const sw_lg_payloads_t *p = r->o->payloads;
    size_t i = (size_t)(c->seq % p->count);
    int rc = sw__lg_conn_send(c, p->req[i], p->req_len[i]);
    if (rc < 0) {
        char why[128];
        snprintf(why, sizeof(why), "send: %s", strerror(-rc));
        note_closed(r, c);
        if (!requeue_unanswered(r, c))
            finish(r, c, OUT_TRANSPORT, 0, why, now);
        move_to(r, c, WHERE_CLOSED);
    }
}

/* Gives c (idle, connecting or open) the request scheduled at due. */
static void attach(lg_run_t *r, sw_lg_conn_t *c, lg_pending_t p, sw_time_t now)
{
    sw_time_t due = p.due;
    c->has_req = true;
    c->retried = p.retried;
    c->seq = p.seq;
    c->due = due;
    move_to(r, c, WHERE_FLIGHT);
    r->st->peak_in_flight = SW_MAX(r->st->peak_in_flight, (unsigned)r->lists[WHERE_FLIGHT].len);
    arm_timeout(r, due + r->o->timeout, now);
    if (c->state == SW_LG_CONN_OPEN)
        send_req(r, c, now);
}

/* Hands waiting requests to connections as they can be had. */
static void pump(lg_run_t *r, sw_time_t now)
{
    while (r->pending.len) {
        int err;
        sw_lg_conn_t *c = take_conn(r, &err);
        if (!c && !err)
            return;
        lg_pending_t p = lg_pending_ring_pop_front(&r->pending);
        if (c) {
            attach(r, c, p, now);
        } else {
            char why[128];
            snprintf(why, sizeof(why), "connect: %s", strerror(-err));
            account(r, p.due, OUT_TRANSPORT, 0, why, now);
        }
    }
}

/* Open loop: a request is due. */
static void issue(lg_run_t *r, sw_time_t due, sw_time_t now)
{
    r->st->requests++;
    lg_pending_ring_push_back(&r->pending, (lg_pending_t){due, r->seq++, false});
    arm_timeout(r, due + r->o->timeout, now);
    pump(r, now);
    r->st->waited_for_conn += r->pending.len > 0; /* FIFO: if any waits, this one does */
}

/* Closed loop: c's next request, now. */
static void issue_closed(lg_run_t *r, sw_lg_conn_t *c, sw_time_t now)
{
    r->st->requests++;
    uint64_t seq = r->seq++;
    if (c->state == SW_LG_CONN_CLOSED) {
        int rc = open_conn(r, c);
        if (rc < 0) {
            char why[128];
            snprintf(why, sizeof(why), "connect: %s", strerror(-rc));
            account(r, now, OUT_TRANSPORT, 0, why, now);
            arm_in(c->pause, CLOSED_LOOP_PAUSE_US);
            return;
        }
    }
    attach(r, c, (lg_pending_t){now, seq, false}, now);
}

static void maybe_finish(lg_run_t *r)
{
    if (r->running && r->schedule_done && !r->lists[WHERE_FLIGHT].len && !r->pending.len)
        event_base_loopexit(r->base, NULL);
}

/* Places c after its request ended: the next request in closed loop, else idle or
 * closed. */
static void release(lg_run_t *r, sw_lg_conn_t *c, sw_time_t now, bool failed)
{
    if (r->o->concurrency && !r->schedule_done) {
        if (failed)
            arm_in(c->pause, CLOSED_LOOP_PAUSE_US);
        else
            issue_closed(r, c, now);
        return;
    }
    move_to(r, c, c->state == SW_LG_CONN_OPEN ? WHERE_IDLE : WHERE_CLOSED);
}

static void on_pause_over(evutil_socket_t fd, short what, void *arg)
{
    sw_lg_conn_t *c = arg;
    lg_run_t *r = c->ops->self;
    (void)fd;
    (void)what;
    if (r->schedule_done) {
        move_to(r, c, c->state == SW_LG_CONN_OPEN ? WHERE_IDLE : WHERE_CLOSED);
        maybe_finish(r);
        return;
    }
    issue_closed(r, c, sw_clock_now());
}

/* ---- Connection callbacks ---- */

static void start(lg_run_t *r, sw_time_t now);

/* A connection made before the schedule started: once every first connect has ended,
 * the schedule starts (or the run fails when none succeeded). */
static void first_connect_ended(lg_run_t *r, sw_time_t now)
{
    if (--r->connecting_at_start > 0)
        return;
    if (r->n_open == 0) {
        sw_set_error(r->errbuf, r->errlen, "cannot connect to %s: %s: is the server running?",
                     r->o->url, r->st->first_transport);
        r->rc = -ECONNREFUSED;
        event_base_loopexit(r->base, NULL);
        return;
    }
    start(r, now);
}

static void on_connected(void *self, sw_lg_conn_t *c)
{
    lg_run_t *r = self;
    sw_time_t now = sw_clock_now();
    if (c->has_req) {
        send_req(r, c, now);
    } else if (!r->running) {
        move_to(r, c, WHERE_IDLE);
        first_connect_ended(r, now);
        return;
    } else if (r->o->concurrency && !r->schedule_done) {
        issue_closed(r, c, now); /* a first connect that outlasted the wait */
    } else {
        move_to(r, c, WHERE_IDLE);
    }
    pump(r, now);
    maybe_finish(r);
}

static void on_failed(void *self, sw_lg_conn_t *c, const char *why)
{
    lg_run_t *r = self;
    sw_time_t now = sw_clock_now();
    note_closed(r, c);
    if (!r->running) {
        copy_first(r->st->first_transport, sizeof(r->st->first_transport), why);
        move_to(r, c, WHERE_CLOSED);
        first_connect_ended(r, now);
        return;
    }
    if (c->has_req && requeue_unanswered(r, c)) {
        move_to(r, c, WHERE_CLOSED);
    } else if (c->has_req) {
        finish(r, c, OUT_TRANSPORT, 0, why, now);
        release(r, c, now, true);
    } else {
        /* No request was lost: the server closed an idle connection (or one not yet
         * used failed to connect, which the next request will retry). */
        if (why)
            copy_first(r->st->first_transport, sizeof(r->st->first_transport), why);
        release(r, c, now, why != NULL);
    }
    pump(r, now);
    maybe_finish(r);
}

/* "HTTP 429: {...}" with the body's start, printable characters only. */
static void describe_status(const sw_lg_answer_t *a, char *out, size_t len)
{
    int n = snprintf(out, len, "HTTP %d: ", a->status);
    size_t k = n > 0 && (size_t)n < len ? (size_t)n : 0;
    for (size_t i = 0; i < a->body_len && k + 1 < len && i < 200; i++) {
        char ch = a->body[i];
        out[k++] = ch >= 0x20 && ch < 0x7f ? ch : ' ';
    }
    out[k] = '\0';
}

static void on_answered(void *self, sw_lg_conn_t *c, const sw_lg_answer_t *a)
{
    lg_run_t *r = self;
    sw_time_t now = sw_clock_now();
    char why[320];
    size_t hits = 0;
    lg_outcome_t out = OUT_OK;
    if (a->status != 200) {
        out = OUT_STATUS;
        describe_status(a, why, sizeof(why));
    } else if (!sw__lg_payloads_check(r->o->payloads, (size_t)(c->seq % r->o->payloads->count),
                                      a->body, a->body_len, &hits, why, sizeof(why))) {
        out = OUT_WRONG;
    } else {
        r->st->label_rows += r->o->payloads->rows;
        r->st->label_hits += hits;
    }
    if (a->retry_after_s >= 0)
        r->st->retry_after_max_s = SW_MAX(r->st->retry_after_max_s, a->retry_after_s);
    c->answers++;
    if (c->state == SW_LG_CONN_CLOSED)
        note_closed(r, c);
    finish(r, c, out, a->status, why, now);
    release(r, c, now, false);
    pump(r, now);
    maybe_finish(r);
}

/* ---- Timers ---- */

static sw_time_t deadline_of_next(const lg_run_t *r)
{
    sw_time_t next = SW_TIME_NEVER;
    if (r->lists[WHERE_FLIGHT].head)
        next = r->lists[WHERE_FLIGHT].head->due;
    if (r->pending.len)
        next = SW_MIN(next, lg_pending_ring_front(&r->pending)->due);
    return next == SW_TIME_NEVER ? next : next + r->o->timeout;
}

static void on_timeout_due(evutil_socket_t fd, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)fd;
    (void)what;
    sw_time_t now = sw_clock_now();
    sw_lg_conn_t *c;
    while ((c = r->lists[WHERE_FLIGHT].head) != NULL && c->due + r->o->timeout <= now) {
        if (c->state != SW_LG_CONN_CLOSED) {
            sw__lg_conn_close(c);
            note_closed(r, c);
        }
        finish(r, c, OUT_TIMEOUT, 0, NULL, now);
        release(r, c, now, false);
    }
    while (r->pending.len && lg_pending_ring_front(&r->pending)->due + r->o->timeout <= now)
        account(r, lg_pending_ring_pop_front(&r->pending).due, OUT_TIMEOUT, 0, NULL, now);
    sw_time_t next = deadline_of_next(r);
    if (next != SW_TIME_NEVER)
        arm_in(r->timeout_ev, next - now);
    pump(r, now);
    maybe_finish(r);
}

static sw_time_t scheduled(const lg_run_t *r, sw_time_t arrival)
{
    return r->t0 + (sw_time_t)((double)arrival / r->o->speedup + 0.5);
}

/* Open loop: sends every request now due, then arms itself for the next. */
static void on_send_due(evutil_socket_t fd, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)fd;
    (void)what;
    sw_time_t now = sw_clock_now();
    for (int n = 0; r->more == 1 && n < SEND_BATCH; n++) {
        sw_time_t due = scheduled(r, r->next_at);
        if (due > now)
            break;
        issue(r, due, now);
        r->more = sw_trace_next(r->trace, &r->next_at);
    }
    if (r->more == 1) {
        arm_in(r->send_ev, scheduled(r, r->next_at) - now);
    } else {
        if (r->more < 0 && r->rc == 0) {
            sw_set_error(r->errbuf, r->errlen, "%s", sw_trace_error(r->trace));
            r->rc = r->more;
        }
        r->schedule_done = true;
        r->stopped_at = now;
    }
    maybe_finish(r);
}

/* Closed loop: the duration is over; connections finish their requests. */
static void on_duration_over(evutil_socket_t fd, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)fd;
    (void)what;
    r->schedule_done = true;
    r->stopped_at = sw_clock_now();
    for (unsigned i = 0; i < r->n_conns; i++) {
        sw_lg_conn_t *c = r->conns[i];
        if (evtimer_pending(c->pause, NULL)) {
            evtimer_del(c->pause);
            move_to(r, c, c->state == SW_LG_CONN_OPEN ? WHERE_IDLE : WHERE_CLOSED);
        }
    }
    maybe_finish(r);
}

/* ---- Timeline and progress ---- */

static void timeline_header(FILE *f)
{
    fprintf(f, "start_s,end_s,sent,ok,errors,in_flight,latency_p50_ms,latency_p99_ms,"
               "slo_attainment,max_send_lateness_ms\n");
}

/* Writes the row of the interval that ends at `end` (from t0) and starts the next. A
 * percentile of an interval with no right answer, and the attainment of one in which no
 * request ended, are nan. */
static void timeline_row(lg_run_t *r, sw_time_t end)
{
    lg_interval_t *iv = &r->iv;
    FILE *f = r->o->timeline;
    if (f) {
        bool any = iv->latency.count > 0;
        fprintf(f, "%.3f,%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%zu,%.3f,%.3f,%.6f,%.3f\n",
                sw_time_to_s((sw_time_t)iv->index * r->o->interval), sw_time_to_s(end), iv->sent,
                iv->ok, iv->errors, r->lists[WHERE_FLIGHT].len + r->pending.len,
                any ? sw_hist_quantile_us(&iv->latency, 0.5) / 1e3 : NAN,
                any ? sw_hist_quantile_us(&iv->latency, 0.99) / 1e3 : NAN,
                iv->done ? (double)iv->met / (double)iv->done : NAN, sw_time_to_ms(iv->max_late));
    }
    uint64_t next = iv->index + 1;
    memset(iv, 0, offsetof(lg_interval_t, latency));
    sw_hist_init(&iv->latency);
    iv->index = next;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)fd;
    (void)what;
    timeline_row(r, (sw_time_t)(r->iv.index + 1) * r->o->interval);
}

static void progress_line(lg_run_t *r, sw_time_t now, bool last)
{
    const sw_lg_stats_t *st = r->st;
    double dt = sw_time_to_s(now - r->progress_at);
    double rate = dt > 0 ? (double)(st->sent - r->progress_sent) / dt : 0;
    uint64_t errors = st->requests - st->ok - r->lists[WHERE_FLIGHT].len - r->pending.len;
    /* Falling behind is said in the line itself, never left to the summary. */
    bool behind = r->progress_late > SW_LG_LATE_US || r->pending.len > 0;
    fprintf(stderr,
            "%sloadgen %7.1f s  sent %" PRIu64 " (%.0f/s)  in flight %zu  ok %" PRIu64
            "  errors %" PRIu64 "  late %.1f ms (max %.1f)%s%s",
            r->o->progress_tty ? "\r" : "", sw_time_to_s(now - r->t0), st->sent, rate,
            r->lists[WHERE_FLIGHT].len + r->pending.len, st->ok, errors,
            sw_time_to_ms(r->progress_late), sw_time_to_ms(st->max_lateness),
            behind               ? "  BEHIND SCHEDULE"
            : r->o->progress_tty ? "                 "
                                 : "",
            r->o->progress_tty && !last ? "" : "\n");
    fflush(stderr);
    r->progress_at = now;
    r->progress_sent = st->sent;
    r->progress_late = 0;
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)fd;
    (void)what;
    progress_line(r, sw_clock_now(), false);
}

/* SIGINT or SIGTERM: the first stops the schedule and waits for the answers still due,
 * the second gives up on them. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)what;
    (void)sig;
    if (++r->signals > 1 || !r->running) {
        sw_set_error(r->errbuf, r->errlen, "stopped by a second signal before every answer was in");
        r->rc = -EINTR;
        event_base_loopbreak(r->base);
        return;
    }
    r->st->interrupted = true;
    if (!r->schedule_done) {
        r->schedule_done = true;
        r->stopped_at = sw_clock_now();
    }
    event_del(r->send_ev);
    fprintf(stderr,
            "\nspillway loadgen: stopping; waiting for %zu answers (signal again to "
            "quit)\n",
            r->lists[WHERE_FLIGHT].len + r->pending.len);
    maybe_finish(r);
}

/* The first connections did not all finish within CONNECT_WAIT_US: start with those
 * made, or fail when there are none. */
static void on_start_wait_over(evutil_socket_t fd, short what, void *arg)
{
    lg_run_t *r = arg;
    (void)fd;
    (void)what;
    if (r->running)
        return;
    if (r->lists[WHERE_IDLE].len == 0) {
        sw_set_error(r->errbuf, r->errlen, "cannot connect to %s within %lld s: %s", r->o->url,
                     (long long)(CONNECT_WAIT_US / SW_US_PER_S),
                     r->st->first_transport[0] ? r->st->first_transport : "no answer");
        r->rc = -ETIMEDOUT;
        event_base_loopexit(r->base, NULL);
        return;
    }
    start(r, sw_clock_now());
}

/* ---- The run ---- */

static void start(lg_run_t *r, sw_time_t now)
{
    r->running = true;
    r->t0 = r->progress_at = now;
    r->st->first_transport[0] = '\0'; /* a first connect that failed is no request's error */
    getrusage(RUSAGE_SELF, &r->ru0);
    struct timeval tick = {.tv_sec = r->o->interval / SW_US_PER_S,
                           .tv_usec = r->o->interval % SW_US_PER_S};
    event_add(r->tick_ev, &tick);
    if (r->o->progress)
        event_add(r->progress_ev, &(struct timeval){.tv_sec = 1});
    if (r->o->concurrency) {
        r->end = now + sw_s_to_time(r->o->duration_s);
        arm_in(r->send_ev, r->end - now);
        for (unsigned i = 0; i < r->n_conns; i++)
            if (r->conns[i]->state != SW_LG_CONN_CONNECTING)
                issue_closed(r, r->conns[i], now);
        return;
    }
    r->more = sw_trace_next(r->trace, &r->next_at);
    arm_in(r->send_ev, r->more == 1 ? scheduled(r, r->next_at) - now : 0);
}

static double cpu_us_since(const struct rusage *a)
{
    struct rusage b;
    getrusage(RUSAGE_SELF, &b);
    double user = (double)(b.ru_utime.tv_sec - a->ru_utime.tv_sec) * 1e6 +
                  (double)(b.ru_utime.tv_usec - a->ru_utime.tv_usec);
    double sys = (double)(b.ru_stime.tv_sec - a->ru_stime.tv_sec) * 1e6 +
                 (double)(b.ru_stime.tv_usec - a->ru_stime.tv_usec);
    return user + sys;
}

/* After the loop: the run's totals and its last, partial timeline row. */
static void conclude(lg_run_t *r)
{
    if (!r->running)
        return;
    sw_time_t now = sw_clock_now();
    sw_lg_stats_t *st = r->st;
    st->cpu_us = cpu_us_since(&r->ru0);
    st->wall_s = sw_time_to_s(now - r->t0);
    if (!r->o->concurrency && !st->interrupted && r->more == 0)
        st->schedule_s = sw_time_to_s(sw_trace_covered(r->trace)) / r->o->speedup;
    else
        st->schedule_s = sw_time_to_s((r->stopped_at ? r->stopped_at : now) - r->t0);
    if (r->o->progress)
        progress_line(r, now, true);
    sw_time_t elapsed = now - r->t0;
    while ((sw_time_t)(r->iv.index + 1) * r->o->interval < elapsed)
        timeline_row(r, (sw_time_t)(r->iv.index + 1) * r->o->interval);
    timeline_row(r, elapsed);
}

static int setup(lg_run_t *r)
{
    const sw_lg_run_opts_t *o = r->o;
    struct event_config *ec = event_config_new();
    /* Sends are timed to the microsecond: a millisecond-rounded epoll timeout would make
     * every send up to 1 ms late. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    r->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!r->base) {
        sw_set_error(r->errbuf, r->errlen, "cannot create an event loop");
        return -ENOMEM;
    }
    if (!o->concurrency) {
        int rc = sw_trace_open(&r->trace, o->trace_path, &o->trace_opts, r->errbuf, r->errlen);
        if (rc < 0)
            return rc;
    }
    r->send_ev = evtimer_new(r->base, o->concurrency ? on_duration_over : on_send_due, r);
    r->timeout_ev = evtimer_new(r->base, on_timeout_due, r);
    r->tick_ev = event_new(r->base, -1, EV_PERSIST, on_tick, r);
    r->progress_ev = event_new(r->base, -1, EV_PERSIST, on_progress, r);
    r->start_ev = evtimer_new(r->base, on_start_wait_over, r);
    r->sig_ev[0] = evsignal_new(r->base, SIGINT, on_signal, r);
    r->sig_ev[1] = evsignal_new(r->base, SIGTERM, on_signal, r);
    event_add(r->sig_ev[0], NULL);
    event_add(r->sig_ev[1], NULL);
    r->max_conns = o->concurrency ? o->concurrency : o->max_connections;
    r->conns = sw_calloc(r->max_conns, sizeof(*r->conns));
    r->ops = (sw_lg_conn_ops_t){r, on_connected, on_answered, on_failed};
    return 0;
}

/* Opens the first connections; the schedule starts once they are made. */
static int connect_first(lg_run_t *r)
{
    unsigned n = r->o->concurrency ? r->o->concurrency : r->o->connections;
    for (unsigned i = 0; i < n; i++) {
        sw_lg_conn_t *c = new_slot(r);
        int rc = open_conn(r, c);
        if (rc < 0) {
            char why[128];
            snprintf(why, sizeof(why), "connect: %s", strerror(-rc));
            copy_first(r->st->first_transport, sizeof(r->st->first_transport), why);
            move_to(r, c, WHERE_CLOSED);
            continue;
        }
        r->connecting_at_start++;
    }
    if (r->connecting_at_start == 0) {
        sw_set_error(r->errbuf, r->errlen, "cannot connect to %s: %s: is the server running?",
                     r->o->url, r->st->first_transport);
        return -ECONNREFUSED;
    }
    arm_in(r->start_ev, CONNECT_WAIT_US);
    return 0;
}

static void teardown(lg_run_t *r)
{
    for (unsigned i = 0; i < r->n_conns; i++) {
        if (r->conns[i]->pause)
            event_free(r->conns[i]->pause);
        sw__lg_conn_deinit(r->conns[i]);
        sw_free(r->conns[i]);
    }
    sw_free(r->conns);
    struct event *evs[] = {r->send_ev,  r->timeout_ev, r->tick_ev,  r->progress_ev,
                           r->start_ev, r->sig_ev[0],  r->sig_ev[1]};
    for (size_t i = 0; i < SW_ARRAY_LEN(evs); i++)
        if (evs[i])
            event_free(evs[i]);
    lg_pending_ring_deinit(&r->pending);
    sw_trace_close(r->trace);
    if (r->base)
        event_base_free(r->base);
}

int sw__lg_run(const sw_lg_run_opts_t *o, sw_lg_stats_t *st, char *errbuf, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    sw_hist_init(&st->latency);
    st->retry_after_max_s = -1;
    lg_run_t *r = sw_calloc(1, sizeof(*r));
    r->o = o;
    r->st = st;
    r->errbuf = errbuf;
    r->errlen = errlen;
    sw_hist_init(&r->iv.latency);
    if (o->timeline)
        timeline_header(o->timeline);
    int rc = setup(r);
    if (rc == 0)
        rc = connect_first(r);
    if (rc == 0) {
        event_base_dispatch(r->base);
        conclude(r);
        rc = r->rc;
    }
    teardown(r);
    sw_free(r);
    return rc;
}
