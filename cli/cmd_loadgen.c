/* `spillway loadgen`: a client that owes the server nothing. It replays a request trace
 * against a KServe v2 URL open loop (each request at its scheduled time, its latency from
 * that time), or keeps N requests in flight closed loop, checks every answer, and writes
 * summary.json (in simulate's shape where the meaning matches) and timeline.csv.
 *
 * This file turns the command line and the policy file (for the SLO, and the trace
 * options exactly as simulate reads them) into a run (loadgen_run.c), then prints and
 * writes what it measured. The exit status says whether every request was answered
 * right: 0 yes, 1 no (or the run failed), 2 usage or configuration error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>
#include <jansson.h>

#include "cli/cli.h"
#include "cli/fashion.h"
#include "cli/loadgen_internal.h"
#include "common/log.h"
#include "common/net.h"
#include "runs/rundir.h"
#include "sim/sim.h"

#define CMD "loadgen"
#define MAX_SETS 16
#define MAX_ROWS 64 /* the most rows serve takes in one call */
#define FD_MARGIN 64

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: spillway loadgen --url http://HOST:PORT [--model-name NAME] [--model-version V]\n"
        "                        [--config FILE] [--slo-ms MS] [--slo-target F]\n"
        "  open loop:            [--trace FILE] [--trace-format F] [--rate-scale K]\n"
        "                        [--start S] [--duration S] [--seed N] [--speedup K]\n"
        "                        [--connections N] [--max-connections N]\n"
        "  closed loop:          --concurrency N --duration S\n"
        "                        [--rows K] [--images N] [--data DIR] [--check-model FILE]\n"
        "                        [--output-size N] [--timeout-ms MS] [--interval S]\n"
        "                        [--out DIR] [--progress|--no-progress]\n\n"
        "Sends Fashion-MNIST inference requests to a KServe v2 server and measures it.\n"
        "Open loop (the default) replays a trace as simulate does: each request is sent at\n"
        "its scheduled time whether or not earlier ones were answered, and its latency runs\n"
        "from that time. Closed loop keeps N requests in flight for S seconds.\n\n"
        "  --url URL            the server, http://HOST[:PORT]\n"
        "  --model-name NAME    model to call (default fashion-mlp)\n"
        "  --model-version V    call /versions/V of it (default: the model's route)\n"
        "  --config FILE        policy file: slo.latency_ms, slo.target and the trace.*\n"
        "                       keys, as serve and simulate read them\n"
        "  --slo-ms MS          SLO latency (overrides slo.latency_ms)\n"
        "  --slo-target F       SLO attainment target in (0, 1] (overrides slo.target)\n"
        "  --trace FILE         trace to replay (format detected unless --trace-format)\n"
        "  --trace-format F     auto, timestamps, counts-per-second, counts-per-minute\n"
        "  --rate-scale K       multiply the trace's rate by K\n"
        "  --start S            skip the trace's first S seconds\n"
        "  --duration S         open loop: replay S seconds of the trace; closed loop: run\n"
        "                       for S seconds\n"
        "  --seed N             seed spreading counts into arrivals (as simulate's)\n"
        "  --speedup K          replay K times faster: arrival times are divided by K\n"
        "  --connections N      connections opened before the start (default 64)\n"
        "  --max-connections N  most connections open at once (default 1024)\n"
        "  --concurrency N      closed loop with N connections\n"
        "  --rows K             images per request, 1..%d (default 1)\n"
        "  --images N           use the first N test images, in order, wrapping\n"
        "                       (default 1000)\n"
        "  --data DIR           Fashion-MNIST (default " SW_CLI_FASHION_DIR ")\n"
        "  --check-model FILE   check each answer against this model, run here, within\n"
        "                       %g (default: check the shape and that values are finite)\n"
        "  --output-size N      floats per answer row without --check-model (default 10)\n"
        "  --timeout-ms MS      a request unanswered this long after its scheduled time\n"
        "                       fails (default 30000)\n"
        "  --interval S         timeline.csv row length (default 1)\n"
        "  --out DIR            output folder (default loadgen-out)\n"
        "  --progress           progress line on stderr (default when it is a terminal)\n"
        "  --log-level LEVEL    error, warn, info, debug\n\n"
        "Writes DIR/summary.json and DIR/timeline.csv. Exit status: 0 every request\n"
        "answered 200 and right, 1 some request failed, timed out or was answered wrongly\n"
        "(or the run could not start), 2 usage or configuration error.\n",
        MAX_ROWS, SW_LG_TOLERANCE);
}

