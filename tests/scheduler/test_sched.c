/* The policy core through its public API, with invented timestamps: batching (full
 * batch, slack expiry), spill at arrival, admission control, a lost worker's requests,
 * and the end of a run. Every test checks that each request gets exactly one answer. */
#include <criterion/criterion.h>
#include <string.h>

#include "scheduler/sched.h"

#define S(x) ((sw_time_t)(x) * SW_US_PER_S)
#define MS(x) ((sw_time_t)(x) * SW_US_PER_MS)

static const char *base_yaml =
    "seed: 1\n"
    "slo: {latency_ms: 200, target: 0.98}\n"
    "instance_types:\n"
    "  - name: gpu\n"
    "    price_per_hour_usd: 0.9\n"
    "    boot_s: {dist: constant, mean: 10}\n"
    "    max_batch: 4\n"
    "    batch_latency_ms: [20, 30, 40, 50]\n"
    "    service_variation: {dist: constant, mean: 1}\n"
    "faas: {enabled: %s}\n"
    "policy:\n"
    "  name: %s\n"
    "  dispatch_margin_ms: 5\n"
    "  max_queue_delay_ms: %s\n"
    "  static: {pool: [{type: gpu, count: 1}]}\n"
    "  mark: {min_instances: 1}\n";

typedef struct fixture {
    sw_cfg_t *cfg;
    sw_sched_t *s;
    sw_actions_t out;
} fixture_t;

static void setup(fixture_t *f, const char *policy, const char *faas, const char *max_delay)
{
    char yaml[2048], err[4096];
    snprintf(yaml, sizeof(yaml), base_yaml, faas, policy, max_delay);
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "t.yaml", &f->cfg, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(sw_sched_create(&f->s, f->cfg, err, sizeof(err)), 0, "%s", err);
    sw_actions_init(&f->out);
    sw_sched_start(f->s, 0, &f->out);
}

static void teardown(fixture_t *f)
{
    sw_actions_deinit(&f->out);
    sw_sched_destroy(f->s);
    sw_cfg_destroy(f->cfg);
}

static size_t count(const sw_actions_t *a, sw_action_kind_t kind, int reason)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].kind == kind && (reason < 0 || a->v[i].reason == (sw_reason_t)reason);
    return n;
}

static const sw_action_t *find(const sw_actions_t *a, sw_action_kind_t kind)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].kind == kind)
            return &a->v[i];
    return NULL;
}

static void answer_all_at(fixture_t *f, sw_time_t t)
{
    /* Completes every dispatched batch and function call in `f->out`, repeatedly, until
     * the core has nothing in flight. */
    for (int round = 0; round < 100 && !sw_sched_is_idle(f->s); round++) {
        sw_actions_t acts = f->out;
        sw_actions_init(&f->out);
        for (size_t i = 0; i < acts.n; i++) {
            const sw_action_t *a = &acts.v[i];
            if (a->kind == SW_ACT_DISPATCH)
                sw_sched_on_batch_done(f->s, t, a->worker_id, a->batch_id, &f->out);
            if (a->kind == SW_ACT_INVOKE) {
                sw_faas_result_t r = {.req_id = a->req_id, .arrival = a->arrival,
                                      .duration_ms = 100};
                sw_sched_on_faas_done(f->s, t, &r, &f->out);
            }
        }
        sw_actions_deinit(&acts);
        t += MS(1);
        sw_sched_on_tick(f->s, t, &f->out);
    }
}

Test(sched_core, dispatches_when_the_batch_is_full)
{
    fixture_t f;
    setup(&f, "static", "false", "2000");
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_STATIC_POOL), 1);
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_actions_clear(&f.out);
    sw_sched_on_worker_ready(f.s, S(10), worker, &f.out);
    for (uint64_t i = 0; i < 3; i++)
        sw_sched_on_arrival(f.s, S(10) + MS(i), i, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_DISPATCH, -1), 0, "three of four: wait for more");
    sw_sched_on_arrival(f.s, S(10) + MS(3), 3, &f.out);
    const sw_action_t *d = find(&f.out, SW_ACT_DISPATCH);
    cr_assert_not_null(d);
    cr_assert_eq(d->reason, SW_REASON_BATCH_FULL);
    cr_assert_eq(d->n_reqs, 4);
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_eq(f.out.req_ids[d->reqs_off + i], i, "FIFO order");
    teardown(&f);
}

