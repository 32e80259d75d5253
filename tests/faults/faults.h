/* Fault injection against the real `spillway serve` (issue 13 §2): a load generator that
 * runs in a thread while the test breaks things, and the checks every scenario ends
 * with: each call sent was answered exactly once (200 or an error), the server is alive
 * and its peak RSS bounded, and the run directory's counts and bills add up. The
 * functions live in faults.c; the scenarios in test_*.c. */
#ifndef SW_TESTS_FAULTS_H
#define SW_TESTS_FAULTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/serve_harness.h"

/* Peak RSS the frontend may reach in any scenario, in KiB. Under ASan an idle serve holds
 * about 60 MiB; a leak of one buffer per call or an unbounded queue overruns this. */
#define FT_RSS_BOUND_KB (400L * 1024)

/* Workers that take `delay` ms per batch (SW_DEBUG_COMPUTE_DELAY_MS), profiled so. */
#define FT_CPU_TYPE(provider, profile)                                                             \
    "instance_types:\n"                                                                            \
    "  - name: cpu\n"                                                                              \
    "    price_per_hour_usd: 0.085\n"                                                              \
    "    provider: " provider "\n"                                                                 \
    "    boot_s: {dist: constant, mean: 1}\n"                                                      \
    "    max_batch: 4\n"                                                                           \
    "    batch_latency_ms: " profile "\n"

typedef struct ft_load_opts {
    const sh_server_t *srv;
    size_t calls;       /* single-row calls to send */
    size_t concurrency; /* in flight at once */
    double rate;        /* calls started per second at most; 0: as concurrency allows */
    /* Every abort_every-th call (when not 0) gives up after abort_ms: a client that
     * disconnects before its answer. */
    size_t abort_every;
    long abort_ms;
    bool check_outputs; /* compare each 200's outputs with the model's */
    long rss_bound_kb;  /* serve's peak RSS bound; 0: FT_RSS_BOUND_KB */
} ft_load_opts_t;

typedef struct ft_load {
    ft_load_opts_t o;
    pthread_t thread;
    /* Filled by the thread; read after ft_load_join. */
    size_t sent, answered, ok, aborted, transport_errors;
    size_t refused; /* connection refused: no listener (after a SIGTERM) */
    size_t status_429, status_503, status_504;
    size_t status_5xx;          /* other server errors: 500 (a worker failed), 502 (a function) */
    size_t status_other;        /* anything else: never expected */
    size_t retry_after_missing; /* 429s without a Retry-After header */
    size_t wrong_outputs;
    double max_ok_ms;     /* slowest 200 */
    size_t ok_within_slo; /* 200s within slo_ms */
    double slo_ms;
    char first_error[256];
} ft_load_t;

/* Images and the model's answers for them, rows [0, FT_ROWS). */
#define FT_ROWS 64
extern float *ft_images, *ft_expected;

void ft_setup(void);
void ft_teardown(void);

/* Starts the load in a thread of its own. */
void ft_load_start(ft_load_t *l, const ft_load_opts_t *o, double slo_ms);
void ft_load_join(ft_load_t *l);

/* Each call sent was answered once (or, if the test made it give up, aborted), none
 * failed on the wire, and the server process is alive with its peak RSS in bounds. */
void ft_check_load(const ft_load_t *l, pid_t server);

/* Peak resident set of a process, KiB (VmHWM), or -1. */
long ft_peak_rss_kb(pid_t pid);

/* Stops serve with SIGTERM, or waits for it to exit if already_signalled (it must exit 0) and
 * checks summary.json: requests are served, rejected or failed; every accepted call is ok, failed
 * or timed out, and the client saw exactly the 200s serve counted (none twice); costs add up (total
 * = vm + faas, vm = sum of types, faas = requests + compute). Returns the parsed summary
 * (json_decref it). */
struct json_t;
struct json_t *ft_stop_and_check(sh_server_t *s, const ft_load_t *loads, size_t n_loads,
                                 long *peak_kb, bool already_signalled);

/* A number in the summary by dotted path ("serve.calls.ok"); fails if absent. */
double ft_num(const struct json_t *sum, const char *dotted);

/* Waits until serve reports n cpu workers running. */
void ft_wait_running(const sh_server_t *s, unsigned n);

/* Whether serve's stderr holds needle; waiting up to timeout_s for it. */
bool ft_log_has(const sh_server_t *s, const char *needle);
void ft_wait_log(const sh_server_t *s, const char *needle, int timeout_s);

/* How many times needle occurs in serve's stderr. */
size_t ft_log_count(const sh_server_t *s, const char *needle);

/* Appends a line to $SW_FAULT_FIGURES (when set): what the longer runs record for
 * bench/README.md. */
void ft_figures(const char *scenario, const ft_load_t *loads, size_t n_loads,
                const struct json_t *sum, long peak_kb, const char *extra);

/* Starts `spillway faas-local` on 127.0.0.1:port (0: any) serving `command` (NULL: this
 * build's `spillway function` on the model), with only PATH and env_extra in its
 * environment, its stderr in the server's folder (faas-local.log, stdout in
 * faas-local.out), and waits for its "listening on" line. */
pid_t ft_start_faas(const sh_server_t *s, unsigned port, const char *command, unsigned concurrency,
                    double timeout_s, const char *const *env_extra, const char *log_level,
                    unsigned *port_out);

/* Stops it: SIGTERM (it stops and reaps its function environments), or hard: SIGKILL,
 * as a crash would. */
void ft_stop_faas(pid_t pid, bool hard);

/* Scales a scenario's size for the longer run: $SW_FAULT_SCALE (default 1). */
size_t ft_scale(size_t n);

#endif
