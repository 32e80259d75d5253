/* The worker listener (see worker_listener.h). Each connection is a bufferevent that owns its
 * socket. A connection is UNREGISTERED until its Hello is admitted, then REGISTERED under
 * its worker id, then STOPPING once we sent Stop (its close is expected). One periodic
 * sweep closes connections that never said Hello and declares silent workers lost: a
 * worker sends a Heartbeat every second even while computing, so silence means the
 * process is stopped, wedged or cut off, and its batch in hand must go elsewhere.
 *
 * A connection is freed only from the sweep or from an explicit call, never inside its
 * own bufferevent callback while libevent may still touch it: closing marks it dead,
 * frees the bufferevent (which libevent allows from its callbacks) and queues the struct
 * for the next sweep. */
#include "serving/worker_listener.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "backends/frame.h"
#include "common/net.h"

#define SW_LOG_MODULE "workers"
#include "common/log.h"

typedef enum { WC_UNREGISTERED = 0, WC_REGISTERED, WC_STOPPING, WC_DEAD } wconn_state_t;

typedef struct wconn {
    TAILQ_ENTRY(wconn) link;
    sw_srv_workers_t *ws;
    struct bufferevent *bev;
    wconn_state_t state;
    uint32_t worker_id;
    sw_time_t opened_at, last_seen;
    char peer[80];
} wconn_t;

TAILQ_HEAD(wconn_list, wconn);

struct sw_srv_workers {
    struct event_base *base;
    struct evconnlistener *lis;
    sw_srv_workers_opts_t o;
    sw_srv_workers_events_t ev;
    char address[80];
    struct wconn_list live, dead;
    wconn_t **by_id; /* registered connections, by worker id */
    size_t by_id_cap;
    struct event *sweep_ev, *defer_ev;
    struct evbuffer *scratch; /* for sw_frame_send */
    sw_srv_workers_stats_t st;
    /* Losses found inside a bufferevent callback are reported from defer_ev, so the owner
     * never runs inside our callbacks' stack with a half-closed connection. */
    uint32_t *lost_ids;
    char (*lost_why)[160];
    size_t n_lost, lost_cap;
};

static wconn_t *registered(const sw_srv_workers_t *w, uint32_t id)
{
    return id < w->by_id_cap ? w->by_id[id] : NULL;
}

static void by_id_set(sw_srv_workers_t *w, uint32_t id, wconn_t *c)
{
    if (id >= w->by_id_cap) {
        size_t cap = w->by_id_cap ? w->by_id_cap : 64;
        while (cap <= id)
            cap *= 2;
        w->by_id = sw_realloc(w->by_id, cap * sizeof(*w->by_id));
        memset(w->by_id + w->by_id_cap, 0, (cap - w->by_id_cap) * sizeof(*w->by_id));
        w->by_id_cap = cap;
    }
    w->by_id[id] = c;
}

static void queue_loss(sw_srv_workers_t *w, uint32_t id, const char *why)
{
    if (w->n_lost == w->lost_cap) {
        w->lost_cap = w->lost_cap ? w->lost_cap * 2 : 8;
        w->lost_ids = sw_realloc(w->lost_ids, w->lost_cap * sizeof(*w->lost_ids));
        w->lost_why = sw_realloc(w->lost_why, w->lost_cap * sizeof(*w->lost_why));
    }
    w->lost_ids[w->n_lost] = id;
    snprintf(w->lost_why[w->n_lost], sizeof(w->lost_why[0]), "%s", why);
    w->n_lost++;
    event_active(w->defer_ev, 0, 0);
}

/* Closes `c` now: its socket goes, its struct waits for the sweep. A registered worker
 * that was not being stopped is reported lost (later, from defer_ev) unless `quiet`. */
