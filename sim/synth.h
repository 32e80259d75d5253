/* Synthetic request traces: the shapes a policy must handle beside the recorded traces
 * (a flat low rate, a flat high rate, a daily sine, a sine with random bursts, a switch
 * from a low to a high rate for a while), written as counts per second for
 * `spillway simulate`. Each second's count is a Poisson draw around the shape's rate from
 * a seeded stream, so a spec and a seed give the same file on every machine.
 *
 * The bench writes day-long traces (bench/synth_trace); the tests write short ones. */
#ifndef SW_SIM_SYNTH_H
#define SW_SIM_SYNTH_H

#include <stdio.h>

#include "common/common.h"

/* A shape: base rate, optionally modulated by a sine, raised by a step and multiplied in
 * bursts. Rates are requests per second. */
typedef struct sw_synth {
    double seconds;        /* length of the trace, whole seconds (rounded up) */
    double base_rps;       /* the flat rate; the sine's mean; the rate outside the step */
    double sine_amplitude; /* relative amplitude in [0, 1); 0: no sine */
    double sine_period_s;  /* the sine's period; its trough is at time 0 */
    double step_rps;       /* the rate inside the step; 0: no step */
    double step_at_s, step_len_s;
    double burst_factor;             /* rate multiplier inside a burst; <= 1: no bursts */
    double burst_every_s;            /* mean time between burst onsets (exponential gaps) */
    double burst_min_s, burst_max_s; /* a burst lasts a uniform draw in [min, max] */
    uint64_t seed;
} sw_synth_t;

/* The named shapes of the bench, `seconds` long, with the bench's rates:
 *   flat-low     0.5 requests/s: functions are cheaper than any VM
 *   flat-high    150/s: a pool of VMs is cheaper than functions
 *   sine         a sine of period `seconds` between 12 and 108/s (mean 60)
 *   sine-bursts  the same sine, times 5 in bursts of 3-5 minutes every 2 hours on average
 *   step         5/s, and 100/s for an hour starting at the middle
 * Returns 0, or -EINVAL for an unknown name. */
int sw_synth_preset(const char *name, double seconds, uint64_t seed, sw_synth_t *out);
/* The preset names, comma-separated, for messages. */
const char *sw_synth_preset_names(void);

/* The shape's rate at time t (bursts excluded: they are drawn while writing). */
double sw_synth_rate(const sw_synth_t *spec, double t);

/* Writes spec->seconds counts, one per line (counts-per-second). Returns 0, or -EIO when
 * the stream failed. */
int sw_synth_write(FILE *f, const sw_synth_t *spec);

#endif
