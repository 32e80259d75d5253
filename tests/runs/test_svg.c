/* Tests for runs/svg.c, the plotter report and compare share: the scale that maps values
 * to pixels (which the report's tests rely on), clamping, escaping of everything that
 * comes from data, the legend's wrapping and the plot's shift below it, round ticks, and
 * scatter labels kept apart. Output goes to a memory stream. */
#include "runs/svg.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *buf;
static size_t len;
static FILE *out;

static void setup(void)
{
    out = open_memstream(&buf, &len);
    cr_assert_not_null(out);
}

static void teardown(void)
{
    if (out)
        fclose(out);
    free(buf);
}

TestSuite(runs_svg, .init = setup, .fini = teardown);

/* What was written so far, NUL-terminated. */
static const char *text(void)
{
    fflush(out);
    return buf;
}

static sw_svg_plot_t plot(double x1, double y0, double y1)
{
    return (sw_svg_plot_t){
        .f = out, .left = 80, .top = 40, .width = 850, .height = 240, .x1 = x1, .y0 = y0, .y1 = y1};
}

Test(runs_svg, scale_maps_the_data_range_onto_the_plot_area)
{
    sw_svg_plot_t p = plot(100, 0, 50);
    cr_assert_float_eq(sw_svg_x(&p, 0), 80, 1e-9);
    cr_assert_float_eq(sw_svg_x(&p, 50), 505, 1e-9);
    cr_assert_float_eq(sw_svg_y(&p, 0), 280, 1e-9, "y grows upwards");
    cr_assert_float_eq(sw_svg_y(&p, 25), 160, 1e-9);
    cr_assert_float_eq(sw_svg_y(&p, 50), 40, 1e-9);
    p = plot(1, 0.85, 1);
    cr_assert_float_eq(sw_svg_y(&p, 0.85), 280, 1e-9, "a range that does not start at 0");
}

/* Points past the range are drawn at its edge; the polyline's points are "x,y" pairs. */
Test(runs_svg, line_points_are_clamped_to_the_range)
{
    sw_svg_plot_t p = plot(10, 0, 100);
    const double x[] = {0, 5, 20}, y[] = {50, 250, -3};
    sw_svg_line(&p, &(sw_svg_series_t){"s", "#123456", .dashed = true}, x, y, 3);
    const char *t = text();
    cr_assert_not_null(strstr(t, "points=\"80.0,160.0 505.0,40.0 930.0,280.0\""), "%s", t);
    cr_assert_not_null(strstr(t, "stroke-dasharray=\"5,3\""));
    cr_assert_not_null(strstr(t, "stroke-width=\"1.3\""), "the default width");
}

/* A timeline column, a policy or a folder name ends up in the page: every piece of text
 * the plotter writes is escaped, attribute values included. */
Test(runs_svg, text_from_data_is_escaped_everywhere)
{
    static const char evil[] = "a\"><script>x</script>&'";
    sw_svg_plot_t p = plot(1, 0, 1);
    const sw_svg_key_t keys[] = {{evil, "#000", 1}};
    sw_svg_begin(&p, evil, 960, 340, evil, NULL, keys, 1);
    sw_svg_ticks_t t = sw_svg_ticks_fifths(1);
    t.suffix = evil;
    sw_svg_axes(&p, &t, &t, evil, evil);
    const double xs[] = {0.5}, ys[] = {0.5};
    sw_svg_line(&p, &(sw_svg_series_t){evil, "#000"}, xs, ys, 1);
    sw_svg_band(&p, &(sw_svg_series_t){evil, "#000"}, xs, ys, ys, 1);
    sw_svg_hline(&p, 0.5, evil, evil);
    sw_svg_vline(&p, 0.5, evil);
    sw_svg_scatter(&p, &(sw_svg_point_t){0.5, 0.5, evil, evil, "#000"}, 1);
    sw_svg_note(&p, evil);
    sw_svg_end(&p);
    const char *s = text();
    cr_assert_null(strstr(s, "<script"), "%s", s);
    cr_assert_not_null(
        strstr(s, "data-series=\"a&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;&#39;\""));
}

/* Many entries wrap inside the plot's width; rows that do not fit above the plot grow the
 * svg and move the plot down in a group, so its own coordinates stay put. */
