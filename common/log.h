/* Logging: one line per event, "timestamp LEVEL module: message key=value ...", to stderr
 * by default. Level checks happen before formatting, so DEBUG lines cost one compare. */
#ifndef SW_COMMON_LOG_H
#define SW_COMMON_LOG_H

#include "common/common.h"

typedef enum { SW_LOG_LVL_ERROR = 0, SW_LOG_LVL_WARN, SW_LOG_LVL_INFO, SW_LOG_LVL_DEBUG } sw_log_level_t;

extern sw_log_level_t sw__log_level;

/* Sets the threshold; the process's one piece of global state, set by main only. */
void sw_log_set_level(sw_log_level_t level);
/* Parses "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int sw_log_parse_level(const char *name, sw_log_level_t *out);
void sw__log(sw_log_level_t level, const char *module, const char *fmt, ...) SW_PRINTF(3, 4);

#ifndef SW_LOG_MODULE
#define SW_LOG_MODULE "spillway"
#endif

#define SW__LOG(lvl, ...)                                                                   \
    do {                                                                                    \
        if ((lvl) <= sw__log_level)                                                         \
            sw__log((lvl), SW_LOG_MODULE, __VA_ARGS__);                                     \
    } while (0)
#define SW_LOG_ERROR(...) SW__LOG(SW_LOG_LVL_ERROR, __VA_ARGS__)
#define SW_LOG_WARN(...) SW__LOG(SW_LOG_LVL_WARN, __VA_ARGS__)
#define SW_LOG_INFO(...) SW__LOG(SW_LOG_LVL_INFO, __VA_ARGS__)
#define SW_LOG_DEBUG(...) SW__LOG(SW_LOG_LVL_DEBUG, __VA_ARGS__)

#endif
