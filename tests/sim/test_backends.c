/* The simulated backends through whole runs on tiny timestamp traces: a function's cold
 * start, warm reuse, keep-alive expiry, the concurrency limit and the scale-out rate;
 * and spot VMs that get their notice, are replaced, and lose nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"

static char trace_path[64];

static void write_trace(const char *rows)
{
    strcpy(trace_path, "/tmp/sw_trace_XXXXXX");
    int fd = mkstemp(trace_path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "TIMESTAMP\n%s", rows);
    fclose(f);
}

static void faas_run(const char *faas_yaml, const char *rows, sw_sched_summary_t *sum)
{
    write_trace(rows);
    char yaml[2048], err[4096];
    snprintf(yaml, sizeof(yaml),
             "policy: {name: faas-only}\n"
             "faas:\n"
             "  warm_latency_ms: {dist: constant, mean: 100}\n"
             "  cold_start_ms: {dist: constant, mean: 1000}\n"
             "%s"
             "trace: {path: %s, format: timestamps}\n",
             faas_yaml, trace_path);
    sw_cfg_t *cfg;
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)), 0,
                 "%s", err);
    sw_sim_opts_t opts = {0};
    sw_sim_t *sim;
    cr_assert_eq(sw_sim_create(&sim, cfg, &opts, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(sim, err, sizeof(err)), 0, "%s", err);
    sw_sim_summary(sim, sum);
    cr_assert_eq(sum->requests, sum->served_faas + sum->rejected);
    /* The histogram is owned by the run; the tests only read counters after this. */
    sum->latency = NULL;
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
    remove(trace_path);
}

Test(sim_faas, concurrency_limit_throttles_the_third_simultaneous_call)
{
    sw_sched_summary_t s;
    faas_run("  concurrency_limit: 2\n", "0\n0\n0\n", &s);
    cr_assert_eq(s.cold_starts, 2);
    cr_assert_eq(s.throttled, 1);
    cr_assert_eq(s.served_faas, 2);
    cr_assert_eq(s.rejected, 1, "faas-only has no VM to fall back on");
}

Test(sim_faas, warm_environment_is_reused_until_keep_alive_expires)
{
    sw_sched_summary_t s;
    /* 0 s: cold, idle from 1.1 s; 5 s: warm, idle from 5.1 s; 20 s: reclaimed at 15.1 s,
     * so cold again. */
    faas_run("  keep_alive_s: 10\n", "0\n5\n20\n", &s);
    cr_assert_eq(s.served_faas, 3);
    cr_assert_eq(s.cold_starts, 2);
}

Test(sim_faas, a_busy_environment_is_not_reused)
{
    sw_sched_summary_t s;
    faas_run("", "0\n0.5\n", &s);
    cr_assert_eq(s.cold_starts, 2, "the first call still runs at 0.5 s");
}

Test(sim_faas, scale_out_rate_limits_new_environments)
{
    sw_sched_summary_t s;
    faas_run("  scale_out_per_minute: 1\n", "0\n0\n61\n", &s);
    cr_assert_eq(s.cold_starts, 1, "one new environment per minute");
    cr_assert_eq(s.throttled, 1);
    cr_assert_eq(s.served_faas, 2, "after a minute the warm one serves the third call");
}

Test(sim_faas, cold_start_counts_in_latency_and_bill)
{
    write_trace("0\n");
    char yaml[1024], err[4096];
    snprintf(yaml, sizeof(yaml),
             "policy: {name: faas-only}\n"
             "faas: {memory_mb: 1024, billing_granularity_ms: 1, bill_cold_start: true,\n"
             "       warm_latency_ms: {dist: constant, mean: 100},\n"
             "       cold_start_ms: {dist: constant, mean: 1000}}\n"
             "trace: {path: %s, format: timestamps}\n",
             trace_path);
    sw_cfg_t *cfg;
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "t.yaml", &cfg, err, sizeof(err)), 0,
                 "%s", err);
    sw_sim_opts_t opts = {0};
    sw_sim_t *sim;
    cr_assert_eq(sw_sim_create(&sim, cfg, &opts, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(sim, err, sizeof(err)), 0, "%s", err);
    sw_sched_summary_t s;
    sw_sim_summary(sim, &s);
    cr_assert_eq(s.latency->max_us, 1100 * SW_US_PER_MS);
    cr_assert_float_eq(s.cost.faas_gb_s, 1.1, 1e-9);
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
    remove(trace_path);
}

