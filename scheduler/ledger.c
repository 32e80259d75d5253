/* Billing arithmetic. Rounding is done in whole microseconds of billed time so that a
 * VM up exactly 61 s is billed 61 s and not 62 s through floating-point noise. */
#include "scheduler/ledger.h"

#include <math.h>
#include <string.h>

void sw_ledger_init(sw_ledger_t *l, const sw_cfg_t *cfg)
{
    memset(l, 0, sizeof(*l));
    l->cfg = cfg;
    l->vm_closed_usd = sw_calloc(cfg->instance_types_count, sizeof(double));
}

void sw_ledger_deinit(sw_ledger_t *l)
{
    sw_free(l->vm_closed_usd);
    sw_free(l->months);
    memset(l, 0, sizeof(*l));
}

/* ceil(x / g) * g for non-negative x, tolerant of x being a hair above a multiple of g
 * because of binary fractions (61.000000000001 must stay 61 with g = 1). */
static double round_up(double x, double g)
{
    double k = ceil(x / g - 1e-9);
    return k * g;
}

double sw_ledger_vm_billed_s(const sw_cfg_billing_t *billing, double up_s, bool exact)
{
    if (up_s < 0)
        up_s = 0;
    if (exact)
        return up_s;
    double billed = round_up(up_s, billing->vm_granularity_s);
    return billed < billing->vm_minimum_s ? round_up(billing->vm_minimum_s,
                                                     billing->vm_granularity_s)
                                          : billed;
}

double sw_ledger_vm_price_per_hour(const sw_cfg_t *cfg, int type_idx)
{
    const sw_cfg_instance_type_t *t = &cfg->instance_types[type_idx];
    return t->spot.enabled ? t->price_per_hour_usd * t->spot.price_factor : t->price_per_hour_usd;
}

double sw_ledger_vm_cost(const sw_cfg_t *cfg, int type_idx, sw_time_t start, sw_time_t end,
                         bool exact)
{
    double billed = sw_ledger_vm_billed_s(&cfg->billing, sw_time_to_s(end - start), exact);
    return billed * sw_ledger_vm_price_per_hour(cfg, type_idx) / 3600.0;
}

void sw_ledger_vm_close(sw_ledger_t *l, int type_idx, sw_time_t start, sw_time_t end, bool exact)
{
    double up = sw_time_to_s(end - start);
    l->vm_up_s += up;
    l->vm_billed_s += sw_ledger_vm_billed_s(&l->cfg->billing, up, exact);
    l->vm_closed_usd[type_idx] += sw_ledger_vm_cost(l->cfg, type_idx, start, end, exact);
}

double sw_ledger_faas_gb_s(const sw_cfg_faas_t *faas, double duration_ms, double init_ms)
{
    double ms = duration_ms + (faas->bill_cold_start ? init_ms : 0.0);
    double billed_ms = round_up(ms, faas->billing_granularity_ms);
    return billed_ms / 1000.0 * (double)faas->memory_mb / 1024.0;
}

void sw_ledger_faas(sw_ledger_t *l, sw_time_t now, double duration_ms, double init_ms)
{
    size_t month = now <= 0 ? 0 : (size_t)(now / SW_LEDGER_MONTH_US);
    if (month >= l->n_months) {
        l->months = sw_realloc(l->months, (month + 1) * sizeof(*l->months));
        memset(&l->months[l->n_months], 0, (month + 1 - l->n_months) * sizeof(*l->months));
        l->n_months = month + 1;
    }
    double gb_s = sw_ledger_faas_gb_s(&l->cfg->faas, duration_ms, init_ms);
    l->months[month].requests++;
    l->months[month].gb_s += gb_s;
    l->faas_requests++;
    l->faas_gb_s += gb_s;
}

void sw_ledger_totals(const sw_ledger_t *l, const double *open_by_type, double open_billed_s,
                      double *scratch, sw_cost_t *out)
{
    const sw_cfg_t *cfg = l->cfg;
    const sw_cfg_faas_t *f = &cfg->faas;
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < cfg->instance_types_count; i++) {
        scratch[i] = l->vm_closed_usd[i] + (open_by_type ? open_by_type[i] : 0.0);
        out->vm_usd += scratch[i];
    }
    out->vm_by_type_usd = scratch;
    out->vm_billed_s = l->vm_billed_s + open_billed_s;

    double free_req = f->free_tier.enabled ? f->free_tier.requests : 0.0;
    double free_gbs = f->free_tier.enabled ? f->free_tier.gb_s : 0.0;
    for (size_t m = 0; m < l->n_months; m++) {
        double req = (double)l->months[m].requests - free_req;
        double gbs = l->months[m].gb_s - free_gbs;
        out->faas_request_usd += (req > 0 ? req : 0) * f->price_per_million_requests_usd / 1e6;
        out->faas_compute_usd += (gbs > 0 ? gbs : 0) * f->price_per_gb_s_usd;
    }
    out->faas_gb_s = l->faas_gb_s;
    out->faas_usd = out->faas_request_usd + out->faas_compute_usd;
    out->total_usd = out->vm_usd + out->faas_usd;
}
