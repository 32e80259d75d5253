/* Tests of backends/lambda_client.c against a fake Lambda built on libevent's evhttp, on
 * 127.0.0.1 port 0 in the same event_base as the client. The fake recomputes every
 * request's SigV4 Authorization with backends/sigv4.h from what it received (method, URI,
 * the signed headers, body) and answers 403 on a mismatch; the suite's fini asserts that
 * never happened. It answers from a per-test script, counts requests and TCP connections,
 * and can hold a request forever to model a hung function. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "backends/lambda_client.h"
#include "backends/sigv4.h"
#include "common/log.h"

#define AK "AKIDTESTLAMBDA"
#define SK "lambdaTESTsecret/K7MDENG+bPxRfiCY"
/* Real STS session tokens run to a thousand characters and more: longer than any fixed
 * header buffer a client might have. */
#define TOKEN_64 "EXAMPLESESSIONTOKEN/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define TOKEN_512 TOKEN_64 TOKEN_64 TOKEN_64 TOKEN_64 TOKEN_64 TOKEN_64 TOKEN_64 TOKEN_64
#define TOKEN "IQoJb3JpZ2luX2Vj" TOKEN_512 TOKEN_512 TOKEN_512
#define REGION "us-east-1"

typedef struct resp {
    int status;
    const char *body;
    const char *hdrs[4][2];
    bool hold; /* never answer */
} resp_t;

typedef struct fake {
    struct event_base *base;
    struct evhttp *http;
    struct event *tick;
    uint16_t port;
    resp_t script[16];
    size_t n_script, next;
    int requests, conns, sig_failures;
    char uri[512], body[512], log_type[32], token[2048], signed_headers[256], ctype[64], itype[64],
        expect[64];
} fake_t;

typedef struct done {
    int n;
    sw_be_lambda_result_t r;
    char body[512], error[1024], ferr[32];
} done_t;

static fake_t fk;
static sw_be_lambda_t *cl;
static done_t dn[32];

/* ---- the fake Lambda -------------------------------------------------------------- */

static void copy_hdr(char *dst, size_t n, struct evkeyvalq *h, const char *name)
{
    const char *v = evhttp_find_header(h, name);
    snprintf(dst, n, "%s", v ? v : "");
}

/* Recomputes the Authorization header from the request as received. */
static bool signature_ok(struct evhttp_request *req, const char *body, size_t body_len)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *auth = evhttp_find_header(in, "Authorization");
    const char *date = evhttp_find_header(in, "X-Amz-Date");
    const char *sh = auth ? strstr(auth, "SignedHeaders=") : NULL;
    if (!date || !sh)
        return false;
    char names[256], uri[512];
    snprintf(names, sizeof(names), "%.*s", (int)strcspn(sh + 14, ","), sh + 14);
    snprintf(fk.signed_headers, sizeof(fk.signed_headers), "%s", names);
    sw_be_sigv4_header_t h[16];
    size_t n = 0;
    for (char *save = NULL, *name = strtok_r(names, ";", &save); name && n < 16;
         name = strtok_r(NULL, ";", &save)) {
        const char *v = evhttp_find_header(in, name);
        if (!v)
            return false;
        h[n++] = (sw_be_sigv4_header_t){name, v};
    }
    snprintf(uri, sizeof(uri), "%s", evhttp_request_get_uri(req));
    char *q = strchr(uri, '?');
    if (q)
        *q++ = '\0';
    sw_be_sigv4_req_t r = {"POST", uri, q, h, n, body_len ? body : NULL, body_len};
    sw_be_sigv4_creds_t creds = {AK, SK, NULL};
    sw_be_sigv4_scope_t scope = {REGION, "lambda", date};
    char *want = NULL, err[256];
    if (sw_be_sigv4_authorization(&r, &creds, &scope, &want, err, sizeof(err)) != 0)
        return false;
    bool ok = strcmp(want, auth) == 0;
    sw_free(want);
    return ok;
}

