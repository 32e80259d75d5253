/* SVG drawing for the run tools' pages: scales, axes with round ticks, lines, stacked
 * bands, reference lines, a wrapping legend and a labelled scatter. Everything is printed
 * as text with at most one decimal of a pixel, which keeps pages small and lets tests map
 * a coordinate back to its value. */
#include "runs/svg.h"

#include <math.h>
#include <string.h>

const char sw_svg_style[] = "svg{display:block;font-size:12px}.frame{fill:none;stroke:#888}"
                            ".grid{stroke:#e4e4e4}.yt,.note{text-anchor:end}"
                            ".xt,.xl,.yl{text-anchor:middle}";

/* The legend's rows: the first swatch's top, the row pitch, and the gap kept between the
 * last row and the plot. Entries are ~7 px a character at 12 px sans. */
enum { LEGEND_Y = 14, LEGEND_ROW_H = 16, LEGEND_GAP = 10 };

static int key_width(const sw_svg_key_t *k)
{
    return 26 + 7 * (int)strlen(k->label);
}

void sw_svg_escaped(FILE *f, const char *s)
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

double sw_svg_x(const sw_svg_plot_t *p, double x)
{
    return p->left + p->width * (x - p->x0) / (p->x1 - p->x0);
}

double sw_svg_y(const sw_svg_plot_t *p, double y)
{
    return p->top + p->height * (1 - (y - p->y0) / (p->y1 - p->y0));
}

static double clamp(double v, double lo, double hi)
{
    return fmin(fmax(v, lo), hi);
}

/* ---- the chart's frame: <svg>, legend, axes ------------------------------------------ */

int sw_svg_legend_rows(const sw_svg_plot_t *p, const sw_svg_key_t *keys, size_t n_keys)
{
    int x = p->left, row = 0;
    for (size_t i = 0; i < n_keys; i++) {
        int w = key_width(&keys[i]);
        if (x > p->left && x + w > p->left + p->width) {
            x = p->left;
            row++;
        }
        x += w;
    }
    return n_keys ? row + 1 : 0;
}

/* Draws the legend above the plot, wrapping as sw_svg_legend_rows counts. */
static void put_legend(const sw_svg_plot_t *p, const sw_svg_key_t *keys, size_t n_keys)
{
    int x = p->left, row = 0;
    fputs("<g class=\"legend\">", p->f);
    for (size_t i = 0; i < n_keys; i++) {
        int w = key_width(&keys[i]);
        if (x > p->left && x + w > p->left + p->width) {
            x = p->left;
            row++;
        }
        int y = LEGEND_Y + row * LEGEND_ROW_H;
        fprintf(p->f,
                "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\" "
                "fill-opacity=\"%.2f\"/><text x=\"%d\" y=\"%d\">",
                x, y, keys[i].color, keys[i].opacity > 0 ? keys[i].opacity : 1.0, x + 18, y + 9);
        sw_svg_escaped(p->f, keys[i].label);
        fputs("</text>", p->f);
        x += w;
    }
    fputs("</g>\n", p->f);
}

void sw_svg_begin(sw_svg_plot_t *p, const char *id, int width, int height, const char *title,
                  const char *attrs, const sw_svg_key_t *keys, size_t n_keys)
{
    int rows = sw_svg_legend_rows(p, keys, n_keys);
    p->_shift = rows ? SW_MAX(0, LEGEND_Y + rows * LEGEND_ROW_H + LEGEND_GAP - p->top) : 0;
    fputs("<svg", p->f);
    if (id) {
        fputs(" id=\"", p->f);
        sw_svg_escaped(p->f, id);
        fputc('"', p->f);
    }
    fprintf(p->f, " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"%s%s role=\"img\">\n<title>",
            width, height + p->_shift, width, height + p->_shift, attrs ? " " : "",
            attrs ? attrs : "");
    sw_svg_escaped(p->f, title);
    fputs("</title>\n", p->f);
    if (n_keys)
        put_legend(p, keys, n_keys);
    if (p->_shift)
        fprintf(p->f, "<g transform=\"translate(0,%d)\">\n", p->_shift);
}

void sw_svg_end(const sw_svg_plot_t *p)
{
    if (p->_shift)
        fputs("</g>\n", p->f);
    fputs("</svg>\n", p->f);
}

static void tick_label(char *buf, size_t len, const sw_svg_ticks_t *t, double v)
{
    double shown = v * (t->label_scale != 0 ? t->label_scale : 1);
    if (t->decimals < 0)
        sw_svg_fmt_short(buf, len, shown);
    else
        snprintf(buf, len, "%.*f", t->decimals, shown);
}

/* A grid line and a label at each tick of one axis: vertical lines across the plot for
 * the x axis, horizontal ones for the y axis. */
