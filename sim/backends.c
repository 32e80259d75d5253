/* Simulated backends. VMs: a launch becomes a ready event after a boot time drawn from
 * the type's distribution (or at once for the oracle), a batch becomes a done event after
 * T_b times the service variation, and a spot VM draws its interruption time and gets a
 * notice before it. Functions: an invocation takes a warm environment if one is idle (the
 * most recently used, as Lambda tends to), else starts a new one with a cold start if the
 * concurrency limit and the scale-out rate allow, else is throttled; idle environments
 * are reclaimed after the keep-alive. */
#include <math.h>
#include <string.h>

#include "sim/sim_internal.h"

double sw_sim_draw(const sw_cfg_dist_t *d, sw_rng_t *rng)
{
    switch (d->dist) {
    case SW_DIST_UNIFORM: return d->min + (d->max - d->min) * sw_rng_uniform(rng);
    case SW_DIST_EXPONENTIAL: return sw_rng_exponential(rng, d->mean);
    case SW_DIST_LOGNORMAL: return sw_rng_lognormal(rng, d->mean, d->cv);
    case SW_DIST_CONSTANT:
    default: return d->mean;
    }
}

/* ---- event heap: binary min-heap on (t, seq) ---- */

static inline bool ev_less(const sw_ev_t *a, const sw_ev_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

void sw__ev_push(sw_ev_heap_t *h, sw_ev_t ev)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->v = sw_realloc(h->v, h->cap * sizeof(*h->v));
    }
    ev.seq = h->next_seq++;
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_less(&ev, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = ev;
}

sw_ev_t sw__ev_pop(sw_ev_heap_t *h)
{
    sw_ev_t top = h->v[0];
    sw_ev_t last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && ev_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!ev_less(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = last;
    return top;
}

/* ---- VMs ---- */

void sw__sim_vms_init(sw_sim_vms_t *p, const sw_cfg_t *cfg, sw_ev_heap_t *heap, uint64_t seed)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->heap = heap;
    sw_rng_init(&p->rng, seed);
}

void sw__sim_vms_deinit(sw_sim_vms_t *p) { sw_free(p->vm); }

bool sw__sim_vms_event_valid(const sw_sim_vms_t *p, const sw_ev_t *ev)
{
    return ev->worker < p->cap && p->vm[ev->worker].alive && p->vm[ev->worker].gen == ev->gen;
}

static void vm_event(sw_sim_vms_t *p, sw_time_t t, sw_ev_kind_t kind, uint32_t id, uint64_t data)
{
    sw__ev_push(p->heap, (sw_ev_t){
                             .t = t, .kind = kind, .worker = id, .gen = p->vm[id].gen, .data = data});
}

static int vm_launch(void *self, sw_time_t now, uint32_t id, int type, bool instant)
{
    sw_sim_vms_t *p = self;
    if (id >= p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        while (cap <= id)
            cap *= 2;
        p->vm = sw_realloc(p->vm, cap * sizeof(*p->vm));
        memset(&p->vm[p->cap], 0, (cap - p->cap) * sizeof(*p->vm));
        p->cap = cap;
    }
    const sw_cfg_instance_type_t *t = &p->cfg->instance_types[type];
    p->vm[id] = (sw_simvm_t){.alive = true, .type = type, .gen = ++p->gen};
    double boot_s = instant ? 0.0 : SW_MAX(0.0, sw_sim_draw(&t->boot_s, &p->rng));
    sw_time_t ready = now + sw_s_to_time(boot_s);
    vm_event(p, ready, SW_EV_WORKER_READY, id, 0);
    if (t->spot.enabled && t->spot.interruptions_per_hour > 0) {
        double life_s = sw_rng_exponential(&p->rng, 3600.0 / t->spot.interruptions_per_hour);
        sw_time_t lost = ready + sw_s_to_time(life_s);
        sw_time_t notice = SW_MAX(ready, lost - sw_s_to_time(t->spot.notice_s));
        vm_event(p, notice, SW_EV_SPOT_NOTICE, id, 0);
        vm_event(p, lost, SW_EV_WORKER_LOST, id, 0);
    }
    return 0;
}

static int vm_terminate(void *self, sw_time_t now, uint32_t id)
{
    (void)now;
    sw_sim_vms_t *p = self;
    if (id < p->cap)
        p->vm[id].alive = false; /* its pending events are now stale */
    return 0;
}

