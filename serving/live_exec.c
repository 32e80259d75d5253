/* Executing the core's actions in the real world, and feeding back what came of them.
 * One rule keeps the core's counts exact: every DISPATCH ends in exactly one
 * on_batch_result or on_worker_lost, and every INVOKE in exactly one on_faas_done, even
 * when the action fails on the spot (a worker that just vanished, a client refusal). Such
 * immediate outcomes are queued as feedback and given to the core after the action list
 * is done, never while it is being walked. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>

#include "serving/live_internal.h"

#define SW_LOG_MODULE "serve"
#include "common/log.h"

sw_time_t sw__live_tick(sw_srv_live_t *l)
{
    l->now = sw_clock_now() - l->origin;
    return l->now;
}

live_worker_t *sw__live_worker(const sw_srv_live_t *l, uint32_t id)
{
    return id < l->wk_cap ? l->wk[id] : NULL;
}

void sw__live_worker_forget(sw_srv_live_t *l, uint32_t id)
{
    live_worker_t *w = sw__live_worker(l, id);
    if (!w)
        return;
    l->wk[id] = NULL;
    l->n_workers--;
    sw_free(w->batch_ids);
    sw_free(w);
}

static void feedback(sw_srv_live_t *l, feedback_t fb)
{
    if (l->n_fb == l->fb_cap) {
        l->fb_cap = l->fb_cap ? l->fb_cap * 2 : 16;
        l->fb = sw_realloc(l->fb, l->fb_cap * sizeof(*l->fb));
    }
    l->fb[l->n_fb++] = fb;
}

static void lose_worker(sw_srv_live_t *l, uint32_t id)
{
    feedback(l, (feedback_t){.kind = FB_WORKER_LOST, .worker_id = id});
}

static void fail_faas(sw_srv_live_t *l, uint64_t req_id, sw_time_t arrival,
                      sw_faas_status_t status)
{
    feedback(l, (feedback_t){.kind = FB_FAAS_DONE,
                             .faas = {.req_id = req_id, .arrival = arrival, .status = status}});
}

/* ---- DISPATCH ---- */

static void ensure_batch_scratch(sw_srv_live_t *l, size_t n)
{
    if (n <= l->batch_cap)
        return;
    l->batch_reqs = sw_realloc(l->batch_reqs, n * sizeof(*l->batch_reqs));
    l->batch_req_ptrs = sw_realloc(l->batch_req_ptrs, n * sizeof(*l->batch_req_ptrs));
    l->batch_cap = n;
}

static void exec_dispatch(sw_srv_live_t *l, const sw_action_t *a)
{
    live_worker_t *w = sw__live_worker(l, a->worker_id);
    const uint64_t *ids = &l->acts.req_ids[a->reqs_off];
    ensure_batch_scratch(l, a->n_reqs);
    for (uint32_t i = 0; i < a->n_reqs; i++) {
        uint32_t row;
        live_call_t *c = sw__live_call_of(l, ids[i], &row);
        SW_ASSERT(c != NULL); /* a row stays in its call until the core lets go of it */
        Spillway__Request *r = &l->batch_reqs[i];
        spillway__request__init(r);
        r->id = ids[i];
        r->n_input = l->o.model.input_size;
        r->input = (float *)sw__live_row_input(l, c, row); /* packed at once, not kept */
        l->batch_req_ptrs[i] = r;
        sw_hist_add(&l->queue_us, l->now - c->received);
    }
    Spillway__Batch b = SPILLWAY__BATCH__INIT;
    b.batch_id = a->batch_id;
    b.n_requests = a->n_reqs;
    b.requests = l->batch_req_ptrs;
    int rc = w ? sw_srv_workers_send_batch(l->workers, a->worker_id, &b) : -ENOTCONN;
    if (rc < 0) {
        SW_LOG_WARN("batch not sent worker=%" PRIu32 " batch=%" PRIu64 " requests=%" PRIu32
                    " reason=\"%s\"; its requests go elsewhere", a->worker_id, a->batch_id,
                    a->n_reqs, sw_strerror(rc));
        sw_srv_workers_forget(l->workers, a->worker_id);
        lose_worker(l, a->worker_id);
        return;
    }
    l->c.exec_batches++;
    w->batch_id = a->batch_id;
    w->batch_n = a->n_reqs;
    memcpy(w->batch_ids, ids, a->n_reqs * sizeof(*ids));
    w->batch_sent = l->now;
}

