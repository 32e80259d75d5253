/* The ledger against published figures: AWS's Lambda pricing example (2019 pricing page:
 * 512 MB, 3 M invocations of 1 s, 100 ms billing, free tier 1 M requests and 400,000 GB-s,
 * $0.00001667 per GB-s -> $18.34 compute + $0.40 requests = $18.74) and EC2's per-second
 * billing with a 60 s minimum. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "config/config.h"
#include "scheduler/ledger.h"

static sw_cfg_t *load(const char *yaml)
{
    sw_cfg_t *cfg = NULL;
    char err[4096];
    int rc = sw_cfg_load_string(yaml, strlen(yaml), "test.yaml", &cfg, err, sizeof(err));
    cr_assert_eq(rc, 0, "config: %s", err);
    return cfg;
}

static const char *lambda_2019 =
    "faas:\n"
    "  memory_mb: 512\n"
    "  price_per_gb_s_usd: 0.00001667\n"
    "  price_per_million_requests_usd: 0.20\n"
    "  billing_granularity_ms: %s\n"
    "  free_tier: {enabled: true, requests: 1000000, gb_s: 400000}\n";

static double lambda_bill(const char *granularity, double duration_ms, sw_cost_t *cost)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), lambda_2019, granularity);
    sw_cfg_t *cfg = load(yaml);
    sw_ledger_t l;
    sw_ledger_init(&l, cfg);
    for (int i = 0; i < 3000000; i++)
        sw_ledger_faas(&l, (sw_time_t)i * 100, duration_ms, 0.0); /* all in one month */
    double scratch[64];
    sw_ledger_totals(&l, NULL, 0, scratch, cost);
    sw_ledger_deinit(&l);
    sw_cfg_destroy(cfg);
    return cost->total_usd;
}

Test(sched_ledger, reproduces_aws_lambda_pricing_example_at_100ms_billing)
{
    sw_cost_t c;
    lambda_bill("100", 1000.0, &c);
    /* 1,500,000 GB-s - 400,000 free = 1,100,000 x 0.00001667 = 18.337 */
    cr_assert_float_eq(c.faas_compute_usd, 18.337, 1e-6);
    cr_assert_float_eq(c.faas_request_usd, 0.40, 1e-9);
    cr_assert_eq(lround(c.faas_compute_usd * 100), 1834);
    cr_assert_eq(lround(c.total_usd * 100), 1874);
    cr_assert_float_eq(c.faas_gb_s, 1500000.0, 1e-3);
}

Test(sched_ledger, same_workload_with_1ms_billing)
{
    sw_cost_t c;
    lambda_bill("1", 1000.0, &c);
    cr_assert_eq(lround(c.total_usd * 100), 1874, "1 s calls round the same either way");
    /* 1000.3 ms: 100 ms billing charges 1100 ms, 1 ms billing charges 1001 ms. */
    lambda_bill("100", 1000.3, &c);
    cr_assert_float_eq(c.faas_compute_usd, (3e6 * 1.1 * 0.5 - 400000) * 0.00001667, 1e-6);
    lambda_bill("1", 1000.3, &c);
    cr_assert_float_eq(c.faas_compute_usd, (3e6 * 1.001 * 0.5 - 400000) * 0.00001667, 1e-6);
    cr_assert_float_eq(c.faas_request_usd, 0.40, 1e-9);
}

Test(sched_ledger, free_tier_applies_per_month)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), lambda_2019, "1");
    sw_cfg_t *cfg = load(yaml);
    sw_ledger_t l;
    sw_ledger_init(&l, cfg);
    /* 1.5 M requests in each of two months: 0.5 M billable in each. */
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 1500000; i++)
            sw_ledger_faas(&l, m * SW_LEDGER_MONTH_US + i, 1.0, 0.0);
    double scratch[64];
    sw_cost_t c;
    sw_ledger_totals(&l, NULL, 0, scratch, &c);
    cr_assert_float_eq(c.faas_request_usd, 2 * 500000 * 0.2e-6, 1e-9);
    cr_assert_float_eq(c.faas_compute_usd, 0.0, 1e-12, "3 M x 1 ms x 0.5 GB is under the free GB-s");
    sw_ledger_deinit(&l);
    sw_cfg_destroy(cfg);
}

