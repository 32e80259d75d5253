/* `spillway report`: one self-contained HTML page for a finished run directory (the
 * summary.json and timeline.csv that `spillway simulate --out DIR` and `spillway serve
 * --out DIR` write): a summary table (with a live run's calls and batch times) and inline
 * SVG charts drawn with runs/svg.h, so the page opens from disk with no network and no
 * scripts. Long runs are aggregated to at most SW_RUN_REPORT_MAX_POINTS points per series. */
#ifndef SW_RUNS_REPORT_H
#define SW_RUNS_REPORT_H

#include <stddef.h>

#include "common/common.h"

typedef struct sw_run_report sw_run_report_t;

/* Plot geometry, public so tests can map an SVG coordinate back to a value: a value v on a
 * chart whose <svg> carries data-ymax="M" is drawn at
 * y = SW_RUN_REPORT_PLOT_TOP + SW_RUN_REPORT_PLOT_H * (1 - v / M) (runs/svg.h's scale, with
 * the report's plot area). */
enum {
    SW_RUN_REPORT_MAX_POINTS = 1000,
    SW_RUN_REPORT_SVG_W = 960,
    SW_RUN_REPORT_SVG_H = 340,
    SW_RUN_REPORT_PLOT_LEFT = 80,
    SW_RUN_REPORT_PLOT_TOP = 40,
    SW_RUN_REPORT_PLOT_W = 850,
    SW_RUN_REPORT_PLOT_H = 240,
};

/* Reads RUN_DIR/summary.json (with sw_run_summary_load) and RUN_DIR/timeline.csv (columns
 * found by header name).
 * Returns 0 and a report in *out (free with sw_run_report_destroy), or a negative error with
 * a message naming the file (and line) in errbuf: -ENOENT (or another -errno) when a file
 * cannot be opened, SW_EPARSE when it is malformed. Any thread. */
int sw_run_report_load(sw_run_report_t **out, const char *run_dir, char *errbuf,
                       size_t errlen) SW_MUST_USE;

/* Loads a bound's run of the same trace, `simulate --policy oracle` or `--policy
 * clairvoyant`, so the summary can state this run's cost relative to it (one of each may
 * be set; a second of the same kind replaces the first). Returns 0, or a negative error
 * naming the file when the directory is neither or replayed another trace (different
 * trace name or request count). */
int sw_run_report_set_bound(sw_run_report_t *rep, const char *bound_run_dir, char *errbuf,
                            size_t errlen) SW_MUST_USE;

/* Writes the HTML page to `path`. Returns 0, or a negative errno with a message naming the
 * file; a partly written file is removed. */
int sw_run_report_write(const sw_run_report_t *rep, const char *path, char *errbuf,
                        size_t errlen) SW_MUST_USE;

/* Number of timeline rows read (before aggregation). */
size_t sw_run_report_rows(const sw_run_report_t *rep);

void sw_run_report_destroy(sw_run_report_t *rep);

#endif
