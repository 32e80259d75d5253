/* A trace as a per-interval count series, for fitting and scoring forecasters. It reuses
 * the streaming reader so every format, window and rate scale behaves exactly as in a
 * simulation: the forecaster is judged on the very load the simulator would replay. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runs/trace.h"

int sw_trace_read_series(const char *path, const sw_trace_opts_t *opts, double interval_s,
                         double **out, size_t *n, char *errbuf, size_t errlen)
{
    if (!(interval_s > 0)) {
        snprintf(errbuf, errlen, "interval must be > 0 s, got %g", interval_s);
        return -EINVAL;
    }
    sw_trace_t *t;
    int rc = sw_trace_open(&t, path, opts, errbuf, errlen);
    if (rc < 0)
        return rc;
    sw_time_t width = sw_s_to_time(interval_s);
    double *v = NULL;
    size_t len = 0, cap = 0;
    sw_time_t at;
    while ((rc = sw_trace_next(t, &at)) == 1) {
        size_t k = (size_t)(at / width);
        if (k >= SW_TRACE_MAX_SERIES) {
            snprintf(errbuf, errlen,
                     "%s: the trace spans more than %zu intervals of %g s, the "
                     "most a series may hold: use a longer interval",
                     path, (size_t)SW_TRACE_MAX_SERIES, interval_s);
            rc = -EINVAL;
            break;
        }
        if (k >= cap) {
            size_t ncap = SW_MAX(k + 1, cap * 2);
            v = sw_realloc(v, ncap * sizeof(*v));
            memset(v + cap, 0, (ncap - cap) * sizeof(*v));
            cap = ncap;
        }
        v[k]++;
        len = SW_MAX(len, k + 1);
    }
    if (rc < 0) {
        if (rc != -EINVAL || sw_trace_error(t)[0])
            snprintf(errbuf, errlen, "%s", sw_trace_error(t));
        sw_free(v);
    } else if (len == 0) {
        snprintf(errbuf, errlen, "%s: no arrivals in the trace (or its window)", path);
        sw_free(v);
        rc = -EINVAL;
    } else {
        *out = v;
        *n = len;
        rc = 0;
    }
    sw_trace_close(t);
    return rc;
}
