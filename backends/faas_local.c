/* faas-local's service and Invoke API. Each request is checked the way Lambda's front end
 * does it (SigV4 with backends/sigv4.h, clock skew, access key), then routed: to an idle
 * environment of the function (warm), to a new environment while the concurrency limit
 * allows (cold), or refused with 429. Environments and the Runtime API live in
 * faas_local_env.c. Every accepted invocation is answered exactly once, through
 * sw__fl_inv_finish() or inv_abort(); a caller that leaves early only clears inv->caller. */
#include "backends/faas_local.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backends/faas_local_internal.h"
#include "backends/sigv4.h"

#define SW_LOG_MODULE "faas-local"
#include "common/log.h"

#define SYNC_MAX_BYTES 6291456  /* 6 MB, Lambda's synchronous payload limit */
#define ASYNC_MAX_BYTES 1048576 /* 1 MB for Event invocations */
#define MAX_SKEW_S 300
#define TAIL_MAX_BYTES 4096
#define INVOKE_PREFIX "/2015-03-31/functions/"
#define INVOKE_SUFFIX "/invocations"
#define SIG_MISMATCH                                                                               \
    "The request signature we calculated does not match the signature you provided. Check "        \
    "your AWS Secret Access Key and signing method. Consult the service documentation for "        \
    "details."

/* How an error body is shaped: the auth layer sends only "message"; Lambda's own errors
 * add "Type", and a few shapes spell it "Message". */
typedef enum { BODY_AUTH, BODY_USER, BODY_USER_CAPITAL, BODY_SERVICE } body_kind_t;

static void new_request_id(sw_be_faas_local_t *svc, char out[37])
{
    uint64_t a = sw_rng_u64(&svc->rng), b = sw_rng_u64(&svc->rng);
    a = (a & ~0xf000ULL) | 0x4000ULL;                 /* version 4 */
    b = (b & ~(0xc000ULL << 48)) | (0x8000ULL << 48); /* variant 10 */
    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%04" PRIx32 "-%012" PRIx64,
             (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffff, (uint32_t)a & 0xffff,
             (uint32_t)(b >> 48), (uint64_t)(b & 0xffffffffffffULL));
}

static void send_error(struct evhttp_request *req, const char *request_id, int status,
                       const char *type, body_kind_t kind, const char *message)
{
    json_t *j;
    switch (kind) {
    case BODY_AUTH: j = json_pack("{s:s}", "message", message); break;
    case BODY_USER_CAPITAL: j = json_pack("{s:s,s:s}", "Type", "User", "Message", message); break;
    case BODY_SERVICE: j = json_pack("{s:s,s:s}", "Type", "Service", "message", message); break;
    default: j = json_pack("{s:s,s:s}", "Type", "User", "message", message); break;
    }
    char *text = json_dumps(j, JSON_COMPACT);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "x-amzn-ErrorType", type);
    evhttp_add_header(h, "x-amzn-RequestId", request_id);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, text, strlen(text));
    const char *reason = status == 403 ? "Forbidden" : status == 404 ? "Not Found" : "Error";
    evhttp_send_reply(req, status, reason, b);
    evbuffer_free(b);
    free(text);
    json_decref(j);
}

/* ---- invocations ---- */

static void on_caller_close(struct evhttp_connection *conn, void *arg)
{
    fl_inv_t *inv = arg;
    (void)conn;
    inv->caller = NULL;
}

/* Releases inv without answering; detaches it from its environment. */
static void inv_free(fl_inv_t *inv)
{
    if (inv->env && inv->env->inv == inv)
        inv->env->inv = NULL;
    if (inv->caller)
        evhttp_connection_set_closecb(evhttp_request_get_connection(inv->caller), NULL, NULL);
    event_free(inv->timeout_ev);
    evbuffer_free(inv->event);
    sw_free(inv);
}

