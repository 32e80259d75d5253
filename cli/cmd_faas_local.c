/* `spillway faas-local`: a local Lambda-compatible service for tests and laptops. The
 * service lives in backends/faas_local.c; this file parses the command line, finds the
 * credentials, prints the "listening on" line that scripts wait for, and turns SIGTERM or
 * SIGINT into a graceful drain. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "backends/faas_local.h"
#include "common/file.h"
#include "common/log.h"
#include "common/net.h"
#include "cli/cli.h"

#define MAX_FUNCTIONS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway faas-local [--config FILE] [--listen HOST:PORT]\n"
            "                           [--function NAME=COMMAND ...] [--memory-mb N]\n"
            "                           [--timeout-s S] [--concurrency N] [--keep-alive-s S]\n"
            "                           [--region R] [--access-key-id ID]\n"
            "                           [--secret-access-key-file FILE] [--log-level L]\n\n"
            "Serves the Lambda Invoke API (SigV4-authenticated) and runs each function as\n"
            "local processes that speak the Lambda Runtime API: cold starts, warm reuse,\n"
            "throttling at the concurrency limit (429), timeouts and keep-alive reaping.\n"
            "COMMAND runs as /bin/sh -c 'exec COMMAND'. Once listening, prints one line\n"
            "'listening on HOST:PORT' to stdout. START/END/REPORT lines go to stderr.\n\n"
            "  --config FILE        take faas.local (listen, timeout_s, functions) and\n"
            "                       faas.memory_mb, concurrency_limit, keep_alive_s and\n"
            "                       invoke.region from this policy file; options override\n"
            "  --listen HOST:PORT   Invoke API address; port 0 picks a free one (default\n"
            "                       127.0.0.1:9001)\n"
            "  --function NAME=CMD  a function and the command that starts one environment\n"
            "                       (default: spillway-infer, running this binary's\n"
            "                       `function` command on the default model)\n"
            "  --memory-mb N        memory size reported to functions (default %d)\n"
            "  --timeout-s S        invocation timeout, seconds, may be fractional (default %g)\n"
            "  --concurrency N      environments alive at once, all functions (default %d)\n"
            "  --keep-alive-s S     stop an environment idle this long (default %g)\n"
            "  --region R           region requests must be signed for (default %s)\n"
            "  --access-key-id ID   accepted access key (default: $AWS_ACCESS_KEY_ID)\n"
            "  --secret-access-key-file FILE\n"
            "                       file holding the secret (default: $AWS_SECRET_ACCESS_KEY)\n"
            "  --log-level L        error, warn, info or debug (default info)\n\n"
            "Exit status: 0 stopped by SIGTERM/SIGINT, 2 usage error, 1 failure.\n",
            SW_BE_FAAS_LOCAL_MEMORY_MB_DEFAULT, SW_BE_FAAS_LOCAL_TIMEOUT_S_DEFAULT,
            SW_BE_FAAS_LOCAL_CONCURRENCY_DEFAULT, SW_BE_FAAS_LOCAL_KEEP_ALIVE_S_DEFAULT,
            SW_BE_FAAS_LOCAL_REGION_DEFAULT);
}

typedef struct fl_args {
    const char *config, *listen, *region, *access_key_id, *secret_file;
    sw_be_faas_local_fn_t fns[MAX_FUNCTIONS];
    char *fn_names[MAX_FUNCTIONS];
    size_t n_fns;
    unsigned long long memory_mb, concurrency;
    double timeout_s, keep_alive_s;
} fl_args_t;

static bool parse_seconds(const char *opt, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || v > 86400.0) {
        fprintf(stderr, "spillway faas-local: %s %s: expected seconds in (0, 86400]\n", opt, text);
        return false;
    }
    *out = v;
    return true;
}

static bool add_function(fl_args_t *a, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        fprintf(stderr, "spillway faas-local: --function %s: expected NAME=COMMAND\n", spec);
        return false;
    }
    if (a->n_fns == MAX_FUNCTIONS) {
        fprintf(stderr, "spillway faas-local: at most %d functions\n", MAX_FUNCTIONS);
        return false;
    }
    char *name = sw_malloc((size_t)(eq - spec) + 1);
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    a->fn_names[a->n_fns] = name;
    a->fns[a->n_fns++] = (sw_be_faas_local_fn_t){.name = name, .command = eq + 1};
    return true;
}

static int parse_args(int argc, char **argv, fl_args_t *a)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'C'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"function", required_argument, NULL, 'f'},
                                         {"memory-mb", required_argument, NULL, 'm'},
                                         {"timeout-s", required_argument, NULL, 't'},
                                         {"concurrency", required_argument, NULL, 'c'},
                                         {"keep-alive-s", required_argument, NULL, 'k'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"access-key-id", required_argument, NULL, 'a'},
                                         {"secret-access-key-file", required_argument, NULL, 's'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'C': a->config = optarg; break;
        case 'l': a->listen = optarg; break;
        case 'f': ok = add_function(a, optarg); break;
        case 'm':
            ok = sw__cli_parse_uint("faas-local", "--memory-mb", optarg, 128, 10240, &a->memory_mb);
            break;
        case 't': ok = parse_seconds("--timeout-s", optarg, &a->timeout_s); break;
        case 'c':
            ok = sw__cli_parse_uint("faas-local", "--concurrency", optarg, 1, 100000,
                                    &a->concurrency);
            break;
        case 'k': ok = parse_seconds("--keep-alive-s", optarg, &a->keep_alive_s); break;
        case 'r': a->region = optarg; break;
        case 'a': a->access_key_id = optarg; break;
        case 's': a->secret_file = optarg; break;
        case 'L': ok = sw__cli_set_log_level("faas-local", "--log-level", optarg); break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "spillway faas-local: unexpected argument '%s'\n", argv[optind]);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* The policy file's faas section fills what the command line left unset. */
