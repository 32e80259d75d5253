/* Tests for runs/trace.c: the three formats on the real traces in data/traces
 * (expected values computed here independently, with plain stdio), seeding, rate scaling,
 * windows, and one test per kind of malformed input with its exact message. Small inputs
 * live in tests/data/traces/ or are written to temporary files. */
#include "runs/trace.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACES SW_SOURCE_DIR "/data/traces/"
#define DAY0 TRACES "twitter-2021-08/twitter_day00_per_second.txt"
#define MINUTES TRACES "twitter-2021-08/twitter_per_minute_days00-14.csv"
#define AZURE TRACES "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
#define FIXTURE(name) SW_SOURCE_DIR "/tests/data/traces/" name
#define DAY_S 86400

static sw_trace_opts_t opts(sw_trace_format_t format, double rate_scale, uint64_t seed)
{
    return (sw_trace_opts_t){.format = format, .rate_scale = rate_scale, .seed = seed};
}

/* Reads the day-0 counts with fscanf: slow and obviously right. */
static long *read_day0(long *total)
{
    FILE *f = fopen(DAY0, "r");
    cr_assert_not_null(f, "cannot open %s", DAY0);
    long *counts = calloc(DAY_S, sizeof *counts);
    int n = 0;
    *total = 0;
    while (n < DAY_S && fscanf(f, "%ld", &counts[n]) == 1)
        *total += counts[n++];
    fclose(f);
    cr_assert_eq(n, DAY_S);
    return counts;
}

static sw_trace_t *must_open(const char *path, const sw_trace_opts_t *o)
{
    char err[512];
    sw_trace_t *t = NULL;
    int rc = sw_trace_open(&t, path, o, err, sizeof err);
    cr_assert_eq(rc, 0, "open %s: %d %s", path, rc, err);
    return t;
}

/* Opens and drains a trace. Returns the final code (0 at a clean end, or the error, from
 * open or next) with its message in msg and the number of arrivals seen in *count. */
static int drain(const char *path, const sw_trace_opts_t *o, char *msg, size_t len, uint64_t *count)
{
    sw_trace_t *t = NULL;
    *count = 0;
    msg[0] = '\0';
    int rc = sw_trace_open(&t, path, o, msg, len);
    if (rc < 0)
        return rc;
    sw_time_t at;
    while ((rc = sw_trace_next(t, &at)) == 1)
        (*count)++;
    snprintf(msg, len, "%s", sw_trace_error(t));
    sw_trace_close(t);
    return rc;
}

/* Writes `text` to a fresh temporary file; its name goes into path (PATH_MAX-ish). */
static void write_tmp(char *path, size_t len, const char *text, size_t n)
{
    snprintf(path, len, "/tmp/sw_test_trace_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* Expects `text` (as a file of the given format) to fail with "PATH<suffix>". */
static void expect_error(const char *text, sw_trace_format_t format, int code, const char *suffix)
{
    char path[64], msg[512], want[600];
    uint64_t n;
    write_tmp(path, sizeof path, text, strlen(text));
    sw_trace_opts_t o = opts(format, 1.0, 1);
    int rc = drain(path, &o, msg, sizeof msg, &n);
    unlink(path);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    cr_assert_eq(rc, code, "rc %d, message: %s", rc, msg);
    cr_assert_str_eq(msg, want);
}

static void expect_fixture_error(const char *path, sw_trace_format_t format, const char *suffix)
{
    char msg[512], want[600];
    uint64_t n;
    sw_trace_opts_t o = opts(format, 1.0, 1);
    int rc = drain(path, &o, msg, sizeof msg, &n);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    cr_assert_eq(rc, SW_EPARSE, "rc %d, message: %s", rc, msg);
    cr_assert_str_eq(msg, want);
}

/* ---- real traces ---- */

Test(sim_trace, day0_per_second_streams_every_count_in_its_second, .timeout = 120)
{
    long total;
    long *counts = read_day0(&total);
    long *seen = calloc(DAY_S, sizeof *seen);
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 7);
    sw_trace_t *t = must_open(DAY0, &o);
    cr_assert_eq(sw_trace_format(t), SW_TRACE_COUNTS_PER_SECOND);
    sw_time_t at, prev = 0;
    long n = 0;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1) {
        cr_assert_geq(at, prev, "arrival %ld went back: %lld < %lld", n, (long long)at,
                      (long long)prev);
        cr_assert_lt(at, (sw_time_t)DAY_S * SW_US_PER_S);
        seen[at / SW_US_PER_S]++;
        prev = at;
        n++;
    }
    cr_assert_eq(rc, 0, "%s", sw_trace_error(t));
    cr_assert_eq(n, total, "got %ld arrivals, the file sums to %ld", n, total);
    for (int s = 0; s < DAY_S; s++)
        cr_assert_eq(seen[s], counts[s], "second %d: %ld arrivals, count %ld", s, seen[s],
                     counts[s]);
    cr_assert_float_eq(sw_trace_progress(t), 1.0, 1e-12);
    cr_assert_eq(rc = sw_trace_next(t, &at), 0, "stays at the end");
    sw_trace_close(t);
    free(counts);
    free(seen);
}

