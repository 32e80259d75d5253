/* Inference calls and their rows (see live.h for the unit of work). A call lives in a
 * slab slot from acceptance until every row has left the core and the client has had its
 * answer; its rows are the core's requests, named by (generation, slot, row) so that a
 * completion for a call long gone is recognised as stale in O(1), without a hash table.
 * Calls wait for their deadline in a FIFO: every call has the same timeout, so arrival
 * order is deadline order and one timer serves them all. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <event2/event.h>

#include "serving/live_internal.h"

#define SW_LOG_MODULE "serve"
#include "common/log.h"

void sw__live_calls_init(sw_srv_live_t *l) { TAILQ_INIT(&l->pending); }

static void call_free(sw_srv_live_t *l, live_call_t *c)
{
    l->calls[c->slot] = NULL;
    l->free_slots[l->n_free++] = c->slot;
    l->calls_open--;
    sw_free(c->input_copy);
    c->input_copy = NULL;
    c->next_free = l->free_calls;
    l->free_calls = c;
}

static live_call_t *call_new(sw_srv_live_t *l)
{
    live_call_t *c = l->free_calls;
    if (c)
        l->free_calls = c->next_free;
    else
        c = sw_malloc(sizeof(*c) + l->o.model.max_batch);
    memset(c, 0, sizeof(*c));
    return c;
}

void sw__live_calls_deinit(sw_srv_live_t *l)
{
    for (uint32_t i = 0; i < l->n_slots; i++) {
        live_call_t *c = l->calls[i];
        if (!c)
            continue;
        if (c->inf)
            sw_srv_infer_reply_error(c->inf, 503, "the server is shutting down", 0);
        sw_free(c->input_copy);
        sw_free(c);
    }
    live_call_t *c;
    while ((c = l->free_calls) != NULL) {
        l->free_calls = c->next_free;
        sw_free(c);
    }
    sw_free(l->calls);
    sw_free(l->free_slots);
}

static uint32_t slot_alloc(sw_srv_live_t *l)
{
    if (l->n_free > 0)
        return l->free_slots[--l->n_free];
    uint32_t cap = l->n_slots ? l->n_slots * 2 : 256;
    l->calls = sw_realloc(l->calls, cap * sizeof(*l->calls));
    l->free_slots = sw_realloc(l->free_slots, cap * sizeof(*l->free_slots));
    memset(l->calls + l->n_slots, 0, (cap - l->n_slots) * sizeof(*l->calls));
    /* Hand out low slots first: the free list is a stack. */
    for (uint32_t i = cap; i-- > l->n_slots + 1;)
        l->free_slots[l->n_free++] = i;
    uint32_t slot = l->n_slots;
    l->n_slots = cap;
    return slot;
}

static uint64_t req_id(const live_call_t *c, uint32_t row)
{
    return ((uint64_t)c->gen << (SW_LIVE_SLOT_BITS + SW_LIVE_ROW_BITS)) |
           ((uint64_t)c->slot << SW_LIVE_ROW_BITS) | row;
}

live_call_t *sw__live_call_of(sw_srv_live_t *l, uint64_t id, uint32_t *row)
{
    uint32_t slot = (uint32_t)(id >> SW_LIVE_ROW_BITS) & (SW_LIVE_MAX_CALLS - 1);
    uint32_t gen = (uint32_t)(id >> (SW_LIVE_SLOT_BITS + SW_LIVE_ROW_BITS));
    *row = (uint32_t)id & (SW_LIVE_MAX_ROWS - 1);
    if (slot >= l->n_slots)
        return NULL;
    live_call_t *c = l->calls[slot];
    if (!c || c->gen != gen || *row >= c->rows || c->row_state[*row] != ROW_IN_CORE)
        return NULL;
    return c;
}

void sw__live_call_accept(sw_srv_live_t *l, sw_srv_infer_t *inf)
{
    size_t rows = sw_srv_infer_rows(inf);
    if (l->calls_open >= SW_LIVE_MAX_CALLS - 1) {
        sw_srv_infer_reply_error(inf, 503, "too many calls in flight", 1);
        return;
    }
    live_call_t *c = call_new(l);
    c->slot = slot_alloc(l);
    c->gen = l->next_gen++ & ((1u << (64 - SW_LIVE_SLOT_BITS - SW_LIVE_ROW_BITS)) - 1);
    c->inf = inf;
    c->rows = c->rows_open = (uint32_t)rows;
    memset(c->row_state, ROW_IN_CORE, rows);
    /* Latency counts from when the HTTP layer had the request, parsing included. */
    c->received = SW_MIN(l->now, sw_srv_infer_received_at(inf) - l->origin);
    c->deadline = l->now + l->o.request_timeout_ms * SW_US_PER_MS;
    l->calls[c->slot] = c;
    l->calls_open++;
    l->c.calls_accepted++;
    TAILQ_INSERT_TAIL(&l->pending, c, by_deadline);
    bool was_first = TAILQ_FIRST(&l->pending) == c;
    for (uint32_t r = 0; r < c->rows; r++) {
        sw_sched_on_arrival(l->sched, l->now, req_id(c, r), &l->acts);
        /* Rows of one call arrive together: execute between rows so that the actions
         * buffer does not grow with the call's size. A REJECT of an earlier row may end
         * the call's chance of success, but the rest are still the core's to count. */
        sw__live_flush(l);
    }
    if (was_first)
        sw__live_calls_arm(l);
}

