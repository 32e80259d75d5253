/* Tests of backends/provider*.c with real processes. The local provider runs a fake worker
 * (tests/backends/data/fake_worker.sh, copied to a temporary directory) that records its
 * argv and environment, then sleeps, ignores SIGTERM or exits as $FAKE_MODE says; one test
 * runs the real `spillway worker`, which dials a small listener on 127.0.0.1 that checks
 * its Hello. The command provider runs short /bin/sh commands that write what they were
 * given into the same directory. Every test drives the provider's event_base itself and
 * frees what it made; destroy is checked to leave no child behind. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "backends/frame.h"
#include "backends/provider.h"
#include "common/common.h"

extern char **environ;

#define FAKE_SRC SW_SOURCE_DIR "/tests/backends/data/fake_worker.sh"
#define MAX_EVENTS 16

typedef struct seen {
    char kind; /* 'L' launch_failed, 'X' exited, 'T' terminate_failed */
    uint32_t id;
    int status;
    bool stop_requested;
    char why[1024];
} seen_t;

static struct event_base *base;
static struct event *tick;
static char dir[64], fake[128], model[128];
static seen_t seen[MAX_EVENTS];
static size_t n_seen;

/* ---- fixture ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    FILE *in = fopen(from, "rb");
    cr_assert_not_null(in, "open %s: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    cr_assert_not_null(out, "create %s: %s", to, strerror(errno));
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
    cr_assert_eq(chmod(to, mode), 0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sw_provider.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(fake, sizeof(fake), "%s/fake_worker.sh", dir);
    snprintf(model, sizeof(model), "%s/model.pb", dir);
    copy_file(FAKE_SRC, fake, 0755);
    copy_file(FAKE_SRC, model, 0644); /* the fake worker never reads its model */
    setenv("FAKE_OUT", dir, 1);
    unsetenv("FAKE_MODE");
    unsetenv("SW_TOKEN");
    base = event_base_new();
    cr_assert_not_null(base);
    /* A periodic tick so that each EVLOOP_ONCE step returns soon even when idle. */
    tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 10000};
    event_add(tick, &tv);
    n_seen = 0;
}

/* Removes path and everything below it. */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        if (unlink(p) < 0)
            remove_tree(p); /* a directory (logs/) */
    }
    closedir(d);
    rmdir(path);
}

static void teardown(void)
{
    event_free(tick);
    event_base_free(base);
    remove_tree(dir);
}

TestSuite(be_provider, .init = setup, .fini = teardown, .timeout = 10);

/* ---- helpers ---- */

static void on_launch_failed(void *self, uint32_t id, const char *why)
{
    (void)self;
    cr_assert_lt(n_seen, MAX_EVENTS);
    seen_t *s = &seen[n_seen++];
    *s = (seen_t){.kind = 'L', .id = id};
    snprintf(s->why, sizeof(s->why), "%s", why);
}

static void on_exited(void *self, uint32_t id, int status, bool stop_requested)
{
    (void)self;
    cr_assert_lt(n_seen, MAX_EVENTS);
    seen[n_seen++] =
        (seen_t){.kind = 'X', .id = id, .status = status, .stop_requested = stop_requested};
}

static void on_terminate_failed(void *self, uint32_t id, const char *why)
{
    (void)self;
    cr_assert_lt(n_seen, MAX_EVENTS);
    seen_t *s = &seen[n_seen++];
    *s = (seen_t){.kind = 'T', .id = id};
    snprintf(s->why, sizeof(s->why), "%s", why);
}

static const sw_be_provider_events_t events = {
    .launch_failed = on_launch_failed,
    .exited = on_exited,
    .terminate_failed = on_terminate_failed,
};

static sw_be_provider_opts_t local_opts(void)
{
    return (sw_be_provider_opts_t){.kind = SW_BE_PROVIDER_LOCAL,
                                   .type_name = "t.fake",
                                   .connect = "127.0.0.1:9",
                                   .worker_exe = fake,
                                   .model_path = model,
                                   .stop_grace_ms = 2000};
}