typedef struct lg_args {
    const char *url, *model_name, *model_version, *config, *out, *data, *check_model;
    const char *duration; /* the trace window, or the closed loop's length */
    sw_cli_override_t sets[MAX_SETS];
    size_t n_sets;
    bool trace_given, format_given, replay_given, speedup_given;
    int progress; /* -1: when stderr is a terminal */
    double speedup, interval_s;
    unsigned long long concurrency, rows, images, output_size, connections, max_connections,
        timeout_ms;
    bool connections_given, max_connections_given;
} lg_args_t;

enum {
    OPT_URL = 256,
    OPT_MODEL_NAME,
    OPT_MODEL_VERSION,
    OPT_SLO_MS,
    OPT_SLO_TARGET,
    OPT_TRACE,
    OPT_FORMAT,
    OPT_RATE,
    OPT_START,
    OPT_DURATION,
    OPT_SEED,
    OPT_SPEEDUP,
    OPT_CONNECTIONS,
    OPT_MAX_CONNECTIONS,
    OPT_CONCURRENCY,
    OPT_ROWS,
    OPT_IMAGES,
    OPT_DATA,
    OPT_CHECK_MODEL,
    OPT_OUTPUT_SIZE,
    OPT_TIMEOUT,
    OPT_INTERVAL,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_LOG
};

static const struct option longopts[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"model-name", required_argument, NULL, OPT_MODEL_NAME},
    {"model-version", required_argument, NULL, OPT_MODEL_VERSION},
    {"config", required_argument, NULL, 'c'},
    {"slo-ms", required_argument, NULL, OPT_SLO_MS},
    {"slo-target", required_argument, NULL, OPT_SLO_TARGET},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"trace-format", required_argument, NULL, OPT_FORMAT},
    {"rate-scale", required_argument, NULL, OPT_RATE},
    {"start", required_argument, NULL, OPT_START},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"speedup", required_argument, NULL, OPT_SPEEDUP},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"rows", required_argument, NULL, OPT_ROWS},
    {"images", required_argument, NULL, OPT_IMAGES},
    {"data", required_argument, NULL, OPT_DATA},
    {"check-model", required_argument, NULL, OPT_CHECK_MODEL},
    {"output-size", required_argument, NULL, OPT_OUTPUT_SIZE},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"out", required_argument, NULL, 'o'},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, 'h'},
    {0},
};

/* A number in (min, max] (or [min, max] when min_included). */
static bool parse_number(const char *opt, const char *text, double min, bool min_included,
                         double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || (v == min && !min_included) ||
        v > max) {
        fprintf(stderr, "spillway " CMD ": %s %s: expected a number in %c%g, %g]\n", opt, text,
                min_included ? '[' : '(', min, max);
        return false;
    }
    *out = v;
    return true;
}

/* Options that are config keys become overrides, applied after the file is loaded so
 * they validate exactly as the YAML (and as simulate's options) do. option NULL: an
 * implied `key=value` the user did not type. */
static bool add_override(lg_args_t *a, const char *option, const char *text)
{
    return sw__cli_add_override(CMD, a->sets, MAX_SETS, &a->n_sets, option, text);
}

/* An option with a whole-number value: 1 when parsed, 0 after printing why it is
 * refused, -1 when c is no such option. */
static int parse_count_opt(lg_args_t *a, int c, const char *text)
{
    static const struct {
        int opt;
        const char *name;
        size_t offset;
        unsigned long long min, max;
    } counts[] = {
        {OPT_CONNECTIONS, "--connections", offsetof(lg_args_t, connections), 1, 65536},
        {OPT_MAX_CONNECTIONS, "--max-connections", offsetof(lg_args_t, max_connections), 1, 65536},
        {OPT_CONCURRENCY, "--concurrency", offsetof(lg_args_t, concurrency), 1, 65536},
        {OPT_ROWS, "--rows", offsetof(lg_args_t, rows), 1, MAX_ROWS},
        {OPT_IMAGES, "--images", offsetof(lg_args_t, images), 1, 1000000},
        {OPT_OUTPUT_SIZE, "--output-size", offsetof(lg_args_t, output_size), 1, 1000000},
        {OPT_TIMEOUT, "--timeout-ms", offsetof(lg_args_t, timeout_ms), 1, 3600000},
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(counts); i++)
        if (counts[i].opt == c)
            return sw__cli_parse_uint(CMD, counts[i].name, text, counts[i].min, counts[i].max,
                                      (unsigned long long *)((char *)a + counts[i].offset));
    return -1;
}

