/* Seeded pseudo-random numbers (xoshiro256**, seeded through splitmix64). All randomness
 * in the policy core and the simulator comes from an sw_rng_t passed in, so a run is a
 * function of its seed. Not for cryptography. */
#ifndef SW_COMMON_RNG_H
#define SW_COMMON_RNG_H

#include "common/common.h"

typedef struct sw_rng {
    uint64_t s[4];
} sw_rng_t;

/* Seeds the generator; equal seeds give equal streams on every platform. */
void sw_rng_init(sw_rng_t *rng, uint64_t seed);
/* Derives an independent stream for a sub-component, so adding draws in one component
 * does not shift the numbers another one sees. */
void sw_rng_fork(sw_rng_t *child, const sw_rng_t *parent, uint64_t stream_id);

static inline uint64_t sw__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t sw_rng_u64(sw_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = sw__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sw__rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double sw_rng_uniform(sw_rng_t *r) { return (double)(sw_rng_u64(r) >> 11) * 0x1.0p-53; }
/* Uniform in (0, 1]: safe to take the log of. */
static inline double sw_rng_uniform_pos(sw_rng_t *r)
{
    return (double)((sw_rng_u64(r) >> 11) + 1) * 0x1.0p-53;
}
/* Exponential with the given mean. */
double sw_rng_exponential(sw_rng_t *r, double mean);
/* Standard normal (polar Box-Muller, one value per call). */
double sw_rng_normal(sw_rng_t *r);
/* Lognormal with the given mean and coefficient of variation (sd / mean). */
double sw_rng_lognormal(sw_rng_t *r, double mean, double cv);
/* Poisson-distributed count with mean lambda >= 0. */
uint64_t sw_rng_poisson(sw_rng_t *r, double lambda);

#endif
