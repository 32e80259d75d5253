/* `spillway serve` end to end (issue 11 §7), with real processes on 127.0.0.1: the
 * frontend, `local` workers it starts, and faas-local running `spillway function`. Calls
 * carry real Fashion-MNIST test images; answers are compared with the model run in this
 * process. Every scenario checks that each call is answered exactly once and that the
 * run's counts add up. */
#include <pthread.h>

#include "tests/serve_harness.h"

/* Workers that take `delay` ms per batch (SW_DEBUG_COMPUTE_DELAY_MS), profiled so. */
#define CPU_TYPE(delay_ms, profile)                                                           \
    "instance_types:\n"                                                                       \
    "  - name: cpu\n"                                                                         \
    "    price_per_hour_usd: 0.085\n"                                                         \
    "    provider: local\n"                                                                   \
    "    boot_s: {dist: constant, mean: 1}\n"                                                 \
    "    max_batch: 4\n"                                                                      \
    "    batch_latency_ms: " profile "\n"

static const char *spill_policy =
    "slo: {latency_ms: 300, target: 0.9}\n" CPU_TYPE(50, "[55, 60, 65, 70]")
    "faas:\n"
    "  enabled: true\n"
    "  concurrency_limit: 8\n"
    "  warm_latency_ms: {dist: constant, mean: 20}\n"
    "  invoke: {endpoint: local, timeout_ms: 30000}\n"
    "  local: {timeout_s: 30}\n"
    "policy:\n"
    "  name: mark\n"
    "  mark: {min_instances: 2}\n";

static const char *const slow50[] = {"SW_DEBUG_COMPUTE_DELAY_MS=50", NULL};

static sh_server_t srv;
/* Workers a test started itself, killed by teardown if the test fails first. */
static pid_t by_hand[4];
static float *images, *expected;
static const size_t n_images = 64;

static void setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    images = sh_images(n_images, NULL);
    expected = sh_expected(images, n_images);
    srv.pid = -1;
}

static void teardown(void)
{
    for (size_t i = 0; i < 4; i++)
        if (by_hand[i] > 0 && kill(by_hand[i], SIGKILL) == 0)
            waitpid(by_hand[i], NULL, 0);
    sh_cleanup(&srv);
    sw_free(images);
    sw_free(expected);
    curl_global_cleanup();
}

TestSuite(srv_serve, .init = setup, .fini = teardown, .timeout = 180);

/* The number after `"key": ` in a JSON text (first occurrence), or -1. */
static double json_number(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *p = text ? strstr(text, pat) : NULL;
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* Waits until serve reports `n` workers running, so a test starts on a full pool. */
static void wait_running(unsigned n)
{
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (sh_metric(&srv, "spillway_workers{type=\"cpu\",state=\"running\"}") < n) {
        cr_assert_lt(sw_clock_now(), end, "workers did not come up");
        usleep(100000);
    }
}

static char *stop_and_read_summary(void)
{
    int status = sh_stop(&srv, SIGTERM, 60);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "serve exit status %d", status);
    char *sum = sh_read(&srv, "out/summary.json");
    cr_assert_not_null(sum, "no summary.json after the drain");
    return sum;
}

Test(srv_serve, answers_one_and_many_rows_and_spills_a_burst_to_functions)
{
    sh_start(&srv, spill_policy, slow50);
    wait_running(2);
    sh_resp_t r;
    char *body = sh_infer_body(images, 0, 1);
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
    sh_check_outputs(&r, expected, 1);
    sw_free(body);
    sw_free(r.body);

    body = sh_infer_body(images, 0, n_images);
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/versions/1/infer", body, &r);
    sh_check_outputs(&r, expected, n_images);
    sw_free(body);
    sw_free(r.body);

    /* Forty calls at once: two workers of four at 55-70 ms cannot answer them all within
     * 300 ms, so the core spills the rest to the function. */
    sh_resp_t burst[40];
    sh_burst(&srv, images, 40, burst);
    for (size_t i = 0; i < 40; i++) {
        sh_check_outputs(&burst[i], expected + i * 10, 1);
        sw_free(burst[i].body);
    }
    cr_assert_gt(sh_metric(&srv, "spillway_function_invocations_total"), 0,
                 "the burst spilled to functions");
    cr_assert_eq(sh_metric(&srv, "nv_inference_request_success{model=\"fashion-mlp\","
                                 "version=\"1\"}"), 42);
    char *sum = stop_and_read_summary();
    double rows = 1 + (double)n_images + 40;
    cr_assert_eq(json_number(sum, "requests"), rows, "%s", sum);
    cr_assert_eq(json_number(sum, "served_vm") + json_number(sum, "served_faas"), rows);
    cr_assert_gt(json_number(sum, "served_faas"), 0);
    cr_assert_gt(json_number(sum, "total"), 0, "the run is billed");
    sw_free(sum);
}

