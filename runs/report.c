/* `spillway report`: reads a run directory and writes one self-contained HTML page. Every
 * chart is SVG text printed here, with no scripts or external references, so the page opens
 * from disk and can be mailed as a single file. */
#include "runs/report.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "runs/summary.h"

/* Timeline columns the charts use, found by header name. */
enum {
    COL_TIME,
    COL_END,
    COL_ARRIVALS,
    COL_FORECAST,
    COL_CAPACITY_RPS,
    COL_FAAS,
    COL_COLD,
    COL_THROTTLED,
    COL_P50,
    COL_P99,
    COL_CUM_COST,
    COL_CUM_VM,
    COL_CUM_FAAS,
    N_COLS
};

static const char *const col_name[N_COLS] = {
    [COL_TIME] = "time_s",
    [COL_END] = "end_s",
    [COL_ARRIVALS] = "arrivals",
    [COL_FORECAST] = "forecast",
    [COL_CAPACITY_RPS] = "capacity_rps",
    [COL_FAAS] = "faas_invocations",
    [COL_COLD] = "cold_starts",
    [COL_THROTTLED] = "throttled",
    [COL_P50] = "latency_p50_ms",
    [COL_P99] = "latency_p99_ms",
    [COL_CUM_COST] = "cum_cost_usd",
    [COL_CUM_VM] = "cum_vm_usd",
    [COL_CUM_FAAS] = "cum_faas_usd",
};

/* What each used column may hold: a NaN percentile is an interval with no completion
 * (drawn at 0); anything else must be finite, and counts whole. */
typedef enum { K_TIME, K_COUNT, K_NONNEG, K_LATENCY } col_kind_t;
static const col_kind_t col_kind[N_COLS] = {
    [COL_TIME] = K_TIME,           [COL_END] = K_TIME,
    [COL_ARRIVALS] = K_COUNT,      [COL_FORECAST] = K_NONNEG,
    [COL_CAPACITY_RPS] = K_NONNEG, [COL_FAAS] = K_COUNT,
    [COL_COLD] = K_COUNT,          [COL_THROTTLED] = K_COUNT,
    [COL_P50] = K_LATENCY,         [COL_P99] = K_LATENCY,
    [COL_CUM_COST] = K_NONNEG,     [COL_CUM_VM] = K_NONNEG,
    [COL_CUM_FAAS] = K_NONNEG,
};

/* Columns runs/rundir.c writes that no chart draws: known, so not refused as unknown. */
static const char *const unused_cols[] = {"forecast_upper", "forecast_max", "forecast_max_upper",
                                          "served_vm",      "served_faas",  "rejected",
                                          "slo_misses"};

/* Bounds on what a report reads: a run of 400 days at 60 s intervals is 576,000 rows of
 * a few hundred bytes; the arrays it fills are 8 bytes per column per row. */
#define MAX_ROWS ((size_t)1 << 20)
#define MAX_TIMELINE_BYTES ((size_t)512 << 20)

/* VM gauges, one column per instance type and state: running_<type>, booting_<type>,
 * draining_<type>. Each becomes a band of the stacked VM chart. */
enum { ST_RUNNING, ST_BOOTING, ST_DRAINING, N_STATES };
static const char *const state_prefix[N_STATES] = {"running_", "booting_", "draining_"};
static const char *const state_name[N_STATES] = {"running", "booting", "draining"};

typedef struct vm_band {
    char *column; /* the timeline header, e.g. "booting_c5.large" */
    const char *type; /* inside column, after the state prefix */
    int state;        /* ST_* */
    size_t type_idx;  /* order of the type's first column: its colour */
    double *v;
} vm_band_t;

struct sw_run_report {
    sw_run_summary_t sum;
    char *run_name;
    size_t n, cap;
    double *col[N_COLS];
    vm_band_t *band;
    size_t n_bands;
    double oracle_cost_usd; /* < 0: unknown */
    char *oracle_run;
};

static int fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...) SW_PRINTF(4, 5);
static int fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------- */

typedef struct header_map {
    size_t n_fields;
    size_t col[N_COLS];    /* field index of each used column */
    int *band_of;   /* per field: its index in rep->band, or -1 */
} header_map_t;

/* Splits `line` in place on commas; returns the number of fields stored (up to max), and the
 * total count in *total so a short or long row is caught. */
static size_t split_fields(char *line, char **fields, size_t max, size_t *total)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n < max)
            fields[n] = p;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *total = n;
    return SW_MIN(n, max);
}

static void chomp(char *line)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
}

/* Adds header field i as a VM band if it is one (running_<type>, ...): 1 if it was, 0 if
 * not, -1 if the same column came before. */
static int add_band(sw_run_report_t *rep, header_map_t *h, size_t i, const char *field,
                    size_t *n_types)
{
    for (int st = 0; st < N_STATES; st++) {
        size_t plen = strlen(state_prefix[st]);
        if (strncmp(field, state_prefix[st], plen) != 0 || field[plen] == '\0')
            continue;
        for (size_t k = 0; k < rep->n_bands; k++)
            if (strcmp(rep->band[k].column, field) == 0)
                return -1;
        vm_band_t *b = &rep->band[rep->n_bands];
        b->column = sw_strdup(field);
        b->type = b->column + plen;
        b->state = st;
        b->type_idx = *n_types;
        for (size_t k = 0; k < rep->n_bands; k++) {
            if (strcmp(rep->band[k].type, b->type) == 0) {
                b->type_idx = rep->band[k].type_idx;
                break;
            }
        }
        *n_types += b->type_idx == *n_types;
        h->band_of[i] = (int)rep->n_bands++;
        return 1;
    }
    return 0;
}

