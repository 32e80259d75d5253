/* The local provider: each worker is a `spillway worker` child process on this machine,
 * started after the configured boot delay (a libevent timer standing in for a VM boot),
 * which dials the frontend like a worker on a real VM would. A worker record moves
 * BOOTING (timer armed, no process) -> RUNNING (process alive) and is removed when its
 * process is reaped, or at once when it is terminated while still booting. One timer per
 * record serves the boot delay and then the SIGTERM-to-SIGKILL grace.
 *
 * The token travels in the child's environment (SW_TOKEN), never on its command line,
 * which any user can read through ps. Children lead their own process group, so a Ctrl-C
 * at the frontend's terminal reaches the frontend alone, which then stops them in order;
 * they get SIGTERM if the frontend dies, and drain and exit. */
#include "backends/provider_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "backends/proc_internal.h"

#define SW_LOG_MODULE "provider"
#include "common/log.h"

/* Arguments a worker may be given beyond the ones the provider sets. */
#define MAX_EXTRA_ARGS 32
/* The ones it sets: exe worker --connect C --type T --model M --id I --threads N. */
#define FIXED_ARGS 12

typedef struct local_worker {
    sw__prov_rec_t rec; /* id and list link, kept by provider.c */
    sw_be_provider_t *p;
    uint32_t id;         /* rec.id, for brevity */
    char *token;         /* until the spawn; wiped when freed */
    pid_t pid;           /* 0 while booting */
    int exec_error_fd;   /* see sw__proc_spawn; -1 while booting */
    struct event *timer; /* boot delay, then the kill grace */
    bool stop_requested;
} local_worker_t;

static local_worker_t *worker_of(sw__prov_rec_t *r)
{
    return r ? SW_CONTAINER_OF(r, local_worker_t, rec) : NULL;
}

static local_worker_t *find(const sw_be_provider_t *p, uint32_t id)
{
    return worker_of(sw__prov_find(p, id));
}

/* Unlinks and frees w; the process, if any, must be reaped already or abandoned. */
static void remove_worker(local_worker_t *w)
{
    sw__prov_unlink(w->p, &w->rec);
    event_free(w->timer);
    if (w->exec_error_fd >= 0)
        close(w->exec_error_fd);
    sw__prov_token_free(w->token);
    sw_free(w);
}

/* ---- spawning ---- */

/* LOG_DIR/worker-TYPE-ID.log, with anything but [A-Za-z0-9._-] in the type name replaced,
 * so that a type name can never leave the directory. */
static void log_path(const sw_be_provider_t *p, uint32_t id, char *out, size_t len)
{
    char type[128];
    size_t n = 0;
    for (const char *c = p->o.type_name; *c && n + 1 < sizeof(type); c++)
        type[n++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c)
                        ? *c
                        : '_';
    type[n] = '\0';
    snprintf(out, len, "%s/worker-%s-%" PRIu32 ".log", p->o.log_dir, type, id);
}

/* The worker's argv, pointing into p's options and ids (which outlive the spawn). */
static void build_argv(const sw_be_provider_t *p, char *id, char *threads, char **argv)
{
    const sw_be_provider_opts_t *o = &p->o;
    size_t k = 0;
    const char *fixed[] = {o->worker_exe, "worker",  "--connect",   o->connect, "--type",
                           o->type_name,  "--model", o->model_path, "--id",     id};
    for (size_t i = 0; i < SW_ARRAY_LEN(fixed); i++)
        argv[k++] = (char *)fixed[i];
    if (o->threads) {
        argv[k++] = "--threads";
        argv[k++] = threads;
    }
    for (size_t i = 0; o->extra_args && o->extra_args[i]; i++)
        argv[k++] = (char *)o->extra_args[i]; /* at most MAX_EXTRA_ARGS: see local_create */
    argv[k] = NULL;
}

