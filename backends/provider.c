/* The provider object every kind shares (provider.h): option checks and copies, the queue
 * that delivers reports from the loop instead of from inside the call that caused them,
 * the SIGCHLD watcher of the kinds that start processes, and the static kind, which
 * launches nothing. The local and command kinds live in provider_local.c and
 * provider_command.c behind sw__prov_ops_t. */
#include "backends/provider.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backends/provider_internal.h"
#include "common/net.h"
#include "common/strbuf.h"

#define SW_LOG_MODULE "provider"
#include "common/log.h"

/* Reports delivered per loop callback before it re-arms itself, so a burst of exits
 * cannot hold the loop. */
#define REPORTS_PER_CALLBACK 64
/* How often sw__prov_wait polls. */
#define WAIT_POLL_MS 10

typedef enum { REPORT_LAUNCH_FAILED, REPORT_EXITED, REPORT_TERMINATE_FAILED } report_kind_t;

struct sw__prov_report {
    STAILQ_ENTRY(sw__prov_report) link;
    report_kind_t kind;
    uint32_t worker_id;
    int wait_status;
    bool stop_requested;
    char *why; /* owned; NULL for REPORT_EXITED */
};

/* ---- kinds and names ---- */

static const char *const kind_names[] = {
    [SW_BE_PROVIDER_LOCAL] = "local",
    [SW_BE_PROVIDER_COMMAND] = "command",
    [SW_BE_PROVIDER_STATIC] = "static",
};