/* Finds header field i's column: a chart's, a band, or one the writer has that no chart
 * draws. An unknown or repeated column is an error: a timeline of another layout would
 * otherwise be drawn from the wrong numbers, or in part, without a word. */
static int classify_field(sw_run_report_t *rep, header_map_t *h, size_t i, const char *field,
                          size_t *n_types, const char *path, char *errbuf, size_t errlen)
{
    for (size_t c = 0; c < N_COLS; c++) {
        if (strcmp(field, col_name[c]) != 0)
            continue;
        if (h->col[c] != SIZE_MAX)
            return fail(errbuf, errlen, SW_EPARSE, "%s:1: column '%s' appears twice", path, field);
        h->col[c] = i;
        return 0;
    }
    int band = add_band(rep, h, i, field, n_types);
    if (band < 0)
        return fail(errbuf, errlen, SW_EPARSE, "%s:1: column '%.64s' appears twice", path, field);
    for (size_t k = 0; !band && k < SW_ARRAY_LEN(unused_cols); k++)
        band = strcmp(field, unused_cols[k]) == 0;
    if (band)
        return 0;
    return fail(errbuf, errlen, SW_EPARSE,
                "%s:1: unknown column '%.64s': not a timeline.csv that spillway simulate "
                "writes (time_s, end_s, arrivals, ..., running_<type>, booting_<type>, "
                "draining_<type>, ..., cum_faas_usd)",
                path, field);
}

static int parse_header(sw_run_report_t *rep, char *line, header_map_t *h, const char *path,
                        char *errbuf, size_t errlen)
{
    size_t total;
    split_fields(line, NULL, 0, &total);
    h->n_fields = total;
    h->band_of = sw_malloc(total * sizeof(*h->band_of));
    rep->band = sw_calloc(total, sizeof(*rep->band));
    for (size_t c = 0; c < N_COLS; c++)
        h->col[c] = SIZE_MAX;
    size_t n_types = 0, n_running = 0;
    /* split_fields wrote NULs on its pass: the fields are the NUL-separated runs. */
    char *p = line;
    for (size_t i = 0; i < total; i++, p += strlen(p) + 1) {
        h->band_of[i] = -1;
        int rc = classify_field(rep, h, i, p, &n_types, path, errbuf, errlen);
        if (rc < 0)
            return rc;
        n_running += h->band_of[i] >= 0 && rep->band[h->band_of[i]].state == ST_RUNNING;
    }
    for (size_t c = 0; c < N_COLS; c++) {
        if (h->col[c] == SIZE_MAX)
            return fail(errbuf, errlen, SW_EPARSE, "%s:1: missing column '%s'", path, col_name[c]);
    }
    if (n_running == 0)
        return fail(errbuf, errlen, SW_EPARSE, "%s:1: no running_<type> column", path);
    return 0;
}

static void grow(sw_run_report_t *rep)
{
    if (rep->n < rep->cap)
        return;
    rep->cap = rep->cap ? rep->cap * 2 : 256;
    for (size_t c = 0; c < N_COLS; c++)
        rep->col[c] = sw_realloc(rep->col[c], rep->cap * sizeof(double));
    for (size_t b = 0; b < rep->n_bands; b++)
        rep->band[b].v = sw_realloc(rep->band[b].v, rep->cap * sizeof(double));
}

/* A field of kind k as a value, or why it is not one. */
static const char *field_value(const char *text, col_kind_t k, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE)
        return "not a number";
    if (isnan(*v) && k == K_LATENCY) {
        *v = 0; /* an interval with no completions: drawn at 0 */
        return NULL;
    }
    if (!isfinite(*v) || *v < 0)
        return "must be a finite number >= 0";
    if (k == K_COUNT && *v != floor(*v))
        return "must be a whole number";
    return NULL;
}

/* A row's interval must have a length and follow the previous one: the charts' time axis
 * and bucket widths come from these two columns. */
static int check_times(const sw_run_report_t *rep, size_t r, const char *path, size_t lineno,
                       char *errbuf, size_t errlen)
{
    double t = rep->col[COL_TIME][r], e = rep->col[COL_END][r];
    if (!(e > t))
        return fail(errbuf, errlen, SW_EPARSE, "%s:%zu: end_s %g is not after time_s %g", path,
                    lineno, e, t);
    if (r > 0 && t < rep->col[COL_TIME][r - 1])
        return fail(errbuf, errlen, SW_EPARSE, "%s:%zu: time_s %g is before the previous row's %g",
                    path, lineno, t, rep->col[COL_TIME][r - 1]);
    return 0;
}

static int parse_row(sw_run_report_t *rep, char *line, const header_map_t *h, char **fields,
                     const char *path, size_t lineno, char *errbuf, size_t errlen)
{
    size_t total;
    split_fields(line, fields, h->n_fields, &total);
    if (total != h->n_fields)
        return fail(errbuf, errlen, SW_EPARSE, "%s:%zu: %zu fields, header has %zu", path, lineno,
                    total, h->n_fields);
    if (rep->n == MAX_ROWS)
        return fail(errbuf, errlen, SW_EPARSE,
                    "%s:%zu: more than %zu rows, the most a report "
                    "draws (400 days at 60 s intervals are 576000)",
                    path, lineno, MAX_ROWS);
    grow(rep);
    size_t r = rep->n;
    for (size_t i = 0; i < total; i++) {
        bool band = h->band_of[i] >= 0;
        size_t col = N_COLS;
        for (size_t c = 0; c < N_COLS && col == N_COLS; c++)
            col = h->col[c] == i ? c : N_COLS;
        if (!band && col == N_COLS)
            continue;
        double v;
        const char *why = field_value(fields[i], band ? K_COUNT : col_kind[col], &v);
        if (why)
            return fail(errbuf, errlen, SW_EPARSE, "%s:%zu: %s: '%.40s' %s", path, lineno,
                        band ? rep->band[h->band_of[i]].column : col_name[col], fields[i], why);
        if (band)
            rep->band[h->band_of[i]].v[r] = v;
        else
            rep->col[col][r] = v;
    }
    int rc = check_times(rep, r, path, lineno, errbuf, errlen);
    if (rc == 0)
        rep->n++;
    return rc;
}

