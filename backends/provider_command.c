/* The command provider: the operator's launch and terminate shell commands do the work (a
 * cloud CLI, kubectl, a script), and the worker they start dials in on its own. Each
 * command runs as `/bin/sh -c COMMAND` in a process group of its own, with SW_WORKER_ID,
 * SW_WORKER_TYPE, SW_CONNECT and SW_TOKEN (plus SW_HANDLE for terminate) in its
 * environment, stdin from /dev/null and both output streams read by the loop through
 * non-blocking pipes, so a chatty command never blocks and the loop never waits on one.
 * A command that outlives the timeout has its whole group killed.
 *
 * A worker record holds at most one running command: LAUNCH, then (once the launch printed
 * its handle) nothing until terminate, then TERMINATE, after which the record is removed.
 * A terminate asked for while the launch still runs waits for the handle: killing the
 * launch instead could leave a VM that nobody knows how to remove. Unlike local workers,
 * commands get no parent-death signal, so a terminate command under way still removes its
 * VM if the frontend dies. */
#include "backends/provider_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "backends/proc_internal.h"
#include "common/strbuf.h"

#define SW_LOG_MODULE "provider"
#include "common/log.h"

/* Output kept per stream; the rest is read and counted, so the command never blocks. */
#define KEEP_BYTES 4096
/* Reads per readable callback, so a command that writes without pause cannot hold the
 * loop. */
#define READS_PER_CALLBACK 16

typedef enum { RUN_LAUNCH, RUN_TERMINATE } run_kind_t;

static const char *const run_names[] = {[RUN_LAUNCH] = "launch", [RUN_TERMINATE] = "terminate"};

/* One output stream of a running command. */
typedef struct cmd_pipe {
    int fd; /* -1 once closed */
    struct event *ev;
    sw_strbuf_t kept; /* the first KEEP_BYTES */
    size_t total;     /* bytes read, kept or not */
} cmd_pipe_t;

typedef struct cmd_run {
    run_kind_t kind;
    pid_t pid;
    cmd_pipe_t out, err;
    struct event *timeout_ev;
    bool timed_out, killed_at_shutdown;
    sw_time_t started_at;
} cmd_run_t;

typedef struct cmd_worker {
    sw__prov_rec_t rec; /* id and list link, kept by provider.c */
    sw_be_provider_t *p;
    uint32_t id;  /* rec.id, for brevity */
    char *token;  /* wiped when freed */
    char *handle; /* what the launch printed; NULL until then */
    cmd_run_t *run;
    bool terminate_wanted;
} cmd_worker_t;

static cmd_worker_t *worker_of(sw__prov_rec_t *r)
{
    return r ? SW_CONTAINER_OF(r, cmd_worker_t, rec) : NULL;
}

/* ---- output pipes ---- */

static void pipe_close(cmd_pipe_t *cp)
{
    if (cp->ev)
        event_free(cp->ev);
    cp->ev = NULL;
    if (cp->fd >= 0)
        close(cp->fd);
    cp->fd = -1;
}

/* Reads what the pipe holds (at most READS_PER_CALLBACK chunks); closes it at EOF. */
static void pipe_read(cmd_pipe_t *cp)
{
    char chunk[4096];
    for (int i = 0; i < READS_PER_CALLBACK && cp->fd >= 0; i++) {
        ssize_t n = read(cp->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            pipe_close(cp);
            return;
        }
        size_t room = KEEP_BYTES - SW_MIN(cp->kept.len, (size_t)KEEP_BYTES);
        sw_strbuf_putn(&cp->kept, chunk, SW_MIN(room, (size_t)n));
        cp->total += (size_t)n;
    }
}

static void on_pipe_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pipe_read(arg);
}

/* After the command was reaped: takes what is left in the pipe (all of it was written
 * before the exit, and a pipe holds at most 1 MiB) without waiting for an EOF that a
 * leftover background process of the command could hold off forever, and closes it. */
static void pipe_finish(cmd_pipe_t *cp)
{
    for (int i = 0; i < 16 && cp->fd >= 0; i++) {
        size_t before = cp->total;
        pipe_read(cp);
        if (cp->total == before)
            break;
    }
    pipe_close(cp);
}

static void run_free(cmd_run_t *run)
{
    if (!run)
        return;
    pipe_close(&run->out);
    pipe_close(&run->err);
    sw_strbuf_free(&run->out.kept, false);
    sw_strbuf_free(&run->err.kept, false);
    if (run->timeout_ev)
        event_free(run->timeout_ev);
    sw_free(run);
}

static void remove_worker(cmd_worker_t *w)
{
    sw__prov_unlink(w->p, &w->rec);
    run_free(w->run);
    sw__prov_token_free(w->token);
    sw_free(w->handle);
    sw_free(w);
}

