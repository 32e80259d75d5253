/* The YAML policy, loaded into an immutable sw_cfg_t.
 *
 * One file drives both `spillway simulate` and `spillway serve`. One table (config/keys.c)
 * describes every key: its path, type, default, unit, accepted range and meaning. Loading
 * goes: YAML (unknown keys, wrong types) -> defaults for absent keys -> ranges from the
 * table and cross-field rules. Every error names file, line and key path:
 *     example.yaml:14: instance_types[1].price_per_hour_usd: must be in (0, 10000]
 * Units are in the key names. config/example.yaml documents every key. */
#ifndef SW_CONFIG_CONFIG_H
#define SW_CONFIG_CONFIG_H

#include <stdio.h>

#include "common/common.h"

/* Limits that other modules may size their tables by. Validation enforces them, so a
 * config that loads is one they can hold. */
#define SW_CFG_MAX_INSTANCE_TYPES 32u /* entries of instance_types */
#define SW_CFG_MAX_INSTANCES 10000u   /* instances of one type, or in one pool */
#define SW_CFG_MAX_BATCH 1024u        /* instance_types[].max_batch */

/* A random quantity. `mean` is in the unit of the key holding it (boot_s: seconds). */
typedef enum {
    SW_DIST_CONSTANT = 0, /* always `mean` */
    SW_DIST_UNIFORM,      /* uniform on [min, max]; mean derived */
    SW_DIST_EXPONENTIAL,  /* exponential with `mean` */
    SW_DIST_LOGNORMAL,    /* lognormal with `mean` and coefficient of variation `cv` */
} sw_dist_kind_t;

typedef struct sw_cfg_dist {
    sw_dist_kind_t dist;
    double mean;
    double cv;
    double min;
    double max;
} sw_cfg_dist_t;

/* Expected value of a distribution (uniform: (min+max)/2). */
double sw_cfg_dist_mean(const sw_cfg_dist_t *d);

typedef struct sw_cfg_slo {
    double latency_ms; /* end-to-end deadline per request */
    double target;     /* fraction of requests that must meet it, e.g. 0.98 */
} sw_cfg_slo_t;

typedef struct sw_cfg_spot {
    bool enabled;                  /* launch this type as spot instances */
    double price_factor;           /* spot price = on-demand price x factor */
    double interruptions_per_hour; /* Poisson rate of interruptions per running instance */
    double notice_s;               /* warning before an interruption (AWS: 120) */
} sw_cfg_spot_t;

/* How `spillway serve` starts and stops a type's workers (backends/provider.h). */
typedef enum {
    SW_PROVIDER_LOCAL = 0, /* child processes on this machine */
    SW_PROVIDER_COMMAND,   /* the operator's launch and terminate commands */
    SW_PROVIDER_STATIC,    /* no launches: hand-started workers join */
} sw_provider_kind_t;

typedef struct sw_cfg_instance_type {
    char *name;
    double price_per_hour_usd; /* on-demand price */
    sw_cfg_dist_t boot_s;      /* launch request -> worker ready (includes model load) */
    unsigned max_batch;
    double *batch_latency_ms; /* T_b for b = 1..max_batch, index b-1 */
    unsigned batch_latency_ms_count;
    /* Multiplicative noise on each batch's service time, mean 1: constant (none),
     * exponential, or lognormal with cv. */
    sw_cfg_dist_t service_variation;
    sw_cfg_spot_t spot;
    unsigned max_instances; /* 0: no limit */
    /* serve only: the VM provider and its settings. */
    sw_provider_kind_t provider;
    double boot_delay_s;       /* local: wait before starting the worker process */
    unsigned worker_threads;   /* local: compute threads per worker */
    char *launch, *terminate;  /* command: shell commands; NULL when unset */
    double command_timeout_s;  /* command: deadline of each command */
} sw_cfg_instance_type_t;

typedef struct sw_cfg_free_tier {
    bool enabled;
    double requests; /* free requests per month (AWS: 1,000,000) */
    double gb_s;     /* free GB-seconds per month (AWS: 400,000) */
} sw_cfg_free_tier_t;

