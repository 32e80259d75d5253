/* The key table: the one description of every key of the policy file. Each row gives a
 * key's path, type, where it is stored, its default, unit, accepted range and a one-line
 * meaning; the loader, the defaults pass, validation, sw_cfg_set, print and equal all
 * walk it, and config/example.yaml documents each row (a test checks both ways).
 *
 * Adding a key is one row here plus its documentation in example.yaml; a new section is
 * a SECTION row followed by its keys (and, for a new struct, its member in config.h).
 * Rows are in file order and a key's sub-keys follow it directly. The macros check at
 * compile time that each row's C member has the type the row claims.
 *
 * Also here: the path helpers, typed access to a row's storage, strict scalar parsing,
 * and the enum names. */
#include "config/config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Enum names (index = the C enum's value) ---------------------------------------- */

static const char *const dist_names[] = {"constant", "uniform", "exponential", "lognormal", NULL};
static const char *const policy_names[] = {"static", "reactive",    "faas-only", "mark",
                                           "oracle", "clairvoyant", NULL};
static const char *const trace_format_names[] = {"auto", "timestamps", "counts-per-second",
                                                 "counts-per-minute", NULL};
static const char *const provider_names[] = {"local", "command", "static", NULL};

_Static_assert(SW_DIST_LOGNORMAL == 3 && SW_POLICY_CLAIRVOYANT == 5 &&
                   SW_TRACE_COUNTS_PER_MINUTE == 3,
               "the name tables above follow the enums' order");

/* ---- Row macros ------------------------------------------------------------------------ */

/* The macros and the table are laid out by hand: one row, one key. */
/* clang-format off */
/* 0, after failing to compile unless T's member m has type `ctype`. */
#define SW__IS(T, m, ctype) (0 * sizeof(char[_Generic(((T *)0)->m, ctype: 1, default: -1)]))
#define SW__IS_UINT(T, m)                                                                      \
    (0 * sizeof(char[_Generic(((T *)0)->m, unsigned: 1, uint64_t: 1, default: -1)]))

#define AT(T, m, check) .offset = offsetof(T, m) + (check), .size = sizeof(((T *)0)->m)

#define SECTION(p, dc) {.info = {.path = (p), .type = SW_CFG_KEY_SECTION, .unit = "", .doc = (dc)}}
#define NUM(p, T, m, d, u, dc, ...)                                                           \
    {.info.path = (p), .info.type = SW_CFG_KEY_NUMBER, .info.unit = (u), .info.doc = (dc),    \
     AT(T, m, SW__IS(T, m, double)), .def = (d), __VA_ARGS__}
#define UINT(p, T, m, d, u, dc, ...)                                                          \
    {.info.path = (p), .info.type = SW_CFG_KEY_UINT, .info.unit = (u), .info.doc = (dc),      \
     AT(T, m, SW__IS_UINT(T, m)), .def = (d), __VA_ARGS__}
#define BOOL(p, T, m, d, dc)                                                                  \
    {.info.path = (p), .info.type = SW_CFG_KEY_BOOL, .info.unit = "", .info.doc = (dc),       \
     AT(T, m, SW__IS(T, m, bool)), .def = (d)}
#define STR(p, T, m, d, dc, ...)                                                              \
    {.info.path = (p), .info.type = SW_CFG_KEY_STRING, .info.unit = "characters",             \
     .info.doc = (dc), AT(T, m, SW__IS(T, m, char *)), .def_str = (d), __VA_ARGS__}
/* C enums are int-sized here; the storage helpers go through the size anyway. */
#define ENUM(p, T, m, d, nm, dc)                                                           \
    {.info.path = (p), .info.type = SW_CFG_KEY_ENUM, .info.unit = "", .info.doc = (dc),       \
     .info.names = (nm), AT(T, m, 0), .def = (d)}
/* A list of E in T's members m (the array) and n (its count). */
#define LIST(p, T, m, n, E, build_fn, dc, ...)                                                \
    {.info.path = (p), .info.type = SW_CFG_KEY_LIST, .info.unit = "entries", .info.doc = (dc), \
     AT(T, m, SW__IS(T, m, E *)), .count_offset = offsetof(T, n) + SW__IS(T, n, unsigned),    \
     .entry_size = sizeof(E), .build = (build_fn), __VA_ARGS__}
/* The entries of a list of numbers: path "list[]", stored at the entry itself. */
#define VALUES(p, u, dc, ...)                                                                 \
    {.info.path = (p), .info.type = SW_CFG_KEY_NUMBER, .info.unit = (u), .info.doc = (dc),    \
     .offset = 0, .size = sizeof(double), __VA_ARGS__}
/* A distribution and its five sub-keys. Its mean (for a uniform, (min + max) / 2) is in
 * [lo, hi]; min and max are in [0, hi]; cv is at most 4 everywhere. */
#define DIST(p, T, m, d, u, dc, lo, hi)                                                        \
    {.info.path = (p), .info.type = SW_CFG_KEY_DIST, .info.unit = (u), .info.doc = (dc),      \
     AT(T, m, SW__IS(T, m, sw_cfg_dist_t)), .def_dist = d, IN(lo, hi)},                        \
    {.info.path = p ".dist", .info.type = SW_CFG_KEY_ENUM, .info.unit = "",                    \
     .info.doc = "the distribution's kind", .info.names = dist_names, AT(T, m.dist, 0),        \
     .flags = SW__CFG_DIST_PART},                                                               \
    NUM(p ".mean", T, m.mean, 0, u, "expected value (uniform: derived from min and max)",      \
        IN(lo, hi), .flags = SW__CFG_DIST_PART | SW__CFG_DIST_MEAN),                            \
    NUM(p ".cv", T, m.cv, 0, "", "coefficient of variation, stddev / mean", IN(0, 4),          \
        .flags = SW__CFG_DIST_PART),                                                            \
    NUM(p ".min", T, m.min, 0, u, "uniform: the interval's low end", IN(0, hi),               \
        .flags = SW__CFG_DIST_PART),                                                            \
    NUM(p ".max", T, m.max, 0, u, "uniform: the interval's high end", IN(0, hi),              \
        .flags = SW__CFG_DIST_PART)

