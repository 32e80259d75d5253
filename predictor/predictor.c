/* Forecaster registry and the machinery every forecaster shares: argument checks, gap
 * detection (at fit and online), the held-back calibration of upper quantiles, and
 * export/import of fitted state as named tensors.
 *
 * Gaps are found by one state machine (the "holder") that sees the raw counts in order and
 * releases what the model should see: real values, or missing flags. sw_pred_find_gaps,
 * sw_pred_fit and sw_pred_observe all run it, so a series fitted at once and the same
 * series observed one interval at a time reach the model as the same stream. */
#include "predictor/predictor_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sw_pred_ops_t *const registry[] = {
    &sw__pred_recent_max_ops, &sw__pred_last_ops, &sw__pred_seasonal_naive_ops,
    &sw__pred_ewma_ops,       &sw__pred_holt_winters_ops, &sw__pred_ar_ops,
    &sw__pred_lstm_ops,
};

const char *sw_pred_known_names(void)
{
    return "recent-max, last, seasonal-naive, ewma, holt-winters, ar, lstm";
}

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

/* ---- The gap holder -------------------------------------------------------------------- */

/* The median is taken over this many intervals when the rule leaves context at 0. */
#define DEFAULT_CONTEXT 60u

static size_t context_len(const sw_gap_rule_t *rule)
{
    return rule->context ? rule->context : DEFAULT_CONTEXT;
}

/* Where the released stream goes: count copies of (y, missing). */
typedef void (*emit_fn)(void *ctx, double y, bool missing, size_t count);

/* The holder's state by value; sw_pred_t keeps the same fields (zeros_held, in_gap, recent)
 * so that the online state can be exported. ring has cap slots. */
typedef struct holder {
    const sw_gap_rule_t *rule;
    double *ring;
    size_t cap, n, head;
    unsigned held;
    bool in_gap;
    emit_fn emit;
    void *ctx;
} holder_t;