/* ---- a worker killed with a batch in hand ---- */

/* The pid of a `spillway worker` child of serve, or -1. */
static pid_t find_worker(pid_t parent)
{
    return sh_find_child(parent, "worker", -1);
}

static void *kill_a_worker_soon(void *arg)
{
    (void)arg;
    usleep(150000); /* the batches are out; each takes 600 ms */
    pid_t w = find_worker(srv.pid);
    if (w > 0)
        kill(w, SIGKILL);
    return (void *)(intptr_t)w;
}

Test(srv_serve, a_worker_killed_with_a_batch_in_hand_loses_nothing)
{
    static const char *const slow600[] = {"SW_DEBUG_COMPUTE_DELAY_MS=600", NULL};
    sh_start(&srv,
             "slo: {latency_ms: 5000, target: 0.5}\n" CPU_TYPE(600, "[600, 605, 610, 615]")
             "faas: {enabled: false}\n"
             "policy:\n"
             "  name: static\n"
             "  max_queue_delay_ms: 60000\n"
             "  static: {pool: [{type: cpu, count: 2}]}\n",
             slow600);
    wait_running(2);
    pthread_t killer;
    pthread_create(&killer, NULL, kill_a_worker_soon, NULL);
    sh_resp_t r[8];
    sh_burst(&srv, images, 8, r);
    void *killed;
    pthread_join(killer, &killed);
    cr_assert_gt((intptr_t)killed, 0, "found a worker to kill");
    for (size_t i = 0; i < 8; i++) {
        sh_check_outputs(&r[i], expected + i * 10, 1);
        sw_free(r[i].body);
    }
    char *sum = stop_and_read_summary();
    cr_assert_eq(json_number(sum, "requests"), 8, "%s", sum);
    cr_assert_eq(json_number(sum, "served_vm"), 8);
    cr_assert_geq(json_number(sum, "lost"), 1, "%s", sum);
    sw_free(sum);
}

/* ---- throttles ---- */

Test(srv_serve, throttled_functions_fall_back_to_the_pool_with_exact_counts)
{
    static const char *const slow100[] = {"SW_DEBUG_COMPUTE_DELAY_MS=100", NULL};
    sh_start(&srv,
             "slo: {latency_ms: 300, target: 0.5}\n" CPU_TYPE(100, "[105, 110, 115, 120]")
             "faas:\n"
             "  enabled: true\n"
             "  concurrency_limit: 16\n"
             "  invoke: {endpoint: local, timeout_ms: 30000, max_retries: 0}\n"
             "  local: {timeout_s: 30, concurrency: 1}\n"
             "policy:\n"
             "  name: mark\n"
             "  max_queue_delay_ms: 60000\n"
             "  mark: {min_instances: 1}\n",
             slow100);
    wait_running(1);
    sh_resp_t r[24];
    sh_burst(&srv, images, 24, r);
    for (size_t i = 0; i < 24; i++) {
        sh_check_outputs(&r[i], expected + i * 10, 1);
        sw_free(r[i].body);
    }
    cr_assert_gt(sh_metric(&srv, "spillway_function_throttles_total"), 0,
                 "faas-local at concurrency 1 throttled the spill");
    char *sum = stop_and_read_summary();
    cr_assert_eq(json_number(sum, "requests"), 24, "%s", sum);
    cr_assert_eq(json_number(sum, "served_vm") + json_number(sum, "served_faas") +
                     json_number(sum, "rejected"),
                 24);
    cr_assert_gt(json_number(sum, "throttled"), 0);
    cr_assert_eq(json_number(sum, "invocations") - json_number(sum, "throttled") -
                     json_number(sum, "errors"),
                 json_number(sum, "served_faas"), "every call the function ran is counted once");
    sw_free(sum);
}

/* ---- bad requests, and the server keeps serving ---- */