static void inv_abort(fl_inv_t *inv, const char *message)
{
    if (inv->caller) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(inv->caller), NULL, NULL);
        send_error(inv->caller, inv->id, 500, "ServiceException", BODY_SERVICE, message);
        inv->caller = NULL;
    }
    inv_free(inv);
}

/* Peak resident set of the environment's process, in MB (rounded up), or 0. */
static long long max_memory_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    long long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (kb + 1023) / 1024;
}

/* Prints END and REPORT to the service log and, for Tail, returns the log as base64 in
 * tail64 (caller frees), else NULL. Billed duration includes Init Duration on cold starts,
 * as Lambda bills init for custom (provided) runtimes. */
static char *log_report(fl_inv_t *inv)
{
    const sw_be_faas_local_opts_t *o = &inv->svc->o;
    double dur_ms = sw_time_to_ms(sw_clock_now() - inv->delivered_at);
    long long billed = (long long)ceil(dur_ms + (inv->cold ? inv->init_ms : 0.0));
    long long mem = inv->env ? max_memory_mb(inv->env->pid) : 0;
    char init[64] = "";
    if (inv->cold)
        snprintf(init, sizeof(init), "Init Duration: %.2f ms\t", inv->init_ms);
    char log[1024];
    snprintf(log, sizeof(log),
             "START RequestId: %s Version: $LATEST\nEND RequestId: %s\nREPORT RequestId: "
             "%s\tDuration: %.2f ms\tBilled Duration: %lld ms\tMemory Size: %u MB\tMax Memory "
             "Used: %lld MB\t%s\n",
             inv->id, inv->id, inv->id, dur_ms, billed, o->memory_mb, mem, init);
    /* START went out at delivery; print the rest now. */
    fputs(strchr(log, '\n') + 1, stderr);
    fflush(stderr);
    if (!inv->tail)
        return NULL;
    size_t len = strlen(log);
    const char *from = len > TAIL_MAX_BYTES ? log + len - TAIL_MAX_BYTES : log;
    size_t n = strlen(from);
    char *out = sw_malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)from, (int)n);
    return out;
}

void sw__fl_inv_finish(fl_inv_t *inv, const char *func_error, const void *body, size_t len)
{
    char *tail = inv->delivered ? log_report(inv) : NULL;
    if (inv->caller) {
        struct evhttp_request *req = inv->caller;
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
        inv->caller = NULL;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "x-amzn-RequestId", inv->id);
        evhttp_add_header(h, "X-Amz-Executed-Version", "$LATEST");
        if (func_error)
            evhttp_add_header(h, "X-Amz-Function-Error", func_error);
        if (tail)
            evhttp_add_header(h, "X-Amz-Log-Result", tail);
        struct evbuffer *b = evbuffer_new();
        if (len)
            evbuffer_add(b, body, len);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
    } else if (func_error) {
        SW_LOG_INFO("invocation failed request_id=%s function=%s error=%.*s", inv->id,
                    inv->fn->name, (int)SW_MIN(len, 300), (const char *)body);
    }
    sw_free(tail);
    inv_free(inv);
}

static void on_inv_timeout(evutil_socket_t fd, short what, void *arg)
{
    fl_inv_t *inv = arg;
    (void)fd;
    (void)what;
    fl_env_t *env = inv->env;
    char ts[32], msg[256];
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    snprintf(msg, sizeof(msg), "{\"errorMessage\":\"%s %s Task timed out after %.2f seconds\"}", ts,
             inv->id, inv->svc->o.timeout_s);
    sw__fl_inv_finish(inv, "Unhandled", msg, strlen(msg));
    /* Lambda does not reuse an environment whose invocation timed out. */
    if (env)
        sw__fl_env_stop(env, true);
}

/* Routes inv: warm environment first (one already polling /next, else any idle one), then
 * a new environment under the concurrency limit. Environments of every function count
 * towards the limit, idle ones included, but an idle environment of another function is
 * evicted to make room (Lambda throttles on work, not on warm capacity). Stopping ones no
 * longer count. Returns 0, -EAGAIN at the limit, or -ECHILD when the function could not
 * be started. */