Test(sched_ledger, cold_start_billing_is_a_setting)
{
    sw_cfg_t *cfg = load("faas: {memory_mb: 1024, billing_granularity_ms: 1, bill_cold_start: true}\n");
    cr_assert_float_eq(sw_ledger_faas_gb_s(&cfg->faas, 100.0, 400.0), 0.5, 1e-12);
    sw_cfg_destroy(cfg);
    cfg = load("faas: {memory_mb: 1024, billing_granularity_ms: 1, bill_cold_start: false}\n");
    cr_assert_float_eq(sw_ledger_faas_gb_s(&cfg->faas, 100.0, 400.0), 0.1, 1e-12);
    sw_cfg_destroy(cfg);
}

Test(sched_ledger, ec2_per_second_billing_with_60s_minimum)
{
    sw_cfg_billing_t b = {.vm_granularity_s = 1, .vm_minimum_s = 60};
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 30.0, false), 60.0, 1e-9);
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 61.5, false), 62.0, 1e-9);
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 61.0, false), 61.0, 1e-9);
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 0.1 + 0.2 + 60.7, false), 61.0, 1e-9,
                       "floating-point noise must not add a second");
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 30.0, true), 30.0, 1e-9, "oracle: exact");
}

Test(sched_ledger, hourly_billing_rounds_up_to_the_hour)
{
    sw_cfg_billing_t b = {.vm_granularity_s = 3600, .vm_minimum_s = 60};
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 61.5, false), 3600.0, 1e-9);
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 3600.0, false), 3600.0, 1e-9);
    cr_assert_float_eq(sw_ledger_vm_billed_s(&b, 3601.0, false), 7200.0, 1e-9);
}

Test(sched_ledger, vm_cost_uses_type_price_and_spot_factor)
{
    sw_cfg_t *cfg = load("instance_types:\n"
                         "  - name: od\n"
                         "    price_per_hour_usd: 0.36\n"
                         "    max_batch: 1\n"
                         "    batch_latency_ms: [50]\n"
                         "  - name: spot\n"
                         "    price_per_hour_usd: 0.36\n"
                         "    max_batch: 1\n"
                         "    batch_latency_ms: [50]\n"
                         "    spot: {enabled: true, price_factor: 0.25}\n");
    cr_assert_float_eq(sw_ledger_vm_cost(cfg, 0, 0, 30 * SW_US_PER_S, false), 0.006, 1e-12);
    cr_assert_float_eq(sw_ledger_vm_cost(cfg, 0, 0, 3600 * SW_US_PER_S, false), 0.36, 1e-12);
    cr_assert_float_eq(sw_ledger_vm_cost(cfg, 1, 0, 3600 * SW_US_PER_S, false), 0.09, 1e-12);
    sw_ledger_t l;
    sw_ledger_init(&l, cfg);
    sw_ledger_vm_close(&l, 0, 0, 30 * SW_US_PER_S, false);
    sw_ledger_vm_close(&l, 1, 0, 3600 * SW_US_PER_S, false);
    double scratch[2];
    sw_cost_t c;
    sw_ledger_totals(&l, NULL, 0, scratch, &c);
    cr_assert_float_eq(c.vm_usd, 0.096, 1e-12);
    cr_assert_float_eq(c.vm_by_type_usd[0] + c.vm_by_type_usd[1], c.vm_usd, 1e-12);
    cr_assert_float_eq(c.vm_billed_s, 3660.0, 1e-9);
    sw_ledger_deinit(&l);
    sw_cfg_destroy(cfg);
}