/* Starts w's process. On failure reports launch_failed and removes w. */
static void spawn_worker(local_worker_t *w)
{
    sw_be_provider_t *p = w->p;
    int log_fd = SW__PROC_FD_INHERIT;
    char path[PATH_MAX + 64] = "";
    if (p->o.log_dir) {
        log_path(p, w->id, path, sizeof(path));
        log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (log_fd < 0) {
            sw__prov_report_launch_failed(p, w->id,
                                          "type %s worker %" PRIu32 ": cannot open log file %s: "
                                          "%s (check that log_dir is writable)",
                                          p->o.type_name, w->id, path, strerror(errno));
            remove_worker(w);
            return;
        }
    }
    char id[16], threads[16];
    snprintf(id, sizeof(id), "%" PRIu32, w->id);
    snprintf(threads, sizeof(threads), "%u", p->o.threads);
    char *argv[FIXED_ARGS + MAX_EXTRA_ARGS + 1];
    build_argv(p, id, threads, argv);
    sw__proc_env_t env;
    sw__proc_env_init(&env, NULL, 0);
    sw__proc_env_setf(&env, "SW_TOKEN=%s", w->token);
    sw__proc_spec_t spec = {.path = p->o.worker_exe,
                            .argv = argv,
                            .envp = env.v,
                            .fd_in = SW__PROC_FD_NULL,
                            .fd_out = log_fd,
                            .fd_err = log_fd,
                            .new_group = true,
                            .death_signal = SIGTERM};
    int rc = sw__proc_spawn(&spec, &w->pid, &w->exec_error_fd);
    sw__proc_env_deinit(&env, true);
    if (log_fd >= 0)
        close(log_fd);
    sw__prov_token_free(w->token);
    w->token = NULL;
    if (rc < 0) {
        w->pid = 0;
        sw__prov_report_launch_failed(p, w->id,
                                      "type %s worker %" PRIu32 ": cannot start a process: %s "
                                      "(the machine may be out of processes or memory)",
                                      p->o.type_name, w->id, sw_strerror(rc));
        remove_worker(w);
        return;
    }
    SW_LOG_INFO("worker started type=%s worker=%" PRIu32 " pid=%ld log=%s", p->o.type_name, w->id,
                (long)w->pid, path[0] ? path : "(inherited)");
}

static void on_worker_timer(evutil_socket_t fd, short what, void *arg)
{
    local_worker_t *w = arg;
    (void)fd;
    (void)what;
    if (w->pid == 0) {
        spawn_worker(w); /* the boot delay is over */
        return;
    }
    SW_LOG_WARN("worker still running after SIGTERM, killing type=%s worker=%" PRIu32
                " pid=%ld grace_ms=%" PRId64,
                w->p->o.type_name, w->id, (long)w->pid, w->p->o.stop_grace_ms);
    sw__proc_signal(w->pid, SIGKILL);
}

/* ---- ops ---- */

/* Resolves worker_exe (default: this executable) and checks it and the model. */
static int check_files(sw_be_provider_opts_t *o, char *errbuf, size_t errlen)
{
    const char *t = o->type_name;
    if (!o->worker_exe) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            sw_set_error(errbuf, errlen,
                         "provider local for type %s: cannot find this executable (%s); set "
                         "worker_exe to the spillway binary",
                         t, strerror(errno));
            return -ENOENT;
        }
        self[n] = '\0';
        o->worker_exe = sw_strdup(self);
    }
    if (access(o->worker_exe, X_OK) < 0) {
        sw_set_error(errbuf, errlen,
                     "provider local for type %s: worker_exe %s: %s (it must be the spillway "
                     "binary, executable)",
                     t, o->worker_exe, strerror(errno));
        return -EINVAL;
    }
    if (!o->model_path || !*o->model_path || access(o->model_path, R_OK) < 0) {
        sw_set_error(errbuf, errlen,
                     "provider local for type %s: model %s: %s (the model file the workers "
                     "serve must be readable)",
                     t, o->model_path ? o->model_path : "(none)",
                     o->model_path && *o->model_path ? strerror(errno) : "not set");
        return -EINVAL;
    }
    return 0;
}