static sw_be_provider_t *create(const sw_be_provider_opts_t *o)
{
    sw_be_provider_t *p = NULL;
    char err[512] = "";
    cr_assert_eq(sw_be_provider_create(base, o, &events, &p, err, sizeof(err)), 0, "%s", err);
    return p;
}

/* Runs the loop for up to ms, or until n_seen reaches want (want 0: the whole time). */
static void run_for(int64_t ms, size_t want)
{
    sw_time_t end = sw_clock_now() + ms * SW_US_PER_MS;
    while (sw_clock_now() < end && !(want && n_seen >= want))
        event_base_loop(base, EVLOOP_ONCE);
}

/* Runs the loop until path exists; fails the test after ms. */
static void wait_file(const char *path, int64_t ms)
{
    sw_time_t end = sw_clock_now() + ms * SW_US_PER_MS;
    while (access(path, F_OK) < 0) {
        cr_assert_lt(sw_clock_now(), end, "%s did not appear in %" PRId64 " ms", path, ms);
        event_base_loop(base, EVLOOP_ONCE);
    }
}

static void wait_pending(const sw_be_provider_t *p, size_t want, int64_t ms)
{
    sw_time_t end = sw_clock_now() + ms * SW_US_PER_MS;
    while (sw_be_provider_pending(p) != want) {
        cr_assert_lt(sw_clock_now(), end, "pending stayed %zu, want %zu", sw_be_provider_pending(p),
                     want);
        event_base_loop(base, EVLOOP_ONCE);
    }
}

/* The whole of a small file, NUL-terminated, in buf. */
static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void worker_file(uint32_t id, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%s/worker-%" PRIu32 ".%s", dir, id, ext);
}

/* True once no process of pid's is left: reaped (ECHILD) and gone (ESRCH). */
static bool is_gone(pid_t pid)
{
    return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD && kill(pid, 0) < 0 && errno == ESRCH;
}

/* ---- local ---- */

Test(be_provider, kind_names_round_trip)
{
    sw_be_provider_kind_t k;
    const char *names[] = {"local", "command", "static"};
    for (size_t i = 0; i < SW_ARRAY_LEN(names); i++) {
        cr_assert_eq(sw_be_provider_kind_parse(names[i], &k), 0);
        cr_assert_str_eq(sw_be_provider_kind_name(k), names[i]);
    }
    cr_assert_eq(sw_be_provider_kind_parse("ec2", &k), -EINVAL);
    cr_assert_eq(sw_be_provider_kind_parse(NULL, &k), -EINVAL);
}

Test(be_provider, local_starts_worker_with_its_arguments_and_token_in_env)
{
    sw_be_provider_opts_t o = local_opts();
    const char *extra[] = {"--seed", "5", NULL};
    char logs[128];
    snprintf(logs, sizeof(logs), "%s/logs", dir);
    o.threads = 2;
    o.extra_args = extra;
    o.log_dir = logs;
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 7, "tok-7-secret"), 0);
    cr_assert_gt(sw_be_provider_pid(p, 7), 0, "no boot delay: spawned at once");
    char path[256], got[4096];
    worker_file(7, "args", path, sizeof(path));
    wait_file(path, 5000);
    slurp(path, got, sizeof(got));
    char want[1024];
    snprintf(want, sizeof(want),
             "%s\nworker\n--connect\n127.0.0.1:9\n--type\nt.fake\n--model\n%s\n--id\n7\n"
             "--threads\n2\n--seed\n5\n",
             fake, model);
    cr_assert_str_eq(got, want);
    cr_assert_null(strstr(got, "tok-7"), "the token must not be on the command line");
    worker_file(7, "env", path, sizeof(path));
    slurp(path, got, sizeof(got));
    cr_assert_not_null(strstr(got, "\nSW_TOKEN=tok-7-secret\n"), "env: %s", got);
    /* The worker's output went to its own log file. */
    snprintf(path, sizeof(path), "%s/worker-t.fake-7.log", logs);
    slurp(path, got, sizeof(got));
    cr_assert_str_eq(got, "fake worker 7 started\n");

    cr_assert_eq(sw_be_provider_terminate(p, 7), 0);
    cr_assert_eq(sw_be_provider_terminate(p, 7), 0, "terminate is idempotent");
    run_for(5000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'X');
    cr_assert_eq(seen[0].id, 7);
    cr_assert(seen[0].stop_requested);
    cr_assert(WIFSIGNALED(seen[0].status) && WTERMSIG(seen[0].status) == SIGTERM);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    sw_be_provider_destroy(p);
}