/* One option (idx: its entry in longopts, as getopt_long set it); returns 0,
 * SW_EXIT_USAGE, or -1 for --help. */
static int parse_one(lg_args_t *a, int c, int idx)
{
    switch (c) {
    case OPT_URL: a->url = optarg; return 0;
    case OPT_MODEL_NAME: a->model_name = optarg; return 0;
    case OPT_MODEL_VERSION: a->model_version = optarg; return 0;
    case 'c': a->config = optarg; return 0;
    case 'o': a->out = optarg; return 0;
    case OPT_DATA: a->data = optarg; return 0;
    case OPT_CHECK_MODEL: a->check_model = optarg; return 0;
    case OPT_DURATION: a->duration = optarg; return 0;
    case OPT_PROGRESS: a->progress = 1; return 0;
    case OPT_NO_PROGRESS: a->progress = 0; return 0;
    case 'h': usage(stdout); return -1;
    case OPT_LOG: return sw__cli_set_log_level(CMD, "--log-level", optarg) ? 0 : SW_EXIT_USAGE;
    case OPT_SPEEDUP:
        a->speedup_given = true;
        return parse_number("--speedup", optarg, 0, false, 1e6, &a->speedup) ? 0 : SW_EXIT_USAGE;
    case OPT_INTERVAL:
        return parse_number("--interval", optarg, 0.001, true, 86400, &a->interval_s)
                   ? 0
                   : SW_EXIT_USAGE;
    case OPT_SLO_MS:
    case OPT_SLO_TARGET:
    case OPT_TRACE:
    case OPT_FORMAT:
    case OPT_RATE:
    case OPT_START:
    case OPT_SEED:
        a->trace_given |= c == OPT_TRACE;
        a->format_given |= c == OPT_FORMAT;
        a->replay_given |= c != OPT_SLO_MS && c != OPT_SLO_TARGET;
        return add_override(a, longopts[idx].name, optarg) ? 0 : SW_EXIT_USAGE;
    default: {
        a->connections_given |= c == OPT_CONNECTIONS || c == OPT_MAX_CONNECTIONS;
        a->max_connections_given |= c == OPT_MAX_CONNECTIONS;
        int parsed = parse_count_opt(a, c, optarg);
        if (parsed < 0)
            usage(stderr);
        return parsed > 0 ? 0 : SW_EXIT_USAGE;
    }
    }
}

/* Checks that the options make one mode, and gives --duration to it. */
static int check_mode(lg_args_t *a)
{
    if (!a->url) {
        fprintf(stderr, "spillway " CMD ": --url is required: the server to load, e.g. "
                        "--url http://127.0.0.1:8080\n");
        return SW_EXIT_USAGE;
    }
    if (a->concurrency) {
        if (a->replay_given || a->speedup_given || a->connections_given) {
            fprintf(stderr, "spillway " CMD ": --concurrency runs a closed loop, which replays "
                            "no trace: drop --trace, --trace-format, --rate-scale, --start, "
                            "--seed, --speedup, --connections and --max-connections, or drop "
                            "--concurrency to replay the trace open loop\n");
            return SW_EXIT_USAGE;
        }
        double d = 0;
        if (!a->duration) {
            fprintf(stderr,
                    "spillway " CMD ": --concurrency needs --duration S: how long to "
                    "keep %llu requests in flight\n",
                    a->concurrency);
            return SW_EXIT_USAGE;
        }
        if (!parse_number("--duration", a->duration, 0, false, 1e7, &d))
            return SW_EXIT_USAGE;
        a->interval_s = a->interval_s ? a->interval_s : 1;
        return 0;
    }
    if (a->connections > a->max_connections) {
        fprintf(stderr,
                "spillway " CMD ": --connections %llu is more than --max-connections "
                "%llu\n",
                a->connections, a->max_connections);
        return SW_EXIT_USAGE;
    }
    if (a->duration && !add_override(a, "duration", a->duration))
        return SW_EXIT_USAGE;
    /* Another file need not share the config's trace format: detect it unless told. */
    if (a->trace_given && !a->format_given && !add_override(a, NULL, "trace.format=auto"))
        return SW_EXIT_USAGE;
    return 0;
}

