/* `spillway report`: reads a run directory, simulated or live, and writes one
 * self-contained HTML page. Every chart is SVG text drawn with runs/svg.h, with no scripts
 * or external references, so the page opens from disk and can be mailed as a single file. */
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
#include "runs/svg.h"

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
                                          "slo_misses",     "vm_launches"};

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
    /* The two bounds of the same trace (issue 14): [0] the oracle, [1] the clairvoyant
     * planner; cost < 0: not given. */
    double bound_cost_usd[2];
    char *bound_run[2];
};

static const char *const bound_policy[2] = {"oracle", "clairvoyant"};

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
    rep->bound_cost_usd[0] = rep->bound_cost_usd[1] = -1;
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

/* A bound's run must have replayed the same trace, or the ratio means nothing: the trace
 * name and the request count must agree. */
int sw_run_report_set_bound(sw_run_report_t *rep, const char *bound_dir, char *errbuf,
                            size_t errlen)
{
    sw_run_report_t *o;
    int rc = sw_run_report_load(&o, bound_dir, errbuf, errlen);
    if (rc < 0)
        return rc;
    const char *policy = o->sum.policy, *trace = o->sum.trace, *mine = rep->sum.trace;
    int which = -1;
    for (int i = 0; i < 2; i++)
        if (policy && strcmp(policy, bound_policy[i]) == 0)
            which = i;
    if (which < 0)
        rc = fail(errbuf, errlen, -EINVAL,
                  "%s/summary.json: policy is '%s', not oracle or clairvoyant", bound_dir,
                  policy ? policy : "?");
    else if (o->sum.requests != rep->sum.requests || !trace || !mine || strcmp(trace, mine) != 0)
        rc = fail(errbuf, errlen, -EINVAL,
                  "%s: the %s replayed %s (%" PRIu64 " requests), this run %s (%" PRIu64
                  " requests): not the same trace",
                  bound_dir, policy, trace ? trace : "?", o->sum.requests, mine ? mine : "?",
                  rep->sum.requests);
    else if (!(o->sum.cost_usd > 0))
        rc = fail(errbuf, errlen, -EINVAL, "%s/summary.json: the %s's cost is zero", bound_dir,
                  policy);
    if (rc == 0) {
        rep->bound_cost_usd[which] = o->sum.cost_usd;
        sw_free(rep->bound_run[which]);
        rep->bound_run[which] = sw_strdup(bound_dir);
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
    sw_free(rep->bound_run[0]);
    sw_free(rep->bound_run[1]);
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

/* ---- charts ------------------------------------------------------------------------ */

typedef struct series_spec {
    int id;            /* S_* */
    const char *label; /* legend text */
    sw_svg_series_t svg;
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

/* A chart's plot area in the report's public geometry (runs/report.h), from 0 to x1
 * across and 0 to y1 up. */
static sw_svg_plot_t report_plot(FILE *f, double x1, double y1)
{
    return (sw_svg_plot_t){.f = f,
                           .left = SW_RUN_REPORT_PLOT_LEFT,
                           .top = SW_RUN_REPORT_PLOT_TOP,
                           .width = SW_RUN_REPORT_PLOT_W,
                           .height = SW_RUN_REPORT_PLOT_H,
                           .x1 = x1,
                           .y1 = y1};
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
    return sw_svg_nice_ceil(c->ycap > 0 ? fmin(m, c->ycap) : m);
}

static void put_series(const sw_svg_plot_t *p, const chart_spec_t *c, const agg_view_t *v)
{
    double *base = sw_calloc(v->n, sizeof(double)), *top = sw_malloc(v->n * sizeof(double));
    for (size_t i = 0; i < c->n_series; i++) {
        const series_spec_t *s = &c->series[i];
        const double *val = v->s[s->id];
        if (!c->stacked) {
            sw_svg_line(p, &s->svg, v->t, val, v->n);
            continue;
        }
        /* The area between the running total below and the total including this band. */
        for (size_t k = 0; k < v->n; k++)
            top[k] = base[k] + val[k];
        sw_svg_band(p, &s->svg, v->t, base, top, v->n);
        memcpy(base, top, v->n * sizeof(double));
    }
    sw_free(base);
    sw_free(top);
    if (c->hline > 0)
        sw_svg_hline(p, c->hline, "slo", NULL);
}

/* Says how many points a capped axis drew at its top edge, and the highest of them, so a
 * clipped spike is never mistaken for one at the edge's value. */
static void put_clip_note(const sw_svg_plot_t *p, const chart_spec_t *c, const agg_view_t *v)
{
    size_t above = 0;
    double top = 0;
    for (size_t i = 0; i < c->n_series && !c->stacked; i++) {
        for (size_t k = 0; k < v->n; k++) {
            double x = v->s[c->series[i].id][k];
            if (x > p->y1) {
                above++;
                top = fmax(top, x);
            }
        }
    }
    if (above == 0)
        return;
    char buf[32], text[160];
    sw_svg_fmt_short(buf, sizeof(buf), top);
    snprintf(text, sizeof(text), "%zu point%s above the axis, drawn at its top (highest %s)", above,
             above == 1 ? "" : "s", buf);
    sw_svg_note(p, text);
}

static void put_chart(FILE *f, const chart_spec_t *c, const agg_view_t *v)
{
    double ymax = chart_ymax(c, v), span_s = v->t[v->n - 1];
    sw_svg_plot_t p = report_plot(f, span_s > 0 ? span_s : 1, ymax);
    sw_svg_key_t *keys = sw_calloc(c->n_series + 1, sizeof(*keys));
    size_t n_keys = 0;
    for (size_t i = 0; i < c->n_series; i++) {
        double opacity = c->series[i].svg.opacity > 0 ? c->series[i].svg.opacity : 0.75;
        keys[n_keys++] =
            (sw_svg_key_t){c->series[i].label, c->series[i].svg.color, c->stacked ? opacity : 1};
    }
    if (c->hline > 0)
        keys[n_keys++] = (sw_svg_key_t){c->hline_label, "#c00", 1};
    char attrs[96], xlabel[64];
    snprintf(attrs, sizeof(attrs), "data-ymax=\"%.17g\" data-points=\"%zu\"", ymax, v->n);
    fputs("<h2>", f);
    sw_svg_escaped(f, c->title);
    fputs("</h2>\n", f);
    sw_svg_begin(&p, c->id, SW_RUN_REPORT_SVG_W, SW_RUN_REPORT_SVG_H, c->title, attrs, keys,
                 n_keys);
    const char *unit;
    sw_svg_ticks_t xt = sw_svg_ticks_time(span_s, &unit), yt = sw_svg_ticks_fifths(ymax);
    snprintf(xlabel, sizeof(xlabel), "time since start (%s)", unit);
    sw_svg_axes(&p, &xt, &yt, xlabel, c->ylabel);
    put_series(&p, c, v);
    put_clip_note(&p, c, v);
    sw_svg_end(&p);
    sw_free(keys);
}

static const series_spec_t arrivals_series[] = {
    {S_ARRIVALS, "arrivals", {"arrivals", "#1f77b4"}},
    {S_FORECAST, "forecast", {"forecast", "#ff7f0e", .dashed = true}},
    {S_CAPACITY, "provisioned VM capacity", {"capacity", "#2ca02c"}},
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
                (int)(N_SERIES + b),
                vc->labels[vc->n],
                {band->column, type_palette[band->type_idx % SW_ARRAY_LEN(type_palette)],
                 .opacity = state_opacity[st]}};
            vc->n++;
        }
    }
}

