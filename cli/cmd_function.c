/* `spillway function`: the bootstrap of an AWS Lambda custom runtime (provided.al2023). It
 * loads the model once, then loops on the Lambda Runtime API (data/lambda-api.md,
 * section 2): fetch the next event, treat it as a KServe v2 request body (serving/kserve.h),
 * run the model, and post the KServe response, or a function error for a payload that is
 * not a valid request. Logs go to stderr, which Lambda sends to CloudWatch.
 *
 *   spillway function [--model FILE] [--max-batch N] [--log-level LEVEL] */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define SW_LOG_MODULE "function"
#include "common/log.h"
#include "model/model.h"
#include "cli/cli.h"
#include "serving/kserve.h"

#define DEFAULT_MAX_BATCH 64
#define DEFAULT_MODEL_FILE "fashion-mlp.pb"
#define ERROR_CONTENT_TYPE "Content-Type: application/vnd.aws.lambda.error+json"
/* POSTs go to a local agent and are small, so a stuck one means the sandbox is broken. */
#define POST_TIMEOUT_MS 30000L

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway function [--model FILE] [--max-batch N] [--log-level LEVEL]\n\n"
            "Runs a model as an AWS Lambda custom runtime: the function's bootstrap. Reads\n"
            "the Runtime API address from AWS_LAMBDA_RUNTIME_API, loads the model once, then\n"
            "answers each event, a KServe v2 inference request, with a KServe v2 response.\n"
            "A malformed event is answered with a function error (errorType InvalidInput).\n"
            "Exits 0 on SIGTERM between invocations, 1 when the Runtime API fails or the\n"
            "model cannot be loaded (reported to /runtime/init/error first).\n\n"
            "  --model FILE       model file (default: $SPILLWAY_MODEL; else $_HANDLER when it\n"
            "                     ends in .pb, relative to $LAMBDA_TASK_ROOT; else\n"
            "                     $LAMBDA_TASK_ROOT/" DEFAULT_MODEL_FILE " if it exists"
            "; else " DEFAULT_MODEL_FILE " next\n"
            "                     to the spillway binary)\n"
            "  --max-batch N      largest batch (rows) one event may carry (default %d)\n"
            "  --log-level LEVEL  error, warn, info, debug (default info)\n\n"
            "For tests and benchmarks, SW_DEBUG_COMPUTE_DELAY_MS=A[+B] sleeps A ms per\n"
            "invocation plus B ms per row after the forward pass, as `spillway worker` does:\n"
            "functions that faas-local starts inherit it, so they emulate the same heavier\n"
            "model as the workers.\n\n"
            "Exit status: 0 stopped by SIGTERM, 2 usage error, 1 failure.\n",
            DEFAULT_MAX_BATCH);
}

typedef struct fn_args {
    const char *model;
    unsigned long long max_batch;
    double delay_ms, delay_per_row_ms;
} fn_args_t;

static int parse_args(int argc, char **argv, fn_args_t *a)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"max-batch", required_argument, NULL, 'b'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *a = (fn_args_t){.max_batch = DEFAULT_MAX_BATCH};
    /* The workers' testing aid (cmd_worker.c), so that a spilled request costs the
     * function what it costs a worker in the benchmark that compares them. */
    const char *delay = getenv("SW_DEBUG_COMPUTE_DELAY_MS");
    if (delay && *delay && !sw__cli_parse_delay("function", "SW_DEBUG_COMPUTE_DELAY_MS", delay,
                                                &a->delay_ms, &a->delay_per_row_ms))
        return SW_EXIT_USAGE;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'b':
            if (!sw__cli_parse_uint("function", "--max-batch", optarg, 1, 65536, &a->max_batch))
                return SW_EXIT_USAGE;
            break;
        case 'l':
            if (!sw__cli_set_log_level("function", "--log-level", optarg))
                return SW_EXIT_USAGE;
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "spillway function: unexpected argument '%s'\n", argv[optind]);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* Picks the model file: the option, then the environment (see usage()), then the binary's
 * own directory, so an unpacked deployment zip works with no configuration at all. */