static void ring_push(holder_t *h, double y)
{
    h->ring[h->head] = y;
    h->head = (h->head + 1) % h->cap;
    if (h->n < h->cap)
        h->n++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the ring: sorted copy, mean of the two middle values when n is even. A sort of
 * at most `context` values, once per zero run, is cheap and obviously right. */
static double ring_median(const holder_t *h)
{
    double stack[256];
    double *v = h->n <= SW_ARRAY_LEN(stack) ? stack : sw_malloc(h->n * sizeof(double));
    memcpy(v, h->ring, h->n * sizeof(double));
    qsort(v, h->n, sizeof(double), cmp_double);
    double m = h->n % 2 ? v[h->n / 2] : 0.5 * (v[h->n / 2 - 1] + v[h->n / 2]);
    if (v != stack)
        sw_free(v);
    return m;
}

/* Could a zero run starting now be a gap? Only after a busy context. Held zeros do not
 * enter the ring, so the answer stays the same for the whole run. */
static bool could_be_gap(const holder_t *h)
{
    return h->n > 0 && ring_median(h) >= h->rule->min_level;
}

/* The held zeros turned out to be load: they reach the model and the context. */
static void release_real(holder_t *h)
{
    if (h->held == 0)
        return;
    for (unsigned i = 0; i < h->held; i++)
        ring_push(h, 0.0);
    h->emit(h->ctx, 0.0, false, h->held);
    h->held = 0;
}

/* One raw interval in. A zero is held while its run could still become a gap (busy
 * context, run shorter than min_run); reaching min_run calls the run a gap and releases
 * it as missing, as are further zeros at once. Anything else ends the run: held zeros
 * are then real, since a run called a gap has none held. A missing interval is no evidence
 * of load either way, so it keeps a gap open; it ends a run still undecided, whose zeros
 * are then real (the run never reached min_run). */
static void hold_step(holder_t *h, double y, bool missing)
{
    if (missing) {
        release_real(h);
        h->emit(h->ctx, 0.0, true, 1);
        return;
    }
    if (y != 0.0) {
        release_real(h);
        h->in_gap = false;
        ring_push(h, y);
        h->emit(h->ctx, y, false, 1);
        return;
    }
    if (h->in_gap) {
        h->emit(h->ctx, 0.0, true, 1);
        return;
    }
    /* Zeros after a quiet context are load whatever the run's length: no point holding
     * them (pushing zeros cannot raise the median, so this holds for the whole run). */
    if (h->rule->min_run == 0 || (h->held == 0 && !could_be_gap(h))) {
        ring_push(h, 0.0);
        h->emit(h->ctx, 0.0, false, 1);
        return;
    }
    if (++h->held >= h->rule->min_run) {
        h->in_gap = true;
        h->emit(h->ctx, 0.0, true, h->held);
        h->held = 0;
    }
}

static holder_t holder_of(sw_pred_t *p, emit_fn emit, void *ctx)
{
    return (holder_t){.rule = &p->params.gaps,
                      .ring = p->recent,
                      .cap = context_len(&p->params.gaps),
                      .n = p->recent_n,
                      .head = p->recent_head,
                      .held = p->zeros_held,
                      .in_gap = p->in_gap,
                      .emit = emit,
                      .ctx = ctx};
}

static void holder_store(sw_pred_t *p, const holder_t *h)
{
    p->recent_n = h->n;
    p->recent_head = h->head;
    p->zeros_held = h->held;
    p->in_gap = h->in_gap;
}

/* A released stream collected into arrays (fit, find_gaps). */
typedef struct stream {
    double *y;
    uint8_t *miss;
    size_t n;
} stream_t;

static void emit_to_stream(void *ctx, double y, bool missing, size_t count)
{
    stream_t *s = ctx;
    for (size_t i = 0; i < count; i++) {
        s->y[s->n] = y;
        s->miss[s->n++] = missing;
    }
}

/* An interval that collapses to under this share of its neighbour right where a gap
 * begins or ends is a partial record: the Twitter trace's minute before each daily hole
 * holds 1 to 12 requests against ~3,000. */
#define GAP_EDGE_FRACTION 0.1

/* Flags the partial intervals at the edges of missing runs (in recorded history only: a
 * live planner's counts are never missing). */
static void mark_gap_edges(const double *y, uint8_t *miss, size_t n)
{
    for (size_t i = 1; i + 1 < n; i++) {
        if (miss[i])
            continue;
        bool before_gap = miss[i + 1] && i >= 1 && !miss[i - 1] &&
                          y[i] < GAP_EDGE_FRACTION * y[i - 1];
        bool after_gap = miss[i - 1] && !miss[i + 1] && y[i] < GAP_EDGE_FRACTION * y[i + 1];
        if (before_gap || after_gap)
            miss[i] = 1;
    }
}

size_t sw_pred_find_gaps(const double *series, size_t n, const sw_gap_rule_t *rule,
                         uint8_t *missing)
{
    memset(missing, 0, n);
    if (rule->min_run == 0 || n == 0)
        return 0;
    stream_t s = {.y = sw_malloc(n * sizeof(double)), .miss = missing};
    holder_t h = {.rule = rule, .cap = context_len(rule), .emit = emit_to_stream, .ctx = &s};
    h.ring = sw_malloc(h.cap * sizeof(double));
    for (size_t i = 0; i < n; i++)
        hold_step(&h, series[i], !isfinite(series[i]) || series[i] < 0);
    /* A run still held at the end never reached min_run: real zeros, not a gap. */
    release_real(&h);
    mark_gap_edges(series, missing, n);
    sw_free(h.ring);
    sw_free(s.y);
    size_t marked = 0;
    for (size_t i = 0; i < n; i++)
        marked += missing[i];
    return marked;
}

/* ---- Create, fit, observe, forecast ------------------------------------------------------ */

/* The ratio upper = point x ratio before (or without) calibration: recent-max's headroom,
 * which is its documented upper bound, and 1 for everyone else. */
/* The upper-bound ratio before (or without) calibration: recent-max's headroom, which is
 * MArk's own rule, else 1. */
static double default_ratio(const sw_pred_t *p)
{
    return p->ops == &sw__pred_recent_max_ops ? p->params.headroom : 1.0;
}

static void reset_ratios(sw_pred_t *p)
{
    for (unsigned h = 0; h < p->params.horizon; h++)
        p->ratio_q[h] = default_ratio(p);
    p->ratio_q_max = default_ratio(p);
    memset(p->burst_prone, 0, sizeof(p->burst_prone));
    sw_free(p->ratio_cal);
    sw_free(p->ratio_cal_max);
    p->ratio_cal = p->ratio_cal_max = NULL;
}

/* Calendar tables exist only once calendar calibration has run (or was imported). */
static void alloc_calendar(sw_pred_t *p)
{
    p->ratio_cal = sw_malloc(SW_PRED_CAL_BUCKETS * p->params.horizon * sizeof(double));
    p->ratio_cal_max = sw_malloc(SW_PRED_CAL_BUCKETS * sizeof(double));
}

static int check_params(const sw_pred_params_t *pp, char *errbuf, size_t errlen)
{
    const char *name = pp->name;
    if (pp->horizon == 0 || pp->horizon > SW_PRED_MAX_HORIZON)
        snprintf(errbuf, errlen, "predictor %s: horizon %u must be in [1, %u]", name, pp->horizon,
                 SW_PRED_MAX_HORIZON);
    else if (pp->season > SW_PRED_MAX_SEASON)
        snprintf(errbuf, errlen, "predictor %s: season %u must be <= %u intervals", name,
                 pp->season, SW_PRED_MAX_SEASON);
    else if (!(pp->quantile > 0 && pp->quantile < 1))
        snprintf(errbuf, errlen, "predictor %s: quantile %g must be in (0, 1)", name,
                 pp->quantile);
    else if (!(pp->holdout_frac >= 0 && pp->holdout_frac < 1))
        snprintf(errbuf, errlen, "predictor %s: holdout_frac %g must be in [0, 1)", name,
                 pp->holdout_frac);
    else if (!(pp->interval_s >= 0 && pp->interval_s <= SW_PRED_MAX_INTERVAL_S))
        snprintf(errbuf, errlen, "predictor %s: interval_s %g must be in [0, %g] s", name,
                 pp->interval_s, SW_PRED_MAX_INTERVAL_S);
    else if (!isfinite(pp->gaps.min_level))
        snprintf(errbuf, errlen, "predictor %s: gaps.min_level must be finite", name);
    else if (pp->gaps.context > 1000000)
        snprintf(errbuf, errlen, "predictor %s: gaps.context %u must be <= 1000000", name,
                 pp->gaps.context);
    else
        return 0;
    return -EINVAL;
}

int sw_pred_create(sw_pred_t **out, const sw_pred_params_t *params, char *errbuf, size_t errlen)
{
    if (!memchr(params->name, '\0', sizeof(params->name))) {
        snprintf(errbuf, errlen, "predictor.name: not a terminated string");
        return -EINVAL;
    }
    const sw_pred_ops_t *ops = NULL;
    for (size_t i = 0; i < SW_ARRAY_LEN(registry) && !ops; i++)
        if (strcmp(registry[i]->name, params->name) == 0)
            ops = registry[i];
    if (!ops) {
        snprintf(errbuf, errlen, "predictor.name: unknown forecaster \"%s\" (known: %s)",
                 params->name, sw_pred_known_names());
        return -EINVAL;
    }
    int rc = check_params(params, errbuf, errlen);
    if (rc < 0)
        return rc;
    sw_pred_t *p = sw_calloc(1, sizeof(*p));
    sw__pred_burst_reset(&p->burst);
    p->ops = ops;
    p->params = *params;
    p->ratio_q = sw_malloc(params->horizon * sizeof(double));
    p->recent = sw_calloc(context_len(&params->gaps), sizeof(double));
    reset_ratios(p);
    rc = p->ops->create(p, errbuf, errlen);
    if (rc < 0) {
        sw_free(p->ratio_q);
        sw_free(p->recent);
        sw_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void sw_pred_destroy(sw_pred_t *p)
{
    if (!p)
        return;
    p->ops->destroy(p);
    sw_free(p->ratio_q);
    sw_free(p->ratio_cal);
    sw_free(p->ratio_cal_max);
    sw_free(p->recent);
    sw_free(p);
}

static double clamp_count(double v)
{
    return v > 0 ? (v < SW_PRED_MAX_COUNT ? v : SW_PRED_MAX_COUNT) : 0;
}

/* Point forecasts of the next h steps as the model makes them, clamped to [0, the largest
 * count]: the one path for both forecasts and calibration, so the ratios describe what
 * callers get. The upper clamp (and 0 for NaN) keeps a model that extrapolates without
 * bound, such as an explosive AR from a crafted file, from handing a planner infinity. */
static void model_predict(const sw_pred_t *p, size_t h, double *point, double *max_point)
{
    *max_point = 0;
    p->ops->predict(p, h, point, max_point);
    for (size_t i = 0; i < h; i++)
        point[i] = clamp_count(point[i]);
    *max_point = clamp_count(*max_point);
}

/* The ceil(q n)-th smallest of v[0..n) (n >= 1; sorts v in place): the smallest value with at
 * least a share q of the sample at or below it. The epsilon keeps q n = 9.000000000000002
 * from rounding up to the 10th. */
static double order_quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof(double), cmp_double);
    double k = ceil(q * (double)n - 1e-9);
    size_t i = k < 1 ? 0 : (size_t)k - 1;
    return v[SW_MIN(i, n - 1)];
}

/* The minute of the hour of a forecast made at position `origin`, with bit 6 set when a
 * burst is due then (see burst.c). */
static uint8_t cal_code(const sw_pred_t *p, uint64_t origin)
{
    unsigned minute, hour;
    sw__pred_calendar(p, origin, &minute, &hour);
    return (uint8_t)(minute | (sw__pred_burst_due(&p->burst, &p->params, origin) ? 64u : 0u));
}

/* The calendar bucket of a code: the minute, split by burst phase where it is prone. */
static size_t code_bucket(const sw_pred_t *p, uint8_t code)
{
    unsigned minute = code & 63u;
    return minute + (p->burst_prone[minute] && (code & 64u) ? 60u : 0u);
}

static size_t cal_bucket(const sw_pred_t *p, uint64_t origin)
{
    return code_bucket(p, cal_code(p, origin));
}

/* Every value the model sees goes through here, so the burst phase tracks the same
 * stream, position for position. */
static void model_observe(sw_pred_t *p, double y, bool missing)
{
    p->ops->observe(p, y, missing);
    sw__pred_burst_observe(&p->burst, &p->params, p->pos, y, missing);
    p->pos++;
}

static void burst_feed(sw_pred_t *p, const double *y, const uint8_t *miss, size_t n)
{
    sw__pred_burst_reset(&p->burst);
    for (size_t i = 0; i < n; i++)
        sw__pred_burst_observe(&p->burst, &p->params, i, y[i], miss[i]);
}

/* Fewer samples than this in a bucket and the global ratio is used. */
#define CAL_MIN_SAMPLES 20

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Per-bucket ratios that together cover a share q of all samples (marginal coverage, the
 * quantile's meaning) at the least mean bound. Each bucket starts covering all of its
 * samples; then, as long as the overall miss budget (1 - q) allows, the bucket whose next
 * lower ratio saves the most (drop x samples in it) gives up its largest ratio. Buckets
 * where the bound must be wide for rare events (a burst's onset) are the ones that give
 * them up, and a planner then spills those events instead of provisioning for them in
 * every hour. ratios[i] was recorded at bucket[i]. */
static void calibrate_buckets(const sw_pred_t *p, const double *ratios, const uint8_t *bucket,
                              size_t n, double global, double *out, size_t stride)
{
    (void)global;
    double *sorted[SW_PRED_CAL_BUCKETS];
    size_t count[SW_PRED_CAL_BUCKETS] = {0}, top[SW_PRED_CAL_BUCKETS] = {0};
    for (size_t i = 0; i < n; i++)
        count[bucket[i]]++;
    for (size_t b = 0; b < SW_PRED_CAL_BUCKETS; b++) {
        sorted[b] = sw_malloc((count[b] + 1) * sizeof(double));
        count[b] = 0;
    }
    for (size_t i = 0; i < n; i++)
        sorted[bucket[i]][count[bucket[i]]++] = ratios[i];
    for (size_t b = 0; b < SW_PRED_CAL_BUCKETS; b++)
        qsort(sorted[b], count[b], sizeof(double), cmp_double_desc);
    /* A move gives up the k largest remaining ratios of one bucket at once, chosen by
     * saving per sample missed: one at a time would stall on a bucket whose rare events
     * share nearly equal ratios (a burst's), since dropping any one of them saves
     * nothing until all are gone. */
    size_t budget = (size_t)floor((1.0 - p->params.quantile) * (double)n), missed = 0;
    while (missed < budget) {
        size_t best = SW_PRED_CAL_BUCKETS, best_k = 0;
        double best_rate = 0;
        for (size_t b = 0; b < SW_PRED_CAL_BUCKETS; b++) {
            for (size_t k = 1; k <= budget - missed && top[b] + k < count[b]; k++) {
                double saving = (sorted[b][top[b]] - sorted[b][top[b] + k]) * (double)count[b];
                if (saving / (double)k > best_rate) {
                    best_rate = saving / (double)k;
                    best = b;
                    best_k = k;
                }
            }
        }
        if (best == SW_PRED_CAL_BUCKETS)
            break;
        top[best] += best_k;
        missed += best_k;
    }
    for (size_t b = 0; b < SW_PRED_CAL_BUCKETS; b++) {
        out[b * stride] = count[b] >= CAL_MIN_SAMPLES ? sorted[b][top[b]] : 0.0;
        sw_free(sorted[b]);
    }
}


/* A minute is burst-prone when the q-quantile of its own max ratios exceeds that of all
 * of them: the minutes before a burst slot (on the Twitter trace :59-:02 and :29-:32),
 * learned from the held-back data rather than written in. codes[i] is ratios[i]'s. */
static void learn_burst_prone(sw_pred_t *p, const double *ratios, const uint8_t *codes, size_t n)
{
    memset(p->burst_prone, 0, sizeof(p->burst_prone));
    if (n == 0)
        return;
    double *tmp = sw_malloc(n * sizeof(double));
    memcpy(tmp, ratios, n * sizeof(double));
    double global = order_quantile(tmp, n, p->params.quantile);
    for (unsigned m = 0; m < 60; m++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if ((codes[i] & 63u) == m)
                tmp[k++] = ratios[i];
        p->burst_prone[m] = k >= CAL_MIN_SAMPLES &&
                            order_quantile(tmp, k, p->params.quantile) > global;
    }
    sw_free(tmp);
}

/* Walks s[train..n) online from a model fitted on s[0..train): at each position forecasts
 * H steps, records actual / point per step and actual max / max point, then observes the
 * actual. A ratio is skipped where an interval it involves is missing or beyond the
 * series, and where the point is below 1 (a ratio to almost nothing says nothing). The
 * model ends positioned after the series. Quantities with no ratio keep their default. */
static void calibrate(sw_pred_t *p, const stream_t *s, size_t train)
{
    size_t H = p->params.horizon, hold = s->n - train, nmax = 0;
    double *r = sw_malloc(H * hold * sizeof(double)), *rmax = sw_malloc(hold * sizeof(double));
    uint8_t *rb = sw_malloc(H * hold + 1), *rmaxb = sw_malloc(hold + 1);
    double *pt = sw_malloc(H * sizeof(double));
    size_t *cnt = sw_calloc(H, sizeof(size_t));
    for (size_t t = train; t < s->n; t++) {
        double mp, amax = 0;
        uint8_t bucket = cal_code(p, p->pos);
        model_predict(p, H, pt, &mp);
        bool whole = t + H <= s->n;
        for (size_t h = 0; h < H && t + h < s->n; h++) {
            if (s->miss[t + h]) {
                whole = false;
                continue;
            }
            amax = SW_MAX(amax, s->y[t + h]);
            if (pt[h] >= 1) {
                rb[h * hold + cnt[h]] = bucket;
                r[h * hold + cnt[h]++] = s->y[t + h] / pt[h];
            }
        }
        if (whole && mp >= 1) {
            rmaxb[nmax] = bucket;
            rmax[nmax++] = amax / mp;
        }
        model_observe(p, s->y[t], s->miss[t]);
    }
    /* Bucket quantiles first: order_quantile sorts its input, and the buckets must be read
     * in recording order. */
    if (p->params.calendar) {
        learn_burst_prone(p, rmax, rmaxb, nmax);
        for (size_t i = 0; i < nmax; i++)
            rmaxb[i] = (uint8_t)code_bucket(p, rmaxb[i]);
        for (size_t h = 0; h < H; h++)
            for (size_t i = 0; i < cnt[h]; i++)
                rb[h * hold + i] = (uint8_t)code_bucket(p, rb[h * hold + i]);
        alloc_calendar(p);
        for (size_t h = 0; h < H; h++)
            calibrate_buckets(p, r + h * hold, rb + h * hold, cnt[h], 0.0, p->ratio_cal + h, H);
        calibrate_buckets(p, rmax, rmaxb, nmax, 0.0, p->ratio_cal_max, 1);
    }
    for (size_t h = 0; h < H; h++)
        if (cnt[h])
            p->ratio_q[h] = order_quantile(r + h * hold, cnt[h], p->params.quantile);
    if (nmax)
        p->ratio_q_max = order_quantile(rmax, nmax, p->params.quantile);
    /* A bucket with too few samples was marked 0 above: it takes the global ratio. */
    for (size_t b = 0; p->ratio_cal && b < SW_PRED_CAL_BUCKETS; b++) {
        for (size_t h = 0; h < H; h++)
            if (p->ratio_cal[b * H + h] == 0.0)
                p->ratio_cal[b * H + h] = p->ratio_q[h];
        if (p->ratio_cal_max[b] == 0.0)
            p->ratio_cal_max[b] = p->ratio_q_max;
    }
    sw_free(rb);
    sw_free(rmaxb);
    sw_free(r);
    sw_free(rmax);
    sw_free(pt);
    sw_free(cnt);
}

/* Fits the model on the released stream, holding back its tail for calibration when asked
 * and long enough (>= 10 forecasts' worth), then refits on the whole stream unless the
 * forecaster keeps its calibrated fit. */
static int fit_stream(sw_pred_t *p, const stream_t *s, char *errbuf, size_t errlen)
{
    size_t H = p->params.horizon;
    size_t hold = (size_t)floor(p->params.holdout_frac * (double)s->n);
    bool calib = p->params.holdout_frac > 0 && hold >= 10 * H && hold < s->n;
    size_t train = calib ? s->n - hold : s->n;
    char msg[256];
    p->pos = 0;
    int rc = p->ops->fit(p, s->y, s->miss, train, calib ? msg : errbuf,
                         calib ? sizeof(msg) : errlen);
    if (rc < 0) {
        if (calib)
            snprintf(errbuf, errlen, "%s (fitting the first %zu of %zu intervals: the rest "
                     "is held back by holdout_frac %g)", msg, train, s->n,
                     p->params.holdout_frac);
        return rc;
    }
    p->pos = train;
    reset_ratios(p);
    burst_feed(p, s->y, s->miss, train);
    if (!calib)
        return 0;
    calibrate(p, s, train);
    if (p->ops->keep_calibrated_fit)
        return 0;
    /* Then refit on everything: the ratios were measured on a model that saw less data, so
     * they are if anything conservative for the refitted one, which forecasts better (the
     * held-back days are the most recent, the most telling). */
    rc = p->ops->fit(p, s->y, s->miss, s->n, errbuf, errlen);
    p->pos = s->n;
    return rc;
}

static int check_series(const sw_pred_t *p, const double *series, const uint8_t *missing,
                        size_t n, char *errbuf, size_t errlen)
{
    if (n == 0) {
        snprintf(errbuf, errlen, "predictor %s: empty series", p->params.name);
        return -EINVAL;
    }
    size_t present = 0;
    for (size_t i = 0; i < n; i++) {
        if (missing && missing[i])
            continue; /* a flagged value is never read */
        if (!isfinite(series[i]) || series[i] < 0) {
            snprintf(errbuf, errlen, "predictor %s: value %zu is %g: counts must be finite "
                     "and >= 0", p->params.name, i, series[i]);
            return -EINVAL;
        }
        present++;
    }
    if (present == 0) {
        snprintf(errbuf, errlen, "predictor %s: every interval of the series is missing",
                 p->params.name);
        return -EINVAL;
    }
    return 0;
}

/* The series goes through the holder as it would online; zeros still held at its end stay
 * held, and the model is positioned before them (forecast() accounts for them). The
 * holder runs on its own ring and is committed with the fit, so a failed fit leaves the
 * forecaster as it was (forecasters check their input before they change their state). */
int sw_pred_fit(sw_pred_t *p, const double *series, const uint8_t *missing, size_t n,
                char *errbuf, size_t errlen)
{
    int rc = check_series(p, series, missing, n, errbuf, errlen);
    if (rc < 0)
        return rc;
    size_t cap = context_len(&p->params.gaps);
    stream_t s = {.y = sw_malloc(n * sizeof(double)), .miss = sw_malloc(n)};
    holder_t h = {.rule = &p->params.gaps,
                  .ring = sw_calloc(cap, sizeof(double)),
                  .cap = cap,
                  .emit = emit_to_stream,
                  .ctx = &s};
    for (size_t i = 0; i < n; i++)
        hold_step(&h, series[i], missing && missing[i]);
    mark_gap_edges(s.y, s.miss, s.n);
    uint64_t old_pos = p->pos;
    rc = fit_stream(p, &s, errbuf, errlen);
    if (rc == 0) {
        memcpy(p->recent, h.ring, cap * sizeof(double));
        holder_store(p, &h);
    } else {
        p->pos = old_pos;
    }
    sw_free(h.ring);
    sw_free(s.y);
    sw_free(s.miss);
    return rc;
}

static void emit_to_model(void *ctx, double y, bool missing, size_t count)
{
    sw_pred_t *p = ctx;
    for (size_t i = 0; i < count; i++)
        model_observe(p, y, missing);
}

void sw_pred_set_live(sw_pred_t *p)
{
    holder_t h = holder_of(p, emit_to_model, p);
    release_real(&h); /* zeros held from a recorded trace are load now */
    holder_store(p, &h);
    p->live = true;
}

void sw_pred_observe(sw_pred_t *p, double count)
{
    bool missing = !isfinite(count) || count < 0;
    if (p->live) {
        model_observe(p, missing ? 0.0 : count, missing);
        return;
    }
    holder_t h = holder_of(p, emit_to_model, p);
    hold_step(&h, missing ? 0.0 : count, missing);
    holder_store(p, &h);
}

/* The forecasters in this folder whose predict() extrapolates any number of steps. Others
 * may have a head of fixed length (lstm's is params.horizon long) and are never asked for
 * more than params.horizon steps. */
static bool predicts_any_length(const sw_pred_ops_t *ops)
{
    return ops == &sw__pred_recent_max_ops || ops == &sw__pred_last_ops ||
           ops == &sw__pred_seasonal_naive_ops || ops == &sw__pred_ewma_ops ||
           ops == &sw__pred_holt_winters_ops || ops == &sw__pred_ar_ops;
}

/* While zeros are held the model has not seen those intervals yet (they may turn out to
 * be missing), so it is positioned zeros_held intervals back: it forecasts zeros_held + H
 * steps and the first zeros_held, which cover the held intervals, are dropped. The max is
 * then taken over the kept points (a model's own max head covers the wrong steps). A
 * forecaster limited to params.horizon steps has its last step held flat beyond it. */
void sw_pred_forecast(const sw_pred_t *p, sw_forecast_t *out)
{
    size_t h = SW_MIN(out->horizon, (size_t)p->params.horizon), skip = p->zeros_held;
    double max_point = 0;
    if (skip == 0) {
        model_predict(p, h, out->point, &max_point);
    } else {
        size_t want = h + skip, ask = want;
        if (!predicts_any_length(p->ops))
            ask = SW_MIN(want, (size_t)p->params.horizon);
        double stack[256], ignored;
        double *buf = want <= SW_ARRAY_LEN(stack) ? stack : sw_malloc(want * sizeof(double));
        model_predict(p, ask, buf, &ignored);
        for (size_t i = ask; i < want; i++)
            buf[i] = buf[ask - 1];
        memcpy(out->point, buf + skip, h * sizeof(double));
        for (size_t i = 0; i < h; i++)
            max_point = SW_MAX(max_point, out->point[i]);
        if (buf != stack)
            sw_free(buf);
    }
    const double *ratio = p->ratio_q, *ratio_max = &p->ratio_q_max;
    if (p->ratio_cal) {
        size_t b = cal_bucket(p, p->pos + p->zeros_held);
        ratio = p->ratio_cal + b * p->params.horizon;
        ratio_max = p->ratio_cal_max + b;
    }
    for (size_t i = 0; i < h; i++)
        out->upper[i] = out->point[i] * ratio[i];
    out->max_point = max_point;
    out->max_upper = max_point * *ratio_max;
}

const char *sw_pred_name(const sw_pred_t *p) { return p->ops->name; }
const sw_pred_params_t *sw_pred_params(const sw_pred_t *p) { return &p->params; }

/* ---- Saved state ------------------------------------------------------------------------- */

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
        if (strncmp(b->tensors[i].name, name, sizeof(b->tensors[i].name)) == 0)
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

/* The shared state: position, calibrated ratios, and the online holder (held zeros, gap
 * flag, and the context ring), so that an imported forecaster in the middle of a zero run
 * goes on exactly as the exported one would. */
int sw_pred_export(const sw_pred_t *p, sw_pred_blob_t *out)
{
    memset(out, 0, sizeof(*out));
    out->params = p->params;
    double pos = (double)p->pos;
    double hold[4] = {p->zeros_held, p->in_gap, (double)p->recent_n, (double)p->recent_head};
    sw_pred_blob_add(out, "pos", &pos, 1);
    sw_pred_blob_add(out, "ratio_q", p->ratio_q, p->params.horizon);
    sw_pred_blob_add(out, "ratio_q_max", &p->ratio_q_max, 1);
    sw_pred_blob_add(out, "hold", hold, 4);
    sw_pred_blob_add(out, "recent", p->recent, context_len(&p->params.gaps));
    double burst[SW_PRED_BURST_STATE];
    sw__pred_burst_export(&p->burst, burst);
    sw_pred_blob_add(out, "burst", burst, SW_PRED_BURST_STATE);
    if (p->ratio_cal) {
        double prone[60];
        for (size_t m = 0; m < 60; m++)
            prone[m] = p->burst_prone[m];
        sw_pred_blob_add(out, "ratio_cal", p->ratio_cal,
                         SW_PRED_CAL_BUCKETS * (size_t)p->params.horizon);
        sw_pred_blob_add(out, "ratio_cal_max", p->ratio_cal_max, SW_PRED_CAL_BUCKETS);
        sw_pred_blob_add(out, "burst_prone", prone, 60);
    }
    int rc = p->ops->export_state(p, out);
    if (rc < 0)
        sw_pred_blob_free(out);
    return rc;
}

static bool in_range(double v, sw_pred_range_t r)
{
    if (isnan(v))
        return r.nan_ok;
    return v >= r.lo && v <= r.hi && (!r.whole || v == floor(v));
}

bool sw__pred_value_ok(const sw_pred_t *p, const sw_pred_tensor_t *t, size_t i, sw_pred_range_t r,
                       char *errbuf, size_t errlen)
{
    if (in_range(t->data[i], r))
        return true;
    snprintf(errbuf, errlen,
             "predictor %s: saved %s[%zu] is %g, out of range: must be %s%s "
             "in [%g, %g]",
             p->params.name, t->name, i, t->data[i], r.nan_ok ? "nan or " : "",
             r.whole ? "a whole number" : "a number", r.lo, r.hi);
    return false;
}

const sw_pred_tensor_t *sw__pred_tensor(const sw_pred_t *p, const sw_pred_blob_t *b,
                                        const char *name, size_t n, sw_pred_range_t r, char *errbuf,
                                        size_t errlen)
{
    const sw_pred_tensor_t *t = NULL;
    for (size_t i = 0; i < b->n_tensors && !t; i++)
        if (strncmp(b->tensors[i].name, name, sizeof(b->tensors[i].name)) == 0)
            t = &b->tensors[i];
    /* The lengths follow from the parameters, checked when the forecaster was created. */
    if (!t) {
        snprintf(errbuf, errlen, "predictor %s: saved state lacks %s (%zu values)", p->params.name,
                 name, n);
        return NULL;
    }
    if (t->n != n) {
        snprintf(errbuf, errlen,
                 "predictor %s: saved %s has %zu values, where its parameters "
                 "require %zu",
                 p->params.name, name, t->n, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!sw__pred_value_ok(p, t, i, r, errbuf, errlen))
            return NULL;
    return t;
}

/* The online holder: zeros held (fewer than the run that makes a gap), the gap flag, and
 * the context ring's fill and head. */
static bool hold_ok(const sw_pred_t *p, const sw_pred_tensor_t *hold, size_t cap, char *errbuf,
                    size_t errlen)
{
    unsigned max_held = p->params.gaps.min_run ? p->params.gaps.min_run - 1 : 0;
    return sw__pred_value_ok(p, hold, 0, sw__pred_index(max_held), errbuf, errlen) &&
           sw__pred_value_ok(p, hold, 1, SW_PRED_FLAG, errbuf, errlen) &&
           sw__pred_value_ok(p, hold, 2, sw__pred_index((double)cap), errbuf, errlen) &&
           sw__pred_value_ok(p, hold, 3, sw__pred_index((double)cap - 1), errbuf, errlen);
}

static bool has_tensor(const sw_pred_blob_t *b, const char *name)
{
    for (size_t i = 0; i < b->n_tensors; i++)
        if (strncmp(b->tensors[i].name, name, sizeof(b->tensors[i].name)) == 0)
            return true;
    return false;
}

/* The calendar tables: all three, or none (a forecaster never calendar-calibrated). */
static int import_calendar(sw_pred_t *p, const sw_pred_blob_t *blob, char *errbuf, size_t errlen)
{
    if (!has_tensor(blob, "ratio_cal") && !has_tensor(blob, "ratio_cal_max") &&
        !has_tensor(blob, "burst_prone"))
        return 0;
    size_t n = SW_PRED_CAL_BUCKETS * (size_t)p->params.horizon;
    const sw_pred_tensor_t *rc, *rcm, *prone;
    if (!(rc = sw__pred_tensor(p, blob, "ratio_cal", n, SW_PRED_RATIO, errbuf, errlen)) ||
        !(rcm = sw__pred_tensor(p, blob, "ratio_cal_max", SW_PRED_CAL_BUCKETS, SW_PRED_RATIO,
                                errbuf, errlen)) ||
        !(prone = sw__pred_tensor(p, blob, "burst_prone", 60, SW_PRED_FLAG, errbuf, errlen)))
        return -EINVAL;
    alloc_calendar(p);
    memcpy(p->ratio_cal, rc->data, n * sizeof(double));
    memcpy(p->ratio_cal_max, rcm->data, SW_PRED_CAL_BUCKETS * sizeof(double));
    for (size_t m = 0; m < 60; m++)
        p->burst_prone[m] = prone->data[m] != 0;
    return 0;
}

/* Older files have no burst state: the forecaster then starts it afresh. */
static int import_burst(sw_pred_t *p, const sw_pred_blob_t *blob, char *errbuf, size_t errlen)
{
    if (!has_tensor(blob, "burst"))
        return 0;
    const sw_pred_tensor_t *burst = sw__pred_tensor(
        p, blob, "burst", SW_PRED_BURST_STATE, sw__pred_real(SW_PRED_MAX_COUNT), errbuf, errlen);
    if (!burst)
        return -EINVAL;
    if (sw__pred_burst_import(&p->burst, &p->params, burst->data) < 0) {
        snprintf(errbuf, errlen,
                 "predictor %s: saved burst state is out of range: burst[0] "
                 "and [1] must be whole numbers within its ring, [2] a whole number >= -1, and "
                 "the rest counts",
                 p->params.name);
        return -EINVAL;
    }
    return 0;
}

static int import_shared(sw_pred_t *p, const sw_pred_blob_t *blob, char *errbuf, size_t errlen)
{
    size_t cap = context_len(&p->params.gaps), H = p->params.horizon;
    const sw_pred_tensor_t *pos, *rq, *rqm, *hold, *recent;
    if (!(pos = sw__pred_tensor(p, blob, "pos", 1, sw__pred_index(SW_PRED_MAX_COUNT), errbuf,
                                errlen)) ||
        !(rq = sw__pred_tensor(p, blob, "ratio_q", H, SW_PRED_RATIO, errbuf, errlen)) ||
        !(rqm = sw__pred_tensor(p, blob, "ratio_q_max", 1, SW_PRED_RATIO, errbuf, errlen)) ||
        !(hold = sw__pred_tensor(p, blob, "hold", 4, SW_PRED_COUNT, errbuf, errlen)) ||
        !hold_ok(p, hold, cap, errbuf, errlen) ||
        !(recent = sw__pred_tensor(p, blob, "recent", cap, SW_PRED_COUNT, errbuf, errlen)))
        return -EINVAL;
    int rc = import_burst(p, blob, errbuf, errlen);
    if (rc == 0)
        rc = import_calendar(p, blob, errbuf, errlen);
    if (rc < 0)
        return rc;
    p->pos = (uint64_t)pos->data[0];
    memcpy(p->ratio_q, rq->data, H * sizeof(double));
    p->ratio_q_max = rqm->data[0];
    p->zeros_held = (unsigned)hold->data[0];
    p->in_gap = hold->data[1] != 0;
    p->recent_n = (size_t)hold->data[2];
    p->recent_head = (size_t)hold->data[3];
    memcpy(p->recent, recent->data, cap * sizeof(double));
    return 0;
}

int sw_pred_import(sw_pred_t **out, const sw_pred_blob_t *blob, char *errbuf, size_t errlen)
{
    sw_pred_t *p;
    int rc = sw_pred_create(&p, &blob->params, errbuf, errlen);
    if (rc < 0)
        return rc;
    rc = import_shared(p, blob, errbuf, errlen);
    if (rc == 0)
        rc = p->ops->import_state(p, blob, errbuf, errlen);
    if (rc < 0) {
        sw_pred_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}
