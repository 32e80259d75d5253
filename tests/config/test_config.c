/* Tests of config/: loading config/example.yaml, defaults for absent keys, the print ->
 * load round trip, sw_cfg_set, and the exact text of each class of error message
 * (FILE:LINE: key.path: message). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config/config.h"
#include "config/config_internal.h"

#define EXAMPLE SW_SOURCE_DIR "/config/example.yaml"

static char err[4096];

static sw_cfg_t *load_ok(const char *yaml)
{
    sw_cfg_t *cfg = NULL;
    int rc = sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, err, sizeof err);
    cr_assert_eq(rc, 0, "load failed: %s", err);
    cr_assert_not_null(cfg);
    return cfg;
}

/* Loads a config that must be rejected; returns the message. */
static const char *load_bad(const char *yaml)
{
    sw_cfg_t *cfg = (sw_cfg_t *)1;
    int rc = sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, err, sizeof err);
    cr_assert_eq(rc, SW_ECONFIG, "expected SW_ECONFIG, got %d", rc);
    cr_assert_null(cfg);
    return err;
}

static char *print_to_string(const sw_cfg_t *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    sw_cfg_print(cfg, f);
    fclose(f);
    return buf;
}

/* One valid instance type, for error tests that vary one thing. */
#define ONE_TYPE                                                                                   \
    "instance_types:\n"                                                                            \
    "  - name: small\n"                                                                            \
    "    price_per_hour_usd: 0.1\n"                                                                \
    "    max_batch: 2\n"                                                                           \
    "    batch_latency_ms: [50, 80]\n"

/* ---- Loading -------------------------------------------------------------------------- */

Test(config_load, example_resolves)
{
    sw_cfg_t *cfg = NULL;
    int rc = sw_cfg_load(EXAMPLE, &cfg, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);

    cr_assert_eq(cfg->instance_types_count, 5);
    int p2 = sw_cfg_find_type(cfg, "p2.xlarge");
    cr_assert_eq(p2, 4);
    const sw_cfg_instance_type_t *t = &cfg->instance_types[p2];
    cr_assert_eq(t->max_batch, 16);
    cr_assert_eq(t->batch_latency_ms_count, 16);
    cr_assert_float_eq(t->batch_latency_ms[15], 240.0, 1e-9);
    cr_assert_float_eq(t->price_per_hour_usd, 0.90, 1e-12);
    cr_assert_eq(t->boot_s.dist, SW_DIST_LOGNORMAL);
    cr_assert_float_eq(t->boot_s.mean, 90.0, 1e-12);
    cr_assert_float_eq(cfg->instance_types[0].price_per_hour_usd, 0.085, 1e-12);
    cr_assert_str_eq(cfg->instance_types[0].name, "c5.large");

    cr_assert_eq(cfg->faas.memory_mb, 3008);
    cr_assert_float_eq(cfg->faas.price_per_gb_s_usd, 0.0000166667, 1e-15);
    cr_assert_float_eq(cfg->slo.latency_ms, 600.0, 1e-12);
    cr_assert_float_eq(cfg->slo.target, 0.98, 1e-12);
    cr_assert_float_eq(cfg->faas.warm_latency_ms.mean, 380.0, 1e-12);
    cr_assert_eq(cfg->policy.name, SW_POLICY_MARK);
    cr_assert_str_eq(cfg->predictor.name, "recent-max");
    cr_assert_null(cfg->predictor.model_path);
    cr_assert_float_eq(cfg->predictor.season_s, 86400.0, 1e-12);
    cr_assert_eq(cfg->predictor.lstm.hidden, 32);
    cr_assert_eq(cfg->predictor.lstm.window, 60);
    cr_assert_str_eq(cfg->source_path, EXAMPLE);

    /* Relative to config/, resolved to an absolute path that exists. */
    cr_assert_eq(cfg->trace.path[0], '/', "not absolute: %s", cfg->trace.path);
    cr_assert_eq(access(cfg->trace.path, R_OK), 0, "missing trace: %s", cfg->trace.path);
    cr_assert_not_null(strstr(cfg->trace.path, "twitter_day00_per_second.txt"));
    cr_assert_eq(cfg->trace.format, SW_TRACE_COUNTS_PER_SECOND);
    sw_cfg_destroy(cfg);
}

/* The second example keeps the pre-issue-14 setting: a 200 ms SLO with the 120 ms function
 * and the halved batch profiles it needs, all assumptions (its header says so). */
Test(config_load, second_example_is_the_200ms_setting)
{
    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/example-200ms.yaml", &cfg, err, sizeof err), 0,
                 "%s", err);
    cr_assert_float_eq(cfg->slo.latency_ms, 200.0, 1e-12);
    cr_assert_float_eq(cfg->faas.warm_latency_ms.mean, 120.0, 1e-12);
    cr_assert_eq(cfg->instance_types_count, 5);
    cr_assert_float_eq(cfg->instance_types[0].batch_latency_ms[0], 105.0, 1e-12);
    cr_assert_float_eq(cfg->instance_types[4].batch_latency_ms[15], 120.0, 1e-12);
    cr_assert_str_eq(cfg->policy.static_pool.pool[0].type, "p2.xlarge");
    sw_cfg_destroy(cfg);
}