/* Ranges: [lo, hi], (lo, hi], [lo, hi), (lo, hi); 0 as an extra value; none. */
#define IN(lo, hi) .info.has_range = true, .info.min = (lo), .info.max = (hi)
#define IN_OC(lo, hi) IN(lo, hi), .info.min_open = true
#define IN_CO(lo, hi) IN(lo, hi), .info.max_open = true
#define IN_OO(lo, hi) IN(lo, hi), .info.min_open = true, .info.max_open = true
#define OR_ZERO(means) .info.zero_means = (means)
#define ANY_UINT64 .info.min = 0, .info.max = 18446744073709551616.0, .info.max_open = true
#define REQUIRED .info.required = true
#define NULLABLE .flags = SW__CFG_NULLABLE
#define NOTE(s) .note = (s)

#define LOGN(m, c) {.dist = SW_DIST_LOGNORMAL, .mean = (m), .cv = (c)}
#define CONST(m) {.dist = SW_DIST_CONSTANT, .mean = (m)}

/* Relative to the source tree's config/ folder (see sw__cfg_builtin_dir). */
#define DEFAULT_TRACE "../data/traces/twitter-2021-08/twitter_day00_per_second.txt"

/* List builders (config.c): the shipped instance types, and one pool entry. */
int sw__cfg_build_instance_types(sw__cfg_full_t *full, sw__cfg_problems_t *p);
int sw__cfg_build_static_pool(sw__cfg_full_t *full, sw__cfg_problems_t *p);

typedef sw_cfg_t C;
typedef sw_cfg_instance_type_t IT;

/* Ranges are chosen so that every accepted value works downstream: times convert to
 * int64 microseconds without overflow, a time that divides (a batch time, a service
 * factor) cannot round to 0 µs, and counts stay within what the scheduler and the
 * forecasters allocate and loop over. config/example.yaml gives the reasons. */