/* ---- INVOKE ---- */

/* The Lambda client hands back one pointer per call: a small context from a free list,
 * so a function call allocates nothing once the list has grown to the calls in flight. */
typedef struct faas_ctx {
    sw_srv_live_t *l;
    uint64_t req_id;
    sw_time_t arrival;
    struct faas_ctx *next_free;
} faas_ctx_t;

static faas_ctx_t *ctx_get(sw_srv_live_t *l)
{
    faas_ctx_t *x = l->faas_free;
    if (x)
        l->faas_free = x->next_free;
    else
        x = sw_malloc(sizeof(*x));
    x->l = l;
    return x;
}

static void ctx_put(faas_ctx_t *x)
{
    x->next_free = x->l->faas_free;
    x->l->faas_free = x;
}

void sw__live_faas_ctx_free_all(sw_srv_live_t *l)
{
    faas_ctx_t *x;
    while ((x = l->faas_free) != NULL) {
        l->faas_free = x->next_free;
        sw_free(x);
    }
}

static void on_faas_answer(void *arg, const sw_be_lambda_result_t *res);

static void exec_invoke(sw_srv_live_t *l, const sw_action_t *a)
{
    uint32_t row;
    live_call_t *c = sw__live_call_of(l, a->req_id, &row);
    SW_ASSERT(c != NULL);
    if (!l->lambda) {
        fail_faas(l, a->req_id, a->arrival, SW_FAAS_FAILED);
        return;
    }
    sw_srv_kserve_format_request(sw__live_row_input(l, c, row), 1, l->o.model.input_size,
                                 &l->payload);
    faas_ctx_t *x = ctx_get(l);
    x->req_id = a->req_id;
    x->arrival = a->arrival;
    int rc = sw_be_lambda_invoke(l->lambda, l->payload.data, l->payload.len, on_faas_answer, x);
    if (rc < 0) {
        /* Refused on the spot: -EBUSY when max_in_flight calls are out. The core treats it
         * as a throttle: the request waits for a VM or is rejected, never retried here. */
        ctx_put(x);
        l->c.faas_local_refusals++;
        fail_faas(l, a->req_id, a->arrival, rc == -EBUSY ? SW_FAAS_THROTTLED : SW_FAAS_FAILED);
        return;
    }
    l->c.faas_calls++;
}

/* Reads the function's KServe answer into the row's output; false when it is not one. */
static bool read_faas_output(sw_srv_live_t *l, const sw_be_lambda_result_t *res, float *out)
{
    char err[160];
    if (!res->body ||
        sw_srv_kserve_parse_response(res->body, res->body_len, l->o.model.output_size, 1, out,
                                     err, sizeof(err)) < 0) {
        SW_LOG_WARN("function answer unreadable, counted as a function error: %s",
                    res->body ? err : "empty body");
        return false;
    }
    return true;
}

static void on_faas_answer(void *arg, const sw_be_lambda_result_t *res)
{
    faas_ctx_t *x = arg;
    sw_srv_live_t *l = x->l;
    if (l->tearing_down) {
        ctx_put(x);
        return;
    }
    sw_faas_result_t r = {.req_id = x->req_id, .arrival = x->arrival, .status = res->status,
                          .cold_start = res->cold_start, .duration_ms = res->duration_ms,
                          .init_ms = res->init_ms};
    ctx_put(x);
    sw__live_tick(l);
    uint32_t row;
    live_call_t *c = sw__live_call_of(l, r.req_id, &row);
    SW_ASSERT(c != NULL);
    if (r.status == SW_FAAS_OK && !read_faas_output(l, res, sw__live_row_output(l, c, row)))
        r.status = SW_FAAS_FUNCTION_ERROR;
    if (r.status == SW_FAAS_FUNCTION_ERROR)
        SW_LOG_DEBUG("function error req=%" PRIu64 " error=%s", r.req_id,
                     res->function_error ? res->function_error : "unreadable answer");
    else if (r.status == SW_FAAS_FAILED)
        SW_LOG_WARN("function call failed req=%" PRIu64 " reason=\"%s\"", r.req_id,
                    res->error ? res->error : "unknown");
    sw__live_faas_result(l, &r);
    sw__live_flush(l);
}