Test(runs_svg, legend_wraps_and_moves_the_plot_down)
{
    sw_svg_plot_t p = plot(1, 0, 1);
    sw_svg_key_t keys[12];
    for (size_t i = 0; i < 12; i++)
        keys[i] = (sw_svg_key_t){"m5.12xlarge running", "#2ca02c", 0.9};
    int rows = sw_svg_legend_rows(&p, keys, 12);
    cr_assert_eq(rows, 3, "159 px an entry, 5 to a row of 850 px");
    sw_svg_begin(&p, "c", 960, 340, "t", "data-x=\"1\"", keys, 12);
    sw_svg_end(&p);
    /* Two rows past the one that fits above a plot 40 px down: 32 px. */
    const char *s = text();
    cr_assert_not_null(strstr(s, "<svg id=\"c\" width=\"960\" height=\"372\" viewBox=\"0 0 960 "
                                 "372\" data-x=\"1\" role=\"img\">"),
                       "%s", s);
    cr_assert_not_null(strstr(s, "<g transform=\"translate(0,32)\">"));
    cr_assert_not_null(strstr(s, "</g>\n</svg>\n"));

    /* A plot 20 px down has no room for even one row above it. */
    sw_svg_plot_t q = plot(1, 0, 1);
    q.top = 20;
    sw_svg_begin(&q, NULL, 720, 440, "t", NULL, keys, 1);
    sw_svg_end(&q);
    s = text();
    cr_assert_not_null(strstr(s, "<svg width=\"720\" height=\"460\""), "%s", s);
    cr_assert_not_null(strstr(s, "<g transform=\"translate(0,20)\">"));
    size_t before = strlen(s);
    sw_svg_plot_t none = plot(1, 0, 1);
    sw_svg_begin(&none, NULL, 720, 440, "t", NULL, NULL, 0);
    sw_svg_end(&none);
    s = text();
    cr_assert_null(strstr(s + before, "<g"), "no legend, no group: %s", s + before);
    cr_assert_not_null(strstr(s + before, "height=\"440\""));
}

Test(runs_svg, ticks_fall_on_round_numbers)
{
    cr_assert_float_eq(sw_svg_nice_ceil(0), 1, 1e-12);
    cr_assert_float_eq(sw_svg_nice_ceil(2.2), 2.5, 1e-12);
    cr_assert_float_eq(sw_svg_nice_ceil(240), 250, 1e-9);
    cr_assert_float_eq(sw_svg_nice_ceil(7), 10, 1e-12);
    cr_assert_float_eq(sw_svg_nice_step(1.08, 6), 0.2, 1e-12);
    cr_assert_float_eq(sw_svg_nice_step(0.0345, 6), 0.01, 1e-12);

    sw_svg_ticks_t t = sw_svg_ticks_stepped(0.85, 1, 0.05, 100);
    cr_assert_eq(t.n, 4);
    cr_assert_eq(t.decimals, 0, "5 % steps need no decimals");
    t = sw_svg_ticks_stepped(0, 0.002, 0.0005, 1);
    cr_assert_eq(t.n, 5);
    cr_assert_eq(t.decimals, 4);

    const char *unit;
    t = sw_svg_ticks_time(3600, &unit);
    cr_assert_str_eq(unit, "min");
    cr_assert_float_eq(t.step, 360, 1e-9, "every 6 min");
    cr_assert_eq(t.n, 11);
    t = sw_svg_ticks_time(7 * 86400, &unit);
    cr_assert_str_eq(unit, "days");
    cr_assert_eq(t.n, 8);
    t = sw_svg_ticks_time(0, &unit);
    cr_assert_eq(t.n, 1, "a run of one interval still has a tick");

    char b[32];
    sw_svg_fmt_short(b, sizeof b, 50000);
    cr_assert_str_eq(b, "50k");
    sw_svg_fmt_short(b, sizeof b, 2.5e6);
    cr_assert_str_eq(b, "2.5M");
    sw_svg_fmt_short(b, sizeof b, 1440);
    cr_assert_str_eq(b, "1440");
}

/* The time axis's labels are in its unit; percent ticks carry their suffix. */
Test(runs_svg, axes_label_each_tick)
{
    sw_svg_plot_t p = plot(7200, 0, 1);
    const char *unit;
    sw_svg_ticks_t x = sw_svg_ticks_time(7200, &unit);
    sw_svg_ticks_t y = {.first = 0, .step = 0.2, .n = 6, .label_scale = 100, .suffix = " %"};
    sw_svg_axes(&p, &x, &y, "time", "share");
    const char *s = text();
    cr_assert_not_null(strstr(s, "class=\"xt\">120</text>"), "%s", s);
    cr_assert_not_null(strstr(s, "class=\"yt\">60 %</text>"), "%s", s);
    cr_assert_not_null(strstr(s, "<rect x=\"80\" y=\"40\" width=\"850\" height=\"240\" "
                                 "class=\"frame\"/>"));
}

/* Two runs at the same point: both circles drawn, their labels not on top of each other. */
Test(runs_svg, scatter_labels_of_coincident_points_do_not_overlap)
{
    sw_svg_plot_t p = plot(2, 0.8, 1);
    const sw_svg_point_t pts[] = {{1, 0.9, "static slo=150", "simulated", "steelblue"},
                                  {1, 0.9, "static slo=300", "live", "#d95f02"}};
    sw_svg_scatter(&p, pts, 2);
    const char *s = text();
    cr_assert_not_null(strstr(s, "<circle data-series=\"live\" cx=\"505.0\" cy=\"160.0\" r=\"5\" "
                                 "fill=\"#d95f02\"><title>static slo=300</title></circle>"),
                       "%s", s);
    double x[2], y[2];
    const char *q = s;
    for (int i = 0; i < 2; i++) {
        q = strstr(q, "<text x=\"");
        cr_assert_not_null(q);
        cr_assert_eq(sscanf(q, "<text x=\"%lf\" y=\"%lf\"", &x[i], &y[i]), 2);
        q++;
    }
    cr_assert(x[0] != x[1] || y[0] - y[1] >= 13 || y[1] - y[0] >= 13, "labels overlap");
}
