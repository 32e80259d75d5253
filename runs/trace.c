/* Trace readers: open a trace file, work out its format, and stream request arrivals from
 * it in O(1) memory (one fixed read buffer). Parsing lives in trace_parse.c; this file
 * holds format detection, headers, the window, rate scaling and arrival generation.
 *
 * Counts become `m` arrivals spread uniformly inside their interval, drawn already sorted
 * by exponential spacings: with S_i the partial sums of m + 1 standard exponentials,
 * S_1 / S_(m+1) < ... < S_m / S_(m+1) are distributed as m sorted uniforms on [0, 1). The
 * total S_(m+1) is needed first, so the interval's exponentials are drawn twice from the
 * same stream state: once to sum them, once to emit. That costs two ziggurat draws per
 * arrival and no memory, and is over twice as fast as the sequential order statistics
 * x += (1 - x)(1 - U^(1/m)), whose log and exp dominate. Each interval (and each
 * timestamps row, when scaling needs randomness) draws from its own stream, forked from
 * the seed by its index, so a windowed run yields exactly the arrivals the full run has
 * inside that window. */
#include "runs/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "runs/trace_internal.h"

/* ---- arrival generation (the hot path) ---- */

void sw__zig_init(sw__zig_t *z)
{
    /* Marsaglia and Tsang's construction, with 2^53 in place of 2^32: r is where the
     * tail starts and v the area of every layer. */
    const double m = 0x1p53, v = 3.949659822581572e-3;
    double x = 7.697117470131487, prev = x;
    double q = v / exp(-x);
    z->k[0] = (uint64_t)((x / q) * m);
    z->k[1] = 0;
    z->w[0] = q / m;
    z->w[255] = x / m;
    z->f[0] = 1.0;
    z->f[255] = exp(-x);
    for (int i = 254; i >= 1; i--) {
        x = -log(v / x + exp(-x));
        z->k[i + 1] = (uint64_t)((x / prev) * m);
        prev = x;
        z->f[i] = exp(-x);
        z->w[i] = x / m;
    }
}

double sw__zig_exp_slow(const sw__zig_t *z, sw_rng_t *r, uint64_t u)
{
    for (;;) {
        unsigned i = (unsigned)(u & 255);
        uint64_t ri = u >> 11;
        if (ri < z->k[i])
            return (double)ri * z->w[i];
        if (i == 0) /* the tail beyond r is r plus an exponential */
            return 7.697117470131487 - log(sw_rng_uniform_pos(r));
        double x = (double)ri * z->w[i];
        if (z->f[i] + sw_rng_uniform(r) * (z->f[i - 1] - z->f[i]) < exp(-x))
            return x;
        u = sw_rng_u64(r);
    }
}

/* Sets up `m` sorted uniform arrivals on [start, start + len). Summing the exponentials
 * first costs O(m) before the first arrival, so a huge interval (more arrivals than any
 * run can use) takes the sequential order statistics instead (seq_left): slower per
 * arrival, but nothing up front. */
static void start_segment(sw_trace_t *t, sw_time_t start, sw_time_t len, uint64_t m)
{
    t->seg_start = start;
    t->seg_len = len;
    t->acc = 0.0;
    t->left = 0;
    t->seq_left = 0;
    if (m > SW__TRACE_PRESUM_MAX) {
        t->seq_left = m;
        return;
    }
    if (m == 0)
        return;
    sw_rng_t ahead = t->rng;
    double total = 0.0;
    for (uint64_t i = 0; i <= m; i++)
        total += sw__zig_exp(&t->zig, &ahead);
    t->left = m;
    t->step = (double)len / total;
}

/* The position is below the segment's end, but the product may round up to it. */
static inline sw_time_t in_segment(const sw_trace_t *t, double x)
{
    sw_time_t off = (sw_time_t)x;
    if (SW_UNLIKELY(off >= t->seg_len))
        off = t->seg_len > 0 ? t->seg_len - 1 : 0;
    return t->seg_start + off;
}

