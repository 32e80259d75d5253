/* xoshiro256** (Blackman and Vigna) with splitmix64 seeding, plus the few distributions
 * the simulator draws from. Poisson uses inversion for small means and the PTRS
 * transformed-rejection method (Hoermann 1993) for large ones, so cost stays O(1). */
#include "common/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sw_rng_init(sw_rng_t *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

void sw_rng_fork(sw_rng_t *child, const sw_rng_t *parent, uint64_t stream_id)
{
    uint64_t x = parent->s[0] ^ sw__rotl(parent->s[3], 17) ^ (stream_id * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        child->s[i] = splitmix64(&x);
}

double sw_rng_exponential(sw_rng_t *r, double mean) { return -mean * log(sw_rng_uniform_pos(r)); }

double sw_rng_normal(sw_rng_t *r)
{
    for (;;) {
        double u = 2.0 * sw_rng_uniform(r) - 1.0;
        double v = 2.0 * sw_rng_uniform(r) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0)
            return u * sqrt(-2.0 * log(s) / s);
    }
}

double sw_rng_lognormal(sw_rng_t *r, double mean, double cv)
{
    if (cv <= 0.0)
        return mean;
    double sigma2 = log1p(cv * cv);
    double mu = log(mean) - 0.5 * sigma2;
    return exp(mu + sqrt(sigma2) * sw_rng_normal(r));
}

static uint64_t poisson_inversion(sw_rng_t *r, double lambda)
{
    double limit = exp(-lambda), prod = sw_rng_uniform_pos(r);
    uint64_t k = 0;
    while (prod > limit) {
        k++;
        prod *= sw_rng_uniform_pos(r);
    }
    return k;
}

static uint64_t poisson_ptrs(sw_rng_t *r, double lambda)
{
    double slam = sqrt(lambda), loglam = log(lambda);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double u = sw_rng_uniform(r) - 0.5, v = sw_rng_uniform(r);
        double us = 0.5 - fabs(u);
        double k = floor((2 * a / us + b) * u + lambda + 0.43);
        if (us >= 0.07 && v <= vr)
            return (uint64_t)k;
        if (k < 0 || (us < 0.013 && v > us))
            continue;
        if (log(v) + log(invalpha) - log(a / (us * us) + b) <= -lambda + k * loglam - lgamma(k + 1))
            return (uint64_t)k;
    }
}

uint64_t sw_rng_poisson(sw_rng_t *r, double lambda)
{
    if (lambda <= 0.0)
        return 0;
    return lambda < 10.0 ? poisson_inversion(r, lambda) : poisson_ptrs(r, lambda);
}