static void conn_close(wconn_t *c, const char *why, bool quiet)
{
    sw_srv_workers_t *w = c->ws;
    if (c->state == WC_DEAD)
        return;
    if (c->state == WC_REGISTERED || c->state == WC_STOPPING) {
        by_id_set(w, c->worker_id, NULL);
        if (c->state == WC_REGISTERED && !quiet) {
            w->st.workers_lost++;
            SW_LOG_WARN("worker lost worker=%" PRIu32 " peer=%s reason=\"%s\"", c->worker_id,
                        c->peer, why);
            queue_loss(w, c->worker_id, why);
        } else {
            SW_LOG_INFO("worker connection closed worker=%" PRIu32 " peer=%s reason=\"%s\"",
                        c->worker_id, c->peer, why);
        }
    } else {
        SW_LOG_INFO("worker connection closed before Hello peer=%s reason=\"%s\"", c->peer, why);
    }
    bufferevent_free(c->bev);
    c->bev = NULL;
    c->state = WC_DEAD;
    TAILQ_REMOVE(&w->live, c, link);
    TAILQ_INSERT_TAIL(&w->dead, c, link);
    w->st.connections_open--;
}

static void on_hello(wconn_t *c, const Spillway__Hello *h)
{
    sw_srv_workers_t *w = c->ws;
    const char *why = "refused";
    uint32_t id = w->ev.hello(w->ev.self, h, c->peer, &why);
    if (id != 0 && registered(w, id)) {
        id = 0;
        why = "a connection for this worker is already open";
    }
    if (id == 0) {
        w->st.connections_refused++;
        SW_LOG_WARN("worker refused peer=%s type=%s reason=\"%s\"", c->peer,
                    h->instance_type ? h->instance_type : "", why);
        conn_close(c, why, true);
        return;
    }
    c->worker_id = id;
    c->state = WC_REGISTERED;
    by_id_set(w, id, c);
    w->st.workers_admitted++;
}