/* The next of the segment's sorted uniforms. */
static inline sw_time_t draw_uniform(sw_trace_t *t)
{
    t->acc += sw__zig_exp(&t->zig, &t->rng);
    t->left--;
    return in_segment(t, t->acc * t->step);
}

/* The same for a huge segment: acc holds log(1 - u) of the last uniform u, and the next
 * is the minimum of the seq_left uniforms remaining on [u, 1). A separate counter keeps
 * this branch off the common path. */
static sw_time_t draw_sequential(sw_trace_t *t)
{
    t->acc -= sw__zig_exp(&t->zig, &t->rng) / (double)t->seq_left;
    t->seq_left--;
    return in_segment(t, -expm1(t->acc) * (double)t->seg_len);
}

/* n scaled by rate_scale, with the fractional part realised as a Bernoulli draw so the
 * expected count is exactly n * rate_scale. */
static int scale_count(sw_trace_t *t, uint64_t n, uint64_t line, uint64_t *m)
{
    if (t->scale_is_one) {
        *m = n;
        return 0;
    }
    double v = (double)n * ((double)t->scale_int + t->scale_frac);
    if (v >= 0x1p62)
        return sw__trace_fail(t, SW_EPARSE, line, "count %" PRIu64 " x rate_scale is too large", n);
    *m = (uint64_t)v;
    double frac = v - (double)*m;
    if (frac > 0 && sw_rng_uniform(&t->rng) < frac)
        (*m)++;
    return 0;
}

/* ---- limits (trace.h) ---- */

static double rate_scale(const sw_trace_t *t)
{
    return (double)t->scale_int + t->scale_frac;
}

/* One interval's count against the rate limit, as recorded and after rate_scale: a count
 * of 10^12 would otherwise be a run of days spent on one line. */
static int check_count(sw_trace_t *t, uint64_t n, uint64_t line)
{
    double max = SW_TRACE_MAX_RPS * sw_time_to_s(t->interval_us);
    const char *per = t->format == SW_TRACE_COUNTS_PER_SECOND ? "second" : "minute";
    char where[64] = "";
    if (t->format == SW_TRACE_COUNTS_PER_SECOND)
        snprintf(where, sizeof where, " (word %" PRIu64 ")", t->word_in_line);
    if ((double)n > max)
        return sw__trace_fail(t, SW_EPARSE, line,
                              "count %" PRIu64 "%s is more than the %.0f requests a %s a trace "
                              "may hold (%g a second)",
                              n, where, max, per, SW_TRACE_MAX_RPS);
    if ((double)n * rate_scale(t) > max)
        return sw__trace_fail(t, SW_EPARSE, line,
                              "count %" PRIu64 "%s x rate_scale %g is %.4g requests in one %s, "
                              "more than the %.0f allowed (%g a second): use a smaller "
                              "rate_scale",
                              n, where, rate_scale(t), (double)n * rate_scale(t), per, max,
                              SW_TRACE_MAX_RPS);
    return 0;
}

/* The interval starting at `start` against the span limit. */
static int check_span(sw_trace_t *t, sw_time_t start, uint64_t line)
{
    if (sw_time_to_s(start) < SW_TRACE_MAX_SPAN_S)
        return 0;
    return sw__trace_fail(t, SW_EPARSE, line,
                          "interval %" PRIu64 " starts %.0f days after the first: a trace may "
                          "span at most %.0f days (split it, or cut it to the days to replay)",
                          t->interval_idx, sw_time_to_s(start) / 86400,
                          SW_TRACE_MAX_SPAN_S / 86400);
}

/* Timestamps: the copies of a row against the rate limit of its second. */
static int check_second(sw_trace_t *t, sw_time_t at, uint64_t copies, uint64_t line)
{
    int64_t sec = at / SW_US_PER_S;
    if (sec != t->rate_sec) {
        t->rate_sec = sec;
        t->rate_n = 0;
    }
    t->rate_n += copies;
    if ((double)t->rate_n <= SW_TRACE_MAX_RPS)
        return 0;
    return sw__trace_fail(t, SW_EPARSE, line,
                          "%s: more than %g requests in the second starting %" PRId64
                          " s into the trace (after rate_scale %g), more than a trace may hold",
                          t->name_a, SW_TRACE_MAX_RPS, sec, rate_scale(t));
}