const sw__cfg_row_t sw__cfg_rows[] = {
    UINT("seed", C, seed, 1, "", "seed of the simulator's random draws", ANY_UINT64),

    SECTION("slo", "the latency objective"),
    NUM("slo.latency_ms", C, slo.latency_ms, 600, "ms", "end-to-end deadline of one request",
        IN(1, 3600000)),
    NUM("slo.target", C, slo.target, 0.98, "", "fraction of requests that must meet latency_ms",
        IN_OC(0, 1)),

    LIST("instance_types", C, instance_types, instance_types_count, IT,
         sw__cfg_build_instance_types, "the VM types the planner may launch",
         IN(1, SW_CFG_MAX_INSTANCE_TYPES), NOTE("instance type")),
    STR("instance_types[].name", IT, name, NULL, "unique name; policies refer to a type by it",
        IN(1, 128), REQUIRED),
    NUM("instance_types[].price_per_hour_usd", IT, price_per_hour_usd, 0, "USD per hour",
        "on-demand price", IN_OC(0, 10000), REQUIRED),
    DIST("instance_types[].boot_s", IT, boot_s, LOGN(45, 0.25), "s",
         "launch request to worker ready, model load included", 0, 3600),
    UINT("instance_types[].max_batch", IT, max_batch, 0, "requests",
         "largest batch the profile covers", IN(1, SW_CFG_MAX_BATCH), REQUIRED),
    LIST("instance_types[].batch_latency_ms", IT, batch_latency_ms, batch_latency_ms_count,
         double, NULL, "T_b for b = 1..max_batch", IN(0, SW_CFG_MAX_BATCH), REQUIRED),
    VALUES("instance_types[].batch_latency_ms[]", "ms", "time to serve one batch of b requests",
           IN(0.001, 3600000)),
    DIST("instance_types[].service_variation", IT, service_variation, CONST(1), "",
         "multiplicative noise on each batch's service time, mean 1", 0.01, 100),
    SECTION("instance_types[].spot", "run this type as spot instances"),
    BOOL("instance_types[].spot.enabled", IT, spot.enabled, false,
         "launch this type as spot instances"),
    NUM("instance_types[].spot.price_factor", IT, spot.price_factor, 0.35, "",
        "spot price / on-demand price", IN_OC(0, 1)),
    NUM("instance_types[].spot.interruptions_per_hour", IT, spot.interruptions_per_hour, 0.05,
        "per hour", "Poisson rate of interruptions of one running instance",
        IN(0.001, 60), OR_ZERO("never")),
    NUM("instance_types[].spot.notice_s", IT, spot.notice_s, 120, "s",
        "warning before an interruption", IN(0, 3600)),
    UINT("instance_types[].max_instances", IT, max_instances, 0, "instances",
         "most instances of this type at once", IN(1, SW_CFG_MAX_INSTANCES), OR_ZERO("no limit")),
    ENUM("instance_types[].provider", IT, provider, SW_PROVIDER_LOCAL, provider_names,
         "serve: how its workers start and stop (local, command, static)"),
    NUM("instance_types[].boot_delay_s", IT, boot_delay_s, 0, "s",
        "local: wait before starting a worker, standing in for a VM's boot", IN(0, 3600)),
    UINT("instance_types[].worker_threads", IT, worker_threads, 1, "threads",
         "local: compute threads of each worker", IN(1, 256)),
    STR("instance_types[].launch", IT, launch, NULL,
        "command: shell command that starts a worker; its stdout is the handle", IN(1, 8192),
        NULLABLE),
    STR("instance_types[].terminate", IT, terminate, NULL,
        "command: shell command that stops the worker whose handle is $SW_HANDLE", IN(1, 8192),
        NULLABLE),
    NUM("instance_types[].command_timeout_s", IT, command_timeout_s, 300, "s",
        "command: deadline of each launch and terminate", IN(1, 3600)),

    SECTION("faas", "serverless functions that take what the VM pool cannot finish in time"),
    BOOL("faas.enabled", C, faas.enabled, true, "false: no request is ever spilled"),
    UINT("faas.memory_mb", C, faas.memory_mb, 3008, "MB", "function memory; CPU grows with it",
         IN(128, 10240), NOTE("AWS Lambda's range")),
    NUM("faas.price_per_gb_s_usd", C, faas.price_per_gb_s_usd, 0.0000166667,
        "USD per GB-second", "duration price", IN(0, 1)),
    NUM("faas.price_per_million_requests_usd", C, faas.price_per_million_requests_usd, 0.20,
        "USD per million requests", "request price", IN(0, 1000)),
    NUM("faas.billing_granularity_ms", C, faas.billing_granularity_ms, 1, "ms",
        "billed duration is rounded up to this", IN(1, 60000)),
    DIST("faas.warm_latency_ms", C, faas.warm_latency_ms, LOGN(380, 0.2), "ms",
         "run time of one request in a warm environment", 0.001, 900000),
    DIST("faas.cold_start_ms", C, faas.cold_start_ms, LOGN(2500, 0.3), "ms",
         "extra time when a new environment must start", 0, 900000),
    BOOL("faas.bill_cold_start", C, faas.bill_cold_start, true,
         "whether the cold start's init time is billed"),
    NUM("faas.keep_alive_s", C, faas.keep_alive_s, 600, "s",
        "idle environments are reclaimed after this", IN(0, 86400)),
    UINT("faas.concurrency_limit", C, faas.concurrency_limit, 1000, "executions",
         "concurrent executions; more are throttled", IN(0, 100000)),
    NUM("faas.scale_out_per_minute", C, faas.scale_out_per_minute, 500, "per minute",
        "new environments allowed per minute", IN(1, 100000)),
    SECTION("faas.free_tier", "AWS's monthly free tier"),
    BOOL("faas.free_tier.enabled", C, faas.free_tier.enabled, false,
         "deduct the free tier from the bill"),
    NUM("faas.free_tier.requests", C, faas.free_tier.requests, 1000000, "requests per month",
        "free requests", IN(0, 1e9)),
    NUM("faas.free_tier.gb_s", C, faas.free_tier.gb_s, 400000, "GB-seconds per month",
        "free duration", IN(0, 1e9)),
    SECTION("faas.invoke", "how live runs call functions: AWS Lambda's Invoke API"),
    STR("faas.invoke.region", C, faas.invoke.region, "us-east-1",
        "the SigV4 scope, and the default endpoint's region", IN(1, 64)),
    STR("faas.invoke.endpoint", C, faas.invoke.endpoint, NULL,
        "base URL; null: https://lambda.REGION.amazonaws.com", IN(1, 2048), NULLABLE),
    STR("faas.invoke.function_name", C, faas.invoke.function_name, "spillway-infer",
        "the function: a name, name:alias or ARN", IN(1, 256)),
    STR("faas.invoke.qualifier", C, faas.invoke.qualifier, NULL,
        "a version or alias; null: $LATEST", IN(1, 128), NULLABLE),
    STR("faas.invoke.credentials_profile", C, faas.invoke.credentials_profile, NULL,
        "profile of the shared credentials file; null: AWS_PROFILE, else default",
        IN(1, 256), NULLABLE),
    NUM("faas.invoke.timeout_ms", C, faas.invoke.timeout_ms, 3000, "ms",
        "deadline of one call, retries included", IN(1, 900000)),
    UINT("faas.invoke.max_in_flight", C, faas.invoke.max_in_flight, 256, "calls",
         "calls outstanding at once; a spill beyond it is refused", IN(1, 65536)),
    UINT("faas.invoke.max_retries", C, faas.invoke.max_retries, 2, "retries",
         "retries of 5xx answers and transport errors", IN(0, 10)),
    NUM("faas.invoke.retry_base_ms", C, faas.invoke.retry_base_ms, 20, "ms",
        "first backoff; doubles each retry", IN(0, 60000)),
    SECTION("faas.local", "spillway faas-local: a Lambda-compatible service on this machine"),
    STR("faas.local.listen", C, faas.local.listen, "127.0.0.1:9001", "HOST:PORT of its Invoke API",
        IN(1, 256)),
    NUM("faas.local.timeout_s", C, faas.local.timeout_s, 3, "s", "function timeout",
        IN(0.001, 900)),
    UINT("faas.local.concurrency", C, faas.local.concurrency, 0, "environments",
         "environments alive at once, beyond which it answers 429", IN(1, 100000),
         OR_ZERO("faas.concurrency_limit")),
    LIST("faas.local.functions", C, faas.local.functions, faas.local.functions_count,
         sw_cfg_faas_function_t, NULL, "the functions it runs", IN(0, 64)),
    STR("faas.local.functions[].name", sw_cfg_faas_function_t, name, NULL,
        "Invoke's FunctionName", IN(1, 256), REQUIRED),
    STR("faas.local.functions[].command", sw_cfg_faas_function_t, command, NULL,
        "command (/bin/sh -c) that starts one execution environment", IN(1, 4096), REQUIRED),

    SECTION("billing", "how VM time is billed"),
    NUM("billing.vm_granularity_s", C, billing.vm_granularity_s, 1, "s",
        "billing unit: 1 per second, 3600 per started hour", IN(1, 86400)),
    NUM("billing.vm_minimum_s", C, billing.vm_minimum_s, 60, "s",
        "minimum billed per launch", IN(0, 86400)),

    SECTION("policy", "the scaling policy"),
    ENUM("policy.name", C, policy.name, SW_POLICY_MARK, policy_names, "the policy, by name"),
    NUM("policy.interval_s", C, policy.interval_s, 60, "s",
        "planning interval: forecasts, pool changes and timeline rows", IN(0.1, 86400)),
    NUM("policy.max_queue_delay_ms", C, policy.max_queue_delay_ms, 2000, "ms",
        "admission control: reject when the predicted wait exceeds this", IN(0, 604800000)),
    NUM("policy.dispatch_margin_ms", C, policy.dispatch_margin_ms, 5, "ms",
        "dispatch a partial batch this long before its slack ends", IN(0, 3600000)),
    SECTION("policy.static", "the fixed pool of policy static"),
    LIST("policy.static.pool", C, policy.static_pool.pool, policy.static_pool.pool_count,
         sw_cfg_pool_entry_t, sw__cfg_build_static_pool, "the fixed pool",
         IN(0, SW_CFG_MAX_INSTANCE_TYPES)),
    STR("policy.static.pool[].type", sw_cfg_pool_entry_t, type, NULL, "an instance type's name",
        IN(1, 128), REQUIRED),
    UINT("policy.static.pool[].count", sw_cfg_pool_entry_t, count, 0, "instances",
         "instances of that type", IN(1, SW_CFG_MAX_INSTANCES), REQUIRED),
    SECTION("policy.reactive", "target tracking on invocations per instance"),
    STR("policy.reactive.instance_type", C, policy.reactive.instance_type, NULL,
        "the single type it scales; unset: the first instance type", IN(1, 128)),
    NUM("policy.reactive.target_invocations_per_instance_per_minute", C,
        policy.reactive.target_invocations_per_instance_per_minute, 0, "per instance per minute",
        "target invocations; 0: 70 % of the type's SLO capacity", IN(1, 10000000),
        OR_ZERO("auto")),
    NUM("policy.reactive.scale_out_cooldown_s", C, policy.reactive.scale_out_cooldown_s, 60, "s",
        "least time between two scale-outs", IN(0, 86400)),
    NUM("policy.reactive.scale_in_cooldown_s", C, policy.reactive.scale_in_cooldown_s, 300, "s",
        "least time between two scale-ins", IN(0, 86400)),
    UINT("policy.reactive.min_instances", C, policy.reactive.min_instances, 1, "instances",
         "fewest instances", IN(0, SW_CFG_MAX_INSTANCES)),
    UINT("policy.reactive.max_instances", C, policy.reactive.max_instances, 0, "instances",
         "most instances", IN(1, SW_CFG_MAX_INSTANCES), OR_ZERO("no limit")),
    SECTION("policy.mark", "predictive planning, spill and a violation monitor"),
    UINT("policy.mark.horizon_intervals", C, policy.mark.horizon_intervals, 5, "intervals",
         "planning span: the forecast the plan must cover", IN(1, 1440)),
    NUM("policy.mark.target_utilization", C, policy.mark.target_utilization, 0.95, "",
        "plan capacity so that forecast load is this share of it", IN(0.1, 1)),
    NUM("policy.mark.violation_budget", C, policy.mark.violation_budget, 0.02, "",
        "monitor: launch when the recent miss rate exceeds this", IN_CO(0, 1)),
    NUM("policy.mark.violation_window_s", C, policy.mark.violation_window_s, 60, "s",
        "monitor: the window the miss rate is measured over", IN(1, 86400)),
    NUM("policy.mark.violation_cooldown_s", C, policy.mark.violation_cooldown_s, 120, "s",
        "monitor: least time between two launches", IN(0, 86400)),
    UINT("policy.mark.min_instances", C, policy.mark.min_instances, 0, "instances",
         "never plan below this many instances", IN(0, SW_CFG_MAX_INSTANCES)),
    BOOL("policy.mark.spill", C, policy.mark.spill, true,
         "send to FaaS at arrival a request the pool would finish too late"),

    SECTION("predictor", "the load forecaster"),
    STR("predictor.name", C, predictor.name, "recent-max", "the forecaster, by name",
        IN(1, 64)),
    UINT("predictor.horizon_intervals", C, predictor.horizon_intervals, 5, "intervals",
         "how far ahead it forecasts", IN(1, 1440)),
    UINT("predictor.window_intervals", C, predictor.window_intervals, 10, "intervals",
         "recent-max: the history it looks at", IN(1, 10080)),
    NUM("predictor.headroom", C, predictor.headroom, 1.2, "", "recent-max: multiply the maximum by this",
        IN(1, 100)),
    NUM("predictor.quantile", C, predictor.quantile, 0.95, "",
        "level of the upper quantile reported beside the point forecast", IN_OO(0, 1)),
    STR("predictor.model_path", C, predictor.model_path, NULL,
        "a saved fitted forecaster; null: fitted on the fly", IN(1, 4096), NULLABLE),
    NUM("predictor.season_s", C, predictor.season_s, 86400, "s", "length of one season",
        IN(1, 31536000)),
    NUM("predictor.holdout_frac", C, predictor.holdout_frac, 0.4, "",
        "share of the fit data held back to calibrate the quantile", IN(0, 0.9)),
    BOOL("predictor.calendar", C, predictor.calendar, false,
         "give the model minute-of-hour and hour-of-day"),
    NUM("predictor.ewma_alpha", C, predictor.ewma_alpha, 0, "", "ewma: smoothing factor",
        IN_OO(0, 1), OR_ZERO("fitted")),
    UINT("predictor.ar_order", C, predictor.ar_order, 60, "intervals",
         "ar: past intervals in the regression", IN(1, 1440)),
    UINT("predictor.seed", C, predictor.seed, 0, "",
         "seed of the forecaster's random draws; 0: the top-level seed", ANY_UINT64),
    SECTION("predictor.gaps", "runs of zeros that are missing data, not load"),
    UINT("predictor.gaps.min_run", C, predictor.gaps.min_run, 20, "intervals",
         "a run of at least this many zeros is a candidate gap; 0: never", IN(0, 100000)),
    NUM("predictor.gaps.min_level", C, predictor.gaps.min_level, 10, "requests per interval",
        "... after a median count of at least this", IN(0, 1e9)),
    UINT("predictor.gaps.context", C, predictor.gaps.context, 60, "intervals",
         "intervals the median is taken over", IN(1, 100000)),
    SECTION("predictor.lstm", "the LSTM forecaster"),
    UINT("predictor.lstm.hidden", C, predictor.lstm.hidden, 32, "units", "units in the layer",
         IN(1, 256)),
    UINT("predictor.lstm.window", C, predictor.lstm.window, 60, "intervals", "input window",
         IN(2, 1440)),
    UINT("predictor.lstm.epochs", C, predictor.lstm.epochs, 0, "passes",
         "passes over the training windows; 0: the forecaster's default", IN(0, 1000)),
    NUM("predictor.lstm.learning_rate", C, predictor.lstm.learning_rate, 0.003, "",
        "Adam step size", IN_OO(0, 1)),
    UINT("predictor.lstm.batch", C, predictor.lstm.batch, 64, "windows",
         "training windows per minibatch", IN(1, 4096)),

    SECTION("trace", "the request trace simulate replays"),
    STR("trace.path", C, trace.path, DEFAULT_TRACE, "the trace file", IN(1, 4096)),
    ENUM("trace.format", C, trace.format, SW_TRACE_AUTO, trace_format_names,
         "the trace's format; auto: from its content"),
    STR("trace.timestamp_column", C, trace.timestamp_column, "TIMESTAMP",
        "timestamps: the CSV column holding the request time", IN(1, 256)),
    NUM("trace.rate_scale", C, trace.rate_scale, 1, "", "multiply the request rate by this",
        IN_OC(0, 1000000)),
    NUM("trace.start_s", C, trace.start_s, 0, "s", "skip the trace's first start_s seconds",
        IN(0, 1e9)),
    NUM("trace.duration_s", C, trace.duration_s, 0, "s", "replay this long; 0: to the end",
        IN(0, 1e9)),

    SECTION("serve", "spillway serve: the live frontend"),
    STR("serve.listen", C, serve.listen, "127.0.0.1:8080", "HOST:PORT of the KServe v2 HTTP API",
        IN(1, 256)),
    STR("serve.worker_listen", C, serve.worker_listen, "127.0.0.1:8081",
        "HOST:PORT the workers dial", IN(1, 256)),
    STR("serve.model_path", C, serve.model_path, NULL,
        "the model the workers serve; null: fashion-mlp.pb beside the spillway binary",
        IN(1, 4096), NULLABLE),
    STR("serve.static_token_file", C, serve.static_token_file, NULL,
        "a file holding the token hand-started workers of static types present", IN(1, 4096),
        NULLABLE),
    NUM("serve.request_timeout_ms", C, serve.request_timeout_ms, 10000, "ms",
        "a call not answered by then gets 504", IN(1, 3600000)),
    NUM("serve.worker_timeout_ms", C, serve.worker_timeout_ms, 5000, "ms",
        "heartbeat silence after which a worker is lost", IN(100, 3600000)),
    NUM("serve.boot_timeout_s", C, serve.boot_timeout_s, 600, "s",
        "a launch that has not dialled in by then is lost (and billed)", IN(1, 86400)),
    NUM("serve.drain_timeout_s", C, serve.drain_timeout_s, 30, "s",
        "on SIGTERM, the time accepted work has to finish", IN(0, 86400)),
    NUM("serve.stop_grace_s", C, serve.stop_grace_s, 10, "s",
        "local workers: SIGTERM, then SIGKILL after this", IN(0, 3600)),
    NUM("serve.client_timeout_s", C, serve.client_timeout_s, 30, "s",
        "HTTP read, write and idle timeout of a client connection", IN(0.1, 3600)),
    UINT("serve.max_body_bytes", C, serve.max_body_bytes, 8388608, "bytes",
         "largest request body; more gets 413", IN(1024, 1073741824)),
    UINT("serve.max_connections", C, serve.max_connections, 4096, "connections",
         "open client connections; more are closed at once", IN(1, 1000000)),
    UINT("serve.max_frame_bytes", C, serve.max_frame_bytes, 67108864, "bytes",
         "largest worker protocol frame", IN(1024, 1073741824)),
};
/* clang-format on */

