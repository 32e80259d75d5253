/* Tests of `spillway faas-local` through the real binary: each test starts the service
 * (port 0, the port read from its "listening on" line, its stderr in a temporary file),
 * signs Invoke requests with backends/sigv4.h and sends them with blocking libcurl. The functions
 * are small python3 Runtime API clients in tests/backends/data. The fixture stops the service by
 * pid even when a test fails. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "backends/sigv4.h"
#include "common/common.h"

extern char **environ;

#define SPILLWAY SW_BINARY_DIR "/spillway"
#define DATA SW_SOURCE_DIR "/tests/backends/data/"
#define AK "AKIDFAASLOCALTEST"
#define SECRET "faas-local-test-secret"

static pid_t svc_pid = -1;
static unsigned short svc_port;
static char log_path[64];

typedef struct resp {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    size_t hlen;
    double seconds;
} resp_t;

/* Per-request signing and header choices; zero means a well-signed plain invoke. */
typedef struct call {
    const char *path_fn; /* the FunctionName path segment as sent (already encoded) */
    const char *query;
    const char *body;
    size_t body_len; /* 0: strlen(body) */
    const char *invocation_type, *log_type;
    const char *access_key, *secret;
    bool no_auth;
    long date_offset_s;
    long client_timeout_ms; /* give up early, like a caller that disconnects */
    const char *sent_body;  /* sent instead of the signed body (a tampered request) */
} call_t;

/* Stops the service by pid. Returns its wait status (-1 if it had to be killed). */
static int stop_service(void)
{
    if (svc_pid <= 0)
        return 0;
    kill(svc_pid, SIGTERM);
    int status;
    for (int i = 0; i < 100; i++) {
        if (waitpid(svc_pid, &status, WNOHANG) == svc_pid) {
            svc_pid = -1;
            return status;
        }
        usleep(50000);
    }
    kill(svc_pid, SIGKILL);
    waitpid(svc_pid, NULL, 0);
    svc_pid = -1;
    return -1;
}

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
    snprintf(log_path, sizeof(log_path), "/tmp/faas-local-test-%ld.log", (long)getpid());
}

static void teardown(void)
{
    /* A clean exit also means no sanitizer report (leaks fail the exit status). */
    bool started = svc_pid > 0;
    int status = stop_service();
    if (started)
        cr_expect(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "faas-local did not stop cleanly, status %d (see %s)", status, log_path);
    unlink(log_path);
    curl_global_cleanup();
}

TestSuite(faas_local, .init = setup, .fini = teardown, .timeout = 60);

/* Spawns faas-local with the test functions plus extra arguments (NULL-terminated) and
 * waits for its "listening on" line. Returns the pid; sets svc_port. */
static void start_service(const char *const *extra)
{
    const char *argv[40] = {SPILLWAY,      "faas-local",
                            "--listen",    "127.0.0.1:0",
                            "--function",  "echo=python3 " DATA "echo.py",
                            "--function",  "error=python3 " DATA "error.py",
                            "--function",  "crash=python3 " DATA "crash.py",
                            "--function",  "slow=python3 " DATA "slow.py",
                            "--function",  "initerr=python3 " DATA "init_error.py",
                            "--timeout-s", "1"};
    size_t n = 16;
    for (size_t i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int out[2];
    cr_assert_eq(pipe(out), 0);
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(logfd, 0);
    /* fork + exec for the parent-death signal: if this test process dies (a failed
     * assertion in a helper thread, Criterion's timeout), the service goes with it. */
    pid_t parent = getpid();
    svc_pid = fork();
    cr_assert_geq(svc_pid, 0);
    if (svc_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        close(out[0]);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(logfd, 2);
        execve(argv[0], (char *const *)argv, environ);
        _exit(127);
    }
    close(logfd);
    close(out[1]);
    char line[128];
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 15000), 0, "no 'listening on' line from faas-local");
        ssize_t r = read(out[0], line + len, 1);
        cr_assert_gt(r, 0, "faas-local exited before listening");
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(out[0]);
    cr_assert_eq(sscanf(line, "listening on 127.0.0.1:%hu", &svc_port), 1, "line: %s", line);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    r->body = sw_realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    size_t k = SW_MIN(size * n, sizeof(r->headers) - 1 - r->hlen);
    memcpy(r->headers + r->hlen, data, k);
    r->hlen += k;
    r->headers[r->hlen] = '\0';
    return size * n;
}