/* Whether the window opens at or after the end of a trace read to its end: nothing of the
 * trace lies inside it, and an empty run would report "0 requests, SLO met". */
static int check_window(sw_trace_t *t)
{
    bool ts = t->format == SW_TRACE_TIMESTAMPS;
    sw_time_t end = ts ? t->prev_abs - t->ts_epoch : (sw_time_t)t->interval_idx * t->interval_us;
    if (!t->at_eof || t->win_start == 0 || (ts ? t->win_start <= end : t->win_start < end))
        return 0;
    return sw__trace_fail(t, -EINVAL, 0,
                          "the window starts %.3f s into the trace (start_s, --start), but the "
                          "trace %s at %.3f s: choose a start before it",
                          sw_time_to_s(t->win_start), ts ? "has its last row" : "ends",
                          sw_time_to_s(end));
}

sw_time_t sw_trace_covered(const sw_trace_t *t)
{
    bool ts = t->format == SW_TRACE_TIMESTAMPS;
    sw_time_t end = ts ? t->prev_abs - t->ts_epoch : (sw_time_t)t->interval_idx * t->interval_us;
    end = SW_MIN(end, t->win_end);
    return SW_MAX(0, end - t->win_start);
}

/* ---- counts formats ---- */

static int missing_field(sw_trace_t *t, uint64_t line, const char *col, int n)
{
    if (n < 0)
        return sw__trace_fail(t, SW_EPARSE, line, "malformed quoted field");
    return sw__trace_fail(t, SW_EPARSE, line, "%s: missing column (the row has %d field%s)", col, n,
                          n == 1 ? "" : "s");
}

/* Splits a data row, which must have the header's fields: a column beyond them (a third
 * in a counts-per-minute file) or one short of them would otherwise pass in silence.
 * Returns the count, or an error naming the line and the header's columns. */
static int row_fields(sw_trace_t *t, const char *s, const char *e, uint64_t line, sw__field_t *f)
{
    int nf = sw__csv_split(s, e, f, SW_MIN(t->ncols_header + 1, SW__TRACE_MAX_COLS));
    if (nf < t->ncols_needed)
        return missing_field(t, line, nf <= t->col_a ? t->name_a : t->name_b, nf);
    if (nf == t->ncols_header)
        return nf;
    return sw__trace_fail(
        t, SW_EPARSE, line,
        "the row has %s %d field%s, but the header has %d (%s): every row "
        "must have the header's columns",
        nf > t->ncols_header ? "more than" : "only", nf > t->ncols_header ? t->ncols_header : nf,
        nf == 1 && nf < t->ncols_header ? "" : "s", t->ncols_header, t->header_cols);
}

static int minute_field(sw_trace_t *t, const sw__field_t *f, uint64_t line, const char *col,
                        uint64_t *v)
{
    char quoted[200];
    if (f->s == f->e)
        return sw__trace_fail(t, SW_EPARSE, line, "%s: empty field", col);
    if (!sw__parse_count(f->s, f->e, v))
        return sw__trace_fail(t, SW_EPARSE, line, "%s: %s is not a non-negative integer", col,
                              sw__trace_quote(quoted, sizeof quoted, f->s, f->e));
    return 0;
}

/* One counts-per-minute row. minute_index must be the previous one plus one: a gap, a
 * repeat or a step back would silently shift every later minute. */