static int vm_dispatch(void *self, sw_time_t now, uint32_t id, uint64_t batch_id,
                       const uint64_t *req_ids, uint32_t n)
{
    (void)req_ids;
    sw_sim_vms_t *p = self;
    const sw_cfg_instance_type_t *t = &p->cfg->instance_types[p->vm[id].type];
    double factor = sw_sim_draw(&t->service_variation, &p->rng);
    double ms = t->batch_latency_ms[n - 1] * SW_MAX(factor, 0.0);
    vm_event(p, now + sw_ms_to_time(ms), SW_EV_BATCH_DONE, id, batch_id);
    return 0;
}

const sw_vm_backend_ops_t sw__sim_vm_ops = {
    .launch = vm_launch,
    .terminate = vm_terminate,
    .dispatch = vm_dispatch,
};

/* ---- functions ---- */

void sw__sim_faas_init(sw_sim_faas_t *f, const sw_cfg_t *cfg, sw_ev_heap_t *heap, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    f->cfg = cfg;
    f->heap = heap;
    sw_rng_init(&f->rng, seed);
    f->tokens = cfg->faas.scale_out_per_minute;
}

void sw__sim_faas_deinit(sw_sim_faas_t *f)
{
    sw_time_ring_deinit(&f->idle);
    sw_free(f->slots);
    sw_free(f->free_slots);
}

/* Reclaims environments idle longer than the keep-alive (the oldest are at the front). */
static void expire_idle(sw_sim_faas_t *f, sw_time_t now)
{
    sw_time_t keep = sw_s_to_time(f->cfg->faas.keep_alive_s);
    while (f->idle.len > 0 && *sw_time_ring_front(&f->idle) + keep < now) {
        sw_time_ring_pop_front(&f->idle);
        f->envs--;
    }
}

static void refill_tokens(sw_sim_faas_t *f, sw_time_t now)
{
    double per_min = f->cfg->faas.scale_out_per_minute;
    f->tokens = SW_MIN(per_min, f->tokens + per_min * sw_time_to_s(now - f->tokens_at) / 60.0);
    f->tokens_at = now;
}

static uint64_t slot_alloc(sw_sim_faas_t *f)
{
    if (f->n_free > 0)
        return f->free_slots[--f->n_free];
    size_t n = f->n_slots++;
    f->slots = sw_realloc(f->slots, f->n_slots * sizeof(*f->slots));
    f->free_slots = sw_realloc(f->free_slots, f->n_slots * sizeof(*f->free_slots));
    return n;
}

static int faas_invoke(void *self, sw_time_t now, uint64_t req_id, sw_time_t arrival)
{
    sw_sim_faas_t *f = self;
    const sw_cfg_faas_t *c = &f->cfg->faas;
    expire_idle(f, now);
    refill_tokens(f, now);
    uint64_t slot = slot_alloc(f);
    sw_faas_result_t *r = &f->slots[slot];
    *r = (sw_faas_result_t){.req_id = req_id, .arrival = arrival};
    sw_time_t done = now;
    uint64_t busy = f->envs - f->idle.len;
    if (f->idle.len > 0) {
        sw_time_ring_pop_back(&f->idle); /* the most recently used environment */
        r->duration_ms = SW_MAX(0.0, sw_sim_draw(&c->warm_latency_ms, &f->rng));
    } else if (busy < c->concurrency_limit && f->tokens >= 1.0) {
        f->tokens -= 1.0;
        f->envs++;
        r->cold_start = true;
        r->init_ms = SW_MAX(0.0, sw_sim_draw(&c->cold_start_ms, &f->rng));
        r->duration_ms = SW_MAX(0.0, sw_sim_draw(&c->warm_latency_ms, &f->rng));
    } else {
        r->status = SW_FAAS_THROTTLED;
    }
    if (r->status == SW_FAAS_OK)
        done += sw_ms_to_time(r->init_ms + r->duration_ms);
    sw__ev_push(f->heap, (sw_ev_t){.t = done, .kind = SW_EV_FAAS_DONE, .data = slot});
    return 0;
}

sw_faas_result_t sw__sim_faas_complete(sw_sim_faas_t *f, sw_time_t now, uint64_t slot)
{
    sw_faas_result_t r = f->slots[slot];
    f->free_slots[f->n_free++] = (uint32_t)slot;
    if (r.status == SW_FAAS_OK) {
        expire_idle(f, now);
        sw_time_ring_push_back(&f->idle, now);
    }
    return r;
}

const sw_faas_backend_ops_t sw__sim_faas_ops = {
    .invoke = faas_invoke,
};
