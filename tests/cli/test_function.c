/* Tests of cli/cmd_function.c through the real `spillway function` binary: a fake Lambda
 * Runtime API (evhttp on 127.0.0.1, port 0, run step by step on the test thread) hands out
 * scripted events to a runtime spawned with posix_spawn and records what it posts back. The
 * runtime answers a valid event with the outputs sw_model_infer gives in-process, answers a
 * malformed one with an InvalidInput function error and carries on, reports a model that
 * will not load to /runtime/init/error and exits 1, exits 1 when /next fails or is
 * unreachable, and exits 0 on SIGTERM while it waits for an event. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "common/common.h"
#include "model/model.h"
#include "tests/tiny_model.h"

extern char **environ;

#define MAX_EVENTS 8
#define MAX_POSTS 8
#define API "/2018-06-01"

/* A scripted answer to GET /next: an event (status 200), or a failure status. */
typedef struct event_script {
    int status;
    const char *request_id; /* NULL: no Lambda-Runtime-Aws-Request-Id header */
    const char *body;
} event_script_t;

/* Something the runtime posted. */
typedef struct post {
    char path[256], content_type[128], error_type[128];
    char *body;
    struct evhttp_connection *conn;
} post_t;

typedef struct srv {
    struct event_base *base;
    struct evhttp *http;
    struct event *tick;
    uint16_t port;
    event_script_t events[MAX_EVENTS];
    size_t ev_head, ev_tail;
    struct evhttp_request *pending; /* a /next long poll waiting for an event */
    int nexts;                      /* GET /next requests seen */
    post_t posts[MAX_POSTS];
    size_t n_posts, posts_read;
} srv_t;

static srv_t srv;
static pid_t child = -1;
static char model_path[64];


static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    srv_t *s = arg;
    if (s->pending && evhttp_request_get_connection(s->pending) == conn)
        s->pending = NULL;
}

/* Answers the waiting /next with the next scripted event, if both exist. */
static void srv_dispatch(srv_t *s)
{
    if (!s->pending || s->ev_head == s->ev_tail)
        return;
    struct evhttp_request *req = s->pending;
    s->pending = NULL;
    const event_script_t *e = &s->events[s->ev_head++ % MAX_EVENTS];
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (e->status == 200) {
        char deadline[32];
        snprintf(deadline, sizeof(deadline), "%lld", (long long)time(NULL) * 1000 + 60000);
        if (e->request_id)
            evhttp_add_header(h, "Lambda-Runtime-Aws-Request-Id", e->request_id);
        evhttp_add_header(h, "Lambda-Runtime-Deadline-Ms", deadline);
        evhttp_add_header(h, "Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700");
        evhttp_add_header(h, "Lambda-Runtime-Invoked-Function-Arn",
                          "arn:aws:lambda:us-east-2:123456789012:function:test");
        evhttp_add_header(h, "Content-Type", "application/json");
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, e->body, strlen(e->body));
    evhttp_send_reply(req, e->status, e->status == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

static void srv_add_event(srv_t *s, int status, const char *request_id, const char *body)
{
    cr_assert_lt(s->ev_tail - s->ev_head, MAX_EVENTS);
    s->events[s->ev_tail++ % MAX_EVENTS] =
        (event_script_t){.status = status, .request_id = request_id, .body = body};
    srv_dispatch(s);
}

static void record_post(srv_t *s, struct evhttp_request *req)
{
    cr_assert_lt(s->n_posts, MAX_POSTS);
    post_t *p = &s->posts[s->n_posts++];
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(h, "Content-Type");
    const char *et = evhttp_find_header(h, "Lambda-Runtime-Function-Error-Type");
    snprintf(p->path, sizeof(p->path), "%s", evhttp_request_get_uri(req));
    snprintf(p->content_type, sizeof(p->content_type), "%s", ct ? ct : "");
    snprintf(p->error_type, sizeof(p->error_type), "%s", et ? et : "");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    p->body = sw_malloc(len + 1);
    evbuffer_remove(in, p->body, len);
    p->body[len] = '\0';
    p->conn = evhttp_request_get_connection(req);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    srv_t *s = arg;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    evhttp_connection_set_closecb(conn, on_conn_close, s);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
        strcmp(evhttp_request_get_uri(req), API "/runtime/invocation/next") == 0) {
        cr_assert_null(s->pending, "two /next polls at once");
        s->nexts++;
        s->pending = req;
        srv_dispatch(s);
        return;
    }
    cr_assert_eq(evhttp_request_get_command(req), EVHTTP_REQ_POST, "unexpected %s",
                 evhttp_request_get_uri(req));
    record_post(s, req);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "{\"status\":\"OK\"}");
    evhttp_send_reply(req, 202, "Accepted", b);
    evbuffer_free(b);
}