static int read_minute(sw_trace_t *t, uint64_t *n, uint64_t *line)
{
    const char *s, *e;
    int rc = sw__trace_line(t, &s, &e, line);
    if (rc <= 0)
        return rc;
    sw__field_t f[SW__TRACE_MAX_COLS];
    if ((rc = row_fields(t, s, e, *line, f)) < 0)
        return rc;
    uint64_t minute;
    if ((rc = minute_field(t, &f[t->col_a], *line, t->name_a, &minute)) < 0 ||
        (rc = minute_field(t, &f[t->col_b], *line, t->name_b, n)) < 0)
        return rc;
    if (t->interval_idx == 0)
        t->first_minute = minute;
    else if (minute != t->first_minute + t->interval_idx)
        return sw__trace_fail(t, SW_EPARSE, *line,
                              "%s: expected %" PRIu64 ", got %" PRIu64
                              " (minutes must be consecutive: no gaps, repeats or reordering)",
                              t->name_a, t->first_minute + t->interval_idx, minute);
    return 1;
}

/* Moves to the next interval holding arrivals inside the window. 1, 0 at the end, or an
 * error. Intervals wholly before the window are parsed but draw no random numbers. */
static int next_interval(sw_trace_t *t)
{
    for (;;) {
        uint64_t idx = t->interval_idx, n = 0, line = 0, m = 0;
        sw_time_t start = (sw_time_t)idx * t->interval_us;
        /* Checked before reading, so rows past the window are never read, even bad ones. */
        if (t->done || start >= t->win_end) {
            t->done = true;
            return 0;
        }
        int rc = t->format == SW_TRACE_COUNTS_PER_SECOND ? sw__trace_next_word(t, &n)
                                                         : read_minute(t, &n, &line);
        if (rc <= 0) {
            t->done = rc == 0;
            t->at_eof = rc == 0;
            return rc;
        }
        if (t->format == SW_TRACE_COUNTS_PER_SECOND)
            line = t->line; /* the word just read ends on this line */
        if ((rc = check_span(t, start, line)) < 0 || (rc = check_count(t, n, line)) < 0)
            return rc;
        t->interval_idx++;
        if (start + t->interval_us <= t->win_start || n == 0)
            continue;
        sw_rng_fork(&t->rng, &t->seed_rng, idx);
        if ((rc = scale_count(t, n, line, &m)) < 0)
            return rc;
        if (m == 0)
            continue;
        start_segment(t, start, t->interval_us, m);
        return 1;
    }
}

/* ---- timestamps ---- */

/* Reads one data row's time, relative to the first row. Rows must not go back in time.
 * We report a step back as an error naming both lines instead of tolerating small ones:
 * the Azure LLM trace (19,366 rows) is strictly increasing, so real traces need no
 * tolerance, and tolerating would mean either emitting arrivals out of order or holding
 * a reorder buffer that silently changes the trace. Equal times are fine. */
static int read_ts_row(sw_trace_t *t, sw_time_t *rel)
{
    const char *s, *e;
    uint64_t line;
    int rc = sw__trace_line(t, &s, &e, &line);
    if (rc <= 0)
        return rc;
    sw__field_t f[SW__TRACE_MAX_COLS];
    if ((rc = row_fields(t, s, e, line, f)) < 0)
        return rc;
    sw_time_t abs_us;
    if ((rc = sw__parse_time(t, &f[t->col_a], line, t->name_a, &abs_us, &t->ts_kind)) < 0)
        return rc;
    if (t->row_idx == 0) {
        t->ts_epoch = abs_us;
    } else if (abs_us < t->prev_abs) {
        char quoted[200];
        sw__trace_quote(quoted, sizeof quoted, f[t->col_a].s, f[t->col_a].e);
        return sw__trace_fail(t, SW_EPARSE, line,
                              "%s: %s is %.6f s before the previous row (line %" PRIu64
                              "); rows must be in time order",
                              t->name_a, quoted, sw_time_to_s(t->prev_abs - abs_us), t->prev_line);
    }
    if (t->row_idx > 0 && sw_time_to_s(abs_us - t->ts_epoch) > SW_TRACE_MAX_SPAN_S) {
        char quoted[200];
        sw__trace_quote(quoted, sizeof quoted, f[t->col_a].s, f[t->col_a].e);
        return sw__trace_fail(t, SW_EPARSE, line,
                              "%s: %s is %.1f days after the first row (line %" PRIu64
                              "): a trace may span at most %.0f days (split it, or cut it to "
                              "the days to replay)",
                              t->name_a, quoted, sw_time_to_s(abs_us - t->ts_epoch) / 86400,
                              t->first_line, SW_TRACE_MAX_SPAN_S / 86400);
    }
    if (t->row_idx == 0)
        t->first_line = line;
    t->prev_abs = abs_us;
    t->prev_line = line;
    t->row_idx++;
    *rel = abs_us - t->ts_epoch;
    return 1;
}