/* Handles one decoded frame; the connection may be closed on return. */
static void on_frame(wconn_t *c, const Spillway__Frame *f)
{
    sw_srv_workers_t *w = c->ws;
    bool admitted = c->state == WC_REGISTERED || c->state == WC_STOPPING;
    if (f->body_case == SPILLWAY__FRAME__BODY_HELLO && c->state == WC_UNREGISTERED) {
        on_hello(c, f->hello);
    } else if (!admitted) {
        w->st.bad_frames++;
        conn_close(c, "the first frame was not a Hello", true);
    } else if (f->body_case == SPILLWAY__FRAME__BODY_RESULT) {
        w->st.results_received++;
        w->ev.result(w->ev.self, c->worker_id, f->result);
    } else if (f->body_case == SPILLWAY__FRAME__BODY_DRAIN) {
        w->ev.drain(w->ev.self, c->worker_id, f->drain->reason ? f->drain->reason : "");
    } else if (f->body_case != SPILLWAY__FRAME__BODY_HEARTBEAT) {
        w->st.bad_frames++;
        char why[96];
        snprintf(why, sizeof(why), "unexpected %s frame from a worker",
                 sw_frame_type_name(f->body_case));
        conn_close(c, why, false);
    }
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
    wconn_t *c = arg;
    sw_srv_workers_t *w = c->ws;
    c->last_seen = sw_clock_now();
    struct evbuffer *in = bufferevent_get_input(bev);
    /* A result callback may close this connection (the owner forgets the worker); stop
     * reading as soon as it is dead. */
    while (c->state != WC_DEAD) {
        Spillway__Frame *f = NULL;
        char err[160];
        int rc = sw_frame_read(in, w->o.max_frame_bytes, &f, err, sizeof(err));
        if (rc == 0)
            break;
        if (rc < 0) {
            w->st.bad_frames++;
            conn_close(c, err, false);
            break;
        }
        on_frame(c, f);
        spillway__frame__free_unpacked(f, NULL);
    }
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    wconn_t *c = arg;
    char why[160];
    if (what & BEV_EVENT_EOF)
        snprintf(why, sizeof(why), "the worker closed its connection");
    else
        snprintf(why, sizeof(why), "connection error: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    conn_close(c, why, false);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)lis;
    (void)salen;
    sw_srv_workers_t *w = arg;
    w->st.connections_accepted++;
    if (w->st.connections_open >= w->o.max_connections) {
        w->st.connections_refused++;
        SW_LOG_WARN("worker connection refused: %u open, the limit", w->st.connections_open);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* batches are latency-bound */
    wconn_t *c = sw_calloc(1, sizeof(*c));
    c->ws = w;
    c->opened_at = c->last_seen = sw_clock_now();
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        char host[INET6_ADDRSTRLEN];
        const void *addr = sa->sa_family == AF_INET
                               ? (const void *)&((struct sockaddr_in *)sa)->sin_addr
                               : (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr;
        unsigned port = ntohs(sa->sa_family == AF_INET ? ((struct sockaddr_in *)sa)->sin_port
                                                       : ((struct sockaddr_in6 *)sa)->sin6_port);
        evutil_inet_ntop(sa->sa_family, addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
    }
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        sw_free(c);
        return;
    }
    bufferevent_setcb(c->bev, on_conn_read, NULL, on_conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    TAILQ_INSERT_TAIL(&w->live, c, link);
    w->st.connections_open++;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw_srv_workers_t *w = arg;
    sw_time_t now = sw_clock_now();
    wconn_t *c, *next;
    for (c = TAILQ_FIRST(&w->live); c; c = next) {
        next = TAILQ_NEXT(c, link);
        char why[96];
        if (c->state == WC_UNREGISTERED &&
            now - c->opened_at > w->o.hello_timeout_ms * SW_US_PER_MS) {
            snprintf(why, sizeof(why), "no Hello within %" PRId64 " ms", w->o.hello_timeout_ms);
            conn_close(c, why, true);
        } else if (c->state != WC_UNREGISTERED &&
                   now - c->last_seen > w->o.heartbeat_timeout_ms * SW_US_PER_MS) {
            snprintf(why, sizeof(why), "silent for %" PRId64 " ms (heartbeat timeout %" PRId64
                     " ms)", (int64_t)((now - c->last_seen) / SW_US_PER_MS),
                     w->o.heartbeat_timeout_ms);
            conn_close(c, why, false);
        }
    }
    while ((c = TAILQ_FIRST(&w->dead)) != NULL) {
        TAILQ_REMOVE(&w->dead, c, link);
        sw_free(c);
    }
}

static void on_deferred_losses(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw_srv_workers_t *w = arg;
    /* The owner may close more connections while we report: take the list first. */
    for (size_t i = 0; i < w->n_lost; i++) {
        uint32_t id = w->lost_ids[i];
        char why[160];
        memcpy(why, w->lost_why[i], sizeof(why));
        w->ev.lost(w->ev.self, id, why);
    }
    w->n_lost = 0;
}

static int bind_listener(sw_srv_workers_t *w, char *errbuf, size_t errlen)
{
    char host[256];
    uint16_t port;
    if (sw_net_split_host_port(w->o.listen, host, sizeof(host), &port, true) < 0) {
        snprintf(errbuf, errlen, "worker listen address %s: expected HOST:PORT", w->o.listen);
        return -EINVAL;
    }
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV};
    struct evutil_addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    int gai = evutil_getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(errbuf, errlen, "worker listen address %s: %s", w->o.listen,
                 evutil_gai_strerror(gai));
        return -EINVAL;
    }
    /* The largest backlog the kernel allows (it caps this at net.core.somaxconn): a
     * scale-out of hundreds of VMs dials in at once, and with a backlog of 128 the SYNs
     * past it are dropped and each such worker waits a 1 s retransmission before it can
     * say Hello (the frontend's own listener measured 10,000 connects in 55 s that way,
     * 1.3 s without; see serving/http.c). */
    w->lis = evconnlistener_new_bind(w->base, on_accept, w,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                         LEV_OPT_CLOSE_ON_EXEC,
                                     65535, ai->ai_addr, (int)ai->ai_addrlen);
    int err = errno;
    evutil_freeaddrinfo(ai);
    if (!w->lis) {
        snprintf(errbuf, errlen, "worker listen address %s: cannot listen: %s", w->o.listen,
                 strerror(err));
        return -err;
    }
    if (sw_net_local_address(evconnlistener_get_fd(w->lis), w->address, sizeof(w->address)) < 0)
        snprintf(w->address, sizeof(w->address), "%s", w->o.listen);
    return 0;
}

int sw_srv_workers_create(struct event_base *base, const sw_srv_workers_opts_t *opts,
                          const sw_srv_workers_events_t *events, sw_srv_workers_t **out,
                          char *errbuf, size_t errlen)
{
    sw_srv_workers_t *w = sw_calloc(1, sizeof(*w));
    w->base = base;
    w->o = *opts;
    w->ev = *events;
    if (!w->o.max_frame_bytes)
        w->o.max_frame_bytes = SW_FRAME_MAX_BYTES_DEFAULT;
    if (w->o.heartbeat_timeout_ms <= 0)
        w->o.heartbeat_timeout_ms = 5000;
    if (w->o.hello_timeout_ms <= 0)
        w->o.hello_timeout_ms = 5000;
    if (!w->o.max_connections)
        w->o.max_connections = 4096;
    TAILQ_INIT(&w->live);
    TAILQ_INIT(&w->dead);
    int rc = bind_listener(w, errbuf, errlen);
    if (rc < 0) {
        sw_free(w);
        return rc;
    }
    /* A quarter of the shorter timeout: a loss is seen at most 25 % late. */
    int64_t period_ms = SW_MAX(10, SW_MIN(w->o.heartbeat_timeout_ms, w->o.hello_timeout_ms) / 4);
    struct timeval tv = {.tv_sec = period_ms / 1000, .tv_usec = (period_ms % 1000) * 1000};
    w->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, w);
    w->defer_ev = event_new(base, -1, 0, on_deferred_losses, w);
    w->scratch = evbuffer_new();
    if (!w->scratch)
        abort(); /* out of memory is fatal */
    event_add(w->sweep_ev, &tv);
    *out = w;
    return 0;
}

