/* faas-local's execution environments: one child process per environment, started with
 * `/bin/sh -c 'exec COMMAND'` so the function itself is our direct child (its pid is the
 * one we signal, reap and read VmHWM from), plus one Runtime API listener on 127.0.0.1
 * that only this environment is told about. An environment moves STARTING -> IDLE <-> BUSY
 * -> STOPPING; a single timer per environment serves the state it is in (init limit,
 * keep-alive, kill grace). Processes are removed only from the SIGCHLD path, never from
 * inside their own listener's callbacks, so evhttp objects are not freed under their
 * callers. */
#include "backends/faas_local_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "backends/proc_internal.h"

#define SW_LOG_MODULE "faas-local"
#include "common/log.h"

#define INIT_LIMIT_S 10.0 /* Lambda's limit on the Init phase */
#define KILL_GRACE_S 2.0
#define RUNTIME_PREFIX "/2018-06-01/runtime/"

static void arm_timer(fl_env_t *env, double seconds)
{
    struct timeval tv = {.tv_sec = (time_t)seconds,
                         .tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    evtimer_add(env->timer, &tv);
}

static void reply_json(struct evhttp_request *req, int status, const char *reason, const char *json)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, json, strlen(json));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, status, reason, b);
    evbuffer_free(b);
}

/* A parked GET /next whose connection closes must not be answered later. */
static void on_next_conn_close(struct evhttp_connection *conn, void *arg)
{
    fl_env_t *env = arg;
    (void)conn;
    env->next_req = NULL;
}

static void deliver(fl_env_t *env)
{
    fl_inv_t *inv = env->inv;
    struct evhttp_request *req = env->next_req;
    env->next_req = NULL;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), NULL, NULL);

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    long long deadline_ms = (long long)rt.tv_sec * 1000 + rt.tv_nsec / 1000000 +
                            (long long)(env->svc->o.timeout_s * 1000.0);
    char deadline[32], trace[128];
    snprintf(deadline, sizeof(deadline), "%lld", deadline_ms);
    sw_rng_t *rng = &env->svc->rng;
    uint64_t r1 = sw_rng_u64(rng), r2 = sw_rng_u64(rng), r3 = sw_rng_u64(rng);
    snprintf(trace, sizeof(trace), "Root=1-%08llx-%08llx%016llx;Parent=%016llx;Sampled=0",
             (unsigned long long)rt.tv_sec, (unsigned long long)(r1 & 0xffffffffULL),
             (unsigned long long)r2, (unsigned long long)r3);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Lambda-Runtime-Aws-Request-Id", inv->id);
    evhttp_add_header(h, "Lambda-Runtime-Deadline-Ms", deadline);
    evhttp_add_header(h, "Lambda-Runtime-Invoked-Function-Arn", inv->arn);
    evhttp_add_header(h, "Lambda-Runtime-Trace-Id", trace);
    evhttp_send_reply(req, 200, "OK", inv->event);

    inv->delivered = true;
    inv->delivered_at = sw_clock_now();
    fprintf(stderr, "START RequestId: %s Version: $LATEST\n", inv->id);
    double t = env->svc->o.timeout_s;
    struct timeval tv = {.tv_sec = (time_t)t,
                         .tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6)};
    evtimer_add(inv->timeout_ev, &tv);
}

void sw__fl_env_assign(fl_env_t *env, fl_inv_t *inv)
{
    if (env->state == ENV_IDLE) {
        evtimer_del(env->timer); /* keep-alive; a STARTING one keeps its init limit */
        env->state = ENV_BUSY;
    }
    env->inv = inv;
    inv->env = env;
    inv->cold = !env->initialised;
    if (env->next_req)
        deliver(env);
}

static void on_next(fl_env_t *env, struct evhttp_request *req)
{
    if (env->next_req || (env->inv && env->inv->delivered)) {
        /* A second poll, or a poll without answering the event in hand: the runtime is
         * confused; leave the invocation to its timeout. */
        reply_json(req, 400, "Bad Request",
                   "{\"errorType\":\"InvalidStateTransition\",\"errorMessage\":"
                   "\"next called while an invocation is in progress\"}");
        return;
    }
    if (!env->initialised) {
        env->initialised = true;
        env->init_ms = sw_time_to_ms(sw_clock_now() - env->spawned_at);
        evtimer_del(env->timer);
        if (env->inv)
            env->inv->init_ms = env->init_ms;
    }
    env->next_req = req;
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_next_conn_close, env);
    if (env->inv) {
        env->state = ENV_BUSY;
        deliver(env);
    } else if (env->state == ENV_STARTING) {
        env->state = ENV_IDLE;
        arm_timer(env, env->svc->o.keep_alive_s);
        sw__fl_capacity_freed(env->svc);
    }
}

