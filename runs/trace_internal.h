/* Shared between runs/trace.c (formats, arrival generation) and runs/trace_parse.c (block
 * reader, CSV splitting, number and date parsing, messages). Not for use outside runs/. */
#ifndef SW_RUNS_TRACE_INTERNAL_H
#define SW_RUNS_TRACE_INTERNAL_H

#include "common/rng.h"
#include "runs/trace.h"

/* One fixed read buffer per trace: memory stays O(1) whatever the trace's length. A CSV
 * line must fit in it; a counts-per-second file may be one line of any length. The fuzz
 * build makes it small (CMakeLists.txt): a refill then falls inside most inputs, so the
 * refill and line-split code is fuzzed, and a mebibyte is not mapped twice per input. */
#ifdef SW_FUZZ_TRACE_BUF_BYTES
#define SW__TRACE_BUF_BYTES ((size_t)SW_FUZZ_TRACE_BUF_BYTES)
#else
#define SW__TRACE_BUF_BYTES ((size_t)1 << 20)
#endif
/* Intervals with more arrivals than this are spread by sequential order statistics
 * rather than by presummed exponential spacings (see start_segment in trace.c). The fuzz
 * build lowers it (CMakeLists.txt): a fuzz input reads only its first few thousand
 * arrivals, so presumming millions per second of trace was most of each execution, and
 * a low bound sends both branches far more inputs. */
#ifdef SW_FUZZ_TRACE_PRESUM_MAX
#define SW__TRACE_PRESUM_MAX ((uint64_t)SW_FUZZ_TRACE_PRESUM_MAX)
#else
#define SW__TRACE_PRESUM_MAX ((uint64_t)1 << 22)
#endif
/* Longest text quoted back in an error message. */
#define SW__TRACE_QUOTE_MAX 40
/* Header columns remembered for "columns: a, b, c" messages and column lookup. */
#define SW__TRACE_MAX_COLS 256

/* Tables of a 256-layer ziggurat for standard exponentials (Marsaglia and Tsang 2000),
 * with 53-bit precision: about three times cheaper than -log(U). */
typedef struct sw__zig {
    uint64_t k[256];
    double w[256];
    double f[256];
} sw__zig_t;

/* The white space that separates the words of a counts-per-second file and ends a line:
 * ASCII only, not isspace(), which follows the locale. Inline: the word reader calls it
 * once per byte. */
static inline bool sw__trace_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void sw__zig_init(sw__zig_t *z);
double sw__zig_exp_slow(const sw__zig_t *z, sw_rng_t *r, uint64_t u);

/* A standard exponential (mean 1). The low 8 bits pick the layer, the top 53 the point,
 * so the two never share bits. */
static inline double sw__zig_exp(const sw__zig_t *z, sw_rng_t *r)
{
    uint64_t u = sw_rng_u64(r);
    uint64_t ri = u >> 11;
    if (SW_LIKELY(ri < z->k[u & 255]))
        return (double)ri * z->w[u & 255];
    return sw__zig_exp_slow(z, r, u);
}

typedef struct sw__field {
    const char *s; /* content, surrounding blanks and quotes removed */
    const char *e;
} sw__field_t;

/* How the time column is written; fixed by the first data row. */
typedef enum { SW__TS_UNKNOWN = 0, SW__TS_DATE, SW__TS_SECONDS } sw__ts_kind_t;

struct sw_trace {
    char *path;
    FILE *fp; /* from sw_file_open_regular; read through fd with read(2), never stdio */
    int fd;
    sw_trace_format_t format;
    int err_code; /* sticky: once set, every sw_trace_next returns it */
    bool done;

    /* Block reader. buf[len] is always '\0', so parsers may look one byte ahead. */
    char *buf;
    size_t pos, len;
    uint64_t base_off;   /* file offset of buf[0] */
    uint64_t size_bytes; /* 0 when unknown (a pipe) */
    bool eof;
    uint64_t line; /* 1-based line number of buf[pos] */

