/* Forecaster registry and the machinery every forecaster shares: argument checks, gap
 * detection, upper quantiles, and export/import of fitted state as named tensors. */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sw_pred_ops_t *const registry[] = {&sw__pred_recent_max_ops};

const char *sw_pred_known_names(void) { return "recent-max"; }

void sw_pred_params_from_cfg(const sw_cfg_predictor_t *cfg, double interval_s,
                             sw_pred_params_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", cfg->name);
    out->horizon = cfg->horizon_intervals;
    out->quantile = cfg->quantile;
    out->interval_s = interval_s;
    out->season = cfg->season_s > 0 ? (unsigned)lround(cfg->season_s / interval_s) : 0;
    out->holdout_frac = cfg->holdout_frac;
    out->calendar = cfg->calendar;
    out->gaps = (sw_gap_rule_t){.min_run = cfg->gaps.min_run,
                                .min_level = cfg->gaps.min_level,
                                .context = cfg->gaps.context};
    out->seed = cfg->seed;
    out->window = cfg->window_intervals;
    out->headroom = cfg->headroom;
    out->ewma_alpha = cfg->ewma_alpha;
    out->ar_order = cfg->ar_order;
    out->lstm_hidden = cfg->lstm.hidden;
    out->lstm_window = cfg->lstm.window;
    out->lstm_epochs = cfg->lstm.epochs;
    out->lstm_learning_rate = cfg->lstm.learning_rate;
    out->lstm_batch = cfg->lstm.batch;
}

int sw_pred_create(sw_pred_t **out, const sw_pred_params_t *params, char *errbuf, size_t errlen)
{
    if (params->horizon == 0 || !(params->quantile > 0 && params->quantile < 1)) {
        snprintf(errbuf, errlen, "predictor: horizon must be >= 1 and quantile in (0, 1)");
        return -EINVAL;
    }
    for (size_t i = 0; i < SW_ARRAY_LEN(registry); i++) {
        if (strcmp(registry[i]->name, params->name) != 0)
            continue;
        sw_pred_t *p = sw_calloc(1, sizeof(*p));
        p->ops = registry[i];
        p->params = *params;
        p->ratio_q = sw_malloc(params->horizon * sizeof(double));
        for (unsigned h = 0; h < params->horizon; h++)
            p->ratio_q[h] = 1.0;
        p->ratio_q_max = 1.0;
        int rc = p->ops->create(p, errbuf, errlen);
        if (rc < 0) {
            sw_free(p->ratio_q);
            sw_free(p);
            return rc;
        }
        *out = p;
        return 0;
    }
    snprintf(errbuf, errlen, "predictor.name: unknown forecaster \"%s\" (known: %s)",
             params->name, sw_pred_known_names());
    return -EINVAL;
}

void sw_pred_destroy(sw_pred_t *p)
{
    if (!p)
        return;
    p->ops->destroy(p);
    sw_free(p->ratio_q);
    sw_free(p->recent);
    sw_free(p);
}

int sw_pred_fit(sw_pred_t *p, const double *series, const uint8_t *missing, size_t n,
                char *errbuf, size_t errlen)
{
    if (n == 0) {
        snprintf(errbuf, errlen, "predictor %s: empty series", p->params.name);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(series[i]) || series[i] < 0) {
            snprintf(errbuf, errlen, "predictor %s: value %zu is %g: counts must be finite "
                     "and >= 0", p->params.name, i, series[i]);
            return -EINVAL;
        }
    }
    uint8_t *miss = sw_calloc(n, 1);
    if (missing)
        memcpy(miss, missing, n);
    uint8_t *gaps = sw_calloc(n, 1);
    sw_pred_find_gaps(series, n, &p->params.gaps, gaps);
    for (size_t i = 0; i < n; i++)
        miss[i] |= gaps[i];
    sw_free(gaps);
    int rc = p->ops->fit(p, series, miss, n, errbuf, errlen);
    if (rc == 0)
        p->pos = n;
    sw_free(miss);
    return rc;
}

void sw_pred_observe(sw_pred_t *p, double count)
{
    bool missing = !isfinite(count) || count < 0;
    p->ops->observe(p, missing ? 0.0 : count, missing);
    p->pos++;
}