/* POST /invocation/{id}/response or /error. */
static void on_result(fl_env_t *env, struct evhttp_request *req, const char *id, size_t id_len,
                      bool is_error)
{
    fl_inv_t *inv = env->inv;
    if (!inv || !inv->delivered || id_len != strlen(inv->id) || memcmp(id, inv->id, id_len)) {
        reply_json(req, 400, "Bad Request",
                   "{\"errorType\":\"InvalidRequestID\",\"errorMessage\":"
                   "\"Invalid request ID\"}");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const void *body = len ? evbuffer_pullup(in, -1) : NULL;
    char fallback[300];
    if (is_error && len == 0) {
        /* The Runtime API builds the error from the header when there is no payload. */
        const char *type = evhttp_find_header(evhttp_request_get_input_headers(req),
                                              "Lambda-Runtime-Function-Error-Type");
        snprintf(fallback, sizeof(fallback), "{\"errorType\":\"%.200s\",\"errorMessage\":\"\"}",
                 type && !strpbrk(type, "\"\\") ? type : "Unhandled");
        body = fallback;
        len = strlen(fallback);
    }
    reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
    sw__fl_inv_finish(inv, is_error ? "Unhandled" : NULL, body, len);
    if (env->state == ENV_BUSY) {
        env->state = ENV_IDLE;
        arm_timer(env, env->svc->o.keep_alive_s);
        sw__fl_capacity_freed(env->svc);
    }
}

/* POST /init/error: the environment is unusable. Like Lambda, the invocation that was
 * waiting on it gets the runtime's error object (or a Runtime.InitError one) as an
 * Unhandled function error, and the environment is discarded. */
static void on_init_error(fl_env_t *env, struct evhttp_request *req)
{
    reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
    if (env->state == ENV_STOPPING)
        return;
    if (env->inv) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        const char *body = len ? (const char *)evbuffer_pullup(in, -1) : NULL;
        if (len && body[0] == '{') {
            sw__fl_inv_finish(env->inv, "Unhandled", body, len);
        } else {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "{\"errorType\":\"Runtime.InitError\",\"errorMessage\":\"RequestId: %s "
                     "Error: runtime failed to initialise\"}",
                     env->inv->id);
            sw__fl_inv_finish(env->inv, "Unhandled", msg, strlen(msg));
        }
    }
    sw__fl_env_stop(env, false);
    sw__fl_capacity_freed(env->svc);
}

static void on_runtime_request(struct evhttp_request *req, void *arg)
{
    fl_env_t *env = arg;
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strcspn(uri, "?");
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (env->state == ENV_STOPPING) {
        reply_json(req, 500, "Internal Server Error",
                   "{\"errorType\":\"Runtime.Stopping\",\"errorMessage\":"
                   "\"the environment is shutting down\"}");
        return;
    }
    size_t pre = strlen(RUNTIME_PREFIX);
    const char *p = uri + pre;
    size_t rest = plen > pre ? plen - pre : 0;
    if (plen <= pre || strncmp(uri, RUNTIME_PREFIX, pre) != 0)
        rest = 0;
    if (m == EVHTTP_REQ_GET && rest == strlen("invocation/next") &&
        !strncmp(p, "invocation/next", rest)) {
        on_next(env, req);
        return;
    }
    if (m == EVHTTP_REQ_POST && rest == strlen("init/error") && !strncmp(p, "init/error", rest)) {
        on_init_error(env, req);
        return;
    }
    if (m == EVHTTP_REQ_POST && rest > strlen("invocation/") &&
        !strncmp(p, "invocation/", strlen("invocation/"))) {
        const char *id = p + strlen("invocation/");
        const char *slash = memchr(id, '/', rest - strlen("invocation/"));
        if (slash) {
            size_t tail = (size_t)(p + rest - slash);
            if (tail == strlen("/response") && !strncmp(slash, "/response", tail)) {
                on_result(env, req, id, (size_t)(slash - id), false);
                return;
            }
            if (tail == strlen("/error") && !strncmp(slash, "/error", tail)) {
                on_result(env, req, id, (size_t)(slash - id), true);
                return;
            }
        }
    }
    reply_json(req, 404, "Not Found",
               "{\"errorType\":\"NotFound\",\"errorMessage\":\"unknown Runtime API path\"}");
}

