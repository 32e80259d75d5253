/* A growable ring buffer (double-ended queue) of one element type, generated per type so
 * that the hot paths (the core's request queue) keep plain typed loads and stores.
 *
 *   SW_RING_DEFINE(sw_req_ring, sw_qreq_t)
 *
 * defines `sw_req_ring_t` and static inline functions sw_req_ring_push_back, _pop_front,
 * _pop_back, _at, _front, _insert_at and _deinit. Capacity is a power of two and doubles
 * when full; memory is released by _deinit only. A zeroed struct is an empty ring. The
 * functions are marked maybe-unused: clang warns of an unused static inline defined in a
 * .c file, which a macro expansion is, and no user calls all seven. */
#ifndef SW_COMMON_RING_H
#define SW_COMMON_RING_H

#include <string.h>

#include "common/common.h"

#define SW_RING_DEFINE(name, type)                                                          \
    typedef struct name {                                                                   \
        type *v;                                                                            \
        size_t cap, head, len; /* cap is 0 or a power of two */                             \
    } name##_t;                                                                             \
                                                                                            \
    static inline SW_MAYBE_UNUSED void name##_deinit(name##_t *r)                           \
    {                                                                                       \
        sw_free(r->v);                                                                      \
        memset(r, 0, sizeof(*r));                                                           \
    }                                                                                       \
                                                                                            \
    /* The i-th element from the front, i < len. */                                         \
    static inline SW_MAYBE_UNUSED type *name##_at(const name##_t *r, size_t i)              \
    {                                                                                       \
        return &r->v[(r->head + i) & (r->cap - 1)];                                         \
    }                                                                                       \
                                                                                            \
    static inline SW_MAYBE_UNUSED void name##_grow(name##_t *r)                             \
    {                                                                                       \
        size_t cap = r->cap ? r->cap * 2 : 16;                                              \
        type *v = sw_malloc(cap * sizeof(*v));                                              \
        for (size_t i = 0; i < r->len; i++)                                                 \
            v[i] = *name##_at(r, i);                                                        \
        sw_free(r->v);                                                                      \
        r->v = v;                                                                           \
        r->cap = cap;                                                                       \
        r->head = 0;                                                                        \
    }                                                                                       \
                                                                                            \
    static inline SW_MAYBE_UNUSED void name##_push_back(name##_t *r, type x)                \
    {                                                                                       \
        if (r->len == r->cap)                                                               \
            name##_grow(r);                                                                 \
        r->v[(r->head + r->len++) & (r->cap - 1)] = x;                                      \
    }                                                                                       \
                                                                                            \
    /* Inserts before position pos (0 = front, len = back), shifting the tail back. */      \
    static inline SW_MAYBE_UNUSED void name##_insert_at(name##_t *r, size_t pos, type x)    \
    {                                                                                       \
        if (r->len == r->cap)                                                               \
            name##_grow(r);                                                                 \
        for (size_t i = r->len; i > pos; i--)                                               \
            *name##_at(r, i) = *name##_at(r, i - 1);                                        \
        *name##_at(r, pos) = x;                                                             \
        r->len++;                                                                           \
    }                                                                                       \
                                                                                            \
    static inline SW_MAYBE_UNUSED type *name##_front(const name##_t *r)                     \
    {                                                                                       \
        return &r->v[r->head];                                                              \
    }                                                                                       \
                                                                                            \
    static inline SW_MAYBE_UNUSED type name##_pop_front(name##_t *r)                        \
    {                                                                                       \
        type x = r->v[r->head];                                                             \
        r->head = (r->head + 1) & (r->cap - 1);                                             \
        r->len--;                                                                           \
        return x;                                                                           \
    }                                                                                       \
                                                                                            \
    static inline SW_MAYBE_UNUSED type name##_pop_back(name##_t *r)                         \
    {                                                                                       \
        return *name##_at(r, --r->len);                                                     \
    }

#endif
