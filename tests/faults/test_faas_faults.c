/* Functions that throttle, vanish, time out or crash (issue 13 §2): serve spills every
 * call (policy faas-only) to a faas-local the test runs itself, on a port it keeps, so
 * that it can kill and restart it. Every call is still answered exactly once. */
#include <jansson.h>
#include <sys/stat.h>

#include "tests/faults/faults.h"

static sh_server_t srv;
static pid_t faas_pid = -1;
static unsigned faas_port;

static void setup(void)
{
    ft_setup();
    srv.pid = -1;
}

static void kill_faas(bool hard)
{
    ft_stop_faas(faas_pid, hard);
    faas_pid = -1;
}

static void teardown(void)
{
    sh_cleanup(&srv); /* serve first: faas-local's drain then has no caller to wait for */
    kill_faas(false);
    ft_teardown();
}

TestSuite(faults_faas, .init = setup, .fini = teardown, .timeout = 240);

#define KEY_ID "AKIDFAULTTESTKEY0001"
#define SECRET "fault/test/secret/key/0123456789abcdef"

static void start_faas(unsigned port, const char *command, unsigned concurrency, double timeout_s)
{
    static const char *const env[] = {"AWS_ACCESS_KEY_ID=" KEY_ID, "AWS_SECRET_ACCESS_KEY=" SECRET,
                                      NULL};
    faas_pid = ft_start_faas(&srv, port, command, concurrency, timeout_s, env, NULL, &faas_port);
}

/* serve spilling everything to the faas-local on faas_port. */
static void start_serve(void)
{
    char policy[1024], key[64], secret[80];
    snprintf(policy, sizeof(policy),
             "slo: {latency_ms: 2000, target: 0.5}\n" FT_CPU_TYPE(
                 "local", "[1, 2, 3, 4]") "faas:\n"
                                          "  enabled: true\n"
                                          "  concurrency_limit: 16\n"
                                          "  warm_latency_ms: {dist: constant, mean: 20}\n"
                                          "  invoke: {endpoint: 'http://127.0.0.1:%u', timeout_ms: "
                                          "5000, max_retries: 0}\n"
                                          "policy: {name: faas-only}\n"
                                          "serve: {request_timeout_ms: 30000}\n",
             faas_port);
    snprintf(key, sizeof(key), "AWS_ACCESS_KEY_ID=%s", KEY_ID);
    snprintf(secret, sizeof(secret), "AWS_SECRET_ACCESS_KEY=%s", SECRET);
    const char *env[] = {key, secret, NULL};
    sh_start(&srv, policy, env);
}

/* A function script in the server's folder; its path in out. */
static void write_script(const char *name, const char *after_taking_one, char *out, size_t len)
{
    sh_path(&srv, name, out, len);
    char text[512];
    snprintf(text, sizeof(text),
             "#!/bin/sh\n"
             "curl -s -o /dev/null \"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/"
             "invocation/next\"\n"
             "%s\n",
             after_taking_one);
    sh_write(out, text);
    cr_assert_eq(chmod(out, 0755), 0);
}

static void run_load(ft_load_t *l, size_t calls, size_t concurrency, double rate)
{
    ft_load_start(l,
                  &(ft_load_opts_t){.srv = &srv,
                                    .calls = calls,
                                    .concurrency = concurrency,
                                    .rate = rate,
                                    .check_outputs = true},
                  0);
}

static void finish(const char *scenario, ft_load_t *loads, size_t n, const char *extra_key)
{
    long peak;
    json_t *sum = ft_stop_and_check(&srv, loads, n, &peak, false);
    char extra[128];
    snprintf(extra, sizeof(extra), "invocations=%.0f throttled=%.0f errors=%.0f %s",
             ft_num(sum, "faas.invocations"), ft_num(sum, "faas.throttled"),
             ft_num(sum, "faas.errors"), extra_key ? extra_key : "");
    ft_figures(scenario, loads, n, sum, peak, extra);
    cr_assert_gt(ft_num(sum, extra_key ? "faas.errors" : "faas.invocations"), 0, "%s", extra);
    json_decref(sum);
}

Test(faults_faas, a_faas_local_of_concurrency_one_throttles_and_every_call_is_answered)
{
    sh_prepare(&srv);
    start_faas(0, NULL, 1, 30);
    start_serve();
    ft_load_t load;
    run_load(&load, ft_scale(40), 16, 0);
    ft_load_join(&load);
    ft_check_load(&load, srv.pid);
    cr_assert_gt(load.ok, 0);
    cr_assert_gt(sh_metric(&srv, "spillway_function_throttles_total"), 0, "a 429 storm");
    finish("faas_concurrency_1", &load, 1, NULL);
}

Test(faults_faas, faas_local_killed_then_restarted_on_its_port_loses_no_call)
{
    sh_prepare(&srv);
    start_faas(0, NULL, 8, 30);
    start_serve();
    ft_load_t load[2];
    run_load(&load[0], ft_scale(120), 8, 40);
    usleep(700000);
    kill_faas(true); /* connections refused from now on */
    usleep(800000);
    start_faas(faas_port, NULL, 8, 30);
    ft_load_join(&load[0]);
    ft_check_load(&load[0], srv.pid);
    cr_assert_gt(load[0].ok, 0);
    cr_assert_lt(load[0].ok, load[0].sent, "calls during the outage failed");
    /* Once it is back, every call is answered 200 again. */
    run_load(&load[1], ft_scale(20), 4, 0);
    ft_load_join(&load[1]);
    ft_check_load(&load[1], srv.pid);
    cr_assert_eq(load[1].ok, load[1].sent);
    finish("faas_local_killed", load, 2, NULL);
}

/* A function that takes one invocation and then does `then` instead of answering:
 * every call gets exactly one error, and faas-local lives on. */
static void failing_function(const char *scenario, const char *then, double timeout_s)
{
    sh_prepare(&srv);
    char script[128];
    write_script("function.sh", then, script, sizeof(script));
    start_faas(0, script, 8, timeout_s);
    start_serve();
    ft_load_t load;
    run_load(&load, ft_scale(12), 4, 0);
    ft_load_join(&load);
    ft_check_load(&load, srv.pid);
    cr_assert_eq(load.ok, 0);
    cr_assert_eq(waitpid(faas_pid, NULL, WNOHANG), 0, "faas-local is alive");
    finish(scenario, &load, 1, scenario);
}

Test(faults_faas, a_function_that_times_out_gets_each_call_answered_once)
{
    failing_function("function_timeout", "exec sleep 30", 0.5);
}

Test(faults_faas, a_function_that_crashes_gets_each_call_answered_once)
{
    failing_function("function_crash", "kill -SEGV $$", 30);
}