static int parse_args(int argc, char **argv, lg_args_t *a)
{
    int c, rc, idx = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", longopts, &idx)) != -1)
        if ((rc = parse_one(a, c, idx)) != 0)
            return rc;
    if (optind != argc) {
        fprintf(stderr, "spillway " CMD ": unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    return check_mode(a);
}

/* ---- The server ---- */

/* The server's address and the request target, from --url and the model options. */
typedef struct lg_target {
    char authority[300]; /* HOST[:PORT] as written: the Host header */
    char host[256];
    char port[8];
    char path[1024];
} lg_target_t;

/* Model names and versions go into the path as they are: no character that needs
 * escaping. */
static bool is_path_segment(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static int split_authority(const char *url, lg_target_t *t)
{
    const char *bracket = strrchr(t->authority, ']');
    /* An IPv6 literal is "[ADDR]" and nothing but ":PORT" may follow it. */
    if ((t->authority[0] == '[') != (bracket != NULL) ||
        (bracket && bracket[1] && bracket[1] != ':')) {
        fprintf(stderr,
                "spillway " CMD ": --url %s: an IPv6 address is written in brackets, as in "
                "http://[::1]:8080\n",
                url);
        return SW_EXIT_USAGE;
    }
    const char *colon = strrchr(bracket ? bracket : t->authority, ':');
    uint16_t port = 80;
    if (colon) {
        if (sw_net_split_host_port(t->authority, t->host, sizeof(t->host), &port, false) < 0) {
            fprintf(stderr,
                    "spillway " CMD ": --url %s: expected http://HOST[:PORT] with a port "
                    "in [1, 65535]\n",
                    url);
            return SW_EXIT_USAGE;
        }
    } else {
        size_t n = strlen(t->authority);
        bool v6 = n > 2 && t->authority[0] == '[';
        snprintf(t->host, sizeof(t->host), "%.*s", (int)(v6 ? n - 2 : n), t->authority + v6);
    }
    snprintf(t->port, sizeof(t->port), "%u", (unsigned)port);
    return 0;
}

static int parse_url(const lg_args_t *a, lg_target_t *t)
{
    const char *u = a->url;
    if (strncasecmp(u, "http://", 7) != 0) {
        fprintf(stderr,
                "spillway " CMD ": --url %s: expected http://HOST[:PORT] (loadgen speaks "
                "plain HTTP; run it where that reaches the server)\n",
                u);
        return SW_EXIT_USAGE;
    }
    const char *auth = u + 7;
    size_t n = strcspn(auth, "/?#");
    const char *prefix = auth + n;
    size_t prefix_len = strlen(prefix);
    while (prefix_len && prefix[prefix_len - 1] == '/')
        prefix_len--;
    if (n == 0 || n >= sizeof(t->authority) || strpbrk(prefix, "?#") || prefix_len > 512) {
        fprintf(stderr,
                "spillway " CMD ": --url %s: expected http://HOST[:PORT][/PREFIX], with "
                "no query or fragment\n",
                u);
        return SW_EXIT_USAGE;
    }
    memcpy(t->authority, auth, n);
    t->authority[n] = '\0';
    if (!is_path_segment(a->model_name) ||
        (a->model_version && !is_path_segment(a->model_version))) {
        fprintf(stderr, "spillway " CMD ": --model-name and --model-version may hold letters, "
                        "digits, '.', '_' and '-' only\n");
        return SW_EXIT_USAGE;
    }
    snprintf(t->path, sizeof(t->path), "%.*s/v2/models/%s%s%s/infer", (int)prefix_len, prefix,
             a->model_name, a->model_version ? "/versions/" : "",
             a->model_version ? a->model_version : "");
    return split_authority(u, t);
}

static int resolve(const lg_args_t *a, const lg_target_t *t, sw_lg_run_opts_t *ro)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "spillway " CMD ": --url %s: cannot resolve %s: %s\n", a->url, t->host,
                gai_strerror(rc));
        return SW_EXIT_USAGE;
    }
    memcpy(&ro->addr, res->ai_addr, res->ai_addrlen);
    ro->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Each connection is a file: raises the soft limit when the bound needs it. A default
 * bound the limit cannot reach is lowered to fit, with a note; a bound asked for is not. */
static int ensure_files(lg_args_t *a)
{
    unsigned long long *conns = a->concurrency ? &a->concurrency : &a->max_connections;
    struct rlimit rl;
    rlim_t need = (rlim_t)*conns + FD_MARGIN;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return 0;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need)
        return 0;
    getrlimit(RLIMIT_NOFILE, &rl);
    unsigned long long fit = rl.rlim_cur > 2 * FD_MARGIN ? rl.rlim_cur - FD_MARGIN : 0;
    if (!a->concurrency && !a->max_connections_given && fit >= a->connections) {
        fprintf(stderr,
                "spillway " CMD ": note: --max-connections lowered from %llu to %llu: "
                "this process may open %llu files (ulimit -n)\n",
                *conns, fit, (unsigned long long)rl.rlim_cur);
        *conns = fit;
        return 0;
    }
    fprintf(stderr,
            "spillway " CMD ": %llu connections need %llu open files, but this process "
            "may open %llu (ulimit -n): lower %s, or raise the limit\n",
            *conns, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
            a->concurrency ? "--concurrency" : "--connections and --max-connections");
    return SW_EXIT_USAGE;
}

