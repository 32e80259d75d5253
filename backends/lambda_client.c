/* The Lambda Invoke client. One curl multi handle per client is driven by the caller's
 * event_base through the multi socket interface: curl tells us which sockets to watch
 * (on_curl_socket) and when to wake it (on_curl_timer_set), and libevent calls back into
 * curl_multi_socket_action. The multi handle owns the connection cache, so keep-alive
 * connections are shared by every call; easy handles are pooled to keep their TLS session
 * and DNS state warm as well.
 *
 * A call is a small state machine (call_state_t): it waits on its own timer (zero delay
 * before the first attempt, the backoff before a retry), then runs one curl attempt. When
 * the timer fires inside a 429's Retry-After window, the call is answered as throttled
 * without touching the network. Every accepted call leaves through call_finish(), which runs its
 * callback exactly once; destroy drives the remaining calls through it with "cancelled".
 *
 * Each attempt is signed afresh (X-Amz-Date moves on), but the derived SigV4 key is cached
 * per (date, region): the 5-HMAC chain runs once a day, not once a call. curl's verbose
 * output is never enabled, even at DEBUG, because it would print X-Amz-Security-Token. */
#include "backends/lambda_client.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backends/lambda_client_internal.h"
#include "backends/sigv4.h"
#include "common/rng.h"
#include "common/strbuf.h"

#define SW_LOG_MODULE "lambda"
#include "common/log.h"

#define SERVICE "lambda"
#define TIMEOUT_MS_DEFAULT 30000
#define MAX_IN_FLIGHT_DEFAULT 64
#define RETRY_BASE_MS_DEFAULT 50
#define RETRY_MAX_MS_DEFAULT 2000
/* Lambda returns at most 6 MB from a synchronous call; more means something is wrong. */
#define BODY_MAX_BYTES (8u << 20)
#define BODY_SNIPPET_CHARS 200
/* Lambda's longest invocation, 15 minutes: no REPORT duration can be longer. */
#define LOG_MS_MAX 900000.0


typedef enum {
    CALL_WAITING, /* on the call's timer: before the first attempt or a retry */
    CALL_ATTEMPT, /* an easy handle is in the multi handle */
} call_state_t;

typedef struct call {
    LIST_ENTRY(call) link; /* in the client's calls */
    sw_be_lambda_t *c;
    call_state_t state;
    sw_be_lambda_done_cb cb;
    void *arg;
    char *payload;
    size_t len;
    sw_time_t start, deadline;
    uint32_t attempts;
    CURL *easy;
    struct curl_slist *hdrs;
    struct event *timer;
    char *last_error; /* of the previous attempt, for the deadline message */
    /* The response to the current attempt. */
    sw_strbuf_t body;
    bool body_overflow;
    sw__be_lambda_hdrs_t hdr;
    char curl_err[CURL_ERROR_SIZE];
} call_t;

/* A socket curl asked us to watch. */
typedef struct sock {
    LIST_ENTRY(sock) link; /* in the client's socks */
    sw_be_lambda_t *c;
    curl_socket_t fd;
    struct event *ev;
} sock_t;