/* Expands the current row into its copies: floor(k) plus one with probability frac(k).
 * The first keeps the recorded time; the others are spread uniformly up to the next row
 * (read one row ahead), so the stream stays sorted in O(1) memory. The last row has no
 * next one and spreads its copies over the trace's mean gap between rows. */
static int next_row(sw_trace_t *t)
{
    while (!t->done && t->have_cur) {
        sw_time_t cur = t->cur_t, nxt = 0;
        uint64_t cur_idx = t->row_idx - 1, cur_line = t->prev_line;
        if (cur >= t->win_end)
            break; /* before the lookahead: rows past the window are never read */
        int rc = read_ts_row(t, &nxt);
        if (rc < 0)
            return rc;
        t->at_eof = rc == 0;
        if (rc == 0)
            nxt = cur + (cur_idx > 0 ? cur / (sw_time_t)cur_idx : 0);
        t->have_cur = rc == 1;
        t->cur_t = nxt;
        if (cur < t->win_start && nxt <= t->win_start)
            continue; /* every copy of this row falls before the window */
        uint64_t copies = 1;
        if (!t->scale_is_one) {
            sw_rng_fork(&t->rng, &t->seed_rng, cur_idx);
            copies = t->scale_int + (t->scale_frac > 0 && sw_rng_uniform(&t->rng) < t->scale_frac);
        }
        if (copies == 0)
            continue;
        if ((rc = check_second(t, cur, copies, cur_line)) < 0)
            return rc;
        t->has_fixed = true;
        t->fixed = cur;
        start_segment(t, cur, nxt - cur, copies - 1);
        return 1;
    }
    t->done = true;
    return 0;
}

int sw_trace_next(sw_trace_t *t, sw_time_t *arrival)
{
    if (SW_UNLIKELY(t->err_code))
        return t->err_code;
    for (;;) {
        sw_time_t at;
        if (SW_UNLIKELY(t->has_fixed)) {
            at = t->fixed;
            t->has_fixed = false;
        } else if (SW_LIKELY(t->left > 0)) {
            at = draw_uniform(t);
        } else if (SW_UNLIKELY(t->seq_left > 0)) {
            at = draw_sequential(t);
        } else {
            int rc = t->format == SW_TRACE_TIMESTAMPS ? next_row(t) : next_interval(t);
            if (rc == 0)
                rc = check_window(t);
            if (rc <= 0)
                return rc;
            continue;
        }
        /* The spacings cannot go back, but expm1 in the sequential path is not promised
         * monotonic to the last bit; the contract is. */
        if (SW_UNLIKELY(at < t->last))
            at = t->last;
        t->last = at;
        if (SW_UNLIKELY(at < t->win_start))
            continue;
        if (SW_UNLIKELY(at >= t->win_end)) {
            t->done = true;
            t->left = t->seq_left = 0;
            return 0;
        }
        *arrival = at - t->win_start;
        return 1;
    }
}

/* ---- opening: the file, the format, the header ---- */

/* The trace must be a regular file (a FIFO would block, /dev/zero never end); no size
 * cap, since traces stream in O(1) memory and their work is bounded by the span and rate
 * limits instead. */