/* ---- What a run measured ---- */

static bool is_open_loop(const lg_args_t *a)
{
    return a->concurrency == 0;
}

static double attainment(const sw_lg_stats_t *st)
{
    return st->requests ? (double)st->slo_met / (double)st->requests : 0.0;
}

static json_t *errors_by_status_json(const sw_lg_stats_t *st)
{
    json_t *o = json_object();
    for (int s = 0; s < (int)SW_ARRAY_LEN(st->by_status); s++)
        if (st->by_status[s]) {
            char key[8];
            snprintf(key, sizeof(key), "%d", s);
            json_object_set_new(o, key, json_integer((json_int_t)st->by_status[s]));
        }
    return o;
}

/* simulate's latency_ms, and its min: what the quickest answer took shows at once
 * whether latency ran from the schedule. */
static json_t *latency_json(const sw_hist_t *h)
{
    json_t *o = sw_run_latency_json(h);
    json_object_set_new(o, "min", json_real(h->count ? (double)h->min_us / 1e3 : 0.0));
    return o;
}

/* How the run was made: mode, server, schedule and check. */
static void describe_run_json(json_t *root, const lg_args_t *a, const sw_cfg_t *cfg)
{
    json_object_set_new(root, "mode", json_string(is_open_loop(a) ? "open-loop" : "closed-loop"));
    json_object_set_new(root, "url", json_string(a->url));
    json_object_set_new(root, "model_name", json_string(a->model_name));
    json_object_set_new(root, "model_version",
                        a->model_version ? json_string(a->model_version) : json_null());
    if (is_open_loop(a)) {
        json_object_set_new(root, "trace", json_string(cfg->trace.path));
        json_object_set_new(root, "seed", json_integer((json_int_t)cfg->seed));
        json_object_set_new(root, "rate_scale", json_real(cfg->trace.rate_scale));
        json_object_set_new(root, "start_s", json_real(cfg->trace.start_s));
        json_object_set_new(root, "duration_s", json_real(cfg->trace.duration_s));
        json_object_set_new(root, "speedup", json_real(a->speedup));
    } else {
        json_object_set_new(root, "concurrency", json_integer((json_int_t)a->concurrency));
        json_object_set_new(root, "duration_s", json_real(strtod(a->duration, NULL)));
    }
    json_object_set_new(root, "rows", json_integer((json_int_t)a->rows));
    json_object_set_new(root, "check", json_string(a->check_model ? "model" : "shape-and-finite"));
    json_object_set_new(root, "check_model",
                        a->check_model ? json_string(a->check_model) : json_null());
    json_object_set_new(root, "check_tolerance",
                        a->check_model ? json_real(SW_LG_TOLERANCE) : json_null());
}

/* The share of right answers' rows whose top class is the image's label, or -1 when no
 * answer was right. */
static double label_accuracy(const sw_lg_stats_t *st)
{
    return st->label_rows ? (double)st->label_hits / (double)st->label_rows : -1.0;
}