Test(sched_core, dispatches_a_partial_batch_when_the_oldest_slack_runs_out)
{
    fixture_t f;
    setup(&f, "static", "false", "2000");
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_sched_on_worker_ready(f.s, S(10), worker, &f.out);
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, S(10), 7, &f.out);
    cr_assert_eq(f.out.n, 0);
    /* deadline 10.200 - margin 5 ms - T_1 20 ms = 10.175 s */
    cr_assert_eq(sw_sched_next_wakeup(f.s), S(10) + MS(175));
    sw_sched_on_tick(f.s, S(10) + MS(175), &f.out);
    const sw_action_t *d = find(&f.out, SW_ACT_DISPATCH);
    cr_assert_not_null(d);
    cr_assert_eq(d->reason, SW_REASON_SLACK_EXPIRED);
    cr_assert_eq(d->n_reqs, 1);
    sw_sched_on_batch_done(f.s, S(10) + MS(195), worker, d->batch_id, &f.out);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(11), &sum);
    cr_assert_eq(sum.served_vm, 1);
    cr_assert_eq(sum.met_slo, 1);
    cr_assert_float_eq(sum.latency->max_us, MS(195), 0);
    teardown(&f);
}

Test(sched_core, spills_to_faas_when_the_vm_queue_would_miss_the_slo)
{
    fixture_t f;
    setup(&f, "mark", "true", "2000");
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_sched_on_worker_ready(f.s, S(10), worker, &f.out);
    sw_actions_clear(&f.out);
    for (uint64_t i = 0; i < 100; i++)
        sw_sched_on_arrival(f.s, S(10), i, &f.out);
    size_t spilled = count(&f.out, SW_ACT_INVOKE, SW_REASON_SPILL_PREDICTED_MISS);
    cr_assert_gt(spilled, 50, "one worker at 80 rps cannot take a burst of 100 in 200 ms");
    cr_assert_lt(spilled, 100, "but it takes some");
    answer_all_at(&f, S(10) + MS(150));
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(20), &sum);
    cr_assert_eq(sum.requests, 100, "every request answered once");
    cr_assert_eq(sum.served_faas, spilled);
    cr_assert_eq(sum.served_vm + sum.served_faas + sum.rejected, 100);
    teardown(&f);
}

Test(sched_core, rejects_when_the_wait_exceeds_max_queue_delay)
{
    fixture_t f;
    setup(&f, "static", "false", "100");
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, S(1), 1, &f.out); /* the only VM is ready at 10 s */
    const sw_action_t *r = find(&f.out, SW_ACT_REJECT);
    cr_assert_not_null(r);
    cr_assert_eq(r->reason, SW_REASON_QUEUE_DELAY);
    cr_assert_eq(r->req_id, 1);
    teardown(&f);
}

Test(sched_core, requeues_the_batch_of_a_lost_worker_and_replaces_it)
{
    fixture_t f;
    setup(&f, "static", "false", "60000");
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_sched_on_worker_ready(f.s, S(10), worker, &f.out);
    sw_actions_clear(&f.out);
    for (uint64_t i = 0; i < 4; i++)
        sw_sched_on_arrival(f.s, S(10), i, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_DISPATCH, -1), 1);
    sw_actions_clear(&f.out);
    sw_sched_on_worker_lost(f.s, S(10) + MS(10), worker, &f.out);
    const sw_action_t *l = find(&f.out, SW_ACT_LAUNCH);
    cr_assert_not_null(l, "a static pool refills itself");
    cr_assert_eq(l->reason, SW_REASON_STATIC_POOL);
    cr_assert(!sw_sched_is_idle(f.s), "the four requests wait for the replacement");
    uint32_t replacement = l->worker_id;
    sw_actions_clear(&f.out);
    sw_sched_on_worker_ready(f.s, S(20), replacement, &f.out);
    const sw_action_t *d = find(&f.out, SW_ACT_DISPATCH);
    cr_assert_not_null(d);
    cr_assert_eq(d->n_reqs, 4);
    cr_assert_eq(d->reason, SW_REASON_LATE);
    sw_sched_on_batch_done(f.s, S(20) + MS(50), replacement, d->batch_id, &f.out);
    sw_sched_on_batch_done(f.s, S(20) + MS(60), worker, 1, &f.out); /* stale: ignored */
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(21), &sum);
    cr_assert_eq(sum.served_vm, 4);
    cr_assert_eq(sum.met_slo, 0);
    cr_assert_eq(sum.vm_lost, 1);
    teardown(&f);
}

Test(sched_core, finish_rejects_what_is_still_queued_and_stops_every_vm)
{
    fixture_t f;
    setup(&f, "static", "false", "60000");
    sw_actions_clear(&f.out);
    for (uint64_t i = 0; i < 3; i++)
        sw_sched_on_arrival(f.s, S(1), i, &f.out);
    cr_assert_eq(f.out.n, 0, "queued for the booting VM");
    sw_sched_finish(f.s, S(2), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_REJECT, SW_REASON_NO_CAPACITY), 3);
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_END_OF_RUN), 1);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(2), &sum);
    cr_assert_eq(sum.requests, 3);
    cr_assert_float_eq(sum.cost.vm_usd, 60 * 0.9 / 3600, 1e-12, "60 s minimum for a 2 s VM");
    teardown(&f);
}