const size_t sw__cfg_nrows = SW_ARRAY_LEN(sw__cfg_rows);

/* ---- Index: pattern -> row, parents, subtrees ------------------------------------------ */

#define HASH_SLOTS 512u /* a power of two, over twice the rows */
_Static_assert(SW_ARRAY_LEN(sw__cfg_rows) < HASH_SLOTS / 2, "grow HASH_SLOTS");

static struct {
    int16_t slot[HASH_SLOTS]; /* row + 1; 0: empty */
    int16_t parent[SW_ARRAY_LEN(sw__cfg_rows)];
    int16_t end[SW_ARRAY_LEN(sw__cfg_rows)];
    int16_t entry[SW_ARRAY_LEN(sw__cfg_rows)];
} idx;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;

uint32_t sw__cfg_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int lookup(const char *pattern, size_t n)
{
    for (uint32_t h = sw__cfg_hash(pattern, n);; h++) {
        int row = idx.slot[h & (HASH_SLOTS - 1)] - 1;
        if (row < 0)
            return -1;
        const char *p = sw__cfg_rows[row].info.path;
        if (strlen(p) == n && memcmp(p, pattern, n) == 0)
            return row;
    }
}

/* A broken table is a programmer's error that every config load would hit: say which
 * row, and stop. */
static _Noreturn void table_error(const char *path, const char *what)
{
    fprintf(stderr, "config/keys.c: row \"%s\": %s\n", path, what);
    abort();
}

