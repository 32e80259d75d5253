/* mark must never cost more than the simple answers (issue 14): on each synthetic shape,
 * with the example policy, mark meets the SLO and costs at most 1.02x the cheaper of
 * `faas-only` and any single-type `static` pool that meets the SLO.
 *
 * No search for the best static pool is needed: a static pool's cost is its count x price
 * x the run's length, and more VMs of a type never meet the SLO less. So for each type the
 * test runs the largest pool that would cost less than mark / 1.02; if even that one meets
 * the SLO, a static pool beat mark. (Pools that mix types are the bench's business:
 * bench/baselines.py tries them, bench/README.md has its table.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "sim/synth.h"

#define SECONDS 43200.0 /* half a day: the sine's period, the step at its middle */
#define SLACK 1.02

typedef struct outcome {
    double usd;
    bool met;
} outcome_t;

static void set(sw_cfg_t *cfg, const char *key, const char *value)
{
    char err[4096];
    cr_assert_eq(sw_cfg_set(cfg, key, value, err, sizeof(err)), 0, "%s=%s: %s", key, value, err);
}

static outcome_t simulate(sw_cfg_t *cfg)
{
    sw_sim_opts_t opts = {0};
    sw_sim_t *sim;
    char err[4096];
    cr_assert_eq(sw_sim_create(&sim, cfg, &opts, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(sim, err, sizeof(err)), 0, "%s", err);
    sw_sched_summary_t sum;
    sw_sim_summary(sim, &sum);
    outcome_t o = {.usd = sum.cost.total_usd,
                   .met = sum.requests > 0 && sum.slo_attainment >= cfg->slo.target};
    sw_sim_destroy(sim);
    return o;
}

/* The example policy replaying `shape` from a file in a fresh folder. */
static sw_cfg_t *setup(const char *shape, char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "/tmp/sw_never_worse.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.txt", dir, shape);
    sw_synth_t spec;
    cr_assert_eq(sw_synth_preset(shape, SECONDS, 1, &spec), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(sw_synth_write(f, &spec), 0);
    cr_assert_eq(fclose(f), 0);
    sw_cfg_t *cfg = NULL;
    char err[8192];
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/example.yaml", &cfg, err, sizeof(err)), 0, "%s",
                 err);
    set(cfg, "trace.path", path);
    set(cfg, "trace.format", "counts-per-second");
    return cfg;
}

static void teardown(char *dir, const char *shape)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.txt", dir, shape);
    unlink(path);
    rmdir(dir);
}

static void mark_never_worse(const char *shape)
{
    char dir[64];
    sw_cfg_t *cfg = setup(shape, dir, sizeof(dir));
    set(cfg, "policy.name", "mark");
    outcome_t mark = simulate(cfg);
    cr_assert(mark.met, "%s: mark misses the SLO", shape);
    double bar = mark.usd / SLACK; /* a simple answer below this beats mark */

    set(cfg, "policy.name", "faas-only");
    outcome_t faas = simulate(cfg);
    cr_assert(!faas.met || faas.usd >= bar, "%s: mark $%.3f > %.2f x faas-only $%.3f", shape,
              mark.usd, SLACK, faas.usd);

    set(cfg, "policy.name", "static");
    for (unsigned t = 0; t < cfg->instance_types_count; t++) {
        double per_vm = cfg->instance_types[t].price_per_hour_usd * SECONDS / 3600.0;
        double n = ceil(bar / per_vm) - 1; /* the most that still costs less than bar */
        if (n < 1)
            continue;
        char count[32];
        snprintf(count, sizeof(count), "%.0f", n);
        set(cfg, "policy.static.pool[0].type", cfg->instance_types[t].name);
        set(cfg, "policy.static.pool[0].count", count);
        outcome_t st = simulate(cfg);
        cr_assert(!st.met, "%s: mark $%.3f > %.2f x static %s x %s $%.3f, which meets the SLO",
                  shape, mark.usd, SLACK, count, cfg->instance_types[t].name, st.usd);
    }
    sw_cfg_destroy(cfg);
    teardown(dir, shape);
}

Test(sim_never_worse, flat_low, .timeout = 300)
{
    mark_never_worse("flat-low");
}
Test(sim_never_worse, flat_high, .timeout = 300)
{
    mark_never_worse("flat-high");
}
Test(sim_never_worse, sine, .timeout = 300)
{
    mark_never_worse("sine");
}
Test(sim_never_worse, sine_bursts, .timeout = 300)
{
    mark_never_worse("sine-bursts");
}
Test(sim_never_worse, step, .timeout = 300)
{
    mark_never_worse("step");
}