static void resolve_model_path(const char *opt, char *out, size_t len)
{
    const char *env = getenv("SPILLWAY_MODEL");
    const char *root = getenv("LAMBDA_TASK_ROOT");
    const char *handler = getenv("_HANDLER");
    size_t hlen = handler ? strlen(handler) : 0;
    if (opt) {
        snprintf(out, len, "%s", opt);
    } else if (env && *env) {
        snprintf(out, len, "%s", env);
    } else if (hlen > 3 && strcmp(handler + hlen - 3, ".pb") == 0) {
        if (handler[0] == '/' || !root || !*root)
            snprintf(out, len, "%s", handler);
        else
            snprintf(out, len, "%s/%s", root, handler);
    } else if (root && *root && snprintf(out, len, "%s/" DEFAULT_MODEL_FILE, root) < (int)len &&
               access(out, R_OK) == 0) {
        /* The package's own model; a local task root without one (faas-local runs
         * functions in its working folder) falls back to the model beside the binary. */
    } else {
        /* /proc/self/exe is an absolute path, so it holds a '/'. */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
            exe[n] = '\0';
            *strrchr(exe, '/') = '\0';
        }
        if (n <= 0 || snprintf(out, len, "%s/" DEFAULT_MODEL_FILE, exe) >= (int)len)
            snprintf(out, len, "./" DEFAULT_MODEL_FILE);
    }
}

/* A received body; grows to the largest event seen and is reused. */
typedef struct rbuf {
    char *data;
    size_t len, cap;
} rbuf_t;

/* The runtime's state: one curl handle, reused for every call so that the connection to
 * the Runtime API stays open (keep-alive), and every per-invocation buffer. */
typedef struct fn {
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    char base[300]; /* http://HOST:PORT/2018-06-01 */
    char url[512];
    struct curl_slist *json_hdrs;
    rbuf_t body;
    bool in_next, got_status;
    char request_id[128], trace_id[512];
    int64_t deadline_ms;
    sw_model_t *model;
    unsigned max_batch;
    double delay_ms, delay_per_row_ms; /* SW_DEBUG_COMPUTE_DELAY_MS */
    sw_srv_kserve_req_t req;
    sw_srv_kserve_buf_t resp;
    float *out; /* max_batch x output_size */
} fn_t;

/* Set by SIGTERM/SIGINT; read between invocations and while waiting on /next. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    fn_t *f = arg;
    size_t n = size * nmemb;
    if (f->body.len + n + 1 > f->body.cap) {
        size_t cap = f->body.cap ? f->body.cap : 4096;
        while (cap < f->body.len + n + 1)
            cap *= 2;
        f->body.data = sw_realloc(f->body.data, cap);
        f->body.cap = cap;
    }
    memcpy(f->body.data + f->body.len, p, n);
    f->body.len += n;
    f->body.data[f->body.len] = '\0';
    return n;
}

/* Copies header `h`'s value (trimmed) into out when line `p` (n bytes) is that header. */
static bool header_value(const char *p, size_t n, const char *h, char *out, size_t len)
{
    size_t hl = strlen(h);
    if (n <= hl || p[hl] != ':' || strncasecmp(p, h, hl) != 0)
        return false;
    const char *v = p + hl + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vl = SW_MIN((size_t)(end - v), len - 1);
    memcpy(out, v, vl);
    out[vl] = '\0';
    return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    fn_t *f = arg;
    size_t n = size * nmemb;
    char deadline[32];
    f->got_status = true;
    if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new status line starts a new response: forget any interim one's headers. */
        f->request_id[0] = f->trace_id[0] = '\0';
        f->deadline_ms = 0;
    } else if (header_value(p, n, "Lambda-Runtime-Deadline-Ms", deadline, sizeof(deadline))) {
        f->deadline_ms = strtoll(deadline, NULL, 10);
    } else if (!header_value(p, n, "Lambda-Runtime-Aws-Request-Id", f->request_id,
                             sizeof(f->request_id))) {
        header_value(p, n, "Lambda-Runtime-Trace-Id", f->trace_id, sizeof(f->trace_id));
    }
    return n;
}