static bool is_below(int row, int anc)
{
    for (int r = idx.parent[row]; r >= 0; r = idx.parent[r])
        if (r == anc)
            return true;
    return false;
}

static void build_index(void)
{
    int n = (int)sw__cfg_nrows;
    for (int i = 0; i < n; i++) {
        const char *p = sw__cfg_rows[i].info.path;
        if (lookup(p, strlen(p)) >= 0)
            table_error(p, "listed twice");
        uint32_t h = sw__cfg_hash(p, strlen(p));
        while (idx.slot[h & (HASH_SLOTS - 1)])
            h++;
        idx.slot[h & (HASH_SLOTS - 1)] = (int16_t)(i + 1);
        char up[SW__CFG_PATH_MAX];
        snprintf(up, sizeof up, "%s", p);
        idx.parent[i] = -1;
        idx.entry[i] = -1;
        if (sw__cfg_path_parent(up)) {
            size_t len = strlen(up);
            if (len >= 2 && strcmp(up + len - 2, "[]") == 0)
                up[len - 2] = '\0'; /* "list[]" (entries) and "list[].k" hang off "list" */
            if (*up && (idx.parent[i] = (int16_t)lookup(up, strlen(up))) < 0)
                table_error(p, "its parent must come first");
            if (idx.parent[i] >= 0 && p[strlen(up)] == '[' && p[strlen(up) + 2] == '\0')
                idx.entry[idx.parent[i]] = (int16_t)i;
        }
    }
    for (int i = 0; i < n; i++) {
        int e = i + 1;
        while (e < n && is_below(e, i))
            e++;
        idx.end[i] = (int16_t)e;
        for (int j = e; j < n; j++)
            if (is_below(j, i))
                table_error(sw__cfg_rows[j].info.path, "must follow its parent's other keys");
    }
}