static void spot_run(const char *rate, const char *boot_s, sw_sched_summary_t *s,
                     sw_sim_stats_t *st, char **log)
{
    sw_cfg_t *cfg;
    char err[4096];
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/example.yaml", &cfg, err, sizeof(err)), 0,
                 "%s", err);
    const char *const sets[][2] = {
        {"trace.duration_s", "7200"},
        {"policy.name", "static"},
        {"instance_types[4].spot.enabled", "true"},
        {"instance_types[4].spot.interruptions_per_hour", rate},
        {"instance_types[4].boot_s.dist", "constant"},
        {"instance_types[4].boot_s.mean", boot_s},
        /* A VM interrupted within two minutes of boot gets its notice at once and may be
         * lost before its replacement is ready; this seed draws no such life. */
        {"seed", "1"},
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(sets); i++)
        cr_assert_eq(sw_cfg_set(cfg, sets[i][0], sets[i][1], err, sizeof(err)), 0, "%s", err);
    size_t len = 0;
    FILE *mem = open_memstream(log, &len);
    sw_sim_opts_t opts = {.decisions_file = mem};
    sw_sim_t *sim;
    cr_assert_eq(sw_sim_create(&sim, cfg, &opts, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(sim, err, sizeof(err)), 0, "%s", err);
    fclose(mem);
    sw_sim_summary(sim, s);
    sw_sim_stats(sim, st);
    s->latency = NULL;
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);
}

Test(sim_spot, notice_starts_a_replacement_and_the_doomed_vm_serves_until_it_is_ready,
     .timeout = 120)
{
    sw_sched_summary_t s, ref;
    sw_sim_stats_t st;
    char *log = NULL;
    spot_run("2", "90", &s, &st, &log);
    cr_assert_gt(s.vm_interrupted, 0, "two VMs at 2 interruptions/hour for 2 hours");
    cr_assert_eq(s.vm_lost, 0, "a 90 s boot fits in the 120 s notice: nothing is lost");
    cr_assert_not_null(strstr(log, "\"reason\":\"spot_replacement\""));
    cr_assert_not_null(strstr(log, "\"action\":\"terminate\",\"reason\":\"spot_notice\""));
    cr_assert_eq(s.requests, st.arrivals, "every arrival answered once");
    cr_assert_eq(s.requests, s.served_vm + s.served_faas + s.rejected);
    free(log);
    /* Without interruptions the pool rejects about as many (at its peaks): the notices
     * cost no capacity. Service-time draws differ between the runs, hence the tolerance. */
    spot_run("0", "90", &ref, &st, &log);
    cr_assert_eq(ref.vm_interrupted, 0);
    double diff = (double)s.rejected - (double)ref.rejected;
    cr_assert_lt(diff, 0.005 * (double)s.requests, "rejected %llu vs %llu without notices",
                 (unsigned long long)s.rejected, (unsigned long long)ref.rejected);
    free(log);
    /* Spot price is 0.35 x on-demand: far below two on-demand p2.xlarge for two hours. */
    cr_assert_lt(s.cost.vm_usd, 2 * 2 * 0.9 * 0.6);
}

Test(sim_spot, a_vm_lost_before_its_replacement_is_ready_loses_no_request, .timeout = 120)
{
    sw_sched_summary_t s;
    sw_sim_stats_t st;
    char *log = NULL;
    spot_run("2", "200", &s, &st, &log);
    cr_assert_gt(s.vm_lost, 0, "a 200 s boot outlasts the 120 s notice");
    cr_assert_eq(s.requests, st.arrivals, "its batch was re-routed, every arrival answered");
    cr_assert_eq(s.requests, s.served_vm + s.served_faas + s.rejected);
    free(log);
}