static void put_ticks(const sw_svg_plot_t *p, const sw_svg_ticks_t *t, bool is_x)
{
    const int L = p->left, T = p->top, W = p->width, H = p->height;
    char buf[48];
    for (size_t i = 0; i < t->n; i++) {
        double v = t->first + (double)i * t->step;
        tick_label(buf, sizeof(buf), t, v);
        if (is_x) {
            double px = sw_svg_x(p, v);
            fprintf(p->f,
                    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                    "<text x=\"%.1f\" y=\"%d\" class=\"xt\">%s",
                    px, T, px, T + H, px, T + H + 16, buf);
        } else {
            double py = sw_svg_y(p, v);
            fprintf(p->f,
                    "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                    "<text x=\"%d\" y=\"%.1f\" class=\"yt\">%s",
                    L, py, L + W, py, L - 6, py + 4, buf);
        }
        sw_svg_escaped(p->f, t->suffix ? t->suffix : "");
        fputs("</text>\n", p->f);
    }
}

void sw_svg_axes(const sw_svg_plot_t *p, const sw_svg_ticks_t *x, const sw_svg_ticks_t *y,
                 const char *xlabel, const char *ylabel)
{
    const int L = p->left, T = p->top, W = p->width, H = p->height;
    FILE *f = p->f;
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", L, T, W,
            H);
    put_ticks(p, y, false);
    put_ticks(p, x, true);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"xl\">", L + W / 2, T + H + 40);
    sw_svg_escaped(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(18,%d) rotate(-90)\" class=\"yl\">",
            T + H / 2);
    sw_svg_escaped(f, ylabel);
    fputs("</text>\n", f);
}

/* ---- what is drawn on it ------------------------------------------------------------- */

static void open_series(const sw_svg_plot_t *p, const char *element, const sw_svg_series_t *s)
{
    fprintf(p->f, "<%s data-series=\"", element);
    sw_svg_escaped(p->f, s->key);
    fputs("\" ", p->f);
}

static void put_point(const sw_svg_plot_t *p, size_t i, double x, double y)
{
    fprintf(p->f, "%s%.1f,%.1f", i ? " " : "", sw_svg_x(p, clamp(x, p->x0, p->x1)),
            sw_svg_y(p, clamp(y, p->y0, p->y1)));
}

void sw_svg_line(const sw_svg_plot_t *p, const sw_svg_series_t *s, const double *x, const double *y,
                 size_t n)
{
    open_series(p, "polyline", s);
    fprintf(p->f, "fill=\"none\" stroke=\"%s\" stroke-width=\"%g\"%s points=\"", s->color,
            s->width > 0 ? s->width : 1.3, s->dashed ? " stroke-dasharray=\"5,3\"" : "");
    for (size_t i = 0; i < n; i++)
        put_point(p, i, x[i], y[i]);
    fputs("\"/>\n", p->f);
}

void sw_svg_band(const sw_svg_plot_t *p, const sw_svg_series_t *s, const double *x,
                 const double *lo, const double *hi, size_t n)
{
    open_series(p, "polygon", s);
    fprintf(p->f, "fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"%s\" stroke-width=\"0.4\" points=\"",
            s->color, s->opacity > 0 ? s->opacity : 0.75, s->color);
    /* Along the top edge, then back along the bottom one. */
    for (size_t i = 0; i < n; i++)
        put_point(p, i, x[i], hi[i]);
    for (size_t i = n; i-- > 0;)
        put_point(p, n, x[i], lo[i]);
    fputs("\"/>\n", p->f);
}

void sw_svg_hline(const sw_svg_plot_t *p, double y, const char *key, const char *label)
{
    double py = sw_svg_y(p, clamp(y, p->y0, p->y1));
    int right = p->left + p->width;
    fputs("<line data-series=\"", p->f);
    sw_svg_escaped(p->f, key);
    fprintf(p->f,
            "\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#c00\" "
            "stroke-dasharray=\"6,4\"/>\n",
            p->left, py, right, py);
    if (!label)
        return;
    fprintf(p->f, "<text x=\"%d\" y=\"%.1f\" fill=\"#c00\" text-anchor=\"end\">", right, py - 4);
    sw_svg_escaped(p->f, label);
    fputs("</text>\n", p->f);
}

void sw_svg_vline(const sw_svg_plot_t *p, double x, const char *key)
{
    double px = sw_svg_x(p, clamp(x, p->x0, p->x1));
    fputs("<line data-series=\"", p->f);
    sw_svg_escaped(p->f, key);
    fprintf(p->f,
            "\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" "
            "stroke-dasharray=\"6,4\"/>\n",
            px, p->top, px, p->top + p->height);
}

void sw_svg_note(const sw_svg_plot_t *p, const char *text)
{
    fprintf(p->f, "<text x=\"%d\" y=\"%d\" class=\"note\">", p->left + p->width - 4, p->top + 14);
    sw_svg_escaped(p->f, text);
    fputs("</text>\n", p->f);
}

/* ---- scatter labels ------------------------------------------------------------------ */