Test(config_load, minimal_yaml_gets_all_defaults)
{
    sw_cfg_t *cfg = load_ok("seed: 7\n");
    cr_assert_eq(cfg->seed, 7);
    cr_assert_float_eq(cfg->slo.latency_ms, 600.0, 1e-12);
    cr_assert_float_eq(cfg->slo.target, 0.98, 1e-12);
    cr_assert_float_eq(cfg->billing.vm_granularity_s, 1.0, 1e-12);
    cr_assert_float_eq(cfg->billing.vm_minimum_s, 60.0, 1e-12);

    /* The default types are the example's five. */
    cr_assert_eq(cfg->instance_types_count, 5);
    cr_assert_str_eq(cfg->instance_types[0].name, "c5.large");
    cr_assert_str_eq(cfg->instance_types[4].name, "p2.xlarge");
    cr_assert_float_eq(cfg->instance_types[4].batch_latency_ms[0], 60.0, 1e-12);
    cr_assert_eq(cfg->instance_types[1].spot.enabled, false);
    cr_assert_float_eq(cfg->instance_types[1].spot.price_factor, 0.35, 1e-12);
    cr_assert_float_eq(cfg->instance_types[1].spot.notice_s, 120.0, 1e-12);
    cr_assert_float_eq(cfg->instance_types[1].boot_s.cv, 0.25, 1e-12);

    const sw_cfg_faas_t *f = &cfg->faas;
    cr_assert(f->enabled);
    cr_assert_eq(f->memory_mb, 3008);
    cr_assert_float_eq(f->price_per_million_requests_usd, 0.20, 1e-12);
    cr_assert_float_eq(f->billing_granularity_ms, 1.0, 1e-12);
    cr_assert_eq(f->warm_latency_ms.dist, SW_DIST_LOGNORMAL);
    cr_assert_float_eq(f->warm_latency_ms.mean, 380.0, 1e-12);
    cr_assert_float_eq(f->cold_start_ms.mean, 2500.0, 1e-12);
    cr_assert_float_eq(f->cold_start_ms.cv, 0.3, 1e-12);
    cr_assert(f->bill_cold_start);
    cr_assert_float_eq(f->keep_alive_s, 600.0, 1e-12);
    cr_assert_eq(f->concurrency_limit, 1000);
    cr_assert_float_eq(f->scale_out_per_minute, 500.0, 1e-12);
    cr_assert_not(f->free_tier.enabled);
    cr_assert_float_eq(f->free_tier.requests, 1e6, 1e-6);
    cr_assert_float_eq(f->free_tier.gb_s, 4e5, 1e-6);

    const sw_cfg_policy_t *p = &cfg->policy;
    cr_assert_eq(p->name, SW_POLICY_MARK);
    cr_assert_float_eq(p->interval_s, 60.0, 1e-12);
    cr_assert_float_eq(p->max_queue_delay_ms, 2000.0, 1e-12);
    cr_assert_float_eq(p->dispatch_margin_ms, 5.0, 1e-12);
    cr_assert_eq(p->static_pool.pool_count, 1);
    cr_assert_str_eq(p->static_pool.pool[0].type, "c5.large");
    cr_assert_eq(p->static_pool.pool[0].count, 2);
    cr_assert_str_eq(p->reactive.instance_type, "c5.large");
    cr_assert_float_eq(p->reactive.scale_in_cooldown_s, 300.0, 1e-12);
    cr_assert_eq(p->reactive.min_instances, 1);
    cr_assert_eq(p->mark.horizon_intervals, 5);
    cr_assert_float_eq(p->mark.target_utilization, 0.95, 1e-12);
    cr_assert_float_eq(p->mark.violation_budget, 0.02, 1e-12);
    cr_assert(p->mark.spill);

    cr_assert_str_eq(cfg->predictor.name, "recent-max");
    cr_assert_eq(cfg->predictor.window_intervals, 10);
    cr_assert_float_eq(cfg->predictor.headroom, 1.2, 1e-12);
    cr_assert_float_eq(cfg->predictor.quantile, 0.95, 1e-12);
    cr_assert_null(cfg->predictor.model_path);

    cr_assert_eq(access(cfg->trace.path, R_OK), 0, "default trace: %s", cfg->trace.path);
    cr_assert_eq(cfg->trace.format, SW_TRACE_AUTO);
    cr_assert_str_eq(cfg->trace.timestamp_column, "TIMESTAMP");
    cr_assert_float_eq(cfg->trace.rate_scale, 1.0, 1e-12);
    cr_assert_null(cfg->source_path);
    sw_cfg_destroy(cfg);
}

/* The default types are a data file beside the example, itself a valid policy file:
 * a policy without instance_types gets exactly its list. */
Test(config_load, default_types_come_from_instance_types_yaml)
{
    sw_cfg_t *types = NULL;
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/instance-types.yaml", &types, err, sizeof err),
                 0, "%s", err);
    sw_cfg_t *dflt = load_ok("");
    cr_assert(sw_cfg_equal(types, dflt));
    cr_assert_eq(dflt->instance_types_count, 5);
    cr_assert_float_eq(dflt->instance_types[4].price_per_hour_usd, 0.90, 1e-12);
    cr_assert_eq(dflt->instance_types[0].service_variation.dist, SW_DIST_LOGNORMAL);
    sw_cfg_destroy(types);
    sw_cfg_destroy(dflt);
}

Test(config_load, predictor_section_defaults)
{
    sw_cfg_t *cfg = load_ok("seed: 9\n");
    const sw_cfg_predictor_t *pr = &cfg->predictor;
    cr_assert_float_eq(pr->season_s, 86400.0, 1e-12);
    cr_assert_float_eq(pr->holdout_frac, 0.4, 1e-12);
    cr_assert_not(pr->calendar);
    cr_assert_float_eq(pr->ewma_alpha, 0.0, 1e-12);
    cr_assert_eq(pr->ar_order, 60);
    cr_assert_eq(pr->seed, 0);
    cr_assert_eq(sw_cfg_predictor_seed(cfg), 9);
    cr_assert_eq(pr->gaps.min_run, 20);
    cr_assert_float_eq(pr->gaps.min_level, 10.0, 1e-12);
    cr_assert_eq(pr->gaps.context, 60);
    cr_assert_eq(pr->lstm.hidden, 32);
    cr_assert_eq(pr->lstm.window, 60);
    cr_assert_eq(pr->lstm.epochs, 0);
    cr_assert_float_eq(pr->lstm.learning_rate, 0.003, 1e-15);
    cr_assert_eq(pr->lstm.batch, 64);
    sw_cfg_destroy(cfg);

    /* Given keys are kept; their siblings still default. */
    cfg = load_ok("predictor:\n"
                  "  name: lstm\n"
                  "  seed: 5\n"
                  "  calendar: true\n"
                  "  gaps: {min_run: 0}\n"
                  "  lstm: {hidden: 8, epochs: 3}\n");
    pr = &cfg->predictor;
    cr_assert_str_eq(pr->name, "lstm");
    cr_assert_eq(sw_cfg_predictor_seed(cfg), 5);
    cr_assert(pr->calendar);
    cr_assert_eq(pr->gaps.min_run, 0);
    cr_assert_eq(pr->gaps.context, 60);
    cr_assert_eq(pr->lstm.hidden, 8);
    cr_assert_eq(pr->lstm.epochs, 3);
    cr_assert_eq(pr->lstm.window, 60);
    sw_cfg_destroy(cfg);
}