static void reply(struct evhttp_request *req, const resp_t *r)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "application/json");
    for (size_t i = 0; i < 4 && r->hdrs[i][0]; i++)
        evhttp_add_header(out, r->hdrs[i][0], r->hdrs[i][1]);
    struct evbuffer *b = evbuffer_new();
    if (r->body)
        evbuffer_add(b, r->body, strlen(r->body));
    evhttp_send_reply(req, r->status, r->status == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static void on_fake_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    fk.requests++;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, -1);
    snprintf(fk.body, sizeof(fk.body), "%.*s", (int)len, body ? body : "");
    snprintf(fk.uri, sizeof(fk.uri), "%s", evhttp_request_get_uri(req));
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    copy_hdr(fk.log_type, sizeof(fk.log_type), h, "X-Amz-Log-Type");
    copy_hdr(fk.token, sizeof(fk.token), h, "X-Amz-Security-Token");
    copy_hdr(fk.ctype, sizeof(fk.ctype), h, "Content-Type");
    copy_hdr(fk.itype, sizeof(fk.itype), h, "X-Amz-Invocation-Type");
    copy_hdr(fk.expect, sizeof(fk.expect), h, "Expect");
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || !signature_ok(req, body, len)) {
        fk.sig_failures++;
        reply(req, &(resp_t){403, "{\"message\":\"signature mismatch\"}", {{0}}, false});
        return;
    }
    size_t i = fk.next < fk.n_script ? fk.next : fk.n_script - 1;
    fk.next++;
    if (!fk.script[i].hold)
        reply(req, &fk.script[i]);
}

static struct bufferevent *on_fake_conn(struct event_base *base, void *arg)
{
    (void)arg;
    fk.conns++;
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    (void)arg;
}

static void setup(void)
{
    memset(&fk, 0, sizeof(fk));
    memset(dn, 0, sizeof(dn));
    fk.base = event_base_new();
    fk.http = evhttp_new(fk.base);
    evhttp_set_gencb(fk.http, on_fake_request, NULL);
    evhttp_set_bevcb(fk.http, on_fake_conn, NULL);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(fk.http, "127.0.0.1", 0);
    cr_assert_not_null(bs);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl);
    fk.port = ntohs(sa.sin_port);
    /* Keeps EVLOOP_ONCE from blocking forever when nothing else is pending. */
    fk.tick = event_new(fk.base, -1, EV_PERSIST, on_tick, NULL);
    event_add(fk.tick, &(struct timeval){0, 5000});
    fk.script[0] = (resp_t){200, "{\"ok\":true}", {{0}}, false};
    fk.n_script = 1;
}

static void teardown(void)
{
    sw_be_lambda_destroy(cl);
    cl = NULL;
    evhttp_free(fk.http);
    event_free(fk.tick);
    event_base_free(fk.base);
    cr_expect_eq(fk.sig_failures, 0, "%d requests failed the signature check", fk.sig_failures);
}

TestSuite(be_lambda, .init = setup, .fini = teardown, .timeout = 30);

/* ---- client helpers ------------------------------------------------------------------ */

static sw_be_aws_creds_t test_creds = {
    .access_key_id = AK, .secret_access_key = SK, .source = "test"};

static sw_be_lambda_opts_t base_opts(char *endpoint, size_t n)
{
    snprintf(endpoint, n, "http://127.0.0.1:%u", fk.port);
    return (sw_be_lambda_opts_t){.endpoint = endpoint,
                                 .region = REGION,
                                 .function_name = "fn",
                                 .creds = &test_creds,
                                 .timeout_ms = 5000,
                                 .max_retries = 2,
                                 .retry_base_ms = 5,
                                 .retry_max_ms = 20,
                                 .seed = 1};
}

static void make_client(const sw_be_lambda_opts_t *o)
{
    char err[256];
    int rc = sw_be_lambda_create(fk.base, o, &cl, err, sizeof(err));
    cr_assert_eq(rc, 0, "create: %s", err);
}

