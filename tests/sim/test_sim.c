/* The simulator end to end: an M/M/c queue against Erlang C, byte-identical decision
 * logs for a seed, conservation of requests and money, and the oracle as a lower bound
 * (the clairvoyant bound's too) on a slice of the real Twitter trace. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"
#include "sim/sim.h"

#define TWITTER_DAY0 SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_day00_per_second.txt"

static sw_cfg_t *load(const char *yaml)
{
    sw_cfg_t *cfg = NULL;
    char err[8192];
    int rc = sw_cfg_load_string(yaml, strlen(yaml), "test.yaml", &cfg, err, sizeof(err));
    cr_assert_eq(rc, 0, "config: %s", err);
    return cfg;
}

static sw_cfg_t *load_example(void)
{
    sw_cfg_t *cfg = NULL;
    char err[8192];
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/example.yaml", &cfg, err, sizeof(err)), 0,
                 "%s", err);
    return cfg;
}

static void run(const sw_cfg_t *cfg, FILE *decisions, sw_sched_summary_t *sum,
                sw_sim_stats_t *st, sw_sim_t **keep)
{
    sw_sim_opts_t opts = {.decisions_file = decisions};
    sw_sim_t *sim;
    char err[4096];
    cr_assert_eq(sw_sim_create(&sim, cfg, &opts, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(sim, err, sizeof(err)), 0, "%s", err);
    sw_sim_summary(sim, sum);
    sw_sim_stats(sim, st);
    *keep = sim;
}

/* Erlang C: probability that an arrival waits in an M/M/c queue with offered load a. */
static double erlang_c(int c, double a)
{
    double term = 1.0, sum = 0.0;
    for (int k = 0; k < c; k++) {
        sum += term;
        term *= a / (k + 1);
    }
    double top = term * c / (c - a); /* a^c / c! x 1 / (1 - rho) */
    return top / (sum + top);
}

Test(sim_engine, mmc_mean_wait_matches_erlang_c, .timeout = 300)
{
    /* c = 4 servers, mean service 10 ms (mu = 100/s), utilisation 0.8 -> lambda = 320/s.
     * Poisson counts per second, spread uniformly, make a Poisson process. */
    const int seconds = 3300;
    const double lambda = 320.0;
    char path[] = "/tmp/sw_mmc_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    sw_rng_t rng;
    sw_rng_init(&rng, 20261127);
    for (int i = 0; i < seconds; i++)
        fprintf(f, "%llu\n", (unsigned long long)sw_rng_poisson(&rng, lambda));
    fclose(f);

    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "seed: 7\n"
             "slo: {latency_ms: 200, target: 0.5}\n"
             "instance_types:\n"
             "  - name: server\n"
             "    price_per_hour_usd: 1\n"
             "    boot_s: {dist: constant, mean: 0}\n"
             "    max_batch: 1\n"
             "    batch_latency_ms: [10]\n"
             "    service_variation: {dist: exponential, mean: 1}\n"
             "faas: {enabled: false}\n"
             "policy:\n"
             "  name: static\n"
             "  max_queue_delay_ms: 100000000\n"
             "  static: {pool: [{type: server, count: 4}]}\n"
             "trace: {path: %s, format: counts-per-second}\n",
             path);
    sw_cfg_t *cfg = load(yaml);
    sw_sched_summary_t sum;
    sw_sim_stats_t st;
    sw_sim_t *sim;
    run(cfg, NULL, &sum, &st, &sim);
    cr_assert_geq(sum.requests, 1000000, "at least 10^6 requests");
    cr_assert_eq(sum.rejected, 0);
    double mean_latency_ms = sw_hist_mean_us(sum.latency) / 1000.0;
    double wait_ms = mean_latency_ms - 10.0;
    double expected_ms = erlang_c(4, lambda / 100.0) / (4 * 100.0 - lambda) * 1000.0;
    cr_log_info("M/M/4 rho 0.8: simulated mean wait %.3f ms, Erlang C %.3f ms, %llu requests",
                wait_ms, expected_ms, (unsigned long long)sum.requests);
    cr_assert_float_eq(wait_ms, expected_ms, 0.03 * expected_ms,
                       "simulated %.3f ms vs Erlang C %.3f ms", wait_ms, expected_ms);
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
    remove(path);
}

static char *decision_log(sw_cfg_t *cfg, size_t *len)
{
    char *buf = NULL;
    FILE *mem = open_memstream(&buf, len);
    sw_sched_summary_t sum;
    sw_sim_stats_t st;
    sw_sim_t *sim;
    run(cfg, mem, &sum, &st, &sim);
    sw_sim_destroy(sim);
    fclose(mem);
    return buf;
}