/* One line of at most MAX_TIMELINE_BYTES into *line (getline's buffer). Returns its
 * length, -1 at the end, or SW_EPARSE for a NUL byte (binary data). */
static ssize_t read_line(FILE *f, char **line, size_t *cap, const char *path, size_t lineno,
                         char *errbuf, size_t errlen)
{
    ssize_t n = getline(line, cap, f);
    if (n > 0 && strlen(*line) != (size_t)n)
        return fail(errbuf, errlen, SW_EPARSE,
                    "%s:%zu: a NUL byte: binary data, not a "
                    "timeline.csv",
                    path, lineno);
    return n;
}

static int load_timeline(sw_run_report_t *rep, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = sw_file_open_regular(path, MAX_TIMELINE_BYTES, "timeline.csv", errbuf, errlen);
    if (!f)
        return -errno;
    header_map_t h = {0};
    char *line = NULL, **fields = NULL;
    size_t linecap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;
    while ((n = read_line(f, &line, &linecap, path, lineno + 1, errbuf, errlen)) >= 0) {
        lineno++;
        chomp(line);
        if (lineno == 1) {
            rc = parse_header(rep, line, &h, path, errbuf, errlen);
            if (rc < 0)
                goto out;
            fields = sw_malloc(h.n_fields * sizeof(*fields));
            continue;
        }
        if (line[0] == '\0')
            continue;
        rc = parse_row(rep, line, &h, fields, path, lineno, errbuf, errlen);
        if (rc < 0)
            goto out;
    }
    if (n == SW_EPARSE) {
        rc = SW_EPARSE;
    } else if (ferror(f)) {
        int e = errno;
        rc = fail(errbuf, errlen, -e, "%s: %s", path, strerror(e));
    } else if (lineno == 0) {
        rc = fail(errbuf, errlen, SW_EPARSE, "%s: empty file, expected a header", path);
    }
out:
    free(line); /* getline's buffer comes from libc malloc */
    sw_free(fields);
    sw_free(h.band_of);
    fclose(f);
    return rc;
}

int sw_run_report_load(sw_run_report_t **out, const char *run_dir, char *errbuf, size_t errlen)
{
    sw_run_report_t *rep = sw_calloc(1, sizeof(*rep));
    rep->run_name = sw_strdup(run_dir);
    rep->oracle_cost_usd = -1;
    size_t len = strlen(run_dir) + 32;
    char *path = sw_malloc(len);
    snprintf(path, len, "%s/summary.json", run_dir);
    int rc = sw_run_summary_load(&rep->sum, path, errbuf, errlen);
    if (rc == 0) {
        snprintf(path, len, "%s/timeline.csv", run_dir);
        rc = load_timeline(rep, path, errbuf, errlen);
    }
    if (rc == 0 && rep->n == 0)
        rc = fail(errbuf, errlen, SW_EPARSE, "%s: no data rows", path);
    sw_free(path);
    if (rc < 0) {
        sw_run_report_destroy(rep);
        *out = NULL;
        return rc;
    }
    *out = rep;
    return 0;
}

/* The oracle's run must have replayed the same trace, or the ratio means nothing: the
 * trace name and the request count must agree. */
int sw_run_report_set_oracle(sw_run_report_t *rep, const char *oracle_dir, char *errbuf,
                             size_t errlen)
{
    sw_run_report_t *o;
    int rc = sw_run_report_load(&o, oracle_dir, errbuf, errlen);
    if (rc < 0)
        return rc;
    const char *policy = o->sum.policy, *trace = o->sum.trace, *mine = rep->sum.trace;
    if (!policy || strcmp(policy, "oracle") != 0)
        rc = fail(errbuf, errlen, -EINVAL, "%s/summary.json: policy is '%s', not oracle",
                  oracle_dir, policy ? policy : "?");
    else if (o->sum.requests != rep->sum.requests || !trace || !mine || strcmp(trace, mine) != 0)
        rc = fail(errbuf, errlen, -EINVAL,
                  "%s: the oracle replayed %s (%" PRIu64 " requests), this run %s (%" PRIu64
                  " requests): not the same trace",
                  oracle_dir, trace ? trace : "?", o->sum.requests, mine ? mine : "?",
                  rep->sum.requests);
    else if (!(o->sum.cost_usd > 0))
        rc = fail(errbuf, errlen, -EINVAL, "%s/summary.json: the oracle's cost is zero",
                  oracle_dir);
    if (rc == 0) {
        rep->oracle_cost_usd = o->sum.cost_usd;
        sw_free(rep->oracle_run);
        rep->oracle_run = sw_strdup(oracle_dir);
    }
    sw_run_report_destroy(o);
    return rc;
}

size_t sw_run_report_rows(const sw_run_report_t *rep)
{
    return rep->n;
}

