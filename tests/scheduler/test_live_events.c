/* The core's events that only a live driver produces (issue 11 §3): per-request errors in
 * a batch result, a late result after the worker was declared lost, hand-started workers
 * adopted into the pool, a worker that announces it is draining, and the end of a run
 * with batches still in hand. Exact counts and cents, invented timestamps. */
#include <criterion/criterion.h>
#include <string.h>

#include "scheduler/sched.h"

#define S(x) ((sw_time_t)(x) * SW_US_PER_S)
#define MS(x) ((sw_time_t)(x) * SW_US_PER_MS)

/* One GPU type at $0.9/h, per-second billing with AWS's 60 s minimum. */
static const char *yaml_fmt =
    "seed: 1\n"
    "slo: {latency_ms: 200, target: 0.98}\n"
    "instance_types:\n"
    "  - name: gpu\n"
    "    price_per_hour_usd: 0.9\n"
    "    boot_s: {dist: constant, mean: 10}\n"
    "    max_batch: 4\n"
    "    batch_latency_ms: [20, 30, 40, 50]\n"
    "faas: {enabled: false}\n"
    "policy:\n"
    "  name: %s\n"
    "  max_queue_delay_ms: 60000\n"
    "  static: {pool: [%s]}\n";

typedef struct fixture {
    sw_cfg_t *cfg;
    sw_sched_t *s;
    sw_actions_t out;
} fixture_t;

static void setup(fixture_t *f, const char *policy, int pool)
{
    char yaml[2048], err[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, policy, pool ? "{type: gpu, count: 1}" : "");
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

static const sw_action_t *find(const sw_actions_t *a, sw_action_kind_t kind)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].kind == kind)
            return &a->v[i];
    return NULL;
}

static size_t count(const sw_actions_t *a, sw_action_kind_t kind, int reason)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->v[i].kind == kind && (reason < 0 || a->v[i].reason == (sw_reason_t)reason);
    return n;
}

/* A ready worker with a full batch of four in hand; returns the dispatch. */
static sw_action_t full_batch(fixture_t *f, uint32_t *worker)
{
    *worker = find(&f->out, SW_ACT_LAUNCH)->worker_id;
    sw_sched_on_worker_ready(f->s, S(10), *worker, &f->out);
    sw_actions_clear(&f->out);
    for (uint64_t i = 0; i < 4; i++)
        sw_sched_on_arrival(f->s, S(10), 100 + i, &f->out);
    const sw_action_t *d = find(&f->out, SW_ACT_DISPATCH);
    cr_assert_not_null(d);
    cr_assert_eq(d->n_reqs, 4);
    sw_action_t copy = *d;
    sw_actions_clear(&f->out);
    return copy;
}

Test(sched_live, a_per_request_error_fails_only_that_request)
{
    fixture_t f;
    setup(&f, "static", 1);
    uint32_t worker;
    sw_action_t d = full_batch(&f, &worker);
    const bool failed[4] = {false, true, false, false};
    sw_sched_on_batch_result(f.s, S(10) + MS(50), worker, d.batch_id, failed, &f.out);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(11), &sum);
    cr_assert_eq(sum.served_vm, 3);
    cr_assert_eq(sum.failed, 1);
    cr_assert_eq(sum.requests, 4, "a failed request is answered, once");
    cr_assert_eq(sum.met_slo, 3, "and it is a miss");
    cr_assert_eq(count(&f.out, SW_ACT_DISPATCH, -1) + count(&f.out, SW_ACT_INVOKE, -1), 0,
                 "it is not retried");
    cr_assert(sw_sched_is_idle(f.s));
    teardown(&f);
}

Test(sched_live, a_late_result_after_the_worker_was_lost_is_ignored)
{
    fixture_t f;
    setup(&f, "static", 1);
    uint32_t worker;
    sw_action_t d = full_batch(&f, &worker);
    sw_sched_on_worker_lost(f.s, S(10) + MS(30), worker, &f.out);
    /* The stopped worker resumes and answers after its batch went elsewhere. */
    sw_sched_on_batch_result(f.s, S(10) + MS(60), worker, d.batch_id, NULL, &f.out);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(11), &sum);
    cr_assert_eq(sum.served_vm, 0, "nothing counted twice");
    cr_assert(!sw_sched_is_idle(f.s), "the four wait for the replacement");
    const sw_action_t *l = find(&f.out, SW_ACT_LAUNCH);
    cr_assert_not_null(l);
    uint32_t replacement = l->worker_id;
    sw_actions_clear(&f.out);
    sw_sched_on_worker_ready(f.s, S(20), replacement, &f.out);
    d = *find(&f.out, SW_ACT_DISPATCH);
    sw_sched_on_batch_result(f.s, S(20) + MS(50), replacement, d.batch_id, NULL, &f.out);
    sw_sched_summary(f.s, S(21), &sum);
    cr_assert_eq(sum.served_vm, 4);
    cr_assert_eq(sum.requests, 4);
    teardown(&f);
}