Test(be_provider, local_boot_delay_is_honoured)
{
    sw_be_provider_opts_t o = local_opts();
    o.boot_delay_s = 0.3;
    sw_be_provider_t *p = create(&o);
    sw_time_t t0 = sw_clock_now();
    cr_assert_eq(sw_be_provider_launch(p, 1, "t"), 0);
    cr_assert_eq(sw_be_provider_pid(p, 1), -1, "booting: no process yet");
    cr_assert_eq(sw_be_provider_pending(p), 1);
    char path[256];
    worker_file(1, "args", path, sizeof(path));
    wait_file(path, 5000);
    /* libevent's timers run on the coarse monotonic clock: allow them a few ms early. */
    cr_assert_geq(sw_clock_now() - t0, 280 * SW_US_PER_MS, "spawned before the boot delay");
    cr_assert_gt(sw_be_provider_pid(p, 1), 0);
    sw_be_provider_destroy(p);
    cr_assert_eq(n_seen, 0, "destroy calls no callback");
}

Test(be_provider, local_terminate_during_boot_delay_never_spawns)
{
    sw_be_provider_opts_t o = local_opts();
    o.boot_delay_s = 0.2;
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 2, "t"), 0);
    cr_assert_eq(sw_be_provider_terminate(p, 2), 0);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    run_for(500, 0);
    char path[256];
    worker_file(2, "env", path, sizeof(path));
    cr_assert_neq(access(path, F_OK), 0, "the worker was spawned after terminate");
    cr_assert_eq(n_seen, 0);
    /* The id is free again. */
    cr_assert_eq(sw_be_provider_launch(p, 2, "t"), 0);
    sw_be_provider_destroy(p);
}

Test(be_provider, local_sigkill_after_grace_for_a_child_that_ignores_sigterm)
{
    setenv("FAKE_MODE", "ignore-term", 1);
    sw_be_provider_opts_t o = local_opts();
    o.stop_grace_ms = 300;
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 3, "t"), 0);
    char path[256];
    worker_file(3, "args", path, sizeof(path));
    wait_file(path, 5000);
    pid_t pid = sw_be_provider_pid(p, 3);
    sw_time_t t0 = sw_clock_now();
    cr_assert_eq(sw_be_provider_terminate(p, 3), 0);
    run_for(150, 0);
    cr_assert_eq(n_seen, 0, "the child ignores SIGTERM, so it is still alive");
    cr_assert_eq(kill(pid, 0), 0);
    run_for(5000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'X');
    cr_assert(seen[0].stop_requested);
    cr_assert(WIFSIGNALED(seen[0].status) && WTERMSIG(seen[0].status) == SIGKILL, "status %d",
              seen[0].status);
    /* libevent's timers run on the coarse monotonic clock: allow them a few ms early. */
    cr_assert_geq(sw_clock_now() - t0, 280 * SW_US_PER_MS);
    cr_assert(is_gone(pid));
    sw_be_provider_destroy(p);
}

