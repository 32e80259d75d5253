/* Policies through the core with invented timestamps: reactive target tracking and its
 * cooldowns, mark's billing-aware scale-in (per-second minimum and hourly billing), the
 * violation monitor and its cooldown, and the oracle's plan from foresight. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "scheduler/sched.h"

#define S(x) ((sw_time_t)(x) * SW_US_PER_S)

static const char *yaml_fmt =
    "slo: {latency_ms: 200, target: 0.98}\n"
    "instance_types:\n"
    "  - name: gpu\n"
    "    price_per_hour_usd: 0.9\n"
    "    boot_s: {dist: constant, mean: 10}\n"
    "    max_batch: 4\n"
    "    batch_latency_ms: [20, 30, 40, 50]\n"
    "    service_variation: {dist: constant, mean: 1}\n"
    "policy:\n"
    "  interval_s: 60\n"
    "  max_queue_delay_ms: %s\n"
    "%s"
    "predictor: {name: recent-max, window_intervals: 1, headroom: 1}\n";

typedef struct fixture {
    sw_cfg_t *cfg;
    sw_sched_t *s;
    sw_actions_t out;
} fixture_t;

/* Requests queue indefinitely (no admission limit) unless a test gives its own. */
static void setup_with_delay(fixture_t *f, const char *max_delay_ms, const char *policy_yaml)
{
    char yaml[4096], err[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, max_delay_ms, policy_yaml);
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "p.yaml", &f->cfg, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(sw_sched_create(&f->s, f->cfg, err, sizeof(err)), 0, "%s", err);
    sw_actions_init(&f->out);
    sw_sched_start(f->s, 0, &f->out);
}

static void setup(fixture_t *f, const char *policy_yaml)
{
    setup_with_delay(f, "100000000", policy_yaml);
}

static void teardown(fixture_t *f)
{
    sw_actions_deinit(&f->out);
    sw_sched_destroy(f->s);
    sw_cfg_destroy(f->cfg);
}

static size_t count(const sw_actions_t *a, sw_action_kind_t kind, sw_reason_t reason)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].kind == kind && a->v[i].reason == reason;
    return n;
}

/* Makes every launched VM ready right away, so the pool is running. */
static void ready_all(fixture_t *f, sw_time_t now)
{
    sw_actions_t acts = f->out;
    sw_actions_init(&f->out);
    for (size_t i = 0; i < acts.n; i++)
        if (acts.v[i].kind == SW_ACT_LAUNCH)
            sw_sched_on_worker_ready(f->s, now, acts.v[i].worker_id, &f->out);
    sw_actions_deinit(&acts);
}

static uint64_t next_id;

/* n arrivals spread over [from, from + 60 s), answered by nobody (they just queue). */
static void arrivals(fixture_t *f, sw_time_t from, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sw_sched_on_arrival(f->s, from + S(60) * i / n, next_id++, &f->out);
}

static void drain_queue(fixture_t *f, sw_time_t now)
{
    /* Completes batches until nothing is queued, so the VM is idle and retirable; when the
     * core waits to fill a batch, its timer is fired. Time stands still otherwise. */
    for (int i = 0; i < 100000 && !sw_sched_is_idle(f->s); i++) {
        sw_actions_t acts = f->out;
        sw_actions_init(&f->out);
        size_t done = 0;
        for (size_t k = 0; k < acts.n; k++)
            if (acts.v[k].kind == SW_ACT_DISPATCH) {
                sw_sched_on_batch_done(f->s, now, acts.v[k].worker_id, acts.v[k].batch_id,
                                       &f->out);
                done++;
            }
        sw_actions_deinit(&acts);
        if (done == 0 && f->out.n == 0) {
            now = SW_MAX(now, sw_sched_next_wakeup(f->s));
            sw_sched_on_tick(f->s, now, &f->out);
        }
    }
    cr_assert(sw_sched_is_idle(f->s), "the queue drained");
}