static void on_done(void *arg, const sw_be_lambda_result_t *r)
{
    done_t *d = arg;
    d->n++;
    d->r = *r;
    snprintf(d->body, sizeof(d->body), "%.*s", (int)r->body_len, r->body ? r->body : "");
    snprintf(d->error, sizeof(d->error), "%s", r->error ? r->error : "");
    snprintf(d->ferr, sizeof(d->ferr), "%s", r->function_error ? r->function_error : "");
    d->r.body = d->r.error = d->r.function_error = d->r.executed_version = NULL;
}

static void invoke(done_t *d, const char *payload)
{
    int rc = sw_be_lambda_invoke(cl, payload, strlen(payload), on_done, d);
    cr_assert_eq(rc, 0, "invoke: %s", sw_strerror(rc));
    cr_assert_eq(d->n, 0, "callback ran inside invoke");
}

static void run_until(const int *counter, int want, int64_t timeout_ms)
{
    sw_time_t end = sw_clock_now() + timeout_ms * SW_US_PER_MS;
    while (*counter < want) {
        cr_assert_lt(sw_clock_now(), end, "waited %lld ms for %d events, have %d",
                     (long long)timeout_ms, want, *counter);
        event_base_loop(fk.base, EVLOOP_ONCE);
    }
}

static void run_for(int64_t ms)
{
    sw_time_t end = sw_clock_now() + ms * SW_US_PER_MS;
    while (sw_clock_now() < end)
        event_base_loop(fk.base, EVLOOP_ONCE);
}

static sw_be_lambda_stats_t stats(void)
{
    sw_be_lambda_stats_t s;
    sw_be_lambda_get_stats(cl, &s);
    return s;
}

/* ---- tests ----------------------------------------------------------------------------- */

Test(be_lambda, ok_returns_the_body_and_signs_what_it_sends)
{
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    invoke(&dn[0], "{\"x\":1}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_eq(dn[0].r.http_status, 200);
    cr_assert_str_eq(dn[0].body, "{\"ok\":true}");
    cr_assert_str_eq(dn[0].error, "");
    cr_assert_str_eq(dn[0].ferr, "");
    cr_assert_eq(dn[0].r.attempts, 1);
    cr_assert_eq(dn[0].r.duration_ms, 0);
    cr_assert_not(dn[0].r.cold_start);
    cr_assert_gt(dn[0].r.latency, 0);
    cr_assert_str_eq(fk.uri, "/2015-03-31/functions/fn/invocations");
    cr_assert_str_eq(fk.body, "{\"x\":1}");
    cr_assert_str_eq(fk.ctype, "application/json");
    cr_assert_str_eq(fk.itype, "RequestResponse");
    cr_assert_str_eq(fk.expect, "");
    cr_assert_str_eq(fk.log_type, "");
    cr_assert_str_eq(fk.signed_headers, "content-type;host;x-amz-date;x-amz-invocation-type");
    sw_be_lambda_stats_t s = stats();
    cr_assert_eq(s.invoked, 1);
    cr_assert_eq(s.ok, 1);
    cr_assert_eq(s.failed + s.retries + s.throttled, 0);
    cr_assert_eq(sw_be_lambda_in_flight(cl), 0);
}

Test(be_lambda, function_error_header_means_function_error)
{
    fk.script[0] =
        (resp_t){200,
                 "{\"errorMessage\":\"boom\",\"errorType\":\"Error\"}",
                 {{"X-Amz-Function-Error", "Unhandled"}, {"X-Amz-Executed-Version", "$LATEST"}},
                 false};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_FUNCTION_ERROR);
    cr_assert_str_eq(dn[0].ferr, "Unhandled");
    cr_assert(strstr(dn[0].body, "boom"));
    cr_assert_eq(dn[0].r.attempts, 1);
    cr_assert_eq(stats().function_errors, 1);
}