/* ---- running a command ---- */

static void on_run_timeout(evutil_socket_t fd, short what, void *arg)
{
    cmd_worker_t *w = arg;
    (void)fd;
    (void)what;
    SW_LOG_WARN("%s command timed out, killing it type=%s worker=%" PRIu32 " timeout_ms=%" PRId64,
                run_names[w->run->kind], w->p->o.type_name, w->id, w->p->o.command_timeout_ms);
    w->run->timed_out = true;
    sw__proc_signal(w->run->pid, SIGKILL); /* the exit comes through SIGCHLD as usual */
}

static void build_env(const cmd_worker_t *w, run_kind_t kind, sw__proc_env_t *env)
{
    /* An SW_HANDLE the frontend itself inherited must not reach a launch command. */
    static const char *const drop[] = {"SW_HANDLE="};
    const sw_be_provider_opts_t *o = &w->p->o;
    sw__proc_env_init(env, drop, SW_ARRAY_LEN(drop));
    sw__proc_env_setf(env, "SW_WORKER_ID=%" PRIu32, w->id);
    sw__proc_env_setf(env, "SW_WORKER_TYPE=%s", o->type_name);
    sw__proc_env_setf(env, "SW_CONNECT=%s", o->connect);
    sw__proc_env_setf(env, "SW_TOKEN=%s", w->token);
    if (kind == RUN_TERMINATE)
        sw__proc_env_setf(env, "SW_HANDLE=%s", w->handle);
}

/* Starts w's launch or terminate command; returns 0 or -errno (nothing is left running). */
static int start_run(cmd_worker_t *w, run_kind_t kind)
{
    sw_be_provider_t *p = w->p;
    int out[2], err[2];
    int rc = sw__proc_pipe(out);
    if (rc < 0)
        return rc;
    if ((rc = sw__proc_pipe(err)) < 0) {
        close(out[0]);
        close(out[1]);
        return rc;
    }
    char *argv[] = {"/bin/sh", "-c",
                    (char *)(kind == RUN_LAUNCH ? p->o.launch_cmd : p->o.terminate_cmd), NULL};
    sw__proc_env_t env;
    build_env(w, kind, &env);
    sw__proc_spec_t spec = {.path = "/bin/sh",
                            .argv = argv,
                            .envp = env.v,
                            .fd_in = SW__PROC_FD_NULL,
                            .fd_out = out[1],
                            .fd_err = err[1],
                            .new_group = true};
    cmd_run_t *run = sw_calloc(1, sizeof(*run));
    *run = (cmd_run_t){.kind = kind, .out.fd = out[0], .err.fd = err[0]};
    rc = sw__proc_spawn(&spec, &run->pid, NULL);
    sw__proc_env_deinit(&env, true);
    close(out[1]);
    close(err[1]);
    if (rc < 0) {
        run_free(run);
        return rc;
    }
    run->started_at = sw_clock_now();
    run->out.ev = event_new(p->base, out[0], EV_READ | EV_PERSIST, on_pipe_readable, &run->out);
    run->err.ev = event_new(p->base, err[0], EV_READ | EV_PERSIST, on_pipe_readable, &run->err);
    run->timeout_ev = evtimer_new(p->base, on_run_timeout, w);
    if (!run->out.ev || !run->err.ev || !run->timeout_ev)
        abort(); /* libevent fails here only when it cannot allocate: OOM is fatal */
    event_add(run->out.ev, NULL);
    event_add(run->err.ev, NULL);
    sw__prov_timer_add_ms(run->timeout_ev, p->o.command_timeout_ms);
    w->run = run;
    SW_LOG_DEBUG("%s command started type=%s worker=%" PRIu32 " pid=%ld", run_names[kind],
                 p->o.type_name, w->id, (long)run->pid);
    return 0;
}

/* ---- outcomes ---- */

/* The first non-empty line of what the command wrote on stderr, trimmed and bounded. */
static void first_stderr_line(const cmd_run_t *run, char *out, size_t len)
{
    const char *s = run->err.kept.p ? run->err.kept.p : "";
    s += strspn(s, " \t\r\n");
    size_t n = strcspn(s, "\r\n");
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        snprintf(out, len, "(nothing on stderr)");
    else
        snprintf(out, len, "%.*s", (int)SW_MIN(n, (size_t)200), s);
}

/* Whether the command succeeded; if not, how it failed ("exit status 3", "timed out ...").
 */
