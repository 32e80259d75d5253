/* Shared between faas_local.c (the service and its Invoke API) and faas_local_env.c
 * (execution environments and their Runtime API). Not for use outside backends/. */
#ifndef SW_BACKENDS_FAAS_LOCAL_INTERNAL_H
#define SW_BACKENDS_FAAS_LOCAL_INTERNAL_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "backends/faas_local.h"
#include "common/common.h"
#include "common/rng.h"

struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;
struct evbuffer;
struct event;

typedef struct fl_env fl_env_t;
typedef struct fl_inv fl_inv_t;

typedef enum {
    ENV_STARTING, /* spawned, has not asked for work yet */
    ENV_IDLE,     /* asked for work (or finished some) and has none */
    ENV_BUSY,     /* has an invocation assigned (maybe not yet delivered) */
    ENV_STOPPING, /* signalled to exit; removed once reaped */
} fl_env_state_t;

/* One invocation, from the accepted Invoke request until its one answer. */
struct fl_inv {
    STAILQ_ENTRY(fl_inv) link; /* in the service's queue of Event invocations */
    struct sw_be_faas_local *svc;
    const sw_be_faas_local_fn_t *fn;
    fl_env_t *env;                 /* assigned environment, or NULL */
    struct evhttp_request *caller; /* NULL for Event invocations or once the caller left */
    struct evbuffer *event;        /* the payload, owned */
    char id[37];
    char arn[400]; /* as invoked, with the qualifier when one was given */
    bool tail, delivered, cold;
    double init_ms;
    sw_time_t delivered_at;
    struct event *timeout_ev;
};

/* One execution environment: a process plus its Runtime API listener. */
struct fl_env {
    SLIST_ENTRY(fl_env) link; /* in the service's envs */
    struct sw_be_faas_local *svc;
    const sw_be_faas_local_fn_t *fn;
    fl_env_state_t state;
    pid_t pid;
    struct evhttp *http;
    uint16_t port;
    struct evhttp_request *next_req; /* a parked GET /next, or NULL */
    fl_inv_t *inv;
    sw_time_t spawned_at;
    bool initialised; /* has called /next once */
    double init_ms;
    struct event *timer; /* init limit, keep-alive or kill grace, by state */
};

struct sw_be_faas_local {
    sw_be_faas_local_opts_t o;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    uint16_t port;
    struct event *sigchld_ev;
    SLIST_HEAD(, fl_env) envs;
    unsigned n_envs;
    STAILQ_HEAD(, fl_inv) queue; /* Event invocations waiting for capacity */
    sw_rng_t rng;
    bool draining;
    sw_be_faas_local_drained_cb drained_cb;
    void *drained_arg;
    struct event *drained_ev;
};

/* faas_local_env.c */
/* Starts a new environment for fn. Returns it (state STARTING), or NULL when the process or
 * its listener could not be started (logged). */
fl_env_t *sw__fl_env_spawn(struct sw_be_faas_local *svc, const sw_be_faas_local_fn_t *fn);
/* Assigns inv to env (IDLE or STARTING) and delivers it if the runtime is waiting. */
void sw__fl_env_assign(fl_env_t *env, fl_inv_t *inv);
/* Signals the environment to exit (SIGTERM, or SIGKILL when hard) and marks it STOPPING. */
void sw__fl_env_stop(fl_env_t *env, bool hard);
/* Reaps exited environments, failing the invocation each one held. */
void sw__fl_env_reap(struct sw_be_faas_local *svc);
/* Frees every environment, killing and reaping the processes synchronously. */
void sw__fl_env_free_all(struct sw_be_faas_local *svc);

/* faas_local.c */
/* Answers inv's caller and frees inv. status_err is NULL for success, else the
 * X-Amz-Function-Error value. body may be NULL (empty). Detaches inv from its env. */
void sw__fl_inv_finish(fl_inv_t *inv, const char *func_error, const void *body, size_t len);
/* Called when an environment becomes free (IDLE) or disappears, to run queued work. */
void sw__fl_capacity_freed(struct sw_be_faas_local *svc);

#endif