static int apply_config(fl_args_t *a, sw_cfg_t **cfg_out)
{
    if (!a->config)
        return 0;
    if (sw__cli_load_config(a->config, cfg_out) != 0)
        return SW_EXIT_USAGE;
    const sw_cfg_faas_t *f = &(*cfg_out)->faas;
    a->listen = a->listen ? a->listen : f->local.listen;
    a->region = a->region ? a->region : f->invoke.region;
    a->memory_mb = a->memory_mb ? a->memory_mb : f->memory_mb;
    a->concurrency = a->concurrency      ? a->concurrency
                     : f->local.concurrency ? f->local.concurrency
                                            : f->concurrency_limit;
    a->keep_alive_s = a->keep_alive_s > 0 ? a->keep_alive_s : f->keep_alive_s;
    a->timeout_s = a->timeout_s > 0 ? a->timeout_s : f->local.timeout_s;
    for (unsigned i = 0; a->n_fns == 0 && i < f->local.functions_count; i++) {
        a->fns[i] = (sw_be_faas_local_fn_t){.name = f->local.functions[i].name,
                                            .command = f->local.functions[i].command};
        a->fn_names[i] = NULL; /* owned by the config */
    }
    if (a->n_fns == 0)
        a->n_fns = SW_MIN(f->local.functions_count, MAX_FUNCTIONS);
    return 0;
}

/* With no function named anywhere, serve the model through this very binary, so
 * `spillway faas-local` alone gives a working local Lambda. */
static void default_function(fl_args_t *a, const char *name, char *cmd, size_t len)
{
    if (a->n_fns > 0)
        return;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(cmd, len, "'%s' function", n > 0 ? self : "spillway");
    a->fn_names[0] = NULL;
    a->fns[a->n_fns++] = (sw_be_faas_local_fn_t){.name = name, .command = cmd};
}

/* Reads the secret from FILE (its first line, up to any blank) into a new string. The file
 * must be a regular file (a FIFO would block) and its first line text that fits: a secret
 * cut short at a NUL byte or a buffer's end would fail every signature with no clue why.
 * The buffer is wiped. */
static char *read_secret(const char *path)
{
    char buf[4096], err[1024];
    FILE *f = sw_file_open_regular(path, SW_FILE_MAX_CREDENTIALS_BYTES, "secret key file", err,
                                   sizeof err);
    if (!f) {
        fprintf(stderr, "spillway faas-local: --secret-access-key-file %s\n", err);
        return NULL;
    }
    ssize_t n = read(fileno(f), buf, sizeof buf - 1);
    int err_read = errno;
    fclose(f);
    buf[n > 0 ? n : 0] = '\0';
    const char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
    size_t line = nl ? (size_t)(nl - buf) : (size_t)(n > 0 ? n : 0);
    const char *why = n < 0                                      ? strerror(err_read)
                      : memchr(buf, '\0', line)                  ? "a NUL byte in its first line"
                      : line == (size_t)n && n == sizeof buf - 1 ? "its first line is too long"
                                                                 : NULL;
    buf[strcspn(buf, "\r\n \t")] = '\0';
    char *secret = !why && buf[0] ? sw_strdup(buf) : NULL;
    if (!secret)
        fprintf(stderr, "spillway faas-local: --secret-access-key-file %s: %s\n", path,
                why ? why : "empty");
    explicit_bzero(buf, sizeof buf); /* a plain memset of a dead buffer may be dropped */
    return secret;
}