Test(be_lambda, throttle_429_opens_a_local_window_then_calls_flow_again)
{
    fk.script[0] =
        (resp_t){429,
                 "{\"Reason\":\"ConcurrentInvocationLimitExceeded\","
                 "\"Type\":\"User\",\"message\":\"Rate Exceeded.\"}",
                 {{"Retry-After", "1"}, {"x-amzn-ErrorType", "TooManyRequestsException"}},
                 false};
    fk.script[1] = (resp_t){200, "{\"ok\":2}", {{0}}, false};
    fk.n_script = 2;
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_THROTTLED);
    cr_assert_eq(dn[0].r.http_status, 429);
    cr_assert_eq(dn[0].r.retry_after_s, 1);
    cr_assert_eq(dn[0].r.attempts, 1);
    cr_assert(strstr(dn[0].error, "TooManyRequestsException"), "%s", dn[0].error);
    cr_assert(strstr(dn[0].error, "Rate Exceeded."), "%s", dn[0].error);
    cr_assert_eq(fk.requests, 1);

    invoke(&dn[1], "{}"); /* asserts the callback did not run inside invoke */
    run_until(&dn[1].n, 1, 5000);
    cr_assert_eq(dn[1].r.status, SW_FAAS_THROTTLED);
    cr_assert_eq(dn[1].r.attempts, 0);
    cr_assert_eq(dn[1].r.retry_after_s, 1);
    cr_assert_eq(fk.requests, 1, "a throttled call reached the server");

    run_for(1100);
    invoke(&dn[2], "{}");
    run_until(&dn[2].n, 1, 5000);
    cr_assert_eq(dn[2].r.status, SW_FAAS_OK, "%s", dn[2].error);
    cr_assert_eq(fk.requests, 2);
    cr_assert_eq(stats().throttled, 2);
    cr_assert_eq(stats().ok, 1);
}

Test(be_lambda, retries_5xx_then_succeeds)
{
    fk.script[0] = (resp_t){500, "{\"Type\":\"Service\",\"message\":\"internal\"}", {{0}}, false};
    fk.script[1] = fk.script[0];
    fk.script[2] = (resp_t){200, "{\"third\":true}", {{0}}, false};
    fk.n_script = 3;
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_eq(dn[0].r.attempts, 3);
    cr_assert_str_eq(dn[0].body, "{\"third\":true}");
    cr_assert_eq(fk.requests, 3);
    cr_assert_eq(stats().retries, 2);
}

Test(be_lambda, 5xx_beyond_max_retries_fails_with_the_message)
{
    fk.script[0] = (resp_t){502,
                            "{\"Type\":\"Service\",\"Message\":\"ENI not ready\"}",
                            {{"x-amzn-ErrorType", "ENINotReadyException:http://internal/"}},
                            false};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.max_retries = 1;
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_FAILED);
    cr_assert_eq(dn[0].r.attempts, 2);
    cr_assert_eq(dn[0].r.http_status, 502);
    cr_assert(strstr(dn[0].error, "HTTP 502 ENINotReadyException [Service]: ENI not ready"), "%s",
              dn[0].error);
    cr_assert_eq(fk.requests, 2);
}

Test(be_lambda, server_that_never_answers_hits_the_deadline)
{
    fk.script[0] = (resp_t){.hold = true};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.timeout_ms = 400;
    o.attempt_timeout_ms = 150;
    o.max_retries = 10;
    make_client(&o);
    sw_time_t t0 = sw_clock_now();
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    sw_time_t took = sw_clock_now() - t0;
    cr_assert_eq(dn[0].r.status, SW_FAAS_FAILED);
    cr_assert(strstr(dn[0].error, "deadline of 400 ms exceeded after"), "%s", dn[0].error);
    cr_assert_geq(dn[0].r.attempts, 2);
    cr_assert_geq(stats().timeouts, 2);
    cr_assert_geq(took, 390 * SW_US_PER_MS);
    cr_assert_lt(took, 1500 * SW_US_PER_MS);
}

Test(be_lambda, connection_refused_fails_after_retries)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd); /* nothing listens there now */
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%u/", ntohs(sa.sin_port));
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_FAILED);
    cr_assert_eq(dn[0].r.attempts, 3);
    cr_assert_eq(dn[0].r.http_status, 0);
    cr_assert(strstr(dn[0].error, "127.0.0.1"), "%s", dn[0].error);
    cr_assert(strstr(dn[0].error, "after 3 attempts"), "%s", dn[0].error);
    cr_assert_eq(stats().retries, 2);
    cr_assert_eq(stats().failed, 1);
}