/* One function faas-local can run: Invoke's FunctionName -> the command that starts an
 * execution environment (a Lambda custom runtime, e.g. `spillway function`). */
typedef struct sw_cfg_faas_function {
    char *name;
    char *command; /* run with /bin/sh -c */
} sw_cfg_faas_function_t;

/* `spillway faas-local`: the local Lambda-compatible service. */
typedef struct sw_cfg_faas_local {
    char *listen;     /* HOST:PORT of its Invoke API */
    double timeout_s; /* function timeout (Lambda's default: 3 s) */
    unsigned concurrency; /* environments at once; 0: faas.concurrency_limit */
    sw_cfg_faas_function_t *functions; /* empty: one `spillway function` per the CLI */
    unsigned functions_count;
} sw_cfg_faas_local_t;

/* Where and how live runs invoke functions (the Lambda Invoke client). */
typedef struct sw_cfg_faas_invoke {
    char *region;              /* SigV4 scope and the default endpoint's region */
    char *endpoint;            /* NULL: https://lambda.REGION.amazonaws.com */
    char *function_name;       /* name, name:alias or ARN */
    char *qualifier;           /* version or alias; NULL: $LATEST */
    char *credentials_profile; /* shared credentials file profile; NULL: AWS_PROFILE/default */
    double timeout_ms;         /* per-call deadline, retries included */
    unsigned max_in_flight;    /* calls outstanding at once; more are refused at once */
    unsigned max_retries;      /* for 5xx and transport errors */
    double retry_base_ms;      /* first backoff; doubles per retry, full jitter */
} sw_cfg_faas_invoke_t;

typedef struct sw_cfg_faas {
    bool enabled; /* false: policies never spill */
    unsigned memory_mb;
    double price_per_gb_s_usd;
    double price_per_million_requests_usd;
    double billing_granularity_ms; /* 1 since Dec 2020, 100 before */
    sw_cfg_dist_t warm_latency_ms; /* execution time of one request in a warm environment */
    sw_cfg_dist_t cold_start_ms;   /* extra time when a new environment must start */
    bool bill_cold_start;          /* whether init time is billed (custom runtimes: yes) */
    double keep_alive_s;           /* idle environments are reclaimed after this */
    unsigned concurrency_limit;    /* concurrent executions; beyond -> throttled (429) */
    double scale_out_per_minute;   /* new environments allowed per minute */
    sw_cfg_free_tier_t free_tier;
    sw_cfg_faas_invoke_t invoke;
    sw_cfg_faas_local_t local;
} sw_cfg_faas_t;

typedef struct sw_cfg_billing {
    double vm_granularity_s; /* 1 = per-second billing, 3600 = hourly */
    double vm_minimum_s;     /* minimum billed per launch (AWS Linux: 60) */
} sw_cfg_billing_t;

typedef enum {
    SW_POLICY_STATIC = 0,
    SW_POLICY_REACTIVE,
    SW_POLICY_FAAS_ONLY,
    SW_POLICY_MARK,
    SW_POLICY_ORACLE,
    SW_POLICY_CLAIRVOYANT,
} sw_policy_kind_t;

typedef struct sw_cfg_pool_entry {
    char *type; /* an instance_types[].name */
    unsigned count;
} sw_cfg_pool_entry_t;

typedef struct sw_cfg_static {
    sw_cfg_pool_entry_t *pool;
    unsigned pool_count;
} sw_cfg_static_t;

typedef struct sw_cfg_reactive {
    char *instance_type; /* default: the first instance type */
    /* Target invocations per instance per minute; 0 = 70 % of the type's SLO capacity. */
    double target_invocations_per_instance_per_minute;
    double scale_out_cooldown_s;
    double scale_in_cooldown_s;
    unsigned min_instances;
    unsigned max_instances; /* 0: no limit */
} sw_cfg_reactive_t;