static const series_spec_t faas_series[] = {
    {S_FAAS, "invocations", {"invocations", "#1f77b4"}},
    {S_COLD, "cold starts", {"cold_starts", "#ff7f0e"}},
    {S_THROTTLED, "throttled", {"throttled", "#d62728"}},
};
static const series_spec_t cost_series[] = {
    {S_CUM_COST, "total", {"total", "#333333"}},
    {S_CUM_VM, "VMs", {"vm", "#2ca02c"}},
    {S_CUM_FAAS, "functions", {"faas", "#1f77b4"}},
};
static const series_spec_t latency_series[] = {
    {S_P50, "p50", {"p50", "#1f77b4"}},
    {S_P99, "p99", {"p99", "#ff7f0e"}},
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
    const sw_run_summary_t *s = &rep->sum;
    const chart_spec_t charts[] = {
        {"chart-arrivals", "Arrivals, forecast and provisioned capacity", reqs, arrivals_series,
         SW_ARRAY_LEN(arrivals_series), false, 0, NULL, 0},
        {"chart-vms", "VMs by type and state (stacked)", "VMs (mean per point)", vms.series, vms.n,
         true, 0, NULL, 0},
        {"chart-faas", "Function invocations, cold starts and throttles", events, faas_series,
         SW_ARRAY_LEN(faas_series), false, 0, NULL, 0},
        {"chart-cost", "Cumulative cost by resource", "cost (USD)", cost_series,
         SW_ARRAY_LEN(cost_series), false, 0, NULL, 0},
        /* Capped so one cold-start minute does not flatten the rest against the axis. */
        {"chart-latency", "Latency per interval against the SLO", "latency (ms)", latency_series,
         SW_ARRAY_LEN(latency_series), false, s->slo_ms, "SLO",
         fmax(3 * s->slo_ms, 1.2 * s->latency_p999_ms)},
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
    const sw_run_summary_t *s = &rep->sum;
    fputs("<h2>Whole-run latency distribution</h2>\n", f);
    if (s->n_cdf < 2) {
        fputs("<p>summary.json has no latency_cdf_ms: re-run to draw it.</p>\n", f);
        return;
    }
    double xmax = 0;
    double *ms = sw_malloc(s->n_cdf * sizeof(double)), *q = sw_malloc(s->n_cdf * sizeof(double));
    for (size_t i = 0; i < s->n_cdf; i++) {
        q[i] = s->cdf[i].quantile;
        ms[i] = s->cdf[i].ms;
        if (q[i] <= 0.999 || xmax == 0)
            xmax = fmax(xmax, ms[i]);
    }
    xmax = sw_svg_nice_ceil(fmax(xmax, s->slo_ms) * 1.05);
    sw_svg_plot_t p = report_plot(f, xmax, 1);
    char slo[48];
    snprintf(slo, sizeof(slo), "SLO %g ms", s->slo_ms);
    const sw_svg_key_t keys[] = {{"CDF", "#1f77b4", 1}, {slo, "#c00", 1}};
    sw_svg_begin(&p, "chart-latency-cdf", SW_RUN_REPORT_SVG_W, SW_RUN_REPORT_SVG_H,
                 "Whole-run latency CDF", NULL, keys, SW_ARRAY_LEN(keys));
    sw_svg_ticks_t xt = sw_svg_ticks_fifths(xmax);
    sw_svg_ticks_t yt = {.first = 0, .step = 0.2, .n = 6, .label_scale = 100, .suffix = " %"};
    sw_svg_axes(&p, &xt, &yt, "latency (ms; axis ends near the p99.9)",
                "requests answered within (%)");
    sw_svg_line(&p, &(sw_svg_series_t){"cdf", "#1f77b4", .width = 1.6}, ms, q, s->n_cdf);
    sw_svg_vline(&p, s->slo_ms, "slo");
    sw_svg_end(&p);
    sw_free(ms);
    sw_free(q);
}

/* ---- the summary table ------------------------------------------------------------- */

static void put_row(FILE *f, const char *name, const char *fmt, ...) SW_PRINTF(3, 4);
static void put_row(FILE *f, const char *name, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fputs("<tr><th>", f);
    sw_svg_escaped(f, name);
    fputs("</th><td>", f);
    sw_svg_escaped(f, buf);
    fputs("</td></tr>\n", f);
}

/* Cost over each bound: over the oracle it mixes not knowing the future with the cloud's
 * boots and minimums; over the clairvoyant bound only the first is left. */
static void put_bound_rows(FILE *f, const sw_run_report_t *rep)
{
    static const char *const row[2] = {"cost relative to the oracle",
                                       "cost relative to the clairvoyant bound"};
    const char *policy = rep->sum.policy;
    for (int i = 0; i < 2; i++) {
        if (policy && strcmp(policy, bound_policy[i]) == 0)
            put_row(f, row[i], "1.00x (this run is the %s)", bound_policy[i]);
        else if (rep->bound_cost_usd[i] > 0)
            put_row(f, row[i], "%.2fx (%s $%.2f, run %s)", rep->sum.cost_usd / rep->bound_cost_usd[i],
                    bound_policy[i], rep->bound_cost_usd[i], rep->bound_run[i]);
        else
            put_row(f, row[i], "unknown: pass --oracle DIR, a `simulate --policy %s` run of this "
                    "trace", bound_policy[i]);
    }
}

/* A live run's own figures: what its HTTP callers saw, and how long batches took on
 * each instance type against the profile the policy planned with. */
static void put_serve_rows(FILE *f, const sw_run_serve_t *sv)
{
    put_row(f, "wall time (live)", "%.1f s", sv->wall_s);
    put_row(f, "calls",
            "%" PRIu64 " accepted: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
            " timed out, %" PRIu64 " abandoned",
            sv->calls_accepted, sv->calls_ok, sv->calls_failed, sv->calls_timed_out,
            sv->calls_abandoned);
    put_row(f, "call latency p50 / p99", "%.1f / %.1f ms", sv->call_p50_ms, sv->call_p99_ms);
    for (size_t i = 0; i < sv->n_batch_time; i++) {
        const sw_run_batch_time_t *b = &sv->batch_time[i];
        char name[128];
        snprintf(name, sizeof(name), "batch time %.96s", b->type);
        if (b->batches == 0)
            put_row(f, name, "no batch ran");
        else
            put_row(f, name,
                    "observed %.2f ms vs planned %.2f ms (worker compute %.2f ms), mean of "
                    "%" PRIu64 " batches",
                    b->observed_ms, b->planned_ms, b->compute_ms, b->batches);
    }
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
                s->slo_met ? "met" : "missed");
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
    if (isfinite(s->vm_launches_per_hour))
        put_row(f, "VM launches per hour", "%.1f", s->vm_launches_per_hour);
    put_bound_rows(f, rep);
    if (s->source == SW_RUN_LIVE)
        put_serve_rows(f, &s->serve);
    fputs("</table>\n", f);
}

/* ---- the page ---------------------------------------------------------------------- */

static const char page_style[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}"
    "table.summary{border-collapse:collapse}"
    "table.summary th,table.summary td{border:1px solid #ccc;padding:3px 10px;text-align:left}"
    "h2{font-size:16px;margin:24px 0 4px}";

static void put_page(FILE *f, const sw_run_report_t *rep)
{
    const sw_run_summary_t *s = &rep->sum;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<title>Spillway report: ");
    sw_svg_escaped(f, rep->run_name);
    fprintf(f,
            "</title>\n<style>%s%s</style>\n</head>\n<body>\n<h1>Spillway report</h1>\n<p>%s run ",
            page_style, sw_svg_style, sw_run_source_name(s->source));
    sw_svg_escaped(f, rep->run_name);
    fputs(", policy ", f);
    sw_svg_escaped(f, s->policy ? s->policy : "?");
    fputs(", trace ", f);
    sw_svg_escaped(f, s->trace ? s->trace : "?");
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