Test(sched_core, faas_only_invokes_everything_and_bills_it)
{
    fixture_t f;
    setup(&f, "faas-only", "true", "2000");
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, -1), 0);
    for (uint64_t i = 0; i < 10; i++)
        sw_sched_on_arrival(f.s, MS(i), i, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_INVOKE, SW_REASON_FAAS_ONLY), 10);
    answer_all_at(&f, MS(150));
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(1), &sum);
    cr_assert_eq(sum.served_faas, 10);
    cr_assert_gt(sum.cost.faas_usd, 0);
    cr_assert_eq(sum.cost.vm_usd, 0);
    teardown(&f);
}

Test(sched_core, throttled_function_falls_back_or_is_rejected)
{
    fixture_t f;
    setup(&f, "faas-only", "true", "2000");
    sw_sched_on_arrival(f.s, 0, 42, &f.out);
    sw_actions_clear(&f.out);
    sw_faas_result_t r = {.req_id = 42, .arrival = 0, .status = SW_FAAS_THROTTLED};
    sw_sched_on_faas_done(f.s, MS(1), &r, &f.out);
    const sw_action_t *rej = find(&f.out, SW_ACT_REJECT);
    cr_assert_not_null(rej, "no VM to fall back on: answered with an error");
    cr_assert_eq(rej->reason, SW_REASON_FAAS_THROTTLED);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(1), &sum);
    cr_assert_eq(sum.throttled, 1);
    cr_assert_eq(sum.cost.faas_usd, 0, "a throttled call is not billed");
    teardown(&f);
}

/* Lambda's bill for a call of `ms` (init included), at the defaults the fixture keeps:
 * 3008 MB, $0.0000166667 per GB-s, $0.20 per million requests, 1 ms granularity. */
static double lambda_usd(double billed_ms)
{
    return 0.20 / 1e6 + billed_ms / 1000.0 * 3008.0 / 1024.0 * 0.0000166667;
}

/* A function that ran and failed (X-Amz-Function-Error) is billed like a success, init
 * included, and its request falls back: with no VM it is answered with an error. */
Test(sched_core, a_function_error_is_billed_and_answered_with_an_error)
{
    fixture_t f;
    setup(&f, "faas-only", "true", "2000");
    sw_sched_on_arrival(f.s, 0, 42, &f.out);
    sw_actions_clear(&f.out);
    sw_faas_result_t r = {.req_id = 42, .arrival = 0, .status = SW_FAAS_FUNCTION_ERROR,
                          .cold_start = true, .duration_ms = 250.4, .init_ms = 100.2};
    sw_sched_on_faas_done(f.s, MS(400), &r, &f.out);
    cr_assert_eq(f.out.n, 1);
    cr_assert_eq(f.out.v[0].kind, SW_ACT_REJECT);
    cr_assert_eq(f.out.v[0].req_id, 42);
    cr_assert_eq(f.out.v[0].reason, SW_REASON_FAAS_ERROR);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(1), &sum);
    cr_assert_eq(sum.faas_errors, 1);
    cr_assert_eq(sum.served_faas, 0, "an error is not a service");
    cr_assert_eq(sum.rejected, 1);
    cr_assert_eq(sum.met_slo, 0);
    /* 250.4 + 100.2 = 350.6 ms, billed as 351 ms. */
    cr_assert_float_eq(sum.cost.faas_usd, lambda_usd(351), 1e-15, "%.12g", sum.cost.faas_usd);
    cr_assert(sw_sched_is_idle(f.s));
    teardown(&f);
}

/* A call that failed in transport or at the service (after the client's retries) never
 * ran: not billed. With a VM serving, the request runs there instead. */
Test(sched_core, a_failed_invocation_is_not_billed_and_falls_back_to_a_vm)
{
    fixture_t f;
    setup(&f, "mark", "true", "2000"); /* min_instances 1: one VM booting */
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, MS(1), 9, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_INVOKE, SW_REASON_SPILL_NO_VM), 1);
    sw_sched_on_worker_ready(f.s, MS(2), worker, &f.out);
    sw_actions_clear(&f.out);
    sw_faas_result_t r = {.req_id = 9, .arrival = MS(1), .status = SW_FAAS_FAILED};
    sw_sched_on_faas_done(f.s, MS(50), &r, &f.out);
    cr_assert_eq(f.out.n, 0, "queued: a fuller batch is cheaper, and there is slack");
    /* The batch goes at the last moment its T_1 still meets the SLO. */
    sw_time_t go = sw_sched_next_wakeup(f.s);
    cr_assert(go > MS(50) && go + MS(20) <= MS(1) + MS(200), "go at %lld us", (long long)go);
    sw_sched_on_tick(f.s, go, &f.out);
    const sw_action_t *d = find(&f.out, SW_ACT_DISPATCH);
    cr_assert_not_null(d, "the VM takes the request when its slack runs out");
    cr_assert_eq(d->n_reqs, 1);
    cr_assert_eq(f.out.req_ids[d->reqs_off], 9);
    cr_assert_eq(count(&f.out, SW_ACT_INVOKE, -1), 0, "never sent to a function twice");
    sw_sched_on_batch_done(f.s, go + MS(20), worker, d->batch_id, &f.out);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(1), &sum);
    cr_assert_eq(sum.faas_errors, 1);
    cr_assert_eq(sum.served_vm, 1);
    cr_assert_eq(sum.served_faas, 0);
    cr_assert_eq(sum.met_slo, 1, "answered within 200 ms of its arrival");
    cr_assert_eq(sum.cost.faas_usd, 0, "a failed call is not billed");
    teardown(&f);
}