typedef struct sw_cfg_mark {
    unsigned horizon_intervals;   /* planning span, in policy intervals */
    double target_utilization;    /* plan capacity so forecast load is this share of it */
    double violation_budget;      /* reactive monitor: launch when the recent miss rate exceeds */
    double violation_window_s;    /* ... measured over this window */
    double violation_cooldown_s;  /* min time between two reactive launches */
    unsigned min_instances;
    bool spill;                   /* spill to FaaS at arrival when the VM pool would miss */
} sw_cfg_mark_t;

typedef struct sw_cfg_policy {
    sw_policy_kind_t name;
    double interval_s;         /* planning interval (timeline rows too) */
    double max_queue_delay_ms; /* admission control: reject when predicted wait exceeds */
    double dispatch_margin_ms; /* dispatch a partial batch this long before its slack ends */
    sw_cfg_static_t static_pool; /* YAML key: `static` */
    sw_cfg_reactive_t reactive;
    sw_cfg_mark_t mark;
} sw_cfg_policy_t;

typedef struct sw_cfg_gaps {
    unsigned min_run;  /* a run of at least this many exact zeros ... */
    double min_level;  /* ... after a median count of at least this is missing data */
    unsigned context;  /* intervals the median is taken over */
} sw_cfg_gaps_t;

typedef struct sw_cfg_lstm {
    unsigned hidden;      /* LSTM units */
    unsigned window;      /* input intervals */
    unsigned epochs;      /* passes over the training windows */
    double learning_rate; /* Adam step size */
    unsigned batch;       /* windows per minibatch */
} sw_cfg_lstm_t;

typedef struct sw_cfg_predictor {
    char *name;                 /* forecaster by name: recent-max, last, seasonal-naive,
                                   ewma, holt-winters, ar, lstm */
    unsigned horizon_intervals; /* how far ahead it forecasts */
    unsigned window_intervals;  /* recent-max: history it looks at */
    double headroom;            /* recent-max: multiply the max by this */
    double quantile;            /* upper quantile level reported beside the point */
    char *model_path;           /* a saved fitted model (spillway predict fit --save) */
    double season_s;            /* season length, seconds (a day) */
    double holdout_frac;        /* share of the fit data held back to calibrate quantiles */
    bool calendar;              /* add minute-of-hour / hour-of-day where the model can */
    double ewma_alpha;          /* ewma smoothing; 0 = fitted */
    unsigned ar_order;          /* ar: p */
    uint64_t seed;              /* lstm initialisation; 0 = the top-level seed
                                   (sw_cfg_predictor_seed) */
    sw_cfg_gaps_t gaps;
    sw_cfg_lstm_t lstm;
} sw_cfg_predictor_t;

typedef enum {
    SW_TRACE_AUTO = 0,
    SW_TRACE_TIMESTAMPS,
    SW_TRACE_COUNTS_PER_SECOND,
    SW_TRACE_COUNTS_PER_MINUTE,
} sw_trace_format_t;

typedef struct sw_cfg_trace {
    char *path; /* relative paths resolve against the config file's folder */
    sw_trace_format_t format;
    char *timestamp_column; /* timestamps format: the CSV column holding the time */
    double rate_scale;      /* multiply the request rate by this */
    double start_s;         /* window: skip the trace's first start_s seconds */
    double duration_s;      /* window length; 0 = to the end */
} sw_cfg_trace_t;

/* `spillway serve`: the live frontend. */
typedef struct sw_cfg_serve {
    char *listen;             /* HOST:PORT of the KServe v2 HTTP API */
    char *worker_listen;      /* HOST:PORT the workers dial */
    char *model_path;         /* NULL: fashion-mlp.pb beside the spillway binary */
    char *static_token_file;  /* a file holding the token hand-started workers present */
    double request_timeout_ms;
    double worker_timeout_ms; /* heartbeat silence after which a worker is lost */
    double boot_timeout_s;    /* a launch that has not dialled in by then is lost */
    double drain_timeout_s;   /* SIGTERM: time accepted work has to finish */
    double stop_grace_s;      /* local workers: SIGTERM, then SIGKILL after this */
    double client_timeout_s;  /* HTTP read, write and idle timeout */
    unsigned max_body_bytes;
    unsigned max_connections;
    unsigned max_frame_bytes;
} sw_cfg_serve_t;