static void ensure_index(void)
{
    pthread_once(&idx_once, build_index);
}

int sw__cfg_row_find(const char *pattern, size_t n)
{
    ensure_index();
    return lookup(pattern, n);
}

int sw__cfg_row_parent(int i)
{
    ensure_index();
    return idx.parent[i];
}

int sw__cfg_row_end(int i)
{
    ensure_index();
    return i < 0 ? (int)sw__cfg_nrows : idx.end[i];
}

int sw__cfg_row_entry(int i)
{
    ensure_index();
    return idx.entry[i];
}

const char *sw__cfg_row_leaf(const sw__cfg_row_t *r)
{
    const char *dot = strrchr(r->info.path, '.');
    return dot ? dot + 1 : r->info.path;
}

/* ---- The public view ------------------------------------------------------------------ */

size_t sw_cfg_key_count(void)
{
    return sw__cfg_nrows;
}

const sw_cfg_key_info_t *sw_cfg_key_at(size_t i)
{
    return i < sw__cfg_nrows ? &sw__cfg_rows[i].info : NULL;
}

const sw_cfg_key_info_t *sw_cfg_key_find(const char *path)
{
    char pat[SW__CFG_PATH_MAX];
    sw__cfg_path_pattern(path, pat, sizeof pat);
    int row = sw__cfg_row_find(pat, strlen(pat));
    return row < 0 ? NULL : &sw__cfg_rows[row].info;
}

bool sw_cfg_key_in_range(const sw_cfg_key_info_t *k, double x)
{
    if (k->zero_means && x == 0)
        return true;
    bool lo = k->min_open ? x > k->min : x >= k->min;
    bool hi = k->max_open ? x < k->max : x <= k->max;
    return lo && hi;
}

void sw__cfg_fmt_double(double x, char *buf, size_t len)
{
    /* The shortest of %.15g..%.17g that reads back as the same double. Formatting into a
     * fixed local buffer first also keeps GCC 12 at -O3 from a false format-truncation
     * warning on the caller's pointer. */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    if (len > 0) {
        size_t n = strnlen(tmp, len - 1);
        memcpy(buf, tmp, n);
        buf[n] = '\0';
    }
}

