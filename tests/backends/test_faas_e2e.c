/* The FaaS path end to end, with nothing faked: the Lambda Invoke client (libcurl multi on
 * libevent, SigV4) -> `spillway faas-local` (a separate process, port 0) -> environments
 * running `spillway function` on the build's Fashion-MNIST model. Cold then warm calls,
 * throttling at the concurrency limit, a function error, an environment killed in the
 * middle of an invocation, missing credentials, and a wrong secret.
 *
 * To hold an invocation in flight on demand, a test stops the environment's process with
 * SIGSTOP: faas-local hands the event to an environment parked on /next, which then
 * cannot answer until SIGCONT (or dies with SIGKILL). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <jansson.h>

#include "backends/aws_creds.h"
#include "backends/lambda_client.h"
#include "common/common.h"
#include "model/model.h"

extern char **environ;

#define SPILLWAY SW_BINARY_DIR "/spillway"
#define MODEL SW_BINARY_DIR "/fashion-mlp.pb"
#define ACCESS_KEY "AKIDE2ETEST"
#define SECRET "e2e-secret-key-not-a-real-one"

typedef struct call {
    bool done;
    sw_be_lambda_result_t res;
    char body[4096];
    char error[512];
    char function_error[32];
} call_t;

static pid_t service = -1;
static char service_log[64];
static struct event_base *base;
static sw_be_lambda_t *client;

static void stop_service(void)
{
    if (client)
        sw_be_lambda_destroy(client);
    client = NULL;
    if (base)
        event_base_free(base);
    base = NULL;
    if (service > 0) {
        kill(service, SIGTERM);
        waitpid(service, NULL, 0);
    }
    service = -1;
    if (service_log[0])
        unlink(service_log);
}

/* Starts faas-local with argv and returns its port. */
static int start_service_argv(char **argv)
{
    strcpy(service_log, "/tmp/sw-e2e-log-XXXXXX");
    int log_fd = mkstemp(service_log), out[2];
    cr_assert_geq(log_fd, 0);
    cr_assert_eq(pipe(out), 0);
    setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, log_fd, 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawn(&service, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(log_fd);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", argv[0], strerror(rc));
    FILE *f = fdopen(out[0], "r");
    char line[128];
    int port = 0;
    cr_assert_not_null(fgets(line, sizeof line, f), "faas-local exited before listening");
    cr_assert_eq(sscanf(line, "listening on 127.0.0.1:%d", &port), 1, "%s", line);
    fclose(f);
    return port;
}

/* Starts faas-local with one function "infer" and returns its port. */
static int start_service(unsigned concurrency)
{
    char fn[1024], conc[16];
    snprintf(fn, sizeof fn, "infer=%s function --model %s", SPILLWAY, MODEL);
    snprintf(conc, sizeof conc, "%u", concurrency);
    char *argv[] = {SPILLWAY,  "faas-local",    "--listen", "127.0.0.1:0", "--function", fn,
                    "--concurrency", conc, "--timeout-s", "20", NULL};
    return start_service_argv(argv);
}

static void make_client_for(int port, const char *secret, const char *function)
{
    base = event_base_new();
    char endpoint[64], err[512];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    sw_be_aws_creds_t creds = {0};
    cr_assert_eq(sw_be_aws_creds_load(NULL, &creds, err, sizeof err), 0, "%s", err);
    sw_be_aws_creds_t use = creds;
    use.secret_access_key = (char *)secret;
    sw_be_lambda_opts_t o = {.endpoint = endpoint,
                             .region = "us-east-1",
                             .function_name = function,
                             .creds = &use,
                             .timeout_ms = 20000,
                             .max_in_flight = 8,
                             .max_retries = 1,
                             .log_tail = true};
    cr_assert_eq(sw_be_lambda_create(base, &o, &client, err, sizeof err), 0, "%s", err);
    sw_be_aws_creds_deinit(&creds);
}

static void setup(unsigned concurrency, const char *secret)
{
    make_client_for(start_service(concurrency), secret, "infer");
}

static void on_done(void *arg, const sw_be_lambda_result_t *r)
{
    call_t *c = arg;
    c->res = *r;
    snprintf(c->body, sizeof c->body, "%.*s", (int)SW_MIN(r->body_len, sizeof c->body - 1),
             r->body ? r->body : "");
    snprintf(c->error, sizeof c->error, "%s", r->error ? r->error : "");
    snprintf(c->function_error, sizeof c->function_error, "%s",
             r->function_error ? r->function_error : "");
    c->done = true;
}

static void start_call(call_t *c, const char *payload)
{
    memset(c, 0, sizeof *c);
    cr_assert_eq(sw_be_lambda_invoke(client, payload, strlen(payload), on_done, c), 0);
}

/* Runs the loop for ms milliseconds: the client sends only from the loop. */
static void pump(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Runs the loop until c is answered, or fails the test after 30 s. */
static void wait_call(call_t *c)
{
    time_t until = time(NULL) + 30;
    while (!c->done) {
        cr_assert_lt(time(NULL), until, "no answer within 30 s");
        struct timeval tick = {0, 50000};
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
    }
}

static void call(call_t *c, const char *payload)
{
    start_call(c, payload);
    wait_call(c);
}

/* One Fashion-MNIST-shaped row: 784 floats, a fixed pattern. Static, so a failed
 * assertion leaks nothing. */
static char *payload_row(float *row)
{
    static char p[784 * 16 + 128];
    size_t cap = sizeof p, n = 0;
    n += (size_t)snprintf(p, cap, "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
                                  "\"datatype\":\"FP32\",\"data\":[");
    for (int i = 0; i < 784; i++) {
        row[i] = (float)((i * 37) % 256) / 255.0f;
        n += (size_t)snprintf(p + n, cap - n, "%s%.9g", i ? "," : "", (double)row[i]);
    }
    snprintf(p + n, cap - n, "]}]}");
    return p;
}

/* The KServe answer's probabilities match the model run in this process. */
static void check_outputs(const char *body, const float *row)
{
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    cr_assert_not_null(doc, "answer is not JSON: %s: %s", jerr.text, body);
    json_t *data = json_object_get(json_array_get(json_object_get(doc, "outputs"), 0), "data");
    cr_assert_eq(json_array_size(data), 10, "%s", body);
    sw_model_t *m;
    char err[256];
    float want[10];
    cr_assert_eq(sw_model_load(MODEL, 1, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_model_infer(m, row, 1, want), 0);
    for (size_t i = 0; i < 10; i++)
        cr_assert_float_eq(json_number_value(json_array_get(data, i)), want[i], 1e-6);
    sw_model_destroy(m);
    json_decref(doc);
}

/* The environments faas-local started: its children. */
static size_t children(pid_t parent, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *rp = strrchr(buf, ')'); /* the command name may hold spaces */
        int ppid = 0;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent && n < max)
            out[n++] = atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

static pid_t only_environment(void)
{
    pid_t pids[8];
    cr_assert_eq(children(service, pids, 8), 1, "expected one environment");
    return pids[0];
}

/* An environment that just answered parks itself on /next a moment later; stopping it
 * before then would leave faas-local seeing no idle environment. */
static void let_environment_park(void)
{
    usleep(300 * 1000);
}

static double median3(double a, double b, double c)
{
    return fmax(fmin(a, b), fmin(fmax(a, b), c));
}

TestSuite(faas_e2e, .fini = stop_service, .timeout = 120);

Test(faas_e2e, cold_then_warm)
{
    setup(2, SECRET);
    float row[784];
    char *payload = payload_row(row);
    call_t c;
    call(&c, payload);
    cr_assert_eq(c.res.status, SW_FAAS_OK, "%s %s", c.error, c.body);
    cr_assert(c.res.cold_start, "the first call starts an environment");
    cr_assert_gt(c.res.init_ms, 0.0);
    check_outputs(c.body, row);
    double cold = sw_time_to_ms(c.res.latency), warm[3];
    for (int i = 0; i < 3; i++) {
        call(&c, payload);
        cr_assert_eq(c.res.status, SW_FAAS_OK, "%s", c.error);
        cr_assert_not(c.res.cold_start, "call %d reuses the warm environment", i + 2);
        cr_assert_eq(c.res.init_ms, 0.0);
        check_outputs(c.body, row);
        warm[i] = sw_time_to_ms(c.res.latency);
    }
    double w = median3(warm[0], warm[1], warm[2]);
    cr_assert_gt(cold, 2 * w, "cold %.2f ms is not measurably slower than warm %.2f ms", cold, w);
    cr_assert_eq(children(service, (pid_t[4]){0}, 4), 1, "warm calls reused one environment");
}

Test(faas_e2e, throttled_at_the_concurrency_limit)
{
    setup(1, SECRET);
    float row[784];
    char *payload = payload_row(row);
    call_t first, second;
    call(&first, payload); /* one warm environment: the whole limit */
    cr_assert_eq(first.res.status, SW_FAAS_OK, "%s", first.error);
    pid_t env = only_environment();
    let_environment_park();
    cr_assert_eq(kill(env, SIGSTOP), 0);
    start_call(&first, payload); /* handed to the stopped environment: it stays busy */
    pump(300);
    cr_assert_not(first.done);
    call(&second, payload);
    cr_assert_eq(second.res.status, SW_FAAS_THROTTLED, "status %d: %s", second.res.status,
                 second.error);
    cr_assert_eq(second.res.http_status, 429);
    cr_assert_geq(second.res.retry_after_s, 1u, "429 carries Retry-After");
    cr_assert_eq(kill(env, SIGCONT), 0);
    wait_call(&first);
    cr_assert_eq(first.res.status, SW_FAAS_OK, "the held call completes: %s", first.error);
    check_outputs(first.body, row);
}

Test(faas_e2e, malformed_payload_is_a_function_error)
{
    setup(2, SECRET);
    call_t c;
    call(&c, "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,3],\"datatype\":\"FP32\","
             "\"data\":[1,2,3]}]}");
    cr_assert_eq(c.res.status, SW_FAAS_FUNCTION_ERROR, "status %d: %s", c.res.status, c.body);
    cr_assert_eq(c.res.http_status, 200, "function errors still answer 200, as Lambda does");
    cr_assert_str_eq(c.function_error, "Unhandled");
    cr_assert_not_null(strstr(c.body, "errorMessage"), "%s", c.body);
    cr_assert_not_null(strstr(c.body, "shape"), "the message names what was wrong: %s", c.body);
    float row[784];
    char *payload = payload_row(row);
    call(&c, payload);
    cr_assert_eq(c.res.status, SW_FAAS_OK, "the environment survives a bad payload: %s",
                 c.error);
    cr_assert_not(c.res.cold_start);
}

Test(faas_e2e, environment_killed_mid_invocation_is_replaced)
{
    setup(2, SECRET);
    float row[784];
    char *payload = payload_row(row);
    call_t c;
    call(&c, payload);
    cr_assert_eq(c.res.status, SW_FAAS_OK, "%s", c.error);
    pid_t env = only_environment();
    let_environment_park();
    cr_assert_eq(kill(env, SIGSTOP), 0);
    start_call(&c, payload);
    pump(300); /* the event is with the stopped environment */
    cr_assert_not(c.done);
    cr_assert_eq(kill(env, SIGKILL), 0);
    wait_call(&c);
    cr_assert_eq(c.res.status, SW_FAAS_FUNCTION_ERROR, "status %d: %s %s", c.res.status,
                 c.error, c.body);
    cr_assert_str_eq(c.function_error, "Unhandled");
    cr_assert_not_null(strstr(c.body, "Runtime.ExitError"), "%s", c.body);
    call(&c, payload);
    cr_assert_eq(c.res.status, SW_FAAS_OK, "%s", c.error);
    cr_assert(c.res.cold_start, "a new environment replaced the dead one");
    check_outputs(c.body, row);
    pid_t now = only_environment();
    cr_assert_neq(now, env);
}

Test(faas_e2e, wrong_secret_is_refused_with_403)
{
    setup(2, "not-the-secret");
    call_t c;
    call(&c, "{}");
    cr_assert_eq(c.res.status, SW_FAAS_FAILED);
    cr_assert_eq(c.res.http_status, 403);
    cr_assert_eq(c.res.attempts, 1u, "a 403 is not retried");
    cr_assert_not_null(strstr(c.error, "signature"), "%s", c.error);
    cr_assert_null(strstr(c.error, SECRET));
    cr_assert_null(strstr(c.error, "not-the-secret"));
}

Test(faas_e2e, missing_credentials_are_a_clear_error)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    sw_be_aws_creds_t creds;
    char err[512];
    cr_assert_lt(sw_be_aws_creds_load(NULL, &creds, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, "AWS_ACCESS_KEY_ID"), "%s", err);
    cr_assert_not_null(strstr(err, "/nonexistent/credentials"), "%s", err);
    /* And the service refuses to start without them, naming the variables. */
    char *argv[] = {SPILLWAY, "faas-local", "--listen", "127.0.0.1:0", "--function",
                    "x=true", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "exit status %d", status);
}

/* The same service from the YAML policy: faas.local's listen address and functions. */
Test(faas_e2e, functions_from_the_policy_file)
{
    char path[] = "/tmp/sw-e2e-cfg-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "faas:\n  concurrency_limit: 2\n  local:\n    listen: 127.0.0.1:0\n"
               "    functions:\n      - name: from-yaml\n        command: %s function --model %s\n",
            SPILLWAY, MODEL);
    fclose(f);
    char *argv[] = {SPILLWAY, "faas-local", "--config", path, NULL};
    make_client_for(start_service_argv(argv), SECRET, "from-yaml");
    unlink(path);
    float row[784];
    call_t c;
    call(&c, payload_row(row));
    cr_assert_eq(c.res.status, SW_FAAS_OK, "%s %s", c.error, c.body);
    check_outputs(c.body, row);
}

/* With no function named anywhere, `spillway-infer` runs this build's binary and model. */
Test(faas_e2e, default_function_is_the_builds_model)
{
    char *argv[] = {SPILLWAY, "faas-local", "--listen", "127.0.0.1:0", NULL};
    make_client_for(start_service_argv(argv), SECRET, "spillway-infer");
    float row[784];
    call_t c;
    call(&c, payload_row(row));
    cr_assert_eq(c.res.status, SW_FAAS_OK, "%s %s", c.error, c.body);
    check_outputs(c.body, row);
}

/* Runs `spillway invoke ARGS...` against the service; returns the exit status and the
 * first bytes of its stdout. */
static int run_invoke(int port, const char *const *extra, char *out, size_t outlen)
{
    char endpoint[96], path[] = "/tmp/sw-e2e-out-XXXXXX";
    snprintf(endpoint, sizeof endpoint, "faas.invoke.endpoint=http://127.0.0.1:%d", port);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *argv[16] = {SPILLWAY, "invoke", "--set", endpoint};
    size_t n = 4;
    for (; *extra && n < 15; extra++)
        argv[n++] = *extra;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    ssize_t got = pread(fd, out, outlen - 1, 0);
    out[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
    cr_assert(WIFEXITED(status), "spillway invoke died: status %d", status);
    return WEXITSTATUS(status);
}

/* The operator's check: `spillway invoke` reads faas.invoke, signs, and prints the answer;
 * a missing function is exit 1, missing credentials exit 2. */
Test(faas_e2e, invoke_command_uses_the_policy_files_client)
{
    char *argv[] = {SPILLWAY, "faas-local", "--listen", "127.0.0.1:0", NULL};
    int port = start_service_argv(argv);
    char out[8192];
    cr_assert_eq(run_invoke(port, (const char *[]){"--count", "3", "--concurrency", "2", NULL},
                            out, sizeof out),
                 0);
    cr_assert_eq(run_invoke(port, (const char *[]){NULL}, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "\"outputs\""), "%s", out);
    cr_assert_eq(run_invoke(port, (const char *[]){"--set", "faas.invoke.function_name=nope",
                                                    NULL},
                            out, sizeof out),
                 1);
    cr_assert_not_null(strstr(out, "Function not found"), "%s", out);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    cr_assert_eq(run_invoke(port, (const char *[]){NULL}, out, sizeof out), 2);
}

Test(faas_e2e, client_options_come_from_the_policy_file)
{
    sw_cfg_t *cfg;
    char err[512];
    const char yaml[] = "faas:\n  invoke:\n    region: eu-west-1\n    function_name: fn:prod\n"
                        "    qualifier: v7\n    timeout_ms: 250\n    max_in_flight: 3\n";
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, err, sizeof err), 0,
                 "%s", err);
    sw_be_aws_creds_t creds = {.access_key_id = "AKID", .secret_access_key = "s"};
    sw_be_lambda_opts_t o;
    sw_be_lambda_opts_from_cfg(&cfg->faas.invoke, &creds, &o);
    cr_assert_eq(o.timeout_ms, 250);
    cr_assert_eq(o.max_in_flight, 3u);
    cr_assert(o.log_tail);
    base = event_base_new();
    cr_assert_eq(sw_be_lambda_create(base, &o, &client, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sw_be_lambda_url(client),
                     "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/fn%3Aprod/"
                     "invocations?Qualifier=v7");
    sw_cfg_destroy(cfg);
}
