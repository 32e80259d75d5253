/* faas-local: a local stand-in for AWS Lambda. It serves the Invoke API (SigV4-checked,
 * AWS-shaped errors) on one address and runs each function as real processes
 * ("execution environments") that fetch their work over the Lambda Runtime API, one
 * listener per environment. Cold starts, warm reuse, the concurrency limit (429),
 * timeouts, crashes and keep-alive reaping behave like Lambda's, so the Lambda client and
 * `spillway function` can be tested end to end without AWS.
 *
 * Everything runs on the caller's event_base (one thread). The service installs a
 * SIGCHLD signal event on that base and reaps only the processes it started. */
#ifndef SW_BACKENDS_FAAS_LOCAL_H
#define SW_BACKENDS_FAAS_LOCAL_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

#define SW_BE_FAAS_LOCAL_MEMORY_MB_DEFAULT 3008
#define SW_BE_FAAS_LOCAL_TIMEOUT_S_DEFAULT 3.0  /* Lambda's default function timeout */
#define SW_BE_FAAS_LOCAL_CONCURRENCY_DEFAULT 10 /* a laptop, not Lambda's 1,000 per Region */
#define SW_BE_FAAS_LOCAL_KEEP_ALIVE_S_DEFAULT 600.0
#define SW_BE_FAAS_LOCAL_REGION_DEFAULT "us-east-1"

/* One function: its name in the Invoke path and the shell command that starts one of its
 * environments (run as `/bin/sh -c 'exec COMMAND'` in the current directory). */
typedef struct sw_be_faas_local_fn {
    const char *name;
    const char *command;
} sw_be_faas_local_fn_t;

/* Settings. Zero or NULL fields take the defaults above, except the credentials, which
 * are required. Every pointer is borrowed until sw_be_faas_local_destroy(). */
typedef struct sw_be_faas_local_opts {
    const char *listen_host; /* NULL: 127.0.0.1 */
    uint16_t listen_port;    /* 0: pick a free port, see sw_be_faas_local_port() */
    const sw_be_faas_local_fn_t *functions;
    size_t n_functions;
    unsigned memory_mb;   /* reported to functions and in REPORT lines; not enforced */
    double timeout_s;     /* per invocation, from event delivery to the answer */
    unsigned concurrency; /* environments alive at once, all functions together */
    double keep_alive_s;  /* an idle environment is stopped after this long */
    const char *region;   /* the SigV4 scope region that requests must use */
    const char *access_key_id;
    const char *secret_access_key; /* never logged and never passed to functions */
} sw_be_faas_local_opts_t;

typedef struct sw_be_faas_local sw_be_faas_local_t;

/* Called once when sw_be_faas_local_drain() has finished (every environment has exited). */
typedef void (*sw_be_faas_local_drained_cb)(void *arg);

/* Validates opts, binds the Invoke listener on base and returns the service in *out.
 * Returns 0, or a negative errno (-EINVAL bad options, or the bind error) with a message
 * in errbuf. Call on the loop's thread; free with sw_be_faas_local_destroy(). */
int sw_be_faas_local_create(struct event_base *base, const sw_be_faas_local_opts_t *opts,
                            sw_be_faas_local_t **out, char *errbuf, size_t errlen);

/* The port the Invoke API listens on (the chosen one when opts asked for 0). */
uint16_t sw_be_faas_local_port(const sw_be_faas_local_t *svc);

/* Starts a graceful stop: closes the Invoke listener, answers every invocation in flight
 * or queued with 500 ServiceException, and sends SIGTERM to every environment (SIGKILL 2 s
 * later). cb (may be NULL) runs on the loop once all environments have been reaped; the
 * caller should then let the loop run briefly so the last answers are flushed. */
void sw_be_faas_local_drain(sw_be_faas_local_t *svc, sw_be_faas_local_drained_cb cb, void *arg);

/* Frees the service. Environments still alive are killed (SIGKILL) and reaped, which may
 * block briefly. Callers still connected are disconnected. NULL does nothing. */
void sw_be_faas_local_destroy(sw_be_faas_local_t *svc);

#endif