static sw_cfg_t *twitter_slice(const char *policy, const char *seed, const char *duration_s)
{
    sw_cfg_t *cfg = load_example();
    char err[4096];
    cr_assert_eq(sw_cfg_set(cfg, "trace.path", TWITTER_DAY0, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "trace.duration_s", duration_s, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "policy.name", policy, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "seed", seed, err, sizeof(err)), 0, "%s", err);
    return cfg;
}

Test(sim_engine, same_seed_gives_byte_identical_decisions, .timeout = 120)
{
    sw_cfg_t *a = twitter_slice("mark", "42", "1800");
    sw_cfg_t *b = twitter_slice("mark", "42", "1800");
    sw_cfg_t *c = twitter_slice("mark", "43", "1800");
    size_t la, lb, lc;
    char *da = decision_log(a, &la), *db = decision_log(b, &lb), *dc = decision_log(c, &lc);
    cr_assert_gt(la, 100000, "a real decision log");
    cr_assert_eq(la, lb);
    cr_assert(memcmp(da, db, la) == 0, "same seed, same bytes");
    cr_assert(la != lc || memcmp(da, dc, la) != 0, "another seed, another log");
    cr_assert_not_null(strstr(da, "\"action\":\"dispatch\""));
    cr_assert_not_null(strstr(da, "\"action\":\"launch\""));
    free(da);
    free(db);
    free(dc);
    sw_cfg_destroy(a);
    sw_cfg_destroy(b);
    sw_cfg_destroy(c);
}

/* loadgen opens its trace with sw_sim_trace_opts: a reader so opened yields exactly the
 * arrivals the simulation replays. A fractional rate scale makes the count itself depend
 * on the seeded stream, so a reader seeded otherwise would not match. */
Test(sim_engine, trace_opts_give_the_arrivals_a_run_replays, .timeout = 120)
{
    sw_cfg_t *cfg = twitter_slice("static", "9", "60");
    char err[4096];
    cr_assert_eq(sw_cfg_set(cfg, "trace.rate_scale", "0.37", err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "trace.start_s", "100", err, sizeof(err)), 0, "%s", err);
    sw_sched_summary_t sum;
    sw_sim_stats_t st;
    sw_sim_t *sim;
    run(cfg, NULL, &sum, &st, &sim);

    sw_trace_opts_t o;
    sw_sim_trace_opts(cfg, &o);
    cr_assert_eq(o.rate_scale, 0.37);
    cr_assert_eq(o.start_s, 100);
    cr_assert_eq(o.duration_s, 60);
    sw_trace_t *t;
    cr_assert_eq(sw_trace_open(&t, cfg->trace.path, &o, err, sizeof(err)), 0, "%s", err);
    uint64_t n = 0;
    sw_time_t at;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1)
        n++;
    cr_assert_eq(rc, 0, "%s", sw_trace_error(t));
    sw_trace_close(t);
    cr_assert_gt(n, 500, "a real slice");
    cr_assert_eq(n, st.arrivals, "reader %" PRIu64 ", run %" PRIu64, n, st.arrivals);
    cr_assert_eq(n, sum.requests);
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
}

static uint64_t count_trace_requests(void)
{
    FILE *f = fopen(TWITTER_DAY0, "r");
    cr_assert_not_null(f);
    unsigned long long n, total = 0;
    for (int i = 0; i < 3600 && fscanf(f, "%llu", &n) == 1; i++)
        total += n;
    fclose(f);
    return total;
}

