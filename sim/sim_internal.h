/* Shared inside sim/: the event heap, the simulated backends and the run state. */
#ifndef SW_SIM_SIM_INTERNAL_H
#define SW_SIM_SIM_INTERNAL_H

#include "common/backend.h"
#include "common/ring.h"
#include "common/rng.h"
#include "runs/rundir.h"
#include "runs/trace.h"
#include "sim/sim.h"

typedef enum {
    SW_EV_WORKER_READY = 0,
    SW_EV_BATCH_DONE,
    SW_EV_SPOT_NOTICE,
    SW_EV_WORKER_LOST,
    SW_EV_FAAS_DONE,
} sw_ev_kind_t;

typedef struct sw_ev {
    sw_time_t t;
    uint64_t seq;  /* insertion order: ties break deterministically */
    uint64_t data; /* batch id, or FaaS result slot */
    uint32_t worker;
    uint32_t gen; /* the VM incarnation the event belongs to */
    uint32_t kind;
} sw_ev_t;

typedef struct sw_ev_heap {
    sw_ev_t *v;
    size_t n, cap;
    uint64_t next_seq;
} sw_ev_heap_t;

void sw__ev_push(sw_ev_heap_t *h, sw_ev_t ev);
sw_ev_t sw__ev_pop(sw_ev_heap_t *h);

/* Simulated VM pool (implements sw_vm_backend_ops_t). */
typedef struct sw_simvm {
    bool alive;
    int type;
    uint32_t gen;
} sw_simvm_t;

typedef struct sw_sim_vms {
    const sw_cfg_t *cfg;
    sw_ev_heap_t *heap;
    sw_rng_t rng;
    sw_simvm_t *vm; /* by worker id */
    size_t cap;
    uint32_t gen;
} sw_sim_vms_t;

SW_RING_DEFINE(sw_time_ring, sw_time_t)

/* Simulated FaaS target (implements sw_faas_backend_ops_t). */
typedef struct sw_sim_faas {
    const sw_cfg_t *cfg;
    sw_ev_heap_t *heap;
    sw_rng_t rng;
    sw_time_ring_t idle; /* idle environments' idle-since times, oldest first */
    uint64_t envs;      /* environments alive (busy + idle) */
    double tokens;      /* scale-out budget: new environments that may start now */
    sw_time_t tokens_at;
    sw_faas_result_t *slots; /* in-flight results */
    uint32_t *free_slots;
    size_t n_slots, n_free;
} sw_sim_faas_t;

extern const sw_vm_backend_ops_t sw__sim_vm_ops;
extern const sw_faas_backend_ops_t sw__sim_faas_ops;

void sw__sim_vms_init(sw_sim_vms_t *p, const sw_cfg_t *cfg, sw_ev_heap_t *heap, uint64_t seed);
void sw__sim_vms_deinit(sw_sim_vms_t *p);
/* True when the event still belongs to a live VM incarnation. */
bool sw__sim_vms_event_valid(const sw_sim_vms_t *p, const sw_ev_t *ev);
void sw__sim_faas_init(sw_sim_faas_t *f, const sw_cfg_t *cfg, sw_ev_heap_t *heap, uint64_t seed);
void sw__sim_faas_deinit(sw_sim_faas_t *f);
/* Completes an invocation: frees its environment and slot, returns its result. */
sw_faas_result_t sw__sim_faas_complete(sw_sim_faas_t *f, sw_time_t now, uint64_t slot);

#endif