/* Aborts the long poll on SIGTERM, but only before the event has started to arrive: an
 * event half received would be lost. libcurl calls this at least once a second. */
static int on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    fn_t *f = arg;
    (void)dlt, (void)dln, (void)ult, (void)uln;
    return f->in_next && stop_requested && !f->got_status;
}

/* Sets up the curl handle and the fixed headers. Returns 0 or -ENOMEM. */
static int fn_open(fn_t *f, const char *api)
{
    snprintf(f->base, sizeof(f->base), "http://%s/2018-06-01", api);
    f->curl = curl_easy_init();
    if (!f->curl)
        return -ENOMEM;
    /* "Expect:" stops curl from waiting for a 100-continue before larger bodies. */
    f->json_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    f->json_hdrs = curl_slist_append(f->json_hdrs, "Expect:");
    CURL *c = f->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* The Runtime API is a local endpoint: never send it through an http_proxy. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_VERBOSE, sw__log_level >= SW_LOG_LVL_DEBUG ? 1L : 0L);
    return 0;
}

static void fn_close(fn_t *f)
{
    if (f->curl)
        curl_easy_cleanup(f->curl);
    curl_slist_free_all(f->json_hdrs);
    sw_free(f->body.data);
    sw_srv_kserve_req_deinit(&f->req);
    sw_srv_kserve_buf_deinit(&f->resp);
    sw_free(f->out);
    sw_model_destroy(f->model);
}

/* One blocking HTTP call on the shared handle: a GET when body is NULL, else a POST of len
 * bytes with `hdrs`. Blocking is deliberate (see sw_cli_cmd_function). Returns the HTTP
 * status, or a negative errno: -ECONNREFUSED, -EINTR (stopped by SIGTERM), -EIO. */
