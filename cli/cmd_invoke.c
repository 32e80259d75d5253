/* `spillway invoke`: calls the configured function through the same Invoke client a live
 * run uses (faas.invoke of the policy file: region, endpoint, function, limits), so an
 * operator can check credentials, endpoint and function before a run depends on them, and
 * put a quick load on it.
 *
 *   spillway invoke [--config FILE] [--set KEY=VALUE]... [--payload FILE|-]
 *                   [--count N] [--concurrency K] */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "backends/aws_creds.h"
#include "backends/lambda_client.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "cli/cli.h"

#define MAX_SETS 64
#define DEFAULT_INPUTS 784 /* the default model's input row */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway invoke [--config FILE] [--set KEY=VALUE]... [--payload FILE|-]\n"
            "                       [--count N] [--concurrency K]\n\n"
            "Invokes faas.invoke.function_name at faas.invoke.endpoint (AWS Lambda's, or a\n"
            "local one such as `spillway faas-local`) with the Invoke client of live runs:\n"
            "SigV4 with credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the\n"
            "shared credentials file, the configured deadline and retries. One call prints\n"
            "the function's answer to stdout; with --count, a summary to stderr.\n\n"
            "  --config FILE      policy file (default: the built-in defaults)\n"
            "  --set KEY=VALUE    override a config key, e.g. faas.invoke.endpoint=URL\n"
            "  --payload FILE     the event, JSON ('-': stdin; default: one row of %d\n"
            "                     zeros as a KServe v2 request, the default model's input)\n"
            "  --count N          invocations to make (default 1)\n"
            "  --concurrency K    kept in flight at once (default 1; at most\n"
            "                     faas.invoke.max_in_flight)\n\n"
            "Exit status: 0 every call answered OK, 1 some call failed, was throttled or\n"
            "was a function error, 2 usage, configuration or credentials error.\n",
            DEFAULT_INPUTS);
}

typedef struct inv_args {
    const char *config, *payload;
    const char *sets[MAX_SETS];
    size_t n_sets;
    unsigned long long count, concurrency;
} inv_args_t;

typedef struct inv_run {
    sw_be_lambda_t *client;
    struct event_base *base;
    sw_strbuf_t payload;
    unsigned long long to_start, pending, concurrency, ok, fn_errors, throttled, failed;
    double *lat_ms;
    size_t n_lat;
    bool single;
} inv_run_t;

static int parse_args(int argc, char **argv, inv_args_t *a)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"payload", required_argument, NULL, 'p'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"concurrency", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'c': a->config = optarg; break;
        case 's':
            ok = a->n_sets < MAX_SETS;
            if (ok)
                a->sets[a->n_sets++] = optarg;
            else
                fprintf(stderr, "spillway invoke: at most %d --set options\n", MAX_SETS);
            break;
        case 'p': a->payload = optarg; break;
        case 'n': ok = sw__cli_parse_uint("invoke", "--count", optarg, 1, 100000000, &a->count); break;
        case 'k':
            ok = sw__cli_parse_uint("invoke", "--concurrency", optarg, 1, 100000, &a->concurrency);
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "spillway invoke: unexpected argument '%s'\n", argv[optind]);
        return SW_EXIT_USAGE;
    }
    return 0;
}

static int read_payload(const char *path, sw_strbuf_t *out)
{
    if (!path) {
        sw_strbuf_puts(out, "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
                            "\"datatype\":\"FP32\",\"data\":[");
        for (int i = 0; i < DEFAULT_INPUTS; i++)
            sw_strbuf_puts(out, i ? ",0" : "0");
        sw_strbuf_puts(out, "]}]}");
        return 0;
    }
    if (strcmp(path, "-") != 0) {
        /* A regular file within the cap: a FIFO would block, /dev/zero never end. */
        char *data, err[1024];
        size_t len;
        if (sw_file_read_all(path, SW_FILE_MAX_PAYLOAD_BYTES, "payload file", &data, &len, err,
                             sizeof err) < 0) {
            fprintf(stderr, "spillway invoke: --payload %s\n", err);
            return SW_EXIT_USAGE;
        }
        sw_strbuf_putn(out, data, len);
        sw_free(data);
        return 0;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0 && out->len <= SW_FILE_MAX_PAYLOAD_BYTES)
        sw_strbuf_putn(out, buf, n);
    if (ferror(stdin)) {
        fprintf(stderr, "spillway invoke: --payload -: read error on stdin\n");
        return SW_EXIT_FAILURE;
    }
    if (out->len > SW_FILE_MAX_PAYLOAD_BYTES) {
        fprintf(stderr,
                "spillway invoke: --payload -: more than the %u bytes allowed for a "
                "payload\n",
                SW_FILE_MAX_PAYLOAD_BYTES);
        return SW_EXIT_USAGE;
    }
    return 0;
}

static void start_more(inv_run_t *r);