struct sw_be_lambda {
    struct event_base *base;
    CURLM *multi;
    struct event *timer_ev;
    char *endpoint, *host, *host_hdr, *path, *query, *url, *region, *function_name;
    sw_be_aws_creds_t creds;
    int64_t timeout_ms, attempt_timeout_ms, retry_base_ms, retry_max_ms;
    uint32_t max_in_flight, max_retries, in_flight;
    bool log_tail, destroying;
    int in_callback; /* depth of user callbacks running, to catch destroy from inside one */
    sw_rng_t rng;
    char key_date[9];
    uint8_t key[SW_BE_SIGV4_KEY_BYTES];
    bool key_valid;
    sw_time_t throttled_until;
    LIST_HEAD(, call) calls; /* accepted and not yet finished */
    LIST_HEAD(, sock) socks; /* the sockets curl asked us to watch */
    CURL **pool;
    uint32_t n_pool;
    sw_be_lambda_stats_t stats;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void free_str(char **s)
{
    sw_free(*s);
    *s = NULL;
}

static void amz_date_now(char out[17])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- creation ----------------------------------------------------------------------- */

static int check_opts(const sw_be_lambda_opts_t *o, char *errbuf, size_t errlen)
{
    if (!o->region || !*o->region) {
        sw_set_error(errbuf, errlen, "lambda: region is required");
        return -EINVAL;
    }
    if (!o->function_name || !*o->function_name || strlen(o->function_name) > 256) {
        sw_set_error(errbuf, errlen, "lambda: function_name must be 1-256 characters");
        return -EINVAL;
    }
    if (o->qualifier && (!*o->qualifier || strlen(o->qualifier) > 128)) {
        sw_set_error(errbuf, errlen, "lambda: qualifier must be 1-128 characters or unset");
        return -EINVAL;
    }
    if (!o->creds || !o->creds->access_key_id || !*o->creds->access_key_id ||
        !o->creds->secret_access_key || !*o->creds->secret_access_key) {
        sw_set_error(errbuf, errlen,
                     "lambda: credentials with an access key id and a secret "
                     "access key are required");
        return -EINVAL;
    }
    if (o->timeout_ms < 0 || o->attempt_timeout_ms < 0 || o->retry_base_ms < 0 ||
        o->retry_max_ms < 0) {
        sw_set_error(errbuf, errlen, "lambda: timeouts and retry delays must be >= 0");
        return -EINVAL;
    }
    return 0;
}

/* Splits the endpoint into what goes into the URL and the Host header we sign. The Host
 * header is sent explicitly so that what we sign is what curl sends. */
static int parse_endpoint(sw_be_lambda_t *c, const char *endpoint, char *errbuf, size_t errlen)
{
    sw_strbuf_t e = {0};
    if (endpoint && *endpoint)
        sw_strbuf_putn(&e, endpoint, strlen(endpoint));
    else
        sw_strbuf_printf(&e, "https://lambda.%s.amazonaws.com", c->region);
    while (e.len > 0 && e.p[e.len - 1] == '/')
        e.p[--e.len] = '\0';
    c->endpoint = e.p;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -EINVAL;
    if (curl_url_set(u, CURLUPART_URL, c->endpoint, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        sw_set_error(errbuf, errlen, "lambda: endpoint %s is not an http(s) URL", c->endpoint);
        goto out;
    }
    c->host = sw_strdup(host);
    sw_strbuf_t h = {0};
    sw_strbuf_putn(&h, host, strlen(host));
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
        sw_strbuf_printf(&h, ":%s", port);
    c->host_hdr = h.p;
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void build_target(sw_be_lambda_t *c, const sw_be_lambda_opts_t *o)
{
    sw_strbuf_t p = {0};
    sw_strbuf_printf(&p, "/2015-03-31/functions/");
    sw_strbuf_put_uri_encoded(&p, o->function_name, strlen(o->function_name), false);
    sw_strbuf_printf(&p, "/invocations");
    c->path = p.p;
    if (o->qualifier) {
        sw_strbuf_t q = {0};
        sw_strbuf_printf(&q, "Qualifier=");
        sw_strbuf_put_uri_encoded(&q, o->qualifier, strlen(o->qualifier), false);
        c->query = q.p;
    }
    sw_strbuf_t u = {0};
    sw_strbuf_putn(&u, c->endpoint, strlen(c->endpoint));
    sw_strbuf_putn(&u, c->path, strlen(c->path));
    if (c->query)
        sw_strbuf_printf(&u, "?%s", c->query);
    c->url = u.p;
}

static void copy_opts(sw_be_lambda_t *c, const sw_be_lambda_opts_t *o)
{
    c->region = sw_strdup(o->region);
    c->function_name = sw_strdup(o->function_name);
    sw_be_aws_creds_copy(&c->creds, o->creds);
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : TIMEOUT_MS_DEFAULT;
    c->attempt_timeout_ms = o->attempt_timeout_ms;
    c->max_in_flight = o->max_in_flight ? o->max_in_flight : MAX_IN_FLIGHT_DEFAULT;
    c->max_retries = o->max_retries;
    c->retry_base_ms = o->retry_base_ms ? o->retry_base_ms : RETRY_BASE_MS_DEFAULT;
    c->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : RETRY_MAX_MS_DEFAULT;
    c->log_tail = o->log_tail;
    sw_rng_init(&c->rng, o->seed);
    c->pool = sw_calloc(c->max_in_flight, sizeof(CURL *));
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp);
static int on_curl_timer_set(CURLM *multi, long timeout_ms, void *userp);
static void on_curl_timer(evutil_socket_t fd, short events, void *arg);

static int setup_multi(sw_be_lambda_t *c, char *errbuf, size_t errlen)
{
    c->timer_ev = evtimer_new(c->base, on_curl_timer, c);
    c->multi = curl_multi_init();
    if (!c->timer_ev || !c->multi) {
        sw_set_error(errbuf, errlen, "lambda: cannot create the curl multi handle or timer");
        return -ENOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer_set);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* Room in the connection cache for every call that can be in flight, so a burst does
     * not close connections that the next burst would reuse. */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_in_flight);
    return 0;
}

void sw_be_lambda_opts_from_cfg(const sw_cfg_faas_invoke_t *cfg, const sw_be_aws_creds_t *creds,
                                sw_be_lambda_opts_t *opts)
{
    *opts = (sw_be_lambda_opts_t){
        .endpoint = cfg->endpoint,
        .region = cfg->region,
        .function_name = cfg->function_name,
        .qualifier = cfg->qualifier,
        .creds = creds,
        .timeout_ms = (int64_t)llround(cfg->timeout_ms),
        .max_in_flight = cfg->max_in_flight,
        .max_retries = cfg->max_retries,
        .retry_base_ms = (int64_t)llround(cfg->retry_base_ms),
        .log_tail = true,
    };
    /* 0 asks for the client's default base; the config's 0 means "retry at once". */
    if (opts->retry_base_ms == 0 && cfg->max_retries > 0)
        opts->retry_base_ms = 1;
}

int sw_be_lambda_create(struct event_base *base, const sw_be_lambda_opts_t *opts,
                        sw_be_lambda_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    int rc = check_opts(opts, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sw_set_error(errbuf, errlen, "lambda: curl_global_init failed");
        return -ENOMEM;
    }
    sw_be_lambda_t *c = sw_calloc(1, sizeof(*c));
    LIST_INIT(&c->calls);
    LIST_INIT(&c->socks);
    c->base = base;
    copy_opts(c, opts);
    rc = parse_endpoint(c, opts->endpoint, errbuf, errlen);
    if (rc == 0)
        rc = setup_multi(c, errbuf, errlen);
    if (rc < 0) {
        sw_be_lambda_destroy(c);
        return rc;
    }
    build_target(c, opts);
    SW_LOG_INFO("lambda client ready function=%s endpoint=%s region=%s credentials=\"%s\"",
                c->function_name, c->endpoint, c->region, c->creds.source);
    *out = c;
    return 0;
}

/* ---- curl <-> libevent glue -------------------------------------------------------- */

static void check_multi_info(sw_be_lambda_t *c);

static void on_sock_event(evutil_socket_t fd, short events, void *arg)
{
    sock_t *sk = arg;
    /* socket_action may tell us to remove this very socket, freeing sk. */
    sw_be_lambda_t *c = sk->c;
    int flags =
        ((events & EV_READ) ? CURL_CSELECT_IN : 0) | ((events & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_multi_info(c);
}

static void sock_free(sock_t *sk)
{
    LIST_REMOVE(sk, link);
    if (sk->ev)
        event_free(sk->ev);
    sw_free(sk);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    sw_be_lambda_t *c = userp;
    sock_t *sk = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sk)
            sock_free(sk);
        return 0;
    }
    if (!sk) {
        sk = sw_calloc(1, sizeof(*sk));
        sk->c = c;
        sk->fd = s;
        LIST_INSERT_HEAD(&c->socks, sk, link);
        curl_multi_assign(c->multi, s, sk);
    }
    if (sk->ev)
        event_free(sk->ev);
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    sk->ev = event_new(c->base, s, kind, on_sock_event, sk);
    event_add(sk->ev, NULL);
    return 0;
}

static int on_curl_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    sw_be_lambda_t *c = userp;
    if (timeout_ms < 0) {
        evtimer_del(c->timer_ev);
        return 0;
    }
    /* Never call socket_action from here (curl forbids it): a zero timeout fires on the
     * next loop iteration instead. */
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(c->timer_ev, &tv);
    return 0;
}

static void on_curl_timer(evutil_socket_t fd, short events, void *arg)
{
    (void)fd;
    (void)events;
    sw_be_lambda_t *c = arg;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(c);
}

static size_t on_curl_write(char *buf, size_t size, size_t n, void *arg);

/* A pooled handle keeps the options every call shares, set once here: resetting and
 * setting fifteen options per call was a measurable part of the client's CPU per call.
 * attempt_start() sets the per-call ones, the same set every time, so nothing stale
 * survives from the last call. */
static CURL *pool_get(sw_be_lambda_t *c)
{
    if (c->n_pool > 0)
        return c->pool[--c->n_pool];
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, sw__be_lambda_on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    return e;
}

static void pool_put(sw_be_lambda_t *c, CURL *e)
{
    if (c->n_pool < c->max_in_flight)
        c->pool[c->n_pool++] = e;
    else
        curl_easy_cleanup(e);
}

/* ---- responses ---------------------------------------------------------------------- */

static void response_reset(call_t *k)
{
    k->body.len = 0;
    if (k->body.p)
        k->body.p[0] = '\0';
    k->body_overflow = false;
    sw__be_lambda_hdrs_clear(&k->hdr);
    k->curl_err[0] = '\0';
}

static size_t on_curl_write(char *buf, size_t size, size_t n, void *arg)
{
    call_t *k = arg;
    size_t len = size * n;
    if (k->body.len + len > BODY_MAX_BYTES) {
        k->body_overflow = true;
        return 0;
    }
    sw_strbuf_putn(&k->body, buf, len);
    return len;
}

void sw__be_lambda_hdrs_clear(sw__be_lambda_hdrs_t *h)
{
    free_str(&h->function_error);
    free_str(&h->log_result);
    free_str(&h->error_type);
    free_str(&h->executed_version);
    h->retry_after_s = 0;
}

/* Keeps the response headers we act on. A new status line starts a new response (an
 * interim 1xx), so it clears what an earlier one set. */
size_t sw__be_lambda_on_header(char *buf, size_t size, size_t n, void *arg)
{
    sw__be_lambda_hdrs_t *h = arg;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        sw__be_lambda_hdrs_clear(h);
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t name_len = (size_t)(colon - buf);
#define IS(hn) (name_len == sizeof(hn) - 1 && strncasecmp(buf, hn, name_len) == 0)
    char **slot = IS("x-amz-function-error")     ? &h->function_error
                  : IS("x-amz-log-result")       ? &h->log_result
                  : IS("x-amzn-errortype")       ? &h->error_type
                  : IS("x-amz-executed-version") ? &h->executed_version
                                                 : NULL;
    bool retry_after = IS("retry-after");
#undef IS
    if (!slot && !retry_after)
        return len; /* most headers: nothing to keep, nothing to copy */
    const char *v = colon + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    char *val = sw_malloc((size_t)(end - v) + 1);
    memcpy(val, v, (size_t)(end - v));
    val[end - v] = '\0';
    /* Lambda sends delay-seconds; the HTTP-date form would parse as 0, i.e. no window. */
    if (retry_after)
        h->retry_after_s = (uint32_t)strtoul(val, NULL, 10);
    if (slot) {
        sw_free(*slot);
        *slot = val;
    } else {
        sw_free(val);
    }
    return len;
}

/* "HTTP 404 ResourceNotFoundException [User]: Function not found: ..." from the error
 * type header or "__type", the body's "Type", and its "message" in any case. */
char *sw__be_lambda_service_error(const char *error_type, const char *body, size_t body_len,
                                  int http_status)
{
    sw_strbuf_t b = {0};
    sw_strbuf_printf(&b, "HTTP %d", http_status);
    json_t *j = body_len ? json_loadb(body, body_len, 0, NULL) : NULL;
    const char *msg = NULL, *type = NULL, *dunder = NULL, *key;
    json_t *v;
    if (json_is_object(j)) {
        json_object_foreach(j, key, v)
        {
            if (!json_is_string(v))
                continue;
            if (strcasecmp(key, "message") == 0)
                msg = json_string_value(v);
            else if (strcmp(key, "Type") == 0)
                type = json_string_value(v);
            else if (strcmp(key, "__type") == 0)
                dunder = json_string_value(v);
        }
    }
    const char *name = error_type ? error_type : dunder;
    if (name) /* "Name:http://internal.amazon.com/coral/..." carries a namespace after ':' */
        sw_strbuf_printf(&b, " %.*s", (int)strcspn(name, ":"), name);
    if (type)
        sw_strbuf_printf(&b, " [%s]", type);
    if (msg)
        sw_strbuf_printf(&b, ": %s", msg);
    else if (!j && body_len)
        sw_strbuf_printf(&b, ": %.*s", (int)SW_MIN(body_len, (size_t)BODY_SNIPPET_CHARS), body);
    json_decref(j);
    return b.p;
}

/* A REPORT line's duration, "12.34 ms": true and *ms when it is a number of milliseconds a
 * bill can be made of. The tail is the endpoint's text, and the ledger adds these up for
 * the whole run, so a "nan", "inf" or negative value (or one past Lambda's 15-minute
 * limit) would poison every cost after it: such a field is read as absent. */
static bool log_ms(const char *text, double *ms)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || !(v >= 0 && v <= LOG_MS_MAX))
        return false;
    *ms = v;
    return true;
}