Test(sched_reactive, tracks_the_target_and_honours_the_scale_out_cooldown)
{
    fixture_t f;
    setup(&f, "  name: reactive\n"
              "  reactive: {target_invocations_per_instance_per_minute: 60,\n"
              "             scale_out_cooldown_s: 120, scale_in_cooldown_s: 300,\n"
              "             min_instances: 1}\n");
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_MIN_INSTANCES), 1);
    sw_actions_clear(&f.out);
    arrivals(&f, 0, 300);
    sw_sched_on_tick(f.s, S(60), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_TARGET_TRACKING), 4, "300/min -> 5");
    sw_actions_clear(&f.out);
    arrivals(&f, S(60), 600);
    sw_sched_on_tick(f.s, S(120), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_TARGET_TRACKING), 0,
                 "60 s after a scale-out, inside the 120 s cooldown");
    arrivals(&f, S(120), 600);
    sw_sched_on_tick(f.s, S(180), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_TARGET_TRACKING), 5, "600/min -> 10");
    teardown(&f);
}

Test(sched_reactive, scales_in_only_after_the_scale_in_cooldown)
{
    fixture_t f;
    setup(&f, "  name: reactive\n"
              "  reactive: {target_invocations_per_instance_per_minute: 60,\n"
              "             scale_out_cooldown_s: 60, scale_in_cooldown_s: 300,\n"
              "             min_instances: 1}\n");
    arrivals(&f, 0, 300);
    sw_sched_on_tick(f.s, S(60), &f.out);
    ready_all(&f, S(61));
    drain_queue(&f, S(62));
    sw_actions_clear(&f.out);
    for (int minute = 2; minute <= 5; minute++) {
        sw_sched_on_tick(f.s, S(60 * minute), &f.out);
        cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_TARGET_TRACKING), 0,
                     "minute %d: idle, but within 300 s of the scale-out", minute);
    }
    sw_sched_on_tick(f.s, S(60 * 6), &f.out); /* 300 s after the scale-out at 60 s */
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_TARGET_TRACKING), 4,
                 "back to min_instances");
    teardown(&f);
}

/* The only launched VM's id (the monitor starts it at 10 s: the first arrivals find no
 * VM and no functions, so they miss). */
static uint32_t the_launch(const sw_actions_t *a)
{
    uint32_t id = 0;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].kind == SW_ACT_LAUNCH) {
            id = a->v[i].worker_id;
            n++;
        }
    cr_assert_eq(n, 1, "one VM covers 80 rps");
    return id;
}

/* 80 rps for a minute (one VM's planning capacity), then nothing: the forecast drops to
 * zero from the 120 s plan on. Returns with the VM running and idle. */
static void mark_load_then_quiet(fixture_t *f, const char *billing)
{
    char policy[1024];
    snprintf(policy, sizeof(policy),
             "  name: mark\n"
             "  mark: {min_instances: 0, target_utilization: 1.0}\n"
             "faas: {enabled: false}\n"
             "billing: %s\n",
             billing);
    setup(f, policy);
    arrivals(f, 0, 4800);
    sw_sched_on_tick(f->s, S(60), &f->out);
    uint32_t vm = the_launch(&f->out);
    sw_sched_on_worker_ready(f->s, S(70), vm, &f->out);
    drain_queue(f, S(71));
    sw_actions_clear(&f->out);
}

Test(sched_mark, never_retires_a_vm_inside_its_paid_minimum)
{
    fixture_t f;
    mark_load_then_quiet(&f, "{vm_granularity_s: 1, vm_minimum_s: 250}");
    /* Launched at 10 s, paid until 260 s: kept at the 120, 180 and 240 s plans. */
    for (int t = 120; t <= 240; t += 60)
        sw_sched_on_tick(f.s, S(t), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_SCALE_IN), 0);
    sw_sched_on_tick(f.s, S(300), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_SCALE_IN), 1, "up 290 s");
    teardown(&f);
}

Test(sched_mark, with_hourly_billing_keeps_a_vm_until_its_paid_hour_ends)
{
    fixture_t f;
    mark_load_then_quiet(&f, "{vm_granularity_s: 3600, vm_minimum_s: 60}");
    for (int minute = 2; minute < 60; minute++)
        sw_sched_on_tick(f.s, S(60 * minute), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_SCALE_IN), 0,
                 "the hour from 10 s to 3610 s is paid: keep serving");
    sw_sched_on_tick(f.s, S(3600), &f.out); /* the last interval of the paid hour */
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_SCALE_IN), 1);
    teardown(&f);
}