static void on_done(void *arg, const sw_be_lambda_result_t *res)
{
    inv_run_t *r = arg;
    r->pending--;
    r->lat_ms[r->n_lat++] = sw_time_to_ms(res->latency);
    switch (res->status) {
    case SW_FAAS_OK: r->ok++; break;
    case SW_FAAS_FUNCTION_ERROR: r->fn_errors++; break;
    case SW_FAAS_THROTTLED: r->throttled++; break;
    default: r->failed++; break;
    }
    if (r->single) {
        if (res->body)
            printf("%.*s\n", (int)res->body_len, res->body);
        fprintf(stderr,
                "spillway invoke: %s (HTTP %d%s%s) in %.1f ms, %u attempt%s%s%s%s\n",
                res->status == SW_FAAS_OK               ? "ok"
                : res->status == SW_FAAS_FUNCTION_ERROR ? "function error"
                : res->status == SW_FAAS_THROTTLED      ? "throttled"
                                                        : "failed",
                res->http_status, res->function_error ? ", " : "",
                res->function_error ? res->function_error : "", sw_time_to_ms(res->latency),
                res->attempts, res->attempts == 1 ? "" : "s",
                res->cold_start ? "; cold start" : "", res->error ? ": " : "",
                res->error ? res->error : "");
    } else if (res->status != SW_FAAS_OK && r->failed + r->throttled + r->fn_errors == 1) {
        fprintf(stderr, "spillway invoke: first error: %s\n",
                res->error ? res->error : res->function_error ? res->function_error : "?");
    }
    start_more(r);
}

/* Keeps --concurrency calls in flight until --count have started. */
static void start_more(inv_run_t *r)
{
    while (r->to_start > 0 && r->pending < r->concurrency) {
        if (sw_be_lambda_invoke(r->client, r->payload.p, r->payload.len, on_done, r) != 0)
            break; /* at the in-flight bound: the next answer starts the next call */
        r->to_start--;
        r->pending++;
    }
    if (r->pending == 0)
        event_base_loopbreak(r->base);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_summary(const inv_run_t *r, double wall_s)
{
    qsort(r->lat_ms, r->n_lat, sizeof(double), cmp_double);
    fprintf(stderr,
            "spillway invoke: %zu calls in %.2f s (%.0f/s): %llu ok, %llu function errors, "
            "%llu throttled, %llu failed; latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
            r->n_lat, wall_s, (double)r->n_lat / wall_s, r->ok, r->fn_errors, r->throttled,
            r->failed, r->lat_ms[r->n_lat / 2], r->lat_ms[(size_t)((double)(r->n_lat - 1) * 0.99)],
            r->lat_ms[r->n_lat - 1]);
}

static int run(const sw_cfg_t *cfg, const inv_args_t *a, inv_run_t *r)
{
    sw_be_aws_creds_t creds;
    char err[1024];
    if (cfg->faas.invoke.endpoint && strcmp(cfg->faas.invoke.endpoint, "local") == 0) {
        fprintf(stderr, "spillway invoke: faas.invoke.endpoint local means 'serve starts its "
                        "own faas-local'; to invoke one, run spillway faas-local and pass "
                        "--set faas.invoke.endpoint=http://HOST:PORT\n");
        return SW_EXIT_USAGE;
    }
    if (sw_be_aws_creds_load(cfg->faas.invoke.credentials_profile, &creds, err, sizeof err) < 0) {
        fprintf(stderr, "spillway invoke: %s\n", err);
        return SW_EXIT_USAGE;
    }
    sw_be_lambda_opts_t o;
    sw_be_lambda_opts_from_cfg(&cfg->faas.invoke, &creds, &o);
    r->base = event_base_new();
    int rc = sw_be_lambda_create(r->base, &o, &r->client, err, sizeof err);
    sw_be_aws_creds_deinit(&creds);
    if (rc < 0) {
        fprintf(stderr, "spillway invoke: %s\n", err);
        event_base_free(r->base);
        return SW_EXIT_USAGE;
    }
    r->to_start = a->count;
    r->concurrency = a->concurrency;
    r->single = a->count == 1;
    r->lat_ms = sw_malloc(a->count * sizeof(double));
    sw_time_t t0 = sw_clock_now();
    start_more(r);
    if (r->pending > 0)
        event_base_dispatch(r->base);
    if (!r->single)
        print_summary(r, sw_time_to_s(sw_clock_now() - t0));
    sw_be_lambda_destroy(r->client);
    event_base_free(r->base);
    sw_free(r->lat_ms);
    return r->ok == a->count ? SW_EXIT_OK : SW_EXIT_FAILURE;
}

int sw_cli_cmd_invoke(int argc, char **argv)
{
    inv_args_t a = {.count = 1, .concurrency = 1};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    sw_cfg_t *cfg = NULL;
    if ((rc = sw__cli_load_config(a.config, &cfg)) != 0)
        return rc;
    for (size_t i = 0; i < a.n_sets && rc == 0; i++)
        rc = sw__cli_apply_set(cfg, a.sets[i]);
    inv_run_t r = {0};
    if (rc == 0 && a.concurrency > cfg->faas.invoke.max_in_flight) {
        fprintf(stderr,
                "spillway invoke: --concurrency %llu exceeds faas.invoke.max_in_flight %u\n",
                a.concurrency, cfg->faas.invoke.max_in_flight);
        rc = SW_EXIT_USAGE;
    }
    if (rc == 0)
        rc = read_payload(a.payload, &r.payload);
    if (rc == 0)
        rc = run(cfg, &a, &r);
    sw_strbuf_free(&r.payload, false);
    sw_cfg_destroy(cfg);
    return rc;
}