void sw_cfg_key_range_text(const sw_cfg_key_info_t *k, char *buf, size_t len)
{
    char lo[40], hi[40];
    if (!k->has_range) {
        snprintf(buf, len, "%s", "");
        return;
    }
    sw__cfg_fmt_double(k->min, lo, sizeof lo);
    sw__cfg_fmt_double(k->max, hi, sizeof hi);
    if (k->zero_means)
        snprintf(buf, len, "0 (%s) or %c%s, %s%c", k->zero_means, k->min_open ? '(' : '[', lo, hi,
                 k->max_open ? ')' : ']');
    else
        snprintf(buf, len, "%c%s, %s%c", k->min_open ? '(' : '[', lo, hi, k->max_open ? ')' : ']');
}

void sw__cfg_range_message(const sw__cfg_row_t *r, char *buf, size_t len)
{
    char range[128];
    sw_cfg_key_range_text(&r->info, range, sizeof range);
    /* "0 (never) or [a, b]" reads as "must be 0 (never) or in [a, b]". */
    const char * or = r->info.zero_means ? strstr(range, " or ") : NULL;
    if (or)
        snprintf(buf, len, "must be %.*s or in %s", (int)(or -range), range, or +4);
    else
        snprintf(buf, len, "must be in %s", range);
    if (r->note && r->info.type != SW_CFG_KEY_LIST) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, " (%s)", r->note);
    }
}

/* ---- Paths ---------------------------------------------------------------------------- */

/* Paths are built for every row of every walk, check and parse; snprintf's format parsing
 * was a tenth of a config check, so they are joined by hand. Each piece is cut to what
 * still fits: paths are bounded by the table (SW__CFG_PATH_MAX), and a longer one (an
 * unknown key's) is only printed. */
static size_t path_put(char *out, size_t len, size_t at, const char *s)
{
    size_t n = strlen(s);
    if (n > len - 1 - at)
        n = len - 1 - at;
    memcpy(out + at, s, n);
    return at + n;
}

void sw__cfg_path_cat(char *out, size_t len, const char *a, const char *b, const char *c)
{
    size_t at = path_put(out, len, 0, a);
    at = path_put(out, len, at, b);
    out[path_put(out, len, at, c)] = '\0';
}

void sw__cfg_path_index(char *out, size_t len, const char *path, unsigned j)
{
    char digits[16], *d = digits + sizeof digits;
    *--d = '\0';
    *--d = ']';
    do
        *--d = (char)('0' + j % 10);
    while (j /= 10);
    *--d = '[';
    sw__cfg_path_cat(out, len, path, d, "");
}

void sw__cfg_path_pattern(const char *path, char *out, size_t len)
{
    size_t o = 0;
    for (const char *s = path; *s && o + 1 < len; s++) {
        out[o++] = *s;
        if (*s == '[') {
            while (s[1] >= '0' && s[1] <= '9')
                s++;
        }
    }
    out[o] = '\0';
}

bool sw__cfg_path_parent(char *path)
{
    if (!*path)
        return false;
    char *dot = strrchr(path, '.');
    char *br = strrchr(path, '[');
    char *cut = dot > br ? dot : br;
    if (cut)
        *cut = '\0';
    else
        path[0] = '\0';
    return true;
}

/* ---- Storage -------------------------------------------------------------------------- */

uint64_t sw__cfg_get_uint(const sw__cfg_row_t *r, const void *data)
{
    return r->size == sizeof(uint64_t) ? *(const uint64_t *)data : *(const unsigned *)data;
}

void sw__cfg_put_uint(const sw__cfg_row_t *r, void *data, uint64_t x)
{
    if (r->size == sizeof(uint64_t))
        *(uint64_t *)data = x;
    else
        *(unsigned *)data = (unsigned)x;
}

int sw__cfg_get_enum(const sw__cfg_row_t *r, const void *data)
{
    (void)r;
    return *(const int *)data;
}

void sw__cfg_put_enum(const sw__cfg_row_t *r, void *data, int x)
{
    (void)r;
    *(int *)data = x;
}

_Static_assert(sizeof(sw_policy_kind_t) == sizeof(int) && sizeof(sw_dist_kind_t) == sizeof(int) &&
                   sizeof(sw_trace_format_t) == sizeof(int),
               "enum rows are stored as int");

unsigned *sw__cfg_list_count(const sw__cfg_row_t *r, void *base)
{
    return (unsigned *)((char *)base + r->count_offset);
}

double sw__cfg_get_number(const sw__cfg_row_t *r, const void *data)
{
    if (r->info.type == SW_CFG_KEY_UINT)
        return (double)sw__cfg_get_uint(r, data);
    return *(const double *)data;
}

/* ---- Names ---------------------------------------------------------------------------- */

static const char *name_of(const char *const *names, int val)
{
    for (int i = 0; names[i]; i++)
        if (i == val)
            return names[i];
    return "?";
}