Test(be_lambda, not_found_404_fails_with_the_service_message)
{
    fk.script[0] = (resp_t){404,
                            "{\"Type\":\"User\",\"Message\":\"Function not found: "
                            "arn:aws:lambda:us-east-1:123456789012:function:fn\"}",
                            {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
                            false};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_FAILED);
    cr_assert_eq(dn[0].r.http_status, 404);
    cr_assert_eq(dn[0].r.attempts, 1);
    cr_assert(strstr(dn[0].error, "ResourceNotFoundException [User]: Function not found: "
                                  "arn:aws:lambda:us-east-1:123456789012:function:fn"),
              "%s", dn[0].error);
    cr_assert_eq(fk.requests, 1);
}

Test(be_lambda, alias_in_the_name_is_percent_encoded_and_signed)
{
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.function_name = "fn:prod";
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_str_eq(fk.uri, "/2015-03-31/functions/fn%3Aprod/invocations");
}

Test(be_lambda, arn_and_qualifier_are_encoded_and_signed)
{
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.function_name = "arn:aws:lambda:us-east-1:123456789012:function:fn";
    o.qualifier = "$LATEST";
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_str_eq(fk.uri, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A"
                             "123456789012%3Afunction%3Afn/invocations?Qualifier=%24LATEST");
}

Test(be_lambda, qualifier_alias_goes_in_the_query)
{
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.qualifier = "prod";
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_str_eq(fk.uri, "/2015-03-31/functions/fn/invocations?Qualifier=prod");
}

Test(be_lambda, session_token_is_sent_and_signed)
{
    sw_be_aws_creds_t cr = test_creds;
    cr.session_token = TOKEN;
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.creds = &cr;
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_str_eq(fk.token, TOKEN);
    cr_assert(strstr(fk.signed_headers, "x-amz-security-token"), "%s", fk.signed_headers);
}

Test(be_lambda, max_in_flight_rejects_with_ebusy_without_queuing)
{
    fk.script[0] = (resp_t){.hold = true};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.max_in_flight = 2;
    make_client(&o);
    invoke(&dn[0], "{}");
    invoke(&dn[1], "{}");
    cr_assert_eq(sw_be_lambda_invoke(cl, "{}", 2, on_done, &dn[2]), -EBUSY);
    cr_assert_eq(sw_be_lambda_invoke(cl, "{}", 2, NULL, NULL), -EINVAL);
    run_until(&fk.requests, 2, 5000);
    run_for(50);
    cr_assert_eq(fk.requests, 2);
    cr_assert_eq(sw_be_lambda_in_flight(cl), 2);
    cr_assert_eq(stats().busy_rejections, 1);
    cr_assert_eq(stats().invoked, 2);
    sw_be_lambda_destroy(cl);
    cl = NULL;
    cr_assert_eq(dn[0].n, 1);
    cr_assert_eq(dn[1].n, 1);
    cr_assert_eq(dn[2].n, 0);
}

/* Each callback issues the next call, so this also shows that a callback may invoke. */
static int chain_left;
static void on_chain(void *arg, const sw_be_lambda_result_t *r)
{
    done_t *d = arg;
    cr_assert_eq(r->status, SW_FAAS_OK, "%s", r->error ? r->error : "");
    d->n++;
    if (--chain_left > 0)
        cr_assert_eq(sw_be_lambda_invoke(cl, "{\"n\":1}", 7, on_chain, d), 0);
}

