/* The one SVG plotter of the run tools: `spillway report` draws its charts and
 * `spillway compare` its cost-vs-attainment scatter with these calls, so both pages share
 * one look (sw_svg_style), one escaping and one way of mapping values to pixels. Output is
 * SVG text for an inline <svg> in an HTML page: no scripts, no external references.
 *
 * A chart is a plot area (left, top, width, height, in the svg's pixels) with a linear
 * scale on each axis: a value x is drawn at left + width * (x - x0) / (x1 - x0), and y at
 * top + height * (1 - (y - y0) / (y1 - y0)), so y grows upwards. A legend of more rows than
 * fit above the plot moves the plot down inside a translated group: the plot's own
 * coordinates never depend on the legend.
 *
 * Every call writes to the plot's stream; text and attribute values that come from data
 * are escaped here. Any thread, one plot each. */
#ifndef SW_RUNS_SVG_H
#define SW_RUNS_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/common.h"

/* CSS for the classes the plotter uses (frame, grid, tick and axis labels); each page
 * puts it in its <style>. */
extern const char sw_svg_style[];

typedef struct sw_svg_plot {
    FILE *f;
    int left, top, width, height; /* the plot area */
    double x0, x1, y0, y1;        /* the data range drawn across it; x1 > x0, y1 > y0 */
    int _shift;                   /* set by sw_svg_begin: the legend's extra rows, in px */
} sw_svg_plot_t;

/* Ticks along an axis: n values from `first`, `step` apart, each labelled with
 * value * label_scale (0: 1) in `decimals` decimals, or in a short form ("0.25", "1500",
 * "12.5k", "3.2M") when decimals < 0, followed by `suffix` (may be NULL). */
typedef struct sw_svg_ticks {
    double first, step;
    size_t n;
    double label_scale;
    int decimals;
    const char *suffix;
} sw_svg_ticks_t;

/* A legend entry: a swatch of `color` at `opacity` (0: 1) and its label. */
typedef struct sw_svg_key {
    const char *label, *color;
    double opacity;
} sw_svg_key_t;

/* A drawn series: `key` goes into the element's data-series attribute, for tests and
 * styles; a line is `width` px wide (0: 1.3), a band filled at `opacity` (0: 0.75). */
typedef struct sw_svg_series {
    const char *key, *color;
    bool dashed;
    double width, opacity;
} sw_svg_series_t;

/* A scatter point: `label` is its tooltip and the text set beside it, `key` its
 * data-series attribute. */
typedef struct sw_svg_point {
    double x, y;
    const char *label, *key, *color;
} sw_svg_point_t;

/* Writes s with &, <, >, " and ' escaped, for HTML or SVG text and attribute values. */
void sw_svg_escaped(FILE *f, const char *s);

/* Opens <svg id="id" (id may be NULL)> of width x height (plus the legend's extra rows),
 * with `attrs` written inside the tag as is (the caller's own markup, may be NULL) and a
 * <title>; then draws the legend (n_keys may be 0) and, when its rows do not fit above
 * the plot, opens the group that moves the plot down. Sets p->_shift. */
void sw_svg_begin(sw_svg_plot_t *p, const char *id, int width, int height, const char *title,
                  const char *attrs, const sw_svg_key_t *keys, size_t n_keys);
/* Closes what sw_svg_begin opened. */
void sw_svg_end(const sw_svg_plot_t *p);
/* The number of legend rows the keys take between x = left and left + width: an entry
 * wraps to a new row before it would pass the right edge. */
int sw_svg_legend_rows(const sw_svg_plot_t *p, const sw_svg_key_t *keys, size_t n_keys);

/* The frame, a grid line and a label at each tick, and the axis titles. */
void sw_svg_axes(const sw_svg_plot_t *p, const sw_svg_ticks_t *x, const sw_svg_ticks_t *y,
                 const char *xlabel, const char *ylabel);

/* The pixel of a data value on the x or y axis (not clamped). */
double sw_svg_x(const sw_svg_plot_t *p, double x);
double sw_svg_y(const sw_svg_plot_t *p, double y);

/* A polyline through (x[i], y[i]); values past the data range are drawn at its edge. */
void sw_svg_line(const sw_svg_plot_t *p, const sw_svg_series_t *s, const double *x, const double *y,
                 size_t n);
/* A filled band between lo[i] and hi[i] at each x[i] (a stacked area's layer). */
void sw_svg_band(const sw_svg_plot_t *p, const sw_svg_series_t *s, const double *x,
                 const double *lo, const double *hi, size_t n);
/* A dashed red reference line across the plot at y (hline) or x (vline), with
 * data-series="key" and, for hline, `label` (may be NULL) above its right end. */
void sw_svg_hline(const sw_svg_plot_t *p, double y, const char *key, const char *label);
void sw_svg_vline(const sw_svg_plot_t *p, double x, const char *key);
/* Points as circles with their label as tooltip, then each label beside its point where
 * it covers no other point or label, so a sweep's close points stay readable. */
void sw_svg_scatter(const sw_svg_plot_t *p, const sw_svg_point_t *pts, size_t n);
/* A line of text (escaped) right-aligned at the top right corner inside the plot. */
void sw_svg_note(const sw_svg_plot_t *p, const char *text);

/* Smallest 1, 2, 2.5 or 5 x 10^k at or above x (1 when x <= 0): an axis end that
 * divides into five readable ticks. */
double sw_svg_nice_ceil(double x);
/* Smallest 1, 2 or 5 x 10^k step that cuts span (> 0) into at most max_parts parts. */
double sw_svg_nice_step(double span, int max_parts);
/* Ticks from 0 to x1 in five equal steps, labelled in the short form. */
sw_svg_ticks_t sw_svg_ticks_fifths(double x1);
/* Ticks every `step` from x0 to x1 (both on the step), labelled with as many decimals as
 * step * label_scale needs. */
sw_svg_ticks_t sw_svg_ticks_stepped(double x0, double x1, double step, double label_scale);
/* Ticks for a time axis of span_s seconds from 0: in minutes up to 3 h, hours up to 3
 * days, days beyond, at most 11 of them; *unit is "min", "h" or "days". */
sw_svg_ticks_t sw_svg_ticks_time(double span_s, const char **unit);
/* v in the short form of tick labels, into buf. */
void sw_svg_fmt_short(char *buf, size_t len, double v);

#endif