Test(be_provider, local_exit_is_reported_once_with_its_status)
{
    setenv("FAKE_MODE", "exit:3", 1);
    sw_be_provider_opts_t o = local_opts();
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 4, "t"), 0);
    run_for(5000, 1);
    run_for(300, 0); /* a second report would arrive in this time */
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'X');
    cr_assert_eq(seen[0].id, 4);
    cr_assert_not(seen[0].stop_requested);
    cr_assert(WIFEXITED(seen[0].status) && WEXITSTATUS(seen[0].status) == 3);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    cr_assert_eq(sw_be_provider_pid(p, 4), -1);
    cr_assert_eq(sw_be_provider_terminate(p, 4), 0, "a gone worker: no-op");
    run_for(100, 0);
    cr_assert_eq(n_seen, 1);
    sw_be_provider_destroy(p);
}

Test(be_provider, local_missing_executable_is_a_launch_failure)
{
    char gone[160];
    snprintf(gone, sizeof(gone), "%s/gone_worker.sh", dir);
    copy_file(FAKE_SRC, gone, 0755);
    sw_be_provider_opts_t o = local_opts();
    o.worker_exe = gone;
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(unlink(gone), 0); /* removed after start-up, e.g. by an upgrade */
    cr_assert_eq(sw_be_provider_launch(p, 5, "t"), 0);
    cr_assert_eq(n_seen, 0, "never reported from inside launch");
    run_for(5000, 1);
    run_for(100, 0);
    cr_assert_eq(n_seen, 1, "reported once, not also as an exit");
    cr_assert_eq(seen[0].kind, 'L');
    cr_assert_eq(seen[0].id, 5);
    cr_assert_not_null(strstr(seen[0].why, "gone_worker.sh"), "%s", seen[0].why);
    cr_assert_not_null(strstr(seen[0].why, "No such file"), "%s", seen[0].why);
    cr_assert_not_null(strstr(seen[0].why, "t.fake"), "%s", seen[0].why);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    sw_be_provider_destroy(p);
}

Test(be_provider, create_refuses_bad_options_with_a_message)
{
    char err[512];
    sw_be_provider_t *p = (sw_be_provider_t *)&err;
    sw_be_provider_opts_t o = local_opts();
    o.worker_exe = "/nonexistent/spillway";
    cr_assert_eq(sw_be_provider_create(base, &o, &events, &p, err, sizeof(err)), -EINVAL);
    cr_assert_null(p);
    cr_assert_not_null(strstr(err, "t.fake"), "%s", err);
    cr_assert_not_null(strstr(err, "/nonexistent/spillway"), "%s", err);
    o = local_opts();
    o.model_path = NULL;
    cr_assert_eq(sw_be_provider_create(base, &o, &events, &p, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "model"), "%s", err);
    const char *bad_connect[] = {"nowhere", "host:0", "host:+80", ":80", NULL};
    for (size_t i = 0; i < SW_ARRAY_LEN(bad_connect); i++) {
        o = local_opts();
        o.connect = bad_connect[i];
        cr_assert_eq(sw_be_provider_create(base, &o, &events, &p, err, sizeof(err)), -EINVAL,
                     "connect %s", bad_connect[i] ? bad_connect[i] : "NULL");
        cr_assert_not_null(strstr(err, "HOST:PORT"), "%s", err);
    }
    o = (sw_be_provider_opts_t){
        .kind = SW_BE_PROVIDER_COMMAND, .type_name = "t.cmd", .connect = "10.0.0.1:7000"};
    cr_assert_eq(sw_be_provider_create(base, &o, &events, &p, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "launch command"), "%s", err);
}

Test(be_provider, launch_refuses_bad_tokens_and_known_ids)
{
    sw_be_provider_opts_t o = local_opts();
    o.boot_delay_s = 5;
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 1, ""), -EINVAL);
    cr_assert_eq(sw_be_provider_launch(p, 1, NULL), -EINVAL);
    cr_assert_eq(sw_be_provider_launch(p, 1, "has space"), -EINVAL);
    cr_assert_eq(sw_be_provider_launch(p, 1, "ok"), 0);
    cr_assert_eq(sw_be_provider_launch(p, 1, "ok"), -EEXIST);
    sw_be_provider_destroy(p);
}