static void on_srv_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop until the runtime is waiting on /next, failing the test after 10 s. */
static void srv_wait_for_poll(srv_t *s)
{
    sw_time_t end = sw_clock_now() + 10 * SW_US_PER_S;
    while (!s->pending) {
        cr_assert_lt(sw_clock_now(), end, "the runtime did not poll /next in 10 s");
        event_base_loop(s->base, EVLOOP_ONCE);
    }
}

/* The next post from the runtime, waiting up to 10 s. Borrowed until teardown. */
static const post_t *srv_next_post(srv_t *s)
{
    sw_time_t end = sw_clock_now() + 10 * SW_US_PER_S;
    while (s->posts_read == s->n_posts) {
        cr_assert_lt(sw_clock_now(), end, "no post from the runtime in 10 s");
        event_base_loop(s->base, EVLOOP_ONCE);
    }
    return &s->posts[s->posts_read++];
}

/* Spawns `spillway function` against the fake API (or against `api` when not NULL). */
static void spawn_function(const char *model, const char *api)
{
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)srv.port);
    cr_assert_eq(setenv("AWS_LAMBDA_RUNTIME_API", api ? api : addr, 1), 0);
    char *argv[] = {
        SW_BINARY_DIR "/spillway", "function", "--model", (char *)model, "--max-batch", "4", NULL};
    int rc = posix_spawn(&child, argv[0], NULL, NULL, argv, environ);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", argv[0], strerror(rc));
}

/* Waits for the child to exit, with the server loop running, and returns its status. */
static int wait_child(int64_t timeout_ms)
{
    sw_time_t end = sw_clock_now() + timeout_ms * SW_US_PER_MS;
    for (;;) {
        int status;
        pid_t p = waitpid(child, &status, WNOHANG);
        cr_assert_geq(p, 0, "waitpid: %s", strerror(errno));
        if (p == child) {
            child = -1;
            return status;
        }
        cr_assert_lt(sw_clock_now(), end, "the runtime did not exit in %" PRId64 " ms", timeout_ms);
        event_base_loop(srv.base, EVLOOP_ONCE);
    }
}

static void expect_exit(int status, int code)
{
    cr_assert(WIFEXITED(status), "the runtime died by signal %d",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_expect_eq(WEXITSTATUS(status), code, "exit status %d, expected %d", WEXITSTATUS(status),
                 code);
}

static void setup(void)
{
    char err[512] = "";
    snprintf(model_path, sizeof(model_path), "/tmp/sw_function_test.%ld.model", (long)getpid());
    cr_assert_eq(sw_model_save(model_path, &tiny, err, sizeof(err)), 0, "%s", err);
    memset(&srv, 0, sizeof(srv));
    srv.base = event_base_new();
    srv.http = evhttp_new(srv.base);
    cr_assert_not_null(srv.http);
    evhttp_set_gencb(srv.http, on_request, &srv);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", 0);
    cr_assert_not_null(bs, "bind 127.0.0.1:0: %s", strerror(errno));
    struct sockaddr_in got;
    socklen_t len = sizeof(got);
    cr_assert_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&got, &len), 0);
    srv.port = ntohs(got.sin_port);
    /* A periodic tick so that each EVLOOP_ONCE step returns soon even when idle. */
    srv.tick = event_new(srv.base, -1, EV_PERSIST, on_srv_tick, NULL);
    struct timeval tv = {0, 20000};
    event_add(srv.tick, &tv);
}

static void teardown(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    for (size_t i = 0; i < srv.n_posts; i++)
        sw_free(srv.posts[i].body);
    if (srv.http)
        evhttp_free(srv.http);
    if (srv.tick)
        event_free(srv.tick);
    if (srv.base)
        event_base_free(srv.base);
    unlink(model_path);
}

TestSuite(srv_function, .init = setup, .fini = teardown, .timeout = 60);

static const char valid_event[] =
    "{\"id\": \"client-7\", \"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], "
    "\"datatype\": \"FP32\", \"data\": [[1, 2, 3], [0.1, -0.7, 2]]}]}";
static const float valid_inputs[] = {1, 2, 3, 0.1f, -0.7f, 2};