static int dispatch(sw_be_faas_local_t *svc, fl_inv_t *inv)
{
    fl_env_t *best = NULL, *victim = NULL;
    unsigned live = 0;
    fl_env_t *e;
    SLIST_FOREACH(e, &svc->envs, link) {
        live += e->state != ENV_STOPPING;
        if (e->state != ENV_IDLE || e->inv)
            continue;
        if (e->fn != inv->fn)
            victim = e;
        else if (!best || (e->next_req && !best->next_req))
            best = e;
    }
    if (!best) {
        if (live >= svc->o.concurrency && !victim)
            return -EAGAIN;
        if (live >= svc->o.concurrency) {
            SW_LOG_DEBUG("evicting idle environment function=%s pid=%ld", victim->fn->name,
                         (long)victim->pid);
            sw__fl_env_stop(victim, false);
        }
        best = sw__fl_env_spawn(svc, inv->fn);
        if (!best)
            return -ECHILD;
    }
    sw__fl_env_assign(best, inv);
    return 0;
}

static void on_drained(evutil_socket_t fd, short what, void *arg)
{
    sw_be_faas_local_t *svc = arg;
    (void)fd;
    (void)what;
    if (svc->drained_cb)
        svc->drained_cb(svc->drained_arg);
}

void sw__fl_capacity_freed(sw_be_faas_local_t *svc)
{
    fl_inv_t *inv;
    while (!svc->draining && (inv = STAILQ_FIRST(&svc->queue)) != NULL) {
        int rc = dispatch(svc, inv);
        if (rc == -EAGAIN)
            break;
        STAILQ_REMOVE_HEAD(&svc->queue, link);
        if (rc < 0)
            inv_abort(inv, "the function could not be started");
    }
    if (svc->draining && svc->n_envs == 0 && svc->drained_ev)
        event_active(svc->drained_ev, EV_TIMEOUT, 0);
}

/* ---- authentication ---- */

/* The parts of "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=hex", copied into one buffer. */
typedef struct auth {
    char buf[2048];
    char *cred[5];
    char *signed_headers, *signature;
} auth_t;

static bool parse_authorization(const char *value, auth_t *a)
{
    static const char algo[] = "AWS4-HMAC-SHA256 ";
    memset(a, 0, sizeof(*a));
    if (strncmp(value, algo, strlen(algo)) || strlen(value) >= sizeof(a->buf))
        return false;
    snprintf(a->buf, sizeof(a->buf), "%s", value + strlen(algo));
    char *save = NULL, *credential = NULL;
    for (char *tok = strtok_r(a->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " ");
        if (!strncmp(tok, "Credential=", 11))
            credential = tok + 11;
        else if (!strncmp(tok, "SignedHeaders=", 14))
            a->signed_headers = tok + 14;
        else if (!strncmp(tok, "Signature=", 10))
            a->signature = tok + 10;
    }
    if (!credential || !a->signed_headers || !a->signature)
        return false;
    for (int i = 0; i < 5; i++) {
        a->cred[i] = credential;
        char *slash = strchr(credential, '/');
        if (i < 4 && !slash)
            return false;
        if (slash) {
            *slash = '\0';
            credential = slash + 1;
        }
    }
    return strcmp(a->cred[4], "aws4_request") == 0;
}