typedef struct fl_run {
    struct event_base *base;
    sw_be_faas_local_t *svc;
    bool stopping;
} fl_run_t;

static void on_drained(void *arg)
{
    fl_run_t *r = arg;
    /* A moment for the last error answers to reach their callers. */
    struct timeval tv = {0, 100000};
    event_base_loopexit(r->base, &tv);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    fl_run_t *r = arg;
    (void)what;
    if (r->stopping) {
        event_base_loopexit(r->base, NULL); /* a second signal: stop now */
        return;
    }
    r->stopping = true;
    SW_LOG_INFO("stopping signal=%d", (int)sig);
    sw_be_faas_local_drain(r->svc, on_drained, r);
}

static int serve(const sw_be_faas_local_opts_t *o)
{
    fl_run_t r = {.base = event_base_new()};
    char err[512];
    int rc = sw_be_faas_local_create(r.base, o, &r.svc, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway faas-local: %s\n", err);
        event_base_free(r.base);
        return rc == -EINVAL ? SW_EXIT_USAGE : SW_EXIT_FAILURE;
    }
    struct event *term = evsignal_new(r.base, SIGTERM, on_stop_signal, &r);
    struct event *intr = evsignal_new(r.base, SIGINT, on_stop_signal, &r);
    evsignal_add(term, NULL);
    evsignal_add(intr, NULL);
    /* An IPv6 host is printed in brackets, as it is written in --listen. */
    printf(strchr(o->listen_host, ':') ? "listening on [%s]:%u\n" : "listening on %s:%u\n",
           o->listen_host, (unsigned)sw_be_faas_local_port(r.svc));
    fflush(stdout);
    rc = event_base_dispatch(r.base) < 0 ? SW_EXIT_FAILURE : SW_EXIT_OK;
    sw_be_faas_local_destroy(r.svc);
    event_free(term);
    event_free(intr);
    event_base_free(r.base);
    return rc;
}

int sw_cli_cmd_faas_local(int argc, char **argv)
{
    fl_args_t a = {0};
    sw_cfg_t *cfg = NULL;
    int rc = parse_args(argc, argv, &a);
    char *secret = NULL, host[256], self_cmd[4200];
    uint16_t port = 0;
    if (rc == 0)
        rc = apply_config(&a, &cfg);
    if (rc != 0) {
        rc = rc < 0 ? SW_EXIT_OK : rc;
        goto out;
    }
    rc = SW_EXIT_USAGE;
    a.listen = a.listen ? a.listen : "127.0.0.1:9001";
    a.region = a.region ? a.region : SW_BE_FAAS_LOCAL_REGION_DEFAULT;
    default_function(&a, cfg ? cfg->faas.invoke.function_name : "spillway-infer", self_cmd,
                     sizeof self_cmd);
    if (sw_net_split_host_port(a.listen, host, sizeof(host), &port, true) < 0) {
        fprintf(stderr, "spillway faas-local: --listen %s: expected HOST:PORT\n", a.listen);
        goto out;
    }
    sw__cli_protect_secrets(); /* the secret key, from the next line on */
    const char *ak = a.access_key_id ? a.access_key_id : getenv("AWS_ACCESS_KEY_ID");
    if (a.secret_file) {
        if (!(secret = read_secret(a.secret_file)))
            goto out;
    } else if (getenv("AWS_SECRET_ACCESS_KEY") && *getenv("AWS_SECRET_ACCESS_KEY")) {
        secret = sw_strdup(getenv("AWS_SECRET_ACCESS_KEY"));
    }
    if (!ak || !*ak || !secret) {
        fprintf(stderr, "spillway faas-local: no credentials: set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY (or pass --access-key-id and "
                        "--secret-access-key-file)\n");
        goto out;
    }
    /* A caller that disconnects mid-answer must give EPIPE, not kill the service. */
    signal(SIGPIPE, SIG_IGN);
    sw_be_faas_local_opts_t o = {.listen_host = host,
                                 .listen_port = port,
                                 .functions = a.fns,
                                 .n_functions = a.n_fns,
                                 .memory_mb = (unsigned)a.memory_mb,
                                 .timeout_s = a.timeout_s,
                                 .concurrency = (unsigned)a.concurrency,
                                 .keep_alive_s = a.keep_alive_s,
                                 .region = a.region,
                                 .access_key_id = ak,
                                 .secret_access_key = secret};
    rc = serve(&o);
out:
    for (size_t i = 0; i < a.n_fns; i++)
        sw_free(a.fn_names[i]);
    if (secret) {
        memset(secret, 0, strlen(secret));
        sw_free(secret);
    }
    sw_cfg_destroy(cfg);
    return rc;
}