Test(sched_mark, scale_in_retires_a_booting_vm_before_a_running_one)
{
    fixture_t f;
    mark_load_then_quiet(&f, "{vm_granularity_s: 1, vm_minimum_s: 60}");
    /* A second VM, still booting when the load has gone: keep the one that serves. */
    arrivals(&f, S(60), 9600); /* minute 1: 160 rps -> the 120 s plan adds a VM */
    sw_sched_on_tick(f.s, S(120), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_FORECAST), 1);
    uint32_t booting = 0;
    for (size_t i = 0; i < f.out.n; i++)
        if (f.out.v[i].kind == SW_ACT_LAUNCH)
            booting = f.out.v[i].worker_id;
    drain_queue(&f, S(121));
    sw_actions_clear(&f.out);
    /* Minute 2 is quiet. At 180 s both are past their 60 s minimum. */
    sw_sched_on_tick(f.s, S(180), &f.out);
    cr_assert_geq(f.out.n, 2);
    cr_assert_eq(f.out.v[0].kind, SW_ACT_TERMINATE);
    cr_assert_eq(f.out.v[0].reason, SW_REASON_SCALE_IN);
    cr_assert_eq(f.out.v[0].worker_id, booting, "the booting VM goes first");
    cr_assert_eq(f.out.v[1].kind, SW_ACT_TERMINATE, "then the running one: nothing to serve");
    cr_assert_neq(f.out.v[1].worker_id, booting);
    teardown(&f);
}

Test(sched_mark, retires_a_vm_whose_light_load_functions_serve_for_less)
{
    fixture_t f;
    setup(&f, "  name: mark\n"
              "  mark: {min_instances: 0, target_utilization: 1.0}\n");
    /* A busy first minute gets a VM (launched by the planner or, as the first requests
     * find no VM and the function pool saturates, by the violation monitor). */
    arrivals(&f, 0, 4800);
    sw_sched_on_tick(f.s, S(60), &f.out);
    uint32_t vm = 0;
    size_t launches = 0;
    for (size_t i = 0; i < f.out.n; i++)
        if (f.out.v[i].kind == SW_ACT_LAUNCH) {
            vm = f.out.v[i].worker_id;
            launches++;
        }
    cr_assert_eq(launches, 1);
    sw_sched_on_worker_ready(f.s, S(60), vm, &f.out);
    /* Then 50 requests a minute: the VM still covers them, at 1 % utilisation. */
    arrivals(&f, S(60), 50);
    sw_sched_on_tick(f.s, S(120), &f.out);
    sw_sched_on_tick(f.s, S(180), &f.out);
    const sw_sched_interval_t *row;
    double capacity_after = -1;
    while ((row = sw_sched_take_interval(f.s)) != NULL)
        if (row->start == S(120))
            capacity_after = row->capacity_rps;
    cr_assert_eq(capacity_after, 0.0,
                 "five minutes of a $0.90/h VM cost more than spilling 0.8 rps: retired");
    teardown(&f);
}

/* VMs launched by the end of the 60 s plan after a minute of 80 rps (one VM's capacity),
 * with recent-max's upper bound at twice the recent max. */
static size_t planned_vms(const char *faas_enabled)
{
    fixture_t f;
    char policy[512];
    snprintf(policy, sizeof(policy),
             "  name: mark\n"
             "  mark: {min_instances: 0, target_utilization: 1.0}\n"
             "faas: {enabled: %s}\n",
             faas_enabled);
    char yaml[4096], err[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, "100000000", policy);
    /* recent-max with headroom 2: its upper quantile is twice its point forecast. */
    char *at = strstr(yaml, "headroom: 1");
    cr_assert_not_null(at);
    at[10] = '2';
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "p.yaml", &f.cfg, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(sw_sched_create(&f.s, f.cfg, err, sizeof(err)), 0, "%s", err);
    sw_actions_init(&f.out);
    sw_sched_start(f.s, 0, &f.out);
    arrivals(&f, 0, 4800);
    sw_sched_on_tick(f.s, S(60), &f.out);
    /* Every launch up to and including the 60 s plan: with spill, the harness never
     * completes a function call, so rejections start the violation monitor's VM at 10 s,
     * and the plan then finds the forecast covered. */
    size_t n = 0;
    for (size_t i = 0; i < f.out.n; i++)
        n += f.out.v[i].kind == SW_ACT_LAUNCH;
    teardown(&f);
    return n;
}