void sw_run_report_destroy(sw_run_report_t *rep)
{
    if (!rep)
        return;
    sw_run_summary_deinit(&rep->sum);
    sw_free(rep->run_name);
    for (size_t c = 0; c < N_COLS; c++)
        sw_free(rep->col[c]);
    for (size_t b = 0; b < rep->n_bands; b++) {
        sw_free(rep->band[b].column);
        sw_free(rep->band[b].v);
    }
    sw_free(rep->band);
    sw_free(rep->oracle_run);
    sw_free(rep);
}

/* ---- aggregation ------------------------------------------------------------------- */

/* How one series folds a bucket of rows into a point. */
typedef enum { AGG_SUM, AGG_MAX, AGG_MEAN, AGG_LAST } agg_t;

/* The series the charts draw, after bucketing `per` consecutive rows into one point. */
enum {
    S_ARRIVALS,
    S_FORECAST,
    S_CAPACITY,
    S_FAAS,
    S_COLD,
    S_THROTTLED,
    S_P50,
    S_P99,
    S_CUM_COST,
    S_CUM_VM,
    S_CUM_FAAS,
    N_SERIES /* then one series per VM band: N_SERIES + band index */
};

typedef struct agg_view {
    size_t n, per;
    double *t; /* point time, seconds since the first row's start */
    double **s;
    size_t n_s;
    double bucket_s; /* length of one point's interval */
} agg_view_t;

static double row_value(const sw_run_report_t *rep, int series, size_t r)
{
    if (series >= N_SERIES)
        return rep->band[series - N_SERIES].v[r];
    switch (series) {
    case S_ARRIVALS: return rep->col[COL_ARRIVALS][r];
    case S_FORECAST: return rep->col[COL_FORECAST][r];
    case S_CAPACITY:
        /* Capacity is a rate: the requests it could serve in this row's interval. */
        return rep->col[COL_CAPACITY_RPS][r] * (rep->col[COL_END][r] - rep->col[COL_TIME][r]);
    case S_FAAS: return rep->col[COL_FAAS][r];
    case S_COLD: return rep->col[COL_COLD][r];
    case S_THROTTLED: return rep->col[COL_THROTTLED][r];
    case S_P50: return rep->col[COL_P50][r];
    case S_P99: return rep->col[COL_P99][r];
    case S_CUM_COST: return rep->col[COL_CUM_COST][r];
    case S_CUM_VM: return rep->col[COL_CUM_VM][r];
    default: return rep->col[COL_CUM_FAAS][r];
    }
}

static agg_t series_agg(int series)
{
    if (series >= N_SERIES)
        return AGG_MEAN; /* VMs are a gauge */
    switch (series) {
    case S_P50: return AGG_MEAN;
    case S_P99: return AGG_MAX;
    case S_CUM_COST:
    case S_CUM_VM:
    case S_CUM_FAAS: return AGG_LAST;
    default: return AGG_SUM;
    }
}

static void aggregate(const sw_run_report_t *rep, agg_view_t *v)
{
    v->per = (rep->n + SW_RUN_REPORT_MAX_POINTS - 1) / SW_RUN_REPORT_MAX_POINTS;
    v->n = (rep->n + v->per - 1) / v->per;
    v->t = sw_malloc(v->n * sizeof(double));
    const double *start = rep->col[COL_TIME], *end = rep->col[COL_END];
    v->bucket_s = (end[0] - start[0]) * (double)v->per;
    v->n_s = N_SERIES + rep->n_bands;
    v->s = sw_malloc(v->n_s * sizeof(*v->s));
    for (size_t s = 0; s < v->n_s; s++)
        v->s[s] = sw_calloc(v->n, sizeof(double));
    for (size_t p = 0; p < v->n; p++) {
        size_t lo = p * v->per, hi = SW_MIN(lo + v->per, rep->n);
        v->t[p] = start[lo] - start[0];
        for (int s = 0; s < (int)v->n_s; s++) {
            agg_t a = series_agg(s);
            double acc = a == AGG_MAX ? -INFINITY : 0;
            for (size_t r = lo; r < hi; r++) {
                double x = row_value(rep, s, r);
                acc = a == AGG_MAX ? fmax(acc, x) : a == AGG_LAST ? x : acc + x;
            }
            v->s[s][p] = a == AGG_MEAN ? acc / (double)(hi - lo) : acc;
        }
    }
}

static void agg_free(agg_view_t *v)
{
    sw_free(v->t);
    for (size_t s = 0; s < v->n_s; s++)
        sw_free(v->s[s]);
    sw_free(v->s);
}

/* ---- HTML and SVG output ----------------------------------------------------------- */

void sw_run_html_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Smallest 1, 2, 2.5 or 5 x 10^k at or above x: a y-axis maximum that divides into five
 * readable ticks. */
static double nice_ceil(double x)
{
    if (!(x > 0))
        return 1;
    double mag = pow(10, floor(log10(x)));
    static const double steps[] = {1, 2, 2.5, 5, 10};
    for (size_t i = 0; i < SW_ARRAY_LEN(steps); i++) {
        if (steps[i] * mag >= x * (1 - 1e-12))
            return steps[i] * mag;
    }
    return 10 * mag;
}

static void fmt_value(char *buf, size_t len, double v)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(buf, len, "%.3gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(buf, len, "%.3gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, len, "%.3gk", v / 1e3);
    else
        snprintf(buf, len, "%.4g", v);
}

typedef struct time_axis {
    double unit_s;    /* seconds per label unit */
    const char *unit; /* "min", "h", "days" */
    double step;      /* tick spacing, in units */
} time_axis_t;

