/* The cost ledger: the one place where money is computed, from events and the billing
 * rules in the config. Simulated and live runs both feed it, so their bills compare.
 *
 * VM: each launch is billed from the launch request to termination (EC2 bills pending,
 * boot and model load too), rounded up to billing.vm_granularity_s with a minimum of
 * billing.vm_minimum_s, at the on-demand price or the spot price.
 * FaaS: requests x fee + sum ceil(duration / granularity) x granularity x memory GB x price
 * per GB-s; init time is added to the duration when faas.bill_cold_start; the free tier, when
 * enabled, is applied per 30-day month of simulated time. */
#ifndef SW_SCHEDULER_LEDGER_H
#define SW_SCHEDULER_LEDGER_H

#include "common/common.h"
#include "config/config.h"

#define SW_LEDGER_MONTH_US (30LL * 24 * 3600 * SW_US_PER_S)

typedef struct sw_ledger_month {
    uint64_t requests;
    double gb_s;
} sw_ledger_month_t;

typedef struct sw_ledger {
    const sw_cfg_t *cfg;
    double *vm_closed_usd;    /* per instance type, terminated VMs */
    double vm_billed_s;       /* terminated VMs, billed seconds */
    double vm_up_s;           /* terminated VMs, real seconds up */
    sw_ledger_month_t *months; /* FaaS usage per 30-day month */
    size_t n_months;
    uint64_t faas_requests;
    double faas_gb_s;
} sw_ledger_t;

typedef struct sw_cost {
    double total_usd;
    double vm_usd;
    double faas_usd;
    double faas_request_usd;
    double faas_compute_usd;
    double faas_gb_s;
    double vm_billed_s;
    const double *vm_by_type_usd; /* borrowed: instance_types_count entries */
} sw_cost_t;

/* cfg is borrowed for the ledger's life. */
void sw_ledger_init(sw_ledger_t *l, const sw_cfg_t *cfg);
void sw_ledger_deinit(sw_ledger_t *l);

/* Seconds billed for a VM up `up_s` seconds under `billing`; exact (no rounding, no
 * minimum) when `exact`, as the oracle is billed. */
double sw_ledger_vm_billed_s(const sw_cfg_billing_t *billing, double up_s, bool exact);
/* Hourly price actually paid for a type (spot factor applied when it runs as spot). */
double sw_ledger_vm_price_per_hour(const sw_cfg_t *cfg, int type_idx);
/* USD for a VM of `type_idx` up from `start` to `end`. */
double sw_ledger_vm_cost(const sw_cfg_t *cfg, int type_idx, sw_time_t start, sw_time_t end,
                         bool exact);
/* Records a terminated (or lost) VM. */
void sw_ledger_vm_close(sw_ledger_t *l, int type_idx, sw_time_t start, sw_time_t end, bool exact);

/* Billed GB-seconds of one invocation of `duration_ms` (init_ms added when billed). */
double sw_ledger_faas_gb_s(const sw_cfg_faas_t *faas, double duration_ms, double init_ms);
/* Records one billed invocation at simulated time `now`. Throttled calls are not billed and
 * must not be recorded. */
void sw_ledger_faas(sw_ledger_t *l, sw_time_t now, double duration_ms, double init_ms);

/* The bill so far. open_vm_usd and open_vm_billed_s are what the still-running VMs would
 * cost if stopped now (the driver or core sums them); they are added to the VM totals and to
 * by_type via open_by_type (may be NULL). `out->vm_by_type_usd` points into `scratch`,
 * which must hold instance_types_count doubles. */
void sw_ledger_totals(const sw_ledger_t *l, const double *open_by_type, double open_billed_s,
                      double *scratch, sw_cost_t *out);

#endif
