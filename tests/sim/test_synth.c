/* Synthetic traces: a spec and a seed give the same counts everywhere, the counts follow
 * the shape's rate, and bursts change a trace only inside them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/synth.h"

/* The trace as counts; *n gets how many. The caller frees. */
static unsigned long *counts_of(const sw_synth_t *spec, size_t *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cr_assert_eq(sw_synth_write(f, spec), 0);
    fclose(f);
    size_t cap = (size_t)spec->seconds + 1;
    unsigned long *v = calloc(cap, sizeof(*v));
    *n = 0;
    for (char *p = buf, *end; *p; p = end + 1) {
        cr_assert_lt(*n, cap);
        v[(*n)++] = strtoul(p, &end, 10);
        cr_assert_eq(*end, '\n', "one count per line");
    }
    free(buf);
    return v;
}

static double mean(const unsigned long *v, size_t from, size_t to)
{
    double sum = 0;
    for (size_t i = from; i < to; i++)
        sum += (double)v[i];
    return sum / (double)(to - from);
}

Test(sim_synth, same_seed_same_counts_and_another_seed_differs)
{
    sw_synth_t a, b;
    cr_assert_eq(sw_synth_preset("sine", 3600, 7, &a), 0);
    cr_assert_eq(sw_synth_preset("sine", 3600, 7, &b), 0);
    size_t na, nb;
    unsigned long *x = counts_of(&a, &na), *y = counts_of(&b, &nb);
    cr_assert_eq(na, 3600);
    cr_assert_eq(nb, na);
    cr_assert_arr_eq(x, y, na * sizeof(*x));
    free(y);
    b.seed = 8;
    y = counts_of(&b, &nb);
    cr_assert_neq(memcmp(x, y, na * sizeof(*x)), 0);
    free(x);
    free(y);
}

Test(sim_synth, counts_follow_each_shape)
{
    sw_synth_t s;
    size_t n;
    cr_assert_eq(sw_synth_preset("flat-high", 2000, 1, &s), 0);
    unsigned long *v = counts_of(&s, &n);
    cr_assert_float_eq(mean(v, 0, n), 150, 1.5, "Poisson around 150/s");
    free(v);
    /* The sine's trough is at the start and its peak half a period later. */
    cr_assert_eq(sw_synth_preset("sine", 7200, 1, &s), 0);
    cr_assert_float_eq(sw_synth_rate(&s, 0), 12, 1e-9);
    cr_assert_float_eq(sw_synth_rate(&s, 3600), 108, 1e-9);
    /* The step: 5/s, then 100/s for an hour from the middle, then 5/s again. */
    cr_assert_eq(sw_synth_preset("step", 4 * 3600, 1, &s), 0);
    v = counts_of(&s, &n);
    cr_assert_float_eq(mean(v, 0, 7200), 5, 0.2);
    cr_assert_float_eq(mean(v, 7200, 10800), 100, 1);
    cr_assert_float_eq(mean(v, 10800, n), 5, 0.2);
    free(v);
    cr_assert_eq(sw_synth_preset("nonsense", 60, 1, &s), -EINVAL);
}

Test(sim_synth, bursts_multiply_the_rate_only_inside_them)
{
    sw_synth_t plain, bursty;
    cr_assert_eq(sw_synth_preset("sine", 86400, 3, &plain), 0);
    cr_assert_eq(sw_synth_preset("sine-bursts", 86400, 3, &bursty), 0);
    size_t n, m;
    unsigned long *p = counts_of(&plain, &n), *b = counts_of(&bursty, &m);
    cr_assert_eq(n, m);
    /* Same counts stream: outside bursts equal, inside a burst about 5 times as many. */
    size_t differ = 0, runs = 0;
    double inside = 0, base = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == b[i])
            continue;
        differ++;
        runs += i == 0 || p[i - 1] == b[i - 1];
        inside += (double)b[i];
        base += sw_synth_rate(&plain, (double)i);
    }
    cr_assert_gt(runs, 3, "a day has several bursts (every 2 h on average)");
    cr_assert_lt(differ, 86400 / 5, "bursts of 3-5 minutes are a small part of the day");
    cr_assert_float_eq(inside / base, 5, 0.3);
    free(p);
    free(b);
}