static bool run_succeeded(const sw_be_provider_t *p, const cmd_run_t *run, int status, char *how,
                          size_t len)
{
    if (run->timed_out || run->killed_at_shutdown) {
        if (run->timed_out)
            snprintf(how, len, "timed out after %" PRId64 " ms and was killed",
                     p->o.command_timeout_ms);
        else
            snprintf(how, len, "was killed at shutdown");
        return false;
    }
    char st[64];
    sw__proc_describe_status(status, st, sizeof(st));
    snprintf(how, len, "failed (%s)", st);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The handle in the launch command's stdout (trimmed), or NULL with the reason in why. */
static char *take_handle(const cmd_run_t *run, char *why, size_t len)
{
    if (run->out.total > KEEP_BYTES) {
        snprintf(why, len,
                 "printed %zu bytes on stdout, far more than a handle (print only the instance "
                 "id or name there, and anything else on stderr)",
                 run->out.total);
        return NULL;
    }
    const char *s = run->out.kept.p ? run->out.kept.p : "";
    size_t all = run->out.kept.len;
    if (memchr(s, '\0', all)) {
        snprintf(why, len, "printed a NUL byte on stdout (print only the handle there)");
        return NULL;
    }
    s += strspn(s, " \t\r\n");
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        n--;
    if (n == 0) {
        snprintf(why, len,
                 "exited 0 but printed no handle on stdout (print the instance id or name "
                 "that the terminate command needs)");
        return NULL;
    }
    if (n > SW_BE_PROVIDER_HANDLE_MAX_BYTES) {
        snprintf(why, len, "printed a handle of %zu bytes, more than the %d allowed", n,
                 SW_BE_PROVIDER_HANDLE_MAX_BYTES);
        return NULL;
    }
    char *h = sw_malloc(n + 1);
    memcpy(h, s, n);
    h[n] = '\0';
    return h;
}

static void begin_terminate(cmd_worker_t *w);

static void launch_finished(cmd_worker_t *w, int status)
{
    sw_be_provider_t *p = w->p;
    char how[160], errline[256], why[400];
    char *handle = NULL;
    if (run_succeeded(p, w->run, status, how, sizeof(how)))
        handle = take_handle(w->run, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "%s", how);
    if (!handle) {
        first_stderr_line(w->run, errline, sizeof(errline));
        sw__prov_report_launch_failed(p, w->id,
                                      "type %s worker %" PRIu32 ": launch command %s; stderr: %s "
                                      "(run it by hand with SW_WORKER_ID, SW_WORKER_TYPE, "
                                      "SW_CONNECT and SW_TOKEN set to see why)",
                                      p->o.type_name, w->id, why, errline);
        remove_worker(w);
        return;
    }
    SW_LOG_INFO("worker launched type=%s worker=%" PRIu32 " handle=%s command_ms=%.0f",
                p->o.type_name, w->id, handle, sw_time_to_ms(sw_clock_now() - w->run->started_at));
    w->handle = handle;
    run_free(w->run);
    w->run = NULL;
    if (w->terminate_wanted)
        begin_terminate(w);
}

static void terminate_finished(cmd_worker_t *w, int status)
{
    sw_be_provider_t *p = w->p;
    char how[160], errline[256];
    if (run_succeeded(p, w->run, status, how, sizeof(how))) {
        SW_LOG_INFO("worker terminated type=%s worker=%" PRIu32 " handle=%s", p->o.type_name, w->id,
                    w->handle);
    } else {
        first_stderr_line(w->run, errline, sizeof(errline));
        sw__prov_report_terminate_failed(p, w->id,
                                         "type %s worker %" PRIu32 ": terminate command for "
                                         "handle %s %s; stderr: %s (the VM may still be "
                                         "running: remove it by hand)",
                                         p->o.type_name, w->id, w->handle, how, errline);
    }
    remove_worker(w);
}

/* Runs the terminate command for w, which has its handle and no command running; w is
 * forgotten when it ends (or at once when there is no terminate command). */
static void begin_terminate(cmd_worker_t *w)
{
    sw_be_provider_t *p = w->p;
    if (!p->o.terminate_cmd || !*p->o.terminate_cmd) {
        SW_LOG_INFO("no terminate command, forgetting worker type=%s worker=%" PRIu32 " handle=%s",
                    p->o.type_name, w->id, w->handle);
        remove_worker(w);
        return;
    }
    int rc = start_run(w, RUN_TERMINATE);
    if (rc < 0) {
        sw__prov_report_terminate_failed(p, w->id,
                                         "type %s worker %" PRIu32 ": cannot start the terminate "
                                         "command for handle %s: %s (the VM is still running: "
                                         "remove it by hand)",
                                         p->o.type_name, w->id, w->handle, sw_strerror(rc));
        remove_worker(w);
    }
}

/* ---- ops ---- */

static int command_create(sw_be_provider_t *p, char *errbuf, size_t errlen)
{
    sw_be_provider_opts_t *o = &p->o;
    if (!o->launch_cmd || !*o->launch_cmd) {
        sw_set_error(errbuf, errlen,
                     "provider command for type %s: the launch command is empty (it must start a "
                     "worker and print its handle)",
                     o->type_name);
        return -EINVAL;
    }
    if (o->command_timeout_ms < 0 || o->stop_grace_ms < 0) {
        sw_set_error(errbuf, errlen,
                     "provider command for type %s: command_timeout_ms and stop_grace_ms must "
                     "be >= 0",
                     o->type_name);
        return -EINVAL;
    }
    if (o->command_timeout_ms == 0)
        o->command_timeout_ms = SW_BE_PROVIDER_COMMAND_TIMEOUT_MS_DEFAULT;
    if (o->stop_grace_ms == 0)
        o->stop_grace_ms = SW_BE_PROVIDER_STOP_GRACE_MS_DEFAULT;
    return 0;
}

static int command_launch(sw_be_provider_t *p, uint32_t worker_id, const char *token)
{
    cmd_worker_t *w = sw_calloc(1, sizeof(*w));
    *w = (cmd_worker_t){.rec.id = worker_id, .p = p, .id = worker_id, .token = sw_strdup(token)};
    sw__prov_link(p, &w->rec);
    int rc = start_run(w, RUN_LAUNCH);
    if (rc < 0) {
        sw__prov_report_launch_failed(p, worker_id,
                                      "type %s worker %" PRIu32 ": cannot start the launch "
                                      "command: %s (the machine may be out of processes or "
                                      "descriptors)",
                                      p->o.type_name, worker_id, sw_strerror(rc));
        remove_worker(w);
    }
    return 0;
}

static void command_terminate(sw_be_provider_t *p, uint32_t worker_id)
{
    cmd_worker_t *w = worker_of(sw__prov_find(p, worker_id));
    if (!w || w->terminate_wanted)
        return;
    w->terminate_wanted = true;
    if (!w->run)
        begin_terminate(w); /* else launch_finished starts it once there is a handle */
}

static size_t command_pending(const sw_be_provider_t *p)
{
    size_t n = 0;
    sw__prov_rec_t *r;
    SLIST_FOREACH(r, &p->recs, link)
        n += worker_of(r)->run != NULL;
    return n;
}

static pid_t command_pid(const sw_be_provider_t *p, uint32_t worker_id)
{
    (void)p;
    (void)worker_id;
    return -1;
}

static void command_reap(sw_be_provider_t *p)
{
    /* The next is taken first: finishing a run may free r. */
    for (sw__prov_rec_t *r = SLIST_FIRST(&p->recs), *next; r; r = next) {
        next = SLIST_NEXT(r, link);
        cmd_worker_t *w = worker_of(r);
        int status;
        if (w->run && sw__proc_try_reap(w->run->pid, &status)) {
            pipe_finish(&w->run->out);
            pipe_finish(&w->run->err);
            if (w->run->kind == RUN_LAUNCH)
                launch_finished(w, status); /* may start a terminate run on w */
            else
                terminate_finished(w, status);
        }
    }
}

static void command_destroy(sw_be_provider_t *p)
{
    if (sw__prov_wait(p, p->o.stop_grace_ms, command_pending) > 0) {
        sw__prov_rec_t *r;
        SLIST_FOREACH(r, &p->recs, link) {
            cmd_worker_t *w = worker_of(r);
            if (!w->run)
                continue;
            SW_LOG_WARN("%s command still running at shutdown, killing it type=%s "
                        "worker=%" PRIu32,
                        run_names[w->run->kind], p->o.type_name, w->id);
            w->run->killed_at_shutdown = true;
            sw__proc_signal(w->run->pid, SIGKILL);
        }
        sw__prov_wait(p, SW__PROV_KILL_WAIT_MS, command_pending);
    }
    while (!SLIST_EMPTY(&p->recs)) {
        cmd_worker_t *w = worker_of(SLIST_FIRST(&p->recs));
        if (w->run)
            SW_LOG_ERROR("%s command not reaped after SIGKILL type=%s worker=%" PRIu32 " pid=%ld",
                         run_names[w->run->kind], p->o.type_name, w->id, (long)w->run->pid);
        if (w->handle)
            SW_LOG_WARN("worker left running at shutdown type=%s worker=%" PRIu32 " handle=%s "
                        "(run the terminate command by hand with SW_HANDLE set to it)",
                        p->o.type_name, w->id, w->handle);
        remove_worker(w);
    }
}

const sw__prov_ops_t sw__prov_command_ops = {
    .create = command_create,
    .launch = command_launch,
    .terminate = command_terminate,
    .pending = command_pending,
    .pid = command_pid,
    .reap = command_reap,
    .destroy = command_destroy,
};