static const char *plain_policy =
    "slo: {latency_ms: 300, target: 0.9}\n" CPU_TYPE(0, "[1, 1.5, 2, 2.5]")
    "faas: {enabled: false}\n"
    "policy:\n"
    "  name: static\n"
    "  static: {pool: [{type: cpu, count: 1}]}\n"
    "serve: {max_body_bytes: 100000, drain_timeout_s: 20}\n";

static void expect_status(const char *method, const char *path, const char *body, long status,
                          const char *needle)
{
    sh_resp_t r;
    sh_http(&srv, method, path, body, &r);
    cr_assert_eq(r.status, status, "%s %s: got %ld %s", method ? method : "GET", path, r.status,
                 r.body ? r.body : "");
    if (needle)
        cr_assert_not_null(r.body && strstr(r.body, needle), "%s %s: %s lacks %s",
                           method ? method : "GET", path, r.body ? r.body : "", needle);
    sw_free(r.body);
}

Test(srv_serve, bad_requests_get_the_right_status_and_a_reason)
{
    sh_start(&srv, plain_policy, NULL);
    wait_running(1);
    const char *infer = "/v2/models/fashion-mlp/infer";
    expect_status(NULL, infer, "{not json", 400, "not JSON at line 1");
    expect_status(NULL, infer,
                  "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,5],\"datatype\":\"FP32\","
                  "\"data\":[1,2,3,4,5]}]}",
                  400, "inputs[0].shape: expected [N, 784], got [1, 5]");
    expect_status(NULL, infer,
                  "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1],\"datatype\":\"INT8\","
                  "\"data\":[1]}]}",
                  400, "datatype");
    expect_status(NULL, "/v2/models/resnet/infer", "{}", 404, "resnet");
    expect_status(NULL, "/v2/models/fashion-mlp/versions/9/infer", "{}", 404, "version");
    expect_status("DELETE", infer, NULL, 405, NULL);
    char *big = sw_malloc(200001);
    memset(big, ' ', 200000);
    big[200000] = '\0';
    expect_status(NULL, infer, big, 413, "error");
    sw_free(big);
    expect_status(NULL, "/v2/health/live", NULL, 200, NULL);
    expect_status(NULL, "/v2/models/fashion-mlp", NULL, 200, "\"name\":\"fashion-mlp\"");
    /* Still serving after all of them. */
    char *body = sh_infer_body(images, 3, 2);
    sh_resp_t r;
    sh_http(&srv, NULL, infer, body, &r);
    sh_check_outputs(&r, expected + 30, 2);
    sw_free(r.body);
    sw_free(body);
}

/* ---- drain, reload, metrics, the run directory ---- */

/* A copy of text with the first `from` replaced by `to` (free with sw_free). */
static char *replace_once(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    cr_assert_not_null(at, "%s not in the policy", from);
    size_t head = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to);
    char *out = sw_malloc(n + 1);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

static bool log_has(const char *needle)
{
    char *log = sh_read(&srv, "stderr.log");
    bool has = log && strstr(log, needle);
    sw_free(log);
    return has;
}

static void wait_log(const char *needle)
{
    sw_time_t end = sw_clock_now() + 20 * SW_US_PER_S;
    while (!log_has(needle)) {
        cr_assert_lt(sw_clock_now(), end, "the log never said: %s", needle);
        usleep(50000);
    }
}

/* promtool (Debian's prometheus package) parses /metrics; its only complaints may be the
 * lint rules Triton's own names break (nv_inference_count is not *_total, and so on),
 * kept because dashboards built for Triton read them. */
static void check_with_promtool(void)
{
    cr_assert_eq(system("command -v promtool >/dev/null"), 0,
                 "promtool is missing: run scripts/install-deps.sh (package prometheus)");
    char cmd[1024], metrics[128], lint[128];
    sh_path(&srv, "metrics.txt", metrics, sizeof(metrics));
    sh_path(&srv, "lint.txt", lint, sizeof(lint));
    snprintf(cmd, sizeof(cmd), "curl -sf %s/metrics > %s && promtool check metrics < %s > %s 2>&1",
             srv.url, metrics, metrics, lint);
    int rc = system(cmd);
    char *text = sh_read(&srv, "lint.txt");
    cr_assert(WIFEXITED(rc) && (WEXITSTATUS(rc) == 0 || WEXITSTATUS(rc) == 3),
              "promtool could not parse /metrics: %s", text);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        cr_assert(strncmp(line, "nv_inference_", 13) == 0, "promtool: %s", line);
    sw_free(text);
}

