/* Latency histogram with fixed log-linear buckets (64 per power of two, so a reported
 * quantile is within 0.8 % of the true value). Constant memory whatever the number of
 * samples: a 30-day simulation and a 1-minute one cost the same. */
#ifndef SW_COMMON_HIST_H
#define SW_COMMON_HIST_H

#include "common/common.h"

#define SW_HIST_BUCKETS 3712

typedef struct sw_hist {
    uint64_t count;
    uint64_t sum_us;
    int64_t min_us;
    int64_t max_us;
    uint64_t buckets[SW_HIST_BUCKETS];
} sw_hist_t;

void sw_hist_init(sw_hist_t *h);
/* Records one value in microseconds; negative values count as 0. */
void sw_hist_add(sw_hist_t *h, int64_t value_us);
/* Adds every sample of src to dst. */
void sw_hist_merge(sw_hist_t *dst, const sw_hist_t *src);
/* The q-quantile (0 <= q <= 1) in microseconds: the midpoint of the bucket holding it,
 * clamped to [min, max]. 0 when empty. */
double sw_hist_quantile_us(const sw_hist_t *h, double q);
/* Mean of the recorded values in microseconds; 0 when empty. */
double sw_hist_mean_us(const sw_hist_t *h);

#endif