    /* Options, resolved. */
    uint64_t scale_int;  /* floor(rate_scale) */
    double scale_frac;   /* rate_scale - floor(rate_scale) */
    bool scale_is_one;   /* no randomness needed to scale */
    sw_time_t win_start; /* trace time where the window opens */
    sw_time_t win_end;   /* trace time where it closes; SW_TIME_NEVER for none */
    sw_rng_t seed_rng;   /* parent of every per-interval or per-row stream */
    sw_rng_t rng;        /* the current interval's (or row's) stream */

    /* The current segment: an optional fixed arrival, then `left` sorted uniform
     * arrivals in [seg_start, seg_start + seg_len). The i-th is at S_i / S_(m+1) of the
     * segment, S_i being partial sums of standard exponentials: acc is S_i, step is
     * seg_len / S_(m+1). A segment too big to presum counts down seq_left instead. */
    bool has_fixed;
    sw_time_t fixed;
    uint64_t left, seq_left;
    sw_time_t seg_start, seg_len;
    double acc, step;
    sw__zig_t zig;
    sw_time_t last; /* the last arrival returned, in trace time */

    /* Counts formats. */
    sw_time_t interval_us;
    uint64_t interval_idx; /* index of the next interval to read */
    uint64_t word_in_line; /* counts-per-second: words seen on the current line */
    int col_a, col_b;      /* per-minute: minute_index, requests; timestamps: time, -1 */
    int ncols_needed;      /* fields up to the last column used */
    int ncols_header;      /* fields of the header: every row must have as many */
    char header_cols[200]; /* "a, b, c", for messages */
    char name_a[64], name_b[64];
    uint64_t first_minute;

    /* Timestamps: the row being expanded and the one after it (lookahead). */
    sw__ts_kind_t ts_kind;
    sw_time_t ts_epoch; /* absolute time of the first row, µs */
    sw_time_t cur_t;    /* current row, trace time */
    bool have_cur;
    uint64_t row_idx;   /* data rows read so far */
    sw_time_t prev_abs; /* previous row's absolute time */
    uint64_t prev_line, first_line;
    int64_t rate_sec;   /* the second whose arrivals rate_n counts (rate limit) */
    uint64_t rate_n;
    bool at_eof;        /* the last row or interval has been read */

    char err[512];
};

/* Formats "PATH: msg" (line 0) or "PATH:LINE: msg" into t->err, sets the sticky code and
 * returns it. */
int sw__trace_fail(sw_trace_t *t, int code, uint64_t line, const char *fmt, ...) SW_PRINTF(4, 5);
/* Writes [s, e) into out as "text", escaping non-printable bytes and shortening it to
 * SW__TRACE_QUOTE_MAX characters. Returns out. */
const char *sw__trace_quote(char *out, size_t outlen, const char *s, const char *e);

/* Moves the unread bytes to the front of the buffer and reads more. 0 or -errno. */
int sw__trace_fill(sw_trace_t *t);
/* The next non-blank line without its line ending: 1 with [*s, *e) and *line_no, 0 at the
 * end of the file, or a negative error (line longer than the buffer, read error). */
int sw__trace_line(sw_trace_t *t, const char **s, const char **e, uint64_t *line_no);
/* Splits a CSV line into up to `max` fields; returns how many it found (it stops
 * looking after `max`), or -1 when a quoted field is not closed. */
int sw__csv_split(const char *s, const char *e, sw__field_t *f, int max);

/* Parses [s, e) as a non-negative decimal integer of at most 15 digits. */
bool sw__parse_count(const char *s, const char *e, uint64_t *out);
/* Parses a time field: a UTC date-time (µs since the Unix epoch) or seconds (µs). On
 * failure returns SW_EPARSE with "PATH:LINE: column: why" in t->err. */
int sw__parse_time(sw_trace_t *t, const sw__field_t *f, uint64_t line, const char *column,
                   sw_time_t *out_us, sw__ts_kind_t *kind);
/* The next whitespace-separated count of a counts-per-second file: 1 with *n, 0 at the
 * end, or SW_EPARSE / -errno with the message set. */
int sw__trace_next_word(sw_trace_t *t, uint64_t *n);

#endif