static json_t *summary_json(const lg_args_t *a, const sw_cfg_t *cfg, const sw_lg_stats_t *st)
{
    json_t *root = json_object();
    describe_run_json(root, a, cfg);
    json_object_set_new(root, "requests", json_integer((json_int_t)st->requests));
    json_object_set_new(root, "sent", json_integer((json_int_t)st->sent));
    json_object_set_new(root, "retried", json_integer((json_int_t)st->retries));
    json_object_set_new(root, "answered_ok", json_integer((json_int_t)st->ok));
    json_object_set_new(root, "errors_by_status", errors_by_status_json(st));
    json_object_set_new(root, "transport_errors", json_integer((json_int_t)st->transport));
    json_object_set_new(root, "wrong_answers", json_integer((json_int_t)st->wrong));
    json_object_set_new(root, "timeouts", json_integer((json_int_t)st->timeouts));
    json_object_set_new(root, "label_accuracy",
                        label_accuracy(st) >= 0 ? json_real(label_accuracy(st)) : json_null());
    json_object_set_new(root, "slo_ms", json_real(cfg->slo.latency_ms));
    json_object_set_new(root, "slo_target", json_real(cfg->slo.target));
    json_object_set_new(root, "slo_attainment", json_real(attainment(st)));
    /* A run without a request met no SLO, as in simulate's summary. */
    json_object_set_new(root, "slo_met",
                        json_boolean(st->requests > 0 && attainment(st) >= cfg->slo.target));
    json_object_set_new(root, "latency_ms", latency_json(&st->latency));
    json_object_set_new(root, "latency_cdf_ms", sw_run_latency_cdf_json(&st->latency));
    json_object_set_new(root, "max_send_lateness_ms", json_real(sw_time_to_ms(st->max_lateness)));
    json_object_set_new(root, "late_sends", json_integer((json_int_t)st->late_sends));
    json_object_set_new(root, "waited_for_connection",
                        json_integer((json_int_t)st->waited_for_conn));
    json_object_set_new(root, "client_cpu_us_per_request",
                        json_real(st->requests ? st->cpu_us / (double)st->requests : 0.0));
    json_object_set_new(root, "wall_s", json_real(st->wall_s));
    json_object_set_new(root, "offered_rps",
                        json_real(st->schedule_s > 0 ? (double)st->requests / st->schedule_s : 0));
    json_object_set_new(root, "answered_ok_rps",
                        json_real(st->wall_s > 0 ? (double)st->ok / st->wall_s : 0));
    json_object_set_new(root, "connections_opened", json_integer((json_int_t)st->connects));
    json_object_set_new(root, "peak_connections", json_integer((json_int_t)st->peak_open));
    json_object_set_new(root, "peak_in_flight", json_integer((json_int_t)st->peak_in_flight));
    json_object_set_new(root, "retry_after_max_s",
                        st->retry_after_max_s >= 0 ? json_integer(st->retry_after_max_s)
                                                   : json_null());
    json_object_set_new(root, "interrupted", json_boolean(st->interrupted));
    return root;
}

/* ---- The operator's summary ---- */

static void print_errors(const sw_lg_stats_t *st)
{
    uint64_t failed = st->requests - st->ok;
    if (failed == 0) {
        printf("  errors       none\n");
        return;
    }
    printf("  errors       %" PRIu64 ":", failed);
    for (int s = 0; s < (int)SW_ARRAY_LEN(st->by_status); s++)
        if (st->by_status[s])
            printf(" HTTP %d x %" PRIu64 ",", s, st->by_status[s]);
    printf(" transport %" PRIu64 ", timeouts %" PRIu64 ", wrong answers %" PRIu64 "\n",
           st->transport, st->timeouts, st->wrong);
    const char *const first[][2] = {{"first wrong answer", st->first_wrong},
                                    {"first error status", st->first_status},
                                    {"first transport error", st->first_transport}};
    for (size_t i = 0; i < SW_ARRAY_LEN(first); i++)
        if (first[i][1][0])
            printf("               %s: %s\n", first[i][0], first[i][1]);
}

static void print_schedule(const lg_args_t *a, const sw_lg_stats_t *st)
{
    double offered = st->schedule_s > 0 ? (double)st->requests / st->schedule_s : 0;
    if (!is_open_loop(a)) {
        printf("  throughput   %.1f answers/s right, %llu in flight, over %.1f s\n",
               st->wall_s > 0 ? (double)st->ok / st->wall_s : 0.0, a->concurrency, st->schedule_s);
        return;
    }
    printf("  schedule     %.1f requests/s offered over %.1f s; sends at most %.1f ms late\n",
           offered, st->schedule_s, sw_time_to_ms(st->max_lateness));
    if (!st->late_sends)
        return;
    printf("               BEHIND SCHEDULE: %" PRIu64 " sends more than %lld ms late; latencies "
           "still run from the schedule, but the load was not offered as the trace says.\n",
           st->late_sends, (long long)(SW_LG_LATE_US / SW_US_PER_MS));
    if (st->waited_for_conn)
        printf("               %" PRIu64 " requests waited for a connection (at most %llu "
               "open): raise --max-connections\n",
               st->waited_for_conn, a->max_connections);
    else
        printf("               None waited for a connection: loadgen itself was not run in "
               "time; give it a core of its own\n");
}