/* The value of response header name (copied into out), or NULL. */
static const char *header(const resp_t *r, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, out_len, "%.*s", (int)(p + ll - v), v);
            return out;
        }
        p += ll + (eol ? 2 : 0);
    }
    return NULL;
}

static resp_t invoke(const call_t *c)
{
    char host[64], path[512], date[20];
    snprintf(host, sizeof(host), "127.0.0.1:%u", (unsigned)svc_port);
    snprintf(path, sizeof(path), "/2015-03-31/functions/%s/invocations", c->path_fn);
    time_t now = time(NULL) + c->date_offset_s;
    struct tm tm;
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    const char *body = c->body ? c->body : "{}";
    size_t body_len = c->body_len ? c->body_len : strlen(body);
    sw_be_sigv4_header_t hs[4] = {{"Host", host}, {"X-Amz-Date", date}};
    size_t nh = 2;
    if (c->invocation_type)
        hs[nh++] = (sw_be_sigv4_header_t){"X-Amz-Invocation-Type", c->invocation_type};
    if (c->log_type)
        hs[nh++] = (sw_be_sigv4_header_t){"X-Amz-Log-Type", c->log_type};
    sw_be_sigv4_req_t req = {.method = "POST",
                             .path = path,
                             .query = c->query,
                             .headers = hs,
                             .n_headers = nh,
                             .body = body,
                             .body_bytes = body_len};
    sw_be_sigv4_creds_t creds = {.access_key = c->access_key ? c->access_key : AK,
                                 .secret_key = c->secret ? c->secret : SECRET};
    sw_be_sigv4_scope_t scope = {.region = "us-east-1", .service = "lambda", .amz_date = date};
    char *authz = NULL, err[200];
    cr_assert_eq(sw_be_sigv4_authorization(&req, &creds, &scope, &authz, err, sizeof(err)), 0, "%s",
                 err);
    struct curl_slist *l = NULL;
    char line[512];
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof(line), "%s: %s", hs[i].name, hs[i].value);
        l = curl_slist_append(l, line);
    }
    if (!c->no_auth) {
        snprintf(line, sizeof(line), "Authorization: %s", authz);
        l = curl_slist_append(l, line);
    }
    l = curl_slist_append(l, "Expect:");
    l = curl_slist_append(l, "Content-Type: application/json");
    char url[700];
    snprintf(url, sizeof(url), "http://%s%s%s%s", host, path, c->query ? "?" : "",
             c->query ? c->query : "");
    resp_t r = {0};
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    const char *sent = c->sent_body ? c->sent_body : body;
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, sent);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(c->sent_body ? strlen(sent) : body_len));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->client_timeout_ms ? c->client_timeout_ms : 20000L);
    sw_time_t t0 = sw_clock_now();
    CURLcode cc = curl_easy_perform(h);
    r.seconds = sw_time_to_s(sw_clock_now() - t0);
    if (c->client_timeout_ms)
        cr_assert_eq(cc, CURLE_OPERATION_TIMEDOUT, "curl: %s", curl_easy_strerror(cc));
    else
        cr_assert_eq(cc, CURLE_OK, "curl: %s", curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(h);
    curl_slist_free_all(l);
    sw_free(authz);
    if (!r.body)
        r.body = sw_calloc(1, 1);
    return r;
}

static resp_t invoke_fn(const char *fn, const char *body)
{
    return invoke(&(call_t){.path_fn = fn, .body = body});
}

