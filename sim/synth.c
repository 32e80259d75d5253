/* Synthetic traces (see synth.h). The bursts come from their own stream, and each
 * second's count from a stream of its own (a Poisson draw takes a varying number of
 * uniforms, so one shared stream would shift every later count after a burst): the same
 * seed gives the same bursts whatever the base rate, and a trace with bursts differs from
 * the same trace without them only inside the bursts. */
#include "sim/synth.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/rng.h"

#define DAY_S 86400.0

static const struct {
    const char *name;
    sw_synth_t shape; /* seconds, seed and the sine's period are filled in per call */
} presets[] = {
    {"flat-low", {.base_rps = 0.5}},
    {"flat-high", {.base_rps = 150}},
    {"sine", {.base_rps = 60, .sine_amplitude = 0.8}},
    {"sine-bursts",
     {.base_rps = 60,
      .sine_amplitude = 0.8,
      .burst_factor = 5,
      .burst_every_s = 7200,
      .burst_min_s = 180,
      .burst_max_s = 300}},
    {"step", {.base_rps = 5, .step_rps = 100, .step_len_s = 3600}},
};

int sw_synth_preset(const char *name, double seconds, uint64_t seed, sw_synth_t *out)
{
    for (size_t i = 0; i < SW_ARRAY_LEN(presets); i++) {
        if (strcmp(presets[i].name, name) != 0)
            continue;
        *out = presets[i].shape;
        out->seconds = seconds;
        out->seed = seed;
        out->sine_period_s = seconds > 0 ? seconds : DAY_S;
        out->step_at_s = seconds / 2;
        return 0;
    }
    return -EINVAL;
}

const char *sw_synth_preset_names(void)
{
    return "flat-low, flat-high, sine, sine-bursts, step";
}

double sw_synth_rate(const sw_synth_t *spec, double t)
{
    double rate = spec->base_rps;
    if (spec->sine_amplitude > 0 && spec->sine_period_s > 0)
        rate *= 1.0 - spec->sine_amplitude * cos(2.0 * M_PI * t / spec->sine_period_s);
    if (spec->step_rps > 0 && t >= spec->step_at_s && t < spec->step_at_s + spec->step_len_s)
        rate = spec->step_rps;
    return rate;
}

int sw_synth_write(FILE *f, const sw_synth_t *spec)
{
    sw_rng_t root, bursts, second;
    sw_rng_init(&root, spec->seed);
    sw_rng_fork(&bursts, &root, 1);
    bool bursty = spec->burst_factor > 1 && spec->burst_every_s > 0;
    double onset = bursty ? sw_rng_exponential(&bursts, spec->burst_every_s) : INFINITY;
    double burst_end = -1;
    uint64_t n = (uint64_t)ceil(spec->seconds);
    for (uint64_t i = 0; i < n; i++) {
        double t = (double)i;
        while (t >= onset) {
            double len = spec->burst_min_s +
                         (spec->burst_max_s - spec->burst_min_s) * sw_rng_uniform(&bursts);
            burst_end = onset + len;
            onset = burst_end + sw_rng_exponential(&bursts, spec->burst_every_s);
        }
        double rate = sw_synth_rate(spec, t) * (t < burst_end ? spec->burst_factor : 1.0);
        sw_rng_fork(&second, &root, 2 + i);
        fprintf(f, "%llu\n", (unsigned long long)sw_rng_poisson(&second, rate));
    }
    return ferror(f) ? -EIO : 0;
}