/* Checks X-Amz-Date against the clock; fills msg and returns false when out of range. */
static bool check_skew(const char *amz_date, char *msg, size_t len)
{
    struct tm tm = {0};
    int used = 0;
    if (strlen(amz_date) != 16 ||
        sscanf(amz_date, "%4d%2d%2dT%2d%2d%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used != 16) {
        snprintf(msg, len, "Invalid X-Amz-Date: %.32s", amz_date);
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm), now = time(NULL);
    if (llabs((long long)(now - t)) <= MAX_SKEW_S)
        return true;
    char now_s[20], lim_s[20];
    struct tm x;
    bool past = t < now;
    time_t lim = past ? now - MAX_SKEW_S : now + MAX_SKEW_S;
    strftime(now_s, sizeof(now_s), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &x));
    strftime(lim_s, sizeof(lim_s), "%Y%m%dT%H%M%SZ", gmtime_r(&lim, &x));
    if (past)
        snprintf(msg, len, "Signature expired: %s is now earlier than %s (%s - 5 min.)", amz_date,
                 lim_s, now_s);
    else
        snprintf(msg, len, "Signature not yet current: %s is still later than %s (%s + 5 min.)",
                 amz_date, lim_s, now_s);
    return false;
}

/* Recomputes the signature over exactly the signed headers as received. */
static bool signature_matches(const sw_be_faas_local_t *svc, struct evhttp_request *req,
                              const auth_t *a, const char *amz_date, const char *path,
                              const char *query, const void *body, size_t len)
{
    sw_be_sigv4_header_t hdrs[64];
    size_t n = 0;
    char names[1024];
    snprintf(names, sizeof(names), "%s", a->signed_headers);
    char *save = NULL;
    for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        bool found = false;
        struct evkeyval *kv;
        TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
        {
            if (strcasecmp(kv->key, name) || n == SW_ARRAY_LEN(hdrs))
                continue;
            hdrs[n++] = (sw_be_sigv4_header_t){.name = name, .value = kv->value};
            found = true;
        }
        if (!found)
            return false;
    }
    sw_be_sigv4_req_t r = {.method = "POST",
                           .path = path,
                           .query = query,
                           .headers = hdrs,
                           .n_headers = n,
                           .body = len ? body : NULL,
                           .body_bytes = len};
    sw_be_sigv4_scope_t scope = {
        .region = svc->o.region, .service = "lambda", .amz_date = amz_date};
    char *creq = NULL, *sts = NULL, err[200];
    bool ok = false;
    if (sw_be_sigv4_canonical_request(&r, NULL, &scope, &creq, NULL, err, sizeof(err)) < 0 ||
        sw_be_sigv4_string_to_sign(&scope, creq, &sts, err, sizeof(err)) < 0)
        goto out;
    char date8[9];
    snprintf(date8, sizeof(date8), "%.8s", amz_date);
    uint8_t key[SW_BE_SIGV4_KEY_BYTES];
    if (sw_be_sigv4_signing_key(svc->o.secret_access_key, date8, svc->o.region, "lambda", key) < 0)
        goto out;
    char hex[SW_BE_SIGV4_HEX_LEN + 1];
    sw_be_sigv4_signature(key, sts, hex);
    OPENSSL_cleanse(key, sizeof(key));
    ok = strlen(a->signature) == SW_BE_SIGV4_HEX_LEN &&
         CRYPTO_memcmp(hex, a->signature, SW_BE_SIGV4_HEX_LEN) == 0;
out:
    sw_free(creq);
    sw_free(sts);
    return ok;
}