/* Finds "Duration: X ms" and "Init Duration: Y ms" in the last REPORT line of the base64
 * log tail, the only place Lambda states execution time and cold starts. */
void sw__be_lambda_parse_log_tail(const char *b64, sw_be_lambda_result_t *r)
{
    size_t n = strlen(b64);
    if (n == 0 || n % 4 != 0)
        return;
    unsigned char *txt = sw_malloc(n / 4 * 3 + 1);
    int m = EVP_DecodeBlock(txt, (const unsigned char *)b64, (int)n);
    if (m >= 0) {
        m -= (b64[n - 1] == '=') + (b64[n - 2] == '='); /* DecodeBlock keeps the padding */
        txt[m] = '\0';
        char *rep = NULL;
        for (char *p = (char *)txt; (p = strstr(p, "REPORT RequestId:")); p++)
            rep = p;
        if (rep) {
            rep[strcspn(rep, "\n")] = '\0';
            char *save = NULL;
            for (char *f = strtok_r(rep, "\t", &save); f; f = strtok_r(NULL, "\t", &save)) {
                f += strspn(f, " ");
                double ms;
                if (strncmp(f, "Duration: ", 10) == 0 && log_ms(f + 10, &ms)) {
                    r->duration_ms = ms;
                } else if (strncmp(f, "Init Duration: ", 15) == 0 && log_ms(f + 15, &ms)) {
                    r->init_ms = ms;
                    r->cold_start = true;
                }
            }
        }
    }
    sw_free(txt);
}

