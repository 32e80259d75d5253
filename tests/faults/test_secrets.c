/* Secrets stay secret (issue 13 §3): serve, faas-local, invoke and simulate run with a
 * known AWS secret key, session token and worker tokens, at debug level, through
 * successes and failures (a wrong secret, a stranger's worker token); then every output
 * (stdout, stderr, every file of the run directories, /metrics) is searched for them. */
#define _GNU_SOURCE /* memmem; nftw */
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "backends/frame.h"
#include "tests/faults/faults.h"

#define KEY_ID "AKIDSECRETSTEST00001"
#define SECRET "zK9/secret+Key/ThatMustNotLeak/0123456789"
#define WRONG_SECRET "wR0ng/secret+Key/AlsoMustNotLeak/987654"
#define SESSION "IQoJb3JpZ2luX2VjSessionTokenThatMustNotLeak//+/AbCdEf=="
#define STATIC_TOKEN "static-worker-token-that-must-not-leak"

static sh_server_t srv;
static pid_t faas_pid = -1;

static void setup(void)
{
    ft_setup();
    srv.pid = -1;
}

static void teardown(void)
{
    sh_cleanup(&srv);
    ft_stop_faas(faas_pid, false);
    ft_teardown();
}

TestSuite(secrets, .init = setup, .fini = teardown, .timeout = 240);

/* ---- searching ---- */

typedef struct needle {
    const char *what, *text;
} needle_t;

static const needle_t *needles;
static size_t n_needles, files_searched;
/* A control: files that do hold a string every run writes, so a search that reads
 * nothing cannot pass. */
static size_t files_with_control;

static void search(const char *where, const char *buf, size_t len)
{
    files_with_control += memmem(buf, len, "fashion-mlp", 11) != NULL;
    for (size_t i = 0; i < n_needles; i++)
        cr_assert_null(memmem(buf, len, needles[i].text, strlen(needles[i].text)),
                       "the %s is in %s", needles[i].what, where);
}

static int search_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char *buf = sw_malloc((size_t)st->st_size + 1);
    size_t n = fread(buf, 1, (size_t)st->st_size, f);
    fclose(f);
    search(path, buf, n);
    sw_free(buf);
    files_searched++;
    return 0;
}

static void search_tree(const char *dir)
{
    cr_assert_eq(nftw(dir, search_file, 16, FTW_PHYS), 0, "%s", dir);
}

/* Runs a command through sh with stdout and stderr to files in the server's folder. */
static int run(const char *env, const char *args, const char *name)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd %s && env %s %s/spillway %s > %s.out 2> %s.err", srv.dir, env,
             SW_BINARY_DIR, args, name, name);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A stranger dials the worker port with the wrong token. */
static void stranger_worker(void)
{
    unsigned port;
    cr_assert_eq(sscanf(srv.workers, "127.0.0.1:%u", &port), 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    Spillway__Hello h = SPILLWAY__HELLO__INIT;
    h.instance_type = "cpu";
    h.model_name = "fashion-mlp";
    h.model_version = 1;
    h.max_batch = 4;
    h.token = "static-worker-token-that-must-not-leaX"; /* one letter off */
    Spillway__Frame f;
    sw_frame_init_hello(&f, &h);
    uint8_t buf[512];
    size_t n;
    cr_assert_eq(sw_frame_encode(&f, buf, sizeof(buf), &n), 0);
    cr_assert_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
    char c;
    cr_assert_leq(recv(fd, &c, 1, 0), 0, "refused");
    close(fd);
}

/* The token serve gave a worker it launched, from the worker's environment. */
static void launch_token(pid_t worker, char *out, size_t len)
{
    char path[64], env[16384];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)worker);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(env, 1, sizeof(env) - 1, f);
    fclose(f);
    env[n] = '\0';
    out[0] = '\0';
    for (char *p = env; p < env + n; p += strlen(p) + 1)
        if (strncmp(p, "SW_TOKEN=", 9) == 0)
            snprintf(out, len, "%s", p + 9);
    cr_assert(strlen(out) >= 16, "the worker has a launch token");
}