Test(sched_mark, sizes_the_pool_at_the_forecast_when_it_can_spill_else_at_the_upper_bound)
{
    cr_assert_eq(planned_vms("true"), 1, "functions take what one VM cannot");
    cr_assert_eq(planned_vms("false"), 2, "no fallback: cover the upper quantile");
}

Test(sched_mark, violation_monitor_launches_then_waits_for_its_cooldown)
{
    fixture_t f;
    setup_with_delay(&f, "100", "  name: mark\n"
              "  mark: {min_instances: 1, violation_budget: 0.02, violation_window_s: 60,\n"
              "         violation_cooldown_s: 120}\n"
              "faas: {enabled: false}\n");
    sw_actions_clear(&f.out);
    /* The only VM boots until 10 s: 30 arrivals at 1 s cannot wait, all rejected. */
    for (int i = 0; i < 30; i++)
        sw_sched_on_arrival(f.s, S(1), next_id++, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_REJECT, SW_REASON_QUEUE_DELAY), 30);
    sw_sched_on_tick(f.s, S(10), &f.out); /* the monitor runs every 10 s */
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_VIOLATION_MONITOR), 1);
    for (int i = 0; i < 30; i++)
        sw_sched_on_arrival(f.s, S(11), next_id++, &f.out);
    sw_sched_on_tick(f.s, S(20), &f.out);
    sw_sched_on_tick(f.s, S(30), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_VIOLATION_MONITOR), 1,
                 "inside the 120 s cooldown");
    teardown(&f);
}

/* Two types: `small` costs least per hour, `big` least per request at full load. */
static const char *two_types_yaml =
    "slo: {latency_ms: 200, target: 0.98}\n"
    "instance_types:\n"
    "  - {name: big, price_per_hour_usd: 0.5, boot_s: {dist: constant, mean: 10},\n"
    "     max_batch: 16, batch_latency_ms: [50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50,\n"
    "     50, 50, 50, 50], service_variation: {dist: constant, mean: 1}}\n"
    "  - {name: small, price_per_hour_usd: 0.1, boot_s: {dist: constant, mean: 10},\n"
    "     max_batch: 1, batch_latency_ms: [50], service_variation: {dist: constant, mean: 1}}\n"
    "policy:\n"
    "  interval_s: 60\n"
    "  max_queue_delay_ms: 100\n"
    "  name: mark\n"
    "  mark: {min_instances: %u, violation_budget: 0.02, violation_window_s: 60}\n"
    "faas: {enabled: false}\n"
    "predictor: {name: recent-max, window_intervals: 1, headroom: 1}\n";

/* The type of the monitor's launch after `rejected` requests were refused at 1 s. */
static const char *monitor_launch_type(unsigned min_instances, unsigned rejected)
{
    char yaml[4096], err[4096];
    snprintf(yaml, sizeof(yaml), two_types_yaml, min_instances);
    fixture_t f;
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "p.yaml", &f.cfg, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(sw_sched_create(&f.s, f.cfg, err, sizeof(err)), 0, "%s", err);
    sw_actions_init(&f.out);
    sw_sched_start(f.s, 0, &f.out);
    sw_actions_clear(&f.out);
    for (unsigned i = 0; i < rejected; i++)
        sw_sched_on_arrival(f.s, S(1), next_id++, &f.out);
    sw_sched_on_tick(f.s, S(10), &f.out);
    const char *type = NULL;
    for (size_t i = 0; i < f.out.n; i++)
        if (f.out.v[i].kind == SW_ACT_LAUNCH && f.out.v[i].reason == SW_REASON_VIOLATION_MONITOR)
            type = f.cfg->instance_types[f.out.v[i].type_idx].name;
    cr_assert_not_null(type, "the monitor launched");
    static char name[32];
    snprintf(name, sizeof(name), "%s", type);
    teardown(&f);
    return name;
}

/* Misses while the pool's capacity already covers the load it saw call for a small step;
 * launching the type cheapest at full load (a GPU) to cure them, then shedding small VMs
 * to pay for it, cost a flat load 13 % more than a fixed pool (bench/README.md, #14). */