static char *read_log(void)
{
    FILE *f = fopen(log_path, "r");
    cr_assert_not_null(f);
    char *buf = sw_calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits up to seconds for needle to appear n times in the service log. */
static bool wait_log(const char *needle, int n, double seconds)
{
    for (sw_time_t end = sw_clock_now() + sw_s_to_time(seconds); sw_clock_now() < end;) {
        char *log = read_log();
        bool ok = count(log, needle) >= n;
        sw_free(log);
        if (ok)
            return true;
        usleep(20000);
    }
    return false;
}

static bool process_gone(pid_t pid, double seconds)
{
    for (sw_time_t end = sw_clock_now() + sw_s_to_time(seconds); sw_clock_now() < end;) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        usleep(20000);
    }
    return false;
}

static long body_pid(const resp_t *r)
{
    const char *p = strstr(r->body, "\"pid\":");
    cr_assert_not_null(p, "no pid in %s", r->body);
    return strtol(p + 6, NULL, 10);
}

static void assert_error(const resp_t *r, long status, const char *type, const char *msg)
{
    char v[256];
    cr_assert_eq(r->status, status, "status %ld body %s", r->status, r->body);
    cr_assert_not_null(header(r, "x-amzn-ErrorType", v, sizeof(v)));
    cr_assert_str_eq(v, type);
    cr_assert_not_null(header(r, "x-amzn-RequestId", v, sizeof(v)));
    cr_assert_not_null(strstr(r->body, msg), "body %s lacks %s", r->body, msg);
}

Test(faas_local, cold_start_then_warm_reuse)
{
    start_service(NULL);
    resp_t r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = invoke_fn("echo", "{\"n\":1}");
        cr_assert_eq(r[i].status, 200, "body %s", r[i].body);
        cr_assert_not_null(strstr(r[i].body, "\"echo\": {\"n\": 1}"), "%s", r[i].body);
        cr_assert_not_null(strstr(r[i].body, "\"has_secret\": false"), "%s", r[i].body);
    }
    char v[64];
    cr_assert_str_eq(header(&r[0], "X-Amz-Executed-Version", v, sizeof(v)), "$LATEST");
    cr_assert_eq(strlen(header(&r[0], "x-amzn-RequestId", v, sizeof(v))), 36);
    cr_assert_eq(body_pid(&r[0]), body_pid(&r[1]), "warm calls reuse the environment");
    cr_assert_eq(body_pid(&r[1]), body_pid(&r[2]));
    cr_assert_gt(r[0].seconds, r[1].seconds + 0.1, "cold %.3f s, warm %.3f s", r[0].seconds,
                 r[1].seconds);
    cr_assert(wait_log("REPORT RequestId:", 3, 5));
    char *log = read_log();
    cr_assert_eq(count(log, "START RequestId:"), 3);
    cr_assert_eq(count(log, "Init Duration:"), 1, "log:\n%s", log);
    cr_assert_eq(count(log, "Memory Size: 3008 MB"), 3);
    const char *first = strstr(log, "REPORT RequestId:");
    cr_assert_lt(strstr(first, "Init Duration:") - first, strchr(first, '\n') - first,
                 "Init Duration belongs to the first REPORT");
    sw_free(log);
    for (int i = 0; i < 3; i++)
        sw_free(r[i].body);
}

typedef struct bg_call {
    pthread_t t;
    call_t c;
    resp_t r;
} bg_call_t;

static void *bg_invoke(void *arg)
{
    bg_call_t *b = arg;
    b->r = invoke(&b->c);
    return NULL;
}