Test(sched_core, queued_requests_spill_when_no_vm_is_left_serving)
{
    fixture_t f;
    setup(&f, "mark", "true", "2000");
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_sched_on_worker_ready(f.s, S(10), worker, &f.out);
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, S(10), 1, &f.out);
    sw_sched_on_arrival(f.s, S(10) + MS(1), 2, &f.out);
    cr_assert_eq(f.out.n, 0, "two requests wait for a fuller batch");
    sw_sched_on_worker_lost(f.s, S(10) + MS(2), worker, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_INVOKE, SW_REASON_SPILL_NO_VM), 2,
                 "no VM serves: functions answer sooner than a boot");
    answer_all_at(&f, S(10) + MS(150));
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(11), &sum);
    cr_assert_eq(sum.served_faas, 2);
    teardown(&f);
}

/* Issue 10: a function refusal answered at the very instant of the call (the Invoke
 * client's local throttle window, a simulated throttle) used to send the request back to
 * the function at once, for ever. Refused once, it waits for a VM and is not invoked
 * again; a new arrival may still try the function. */
Test(sched_core, a_request_a_function_refused_is_never_invoked_again)
{
    fixture_t f;
    setup(&f, "mark", "true", "2000"); /* one VM booting, none serving */
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, MS(1), 7, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_INVOKE, SW_REASON_SPILL_NO_VM), 1);
    sw_actions_clear(&f.out);
    sw_faas_result_t r = {.req_id = 7, .arrival = MS(1), .status = SW_FAAS_THROTTLED};
    sw_sched_on_faas_done(f.s, MS(1), &r, &f.out);
    cr_assert_eq(f.out.n, 0, "queued for the booting VM, not invoked again");
    sw_sched_on_tick(f.s, MS(1), &f.out);
    sw_sched_on_arrival(f.s, MS(2), 8, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_INVOKE, -1), 1, "only the new request is spilled");
    cr_assert_eq(find(&f.out, SW_ACT_INVOKE)->req_id, 8);
    sw_actions_clear(&f.out);
    uint32_t worker = 1;
    sw_sched_on_worker_ready(f.s, S(10), worker, &f.out);
    const sw_action_t *d = find(&f.out, SW_ACT_DISPATCH);
    cr_assert_not_null(d, "the refused request runs on the VM once it is ready");
    cr_assert_eq(f.out.req_ids[d->reqs_off], 7);
    /* The VM dies with it: the request is queued again, still not spilled. */
    sw_actions_clear(&f.out);
    sw_sched_on_worker_lost(f.s, S(10) + MS(5), worker, &f.out);
    for (size_t i = 0; i < f.out.n; i++)
        cr_assert(!(f.out.v[i].kind == SW_ACT_INVOKE && f.out.v[i].req_id == 7));
    teardown(&f);
}

Test(sched_core, a_queue_with_no_pool_left_is_rejected_not_kept)
{
    fixture_t f;
    setup(&f, "mark", "true", "2000");
    uint32_t worker = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, MS(1), 7, &f.out);
    sw_actions_clear(&f.out);
    sw_faas_result_t r = {.req_id = 7, .arrival = MS(1), .status = SW_FAAS_FAILED};
    sw_sched_on_faas_done(f.s, MS(300), &r, &f.out);
    cr_assert_eq(f.out.n, 0, "waits for the booting VM");
    /* The VM never comes up and nothing replaces it (mark replaces nothing on its own):
     * the request cannot be answered by anyone, so it gets its error now. */
    sw_sched_on_worker_lost(f.s, S(5), worker, &f.out);
    const sw_action_t *rej = find(&f.out, SW_ACT_REJECT);
    cr_assert_not_null(rej);
    cr_assert_eq(rej->req_id, 7);
    cr_assert_eq(rej->reason, SW_REASON_NO_CAPACITY);
    cr_assert(sw_sched_is_idle(f.s));
    teardown(&f);
}