static void print_summary(const lg_args_t *a, const sw_cfg_t *cfg, const sw_lg_payloads_t *p,
                          const sw_lg_stats_t *st)
{
    if (is_open_loop(a))
        printf("spillway loadgen: open loop, trace %s (seed %" PRIu64 ", rate x%g, %.1f s from "
               "%g s, speedup %g), %s\n",
               cfg->trace.path, cfg->seed, cfg->trace.rate_scale, st->schedule_s * a->speedup,
               cfg->trace.start_s, a->speedup, a->url);
    else
        printf("spillway loadgen: closed loop, %llu connections for %s s, %s\n", a->concurrency,
               a->duration, a->url);
    printf("  requests     %" PRIu64 "  (sent %" PRIu64 ", answered right %" PRIu64 ")%s\n",
           st->requests, st->sent, st->ok, st->interrupted ? "  INTERRUPTED" : "");
    if (st->retries)
        printf("               %" PRIu64 " sent again: a reused connection closed before "
               "answering\n",
               st->retries);
    print_errors(st);
    if (st->requests == 0)
        printf("  SLO          none: no request was scheduled\n");
    else
        printf("  SLO          %.3f %% within %.0f ms  (target %.2f %%: %s)\n",
               attainment(st) * 100.0, cfg->slo.latency_ms, cfg->slo.target * 100.0,
               attainment(st) >= cfg->slo.target ? "met" : "MISSED");
    const sw_hist_t *h = &st->latency;
    printf("  latency ms   p50 %.1f  p95 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (right answers, "
           "from %s)\n",
           sw_hist_quantile_us(h, 0.5) / 1e3, sw_hist_quantile_us(h, 0.95) / 1e3,
           sw_hist_quantile_us(h, 0.99) / 1e3, sw_hist_quantile_us(h, 0.999) / 1e3,
           (double)h->max_us / 1e3, is_open_loop(a) ? "the schedule" : "the send");
    print_schedule(a, st);
    if (a->check_model)
        printf("  answers      checked against %s, within %g", a->check_model, SW_LG_TOLERANCE);
    else
        printf("  answers      checked for shape [%zu, %zu] and finite values (--check-model "
               "compares them with the model)",
               p->rows, p->output_size);
    if (label_accuracy(st) >= 0)
        printf("; top class is the label in %.1f %% of rows\n", label_accuracy(st) * 100.0);
    else
        printf("\n");
    printf("  client       %.1f us CPU per request, %" PRIu64 " connections made, peak %u in "
           "flight, %.1f s wall\n",
           st->requests ? st->cpu_us / (double)st->requests : 0.0, st->connects, st->peak_in_flight,
           st->wall_s);
    printf("  output       %s/summary.json, %s/timeline.csv\n", a->out, a->out);
}

/* ---- The command ---- */

