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

#include "common/file.h"
#include "common/strbuf.h"
#include "sim/sim.h"
#include "sim/synth.h"

#define SECONDS 43200.0 /* half a day: the sine's period, the step at its middle */
#define SLACK 1.02
#define MIX_MAX_BASE 3

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

/* The example policy with a static pool of two entries (--set cannot add one). */
static sw_cfg_t *two_entry_pool(const char *trace_path)
{
    char *text = NULL, err[8192];
    size_t len = 0;
    cr_assert_eq(sw_file_read_all(SW_SOURCE_DIR "/config/example.yaml", 1 << 20, "policy file",
                                  &text, &len, err, sizeof(err)),
                 0, "%s", err);
    static const char one[] = "      - type: p2.xlarge\n        # In [1, 10000]. Required.\n"
                              "        count: 2\n";
    char *at = strstr(text, one);
    cr_assert_not_null(at, "config/example.yaml's static pool moved; update this test");
    sw_strbuf_t b = {0};
    sw_strbuf_putn(&b, text, (size_t)(at - text));
    sw_strbuf_puts(&b, "      - {type: p2.xlarge, count: 1}\n      - {type: p2.xlarge, count: 1}\n");
    sw_strbuf_puts(&b, at + strlen(one));
    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load_string(b.p, b.len, "example-two-pools.yaml", &cfg, err, sizeof(err)),
                 0, "%s", err);
    sw_strbuf_free(&b, false);
    sw_free(text);
    set(cfg, "trace.path", trace_path);
    set(cfg, "trace.format", "counts-per-second");
    set(cfg, "policy.name", "static");
    return cfg;
}

static unsigned cheapest_by_the_hour(const sw_cfg_t *cfg)
{
    unsigned best = 0;
    for (unsigned t = 1; t < cfg->instance_types_count; t++)
        if (cfg->instance_types[t].price_per_hour_usd < cfg->instance_types[best].price_per_hour_usd)
            best = t;
    return best;
}

/* No pool of k VMs of an expensive type topped up with small ones costs under `bar` and
 * meets the SLO. */
static void no_mixed_pool_under(const char *shape, const char *trace_path, double bar)
{
    sw_cfg_t *cfg = two_entry_pool(trace_path);
    unsigned small = cheapest_by_the_hour(cfg);
    double per_small = cfg->instance_types[small].price_per_hour_usd * SECONDS / 3600.0;
    for (unsigned t = 0; t < cfg->instance_types_count; t++) {
        double per_vm = cfg->instance_types[t].price_per_hour_usd * SECONDS / 3600.0;
        double most = ceil(bar / per_vm) - 1;
        if (t == small || most < 1 || most > MIX_MAX_BASE)
            continue;
        for (unsigned k = 1; k <= (unsigned)most; k++) {
            double m = ceil((bar - k * per_vm) / per_small) - 1;
            if (m < 1)
                continue;
            char kc[32], mc[32];
            snprintf(kc, sizeof(kc), "%u", k);
            snprintf(mc, sizeof(mc), "%.0f", m);
            set(cfg, "policy.static.pool[0].type", cfg->instance_types[t].name);
            set(cfg, "policy.static.pool[0].count", kc);
            set(cfg, "policy.static.pool[1].type", cfg->instance_types[small].name);
            set(cfg, "policy.static.pool[1].count", mc);
            outcome_t st = simulate(cfg);
            cr_assert(!st.met, "%s: mark > %.2f x static %s x %s + %s x %s $%.3f, which meets the SLO",
                      shape, SLACK, kc, cfg->instance_types[t].name, mc,
                      cfg->instance_types[small].name, st.usd);
        }
    }
    sw_cfg_destroy(cfg);
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
    no_mixed_pool_under(shape, cfg->trace.path, bar);
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