/* Launches another worker from inside each exit report, three in all. */
static sw_be_provider_t *chain_p;
static void on_exited_relaunch(void *self, uint32_t id, int status, bool stop_requested)
{
    on_exited(self, id, status, stop_requested);
    if (id < 3)
        cr_assert_eq(sw_be_provider_launch(chain_p, id + 1, "t"), 0);
}

Test(be_provider, callbacks_may_call_back_into_the_provider)
{
    setenv("FAKE_MODE", "exit:0", 1);
    sw_be_provider_opts_t o = local_opts();
    sw_be_provider_events_t ev = events;
    ev.exited = on_exited_relaunch;
    char err[512] = "";
    cr_assert_eq(sw_be_provider_create(base, &o, &ev, &chain_p, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_be_provider_launch(chain_p, 1, "t"), 0);
    run_for(8000, 3);
    cr_assert_eq(n_seen, 3);
    for (uint32_t i = 0; i < 3; i++)
        cr_assert_eq(seen[i].id, i + 1);
    sw_be_provider_destroy(chain_p);
}

Test(be_provider, destroy_with_children_alive_reaps_them_all)
{
    sw_be_provider_opts_t o = local_opts();
    o.stop_grace_ms = 200;
    sw_be_provider_t *p = create(&o);
    pid_t pids[3];
    for (uint32_t i = 0; i < 3; i++) {
        /* The middle one ignores SIGTERM, so destroy needs its SIGKILL. */
        setenv("FAKE_MODE", i == 1 ? "ignore-term" : "sleep", 1);
        cr_assert_eq(sw_be_provider_launch(p, 10 + i, "t"), 0);
        char path[256];
        worker_file(10 + i, "args", path, sizeof(path));
        wait_file(path, 5000);
        pids[i] = sw_be_provider_pid(p, 10 + i);
    }
    cr_assert_eq(sw_be_provider_pending(p), 3);
    sw_time_t t0 = sw_clock_now();
    sw_be_provider_destroy(p);
    cr_assert_lt(sw_clock_now() - t0, 2 * SW_US_PER_S, "destroy's wait is bounded");
    for (int i = 0; i < 3; i++)
        cr_assert(is_gone(pids[i]), "worker %d (pid %ld) left behind", i, (long)pids[i]);
    cr_assert_eq(n_seen, 0);
}

/* ---- the real worker ---- */

typedef struct hello_srv {
    struct evconnlistener *lis;
    struct bufferevent *bev;
    Spillway__Frame *hello, *drain;
} hello_srv_t;

static void on_hello_read(struct bufferevent *bev, void *arg)
{
    hello_srv_t *s = arg;
    for (;;) {
        Spillway__Frame *f = NULL;
        char err[200];
        int rc = sw_frame_read(bufferevent_get_input(bev), SW_FRAME_MAX_BYTES_DEFAULT, &f, err,
                               sizeof(err));
        cr_assert_geq(rc, 0, "worker sent a bad frame: %s", err);
        if (rc == 0)
            return;
        if (f->body_case == SPILLWAY__FRAME__BODY_HELLO && !s->hello)
            s->hello = f;
        else if (f->body_case == SPILLWAY__FRAME__BODY_DRAIN && !s->drain)
            s->drain = f;
        else
            spillway__frame__free_unpacked(f, NULL);
    }
}

static void on_hello_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                            int len, void *arg)
{
    hello_srv_t *s = arg;
    (void)lis;
    (void)sa;
    (void)len;
    cr_assert_null(s->bev, "the worker connected twice");
    s->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(s->bev, on_hello_read, NULL, NULL, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

Test(be_provider, real_worker_dials_in_with_its_token_and_type, .timeout = 20)
{
    hello_srv_t srv = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.lis = evconnlistener_new_bind(base, on_hello_accept, &srv,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 4,
                                      (struct sockaddr *)&sin, sizeof(sin));
    cr_assert_not_null(srv.lis);
    socklen_t sl = sizeof(sin);
    getsockname(evconnlistener_get_fd(srv.lis), (struct sockaddr *)&sin, &sl);
    char connect[64];
    snprintf(connect, sizeof(connect), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));

    sw_be_provider_opts_t o = {.kind = SW_BE_PROVIDER_LOCAL,
                               .type_name = "m5.large",
                               .connect = connect,
                               .worker_exe = SW_BINARY_DIR "/spillway",
                               .model_path = SW_BINARY_DIR "/fashion-mlp.pb",
                               .threads = 1};
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 42, "9f86d081884c7d65"), 0);
    sw_time_t end = sw_clock_now() + 10 * SW_US_PER_S;
    while (!srv.hello && sw_clock_now() < end)
        event_base_loop(base, EVLOOP_ONCE);
    cr_assert_not_null(srv.hello, "the worker did not register");
    cr_assert_str_eq(srv.hello->hello->token, "9f86d081884c7d65");
    cr_assert_str_eq(srv.hello->hello->instance_type, "m5.large");
    cr_assert_str_eq(srv.hello->hello->worker_id, "42");
    cr_assert_eq(srv.hello->hello->threads, 1);

    /* Terminate: SIGTERM makes a connected worker drain and exit 0. */
    cr_assert_eq(sw_be_provider_terminate(p, 42), 0);
    run_for(10000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'X');
    cr_assert(seen[0].stop_requested);
    cr_assert(WIFEXITED(seen[0].status) && WEXITSTATUS(seen[0].status) == 0, "status %d",
              seen[0].status);
    cr_assert_not_null(srv.drain, "no Drain before the exit");
    sw_be_provider_destroy(p);
    spillway__frame__free_unpacked(srv.hello, NULL);
    spillway__frame__free_unpacked(srv.drain, NULL);
    bufferevent_free(srv.bev);
    evconnlistener_free(srv.lis);
}