Test(config_load, predictor_keys_print_and_set)
{
    sw_cfg_t *a = load_ok("policy:\n  interval_s: 30\n"
                          "predictor:\n  name: holt-winters\n  season_s: 3600\n"
                          "  ewma_alpha: 0.3\n  lstm: {learning_rate: 0.0001}\n");
    char *text = print_to_string(a);
    cr_assert_not_null(strstr(text, "  gaps:\n    min_run: 20\n    min_level: 10\n"), "%s", text);
    cr_assert_not_null(strstr(text, "    learning_rate: 0.0001\n"), "%s", text);
    sw_cfg_t *b = NULL;
    int rc = sw_cfg_load_string(text, strlen(text), "printed.yaml", &b, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, text);
    cr_assert(sw_cfg_equal(a, b), "%s", text);

    cr_assert_eq(sw_cfg_set(b, "predictor.lstm.hidden", "64", err, sizeof err), 0, "%s", err);
    cr_assert_eq(b->predictor.lstm.hidden, 64);
    cr_assert_not(sw_cfg_equal(a, b));
    cr_assert_eq(sw_cfg_set(b, "predictor.gaps.min_level", "2.5", err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(b->predictor.gaps.min_level, 2.5, 1e-12);
    cr_assert_eq(sw_cfg_set(b, "predictor.calendar", "true", err, sizeof err), 0, "%s", err);
    cr_assert(b->predictor.calendar);
    cr_assert_eq(sw_cfg_set(b, "predictor.name", "ar", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(b->predictor.name, "ar");
    cr_assert_eq(sw_cfg_set(b, "predictor.lstm.hidden", "300", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "printed.yaml: predictor.lstm.hidden: must be in [1, 256]");
    cr_assert_eq(b->predictor.lstm.hidden, 64);
    free(text);
    sw_cfg_destroy(a);
    sw_cfg_destroy(b);
}

Test(config_load, empty_file_is_all_defaults)
{
    sw_cfg_t *a = load_ok("");
    sw_cfg_t *b = load_ok("# nothing but a comment\n");
    cr_assert_eq(a->seed, 1);
    cr_assert(sw_cfg_equal(a, b));
    sw_cfg_destroy(a);
    sw_cfg_destroy(b);
}

Test(config_load, given_types_default_their_other_keys_and_the_policies)
{
    sw_cfg_t *cfg = load_ok("instance_types:\n"
                            "  - name: a\n"
                            "    price_per_hour_usd: 0.1\n"
                            "    max_batch: 1\n"
                            "    batch_latency_ms: [50]\n"
                            "    boot_s: {mean: 30}\n"
                            "    service_variation: {dist: exponential}\n"
                            "  - name: b\n"
                            "    price_per_hour_usd: 0.2\n"
                            "    max_batch: 1\n"
                            "    batch_latency_ms: [40]\n"
                            "    boot_s: {dist: uniform, min: 10, max: 20}\n");
    const sw_cfg_instance_type_t *a = &cfg->instance_types[0];
    cr_assert_eq(a->boot_s.dist, SW_DIST_LOGNORMAL);
    cr_assert_float_eq(a->boot_s.mean, 30.0, 1e-12);
    cr_assert_float_eq(a->boot_s.cv, 0.25, 1e-12);
    cr_assert_eq(a->service_variation.dist, SW_DIST_EXPONENTIAL);
    cr_assert_float_eq(a->service_variation.mean, 1.0, 1e-12);
    cr_assert_float_eq(a->service_variation.cv, 0.0, 1e-12);
    cr_assert_eq(a->max_instances, 0);
    const sw_cfg_dist_t *ub = &cfg->instance_types[1].boot_s;
    cr_assert_float_eq(sw_cfg_dist_mean(ub), 15.0, 1e-12);
    cr_assert_float_eq(ub->mean, 15.0, 1e-12);
    cr_assert_str_eq(cfg->policy.reactive.instance_type, "a");
    cr_assert_str_eq(cfg->policy.static_pool.pool[0].type, "a");
    sw_cfg_destroy(cfg);
}

Test(config_load, relative_paths_resolve_against_the_files_folder)
{
    char dir[] = "/tmp/sw_cfg_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], trace[256];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    snprintf(trace, sizeof trace, "%s/t.txt", dir);
    FILE *f = fopen(trace, "w");
    cr_assert_not_null(f);
    fputs("1 2 3", f);
    fclose(f);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("trace:\n  path: t.txt\npredictor:\n  model_path: sub/model.bin\n", f);
    fclose(f);

    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load(path, &cfg, err, sizeof err), 0, "%s", err);
    char *real = realpath(trace, NULL);
    cr_assert_str_eq(cfg->trace.path, real);
    char model[300];
    snprintf(model, sizeof model, "%s/sub/model.bin", dir);
    cr_assert_str_eq(cfg->predictor.model_path, model);
    free(real);
    sw_cfg_destroy(cfg);
    unlink(path);
    unlink(trace);
    rmdir(dir);
}

Test(config_load, unreadable_file_gives_errno)
{
    sw_cfg_t *cfg = (sw_cfg_t *)1;
    int rc = sw_cfg_load("/nonexistent/spillway.yaml", &cfg, err, sizeof err);
    cr_assert_eq(rc, -ENOENT);
    cr_assert_null(cfg);
    cr_assert_str_eq(err, "/nonexistent/spillway.yaml: cannot read: No such file or directory");
}

Test(config_load, print_then_load_gives_an_equal_config)
{
    sw_cfg_t *a = NULL;
    cr_assert_eq(sw_cfg_load(EXAMPLE, &a, err, sizeof err), 0, "%s", err);
    char *text = print_to_string(a);
    sw_cfg_t *b = NULL;
    int rc = sw_cfg_load_string(text, strlen(text), "printed.yaml", &b, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n--- printed:\n%s", err, text);
    cr_assert(sw_cfg_equal(a, b), "round trip differs:\n%s", text);
    /* Printing the reloaded config gives the same text (bar the source line). */
    char *again = print_to_string(b);
    const char *body_a = strstr(text, "\nseed:"), *body_b = strstr(again, "\nseed:");
    cr_assert_not_null(body_a);
    cr_assert_not_null(body_b);
    cr_assert_str_eq(body_a, body_b);

    /* A change is seen by sw_cfg_equal. */
    cr_assert_eq(sw_cfg_set(b, "instance_types[4].batch_latency_ms[15]", "241", err, sizeof err), 0,
                 "%s", err);
    cr_assert_not(sw_cfg_equal(a, b));
    free(text);
    free(again);
    sw_cfg_destroy(a);
    sw_cfg_destroy(b);
}

Test(config_load, a_copy_is_equal_and_owns_everything_it_holds)
{
    sw_cfg_t *a = NULL;
    cr_assert_eq(sw_cfg_load(EXAMPLE, &a, err, sizeof err), 0, "%s", err);
    cr_assert_gt(a->instance_types_count, 1);
    char *text_a = print_to_string(a);
    sw_cfg_t *b = sw_cfg_copy(a);
    cr_assert(sw_cfg_equal(a, b));
    cr_assert_str_eq(b->source_path, a->source_path);

    /* Changes to the copy's strings and list entries leave the original as it was. */
    cr_assert_eq(sw_cfg_set(b, "instance_types[1].name", "renamed", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(b, "trace.path", "/tmp/other.txt", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(b, "instance_types[0].batch_latency_ms[0]", "1", err, sizeof err), 0,
                 "%s", err);
    char *text_a_after = print_to_string(a);
    cr_assert_str_eq(text_a_after, text_a);
    cr_assert_not(sw_cfg_equal(a, b));

    /* The copy outlives the original and still reports against its file's lines. */
    sw_cfg_destroy(a);
    cr_assert_neq(sw_cfg_set(b, "slo.latency_ms", "-1", err, sizeof err), 0);
    cr_assert(strstr(err, "slo.latency_ms"), "%s", err);
    cr_assert_str_eq(b->instance_types[1].name, "renamed");
    sw_cfg_t *c = sw_cfg_copy(b);
    cr_assert(sw_cfg_equal(b, c));
    sw_cfg_destroy(b);
    sw_cfg_destroy(c);
    free(text_a);
    free(text_a_after);
}

Test(config_load, print_round_trips_defaults_and_odd_strings)
{
    sw_cfg_t *a = load_ok("trace:\n  timestamp_column: \"a \\\"quoted\\\" \\\\ col\"\n"
                          "  path: /tmp/x.txt\n"
                          "predictor:\n  name: ewma\n  quantile: 0.1\n");
    char *text = print_to_string(a);
    sw_cfg_t *b = NULL;
    int rc = sw_cfg_load_string(text, strlen(text), "printed.yaml", &b, err, sizeof err);
    cr_assert_eq(rc, 0, "%s\n%s", err, text);
    cr_assert(sw_cfg_equal(a, b), "%s", text);
    cr_assert_str_eq(b->trace.timestamp_column, "a \"quoted\" \\ col");
    free(text);
    sw_cfg_destroy(a);
    sw_cfg_destroy(b);
}

Test(config_load, set_overrides_values)
{
    sw_cfg_t *cfg = load_ok("");
    cr_assert_eq(sw_cfg_set(cfg, "seed", "18446744073709551615", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg->seed, UINT64_MAX);
    cr_assert_eq(sw_cfg_set(cfg, "slo.latency_ms", "500", err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(cfg->slo.latency_ms, 500.0, 1e-12);
    cr_assert_eq(sw_cfg_set(cfg, "instance_types[1].price_per_hour_usd", "0.2", err, sizeof err), 0,
                 "%s", err);
    cr_assert_float_eq(cfg->instance_types[1].price_per_hour_usd, 0.2, 1e-12);
    cr_assert_eq(sw_cfg_set(cfg, "policy.name", "static", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg->policy.name, SW_POLICY_STATIC);
    cr_assert_eq(sw_cfg_set(cfg, "faas.enabled", "false", err, sizeof err), 0, "%s", err);
    cr_assert_not(cfg->faas.enabled);
    cr_assert_eq(sw_cfg_set(cfg, "trace.path", "/tmp/other.txt", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg->trace.path, "/tmp/other.txt");
    cr_assert_eq(sw_cfg_set(cfg, "predictor.model_path", "m.bin", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg->predictor.model_path, "m.bin");
    cr_assert_eq(sw_cfg_set(cfg, "predictor.model_path", "null", err, sizeof err), 0, "%s", err);
    cr_assert_null(cfg->predictor.model_path);
    cr_assert_eq(sw_cfg_set(cfg, "instance_types[0].boot_s.dist", "uniform", err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "instance_types[0].boot_s.max", "20", err, sizeof err), 0, "%s",
                 err);
    cr_assert_float_eq(cfg->instance_types[0].boot_s.mean, 10.0, 1e-12);
    cr_assert_eq(sw_cfg_validate(cfg, err, sizeof err), 0, "%s", err);
    sw_cfg_destroy(cfg);
}

Test(config_load, names_and_helpers)
{
    sw_policy_kind_t k;
    cr_assert_eq(sw_policy_from_name("faas-only", &k), 0);
    cr_assert_eq(k, SW_POLICY_FAAS_ONLY);
    cr_assert_str_eq(sw_policy_name(SW_POLICY_ORACLE), "oracle");
    cr_assert_eq(sw_policy_from_name("foo", &k), -EINVAL);
    sw_trace_format_t t;
    cr_assert_eq(sw_trace_format_from_name("counts-per-minute", &t), 0);
    cr_assert_eq(t, SW_TRACE_COUNTS_PER_MINUTE);
    cr_assert_str_eq(sw_trace_format_name(SW_TRACE_TIMESTAMPS), "timestamps");
    cr_assert_eq(sw_trace_format_from_name("csv", &t), -EINVAL);
    sw_cfg_dist_t u = {.dist = SW_DIST_UNIFORM, .min = 2, .max = 4};
    cr_assert_float_eq(sw_cfg_dist_mean(&u), 3.0, 1e-12);
    sw_cfg_destroy(NULL);
}

/* ---- Validation: exact messages ------------------------------------------------------- */

Test(config_validate, unknown_key)
{
    cr_assert_str_eq(load_bad("seed: 1\nslo:\n  foo: 3\n"), "x.yaml:3: slo.foo: unknown key");
    cr_assert_str_eq(load_bad(ONE_TYPE "    colour: red\n"),
                     "x.yaml:6: instance_types[0].colour: unknown key");
    cr_assert_str_eq(load_bad("sed: 1\n"), "x.yaml:1: sed: unknown key");
}

Test(config_validate, wrong_type)
{
    cr_assert_str_eq(load_bad("slo:\n  latency_ms: abc\n"),
                     "x.yaml:2: slo.latency_ms: expected a number, got \"abc\"");
    cr_assert_str_eq(load_bad("seed: 1.5\n"),
                     "x.yaml:1: seed: expected a whole number >= 0, got \"1.5\"");
    cr_assert_str_eq(load_bad("faas:\n  enabled: maybe\n"),
                     "x.yaml:2: faas.enabled: expected true or false, got \"maybe\"");
    cr_assert_str_eq(load_bad("slo:\n  target: nan\n"),
                     "x.yaml:2: slo.target: expected a finite number, got \"nan\"");
    cr_assert_str_eq(load_bad("slo: 5\n"),
                     "x.yaml:1: slo: expected a mapping of keys, got a single value");
    cr_assert_str_eq(load_bad("policy:\n  static:\n    pool: {type: a}\n"),
                     "x.yaml:3: policy.static.pool: expected a list, got a mapping");
}

Test(config_validate, price_not_positive)
{
    cr_assert_str_eq(load_bad("instance_types:\n"
                              "  - name: small\n"
                              "    price_per_hour_usd: 0\n"
                              "    max_batch: 1\n"
                              "    batch_latency_ms: [50]\n"),
                     "x.yaml:3: instance_types[0].price_per_hour_usd: must be in (0, 10000]");
    cr_assert_str_eq(load_bad("faas:\n  price_per_gb_s_usd: -1\n"),
                     "x.yaml:2: faas.price_per_gb_s_usd: must be in [0, 1]");
}

Test(config_validate, required_key_missing)
{
    cr_assert_str_eq(load_bad("instance_types:\n"
                              "  - name: small\n"
                              "    max_batch: 1\n"
                              "    batch_latency_ms: [50]\n"),
                     "x.yaml:2: instance_types[0].price_per_hour_usd: missing: this key has no "
                     "default");
}

Test(config_validate, batch_profile_shorter_than_max_batch)
{
    cr_assert_str_eq(load_bad("instance_types:\n"
                              "  - name: small\n"
                              "    price_per_hour_usd: 0.1\n"
                              "    max_batch: 4\n"
                              "    batch_latency_ms: [50, 80, 100]\n"),
                     "x.yaml:2: instance_types[0]: batch_latency_ms has 3 entries but max_batch "
                     "is 4: give T_b for every b = 1..max_batch");
}

Test(config_validate, batch_profile_decreasing)
{
    cr_assert_str_eq(load_bad("instance_types:\n"
                              "  - name: small\n"
                              "    price_per_hour_usd: 0.1\n"
                              "    max_batch: 3\n"
                              "    batch_latency_ms:\n"
                              "      - 50\n"
                              "      - 100\n"
                              "      - 90\n"),
                     "x.yaml:8: instance_types[0].batch_latency_ms[2]: a batch of 3 takes 90 ms, "
                     "less than a batch of 2 (100 ms): T_b must not decrease as b grows");
}

Test(config_validate, slo_shorter_than_fastest_batch)
{
    cr_assert_str_eq(load_bad("slo:\n"
                              "  latency_ms: 200\n"
                              "instance_types:\n"
                              "  - name: slow\n"
                              "    price_per_hour_usd: 0.1\n"
                              "    max_batch: 1\n"
                              "    batch_latency_ms: [250]\n"),
                     "x.yaml:7: instance_types[0].batch_latency_ms[0]: a batch of 1 takes 250 "
                     "ms, longer than slo.latency_ms 200: this type can never meet the SLO");
}

/* Issue 10: README's --set slo.latency_ms=100 failed on the example policy because one
 * type (c5.large, then 105 ms) cannot meet it. Other types can: the config is valid, the
 * planners skip that type, and a note says so. */
Test(config_validate, a_type_that_cannot_meet_the_slo_is_noted_not_refused)
{
    sw_cfg_t *cfg = load_ok("slo:\n  latency_ms: 600\n");
    cr_assert_eq(sw_cfg_set(cfg, "slo.latency_ms", "200", err, sizeof err), 0, "%s", err);
    char notes[1024];
    cr_assert_eq(sw_cfg_notes(cfg, notes, sizeof notes), 1);
    cr_assert_str_eq(notes, "note: instance type c5.large cannot meet slo.latency_ms 200 (a batch "
                            "of 1 takes 210 ms): no policy will launch it");
    /* A static pool of it would miss every request: refused where the pool names it. */
    cr_assert_eq(sw_cfg_set(cfg, "policy.name", "static", err, sizeof err), SW_ECONFIG);
    cr_assert(strstr(err, "policy.static.pool[0].type: c5.large takes 210 ms for a batch of 1"),
              "%s", err);
    sw_cfg_destroy(cfg);
}

Test(config_validate, unknown_type_in_static_pool)
{
    cr_assert_str_eq(load_bad(ONE_TYPE "policy:\n"
                                       "  static:\n"
                                       "    pool:\n"
                                       "      - type: c5.huge\n"
                                       "        count: 3\n"),
                     "x.yaml:9: policy.static.pool[0].type: no instance type named \"c5.huge\"");
    cr_assert_str_eq(load_bad(ONE_TYPE "policy:\n  reactive:\n    instance_type: big\n"),
                     "x.yaml:8: policy.reactive.instance_type: no instance type named \"big\"");
}

Test(config_validate, target_out_of_range)
{
    cr_assert_str_eq(load_bad("slo:\n  target: 1.5\n"), "x.yaml:2: slo.target: must be in (0, 1]");
    cr_assert_str_eq(load_bad("policy:\n  mark:\n    target_utilization: 0\n"),
                     "x.yaml:3: policy.mark.target_utilization: must be in [0.1, 1]");
    cr_assert_str_eq(load_bad("predictor:\n  quantile: 1\n"),
                     "x.yaml:2: predictor.quantile: must be in (0, 1)");
    cr_assert_str_eq(load_bad("faas:\n  memory_mb: 64\n"),
                     "x.yaml:2: faas.memory_mb: must be in [128, 10240] (AWS Lambda's range)");
}

Test(config_validate, predictor_ranges)
{
    cr_assert_str_eq(load_bad("predictor:\n  holdout_frac: 0.95\n"),
                     "x.yaml:2: predictor.holdout_frac: must be in [0, 0.9]");
    cr_assert_str_eq(load_bad("predictor:\n  ewma_alpha: 1\n"),
                     "x.yaml:2: predictor.ewma_alpha: must be 0 (fitted) or in (0, 1)");
    cr_assert_str_eq(load_bad("predictor:\n  lstm:\n    hidden: 0\n"),
                     "x.yaml:3: predictor.lstm.hidden: must be in [1, 256]");
    cr_assert_str_eq(load_bad("predictor:\n"
                              "  ar_order: 0\n"
                              "  gaps: {min_level: -1, context: 0}\n"
                              "  lstm: {window: 1, learning_rate: 0, batch: 0}\n"),
                     "x.yaml:2: predictor.ar_order: must be in [1, 1440]\n"
                     "x.yaml:3: predictor.gaps.min_level: must be in [0, 1000000000]\n"
                     "x.yaml:3: predictor.gaps.context: must be in [1, 100000]\n"
                     "x.yaml:4: predictor.lstm.window: must be in [2, 1440]\n"
                     "x.yaml:4: predictor.lstm.learning_rate: must be in (0, 1)\n"
                     "x.yaml:4: predictor.lstm.batch: must be in [1, 4096]");
    /* 0 disables gap detection and is not an error. */
    sw_cfg_t *cfg = load_ok("predictor:\n  gaps: {min_run: 0}\n  ewma_alpha: 0.5\n");
    sw_cfg_destroy(cfg);
}

Test(config_validate, predictor_name_must_be_known)
{
    cr_assert_str_eq(load_bad("predictor:\n  name: prophet\n"),
                     "x.yaml:2: predictor.name: unknown forecaster \"prophet\": expected one of "
                     "recent-max, last, seasonal-naive, ewma, holt-winters, ar, lstm");
    cr_assert_str_eq(load_bad("predictor:\n  name: \"\"\n"),
                     "x.yaml:2: predictor.name: must not be empty");
    static const char *const names[] = {
        "recent-max", "last", "seasonal-naive", "ewma", "holt-winters", "ar", "lstm",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char yaml[64];
        snprintf(yaml, sizeof yaml, "predictor:\n  name: %s\n", names[i]);
        sw_cfg_t *cfg = load_ok(yaml);
        sw_cfg_destroy(cfg);
    }
    sw_cfg_t *cfg = load_ok("");
    cr_assert_eq(sw_cfg_set(cfg, "predictor.name", "arima", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "x.yaml: predictor.name: unknown forecaster \"arima\": expected one of "
                          "recent-max, last, seasonal-naive, ewma, holt-winters, ar, lstm");
    cr_assert_str_eq(cfg->predictor.name, "recent-max");
    sw_cfg_destroy(cfg);
}

Test(config_validate, season_is_a_multiple_of_the_interval)
{
    cr_assert_str_eq(load_bad("predictor:\n  season_s: 90\n"),
                     "x.yaml:2: predictor.season_s: must be a multiple of policy.interval_s (60)");
    cr_assert_str_eq(load_bad("predictor:\n  season_s: 30\n"),
                     "x.yaml:2: predictor.season_s: must be a multiple of policy.interval_s (60)");
    cr_assert_str_eq(load_bad("predictor:\n  season_s: 0\n"),
                     "x.yaml:2: predictor.season_s: must be in [1, 31536000]");
    /* The default season (a day) against an interval that does not divide it. */
    cr_assert_str_eq(load_bad("policy:\n  interval_s: 7\n"),
                     "x.yaml: predictor.season_s: must be a multiple of policy.interval_s (7)");
    sw_cfg_t *cfg = load_ok("policy:\n  interval_s: 0.5\npredictor:\n  season_s: 3600\n");
    /* A new interval is checked against the season too, and refused. */
    cr_assert_eq(sw_cfg_set(cfg, "policy.interval_s", "7", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "x.yaml:4: predictor.season_s: must be a multiple of "
                          "policy.interval_s (7)");
    cr_assert_float_eq(cfg->policy.interval_s, 0.5, 1e-12);
    cr_assert_eq(sw_cfg_set(cfg, "policy.interval_s", "90", err, sizeof err), 0, "%s", err);
    sw_cfg_destroy(cfg);
}

Test(config_validate, bad_enum_lists_the_valid_names)
{
    cr_assert_str_eq(load_bad("policy:\n  name: foo\n"),
                     "x.yaml:2: policy.name: unknown value \"foo\": expected one of static, "
                     "reactive, faas-only, mark, oracle, clairvoyant");
    cr_assert_str_eq(load_bad("trace:\n  format: csv\n"),
                     "x.yaml:2: trace.format: unknown value \"csv\": expected one of auto, "
                     "timestamps, counts-per-second, counts-per-minute");
}

Test(config_validate, distributions)
{
    cr_assert_str_eq(load_bad("faas:\n  warm_latency_ms: {dist: lognormal, mean: 100, cv: 0}\n"),
                     "x.yaml:2: faas.warm_latency_ms.cv: lognormal needs cv > 0 (for no "
                     "variation use dist: constant)");
    cr_assert_str_eq(load_bad("faas:\n"
                              "  cold_start_ms:\n"
                              "    dist: uniform\n"
                              "    min: 10\n"
                              "    max: 20\n"
                              "    mean: 12\n"),
                     "x.yaml:6: faas.cold_start_ms.mean: a uniform distribution's mean is (min + "
                     "max) / 2 = 15: remove mean, or change min and max");
    cr_assert_str_eq(load_bad("faas:\n  cold_start_ms: {dist: uniform, min: 30, max: 20}\n"),
                     "x.yaml:2: faas.cold_start_ms.max: must be >= min (30)");
    /* A uniform's mean is derived, and checked as such. */
    cr_assert_str_eq(load_bad("faas:\n  warm_latency_ms: {dist: uniform, min: 0, max: 0}\n"),
                     "x.yaml:2: faas.warm_latency_ms.mean: (min + max) / 2 = 0 must be in "
                     "[0.001, 900000]");
}

Test(config_validate, contradictions_between_sections)
{
    cr_assert_str_eq(load_bad("faas:\n  enabled: false\npolicy:\n  name: faas-only\n"),
                     "x.yaml:4: policy.name: faas-only sends every request to FaaS, but "
                     "faas.enabled is false");
    cr_assert_str_eq(load_bad(ONE_TYPE "  - name: small\n"
                                       "    price_per_hour_usd: 0.2\n"
                                       "    max_batch: 1\n"
                                       "    batch_latency_ms: [40]\n"),
                     "x.yaml:6: instance_types[1].name: duplicate name \"small\" (also "
                     "instance_types[0])");
    cr_assert_str_eq(load_bad("instance_types: []\n"),
                     "x.yaml:1: instance_types: must list at least one instance type");
}

Test(config_validate, yaml_level_problems)
{
    cr_assert_str_eq(load_bad("slo:\n  target: 0.9\n  target: 0.95\n"),
                     "x.yaml:3: slo.target: duplicate key (first given on line 2)");
    cr_assert_str_eq(load_bad("slo: {latency_ms: [1\n"),
                     "x.yaml:2: YAML syntax error: did not find expected ',' or ']' (while "
                     "parsing a flow sequence started on line 1)");
    cr_assert_str_eq(load_bad("slo: &s {latency_ms: 100}\nbilling: *s\n"),
                     "x.yaml:2: billing: YAML aliases (*s) are not supported: write the value "
                     "out");
    cr_assert_str_eq(load_bad("- 1\n- 2\n"),
                     "x.yaml: the file must be a mapping of keys (seed, slo, instance_types, "
                     "...)");
}

Test(config_validate, several_errors_reported_together)
{
    cr_assert_str_eq(load_bad("slo:\n"
                              "  latency_ms: -5\n"
                              "  target: 0\n"
                              "billing:\n"
                              "  vm_granularity_s: 0\n"
                              "predictor:\n"
                              "  headroom: 0.5\n"
                              "  window_intervals: 0\n"),
                     "x.yaml:2: slo.latency_ms: must be in [1, 3600000]\n"
                     "x.yaml:3: slo.target: must be in (0, 1]\n"
                     "x.yaml:5: billing.vm_granularity_s: must be in [1, 86400]\n"
                     "x.yaml:8: predictor.window_intervals: must be in [1, 10080]\n"
                     "x.yaml:7: predictor.headroom: must be in [1, 100]");
    /* Type errors are collected too, not only the first. */
    cr_assert_str_eq(load_bad("seed: x\nslo:\n  latency_ms: fast\n"),
                     "x.yaml:1: seed: expected a whole number >= 0, got \"x\"\n"
                     "x.yaml:3: slo.latency_ms: expected a number, got \"fast\"");
}

Test(config_validate, set_unknown_key_and_bad_value)
{
    sw_cfg_t *cfg = load_ok("");
    cr_assert_eq(sw_cfg_set(cfg, "slo.foo", "1", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "slo.foo: unknown key");
    cr_assert_eq(sw_cfg_set(cfg, "slo.latency_ms", "fast", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "slo.latency_ms: expected a number, got \"fast\"");
    cr_assert_eq(sw_cfg_set(cfg, "instance_types[9].name", "x", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "instance_types[9]: no such entry (the list has 5)");
    cr_assert_eq(sw_cfg_set(cfg, "policy.name", "foo", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "policy.name: unknown value \"foo\": expected one of static, reactive, "
                          "faas-only, mark, oracle, clairvoyant");
    cr_assert_eq(sw_cfg_set(cfg, "slo", "1", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "slo: is a section, not a value: set one of its keys, e.g. "
                          "slo.latency_ms");
    cr_assert_float_eq(cfg->slo.latency_ms, 600.0, 1e-12);
    sw_cfg_destroy(cfg);
}

/* Found by tests/fuzz/fuzz_config_set: --set took bytes that are not UTF-8, which no
 * policy file can hold, so check-config printed a file that did not load. */
Test(config_validate, set_refuses_a_string_that_is_not_utf8)
{
    sw_cfg_t *cfg = load_ok("");
    static const char *const bad[] = {
        "http://laun\x86\x63h:.1:9001", /* the fuzzer's input: a stray continuation byte */
        "x\xc0\xaf",                    /* an overlong '/' */
        "x\xed\xa0\x80",                /* a surrogate */
        "x\xf4\x90\x80\x80",            /* past U+10FFFF */
        "x\xe2\x82",                    /* cut short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(sw_cfg_set(cfg, "faas.invoke.endpoint", bad[i], err, sizeof err), SW_ECONFIG,
                     "%zu", i);
        cr_assert_str_eq(err, "faas.invoke.endpoint: is not valid UTF-8");
    }
    /* Real UTF-8 is a string like any other, and prints as a file that loads back. */
    cr_assert_eq(sw_cfg_set(cfg, "faas.invoke.function_name", "caf\xc3\xa9-\xf0\x9f\x98\x80", err,
                            sizeof err),
                 0, "%s", err);
    char *text = print_to_string(cfg);
    sw_cfg_t *again = load_ok(text);
    cr_assert(sw_cfg_equal(cfg, again));
    sw_cfg_destroy(again);
    free(text);
    sw_cfg_destroy(cfg);
}

/* Found by fuzz_config_set in CI: valid UTF-8 that YAML will not carry raw in a
 * double-quoted scalar. NEL and the line and paragraph separators were folded to a space
 * on reload; C1 controls, U+FEFF and the non-characters U+FFFE/U+FFFF were refused as
 * "control characters". Each now prints as an escape and loads back to the same bytes. */
Test(config_validate, strings_yaml_would_fold_or_refuse_print_as_escapes)
{
    static const char *const odd[] = {
        "a\xc2\x85" "b",          /* NEL: the CI finding */
        "a\xc2\x80" "b",          /* a C1 control */
        "a\xc2\x9f",           /* the last C1 control */
        "a\xe2\x80\xa8" "b",     /* LINE SEPARATOR */
        "a\xe2\x80\xa9" "b",     /* PARAGRAPH SEPARATOR */
        "\xef\xbb\xbf" "a",   /* a byte order mark */
        "a\xef\xbf\xbe",      /* U+FFFE */
        "a\xef\xbf\xbf",      /* U+FFFF */
        "\x7f\t\x01\\\"",  /* DEL, C0 controls, and the two escaped by hand */
        "\xc2\xa0\xf4\x8f\xbf\xbf", /* NBSP and U+10FFFF pass through raw */
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        sw_cfg_t *cfg = load_ok("");
        cr_assert_eq(sw_cfg_set(cfg, "faas.invoke.function_name", odd[i], err, sizeof err), 0,
                     "%zu: %s", i, err);
        char *text = print_to_string(cfg);
        sw_cfg_t *again = NULL;
        cr_assert_eq(sw_cfg_load_string(text, strlen(text), "printed.yaml", &again, err, sizeof err),
                     0, "%zu: %s", i, err);
        cr_assert_str_eq(again->faas.invoke.function_name, odd[i], "%zu", i);
        cr_assert(sw_cfg_equal(cfg, again), "%zu", i);
        sw_cfg_destroy(again);
        free(text);
        sw_cfg_destroy(cfg);
    }
}

Test(config_validate, set_that_breaks_validation_is_undone)
{
    /* The types are defaulted (no line); slo.latency_ms was overridden (no line). */
    sw_cfg_t *cfg = load_ok("slo:\n  latency_ms: 200\n");
    /* 25 ms: no default type can meet it (the fastest, p2.xlarge, takes 60 ms). */
    cr_assert_eq(sw_cfg_set(cfg, "slo.latency_ms", "25", err, sizeof err), SW_ECONFIG);
    cr_assert(strstr(err, "x.yaml: instance_types[0].batch_latency_ms[0]: a batch of 1 takes 210 "
                          "ms, longer than slo.latency_ms 25: this type can never meet the SLO"),
              "%s", err);
    cr_assert_float_eq(cfg->slo.latency_ms, 200.0, 1e-12);

    /* A key from the file keeps its line. */
    sw_cfg_destroy(cfg);
    cfg = load_ok("faas:\n  enabled: false\n");
    cr_assert_eq(sw_cfg_set(cfg, "policy.name", "faas-only", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "x.yaml: policy.name: faas-only sends every request to FaaS, but "
                          "faas.enabled is false");
    cr_assert_eq(cfg->policy.name, SW_POLICY_MARK);
    cr_assert_eq(sw_cfg_set(cfg, "trace.timestamp_column", "", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(cfg->trace.timestamp_column, "TIMESTAMP");
    sw_cfg_destroy(cfg);
}

Test(config_validate, validate_a_hand_changed_config)
{
    sw_cfg_t *cfg = load_ok("");
    cr_assert_eq(sw_cfg_validate(cfg, err, sizeof err), 0, "%s", err);
    cfg->faas.memory_mb = 20000;
    cfg->slo.target = 0;
    cr_assert_eq(sw_cfg_validate(cfg, err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "config: slo.target: must be in (0, 1]\n"
                          "config: faas.memory_mb: must be in [128, 10240] (AWS Lambda's range)");
    sw_cfg_destroy(cfg);
}

Test(config_validate, small_errbuf_truncates_safely)
{
    char small[16];
    sw_cfg_t *cfg = NULL;
    const char *yaml = "slo:\n  target: 2\n";
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, small, sizeof small),
                 SW_ECONFIG);
    cr_assert_str_eq(small, "x.yaml:2: slo.t");
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, NULL, 0), SW_ECONFIG);
}

Test(config_load, faas_invoke_and_local_defaults)
{
    sw_cfg_t *cfg = load_ok("faas:\n  local:\n    functions:\n"
                            "      - {name: echo, command: python3 echo.py}\n");
    cr_assert_str_eq(cfg->faas.invoke.region, "us-east-1");
    cr_assert_null(cfg->faas.invoke.endpoint, "null: AWS's regional endpoint");
    cr_assert_str_eq(cfg->faas.invoke.function_name, "spillway-infer");
    cr_assert_float_eq(cfg->faas.invoke.timeout_ms, 3000, 1e-9);
    cr_assert_eq(cfg->faas.invoke.max_in_flight, 256);
    cr_assert_str_eq(cfg->faas.local.listen, "127.0.0.1:9001");
    cr_assert_eq(cfg->faas.local.functions_count, 1);
    cr_assert_str_eq(cfg->faas.local.functions[0].command, "python3 echo.py");
    sw_cfg_destroy(cfg);
}

Test(config_validate, faas_invoke_and_local_problems)
{
    const char *msg = load_bad("faas:\n  invoke:\n    endpoint: ftp://example.com\n"
                               "    max_in_flight: 0\n    function_name: ''\n"
                               "  local:\n    functions:\n      - name: echo\n");
    cr_assert_not_null(strstr(err, "faas.invoke.endpoint: must start with http:// or https://"),
                       "%s", msg);
    cr_assert_not_null(strstr(err, "faas.invoke.max_in_flight: must be in [1, 65536]"), "%s", msg);
    cr_assert_not_null(strstr(err, "faas.invoke.function_name: must not be empty"), "%s", msg);
    cr_assert_not_null(strstr(err, "faas.local.functions[0].command: missing"), "%s", msg);
}

/* Listen addresses are refused with the policy, by key and line, not when serve or
 * faas-local binds them; port 0 and serve.listen's ":PORT" stay valid. */
Test(config_validate, listen_addresses_are_checked_with_the_policy)
{
    const char *msg = load_bad("serve:\n  listen: 127.0.0.1:70000\n  worker_listen: ':8081'\n"
                               "faas:\n  local:\n    listen: localhost\n");
    cr_assert_not_null(strstr(err, ":2: serve.listen: \"127.0.0.1:70000\" is not HOST:PORT"),
                       "%s", msg);
    cr_assert_not_null(strstr(err, ":3: serve.worker_listen: \":8081\" is not HOST:PORT"), "%s",
                       msg);
    cr_assert_not_null(strstr(err, ":6: faas.local.listen: \"localhost\" is not HOST:PORT"), "%s",
                       msg);
    cr_assert_not_null(strstr(err, "or :PORT for every address"), "%s", msg);

    static const char ok[] = "serve:\n  listen: ':0'\n  worker_listen: '[::1]:0'\n"
                             "faas:\n  local:\n    listen: 'localhost:9001'\n";
    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load_string(ok, strlen(ok), "ok.yaml", &cfg, err, sizeof err), 0, "%s",
                 err);
    char e2[512];
    cr_assert_eq(sw_cfg_set(cfg, "serve.worker_listen", "127.0.0.1:65536", e2, sizeof e2),
                 SW_ECONFIG);
    cr_assert_not_null(strstr(e2, "serve.worker_listen: \"127.0.0.1:65536\""), "%s", e2);
    cr_assert_str_eq(cfg->serve.worker_listen, "[::1]:0", "a refused value changes nothing");
    sw_cfg_destroy(cfg);
}

static void collect(void *ctx, const char *path)
{
    char *acc = ctx;
    strcat(acc, path);
    strcat(acc, ";");
}

/* sw_cfg_diff names each changed key by its concrete path, for serve's reloads. */
Test(config_load, diff_names_each_changed_key_concretely)
{
    sw_cfg_t *a = load_ok(""), *b = load_ok("");
    char got[1024] = "";
    cr_assert_eq(sw_cfg_diff(a, b, collect, got), 0);
    cr_assert_eq(sw_cfg_set(b, "instance_types[1].max_instances", "3", err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(sw_cfg_set(b, "slo.target", "0.9", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(b, "faas.warm_latency_ms.mean", "99", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cfg_diff(a, b, collect, got), 3);
    cr_assert_str_eq(got, "slo.target;instance_types[1].max_instances;faas.warm_latency_ms.mean;");
    cr_assert_not(sw_cfg_equal(a, b));
    sw_cfg_destroy(a);
    sw_cfg_destroy(b);
}

Test(config_set, get_number_reads_numeric_keys_and_refuses_the_rest)
{
    sw_cfg_t *cfg = load_ok("policy: {interval_s: 30, mark: {min_instances: 3}}\n");
    double v = -1;
    cr_assert_eq(sw_cfg_get_number(cfg, "policy.interval_s", &v, err, sizeof err), 0, "%s", err);
    cr_assert_eq(v, 30);
    cr_assert_eq(sw_cfg_get_number(cfg, "policy.mark.min_instances", &v, err, sizeof err), 0);
    cr_assert_eq(v, 3);
    /* A default fills an absent key, as a run would see it. */
    cr_assert_eq(sw_cfg_get_number(cfg, "policy.mark.target_utilization", &v, err, sizeof err), 0);
    cr_assert_eq(v, 0.95);
    cr_assert_eq(sw_cfg_get_number(cfg, "instance_types[0].max_batch", &v, err, sizeof err), 0);
    cr_assert_eq(v, cfg->instance_types[0].max_batch);
    cr_assert_eq(sw_cfg_get_number(cfg, "policy.nope", &v, err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "policy.nope: unknown key");
    cr_assert_eq(sw_cfg_get_number(cfg, "predictor.name", &v, err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "predictor.name: not a number");
    cr_assert_eq(sw_cfg_get_number(cfg, "policy.mark", &v, err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "policy.mark: not a number");
    sw_cfg_destroy(cfg);
}

/* A refused --set leaves the file's value, and the key keeps the file's line: a later
 * problem with that value still points at it. (It read "x.yaml: predictor.season_s"
 * once a refused --set had touched the key.) */
Test(config_set, a_refused_value_keeps_the_files_line)
{
    sw_cfg_t *cfg = load_ok("policy:\n  interval_s: 60\npredictor:\n  season_s: 86400\n");
    cr_assert_eq(sw_cfg_set(cfg, "predictor.season_s", "90", err, sizeof err), SW_ECONFIG);
    /* The refused value came from --set, not from line 4. */
    cr_assert_str_eq(err, "x.yaml: predictor.season_s: must be a multiple of policy.interval_s "
                          "(60)");
    cr_assert_eq(cfg->predictor.season_s, 86400);
    cr_assert_eq(sw_cfg_set(cfg, "policy.interval_s", "7", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "x.yaml:4: predictor.season_s: must be a multiple of "
                          "policy.interval_s (7)");
    /* An accepted value is the --set's: no file line from then on. */
    cr_assert_eq(sw_cfg_set(cfg, "predictor.season_s", "3600", err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cfg_set(cfg, "policy.interval_s", "7", err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "x.yaml: predictor.season_s: must be a multiple of "
                          "policy.interval_s (7)");
    sw_cfg_destroy(cfg);
}

/* Removing a key from the open-addressed key map (a refused --set of a key the file did
 * not give) must leave every other key findable, also those placed past it in a run of
 * collisions. (These 200 paths make such runs: removing every third by only emptying
 * its slot loses 11 of the rest. "k0".."k199" would not: they do not collide.) */
Test(config_set, key_map_removal_keeps_the_other_keys)
{
    sw__cfg_keymap_t km = {0};
    char path[64];
    bool added;
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof path, "policy.static.pool[%d].count", i);
        sw__cfg_keymap_add(&km, path, i + 1, &added);
        cr_assert(added);
    }
    for (int i = 0; i < 200; i += 3) {
        snprintf(path, sizeof path, "policy.static.pool[%d].count", i);
        sw__cfg_keymap_remove(&km, path);
        sw__cfg_keymap_remove(&km, path); /* twice: the second finds nothing */
    }
    sw__cfg_keymap_remove(&km, "never-added");
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof path, "policy.static.pool[%d].count", i);
        const struct sw__cfg_key *k = sw__cfg_keymap_find(&km, path);
        if (i % 3 == 0) {
            cr_assert_null(k, "%s was removed", path);
        } else {
            cr_assert_not_null(k, "%s lost", path);
            cr_assert_eq(k->line, i + 1);
        }
    }
    cr_assert_eq(km.count, 200 - 67);
    sw__cfg_keymap_free(&km);
}