Test(sched_live, an_adopted_worker_serves_at_once_and_is_billed_from_joining)
{
    fixture_t f;
    setup(&f, "static", 0);
    cr_assert_eq(f.out.n, 0, "an empty static pool launches nothing");
    uint32_t id = sw_sched_adopt_worker(f.s, S(5), 0, &f.out);
    cr_assert_neq(id, 0);
    const sw_action_t *l = find(&f.out, SW_ACT_LAUNCH);
    cr_assert_not_null(l, "the join is in the decision log");
    cr_assert_eq(l->reason, SW_REASON_ADOPTED);
    cr_assert_eq(l->worker_id, id);
    sw_actions_clear(&f.out);
    for (uint64_t i = 0; i < 4; i++)
        sw_sched_on_arrival(f.s, S(6), i, &f.out);
    const sw_action_t *d = find(&f.out, SW_ACT_DISPATCH);
    cr_assert_not_null(d, "running at once");
    cr_assert_eq(d->worker_id, id);
    cr_assert_eq(sw_sched_adopt_worker(f.s, S(6), 7, &f.out), 0, "no such type");
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(5) + S(120), &sum);
    cr_assert_float_eq(sum.cost.vm_usd, 120 * 0.9 / 3600, 1e-12, "120 s since it joined");
    teardown(&f);
}

/* Found by tests/faults: an adopted worker's loss made the static policy launch a
 * replacement, which a static provider refuses, which was a loss, and so on for good. */
Test(sched_live, a_lost_adopted_worker_is_not_replaced_but_the_pool_is_refilled)
{
    fixture_t f;
    setup(&f, "static", 1);
    uint32_t pooled = find(&f.out, SW_ACT_LAUNCH)->worker_id;
    sw_actions_clear(&f.out);
    uint32_t adopted = sw_sched_adopt_worker(f.s, S(5), 0, &f.out);
    sw_actions_clear(&f.out);
    sw_sched_on_worker_lost(f.s, S(6), adopted, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, -1), 0, "the pool of one is still whole");
    sw_sched_on_worker_lost(f.s, S(7), pooled, &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_LAUNCH, SW_REASON_STATIC_POOL), 1, "refilled to one");
    teardown(&f);
}

Test(sched_live, a_draining_worker_finishes_its_batch_then_stops_and_is_replaced)
{
    fixture_t f;
    setup(&f, "static", 1);
    uint32_t worker;
    sw_action_t d = full_batch(&f, &worker);
    sw_sched_on_worker_draining(f.s, S(10) + MS(10), worker, &f.out);
    const sw_action_t *l = find(&f.out, SW_ACT_LAUNCH);
    cr_assert_not_null(l, "a replacement starts at once");
    cr_assert_eq(find(&f.out, SW_ACT_TERMINATE), NULL, "not before its batch is answered");
    sw_actions_clear(&f.out);
    sw_sched_on_arrival(f.s, S(10) + MS(20), 200, &f.out);
    cr_assert_eq(find(&f.out, SW_ACT_DISPATCH), NULL, "no new batch for a draining worker");
    sw_sched_on_batch_result(f.s, S(10) + MS(50), worker, d.batch_id, NULL, &f.out);
    const sw_action_t *t = find(&f.out, SW_ACT_TERMINATE);
    cr_assert_not_null(t);
    cr_assert_eq(t->worker_id, worker);
    cr_assert_eq(t->reason, SW_REASON_WORKER_DRAIN);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(11), &sum);
    cr_assert_eq(sum.served_vm, 4);
    teardown(&f);
}

Test(sched_live, finish_answers_a_batch_in_hand_with_an_error_not_a_success)
{
    fixture_t f;
    setup(&f, "static", 1);
    uint32_t worker;
    full_batch(&f, &worker);
    sw_sched_finish(f.s, S(10) + MS(30), &f.out);
    cr_assert_eq(count(&f.out, SW_ACT_REJECT, SW_REASON_END_OF_RUN), 4);
    cr_assert_eq(count(&f.out, SW_ACT_TERMINATE, SW_REASON_END_OF_RUN), 1);
    sw_sched_summary_t sum;
    sw_sched_summary(f.s, S(11), &sum);
    cr_assert_eq(sum.served_vm, 0);
    cr_assert_eq(sum.rejected, 4);
    cr_assert_eq(sum.requests, 4);
    cr_assert(sw_sched_is_idle(f.s));
    teardown(&f);
}