static int open_file(sw_trace_t *t)
{
    t->fp = sw_file_open_regular(t->path, 0, "trace", t->err, sizeof t->err);
    if (!t->fp) {
        t->err_code = -errno;
        return t->err_code;
    }
    t->fd = fileno(t->fp);
    struct stat st;
    if (fstat(t->fd, &st) == 0)
        t->size_bytes = (uint64_t)st.st_size;
    t->buf = sw_malloc(SW__TRACE_BUF_BYTES + 1);
    int rc = sw__trace_fill(t);
    if (rc < 0)
        return rc;
    if (t->len >= 3 && memcmp(t->buf, "\xef\xbb\xbf", 3) == 0)
        t->pos = 3; /* a UTF-8 byte order mark, as spreadsheet exports write */
    const char *nul = memchr(t->buf, '\0', SW_MIN(t->len, (size_t)65536));
    if (nul)
        return sw__trace_fail(t, SW_EPARSE, 0,
                              "binary data (a NUL byte at offset %zu): not a text trace",
                              (size_t)(nul - t->buf));
    return 0;
}

/* Skips blank space (counting lines); SW_EPARSE "no data" if nothing else is left. */
static int skip_blank(sw_trace_t *t, const char *what)
{
    for (;;) {
        for (; t->pos < t->len && sw__trace_is_space(t->buf[t->pos]); t->pos++)
            t->line += t->buf[t->pos] == '\n';
        if (t->pos < t->len)
            return 0;
        if (t->eof)
            return sw__trace_fail(t, SW_EPARSE, 0, "%s", what);
        int rc = sw__trace_fill(t);
        if (rc < 0)
            return rc;
    }
}

typedef struct first_line {
    const char *s, *e;
    bool digits_only;      /* digits and blanks: counts per second */
    bool has_minute_index; /* a header naming minute_index */
    bool numeric_first;    /* the first field starts like a number: not a header */
} first_line_t;

static bool field_is(const sw__field_t *f, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(f->e - f->s) == n && strncasecmp(f->s, name, n) == 0;
}

static int find_col(const sw__field_t *f, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (field_is(&f[i], name))
            return i;
    return -1;
}

/* Looks at the first non-blank line without consuming it. */
static int peek_first_line(sw_trace_t *t, first_line_t *fl)
{
    int rc = skip_blank(t, "no data");
    if (rc < 0)
        return rc;
    if (t->len - t->pos < 65536 && !t->eof && (rc = sw__trace_fill(t)) < 0)
        return rc;
    fl->s = t->buf + t->pos;
    const char *nl = memchr(fl->s, '\n', t->len - t->pos);
    fl->e = nl ? nl : t->buf + t->len;
    if (fl->e > fl->s && fl->e[-1] == '\r')
        fl->e--;
    fl->digits_only = true;
    for (const char *p = fl->s; p < fl->e && fl->digits_only; p++)
        fl->digits_only = (*p >= '0' && *p <= '9') || *p == ' ' || *p == '\t' || *p == '\r';
    sw__field_t f[SW__TRACE_MAX_COLS];
    int nf = sw__csv_split(fl->s, fl->e, f, SW__TRACE_MAX_COLS);
    fl->has_minute_index = find_col(f, nf, "minute_index") >= 0;
    char c = *fl->s;
    fl->numeric_first = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    return 0;
}

static int detect_format(sw_trace_t *t, sw_trace_format_t asked, const first_line_t *fl)
{
    char quoted[200];
    sw__trace_quote(quoted, sizeof quoted, fl->s, fl->e);
    switch (asked) {
    case SW_TRACE_AUTO:
        if (fl->has_minute_index)
            return SW_TRACE_COUNTS_PER_MINUTE;
        if (fl->digits_only)
            return SW_TRACE_COUNTS_PER_SECOND;
        if (!fl->numeric_first)
            return SW_TRACE_TIMESTAMPS;
        return sw__trace_fail(t, SW_EPARSE, t->line,
                              "cannot detect the trace format from %s: expected a CSV header "
                              "(TIMESTAMP,... or minute_index,requests) or whitespace-separated "
                              "counts per second",
                              quoted);
    case SW_TRACE_COUNTS_PER_SECOND:
        /* Asked for explicitly, a line that starts with a count is parsed, so a bad word
         * further on gets a message naming its position. */
        if (*fl->s >= '0' && *fl->s <= '9')
            return asked;
        return sw__trace_fail(t, SW_EPARSE, t->line,
                              "not a counts-per-second trace: expected whitespace-separated "
                              "non-negative integers, got %s",
                              quoted);
    case SW_TRACE_TIMESTAMPS:
        if (!fl->numeric_first)
            return asked;
        return sw__trace_fail(t, SW_EPARSE, t->line,
                              "not a timestamps trace: expected a CSV header naming the time "
                              "column, got %s",
                              quoted);
    case SW_TRACE_COUNTS_PER_MINUTE: return asked; /* its header check names the missing columns */
    }
    return sw__trace_fail(t, -EINVAL, 0, "unknown trace format %d", (int)asked);
}