/* Returns true when the request is authentic; otherwise has sent the error. */
static bool authenticate(sw_be_faas_local_t *svc, struct evhttp_request *req, const char *rid,
                         const char *path, const char *query, const void *body, size_t len)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *authz = evhttp_find_header(in, "Authorization");
    if (!authz) {
        send_error(req, rid, 403, "MissingAuthenticationTokenException", BODY_AUTH,
                   "Missing Authentication Token");
        return false;
    }
    auth_t a;
    if (!parse_authorization(authz, &a)) {
        send_error(req, rid, 400, "IncompleteSignatureException", BODY_AUTH,
                   "Authorization header requires 'Credential', 'Signature' and "
                   "'SignedHeaders' parameters with AWS4-HMAC-SHA256.");
        return false;
    }
    size_t ak_len = strlen(svc->o.access_key_id);
    if (strlen(a.cred[0]) != ak_len || CRYPTO_memcmp(a.cred[0], svc->o.access_key_id, ak_len)) {
        send_error(req, rid, 403, "UnrecognizedClientException", BODY_AUTH,
                   "The security token included in the request is invalid.");
        return false;
    }
    const char *amz_date = evhttp_find_header(in, "X-Amz-Date");
    char msg[300];
    if (!amz_date) {
        send_error(req, rid, 400, "IncompleteSignatureException", BODY_AUTH,
                   "Authorization header requires existence of either a 'X-Amz-Date' or a "
                   "'Date' header.");
        return false;
    }
    if (!check_skew(amz_date, msg, sizeof(msg))) {
        send_error(req, rid, 403, "InvalidSignatureException", BODY_AUTH, msg);
        return false;
    }
    const char *bad_scope = NULL;
    if (strncmp(a.cred[1], amz_date, 8) || strlen(a.cred[1]) != 8)
        bad_scope = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                    "of date from HTTP.";
    else if (strcmp(a.cred[2], svc->o.region))
        bad_scope = "Credential should be scoped to a valid region.";
    else if (strcmp(a.cred[3], "lambda"))
        bad_scope = "Credential should be scoped to correct service: 'lambda'.";
    if (bad_scope) {
        send_error(req, rid, 403, "InvalidSignatureException", BODY_AUTH, bad_scope);
        return false;
    }
    if (!signature_matches(svc, req, &a, amz_date, path, query, body, len)) {
        send_error(req, rid, 403, "InvalidSignatureException", BODY_AUTH, SIG_MISMATCH);
        return false;
    }
    return true;
}

/* ---- Invoke API ---- */

/* Extracts the function name and alias from the path segment (percent-decoded): a name,
 * name:alias, or a full or partial ARN. Returns false when the segment is malformed. */
static bool parse_function(const char *seg, size_t seg_len, char *name, size_t name_len,
                           char *alias, size_t alias_len)
{
    char raw[512];
    if (seg_len == 0 || seg_len >= sizeof(raw))
        return false;
    memcpy(raw, seg, seg_len);
    raw[seg_len] = '\0';
    char *dec = evhttp_uridecode(raw, 0, NULL);
    if (!dec)
        return false;
    const char *p = dec;
    for (const char *f; (f = strstr(p, "function:"));)
        p = f + strlen("function:");
    size_t n = strcspn(p, ":");
    bool ok = n > 0 && n < name_len && strlen(p + n) < alias_len + 1;
    if (ok) {
        snprintf(name, name_len, "%.*s", (int)n, p);
        snprintf(alias, alias_len, "%s", p[n] ? p + n + 1 : "");
    }
    free(dec);
    return ok;
}

static const sw_be_faas_local_fn_t *find_function(const sw_be_faas_local_t *svc, const char *name)
{
    for (size_t i = 0; i < svc->o.n_functions; i++)
        if (!strcmp(svc->o.functions[i].name, name))
            return &svc->o.functions[i];
    return NULL;
}

static void send_throttle(struct evhttp_request *req, const char *rid)
{
    static const char body[] = "{\"Reason\":\"ConcurrentInvocationLimitExceeded\",\"Type\":"
                               "\"User\",\"message\":\"Rate Exceeded.\"}";
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "x-amzn-ErrorType", "TooManyRequestsException");
    evhttp_add_header(h, "x-amzn-RequestId", rid);
    evhttp_add_header(h, "Retry-After", "1");
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, 429, "Too Many Requests", b);
    evbuffer_free(b);
}

/* What an Invoke request asks for, once it has passed the checks. */
typedef struct invoke_args {
    const sw_be_faas_local_fn_t *fn;
    char qualifier[130];
    bool is_event, is_dry_run, tail;
} invoke_args_t;