/* Creates log_dir (one level) when it does not exist, and checks it is writable. */
static int check_log_dir(const sw_be_provider_opts_t *o, char *errbuf, size_t errlen)
{
    struct stat st;
    if (mkdir(o->log_dir, 0750) < 0 && errno != EEXIST) {
        sw_set_error(errbuf, errlen, "provider local for type %s: cannot create log_dir %s: %s",
                     o->type_name, o->log_dir, strerror(errno));
        return -EINVAL;
    }
    if (stat(o->log_dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(o->log_dir, W_OK | X_OK) < 0) {
        sw_set_error(errbuf, errlen,
                     "provider local for type %s: log_dir %s is not a writable directory",
                     o->type_name, o->log_dir);
        return -EINVAL;
    }
    return 0;
}

/* Checks the options, so that a mistake shows at start-up rather than as a failed launch
 * much later, and fills in the defaults. */
static int local_create(sw_be_provider_t *p, char *errbuf, size_t errlen)
{
    sw_be_provider_opts_t *o = &p->o;
    int rc = check_files(o, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (!isfinite(o->boot_delay_s) || o->boot_delay_s < 0 || o->stop_grace_ms < 0) {
        sw_set_error(errbuf, errlen,
                     "provider local for type %s: boot_delay_s and stop_grace_ms must be >= 0",
                     o->type_name);
        return -EINVAL;
    }
    if (o->stop_grace_ms == 0)
        o->stop_grace_ms = SW_BE_PROVIDER_STOP_GRACE_MS_DEFAULT;
    size_t n_extra = 0;
    while (o->extra_args && o->extra_args[n_extra])
        n_extra++;
    if (n_extra > MAX_EXTRA_ARGS) {
        sw_set_error(errbuf, errlen,
                     "provider local for type %s: %zu extra worker arguments, more than the %d "
                     "allowed",
                     o->type_name, n_extra, MAX_EXTRA_ARGS);
        return -EINVAL;
    }
    return o->log_dir ? check_log_dir(o, errbuf, errlen) : 0;
}

static int local_launch(sw_be_provider_t *p, uint32_t worker_id, const char *token)
{
    local_worker_t *w = sw_calloc(1, sizeof(*w));
    *w = (local_worker_t){.rec.id = worker_id, .p = p, .id = worker_id, .exec_error_fd = -1};
    w->timer = evtimer_new(p->base, on_worker_timer, w);
    if (!w->timer)
        abort(); /* libevent fails here only when it cannot allocate: OOM is fatal */
    w->token = sw_strdup(token);
    sw__prov_link(p, &w->rec);
    if (p->o.boot_delay_s > 0) {
        sw__prov_timer_add_ms(w->timer, (int64_t)(p->o.boot_delay_s * 1000.0 + 0.5));
        SW_LOG_DEBUG("worker booting type=%s worker=%" PRIu32 " boot_delay_s=%.3f", p->o.type_name,
                     worker_id, p->o.boot_delay_s);
    } else {
        spawn_worker(w); /* failures are reported from the loop, never from here */
    }
    return 0;
}

static void local_terminate(sw_be_provider_t *p, uint32_t worker_id)
{
    local_worker_t *w = find(p, worker_id);
    if (!w || w->stop_requested)
        return;
    if (w->pid == 0) {
        SW_LOG_INFO("launch cancelled during the boot delay type=%s worker=%" PRIu32,
                    p->o.type_name, worker_id);
        remove_worker(w);
        return;
    }
    w->stop_requested = true;
    sw__proc_signal(w->pid, SIGTERM);
    sw__prov_timer_add_ms(w->timer, p->o.stop_grace_ms);
}

static size_t local_pending(const sw_be_provider_t *p)
{
    size_t n = 0;
    const sw__prov_rec_t *r;
    SLIST_FOREACH(r, &p->recs, link)
        n++;
    return n;
}

static pid_t local_pid(const sw_be_provider_t *p, uint32_t worker_id)
{
    const local_worker_t *w = find(p, worker_id);
    return w && w->pid > 0 ? w->pid : -1;
}

/* w's process is gone: report how, and forget w. */
static void worker_ended(local_worker_t *w, int status)
{
    sw_be_provider_t *p = w->p;
    int exec_err = sw__proc_exec_error(w->exec_error_fd);
    char how[64];
    sw__proc_describe_status(status, how, sizeof(how));
    if (exec_err) {
        sw__prov_report_launch_failed(p, w->id,
                                      "type %s worker %" PRIu32 ": cannot run worker_exe %s: %s "
                                      "(set worker_exe to the spillway binary)",
                                      p->o.type_name, w->id, p->o.worker_exe, strerror(exec_err));
    } else {
        bool expected =
            w->stop_requested || (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char path[PATH_MAX + 64] = "our stderr";
        if (p->o.log_dir)
            log_path(p, w->id, path, sizeof(path));
        if (expected)
            SW_LOG_INFO("worker exited type=%s worker=%" PRIu32 " pid=%ld status=\"%s\"",
                        p->o.type_name, w->id, (long)w->pid, how);
        else
            SW_LOG_WARN("worker exited unexpectedly type=%s worker=%" PRIu32 " pid=%ld "
                        "status=\"%s\" (its output in %s says why)",
                        p->o.type_name, w->id, (long)w->pid, how, path);
        sw__prov_report_exited(p, w->id, status, w->stop_requested);
    }
    remove_worker(w);
}

static void local_reap(sw_be_provider_t *p)
{
    /* The next is taken first: a worker that ended may be freed. */
    for (sw__prov_rec_t *r = SLIST_FIRST(&p->recs), *next; r; r = next) {
        next = SLIST_NEXT(r, link);
        local_worker_t *w = worker_of(r);
        int status;
        if (w->pid > 0 && sw__proc_try_reap(w->pid, &status))
            worker_ended(w, status);
    }
}

/* How many worker processes are not reaped yet. */
static size_t processes_left(const sw_be_provider_t *p)
{
    size_t n = 0;
    sw__prov_rec_t *r;
    SLIST_FOREACH(r, &p->recs, link)
        n += worker_of(r)->pid > 0;
    return n;
}

/* Signals every process of p (that is not stopping already, for SIGTERM). */
static void signal_all(sw_be_provider_t *p, int sig)
{
    sw__prov_rec_t *r;
    SLIST_FOREACH(r, &p->recs, link) {
        local_worker_t *w = worker_of(r);
        if (w->pid > 0 && (sig != SIGTERM || !w->stop_requested))
            sw__proc_signal(w->pid, sig);
    }
}

static void local_destroy(sw_be_provider_t *p)
{
    signal_all(p, SIGTERM);
    if (sw__prov_wait(p, p->o.stop_grace_ms, processes_left) > 0) {
        signal_all(p, SIGKILL);
        sw__prov_wait(p, SW__PROV_KILL_WAIT_MS, processes_left);
    }
    while (!SLIST_EMPTY(&p->recs)) {
        local_worker_t *w = worker_of(SLIST_FIRST(&p->recs));
        if (w->pid > 0)
            SW_LOG_ERROR("worker not reaped after SIGKILL type=%s worker=%" PRIu32 " pid=%ld "
                         "(it is stuck in the kernel; it will stay a zombie until we exit)",
                         p->o.type_name, w->id, (long)w->pid);
        remove_worker(w);
    }
}

const sw__prov_ops_t sw__prov_local_ops = {
    .create = local_create,
    .launch = local_launch,
    .terminate = local_terminate,
    .pending = local_pending,
    .pid = local_pid,
    .reap = local_reap,
    .destroy = local_destroy,
};