typedef struct sw_cfg {
    uint64_t seed;
    sw_cfg_slo_t slo;
    sw_cfg_instance_type_t *instance_types;
    unsigned instance_types_count;
    sw_cfg_faas_t faas;
    sw_cfg_billing_t billing;
    sw_cfg_policy_t policy;
    sw_cfg_predictor_t predictor;
    sw_cfg_trace_t trace;
    sw_cfg_serve_t serve;
    char *source_path; /* the file it was loaded from (NULL for built-in defaults) */
} sw_cfg_t;

/* Loads, defaults and validates `path`. On success returns 0 and *out (free with
 * sw_cfg_destroy()). On failure returns SW_ECONFIG and writes a message naming
 * file:line: key.path: problem into errbuf (several problems are separated by newlines,
 * at most 20 of them); or, when the file cannot be read, -errno and "PATH: reason":
 * -EISDIR for a directory, -EINVAL for a device, FIFO or socket (refused without reading
 * or blocking), -EFBIG past SW_FILE_MAX_CONFIG_BYTES (common/file.h). Time and memory
 * are linear in the file's size: aliases, nesting deeper than 32 levels and lists longer
 * than their range are refused, never expanded. Any thread. */
int sw_cfg_load(const char *path, sw_cfg_t **out, char *errbuf, size_t errlen) SW_MUST_USE;
/* The same from a YAML string (at most SW_FILE_MAX_CONFIG_BYTES); `name` stands in for
 * the file name in messages. */
int sw_cfg_load_string(const char *yaml, size_t len, const char *name, sw_cfg_t **out,
                       char *errbuf, size_t errlen) SW_MUST_USE;
void sw_cfg_destroy(sw_cfg_t *cfg);
/* A deep copy of a loaded config (key lines for later messages included), to be
 * destroyed on its own: a snapshot to try changes on, for a fraction of a reload's cost. */
sw_cfg_t *sw_cfg_copy(const sw_cfg_t *cfg);

/* Sets a numeric or string key by dotted path, e.g. "slo.latency_ms" = "100" or
 * "instance_types[0].price_per_hour_usd" = "0.1", then re-validates. The value is parsed
 * and range-checked exactly as the same value in the file would be. Used by CLI
 * overrides (--seed, --rate-scale, --set). Returns 0 or SW_ECONFIG with a message. cfg must
 * come from sw_cfg_load*(). A value that makes the config invalid is not applied: cfg is
 * left as it was. Relative paths (trace.path) are kept as given, i.e. relative to the
 * working directory. Bad key or value: "key.path: message"; validation problems:
 * "FILE[:LINE]: key.path: message", with no line for the overridden key. */
int sw_cfg_set(sw_cfg_t *cfg, const char *key_path, const char *value, char *errbuf,
               size_t errlen) SW_MUST_USE;
/* The value of a NUMBER or UINT key by its concrete path ("policy.mark.min_instances"),
 * as the run would use it (defaults filled in). Returns 0 and *out, or SW_ECONFIG with
 * "key.path: unknown key" or "key.path: not a number" in errbuf. Any thread. */
int sw_cfg_get_number(const sw_cfg_t *cfg, const char *key_path, double *out, char *errbuf,
                      size_t errlen) SW_MUST_USE;
/* Re-runs validation on any sw_cfg_t (also one changed by hand). Messages name
 * cfg->source_path (or "config") and carry no line numbers: "FILE: key.path: message". */
int sw_cfg_validate(const sw_cfg_t *cfg, char *errbuf, size_t errlen) SW_MUST_USE;

/* Notes about a valid config an operator should read, one per line ("note: ..."), into
 * buf (always NUL-terminated when len > 0), e.g. an instance type that cannot meet the
 * SLO, which planners will not launch. Returns the number of notes. */
size_t sw_cfg_notes(const sw_cfg_t *cfg, char *buf, size_t len);

/* Writes the resolved configuration (every key, defaults filled in) as YAML that
 * sw_cfg_load accepts. */
