/* The log sink. Lines go to stderr with a wall-clock UTC timestamp (operators correlate
 * with other systems' logs by wall time, not by our monotonic clock). */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

sw_log_level_t sw__log_level = SW_LOG_LVL_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void sw_log_set_level(sw_log_level_t level) { sw__log_level = level; }

int sw_log_parse_level(const char *name, sw_log_level_t *out)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < SW_ARRAY_LEN(lower); i++) {
        if (strcmp(name, lower[i]) == 0) {
            *out = (sw_log_level_t)i;
            return 0;
        }
    }
    return -EINVAL;
}

void sw__log(sw_log_level_t level, const char *module, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[level], module);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : SW_MIN((size_t)m, sizeof(line) - (size_t)n - 2));
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}
