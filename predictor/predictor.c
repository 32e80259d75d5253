/* Forecaster registry and the argument checks every forecaster shares. */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const sw_pred_ops_t *const registry[] = {&sw__pred_recent_max_ops};

const char *sw_pred_known_names(void) { return "recent-max"; }

int sw_pred_create(sw_pred_t **out, const sw_cfg_predictor_t *cfg, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < SW_ARRAY_LEN(registry); i++) {
        if (strcmp(registry[i]->name, cfg->name) != 0)
            continue;
        sw_pred_t *p = sw_calloc(1, sizeof(*p));
        p->ops = registry[i];
        p->cfg = *cfg;
        int rc = p->ops->create(p, cfg);
        if (rc < 0) {
            snprintf(errbuf, errlen, "predictor %s: cannot create: %s", cfg->name,
                     sw_strerror(rc));
            sw_free(p);
            return rc;
        }
        *out = p;
        return 0;
    }
    snprintf(errbuf, errlen, "predictor.name: unknown forecaster \"%s\" (known: %s)", cfg->name,
             sw_pred_known_names());
    return -EINVAL;
}

void sw_pred_destroy(sw_pred_t *p)
{
    if (!p)
        return;
    p->ops->destroy(p);
    sw_free(p);
}

int sw_pred_fit(sw_pred_t *p, const double *series, size_t n)
{
    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(series[i]) || series[i] < 0)
            return -EINVAL;
    return p->ops->fit(p, series, n);
}

void sw_pred_observe(sw_pred_t *p, double count)
{
    if (!isfinite(count) || count < 0)
        return;
    p->ops->observe(p, count);
}

void sw_pred_forecast(const sw_pred_t *p, sw_forecast_t *out) { p->ops->forecast(p, out); }

const char *sw_pred_name(const sw_pred_t *p) { return p->ops->name; }
