/* Small shared definitions: time, allocation that aborts on OOM, error codes, and
 * container helpers. Every module includes this; it depends on libc only. */
#ifndef SW_COMMON_COMMON_H
#define SW_COMMON_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic time in microseconds. The policy core never reads a clock: time is an
 * argument. Only drivers call sw_clock_now(). */
typedef int64_t sw_time_t;

#define SW_US_PER_MS 1000LL
#define SW_US_PER_S 1000000LL
#define SW_TIME_NEVER INT64_MAX

static inline sw_time_t sw_ms_to_time(double ms) { return (sw_time_t)(ms * 1000.0 + 0.5); }
static inline sw_time_t sw_s_to_time(double s) { return (sw_time_t)(s * 1e6 + 0.5); }
static inline double sw_time_to_s(sw_time_t t) { return (double)t / 1e6; }
static inline double sw_time_to_ms(sw_time_t t) { return (double)t / 1e3; }

/* Reads CLOCK_MONOTONIC. For drivers (live loop, benchmarks), never the core. */
sw_time_t sw_clock_now(void);

#if defined(__GNUC__)
#define SW_MUST_USE __attribute__((warn_unused_result))
#define SW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SW_LIKELY(x) __builtin_expect(!!(x), 1)
#define SW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SW_MAYBE_UNUSED __attribute__((unused))
#else
#define SW_MUST_USE
#define SW_PRINTF(f, a)
#define SW_LIKELY(x) (x)
#define SW_UNLIKELY(x) (x)
#define SW_MAYBE_UNUSED
#endif

#define SW_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define SW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SW_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Out of memory is fatal: these abort with file:line and are never checked. */
#define sw_malloc(n) sw__malloc((n), __FILE__, __LINE__)
#define sw_calloc(n, s) sw__calloc((n), (s), __FILE__, __LINE__)
#define sw_realloc(p, n) sw__realloc((p), (n), __FILE__, __LINE__)
#define sw_strdup(s) sw__strdup((s), __FILE__, __LINE__)
void *sw__malloc(size_t n, const char *file, int line);
void *sw__calloc(size_t n, size_t size, const char *file, int line);
void *sw__realloc(void *p, size_t n, const char *file, int line);
char *sw__strdup(const char *s, const char *file, int line);
void sw_free(void *p);

/* Scheduler invariants: stays on in release builds, prints the failed condition. */
#define SW_ASSERT(cond)                                                                     \
    do {                                                                                    \
        if (SW_UNLIKELY(!(cond)))                                                           \
            sw__assert_fail(#cond, __FILE__, __LINE__);                                     \
    } while (0)
_Noreturn void sw__assert_fail(const char *cond, const char *file, int line);

/* Errors: 0 or a negative errno; project codes are below -10000. */
enum {
    SW_EPARSE = -10001,   /* malformed input (trace line, YAML, JSON) */
    SW_ECONFIG = -10002,  /* configuration invalid */
    SW_EUNSUPPORTED = -10003,
    SW_ELIMIT = -10004,   /* a configured limit was reached */
};
/* Message for a negative errno or an SW_E* code. Never NULL. */
const char *sw_strerror(int err);
/* printf into a caller's error buffer; does nothing when errbuf is NULL or errlen 0. */
void sw_set_error(char *errbuf, size_t errlen, const char *fmt, ...) SW_PRINTF(3, 4);

#endif