static int index_of(const char *const *names, const char *name)
{
    for (int i = 0; name && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *sw__cfg_enum_name(const sw__cfg_row_t *r, int val)
{
    return name_of(r->info.names, val);
}

const char *sw_policy_name(sw_policy_kind_t kind)
{
    return name_of(policy_names, (int)kind);
}

int sw_policy_from_name(const char *name, sw_policy_kind_t *out)
{
    int i = index_of(policy_names, name);
    if (i < 0)
        return -EINVAL;
    *out = (sw_policy_kind_t)i;
    return 0;
}

const char *sw_trace_format_name(sw_trace_format_t fmt)
{
    return name_of(trace_format_names, (int)fmt);
}

int sw_trace_format_from_name(const char *name, sw_trace_format_t *out)
{
    int i = index_of(trace_format_names, name);
    if (i < 0)
        return -EINVAL;
    *out = (sw_trace_format_t)i;
    return 0;
}

/* ---- Strict scalar parsing ------------------------------------------------------------ */

/* The value as messages quote it: at most 64 bytes of it. */
#define QUOTE(s) (strlen(s) > 64 ? 64 : (int)strlen(s)), (s), (strlen(s) > 64 ? "..." : "")

/* YAML's spellings of the non-finite floats, which strtod does not know. */
static bool is_yaml_nonfinite(const char *s)
{
    static const char *const spell[] = {".nan", ".inf", "+.inf", "-.inf"};
    for (size_t i = 0; i < SW_ARRAY_LEN(spell); i++)
        if (strcasecmp(s, spell[i]) == 0)
            return true;
    return false;
}

static int parse_number(const char *text, void *data, char *msg, size_t msglen)
{
    char *end;
    double x = strtod(text, &end);
    if (is_yaml_nonfinite(text) || (end != text && *end == '\0' && !isfinite(x))) {
        snprintf(msg, msglen, "expected a finite number, got \"%.*s%s\"", QUOTE(text));
        return -EINVAL;
    }
    if (end == text || *end != '\0' || text[0] == ' ') {
        snprintf(msg, msglen, "expected a number, got \"%.*s%s\"", QUOTE(text));
        return -EINVAL;
    }
    *(double *)data = x;
    return 0;
}

static int parse_uint(const sw__cfg_row_t *r, const char *text, void *data, char *msg,
                      size_t msglen)
{
    uint64_t max = r->size >= 8 ? UINT64_MAX : UINT32_MAX;
    const char *s = text;
    while (*s >= '0' && *s <= '9')
        s++;
    if (s == text || *s != '\0') {
        snprintf(msg, msglen, "expected a whole number >= 0, got \"%.*s%s\"", QUOTE(text));
        return -EINVAL;
    }
    errno = 0;
    unsigned long long x = strtoull(text, NULL, 10);
    if (errno == ERANGE || x > max) {
        /* Past what the type holds is past the range too: say the range. */
        if (r->info.has_range)
            sw__cfg_range_message(r, msg, msglen);
        else
            snprintf(msg, msglen, "expected a whole number from 0 to %" PRIu64 ", got \"%.*s%s\"",
                     max, QUOTE(text));
        return -EINVAL;
    }
    sw__cfg_put_uint(r, data, x);
    return 0;
}

static int parse_enum(const sw__cfg_row_t *r, const char *text, void *data, char *msg,
                      size_t msglen)
{
    int i = index_of(r->info.names, text);
    if (i >= 0) {
        sw__cfg_put_enum(r, data, i);
        return 0;
    }
    size_t used =
        (size_t)snprintf(msg, msglen, "unknown value \"%.*s%s\": expected one of ", QUOTE(text));
    for (int j = 0; r->info.names[j] && used < msglen; j++)
        used +=
            (size_t)snprintf(msg + used, msglen - used, "%s%s", j ? ", " : "", r->info.names[j]);
    return -EINVAL;
}

/* Whether s is well-formed UTF-8: no stray continuation byte, overlong form, surrogate or
 * code point past U+10FFFF. libyaml reads nothing else, so the loader never sees such a
 * string; --set must refuse one too, or check-config would print a policy file that does
 * not load. */
unsigned sw__cfg_utf8_decode(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0], n;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 1, *cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 2, *cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 3, *cp = c & 0x07;
    else
        return 0;
    /* A NUL is no continuation byte, so this never reads past the string. */
    for (unsigned i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3Fu);
    }
    if ((n == 2 && *cp < 0x800) || (n == 3 && (*cp < 0x10000 || *cp > 0x10FFFF)) ||
        (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return n + 1;
}

static bool is_utf8(const char *text)
{
    for (const unsigned char *s = (const unsigned char *)text; *s;) {
        unsigned cp, len = sw__cfg_utf8_decode(s, &cp);
        if (!len)
            return false;
        s += len;
    }
    return true;
}

int sw__cfg_parse_store(const sw__cfg_row_t *r, const char *text, void *data, char *msg,
                        size_t msglen)
{
    switch (r->info.type) {
    case SW_CFG_KEY_NUMBER: return parse_number(text, data, msg, msglen);
    case SW_CFG_KEY_UINT: return parse_uint(r, text, data, msg, msglen);
    case SW_CFG_KEY_BOOL: {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
                                                                               "off"};
        for (size_t i = 0; i < SW_ARRAY_LEN(yes); i++) {
            if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
                *(bool *)data = strcasecmp(text, yes[i]) == 0;
                return 0;
            }
        }
        snprintf(msg, msglen, "expected true or false, got \"%.*s%s\"", QUOTE(text));
        return -EINVAL;
    }
    case SW_CFG_KEY_ENUM: return parse_enum(r, text, data, msg, msglen);
    case SW_CFG_KEY_STRING: {
        if (!is_utf8(text)) {
            snprintf(msg, msglen, "is not valid UTF-8");
            return -EINVAL;
        }
        bool is_null = !*text || !strcmp(text, "null") || !strcmp(text, "~");
        *(char **)data = (r->flags & SW__CFG_NULLABLE) && is_null ? NULL : sw_strdup(text);
        return 0;
    }
    default: snprintf(msg, msglen, "is not a single value"); return -EINVAL;
    }
}
