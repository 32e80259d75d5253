/* Allocation wrappers that make out-of-memory fatal, the monotonic clock, and error
 * strings. Kept tiny: everything here is on some hot path or in every binary. */
#include "common/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Noreturn void oom(size_t n, const char *file, int line)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    abort();
}

void *sw__malloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n, file, line);
    return p;
}

void *sw__calloc(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size, file, line);
    return p;
}

void *sw__realloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n, file, line);
    return q;
}

char *sw__strdup(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *d = sw__malloc(n, file, line);
    memcpy(d, s, n);
    return d;
}

void sw_free(void *p) { free(p); }

void sw__assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "fatal: invariant violated: %s at %s:%d\n", cond, file, line);
    abort();
}

sw_time_t sw_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (sw_time_t)ts.tv_sec * SW_US_PER_S + ts.tv_nsec / 1000;
}

const char *sw_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case SW_EPARSE: return "malformed input";
    case SW_ECONFIG: return "invalid configuration";
    case SW_EUNSUPPORTED: return "not supported";
    case SW_ELIMIT: return "limit reached";
    default: break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

void sw_set_error(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}