const char *sw_srv_workers_address(const sw_srv_workers_t *w) { return w->address; }

int sw_srv_workers_send_batch(sw_srv_workers_t *w, uint32_t worker_id, const Spillway__Batch *batch)
{
    wconn_t *c = registered(w, worker_id);
    if (!c || c->state != WC_REGISTERED)
        return -ENOTCONN;
    Spillway__Frame f;
    sw_frame_init_batch(&f, (Spillway__Batch *)batch);
    if (sw_frame_encoded_bytes(&f) - SW_FRAME_HEADER_BYTES > w->o.max_frame_bytes)
        return -EMSGSIZE;
    int rc = sw_frame_send(c->bev, w->scratch, &f);
    if (rc == 0)
        w->st.batches_sent++;
    return rc;
}

int sw_srv_workers_stop(sw_srv_workers_t *w, uint32_t worker_id, const char *reason)
{
    wconn_t *c = registered(w, worker_id);
    if (!c)
        return -ENOTCONN;
    if (c->state == WC_STOPPING)
        return 0;
    Spillway__Stop stop = SPILLWAY__STOP__INIT;
    stop.reason = (char *)reason;
    Spillway__Frame f;
    sw_frame_init_stop(&f, &stop);
    int rc = sw_frame_send(c->bev, w->scratch, &f);
    c->state = WC_STOPPING;
    return rc;
}

void sw_srv_workers_forget(sw_srv_workers_t *w, uint32_t worker_id)
{
    wconn_t *c = registered(w, worker_id);
    if (c)
        conn_close(c, "forgotten by the frontend", true);
}

bool sw_srv_workers_is_connected(const sw_srv_workers_t *w, uint32_t worker_id)
{
    return registered(w, worker_id) != NULL;
}

void sw_srv_workers_get_stats(const sw_srv_workers_t *w, sw_srv_workers_stats_t *out)
{
    *out = w->st;
}

size_t sw_srv_workers_admitted(const sw_srv_workers_t *w)
{
    size_t n = 0;
    const wconn_t *c;
    TAILQ_FOREACH(c, &w->live, link)
        n += c->state == WC_REGISTERED || c->state == WC_STOPPING;
    return n;
}

void sw_srv_workers_destroy(sw_srv_workers_t *w)
{
    if (!w)
        return;
    wconn_t *c;
    while ((c = TAILQ_FIRST(&w->live)) != NULL)
        conn_close(c, "frontend shutting down", true);
    while ((c = TAILQ_FIRST(&w->dead)) != NULL) {
        TAILQ_REMOVE(&w->dead, c, link);
        sw_free(c);
    }
    if (w->lis)
        evconnlistener_free(w->lis);
    event_free(w->sweep_ev);
    event_free(w->defer_ev);
    evbuffer_free(w->scratch);
    sw_free(w->by_id);
    sw_free(w->lost_ids);
    sw_free(w->lost_why);
    sw_free(w);
}