/* Inside each second the arrivals should be uniform: check deciles over the whole day. */
Test(sim_trace, arrivals_are_uniform_inside_their_second, .timeout = 120)
{
    sw_trace_opts_t o = opts(SW_TRACE_COUNTS_PER_SECOND, 1.0, 11);
    sw_trace_t *t = must_open(DAY0, &o);
    long deciles[10] = {0}, n = 0;
    sw_time_t at;
    while (sw_trace_next(t, &at) == 1) {
        deciles[(at % SW_US_PER_S) / 100000]++;
        n++;
    }
    double expect = n / 10.0, sigma = sqrt(n * 0.1 * 0.9);
    for (int d = 0; d < 10; d++)
        cr_assert_lt(fabs(deciles[d] - expect), 5 * sigma, "decile %d: %ld of %ld", d, deciles[d],
                     n);
    sw_trace_close(t);
}

/* The first minutes from the CSV, parsed with sscanf, against the arrivals per minute. */
Test(sim_trace, per_minute_counts_fall_in_their_minute)
{
    enum { MINUTES_CHECKED = 30 };
    FILE *f = fopen(MINUTES, "r");
    cr_assert_not_null(f);
    char line[128];
    long want[MINUTES_CHECKED], idx, req;
    cr_assert_not_null(fgets(line, sizeof line, f)); /* header */
    for (int i = 0; i < MINUTES_CHECKED; i++) {
        cr_assert_not_null(fgets(line, sizeof line, f));
        cr_assert_eq(sscanf(line, "%ld,%ld", &idx, &req), 2);
        cr_assert_eq(idx, i);
        want[i] = req;
    }
    fclose(f);
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 3);
    o.duration_s = MINUTES_CHECKED * 60.0;
    sw_trace_t *t = must_open(MINUTES, &o);
    cr_assert_eq(sw_trace_format(t), SW_TRACE_COUNTS_PER_MINUTE);
    long got[MINUTES_CHECKED] = {0};
    sw_time_t at;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1)
        got[at / (60 * SW_US_PER_S)]++;
    cr_assert_eq(rc, 0);
    for (int i = 0; i < MINUTES_CHECKED; i++)
        cr_assert_eq(got[i], want[i], "minute %d: %ld, want %ld", i, got[i], want[i]);
    cr_assert(sw_trace_progress(t) > 0.0);
    sw_trace_close(t);
}

Test(sim_trace, azure_timestamps_in_order_from_zero)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    sw_trace_t *t = must_open(AZURE, &o);
    cr_assert_eq(sw_trace_format(t), SW_TRACE_TIMESTAMPS);
    sw_time_t at, first = -1, second = -1, prev = 0;
    long n = 0;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1) {
        if (n == 0)
            first = at;
        if (n == 1)
            second = at;
        cr_assert_geq(at, prev);
        prev = at;
        n++;
    }
    cr_assert_eq(rc, 0, "%s", sw_trace_error(t));
    cr_assert_eq(n, 19366);
    cr_assert_eq(first, 0);
    /* 18:15:50.9951690 - 18:15:46.6805900, exactly. */
    cr_assert_eq(second, 4314579);
    /* 19:14:08.4025270 - 18:15:46.6805900 = 58 min 21.721937 s. */
    cr_assert_eq(prev, 3501721937);
    sw_trace_close(t);
}

/* ---- seeds and rate scaling ---- */

static void first_arrivals(const char *path, double scale, uint64_t seed, sw_time_t *out, int n)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, scale, seed);
    sw_trace_t *t = must_open(path, &o);
    for (int i = 0; i < n; i++)
        cr_assert_eq(sw_trace_next(t, &out[i]), 1);
    sw_trace_close(t);
}

Test(sim_trace, same_seed_same_stream_other_seed_differs)
{
    enum { N = 100000 };
    sw_time_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    first_arrivals(DAY0, 1.0, 42, a, N);
    first_arrivals(DAY0, 1.0, 42, b, N);
    first_arrivals(DAY0, 1.0, 43, c, N);
    cr_assert_arr_eq(a, b, N * sizeof *a);
    int same = 0;
    for (int i = 0; i < N; i++)
        same += a[i] == c[i];
    cr_assert_lt(same, N / 100, "%d of %d arrivals equal across seeds", same, N);
    /* Scaled timestamps draw from the seed too. */
    first_arrivals(AZURE, 1.5, 42, a, 1000);
    first_arrivals(AZURE, 1.5, 42, b, 1000);
    first_arrivals(AZURE, 1.5, 43, c, 1000);
    cr_assert_arr_eq(a, b, 1000 * sizeof *a);
    cr_assert_arr_neq(a, c, 1000 * sizeof *a);
    free(a);
    free(b);
    free(c);
}

static uint64_t count_all(const char *path, double scale, uint64_t seed, double start_s,
                          double duration_s)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, scale, seed);
    o.start_s = start_s;
    o.duration_s = duration_s;
    char msg[512];
    uint64_t n;
    int rc = drain(path, &o, msg, sizeof msg, &n);
    cr_assert_eq(rc, 0, "%s", msg);
    return n;
}

Test(sim_trace, rate_scale_two_doubles_counts_exactly, .timeout = 120)
{
    long total;
    free(read_day0(&total));
    cr_assert_eq(count_all(DAY0, 2.0, 5, 0, 0), 2 * (uint64_t)total);
    uint64_t minutes = count_all(MINUTES, 1.0, 5, 0, 3600);
    cr_assert_eq(count_all(MINUTES, 2.0, 9, 0, 3600), 2 * minutes);
}