Test(srv_serve, reloads_on_sighup_drains_on_sigterm_and_writes_a_run_a_report_reads)
{
    sh_start(&srv, plain_policy, NULL);
    wait_running(1);
    char *body = sh_infer_body(images, 0, 4);
    sh_resp_t r;
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
    sh_check_outputs(&r, expected, 4);
    sw_free(r.body);
    check_with_promtool();

    char cfg[128];
    sh_path(&srv, "policy.yaml", cfg, sizeof(cfg));
    /* A key the core reads as it goes: taken. */
    char *changed = replace_once(plain_policy, "  name: static\n",
                                 "  name: static\n  max_queue_delay_ms: 1500\n");
    sh_write(cfg, changed);
    sw_free(changed);
    kill(srv.pid, SIGHUP);
    wait_log("reloaded keys_changed=1 keys=\"policy.max_queue_delay_ms\"");
    /* A broken file: refused, the old policy stays. */
    sh_write(cfg, "slo: {latency_ms: -5}\n");
    kill(srv.pid, SIGHUP);
    wait_log("reload refused: the policy file is invalid");
    cr_assert(log_has("slo.latency_ms: must be in [1, 3600000]"));
    /* A key that needs a restart: refused by name. */
    changed = replace_once(plain_policy, "latency_ms: 300", "latency_ms: 250");
    sh_write(cfg, changed);
    sw_free(changed);
    kill(srv.pid, SIGHUP);
    wait_log("these keys take effect only when serve restarts: slo.latency_ms");
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
    sh_check_outputs(&r, expected, 4);
    sw_free(r.body);
    sw_free(body);

    char *sum = stop_and_read_summary();
    cr_assert_eq(json_number(sum, "requests"), 8, "%s", sum);
    cr_assert(log_has("drained calls=2 ok=2"));
    sw_free(sum);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), SW_BINARY_DIR "/spillway report %s/out > /dev/null", srv.dir);
    cr_assert_eq(system(cmd), 0, "spillway report reads the live run directory");
    char *html = sh_read(&srv, "out/report.html");
    cr_assert_not_null(html);
    cr_assert_not_null(strstr(html, "<svg"));
    sw_free(html);
}

/* ---- workers that serve did not start, and launches that never come up ---- */

/* Starts `spillway worker` by hand, as an operator would on a machine of their own; its
 * output goes to the server's folder, not to the test's. */
static pid_t start_worker_by_hand(const char *token)
{
    char *argv[] = {SW_BINARY_DIR "/spillway", "worker", "--connect", srv.workers, "--type", "cpu",
                    "--model", SH_MODEL, "--token", (char *)token, NULL};
    char log[128];
    sh_path(&srv, token, log, sizeof(log));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; i < SW_ARRAY_LEN(by_hand); i++)
        if (by_hand[i] <= 0) {
            by_hand[i] = pid;
            break;
        }
    return pid;
}

Test(srv_serve, a_hand_started_worker_with_the_static_token_joins_and_a_stranger_does_not)
{
    sh_prepare(&srv);
    char token[128];
    sh_path(&srv, "token.txt", token, sizeof(token));
    sh_write(token, "s3cret-token\n");
    sh_start(&srv,
             "slo: {latency_ms: 300, target: 0.9}\n"
             "instance_types:\n"
             "  - {name: cpu, price_per_hour_usd: 0.085, provider: static, max_batch: 4,\n"
             "     batch_latency_ms: [1, 1.5, 2, 2.5]}\n"
             "faas: {enabled: false}\n"
             "policy: {name: static, static: {pool: []}}\n"
             "serve: {static_token_file: token.txt}\n",
             NULL);
    pid_t stranger = start_worker_by_hand("guessed");
    wait_log("worker refused");
    pid_t operator = start_worker_by_hand("s3cret-token");
    wait_running(1);
    cr_assert(log_has("adopted (static pool)"));
    char *body = sh_infer_body(images, 5, 3);
    sh_resp_t r;
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
    sh_check_outputs(&r, expected + 50, 3);
    sw_free(r.body);
    sw_free(body);
    char *sum = stop_and_read_summary();
    cr_assert_eq(json_number(sum, "served_vm"), 3, "%s", sum);
    cr_assert_gt(json_number(sum, "vm"), -2); /* present */
    sw_free(sum);
    /* serve sent the adopted worker Stop; the stranger keeps dialling until killed. */
    int status;
    sw_time_t end = sw_clock_now() + 10 * SW_US_PER_S;
    while (waitpid(operator, &status, WNOHANG) == 0) {
        cr_assert_lt(sw_clock_now(), end, "the adopted worker did not stop");
        usleep(20000);
    }
    by_hand[1] = 0; /* reaped */
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    (void)stranger; /* still dialling in: teardown kills it */
}