/* Validates everything after authentication. Returns true, or false having sent the error. */
static bool check_invoke(sw_be_faas_local_t *svc, struct evhttp_request *req, const char *rid,
                         const char *path, size_t path_len, const char *query, size_t len,
                         invoke_args_t *a)
{
    size_t pre = strlen(INVOKE_PREFIX), suf = strlen(INVOKE_SUFFIX);
    char name[300], alias[300], msg[512];
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || path_len <= pre + suf ||
        strncmp(path, INVOKE_PREFIX, pre) || strncmp(path + path_len - suf, INVOKE_SUFFIX, suf) ||
        !parse_function(path + pre, path_len - pre - suf, name, sizeof(name), alias,
                        sizeof(alias))) {
        send_error(req, rid, 404, "UnknownOperationException", BODY_AUTH, "Unknown operation");
        return false;
    }
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    const char *qual = NULL;
    if (query && evhttp_parse_query_str(query, &q) == 0)
        qual = evhttp_find_header(&q, "Qualifier");
    snprintf(a->qualifier, sizeof(a->qualifier), "%.128s", qual ? qual : alias);
    evhttp_clear_headers(&q);
    a->fn = find_function(svc, name);
    if (!a->fn) {
        snprintf(msg, sizeof(msg), "Function not found: arn:aws:lambda:%s:000000000000:function:%s",
                 svc->o.region, name);
        send_error(req, rid, 404, "ResourceNotFoundException", BODY_USER_CAPITAL, msg);
        return false;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *type = evhttp_find_header(in, "X-Amz-Invocation-Type");
    const char *log_type = evhttp_find_header(in, "X-Amz-Log-Type");
    a->is_event = type && !strcmp(type, "Event");
    a->is_dry_run = type && !strcmp(type, "DryRun");
    a->tail = log_type && !strcmp(log_type, "Tail");
    if ((type && !a->is_event && !a->is_dry_run && strcmp(type, "RequestResponse")) ||
        (log_type && !a->tail && strcmp(log_type, "None"))) {
        snprintf(msg, sizeof(msg), "Unsupported X-Amz-Invocation-Type or X-Amz-Log-Type");
        send_error(req, rid, 400, "InvalidParameterValueException", BODY_USER, msg);
        return false;
    }
    size_t limit = a->is_event ? ASYNC_MAX_BYTES : SYNC_MAX_BYTES;
    if (len > limit) {
        snprintf(msg, sizeof(msg),
                 "Request must be smaller than %zu bytes for the InvokeFunction operation", limit);
        send_error(req, rid, 413, "RequestTooLargeException", BODY_USER, msg);
        return false;
    }
    return true;
}

static bool check_json(struct evhttp_request *req, const char *rid, const void *body, size_t len)
{
    if (len == 0)
        return true;
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (j) {
        json_decref(j);
        return true;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "Could not parse request body into json: %s (line %d column %d)",
             jerr.text, jerr.line, jerr.column);
    send_error(req, rid, 400, "InvalidRequestContentException", BODY_USER, msg);
    return false;
}

static fl_inv_t *inv_new(sw_be_faas_local_t *svc, const invoke_args_t *a, const char *rid,
                         struct evbuffer *body)
{
    fl_inv_t *inv = sw_calloc(1, sizeof(*inv));
    inv->svc = svc;
    inv->fn = a->fn;
    snprintf(inv->id, sizeof(inv->id), "%s", rid);
    snprintf(inv->arn, sizeof(inv->arn), "arn:aws:lambda:%s:000000000000:function:%s%s%s",
             svc->o.region, a->fn->name, a->qualifier[0] ? ":" : "", a->qualifier);
    inv->tail = a->tail && !a->is_event;
    inv->event = evbuffer_new();
    if (evbuffer_get_length(body))
        evbuffer_add_buffer(inv->event, body);
    else
        evbuffer_add(inv->event, "{}", 2); /* an empty payload reaches handlers as {} */
    inv->timeout_ev = evtimer_new(svc->base, on_inv_timeout, inv);
    return inv;
}