/* ---- command ---- */

static sw_be_provider_opts_t command_opts(const char *launch, const char *terminate)
{
    return (sw_be_provider_opts_t){.kind = SW_BE_PROVIDER_COMMAND,
                                   .type_name = "t.cmd",
                                   .connect = "10.0.0.1:7000",
                                   .launch_cmd = launch,
                                   .terminate_cmd = terminate,
                                   .command_timeout_ms = 5000,
                                   .stop_grace_ms = 2000};
}

Test(be_provider, command_handle_from_launch_reaches_terminate)
{
    sw_be_provider_opts_t o = command_opts(
        "echo \"$SW_WORKER_ID $SW_WORKER_TYPE $SW_CONNECT $SW_TOKEN ${SW_HANDLE:-none}\" "
        "> \"$FAKE_OUT/launch.txt\"; echo noise >&2; printf '  vm-%s \\n\\n' \"$SW_WORKER_ID\"",
        "echo \"$SW_HANDLE $SW_WORKER_ID $SW_TOKEN\" > \"$FAKE_OUT/terminate.txt\"");
    setenv("SW_HANDLE", "stale-from-our-environment", 1);
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 4, "tk4"), 0);
    cr_assert_eq(sw_be_provider_pending(p), 1);
    wait_pending(p, 0, 5000);
    char got[512], path[256];
    snprintf(path, sizeof(path), "%s/launch.txt", dir);
    slurp(path, got, sizeof(got));
    cr_assert_str_eq(got, "4 t.cmd 10.0.0.1:7000 tk4 none\n");
    cr_assert_eq(sw_be_provider_pid(p, 4), -1);

    cr_assert_eq(sw_be_provider_terminate(p, 4), 0);
    cr_assert_eq(sw_be_provider_pending(p), 1);
    wait_pending(p, 0, 5000);
    snprintf(path, sizeof(path), "%s/terminate.txt", dir);
    slurp(path, got, sizeof(got));
    cr_assert_str_eq(got, "vm-4 4 tk4\n");
    run_for(50, 0);
    cr_assert_eq(n_seen, 0);
    /* Forgotten: the id can be launched again. */
    cr_assert_eq(sw_be_provider_launch(p, 4, "tk4"), 0);
    wait_pending(p, 0, 5000);
    sw_be_provider_destroy(p);
}