const float *sw__live_row_input(const sw_srv_live_t *l, const live_call_t *c, uint32_t row)
{
    size_t n = l->o.model.input_size;
    return c->input_copy ? c->input_copy + row * n : sw_srv_infer_input(c->inf) + row * n;
}

float *sw__live_row_output(sw_srv_live_t *l, live_call_t *c, uint32_t row)
{
    /* Once answered, outputs have nowhere to go: a scratch row takes them. */
    if (!c->inf)
        return l->faas_out;
    return sw_srv_infer_output(c->inf) + row * l->o.model.output_size;
}

static void answer(sw_srv_live_t *l, live_call_t *c)
{
    TAILQ_REMOVE(&l->pending, c, by_deadline);
    sw_srv_infer_t *inf = c->inf;
    c->inf = NULL;
    bool abandoned = sw_srv_infer_is_abandoned(inf);
    sw_time_t lat = l->now - c->received;
    if (abandoned)
        l->c.calls_abandoned++;
    if (c->fail_status == 0) {
        l->c.calls_ok++;
        sw_hist_add(&l->latency_us, lat);
        sw__live_record_latency(l, lat);
        sw_srv_infer_reply_ok(inf);
    } else {
        l->c.calls_failed++;
        sw_srv_infer_reply_error(inf, c->fail_status, c->fail_msg, c->fail_retry_after_s);
    }
}

void sw__live_row_done(sw_srv_live_t *l, live_call_t *c, uint32_t row, int status,
                       const char *msg, unsigned retry_after_s)
{
    SW_ASSERT(c->row_state[row] == ROW_IN_CORE && c->rows_open > 0);
    c->row_state[row] = status == 0 ? ROW_OK : ROW_FAILED;
    c->rows_open--;
    if (status == 0) {
        l->c.rows_ok++;
    } else if (c->fail_status == 0) {
        c->fail_status = status;
        c->fail_retry_after_s = retry_after_s;
        snprintf(c->fail_msg, sizeof(c->fail_msg), "%s", msg);
    }
    if (c->rows_open == 0) {
        if (c->inf)
            answer(l, c);
        call_free(l, c);
    }
}

/* Answers `c` with 504 before its rows are done: they stay in the core, which counts
 * them as they finish, so their inputs are kept and their outputs go to scratch. */
static void time_out(sw_srv_live_t *l, live_call_t *c)
{
    size_t n = l->o.model.input_size;
    c->input_copy = sw_malloc(c->rows * n * sizeof(float));
    memcpy(c->input_copy, sw_srv_infer_input(c->inf), c->rows * n * sizeof(float));
    TAILQ_REMOVE(&l->pending, c, by_deadline);
    sw_srv_infer_t *inf = c->inf;
    c->inf = NULL;
    l->c.calls_timed_out++;
    char msg[160];
    snprintf(msg, sizeof(msg), "no answer within serve.request_timeout_ms (%" PRId64 " ms): "
             "%u of %u rows still in progress", l->o.request_timeout_ms, c->rows_open, c->rows);
    sw_srv_infer_reply_error(inf, 504, msg, 0);
}

void sw__live_calls_expire(sw_srv_live_t *l)
{
    live_call_t *c;
    while ((c = TAILQ_FIRST(&l->pending)) != NULL && c->deadline <= l->now)
        time_out(l, c);
    sw__live_calls_arm(l);
}

void sw__live_calls_arm(sw_srv_live_t *l)
{
    live_call_t *c = TAILQ_FIRST(&l->pending);
    if (!c) {
        event_del(l->deadline_ev);
        return;
    }
    sw_time_t wait = SW_MAX(0, c->deadline - l->now);
    struct timeval tv = {.tv_sec = wait / SW_US_PER_S, .tv_usec = wait % SW_US_PER_S};
    event_add(l->deadline_ev, &tv);
}