Test(sim_trace, rate_scale_half_thins_within_five_sigma, .timeout = 120)
{
    long total;
    free(read_day0(&total));
    /* Each second rounds n/2 up with probability 1/2 when n is odd: variance <= 1/4. */
    double got = (double)count_all(DAY0, 0.5, 5, 0, 0);
    cr_assert_lt(fabs(got - total / 2.0), 5 * sqrt(DAY_S * 0.25), "%.0f of %ld", got, total);
    /* Timestamps keep each row with probability 1/2: binomial. */
    got = (double)count_all(AZURE, 0.5, 5, 0, 0);
    cr_assert_lt(fabs(got - 19366 / 2.0), 5 * sqrt(19366 * 0.25), "%.0f", got);
    got = (double)count_all(AZURE, 2.5, 5, 0, 0);
    cr_assert_lt(fabs(got - 19366 * 2.5), 5 * sqrt(19366 * 0.25), "%.0f", got);
}

/* rate_scale 3 on timestamps: the recorded time first, two copies before the next row. */
Test(sim_trace, timestamps_scale_keeps_rows_and_fills_gaps)
{
    sw_trace_opts_t o = opts(SW_TRACE_TIMESTAMPS, 3.0, 8);
    sw_trace_t *t = must_open(FIXTURE("timestamps_small.csv"), &o);
    const sw_time_t rows[] = {0, 376543, 1876543};
    sw_time_t at;
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(sw_trace_next(t, &at), 1);
        cr_assert_eq(at, rows[r], "row %d at %lld", r, (long long)at);
        for (int c = 0; c < 2; c++) {
            cr_assert_eq(sw_trace_next(t, &at), 1);
            cr_assert_geq(at, rows[r]);
            /* The last row spreads its copies over the mean gap. */
            cr_assert_lt(at, r < 2 ? rows[r + 1] : rows[2] + rows[2] / 2);
        }
    }
    cr_assert_eq(sw_trace_next(t, &at), 0);
    sw_trace_close(t);
}

/* ---- windows ---- */

Test(sim_trace, window_selects_the_seconds_inside_it)
{
    long total;
    long *counts = read_day0(&total);
    long want = 0;
    for (int s = 3600; s < 3600 + 90; s++)
        want += counts[s];
    sw_trace_opts_t o = opts(SW_TRACE_COUNTS_PER_SECOND, 1.0, 4);
    o.start_s = 3600;
    o.duration_s = 90;
    sw_trace_t *t = must_open(DAY0, &o);
    sw_time_t at;
    long n = 0;
    while (sw_trace_next(t, &at) == 1) {
        cr_assert_geq(at, 0);
        cr_assert_lt(at, 90 * SW_US_PER_S);
        n++;
    }
    cr_assert_eq(n, want);
    sw_trace_close(t);
    free(counts);
}

/* A window is exactly the full stream's arrivals inside it, shifted, even with a
 * fractional rate scale: each interval and row has its own random stream. */
static void expect_window_is_subset(const char *path, double scale, double start_s, double dur_s)
{
    sw_trace_opts_t full = opts(SW_TRACE_AUTO, scale, 99), win = full;
    win.start_s = start_s;
    win.duration_s = dur_s;
    sw_trace_t *a = must_open(path, &full), *b = must_open(path, &win);
    sw_time_t lo = (sw_time_t)(start_s * 1e6), hi = (sw_time_t)((start_s + dur_s) * 1e6);
    sw_time_t x, y;
    long n = 0;
    while (sw_trace_next(a, &x) == 1 && x < hi) {
        if (x < lo)
            continue;
        cr_assert_eq(sw_trace_next(b, &y), 1, "window ended early after %ld", n);
        cr_assert_eq(y, x - lo, "arrival %ld: %lld vs %lld", n, (long long)y, (long long)(x - lo));
        n++;
    }
    cr_assert_eq(sw_trace_next(b, &y), 0);
    cr_assert_gt(n, 0);
    sw_trace_close(a);
    sw_trace_close(b);
}

Test(sim_trace, window_is_the_full_streams_subset)
{
    expect_window_is_subset(DAY0, 1.5, 1000.25, 30.5);
    expect_window_is_subset(MINUTES, 0.7, 90, 200);
    expect_window_is_subset(AZURE, 2.5, 600.5, 120);
}