/* Picks the label unit from the span and the smallest step giving at most 10 ticks, so
 * labels stay apart from one hour to thirty days. */
static time_axis_t pick_time_axis(double span_s)
{
    time_axis_t ax = {60, "min", 1};
    if (span_s > 3 * 86400.0)
        ax = (time_axis_t){86400, "days", 1};
    else if (span_s > 3 * 3600.0)
        ax = (time_axis_t){3600, "h", 1};
    static const double steps[] = {0.25, 0.5, 1,  2,  3,   5,   6,   10,  12,  15,
                                   20,   24,  30, 60, 120, 180, 240, 360, 720, 1440};
    double span = span_s / ax.unit_s;
    for (size_t i = 0; i < SW_ARRAY_LEN(steps); i++) {
        ax.step = steps[i];
        if (span / steps[i] <= 10)
            break;
    }
    return ax;
}

typedef struct series_spec {
    int id;            /* S_* */
    const char *key;   /* data-series attribute */
    const char *label; /* legend text */
    const char *color;
    bool dashed;
    double opacity; /* fill of a stacked band; 0: 0.75 */
} series_spec_t;

typedef struct chart_spec {
    const char *id, *title, *ylabel;
    const series_spec_t *series;
    size_t n_series;
    bool stacked;
    double hline; /* > 0: a horizontal reference line at this value */
    const char *hline_label;
    double ycap; /* > 0: the y axis stops near here; higher points are drawn at the top */
} chart_spec_t;

static double px_x(const agg_view_t *v, double t)
{
    double span = v->t[v->n - 1] > 0 ? v->t[v->n - 1] : 1;
    return SW_RUN_REPORT_PLOT_LEFT + SW_RUN_REPORT_PLOT_W * t / span;
}

static double px_y(double val, double ymax)
{
    return SW_RUN_REPORT_PLOT_TOP + SW_RUN_REPORT_PLOT_H * (1 - val / ymax);
}

static double chart_ymax(const chart_spec_t *c, const agg_view_t *v)
{
    double m = c->hline;
    for (size_t p = 0; p < v->n; p++) {
        double stack = 0;
        for (size_t i = 0; i < c->n_series; i++) {
            double x = v->s[c->series[i].id][p];
            stack = c->stacked ? stack + x : x;
            m = fmax(m, stack);
        }
    }
    m *= c->hline > 0 ? 1.1 : 1.0;
    return nice_ceil(c->ycap > 0 ? fmin(m, c->ycap) : m);
}

static void put_axes(FILE *f, const chart_spec_t *c, const agg_view_t *v, double ymax)
{
    const int L = SW_RUN_REPORT_PLOT_LEFT, T = SW_RUN_REPORT_PLOT_TOP;
    const int W = SW_RUN_REPORT_PLOT_W, H = SW_RUN_REPORT_PLOT_H;
    char buf[32];
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", L, T, W,
            H);
    for (int i = 0; i <= 5; i++) {
        double val = ymax * i / 5, y = px_y(val, ymax);
        fmt_value(buf, sizeof(buf), val);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%d\" y=\"%.1f\" class=\"yt\">%s</text>\n",
                L, y, L + W, y, L - 6, y + 4, buf);
    }
    double span_s = v->t[v->n - 1];
    time_axis_t ax = pick_time_axis(span_s);
    for (double u = 0; u * ax.unit_s <= span_s * (1 + 1e-9); u += ax.step) {
        double x = span_s > 0 ? px_x(v, u * ax.unit_s) : L;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                "<text x=\"%.1f\" y=\"%d\" class=\"xt\">%g</text>\n",
                x, T, x, T + H, x, T + H + 16, u);
        if (span_s <= 0)
            break;
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"xl\">time since start (%s)</text>\n", L + W / 2,
            T + H + 40, ax.unit);
    fprintf(f, "<text transform=\"translate(18,%d) rotate(-90)\" class=\"yl\">", T + H / 2);
    sw_run_html_escaped(f, c->ylabel);
    fputs("</text>\n", f);
}

enum { LEGEND_ROW_H = 16 };

/* Draws the legend above the plot, wrapping to a new row before an entry would pass the
 * plot's right edge, so many bands (types x states) never overlap. With f NULL it only
 * counts the rows. Returns the number of rows. */
static int put_legend(FILE *f, const chart_spec_t *c)
{
    const int left = SW_RUN_REPORT_PLOT_LEFT, right = left + SW_RUN_REPORT_PLOT_W;
    int x = left, row = 0;
    if (f)
        fputs("<g class=\"legend\">", f);
    for (size_t i = 0; i <= c->n_series; i++) {
        bool is_hline = i == c->n_series;
        if (is_hline && !(c->hline > 0))
            break;
        const char *label = is_hline ? c->hline_label : c->series[i].label;
        const char *color = is_hline ? "#c00" : c->series[i].color;
        double opacity = is_hline || !c->stacked ? 1
                         : c->series[i].opacity > 0 ? c->series[i].opacity
                                                    : 0.75;
        int width = 26 + 7 * (int)strlen(label); /* ~7 px a character at 12 px sans */
        if (x > left && x + width > right) {
            x = left;
            row++;
        }
        if (f) {
            int y = 14 + row * LEGEND_ROW_H;
            fprintf(f,
                    "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\" "
                    "fill-opacity=\"%.2f\"/><text x=\"%d\" y=\"%d\">",
                    x, y, color, opacity, x + 18, y + 9);
            sw_run_html_escaped(f, label);
            fputs("</text>", f);
        }
        x += width;
    }
    if (f)
        fputs("</g>\n", f);
    return row + 1;
}