/* Checks that post p is the KServe response to valid_event for request `id`. */
static void expect_valid_response(const post_t *p, const char *id)
{
    char want_path[128];
    snprintf(want_path, sizeof(want_path), API "/runtime/invocation/%s/response", id);
    cr_assert_str_eq(p->path, want_path);
    cr_expect_str_eq(p->content_type, "application/json");
    char err[512] = "";
    sw_model_t *m = NULL;
    cr_assert_eq(sw_model_load(model_path, 4, &m, err, sizeof(err)), 0, "%s", err);
    float want[4];
    cr_assert_eq(sw_model_infer(m, valid_inputs, 2, want), 0);
    sw_model_destroy(m);
    json_t *j = json_loads(p->body, 0, NULL);
    cr_assert_not_null(j, "response is not JSON: %s", p->body);
    cr_expect_str_eq(json_string_value(json_object_get(j, "model_name")), "tiny");
    cr_expect_str_eq(json_string_value(json_object_get(j, "model_version")), "7");
    cr_expect_str_eq(json_string_value(json_object_get(j, "id")), "client-7");
    json_t *out = json_array_get(json_object_get(j, "outputs"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(out, "datatype")), "FP32");
    json_t *data = json_object_get(out, "data");
    cr_assert_eq(json_array_size(data), 4, "%s", p->body);
    for (size_t i = 0; i < 4; i++)
        cr_expect_float_eq(json_number_value(json_array_get(data, i)), want[i], 1e-6, "data[%zu]",
                           i);
    json_decref(j);
}

/* Checks that post p is a Lambda error body of `type` whose message is `msg`. */
static void expect_error_post(const post_t *p, const char *path, const char *type, const char *msg)
{
    cr_assert_str_eq(p->path, path);
    cr_expect_str_eq(p->content_type, "application/vnd.aws.lambda.error+json");
    cr_expect_str_eq(p->error_type, type);
    json_t *j = json_loads(p->body, 0, NULL);
    cr_assert_not_null(j, "error body is not JSON: %s", p->body);
    cr_expect_str_eq(json_string_value(json_object_get(j, "errorType")), type);
    const char *got = json_string_value(json_object_get(j, "errorMessage"));
    cr_assert_not_null(got, "%s", p->body);
    cr_expect_not_null(strstr(got, msg), "errorMessage \"%s\" lacks \"%s\"", got, msg);
    cr_expect(json_is_array(json_object_get(j, "stackTrace")), "%s", p->body);
    json_decref(j);
}