static void on_invoke(struct evhttp_request *req, void *arg)
{
    sw_be_faas_local_t *svc = arg;
    char rid[37];
    new_request_id(svc, rid);
    if (svc->draining) {
        send_error(req, rid, 500, "ServiceException", BODY_SERVICE, "faas-local is stopping");
        return;
    }
    const char *uri = evhttp_request_get_uri(req);
    size_t path_len = strcspn(uri, "?");
    char path[2048];
    if (path_len >= sizeof(path)) {
        send_error(req, rid, 400, "InvalidParameterValueException", BODY_USER, "URI too long");
        return;
    }
    memcpy(path, uri, path_len);
    path[path_len] = '\0';
    const char *query = uri[path_len] ? uri + path_len + 1 : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const void *body = len ? evbuffer_pullup(in, -1) : NULL;
    invoke_args_t a = {0};
    if (!authenticate(svc, req, rid, path, query, body, len) ||
        !check_invoke(svc, req, rid, path, path_len, query, len, &a) ||
        !check_json(req, rid, body, len))
        return;
    if (a.is_dry_run) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-RequestId", rid);
        evhttp_send_reply(req, 204, "No Content", NULL);
        return;
    }
    fl_inv_t *inv = inv_new(svc, &a, rid, in);
    if (a.is_event) {
        /* Lambda queues Event invocations; so do we, until an environment is free. */
        STAILQ_INSERT_TAIL(&svc->queue, inv, link);
        evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-RequestId", rid);
        evhttp_send_reply(req, 202, "Accepted", NULL);
        sw__fl_capacity_freed(svc);
        return;
    }
    inv->caller = req;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_caller_close, inv);
    int rc = dispatch(svc, inv);
    if (rc == -EAGAIN) {
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);
        inv->caller = NULL;
        send_throttle(req, rid);
        inv_free(inv);
    } else if (rc < 0) {
        inv_abort(inv, "the function could not be started");
    }
}

/* ---- lifecycle ---- */

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw__fl_env_reap(arg);
}

static int check_opts(const sw_be_faas_local_opts_t *o, char *errbuf, size_t errlen)
{
    if (!o->access_key_id || !*o->access_key_id || !o->secret_access_key ||
        !*o->secret_access_key) {
        sw_set_error(errbuf, errlen,
                     "no credentials: set AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY");
        return -EINVAL;
    }
    if (o->n_functions == 0) {
        sw_set_error(errbuf, errlen, "no functions configured");
        return -EINVAL;
    }
    for (size_t i = 0; i < o->n_functions; i++) {
        const char *n = o->functions[i].name;
        if (!n || !*n || strlen(n) > 64 ||
            strspn(n, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(n)) {
            sw_set_error(errbuf, errlen, "function name '%s': expected 1-64 of [A-Za-z0-9-_]",
                         n ? n : "");
            return -EINVAL;
        }
        if (!o->functions[i].command || !*o->functions[i].command) {
            sw_set_error(errbuf, errlen, "function %s: empty command", n);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->functions[j].name, n)) {
                sw_set_error(errbuf, errlen, "function %s: defined twice", n);
                return -EINVAL;
            }
    }
    if (o->timeout_s < 0 || o->keep_alive_s < 0) {
        sw_set_error(errbuf, errlen, "timeout_s and keep_alive_s must be >= 0");
        return -EINVAL;
    }
    return 0;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return seed;
}