/* "a, b, c", shortened, for messages about missing columns. */
static const char *list_cols(char *out, size_t len, const sw__field_t *f, int n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (o + SW__TRACE_QUOTE_MAX + 8 >= len) {
            snprintf(out + o, len - o, ", ...");
            break;
        }
        int w = (int)SW_MIN((size_t)(f[i].e - f[i].s), (size_t)SW__TRACE_QUOTE_MAX);
        o += (size_t)snprintf(out + o, len - o, "%s%.*s", i ? ", " : "", w, f[i].s);
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return out;
}

static void copy_name(char *dst, size_t len, const sw__field_t *f)
{
    snprintf(dst, len, "%.*s", (int)SW_MIN((size_t)(f->e - f->s), len - 1), f->s);
}

/* The header's column choice: by name, or the first column when the default name is
 * absent. 0 or an error listing the columns. */
static int choose_ts_column(sw_trace_t *t, const sw__field_t *f, int nf, uint64_t line,
                            const char *asked)
{
    char cols[320];
    bool by_default = !asked || !*asked;
    t->col_a = find_col(f, nf, by_default ? "TIMESTAMP" : asked);
    if (t->col_a < 0 && !by_default)
        return sw__trace_fail(t, SW_EPARSE, line, "no column \"%s\" in the header (columns: %s)",
                              asked, list_cols(cols, sizeof cols, f, nf));
    if (t->col_a < 0 && find_col(f, nf, "minute_index") >= 0)
        return sw__trace_fail(t, SW_EPARSE, line,
                              "not a timestamps trace: no TIMESTAMP column, and minute_index "
                              "says counts-per-minute (columns: %s)",
                              list_cols(cols, sizeof cols, f, nf));
    if (t->col_a < 0)
        t->col_a = 0;
    copy_name(t->name_a, sizeof t->name_a, &f[t->col_a]);
    return 0;
}

/* Reads the header line and picks the columns. For timestamps, also reads the first row,
 * whose time is the trace's zero. */
static int setup_csv(sw_trace_t *t, const sw_trace_opts_t *o)
{
    const char *s, *e;
    uint64_t line;
    int rc = sw__trace_line(t, &s, &e, &line);
    if (rc <= 0)
        return rc < 0 ? rc : sw__trace_fail(t, SW_EPARSE, 0, "no data");
    sw__field_t f[SW__TRACE_MAX_COLS];
    int nf = sw__csv_split(s, e, f, SW__TRACE_MAX_COLS);
    if (nf < 0)
        return sw__trace_fail(t, SW_EPARSE, line, "malformed quoted field in the header");
    t->ncols_header = nf;
    list_cols(t->header_cols, sizeof t->header_cols, f, nf);
    if (t->format == SW_TRACE_TIMESTAMPS) {
        if ((rc = choose_ts_column(t, f, nf, line, o->timestamp_column)) < 0)
            return rc;
        t->ncols_needed = t->col_a + 1;
    } else {
        char cols[320];
        t->col_a = find_col(f, nf, "minute_index");
        t->col_b = find_col(f, nf, "requests");
        if (t->col_a < 0 || t->col_b < 0)
            return sw__trace_fail(t, SW_EPARSE, line,
                                  "not a counts-per-minute trace: the header needs columns "
                                  "minute_index and requests (columns: %s)",
                                  list_cols(cols, sizeof cols, f, nf));
        copy_name(t->name_a, sizeof t->name_a, &f[t->col_a]);
        copy_name(t->name_b, sizeof t->name_b, &f[t->col_b]);
        t->ncols_needed = SW_MAX(t->col_a, t->col_b) + 1;
    }
    if ((rc = skip_blank(t, "no data after the header")) < 0)
        return rc;
    if (t->format != SW_TRACE_TIMESTAMPS)
        return 0;
    rc = read_ts_row(t, &t->cur_t);
    t->have_cur = rc == 1;
    return rc < 0 ? rc : 0;
}