Test(faas_local, throttles_at_concurrency_limit_and_times_out)
{
    start_service((const char *[]){"--concurrency", "1", NULL});
    bg_call_t bg = {.c = {.path_fn = "slow", .body = "{\"sleep\":30}"}};
    cr_assert_eq(pthread_create(&bg.t, NULL, bg_invoke, &bg), 0);
    cr_assert(wait_log("START RequestId:", 1, 10), "the slow call never started");
    resp_t r = invoke_fn("echo", "{}");
    assert_error(&r, 429, "TooManyRequestsException",
                 "\"Reason\":\"ConcurrentInvocationLimitExceeded\"");
    cr_assert_not_null(strstr(r.body, "Rate Exceeded."));
    char v[64];
    cr_assert_str_eq(header(&r, "Retry-After", v, sizeof(v)), "1");
    pthread_join(bg.t, NULL);
    cr_assert_eq(bg.r.status, 200);
    cr_assert_str_eq(header(&bg.r, "X-Amz-Function-Error", v, sizeof(v)), "Unhandled");
    cr_assert_not_null(strstr(bg.r.body, "Task timed out after 1.00 seconds"), "%s", bg.r.body);
    cr_assert_lt(bg.r.seconds, 4.0);
    sw_free(r.body);
    /* The timed-out environment is discarded, so the slot frees up. */
    for (int i = 0; i < 100; i++) {
        r = invoke_fn("echo", "{}");
        if (r.status == 200)
            break;
        sw_free(r.body);
        r.body = NULL;
        usleep(50000);
    }
    cr_assert_eq(r.status, 200);
    sw_free(r.body);
    sw_free(bg.r.body);
}

Test(faas_local, caller_that_disconnects_does_not_break_the_service)
{
    start_service(NULL);
    resp_t gone =
        invoke(&(call_t){.path_fn = "slow", .body = "{\"sleep\":0.5}", .client_timeout_ms = 200});
    sw_free(gone.body);
    resp_t gone2 =
        invoke(&(call_t){.path_fn = "slow", .body = "{\"sleep\":30}", .client_timeout_ms = 200});
    sw_free(gone2.body);
    cr_assert(wait_log("REPORT RequestId:", 2, 10), "both invocations finished");
    resp_t r = invoke_fn("echo", "{}");
    cr_assert_eq(r.status, 200);
    sw_free(r.body);
}

Test(faas_local, idle_environment_of_another_function_is_evicted_at_the_limit)
{
    start_service((const char *[]){"--concurrency", "1", NULL});
    resp_t a = invoke_fn("echo", "{}");
    cr_assert_eq(a.status, 200);
    resp_t b = invoke_fn("crash", "{}");
    cr_assert_eq(b.status, 200, "%ld %s", b.status, b.body);
    cr_assert(process_gone((pid_t)body_pid(&a), 5), "the idle echo environment was stopped");
    sw_free(a.body);
    sw_free(b.body);
}

Test(faas_local, function_error_is_200_with_function_error_header)
{
    start_service(NULL);
    resp_t r = invoke_fn("error", "{}");
    char v[64];
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "X-Amz-Function-Error", v, sizeof(v)), "Unhandled");
    cr_assert_not_null(strstr(r.body, "\"errorType\": \"ValueError\""), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "boom"));
    sw_free(r.body);
}

Test(faas_local, process_death_mid_invocation_fails_the_call_then_recovers)
{
    start_service(NULL);
    resp_t a = invoke_fn("crash", "{}");
    cr_assert_eq(a.status, 200);
    long pid1 = body_pid(&a);
    resp_t b = invoke_fn("crash", "{\"crash\":true}");
    char v[64];
    cr_assert_eq(b.status, 200);
    cr_assert_str_eq(header(&b, "X-Amz-Function-Error", v, sizeof(v)), "Unhandled");
    cr_assert_not_null(strstr(b.body, "Runtime.ExitError"), "%s", b.body);
    cr_assert_not_null(strstr(b.body, "Runtime exited with error: signal: killed"), "%s", b.body);
    cr_assert(process_gone((pid_t)pid1, 2));
    resp_t c = invoke_fn("crash", "{}");
    cr_assert_eq(c.status, 200);
    cr_assert_null(header(&c, "X-Amz-Function-Error", v, sizeof(v)));
    cr_assert_neq(body_pid(&c), pid1, "a fresh environment serves the next call");
    sw_free(a.body);
    sw_free(b.body);
    sw_free(c.body);
}