int sw_be_provider_kind_parse(const char *name, sw_be_provider_kind_t *out)
{
    for (size_t i = 0; name && i < SW_ARRAY_LEN(kind_names); i++) {
        if (!strcmp(name, kind_names[i])) {
            *out = (sw_be_provider_kind_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *sw_be_provider_kind_name(sw_be_provider_kind_t kind)
{
    return (size_t)kind < SW_ARRAY_LEN(kind_names) ? kind_names[kind] : "unknown";
}

/* ---- reports ---- */

static void on_report(evutil_socket_t fd, short what, void *arg)
{
    sw_be_provider_t *p = arg;
    (void)fd;
    (void)what;
    sw__prov_report_t *r;
    for (int n = 0; n < REPORTS_PER_CALLBACK && (r = STAILQ_FIRST(&p->reports)); n++) {
        STAILQ_REMOVE_HEAD(&p->reports, link);
        const sw_be_provider_events_t *ev = &p->ev;
        switch (r->kind) {
        case REPORT_LAUNCH_FAILED:
            if (ev->launch_failed)
                ev->launch_failed(ev->self, r->worker_id, r->why);
            break;
        case REPORT_EXITED:
            if (ev->exited)
                ev->exited(ev->self, r->worker_id, r->wait_status, r->stop_requested);
            break;
        case REPORT_TERMINATE_FAILED:
            if (ev->terminate_failed)
                ev->terminate_failed(ev->self, r->worker_id, r->why);
            break;
        }
        sw_free(r->why);
        sw_free(r);
    }
    if (!STAILQ_EMPTY(&p->reports))
        event_active(p->report_ev, EV_TIMEOUT, 0);
}

static void report_push(sw_be_provider_t *p, report_kind_t kind, uint32_t worker_id,
                        int wait_status, bool stop_requested, char *why)
{
    sw__prov_report_t *r = sw_calloc(1, sizeof(*r));
    *r = (sw__prov_report_t){.kind = kind,
                             .worker_id = worker_id,
                             .wait_status = wait_status,
                             .stop_requested = stop_requested,
                             .why = why};
    STAILQ_INSERT_TAIL(&p->reports, r, link);
    event_active(p->report_ev, EV_TIMEOUT, 0);
}

/* Formats why, logs it (the owner may not), and queues it. */
static void report_failure(sw_be_provider_t *p, report_kind_t kind, uint32_t worker_id,
                           const char *fmt, va_list ap)
{
    sw_strbuf_t b = {0};
    sw_strbuf_vprintf(&b, fmt, ap);
    char *why = sw_strbuf_take(&b);
    if (kind == REPORT_LAUNCH_FAILED)
        SW_LOG_WARN("launch failed type=%s worker=%" PRIu32 " why=\"%s\"", p->o.type_name,
                    worker_id, why);
    else
        SW_LOG_ERROR("terminate failed type=%s worker=%" PRIu32 " why=\"%s\"", p->o.type_name,
                     worker_id, why);
    report_push(p, kind, worker_id, 0, false, why);
}

void sw__prov_report_launch_failed(sw_be_provider_t *p, uint32_t worker_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failure(p, REPORT_LAUNCH_FAILED, worker_id, fmt, ap);
    va_end(ap);
}

void sw__prov_report_terminate_failed(sw_be_provider_t *p, uint32_t worker_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report_failure(p, REPORT_TERMINATE_FAILED, worker_id, fmt, ap);
    va_end(ap);
}

void sw__prov_report_exited(sw_be_provider_t *p, uint32_t worker_id, int wait_status,
                            bool stop_requested)
{
    report_push(p, REPORT_EXITED, worker_id, wait_status, stop_requested, NULL);
}

/* ---- worker records ---- */

sw__prov_rec_t *sw__prov_find(const sw_be_provider_t *p, uint32_t id)
{
    sw__prov_rec_t *r;
    SLIST_FOREACH(r, &p->recs, link)
        if (r->id == id)
            return r;
    return NULL;
}

void sw__prov_link(sw_be_provider_t *p, sw__prov_rec_t *r)
{
    SLIST_INSERT_HEAD(&p->recs, r, link);
}

void sw__prov_unlink(sw_be_provider_t *p, sw__prov_rec_t *r)
{
    /* Only a record that is linked: SLIST_REMOVE would run off the end for another. */
    sw__prov_rec_t *x;
    SLIST_FOREACH(x, &p->recs, link) {
        if (x == r) {
            SLIST_REMOVE(&p->recs, r, sw__prov_rec, link);
            return;
        }
    }
}

/* ---- small helpers ---- */

static bool token_is_valid(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > SW_BE_PROVIDER_TOKEN_MAX_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return false;
    return true;
}

void sw__prov_token_free(char *token)
{
    if (token)
        explicit_bzero(token, strlen(token));
    sw_free(token);
}

void sw__prov_timer_add_ms(struct event *ev, int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(ev, &tv);
}

size_t sw__prov_wait(sw_be_provider_t *p, int64_t ms, size_t (*left)(const sw_be_provider_t *p))
{
    sw_time_t end = sw_clock_now() + ms * SW_US_PER_MS;
    for (;;) {
        p->ops->reap(p);
        size_t n = left(p);
        if (n == 0 || sw_clock_now() >= end)
            return n;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- the static kind ---- */

static int static_create(sw_be_provider_t *p, char *errbuf, size_t errlen)
{
    (void)p;
    (void)errbuf;
    (void)errlen;
    return 0;
}

static int static_launch(sw_be_provider_t *p, uint32_t worker_id, const char *token)
{
    (void)p;
    (void)worker_id;
    (void)token;
    return SW_EUNSUPPORTED; /* not reached: sw_be_provider_launch refuses first */
}

static void static_terminate(sw_be_provider_t *p, uint32_t worker_id)
{
    (void)p;
    (void)worker_id;
}

static size_t static_pending(const sw_be_provider_t *p)
{
    (void)p;
    return 0;
}

static pid_t static_pid(const sw_be_provider_t *p, uint32_t worker_id)
{
    (void)p;
    (void)worker_id;
    return -1;
}

static void static_nothing(sw_be_provider_t *p)
{
    (void)p;
}

static const sw__prov_ops_t static_ops = {
    .create = static_create,
    .launch = static_launch,
    .terminate = static_terminate,
    .pending = static_pending,
    .pid = static_pid,
    .reap = static_nothing,
    .destroy = static_nothing,
};

/* ---- options ---- */

static char *dup_or_null(const char *s)
{
    return s ? sw_strdup(s) : NULL;
}

static void copy_opts(sw_be_provider_opts_t *dst, const sw_be_provider_opts_t *src)
{
    *dst = *src;
    dst->type_name = dup_or_null(src->type_name);
    dst->connect = dup_or_null(src->connect);
    dst->worker_exe = dup_or_null(src->worker_exe);
    dst->model_path = dup_or_null(src->model_path);
    dst->log_dir = dup_or_null(src->log_dir);
    dst->launch_cmd = dup_or_null(src->launch_cmd);
    dst->terminate_cmd = dup_or_null(src->terminate_cmd);
    dst->extra_args = NULL;
    if (src->extra_args) {
        size_t n = 0;
        while (src->extra_args[n])
            n++;
        const char **v = sw_calloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            v[i] = sw_strdup(src->extra_args[i]);
        dst->extra_args = v;
    }
}

static void free_opts(sw_be_provider_opts_t *o)
{
    const char *strs[] = {o->type_name, o->connect,    o->worker_exe,   o->model_path,
                          o->log_dir,   o->launch_cmd, o->terminate_cmd};
    for (size_t i = 0; i < SW_ARRAY_LEN(strs); i++)
        sw_free((char *)strs[i]);
    for (size_t i = 0; o->extra_args && o->extra_args[i]; i++)
        sw_free((char *)o->extra_args[i]);
    sw_free((char **)o->extra_args);
}

/* Checks of the options every process-starting kind shares. */
static int check_common_opts(const sw_be_provider_opts_t *o, char *errbuf, size_t errlen)
{
    if (!o->type_name || !*o->type_name) {
        sw_set_error(errbuf, errlen, "provider: type_name is required (the instance type)");
        return -EINVAL;
    }
    const char *kind = sw_be_provider_kind_name(o->kind);
    if ((size_t)o->kind >= SW_ARRAY_LEN(kind_names)) {
        sw_set_error(errbuf, errlen, "provider for type %s: unknown kind %d", o->type_name,
                     (int)o->kind);
        return -EINVAL;
    }
    char host[256];
    uint16_t port;
    if (o->kind != SW_BE_PROVIDER_STATIC &&
        sw_net_split_host_port(o->connect, host, sizeof(host), &port, false) < 0) {
        sw_set_error(errbuf, errlen,
                     "provider %s for type %s: connect '%s' is not HOST:PORT (the frontend's "
                     "worker address as the workers can reach it)",
                     kind, o->type_name, o->connect ? o->connect : "");
        return -EINVAL;
    }
    return 0;
}

/* ---- lifecycle ---- */

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    sw_be_provider_t *p = arg;
    (void)fd;
    (void)what;
    p->ops->reap(p);
}

static const sw__prov_ops_t *ops_of(sw_be_provider_kind_t kind)
{
    switch (kind) {
    case SW_BE_PROVIDER_LOCAL: return &sw__prov_local_ops;
    case SW_BE_PROVIDER_COMMAND: return &sw__prov_command_ops;
    case SW_BE_PROVIDER_STATIC: break;
    }
    return &static_ops;
}

static void free_provider(sw_be_provider_t *p)
{
    sw__prov_report_t *r;
    while ((r = STAILQ_FIRST(&p->reports)) != NULL) {
        STAILQ_REMOVE_HEAD(&p->reports, link);
        sw_free(r->why);
        sw_free(r);
    }
    if (p->sigchld_ev)
        event_free(p->sigchld_ev);
    if (p->report_ev)
        event_free(p->report_ev);
    free_opts(&p->o);
    sw_free(p);
}

int sw_be_provider_create(struct event_base *base, const sw_be_provider_opts_t *opts,
                          const sw_be_provider_events_t *ev, sw_be_provider_t **out, char *errbuf,
                          size_t errlen)
{
    *out = NULL;
    int rc = check_common_opts(opts, errbuf, errlen);
    if (rc < 0)
        return rc;
    sw_be_provider_t *p = sw_calloc(1, sizeof(*p));
    STAILQ_INIT(&p->reports);
    SLIST_INIT(&p->recs);
    copy_opts(&p->o, opts);
    p->ops = ops_of(opts->kind);
    if (ev)
        p->ev = *ev;
    p->base = base;
    p->report_ev = event_new(base, -1, 0, on_report, p);
    if (opts->kind != SW_BE_PROVIDER_STATIC) {
        /* libevent runs every SIGCHLD event of the base on each signal, so faas-local and
         * the other providers keep receiving theirs. */
        p->sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, p);
        if (p->sigchld_ev && evsignal_add(p->sigchld_ev, NULL) < 0) {
            event_free(p->sigchld_ev);
            p->sigchld_ev = NULL;
        }
    }
    if (!p->report_ev || (opts->kind != SW_BE_PROVIDER_STATIC && !p->sigchld_ev)) {
        sw_set_error(errbuf, errlen, "provider %s for type %s: cannot set up libevent events",
                     sw_be_provider_kind_name(opts->kind), opts->type_name);
        free_provider(p);
        return -ENOMEM;
    }
    rc = p->ops->create(p, errbuf, errlen);
    if (rc < 0) {
        free_provider(p);
        return rc;
    }
    *out = p;
    return 0;
}

int sw_be_provider_launch(sw_be_provider_t *p, uint32_t worker_id, const char *token)
{
    if (p->ops == &static_ops)
        return SW_EUNSUPPORTED;
    if (!token_is_valid(token))
        return -EINVAL;
    if (sw__prov_find(p, worker_id))
        return -EEXIST;
    return p->ops->launch(p, worker_id, token);
}

int sw_be_provider_terminate(sw_be_provider_t *p, uint32_t worker_id)
{
    p->ops->terminate(p, worker_id);
    return 0;
}

size_t sw_be_provider_pending(const sw_be_provider_t *p)
{
    return p->ops->pending(p);
}

pid_t sw_be_provider_pid(const sw_be_provider_t *p, uint32_t worker_id)
{
    return p->ops->pid(p, worker_id);
}

void sw_be_provider_destroy(sw_be_provider_t *p)
{
    if (!p)
        return;
    p->ops->destroy(p);
    free_provider(p);
}