static long fn_call(fn_t *f, const char *path, const char *body, size_t len,
                    struct curl_slist *hdrs)
{
    CURL *c = f->curl;
    snprintf(f->url, sizeof(f->url), "%s%s", f->base, path);
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        /* /next is a long poll that returns when the next event exists: no time limit. */
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
    }
    f->body.len = 0;
    f->got_status = false;
    f->in_next = body == NULL;
    f->curl_err[0] = '\0';
    CURLcode cc = curl_easy_perform(c);
    f->in_next = false;
    if (cc != CURLE_OK) {
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            return -EINTR;
        SW_LOG_ERROR("runtime api call failed url=%s error=\"%s\"", f->url,
                     f->curl_err[0] ? f->curl_err : curl_easy_strerror(cc));
        return cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Builds Lambda's error body {"errorMessage", "errorType", "stackTrace": []}. Errors are
 * rare, so a jansson tree is fine here. Free the result with free(). */
static char *error_body(const char *type, const char *msg)
{
    json_t *j = json_pack("{s:s, s:s, s:[]}", "errorMessage", msg, "errorType", type, "stackTrace");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* POSTs an error body to `path` with Lambda-Runtime-Function-Error-Type: type. Returns the
 * HTTP status or a negative errno. */
static long post_error(fn_t *f, const char *path, const char *type, const char *msg)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Lambda-Runtime-Function-Error-Type: %s", type);
    struct curl_slist *hdrs = curl_slist_append(NULL, ERROR_CONTENT_TYPE);
    hdrs = curl_slist_append(hdrs, hdr);
    hdrs = curl_slist_append(hdrs, "Expect:");
    char *body = error_body(type, msg);
    long status = body ? fn_call(f, path, body, strlen(body), hdrs) : -ENOMEM;
    free(body);
    curl_slist_free_all(hdrs);
    return status;
}

/* A request id goes into a URL path, so it must be a plain token (Lambda's are UUIDs). */
static bool is_valid_request_id(const char *id)
{
    if (!*id)
        return false;
    for (const char *p = id; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* Waits for the next event. Returns 0 with the event in f->body and its headers in f,
 * 1 when SIGTERM arrived first, or -1 when the runtime must exit (message logged). */
static int fn_next(fn_t *f)
{
    if (stop_requested)
        return 1;
    long status = fn_call(f, "/runtime/invocation/next", NULL, 0, NULL);
    if (status == -EINTR)
        return 1;
    if (status < 0) {
        SW_LOG_ERROR("cannot reach the Lambda Runtime API, exiting api=%s", f->base);
        return -1;
    }
    if (status != 200) {
        /* 500 means the sandbox is broken and 403 that we may not poll: Lambda's contract
         * is that the runtime exits either way. */
        SW_LOG_ERROR("GET /runtime/invocation/next failed, exiting status=%ld body=\"%.200s\"",
                     status, f->body.len ? f->body.data : "");
        return -1;
    }
    if (!is_valid_request_id(f->request_id)) {
        SW_LOG_ERROR("GET /runtime/invocation/next: %s Lambda-Runtime-Aws-Request-Id header, "
                     "exiting value=\"%s\"",
                     f->request_id[0] ? "invalid" : "no", f->request_id);
        return -1;
    }
    return 0;
}

/* Says whether the answer to an invocation was accepted. A 5xx means the sandbox is
 * broken (exit); a 4xx (e.g. 413, response too large) fails only this invocation. */
static int check_post(const fn_t *f, const char *what, long status)
{
    if (status == 202 || (status >= 200 && status < 300))
        return 0;
    if (status > 0 && status < 500) {
        SW_LOG_WARN("runtime api refused the %s request_id=%s status=%ld", what, f->request_id,
                    status);
        return 0;
    }
    SW_LOG_ERROR("cannot post the %s, exiting request_id=%s status=%ld", what, f->request_id,
                 status);
    return -1;
}

/* Answers the event in f->body. Returns 0, or -1 when the runtime must exit. */
/* Sleeps SW_DEBUG_COMPUTE_DELAY_MS for the rows just computed (signals aside). */
static void debug_delay(const fn_t *f)
{
    double ms = f->delay_ms + f->delay_per_row_ms * (double)f->req.n;
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1e3),
                          .tv_nsec = (long)((ms - 1e3 * (double)(time_t)(ms / 1e3)) * 1e6)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int fn_handle(fn_t *f)
{
    if (f->trace_id[0])
        setenv("_X_AMZN_TRACE_ID", f->trace_id, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t left_ms = f->deadline_ms - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    SW_LOG_DEBUG("invocation request_id=%s bytes=%zu time_left_ms=%" PRId64, f->request_id,
                 f->body.len, f->deadline_ms ? left_ms : -1);

    char err[512], path[256];
    const sw_model_t *m = f->model;
    int rc = sw_srv_kserve_parse_request(f->body.data ? f->body.data : "", f->body.len,
                                         sw_model_input_size(m), f->max_batch, &f->req, err,
                                         sizeof(err));
    if (rc == 0 && sw_model_infer(f->model, f->req.data, f->req.n, f->out) < 0) {
        snprintf(err, sizeof(err), "inference failed for a batch of %zu", f->req.n);
        rc = -EIO;
    }
    if (rc == 0)
        debug_delay(f);
    if (rc < 0) {
        /* A bad payload is the caller's error, reported to them; the runtime carries on.
         * Per-request detail, so DEBUG: the caller gets the message anyway. */
        const char *type = rc == SW_EPARSE ? "InvalidInput" : "Runtime.InferenceError";
        SW_LOG_DEBUG("invocation failed request_id=%s type=%s error=\"%s\"", f->request_id, type,
                     err);
        snprintf(path, sizeof(path), "/runtime/invocation/%s/error", f->request_id);
        return check_post(f, "error", post_error(f, path, type, err));
    }
    sw_srv_kserve_reply_t reply = {.model_name = sw_model_name(m),
                                   .model_version = sw_model_version(m),
                                   .id = f->req.id,
                                   /* model.h does not expose the output tensor's name
                                    * yet, so this is KServe's usual "output". */
                                   .output_name = NULL,
                                   .n = f->req.n,
                                   .output_size = sw_model_output_size(m),
                                   .data = f->out};
    sw_srv_kserve_format_response(&reply, &f->resp);
    snprintf(path, sizeof(path), "/runtime/invocation/%s/response", f->request_id);
    return check_post(f, "response", fn_call(f, path, f->resp.data, f->resp.len, f->json_hdrs));
}

/* Loads the model; on failure reports it to /runtime/init/error. Returns 0 or -1. */
static int fn_init(fn_t *f, const char *model_path)
{
    char err[1024];
    if (sw_model_load(model_path, f->max_batch, &f->model, err, sizeof(err)) < 0) {
        SW_LOG_ERROR("cannot load the model, reporting an init error error=\"%s\"", err);
        long status = post_error(f, "/runtime/init/error", "Runtime.InitError", err);
        if (status != 202)
            SW_LOG_ERROR("POST /runtime/init/error failed status=%ld", status);
        return -1;
    }
    f->out = sw_malloc(f->max_batch * sw_model_output_size(f->model) * sizeof(float));
    SW_LOG_INFO("model loaded path=%s name=%s version=%" PRIu32 " inputs=%zu outputs=%zu "
                "max_batch=%u",
                model_path, sw_model_name(f->model), sw_model_version(f->model),
                sw_model_input_size(f->model), sw_model_output_size(f->model), f->max_batch);
    return 0;
}

/* Runs the runtime until SIGTERM (returns SW_EXIT_OK) or a Runtime API failure. */
static int fn_loop(fn_t *f)
{
    for (;;) {
        int rc = fn_next(f);
        if (rc == 1) {
            SW_LOG_INFO("SIGTERM received between invocations, exiting");
            return SW_EXIT_OK;
        }
        if (rc < 0 || fn_handle(f) < 0)
            return SW_EXIT_FAILURE;
    }
}

int sw_cli_cmd_function(int argc, char **argv)
{
    fn_args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api || !*api) {
        fprintf(stderr, "spillway function: AWS_LAMBDA_RUNTIME_API is not set; this command "
                        "runs inside AWS Lambda or a local Runtime API (spillway faas-local)\n");
        return SW_EXIT_USAGE;
    }
    char model_path[PATH_MAX];
    resolve_model_path(a.model, model_path, sizeof(model_path));

    /* No SA_RESTART: the signal should interrupt the long poll's wait at once. */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The easy interface, blocking, with one reused handle: a Lambda sandbox runs one
     * invocation at a time and only ever waits on /next, as AWS's own runtimes do, so an
     * event loop or the multi interface would add nothing but code. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "spillway function: libcurl initialisation failed\n");
        return SW_EXIT_FAILURE;
    }
    fn_t f = {.max_batch = (unsigned)a.max_batch, .delay_ms = a.delay_ms,
              .delay_per_row_ms = a.delay_per_row_ms};
    sw_srv_kserve_req_init(&f.req);
    sw_srv_kserve_buf_init(&f.resp);
    rc = SW_EXIT_FAILURE;
    if (fn_open(&f, api) < 0)
        fprintf(stderr, "spillway function: cannot create a libcurl handle\n");
    else if (fn_init(&f, model_path) == 0)
        rc = fn_loop(&f);
    fn_close(&f);
    curl_global_cleanup();
    return rc;
}
