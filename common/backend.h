/* The one interface behind which simulated and live backends sit (DESIGN.md: "backends
 * behind one interface"). A driver turns the policy core's actions into these calls; a
 * backend reports completions back through the sink the driver gave it. Arguments are
 * plain values so that backends/ needs nothing from scheduler/. */
#ifndef SW_COMMON_BACKEND_H
#define SW_COMMON_BACKEND_H

#include "common/common.h"

/* Outcome of one function invocation. */
typedef enum {
    SW_FAAS_OK = 0,
    SW_FAAS_THROTTLED,      /* 429 TooManyRequestsException: never ran, not billed */
    SW_FAAS_FUNCTION_ERROR, /* ran and failed (X-Amz-Function-Error): billed */
    SW_FAAS_FAILED,         /* transport or service error after retries: not billed */
} sw_faas_status_t;

typedef struct sw_faas_result {
    uint64_t req_id;
    sw_time_t arrival; /* echoed from the invoke call */
    sw_faas_status_t status;
    bool cold_start;
    double duration_ms; /* handler execution, as the platform reports it */
    double init_ms;     /* Init Duration on a cold start, else 0 */
} sw_faas_result_t;

/* Completions a backend reports. `self` is the driver's pointer given at creation. Called
 * on the driver's loop (or simulated time), never re-entrantly from inside an op. */
typedef struct sw_backend_sink {
    void *self;
    void (*worker_ready)(void *self, sw_time_t now, uint32_t worker_id);
    void (*worker_notice)(void *self, sw_time_t now, uint32_t worker_id); /* spot warning */
    void (*worker_lost)(void *self, sw_time_t now, uint32_t worker_id);
    void (*batch_done)(void *self, sw_time_t now, uint32_t worker_id, uint64_t batch_id);
    void (*faas_done)(void *self, sw_time_t now, const sw_faas_result_t *res);
} sw_backend_sink_t;

/* A VM pool. The core chooses worker ids; `instant` asks for a worker with no boot delay
 * (the oracle's perfect-foresight pool; live pools refuse it with SW_EUNSUPPORTED). */
typedef struct sw_vm_backend_ops {
    int (*launch)(void *self, sw_time_t now, uint32_t worker_id, int type_idx, bool instant);
    int (*terminate)(void *self, sw_time_t now, uint32_t worker_id);
    /* Runs a batch of n requests; req_ids is borrowed for the call. */
    int (*dispatch)(void *self, sw_time_t now, uint32_t worker_id, uint64_t batch_id,
                    const uint64_t *req_ids, uint32_t n);
} sw_vm_backend_ops_t;

/* A serverless target. */
typedef struct sw_faas_backend_ops {
    int (*invoke)(void *self, sw_time_t now, uint64_t req_id, sw_time_t arrival);
} sw_faas_backend_ops_t;

typedef struct sw_backend {
    const sw_vm_backend_ops_t *vm;
    void *vm_self;
    const sw_faas_backend_ops_t *faas;
    void *faas_self;
} sw_backend_t;

#endif