static void put_series(FILE *f, const chart_spec_t *c, const agg_view_t *v, double ymax)
{
    double *base = sw_calloc(v->n, sizeof(double));
    for (size_t i = 0; i < c->n_series; i++) {
        const series_spec_t *s = &c->series[i];
        const double *val = v->s[s->id];
        if (c->stacked) {
            /* Area between the running total below and the total including this state. */
            fprintf(f,
                    "<polygon data-series=\"%s\" fill=\"%s\" fill-opacity=\"%.2f\" "
                    "stroke=\"%s\" stroke-width=\"0.4\" points=\"",
                    s->key, s->color, s->opacity > 0 ? s->opacity : 0.75, s->color);
            for (size_t p = 0; p < v->n; p++)
                fprintf(f, "%.1f,%.1f ", px_x(v, v->t[p]), px_y(base[p] + val[p], ymax));
            for (size_t p = v->n; p-- > 0;)
                fprintf(f, "%.1f,%.1f ", px_x(v, v->t[p]), px_y(base[p], ymax));
            for (size_t p = 0; p < v->n; p++)
                base[p] += val[p];
        } else {
            fprintf(f,
                    "<polyline data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
                    "stroke-width=\"1.3\"%s points=\"",
                    s->key, s->color, s->dashed ? " stroke-dasharray=\"5,3\"" : "");
            for (size_t p = 0; p < v->n; p++)
                fprintf(f, "%s%.1f,%.1f", p ? " " : "", px_x(v, v->t[p]),
                        px_y(fmin(val[p], ymax), ymax));
        }
        fputs("\"/>\n", f);
    }
    sw_free(base);
    if (c->hline > 0) {
        double y = px_y(c->hline, ymax);
        fprintf(f,
                "<line data-series=\"slo\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                "stroke=\"#c00\" stroke-dasharray=\"6,4\"/>\n",
                SW_RUN_REPORT_PLOT_LEFT, y, SW_RUN_REPORT_PLOT_LEFT + SW_RUN_REPORT_PLOT_W, y);
    }
}

/* Says how many points a capped axis drew at its top edge, and the highest of them, so a
 * clipped spike is never mistaken for one at the edge's value. */
static void put_clip_note(FILE *f, const chart_spec_t *c, const agg_view_t *v, double ymax)
{
    size_t above = 0;
    double top = 0;
    for (size_t i = 0; i < c->n_series && !c->stacked; i++) {
        for (size_t p = 0; p < v->n; p++) {
            double x = v->s[c->series[i].id][p];
            if (x > ymax) {
                above++;
                top = fmax(top, x);
            }
        }
    }
    if (above == 0)
        return;
    char buf[32];
    fmt_value(buf, sizeof(buf), top);
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" class=\"clip\" text-anchor=\"end\">%zu point%s above "
            "the axis, drawn at its top (highest %s)</text>\n",
            SW_RUN_REPORT_PLOT_LEFT + SW_RUN_REPORT_PLOT_W - 4, SW_RUN_REPORT_PLOT_TOP + 14,
            above, above == 1 ? "" : "s", buf);
}

/* A legend of several rows pushes the plot down: the plot is drawn in a translated group,
 * so its own coordinates (which tests map back to values) do not change. */
static void put_chart(FILE *f, const chart_spec_t *c, const agg_view_t *v)
{
    double ymax = chart_ymax(c, v);
    int extra = (put_legend(NULL, c) - 1) * LEGEND_ROW_H;
    fprintf(f, "<h2>");
    sw_run_html_escaped(f, c->title);
    fprintf(f,
            "</h2>\n<svg id=\"%s\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" data-ymax=\"%.17g\" data-points=\"%zu\" "
            "role=\"img\">\n<title>",
            c->id, SW_RUN_REPORT_SVG_W, SW_RUN_REPORT_SVG_H + extra, SW_RUN_REPORT_SVG_W,
            SW_RUN_REPORT_SVG_H + extra, ymax, v->n);
    sw_run_html_escaped(f, c->title);
    fputs("</title>\n", f);
    put_legend(f, c);
    if (extra)
        fprintf(f, "<g transform=\"translate(0,%d)\">\n", extra);
    put_axes(f, c, v, ymax);
    put_series(f, c, v, ymax);
    put_clip_note(f, c, v, ymax);
    if (extra)
        fputs("</g>\n", f);
    fputs("</svg>\n", f);
}

static void put_row(FILE *f, const char *name, const char *fmt, ...) SW_PRINTF(3, 4);
static void put_row(FILE *f, const char *name, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fputs("<tr><th>", f);
    sw_run_html_escaped(f, name);
    fputs("</th><td>", f);
    sw_run_html_escaped(f, buf);
    fputs("</td></tr>\n", f);
}

static void put_oracle_row(FILE *f, const sw_run_report_t *rep)
{
    const char *policy = rep->sum.policy;
    if (policy && strcmp(policy, "oracle") == 0)
        put_row(f, "cost relative to the oracle", "1.00x (this run is the oracle)");
    else if (rep->oracle_cost_usd > 0)
        put_row(f, "cost relative to the oracle", "%.2fx (oracle $%.2f, run %s)",
                rep->sum.cost_usd / rep->oracle_cost_usd, rep->oracle_cost_usd, rep->oracle_run);
    else
        put_row(f, "cost relative to the oracle",
                "unknown: pass --oracle DIR, a `simulate --policy oracle` run of this trace");
}