int sw_be_faas_local_create(struct event_base *base, const sw_be_faas_local_opts_t *opts,
                            sw_be_faas_local_t **out, char *errbuf, size_t errlen)
{
    int rc = check_opts(opts, errbuf, errlen);
    if (rc < 0)
        return rc;
    sw_be_faas_local_t *svc = sw_calloc(1, sizeof(*svc));
    SLIST_INIT(&svc->envs);
    STAILQ_INIT(&svc->queue);
    svc->o = *opts;
    sw_be_faas_local_opts_t *o = &svc->o;
    if (!o->listen_host)
        o->listen_host = "127.0.0.1";
    if (!o->memory_mb)
        o->memory_mb = SW_BE_FAAS_LOCAL_MEMORY_MB_DEFAULT;
    if (o->timeout_s <= 0)
        o->timeout_s = SW_BE_FAAS_LOCAL_TIMEOUT_S_DEFAULT;
    if (!o->concurrency)
        o->concurrency = SW_BE_FAAS_LOCAL_CONCURRENCY_DEFAULT;
    if (o->keep_alive_s <= 0)
        o->keep_alive_s = SW_BE_FAAS_LOCAL_KEEP_ALIVE_S_DEFAULT;
    if (!o->region)
        o->region = SW_BE_FAAS_LOCAL_REGION_DEFAULT;
    svc->base = base;
    sw_rng_init(&svc->rng, random_seed());
    svc->http = evhttp_new(base);
    /* Above the 6 MB limit, so oversized payloads get Lambda's 413 body, not evhttp's. */
    evhttp_set_max_body_size(svc->http, 16 * 1024 * 1024);
    evhttp_set_gencb(svc->http, on_invoke, svc);
    svc->sock = evhttp_bind_socket_with_handle(svc->http, o->listen_host, o->listen_port);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (!svc->sock ||
        getsockname(evhttp_bound_socket_get_fd(svc->sock), (struct sockaddr *)&ss, &sl) < 0) {
        rc = errno ? -errno : -EADDRINUSE;
        sw_set_error(errbuf, errlen, "cannot listen on %s:%u: %s", o->listen_host,
                     (unsigned)o->listen_port, strerror(-rc));
        evhttp_free(svc->http);
        sw_free(svc);
        return rc;
    }
    svc->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    svc->sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, svc);
    evsignal_add(svc->sigchld_ev, NULL);
    svc->drained_ev = event_new(base, -1, 0, on_drained, svc);
    *out = svc;
    return 0;
}

uint16_t sw_be_faas_local_port(const sw_be_faas_local_t *svc)
{
    return svc->port;
}

/* Answers every invocation that has not been answered: queued ones and those held by an
 * environment. */
static void abort_all(sw_be_faas_local_t *svc, const char *why)
{
    fl_inv_t *inv;
    while ((inv = STAILQ_FIRST(&svc->queue)) != NULL) {
        STAILQ_REMOVE_HEAD(&svc->queue, link);
        inv_abort(inv, why);
    }
    fl_env_t *e;
    SLIST_FOREACH(e, &svc->envs, link)
        if (e->inv)
            inv_abort(e->inv, why);
}

void sw_be_faas_local_drain(sw_be_faas_local_t *svc, sw_be_faas_local_drained_cb cb, void *arg)
{
    svc->draining = true;
    svc->drained_cb = cb;
    svc->drained_arg = arg;
    if (svc->sock) {
        evhttp_del_accept_socket(svc->http, svc->sock);
        svc->sock = NULL;
    }
    abort_all(svc, "faas-local is stopping");
    fl_env_t *e;
    SLIST_FOREACH(e, &svc->envs, link)
        if (e->state != ENV_STOPPING)
            sw__fl_env_stop(e, false);
    sw__fl_env_reap(svc);
    sw__fl_capacity_freed(svc);
}

void sw_be_faas_local_destroy(sw_be_faas_local_t *svc)
{
    if (!svc)
        return;
    abort_all(svc, "faas-local is stopping");
    sw__fl_env_free_all(svc);
    evhttp_free(svc->http);
    event_free(svc->sigchld_ev);
    event_free(svc->drained_ev);
    sw_free(svc);
}