Test(sched_mark, the_monitor_sizes_its_launch_by_the_shortfall)
{
    /* A booting big VM covers the 30 requests/10 s that found no VM ready: one small. */
    cr_assert_str_eq(monitor_launch_type(1, 30), "small");
    /* No VM and 3,000 requests in the first 10 s: a big one. */
    cr_assert_str_eq(monitor_launch_type(0, 3000), "big");
}

Test(sched_oracle, plans_each_interval_from_foresight_with_instant_vms)
{
    fixture_t f;
    char yaml[4096], err[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, "100000000", "  name: oracle\n");
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "p.yaml", &f.cfg, err, sizeof(err)), 0,
                 "%s", err);
    /* 80 rps is one VM's planning capacity at 80 % utilisation = 64 rps: two VMs beat one
     * VM plus functions; then nothing. */
    const uint64_t counts[] = {4800 * 2, 0};
    cr_assert_eq(sw_sched_create_foresight(&f.s, f.cfg, NULL, counts, 2, err, sizeof(err)), 0, "%s",
                 err);
    sw_actions_init(&f.out);
    sw_sched_start(f.s, 0, &f.out);
    size_t launched = count(&f.out, SW_ACT_LAUNCH, SW_REASON_ORACLE);
    cr_assert_geq(launched, 2);
    for (size_t i = 0; i < f.out.n; i++)
        if (f.out.v[i].kind == SW_ACT_LAUNCH)
            cr_assert(f.out.v[i].instant, "oracle VMs have no boot delay");
    ready_all(&f, 0);
    sw_actions_clear(&f.out);
    sw_sched_on_tick(f.s, S(60), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_ORACLE), launched,
                 "an idle minute needs no VM, and the oracle pays no minimum");
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(60), &sum);
    cr_assert_float_eq(sum.cost.vm_usd, launched * 0.9 / 60.0, 1e-9, "exactly one minute each");
    teardown(&f);
}

/* The oracle reads the future: a live core (sw_sched_create, as serve uses) refuses it, so
 * no live run can plan from a trace it does not have. */
Test(sched_oracle, a_live_core_refuses_a_policy_that_plans_from_foresight)
{
    sw_cfg_t *cfg;
    sw_sched_t *s = NULL;
    char yaml[4096], err[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, "100000000", "  name: oracle\n");
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "p.yaml", &cfg, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert(sw_sched_policy_needs_foresight(SW_POLICY_ORACLE));
    cr_assert_not(sw_sched_policy_needs_foresight(SW_POLICY_MARK));
    cr_assert_eq(sw_sched_create(&s, cfg, err, sizeof(err)), -EINVAL);
    cr_assert_null(s);
    cr_assert_str_eq(err, "policy.name: oracle plans with foresight of the whole trace and "
                          "exists only in simulate");
    sw_cfg_destroy(cfg);
}

/* Churn is recorded: each timeline row counts the VMs launched inside it, and the summary
 * has the run's span, so launches per hour can be reported. */
Test(sched_reactive, rows_count_launches_and_the_summary_has_the_span)
{
    fixture_t f;
    setup(&f, "  name: reactive\n"
              "  reactive: {target_invocations_per_instance_per_minute: 60,\n"
              "             scale_out_cooldown_s: 60, min_instances: 1}\n");
    arrivals(&f, 0, 300);
    sw_sched_on_tick(f.s, S(60), &f.out);
    sw_sched_on_tick(f.s, S(120), &f.out);
    const sw_sched_interval_t *row = sw_sched_take_interval(f.s);
    cr_assert_not_null(row);
    cr_assert_eq(row->launches, 1, "min_instances at the start");
    row = sw_sched_take_interval(f.s);
    cr_assert_not_null(row);
    cr_assert_eq(row->launches, 4, "300/min -> 5 at the 60 s plan");
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(120), &sum);
    cr_assert_eq(sum.vm_launched, 5);
    cr_assert_float_eq(sum.span_s, 120.0, 1e-9);
    teardown(&f);
}