Test(sim_engine, conservation_and_the_oracle_lower_bound, .timeout = 300)
{
    static const char *const policies[] = {"oracle",   "clairvoyant", "mark",
                                           "reactive", "static",      "faas-only"};
    double oracle_cost = 0;
    int compared = 0;
    uint64_t expected = count_trace_requests();
    for (size_t p = 0; p < SW_ARRAY_LEN(policies); p++) {
        sw_cfg_t *cfg = twitter_slice(policies[p], "1", "3600");
        sw_sched_summary_t sum;
        sw_sim_stats_t st;
        sw_sim_t *sim;
        run(cfg, NULL, &sum, &st, &sim);
        cr_log_info("%-9s requests %llu attainment %.4f cost $%.4f (vm %.4f faas %.4f)",
                    policies[p], (unsigned long long)sum.requests, sum.slo_attainment,
                    sum.cost.total_usd, sum.cost.vm_usd, sum.cost.faas_usd);
        cr_assert_eq(st.arrivals, expected, "%s: the trace's hour holds %llu requests",
                     policies[p], (unsigned long long)expected);
        cr_assert_eq(sum.requests, st.arrivals, "%s: every arrival answered", policies[p]);
        cr_assert_eq(sum.requests, sum.served_vm + sum.served_faas + sum.rejected);
        double by_type = 0;
        for (unsigned t = 0; t < cfg->instance_types_count; t++)
            by_type += sum.cost.vm_by_type_usd[t];
        cr_assert_float_eq(by_type, sum.cost.vm_usd, 1e-9);
        cr_assert_float_eq(sum.cost.total_usd, sum.cost.vm_usd + sum.cost.faas_usd, 1e-9);
        if (p == 0) {
            oracle_cost = sum.cost.total_usd;
            cr_assert_gt(oracle_cost, 0);
            cr_assert_geq(sum.slo_attainment, cfg->slo.target, "the yardstick meets the SLO");
        } else if (sum.slo_attainment >= cfg->slo.target) {
            cr_assert_leq(oracle_cost, sum.cost.total_usd, "oracle $%.4f above %s $%.4f",
                          oracle_cost, policies[p], sum.cost.total_usd);
            compared++;
        }
        sw_sim_destroy(sim);
        sw_cfg_destroy(cfg);
    }
    cr_assert_geq(compared, 1, "the bound was checked against at least one policy");
}

/* Issue 10: these valid settings made simulated time stop while events were created
 * without end (a throttled function call fell back to the queue, which spilled it to the
 * function again at the same instant). Each run must finish, answer every request once,
 * and stay within a bound on events per request and per simulated second. */
static void check_progress(const char *key, const char *value, const char *policy)
{
    sw_cfg_t *cfg = twitter_slice(policy, "1", "600");
    char err[4096];
    cr_assert_eq(sw_cfg_set(cfg, key, value, err, sizeof(err)), 0, "%s", err);
    sw_sched_summary_t sum;
    sw_sim_stats_t st;
    sw_sim_t *sim;
    run(cfg, NULL, &sum, &st, &sim);
    cr_assert_eq(sum.requests, st.arrivals, "%s=%s: every arrival answered once", key, value);
    cr_assert_eq(sum.served_vm + sum.served_faas + sum.rejected, st.arrivals);
    double sim_s = sw_time_to_s(st.end);
    cr_assert_leq((double)st.events, 3.0 * (double)st.arrivals + 20.0 * sim_s,
                  "%s=%s (%s): %llu events for %llu arrivals over %.0f s", key, value, policy,
                  (unsigned long long)st.events, (unsigned long long)st.arrivals, sim_s);
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
}

Test(sim_engine, a_throttled_function_cannot_stop_time, .timeout = 60)
{
    check_progress("faas.scale_out_per_minute", "10", "mark");
    check_progress("faas.scale_out_per_minute", "10", "faas-only");
    check_progress("faas.concurrency_limit", "1", "mark");
}

Test(sim_engine, cold_functions_everywhere_still_progress, .timeout = 60)
{
    check_progress("faas.keep_alive_s", "0", "mark");
}

Test(sim_engine, very_slow_functions_still_progress, .timeout = 60)
{
    check_progress("faas.warm_latency_ms.mean", "100000", "mark");
}

/* --lead: the same arrivals, each `lead` later, and the run paid until the window closes
 * that much later, as at a live server that was up before its load came. */
Test(sim_engine, a_lead_delays_every_arrival_and_the_end_of_the_run, .timeout = 60)
{
    sw_cfg_t *cfg = twitter_slice("static", "5", "30");
    sw_sim_opts_t o0 = {0}, o1 = {.lead = 1500000};
    sw_sim_t *s0, *s1;
    char err[4096];
    cr_assert_eq(sw_sim_create(&s0, cfg, &o0, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_create(&s1, cfg, &o1, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(s0, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(s1, err, sizeof(err)), 0, "%s", err);
    sw_sim_stats_t a, b;
    sw_sim_stats(s0, &a);
    sw_sim_stats(s1, &b);
    cr_assert_gt(a.arrivals, 500, "a real slice");
    cr_assert_eq(a.arrivals, b.arrivals);
    cr_assert_eq(b.end - a.end, 1500000, "ends %" PRId64 " and %" PRId64 " us", a.end, b.end);
    sw_sim_destroy(s0);
    sw_sim_destroy(s1);
    sw_cfg_destroy(cfg);
}