void sw__live_faas_result(sw_srv_live_t *l, const sw_faas_result_t *r)
{
    if (r->status == SW_FAAS_OK) {
        uint32_t row;
        live_call_t *c = sw__live_call_of(l, r->req_id, &row);
        sw_sched_on_faas_done(l->sched, l->now, r, &l->acts);
        sw__live_row_done(l, c, row, 0, NULL, 0);
    } else {
        /* The core falls back to the VM pool or rejects: a REJECT action ends the row. */
        sw_sched_on_faas_done(l->sched, l->now, r, &l->acts);
    }
}

/* ---- LAUNCH, TERMINATE, REJECT ---- */

static void token_new(char out[33])
{
    uint8_t raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        /* Entropy is not available only on a broken system: refuse to issue weak tokens. */
        SW_LOG_ERROR("getrandom failed: %s; cannot issue a worker token", strerror(errno));
        abort();
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static live_worker_t *worker_add(sw_srv_live_t *l, uint32_t id, int type)
{
    if (id >= l->wk_cap) {
        size_t cap = l->wk_cap ? l->wk_cap : 64;
        while (cap <= id)
            cap *= 2;
        l->wk = sw_realloc(l->wk, cap * sizeof(*l->wk));
        memset(l->wk + l->wk_cap, 0, (cap - l->wk_cap) * sizeof(*l->wk));
        l->wk_cap = cap;
    }
    live_worker_t *w = sw_calloc(1, sizeof(*w));
    w->id = id;
    w->type = type;
    w->launched_at = l->now;
    w->batch_ids = sw_calloc(l->cfg->instance_types[type].max_batch, sizeof(uint64_t));
    l->wk[id] = w;
    l->n_workers++;
    return w;
}

live_worker_t *sw__live_worker_add(sw_srv_live_t *l, uint32_t id, int type)
{
    return worker_add(l, id, type);
}

static void exec_launch(sw_srv_live_t *l, const sw_action_t *a)
{
    if (a->reason == SW_REASON_ADOPTED)
        return; /* the worker joined by itself: its record exists already */
    const char *type = l->cfg->instance_types[a->type_idx].name;
    live_worker_t *w = worker_add(l, a->worker_id, a->type_idx);
    w->launched = true;
    token_new(w->token);
    int rc = sw_be_provider_launch(l->providers[a->type_idx], a->worker_id, w->token);
    if (rc < 0) {
        SW_LOG_ERROR("launch failed worker=%" PRIu32 " type=%s reason=\"%s\"; check the "
                     "provider of instance type %s", a->worker_id, type, sw_strerror(rc), type);
        /* Lost at the next sweep, not now: a policy that replaces a lost worker would
         * launch again within this flush, and a provider that always refuses would hold
         * serve in that loop for good. */
        w->launch_failed = true;
        w->launched = false; /* nothing to terminate, and no Hello may claim it */
        return;
    }
    SW_LOG_INFO("launch worker=%" PRIu32 " type=%s reason=%s", a->worker_id, type,
                sw_reason_name(a->reason));
}

static void exec_terminate(sw_srv_live_t *l, const sw_action_t *a)
{
    live_worker_t *w = sw__live_worker(l, a->worker_id);
    const char *type = l->cfg->instance_types[a->type_idx].name;
    SW_LOG_INFO("terminate worker=%" PRIu32 " type=%s reason=%s", a->worker_id, type,
                sw_reason_name(a->reason));
    sw_srv_workers_stop(l->workers, a->worker_id, sw_reason_name(a->reason));
    if (w && w->launched)
        sw_be_provider_terminate(l->providers[w->type], a->worker_id);
    sw__live_worker_forget(l, a->worker_id);
}

/* The HTTP answer for a row the core rejected. Admission refusals are 429 with a
 * Retry-After: the client may come back when the pool has grown. */
static int reject_status(sw_reason_t r, const char **msg, unsigned *retry_after_s)
{
    *retry_after_s = 0;
    switch (r) {
    case SW_REASON_QUEUE_DELAY:
        *msg = "rejected by admission control: the VM pool cannot answer within the SLO and "
               "spilling to functions is off or full";
        *retry_after_s = 1;
        return 429;
    case SW_REASON_NO_CAPACITY:
        *msg = "no capacity: no worker is running or booting and no function may take it";
        *retry_after_s = 1;
        return 429;
    case SW_REASON_FAAS_THROTTLED:
        *msg = "the function was throttled and no VM can take the request";
        *retry_after_s = 1;
        return 429;
    case SW_REASON_FAAS_ERROR:
        *msg = "the function failed and no VM can take the request";
        return 502;
    case SW_REASON_END_OF_RUN:
        *msg = "the server stopped before the request was served";
        return 503;
    default: *msg = "rejected"; return 503;
    }
}

static void exec_reject(sw_srv_live_t *l, const sw_action_t *a)
{
    uint32_t row;
    live_call_t *c = sw__live_call_of(l, a->req_id, &row);
    SW_ASSERT(c != NULL);
    const char *msg;
    unsigned retry;
    int status = reject_status(a->reason, &msg, &retry);
    sw__live_row_done(l, c, row, status, msg, retry);
}

/* ---- the flush after every core call ---- */

static void execute(sw_srv_live_t *l)
{
    for (size_t i = 0; i < l->acts.n; i++) {
        const sw_action_t *a = &l->acts.v[i];
        l->act_counts[a->kind][a->reason]++;
        switch (a->kind) {
        case SW_ACT_DISPATCH: exec_dispatch(l, a); break;
        case SW_ACT_INVOKE: exec_invoke(l, a); break;
        case SW_ACT_LAUNCH: exec_launch(l, a); break;
        case SW_ACT_TERMINATE: exec_terminate(l, a); break;
        case SW_ACT_REJECT: exec_reject(l, a); break;
        default: break;
        }
    }
    if (l->decisions_f && l->acts.n > 0 &&
        sw_decision_log_write(l->decisions_f, l->cfg, &l->acts) < 0)
        SW_LOG_ERROR("cannot write decisions.jsonl: %s; the decision log is incomplete",
                     strerror(errno));
    sw_actions_clear(&l->acts);
}

static void arm_wakeup(sw_srv_live_t *l)
{
    sw_time_t next = sw_sched_next_wakeup(l->sched);
    if (next == l->wake_armed)
        return;
    l->wake_armed = next;
    if (next == SW_TIME_NEVER) {
        event_del(l->wake_ev);
        return;
    }
    sw_time_t wait = SW_MAX(0, next - l->now);
    struct timeval tv = {.tv_sec = wait / SW_US_PER_S, .tv_usec = wait % SW_US_PER_S};
    event_add(l->wake_ev, &tv);
}

static void write_timeline(sw_srv_live_t *l)
{
    const sw_sched_interval_t *row;
    while ((row = sw_sched_take_interval(l->sched)) != NULL) {
        l->last_row = *row;
        if (!l->timeline_f)
            continue;
        if (sw_run_timeline_row(l->timeline_f, l->cfg, row) < 0 || fflush(l->timeline_f) != 0)
            SW_LOG_ERROR("cannot write timeline.csv: %s", strerror(errno));
    }
}

void sw__live_flush(sw_srv_live_t *l)
{
    for (;;) {
        execute(l);
        if (l->n_fb == 0)
            break;
        /* Feedback may queue more feedback (a fall-back dispatch to a worker that is gone):
         * take the current list, then loop. The core guarantees this ends: a request is
         * refused by a function at most once, and each worker is lost once. */
        size_t n = l->n_fb;
        feedback_t *fb = sw_malloc(n * sizeof(*fb));
        memcpy(fb, l->fb, n * sizeof(*fb));
        l->n_fb = 0;
        for (size_t i = 0; i < n; i++) {
            if (fb[i].kind == FB_WORKER_LOST) {
                live_worker_t *w = sw__live_worker(l, fb[i].worker_id);
                if (w && w->launched)
                    sw_be_provider_terminate(l->providers[w->type], fb[i].worker_id);
                sw__live_worker_forget(l, fb[i].worker_id);
                sw_sched_on_worker_lost(l->sched, l->now, fb[i].worker_id, &l->acts);
            } else {
                sw__live_faas_result(l, &fb[i].faas);
            }
        }
        sw_free(fb);
    }
    write_timeline(l);
    arm_wakeup(l);
}
