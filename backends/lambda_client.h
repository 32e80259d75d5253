/* AWS Lambda Invoke client (RequestResponse), driven by the caller's libevent loop through
 * libcurl's multi socket interface: nothing here blocks. Each call is
 *
 *   POST {endpoint}/2015-03-31/functions/{percent-encoded name}/invocations[?Qualifier=q]
 *
 * signed with SigV4 (service "lambda"), retried with full-jitter exponential backoff on
 * 5xx and transport errors within a per-call deadline, and answered through one callback.
 * A 429 is not retried: it is reported as throttled, and calls made before its Retry-After
 * runs out complete as throttled without touching the network.
 *
 * Threading: every function, and every callback, runs on the thread of the event_base
 * given to sw_be_lambda_create(). */
#ifndef SW_BACKENDS_LAMBDA_CLIENT_H
#define SW_BACKENDS_LAMBDA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/aws_creds.h"
#include "common/backend.h"
#include "common/common.h"
#include "config/config.h"

struct event_base;

typedef struct sw_be_lambda sw_be_lambda_t;

typedef struct sw_be_lambda_opts {
    /* "https://lambda.us-east-1.amazonaws.com" or "http://127.0.0.1:9001"; NULL or "" means
     * https://lambda.{region}.amazonaws.com. A trailing '/' is ignored. */
    const char *endpoint;
    const char *region;             /* required: the SigV4 scope, "us-east-1" */
    const char *function_name;      /* required: name, name:alias, or a full or partial ARN */
    const char *qualifier;          /* version or alias sent as ?Qualifier=; NULL for none */
    const sw_be_aws_creds_t *creds; /* required; copied, and wiped on destroy */
    int64_t timeout_ms;             /* per call, covering every attempt and backoff; 0: 30000 */
    int64_t attempt_timeout_ms;     /* one attempt; 0: whatever remains of timeout_ms */
    uint32_t max_in_flight;         /* accepted and not yet answered calls; 0: 64 */
    uint32_t max_retries;           /* attempts after the first; 0: never retry */
    int64_t retry_base_ms;          /* backoff before retry k is U[0, min(max, base*2^(k-1))]; */
    int64_t retry_max_ms;           /* 0 gives the defaults 50 and 2000 */
    uint64_t seed;                  /* seeds the backoff jitter, for repeatable runs */
    bool log_tail;                  /* send X-Amz-Log-Type: Tail and parse the REPORT line */
} sw_be_lambda_opts_t;

/* What a call came to. Pointers are borrowed for the duration of the callback only. */
typedef struct sw_be_lambda_result {
    sw_faas_status_t status;
    int http_status;  /* of the last attempt; 0 if none got an HTTP answer */
    const char *body; /* last response body (NUL-terminated), or NULL */
    size_t body_len;
    const char *function_error;   /* "Handled", "Unhandled" or NULL */
    const char *executed_version; /* X-Amz-Executed-Version, or NULL */
    /* NULL on OK and FUNCTION_ERROR. Otherwise the service's message and error type, or
     * curl's error text and the endpoint host, or "cancelled", or the deadline. */
    const char *error;
    uint32_t attempts;      /* HTTP attempts made; 0 when throttled locally or cancelled */
    uint32_t retry_after_s; /* from a 429's Retry-After, or the throttle window left */
    double duration_ms;     /* "Duration" of the log tail's REPORT line, else 0 */
    double init_ms;         /* "Init Duration" (cold starts only), else 0 */
    bool cold_start;        /* the REPORT line had an Init Duration */
    sw_time_t latency;      /* from invoke to this callback */
} sw_be_lambda_result_t;

/* Called exactly once for every call that sw_be_lambda_invoke() accepted. It may call
 * sw_be_lambda_invoke() again, but must not call sw_be_lambda_destroy(). */
typedef void (*sw_be_lambda_done_cb)(void *arg, const sw_be_lambda_result_t *res);

/* Counters, as an X-macro list: name, then meaning. */
#define SW_BE_LAMBDA_STATS(X)                                                                      \
    X(invoked)              /* calls accepted */                                                   \
    X(ok)                   /* answered SW_FAAS_OK */                                              \
    X(function_errors)      /* answered SW_FAAS_FUNCTION_ERROR */                                  \
    X(throttled)            /* answered SW_FAAS_THROTTLED (429 or inside its window) */            \
    X(failed)               /* answered SW_FAAS_FAILED, including cancelled calls */               \
    X(retries)              /* attempts after the first */                                         \
    X(timeouts)             /* attempts that hit their time limit */                               \
    X(busy_rejections)      /* invokes refused with -EBUSY */                                      \
    X(signing_keys_derived) /* SigV4 key derivations (one per day and region) */

typedef struct sw_be_lambda_stats {
#define SW__X(name) uint64_t name;
    SW_BE_LAMBDA_STATS(SW__X)
#undef SW__X
} sw_be_lambda_stats_t;

/* Fills opts from the policy file's faas.invoke section (region, endpoint, function,
 * qualifier, deadline, in-flight bound, retries and backoff) with creds, which the caller
 * loads (sw_be_aws_creds_load with faas.invoke.credentials_profile). log_tail is set: a
 * live driver learns durations and cold starts from it. Pointers borrow from cfg. */
void sw_be_lambda_opts_from_cfg(const sw_cfg_faas_invoke_t *cfg, const sw_be_aws_creds_t *creds,
                                sw_be_lambda_opts_t *opts);

/* Creates a client on base (borrowed; it must outlive the client). opts and everything it
 * points to are copied. Returns 0, or -EINVAL with a message in errbuf (never holding the
 * secret), or -ENOMEM if curl cannot be set up. */
int sw_be_lambda_create(struct event_base *base, const sw_be_lambda_opts_t *opts,
                        sw_be_lambda_t **out, char *errbuf, size_t errlen);

/* Starts one invocation with payload (len bytes of JSON, copied). Returns 0 when accepted:
 * cb(arg, result) then runs exactly once, later, from the loop (never from inside this
 * call). Returns -EBUSY when max_in_flight calls are pending (nothing is queued), -EINVAL
 * for a NULL cb, -ECANCELED while the client is being destroyed. */
int sw_be_lambda_invoke(sw_be_lambda_t *c, const void *payload, size_t len, sw_be_lambda_done_cb cb,
                        void *arg);

/* Calls pending now (accepted, callback not yet run). */
uint32_t sw_be_lambda_in_flight(const sw_be_lambda_t *c);

/* The invocation URL, e.g. for an operator's log line. Borrowed until destroy. */
const char *sw_be_lambda_url(const sw_be_lambda_t *c);

/* Copies the counters. */
void sw_be_lambda_get_stats(const sw_be_lambda_t *c, sw_be_lambda_stats_t *out);

/* Writes the counters as "lambda_<name> <value>\n" lines into buf (always NUL-terminated
 * when len > 0). Returns the length it needed, like snprintf. */
size_t sw_be_lambda_stats_format(const sw_be_lambda_stats_t *s, char *buf, size_t len);

/* Cancels every pending call, running each callback once with SW_FAAS_FAILED and error
 * "cancelled", then frees the client and wipes its credentials. NULL does nothing. Must
 * not be called from inside a callback of this client. */
void sw_be_lambda_destroy(sw_be_lambda_t *c);

#endif
