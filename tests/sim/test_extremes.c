/* Issue 10: values that pass validation must also work. Every numeric key of the policy
 * file is set, in turn, to each end of its documented range on the example policy, and a
 * five-minute window of the Twitter trace is simulated: each run must finish, answer every
 * request exactly once, and stay within a bound on events per request and simulated
 * second (a run that spins without end is caught by the engine's own watchdog too). The
 * keys come from the config's table, so a new key is covered without touching this. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"

#define TWITTER_DAY0 SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_day00_per_second.txt"

/* Keys a simulation does not read (serve's, the live Invoke client's, faas-local's) or
 * whose extremes only change how much trace is read (bounded by the trace limits). */
static bool skipped(const char *path)
{
    static const char *const prefixes[] = {"serve.", "faas.invoke.", "faas.local.", "trace.",
                                           "seed"};
    for (size_t i = 0; i < SW_ARRAY_LEN(prefixes); i++)
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* The concrete path to set: the first entry of a list. */
static void concrete(const char *pattern, char *out, size_t len)
{
    size_t n = 0;
    for (const char *c = pattern; *c && n + 4 < len; c++) {
        if (c[0] == '[' && c[1] == ']') {
            memcpy(out + n, "[0]", 3);
            n += 3;
            c++;
        } else {
            out[n++] = *c;
        }
    }
    out[n] = '\0';
}

typedef struct outcome {
    unsigned ran, refused;
} outcome_t;

static void run_one(const char *key, double value, outcome_t *o)
{
    sw_cfg_t *cfg;
    char err[4096], text[64];
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/example.yaml", &cfg, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "trace.path", TWITTER_DAY0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "trace.duration_s", "300", err, sizeof err), 0, "%s", err);
    snprintf(text, sizeof text, "%.17g", value);
    if (sw_cfg_set(cfg, key, text, err, sizeof err) != 0) {
        o->refused++; /* in range, but against a rule between keys: named, and fine */
        sw_cfg_destroy(cfg);
        return;
    }
    sw_sim_opts_t opts = {0};
    sw_sim_t *sim;
    int rc = sw_sim_create(&sim, cfg, &opts, err, sizeof err);
    if (rc == 0) {
        rc = sw_sim_run(sim, err, sizeof err);
        cr_assert_eq(rc, 0, "%s = %s: %s", key, text, err);
        sw_sched_summary_t sum;
        sw_sim_stats_t st;
        sw_sim_summary(sim, &sum);
        sw_sim_stats(sim, &st);
        cr_assert_eq(sum.requests, st.arrivals, "%s = %s: every arrival answered once", key, text);
        double sim_s = sw_time_to_s(st.end);
        cr_assert_leq((double)st.events, 4.0 * (double)st.arrivals + 50.0 * sim_s + 1e5,
                      "%s = %s: %llu events for %llu arrivals over %.0f s", key, text,
                      (unsigned long long)st.events, (unsigned long long)st.arrivals, sim_s);
        cr_assert(isfinite(sum.cost.total_usd) && sum.cost.total_usd >= 0, "%s = %s", key, text);
        sw_sim_destroy(sim);
        o->ran++;
    } else {
        /* Refused up front (a forecaster that needs a fit, say) with a message. */
        cr_assert_neq(err[0], '\0', "%s = %s", key, text);
        o->refused++;
    }
    sw_cfg_destroy(cfg);
}

Test(sim_extremes, every_numeric_key_at_each_end_of_its_range_runs_to_the_end, .timeout = 600)
{
    outcome_t o = {0};
    unsigned keys = 0;
    for (size_t i = 0; i < sw_cfg_key_count(); i++) {
        const sw_cfg_key_info_t *k = sw_cfg_key_at(i);
        if ((k->type != SW_CFG_KEY_NUMBER && k->type != SW_CFG_KEY_UINT) || !k->has_range ||
            skipped(k->path))
            continue;
        char key[256];
        concrete(k->path, key, sizeof key);
        keys++;
        run_one(key, k->min, &o);
        run_one(key, k->max, &o);
    }
    cr_log_info("sim_extremes: %u keys x 2 ends: %u simulated to the end, %u refused by a rule "
                "between keys",
                keys, o.ran, o.refused);
    fprintf(stderr, "sim_extremes: %u keys x 2 ends: %u simulated to the end, %u refused by a "
                    "rule between keys\n", keys, o.ran, o.refused);
    cr_assert_gt(o.ran, keys);
}