/* ---- call lifecycle ----------------------------------------------------------------- */

static void call_free(call_t *k)
{
    if (k->timer)
        event_free(k->timer);
    curl_slist_free_all(k->hdrs);
    response_reset(k);
    sw_strbuf_free(&k->body, false);
    sw_free(k->last_error);
    sw_free(k->payload);
    sw_free(k);
}

static void count_outcome(sw_be_lambda_t *c, sw_faas_status_t st)
{
    switch (st) {
    case SW_FAAS_OK: c->stats.ok++; break;
    case SW_FAAS_FUNCTION_ERROR: c->stats.function_errors++; break;
    case SW_FAAS_THROTTLED: c->stats.throttled++; break;
    case SW_FAAS_FAILED: c->stats.failed++; break;
    }
}

/* The one exit of every accepted call: frees its slot first, so the callback may invoke
 * again, then reports and frees it. err is borrowed. */
static void call_finish(call_t *k, sw_faas_status_t st, int http_status, const char *err)
{
    sw_be_lambda_t *c = k->c;
    LIST_REMOVE(k, link);
    c->in_flight--;
    count_outcome(c, st);
    sw_be_lambda_result_t r = {
        .status = st,
        .http_status = http_status,
        .body = k->body.len ? k->body.p : NULL,
        .body_len = k->body.len,
        .function_error = k->hdr.function_error,
        .executed_version = k->hdr.executed_version,
        .error = err,
        .attempts = k->attempts,
        .retry_after_s = k->hdr.retry_after_s,
        .latency = sw_clock_now() - k->start,
    };
    if (k->hdr.log_result && (st == SW_FAAS_OK || st == SW_FAAS_FUNCTION_ERROR))
        sw__be_lambda_parse_log_tail(k->hdr.log_result, &r);
    c->in_callback++;
    k->cb(k->arg, &r);
    c->in_callback--;
    call_free(k);
}