Test(srv_function, answers_event_like_in_process_model)
{
    spawn_function(model_path, NULL);
    srv_add_event(&srv, 200, "8476a536-e9f4-11e8-9739-2dfe598c3fcd", valid_event);
    expect_valid_response(srv_next_post(&srv), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    /* It goes back to waiting for the next event. */
    srv_wait_for_poll(&srv);
    cr_expect_eq(srv.nexts, 2);
}

Test(srv_function, malformed_event_is_a_function_error_and_serving_goes_on)
{
    spawn_function(model_path, NULL);
    srv_add_event(&srv, 200, "req-bad", "{\"id\": \"x\"}");
    srv_add_event(&srv, 200, "req-fp64",
                  "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": "
                  "\"FP64\", \"data\": [1, 2, 3]}]}");
    srv_add_event(&srv, 200, "req-good", valid_event);
    const post_t *p1 = srv_next_post(&srv);
    expect_error_post(p1, API "/runtime/invocation/req-bad/error", "InvalidInput",
                      "inputs: missing");
    const post_t *p2 = srv_next_post(&srv);
    expect_error_post(p2, API "/runtime/invocation/req-fp64/error", "InvalidInput",
                      "inputs[0].datatype: FP64 not supported, expected FP32");
    const post_t *p3 = srv_next_post(&srv);
    expect_valid_response(p3, "req-good");
    /* One curl handle, kept alive: every call went over the same connection. */
    cr_expect_eq(p1->conn, p3->conn);
}

Test(srv_function, model_that_fails_to_load_is_an_init_error)
{
    FILE *f = fopen(model_path, "w");
    cr_assert_not_null(f);
    fputs("not a model", f);
    fclose(f);
    spawn_function(model_path, NULL);
    const post_t *p = srv_next_post(&srv);
    expect_error_post(p, API "/runtime/init/error", "Runtime.InitError", model_path);
    expect_exit(wait_child(10000), 1);
    cr_expect_eq(srv.nexts, 0, "the runtime polled /next after a failed init");
}

Test(srv_function, sigterm_while_waiting_exits_0)
{
    spawn_function(model_path, NULL);
    srv_add_event(&srv, 200, "req-1", valid_event);
    expect_valid_response(srv_next_post(&srv), "req-1");
    srv_wait_for_poll(&srv);
    cr_assert_eq(kill(child, SIGTERM), 0);
    expect_exit(wait_child(10000), 0);
}

Test(srv_function, next_500_makes_the_runtime_exit_1)
{
    spawn_function(model_path, NULL);
    srv_add_event(&srv, 500, NULL, "{\"errorMessage\": \"container error\"}");
    expect_exit(wait_child(10000), 1);
    cr_expect_eq(srv.n_posts, 0);
}

Test(srv_function, event_without_request_id_makes_the_runtime_exit_1)
{
    spawn_function(model_path, NULL);
    srv_add_event(&srv, 200, NULL, valid_event);
    expect_exit(wait_child(10000), 1);
    cr_expect_eq(srv.n_posts, 0);
}

Test(srv_function, unreachable_runtime_api_exits_1)
{
    /* Take a free port and close it again: nothing listens there any more. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    char api[64];
    snprintf(api, sizeof(api), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    spawn_function(model_path, api);
    expect_exit(wait_child(10000), 1);
}

Test(srv_function, missing_runtime_api_variable_is_a_usage_error)
{
    cr_assert_eq(unsetenv("AWS_LAMBDA_RUNTIME_API"), 0);
    char *argv[] = {SW_BINARY_DIR "/spillway", "function", "--model", model_path, NULL};
    int rc = posix_spawn(&child, argv[0], NULL, NULL, argv, environ);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    expect_exit(wait_child(10000), 2);
}

/* Runs a shell command, failing the test unless it exits 0. */
static void run(const char *cmd)
{
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "failed: %s", cmd);
}

Test(srv_function, packaged_zip_bootstraps_and_answers_an_event)
{
    char dir[] = "/tmp/sw_function_pkg_XXXXXX", cmd[1024], path[512];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd),
             "'%s/scripts/package-lambda.sh' --build-dir '%s' --out '%s/f.zip' >/dev/null 2>&1",
             SW_SOURCE_DIR, SW_BINARY_DIR, dir);
    run(cmd);
    /* Unpack as Lambda does, keeping the mode bits stored in the zip. */
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import os, sys, zipfile\n"
             "z = zipfile.ZipFile(sys.argv[1])\n"
             "for i in z.infolist():\n"
             "    z.extract(i, sys.argv[2]); os.chmod(os.path.join(sys.argv[2], i.filename), "
             "i.external_attr >> 16 & 0o777)' '%s/f.zip' '%s/task'",
             dir, dir);
    run(cmd);
    const char *want[] = {"bootstrap", "spillway", "fashion-mlp.pb", "lib/libopenblas.so.0"};
    for (size_t i = 0; i < SW_ARRAY_LEN(want); i++) {
        snprintf(path, sizeof(path), "%s/task/%s", dir, want[i]);
        cr_expect_eq(access(path, R_OK), 0, "%s is not in the zip", want[i]);
    }
    snprintf(path, sizeof(path), "%s/task/bootstrap", dir);
    cr_assert_eq(access(path, X_OK), 0, "bootstrap is not executable");

    /* The bootstrap, run as Lambda would, answers a 784-pixel image with 10 scores. */
    char root[128];
    snprintf(root, sizeof(root), "%s/task", dir);
    cr_assert_eq(setenv("LAMBDA_TASK_ROOT", root, 1), 0);
    snprintf(cmd, sizeof(cmd), "127.0.0.1:%u", (unsigned)srv.port);
    cr_assert_eq(setenv("AWS_LAMBDA_RUNTIME_API", cmd, 1), 0);
    char *argv[] = {path, NULL};
    int rc = posix_spawn(&child, path, NULL, NULL, argv, environ);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", path, strerror(rc));
    static char body[8192];
    size_t used = (size_t)snprintf(body, sizeof(body),
                                   "{\"inputs\": [{\"name\": \"input\", "
                                   "\"shape\": [784], \"datatype\": \"FP32\", \"data\": [");
    for (size_t i = 0; i < 784; i++)
        used += (size_t)snprintf(body + used, sizeof(body) - used, "%s%.2f", i ? "," : "",
                                 (double)(i % 28) / 28.0);
    snprintf(body + used, sizeof(body) - used, "]}]}");
    srv_add_event(&srv, 200, "pkg-1", body);
    const post_t *p = srv_next_post(&srv);
    cr_assert_str_eq(p->path, API "/runtime/invocation/pkg-1/response", "%s", p->body);
    json_t *j = json_loads(p->body, 0, NULL);
    cr_assert_not_null(j, "%s", p->body);
    json_t *data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
    cr_assert_eq(json_array_size(data), 10, "%s", p->body);
    double sum = 0;
    for (size_t i = 0; i < 10; i++)
        sum += json_number_value(json_array_get(data, i));
    cr_expect_float_eq(sum, 1.0, 1e-5, "softmax scores sum to %g", sum);
    json_decref(j);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    run(cmd);
}