Test(be_lambda, twenty_sequential_calls_reuse_one_connection_and_one_key)
{
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    chain_left = 20;
    cr_assert_eq(sw_be_lambda_invoke(cl, "{\"n\":1}", 7, on_chain, &dn[0]), 0);
    run_until(&dn[0].n, 20, 10000);
    cr_assert_eq(fk.requests, 20);
    cr_assert_eq(fk.conns, 1, "%d TCP connections for 20 sequential calls", fk.conns);
    /* Two only if the test straddles midnight UTC. */
    cr_assert_leq(stats().signing_keys_derived, 2);
    cr_assert_eq(stats().ok, 20);
}

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = sw_malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

Test(be_lambda, log_tail_gives_duration_and_cold_start)
{
    char *tail = b64("START RequestId: x\nEND RequestId: x\nREPORT RequestId: x\t"
                     "Duration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
                     "Max Memory Used: 20 MB\tInit Duration: 150.50 ms\t\n");
    fk.script[0] = (resp_t){200, "{}", {{"X-Amz-Log-Result", tail}}, false};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.log_tail = true;
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    sw_free(tail);
    cr_assert_eq(dn[0].r.status, SW_FAAS_OK, "%s", dn[0].error);
    cr_assert_str_eq(fk.log_type, "Tail");
    cr_assert(strstr(fk.signed_headers, "x-amz-log-type"), "%s", fk.signed_headers);
    cr_assert_float_eq(dn[0].r.duration_ms, 12.34, 1e-9);
    cr_assert_float_eq(dn[0].r.init_ms, 150.50, 1e-9);
    cr_assert(dn[0].r.cold_start);
}

Test(be_lambda, log_tail_without_init_is_a_warm_start)
{
    char *tail = b64("REPORT RequestId: y\tDuration: 3.50 ms\tBilled Duration: 4 ms\t\n");
    fk.script[0] = (resp_t){200, "{}", {{"X-Amz-Log-Result", tail}}, false};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.log_tail = true;
    make_client(&o);
    invoke(&dn[0], "{}");
    run_until(&dn[0].n, 1, 5000);
    sw_free(tail);
    cr_assert_float_eq(dn[0].r.duration_ms, 3.5, 1e-9);
    cr_assert_eq(dn[0].r.init_ms, 0);
    cr_assert_not(dn[0].r.cold_start);
}

/* Found by tests/fuzz/fuzz_lambda_response's check on what the log tail yields: the
 * REPORT line's numbers went to the ledger as strtod read them, so an endpoint that wrote
 * "nan", "inf" or a negative duration made the run's cost NaN or negative. Such a field
 * now reads as absent. */
Test(be_lambda, log_tail_durations_that_no_bill_can_hold_read_as_absent)
{
    static const char *const tails[] = {
        "REPORT RequestId: z\tDuration: nan ms\tInit Duration: -5 ms\t\n",
        "REPORT RequestId: z\tDuration: 1e400 ms\tInit Duration: inf ms\t\n",
        "REPORT RequestId: z\tDuration: 900000.5 ms\tInit Duration: ms\t\n",
    };
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.log_tail = true;
    make_client(&o);
    char *tail[3];
    for (int i = 0; i < 3; i++) {
        tail[i] = b64(tails[i]);
        fk.script[i] = (resp_t){200, "{}", {{"X-Amz-Log-Result", tail[i]}}, false};
    }
    fk.n_script = 3;
    for (int i = 0; i < 3; i++) {
        invoke(&dn[i], "{}");
        run_until(&dn[i].n, 1, 5000);
        cr_assert_eq(dn[i].r.status, SW_FAAS_OK, "%d: %s", i, dn[i].error);
        cr_assert_eq(dn[i].r.duration_ms, 0, "%d: %g", i, dn[i].r.duration_ms);
        cr_assert_eq(dn[i].r.init_ms, 0, "%d: %g", i, dn[i].r.init_ms);
        cr_assert_not(dn[i].r.cold_start, "%d", i);
        sw_free(tail[i]);
    }
}