/* A window stops reading at its end, so a malformed row after it does not matter. */
Test(sim_trace, window_ends_before_a_bad_row)
{
    char msg[512];
    uint64_t n;
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    o.duration_s = 300; /* minutes 0-4; the bad row is minute 5 */
    cr_assert_eq(drain(FIXTURE("bad_requests.csv"), &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_eq(n, 3 + 4 + 5 + 1 + 2);
    /* Row 2 is at 0.32 s, past the window, so the step back at line 4 is never read. */
    o.duration_s = 0.3;
    cr_assert_eq(drain(FIXTURE("backwards.csv"), &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_eq(n, 1);
}

/* The Azure rows whose time falls in [60 s, 180 s), counted here with sscanf. */
Test(sim_trace, azure_window_counts_the_right_rows)
{
    FILE *f = fopen(AZURE, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    double t0 = -1;
    long want = 0;
    int h, m;
    double s;
    while (fgets(line, sizeof line, f) && sscanf(line, "2023-11-16 %d:%d:%lf", &h, &m, &s) == 3) {
        double sec = h * 3600.0 + m * 60 + s;
        if (t0 < 0)
            t0 = sec;
        want += sec - t0 >= 60 && sec - t0 < 180;
    }
    fclose(f);
    cr_assert_eq(count_all(AZURE, 1.0, 1, 60, 120), (uint64_t)want);
}

/* ---- small inputs and features ---- */

Test(sim_trace, per_second_on_many_lines_with_crlf)
{
    const int counts[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 2);
    sw_trace_t *t = must_open(FIXTURE("seconds_multiline.txt"), &o);
    cr_assert_eq(sw_trace_format(t), SW_TRACE_COUNTS_PER_SECOND);
    int seen[10] = {0};
    sw_time_t at;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1) {
        cr_assert_lt(at, 10 * SW_US_PER_S);
        seen[at / SW_US_PER_S]++;
    }
    cr_assert_eq(rc, 0, "%s", sw_trace_error(t));
    cr_assert_arr_eq(seen, counts, sizeof counts);
    sw_trace_close(t);
}

/* Files bigger than the 1 MiB read buffer: words and lines straddle its refills. */
Test(sim_trace, files_longer_than_the_read_buffer, .timeout = 60)
{
    enum { WORDS = 700000 };
    size_t cap = (size_t)WORDS * 24, len = 0;
    char *text = malloc(cap), path[64], msg[512];
    uint64_t sum = 0, n;
    for (int i = 0; i < WORDS; i++) {
        int c = (int)((long)i * 7919 % 100); /* small counts: a long file, few arrivals to drain */
        sum += (uint64_t)c;
        len += (size_t)snprintf(text + len, cap - len, "%d%s", c, i % 13 ? " " : "\r\n");
    }
    write_tmp(path, sizeof path, text, len);
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    cr_assert_eq(drain(path, &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_eq(n, sum);
    unlink(path);

    len = (size_t)snprintf(text, cap, "\"seconds\",x\r\n");
    for (int i = 0; i < WORDS / 2; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d.%06d,%d\r\n", i / 10, i % 10, i);
    write_tmp(path, sizeof path, text, len);
    sw_trace_t *t = must_open(path, &o);
    sw_time_t at, last = -1;
    for (n = 0; sw_trace_next(t, &at) == 1; n++)
        last = at;
    cr_assert_eq(sw_trace_error(t)[0], '\0', "%s", sw_trace_error(t));
    cr_assert_eq(n, WORDS / 2);
    cr_assert_eq(last, (WORDS / 2 - 1) / 10 * SW_US_PER_S + 9);
    sw_trace_close(t);
    unlink(path);
    free(text);
}

Test(sim_trace, csv_line_longer_than_the_buffer)
{
    size_t len = (size_t)2 << 20;
    char *text = malloc(len + 1), path[64], msg[512], want[600];
    uint64_t n;
    memset(text, 'a', len);
    write_tmp(path, sizeof path, text, len);
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    cr_assert_eq(drain(path, &o, msg, sizeof msg, &n), SW_EPARSE);
    snprintf(want, sizeof want,
             "%s:1: line longer than 1048576 bytes (binary data, or not a CSV trace?)", path);
    cr_assert_str_eq(msg, want);
    unlink(path);
    free(text);
}

/* An interval too big to presum its spacings takes the sequential method: still exact
 * counts, sorted, uniform. */
Test(sim_trace, huge_interval_is_uniform_and_sorted, .timeout = 60)
{
    const char *text = "2 5000000 1\n";
    char path[64];
    write_tmp(path, sizeof path, text, strlen(text));
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 6);
    sw_trace_t *t = must_open(path, &o);
    long deciles[10] = {0}, n = 0;
    sw_time_t at, prev = 0;
    while (sw_trace_next(t, &at) == 1) {
        cr_assert_geq(at, prev);
        prev = at;
        if (at >= SW_US_PER_S && at < 2 * SW_US_PER_S)
            deciles[(at - SW_US_PER_S) / 100000]++;
        n++;
    }
    cr_assert_eq(n, 5000003);
    double sigma = sqrt(5e6 * 0.1 * 0.9);
    for (int d = 0; d < 10; d++)
        cr_assert_lt(fabs(deciles[d] - 5e5), 5 * sigma, "decile %d: %ld", d, deciles[d]);
    sw_trace_close(t);
    unlink(path);
}

Test(sim_trace, per_minute_small_fixture)
{
    char msg[512];
    uint64_t n;
    sw_trace_opts_t o = opts(SW_TRACE_COUNTS_PER_MINUTE, 1.0, 2);
    cr_assert_eq(drain(FIXTURE("minute_small.csv"), &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_eq(n, 9);
}

/* Quoted header and fields, CRLF, a 'T' separator, nine fractional digits (rounded to
 * the microsecond), a trailing Z, and a time column that is not the first. */
Test(sim_trace, timestamps_quoted_fields_and_fractions)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    sw_trace_t *t = must_open(FIXTURE("timestamps_small.csv"), &o);
    cr_assert_eq(sw_trace_format(t), SW_TRACE_TIMESTAMPS);
    sw_time_t at;
    cr_assert_eq(sw_trace_next(t, &at), 1);
    cr_assert_eq(at, 0);
    cr_assert_eq(sw_trace_next(t, &at), 1);
    cr_assert_eq(at, 500000 - 123457);
    cr_assert_eq(sw_trace_next(t, &at), 1);
    cr_assert_eq(at, 2000000 - 123457);
    cr_assert_eq(sw_trace_next(t, &at), 0);
    sw_trace_close(t);
}

/* The arrival of the second row of a two-row timestamps trace, from `first` to `second`. */
static sw_time_t second_row_at(const char *first, const char *second)
{
    char text[200], path[64];
    snprintf(text, sizeof text, "when,x\n%s,1\n%s,2\n", first, second);
    write_tmp(path, sizeof path, text, strlen(text));
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    sw_trace_t *t = must_open(path, &o);
    sw_time_t at;
    cr_assert_eq(sw_trace_next(t, &at), 1);
    cr_assert_eq(at, 0);
    cr_assert_eq(sw_trace_next(t, &at), 1);
    sw_trace_close(t);
    unlink(path);
    return at;
}

/* Leap years by the Gregorian rule (2000 and 2024 are, 1900 and 2100 are not), across
 * year ends, with T or a space and a fraction. A trace spans at most 400 days, so each
 * pair is within that. */
Test(sim_trace, dates_convert_across_years_and_leap_days)
{
    const sw_time_t day = 86400 * SW_US_PER_S;
    cr_assert_eq(second_row_at("1999-12-31 00:00:00", "2000-03-01T00:00:00"), 61 * day);
    cr_assert_eq(second_row_at("1900-02-28 00:00:00", "1900-03-01 00:00:00"), 1 * day);
    cr_assert_eq(second_row_at("2100-02-28 00:00:00", "2100-03-01 00:00:00"), 1 * day);
    cr_assert_eq(second_row_at("2023-12-31 00:00:00", "2024-02-29 12:00:00.000001"),
                 60 * day + day / 2 + 1);
    cr_assert_eq(second_row_at("1969-12-31 23:59:59", "1970-01-01 00:00:00.5"),
                 SW_US_PER_S + SW_US_PER_S / 2);
}

Test(sim_trace, numeric_seconds_and_named_column)
{
    const char *text = "\xef\xbb\xbfid,t\n1,12.5\n2,12.5\n3,13.25\n4,1.4e1\n";
    char path[64];
    write_tmp(path, sizeof path, text, strlen(text));
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    o.timestamp_column = "t";
    sw_trace_t *t = must_open(path, &o);
    const sw_time_t want[] = {0, 0, 750000, 1500000};
    sw_time_t at;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(sw_trace_next(t, &at), 1);
        cr_assert_eq(at, want[i]);
    }
    cr_assert_eq(sw_trace_next(t, &at), 0);
    sw_trace_close(t);
    unlink(path);
}

/* Without a TIMESTAMP column and no name given, the first column holds the time. */
Test(sim_trace, default_column_falls_back_to_the_first)
{
    const char *text = "time,x\n5,1\n7,2\n";
    char path[64], msg[512];
    uint64_t n;
    write_tmp(path, sizeof path, text, strlen(text));
    sw_trace_opts_t o = opts(SW_TRACE_TIMESTAMPS, 1.0, 1);
    cr_assert_eq(drain(path, &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_eq(n, 2);
    unlink(path);
}

Test(sim_trace, progress_grows_to_one)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    sw_trace_t *t = must_open(AZURE, &o);
    double prev = sw_trace_progress(t);
    cr_assert(prev >= 0.0 && prev <= 1.0);
    sw_time_t at;
    while (sw_trace_next(t, &at) == 1) {
        double p = sw_trace_progress(t);
        cr_assert_geq(p, prev);
        prev = p;
    }
    cr_assert_float_eq(sw_trace_progress(t), 1.0, 1e-12);
    sw_trace_close(t);
}

/* ---- malformed inputs: exact messages ---- */

Test(sim_trace, missing_file_is_enoent)
{
    char msg[512];
    uint64_t n;
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    cr_assert_eq(drain("/nonexistent/trace.csv", &o, msg, sizeof msg, &n), -ENOENT);
    cr_assert_str_eq(msg, "/nonexistent/trace.csv: No such file or directory");
}

Test(sim_trace, requests_not_an_integer)
{
    expect_fixture_error(FIXTURE("bad_requests.csv"), SW_TRACE_AUTO,
                         ":7: requests: \"12x\" is not a non-negative integer");
    expect_fixture_error(FIXTURE("bad_minute_index.csv"), SW_TRACE_AUTO,
                         ":7: minute_index: \"12x\" is not a non-negative integer");
}

Test(sim_trace, per_second_negative_count_names_its_position)
{
    expect_fixture_error(FIXTURE("bad_negative.txt"), SW_TRACE_AUTO,
                         ":2: count 5 (word 3): \"-4\" is not a non-negative integer");
    expect_error("1 2 3 4.5 6", SW_TRACE_COUNTS_PER_SECOND, SW_EPARSE,
                 ":1: count 4 (word 4): \"4.5\" is not a non-negative integer");
    expect_error("1 2 99999999999999999", SW_TRACE_AUTO, SW_EPARSE,
                 ":1: count 3 (word 3): \"99999999999999999\" is too large (more than 15 "
                 "digits)");
}

Test(sim_trace, per_minute_negative_empty_and_missing)
{
    expect_error("minute_index,requests\n0,5\n1,-3\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":3: requests: \"-3\" is not a non-negative integer");
    expect_error("minute_index,requests\n0,5\n1,\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":3: requests: empty field");
    expect_error("minute_index,requests\n0,5\n1\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":3: requests: missing column (the row has 1 field)");
}

Test(sim_trace, per_minute_gaps_repeats_and_reordering)
{
    expect_fixture_error(FIXTURE("bad_minute_gap.csv"), SW_TRACE_AUTO,
                         ":4: minute_index: expected 2, got 3 (minutes must be consecutive: no "
                         "gaps, repeats or reordering)");
    expect_error("minute_index,requests\n0,5\n1,6\n1,7\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":4: minute_index: expected 2, got 1 (minutes must be consecutive: no gaps, "
                 "repeats or reordering)");
}

Test(sim_trace, timestamp_going_backwards)
{
    expect_fixture_error(FIXTURE("backwards.csv"), SW_TRACE_AUTO,
                         ":4: TIMESTAMP: \"2023-11-16 18:15:46.75\" is 0.250000 s before the "
                         "previous row (line 3); rows must be in time order");
}

Test(sim_trace, bad_dates)
{
    expect_fixture_error(FIXTURE("bad_month.csv"), SW_TRACE_AUTO,
                         ":4: TIMESTAMP: \"2023-13-16 18:15:48.00\": month 13 is out of range");
    expect_error("TIMESTAMP\n2023-02-29 00:00:00\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":2: TIMESTAMP: \"2023-02-29 00:00:00\": day 29 is out of range for 2023-02");
    expect_error("TIMESTAMP\n2023-02-01 24:00:00\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":2: TIMESTAMP: \"2023-02-01 24:00:00\": time of day 24:00:00 is out of range");
    expect_error("TIMESTAMP\n2023-02-01 10:00\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":2: TIMESTAMP: \"2023-02-01 10:00\" is not a timestamp (expected YYYY-MM-DD "
                 "HH:MM:SS[.fraction] or seconds)");
    expect_error("TIMESTAMP\n2023-02-01 10:00:00.1234567890\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":2: TIMESTAMP: \"2023-02-01 10:00:00.1234567890\" is not a timestamp (expected "
                 "YYYY-MM-DD HH:MM:SS[.fraction] or seconds)");
}

Test(sim_trace, nan_inf_and_empty_times)
{
    expect_error("t\n1\nnan\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":3: t: \"nan\" is not a finite number of seconds");
    expect_error("t\n-inf\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":2: t: \"-inf\" is not a finite number of seconds");
    expect_error("t,x\n1,2\n,3\n", SW_TRACE_AUTO, SW_EPARSE, ":3: t: empty field");
    expect_error("t\n1.5\n2023-01-01 00:00:00\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":3: t: \"2023-01-01 00:00:00\" is a date, but the first row held seconds");
    expect_error("t,x\n\"1.5,2\n", SW_TRACE_AUTO, SW_EPARSE, ":2: malformed quoted field");
}

Test(sim_trace, empty_blank_header_only_and_binary_files)
{
    expect_fixture_error(FIXTURE("empty.txt"), SW_TRACE_AUTO, ": no data");
    expect_error(" \r\n\n\t\n", SW_TRACE_COUNTS_PER_SECOND, SW_EPARSE, ": no data");
    expect_fixture_error(FIXTURE("header_only.csv"), SW_TRACE_AUTO, ": no data after the header");
    expect_fixture_error(FIXTURE("binary.png"), SW_TRACE_AUTO,
                         ": binary data (a NUL byte at offset 8): not a text trace");
    expect_error("1 2 3\n4\x01 5\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":2: count 4 (word 1): \"4\\x01\" is not a non-negative integer");
}

Test(sim_trace, named_column_absent_lists_the_columns)
{
    char msg[512], want[600];
    uint64_t n;
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    o.timestamp_column = "time";
    cr_assert_eq(drain(AZURE, &o, msg, sizeof msg, &n), SW_EPARSE);
    snprintf(want, sizeof want,
             "%s:1: no column \"time\" in the header (columns: TIMESTAMP, ContextTokens, "
             "GeneratedTokens)",
             AZURE);
    cr_assert_str_eq(msg, want);
}

Test(sim_trace, explicit_format_rejects_other_files)
{
    expect_fixture_error(AZURE, SW_TRACE_COUNTS_PER_SECOND,
                         ":1: not a counts-per-second trace: expected whitespace-separated "
                         "non-negative integers, got \"TIMESTAMP,ContextTokens,GeneratedTokens\"");
    expect_fixture_error(AZURE, SW_TRACE_COUNTS_PER_MINUTE,
                         ":1: not a counts-per-minute trace: the header needs columns "
                         "minute_index and requests (columns: TIMESTAMP, ContextTokens, "
                         "GeneratedTokens)");
    expect_fixture_error(DAY0, SW_TRACE_TIMESTAMPS,
                         ":1: not a timestamps trace: expected a CSV header naming the time "
                         "column, got \"52 55 48 55 57 56 40 52 34 46 45 42 47 3...\"");
    expect_fixture_error(MINUTES, SW_TRACE_TIMESTAMPS,
                         ":1: not a timestamps trace: no TIMESTAMP column, and minute_index says "
                         "counts-per-minute (columns: minute_index, requests)");
}

Test(sim_trace, undetectable_format)
{
    expect_error("1.5,3\n2.5,4\n", SW_TRACE_AUTO, SW_EPARSE,
                 ":1: cannot detect the trace format from \"1.5,3\": expected a CSV header "
                 "(TIMESTAMP,... or minute_index,requests) or whitespace-separated counts per "
                 "second");
}

Test(sim_trace, errors_are_sticky)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    sw_trace_t *t = must_open(FIXTURE("bad_requests.csv"), &o);
    sw_time_t at;
    int rc;
    while ((rc = sw_trace_next(t, &at)) == 1)
        ;
    cr_assert_eq(rc, SW_EPARSE);
    cr_assert_eq(sw_trace_next(t, &at), SW_EPARSE);
    cr_assert(strstr(sw_trace_error(t), ":7: requests:"));
    sw_trace_close(t);
}

Test(sim_trace, invalid_options)
{
    char msg[512];
    uint64_t n;
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 0.0, 1);
    cr_assert_eq(drain(AZURE, &o, msg, sizeof msg, &n), -EINVAL);
    cr_assert(strstr(msg, "rate_scale must be > 0"), "%s", msg);
    o = opts(SW_TRACE_AUTO, 1.0, 1);
    o.start_s = NAN;
    cr_assert_eq(drain(AZURE, &o, msg, sizeof msg, &n), -EINVAL);
    o = opts((sw_trace_format_t)17, 1.0, 1);
    cr_assert_eq(drain(AZURE, &o, msg, sizeof msg, &n), -EINVAL);
    cr_assert(strstr(msg, "unknown trace format 17"), "%s", msg);
}

/* ---- limits: rate, span, columns, window (issue 10) ---- */

/* Drains `text` as a trace with these options; the code, the message in msg. */
static int drain_text(const char *text, size_t n, const sw_trace_opts_t *o, char *msg, size_t len)
{
    char path[64];
    uint64_t count;
    write_tmp(path, sizeof path, text, n);
    int rc = drain(path, o, msg, len, &count);
    unlink(path);
    return rc;
}

static void expect_text_error(const char *text, const sw_trace_opts_t *o, int code,
                              const char *part)
{
    char msg[600];
    int rc = drain_text(text, strlen(text), o, msg, sizeof msg);
    cr_assert_eq(rc, code, "rc %d: %s", rc, msg);
    cr_assert(strstr(msg, part), "message \"%s\" lacks \"%s\"", msg, part);
}

/* A count of 10^12 in one second was a run of days spent on one line. */
Test(sim_trace, counts_above_the_rate_limit_are_refused_at_their_line)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    expect_text_error("1 2\n3 1000000000000 5\n", &o, SW_EPARSE,
                      ":2: count 1000000000000 (word 2) is more than the 10000000 requests a "
                      "second a trace may hold (1e+07 a second)");
    expect_text_error("1 10000001\n", &o, SW_EPARSE, ":1: count 10000001 (word 2) is more");
    expect_text_error("minute_index,requests\n0,5\n1,600000001\n", &o, SW_EPARSE,
                      ":3: count 600000001 is more than the 600000000 requests a minute");
    /* At the limit is fine, as is any count under it scaled within it. */
    char msg[600];
    o.duration_s = 1e-6; /* one arrival read, not ten million */
    cr_assert_eq(drain_text("10000000\n", 9, &o, msg, sizeof msg), 0, "%s", msg);
    o = opts(SW_TRACE_AUTO, 3.0, 1);
    expect_text_error("1 4000000\n", &o, SW_EPARSE,
                      ":1: count 4000000 (word 2) x rate_scale 3 is 1.2e+07 requests in one "
                      "second, more than the 10000000 allowed (1e+07 a second): use a smaller "
                      "rate_scale");
    /* Timestamps: the copies of the rows of one second, after rate_scale. */
    o = opts(SW_TRACE_AUTO, 600000.0, 1);
    char rows[400] = "t\n";
    for (int i = 0; i < 17; i++)
        strcat(rows, "5.5\n");
    expect_text_error(rows, &o, SW_EPARSE,
                      ":18: t: more than 1e+07 requests in the second starting 0 s into the "
                      "trace (after rate_scale 600000)");
}

/* A trace from year 1900 to 9999 would have been billions of timeline rows. */
Test(sim_trace, spans_past_400_days_are_refused_at_their_line)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    expect_text_error("TIMESTAMP,x\n1900-01-01 00:00:00,1\n1900-01-02 00:00:00,1\n"
                      "9999-12-31 23:59:59,1\n",
                      &o, SW_EPARSE,
                      ":4: TIMESTAMP: \"9999-12-31 23:59:59\" is 2958464.0 days after the first "
                      "row (line 2): a trace may span at most 400 days");
    expect_text_error("t\n-5\n34559995.000001\n", &o, SW_EPARSE,
                      ":3: t: \"34559995.000001\" is 400.0 days after the first row (line 2)");
    /* 400 days of minutes and one more: the one more is refused. */
    size_t rows = 400 * 1440 + 1, cap = 32 + rows * 12, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "minute_index,requests\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(text + len, cap - len, "%zu,0\n", i);
    char msg[600];
    cr_assert_eq(drain_text(text, len, &o, msg, sizeof msg), SW_EPARSE, "%s", msg);
    cr_assert(strstr(msg, ":576002: interval 576000 starts 400 days after the first: a trace "
                          "may span at most 400 days"),
              "%s", msg);
    free(text);
}

/* An extra column was ignored in silence; one short of the header too. */
Test(sim_trace, rows_must_have_the_header_columns)
{
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    expect_text_error("minute_index,requests\n0,5\n1,6,7\n", &o, SW_EPARSE,
                      ":3: the row has more than 2 fields, but the header has 2 (minute_index, "
                      "requests): every row must have the header's columns");
    expect_text_error("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,374,44\n"
                      "2023-11-16 18:15:47,374\n",
                      &o, SW_EPARSE,
                      ":3: the row has only 2 fields, but the header has 3 (TIMESTAMP, "
                      "ContextTokens, GeneratedTokens)");
    expect_text_error("minute_index,requests,note\n0,5,a\n1,6\n", &o, SW_EPARSE,
                      ":3: the row has only 2 fields, but the header has 3");
    /* A quoted comma is inside its field, not a column. */
    char msg[600];
    const char *ok = "minute_index,requests,note\n0,5,\"a, b\"\n";
    cr_assert_eq(drain_text(ok, strlen(ok), &o, msg, sizeof msg), 0, "%s", msg);
}

/* A window past the end gave "0 requests, SLO 100 % met" and exit 0. Real traces: the
 * Twitter day (86,400 s), its 15 days per minute, the Azure LLM rows. */
Test(sim_trace, window_past_the_end_is_refused_naming_the_span, .timeout = 60)
{
    char msg[600];
    uint64_t n;
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    o.start_s = 86400;
    cr_assert_eq(drain(DAY0, &o, msg, sizeof msg, &n), -EINVAL, "%s", msg);
    cr_assert_str_eq(msg, DAY0 ": the window starts 86400.000 s into the trace (start_s, "
                               "--start), but the trace ends at 86400.000 s: choose a start before "
                               "it");
    /* Inside the trace, a window may hold no arrivals: the day ends in its 29-minute hole
     * of zeros, which is the trace's own record, not a window past its end. */
    o.start_s = 86399;
    cr_assert_eq(drain(DAY0, &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_eq(n, 0);
    o.start_s = 84000;
    cr_assert_eq(drain(DAY0, &o, msg, sizeof msg, &n), 0, "%s", msg);
    cr_assert_gt(n, 0);
    o.start_s = 15 * 86400 + 1;
    cr_assert_eq(drain(MINUTES, &o, msg, sizeof msg, &n), -EINVAL, "%s", msg);
    cr_assert(strstr(msg, "but the trace ends at 1296000.000 s"), "%s", msg);
    o.start_s = 1e9;
    cr_assert_eq(drain(AZURE, &o, msg, sizeof msg, &n), -EINVAL, "%s", msg);
    cr_assert(strstr(msg, "but the trace has its last row at "), "%s", msg);
    /* A window that starts exactly at the last row holds it. */
    o.start_s = 1.5;
    const char *two = "t\n0\n1.5\n";
    cr_assert_eq(drain_text(two, strlen(two), &o, msg, sizeof msg), 0, "%s", msg);
    o.start_s = 1.6;
    cr_assert_eq(drain_text(two, strlen(two), &o, msg, sizeof msg), -EINVAL, "%s", msg);
}

/* A folder, a device or a FIFO is refused by name when opened, never read or waited on. */
Test(sim_trace, paths_that_are_not_regular_files, .timeout = 10)
{
    char msg[600], fifo[64];
    uint64_t n;
    snprintf(fifo, sizeof fifo, "/tmp/sw_test_trace_fifo_%d", (int)getpid());
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    cr_assert_eq(drain("/tmp", &o, msg, sizeof msg, &n), -EISDIR, "%s", msg);
    cr_assert_str_eq(msg, "/tmp: is a directory, not a trace");
    cr_assert_eq(drain("/dev/zero", &o, msg, sizeof msg, &n), -EINVAL, "%s", msg);
    cr_assert_str_eq(msg, "/dev/zero: is not a regular file (a device, FIFO or socket), so it "
                          "cannot be a trace");
    cr_assert_eq(drain(fifo, &o, msg, sizeof msg, &n), -EINVAL, "%s", msg);
    unlink(fifo);
}

/* A series of 1 ms intervals over 40,000 s would be 40 million doubles; it is refused
 * before the array grows past SW_TRACE_MAX_SERIES. */
Test(sim_trace, series_longer_than_its_limit_is_refused)
{
    size_t words = 40000, len = 0;
    char *text = malloc(2 * words + 2);
    for (size_t i = 0; i + 1 < words; i++) {
        text[len++] = '0';
        text[len++] = ' ';
    }
    text[len++] = '1';
    text[len++] = '\n';
    char path[64], err[512];
    write_tmp(path, sizeof path, text, len);
    free(text);
    sw_trace_opts_t o = opts(SW_TRACE_AUTO, 1.0, 1);
    double *y = NULL;
    size_t n = 0;
    cr_assert_eq(sw_trace_read_series(path, &o, 1e-3, &y, &n, err, sizeof err), -EINVAL);
    cr_assert_null(y);
    cr_assert(strstr(err, "the trace spans more than 33554432 intervals of 0.001 s, the most a "
                          "series may hold: use a longer interval"),
              "%s", err);
    cr_assert_eq(sw_trace_read_series(path, &o, 1.0, &y, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, words);
    free(y);
    unlink(path);
}