static void on_env_timer(evutil_socket_t fd, short what, void *arg)
{
    fl_env_t *env = arg;
    (void)fd;
    (void)what;
    switch (env->state) {
    case ENV_STARTING:
    case ENV_BUSY:
        SW_LOG_WARN("environment did not initialise in time function=%s pid=%ld limit_s=%.0f",
                    env->fn->name, (long)env->pid, INIT_LIMIT_S);
        if (env->inv) {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "{\"errorType\":\"Runtime.InitError\",\"errorMessage\":\"RequestId: %s "
                     "Error: init timed out after %.2f seconds\"}",
                     env->inv->id, INIT_LIMIT_S);
            sw__fl_inv_finish(env->inv, "Unhandled", msg, strlen(msg));
        }
        sw__fl_env_stop(env, true);
        break;
    case ENV_IDLE:
        SW_LOG_INFO("stopping idle environment function=%s pid=%ld", env->fn->name, (long)env->pid);
        sw__fl_env_stop(env, false);
        break;
    case ENV_STOPPING: sw__proc_signal(env->pid, SIGKILL); break;
    }
}

void sw__fl_env_stop(fl_env_t *env, bool hard)
{
    sw__proc_signal(env->pid, hard ? SIGKILL : SIGTERM);
    env->state = ENV_STOPPING;
    evtimer_del(env->timer);
    if (!hard)
        arm_timer(env, KILL_GRACE_S);
}

/* Builds the function's environment: ours minus caller credentials and stale Lambda
 * variables, plus the Lambda ones. Real Lambda hands functions role credentials, never
 * the caller's, so the AWS keys are dropped. */