static void put_summary(FILE *f, const sw_run_report_t *rep)
{
    const sw_run_summary_t *s = &rep->sum;
    fputs("<table class=\"summary\">\n", f);
    put_row(f, "requests", "%" PRIu64, s->requests);
    /* With no request there is no attainment, met or missed: 100 % of nothing says so. */
    if (s->requests == 0)
        put_row(f, "SLO attainment", "none: no request arrived in the run");
    else
        put_row(f, "SLO attainment", "%.3f %% within %g ms (target %.2f %%: %s)",
                100 * s->slo_attainment, s->slo_ms, 100 * s->slo_target,
                s->slo_attainment >= s->slo_target ? "met" : "missed");
    put_row(f, "latency p50 / p99 / p99.9", "%.1f / %.1f / %.1f ms", s->latency_p50_ms,
            s->latency_p99_ms, s->latency_p999_ms);
    put_row(f, "cost total", "$%.2f", s->cost_usd);
    put_row(f, "cost VMs", "$%.2f", s->vm_cost_usd);
    put_row(f, "cost functions", "$%.2f", s->faas_cost_usd);
    for (size_t i = 0; i < s->n_cost_by_type; i++) {
        char name[128];
        snprintf(name, sizeof(name), "cost VMs %.100s", s->cost_by_type[i].type);
        put_row(f, name, "$%.2f", s->cost_by_type[i].usd);
    }
    put_row(f, "cost per million requests", "$%.3f", s->cost_per_million_usd);
    put_row(f, "spill share (served by functions)", "%.2f %%", 100 * sw_run_summary_spill_share(s));
    put_row(f, "VM-hours (billed)", "%.1f", s->vm_billed_s / 3600);
    put_oracle_row(f, rep);
    fputs("</table>\n", f);
}

static const char page_style[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}"
    "table.summary{border-collapse:collapse}"
    "table.summary th,table.summary td{border:1px solid #ccc;padding:3px 10px;text-align:left}"
    "svg{display:block;font-size:12px}.frame{fill:none;stroke:#888}"
    ".grid{stroke:#e4e4e4}.yt{text-anchor:end}.xt,.xl,.yl{text-anchor:middle}"
    "h2{font-size:16px;margin:24px 0 4px}";