Test(srv_serve, a_launch_that_never_dials_in_is_lost_billed_and_retried)
{
    sh_start(&srv,
             "slo: {latency_ms: 300, target: 0.9}\n"
             "instance_types:\n"
             "  - {name: cpu, price_per_hour_usd: 0.9, provider: command, max_batch: 4,\n"
             "     batch_latency_ms: [1, 1.5, 2, 2.5], launch: 'echo i-0123456789abcdef0',\n"
             "     terminate: 'test \"$SW_HANDLE\" = i-0123456789abcdef0'}\n"
             "faas: {enabled: false}\n"
             "policy: {name: static, static: {pool: [{type: cpu, count: 1}]}}\n"
             "serve: {boot_timeout_s: 1}\n",
             NULL);
    wait_log("did not dial in within serve.boot_timeout_s (1 s)");
    wait_log("launch worker=2 type=cpu reason=static_pool"); /* the pool refills */
    char *sum = stop_and_read_summary();
    cr_assert_geq(json_number(sum, "lost"), 1, "%s", sum);
    cr_assert_geq(json_number(sum, "launched"), 2);
    /* Each launch is billed AWS's 60 s minimum at $0.9/h, dialled in or not. */
    cr_assert_geq(json_number(sum, "vm"), 0);
    cr_assert_float_eq(json_number(sum, "total"), json_number(sum, "launched") * 60 * 0.9 / 3600,
                       1e-9, "%s", sum);
    cr_assert(!log_has("terminate failed"), "the terminate command got its handle back");
    sw_free(sum);
}

Test(srv_serve, a_worker_that_drains_is_replaced_and_nothing_is_lost)
{
    sh_start(&srv, plain_policy, NULL);
    wait_running(1);
    pid_t w = find_worker(srv.pid);
    cr_assert_gt(w, 0);
    kill(w, SIGTERM); /* the operator stops it: it sends Drain and exits */
    wait_log("worker draining worker=1");
    wait_log("ready worker=2 type=cpu");
    char *body = sh_infer_body(images, 7, 2);
    sh_resp_t r;
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
    sh_check_outputs(&r, expected + 70, 2);
    sw_free(r.body);
    sw_free(body);
    char *sum = stop_and_read_summary();
    cr_assert_eq(json_number(sum, "lost"), 0, "a drain is not a loss: %s", sum);
    sw_free(sum);
}

/* The README's quick start: config/local.yaml as shipped (its addresses replaced by port
 * 0) serves at once, through the faas-local it starts, before any worker has booted. */
Test(srv_serve, the_shipped_local_policy_answers_at_once)
{
    FILE *f = fopen(SW_SOURCE_DIR "/config/local.yaml", "r");
    cr_assert_not_null(f);
    char *policy = sw_malloc(1 << 16);
    size_t n = fread(policy, 1, (1 << 16) - 1, f);
    policy[n] = '\0';
    fclose(f);
    sh_start(&srv, policy, NULL);
    sw_free(policy);
    sh_resp_t r;
    sh_http(&srv, "GET", "/v2/health/ready", NULL, &r);
    cr_assert_eq(r.status, 200, "functions can serve from the start");
    sw_free(r.body);
    char *body = sh_infer_body(images, 3, 4);
    sh_http(&srv, NULL, "/v2/models/fashion-mlp/infer", body, &r);
    sh_check_outputs(&r, expected + 30, 4);
    sw_free(r.body);
    sw_free(body);
    char *sum = stop_and_read_summary();
    cr_assert_eq(json_number(sum, "requests"), 4, "%s", sum);
    cr_assert_eq(json_number(sum, "served_faas") + json_number(sum, "served_vm"), 4, "%s", sum);
    sw_free(sum);
}