static void finish_deadline(call_t *k, int http_status)
{
    sw_be_lambda_t *c = k->c;
    char msg[512];
    snprintf(msg, sizeof(msg),
             "deadline of %" PRId64 " ms exceeded after %" PRIu32 " attempt%s%s%s", c->timeout_ms,
             k->attempts, k->attempts == 1 ? "" : "s", k->last_error ? "; last error: " : "",
             k->last_error ? k->last_error : "");
    SW_LOG_WARN("invoke deadline exceeded function=%s endpoint=%s timeout_ms=%" PRId64
                " attempts=%" PRIu32,
                c->function_name, c->endpoint, c->timeout_ms, k->attempts);
    call_finish(k, SW_FAAS_FAILED, http_status, msg);
}

/* Full jitter: uniform in [0, min(max, base * 2^(retry-1))]. */
static int64_t backoff_us(sw_be_lambda_t *c, uint32_t retry)
{
    double cap = (double)c->retry_base_ms * (double)(1ull << SW_MIN(retry - 1, 30u));
    cap = SW_MIN(cap, (double)c->retry_max_ms);
    return (int64_t)(sw_rng_uniform(&c->rng) * cap * (double)SW_US_PER_MS);
}

/* A retryable failure of attempt k->attempts; err is taken over. */
static void maybe_retry(call_t *k, sw_time_t now, int http_status, char *err)
{
    sw_be_lambda_t *c = k->c;
    sw_free(k->last_error);
    k->last_error = err;
    if (k->attempts > c->max_retries) {
        SW_LOG_WARN("invoke retries exhausted function=%s endpoint=%s attempts=%" PRIu32
                    " error=\"%s\"",
                    c->function_name, c->endpoint, k->attempts, err);
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s (after %" PRIu32 " attempt%s)", err, k->attempts,
                 k->attempts == 1 ? "" : "s");
        call_finish(k, SW_FAAS_FAILED, http_status, msg);
        return;
    }
    int64_t wait = backoff_us(c, k->attempts);
    /* No point starting an attempt that would have less than a millisecond to run. */
    if (now + wait >= k->deadline - SW_US_PER_MS) {
        finish_deadline(k, http_status);
        return;
    }
    SW_LOG_DEBUG("invoke retry function=%s attempt=%" PRIu32 " wait_us=%" PRId64 " error=\"%s\"",
                 c->function_name, k->attempts, wait, err);
    k->state = CALL_WAITING;
    struct timeval tv = {wait / SW_US_PER_S, wait % SW_US_PER_S};
    evtimer_add(k->timer, &tv);
}

