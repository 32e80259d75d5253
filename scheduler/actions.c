/* Action buffer management and the names used in decision logs and metrics. */
#include "scheduler/actions.h"

#include <string.h>

void sw_actions_init(sw_actions_t *a) { memset(a, 0, sizeof(*a)); }

void sw_actions_deinit(sw_actions_t *a)
{
    sw_free(a->v);
    sw_free(a->req_ids);
    memset(a, 0, sizeof(*a));
}

sw_action_t *sw_actions_push(sw_actions_t *a, sw_action_kind_t kind, sw_reason_t reason,
                             sw_time_t now)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = sw_realloc(a->v, a->cap * sizeof(*a->v));
    }
    sw_action_t *act = &a->v[a->n++];
    memset(act, 0, sizeof(*act));
    act->kind = kind;
    act->reason = reason;
    act->time = now;
    act->type_idx = -1;
    return act;
}

uint64_t *sw_actions_reserve_ids(sw_actions_t *a, size_t n, size_t *off)
{
    if (a->n_ids + n > a->cap_ids) {
        size_t cap = a->cap_ids ? a->cap_ids : 64;
        while (cap < a->n_ids + n)
            cap *= 2;
        a->req_ids = sw_realloc(a->req_ids, cap * sizeof(*a->req_ids));
        a->cap_ids = cap;
    }
    *off = a->n_ids;
    a->n_ids += n;
    return &a->req_ids[*off];
}

const char *sw_action_name(sw_action_kind_t kind)
{
    static const char *const names[SW_ACT__COUNT] = {"dispatch", "invoke", "launch",
                                                     "terminate", "reject"};
    return (unsigned)kind < SW_ACT__COUNT ? names[kind] : "unknown";
}

const char *sw_reason_name(sw_reason_t reason)
{
    static const char *const names[SW_REASON__COUNT] = {
#define SW__REASON_STR(id, str) str,
        SW_REASONS(SW__REASON_STR)
#undef SW__REASON_STR
    };
    return (unsigned)reason < SW_REASON__COUNT ? names[reason] : "unknown";
}