Test(be_lambda, destroy_cancels_every_pending_call_exactly_once)
{
    fk.script[0] = (resp_t){.hold = true};
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    make_client(&o);
    for (int i = 0; i < 3; i++)
        invoke(&dn[i], "{}");
    run_until(&fk.requests, 3, 5000);
    invoke(&dn[3], "{}"); /* still waiting for its first attempt */
    sw_be_lambda_destroy(cl);
    cl = NULL;
    run_for(50);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(dn[i].n, 1, "call %d: %d callbacks", i, dn[i].n);
        cr_assert_eq(dn[i].r.status, SW_FAAS_FAILED);
        cr_assert_str_eq(dn[i].error, "cancelled");
    }
}

Test(be_lambda, logs_never_hold_the_secret_or_token)
{
    char logpath[] = "/tmp/sw_lambda_log_XXXXXX";
    int lfd = mkstemp(logpath);
    cr_assert_geq(lfd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(lfd, STDERR_FILENO);
    sw_log_set_level(SW_LOG_LVL_DEBUG);
    fk.script[0] = (resp_t){500, "{\"message\":\"oops\"}", {{0}}, false};
    fk.script[1] = (resp_t){403, "{\"message\":\"denied\"}", {{0}}, false};
    fk.script[2] = (resp_t){429, "{\"message\":\"slow down\"}", {{"Retry-After", "1"}}, false};
    fk.n_script = 3;
    sw_be_aws_creds_t cr = test_creds;
    cr.session_token = TOKEN;
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.creds = &cr;
    o.max_retries = 0;
    make_client(&o);
    for (int i = 0; i < 3; i++) {
        invoke(&dn[i], "{}");
        run_until(&dn[i].n, 1, 5000);
        cr_assert_null(strstr(dn[i].error, SK));
        cr_assert_null(strstr(dn[i].error, TOKEN));
    }
    sw_be_lambda_destroy(cl);
    cl = NULL;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[16384];
    ssize_t n = pread(lfd, buf, sizeof(buf) - 1, 0);
    close(lfd);
    unlink(logpath);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert(strstr(buf, "fn"), "%s", buf);
    cr_assert_null(strstr(buf, SK), "%s", buf);
    cr_assert_null(strstr(buf, TOKEN), "%s", buf);
}

Test(be_lambda, create_rejects_bad_options_without_leaking_the_secret)
{
    char ep[64], err[256];
    sw_be_lambda_t *c = NULL;
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.region = NULL;
    cr_assert_eq(sw_be_lambda_create(fk.base, &o, &c, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "region"), "%s", err);
    o = base_opts(ep, sizeof(ep));
    o.endpoint = "ftp://example.com";
    cr_assert_eq(sw_be_lambda_create(fk.base, &o, &c, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "ftp://example.com"), "%s", err);
    cr_assert_null(strstr(err, SK));
    o = base_opts(ep, sizeof(ep));
    o.function_name = "";
    cr_assert_eq(sw_be_lambda_create(fk.base, &o, &c, err, sizeof(err)), -EINVAL);
    o = base_opts(ep, sizeof(ep));
    o.creds = NULL;
    cr_assert_eq(sw_be_lambda_create(fk.base, &o, &c, err, sizeof(err)), -EINVAL);
    cr_assert_null(c);
}

Test(be_lambda, default_endpoint_and_stats_format)
{
    char ep[64];
    sw_be_lambda_opts_t o = base_opts(ep, sizeof(ep));
    o.endpoint = NULL; /* derived from the region; never contacted in this test */
    o.region = "eu-west-1";
    o.function_name = "my fn";
    o.qualifier = "v1";
    make_client(&o);
    cr_assert_str_eq(sw_be_lambda_url(cl), "https://lambda.eu-west-1.amazonaws.com"
                                           "/2015-03-31/functions/my%20fn/invocations"
                                           "?Qualifier=v1");
    sw_be_lambda_stats_t s = stats();
    char buf[512];
    size_t need = sw_be_lambda_stats_format(&s, buf, sizeof(buf));
    cr_assert_eq(need, strlen(buf));
    cr_assert(strstr(buf, "lambda_invoked 0\nlambda_ok 0\n"), "%s", buf);
    cr_assert(strstr(buf, "lambda_busy_rejections 0\n"), "%s", buf);
}