static void on_http_done(call_t *k, sw_time_t now, int http_status)
{
    sw_be_lambda_t *c = k->c;
    if (http_status >= 200 && http_status < 300) {
        call_finish(k, k->hdr.function_error ? SW_FAAS_FUNCTION_ERROR : SW_FAAS_OK, http_status,
                    NULL);
        return;
    }
    char *err = sw__be_lambda_service_error(k->hdr.error_type, k->body.p, k->body.len, http_status);
    if (http_status == 429) {
        sw_time_t until = now + (sw_time_t)k->hdr.retry_after_s * SW_US_PER_S;
        /* One line per throttle window, not per call: a burst of 429s is one event for an
         * operator, and the stats count every call. */
        if (now >= c->throttled_until)
            SW_LOG_WARN("invoke throttled, holding calls for Retry-After function=%s "
                        "endpoint=%s retry_after_s=%" PRIu32 " error=\"%s\"",
                        c->function_name, c->endpoint, k->hdr.retry_after_s, err);
        c->throttled_until = SW_MAX(c->throttled_until, until);
        call_finish(k, SW_FAAS_THROTTLED, http_status, err);
    } else if (http_status >= 500) {
        maybe_retry(k, now, http_status, err);
        return;
    } else {
        SW_LOG_WARN("invoke failed function=%s endpoint=%s http_status=%d error=\"%s\"",
                    c->function_name, c->endpoint, http_status, err);
        call_finish(k, SW_FAAS_FAILED, http_status, err);
    }
    sw_free(err);
}

static void on_transport_done(call_t *k, sw_time_t now, CURLcode rc)
{
    sw_be_lambda_t *c = k->c;
    if (rc == CURLE_WRITE_ERROR && k->body_overflow) {
        char msg[128];
        snprintf(msg, sizeof(msg), "response body over %u bytes", BODY_MAX_BYTES);
        call_finish(k, SW_FAAS_FAILED, 0, msg);
        return;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
        c->stats.timeouts++;
    sw_strbuf_t b = {0};
    sw_strbuf_printf(&b, "transport error talking to %s: %s", c->host,
              k->curl_err[0] ? k->curl_err : curl_easy_strerror(rc));
    maybe_retry(k, now, 0, b.p);
}

static void on_attempt_done(sw_be_lambda_t *c, CURL *e, CURLcode rc)
{
    char *priv = NULL;
    long http_status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    call_t *k = (call_t *)priv;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http_status);
    curl_multi_remove_handle(c->multi, e);
    pool_put(c, e);
    k->easy = NULL;
    curl_slist_free_all(k->hdrs);
    k->hdrs = NULL;
    sw_time_t now = sw_clock_now();
    if (rc == CURLE_OK)
        on_http_done(k, now, (int)http_status);
    else
        on_transport_done(k, now, rc);
}

static void check_multi_info(sw_be_lambda_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg == CURLMSG_DONE)
            on_attempt_done(c, m->easy_handle, m->data.result);
    }
}

/* ---- attempts ----------------------------------------------------------------------- */

static const uint8_t *signing_key(sw_be_lambda_t *c, const char *amz_date)
{
    if (!c->key_valid || memcmp(c->key_date, amz_date, 8) != 0) {
        memcpy(c->key_date, amz_date, 8);
        c->key_date[8] = '\0';
        (void)sw_be_sigv4_signing_key(c->creds.secret_access_key, c->key_date, c->region, SERVICE,
                                      c->key);
        c->key_valid = true;
        c->stats.signing_keys_derived++;
    }
    return c->key;
}

/* Fills h with every header we send except Authorization, all of them signed. */
static size_t wire_headers(const sw_be_lambda_t *c, const char *amz_date, sw_be_sigv4_header_t h[6])
{
    size_t n = 0;
    h[n++] = (sw_be_sigv4_header_t){"Host", c->host_hdr};
    h[n++] = (sw_be_sigv4_header_t){"X-Amz-Date", amz_date};
    h[n++] = (sw_be_sigv4_header_t){"Content-Type", "application/json"};
    h[n++] = (sw_be_sigv4_header_t){"X-Amz-Invocation-Type", "RequestResponse"};
    if (c->log_tail)
        h[n++] = (sw_be_sigv4_header_t){"X-Amz-Log-Type", "Tail"};
    if (c->creds.session_token)
        h[n++] = (sw_be_sigv4_header_t){"X-Amz-Security-Token", c->creds.session_token};
    return n;
}

