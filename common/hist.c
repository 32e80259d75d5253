/* Log-linear bucketing: values below 128 us get their own bucket; above, each power of two
 * is split into 64 equal sub-buckets. Index computation is a count-leading-zeros and two
 * shifts, cheap enough for every simulated request. */
#include "common/hist.h"

#include <string.h>

#define SUB 128
#define HALF 64

static inline unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = e - 6;
    return SUB + (shift - 1) * HALF + (unsigned)((v >> shift) - HALF);
}

static inline void bucket_range(unsigned idx, uint64_t *low, uint64_t *width)
{
    if (idx < SUB) {
        *low = idx;
        *width = 1;
        return;
    }
    unsigned k = idx - SUB, shift = k / HALF + 1;
    *low = (uint64_t)(k % HALF + HALF) << shift;
    *width = (uint64_t)1 << shift;
}

void sw_hist_init(sw_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = INT64_MAX;
    h->max_us = 0;
}

void sw_hist_add(sw_hist_t *h, int64_t value_us)
{
    uint64_t v = value_us < 0 ? 0 : (uint64_t)value_us;
    h->buckets[bucket_of(v)]++;
    h->count++;
    h->sum_us += v;
    if ((int64_t)v < h->min_us)
        h->min_us = (int64_t)v;
    if ((int64_t)v > h->max_us)
        h->max_us = (int64_t)v;
}

void sw_hist_merge(sw_hist_t *dst, const sw_hist_t *src)
{
    for (unsigned i = 0; i < SW_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
    dst->min_us = SW_MIN(dst->min_us, src->min_us);
    dst->max_us = SW_MAX(dst->max_us, src->max_us);
}

double sw_hist_quantile_us(const sw_hist_t *h, double q)
{
    if (h->count == 0)
        return 0.0;
    if (q <= 0.0)
        return (double)h->min_us;
    if (q >= 1.0)
        return (double)h->max_us;
    /* The rank is 1-based: the q-quantile is the smallest value with at least
     * ceil(q * count) samples at or below it. */
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < SW_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;
            bucket_range(i, &low, &width);
            double mid = (double)low + (double)(width - 1) / 2.0;
            if (mid < (double)h->min_us)
                mid = (double)h->min_us;
            if (mid > (double)h->max_us)
                mid = (double)h->max_us;
            return mid;
        }
    }
    return (double)h->max_us;
}

double sw_hist_mean_us(const sw_hist_t *h)
{
    return h->count ? (double)h->sum_us / (double)h->count : 0.0;
}