/* The clairvoyant bound knows the load as the oracle does, but launches each VM its boot
 * ahead, billed like any other, and only where the VM repays its launch: two busy minutes
 * get two VMs from 10 s before they start (the boot lead), and a lone light minute is
 * left to functions, which serve it for less than a VM's launch and minute. */
Test(sched_clairvoyant, launches_its_boot_ahead_and_only_where_a_vm_repays_it)
{
    fixture_t f;
    char yaml[4096], err[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, "100000000", "  name: clairvoyant\n");
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "p.yaml", &f.cfg, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert(sw_sched_policy_needs_foresight(SW_POLICY_CLAIRVOYANT));
    /* 9600 a minute is 160 rps: two VMs at 64 rps each carry 128, the rest spills. */
    const uint64_t counts[] = {0, 9600, 9600, 0, 600, 0};
    cr_assert_eq(sw_sched_create_foresight(&f.s, f.cfg, NULL, counts, 6, err, sizeof(err)), 0, "%s",
                 err);
    sw_actions_init(&f.out);
    sw_sched_start(f.s, 0, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_CLAIRVOYANT), 0, "nothing to serve yet");
    cr_assert_eq(sw_sched_next_wakeup(f.s), S(50), "its own timer: the boot lead before 60 s");
    sw_sched_on_tick(f.s, S(50), &f.out);
    size_t launched = count(&f.out, SW_ACT_LAUNCH, SW_REASON_CLAIRVOYANT);
    cr_assert_geq(launched, 2, "enough for the busy minutes, booted by the time they start");
    for (size_t i = 0; i < f.out.n; i++)
        if (f.out.v[i].kind == SW_ACT_LAUNCH)
            cr_assert_not(f.out.v[i].instant, "it boots like everyone's VMs");
    ready_all(&f, S(60));
    sw_actions_clear(&f.out);
    for (int t = 60; t <= 300; t += 60)
        sw_sched_on_tick(f.s, S(t), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_CLAIRVOYANT), 0,
                 "600 requests cost less on functions than a VM's launch and minute");
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_CLAIRVOYANT), launched,
                 "retired once the busy minutes are over");
    teardown(&f);
}

/* One arrival at `t`, spilled (no VM serves), answered by its function `ms` later. */
static void spill_answered_after(fixture_t *f, sw_time_t t, int ms)
{
    size_t from = f->out.n;
    sw_sched_on_arrival(f->s, t, next_id++, &f->out);
    cr_assert_eq(f->out.n, from + 1);
    const sw_action_t *a = &f->out.v[from];
    cr_assert_eq(a->kind, SW_ACT_INVOKE);
    sw_faas_result_t r = {.req_id = a->req_id, .arrival = a->arrival, .duration_ms = ms};
    sw_sched_on_faas_done(f->s, t + (sw_time_t)ms * 1000, &r, &f->out);
}

/* Functions that miss now and then (a cold start, a slow tail) are the price of spilling,
 * weighed by the planner: the monitor does not buy a VM for them, or at a light load it
 * would buy one all day and retire it after its minimum. Only once the run has answers
 * enough to show functions missing more than the budget do their misses count. */
Test(sched_mark, monitor_buys_no_vm_for_function_misses_until_functions_fail_the_budget)
{
    fixture_t f;
    setup_with_delay(&f, "100",
                     "  name: mark\n"
                     "  mark: {min_instances: 0, violation_budget: 0.02, violation_window_s: 60,\n"
                     "         violation_cooldown_s: 0}\n");
    sw_actions_clear(&f.out);
    /* 40 answers in the first 10 s, one in ten late: 10 % of the window, over the budget
     * by far, but 40 answers are too few to judge functions by (0.02 x 40 < 5). */
    for (int i = 0; i < 40; i++)
        spill_answered_after(&f, S(i) / 4, i % 10 == 0 ? 300 : 100);
    sw_sched_on_tick(f.s, S(10), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_VIOLATION_MONITOR), 0);
    /* 300 more the same way: 34 misses of 340 answers is a failing function, so its
     * misses are now the pool's to fix. */
    for (int i = 0; i < 300; i++)
        spill_answered_after(&f, S(10) + S(i) / 10, i % 10 == 0 ? 300 : 100);
    sw_sched_on_tick(f.s, S(40), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_VIOLATION_MONITOR), 1);
    teardown(&f);
}