/* Builds the Authorization value with the cached key. Returns 0 or -EINVAL. */
static int authorization(sw_be_lambda_t *c, const call_t *k, const char *amz_date,
                         const sw_be_sigv4_header_t *h, size_t n, sw_strbuf_t *out, char *errbuf,
                         size_t errlen)
{
    sw_be_sigv4_req_t req = {.method = "POST",
                             .path = c->path,
                             .query = c->query,
                             .headers = h,
                             .n_headers = n,
                             .body = k->len ? k->payload : NULL,
                             .body_bytes = k->len};
    sw_be_sigv4_creds_t cr = {c->creds.access_key_id, c->creds.secret_access_key,
                              c->creds.session_token};
    sw_be_sigv4_scope_t scope = {c->region, SERVICE, amz_date};
    char *creq = NULL, *names = NULL, *sts = NULL;
    int rc = sw_be_sigv4_canonical_request(&req, &cr, &scope, &creq, &names, errbuf, errlen);
    if (rc == 0)
        rc = sw_be_sigv4_string_to_sign(&scope, creq, &sts, errbuf, errlen);
    if (rc == 0) {
        char sig[SW_BE_SIGV4_HEX_LEN + 1];
        sw_be_sigv4_signature(signing_key(c, amz_date), sts, sig);
        sw_strbuf_printf(out,
                  "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/" SERVICE
                  "/aws4_request, SignedHeaders=%s, Signature=%s",
                  c->creds.access_key_id, c->key_date, c->region, names, sig);
    }
    sw_free(creq);
    sw_free(names);
    sw_free(sts);
    return rc;
}

/* Signs and builds the header list for one attempt. Returns 0 or -EINVAL. */
static int build_headers(sw_be_lambda_t *c, call_t *k, char *errbuf, size_t errlen)
{
    char amz_date[17];
    amz_date_now(amz_date);
    sw_be_sigv4_header_t h[6];
    size_t n = wire_headers(c, amz_date, h);
    sw_strbuf_t auth = {0};
    int rc = authorization(c, k, amz_date, h, n, &auth, errbuf, errlen);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            sw_strbuf_t line = {0};
            sw_strbuf_printf(&line, "%s: %s", h[i].name, h[i].value);
            k->hdrs = curl_slist_append(k->hdrs, line.p);
            sw_strbuf_free(&line, true); /* may hold the session token */
        }
        k->hdrs = curl_slist_append(k->hdrs, auth.p);
        /* An empty value removes curl's header: no 100-continue round trip per call. */
        k->hdrs = curl_slist_append(k->hdrs, "Expect:");
    }
    sw_strbuf_free(&auth, false);
    return rc;
}

static void set_easy_opts(call_t *k, CURL *e, long timeout_ms)
{
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)k->len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, k->payload);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, k->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &k->hdr);
    curl_easy_setopt(e, CURLOPT_PRIVATE, k);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, k->curl_err);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
}

/* Hands the next attempt of k to curl. Returns 0, or -1 with a message in err and k as
 * it was (no attempt counted), so the caller decides how the call ends. */
static int attempt_try(call_t *k, long timeout_ms, char *err, size_t errlen)
{
    sw_be_lambda_t *c = k->c;
    response_reset(k);
    if (build_headers(c, k, err, errlen) < 0)
        return -1;
    k->easy = pool_get(c);
    if (k->easy)
        set_easy_opts(k, k->easy, timeout_ms);
    CURLMcode mrc = k->easy ? curl_multi_add_handle(c->multi, k->easy) : CURLM_OUT_OF_MEMORY;
    if (mrc != CURLM_OK) {
        if (k->easy)
            pool_put(c, k->easy);
        k->easy = NULL;
        curl_slist_free_all(k->hdrs);
        k->hdrs = NULL;
        snprintf(err, errlen, "curl_multi_add_handle: %s", curl_multi_strerror(mrc));
        return -1;
    }
    k->state = CALL_ATTEMPT;
    if (++k->attempts > 1)
        c->stats.retries++;
    return 0;
}

/* The attempt's time limit: what is left of the deadline, capped per attempt. */
static long attempt_timeout_ms(const call_t *k, sw_time_t now)
{
    long ms = (long)((k->deadline - now) / SW_US_PER_MS);
    if (k->c->attempt_timeout_ms > 0)
        ms = SW_MIN(ms, (long)k->c->attempt_timeout_ms);
    return ms;
}

/* Starts the next attempt of k, or finishes it if the deadline has passed. */
static void attempt_start(call_t *k, sw_time_t now)
{
    if (k->deadline - now < SW_US_PER_MS) {
        finish_deadline(k, 0);
        return;
    }
    char err[256];
    if (attempt_try(k, attempt_timeout_ms(k, now), err, sizeof(err)) < 0)
        call_finish(k, SW_FAAS_FAILED, 0, err);
}