static int prepare(const lg_args_t *a, const sw_cfg_t *cfg, const lg_target_t *t,
                   sw_lg_payloads_t *p, sw_lg_run_opts_t *ro)
{
    sw_idx_set_t set;
    int rc = sw__cli_fashion_load(CMD, a->data, false, &set);
    if (rc != 0)
        return rc;
    sw_lg_payload_opts_t po = {
        .set = &set,
        .data_dir = a->data,
        .images = a->images,
        .rows = a->rows,
        .output_size = a->output_size,
        .check_model = a->check_model,
        .path = t->path,
        .host = t->authority,
    };
    char err[2048];
    rc = sw__lg_payloads_build(p, &po, err, sizeof(err));
    sw_idx_deinit(&set);
    if (rc < 0) {
        fprintf(stderr, "spillway " CMD ": %s\n", err);
        return sw__cli_file_status(rc);
    }
    ro->url = a->url;
    ro->payloads = p;
    ro->trace_path = cfg->trace.path;
    sw_sim_trace_opts(cfg, &ro->trace_opts);
    ro->speedup = a->speedup;
    ro->concurrency = (unsigned)a->concurrency;
    ro->duration_s = a->concurrency ? strtod(a->duration, NULL) : 0;
    ro->connections = (unsigned)a->connections;
    ro->max_connections = (unsigned)a->max_connections;
    ro->timeout = (sw_time_t)a->timeout_ms * SW_US_PER_MS;
    ro->interval = sw_s_to_time(a->interval_s);
    ro->slo_ms = cfg->slo.latency_ms;
    ro->progress_tty = isatty(STDERR_FILENO);
    ro->progress = a->progress < 0 ? ro->progress_tty : a->progress;
    if (mkdir(a->out, 0777) < 0 && errno != EEXIST) {
        fprintf(stderr, "spillway " CMD ": --out %s: cannot create directory: %s\n", a->out,
                strerror(errno));
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* Runs, then writes and prints what was measured. Returns the exit status. */
static int run_and_report(const lg_args_t *a, const sw_cfg_t *cfg, sw_lg_payloads_t *p,
                          sw_lg_run_opts_t *ro)
{
    char path[4096], err[4096];
    snprintf(path, sizeof(path), "%s/timeline.csv", a->out);
    ro->timeline = fopen(path, "w");
    if (!ro->timeline) {
        fprintf(stderr, "spillway " CMD ": %s: cannot create: %s\n", path, strerror(errno));
        return SW_EXIT_USAGE;
    }
    sw_lg_stats_t *st = sw_malloc(sizeof(*st));
    int rc = sw__lg_run(ro, st, err, sizeof(err));
    bool wrote = fclose(ro->timeline) == 0;
    if (st->wall_s > 0 || st->requests) {
        json_t *root = summary_json(a, cfg, st);
        snprintf(path, sizeof(path), "%s/summary.json", a->out);
        char werr[4096];
        if (sw_run_write_json(path, root, werr, sizeof(werr)) < 0 || !wrote) {
            fprintf(stderr, "spillway " CMD ": %s\n", wrote ? werr : "timeline.csv: write failed");
            rc = rc < 0 ? rc : -EIO;
        }
        json_decref(root);
        print_summary(a, cfg, p, st);
    }
    int status = SW_EXIT_OK;
    if (rc < 0) {
        fprintf(stderr, "spillway " CMD ": %s\n", err);
        /* As in simulate: a trace file that is not there, or a window past its end, is the
         * caller's to fix; a malformed line found while replaying, or a server that cannot
         * be reached, is a failed run. */
        bool usage_error = rc == -EINVAL || rc == -ENOENT || rc == -EACCES || rc == -ENOTDIR ||
                           rc == -EISDIR || rc == -EFBIG;
        status = usage_error && st->requests == 0 ? SW_EXIT_USAGE : SW_EXIT_FAILURE;
    } else if (st->ok != st->requests) {
        status = SW_EXIT_FAILURE;
    }
    sw_free(st);
    return status;
}

int sw_cli_cmd_loadgen(int argc, char **argv)
{
    lg_args_t a = {.model_name = "fashion-mlp",
                   .out = "loadgen-out",
                   .data = SW_CLI_FASHION_DIR,
                   .progress = -1,
                   .speedup = 1,
                   .interval_s = 1,
                   .rows = 1,
                   .images = 1000,
                   .output_size = 10,
                   .connections = 64,
                   .max_connections = 1024,
                   .timeout_ms = 30000};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    /* OpenBLAS's idle threads spin in sched_yield after a call: their CPU would be billed
     * to every request, and taken from a server on the same machine. The check model's
     * one pass over the images needs no threads. */
    openblas_set_num_threads(1);
    lg_target_t t;
    sw_lg_run_opts_t ro = {0};
    if ((rc = parse_url(&a, &t)) != 0 || (rc = resolve(&a, &t, &ro)) != 0 ||
        (rc = ensure_files(&a)) != 0)
        return rc;
    sw_cfg_t *cfg;
    if ((rc = sw__cli_load_config_sets(a.config, a.sets, a.n_sets, &cfg)) != 0)
        return rc;
    sw__cli_print_notes(cfg);
    sw_lg_payloads_t p = {0};
    rc = prepare(&a, cfg, &t, &p, &ro);
    if (rc == 0)
        rc = run_and_report(&a, cfg, &p, &ro);
    sw__lg_payloads_deinit(&p);
    sw_cfg_destroy(cfg);
    return rc;
}
