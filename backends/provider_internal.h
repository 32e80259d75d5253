/* Shared between provider.c (options, reports, SIGCHLD, the static kind) and the kinds
 * that start processes: provider_local.c and provider_command.c. Not for use outside
 * backends/. */
#ifndef SW_BACKENDS_PROVIDER_INTERNAL_H
#define SW_BACKENDS_PROVIDER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "backends/provider.h"
#include "common/common.h"

struct event;

/* What a kind implements; provider.c dispatches to it. */
typedef struct sw__prov_ops {
    /* Checks the kind's options (copied into p->o, where it may fill in defaults). */
    int (*create)(sw_be_provider_t *p, char *errbuf, size_t errlen);
    /* Called with a valid token and an id no record has. */
    int (*launch)(sw_be_provider_t *p, uint32_t worker_id, const char *token);
    void (*terminate)(sw_be_provider_t *p, uint32_t worker_id);
    size_t (*pending)(const sw_be_provider_t *p);
    pid_t (*pid)(const sw_be_provider_t *p, uint32_t worker_id);
    /* SIGCHLD arrived: reap the kind's own children, if any have ended. */
    void (*reap)(sw_be_provider_t *p);
    /* Stops what remains (see sw_be_provider_destroy) and frees every record. */
    void (*destroy)(sw_be_provider_t *p);
} sw__prov_ops_t;

typedef struct sw__prov_report sw__prov_report_t;

/* The part of a kind's worker record that provider.c keeps: embedded first in the kind's
 * record, which SW_CONTAINER_OF recovers. */
typedef struct sw__prov_rec {
    SLIST_ENTRY(sw__prov_rec) link; /* in the provider's recs */
    uint32_t id;
} sw__prov_rec_t;

struct sw_be_provider {
    sw_be_provider_opts_t o; /* strings and extra_args owned (copies) */
    const sw__prov_ops_t *ops;
    sw_be_provider_events_t ev;
    struct event_base *base;
    struct event *sigchld_ev; /* local and command only */
    struct event *report_ev;  /* delivers the queued reports */
    STAILQ_HEAD(, sw__prov_report) reports; /* queued, delivered in order */
    SLIST_HEAD(, sw__prov_rec) recs;        /* the workers the provider knows, in no order */
};

extern const sw__prov_ops_t sw__prov_local_ops;
extern const sw__prov_ops_t sw__prov_command_ops;

/* The record of worker id, or NULL. */
sw__prov_rec_t *sw__prov_find(const sw_be_provider_t *p, uint32_t id);
/* Adds r (its id set) to p's records, or removes it. */
void sw__prov_link(sw_be_provider_t *p, sw__prov_rec_t *r);
void sw__prov_unlink(sw_be_provider_t *p, sw__prov_rec_t *r);

/* Queue a report; it is delivered from the loop, never from inside the caller. */
void sw__prov_report_launch_failed(sw_be_provider_t *p, uint32_t worker_id, const char *fmt, ...)
    SW_PRINTF(3, 4);
void sw__prov_report_exited(sw_be_provider_t *p, uint32_t worker_id, int wait_status,
                            bool stop_requested);
void sw__prov_report_terminate_failed(sw_be_provider_t *p, uint32_t worker_id, const char *fmt, ...)
    SW_PRINTF(3, 4);

/* Frees a token copied with sw_strdup, wiping it first. NULL does nothing. */
void sw__prov_token_free(char *token);

/* Arms a one-shot timer for ms milliseconds (0: the next loop iteration). */
void sw__prov_timer_add_ms(struct event *ev, int64_t ms);

/* How long destroy waits for children after SIGKILL (they die at once unless stuck in
 * the kernel). */
#define SW__PROV_KILL_WAIT_MS 1000

/* For destroy only, which may block: reaps through ops->reap every few milliseconds until
 * left(p) is 0 or ms have passed, and returns left(p). The reports this queues are
 * dropped unread by destroy. */
size_t sw__prov_wait(sw_be_provider_t *p, int64_t ms, size_t (*left)(const sw_be_provider_t *p));

#endif