static void on_call_timer(evutil_socket_t fd, short events, void *arg)
{
    (void)fd;
    (void)events;
    call_t *k = arg;
    sw_be_lambda_t *c = k->c;
    sw_time_t now = sw_clock_now();
    if (now >= c->throttled_until) {
        attempt_start(k, now);
        return;
    }
    sw_time_t left = c->throttled_until - now;
    k->hdr.retry_after_s = left > 0 ? (uint32_t)((left + SW_US_PER_S - 1) / SW_US_PER_S) : 0;
    char msg[160];
    snprintf(msg, sizeof(msg),
             "throttled locally: a 429 asked to wait, %" PRIu32 " s of its Retry-After left",
             k->hdr.retry_after_s);
    call_finish(k, SW_FAAS_THROTTLED, 0, msg);
}

int sw_be_lambda_invoke(sw_be_lambda_t *c, const void *payload, size_t len, sw_be_lambda_done_cb cb,
                        void *arg)
{
    if (!cb || (len && !payload))
        return -EINVAL;
    if (c->destroying)
        return -ECANCELED;
    if (c->in_flight >= c->max_in_flight) {
        c->stats.busy_rejections++;
        return -EBUSY;
    }
    call_t *k = sw_calloc(1, sizeof(*k));
    k->c = c;
    k->cb = cb;
    k->arg = arg;
    k->len = len;
    k->payload = sw_malloc(len + 1);
    if (len)
        memcpy(k->payload, payload, len);
    k->payload[len] = '\0';
    k->timer = evtimer_new(c->base, on_call_timer, k);
    k->start = sw_clock_now();
    k->deadline = k->start + c->timeout_ms * SW_US_PER_MS;
    LIST_INSERT_HEAD(&c->calls, k, link);
    c->in_flight++;
    c->stats.invoked++;
    k->state = CALL_WAITING;
    /* The first attempt goes to curl now: a trip through the loop first cost every call
     * an extra epoll_wait. Whatever would end the call here instead (a throttle window, an
     * error) is left to the timer, so the callback never runs inside this call. */
    char err[256];
    if (k->start >= c->throttled_until &&
        attempt_try(k, attempt_timeout_ms(k, k->start), err, sizeof(err)) == 0)
        return 0;
    struct timeval zero = {0, 0};
    evtimer_add(k->timer, &zero);
    return 0;
}

/* ---- queries and teardown ----------------------------------------------------------- */

uint32_t sw_be_lambda_in_flight(const sw_be_lambda_t *c)
{
    return c->in_flight;
}

const char *sw_be_lambda_url(const sw_be_lambda_t *c)
{
    return c->url;
}

void sw_be_lambda_get_stats(const sw_be_lambda_t *c, sw_be_lambda_stats_t *out)
{
    *out = c->stats;
}

size_t sw_be_lambda_stats_format(const sw_be_lambda_stats_t *s, char *buf, size_t len)
{
    sw_strbuf_t b = {0};
#define SW__X(name) sw_strbuf_printf(&b, "lambda_" #name " %" PRIu64 "\n", s->name);
    SW_BE_LAMBDA_STATS(SW__X)
#undef SW__X
    if (buf && len > 0)
        snprintf(buf, len, "%s", b.p);
    size_t need = b.len;
    sw_strbuf_free(&b, false);
    return need;
}

void sw_be_lambda_destroy(sw_be_lambda_t *c)
{
    if (!c)
        return;
    assert(c->in_callback == 0 && "sw_be_lambda_destroy called from a callback");
    c->destroying = true;
    call_t *k;
    while ((k = LIST_FIRST(&c->calls)) != NULL) {
        if (k->easy) {
            curl_multi_remove_handle(c->multi, k->easy);
            pool_put(c, k->easy);
            k->easy = NULL;
        }
        evtimer_del(k->timer);
        call_finish(k, SW_FAAS_FAILED, 0, "cancelled");
    }
    /* The multi handle first: its cleanup closes cached connections and may still call
     * on_curl_socket and on_curl_timer_set. */
    if (c->multi)
        curl_multi_cleanup(c->multi);
    while (!LIST_EMPTY(&c->socks))
        sock_free(LIST_FIRST(&c->socks));
    if (c->timer_ev)
        event_free(c->timer_ev);
    for (uint32_t i = 0; i < c->n_pool; i++)
        curl_easy_cleanup(c->pool[i]);
    sw_free(c->pool);
    char **strs[] = {&c->endpoint, &c->host, &c->host_hdr, &c->path,
                     &c->query,    &c->url,  &c->region,   &c->function_name};
    for (size_t i = 0; i < SW_ARRAY_LEN(strs); i++)
        free_str(strs[i]);
    sw_be_aws_creds_deinit(&c->creds);
    OPENSSL_cleanse(c->key, sizeof(c->key));
    sw_free(c);
    curl_global_cleanup();
}