static void build_env(const fl_env_t *env, sw__proc_env_t *e)
{
    static const char *const drop[] = {
        "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_LAMBDA_",
        "AWS_REGION=",        "AWS_DEFAULT_REGION=",    "LAMBDA_TASK_ROOT="};
    sw__proc_env_init(e, drop, SW_ARRAY_LEN(drop));
    const sw_be_faas_local_opts_t *o = &env->svc->o;
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        snprintf(cwd, sizeof(cwd), "/");
    sw__proc_env_setf(e, "AWS_LAMBDA_FUNCTION_NAME=%s", env->fn->name);
    sw__proc_env_setf(e, "AWS_LAMBDA_FUNCTION_VERSION=%s", "$LATEST");
    sw__proc_env_setf(e, "AWS_REGION=%s", o->region);
    sw__proc_env_setf(e, "AWS_DEFAULT_REGION=%s", o->region);
    sw__proc_env_setf(e, "LAMBDA_TASK_ROOT=%s", cwd);
    sw__proc_env_setf(e, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%u", (unsigned)env->port);
    sw__proc_env_setf(e, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%u", o->memory_mb);
}

/* `/bin/sh -c 'exec COMMAND'` in a process group of its own, so that signalling the group
 * also reaches anything the function started, with a parent-death signal so that a killed
 * faas-local leaves no functions behind. Function output belongs in the service log, not
 * our stdout, so the child's stdout is our stderr. */
static int spawn_process(const char *command, char *const *envp, pid_t *pid)
{
    size_t cl = strlen(command) + 6;
    char *cmd = sw_malloc(cl);
    snprintf(cmd, cl, "exec %s", command);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    sw__proc_spec_t spec = {.path = "/bin/sh",
                            .argv = argv,
                            .envp = envp,
                            .fd_in = SW__PROC_FD_NULL,
                            .fd_out = 2,
                            .fd_err = SW__PROC_FD_INHERIT,
                            .new_group = true,
                            .death_signal = SIGKILL};
    int rc = sw__proc_spawn(&spec, pid, NULL);
    sw_free(cmd);
    return rc;
}

fl_env_t *sw__fl_env_spawn(struct sw_be_faas_local *svc, const sw_be_faas_local_fn_t *fn)
{
    fl_env_t *env = sw_calloc(1, sizeof(*env));
    env->svc = svc;
    env->fn = fn;
    env->http = evhttp_new(svc->base);
    evhttp_set_allowed_methods(env->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(env->http, 16 * 1024 * 1024);
    evhttp_set_gencb(env->http, on_runtime_request, env);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(env->http, "127.0.0.1", 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    if (!bs || getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &sl) < 0) {
        SW_LOG_ERROR("cannot open a Runtime API listener function=%s err=%s", fn->name,
                     strerror(errno));
        goto fail;
    }
    env->port = ntohs(sin.sin_port);
    env->timer = evtimer_new(svc->base, on_env_timer, env);
    sw__proc_env_t e;
    build_env(env, &e);
    env->spawned_at = sw_clock_now();
    int rc = spawn_process(fn->command, e.v, &env->pid);
    sw__proc_env_deinit(&e, false);
    if (rc < 0) {
        SW_LOG_ERROR("cannot start function function=%s err=%s", fn->name, sw_strerror(rc));
        goto fail;
    }
    env->state = ENV_STARTING;
    arm_timer(env, INIT_LIMIT_S);
    SLIST_INSERT_HEAD(&svc->envs, env, link);
    svc->n_envs++;
    SW_LOG_DEBUG("started environment function=%s pid=%ld runtime_port=%u", fn->name,
                 (long)env->pid, (unsigned)env->port);
    return env;
fail:
    if (env->timer)
        event_free(env->timer);
    evhttp_free(env->http);
    sw_free(env);
    return NULL;
}

static void env_free(fl_env_t *env)
{
    /* evhttp_free runs the close callback of a parked /next; env must still be valid. */
    evhttp_free(env->http);
    event_free(env->timer);
    sw_free(env);
}

static void env_unlink(struct sw_be_faas_local *svc, fl_env_t *env)
{
    /* Only an environment that is linked: SLIST_REMOVE would run off the end for another. */
    fl_env_t *e;
    SLIST_FOREACH(e, &svc->envs, link) {
        if (e == env) {
            SLIST_REMOVE(&svc->envs, env, fl_env, link);
            svc->n_envs--;
            return;
        }
    }
}

static void env_exited(struct sw_be_faas_local *svc, fl_env_t *env, int status)
{
    char why[64];
    sw__proc_describe_status(status, why, sizeof(why));
    /* Anything the function left behind in its group goes too. */
    kill(-env->pid, SIGKILL);
    if (env->inv) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "{\"errorType\":\"Runtime.ExitError\",\"errorMessage\":\"RequestId: %s Error: "
                 "Runtime exited with error: %s\"}",
                 env->inv->id, why);
        SW_LOG_WARN("function exited during an invocation function=%s pid=%ld status=%s",
                    env->fn->name, (long)env->pid, why);
        sw__fl_inv_finish(env->inv, "Unhandled", msg, strlen(msg));
    } else {
        SW_LOG_DEBUG("environment exited function=%s pid=%ld status=%s", env->fn->name,
                     (long)env->pid, why);
    }
    env_unlink(svc, env);
    env_free(env);
}

void sw__fl_env_reap(struct sw_be_faas_local *svc)
{
    bool any = false;
    /* The next is taken first: an environment that exited is freed. */
    for (fl_env_t *env = SLIST_FIRST(&svc->envs), *next; env; env = next) {
        next = SLIST_NEXT(env, link);
        int status;
        if (sw__proc_try_reap(env->pid, &status)) {
            env_exited(svc, env, status);
            any = true;
        }
    }
    if (any)
        sw__fl_capacity_freed(svc);
}

void sw__fl_env_free_all(struct sw_be_faas_local *svc)
{
    fl_env_t *env;
    SLIST_FOREACH(env, &svc->envs, link)
        sw__proc_signal(env->pid, SIGKILL);
    while ((env = SLIST_FIRST(&svc->envs)) != NULL) {
        int status;
        while (waitpid(env->pid, &status, 0) < 0 && errno == EINTR)
            ;
        SLIST_REMOVE_HEAD(&svc->envs, link);
        svc->n_envs--;
        env_free(env);
    }
}