static int check_opts(sw_trace_t *t, const sw_trace_opts_t *o)
{
    if (!(o->rate_scale > 0) || !(o->rate_scale <= 1e6))
        return sw__trace_fail(t, -EINVAL, 0, "rate_scale must be > 0 and <= 1e6 (got %g)",
                              o->rate_scale);
    if (!(o->start_s >= 0) || !(o->start_s <= 1e11) || !(o->duration_s >= 0) ||
        !(o->duration_s <= 1e11))
        return sw__trace_fail(t, -EINVAL, 0,
                              "start_s and duration_s must be >= 0 seconds (got %g and %g)",
                              o->start_s, o->duration_s);
    t->scale_is_one = o->rate_scale == 1.0;
    t->scale_int = (uint64_t)floor(o->rate_scale);
    t->scale_frac = o->rate_scale - floor(o->rate_scale);
    t->win_start = sw_s_to_time(o->start_s);
    t->win_end = o->duration_s > 0 ? t->win_start + sw_s_to_time(o->duration_s) : SW_TIME_NEVER;
    sw_rng_init(&t->seed_rng, o->seed);
    return 0;
}

static int setup(sw_trace_t *t, const sw_trace_opts_t *o)
{
    first_line_t fl;
    int rc = check_opts(t, o);
    if (rc < 0 || (rc = open_file(t)) < 0 || (rc = peek_first_line(t, &fl)) < 0)
        return rc;
    if ((rc = detect_format(t, o->format, &fl)) < 0)
        return rc;
    t->format = (sw_trace_format_t)rc;
    t->interval_us = (t->format == SW_TRACE_COUNTS_PER_MINUTE ? 60 : 1) * SW_US_PER_S;
    t->col_b = -1;
    if (t->format == SW_TRACE_COUNTS_PER_SECOND)
        return 0;
    return setup_csv(t, o);
}

int sw_trace_open(sw_trace_t **out, const char *path, const sw_trace_opts_t *opts, char *errbuf,
                  size_t errlen)
{
    static const sw_trace_opts_t defaults = {.format = SW_TRACE_AUTO, .rate_scale = 1.0};
    *out = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    sw_trace_t *t = sw_calloc(1, sizeof *t);
    t->path = sw_strdup(path);
    t->fd = -1;
    t->rate_sec = -1;
    t->line = 1;
    sw__zig_init(&t->zig);
    int rc = setup(t, opts ? opts : &defaults);
    if (rc < 0) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s", t->err);
        sw_trace_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

const char *sw_trace_error(const sw_trace_t *t)
{
    return t->err_code ? t->err : "";
}

sw_trace_format_t sw_trace_format(const sw_trace_t *t)
{
    return t->format;
}

double sw_trace_progress(const sw_trace_t *t)
{
    if (t->done)
        return 1.0;
    if (t->size_bytes == 0)
        return 0.0;
    double p = (double)(t->base_off + t->pos) / (double)t->size_bytes;
    return p > 1.0 ? 1.0 : p;
}

void sw_trace_close(sw_trace_t *t)
{
    if (!t)
        return;
    if (t->fp)
        fclose(t->fp);
    sw_free(t->buf);
    sw_free(t->path);
    sw_free(t);
}
