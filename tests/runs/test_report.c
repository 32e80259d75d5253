/* `spillway report`: structure of the generated page (every chart, no external reference,
 * points that map back to timeline.csv) and errors that name the bad file. */
/* nftw(), to clean up the test's run directories, is an X/Open extension. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runs/report.h"
#include "sim/sim.h"

static const char *const chart_ids[] = {"chart-arrivals", "chart-vms", "chart-faas", "chart-cost",
                                        "chart-latency"};

static const char summary_json[] =
    "{\"policy\":\"mark<&>\",\"trace\":\"t.txt\",\"requests\":300,\"served_vm\":250,"
    "\"served_faas\":50,\"slo_ms\":200.0,\"slo_target\":0.98,\"slo_attainment\":0.99,"
    "\"latency_ms\":{\"p50\":100,\"p99\":180,\"p999\":210},"
    "\"cost_usd\":{\"total\":1.5,\"vm\":1.0,\"faas\":0.5,\"by_type\":{\"c5.large\":1.0},"
    "\"per_million_requests\":5000},\"vm\":{\"billed_seconds\":7200},\"sim\":{}}";

static const char timeline_header[] =
    "time_s,end_s,arrivals,forecast,forecast_upper,forecast_max,forecast_max_upper,"
    "capacity_rps,running_c5.large,running_p2.xlarge,booting_c5.large,booting_p2.xlarge,"
    "draining_c5.large,draining_p2.xlarge,faas_invocations,cold_starts,throttled,served_vm,"
    "served_faas,rejected,slo_misses,latency_p50_ms,latency_p99_ms,cum_cost_usd,cum_vm_usd,"
    "cum_faas_usd\n";

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* A run directory with `rows` one-minute rows; arrivals of row i are 100 + 7 i. */
static void make_run(char *dir, size_t rows)
{
    strcpy(dir, "/tmp/sw-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    write_file(dir, "summary.json", summary_json);
    size_t cap = 256 + rows * 160;
    char *csv = malloc(cap), *p = csv;
    p += sprintf(p, "%s", timeline_header);
    for (size_t i = 0; i < rows; i++) {
        p += sprintf(p,
                     "%zu.000,%zu.000,%zu,90.00,0,0,0,2.5,1,2,1,0,0,1,%zu,1,0,80,20,0,1,"
                     "100.5,190.25,%.6f,%.6f,%.6f\n",
                     i * 60, i * 60 + 60, 100 + 7 * i, i % 5, 0.01 * (double)(i + 1),
                     0.008 * (double)(i + 1), 0.002 * (double)(i + 1));
    }
    write_file(dir, "timeline.csv", csv);
    free(csv);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Deletes a run directory the test made, with everything in it. */
static void remove_run(const char *dir)
{
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static char *generate(const char *dir)
{
    sw_run_report_t *rep;
    char err[1024], out[512];
    cr_assert_eq(sw_run_report_load(&rep, dir, err, sizeof(err)), 0, "%s", err);
    snprintf(out, sizeof(out), "%s/report.html", dir);
    cr_assert_eq(sw_run_report_write(rep, out, err, sizeof(err)), 0, "%s", err);
    sw_run_report_destroy(rep);
    return read_all(out);
}

/* The y values of series `key` in chart `id`; returns the point count. */
static size_t series_points(const char *html, const char *id, const char *key, double *ymax,
                            double *ys, size_t max)
{
    char needle[128];
    snprintf(needle, sizeof(needle), "<svg id=\"%s\"", id);
    const char *svg = strstr(html, needle);
    cr_assert_not_null(svg, "no %s", id);
    const char *end = strstr(svg, "</svg>");
    const char *ym = strstr(svg, "data-ymax=\"");
    cr_assert(ym && ym < end);
    *ymax = strtod(ym + strlen("data-ymax=\""), NULL);
    snprintf(needle, sizeof(needle), "data-series=\"%s\"", key);
    const char *s = strstr(svg, needle);
    cr_assert(s && s < end, "no series %s in %s", key, id);
    const char *p = strstr(s, "points=\"");
    cr_assert_not_null(p);
    p += strlen("points=\"");
    size_t n = 0;
    while (*p != '"') {
        char *next;
        strtod(p, &next); /* x */
        cr_assert_eq(*next, ',');
        double y = strtod(next + 1, &next);
        if (n < max)
            ys[n] = y;
        n++;
        p = next;
        while (*p == ' ')
            p++;
    }
    return n;
}

static double expect_y(double v, double ymax)
{
    return SW_RUN_REPORT_PLOT_TOP + SW_RUN_REPORT_PLOT_H * (1 - v / ymax);
}

static void check_self_contained(const char *html)
{
    for (size_t i = 0; i < sizeof(chart_ids) / sizeof(chart_ids[0]); i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "id=\"%s\"", chart_ids[i]);
        cr_assert_not_null(strstr(html, needle), "missing %s", chart_ids[i]);
    }
    cr_assert_null(strstr(html, "http://"));
    cr_assert_null(strstr(html, "https://"));
    cr_assert_null(strstr(html, "<script"));
    cr_assert_null(strstr(html, "<link"));
}

Test(sim_report, charts_present_and_points_match_timeline)
{
    char dir[64];
    make_run(dir, 45);
    char *html = generate(dir);
    check_self_contained(html);
    cr_assert_not_null(strstr(html, "mark&lt;&amp;&gt;"), "policy name is escaped");
    cr_assert_null(strstr(html, "mark<&>"));
    double ymax, ys[64];
    size_t n = series_points(html, "chart-arrivals", "arrivals", &ymax, ys, 64);
    cr_assert_eq(n, 45);
    cr_assert_float_eq(ys[0], expect_y(100, ymax), 0.051);
    cr_assert_float_eq(ys[44], expect_y(100 + 7 * 44, ymax), 0.051);
    /* Capacity is a rate: 2.5 rps over a 60 s row is 150 requests per interval. */
    n = series_points(html, "chart-arrivals", "capacity", &ymax, ys, 64);
    cr_assert_eq(n, 45);
    cr_assert_float_eq(ys[0], expect_y(150, ymax), 0.051);
    /* This hand-written summary has no latency_cdf_ms: the page says how to get it. */
    cr_assert_not_null(strstr(html, "has no latency_cdf_ms"));
    free(html);
    remove_run(dir);
}

/* Every row holds running 1 c5.large + 2 p2.xlarge, booting 1 c5.large, draining 1
 * p2.xlarge: one band per type and state that held a VM, stacked running first. */
Test(sim_report, vms_stacked_by_type_and_state)
{
    char dir[64];
    make_run(dir, 10);
    char *html = generate(dir);
    double ymax, ys[64];
    static const struct {
        const char *key;
        double top;
    } bands[] = {{"running_c5.large", 1},
                 {"running_p2.xlarge", 3},
                 {"booting_c5.large", 4},
                 {"draining_p2.xlarge", 5}};
    for (size_t i = 0; i < SW_ARRAY_LEN(bands); i++) {
        size_t n = series_points(html, "chart-vms", bands[i].key, &ymax, ys, 64);
        cr_assert_eq(n, 20, "%s: a band is the top edge then the bottom edge", bands[i].key);
        cr_assert_float_eq(ys[0], expect_y(bands[i].top, ymax), 0.051, "%s", bands[i].key);
        cr_assert_float_eq(ys[19], expect_y(bands[i].top - (i == 1 ? 2 : 1), ymax), 0.051);
    }
    /* States that never held a VM of a type are left out of chart and legend. */
    cr_assert_null(strstr(html, "data-series=\"booting_p2.xlarge\""));
    cr_assert_null(strstr(html, "data-series=\"draining_c5.large\""));
    cr_assert_not_null(strstr(html, ">p2.xlarge draining</text>"));
    free(html);
    remove_run(dir);
}

/* Twelve instance types: the legend wraps onto rows inside the chart's width, the chart
 * grows by those rows, and no two legend entries overlap. */
Test(sim_report, many_types_wrap_the_legend)
{
    char dir[64];
    strcpy(dir, "/tmp/sw-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    write_file(dir, "summary.json", summary_json);
    char csv[8192], *p = csv;
    p += sprintf(p, "time_s,end_s,arrivals,forecast,capacity_rps");
    for (int t = 0; t < 12; t++)
        p += sprintf(p, ",running_m5.%dxlarge", t);
    p += sprintf(p, ",faas_invocations,cold_starts,throttled,latency_p50_ms,latency_p99_ms,"
                    "cum_cost_usd,cum_vm_usd,cum_faas_usd\n");
    for (int r = 0; r < 3; r++) {
        p += sprintf(p, "%d,%d,10,10,1", r * 60, r * 60 + 60);
        for (int t = 0; t < 12; t++)
            p += sprintf(p, ",1");
        p += sprintf(p, ",0,0,0,1,2,0.1,0.1,0\n");
    }
    write_file(dir, "timeline.csv", csv);
    char *html = generate(dir);
    const char *svg = strstr(html, "<svg id=\"chart-vms\"");
    cr_assert_not_null(svg);
    int height = 0;
    cr_assert_eq(sscanf(strstr(svg, "height=\""), "height=\"%d\"", &height), 1);
    cr_assert_gt(height, SW_RUN_REPORT_SVG_H, "a wrapped legend makes the chart taller");
    const char *legend = strstr(svg, "<g class=\"legend\">"), *end = strstr(legend, "</g>");
    double xs[16], ys[16];
    size_t n = 0;
    for (const char *q = strstr(legend, "<rect x=\""); q && q < end && n < 16;
         q = strstr(q + 1, "<rect x=\"")) {
        cr_assert_eq(sscanf(q, "<rect x=\"%lf\" y=\"%lf\"", &xs[n], &ys[n]), 2);
        n++;
    }
    cr_assert_eq(n, 12);
    for (size_t i = 0; i < n; i++) {
        /* "m5.NNxlarge running" is at most 19 characters: 26 + 7 * 19 px an entry. */
        cr_assert_leq(xs[i] + 159, SW_RUN_REPORT_PLOT_LEFT + SW_RUN_REPORT_PLOT_W + 1.0);
        for (size_t k = 0; k < i; k++)
            cr_assert(ys[i] != ys[k] || fabs(xs[i] - xs[k]) >= 26 + 7 * 18,
                      "legend entries %zu and %zu overlap", k, i);
    }
    free(html);
    remove_run(dir);
}

static void write_bound_run(char *dir, const char *policy, const char *trace, double cost)
{
    strcpy(dir, "/tmp/sw-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char json[1024];
    snprintf(json, sizeof json,
             "{\"policy\":\"%s\",\"trace\":\"%s\",\"requests\":300,\"served_vm\":300,"
             "\"served_faas\":0,\"slo_ms\":200.0,\"slo_target\":0.98,\"slo_attainment\":1,"
             "\"latency_ms\":{\"p50\":100,\"p99\":150,\"p999\":160},"
             "\"cost_usd\":{\"total\":%g,\"vm\":%g,\"faas\":0,\"per_million_requests\":1},"
             "\"vm\":{\"billed_seconds\":3600},\"sim\":{}}",
             policy, trace, cost, cost);
    write_file(dir, "summary.json", json);
    write_file(dir, "timeline.csv", "time_s,end_s,arrivals,forecast,capacity_rps,"
                                    "running_c5.large,faas_invocations,cold_starts,throttled,"
                                    "latency_p50_ms,latency_p99_ms,cum_cost_usd,cum_vm_usd,"
                                    "cum_faas_usd\n0,60,300,300,5,1,0,0,0,100,150,1,1,0\n");
}

Test(sim_report, cost_relative_to_the_oracle_and_the_clairvoyant_bound)
{
    char dir[64], oracle[64], clair[64], other[64], out[128], err[1024];
    make_run(dir, 5); /* cost $1.50 */
    write_bound_run(oracle, "oracle", "t.txt", 1.2);
    write_bound_run(clair, "clairvoyant", "t.txt", 1.25);
    write_bound_run(other, "oracle", "another.csv", 1.2);
    char *html = generate(dir);
    cr_assert_not_null(strstr(html, "unknown: pass --oracle DIR, a `simulate --policy oracle`"),
                       "no oracle given");
    cr_assert_not_null(strstr(html, "unknown: pass --oracle DIR, a `simulate --policy "
                                    "clairvoyant`"), "no clairvoyant run given");
    free(html);
    sw_run_report_t *rep;
    cr_assert_eq(sw_run_report_load(&rep, dir, err, sizeof err), 0, "%s", err);
    cr_assert_lt(sw_run_report_set_bound(rep, other, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, "not the same trace"), "%s", err);
    cr_assert_lt(sw_run_report_set_bound(rep, dir, err, sizeof err), 0, "not a bound's run");
    cr_assert_not_null(strstr(err, "not oracle or clairvoyant"), "%s", err);
    cr_assert_eq(sw_run_report_set_bound(rep, oracle, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_run_report_set_bound(rep, clair, err, sizeof err), 0, "%s", err);
    snprintf(out, sizeof out, "%s/report.html", dir);
    cr_assert_eq(sw_run_report_write(rep, out, err, sizeof err), 0, "%s", err);
    sw_run_report_destroy(rep);
    html = read_all(out);
    cr_assert_not_null(strstr(html, "1.25x (oracle $1.20"), "1.50 / 1.20");
    cr_assert_not_null(strstr(html, "1.20x (clairvoyant $1.25"), "1.50 / 1.25");
    free(html);
    html = generate(oracle);
    cr_assert_not_null(strstr(html, "1.00x (this run is the oracle)"));
    free(html);
    html = generate(clair);
    cr_assert_not_null(strstr(html, "1.00x (this run is the clairvoyant)"));
    free(html);
    remove_run(dir);
    remove_run(oracle);
    remove_run(clair);
    remove_run(other);
}

Test(sim_report, long_runs_are_aggregated)
{
    char dir[64];
    make_run(dir, 2500); /* 3 rows per point: 834 points */
    char *html = generate(dir);
    check_self_contained(html);
    double ymax, ys[1000];
    size_t n = series_points(html, "chart-arrivals", "arrivals", &ymax, ys, 1000);
    cr_assert_eq(n, 834);
    cr_assert_float_eq(ys[0], expect_y(300 + 7 * 3, ymax), 0.051); /* rows 0..2 summed */
    /* Cumulative cost keeps the bucket's last value: the run's total at the last point. */
    n = series_points(html, "chart-cost", "total", &ymax, ys, 1000);
    cr_assert_float_eq(ys[n - 1], expect_y(25.0, ymax), 0.051);
    free(html);
    remove_run(dir);
}

Test(sim_report, missing_timeline_names_the_file)
{
    char dir[64], path[128], err[1024];
    make_run(dir, 3);
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    cr_assert_eq(unlink(path), 0);
    sw_run_report_t *rep;
    cr_assert_lt(sw_run_report_load(&rep, dir, err, sizeof(err)), 0);
    cr_assert_not_null(strstr(err, path), "%s", err);
    remove_run(dir);
}

Test(sim_report, malformed_line_names_file_and_line)
{
    char dir[64], err[1024], want[128];
    make_run(dir, 3);
    char csv[2048];
    snprintf(csv, sizeof(csv), "%s%s", timeline_header,
             "0,60,1,0,0,0,0,1,1,0,0,0,0,0,0,0,0,1,0,0,0,1,1,0,0,0\n"
             "60,120,x2,0,0,0,0,1,1,0,0,0,0,0,0,0,0,1,0,0,0,1,1,0,0,0\n");
    write_file(dir, "timeline.csv", csv);
    sw_run_report_t *rep;
    cr_assert_eq(sw_run_report_load(&rep, dir, err, sizeof(err)), SW_EPARSE);
    snprintf(want, sizeof(want), "%s/timeline.csv:3:", dir);
    cr_assert_not_null(strstr(err, want), "%s", err);

    write_file(dir, "timeline.csv", "time_s,end_s,arrivals\n0,60,1\n");
    cr_assert_eq(sw_run_report_load(&rep, dir, err, sizeof(err)), SW_EPARSE);
    cr_assert_not_null(strstr(err, "missing column"), "%s", err);
    remove_run(dir);
}

Test(sim_report, real_simulation_run, .timeout = 300)
{
    char dir[64] = "/tmp/sw-report-sim-XXXXXX", err[8192];
    cr_assert_not_null(mkdtemp(dir));
    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load(SW_SOURCE_DIR "/config/example.yaml", &cfg, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(sw_cfg_set(cfg, "trace.duration_s", "1800", err, sizeof(err)), 0, "%s", err);
    sw_sim_opts_t opts = {.out_dir = dir};
    sw_sim_t *sim;
    cr_assert_eq(sw_sim_create(&sim, cfg, &opts, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sw_sim_run(sim, err, sizeof(err)), 0, "%s", err);
    sw_sim_destroy(sim);
    sw_cfg_destroy(cfg);

    sw_run_report_t *rep;
    cr_assert_eq(sw_run_report_load(&rep, dir, err, sizeof(err)), 0, "%s", err);
    size_t rows = sw_run_report_rows(rep);
    sw_run_report_destroy(rep);
    char *html = generate(dir);
    check_self_contained(html);
    double ymax, ys[4096];
    size_t n = series_points(html, "chart-arrivals", "arrivals", &ymax, ys, 4096);
    cr_assert_eq(n, rows);
    cr_assert_gt(rows, 1);

    /* First and last arrivals straight from the CSV. */
    char path[128];
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    char *csv = read_all(path);
    char *first = strchr(csv, '\n') + 1;
    double a0 = strtod(strchr(strchr(first, ',') + 1, ',') + 1, NULL);
    char *last = csv + strlen(csv) - 1;
    *last = '\0';
    last = strrchr(csv, '\n') + 1;
    double an = strtod(strchr(strchr(last, ',') + 1, ',') + 1, NULL);
    cr_assert_float_eq(ys[0], expect_y(a0, ymax), 0.051);
    cr_assert_float_eq(ys[n - 1], expect_y(an, ymax), 0.051);
    free(csv);
    free(html);
    remove_run(dir);
}

/* One cold-start minute at 50 s must not flatten the rest: the latency axis stops near
 * max(3 x SLO, 1.2 x p99.9) and says what it drew at its top. */
Test(sim_report, latency_axis_is_capped_and_says_so)
{
    char dir[64];
    strcpy(dir, "/tmp/sw-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    write_file(dir, "summary.json", summary_json); /* SLO 200 ms, p99.9 210 ms */
    char csv[4096], *p = csv;
    p += sprintf(p, "time_s,end_s,arrivals,forecast,capacity_rps,running_c5.large,"
                    "faas_invocations,cold_starts,throttled,latency_p50_ms,latency_p99_ms,"
                    "cum_cost_usd,cum_vm_usd,cum_faas_usd\n");
    for (int r = 0; r < 10; r++)
        p += sprintf(p, "%d,%d,10,10,1,1,0,0,0,100,%d,0.1,0.1,0\n", r * 60, r * 60 + 60,
                     r == 0 ? 50000 : 190);
    write_file(dir, "timeline.csv", csv);
    char *html = generate(dir);
    double ymax, ys[16];
    size_t n = series_points(html, "chart-latency", "p99", &ymax, ys, 16);
    cr_assert_eq(n, 10);
    cr_assert_float_eq(ymax, 1000.0, 1e-9, "nice ceiling of 3 x 200 ms");
    cr_assert_float_eq(ys[0], expect_y(1000, ymax), 0.051, "the spike is drawn at the top");
    cr_assert_float_eq(ys[1], expect_y(190, ymax), 0.051);
    cr_assert_not_null(strstr(html, "1 point above the axis, drawn at its top (highest 50k)"),
                       "the page says what it clipped");
    free(html);
    remove_run(dir);
}

/* ---- What a report refuses to draw (issue 10) -------------------------------------- */

/* Writes `text` as `name` into a fresh good run and expects the load to fail with rc and
 * a message naming the file and holding `part`. */
static void expect_refused(const char *name, const char *text, size_t len, int rc, const char *part)
{
    char dir[64], path[128], err[1024];
    make_run(dir, 3);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    sw_run_report_t *rep = (sw_run_report_t *)1;
    int got = sw_run_report_load(&rep, dir, err, sizeof(err));
    cr_assert_eq(got, rc, "%s: rc %d, want %d: %s", part, got, rc, err);
    cr_assert_null(rep);
    cr_assert(strstr(err, path) == err, "message does not start with %s: %s", path, err);
    cr_assert(strstr(err, part), "message \"%s\" lacks \"%s\"", err, part);
    remove_run(dir);
}

/* summary_json with `from` replaced by `to`. */
static void expect_summary_refused(const char *from, const char *to, const char *part)
{
    char text[2048];
    const char *at = strstr(summary_json, from);
    cr_assert_not_null(at, "%s", from);
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - summary_json), summary_json, to,
             at + strlen(from));
    expect_refused("summary.json", text, strlen(text), SW_EPARSE, part);
}

/* A summary with negative counts or impossible values used to be reported as it stood;
 * each is refused naming its field. */
Test(sim_report, summary_values_out_of_range_name_their_field)
{
    expect_summary_refused("\"requests\":300", "\"requests\":-5",
                           "requests: -5 must be a whole number >= 0");
    expect_summary_refused("\"requests\":300", "\"requests\":2.5",
                           "requests: 2.5 must be a whole number >= 0");
    expect_summary_refused("\"requests\":300", "\"requests\":18446744073709551616",
                           "too big integer");
    expect_summary_refused("\"served_faas\":50", "\"served_faas\":500",
                           "served_faas: 500 is more than requests 300");
    expect_summary_refused("\"slo_attainment\":0.99", "\"slo_attainment\":1.5",
                           "slo_attainment: 1.5 must be in [0, 1]");
    expect_summary_refused("\"slo_ms\":200.0", "\"slo_ms\":0", "slo_ms: 0 must be > 0");
    expect_summary_refused("\"total\":1.5", "\"total\":\"1.5\"",
                           "cost_usd.total: \"1.5\" must be a number");
    expect_summary_refused("\"total\":1.5", "\"total\":1e999", "real number overflow");
    expect_summary_refused("\"billed_seconds\":7200", "\"billed_seconds\":-1",
                           "vm.billed_seconds: -1 must be >= 0");
    expect_summary_refused("\"c5.large\":1.0", "\"c5.large\":-1.0",
                           "cost_usd.by_type: -1.0 must hold costs >= 0");
    expect_summary_refused(",\"per_million_requests\":5000", "",
                           "cost_usd.per_million_requests: missing");
    expect_summary_refused("\"policy\":\"mark<&>\"", "\"policy\":7", "policy: 7 must be a string");
    expect_summary_refused("\"requests\":300", "\"requests\":300,\"requests\":1",
                           "duplicate object key");
    expect_summary_refused("\"vm\":{\"billed_seconds\":7200}",
                           "\"vm\":{\"billed_seconds\":7200},\"latency_cdf_ms\":[[0.5,3],[2,1]]",
                           "latency_cdf_ms: [2,1] must be a [quantile in [0, 1], ms >= 0] pair");
}

/* Not JSON, or not a file: empty, binary with a NUL, nested past the parser's depth, a
 * folder where the file should be. */
Test(sim_report, summary_that_is_not_a_summary)
{
    expect_refused("summary.json", "", 0, SW_EPARSE, "summary.json:1:");
    expect_refused("summary.json", "{\"requests\":\0}", 15, SW_EPARSE, "summary.json:1:");
    expect_refused("summary.json", "[1, 2]", 6, SW_EPARSE, "not a JSON object");
    size_t deep = 100000;
    char *nest = malloc(deep);
    memset(nest, '[', deep);
    expect_refused("summary.json", nest, deep, SW_EPARSE, "maximum parsing depth reached");
    free(nest);
    char dir[64], path[128], err[1024];
    make_run(dir, 3);
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(mkdir(path, 0700), 0);
    sw_run_report_t *rep;
    cr_assert_eq(sw_run_report_load(&rep, dir, err, sizeof(err)), -EISDIR, "%s", err);
    cr_assert(strstr(err, "summary.json: is a directory, not a summary.json"), "%s", err);
    remove_run(dir);
}

/* One timeline row with `field` (0-based) replaced by `value`. */
static void expect_row_refused(int field, const char *value, const char *part)
{
    const char *row = "0,60,1,0,0,0,0,1,1,0,0,0,0,0,0,0,0,1,0,0,0,1,1,0,0,0";
    char text[2048], fields[26][32];
    int n = 0;
    for (const char *p = row; n < 26; n++) {
        size_t len = strcspn(p, ",");
        snprintf(fields[n], sizeof fields[n], "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    snprintf(fields[field], sizeof fields[field], "%s", value);
    size_t o = (size_t)snprintf(text, sizeof(text), "%s", timeline_header);
    for (int i = 0; i < 26; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", i ? "," : "", fields[i]);
    snprintf(text + o, sizeof(text) - o, "\n");
    expect_refused("timeline.csv", text, strlen(text), SW_EPARSE, part);
}

/* Counts whole and >= 0, everything finite, intervals with a length and in order; a
 * percentile may be NaN (no completions in the interval), nothing else. */
Test(sim_report, timeline_values_out_of_range_name_line_and_column)
{
    expect_row_refused(2, "-3", ":2: arrivals: '-3' must be a finite number >= 0");
    expect_row_refused(2, "2.5", ":2: arrivals: '2.5' must be a whole number");
    expect_row_refused(3, "nan", ":2: forecast: 'nan' must be a finite number >= 0");
    expect_row_refused(23, "inf", ":2: cum_cost_usd: 'inf' must be a finite number >= 0");
    expect_row_refused(8, "-1", ":2: running_c5.large: '-1' must be a finite number >= 0");
    expect_row_refused(1, "0", ":2: end_s 0 is not after time_s 0");
    expect_row_refused(2, "1e999", ":2: arrivals: '1e999' not a number");
    const char *back = "60,120,1,0,0,0,0,1,1,0,0,0,0,0,0,0,0,1,0,0,0,1,1,0,0,0\n"
                       "0,60,1,0,0,0,0,1,1,0,0,0,0,0,0,0,0,1,0,0,0,1,1,0,0,0\n";
    char text[2048];
    snprintf(text, sizeof text, "%s%s", timeline_header, back);
    expect_refused("timeline.csv", text, strlen(text), SW_EPARSE,
                   ":3: time_s 0 is before the previous row's 60");
    /* A NaN percentile is drawn at 0. */
    char dir[64];
    make_run(dir, 2);
    snprintf(text, sizeof text, "%s%s", timeline_header,
             "0,60,1,0,0,0,0,1,1,0,0,0,0,0,0,0,0,1,0,0,0,nan,nan,0,0,0\n");
    write_file(dir, "timeline.csv", text);
    free(generate(dir));
    remove_run(dir);
}

/* An unknown or repeated column was ignored in silence, and a NUL byte cut a line short. */
Test(sim_report, timeline_columns_unknown_repeated_or_binary)
{
    char text[4096];
    snprintf(text, sizeof text, "extra,%s", timeline_header);
    expect_refused("timeline.csv", text, strlen(text), SW_EPARSE,
                   ":1: unknown column 'extra': not a timeline.csv that spillway simulate "
                   "writes");
    snprintf(text, sizeof text, "arrivals,%s", timeline_header);
    expect_refused("timeline.csv", text, strlen(text), SW_EPARSE,
                   ":1: column 'arrivals' appears twice");
    snprintf(text, sizeof text, "running_c5.large,%s", timeline_header);
    expect_refused("timeline.csv", text, strlen(text), SW_EPARSE,
                   ":1: column 'running_c5.large' appears twice");
    size_t n = (size_t)snprintf(text, sizeof text, "%s0,60,1", timeline_header);
    text[n - 2] = '\0';
    expect_refused("timeline.csv", text, n, SW_EPARSE, ":2: a NUL byte: binary data");
}

/* A run in which no request arrived (a window inside a trace's hole) has no attainment: the
 * page says so rather than "100.000 % ... met". */
Test(sim_report, run_without_requests_reports_no_attainment)
{
    char dir[64], text[2048];
    make_run(dir, 3);
    const char *from = "\"requests\":300,\"served_vm\":250,\"served_faas\":50";
    const char *at = strstr(summary_json, from);
    cr_assert_not_null(at);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - summary_json), summary_json,
             "\"requests\":0,\"served_vm\":0,\"served_faas\":0", at + strlen(from));
    write_file(dir, "summary.json", text);
    char *html = generate(dir);
    cr_assert(strstr(html, "none: no request arrived in the run"), "no such row");
    cr_assert_null(strstr(html, "100.000 %"));
    free(html);
    remove_run(dir);
}

/* ---- A live run (issue 12): `spillway serve --out DIR` writes the same files ------------ */

/* summary_json as serve writes it: a "live" trace and a serve section instead of sim. */
static void make_live_run(char *dir)
{
    make_run(dir, 4);
    char text[4096];
    const char *sim = strstr(summary_json, ",\"sim\":{}}");
    cr_assert_not_null(sim);
    snprintf(text, sizeof text, "%.*s%s", (int)(sim - summary_json), summary_json,
             ",\"serve\":{\"wall_s\":240.5,\"calls\":{\"accepted\":290,\"ok\":280,"
             "\"failed\":4,\"timed_out\":5,\"abandoned\":1},"
             "\"call_latency_ms\":{\"p50\":101.5,\"p99\":187.25},"
             "\"batch_time_ms\":{\"c5.large\":{\"batches\":40,\"observed_ms\":61.5,"
             "\"planned_ms\":60,\"compute_ms\":55.25},\"p2.xlarge\":{\"batches\":0,"
             "\"observed_ms\":0,\"planned_ms\":0,\"compute_ms\":0}}}}");
    write_file(dir, "summary.json", text);
}

/* The page says the run was live and shows what only a live run has: its calls, their
 * latency, and per instance type the observed batch time against the planned one. */
Test(sim_report, live_run_shows_its_calls_and_batch_times)
{
    char dir[64];
    make_live_run(dir);
    char *html = generate(dir);
    check_self_contained(html);
    cr_assert_not_null(strstr(html, "<p>live run /tmp/sw-report-"), "the run is labelled live");
    static const char *const rows[] = {
        "<tr><th>wall time (live)</th><td>240.5 s</td></tr>",
        "<tr><th>calls</th><td>290 accepted: 280 ok, 4 failed, 5 timed out, 1 abandoned</td>",
        "<tr><th>call latency p50 / p99</th><td>101.5 / 187.2 ms</td></tr>",
        "<tr><th>batch time c5.large</th><td>observed 61.50 ms vs planned 60.00 ms (worker "
        "compute 55.25 ms), mean of 40 batches</td></tr>",
        "<tr><th>batch time p2.xlarge</th><td>no batch ran</td></tr>",
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(rows); i++)
        cr_assert_not_null(strstr(html, rows[i]), "no row %s", rows[i]);
    double ymax, ys[8];
    cr_assert_eq(series_points(html, "chart-arrivals", "arrivals", &ymax, ys, 8), 4);
    cr_assert_float_eq(ys[3], expect_y(100 + 7 * 3, ymax), 0.051);
    free(html);
    /* A simulated run has none of these rows. */
    remove_run(dir);
    make_run(dir, 4);
    html = generate(dir);
    cr_assert_not_null(strstr(html, "<p>simulated run "));
    cr_assert_null(strstr(html, "call latency"));
    free(html);
    remove_run(dir);
}

/* A timeline's column names reach the page as data-series attributes and legend text: a
 * hostile one is escaped, so the page still runs no script. */
Test(sim_report, column_names_cannot_inject_markup)
{
    char dir[64];
    strcpy(dir, "/tmp/sw-report-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    write_file(dir, "summary.json", summary_json);
    write_file(dir, "timeline.csv",
               "time_s,end_s,arrivals,forecast,capacity_rps,running_x\"><script>alert(1)</script>,"
               "faas_invocations,cold_starts,throttled,latency_p50_ms,latency_p99_ms,"
               "cum_cost_usd,cum_vm_usd,cum_faas_usd\n0,60,3,3,1,1,1,0,0,1,2,1,1,0\n");
    char *html = generate(dir);
    check_self_contained(html);
    cr_assert_not_null(
        strstr(html, "data-series=\"running_x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""));
    free(html);
    remove_run(dir);
}