void sw_cfg_print(const sw_cfg_t *cfg, FILE *out);

/* True if a and b hold the same values for every key (source_path is not compared).
 * For reloads: a reload that changes nothing need not be swapped in. */
bool sw_cfg_equal(const sw_cfg_t *a, const sw_cfg_t *b);

/* Calls cb(ctx, path) with the concrete path ("instance_types[1].max_instances") of
 * every key whose value differs between a and b; a list whose length differs is reported
 * once, at its own path. cb may be NULL. Returns the number of differences. For reloads:
 * the caller decides which keys may change on a running system. */
typedef void (*sw_cfg_diff_cb)(void *ctx, const char *path);
size_t sw_cfg_diff(const sw_cfg_t *a, const sw_cfg_t *b, sw_cfg_diff_cb cb, void *ctx);

/* The forecaster's seed: predictor.seed, or the top-level seed when that is 0. Kept
 * unresolved in the config (not filled at load) so that a --seed override also reseeds
 * the forecaster. */
uint64_t sw_cfg_predictor_seed(const sw_cfg_t *cfg);

/* Index of the instance type named `name`, or -1. */
int sw_cfg_find_type(const sw_cfg_t *cfg, const char *name);

/* ---- The keys, for documentation, tools and tests ---------------------------------- */

typedef enum {
    SW_CFG_KEY_SECTION = 0, /* a mapping of keys */
    SW_CFG_KEY_NUMBER,      /* a finite double */
    SW_CFG_KEY_UINT,        /* a whole number >= 0 */
    SW_CFG_KEY_BOOL,
    SW_CFG_KEY_STRING,
    SW_CFG_KEY_ENUM,        /* one of `names` */
    SW_CFG_KEY_DIST,        /* a distribution {dist, mean, cv, min, max}: its sub-keys follow */
    SW_CFG_KEY_LIST,        /* a list of mappings (keys "x[].k") or of numbers ("x[]") */
} sw_cfg_key_type_t;

/* One key as the loader knows it. The range is what validation accepts: the value of a
 * NUMBER or UINT, the values of a DIST, the length of a STRING (1: not empty), the
 * number of entries of a LIST. */
typedef struct sw_cfg_key_info {
    const char *path; /* "slo.latency_ms", "instance_types[].boot_s.mean": "[]" = any index */
    sw_cfg_key_type_t type;
    const char *unit; /* "ms", "s", "USD per hour"; "" when none */
    const char *doc;  /* one line: what it means */
    bool required;    /* no default: the file must give it */
    bool has_range;   /* false: every value of the type (seed) */
    double min, max;
    bool min_open, max_open;  /* "(" or ")" rather than "[" or "]" */
    const char *zero_means;   /* non-NULL: 0 is accepted too, and means this ("no limit") */
    const char *const *names; /* ENUM: the accepted names, NULL-terminated */
} sw_cfg_key_info_t;

/* The number of keys, and the i-th in file order (NULL past the end). Sections and
 * distributions are keys too; a distribution's sub-keys follow it. */
size_t sw_cfg_key_count(void);
const sw_cfg_key_info_t *sw_cfg_key_at(size_t i);
/* The key at `path`, concrete ("instance_types[2].boot_s.mean") or with "[]"; NULL if
 * there is no such key. */
const sw_cfg_key_info_t *sw_cfg_key_find(const char *path);
/* Whether x is within the key's range (NaN never is). */
bool sw_cfg_key_in_range(const sw_cfg_key_info_t *k, double x);
/* The range as example.yaml and the messages write it: "[1, 3600000]", "(0, 1)",
 * "0 (no limit) or [1, 10000]"; "" without a range. */
void sw_cfg_key_range_text(const sw_cfg_key_info_t *k, char *buf, size_t len);

const char *sw_policy_name(sw_policy_kind_t kind);
int sw_policy_from_name(const char *name, sw_policy_kind_t *out);
const char *sw_trace_format_name(sw_trace_format_t fmt);
int sw_trace_format_from_name(const char *name, sw_trace_format_t *out);

#endif