Test(be_provider, command_failing_launch_names_status_and_first_stderr_line)
{
    sw_be_provider_opts_t o = command_opts(
        "echo 'An error occurred (UnauthorizedOperation)' >&2; echo second >&2; exit 3", NULL);
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 6, "t"), 0);
    run_for(5000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'L');
    cr_assert_eq(seen[0].id, 6);
    const char *why = seen[0].why;
    cr_assert_not_null(strstr(why, "t.cmd"), "%s", why);
    cr_assert_not_null(strstr(why, "worker 6"), "%s", why);
    cr_assert_not_null(strstr(why, "exit status 3"), "%s", why);
    cr_assert_not_null(strstr(why, "An error occurred (UnauthorizedOperation)"), "%s", why);
    cr_assert_null(strstr(why, "second"), "%s", why);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    sw_be_provider_destroy(p);
}

Test(be_provider, command_launch_without_handle_fails)
{
    sw_be_provider_opts_t o = command_opts("echo '   '", NULL);
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 8, "t"), 0);
    run_for(5000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'L');
    cr_assert_not_null(strstr(seen[0].why, "no handle"), "%s", seen[0].why);
    sw_be_provider_destroy(p);
}

/* True once pid, not necessarily our child, has died (gone, or a zombie awaiting its
 * parent: in a container nobody may ever reap an orphan). */
static bool is_dead(pid_t pid)
{
    char path[64], stat[512] = "";
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return !paren || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

Test(be_provider, command_launch_timeout_kills_the_command_and_its_children)
{
    sw_be_provider_opts_t o = command_opts(
        "echo 'waiting for the API' >&2; sleep 30 & echo $! > \"$FAKE_OUT/sleep.pid\"; wait; "
        "echo vm-1",
        NULL);
    o.command_timeout_ms = 300;
    sw_be_provider_t *p = create(&o);
    sw_time_t t0 = sw_clock_now();
    cr_assert_eq(sw_be_provider_launch(p, 1, "t"), 0);
    run_for(5000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'L');
    cr_assert_not_null(strstr(seen[0].why, "timed out after 300 ms"), "%s", seen[0].why);
    cr_assert_not_null(strstr(seen[0].why, "waiting for the API"), "%s", seen[0].why);
    cr_assert_lt(sw_clock_now() - t0, 3 * SW_US_PER_S);
    /* The sleep the command started went too: the whole process group is killed. */
    char got[64], path[256];
    snprintf(path, sizeof(path), "%s/sleep.pid", dir);
    slurp(path, got, sizeof(got));
    pid_t sleeper = (pid_t)atol(got);
    cr_assert_gt(sleeper, 1);
    sw_time_t end = sw_clock_now() + 2 * SW_US_PER_S;
    while (!is_dead(sleeper) && sw_clock_now() < end)
        run_for(20, 0);
    cr_assert(is_dead(sleeper), "the command's child outlived its timeout");
    sw_be_provider_destroy(p);
}

Test(be_provider, command_terminate_during_launch_waits_for_the_handle)
{
    sw_be_provider_opts_t o =
        command_opts("sleep 0.3; echo vm-9", "echo \"$SW_HANDLE\" > \"$FAKE_OUT/terminate.txt\"");
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 9, "t"), 0);
    cr_assert_eq(sw_be_provider_terminate(p, 9), 0);
    cr_assert_eq(sw_be_provider_pending(p), 1, "the launch keeps running");
    wait_pending(p, 0, 5000);
    char got[64], path[256];
    snprintf(path, sizeof(path), "%s/terminate.txt", dir);
    slurp(path, got, sizeof(got));
    cr_assert_str_eq(got, "vm-9\n");
    cr_assert_eq(n_seen, 0);
    sw_be_provider_destroy(p);
}