typedef struct box {
    double x0, y0, x1, y1;
} box_t;

static bool overlaps(const box_t *a, const box_t *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Places a point's label beside it where it hits no label or point placed before and stays
 * inside the plot (a little past its right edge and into the margin above), trying right
 * and left, then further above and below: sweeps put many points close together. Adds its
 * box to placed[n_placed] and returns the label's baseline origin. */
static void place_label(const sw_svg_plot_t *p, double cx, double cy, size_t len, box_t *placed,
                        size_t n_placed, double *lx, double *ly)
{
    double w = 6.6 * (double)len + 2, h = 13;
    for (int k = 0; k < 24; k++) {
        double dy = (k / 2 % 2 ? 1 : -1) * (6 + 14 * (k / 4)), x = k % 2 ? cx - 8 - w : cx + 8;
        box_t b = {x, cy + dy - h / 2, x + w, cy + dy + h / 2};
        bool ok = b.x0 >= p->left && b.x1 <= p->left + p->width + 20 && b.y0 >= p->top - 20 &&
                  b.y1 <= p->top + p->height;
        for (size_t i = 0; i < n_placed && ok; i++)
            ok = !overlaps(&b, &placed[i]);
        if (ok || k == 23) {
            placed[n_placed] = b;
            *lx = b.x0;
            *ly = b.y1 - 3;
            return;
        }
    }
}

void sw_svg_scatter(const sw_svg_plot_t *p, const sw_svg_point_t *pts, size_t n)
{
    /* Points first, as obstacles, so no label covers another run's point. */
    box_t *placed = sw_calloc(2 * n + 1, sizeof(*placed));
    for (size_t i = 0; i < n; i++) {
        double cx = sw_svg_x(p, pts[i].x), cy = sw_svg_y(p, pts[i].y);
        placed[i] = (box_t){cx - 5, cy - 5, cx + 5, cy + 5};
        fputs("<circle data-series=\"", p->f);
        sw_svg_escaped(p->f, pts[i].key);
        fprintf(p->f, "\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>", cx, cy,
                pts[i].color);
        sw_svg_escaped(p->f, pts[i].label);
        fputs("</title></circle>\n", p->f);
    }
    for (size_t i = 0; i < n; i++) {
        double lx, ly;
        place_label(p, sw_svg_x(p, pts[i].x), sw_svg_y(p, pts[i].y), strlen(pts[i].label), placed,
                    n + i, &lx, &ly);
        fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\">", lx, ly);
        sw_svg_escaped(p->f, pts[i].label);
        fputs("</text>\n", p->f);
    }
    sw_free(placed);
}

/* ---- round numbers ------------------------------------------------------------------- */

double sw_svg_nice_ceil(double x)
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

double sw_svg_nice_step(double span, int max_parts)
{
    double raw = span / max_parts, mag = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (size_t i = 0; i < SW_ARRAY_LEN(mult); i++) {
        if (mult[i] * mag >= raw * (1 - 1e-9))
            return mult[i] * mag;
    }
    return 10 * mag;
}

void sw_svg_fmt_short(char *buf, size_t len, double v)
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

sw_svg_ticks_t sw_svg_ticks_fifths(double x1)
{
    return (sw_svg_ticks_t){.first = 0, .step = x1 / 5, .n = 6, .decimals = -1};
}

sw_svg_ticks_t sw_svg_ticks_stepped(double x0, double x1, double step, double label_scale)
{
    int decimals = (int)fmax(0.0, -floor(log10(step * label_scale) + 1e-9));
    return (sw_svg_ticks_t){.first = x0,
                            .step = step,
                            .n = (size_t)llround((x1 - x0) / step) + 1,
                            .label_scale = label_scale,
                            .decimals = decimals};
}

/* The label unit comes from the span, and the step is the smallest that gives at most 10
 * steps, so labels stay apart from one hour to thirty days. */
sw_svg_ticks_t sw_svg_ticks_time(double span_s, const char **unit)
{
    double unit_s = 60;
    *unit = "min";
    if (span_s > 3 * 86400.0) {
        unit_s = 86400;
        *unit = "days";
    } else if (span_s > 3 * 3600.0) {
        unit_s = 3600;
        *unit = "h";
    }
    static const double steps[] = {0.25, 0.5, 1,  2,  3,   5,   6,   10,  12,  15,
                                   20,   24,  30, 60, 120, 180, 240, 360, 720, 1440};
    double span = span_s / unit_s, step = 1;
    for (size_t i = 0; i < SW_ARRAY_LEN(steps); i++) {
        step = steps[i];
        if (span / step <= 10)
            break;
    }
    size_t n = span_s > 0 ? (size_t)floor(span * (1 + 1e-9) / step) + 1 : 1;
    return (sw_svg_ticks_t){
        .first = 0, .step = step * unit_s, .n = n, .label_scale = 1 / unit_s, .decimals = -1};
}
