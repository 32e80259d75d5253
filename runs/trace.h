/* Streaming trace readers: turn a trace file into a non-decreasing stream of request
 * arrival times, in O(1) memory whatever the trace's length.
 *
 * Formats (sw_trace_format_t, names as in --trace-format and the YAML):
 *  - timestamps:        CSV with a header; one row per request; the time column is chosen
 *                       by name and holds `YYYY-MM-DD HH:MM:SS[.fraction]` (UTC) or numeric
 *                       seconds. Rows must be in time order.
 *  - counts-per-second: whitespace-separated non-negative integers, one per second, on one
 *                       or many lines.
 *  - counts-per-minute: CSV `minute_index,requests` with a header.
 *  - auto:              decided from the first bytes of the file.
 * Counts become arrivals spread inside their interval as a seeded Poisson process (given
 * the count, arrival times are independent uniforms, generated already sorted).
 *
 * Times are microseconds from the start of the window (start_s into the trace).
 *
 * Limits (README, Traces). A trace may ask for at most SW_TRACE_MAX_RPS requests in one
 * second of trace time, after rate_scale (for counts per minute, 60 times that a minute),
 * and may span at most SW_TRACE_MAX_SPAN_S from its first interval or row; a line past
 * either is refused with FILE:LINE. Together they bound a run's work and its timeline (a
 * trace from year 1900 to 9999 would otherwise be billions of timeline rows). A window
 * that starts at or after the trace's end is refused (-EINVAL) once the trace is read to
 * its end, naming its span, rather than yielding an empty run. */
#ifndef SW_RUNS_TRACE_H
#define SW_RUNS_TRACE_H

#include "common/common.h"
#include "config/config.h"

#define SW_TRACE_MAX_RPS 1e7
#define SW_TRACE_MAX_SPAN_S (400 * 86400.0)
#define SW_TRACE_MAX_SERIES ((size_t)1 << 25)

typedef struct sw_trace sw_trace_t;

typedef struct sw_trace_opts {
    sw_trace_format_t format;     /* SW_TRACE_AUTO to detect */
    const char *timestamp_column; /* timestamps: column name; NULL = "TIMESTAMP", else the first */
    double rate_scale;            /* > 0; 1 = as recorded */
    double start_s;               /* skip this much of the trace */
    double duration_s;            /* 0 = to the end */
    uint64_t seed;                /* for spreading counts and for fractional rate scales */
} sw_trace_opts_t;

/* Opens `path`. Returns 0 and *out, or a negative error with a message naming the file
 * (and line, for a malformed header) in errbuf. Close with sw_trace_close(). */
int sw_trace_open(sw_trace_t **out, const char *path, const sw_trace_opts_t *opts,
                  char *errbuf, size_t errlen) SW_MUST_USE;

/* The next arrival. Returns 1 and sets *arrival, 0 at the end of the trace (or window),
 * or a negative error (SW_EPARSE for a malformed line or one past the limits, -EINVAL for
 * a window past the trace's end, -errno); then sw_trace_error() says
 * "FILE:LINE: what was wrong". Arrivals never decrease. */
int sw_trace_next(sw_trace_t *t, sw_time_t *arrival) SW_MUST_USE;

/* The message for the last error; "" when none. Borrowed until sw_trace_close(). */
const char *sw_trace_error(const sw_trace_t *t);
/* The format in use (after auto-detection). */
sw_trace_format_t sw_trace_format(const sw_trace_t *t);
/* Once sw_trace_next has returned 0: the length of trace time the run covered, from the
 * window's start to the window's end or the trace's, whichever comes first (a count
 * trace ends with its last interval, a timestamps trace with its last row). A window
 * with no request in it still covers its length, and its VMs are billed for it. */
sw_time_t sw_trace_covered(const sw_trace_t *t);
/* Fraction of the file consumed so far, 0..1, for progress bars. */
double sw_trace_progress(const sw_trace_t *t);
void sw_trace_close(sw_trace_t *t);

/* Reads a whole trace as counts per interval of interval_s seconds (arrivals binned by
 * time; for a counts trace at its own interval these are exactly the recorded counts).
 * *out (free with sw_free) gets *n values. Memory grows with the trace's length, unlike
 * sw_trace_next, up to SW_TRACE_MAX_SERIES intervals (256 MiB): this is for forecaster
 * training and evaluation. Returns 0 or a negative error with the reader's message
 * (-EINVAL for a series that would be longer, or for a trace with no arrivals). */
int sw_trace_read_series(const char *path, const sw_trace_opts_t *opts, double interval_s,
                         double **out, size_t *n, char *errbuf, size_t errlen) SW_MUST_USE;
#endif