Test(faas_local, runtime_api_rejects_unknown_request_id)
{
    start_service(NULL);
    resp_t r = invoke_fn("crash", "{\"bad_id\":true}");
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "\"bad_id_status\": 400"), "%s", r.body);
    sw_free(r.body);
}

Test(faas_local, init_error_is_an_unhandled_function_error)
{
    start_service(NULL);
    resp_t r = invoke_fn("initerr", "{}");
    char v[64];
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "X-Amz-Function-Error", v, sizeof(v)), "Unhandled");
    cr_assert_not_null(strstr(r.body, "Runtime.ImportModuleError"), "%s", r.body);
    sw_free(r.body);
}

Test(faas_local, rejects_wrong_secret)
{
    start_service(NULL);
    resp_t r = invoke(&(call_t){.path_fn = "echo", .secret = "not-the-secret"});
    assert_error(&r, 403, "InvalidSignatureException",
                 "The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method.");
    sw_free(r.body);
}

Test(faas_local, rejects_missing_authorization)
{
    start_service(NULL);
    resp_t r = invoke(&(call_t){.path_fn = "echo", .no_auth = true});
    assert_error(&r, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    sw_free(r.body);
}

Test(faas_local, rejects_unknown_access_key)
{
    start_service(NULL);
    resp_t r = invoke(&(call_t){.path_fn = "echo", .access_key = "AKIDSOMEONEELSE"});
    assert_error(&r, 403, "UnrecognizedClientException",
                 "The security token included in the request is invalid.");
    sw_free(r.body);
}

Test(faas_local, rejects_expired_signature)
{
    start_service(NULL);
    resp_t r = invoke(&(call_t){.path_fn = "echo", .date_offset_s = -600});
    assert_error(&r, 403, "InvalidSignatureException", "Signature expired: ");
    sw_free(r.body);
}

/* SigV4 allows 5 minutes of skew each way: a request replayed later, or dated ahead, is
 * refused; one within the window is served. */
Test(faas_local, the_skew_window_is_five_minutes_each_way)
{
    start_service(NULL);
    resp_t r = invoke(&(call_t){.path_fn = "echo", .date_offset_s = 600});
    assert_error(&r, 403, "InvalidSignatureException", "Signature not yet current: ");
    sw_free(r.body);
    r = invoke(&(call_t){.path_fn = "echo", .date_offset_s = -240});
    cr_assert_eq(r.status, 200, "%s", r.body);
    sw_free(r.body);
}

Test(faas_local, rejects_a_signature_over_another_body)
{
    start_service(NULL);
    resp_t r =
        invoke(&(call_t){.path_fn = "echo", .body = "{\"x\": 1}", .sent_body = "{\"x\": 2}"});
    assert_error(&r, 403, "InvalidSignatureException",
                 "The request signature we calculated does not match the signature you "
                 "provided.");
    sw_free(r.body);
}

Test(faas_local, unknown_function_is_404)
{
    start_service(NULL);
    resp_t r = invoke_fn("nope", "{}");
    assert_error(&r, 404, "ResourceNotFoundException",
                 "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
    sw_free(r.body);
}

Test(faas_local, non_json_body_is_400)
{
    start_service(NULL);
    resp_t r = invoke_fn("echo", "{not json");
    assert_error(&r, 400, "InvalidRequestContentException",
                 "Could not parse request body into json");
    sw_free(r.body);
}

Test(faas_local, oversized_body_is_413)
{
    start_service(NULL);
    size_t n = 6291456 + 10;
    char *big = sw_malloc(n);
    memset(big, ' ', n);
    big[0] = '1';
    resp_t r = invoke(&(call_t){.path_fn = "echo", .body = big, .body_len = n});
    assert_error(&r, 413, "RequestTooLargeException", "Request must be smaller than 6291456");
    sw_free(r.body);
    sw_free(big);
}

Test(faas_local, idle_environment_is_reaped_after_keep_alive)
{
    start_service((const char *[]){"--keep-alive-s", "0.5", NULL});
    resp_t r = invoke_fn("echo", "{}");
    cr_assert_eq(r.status, 200);
    long pid = body_pid(&r);
    cr_assert(process_gone((pid_t)pid, 5), "environment pid %ld still alive", pid);
    resp_t r2 = invoke_fn("echo", "{}");
    cr_assert_eq(r2.status, 200);
    cr_assert_neq(body_pid(&r2), pid);
    cr_assert(wait_log("Init Duration:", 2, 5), "the second call was a cold start");
    sw_free(r.body);
    sw_free(r2.body);
}

Test(faas_local, accepts_alias_arn_and_qualifier_forms)
{
    start_service(NULL);
    const char *forms[] = {"echo%3Aprod",
                           "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho"};
    for (size_t i = 0; i < SW_ARRAY_LEN(forms); i++) {
        resp_t r = invoke_fn(forms[i], "{}");
        cr_assert_eq(r.status, 200, "%s: %ld %s", forms[i], r.status, r.body);
        cr_assert_not_null(strstr(r.body, "\"function\": \"echo\""));
        sw_free(r.body);
    }
    resp_t q = invoke(&(call_t){.path_fn = "echo", .query = "Qualifier=%24LATEST"});
    cr_assert_eq(q.status, 200, "%ld %s", q.status, q.body);
    sw_free(q.body);
}

Test(faas_local, log_type_tail_returns_the_report)
{
    start_service(NULL);
    resp_t r = invoke(&(call_t){.path_fn = "echo", .log_type = "Tail"});
    cr_assert_eq(r.status, 200);
    char v[4096];
    cr_assert_not_null(header(&r, "X-Amz-Log-Result", v, sizeof(v)));
    unsigned char dec[4096];
    int n = EVP_DecodeBlock(dec, (const unsigned char *)v, (int)strlen(v));
    cr_assert_gt(n, 0);
    dec[n] = '\0';
    cr_assert_not_null(strstr((char *)dec, "REPORT RequestId:"), "%s", dec);
    cr_assert_not_null(strstr((char *)dec, "Init Duration:"), "%s", dec);
    sw_free(r.body);
}

Test(faas_local, dry_run_and_event_invocations)
{
    start_service(NULL);
    resp_t d = invoke(&(call_t){.path_fn = "echo", .invocation_type = "DryRun"});
    cr_assert_eq(d.status, 204);
    resp_t e = invoke(&(call_t){.path_fn = "echo", .invocation_type = "Event"});
    cr_assert_eq(e.status, 202);
    cr_assert_eq(e.len, 0);
    cr_assert(wait_log("REPORT RequestId:", 1, 10), "the Event invocation never ran");
    sw_free(d.body);
    sw_free(e.body);
}

Test(faas_local, sigterm_stops_environments_and_exits_0)
{
    start_service(NULL);
    resp_t r = invoke_fn("echo", "{}");
    cr_assert_eq(r.status, 200);
    long pid = body_pid(&r);
    kill(svc_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(svc_pid, &status, WNOHANG) != svc_pid; i++)
        usleep(50000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    svc_pid = -1;
    cr_assert(process_gone((pid_t)pid, 3));
    sw_free(r.body);
}

Test(faas_local, refuses_to_start_without_credentials)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    const char *argv[] = {SPILLWAY,     "faas-local", "--listen", "127.0.0.1:0",
                          "--function", "echo=true",  NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 2);
    char *log = read_log();
    cr_assert_not_null(strstr(log, "AWS_ACCESS_KEY_ID"), "%s", log);
    sw_free(log);
}