Test(be_provider, command_failing_terminate_is_reported_with_the_handle)
{
    sw_be_provider_opts_t o =
        command_opts("echo i-0abc", "echo 'InvalidInstanceID.NotFound' >&2; exit 1");
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 2, "t"), 0);
    wait_pending(p, 0, 5000);
    cr_assert_eq(sw_be_provider_terminate(p, 2), 0);
    run_for(5000, 1);
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'T');
    cr_assert_eq(seen[0].id, 2);
    const char *why = seen[0].why;
    cr_assert_not_null(strstr(why, "i-0abc"), "%s", why);
    cr_assert_not_null(strstr(why, "exit status 1"), "%s", why);
    cr_assert_not_null(strstr(why, "InvalidInstanceID.NotFound"), "%s", why);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    cr_assert_eq(sw_be_provider_launch(p, 2, "t"), 0, "forgotten after the failure");
    sw_be_provider_destroy(p);
}

Test(be_provider, command_destroy_kills_a_command_still_running)
{
    sw_be_provider_opts_t o = command_opts("sleep 30", NULL);
    o.stop_grace_ms = 100;
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 1, "t"), 0);
    run_for(50, 0);
    sw_time_t t0 = sw_clock_now();
    sw_be_provider_destroy(p);
    cr_assert_lt(sw_clock_now() - t0, 2 * SW_US_PER_S);
    cr_assert_eq(n_seen, 0);
}

/* ---- static, and several owners of children in one process ---- */

Test(be_provider, static_refuses_launches)
{
    sw_be_provider_opts_t o = {.kind = SW_BE_PROVIDER_STATIC, .type_name = "t.static"};
    sw_be_provider_t *p = create(&o);
    cr_assert_eq(sw_be_provider_launch(p, 1, "t"), SW_EUNSUPPORTED);
    cr_assert_eq(sw_be_provider_terminate(p, 1), 0);
    cr_assert_eq(sw_be_provider_pending(p), 0);
    cr_assert_eq(sw_be_provider_pid(p, 1), -1);
    run_for(50, 0);
    cr_assert_eq(n_seen, 0);
    sw_be_provider_destroy(p);
    sw_be_provider_destroy(NULL);
}

Test(be_provider, providers_reap_only_their_own_children)
{
    /* A child of the test itself, which no provider may reap. */
    pid_t mine;
    char *argv[] = {"/bin/sh", "-c", "sleep 0.2; exit 7", NULL};
    cr_assert_eq(posix_spawn(&mine, argv[0], NULL, NULL, argv, environ), 0);
    setenv("FAKE_MODE", "exit:5", 1);
    sw_be_provider_opts_t lo = local_opts();
    sw_be_provider_opts_t co = command_opts("sleep 0.1; echo h", NULL);
    sw_be_provider_t *lp = create(&lo), *cp = create(&co);
    cr_assert_eq(sw_be_provider_launch(lp, 1, "t"), 0);
    cr_assert_eq(sw_be_provider_launch(cp, 2, "t"), 0);
    run_for(5000, 1);
    wait_pending(cp, 0, 5000);
    run_for(400, 0); /* our own child exits meanwhile, and SIGCHLD reaches both providers */
    cr_assert_eq(n_seen, 1);
    cr_assert_eq(seen[0].kind, 'X');
    cr_assert(WIFEXITED(seen[0].status) && WEXITSTATUS(seen[0].status) == 5);
    int status;
    cr_assert_eq(waitpid(mine, &status, 0), mine, "a provider reaped a child not its own");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    sw_be_provider_destroy(lp);
    sw_be_provider_destroy(cp);
}