static const series_spec_t arrivals_series[] = {
    {S_ARRIVALS, "arrivals", "arrivals", "#1f77b4", false},
    {S_FORECAST, "forecast", "forecast", "#ff7f0e", true},
    {S_CAPACITY, "capacity", "provisioned VM capacity", "#2ca02c", false},
};
/* VM bands: a colour per instance type, a shade per state. */
static const char *const type_palette[] = {"#2ca02c", "#1f77b4", "#9467bd", "#8c564b",
                                           "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
static const double state_opacity[N_STATES] = {0.9, 0.45, 0.2};

typedef struct vm_chart {
    series_spec_t *series;
    char (*labels)[96];
    size_t n;
} vm_chart_t;

/* One band per instance type and state that ever held a VM, running at the bottom, then
 * booting, then draining, so the pool's serving part reads as a solid base. */
static void vm_chart_build(const sw_run_report_t *rep, const agg_view_t *v, vm_chart_t *vc)
{
    vc->series = sw_calloc(rep->n_bands, sizeof(*vc->series));
    vc->labels = sw_calloc(rep->n_bands, sizeof(*vc->labels));
    vc->n = 0;
    for (int st = 0; st < N_STATES; st++) {
        for (size_t b = 0; b < rep->n_bands; b++) {
            const vm_band_t *band = &rep->band[b];
            if (band->state != st)
                continue;
            double any = 0;
            for (size_t p = 0; p < v->n; p++)
                any += v->s[N_SERIES + b][p];
            /* Keep one band even for a run without VMs, so the chart still has axes. */
            if (any == 0 && !(vc->n == 0 && st == ST_RUNNING))
                continue;
            snprintf(vc->labels[vc->n], sizeof(vc->labels[0]), "%s %s", band->type,
                     state_name[st]);
            vc->series[vc->n] = (series_spec_t){
                (int)(N_SERIES + b), band->column, vc->labels[vc->n],
                type_palette[band->type_idx % SW_ARRAY_LEN(type_palette)], false,
                state_opacity[st]};
            vc->n++;
        }
    }
}

static const series_spec_t faas_series[] = {
    {S_FAAS, "invocations", "invocations", "#1f77b4", false},
    {S_COLD, "cold_starts", "cold starts", "#ff7f0e", false},
    {S_THROTTLED, "throttled", "throttled", "#d62728", false},
};
static const series_spec_t cost_series[] = {
    {S_CUM_COST, "total", "total", "#333333", false},
    {S_CUM_VM, "vm", "VMs", "#2ca02c", false},
    {S_CUM_FAAS, "faas", "functions", "#1f77b4", false},
};
static const series_spec_t latency_series[] = {
    {S_P50, "p50", "p50", "#1f77b4", false},
    {S_P99, "p99", "p99", "#ff7f0e", false},
};

static void put_charts(FILE *f, const sw_run_report_t *rep)
{
    agg_view_t v = {0};
    aggregate(rep, &v);
    vm_chart_t vms;
    vm_chart_build(rep, &v, &vms);
    char per[64], reqs[96], events[96];
    if (v.bucket_s >= 60 && fmod(v.bucket_s, 60) == 0)
        snprintf(per, sizeof(per), "%g min", v.bucket_s / 60);
    else
        snprintf(per, sizeof(per), "%g s", v.bucket_s);
    snprintf(reqs, sizeof(reqs), "requests per %s", per);
    snprintf(events, sizeof(events), "count per %s", per);
    const chart_spec_t charts[] = {
        {"chart-arrivals", "Arrivals, forecast and provisioned capacity", reqs, arrivals_series,
         SW_ARRAY_LEN(arrivals_series), false, 0, NULL},
        {"chart-vms", "VMs by type and state (stacked)", "VMs (mean per point)", vms.series, vms.n,
         true, 0, NULL},
        {"chart-faas", "Function invocations, cold starts and throttles", events, faas_series,
         SW_ARRAY_LEN(faas_series), false, 0, NULL},
        {"chart-cost", "Cumulative cost by resource", "cost (USD)", cost_series,
         SW_ARRAY_LEN(cost_series), false, 0, NULL},
        /* Capped so one cold-start minute does not flatten the rest against the axis. */
        {"chart-latency", "Latency per interval against the SLO", "latency (ms)", latency_series,
         SW_ARRAY_LEN(latency_series), false, rep->sum.slo_ms, "SLO",
         fmax(3 * rep->sum.slo_ms, 1.2 * rep->sum.latency_p999_ms)},
    };
    if (v.per > 1)
        fprintf(f,
                "<p>%zu timeline rows aggregated %zu to a point (counts summed, p99 max, "
                "p50 and VM counts averaged, cumulative cost last).</p>\n",
                rep->n, v.per);
    for (size_t i = 0; i < SW_ARRAY_LEN(charts); i++)
        put_chart(f, &charts[i], &v);
    agg_free(&v);
    sw_free(vms.series);
    sw_free(vms.labels);
}

/* The whole-run latency CDF from summary.json's latency_cdf_ms ([quantile, ms] pairs).
 * The x axis stops at the p99.9 (or the max, if smaller) so a long tail does not squash
 * the body; the SLO is a vertical line. Older run directories lack the array: a note. */
static void put_cdf(FILE *f, const sw_run_report_t *rep)
{
    const int L = SW_RUN_REPORT_PLOT_LEFT, T = SW_RUN_REPORT_PLOT_TOP;
    const int W = SW_RUN_REPORT_PLOT_W, H = SW_RUN_REPORT_PLOT_H;
    const sw_run_summary_t *s = &rep->sum;
    fputs("<h2>Whole-run latency distribution</h2>\n", f);
    if (s->n_cdf < 2) {
        fputs("<p>summary.json has no latency_cdf_ms: re-run the simulation to draw it.</p>\n",
              f);
        return;
    }
    double slo = s->slo_ms, xmax = 0;
    for (size_t i = 0; i < s->n_cdf; i++) {
        if (s->cdf[i].quantile <= 0.999 || xmax == 0)
            xmax = fmax(xmax, s->cdf[i].ms);
    }
    xmax = nice_ceil(fmax(xmax, slo) * 1.05);
    fprintf(f, "<svg id=\"chart-latency-cdf\" width=\"%d\" height=\"%d\" role=\"img\">"
               "<title>Whole-run latency CDF</title>\n",
            L + W + 20, T + H + 60);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", L, T, W,
            H);
    char buf[32];
    for (int k = 0; k <= 5; k++) {
        double y = T + H * (1 - k / 5.0), x = L + W * k / 5.0;
        fmt_value(buf, sizeof(buf), xmax * k / 5);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%d\" y=\"%.1f\" class=\"yt\">%d %%</text>"
                "<text x=\"%.1f\" y=\"%d\" class=\"xt\">%s</text>\n",
                L, y, L + W, y, L - 6, y + 4, k * 20, x, T + H + 16, buf);
    }
    fputs("<polyline data-series=\"cdf\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.6\" "
          "points=\"", f);
    for (size_t i = 0; i < s->n_cdf; i++) {
        double ms = fmin(s->cdf[i].ms, xmax);
        fprintf(f, "%.1f,%.1f ", L + W * ms / xmax, T + H * (1 - s->cdf[i].quantile));
    }
    double xs = L + W * fmin(slo, xmax) / xmax;
    fprintf(f, "\"/>\n<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" stroke-dasharray=\"6,4\"/>\n",
            xs,
            T, xs, T + H);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"xl\">latency (ms; axis ends near the p99.9)"
               "</text>\n<text transform=\"translate(18,%d) rotate(-90)\" class=\"yl\">"
               "requests answered within (%%)</text>\n",
            L + W / 2, T + H + 40, T + H / 2);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"lg\">CDF; dashed: SLO %g ms</text>\n", L + 8,
            T - 8, slo);
    fputs("</svg>\n", f);
}

static void put_page(FILE *f, const sw_run_report_t *rep)
{
    const char *policy = rep->sum.policy, *trace = rep->sum.trace;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<title>Spillway report: ");
    sw_run_html_escaped(f, rep->run_name);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>Spillway report</h1>\n<p>run ",
            page_style);
    sw_run_html_escaped(f, rep->run_name);
    fputs(", policy ", f);
    sw_run_html_escaped(f, policy ? policy : "?");
    fputs(", trace ", f);
    sw_run_html_escaped(f, trace ? trace : "?");
    fputs("</p>\n", f);
    put_summary(f, rep);
    put_charts(f, rep);
    put_cdf(f, rep);
    fputs("</body>\n</html>\n", f);
}

int sw_run_report_write(const sw_run_report_t *rep, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        return fail(errbuf, errlen, -e, "%s: %s", path, strerror(e));
    }
    put_page(f, rep);
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && e == 0)
        e = errno ? errno : EIO;
    if (e) {
        remove(path);
        return fail(errbuf, errlen, -e, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}