void sw_pred_forecast(const sw_pred_t *p, sw_forecast_t *out)
{
    size_t h = SW_MIN(out->horizon, (size_t)p->params.horizon);
    double max_point = 0;
    p->ops->predict(p, h, out->point, &max_point);
    for (size_t i = 0; i < h; i++)
        out->upper[i] = out->point[i] * p->ratio_q[i];
    out->max_point = max_point;
    out->max_upper = max_point * p->ratio_q_max;
}

const char *sw_pred_name(const sw_pred_t *p) { return p->ops->name; }
const sw_pred_params_t *sw_pred_params(const sw_pred_t *p) { return &p->params; }

/* Median of v[0..n) (v is reordered). */
static double median(double *v, size_t n)
{
    size_t k = n / 2;
    for (size_t lo = 0, hi = n - 1; lo < hi;) { /* quickselect */
        double pivot = v[(lo + hi) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                if (j-- == 0)
                    break;
                v[j + 1] = t;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

size_t sw_pred_find_gaps(const double *series, size_t n, const sw_gap_rule_t *rule,
                         uint8_t *missing)
{
    memset(missing, 0, n);
    if (rule->min_run == 0)
        return 0;
    size_t marked = 0, ctx = rule->context ? rule->context : 60;
    double *scratch = sw_malloc(ctx * sizeof(double));
    for (size_t i = 0; i < n;) {
        if (series[i] != 0.0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && series[j] == 0.0)
            j++;
        size_t from = i > ctx ? i - ctx : 0, m = 0;
        for (size_t k = from; k < i; k++)
            scratch[m++] = series[k];
        if (j - i >= rule->min_run && m > 0 && median(scratch, m) >= rule->min_level) {
            memset(missing + i, 1, j - i);
            marked += j - i;
        }
        i = j;
    }
    sw_free(scratch);
    return marked;
}

void sw_pred_blob_add(sw_pred_blob_t *b, const char *name, const double *data, size_t n)
{
    b->tensors = sw_realloc(b->tensors, (b->n_tensors + 1) * sizeof(*b->tensors));
    sw_pred_tensor_t *t = &b->tensors[b->n_tensors++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->n = n;
    t->data = sw_malloc(n * sizeof(double) + 1);
    if (n)
        memcpy(t->data, data, n * sizeof(double));
}

const sw_pred_tensor_t *sw_pred_blob_find(const sw_pred_blob_t *b, const char *name, size_t n)
{
    for (size_t i = 0; i < b->n_tensors; i++)
        if (strcmp(b->tensors[i].name, name) == 0)
            return b->tensors[i].n == n ? &b->tensors[i] : NULL;
    return NULL;
}

void sw_pred_blob_free(sw_pred_blob_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_tensors; i++)
        sw_free(b->tensors[i].data);
    sw_free(b->tensors);
    memset(b, 0, sizeof(*b));
}

int sw_pred_export(const sw_pred_t *p, sw_pred_blob_t *out)
{
    memset(out, 0, sizeof(*out));
    out->params = p->params;
    double pos = (double)p->pos;
    sw_pred_blob_add(out, "pos", &pos, 1);
    sw_pred_blob_add(out, "ratio_q", p->ratio_q, p->params.horizon);
    sw_pred_blob_add(out, "ratio_q_max", &p->ratio_q_max, 1);
    return p->ops->export_state(p, out);
}

int sw_pred_import(sw_pred_t **out, const sw_pred_blob_t *blob, char *errbuf, size_t errlen)
{
    sw_pred_t *p;
    int rc = sw_pred_create(&p, &blob->params, errbuf, errlen);
    if (rc < 0)
        return rc;
    const sw_pred_tensor_t *pos = sw_pred_blob_find(blob, "pos", 1);
    const sw_pred_tensor_t *rq = sw_pred_blob_find(blob, "ratio_q", p->params.horizon);
    const sw_pred_tensor_t *rqm = sw_pred_blob_find(blob, "ratio_q_max", 1);
    if (!pos || !rq || !rqm) {
        snprintf(errbuf, errlen, "predictor %s: saved state lacks pos/ratio_q/ratio_q_max",
                 p->params.name);
        sw_pred_destroy(p);
        return -EINVAL;
    }
    p->pos = (uint64_t)pos->data[0];
    memcpy(p->ratio_q, rq->data, p->params.horizon * sizeof(double));
    p->ratio_q_max = rqm->data[0];
    rc = p->ops->import_state(p, blob, errbuf, errlen);
    if (rc < 0) {
        sw_pred_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}