Test(secrets, no_key_token_or_worker_token_reaches_any_output)
{
    sh_prepare(&srv);
    static const char *const fl_env[] = {"AWS_ACCESS_KEY_ID=" KEY_ID,
                                         "AWS_SECRET_ACCESS_KEY=" SECRET, NULL};
    unsigned port;
    faas_pid = ft_start_faas(&srv, 0, NULL, 8, 30, fl_env, "debug", &port);
    char policy[1024], endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", port);
    snprintf(policy, sizeof(policy),
             "slo: {latency_ms: 300, target: 0.9}\n" FT_CPU_TYPE(
                 "local", "[55, 60, 65, 70]") "faas:\n"
                                              "  enabled: true\n"
                                              "  warm_latency_ms: {dist: constant, mean: 20}\n"
                                              "  invoke: {endpoint: '%s', timeout_ms: 30000}\n"
                                              "policy: {name: mark, mark: {min_instances: 1}}\n",
             endpoint);
    static const char *const serve_env[] = {
        "AWS_ACCESS_KEY_ID=" KEY_ID,    "AWS_SECRET_ACCESS_KEY=" SECRET,
        "AWS_SESSION_TOKEN=" SESSION,   "SW_STATIC_TOKEN=" STATIC_TOKEN,
        "SW_DEBUG_COMPUTE_DELAY_MS=50", NULL};
    srv.extra_args[0] = "--log-level";
    srv.extra_args[1] = "debug";
    sh_start(&srv, policy, serve_env);
    ft_wait_running(&srv, 1);
    char token[64];
    launch_token(sh_find_child(srv.pid, "worker", -1), token, sizeof(token));
    stranger_worker();
    /* A burst the one worker cannot answer in time: some of it is signed and spilled. */
    ft_load_t load;
    ft_load_start(&load, &(ft_load_opts_t){.srv = &srv, .calls = 40, .concurrency = 40}, 0);
    ft_load_join(&load);
    ft_check_load(&load, srv.pid);
    cr_assert_gt(sh_metric(&srv, "spillway_function_invocations_total"), 0, "it spilled");
    sh_resp_t metrics;
    sh_http(&srv, NULL, "/metrics", NULL, &metrics);

    /* invoke, right and wrong; simulate with the same environment. */
    char set[160];
    snprintf(set, sizeof(set), "--set faas.invoke.endpoint=%s --set faas.invoke.max_retries=0",
             endpoint);
    char args[512];
    snprintf(args, sizeof(args), "invoke %s --count 3", set);
    cr_assert_eq(run("AWS_ACCESS_KEY_ID=" KEY_ID " AWS_SECRET_ACCESS_KEY=" SECRET
                     " AWS_SESSION_TOKEN=" SESSION,
                     args, "invoke-ok"),
                 0);
    cr_assert_neq(run("AWS_ACCESS_KEY_ID=" KEY_ID " AWS_SECRET_ACCESS_KEY=" WRONG_SECRET
                      " AWS_SESSION_TOKEN=" SESSION,
                      args, "invoke-wrong"),
                  0, "a wrong secret is refused");
    cr_assert_eq(run("AWS_ACCESS_KEY_ID=" KEY_ID " AWS_SECRET_ACCESS_KEY=" SECRET
                     " AWS_SESSION_TOKEN=" SESSION,
                     "simulate --trace " SW_SOURCE_DIR "/tests/data/traces/minute_small.csv "
                     "--decisions --out sim --no-progress",
                     "simulate"),
                 0);
    /* serve's stdout after its first line, kept past the stop. */
    int out_fd = dup(srv.out_fd);
    long peak;
    json_t *sum = ft_stop_and_check(&srv, &load, 1, &peak, false);
    json_decref(sum);
    ft_stop_faas(faas_pid, false);
    faas_pid = -1;

    const needle_t all[] = {{"secret key", SECRET},
                            {"wrong secret key", WRONG_SECRET},
                            {"session token", SESSION},
                            {"static worker token", STATIC_TOKEN},
                            {"launch token", token}};
    needles = all;
    n_needles = SW_ARRAY_LEN(all);
    search("/metrics", metrics.body, metrics.len);
    char out[65536];
    ssize_t n_out = read(out_fd, out, sizeof(out));
    close(out_fd);
    search("serve's stdout", out, n_out > 0 ? (size_t)n_out : 0);
    sw_free(metrics.body);
    /* Everything in the folder: serve's stderr and run directory (decisions, timeline,
     * summary, worker logs), faas-local's output, invoke's and simulate's. */
    search_tree(srv.dir);
    cr_assert_geq(files_searched, 10, "searched %zu files", files_searched);
    cr_assert_geq(files_with_control, 3, "%zu files name the model", files_with_control);
    char log[128];
    sh_path(&srv, "faas-local.log", log, sizeof(log));
    FILE *f = fopen(log, "r");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert(ft_log_has(&srv, "worker refused"), "the stranger was refused, and said so");
}
